//! TCP: [`TcpListener`] and [`TcpStream`].

use super::stream::Stream;
use crate::io::Async;
use crate::runtime::driver::io::Direction;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::future::Future;
use std::io;
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// A TCP connection (pycos `AsyncSocket` over a TCP socket). See [`Stream`] for reading,
/// writing and messages.
///
/// ```
/// use rycos::net::{TcpListener, TcpStream};
/// let rt = rycos::Runtime::new().unwrap();
/// rt.block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0")?;
///     let addr = listener.local_addr()?;
///     let server = rycos::spawn(async move {
///         let (conn, _) = listener.accept().await?;
///         let msg = conn.recv_msg().await?;
///         conn.send_msg(&msg.to_ascii_uppercase()).await
///     });
///     let client = TcpStream::connect(addr).await?;
///     client.send_msg(b"hello").await?;
///     assert_eq!(client.recv_msg().await?, b"HELLO");
///     server.await.unwrap()
/// })
/// .unwrap();
/// ```
pub type TcpStream = Stream<std::net::TcpStream>;

/// How many connections may wait to be accepted, by default (the system may lower it).
pub const DEFAULT_BACKLOG: i32 = 1024;

impl Stream<std::net::TcpStream> {
    /// Connects to `addr`, trying each address it resolves to in turn.
    ///
    /// Resolving a host name asks the system resolver, which blocks; give an IP address (or
    /// resolve on the blocking pool) where that matters.
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        let mut last_error = None;
        for addr in addr.to_socket_addrs()? {
            match connect_addr(addr).await {
                Ok(stream) => return Ok(stream),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "the address resolved to nothing")
        }))
    }

    /// Like [`connect`](Stream::connect), giving up after `timeout` with `TimedOut`.
    pub async fn connect_timeout(addr: impl ToSocketAddrs, timeout: Duration) -> io::Result<TcpStream> {
        crate::time::timeout(timeout, Self::connect(addr)).await?
    }

    /// Registers a connected standard-library stream.
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        Ok(Stream::from_async(Async::new(stream)?))
    }

    /// The address of the peer.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.get_ref().peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.get_ref().local_addr()
    }

    /// Shuts down reading, writing or both (a half close: the peer reads end-of-stream).
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.get_ref().shutdown(how)
    }

    /// Turns Nagle's algorithm off (`true`) or on.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.get_ref().set_nodelay(nodelay)
    }

    /// Whether Nagle's algorithm is off.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.get_ref().nodelay()
    }

    /// Reads without removing the bytes from the socket.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.as_async().read_with(|s| s.peek(buf)).await
    }
}

async fn connect_addr(addr: SocketAddr) -> io::Result<TcpStream> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    match socket.connect(&SockAddr::from(addr)) {
        Ok(()) => {}
        Err(e) if in_progress(&e) => {}
        Err(e) => return Err(e),
    }
    let io = Async::new(std::net::TcpStream::from(socket))?;
    // Connected once writable with no pending error and a peer address.
    io.write_with(|s| {
        if let Some(e) = s.take_error()? {
            return Err(e);
        }
        match s.peer_addr() {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Err(io::ErrorKind::WouldBlock.into()),
            Err(e) => Err(e),
        }
    })
    .await?;
    Ok(Stream::from_async(io))
}

pub(super) fn in_progress(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
        || e.raw_os_error() == Some(rustix::io::Errno::INPROGRESS.raw_os_error())
}

/// A TCP socket accepting connections.
pub struct TcpListener {
    io: Async<std::net::TcpListener>,
}

impl TcpListener {
    /// Listens on `addr` (the first address it resolves to that binds), with
    /// [`DEFAULT_BACKLOG`] and `SO_REUSEADDR`.
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        Self::bind_with_backlog(addr, DEFAULT_BACKLOG)
    }

    /// Like [`bind`](TcpListener::bind) with a listen backlog of `backlog` connections.
    pub fn bind_with_backlog(addr: impl ToSocketAddrs, backlog: i32) -> io::Result<TcpListener> {
        let mut last_error = None;
        for addr in addr.to_socket_addrs()? {
            let bound = (|| {
                let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
                socket.set_reuse_address(true)?;
                socket.bind(&SockAddr::from(addr))?;
                socket.listen(backlog)?;
                TcpListener::from_std(socket.into())
            })();
            match bound {
                Ok(listener) => return Ok(listener),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "the address resolved to nothing")
        }))
    }

    /// Registers a listening standard-library socket.
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener { io: Async::new(listener)? })
    }

    /// Waits for a connection. Errors such as running out of file descriptors (`EMFILE`) are
    /// returned, not retried: the listener stays usable, and a server typically waits a little
    /// (for descriptors to be freed) and accepts again.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, addr) = self.io.read_with(|l| l.accept()).await?;
        Ok((TcpStream::from_std(stream)?, addr))
    }

    /// The connections, as a stream (pycos: a loop around `accept`).
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The local address (with the port the system chose for port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The registered socket, for `read_with` on the raw listener.
    pub fn as_async(&self) -> &Async<std::net::TcpListener> {
        &self.io
    }
}

impl std::fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpListener").field("local_addr", &self.local_addr().ok()).finish()
    }
}

/// The stream of [`TcpListener::incoming`].
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl futures_core::Stream for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let accepted =
            std::task::ready!(self.listener.io.poll_with(cx, Direction::Read, &mut |l| l.accept()));
        Poll::Ready(Some(accepted.and_then(|(stream, _)| TcpStream::from_std(stream))))
    }
}

impl Incoming<'_> {
    /// The next connection (without needing a `StreamExt` trait in scope).
    pub fn next_connection(&mut self) -> impl Future<Output = io::Result<TcpStream>> + '_ {
        std::future::poll_fn(move |cx| {
            futures_core::Stream::poll_next(Pin::new(&mut *self), cx).map(|c| c.expect("incoming never ends"))
        })
    }
}
