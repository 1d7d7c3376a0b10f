//! A task's mailbox: a FIFO queue with many senders (every `TaskRef`) and one receiver (the
//! task, through its `Cx`).
//!
//! Protocol (all under the mailbox lock, wake-ups done after unlocking):
//!
//! - `push` appends and takes whatever receiver registration exists. When the receiver is the
//!   task itself (the common case: `cx.receive()` polled by the task's own waker), the
//!   registration is one flag and the wake-up is a direct state transition on the task — no
//!   `Waker` is cloned or dropped. A receive polled from some other waker (inside a
//!   `FuturesUnordered`, say) stores that waker instead.
//! - A message leaves the queue only inside a `poll` that returns it, so a receive future that is
//!   dropped (timeout, `select`, termination) never takes a message with it, and the others keep
//!   their order.
//! - The task counts its `TaskRef`s (`handles`). When the last one goes, a waiting receive is
//!   woken and returns `None`: no message can arrive any more.
//! - When the task ends, the mailbox is closed before the task is marked complete: later sends
//!   get their message back, queued messages are dropped, waiting deliveries fail.
//! - Capacity limits user messages only; exit notices ("control" messages) are always accepted.
//!   Deliveries waiting for room in a bounded mailbox are served in the order they came: the
//!   oldest `free` of them (as many as there are free slots) are woken and may queue; a new
//!   delivery or a plain `send` finds the mailbox full while older deliveries wait for the free
//!   slots (see `Waiting`).
//! - Suspension (`Cx::suspend` / `resume`, pycos's wake-up channel beside the mailbox) lives here
//!   too, so that a suspended task costs no more than one waiting for a message: a flag in
//!   padding the mailbox has anyway, the resume value and a foreign waker in the rare state.
//! - Channel subscriptions are *sources*: a channel does not push into the mailbox; the mailbox
//!   pulls new messages from each source's log into its queue whenever it is read (see
//!   `channel::log`). A receive about to wait puts itself on each source channel's waiting
//!   list, then looks once more (both sides fence SeqCst: the channel appends, then looks at
//!   its list), so a message appended meanwhile is either seen now or wakes the task. A direct
//!   send pulls the sources before it appends, so the queue holds messages in order of
//!   arrival, whatever their kind.

use crate::error::{SendError, TryRecvError};
use crate::loom::sync::atomic::{Ordering, fence};
use crate::loom::sync::{Mutex, MutexGuard};
use crate::runtime::task::RawTask;
use std::any::Any;
use std::collections::VecDeque;
use std::task::{Context, Poll, Waker};

pub(crate) struct Mailbox<M> {
    inner: Mutex<Inner<M>>,
}

struct Inner<M> {
    queue: VecDeque<M>,
    /// Most user messages queued at once (`u32::MAX`: unbounded).
    capacity: u32,
    closed: bool,
    /// The task itself waits in a receive and is woken by a state transition.
    owner_waiting: bool,
    /// The task waits in `Cx::suspend` for a `resume`.
    suspended: bool,
    /// ...polled with its own waker (else the waker is in `Slow::suspend_waker`).
    owner_suspended: bool,
    /// Rare state, boxed to keep idle tasks small.
    slow: Option<Box<Slow<M>>>,
}

/// A stream of messages the mailbox pulls from (a channel subscription).
pub(crate) trait Source<M>: Send {
    /// Appends up to `max` messages to `queue`; returns how many.
    fn pull_into(&mut self, queue: &mut VecDeque<M>, max: usize) -> usize;
    /// The next message, if there is one.
    fn next(&mut self) -> Option<M>;
    /// True once the source will never yield again (unsubscribed, channel closed).
    fn is_finished(&self) -> bool;
    /// Marks the receiver as waiting for this source: the next message wakes it.
    fn set_waiting(&self);
}

