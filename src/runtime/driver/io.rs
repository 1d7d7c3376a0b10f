//! The reactor: one selector per runtime (epoll on Linux, see `selector.rs`), and the
//! readiness of every registered socket.
//!
//! Sources are registered once, edge-triggered, for both directions. Each direction keeps a
//! *tick* that counts readiness events, and the wakers waiting for the next one. An I/O
//! operation reads the tick, tries the system call, and only if that would block waits for the
//! tick to move on. So an edge that arrives between the failed call and the wait is never lost
//! (the tick has already moved), and no "ready" flag has to be cleared by guesswork.
//!
//! Nobody runs a reactor thread. The worker that parks as the runtime's driver waits in
//! [`Reactor::poll`] (instead of on its condition variable) until an event, a timer deadline,
//! or [`Reactor::notify`] when another thread has work for it. Events wake their tasks on that
//! worker, which then runs them: no thread hop per event. Busy workers poll without blocking
//! every `event_interval` ticks, so I/O is not starved while nobody parks.

use super::selector::{Events, Ready, Selector};
use crate::loom::sync::Mutex;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use slab::Slab;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// Which way a task waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Read = 0,
    Write = 1,
}

pub(crate) struct Reactor {
    selector: Selector,
    sources: Mutex<Slab<Arc<Source>>>,
    /// How many sources are registered, readable without the lock (see `has_sources`).
    registered: AtomicUsize,
    /// The event buffer; only the driver (one worker at a time) polls.
    events: Mutex<Events>,
}

/// A registered file descriptor.
pub(crate) struct Source {
    fd: RawFd,
    key: usize,
    state: Mutex<SourceState>,
}

#[derive(Default)]
struct SourceState {
    directions: [Readiness; 2],
    closed: bool,
}

struct Readiness {
    /// Readiness events seen so far.
    tick: u64,
    /// Possibly ready: set by every event, cleared when an operation would block.
    ready: bool,
    /// Tasks waiting for the next event (usually one).
    wakers: Vec<Waker>,
    /// Reads only: an event said the peer closed its side (or the socket failed). From then on
    /// a short read is no sign of a drained socket: the end is still to be read, and no
    /// further event will announce it.
    closed_by_peer: bool,
}

impl Default for Readiness {
    fn default() -> Self {
        // Optimistic: a new socket may already be readable or writable; the first operation
        // finds out.
        Readiness { tick: 0, ready: true, wakers: Vec::new(), closed_by_peer: false }
    }
}

fn closed_error() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the socket was closed")
}

impl Reactor {
    pub(crate) fn new() -> io::Result<Reactor> {
        Ok(Reactor {
            selector: Selector::new()?,
            sources: Mutex::new(Slab::new()),
            registered: AtomicUsize::new(0),
            events: Mutex::new(Events::new()),
        })
    }

    /// Registers a non-blocking file descriptor for both directions.
    pub(crate) fn register(&self, fd: BorrowedFd<'_>) -> io::Result<Arc<Source>> {
        let mut sources = self.sources.lock();
        let entry = sources.vacant_entry();
        let key = entry.key();
        let source = Arc::new(Source { fd: fd.as_raw_fd(), key, state: Mutex::new(SourceState::default()) });
        // `Async` deregisters the descriptor (in its `Drop`) before the descriptor is closed.
        self.selector.add(fd, key)?;
        entry.insert(source.clone());
        self.registered.fetch_add(1, Ordering::Relaxed);
        Ok(source)
    }

    /// Removes a source (before its descriptor is closed) and fails whatever still waits on it.
    pub(crate) fn deregister(&self, source: &Source) {
        source.close();
        let removed = self.sources.lock().try_remove(source.key);
        debug_assert!(removed.is_some(), "source registered once, removed once");
        self.registered.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: the descriptor is still open: it is closed only after this returns.
        let fd = unsafe { BorrowedFd::borrow_raw(source.fd) };
        // Fails only if the descriptor was never added, which `register` rules out.
        let _ = self.selector.delete(fd);
    }

    /// True if any descriptor is registered. Busy workers poll for I/O between tasks only
    /// then: a poll costs a system call, which CPU-only workloads should not pay. A
    /// registration racing with this check is picked up by the next poll, at the latest when a
    /// worker parks in the reactor.
    pub(crate) fn has_sources(&self) -> bool {
        self.registered.load(Ordering::Relaxed) > 0
    }

    /// Wakes a thread blocked in [`poll`](Reactor::poll), or makes its next call return at once.
    pub(crate) fn notify(&self) {
        // Fails only if the notification channel itself broke; the selector then returns errors
        // to the driver, which retries with a timeout.
        let _ = self.selector.notify();
    }

