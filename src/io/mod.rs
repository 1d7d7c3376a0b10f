//! Asynchronous I/O on any non-blocking file descriptor: [`Async<T>`] (pycos `AsyncSocket`),
//! driven by the runtime's reactor (see `runtime/driver/io.rs` for how readiness reaches tasks).
//!
//! ```
//! use rycos::io::Async;
//! use std::net::{TcpListener, TcpStream};
//!
//! let rt = rycos::Runtime::new().unwrap();
//! rt.block_on(async {
//!     let listener = Async::new(TcpListener::bind("127.0.0.1:0")?)?;
//!     let addr = listener.get_ref().local_addr()?;
//!     let _client = TcpStream::connect(addr)?; // a plain blocking connect, for brevity
//!     let (conn, peer) = listener.read_with(|l| l.accept()).await?;
//!     assert_eq!(conn.peer_addr()?, peer);
//!     std::io::Result::Ok(())
//! })
//! .unwrap();
//! ```

mod ext;

use crate::runtime::Handle;
use crate::runtime::driver::io::{Direction, Reactor, Source};
use std::fmt;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

pub use ext::{AsyncReadExt, ReadToEnd, ReadToString};
pub use futures_io::{AsyncBufRead, AsyncRead, AsyncSeek, AsyncWrite};
pub use futures_lite::io::{AsyncBufReadExt, AsyncSeekExt, AsyncWriteExt, BufReader, BufWriter, copy};

/// The I/O traits and their extension methods in one import: `use rycos::io::prelude::*;`.
///
/// Reading goes through rycos's own [`AsyncReadExt`], whose `read_to_end` and `read_to_string`
/// stay linear when the reader keeps making them wait (a pipe, a slow socket); the writing,
/// seeking and buffered-reading helpers are `futures-lite`'s. Do not import `futures-lite`'s or
/// `futures`' `AsyncReadExt` beside it: the method names clash.
pub mod prelude {
    pub use super::{
        AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncSeek, AsyncSeekExt, AsyncWrite,
        AsyncWriteExt,
    };
}

/// A non-blocking I/O object registered with the runtime's reactor.
///
/// `Async::new` puts the descriptor in non-blocking mode and registers it with the current
/// runtime (or the default one). Operations are tried first and only wait when the system
/// would block; waiting registers the task for exactly that socket and direction.
///
/// Dropping it removes the registration before the descriptor is closed.
pub struct Async<T: AsFd> {
    source: Arc<Source>,
    reactor: Arc<Reactor>,
    io: Option<T>,
}

impl<T: AsFd> Async<T> {
    /// Registers `io` (made non-blocking) with the current runtime's reactor.
    pub fn new(io: T) -> io::Result<Async<T>> {
        set_nonblocking(io.as_fd())?;
        let reactor = Handle::try_current_or_default()?.shared.driver.reactor.clone();
        let source = reactor.register(io.as_fd())?;
        Ok(Async { source, reactor, io: Some(io) })
    }

    /// The inner I/O object.
    pub fn get_ref(&self) -> &T {
        self.io.as_ref().expect("present until dropped")
    }

    /// The inner I/O object, mutably. Do not make it blocking.
    pub fn get_mut(&mut self) -> &mut T {
        self.io.as_mut().expect("present until dropped")
    }

    /// Deregisters and returns the inner object (still non-blocking).
    pub fn into_inner(mut self) -> T {
        self.reactor.deregister(&self.source);
        self.io.take().expect("present until dropped")
    }

    /// Waits until the object may be readable (an event arrived since an operation last would
    /// block). May be spurious: the next read can still report `WouldBlock`.
    pub async fn readable(&self) -> io::Result<()> {
        std::future::poll_fn(|cx| self.source.poll_ready(Direction::Read, cx)).await
    }

    /// Waits until the object may be writable; see [`readable`](Async::readable).
    pub async fn writable(&self) -> io::Result<()> {
        std::future::poll_fn(|cx| self.source.poll_ready(Direction::Write, cx)).await
    }

    /// Runs a read-like operation until it does not report `WouldBlock`, waiting for
    /// readability in between.
    pub async fn read_with<R>(&self, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        std::future::poll_fn(|cx| self.poll_with(cx, Direction::Read, &mut op)).await
    }

    /// Like [`read_with`](Async::read_with) with mutable access.
    pub async fn read_with_mut<R>(&mut self, mut op: impl FnMut(&mut T) -> io::Result<R>) -> io::Result<R> {
        std::future::poll_fn(|cx| self.poll_with_mut(cx, Direction::Read, &mut op)).await
    }

    /// Runs a write-like operation until it does not report `WouldBlock`, waiting for
    /// writability in between.
    pub async fn write_with<R>(&self, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        std::future::poll_fn(|cx| self.poll_with(cx, Direction::Write, &mut op)).await
    }

