//! Handles to tasks: [`TaskRef<M>`] sends to a task's mailbox; [`AnyTaskRef`] is the untyped
//! part (id, name, liveness, terminate, resume, monitor target) that every task has.

use super::extras::{self, HookToken};
use super::hot_swap::{self, HotSwap, HotSwapError, SwapCode};
use super::remote::{RemoteFailure, RemoteTask};
use super::repr::{Arm, Repr};
use super::{NodeId, TaskAddr, TaskId};
use crate::error::{DeliverError, SendError};
use crate::runtime::task::raw::RawTask;
use crate::task::mailbox::Mailbox;
use std::any::Any;
use std::fmt;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// A handle to any task, whatever its message type: enough to identify it, watch it, terminate
/// it, or resume it. Cheap to clone; holding one keeps no task alive, only its small record.
///
/// Every [`TaskRef<M>`] dereferences to one.
pub struct AnyTaskRef {
    repr: Repr,
}

impl crate::runtime::Handle {
    /// A handle to the live task `id` of this runtime, one that
    /// [`snapshot`](crate::runtime::Handle::snapshot) lists (a task that has waited at least
    /// once); `None` if there is none. What a monitor needs to act on a row of its task table.
    ///
    /// ```
    /// let rt = rycos::Runtime::new().unwrap();
    /// let task = rt.block_on(async { rycos::spawn_task(|cx: rycos::Cx<u32>| async move { cx.receive().await }) });
    /// let found = loop {
    ///     if let Some(found) = rt.handle().task(task.id()) {
    ///         break found; // listed once it has waited
    ///     }
    ///     std::thread::yield_now();
    /// };
    /// assert!(found.terminate());
    /// ```
    pub fn task(&self, id: TaskId) -> Option<AnyTaskRef> {
        let raw = self.find_listed(id)?;
        // SAFETY: `find_listed` took a reference for us.
        Some(unsafe { AnyTaskRef::from_raw(raw) })
    }
}

impl AnyTaskRef {
    /// # Safety
    /// The caller hands over one reference of `raw`.
    pub(crate) unsafe fn from_raw(raw: RawTask) -> AnyTaskRef {
        AnyTaskRef { repr: Repr::local(raw) }
    }

    /// The handle for a task on another node.
    #[cfg_attr(not(feature = "dist"), allow(dead_code))]
    pub(crate) fn from_remote(remote: Arc<dyn RemoteTask>) -> AnyTaskRef {
        AnyTaskRef { repr: Repr::remote(remote) }
    }

    /// The task on another node behind this handle, if it is not local.
    #[cfg_attr(not(feature = "dist"), allow(dead_code))]
    pub(crate) fn remote(&self) -> Option<&Arc<dyn RemoteTask>> {
        match self.repr.arm() {
            Arm::Local(_) => None,
            Arm::Remote(remote) => Some(remote),
        }
    }

    /// The task's id (unique on its node).
    pub fn id(&self) -> TaskId {
        match self.repr.arm() {
            Arm::Local(raw) => raw.id(),
            Arm::Remote(remote) => remote.addr().task,
        }
    }

    /// The task's address: its node and its id there.
    pub fn addr(&self) -> TaskAddr {
        match self.repr.arm() {
            Arm::Local(raw) => TaskAddr { node: NodeId::local(), task: raw.id() },
            Arm::Remote(remote) => remote.addr(),
        }
    }

    /// True if the task runs in this process.
    pub fn is_local(&self) -> bool {
        matches!(self.repr.arm(), Arm::Local(_))
    }

    /// The task's name, if it was spawned with one (for a task on another node: the name it was
    /// located by, if it was).
    pub fn name(&self) -> Option<&str> {
        match self.repr.arm() {
            Arm::Local(raw) => raw.extras_if_any().and_then(|e| e.name()).map(|n| &**n),
            Arm::Remote(remote) => remote.name(),
        }
    }

    /// True until the task has ended (returned, panicked or been terminated). For a task on
    /// another node: until its end is known here, or its node is down.
    pub fn is_alive(&self) -> bool {
        match self.repr.arm() {
            Arm::Local(raw) => !raw.state().is_complete(),
            Arm::Remote(remote) => remote.is_alive(),
        }
    }

