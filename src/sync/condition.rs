//! [`Condition`]: wait for a change announced by another task, under a [`Lock`] or an [`RLock`].

use super::lock::{Lock, LockGuard, OwnedLockGuard};
use super::rlock::{RLock, RLockError};
use super::wait_queue::{Ticket, WaitQueue, WakeList};
use crate::loom::sync::Mutex;
use crate::time::timeout;
use std::fmt;
use std::future::Future;
use std::ops::DerefMut;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// A condition variable for tasks (pycos `Condition`): `wait` releases a lock and sleeps until
/// notified, then takes the lock again. It pairs with a [`Lock`] (through its guard, borrowed
/// or [owned](Lock::lock_owned)) or with an [`RLock`] (Python's default for `Condition`,
/// through [`wait_rlock`](Condition::wait_rlock)).
///
/// Notifications are counted, never spurious: `notify(n)` wakes exactly the `n` oldest waiters
/// (fewer if fewer wait) and says how many it woke. A waiter is queued before the lock is
/// released, so a notification sent by the next holder of the lock cannot slip past it. A waiter
/// that is notified but dropped before it runs (a timeout, `terminate`) passes its notification
/// to the next waiter.
///
/// ```
/// use rycos::sync::{Condition, Lock};
/// use std::sync::Arc;
///
/// let rt = rycos::Runtime::new().unwrap();
/// rt.block_on(async {
///     let queue = Arc::new((Lock::new(Vec::new()), Condition::new()));
///     let consumer = {
///         let queue = queue.clone();
///         rycos::spawn(async move {
///             let (items, nonempty) = &*queue;
///             let items = items.lock().await;
///             // Python's `wait_for(predicate)`: waits until the predicate holds, under the lock.
///             let mut items = nonempty.wait_for(items, |items| !items.is_empty()).await;
///             items.pop().unwrap()
///         })
///     };
///     let (items, nonempty) = &*queue;
///     items.lock().await.push("job");
///     nonempty.notify(1);
///     assert_eq!(consumer.await.unwrap(), "job");
/// });
/// ```
pub struct Condition {
    waiters: Mutex<WaitQueue>,
}

/// A held lock that [`Condition::wait`] can release and take again: a [`LockGuard`] or an
/// [`OwnedLockGuard`]. (For an [`RLock`], see [`Condition::wait_rlock`].)
pub trait Relock: sealed::Sealed + Sized {
    /// What is left of the guard while the lock is released: enough to take it again.
    #[doc(hidden)]
    type Released: Send;
    #[doc(hidden)]
    fn release(self) -> Self::Released;
    #[doc(hidden)]
    fn relock(released: Self::Released) -> impl Future<Output = Self> + Send;
}

mod sealed {
    pub trait Sealed {}
    impl<T> Sealed for super::LockGuard<'_, T> {}
    impl<T> Sealed for super::OwnedLockGuard<T> {}
}

impl<'a, T: Send> Relock for LockGuard<'a, T> {
    type Released = &'a Lock<T>;

    fn release(self) -> &'a Lock<T> {
        LockGuard::lock(&self)
    }

    fn relock(lock: &'a Lock<T>) -> impl Future<Output = Self> + Send {
        lock.lock()
    }
}

impl<T: Send + 'static> Relock for OwnedLockGuard<T> {
    type Released = Arc<Lock<T>>;

    fn release(self) -> Arc<Lock<T>> {
        OwnedLockGuard::lock(&self).clone()
    }

    fn relock(lock: Arc<Lock<T>>) -> impl Future<Output = Self> + Send {
        lock.lock_owned()
    }
}

/// A [`Condition::wait_timeout`] ran out of time; the lock is held again, inside.
#[derive(Debug)]
pub struct TimedOut<G>(pub G);

impl<G> TimedOut<G> {
    /// The guard of the lock, taken again.
    pub fn into_inner(self) -> G {
        self.0
    }
}

