//! Spawning a task with a mailbox: its body ([`ActorBody`], which starts the user's closure with
//! the task's `Cx` and carries out hot swaps) and the spawn functions of [`Handle`] and
//! [`Runtime`]. The runtime itself spawns only raw tasks; the mailbox and the handles are made
//! here.

use super::hot_swap;
use super::mailbox::Mailbox;
use super::{Cx, JoinHandle, TaskRef};
use crate::runtime::task::{RawTask, TaskBody};
use crate::runtime::{Handle, Runtime, Spawn, TaskOptions};
use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// What a task with a mailbox of `M` runs: a closure that gets the task's [`Cx`] and returns
/// the task's future (pycos: a generator function with `task=None`). One name for the bound set
/// every spawn function repeats.
pub trait TaskFn<M>: FnOnce(Cx<M>) -> Self::Fut + Send + 'static {
    /// The task's future; its output is what the task returns.
    type Fut: Future<Output: Send + 'static> + Send + 'static;
}

impl<M, F, Fut> TaskFn<M> for F
where
    F: FnOnce(Cx<M>) -> Fut + Send + 'static,
    Fut: Future<Output: Send + 'static> + Send + 'static,
{
    type Fut = Fut;
}

/// What the task of a `TaskFn` returns.
pub type TaskOutput<M, F> = <<F as TaskFn<M>>::Fut as Future>::Output;

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

/// Builds the mailbox of a new task.
pub(crate) fn new_mailbox<M>(capacity: Option<usize>) -> Mailbox<M> {
    Mailbox::new(capacity)
}

/// A spawned task with a mailbox: its handles, and whether the runtime took it (after shutdown
/// it did not: the task was cancelled, and the handles report that).
pub(crate) struct SpawnedActor<M, T> {
    pub(crate) task: TaskRef<M>,
    pub(crate) join: Option<JoinHandle<T>>,
    pub(crate) accepted: bool,
}

impl Handle {
    /// Spawns a task with a mailbox; see [`crate::spawn_task`].
    #[track_caller]
    pub fn spawn_task<M, F>(&self, start: F) -> TaskRef<M>
    where
        M: Send + 'static,
        F: TaskFn<M>,
    {
        self.spawn_actor(start, None, false, &TaskOptions::default()).task
    }

    /// Spawns a mailbox task with a mailbox of `capacity` (unbounded if `None`), and a join
    /// handle if `join`.
    #[track_caller]
    pub(crate) fn spawn_actor<M, F>(
        &self,
        start: F,
        capacity: Option<usize>,
        join: bool,
        options: &TaskOptions,
    ) -> SpawnedActor<M, TaskOutput<M, F>>
    where
        M: Send + 'static,
        F: TaskFn<M>,
    {
        let body = ActorBody::<F, F::Fut, M>::new(start);
        let spawned = self.spawn_raw(
            body,
            new_mailbox::<M>(capacity),
            Spawn { join, handles: 1, options, location: std::panic::Location::caller() },
        );
        // SAFETY: spawned with a Mailbox<M> counting one handle.
        let task = unsafe { TaskRef::from_raw(spawned.task.raw) };
        // SAFETY: spawned with a join handle exactly when `join`, for this output type.
        let join = join.then(|| unsafe { spawned.task.join_handle::<TaskOutput<M, F>>() });
        SpawnedActor { task, join, accepted: spawned.accepted }
    }
}

impl Runtime {
    /// Spawns a task with a mailbox; see [`crate::spawn_task`].
    #[track_caller]
    pub fn spawn_task<M, F>(&self, start: F) -> TaskRef<M>
    where
        M: Send + 'static,
        F: TaskFn<M>,
    {
        self.handle().spawn_task(start)
    }
}
