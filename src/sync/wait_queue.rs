//! The FIFO queue of waiters every primitive in [`sync`](crate::sync) is built on.
//!
//! A waiter is an entry `{ticket, want, granted, waker}`; tickets grow, so the queue is sorted by
//! ticket and an entry is found by binary search — no per-wait allocation, no intrusive list, no
//! `unsafe`. Grants go strictly in queue order, so granted entries always form a prefix of the
//! queue (`granted` counts them); a waiter removes its own entry when it sees the grant.
//!
//! Cancel-safety lives here: [`WaitQueue::cancel`] tells the caller whether the entry had already
//! been granted, so the primitive can hand the permit or notification on instead of losing it.
//!
//! The queue is not synchronised itself; each primitive keeps it under its own lock and wakes the
//! collected wakers after unlocking ([`WakeList`]).

use std::collections::VecDeque;
use std::task::Waker;

/// A place in a [`WaitQueue`].
pub(crate) type Ticket = u64;

#[derive(Debug)]
struct Waiter {
    ticket: Ticket,
    /// Permits wanted (1 for locks, notifications and events).
    want: u32,
    granted: bool,
    waker: Waker,
}

#[derive(Debug, Default)]
pub(crate) struct WaitQueue {
    waiters: VecDeque<Waiter>,
    /// How many entries at the front are granted.
    granted: usize,
    next_ticket: Ticket,
}

/// What a poll of a queued waiter found.
#[derive(Debug, PartialEq, Eq)]
enum Polled {
    Granted,
    Waiting,
    /// The ticket is not in the queue (its grant was taken, or it was never queued).
    Gone,
}

impl WaitQueue {
    /// Waiters that have not been granted yet.
    pub(crate) fn waiting(&self) -> usize {
        self.waiters.len() - self.granted
    }

    /// Queues a waiter at the back.
    pub(crate) fn push(&mut self, want: u32, waker: &Waker) -> Ticket {
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        self.waiters.push_back(Waiter { ticket, want, granted: false, waker: waker.clone() });
        ticket
    }

    fn find(&self, ticket: Ticket) -> Option<usize> {
        self.waiters.binary_search_by_key(&ticket, |w| w.ticket).ok()
    }

    /// Takes the grant of `ticket` (removing its entry) or refreshes its waker.
    fn poll(&mut self, ticket: Ticket, waker: &Waker) -> Polled {
        let Some(index) = self.find(ticket) else { return Polled::Gone };
        let waiter = &mut self.waiters[index];
        if waiter.granted {
            self.waiters.remove(index);
            self.granted -= 1;
            return Polled::Granted;
        }
        if !waiter.waker.will_wake(waker) {
            waiter.waker.clone_from(waker);
        }
        Polled::Waiting
    }

    /// For a waiter holding `ticket`: ready (and the ticket cleared) once granted, else the
    /// waker is refreshed.
    ///
    /// # Panics
    /// If the ticket is not queued: a waiter only loses its entry by taking its grant.
    pub(crate) fn poll_queued(&mut self, ticket: &mut Option<Ticket>, waker: &Waker) -> std::task::Poll<()> {
        let queued = ticket.expect("poll_queued without a ticket");
        match self.poll(queued, waker) {
            Polled::Granted => {
                *ticket = None;
                std::task::Poll::Ready(())
            }
            Polled::Waiting => std::task::Poll::Pending,
            Polled::Gone => unreachable!("a queued waiter lost its place"),
        }
    }

    /// Removes `ticket`'s entry; returns `Some(true)` if it had been granted (the caller must
    /// hand the grant on), `Some(false)` if it was still waiting, `None` if it was not queued.
    pub(crate) fn cancel(&mut self, ticket: Ticket) -> Option<(bool, u32)> {
        let index = self.find(ticket)?;
        let waiter = self.waiters.remove(index).expect("index found above");
        if waiter.granted {
            self.granted -= 1;
        }
        Some((waiter.granted, waiter.want))
    }

    /// Wants of the oldest waiter not yet granted.
    pub(crate) fn front_want(&self) -> Option<u32> {
        self.waiters.get(self.granted).map(|w| w.want)
    }

    /// Grants the oldest waiter not yet granted, collecting its waker into `wake`.
    pub(crate) fn grant_front(&mut self, wake: &mut WakeList) -> bool {
        let Some(waiter) = self.waiters.get_mut(self.granted) else { return false };
        waiter.granted = true;
        wake.push(waiter.waker.clone());
        self.granted += 1;
        true
    }

    /// Grants every waiting entry.
    pub(crate) fn grant_all(&mut self, wake: &mut WakeList) {
        while self.grant_front(wake) {}
    }
}

/// Wakers to call once the lock is released; the first few are kept inline so that a hand-off
/// (one waker) allocates nothing.
#[derive(Debug, Default)]
pub(crate) struct WakeList {
    first: Option<Waker>,
    rest: Vec<Waker>,
}

impl WakeList {
    pub(crate) fn push(&mut self, waker: Waker) {
        if self.first.is_none() {
            self.first = Some(waker);
        } else {
            self.rest.push(waker);
        }
    }

    pub(crate) fn wake(self) {
        if let Some(first) = self.first {
            first.wake();
        }
        for waker in self.rest {
            waker.wake();
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn grants_go_in_order_and_cancel_reports_them() {
        let waker = Waker::noop();
        let mut queue = WaitQueue::default();
        let a = queue.push(1, waker);
        let b = queue.push(2, waker);
        let c = queue.push(1, waker);
        assert_eq!(queue.waiting(), 3);
        let mut wake = WakeList::default();
        assert!(queue.grant_front(&mut wake));
        assert_eq!(queue.front_want(), Some(2));
        assert_eq!(queue.poll(b, waker), Polled::Waiting);
        assert_eq!(queue.cancel(a), Some((true, 1)), "a was granted: its grant must be handed on");
        assert_eq!(queue.cancel(b), Some((false, 2)));
        assert_eq!(queue.front_want(), Some(1));
        queue.grant_all(&mut wake);
        assert_eq!(queue.poll(c, waker), Polled::Granted);
        assert_eq!(queue.poll(c, waker), Polled::Gone);
        assert_eq!(queue.waiting(), 0);
    }
}
