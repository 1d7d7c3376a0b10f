//! Length-prefixed messages (pycos `send_msg` / `recv_msg`): a 4-byte big-endian length, then
//! that many bytes. Works on any futures-io stream (plain sockets and TLS alike).

use futures_io::{AsyncRead, AsyncWrite};
use std::future::poll_fn;
use std::io;
use std::pin::Pin;

/// Largest message `recv_msg` accepts unless told otherwise: 16 MiB.
pub const DEFAULT_MAX_MESSAGE: usize = 16 << 20;

/// Reads until `buf` is full; `UnexpectedEof` if the stream ends first.
pub(crate) async fn read_exact<R: AsyncRead + Unpin + ?Sized>(
    reader: &mut R,
    mut buf: &mut [u8],
) -> io::Result<()> {
    while !buf.is_empty() {
        let n = poll_fn(|cx| Pin::new(&mut *reader).poll_read(cx, buf)).await?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the peer closed the stream mid-read"));
        }
        buf = &mut buf[n..];
    }
    Ok(())
}

/// Writes all of `buf`; `WriteZero` if the stream stops accepting bytes.
pub(crate) async fn write_all<W: AsyncWrite + Unpin + ?Sized>(
    writer: &mut W,
    mut buf: &[u8],
) -> io::Result<()> {
    while !buf.is_empty() {
        let n = poll_fn(|cx| Pin::new(&mut *writer).poll_write(cx, buf)).await?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "the stream accepted no more bytes"));
        }
        buf = &buf[n..];
    }
    Ok(())
}

/// Sends one message. Small messages go out in one write with their header.
pub(crate) async fn send_msg<W: AsyncWrite + Unpin + ?Sized>(writer: &mut W, msg: &[u8]) -> io::Result<()> {
    let len = u32::try_from(msg.len()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("a message of {} bytes does not fit a 4-byte length", msg.len()),
        )
    })?;
    if msg.len() <= 4096 {
        let mut frame = Vec::with_capacity(4 + msg.len());
        frame.extend_from_slice(&len.to_be_bytes());
        frame.extend_from_slice(msg);
        write_all(writer, &frame).await
    } else {
        write_all(writer, &len.to_be_bytes()).await?;
        write_all(writer, msg).await
    }
}

/// Receives one message of at most `max` bytes. The length is checked before anything is
/// allocated: a header claiming more is refused with `InvalidData` (the stream is then out of
/// step and should be closed).
pub(crate) async fn recv_msg<R: AsyncRead + Unpin + ?Sized>(
    reader: &mut R,
    max: usize,
) -> io::Result<Vec<u8>> {
    let mut header = [0u8; 4];
    read_exact(reader, &mut header).await?;
    let len = u32::from_be_bytes(header) as usize;
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a message of {len} bytes exceeds the limit of {max} bytes"),
        ));
    }
    let mut msg = vec![0u8; len];
    read_exact(reader, &mut msg).await?;
    Ok(msg)
}
