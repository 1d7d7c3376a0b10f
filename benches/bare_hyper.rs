//! hyper with no runtime at all: the ceiling for hyper on any runtime on this machine.
//!
//! Each thread waits on its own epoll set (edge-triggered, the listener shared with
//! `EPOLLEXCLUSIVE`) and polls a connection's hyper future when data arrived or the future
//! woke itself. Reads are as frugal as rycos's and tokio's: a short read marks the socket
//! drained unless the peer announced its end (`EPOLLRDHUP`), so a request costs one `read`,
//! not a second one that finds nothing. No queues, no work stealing, no timers, no locks on
//! the way: what is left per request is the kernel's and hyper's share, which no runtime can
//! take away.
//!
//! Not a server to use: a write that would block fails the connection (an answer here is a few
//! dozen bytes, and a loopback socket's buffer holds thousands of them, so it does not happen
//! under the benchmark's load; wrk would report it as errors if it did).

use hyper::rt::{Read, ReadBufCursor, Write};
use std::cell::Cell;
use std::collections::HashMap;
use std::future::Future;
use std::io::{self, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

/// The listener's key in every epoll set (connections are keyed by descriptor).
const LISTENER: u64 = u64::MAX;

/// Serves `super::hello` (the benchmark's service) over hyper's HTTP/1.1 on `threads`
/// threads, until the process ends.
pub fn serve(listener: TcpListener, threads: usize) {
    let listener = Arc::new(listener);
    let threads: Vec<_> = (0..threads)
        .map(|_| {
            let listener = listener.clone();
            std::thread::spawn(move || event_loop(&listener))
        })
        .collect();
    for thread in threads {
        thread.join().expect("a bare hyper thread").expect("a bare hyper loop");
    }
}

fn event_loop(listener: &TcpListener) -> io::Result<()> {
    use rustix::event::epoll;
    let poll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
    let exclusive = epoll::EventFlags::IN | epoll::EventFlags::EXCLUSIVE;
    epoll::add(&poll, listener.as_fd(), epoll::EventData::new_u64(LISTENER), exclusive)?;
    let mut connections: HashMap<u64, Connection> = HashMap::new();
    let woken = Arc::new(Mutex::new(Vec::new()));
    let mut ready = Vec::new();
    let mut events = Vec::with_capacity(1024);
    loop {
        events.clear();
        let timeout = if ready.is_empty() { None } else { Some(&rustix::time::Timespec::default()) };
        match epoll::wait(&poll, rustix::buffer::spare_capacity(&mut events), timeout) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {} // a signal (a debugger attaching, say)
            Err(e) => return Err(e.into()),
        }
        for event in &events {
            let key = event.data.u64();
            if key != LISTENER {
                if let Some(connection) = connections.get(&key) {
                    let flags = event.flags; // a packed struct's field: copied, not borrowed
                    let closed = flags.intersects(epoll::EventFlags::RDHUP | epoll::EventFlags::HUP);
                    connection.readiness.set(Readiness {
                        readable: true,
                        closed: connection.readiness.get().closed || closed,
                    });
                    ready.push(key);
                }
                continue;
            }
            while let Ok((tcp, _)) = listener.accept() {
                tcp.set_nonblocking(true)?;
                tcp.set_nodelay(true)?;
                let key = tcp.as_raw_fd() as u64;
                let interest = epoll::EventFlags::IN | epoll::EventFlags::RDHUP | epoll::EventFlags::ET;
                epoll::add(&poll, tcp.as_fd(), epoll::EventData::new_u64(key), interest)?;
                let readiness = Rc::new(Cell::new(Readiness { readable: true, closed: false }));
                let io = BareIo { tcp, scratch: vec![0; 16 * 1024], readiness: readiness.clone() };
                let future = Box::pin(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, hyper::service::service_fn(super::hello))
                        .await;
                });
                let waker = Waker::from(Arc::new(Wakeup { key, woken: woken.clone() }));
                connections.insert(key, Connection { future, waker, readiness });
                ready.push(key);
            }
        }
        for key in ready.drain(..) {
            let Some(connection) = connections.get_mut(&key) else { continue };
            let mut cx = Context::from_waker(&connection.waker);
            if connection.future.as_mut().poll(&mut cx).is_ready() {
                // Dropping the future closes the socket, which takes it out of the epoll set.
                connections.remove(&key);
            }
        }
        ready.append(&mut woken.lock().unwrap_or_else(|e| e.into_inner()));
    }
}

/// A connection's future, the waker it is polled with, and what epoll said of its socket.
struct Connection {
    future: Pin<Box<dyn Future<Output = ()>>>,
    waker: Waker,
    readiness: Rc<Cell<Readiness>>,
}

#[derive(Clone, Copy)]
struct Readiness {
    /// Data may be waiting: set by an event, cleared by a read that drained the socket.
    readable: bool,
    /// The peer announced its end: reads go on until they return 0.
    closed: bool,
}

/// A socket as hyper's I/O, never waiting. A read of a drained socket returns `Pending` without
/// a system call: the loop polls the connection again when epoll reports new data. Reads copy
/// through a buffer of the connection's (hyper's buffer is uninitialised, and the copy keeps
/// this free of `unsafe`, as `rycos_hyper::RycosIo` does).
struct BareIo {
    tcp: TcpStream,
    scratch: Vec<u8>,
    readiness: Rc<Cell<Readiness>>,
}

impl Read for BareIo {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let readiness = this.readiness.get();
        if !readiness.readable {
            return Poll::Pending;
        }
        let want = buf.remaining().min(this.scratch.len());
        match this.tcp.read(&mut this.scratch[..want]) {
            Ok(n) => {
                if n < want && !readiness.closed {
                    this.readiness.set(Readiness { readable: false, closed: false });
                }
                buf.put_slice(&this.scratch[..n]);
                Poll::Ready(Ok(()))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                this.readiness.set(Readiness { readable: false, ..readiness });
                Poll::Pending
            }
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

impl Write for BareIo {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        // WouldBlock included: see the module's docs.
        Poll::Ready(self.get_mut().tcp.write(buf))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.get_mut().tcp.shutdown(std::net::Shutdown::Write))
    }
}

/// Wakes a connection by putting its key on its thread's list (hyper wakes its own task now
/// and then, to yield).
struct Wakeup {
    key: u64,
    woken: Arc<Mutex<Vec<u64>>>,
}

impl Wake for Wakeup {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.lock().unwrap_or_else(|e| e.into_inner()).push(self.key);
    }
}