struct Slow<M> {
    /// Channel subscriptions, pulled from on every read.
    sources: Vec<Box<dyn Source<M>>>,
    /// The source a plain receive pulls from first (they take turns).
    next_source: usize,
    /// A receive polled with some other waker than the task's own.
    receiver: Option<Waker>,
    /// Deliveries waiting for room in a full bounded mailbox, oldest first.
    senders: VecDeque<Waiting>,
    next_ticket: u64,
    /// A suspend polled with some other waker than the task's own.
    suspend_waker: Option<Waker>,
    /// A `resume` value the suspended task has not picked up yet.
    resumed: Option<Box<dyn Any + Send>>,
}

/// A delivery waiting for room. Invariant (kept by every operation under the lock): the first
/// `min(free slots, waiting)` entries are `woken`, the others are not. A woken one may queue its
/// message the next time it is polled; everyone else who wants to queue a user message finds
/// the mailbox full until the waiting deliveries have had their slots.
struct Waiting {
    ticket: u64,
    waker: Waker,
    woken: bool,
}

impl<M> Default for Slow<M> {
    fn default() -> Self {
        Slow {
            sources: Vec::new(),
            next_source: 0,
            receiver: None,
            senders: VecDeque::new(),
            next_ticket: 0,
            suspend_waker: None,
            resumed: None,
        }
    }
}

/// How many channel messages a plain receive moves into the queue at a time.
const BATCH: usize = 16;

/// Who a sender must wake once it has released the lock.
#[must_use]
pub(crate) enum Wake {
    Nobody,
    Owner,
    Waker(Waker),
}

impl Wake {
    pub(crate) fn wake(self, owner: RawTask) {
        match self {
            Wake::Nobody => {}
            Wake::Owner => owner.wake_by_ref(),
            Wake::Waker(w) => w.wake(),
        }
    }
}

impl<M> Inner<M> {
    /// Moves what the sources have into the queue; returns the sources that have finished
    /// (to be dropped outside the lock).
    fn pull(&mut self) -> Vec<Box<dyn Source<M>>> {
        let Some(slow) = self.slow.as_mut() else { return Vec::new() };
        if slow.sources.is_empty() {
            return Vec::new();
        }
        for source in &mut slow.sources {
            source.pull_into(&mut self.queue, usize::MAX);
        }
        if slow.sources.iter().any(|s| s.is_finished()) {
            let (finished, live) =
                std::mem::take(&mut slow.sources).into_iter().partition(|s| s.is_finished());
            slow.sources = live;
            return finished;
        }
        Vec::new()
    }

    /// The next message for a plain receive: the queue first (a direct send pulls the sources
    /// before it appends, so queued messages came before anything still in a source); then
    /// straight from the only source, or a batch from several sources, taking turns.
    fn take_next(&mut self) -> Option<M> {
        if let Some(message) = self.queue.pop_front() {
            return Some(message);
        }
        let slow = self.slow.as_mut()?;
        let count = slow.sources.len();
        if count <= 1 {
            return slow.sources.first_mut()?.next();
        }
        let mut pulled = 0;
        for i in 0..count {
            let index = (slow.next_source + i) % count;
            pulled += slow.sources[index].pull_into(&mut self.queue, BATCH - pulled);
            if pulled >= BATCH {
                break;
            }
        }
        slow.next_source = (slow.next_source + 1) % count;
        self.queue.pop_front()
    }

    fn has_sources(&self) -> bool {
        self.slow.as_ref().is_some_and(|s| !s.sources.is_empty())
    }

    /// One search: plain receives take the next message, selective ones search everything in
    /// order (the sources pulled first).
    fn find(
        &mut self,
        matches: &mut Option<&mut dyn FnMut(&M) -> bool>,
        finished: &mut Vec<Box<dyn Source<M>>>,
    ) -> Option<M> {
        match matches {
            None => self.take_next(),
            Some(matches) => {
                if self.has_sources() {
                    finished.append(&mut self.pull());
                }
                let pos = self.queue.iter().position(&mut **matches)?;
                self.queue.remove(pos)
            }
        }
    }

