//! How a channel reaches the tasks subscribed to it. The route is chosen when a task subscribes,
//! by its mailbox:
//!
//! - **The log** (an unbounded mailbox: the common case). A message is appended once to the
//!   channel's log, and each such subscriber's mailbox reads it from there with its own cursor
//!   (a [`LogSource`]). A send costs one append however many tasks subscribe, and looks at two
//!   counters on the channel's [`Board`] rather than at every subscription.
//! - **Direct** (a bounded mailbox). The message is cloned into the mailbox as a `send` would
//!   queue it, so the mailbox's capacity counts it. A full subscriber is skipped by
//!   `Channel::send` and not counted; `Channel::deliver` waits for room in it, in the mailbox's
//!   queue of waiting deliveries, so a slow subscriber slows its publisher down instead of
//!   growing without limit.

use super::log::{Cursor, Writer};
use crate::loom::sync::Mutex;
use crate::loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};
use crate::task::mailbox::Source;
use crate::task::{TaskId, TaskRef};
use std::collections::VecDeque;
use std::marker::PhantomData;
// std's `Arc`: flags link back to the board weakly, and loom's `Arc` has no `Weak`.
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

/// Appends `message` to the log and wakes the log subscribers waiting for it.
pub(super) fn append<M>(log: &mut Writer<M>, board: &Board, message: M) {
    log.push(message);
    // Pairs with the fence in the mailbox between putting a receiver on the waiting list
    // (`LogSource::set_waiting`) and looking at its sources once more: either that look finds
    // this message, or this wake-up finds the receiver on the list (loom:
    // `channel_append_races_with_a_receive_about_to_wait`).
    fence(Ordering::SeqCst);
    board.wake_waiting();
}

/// What subscribers' mailboxes post for their channel.
#[derive(Default)]
pub(super) struct Board {
    /// Log subscriptions whose task ended since the channel last swept its list.
    ended: AtomicUsize,
    /// Receivers waiting for the channel's next message; `waiting_count` is its length.
    waiting: Mutex<Vec<Arc<Flags>>>,
    waiting_count: AtomicUsize,
}

impl Board {
    /// True (once) if a log subscriber ended since the last call: the list needs a sweep.
    pub(super) fn take_ended(&self) -> bool {
        self.ended.load(Ordering::Relaxed) > 0 && self.ended.swap(0, Ordering::Acquire) > 0
    }

    /// Wakes every waiting receiver (after a message was appended and fenced).
    pub(super) fn wake_waiting(&self) {
        if self.waiting_count.load(Ordering::Relaxed) == 0 {
            return;
        }
        let waiting = {
            let mut list = self.waiting.lock();
            self.waiting_count.store(0, Ordering::Relaxed);
            std::mem::take(&mut *list)
        };
        // Woken outside the board lock: a wake takes the mailbox lock, and receivers take the
        // board lock while holding theirs.
        for flags in waiting {
            if flags.waiting.swap(false, Ordering::AcqRel) {
                let wake = flags.wake.lock();
                if let Some(wake) = wake.as_ref() {
                    wake();
                }
            }
        }
    }
}

/// Shared by a log subscription and the source in the subscriber's mailbox.
pub(super) struct Flags {
    /// The subscriber's receive waits and is on the board's waiting list.
    waiting: AtomicBool,
    /// The log position where the subscription ends (`u64::MAX` while subscribed).
    stop_at: AtomicU64,
    /// The source is gone: the task has ended.
    gone: AtomicBool,
    /// Weak: the board's waiting list holds flags, so a strong link back would be a cycle that
    /// outlives the channel whenever a receive starts waiting after the channel went.
    board: Weak<Board>,
    /// Wakes the task's receive; present while the channel lists the subscription.
    wake: Mutex<Option<Box<dyn Fn() + Send + Sync>>>,
}

/// A task subscribed through the log.
pub(super) struct Reader {
    pub(super) id: TaskId,
    flags: Arc<Flags>,
}

impl Reader {
    /// Subscribes `task` at `cursor` (the log's end); fails if the task has ended.
    pub(super) fn attach<M, N>(task: &TaskRef<N>, cursor: Cursor<M>, board: &Arc<Board>) -> Result<Reader, ()>
    where
        M: Clone + Send + Sync + 'static,
        N: From<M> + Send + 'static,
    {
        let task_ref = task.clone();
        let (flags, source) = link::<M, N>(cursor, board, Box::new(move || task_ref.wake_receiver()));
        // Lock order: channel, then mailbox (as in a send).
        task.attach_source(Box::new(source))?;
        Ok(Reader { id: task.id(), flags })
    }

    pub(super) fn is_live(&self) -> bool {
        !self.flags.gone.load(Ordering::Acquire)
    }

    /// The subscription ends after the message numbered `seq - 1`: the task still reads what
    /// was appended before.
    pub(super) fn end_at(&self, seq: u64) {
        self.flags.stop_at.store(seq, Ordering::Release);
    }
}

impl Drop for Reader {
    /// The wake-up holds a `TaskRef` (a sender: it keeps the task's receive from seeing "no
    /// senders left"); it goes with the subscription, which also breaks the cycle
    /// task → mailbox → source → flags → task.
    fn drop(&mut self) {
        let wake = self.flags.wake.lock().take();
        drop(wake);
    }
}

