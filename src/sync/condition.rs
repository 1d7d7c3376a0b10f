//! [`Condition`]: wait for a change announced by another task, under a [`Lock`].

use super::lock::{Lock, LockGuard};
use super::wait_queue::{Ticket, WaitQueue, WakeList};
use crate::loom::sync::Mutex;
use crate::time::timeout;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// A condition variable for tasks (pycos `Condition`): `wait` releases a [`Lock`] and sleeps
/// until notified, then takes the lock again.
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
///             let mut items = items.lock().await;
///             while items.is_empty() {
///                 items = nonempty.wait(items).await;
///             }
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

impl Condition {
    /// A condition nobody waits on.
    pub fn new() -> Condition {
        Condition { waiters: Mutex::new(WaitQueue::default()) }
    }

    /// Releases the lock held by `guard`, waits for a notification, and takes the lock again.
    pub async fn wait<'a, T>(&self, guard: LockGuard<'a, T>) -> LockGuard<'a, T> {
        let lock = LockGuard::lock(&guard);
        Notified { condition: self, guard: Some(guard), ticket: None }.await;
        lock.lock().await
    }

    /// Like [`wait`](Condition::wait), giving up waiting for a notification after `limit`; the
    /// lock is taken again either way. The flag is true if it timed out.
    pub async fn wait_timeout<'a, T>(
        &self,
        guard: LockGuard<'a, T>,
        limit: Duration,
    ) -> (LockGuard<'a, T>, bool) {
        let lock: &'a Lock<T> = LockGuard::lock(&guard);
        let notified = Notified { condition: self, guard: Some(guard), ticket: None };
        let timed_out = timeout(limit, notified).await.is_err();
        (lock.lock().await, timed_out)
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

/// Queues on its first poll, then releases the guard; ready once notified.
struct Notified<'a, 'g, T> {
    condition: &'a Condition,
    guard: Option<LockGuard<'g, T>>,
    ticket: Option<Ticket>,
}

impl<T> Unpin for Notified<'_, '_, T> {}

impl<T> Future for Notified<'_, '_, T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let mut waiters = this.condition.waiters.lock();
        match this.ticket {
            None => {
                this.ticket = Some(waiters.push(1, cx.waker()));
                drop(waiters);
                // Queued first, released second: a notify after the release finds us.
                this.guard = None;
                Poll::Pending
            }
            Some(_) => waiters.poll_queued(&mut this.ticket, cx.waker()),
        }
    }
}

impl<T> Drop for Notified<'_, '_, T> {
    fn drop(&mut self) {
        let Some(ticket) = self.ticket else { return };
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