    /// Marks the sources as waiting and pulls once more (see the module docs).
    fn pull_before_waiting(&mut self) -> Vec<Box<dyn Source<M>>> {
        let Some(slow) = self.slow.as_mut() else { return Vec::new() };
        if slow.sources.is_empty() {
            return Vec::new();
        }
        for source in &slow.sources {
            source.set_waiting();
        }
        fence(Ordering::SeqCst);
        self.pull()
    }

    fn take_receiver(&mut self) -> Wake {
        if std::mem::take(&mut self.owner_waiting) {
            return Wake::Owner;
        }
        match self.slow.as_mut().and_then(|s| s.receiver.take()) {
            Some(w) => Wake::Waker(w),
            None => Wake::Nobody,
        }
    }

    /// Slots free for user messages (control messages may have overfilled the queue).
    fn free_slots(&self) -> usize {
        (self.capacity as usize).saturating_sub(self.queue.len())
    }

    fn deliveries_waiting(&self) -> usize {
        self.slow.as_ref().map_or(0, |s| s.senders.len())
    }

    /// True if a user message from a sender that is not waiting yet may be queued now: there is
    /// a free slot beyond those owed to the deliveries already waiting.
    fn accepts_newcomer(&self) -> bool {
        self.capacity == u32::MAX || self.free_slots() > self.deliveries_waiting()
    }

    fn slow(&mut self) -> &mut Slow<M> {
        self.slow.get_or_insert_with(Default::default)
    }

    /// A receive took a message: it leaves no registration behind, and in a bounded mailbox
    /// the oldest waiting delivery may go now (returned, to be woken after unlocking).
    fn message_taken(&mut self, registered: &mut bool) -> Option<Waker> {
        *registered = false;
        self.owner_waiting = false;
        self.take_waiting_sender()
    }

    /// After a slot was freed (a message left a bounded mailbox, or a woken delivery gave up
    /// its turn): the waiting delivery that the slot now belongs to, to be woken after unlocking.
    fn take_waiting_sender(&mut self) -> Option<Waker> {
        if self.capacity == u32::MAX {
            return None;
        }
        let free = self.free_slots();
        let slow = self.slow.as_mut()?;
        let entry = slow.senders.get_mut(free.checked_sub(1)?)?;
        if entry.woken {
            return None;
        }
        entry.woken = true;
        Some(entry.waker.clone())
    }
}

impl<M> Mailbox<M> {
    /// An empty mailbox; `capacity` limits user messages. (The count of its senders lives in the
    /// task header: `Header::handles`.)
    pub(crate) fn new(capacity: Option<usize>) -> Self {
        Mailbox {
            inner: Mutex::new(Inner {
                queue: VecDeque::new(),
                capacity: capacity.map_or(u32::MAX, |c| u32::try_from(c).unwrap_or(u32::MAX - 1)),
                closed: false,
                owner_waiting: false,
                suspended: false,
                owner_suspended: false,
                slow: None,
            }),
        }
    }

    /// Queues `message`. `control` messages (exit notices) ignore the capacity.
    ///
    /// Inlined into `TaskRef::send`: as a call, its `Result` came back through memory and the
    /// read of it stalled on store forwarding — ping_pong was 10 % slower (BENCHMARKS.md).
    #[inline]
    pub(crate) fn push(&self, message: M, control: bool) -> Result<Wake, SendError<M>> {
        let mut inner = self.inner.lock();
        if inner.closed {
            return Err(SendError::Closed(message));
        }
        // Channel messages that arrived earlier go first. (An `Option`: with no sources, a send
        // makes no vector and calls no drop glue for one.)
        let finished = inner.has_sources().then(|| inner.pull());
        if !control && !inner.accepts_newcomer() {
            drop(inner);
            drop(finished);
            return Err(SendError::Full(message));
        }
        inner.queue.push_back(message);
        let wake = inner.take_receiver();
        crate::loom::loom_trace!("mailbox push; wake owner: {}", matches!(wake, Wake::Owner));
        drop(inner);
        drop(finished);
        Ok(wake)
    }

