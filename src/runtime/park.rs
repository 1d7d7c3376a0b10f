//! Putting a thread to sleep until it is needed: [`Parker`] for workers and for threads blocked
//! in `block_on`.
//!
//! The state word makes an `unpark` that comes before the `park` count: the park then returns at
//! once. A parked thread sleeps on a condition variable and uses no CPU.

use crate::loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use crate::loom::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

const EMPTY: usize = 0;
const PARKED: usize = 1;
const NOTIFIED: usize = 2;

struct Inner {
    state: AtomicUsize,
    lock: Mutex<()>,
    condvar: Condvar,
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
            }),
        }
    }

    pub(crate) fn unparker(&self) -> Unparker {
        Unparker { inner: self.inner.clone() }
    }

    /// Sleeps until unparked or until `deadline`. May return spuriously (callers re-check).
    pub(crate) fn park(&self, deadline: Option<Instant>) {
        let inner = &*self.inner;
        if inner.state.compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst).is_ok() {
            return;
        }
        let mut guard = inner.lock.lock();
        if let Err(actual) = inner.state.compare_exchange(EMPTY, PARKED, SeqCst, SeqCst) {
            debug_assert_eq!(actual, NOTIFIED);
            inner.state.store(EMPTY, SeqCst);
            return;
        }
        loop {
            let timed_out = match deadline {
                None => {
                    inner.condvar.wait(&mut guard);
                    false
                }
                Some(deadline) => inner.condvar.wait_until(&mut guard, deadline).timed_out(),
            };
            if inner.state.compare_exchange(NOTIFIED, EMPTY, SeqCst, SeqCst).is_ok() {
                return;
            }
            if timed_out {
                // Consumes a notification that raced with the timeout, too.
                inner.state.store(EMPTY, SeqCst);
                return;
            }
        }
    }
}

impl Unparker {
    pub(crate) fn unpark(&self) {
        let inner = &*self.inner;
        match inner.state.swap(NOTIFIED, SeqCst) {
            EMPTY | NOTIFIED => {}
            PARKED => {
                // Taking the lock orders this notify after the parker's wait began.
                drop(inner.lock.lock());
                inner.condvar.notify_one();
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