/// The two ends of a log subscription: the flags the channel keeps, and the source that goes
/// into the subscriber's mailbox, which calls `wake` when a message arrives while it waits.
pub(super) fn link<M, N>(
    cursor: Cursor<M>,
    board: &Arc<Board>,
    wake: Box<dyn Fn() + Send + Sync>,
) -> (Arc<Flags>, LogSource<M, N>) {
    let flags = Arc::new(Flags {
        waiting: AtomicBool::new(false),
        stop_at: AtomicU64::new(u64::MAX),
        gone: AtomicBool::new(false),
        board: Arc::downgrade(board),
        wake: Mutex::new(Some(wake)),
    });
    let source = LogSource { cursor, flags: flags.clone(), _into: PhantomData };
    (flags, source)
}

/// The mailbox side of a log subscription: a cursor in the channel's log.
pub(super) struct LogSource<M, N> {
    cursor: Cursor<M>,
    flags: Arc<Flags>,
    _into: PhantomData<fn() -> N>,
}

impl<M, N> Source<N> for LogSource<M, N>
where
    M: Clone + Send + Sync,
    N: From<M>,
{
    fn pull_into(&mut self, queue: &mut VecDeque<N>, max: usize) -> usize {
        let stop_at = self.flags.stop_at.load(Ordering::Acquire);
        let allowed = stop_at.saturating_sub(self.cursor.seq()).min(max as u64) as usize;
        let mut pulled = 0;
        while pulled < allowed {
            let Some(message) = self.cursor.next() else { break };
            queue.push_back(N::from(message));
            pulled += 1;
        }
        pulled
    }

    fn next(&mut self) -> Option<N> {
        if self.cursor.seq() >= self.flags.stop_at.load(Ordering::Acquire) {
            return None;
        }
        self.cursor.next().map(N::from)
    }

    fn is_finished(&self) -> bool {
        self.cursor.seq() >= self.flags.stop_at.load(Ordering::Acquire)
    }

    fn set_waiting(&self) {
        if self.flags.waiting.load(Ordering::Relaxed) {
            return;
        }
        // A channel that is gone sends nothing more: there is nothing to wait for.
        let Some(board) = self.flags.board.upgrade() else { return };
        self.flags.waiting.store(true, Ordering::Relaxed);
        let mut list = board.waiting.lock();
        list.push(self.flags.clone());
        board.waiting_count.store(list.len(), Ordering::Relaxed);
    }
}

impl<M, N> Drop for LogSource<M, N> {
    fn drop(&mut self) {
        self.flags.gone.store(true, Ordering::Release);
        if let Some(board) = self.flags.board.upgrade() {
            board.ended.fetch_add(1, Ordering::Release);
        }
    }
}

/// A task subscribed directly (its mailbox is bounded).
pub(super) struct Bounded<M> {
    pub(super) id: TaskId,
    task: Box<dyn DirectTask<M>>,
}

/// What became of a message offered to a direct subscriber.
pub(super) enum Offer {
    /// Queued in the mailbox.
    Taken,
    /// The mailbox is full; a `send` skips the task.
    Full,
    /// The mailbox is full; a delivery waits in its queue of waiting deliveries.
    Waiting(Box<dyn PendingDelivery>),
    /// The task has ended: the subscription goes.
    Ended,
}

impl<M: Clone + Send + Sync + 'static> Bounded<M> {
    pub(super) fn new<N: From<M> + Send + 'static>(task: &TaskRef<N>) -> Bounded<M> {
        Bounded { id: task.id(), task: Box::new(task.clone()) }
    }
}

impl<M> Bounded<M> {
    pub(super) fn is_live(&self) -> bool {
        self.task.is_alive()
    }

    /// Offers a copy of `message`; with `wait`, a full mailbox gets a waiting delivery instead
    /// of a refusal (registered with `wait`'s waker, so the caller's task is woken for it).
    pub(super) fn offer(&self, message: &M, wait: Option<&mut Context<'_>>) -> Offer {
        self.task.offer(message, wait)
    }
}

/// The typed task behind a [`Bounded`] subscription, whose mailbox takes `N: From<M>`.
trait DirectTask<M>: Send + Sync {
    fn is_alive(&self) -> bool;
    fn offer(&self, message: &M, wait: Option<&mut Context<'_>>) -> Offer;
}

impl<M, N> DirectTask<M> for TaskRef<N>
where
    M: Clone + Send + Sync + 'static,
    N: From<M> + Send + 'static,
{
    fn is_alive(&self) -> bool {
        (**self).is_alive()
    }

    fn offer(&self, message: &M, wait: Option<&mut Context<'_>>) -> Offer {
        let message = N::from(message.clone());
        let Some(cx) = wait else {
            return match self.send(message) {
                Ok(()) => Offer::Taken,
                Err(e) if e.is_full() => Offer::Full,
                Err(_) => Offer::Ended,
            };
        };
        let mut delivery = WaitForRoom { task: self.clone(), message: Some(message), ticket: None };
        match delivery.poll(cx) {
            Poll::Ready(true) => Offer::Taken,
            Poll::Ready(false) => Offer::Ended,
            Poll::Pending => Offer::Waiting(Box::new(delivery)),
        }
    }
}

/// A channel message waiting for room in a subscriber's bounded mailbox.
pub(super) trait PendingDelivery: Send {
    /// Ready with true once the message is queued, false if the task ended first.
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<bool>;
}

struct WaitForRoom<N: Send + 'static> {
    task: TaskRef<N>,
    message: Option<N>,
    ticket: Option<u64>,
}

impl<N: Send + 'static> PendingDelivery for WaitForRoom<N> {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<bool> {
        self.task.poll_deliver(&mut self.message, &mut self.ticket, cx).map(|queued| queued.is_ok())
    }
}

impl<N: Send + 'static> Drop for WaitForRoom<N> {
    /// Withdrawn (the delivery timed out or was dropped): the next waiting delivery gets the slot.
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            self.task.cancel_deliver(ticket);
        }
    }
}