    /// Like [`write_with`](Async::write_with) with mutable access.
    pub async fn write_with_mut<R>(&mut self, mut op: impl FnMut(&mut T) -> io::Result<R>) -> io::Result<R> {
        std::future::poll_fn(|cx| self.poll_with_mut(cx, Direction::Write, &mut op)).await
    }

    /// Fails every pending and future operation on this object with `NotConnected`, waking the
    /// tasks waiting on it. The descriptor itself is closed when the object is dropped.
    pub fn close(&self) {
        self.source.close();
    }

    /// True once [`close`](Async::close) was called.
    pub fn is_closed(&self) -> bool {
        self.source.is_closed()
    }

    /// Like `poll_with`, for reads and writes on stream sockets, with one shortcut: a short
    /// transfer (fewer bytes than `wanted`) means the socket is drained (reads) or its send
    /// buffer full (writes), so the direction is marked not ready and the next operation waits
    /// for an event instead of making a system call that would only say `WouldBlock`. The
    /// kernel signals new data, freed space, a peer's end and errors with events, so none is
    /// missed — except a peer's end that arrived with the last data, which the reactor knows
    /// of (`closed_by_peer`) and which keeps reads ready.
    pub(crate) fn poll_stream(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        wanted: usize,
        op: &mut impl FnMut(&T) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        ready!(crate::coop::poll_proceed(cx));
        loop {
            let tick = ready!(self.source.poll_ready_tick(direction, cx))?;
            match op(self.get_ref()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Ok(n) if n > 0 && n < wanted => {
                    self.source.clear_ready(direction, tick);
                    return Poll::Ready(Ok(n));
                }
                result => return Poll::Ready(result),
            }
            ready!(self.source.poll_after_would_block(direction, tick, cx))?;
        }
    }

    pub(crate) fn poll_with<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        op: &mut impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        ready!(crate::coop::poll_proceed(cx));
        loop {
            let tick = self.source.tick(direction)?;
            match op(self.get_ref()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                result => return Poll::Ready(result),
            }
            ready!(self.source.poll_after_would_block(direction, tick, cx))?;
        }
    }

    pub(crate) fn poll_with_mut<R>(
        &mut self,
        cx: &mut Context<'_>,
        direction: Direction,
        op: &mut impl FnMut(&mut T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        ready!(crate::coop::poll_proceed(cx));
        loop {
            let tick = self.source.tick(direction)?;
            match op(self.get_mut()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                result => return Poll::Ready(result),
            }
            ready!(self.source.poll_after_would_block(direction, tick, cx))?;
        }
    }
}

// Nothing in an `Async` is ever pinned in place.
impl<T: AsFd> Unpin for Async<T> {}

impl<T: AsFd> Drop for Async<T> {
    fn drop(&mut self) {
        if self.io.is_some() {
            // Deregister while the descriptor is still open; `io` closes it right after.
            self.reactor.deregister(&self.source);
        }
    }
}

impl<T: AsFd> AsFd for Async<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.get_ref().as_fd()
    }
}

impl<T: AsFd> AsRawFd for Async<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.get_ref().as_fd().as_raw_fd()
    }
}

impl<T: AsFd + fmt::Debug> fmt::Debug for Async<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Async").field("io", self.get_ref()).field("closed", &self.is_closed()).finish()
    }
}

impl<T: AsFd + Read> AsyncRead for Async<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.get_mut().poll_with_mut(cx, Direction::Read, &mut |io| io.read(buf))
    }

    fn poll_read_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_with_mut(cx, Direction::Read, &mut |io| io.read_vectored(bufs))
    }
}

impl<T: AsFd + Write> AsyncWrite for Async<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.get_mut().poll_with_mut(cx, Direction::Write, &mut |io| io.write(buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_with_mut(cx, Direction::Write, &mut |io| io.write_vectored(bufs))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_with_mut(cx, Direction::Write, &mut |io| io.flush())
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

impl<T: AsFd> AsyncRead for &Async<T>
where
    for<'a> &'a T: Read,
{
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.poll_with(cx, Direction::Read, &mut |mut io| io.read(buf))
    }
}

impl<T: AsFd> AsyncWrite for &Async<T>
where
    for<'a> &'a T: Write,
{
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_with(cx, Direction::Write, &mut |mut io| io.write(buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_with(cx, Direction::Write, &mut |mut io| io.flush())
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

/// Puts a descriptor in non-blocking mode.
fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    use rustix::fs::{OFlags, fcntl_getfl, fcntl_setfl};
    let flags = fcntl_getfl(fd)?;
    if !flags.contains(OFlags::NONBLOCK) {
        fcntl_setfl(fd, flags | OFlags::NONBLOCK)?;
    }
    Ok(())
}