    /// Takes the first message that `matches` accepts, or registers the receiver.
    /// `registered` records whether a registration may be left behind (see `unregister`).
    #[inline]
    pub(crate) fn poll_receive(
        &self,
        cx: &mut Context<'_>,
        owner: RawTask,
        registered: &mut bool,
        matches: Option<&mut dyn FnMut(&M) -> bool>,
    ) -> Poll<Option<M>> {
        let mut inner = self.inner.lock();
        // The common case, kept small enough to inline: a plain receive that finds a message.
        if matches.is_none()
            && let Some(message) = inner.take_next()
        {
            let sender = inner.message_taken(registered);
            drop(inner);
            if let Some(sender) = sender {
                sender.wake();
            }
            return Poll::Ready(Some(message));
        }
        // Under the same lock: a receive about to wait locks the mailbox once, not twice.
        Self::poll_receive_searching(inner, cx, owner, registered, matches)
    }

    /// The rest of `poll_receive`: selective receives, and receives about to wait.
    #[inline(never)]
    fn poll_receive_searching(
        mut inner: MutexGuard<'_, Inner<M>>,
        cx: &mut Context<'_>,
        owner: RawTask,
        registered: &mut bool,
        matches: Option<&mut dyn FnMut(&M) -> bool>,
    ) -> Poll<Option<M>> {
        let mut matches = matches;
        let mut finished = Vec::new();
        let mut found = inner.find(&mut matches, &mut finished);
        if found.is_none() && inner.has_sources() {
            // About to wait: mark the sources, then look once more (see the module docs).
            finished.append(&mut inner.pull_before_waiting());
            found = inner.find(&mut matches, &mut finished);
        }
        if let Some(message) = found {
            let sender = inner.message_taken(registered);
            drop(inner);
            drop(finished);
            if let Some(sender) = sender {
                sender.wake();
            }
            return Poll::Ready(Some(message));
        }
        // No message can ever arrive: every sender is gone (checked under the lock, see
        // `drop_handle` for the other side).
        if owner.header().handles.load(Ordering::Acquire) == 0 {
            *registered = false;
            drop(inner);
            drop(finished);
            return Poll::Ready(None);
        }
        *registered = true;
        crate::loom::loom_trace!("receive registers (own waker: {})", owner.is_waker_of(cx.waker()));
        if owner.is_waker_of(cx.waker()) {
            inner.owner_waiting = true;
        } else {
            let slot = &mut inner.slow().receiver;
            if !slot.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *slot = Some(cx.waker().clone());
            }
        }
        drop(inner);
        drop(finished);
        Poll::Pending
    }

    /// Forgets the receiver registration of a receive that was dropped before it got a message.
    pub(crate) fn unregister_receiver(&self) {
        let mut inner = self.inner.lock();
        inner.owner_waiting = false;
        if let Some(slow) = inner.slow.as_mut() {
            slow.receiver = None;
        }
    }

    pub(crate) fn try_receive(&self, owner: RawTask) -> Result<M, TryRecvError> {
        let (found, sender, finished) = {
            let mut inner = self.inner.lock();
            let finished = inner.pull();
            let found = inner.queue.pop_front();
            let sender = if found.is_some() { inner.take_waiting_sender() } else { None };
            // Under the lock, as in `poll_receive`.
            let closed = found.is_none() && owner.header().handles.load(Ordering::Acquire) == 0;
            (found.ok_or(if closed { TryRecvError::Closed } else { TryRecvError::Empty }), sender, finished)
        };
        drop(finished);
        if let Some(sender) = sender {
            sender.wake();
        }
        found
    }

    /// Queues the message in `slot` as soon as there is room, registering in the queue of
    /// waiting deliveries meanwhile (`ticket` is this delivery's place in it).
    pub(crate) fn poll_deliver(
        &self,
        slot: &mut Option<M>,
        ticket: &mut Option<u64>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Wake, SendError<M>>> {
        let mut finished = Vec::new();
        let polled = self.poll_deliver_locked(slot, ticket, cx, &mut finished);
        // Finished sources are dropped outside the lock: their messages' destructors may send.
        drop(finished);
        polled
    }

    fn poll_deliver_locked(
        &self,
        slot: &mut Option<M>,
        ticket: &mut Option<u64>,
        cx: &mut Context<'_>,
        finished: &mut Vec<Box<dyn Source<M>>>,
    ) -> Poll<Result<Wake, SendError<M>>> {
        let mut inner = self.inner.lock();
        let message = slot.take().expect("delivery polled after completion");
        if inner.closed {
            return Poll::Ready(Err(SendError::Closed(message)));
        }
        // Channel messages that arrived earlier go first (as in `push`).
        finished.append(&mut inner.pull());
        let free = inner.free_slots();
        let place = match *ticket {
            None if inner.accepts_newcomer() => None,
            None => {
                let slow = inner.slow();
                let t = slow.next_ticket;
                slow.next_ticket += 1;
                slow.senders.push_back(Waiting { ticket: t, waker: cx.waker().clone(), woken: false });
                *ticket = Some(t);
                *slot = Some(message);
                return Poll::Pending;
            }
            Some(t) => Some(
                inner
                    .slow()
                    .senders
                    .iter()
                    .position(|w| w.ticket == t)
                    .expect("a waiting delivery is listed"),
            ),
        };
        if let Some(position) = place {
            let senders = &mut inner.slow().senders;
            if position >= free {
                // Its slot was taken by a control message meanwhile: wait for the next one.
                let entry = &mut senders[position];
                entry.woken = false;
                entry.waker.clone_from(cx.waker());
                *slot = Some(message);
                return Poll::Pending;
            }
            senders.remove(position);
            *ticket = None;
        }
        inner.queue.push_back(message);
        Poll::Ready(Ok(inner.take_receiver()))
    }

    /// A waiting delivery gave up. If it had been woken to use a free slot, the slot goes to the
    /// next waiting delivery instead, so no free slot is left unused.
    pub(crate) fn cancel_deliver(&self, ticket: u64) {
        let mut inner = self.inner.lock();
        let Some(slow) = inner.slow.as_mut() else { return };
        let Some(position) = slow.senders.iter().position(|w| w.ticket == ticket) else { return };
        let was_woken = slow.senders.remove(position).is_some_and(|w| w.woken);
        let next = if was_woken { inner.take_waiting_sender() } else { None };
        drop(inner);
        if let Some(waker) = next {
            waker.wake();
        }
    }

    pub(crate) fn add_handle(&self, owner: RawTask) {
        let previous = owner.header().handles.fetch_add(1, Ordering::Relaxed);
        // Wrapping would make a live task look unreachable; abort like `Arc` does.
        if previous == u32::MAX {
            std::process::abort();
        }
    }

    /// Drops one sender handle; if it was the last, a waiting receive must be woken (it will
    /// return `None`).
    pub(crate) fn drop_handle(&self, owner: RawTask) -> Wake {
        if owner.header().handles.fetch_sub(1, Ordering::AcqRel) != 1 {
            return Wake::Nobody;
        }
        self.inner.lock().take_receiver()
    }

    /// The capacity for user messages, if the mailbox is bounded.
    pub(crate) fn capacity(&self) -> Option<usize> {
        let capacity = self.inner.lock().capacity;
        (capacity != u32::MAX).then_some(capacity as usize)
    }

    pub(crate) fn len(&self) -> usize {
        let mut inner = self.inner.lock();
        let finished = inner.pull();
        let len = inner.queue.len();
        drop(inner);
        drop(finished);
        len
    }

    /// Adds a source (a channel subscription) and wakes a waiting receive so that it looks.
    /// Fails with the source if the task has ended.
    pub(crate) fn attach_source(&self, source: Box<dyn Source<M>>) -> Result<Wake, Box<dyn Source<M>>> {
        let mut inner = self.inner.lock();
        if inner.closed {
            return Err(source);
        }
        inner.slow().sources.push(source);
        Ok(inner.take_receiver())
    }

    /// Wakes a waiting receive (a source has news).
    pub(crate) fn wake_receiver(&self) -> Wake {
        self.inner.lock().take_receiver()
    }

    /// `Cx::suspend`: ready with the value of a `resume`; otherwise marks the task suspended.
    pub(crate) fn poll_suspend(&self, cx: &mut Context<'_>, owner: RawTask) -> Poll<Box<dyn Any + Send>> {
        let mut inner = self.inner.lock();
        if let Some(value) = inner.slow.as_mut().and_then(|s| s.resumed.take()) {
            inner.end_suspend();
            return Poll::Ready(value);
        }
        inner.suspended = true;
        inner.owner_suspended = owner.is_waker_of(cx.waker());
        if !inner.owner_suspended {
            let slot = &mut inner.slow().suspend_waker;
            if !slot.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *slot = Some(cx.waker().clone());
            }
        }
        Poll::Pending
    }

    /// Stops a suspend; returns a value that arrived meanwhile, so that a `resume` that
    /// reported success is never lost.
    pub(crate) fn end_suspend(&self) -> Option<Box<dyn Any + Send>> {
        let mut inner = self.inner.lock();
        inner.end_suspend();
        inner.slow.as_mut().and_then(|s| s.resumed.take())
    }
}

