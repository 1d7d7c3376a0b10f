//! [`Stream<S>`]: what TCP and Unix-domain streams have in common.

use super::framing;
use crate::io::Async;
use crate::runtime::driver::io::Direction;
use futures_io::{AsyncRead, AsyncWrite};
use std::fmt;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// A connected stream socket: [`TcpStream`](super::TcpStream) or
/// [`UnixStream`](super::UnixStream).
///
/// Cloning it gives another handle to the same socket, so one task can read while another
/// writes; [`close`](Stream::close) on any handle fails the operations pending on all of them.
/// Every method takes `&self`. It also implements the futures-io `AsyncRead`/`AsyncWrite`
/// traits (and so does `&Stream`), for the futures ecosystem; wrap it in
/// [`BufReader`](crate::io::BufReader) for buffered reads.
pub struct Stream<S: AsFd> {
    io: Arc<Async<S>>,
    max_message: usize,
}

impl<S: AsFd> Stream<S>
where
    for<'a> &'a S: Read + Write,
{
    pub(crate) fn from_async(io: Async<S>) -> Stream<S> {
        Stream { io: Arc::new(io), max_message: framing::DEFAULT_MAX_MESSAGE }
    }

    /// Reads some bytes; 0 means the peer closed its side.
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        std::future::poll_fn(|cx| self.poll_read_ref(cx, buf)).await
    }

    /// Writes some bytes; returns how many.
    pub async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        std::future::poll_fn(|cx| self.poll_write_ref(cx, buf)).await
    }

    fn poll_read_ref(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.io.poll_stream(cx, Direction::Read, buf.len(), &mut |mut s| s.read(buf))
    }

    fn poll_write_ref(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.io.poll_stream(cx, Direction::Write, buf.len(), &mut |mut s| s.write(buf))
    }

    /// Reads exactly `buf.len()` bytes (pycos `recvall`); `UnexpectedEof` if the peer closes
    /// first.
    pub async fn read_exact(&self, buf: &mut [u8]) -> io::Result<()> {
        framing::read_exact(&mut &*self, buf).await
    }

    /// Writes all of `buf` (pycos `sendall`).
    pub async fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        framing::write_all(&mut &*self, buf).await
    }

    /// Sends one length-prefixed message (pycos `send_msg`: 4-byte big-endian length, then the
    /// bytes). Do not interleave with other writes to the same socket from another task.
    pub async fn send_msg(&self, msg: &[u8]) -> io::Result<()> {
        framing::send_msg(&mut &*self, msg).await
    }

    /// Receives one message sent by `send_msg`. A length above
    /// [`max_message_size`](Stream::max_message_size) is refused with `InvalidData` before
    /// anything is allocated; a peer that closes mid-message gives `UnexpectedEof`.
    pub async fn recv_msg(&self) -> io::Result<Vec<u8>> {
        framing::recv_msg(&mut &*self, self.max_message).await
    }

    /// The largest message [`recv_msg`](Stream::recv_msg) accepts (default 16 MiB).
    pub fn max_message_size(&self) -> usize {
        self.max_message
    }

    /// Sets the largest message [`recv_msg`](Stream::recv_msg) accepts on this handle.
    pub fn set_max_message_size(&mut self, bytes: usize) {
        self.max_message = bytes;
    }

    /// Fails every pending and later operation on this socket, on every handle, with
    /// `NotConnected` (tasks waiting on it wake up). The descriptor is closed when the last
    /// handle is dropped.
    pub fn close(&self) {
        self.io.close();
    }

    /// The standard-library socket inside.
    pub fn get_ref(&self) -> &S {
        self.io.get_ref()
    }

    /// The registered I/O object, for `read_with`/`write_with` on the raw socket.
    pub fn as_async(&self) -> &Async<S> {
        &self.io
    }
}

impl<S: AsFd> Clone for Stream<S> {
    fn clone(&self) -> Self {
        Stream { io: self.io.clone(), max_message: self.max_message }
    }
}

impl<S: AsFd + fmt::Debug> fmt::Debug for Stream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stream").field("io", self.io.get_ref()).finish()
    }
}

impl<S: AsFd> AsyncRead for &Stream<S>
where
    for<'a> &'a S: Read + Write,
{
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.poll_read_ref(cx, buf)
    }
}

impl<S: AsFd> AsyncWrite for &Stream<S>
where
    for<'a> &'a S: Read + Write,
{
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_write_ref(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self.io).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self.io).poll_close(cx)
    }
}

impl<S: AsFd> AsyncRead for Stream<S>
where
    for<'a> &'a S: Read + Write,
{
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.poll_read_ref(cx, buf)
    }
}

impl<S: AsFd> AsyncWrite for Stream<S>
where
    for<'a> &'a S: Read + Write,
{
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_write_ref(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self.io).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self.io).poll_close(cx)
    }
}