impl<G> fmt::Display for TimedOut<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timed out waiting for a notification")
    }
}

impl<G: fmt::Debug> std::error::Error for TimedOut<G> {}

impl Condition {
    /// A condition nobody waits on.
    pub fn new() -> Condition {
        Condition { waiters: Mutex::new(WaitQueue::default()) }
    }

    /// Releases the lock held by `guard`, waits for a notification, and takes the lock again.
    pub async fn wait<G: Relock>(&self, guard: G) -> G {
        let released = Notified::new(self, guard).await;
        G::relock(released).await
    }

    /// Like [`wait`](Condition::wait), giving up waiting for a notification after `limit`; the
    /// lock is taken again either way, and is in the `Ok` (notified) or in the [`TimedOut`].
    pub async fn wait_timeout<G: Relock>(&self, guard: G, limit: Duration) -> Result<G, TimedOut<G>> {
        let mut notified = Notified::new(self, guard);
        match timeout(limit, &mut notified).await {
            Ok(released) => Ok(G::relock(released).await),
            Err(_) => Err(TimedOut(notified.give_up().await)),
        }
    }

    /// Waits until `predicate` holds for the guarded value (Python `wait_for`): checks it under
    /// the lock, and waits for a notification each time it does not.
    pub async fn wait_for<G, P>(&self, mut guard: G, mut predicate: P) -> G
    where
        G: Relock + DerefMut,
        P: FnMut(&mut G::Target) -> bool,
    {
        while !predicate(&mut *guard) {
            guard = self.wait(guard).await;
        }
        guard
    }

    /// Like [`wait_for`](Condition::wait_for), giving up after `limit`: [`TimedOut`] (with the
    /// lock held again) if the predicate still does not hold then.
    pub async fn wait_for_timeout<G, P>(
        &self,
        mut guard: G,
        mut predicate: P,
        limit: Duration,
    ) -> Result<G, TimedOut<G>>
    where
        G: Relock + DerefMut,
        P: FnMut(&mut G::Target) -> bool,
    {
        let deadline = Instant::now() + limit;
        loop {
            if predicate(&mut *guard) {
                return Ok(guard);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            guard = match self.wait_timeout(guard, left).await {
                Ok(guard) => guard,
                Err(TimedOut(mut guard)) => {
                    // One last look: the change may have come at the last moment.
                    return if predicate(&mut *guard) { Ok(guard) } else { Err(TimedOut(guard)) };
                }
            };
        }
    }

    /// Like [`wait`](Condition::wait) for an [`RLock`] held by this task: releases it fully
    /// (whatever its depth), waits for a notification, and takes it again at the same depth
    /// (Python's `Condition` over an `RLock`). [`RLockError::NotOwner`] if this task does not
    /// hold it.
    pub async fn wait_rlock(&self, lock: &RLock) -> Result<(), RLockError> {
        let held = lock.held_by_current_task()?;
        let mut notified = Notified::new(self, RLockHeld { lock, depth: held });
        let released = (&mut notified).await;
        lock.reacquire(released.depth).await
    }

    /// Like [`wait_rlock`](Condition::wait_rlock), giving up waiting for a notification after
    /// `limit` ([`RLockError::Timeout`]); the lock is held again either way.
    pub async fn wait_rlock_timeout(&self, lock: &RLock, limit: Duration) -> Result<(), RLockError> {
        let held = lock.held_by_current_task()?;
        let mut notified = Notified::new(self, RLockHeld { lock, depth: held });
        let (released, timed_out) = match timeout(limit, &mut notified).await {
            Ok(released) => (released, false),
            Err(_) => (notified.take_released(), true),
        };
        lock.reacquire(released.depth).await?;
        if timed_out { Err(RLockError::Timeout) } else { Ok(()) }
    }

    /// Wakes the `n` oldest waiters; returns how many it woke.
    pub fn notify(&self, n: usize) -> usize {
        let mut wake = WakeList::default();
        let mut woken = 0;
        {
            let mut waiters = self.waiters.lock();
            while woken < n && waiters.grant_front(&mut wake) {
                woken += 1;
            }
        }
        wake.wake();
        woken
    }

    /// Wakes every waiter; returns how many it woke.
    pub fn notify_all(&self) -> usize {
        self.notify(usize::MAX)
    }

    /// Tasks waiting (and not yet notified) right now.
    pub fn waiting(&self) -> usize {
        self.waiters.lock().waiting()
    }
}

impl Default for Condition {
    fn default() -> Self {
        Condition::new()
    }
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condition").field("waiting", &self.waiting()).finish()
    }
}