    /// True if `Runtime::join` does not wait for this task (always for a task on another node:
    /// no `join` here waits for it).
    pub fn is_daemon(&self) -> bool {
        match self.repr.arm() {
            Arm::Local(raw) => raw.state().is_daemon(),
            Arm::Remote(_) => true,
        }
    }

    /// Terminates the task (pycos `terminate`): it is dropped at its next `.await` — at once if
    /// it is waiting — its destructors run, monitors get [`ExitReason::Terminated`], a
    /// `JoinHandle` gets a cancelled [`JoinError`](crate::JoinError). Returns false if it had
    /// already ended. For a task on another node the request goes to its node (false if the
    /// task is known to have ended, or its node is down).
    ///
    /// [`ExitReason::Terminated`]: crate::ExitReason::Terminated
    pub fn terminate(&self) -> bool {
        match self.repr.arm() {
            Arm::Local(raw) => {
                let alive = !raw.state().is_complete();
                raw.request_cancel();
                alive
            }
            Arm::Remote(remote) => remote.terminate(),
        }
    }

    /// Makes `Runtime::join` ignore (`true`) or wait for (`false`) this task (pycos
    /// `set_daemon`). No effect once the task has ended, or on a task of another node.
    pub fn set_daemon(&self, daemon: bool) {
        match self.repr.arm() {
            Arm::Local(raw) => raw.set_daemon(daemon),
            Arm::Remote(_) => {}
        }
    }

    /// Wakes the task from [`Cx::suspend`](crate::Cx::suspend) with `value` (pycos `resume`).
    /// This is a wake-up channel separate from the mailbox. Returns false, dropping `value`, if
    /// the task is not suspended (or already has a resume value it has not picked up), or is on
    /// another node (a value of any type cannot travel).
    pub fn resume<V: Any + Send>(&self, value: V) -> bool {
        match self.repr.arm() {
            Arm::Local(raw) => raw.resume(Box::new(value)),
            Arm::Remote(_) => false,
        }
    }

    /// Runs `hook` once when the task ends (at once, returning `None`, if it has); see
    /// `extras::add_exit_hook`. For a task on another node it also runs when that node is lost.
    pub(crate) fn add_exit_hook(&self, hook: extras::ExitHook) -> Option<HookToken> {
        match self.repr.arm() {
            Arm::Local(raw) => extras::add_exit_hook(*raw, hook),
            Arm::Remote(remote) => remote.add_exit_hook(hook),
        }
    }

    /// Removes an exit hook that has not run yet; false if it ran or is running.
    pub(crate) fn remove_exit_hook(&self, hook: HookToken) -> bool {
        match self.repr.arm() {
            Arm::Local(raw) => extras::remove_exit_hook(*raw, hook),
            Arm::Remote(remote) => remote.remove_exit_hook(hook),
        }
    }

    /// Asks for a copy of the task's output, if it is a `T`, in its exit notices (local tasks
    /// only: a value of any type cannot travel).
    pub(crate) fn capture_value<T: Clone + Send + Sync + 'static>(&self) {
        match self.repr.arm() {
            Arm::Local(raw) => extras::capture_value::<T>(*raw),
            Arm::Remote(_) => {}
        }
    }
}

impl Clone for AnyTaskRef {
    fn clone(&self) -> Self {
        AnyTaskRef { repr: self.repr.clone() }
    }
}

impl PartialEq for AnyTaskRef {
    fn eq(&self, other: &Self) -> bool {
        self.addr() == other.addr()
    }
}

impl Eq for AnyTaskRef {}

impl Hash for AnyTaskRef {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.addr().hash(state);
    }
}

impl fmt::Debug for AnyTaskRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Task");
        d.field("id", &self.id());
        if let Some(name) = self.name() {
            d.field("name", &name);
        }
        d.field("alive", &self.is_alive()).finish()
    }
}

