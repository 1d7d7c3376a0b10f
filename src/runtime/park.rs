//! Putting a thread to sleep until it is needed: [`Parker`] for workers and for threads blocked
//! in `block_on`.
//!
//! The state word makes an `unpark` that comes before the `park` count: the park then returns at
//! once. A parked thread sleeps on a condition variable and uses no CPU — or, for the worker
//! that is the runtime's driver, in the reactor's poller, which `unpark` wakes with
//! `Poller::notify`.

use crate::loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use crate::loom::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

const EMPTY: usize = 0;
const PARKED: usize = 1;
const NOTIFIED: usize = 2;
/// Parked in the reactor (the driver), not on the condition variable.
#[cfg(not(loom))]
const PARKED_IN_REACTOR: usize = 3;

struct Inner {
    state: AtomicUsize,
    lock: Mutex<()>,
    condvar: Condvar,
    /// The reactor a worker parks in when it is the driver.
    #[cfg(not(loom))]
    reactor: Option<std::sync::Arc<crate::runtime::driver::io::Reactor>>,
}

/// The sleeping side, owned by one thread.
pub(crate) struct Parker {
    inner: Arc<Inner>,
}

/// The waking side; cheap to clone and share.
#[derive(Clone)]
pub(crate) struct Unparker {
    inner: Arc<Inner>,
}

impl Parker {
    pub(crate) fn new() -> Parker {
        Parker {
            inner: Arc::new(Inner {
                state: AtomicUsize::new(EMPTY),
                lock: Mutex::new(()),
                condvar: Condvar::new(),
                #[cfg(not(loom))]
                reactor: None,
            }),
        }
    }

    /// A worker's parker, which can also park in the runtime's reactor.
    #[cfg(not(loom))]
    pub(crate) fn with_reactor(reactor: std::sync::Arc<crate::runtime::driver::io::Reactor>) -> Parker {
        Parker {
            inner: Arc::new(Inner {
                state: AtomicUsize::new(EMPTY),
                lock: Mutex::new(()),
                condvar: Condvar::new(),
                reactor: Some(reactor),
            }),
        }
    }

    /// Parks in the reactor: waits for I/O events (waking their tasks), until `deadline`, or
    /// until unparked. Only the driver does this, so one thread at a time.
    #[cfg(not(loom))]
    pub(crate) fn park_in_reactor(&self, deadline: Option<Instant>) {
        let inner = &*self.inner;
        let reactor = inner.reactor.as_ref().expect("a worker parker has the reactor");
        if inner.state.compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst).is_ok() {
            return;
        }
        if inner.state.compare_exchange(EMPTY, PARKED_IN_REACTOR, SeqCst, SeqCst).is_err() {
            // Notified meanwhile; consume it with a read-modify-write (see `park`).
            inner.state.swap(EMPTY, SeqCst);
            return;
        }
        let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        reactor.poll(timeout);
        // Back to EMPTY, consuming a notification that came while we waited.
        inner.state.swap(EMPTY, SeqCst);
    }

    pub(crate) fn unparker(&self) -> Unparker {
        Unparker { inner: self.inner.clone() }
    }

    /// Sleeps until unparked or until `deadline`. May return spuriously (callers re-check).
    pub(crate) fn park(&self, deadline: Option<Instant>) {
        let inner = &*self.inner;
        if inner.state.compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst).is_ok() {
            crate::loom::loom_trace!("park {:p}: was notified", inner);
            return;
        }
        let mut guard = inner.lock.lock();
        if let Err(actual) = inner.state.compare_exchange(EMPTY, PARKED, SeqCst, SeqCst) {
            debug_assert_eq!(actual, NOTIFIED);
            // Consume with a swap, not a store: a failed compare-exchange is only a load and may
            // have read an older NOTIFIED than the latest `unpark`'s. The swap reads the latest
            // value, so it synchronizes with that unpark and we see what it published (a worker
            // otherwise missed the shutdown flag and slept forever; found by the loom model
            // `wake_from_outside_reaches_a_parked_worker`).
            let previous = inner.state.swap(EMPTY, SeqCst);
            debug_assert_eq!(previous, NOTIFIED);
            return;
        }
        crate::loom::loom_trace!("park {:p}: waiting", inner);
        loop {
            let timed_out = match deadline {
                None => {
                    inner.condvar.wait(&mut guard);
                    false
                }
                Some(deadline) => inner.condvar.wait_until(&mut guard, deadline).timed_out(),
            };
            let woken = inner.state.compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst);
            crate::loom::loom_trace!("park {:p}: woke, state was {woken:?}", inner);
            if woken.is_ok() {
                return;
            }
            if timed_out {
                // Also consumes a notification that raced with the timeout (a swap, for the
                // reason above).
                inner.state.swap(EMPTY, SeqCst);
                return;
            }
        }
    }
}

impl Unparker {
    pub(crate) fn unpark(&self) {
        let inner = &*self.inner;
        let previous = inner.state.swap(NOTIFIED, SeqCst);
        crate::loom::loom_trace!("unpark {:p}: state was {previous}", inner);
        match previous {
            EMPTY | NOTIFIED => {}
            PARKED => {
                // Taking the lock orders this notify after the parker's wait began.
                drop(inner.lock.lock());
                inner.condvar.notify_one();
            }
            #[cfg(not(loom))]
            PARKED_IN_REACTOR => {
                // The poller's notification is sticky: it also ends a wait that starts later.
                inner.reactor.as_ref().expect("parked in a reactor").notify();
            }
            _ => unreachable!("invalid park state"),
        }
    }
}

impl std::task::Wake for Unparker {
    fn wake(self: std::sync::Arc<Self>) {
        self.unpark();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.unpark();
    }
}
