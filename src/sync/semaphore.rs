//! [`Semaphore`]: counted permits, handed to waiters in FIFO order.

use super::wait_queue::{Ticket, WaitQueue, WakeList};
use crate::loom::sync::Mutex;
use crate::time::{Elapsed, timeout};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// A counting semaphore (pycos `Semaphore`) whose waiters are served strictly first come, first
/// served: a waiter that wants many permits is not overtaken by later ones wanting few.
///
/// Permits are RAII values: dropping a [`Permit`] gives its permits back.
///
/// ```
/// use rycos::sync::Semaphore;
/// use std::sync::Arc;
///
/// let rt = rycos::Runtime::new().unwrap();
/// rt.block_on(async {
///     let connections = Arc::new(Semaphore::new(2));
///     let first = connections.acquire().await;
///     let second = connections.acquire().await;
///     assert!(connections.try_acquire().is_none(), "both permits are out");
///     drop(first);
///     let third = connections.try_acquire().expect("the permit came back");
///     assert_eq!(connections.available_permits(), 0);
///     drop((second, third));
///     assert_eq!(connections.available_permits(), 2);
/// });
/// ```
pub struct Semaphore {
    state: Mutex<State>,
}

struct State {
    permits: usize,
    queue: WaitQueue,
}

impl State {
    /// Hands free permits to the waiters at the front, in order, as far as they go.
    fn grant(&mut self, wake: &mut WakeList) {
        while let Some(want) = self.queue.front_want() {
            if self.permits < want as usize {
                break;
            }
            self.permits -= want as usize;
            self.queue.grant_front(wake);
        }
    }
}

impl Semaphore {
    /// A semaphore with `permits` permits.
    pub fn new(permits: usize) -> Semaphore {
        Semaphore { state: Mutex::new(State { permits, queue: WaitQueue::default() }) }
    }

    /// Waits for one permit.
    pub fn acquire(&self) -> Acquire<'_> {
        self.acquire_many(1)
    }

    /// Waits for `n` permits at once.
    pub fn acquire_many(&self, n: u32) -> Acquire<'_> {
        Acquire { semaphore: self, want: n, ticket: None }
    }

    /// Waits at most `limit` for one permit.
    pub async fn acquire_timeout(&self, limit: Duration) -> Result<Permit<'_>, Elapsed> {
        timeout(limit, self.acquire()).await
    }

    /// Like [`acquire`](Semaphore::acquire) for a shared semaphore; the permit holds the `Arc`
    /// and can move into another task.
    pub async fn acquire_owned(self: Arc<Self>) -> OwnedPermit {
        self.acquire().await.forget();
        OwnedPermit { semaphore: self, permits: 1 }
    }

    /// Takes a permit if one is free and nobody is queued ahead.
    pub fn try_acquire(&self) -> Option<Permit<'_>> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if they are free and nobody is queued ahead.
    pub fn try_acquire_many(&self, n: u32) -> Option<Permit<'_>> {
        let mut state = self.state.lock();
        if state.queue.waiting() > 0 || state.permits < n as usize {
            return None;
        }
        state.permits -= n as usize;
        Some(Permit { semaphore: self, permits: n })
    }

    /// Adds `n` permits (given to waiters first).
    pub fn add_permits(&self, n: usize) {
        let mut wake = WakeList::default();
        {
            let mut state = self.state.lock();
            state.permits += n;
            state.grant(&mut wake);
        }
        wake.wake();
    }

    /// Permits free right now.
    pub fn available_permits(&self) -> usize {
        self.state.lock().permits
    }

    /// Tasks waiting for permits right now.
    pub fn waiting(&self) -> usize {
        self.state.lock().queue.waiting()
    }

    fn poll_acquire(&self, cx: &mut Context<'_>, want: u32, ticket: &mut Option<Ticket>) -> Poll<()> {
        let mut state = self.state.lock();
        match *ticket {
            None => {
                if state.queue.waiting() == 0 && state.permits >= want as usize {
                    state.permits -= want as usize;
                    return Poll::Ready(());
                }
                *ticket = Some(state.queue.push(want, cx.waker()));
                Poll::Pending
            }
            Some(_) => state.queue.poll_queued(ticket, cx.waker()),
        }
    }

    /// An acquire gave up: if it had been granted, its permits go back (to the next waiters);
    /// if it was waiting, the waiters behind it may now fit.
    fn cancel(&self, ticket: Ticket) {
        let mut wake = WakeList::default();
        {
            let mut state = self.state.lock();
            if let Some((granted, want)) = state.queue.cancel(ticket) {
                if granted {
                    state.permits += want as usize;
                }
                state.grant(&mut wake);
            }
        }
        wake.wake();
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.lock();
        f.debug_struct("Semaphore")
            .field("permits", &state.permits)
            .field("waiting", &state.queue.waiting())
            .finish()
    }
}

/// Future of [`Semaphore::acquire`]. Cancel-safe: dropping it while queued, or after its permits
/// were granted but before it saw them, hands the permits on.
#[must_use = "futures do nothing unless awaited"]
pub struct Acquire<'a> {
    semaphore: &'a Semaphore,
    want: u32,
    ticket: Option<Ticket>,
}

impl<'a> Future for Acquire<'a> {
    type Output = Permit<'a>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Permit<'a>> {
        std::task::ready!(crate::coop::poll_proceed(cx));
        let this = self.get_mut();
        std::task::ready!(this.semaphore.poll_acquire(cx, this.want, &mut this.ticket));
        Poll::Ready(Permit { semaphore: this.semaphore, permits: this.want })
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket {
            self.semaphore.cancel(ticket);
        }
    }
}

impl fmt::Debug for Acquire<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire").field("want", &self.want).field("queued", &self.ticket.is_some()).finish()
    }
}

/// Permits taken from a [`Semaphore`]; dropping it gives them back.
#[must_use = "dropping a permit releases it at once"]
pub struct Permit<'a> {
    semaphore: &'a Semaphore,
    permits: u32,
}

impl Permit<'_> {
    /// Keeps the permits out of the semaphore for good (give them back with
    /// [`Semaphore::add_permits`]).
    pub fn forget(mut self) {
        self.permits = 0;
    }

    /// How many permits this holds.
    pub fn permits(&self) -> u32 {
        self.permits
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if self.permits > 0 {
            self.semaphore.add_permits(self.permits as usize);
        }
    }
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").field("permits", &self.permits).finish()
    }
}

/// A permit of a shared semaphore ([`Semaphore::acquire_owned`]).
#[must_use = "dropping a permit releases it at once"]
pub struct OwnedPermit {
    semaphore: Arc<Semaphore>,
    permits: u32,
}

impl Drop for OwnedPermit {
    fn drop(&mut self) {
        self.semaphore.add_permits(self.permits as usize);
    }
}

impl fmt::Debug for OwnedPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedPermit").field("permits", &self.permits).finish()
    }
}