/// A handle to a task with a mailbox of `M` messages (pycos `Task`): send it messages,
/// terminate it, monitor it. `Clone + Send + Sync`, two words wide, for a task of this process
/// or of another node alike (location transparency: the same methods work on both).
///
/// While at least one `TaskRef` exists, the task's `receive` waits for messages; once the last
/// one is dropped and the mailbox is empty, `receive` returns `None`.
///
/// ```
/// let rt = rycos::Runtime::new().unwrap();
/// let total = rt.block_on(async {
///     let (adder, result) = rycos::spawn_task_joinable(|cx: rycos::Cx<u64>| async move {
///         let mut sum = 0;
///         while let Some(n) = cx.receive().await {
///             sum += n;
///         }
///         sum
///     });
///     for n in 1..=10 {
///         adder.send(n).unwrap();
///     }
///     drop(adder); // the last handle: receive() returns None after the queued messages
///     result.await.unwrap()
/// });
/// assert_eq!(total, 55);
/// ```
pub struct TaskRef<M> {
    any: AnyTaskRef,
    _message: PhantomData<fn(M) -> M>,
}

impl<M: Send + 'static> TaskRef<M> {
    /// # Safety
    /// `raw` must have been created with a `Mailbox<M>` whose handle count includes this one,
    /// and the caller hands over one task reference.
    pub(crate) unsafe fn from_raw(raw: RawTask) -> TaskRef<M> {
        TaskRef { any: AnyTaskRef { repr: Repr::local(raw) }, _message: PhantomData }
    }

    /// The handle for a task on another node; `remote` must take messages of type `M` (its
    /// `send` downcasts to `M`).
    #[cfg_attr(not(feature = "dist"), allow(dead_code))]
    pub(crate) fn from_remote(remote: Arc<dyn RemoteTask>) -> TaskRef<M> {
        TaskRef { any: AnyTaskRef::from_remote(remote), _message: PhantomData }
    }

    /// The task's allocation and mailbox, if it is local.
    fn local(&self) -> Option<(RawTask, &Mailbox<M>)> {
        match self.any.repr.arm() {
            // SAFETY: `from_raw` guarantees the mailbox type.
            Arm::Local(raw) => Some((*raw, unsafe { raw.mailbox::<Mailbox<M>>() })),
            Arm::Remote(_) => None,
        }
    }

    /// Queues `message` in the task's mailbox (pycos `send`). Never blocks and never drops:
    /// if the task has ended, or its bounded mailbox is full, the message comes back in the
    /// error. For a task on another node the message is queued on the link to that node (in
    /// order per sender and receiver, exactly once while the link lives); it comes back with
    /// [`SendError::Full`] if the link's outbound buffer is full and [`SendError::PeerDown`] if
    /// the node is known to be down.
    #[inline]
    pub fn send(&self, message: M) -> Result<(), SendError<M>> {
        match self.any.repr.arm() {
            Arm::Local(raw) => {
                // SAFETY: `from_raw` guarantees the mailbox type.
                let mailbox = unsafe { raw.mailbox::<Mailbox<M>>() };
                let wake = mailbox.push(message, false)?;
                wake.wake(*raw);
                Ok(())
            }
            Arm::Remote(remote) => send_remote(&**remote, message),
        }
    }

    /// Adds a channel subscription to the mailbox; fails if the task has ended (or is on
    /// another node: remote subscriptions come with remote channels).
    pub(crate) fn attach_source(&self, source: Box<dyn crate::task::mailbox::Source<M>>) -> Result<(), ()> {
        let (raw, mailbox) = self.local().ok_or(())?;
        let wake = mailbox.attach_source(source).map_err(drop)?;
        wake.wake(raw);
        Ok(())
    }

    /// Wakes the task if it waits in a receive (a channel it subscribes to has news).
    pub(crate) fn wake_receiver(&self) {
        if let Some((raw, mailbox)) = self.local() {
            mailbox.wake_receiver().wake(raw);
        }
    }

    /// The mailbox's capacity, if it is bounded (and local).
    pub(crate) fn mailbox_capacity(&self) -> Option<usize> {
        self.local().and_then(|(_, mailbox)| mailbox.capacity())
    }

    /// Queues the message in `slot` once the mailbox has room for it, in the mailbox's queue of
    /// waiting deliveries meanwhile (`ticket` is the place in it; withdraw with
    /// [`cancel_deliver`](TaskRef::cancel_deliver)). Local tasks only (`deliver` sends remote
    /// ones its own way); for a remote one this fails as if the task had ended.
    pub(crate) fn poll_deliver(
        &self,
        slot: &mut Option<M>,
        ticket: &mut Option<u64>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), SendError<M>>> {
        match self.local() {
            Some((raw, mailbox)) => mailbox.poll_deliver(slot, ticket, cx).map_ok(|wake| wake.wake(raw)),
            None => Poll::Ready(Err(SendError::Closed(slot.take().expect("a message to deliver")))),
        }
    }

    /// Withdraws a delivery waiting for room.
    pub(crate) fn cancel_deliver(&self, ticket: u64) {
        if let Some((_, mailbox)) = self.local() {
            mailbox.cancel_deliver(ticket);
        }
    }

    /// Sends a control message (an exit notice): accepted even by a full bounded mailbox.
    pub(crate) fn send_control(&self, message: M) -> Result<(), SendError<M>> {
        match self.local() {
            Some((raw, mailbox)) => {
                let wake = mailbox.push(message, true)?;
                wake.wake(raw);
                Ok(())
            }
            None => self.send(message),
        }
    }

    /// Queues `message`, waiting up to `timeout` for room in a full bounded mailbox (pycos
    /// `deliver`). `Ok` means the message is in the mailbox. For an unbounded mailbox this
    /// completes at once. For a task on another node it completes when that node has put the
    /// message in the mailbox and said so; [`DeliverError::PeerDown`] if the node is or goes
    /// down first, [`DeliverError::Timeout`] if no acknowledgement came in time (the message may
    /// still arrive then, once).
    ///
    /// Dropping the future before it completes drops the message with it.
    pub async fn deliver(&self, message: M, timeout: Duration) -> Result<(), DeliverError<M>> {
        if let Arm::Remote(remote) = self.any.repr.arm() {
            return deliver_remote(&**remote, message, timeout).await;
        }
        let deliver = Deliver { task: self, message: Some(message), ticket: None };
        let mut deliver = std::pin::pin!(deliver);
        let mut sleep = std::pin::pin!(crate::time::sleep(timeout));
        std::future::poll_fn(move |cx| {
            if let Poll::Ready(done) = deliver.as_mut().poll(cx) {
                return Poll::Ready(done);
            }
            if sleep.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(DeliverError::Timeout(deliver.as_mut().take_message())));
            }
            Poll::Pending
        })
        .await
    }

    /// Asks to replace the task's code with `code` (pycos `hot_swap`). The swap happens at the
    /// task's next mailbox wait once its code allows it ([`Cx::hot_swappable`], or accepting a
    /// [`Received::SwapRequested`]); the mailbox with its queued messages, the task id and the
    /// name stay. `code` must return the same type as the running code. A task on another node
    /// cannot be swapped this way ([`HotSwapError::NotLocal`]): code cannot travel.
    ///
    /// Await the returned [`HotSwap`] for the outcome; dropping it withdraws the request.
    ///
    /// [`Cx::hot_swappable`]: super::Cx::hot_swappable
    /// [`Received::SwapRequested`]: super::Received::SwapRequested
    pub fn hot_swap<F>(&self, code: F) -> HotSwap
    where
        F: super::TaskFn<M>,
    {
        let Some((raw, _)) = self.local() else { return HotSwap::answered(Err(HotSwapError::NotLocal)) };
        let code: SwapCode<M, super::TaskOutput<M, F>> = Box::new(move |cx| Box::pin(code(cx)));
        hot_swap::request(raw, Box::new(code))
    }

    /// Like [`hot_swap`](TaskRef::hot_swap), withdrawing the request if the task has not taken
    /// it within `limit` ([`HotSwapError::TimedOut`]).
    pub async fn hot_swap_timeout<F>(&self, code: F, limit: Duration) -> Result<(), HotSwapError>
    where
        F: super::TaskFn<M>,
    {
        let mut request = self.hot_swap(code);
        match crate::time::timeout(limit, &mut request).await {
            Ok(outcome) => outcome,
            Err(_) => request.timed_out(),
        }
    }

    /// Number of messages queued and not yet received (0 for a task on another node: its
    /// mailbox is not here to count).
    pub fn pending_messages(&self) -> usize {
        self.local().map_or(0, |(_, mailbox)| mailbox.len())
    }

    /// The untyped handle.
    pub fn as_any(&self) -> &AnyTaskRef {
        &self.any
    }
}

