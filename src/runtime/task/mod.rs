//! The raw task: one allocation holding a task's state word, its mailbox slot, its scheduler
//! handle and its future (then its output), and what a worker does with it. All of the unsafe
//! heart of the runtime is here.
//!
//! This module knows nothing of workers or queues — a task reaches its runtime only through the
//! [`Schedule`] trait, so the raw task is tested (and loom-checked) with a toy scheduler — nor of
//! mailboxes, `TaskRef` or `Cx`: those are the actor layer (`crate::task`), which gives a task a
//! mailbox through [`MailboxSlot`] and a body through [`TaskBody`].

mod current;
pub(crate) mod extras;
mod harness;
mod id;
mod join;
pub(crate) mod raw;
pub(crate) mod state;
mod stats;
mod yield_now;

#[cfg(all(test, loom))]
pub(crate) mod loom_task;

pub(crate) use current::get as current_task;
pub use id::{NodeId, TaskId};
pub(crate) use join::panic_message;
pub use join::{JoinError, JoinHandle};
pub(crate) use raw::{Notified, RawTask};
pub(crate) use stats::Stats;
pub use yield_now::yield_now;

use state::State;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// How a task reaches the runtime that owns it.
pub(crate) trait Schedule: Send + Sync + 'static {
    /// Queues a woken task.
    fn schedule(&self, task: Notified);

    /// Queues a task that woke itself while running (it yielded): behind the others.
    fn yield_now(&self, task: Notified) {
        self.schedule(task);
    }

    /// A task is about to wait (its poll returned `Pending`): the scheduler makes sure shutdown
    /// will find it. False if the scheduler is shutting down: the caller cancels the task.
    fn track(&self, task: RawTask) -> bool;

    /// Takes a completed task off the owner list; true if the caller is to release the owner
    /// reference (false: shutdown took the task, and the reference, off the list first).
    fn release(&self, task: RawTask) -> bool;

    /// A task ended; `daemon` tells whether `Runtime::join` was waiting for it.
    fn task_ended(&self, daemon: bool);

    /// Changes whether `Runtime::join` waits for `task` (through `RawTask::transition_daemon`,
    /// keeping the scheduler's count right).
    fn set_daemon(&self, task: RawTask, daemon: bool);
}

/// What a task runs. Plain futures ignore `me`; mailbox tasks use it to build their `Cx`.
pub(crate) trait TaskBody: Send + 'static {
    type Output: Send + 'static;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>, me: RawTask) -> Poll<Self::Output>;
}

impl<F> TaskBody for F
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>, _me: RawTask) -> Poll<F::Output> {
        Future::poll(self, cx)
    }
}

/// The mailbox part of a task's allocation (`()` for plain futures).
pub(crate) trait MailboxSlot: Send + Sync + 'static {
    /// The task ended: refuse further messages and drop the queued ones.
    fn close(&self);

    /// Hands `value` to the task if it waits in `Cx::suspend` (and wakes it); false (the value
    /// dropped) otherwise. Tasks without a mailbox cannot suspend.
    fn resume(&self, _owner: RawTask, _value: Box<dyn std::any::Any + Send>) -> bool {
        false
    }

    /// The mailbox as a snapshot shows it; tasks without one say nothing.
    fn probe(&self) -> MailboxProbe {
        MailboxProbe::default()
    }
}

impl MailboxSlot for () {
    fn close(&self) {}
}

/// What a task's mailbox says of itself in a runtime snapshot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct MailboxProbe {
    /// False for a task without a mailbox (a plain future).
    pub(crate) present: bool,
    /// Messages queued (a channel's messages not pulled into the queue yet are not counted).
    pub(crate) len: usize,
    /// The task waits in a receive.
    pub(crate) receiving: bool,
    /// The task waits in `Cx::suspend`.
    pub(crate) suspended: bool,
}

/// A task just allocated, before its references are handed out.
pub(crate) struct SpawnedTask {
    pub(crate) raw: RawTask,
}

/// Allocates a task holding `body`. It starts notified, with references for: the first
/// `Notified`, the owner list (held by the task until it is listed), the join handle (if
/// `join`), and `handles` `TaskRef`s.
#[inline]
pub(crate) fn allocate<T, S, M>(
    body: T,
    scheduler: S,
    mailbox: M,
    join: bool,
    handles: usize,
    daemon: bool,
    stats: Stats,
) -> SpawnedTask
where
    T: TaskBody,
    S: Schedule,
    M: MailboxSlot,
{
    let refs = 2 + usize::from(join) + handles;
    let handles = u32::try_from(handles).expect("handle count fits in u32");
    let raw = RawTask::new(
        body,
        scheduler,
        mailbox,
        TaskId::next(),
        State::new(refs, join, daemon),
        handles,
        stats,
    );
    SpawnedTask { raw }
}

impl SpawnedTask {
    /// The first `Notified` (consumes the reference reserved for it).
    pub(crate) fn notified(&self) -> Notified {
        // SAFETY: `allocate` reserved this reference and set NOTIFIED.
        unsafe { Notified::from_raw(self.raw) }
    }

    /// # Safety
    /// The task must have been allocated with `join = true` and output type `T`; call once.
    pub(crate) unsafe fn join_handle<T>(&self) -> JoinHandle<T> {
        // SAFETY: forwarded.
        unsafe { JoinHandle::new(self.raw) }
    }
}
