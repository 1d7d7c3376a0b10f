//! Tasks: plain futures with a [`JoinHandle`], and pycos-style tasks with a mailbox, reached
//! through [`TaskRef<M>`] and driven by their [`Cx<M>`].
//!
//! This module knows nothing of workers or queues: a task reaches its runtime only through the
//! `Schedule` trait, so the raw task can be tested (and loom-checked) with a toy scheduler.

mod address;
mod builder;
mod current;
mod cx;
pub(crate) mod extras;
mod harness;
mod hot_swap;
mod id;
mod join;
pub(crate) mod raw;
pub(crate) mod state;
mod task_ref;
mod yield_now;

#[cfg(all(test, loom))]
mod loom_task;

pub use address::{NodeId, TaskAddr};
pub use builder::Builder;
pub use cx::{Cx, Filter, NoFilter, Receive, ReceiveOrSwap, Received, Resumed, Suspend};
pub use hot_swap::{HotSwap, HotSwapError, SwapRequest};
pub use id::TaskId;
pub use join::{JoinError, JoinHandle};
pub use task_ref::{AnyTaskRef, TaskRef};
pub use yield_now::yield_now;

pub(crate) use join::panic_message;
pub(crate) use raw::{Notified, RawTask};

use crate::mailbox::Mailbox;
use pin_project_lite::pin_project;
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
}

impl MailboxSlot for () {
    fn close(&self) {}
}

pin_project! {
    /// A mailbox task before its first poll, while running, and after a hot swap: the closure
    /// runs on a worker, in the task, like the body of a pycos generator function.
    #[project = ActorBodyProj]
    pub(crate) enum ActorBody<F, Fut: Future, M> {
        Start { start: Option<F>, _message: std::marker::PhantomData<fn(M) -> M> },
        Running { #[pin] future: Fut },
        Swapped { future: Pin<Box<dyn Future<Output = Fut::Output> + Send>> },
    }
}

impl<F, Fut: Future, M> ActorBody<F, Fut, M> {
    pub(crate) fn new(start: F) -> Self {
        ActorBody::Start { start: Some(start), _message: std::marker::PhantomData }
    }
}

impl<F, Fut, M> TaskBody for ActorBody<F, Fut, M>
where
    F: FnOnce(Cx<M>) -> Fut + Send + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
    M: Send + 'static,
{
    type Output = Fut::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>, me: RawTask) -> Poll<Fut::Output> {
        if let ActorBodyProj::Start { start, .. } = self.as_mut().project() {
            let start = start.take().expect("actor body started twice");
            // SAFETY: ActorBody<_, _, M> is only spawned with a Mailbox<M>.
            let future = start(unsafe { new_cx(me) });
            self.set(ActorBody::Running { future });
        }
        loop {
            let polled = match self.as_mut().project() {
                ActorBodyProj::Running { future } => future.poll(cx),
                ActorBodyProj::Swapped { future } => future.as_mut().poll(cx),
                ActorBodyProj::Start { .. } => unreachable!("started above"),
            };
            if polled.is_ready() {
                return polled;
            }
            // A mailbox wait may have decided to hot swap (see `hot_swap`).
            let fits = |code: &(dyn std::any::Any + Send)| code.is::<hot_swap::SwapCode<M, Fut::Output>>();
            let code = match hot_swap::take_ready(me, fits) {
                hot_swap::Taken::Nothing => return Poll::Pending,
                hot_swap::Taken::Refused => continue,
                hot_swap::Taken::Code(code) => code,
            };
            let code = code.downcast::<hot_swap::SwapCode<M, Fut::Output>>().expect("checked by take_ready");
            // The old code goes first, with its Cx and its pending receive; the queued messages
            // stay in the mailbox for the new code.
            self.set(ActorBody::Start { start: None, _message: std::marker::PhantomData });
            // SAFETY: as above.
            let future = (*code)(unsafe { new_cx(me) });
            self.set(ActorBody::Swapped { future });
        }
    }
}