/// The remote arm of `send`, out of line so that the local one stays small.
#[cold]
fn send_remote<M: Send + 'static>(remote: &dyn RemoteTask, message: M) -> Result<(), SendError<M>> {
    remote.send(&message).map_err(|failure| match failure {
        RemoteFailure::Full => SendError::Full(message),
        RemoteFailure::Closed => SendError::Closed(message),
        RemoteFailure::PeerDown | RemoteFailure::Timeout => SendError::PeerDown(message),
        RemoteFailure::TooLarge => SendError::TooLarge(message),
    })
}

/// The remote arm of `deliver`: the message is kept until the acknowledgement, to come back in
/// the error if there is none.
async fn deliver_remote<M: Send + 'static>(
    remote: &dyn RemoteTask,
    message: M,
    timeout: Duration,
) -> Result<(), DeliverError<M>> {
    let outcome = match remote.deliver(&message, timeout) {
        Ok(acknowledged) => acknowledged.await,
        Err(failure) => Err(failure),
    };
    outcome.map_err(|failure| match failure {
        RemoteFailure::Closed => DeliverError::Closed(message),
        // Full: no room on the way to the peer within the timeout.
        RemoteFailure::Timeout | RemoteFailure::Full => DeliverError::Timeout(message),
        RemoteFailure::PeerDown => DeliverError::PeerDown(message),
        RemoteFailure::TooLarge => DeliverError::TooLarge(message),
    })
}