/// An [`RLock`] held by the waiting task at some depth, while a condition waits.
struct RLockHeld<'a> {
    lock: &'a RLock,
    depth: u32,
}

/// The lock side of a wait: released once the waiter is queued.
trait Release {
    type Released;
    fn release(self) -> Self::Released;
}

impl<G: Relock> Release for G {
    type Released = G::Released;
    fn release(self) -> G::Released {
        Relock::release(self)
    }
}

impl<'a> Release for RLockHeld<'a> {
    type Released = RLockHeld<'a>;
    fn release(self) -> RLockHeld<'a> {
        self.lock.release_all();
        self
    }
}

/// Queues on its first poll, then releases the lock; ready (with what is needed to take the
/// lock again) once notified.
struct Notified<'a, L: Release> {
    condition: &'a Condition,
    held: Option<L>,
    released: Option<L::Released>,
    ticket: Option<Ticket>,
}

impl<L: Release> Unpin for Notified<'_, L> {}

impl<'a, L: Release> Notified<'a, L> {
    fn new(condition: &'a Condition, held: L) -> Self {
        Notified { condition, held: Some(held), released: None, ticket: None }
    }

    /// The wait was given up before a notification: the ticket is withdrawn (a notification
    /// that came meanwhile goes to the next waiter), and what is needed to take the lock again
    /// comes back.
    fn take_released(&mut self) -> L::Released {
        self.withdraw();
        match self.held.take() {
            // Never polled: the lock was never released.
            Some(held) => held.release(),
            None => self.released.take().expect("released once queued"),
        }
    }
}

impl<G: Relock> Notified<'_, G> {
    /// Gives up and takes the lock again.
    async fn give_up(&mut self) -> G {
        self.withdraw();
        match self.held.take() {
            Some(guard) => guard,
            None => G::relock(self.released.take().expect("released once queued")).await,
        }
    }
}

impl<L: Release> Future for Notified<'_, L> {
    type Output = L::Released;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<L::Released> {
        let this = self.get_mut();
        let mut waiters = this.condition.waiters.lock();
        match this.ticket {
            None => {
                this.ticket = Some(waiters.push(1, cx.waker()));
                drop(waiters);
                // Queued first, released second: a notify after the release finds us.
                let held = this.held.take().expect("polled after completion");
                this.released = Some(held.release());
                Poll::Pending
            }
            Some(_) => {
                std::task::ready!(waiters.poll_queued(&mut this.ticket, cx.waker()));
                Poll::Ready(this.released.take().expect("released once queued"))
            }
        }
    }
}

impl<L: Release> Notified<'_, L> {
    fn withdraw(&mut self) {
        let Some(ticket) = self.ticket.take() else { return };
        let mut wake = WakeList::default();
        {
            let mut waiters = self.condition.waiters.lock();
            if let Some((true, _)) = waiters.cancel(ticket) {
                // Notified but never ran: the notification belongs to the next waiter.
                waiters.grant_front(&mut wake);
            }
        }
        wake.wake();
    }
}

impl<L: Release> Drop for Notified<'_, L> {
    fn drop(&mut self) {
        self.withdraw();
    }
}
