//! The runtime's drivers — the I/O reactor (`io.rs`, waiting on epoll or `polling`: `selector.rs`) and the timers (`time.rs`,
//! a hierarchical wheel in `wheel.rs`) — and the one place that answers "who waits in the
//! poller, and until when".
//!
//! The protocol: a worker with nothing to do parks; the first to park *claims* the driver role
//! ([`Driver::try_claim`]) and waits in the poller until an I/O event, a notification, or the
//! next timer is due; the others sleep on their condition variables. (Not while another worker
//! runs through a batch of I/O wake-ups it kept: a worker parking then sleeps no later than the
//! next timer and watches, see `Worker::sleep`.) A timer registered while the
//! driver sleeps past it must wake the driver:
//!
//! 1. the driver publishes that it is parked ([`Driver::parking`] stores its worker index), then
//!    (SeqCst fence) reads the earliest timer and publishes the deadline it will sleep until;
//! 2. a registering task has published its timer (the wheel's `next`), then (SeqCst fence) reads
//!    the parked worker and its deadline ([`Driver::timer_registered`]);
//! 3. with a fence on each side between its write and its read, at least one side sees the
//!    other: either the driver saw the new timer, or the registrant sees a driver parked with a
//!    later (or not yet decided) deadline and wakes it.
//!
//! Busy workers also fire due timers and poll the reactor without blocking between polls
//! (`Worker::maintenance`), so a busy runtime does not starve its timers or its sockets.

#[cfg(all(not(loom), any(target_os = "linux", target_os = "android")))]
mod epoll;
#[cfg(not(loom))]
pub(crate) mod io;
// On Linux only its tests use it, not all of it.
#[cfg(all(not(loom), any(test, not(any(target_os = "linux", target_os = "android")))))]
#[cfg_attr(any(target_os = "linux", target_os = "android"), allow(dead_code))]
mod portable;
#[cfg(not(loom))]
mod selector;
pub(crate) mod time;
mod wheel;

#[cfg(all(test, loom))]
mod loom_driver;

use crate::loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::*, fence};
use std::time::Instant;
use time::Timers;

/// Worker index meaning "no worker".
pub(crate) const NO_WORKER: usize = usize::MAX;

pub(crate) struct Driver {
    pub(crate) timers: Timers,
    /// I/O readiness for this runtime's descriptors.
    #[cfg(not(loom))]
    pub(crate) reactor: std::sync::Arc<io::Reactor>,
    /// Claimed by the parked worker that waits in the poller (see [`Driver::try_claim`]).
    claimed: AtomicBool,
    /// Index of the worker parked as driver, `NO_WORKER` when none.
    parked: AtomicUsize,
    /// The tick the driver sleeps until; `u64::MAX` unless the driver is about to sleep.
    deadline: AtomicU64,
}

impl Driver {
    pub(crate) fn new(#[cfg(not(loom))] reactor: std::sync::Arc<io::Reactor>) -> Driver {
        Driver {
            timers: Timers::new(),
            #[cfg(not(loom))]
            reactor,
            claimed: AtomicBool::new(false),
            parked: AtomicUsize::new(NO_WORKER),
            deadline: AtomicU64::new(u64::MAX),
        }
    }

    /// Becomes the driver if nobody is; the role is given back when the guard drops.
    ///
    /// Only ever tried, never waited for, so a flag claimed with a compare-exchange rather than
    /// a mutex (also because loom models a thread about to `try_lock` a held mutex as blocked).
    pub(crate) fn try_claim(&self) -> Option<DriverGuard<'_>> {
        // `then`, not `then_some`: a guard built eagerly would be dropped on failure and
        // release a claim held by another worker.
        self.claimed
            .compare_exchange(false, true, Acquire, Relaxed)
            .is_ok()
            .then(|| DriverGuard { driver: self })
    }

    /// Step 1 of the protocol (module docs): worker `index`, holding the role, is about to
    /// sleep; the instant it may sleep until, given `wake_at` (its own limit) and the next timer.
    pub(crate) fn parking(
        &self,
        _role: &DriverGuard<'_>,
        index: usize,
        wake_at: Option<Instant>,
    ) -> Option<Instant> {
        self.parked.store(index, SeqCst);
        fence(SeqCst); // pairs with the fence in `timer_registered`
        let next = self.timers.next_due_tick();
        self.deadline.store(next, SeqCst);
        let timer = (next != u64::MAX).then(|| self.timers.instant_of(next));
        earliest(timer, wake_at)
    }

    /// The driver woke up: nobody is parked as driver any more.
    pub(crate) fn unparked(&self, _role: &DriverGuard<'_>) {
        self.deadline.store(u64::MAX, SeqCst);
        self.parked.store(NO_WORKER, SeqCst);
    }

    /// Step 2 (module docs): a timer due at `tick` was registered; the worker to wake, if the
    /// driver sleeps past it.
    pub(crate) fn timer_registered(&self, tick: u64) -> Option<usize> {
        fence(SeqCst); // pairs with the fence in `parking`
        let parked = self.parked.load(SeqCst);
        (parked != NO_WORKER && tick < self.deadline.load(SeqCst)).then_some(parked)
    }
}

/// The earlier of two optional instants (`None`: never).
pub(crate) fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The driver role, held while a worker parks as the driver (or polls the reactor between
/// polls).
pub(crate) struct DriverGuard<'a> {
    driver: &'a Driver,
}

impl Drop for DriverGuard<'_> {
    fn drop(&mut self) {
        self.driver.claimed.store(false, Release);
    }
}
