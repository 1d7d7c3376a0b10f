//! Synchronisation for tasks: [`Lock`], [`RLock`], [`Semaphore`], [`Event`], [`Condition`]
//! (pycos `Lock`, `RLock`, `Semaphore`, `Event`, `Condition`).
//!
//! Waiting never blocks a worker thread. Every primitive serves its waiters in the order they
//! came, and every wait is cancel-safe: a waiter dropped while waiting — by a timeout, a
//! `select`, or `terminate` — never keeps, or loses, a permit or a notification meant for
//! someone else.
//!
//! Every wait has a `_timeout` form, and they share one convention: `Ok` when what was waited
//! for happened, `Err` when the time ran out — [`Lock::lock_timeout`],
//! [`Semaphore::acquire_timeout`] and [`Event::wait_timeout`] with
//! [`Elapsed`](crate::time::Elapsed), [`RLock::acquire_timeout`] with [`RLockError::Timeout`],
//! and [`Condition::wait_timeout`] with [`TimedOut`], which carries the lock (taken again
//! either way).

mod condition;
mod event;
mod lock;
#[cfg(all(test, loom))]
mod loom_sync;
mod rlock;
mod semaphore;
mod wait_queue;

pub use condition::{Condition, Relock, TimedOut};
pub use event::{Event, EventWait};
pub use lock::{Lock, LockFuture, LockGuard, OwnedLockGuard};
pub use rlock::{RLock, RLockError};
pub use semaphore::{Acquire, OwnedPermit, Permit, Semaphore};
