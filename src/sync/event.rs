//! [`Event`]: a flag tasks can wait for.

use super::wait_queue::{Ticket, WaitQueue, WakeList};
use crate::loom::sync::Mutex;
use crate::loom::sync::atomic::{AtomicBool, Ordering};
use crate::time::{Elapsed, timeout};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// A flag that tasks wait for (pycos `Event`). `set` wakes every waiting task; waits that start
/// while it is set return at once; `clear` resets it. A task waiting when `set` is called is
/// woken even if the flag is cleared again before it runs.
///
/// ```
/// use rycos::sync::Event;
/// use std::sync::Arc;
///
/// let rt = rycos::Runtime::new().unwrap();
/// rt.block_on(async {
///     let ready = Arc::new(Event::new());
///     let waiters: Vec<_> = (0..3)
///         .map(|i| {
///             let ready = ready.clone();
///             rycos::spawn(async move {
///                 ready.wait().await;
///                 i
///             })
///         })
///         .collect();
///     ready.set();
///     let mut sum = 0;
///     for w in waiters {
///         sum += w.await.unwrap();
///     }
///     assert_eq!(sum, 3);
/// });
/// ```
pub struct Event {
    /// Written under `waiters`' lock; read without it on the fast path.
    set: AtomicBool,
    waiters: Mutex<WaitQueue>,
}

impl Event {
    /// A cleared event.
    pub fn new() -> Event {
        Event { set: AtomicBool::new(false), waiters: Mutex::new(WaitQueue::default()) }
    }

    /// Sets the flag and wakes every waiting task.
    pub fn set(&self) {
        // Already set: the set that set it woke every task waiting then, and a wait that starts
        // later finds the flag (it looks again under the lock). A clear that happens before this
        // call is seen here, so only a set racing a clear may return early, and it may be taken
        // to have come first. (A link's writer is woken once per message queued: this is the
        // common case.)
        if self.set.load(Ordering::Acquire) {
            return;
        }
        let mut wake = WakeList::default();
        {
            let mut waiters = self.waiters.lock();
            self.set.store(true, Ordering::Release);
            waiters.grant_all(&mut wake);
        }
        wake.wake();
    }

    /// Clears the flag.
    pub fn clear(&self) {
        let _waiters = self.waiters.lock();
        self.set.store(false, Ordering::Release);
    }

    /// True if the flag is set.
    pub fn is_set(&self) -> bool {
        self.set.load(Ordering::Acquire)
    }

    /// Waits until the flag is set.
    pub fn wait(&self) -> EventWait<'_> {
        EventWait { event: self, ticket: None }
    }

    /// Waits at most `limit`: `Ok` if the event was set, [`Elapsed`] if the time ran out (the
    /// convention of every `_timeout` in [`sync`](super)).
    pub async fn wait_timeout(&self, limit: Duration) -> Result<(), Elapsed> {
        timeout(limit, self.wait()).await
    }

    /// Tasks waiting right now.
    pub fn waiting(&self) -> usize {
        self.waiters.lock().waiting()
    }
}

impl Default for Event {
    fn default() -> Self {
        Event::new()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event").field("set", &self.is_set()).finish()
    }
}

/// Future of [`Event::wait`].
#[must_use = "futures do nothing unless awaited"]
pub struct EventWait<'a> {
    event: &'a Event,
    ticket: Option<Ticket>,
}

impl Future for EventWait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        std::task::ready!(crate::coop::poll_proceed(cx));
        let this = self.get_mut();
        if this.ticket.is_none() && this.event.is_set() {
            return Poll::Ready(());
        }
        let mut waiters = this.event.waiters.lock();
        match this.ticket {
            None if this.event.set.load(Ordering::Relaxed) => Poll::Ready(()),
            None => {
                this.ticket = Some(waiters.push(1, cx.waker()));
                Poll::Pending
            }
            Some(_) => waiters.poll_queued(&mut this.ticket, cx.waker()),
        }
    }
}

impl Drop for EventWait<'_> {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket {
            // Every waiter is woken by `set`, so a dropped one has nothing to hand on.
            self.event.waiters.lock().cancel(ticket);
        }
    }
}

impl fmt::Debug for EventWait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventWait").field("queued", &self.ticket.is_some()).finish()
    }
}
