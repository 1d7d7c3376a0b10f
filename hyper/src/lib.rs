//! [hyper] 1.x on [rycos]: the executor, timer and I/O adapters hyper asks its runtime for —
//! the part `hyper-util`'s `rt::tokio` module plays for tokio.
//!
//! - [`RycosExecutor`] spawns hyper's background tasks (HTTP/2 connection and stream tasks) as
//!   rycos tasks.
//! - [`RycosTimer`] gives hyper rycos's timers (header read timeouts, HTTP/2 keep-alive pings).
//! - [`RycosIo`] wraps any rycos stream (`TcpStream`, `TlsStream`, `UnixStream`: anything with
//!   the `futures-io` traits) as hyper's `Read` and `Write`.
//!
//! An HTTP/1.1 server and a client on one runtime:
//!
//! ```
//! use http_body_util::{BodyExt, Empty, Full};
//! use hyper::body::Bytes;
//! use hyper::{Request, Response};
//! use rycos::net::{TcpListener, TcpStream};
//! use rycos_hyper::{RycosExecutor, RycosIo, RycosTimer};
//!
//! let rt = rycos::Runtime::new().unwrap();
//! rt.block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
//!     let addr = listener.local_addr().unwrap();
//!     rycos::spawn(async move {
//!         let (stream, _) = listener.accept().await.unwrap();
//!         let hello = hyper::service::service_fn(|_request: Request<hyper::body::Incoming>| async {
//!             Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from("hello"))))
//!         });
//!         hyper::server::conn::http1::Builder::new()
//!             .timer(RycosTimer::new())
//!             .serve_connection(RycosIo::new(stream), hello)
//!             .await
//!             .unwrap();
//!     });
//!
//!     let stream = TcpStream::connect(addr).await.unwrap();
//!     let (mut sender, connection) =
//!         hyper::client::conn::http1::handshake(RycosIo::new(stream)).await.unwrap();
//!     rycos::spawn(connection);
//!     let request = Request::get("/").header("host", "localhost").body(Empty::<Bytes>::new()).unwrap();
//!     let response = sender.send_request(request).await.unwrap();
//!     let body = response.into_body().collect().await.unwrap().to_bytes();
//!     assert_eq!(body, "hello");
//!     # let _ = RycosExecutor::new();
//! });
//! ```
//!
//! [hyper]: https://docs.rs/hyper
//! [rycos]: https://docs.rs/rycos

use futures_io::{AsyncRead, AsyncWrite};
use hyper::rt::{Executor, ReadBufCursor, Sleep, Timer};
use rycos::Handle;
use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Spawns hyper's tasks on a rycos runtime: the one it was made for, or the current one.
#[derive(Clone, Default)]
pub struct RycosExecutor {
    runtime: Option<Handle>,
}

impl RycosExecutor {
    /// Spawns on the runtime the future runs in when hyper hands it over (`rycos::spawn`).
    pub fn new() -> RycosExecutor {
        RycosExecutor { runtime: None }
    }

    /// Spawns on `runtime`, wherever hyper hands the future over.
    pub fn on(runtime: &Handle) -> RycosExecutor {
        RycosExecutor { runtime: Some(runtime.clone()) }
    }
}

impl<F> Executor<F> for RycosExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        // The join handle is dropped: hyper watches its tasks itself.
        drop(match &self.runtime {
            Some(runtime) => runtime.spawn(future),
            None => rycos::spawn(future),
        });
    }
}

impl fmt::Debug for RycosExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RycosExecutor").field("runtime", &self.runtime.is_some()).finish()
    }
}

/// rycos's timers for hyper (the timer of the runtime each sleep is first polled in).
#[derive(Debug, Clone, Copy, Default)]
pub struct RycosTimer;

impl RycosTimer {
    /// The timer.
    pub fn new() -> RycosTimer {
        RycosTimer
    }
}

impl Timer for RycosTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        Box::pin(RycosSleep(rycos::time::sleep(duration)))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        Box::pin(RycosSleep(rycos::time::sleep_until(deadline)))
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn Sleep>>, new_deadline: Instant) {
        // Moved in place when it is ours (no new allocation, no new timer entry).
        match sleep.as_mut().downcast_mut_pin::<RycosSleep>() {
            Some(ours) => ours.get_mut().0.reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

/// A rycos sleep as hyper's `Sleep`.
struct RycosSleep(rycos::time::Sleep);

impl Future for RycosSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.get_mut().0).poll(cx)
    }
}

impl Sleep for RycosSleep {}

/// A rycos stream (anything with the `futures-io` traits: `TcpStream`, `TlsStream`,
/// `UnixStream`) as hyper's `Read` and `Write`.
///
/// Reads go through a buffer of the worker thread and are then copied into hyper's buffer:
/// `futures-io` reads into initialised memory and hyper's buffer is not, and the copy keeps
/// this crate free of `unsafe`. It costs one `memcpy` of what was read (for an HTTP request,
/// a few hundred bytes) and no memory per connection.
#[derive(Debug)]
pub struct RycosIo<T> {
    inner: T,
}

impl<T> RycosIo<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> RycosIo<T> {
        RycosIo { inner }
    }

    /// The stream inside.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// The stream inside, mutably.
    pub fn inner_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Unwraps the stream.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

/// Bytes read at most per call into the thread's buffer.
const READ_CHUNK: usize = 64 * 1024;

thread_local! {
    /// The read buffer of this thread: taken out while a read uses it, so a nested read (none
    /// is expected) gets a fresh one rather than a panic.
    static READ_BUFFER: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

impl<T: AsyncRead + Unpin> hyper::rt::Read for RycosIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let want = buf.remaining().min(READ_CHUNK);
        if want == 0 {
            return Poll::Ready(Ok(()));
        }
        let mut scratch = READ_BUFFER.take();
        if scratch.len() < want {
            scratch.resize(READ_CHUNK, 0);
        }
        let polled = Pin::new(&mut self.get_mut().inner).poll_read(cx, &mut scratch[..want]);
        let result = match polled {
            Poll::Ready(Ok(n)) => {
                buf.put_slice(&scratch[..n]);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        };
        READ_BUFFER.set(scratch);
        result
    }
}

impl<T: AsyncWrite + Unpin> hyper::rt::Write for RycosIo<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}