/// Waits for room in the mailbox, then queues the message.
struct Deliver<'a, M: Send + 'static> {
    task: &'a TaskRef<M>,
    message: Option<M>,
    ticket: Option<u64>,
}

impl<M: Send + 'static> Deliver<'_, M> {
    fn take_message(self: Pin<&mut Self>) -> M {
        let this = self.get_mut();
        if let Some(ticket) = this.ticket.take() {
            this.task.cancel_deliver(ticket);
        }
        this.message.take().expect("message already delivered")
    }
}

impl<M: Send + 'static> Future for Deliver<'_, M> {
    type Output = Result<(), DeliverError<M>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.task
            .poll_deliver(&mut this.message, &mut this.ticket, cx)
            .map_err(|e| DeliverError::Closed(e.into_inner()))
    }
}

impl<M: Send + 'static> Drop for Deliver<'_, M> {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            self.task.cancel_deliver(ticket);
        }
    }
}

impl<M: Send + 'static> Unpin for Deliver<'_, M> {}

impl<M> Deref for TaskRef<M> {
    type Target = AnyTaskRef;

    fn deref(&self) -> &AnyTaskRef {
        &self.any
    }
}

impl<M> AsRef<AnyTaskRef> for TaskRef<M> {
    fn as_ref(&self) -> &AnyTaskRef {
        &self.any
    }
}

impl<M: Send + 'static> Clone for TaskRef<M> {
    fn clone(&self) -> Self {
        if let Some((raw, mailbox)) = self.local() {
            mailbox.add_handle(raw);
        }
        TaskRef { any: self.any.clone(), _message: PhantomData }
    }
}

impl<M> Drop for TaskRef<M> {
    fn drop(&mut self) {
        match self.any.repr.arm() {
            Arm::Local(raw) => {
                // SAFETY: a TaskRef<M> only exists for tasks created with a Mailbox<M> (`from_raw`).
                let mailbox = unsafe { raw.mailbox::<Mailbox<M>>() };
                mailbox.drop_handle(*raw).wake(*raw);
            }
            Arm::Remote(_) => {}
        }
        // `any` then releases the task reference.
    }
}

impl<M> PartialEq for TaskRef<M> {
    fn eq(&self, other: &Self) -> bool {
        self.any == other.any
    }
}

impl<M> Eq for TaskRef<M> {}

impl<M> Hash for TaskRef<M> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.any.hash(state);
    }
}

impl<M> fmt::Debug for TaskRef<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.any, f)
    }
}

impl<T> super::JoinHandle<T> {
    /// A handle to the task itself: to monitor it, terminate it, or check on it without
    /// waiting for its output.
    pub fn task(&self) -> AnyTaskRef {
        let raw = self.raw();
        raw.ref_inc();
        // SAFETY: a reference was added for the new handle.
        unsafe { AnyTaskRef::from_raw(raw) }
    }
}