impl<M> Inner<M> {
    fn end_suspend(&mut self) {
        self.suspended = false;
        self.owner_suspended = false;
        if let Some(slow) = self.slow.as_mut() {
            slow.suspend_waker = None;
        }
    }
}

impl<M: Send + 'static> crate::runtime::task::MailboxSlot for Mailbox<M> {
    fn probe(&self) -> crate::runtime::task::MailboxProbe {
        let inner = self.inner.lock();
        crate::runtime::task::MailboxProbe {
            present: true,
            len: inner.queue.len(),
            receiving: inner.owner_waiting || inner.slow.as_ref().is_some_and(|s| s.receiver.is_some()),
            suspended: inner.suspended,
        }
    }

    fn resume(&self, owner: RawTask, value: Box<dyn Any + Send>) -> bool {
        let wake = {
            let mut inner = self.inner.lock();
            if !inner.suspended || inner.slow.as_ref().is_some_and(|s| s.resumed.is_some()) {
                drop(inner);
                drop(value); // outside the lock: its destructor may send
                return false;
            }
            let owner_suspended = std::mem::take(&mut inner.owner_suspended);
            let slow = inner.slow();
            slow.resumed = Some(value);
            match slow.suspend_waker.take() {
                Some(waker) => Wake::Waker(waker),
                None if owner_suspended => Wake::Owner,
                None => Wake::Nobody,
            }
        };
        wake.wake(owner);
        true
    }

    fn close(&self) {
        let (queued, senders) = {
            let mut inner = self.inner.lock();
            inner.closed = true;
            inner.owner_waiting = false;
            inner.end_suspend();
            let (senders, sources) = match inner.slow.as_mut() {
                Some(s) => {
                    (Some(std::mem::take(&mut s.senders)), (std::mem::take(&mut s.sources), s.resumed.take()))
                }
                None => (None, (Vec::new(), None)),
            };
            (std::mem::take(&mut inner.queue), (senders, sources))
        };
        let (senders, sources) = senders;
        // Unreceived messages are dropped outside the lock (their destructors may send).
        drop(queued);
        drop(sources);
        for waiting in senders.into_iter().flatten() {
            waiting.waker.wake();
        }
    }
}
