//! The connection under a link: plain TCP, or TLS over it (`NodeBuilder::tls`). The handshake
//! runs over a [`Wire`] whole; then the link splits it into the half its reader reads and the
//! half its writer writes, and keeps the TCP socket to close the connection from either side.
//!
//! Plain TCP needs no split: a rycos `TcpStream` reads and writes through shared references,
//! so both halves are clones of one stream (no lock on the hot path). A TLS session is one
//! state machine for both directions, so its halves share it under a lock taken per poll.

use crate::net::TcpStream;
use crate::tls::TlsStream;
use futures_io::{AsyncRead, AsyncWrite};
use futures_lite::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

/// One authenticated-to-be connection to a peer.
pub(crate) enum Wire {
    Plain(TcpStream),
    Tls(Box<TlsStream>),
}

/// What the link's reader reads.
pub(crate) enum WireReader {
    Plain(TcpStream),
    Tls(ReadHalf<Box<TlsStream>>),
}

/// What the link's writer writes.
pub(crate) enum WireWriter {
    Plain(TcpStream),
    Tls(WriteHalf<Box<TlsStream>>),
}

impl Wire {
    /// The TCP socket underneath: closing it ends the connection for both halves.
    pub(crate) fn socket(&self) -> TcpStream {
        match self {
            Wire::Plain(stream) => stream.clone(),
            Wire::Tls(tls) => tls.tcp().clone(),
        }
    }

    /// The reading and the writing half.
    pub(crate) fn split(self) -> (WireReader, WireWriter) {
        match self {
            Wire::Plain(stream) => (WireReader::Plain(stream.clone()), WireWriter::Plain(stream)),
            Wire::Tls(tls) => {
                let (read, write) = futures_lite::io::split(tls);
                (WireReader::Tls(read), WireWriter::Tls(write))
            }
        }
    }
}

impl WireReader {
    /// Reads some bytes; 0 at the end of the stream.
    pub(crate) async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            WireReader::Plain(stream) => stream.read(buf).await,
            WireReader::Tls(half) => half.read(buf).await,
        }
    }
}

impl WireWriter {
    /// Writes all of `buf` (for TLS: encrypted and flushed to the socket).
    pub(crate) async fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            WireWriter::Plain(stream) => stream.write_all(buf).await,
            WireWriter::Tls(half) => {
                half.write_all(buf).await?;
                half.flush().await
            }
        }
    }
}

impl AsyncRead for Wire {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Wire::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            Wire::Tls(tls) => Pin::new(&mut **tls).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Wire {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Wire::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            Wire::Tls(tls) => Pin::new(&mut **tls).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Wire::Plain(stream) => Pin::new(stream).poll_flush(cx),
            Wire::Tls(tls) => Pin::new(&mut **tls).poll_flush(cx),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Wire::Plain(stream) => Pin::new(stream).poll_close(cx),
            Wire::Tls(tls) => Pin::new(&mut **tls).poll_close(cx),
        }
    }
}