    /// Waits up to `timeout` for events and wakes the tasks waiting on them. Returns how many
    /// events arrived. Call from one thread at a time (the driver).
    pub(crate) fn poll(&self, timeout: Option<Duration>) -> usize {
        let mut events = self.events.lock();
        match self.selector.wait(&mut events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return 0,
            Err(e) => {
                // Nothing sensible to do but report it and not spin.
                tracing::error!(target: "rycos::runtime", error = %e, "polling for I/O events failed");
                std::thread::sleep(Duration::from_millis(1));
                return 0;
            }
        }
        let mut wake = Vec::new();
        {
            let sources = self.sources.lock();
            for (key, Ready { readable, writable, read_closed }) in events.iter() {
                let Some(source) = sources.get(key) else { continue };
                let mut state = source.state.lock();
                if readable {
                    let read = &mut state.directions[Direction::Read as usize];
                    read.closed_by_peer |= read_closed;
                    read.fire(&mut wake);
                }
                if writable {
                    state.directions[Direction::Write as usize].fire(&mut wake);
                }
            }
        }
        let n = events.len();
        drop(events);
        for waker in wake {
            waker.wake();
        }
        n
    }
}

impl Readiness {
    fn fire(&mut self, wake: &mut Vec<Waker>) {
        self.tick = self.tick.wrapping_add(1);
        self.ready = true;
        wake.append(&mut self.wakers);
    }

    fn register(&mut self, cx: &mut Context<'_>) {
        if !self.wakers.iter().any(|w| w.will_wake(cx.waker())) {
            self.wakers.push(cx.waker().clone());
        }
    }
}

impl Source {
    /// The current tick of `direction`, to pass to [`poll_ready`](Source::poll_ready) after an
    /// operation would block.
    pub(crate) fn tick(&self, direction: Direction) -> io::Result<u64> {
        let state = self.state.lock();
        if state.closed {
            return Err(closed_error());
        }
        Ok(state.directions[direction as usize].tick)
    }

    /// After an operation that read `tick` would block: ready at once if an event arrived
    /// since (retry the operation), otherwise marks the direction not ready and waits for the
    /// next event.
    pub(crate) fn poll_after_would_block(
        &self,
        direction: Direction,
        tick: u64,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        let mut state = self.state.lock();
        if state.closed {
            return Poll::Ready(Err(closed_error()));
        }
        let readiness = &mut state.directions[direction as usize];
        if readiness.tick != tick {
            return Poll::Ready(Ok(()));
        }
        readiness.ready = false;
        readiness.register(cx);
        Poll::Pending
    }

    /// The tick of `direction` if it may be ready; otherwise registers for the next event and
    /// returns `Pending` (saving a system call that would only say `WouldBlock`).
    pub(crate) fn poll_ready_tick(
        &self,
        direction: Direction,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<u64>> {
        let mut state = self.state.lock();
        if state.closed {
            return Poll::Ready(Err(closed_error()));
        }
        let readiness = &mut state.directions[direction as usize];
        if readiness.ready {
            return Poll::Ready(Ok(readiness.tick));
        }
        readiness.register(cx);
        Poll::Pending
    }

    /// An operation that read `tick` learned the direction is exhausted without being told
    /// `WouldBlock` (a short read or write on a stream): not ready until the next event, unless
    /// one arrived meanwhile — or, for reads, unless the peer's end has been announced (it is
    /// still to be read, and no other event will come for it).
    pub(crate) fn clear_ready(&self, direction: Direction, tick: u64) {
        let mut state = self.state.lock();
        let readiness = &mut state.directions[direction as usize];
        if readiness.tick == tick && !readiness.closed_by_peer {
            readiness.ready = false;
        }
    }

    /// Ready if the direction may be ready (an event arrived since an operation last would
    /// block); otherwise waits for the next event.
    pub(crate) fn poll_ready(&self, direction: Direction, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut state = self.state.lock();
        if state.closed {
            return Poll::Ready(Err(closed_error()));
        }
        let readiness = &mut state.directions[direction as usize];
        if readiness.ready {
            return Poll::Ready(Ok(()));
        }
        readiness.register(cx);
        Poll::Pending
    }

    /// Marks the source closed and wakes everything waiting on it (they get an error).
    pub(crate) fn close(&self) {
        let wake: Vec<Waker> = {
            let mut state = self.state.lock();
            state.closed = true;
            state.directions.iter_mut().flat_map(|d| std::mem::take(&mut d.wakers)).collect()
        };
        for waker in wake {
            waker.wake();
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.state.lock().closed
    }
}