/// The `Cx` handed to a mailbox task's code (a task reference is added for it).
///
/// # Safety
/// `me` must have a `Mailbox<M>`.
unsafe fn new_cx<M: Send + 'static>(me: RawTask) -> Cx<M> {
    me.ref_inc();
    // SAFETY: the caller guarantees the mailbox type; the reference was added above.
    unsafe { Cx::from_raw(me) }
}

/// The references and flags a new task starts with.
pub(crate) struct NewTask {
    pub(crate) raw: RawTask,
}

/// Allocates a task holding `body`. It starts notified, with references for: the first
/// `Notified`, the owner list (held by the task until it is listed), the join handle (if
/// `join`), and `handles` `TaskRef`s.
pub(crate) fn allocate<T, S, M>(
    body: T,
    scheduler: S,
    mailbox: M,
    join: bool,
    handles: usize,
    daemon: bool,
) -> NewTask
where
    T: TaskBody,
    S: Schedule,
    M: MailboxSlot,
{
    let refs = 2 + usize::from(join) + handles;
    let handles = u32::try_from(handles).expect("handle count fits in u32");
    let raw = RawTask::new(body, scheduler, mailbox, TaskId::next(), State::new(refs, join, daemon), handles);
    NewTask { raw }
}

impl NewTask {
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

    /// # Safety
    /// The task must have a `Mailbox<M>`; call at most `handles` times.
    pub(crate) unsafe fn task_ref<M: Send + 'static>(&self) -> TaskRef<M> {
        // SAFETY: forwarded.
        unsafe { TaskRef::from_raw(self.raw) }
    }
}

/// Builds the mailbox of a new task.
pub(crate) fn new_mailbox<M>(capacity: Option<usize>) -> Mailbox<M> {
    Mailbox::new(capacity)
}

/// The task this code runs in, if it runs in one (pycos `Pycos.cur_task()`).
///
/// ```
/// let rt = rycos::Runtime::new().unwrap();
/// let handle = rt.spawn(async { rycos::current().map(|t| t.id()) });
/// let id = handle.id();
/// assert_eq!(rt.block_on(handle).unwrap(), Some(id));
/// assert!(rycos::current().is_none()); // not inside a task here
/// ```
pub fn current() -> Option<AnyTaskRef> {
    let raw = current::get()?;
    raw.ref_inc();
    // SAFETY: a reference was added for the new handle.
    Some(unsafe { AnyTaskRef::from_raw(raw) })
}

#[cfg(all(test, not(loom)))]
mod size_probe {
    #[test]
    fn print_sizes() {
        use std::mem::size_of;
        eprintln!("Header {}", size_of::<super::raw::Header>());
        eprintln!("Mailbox<u64> {}", size_of::<crate::mailbox::Mailbox<u64>>());
        let f = |cx: super::Cx<u64>| async move {
            std::hint::black_box(cx.receive().await);
        };
        fn body_size<F, Fut>(_: &F) -> usize
        where
            F: FnOnce(super::Cx<u64>) -> Fut,
            Fut: std::future::Future,
        {
            size_of::<super::ActorBody<F, Fut, u64>>()
        }
        eprintln!("ActorBody {}", body_size(&f));
        fn cell_size<F, Fut>(_: &F) -> (usize, usize)
        where
            F: FnOnce(super::Cx<u64>) -> Fut + Send + 'static,
            Fut: std::future::Future + Send + 'static,
            Fut::Output: Send + 'static,
        {
            (
                size_of::<
                    super::raw::Cell<
                        super::ActorBody<F, Fut, u64>,
                        crate::loom::sync::Arc<crate::runtime::Shared>,
                        crate::mailbox::Mailbox<u64>,
                    >,
                >(),
                size_of::<super::raw::Stage<super::ActorBody<F, Fut, u64>>>(),
            )
        }
        eprintln!("Cell, Stage {:?}", cell_size(&f));
        eprintln!("JoinError {}", size_of::<super::JoinError>());
        eprintln!("Arc<Shared> {}", size_of::<crate::loom::sync::Arc<crate::runtime::Shared>>());
    }
}
