//! [`Cx<M>`]: what a task with a mailbox holds to receive, suspend, and monitor others.

use super::TaskId;
use super::hot_swap::{self, AtWait, SwapRequest};
use super::task_ref::TaskRef;
use crate::error::{RecvError, TryRecvError};
use crate::runtime::task::raw::RawTask;
use crate::task::mailbox::Mailbox;
use std::any::Any;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// The receiving side of a task's mailbox, handed to the task's code by
/// [`spawn_task`](crate::spawn_task) (pycos: the generator's `task` argument).
///
/// There is exactly one `Cx` per task, so it cannot be cloned (use [`Cx::me`] to hand out a
/// [`TaskRef`] instead):
///
/// ```compile_fail
/// fn needs_clone<T: Clone>() {}
/// needs_clone::<rycos::Cx<u32>>();
/// ```
///
/// ```
/// let rt = rycos::Runtime::new().unwrap();
/// rt.block_on(async {
///     let echo = rycos::spawn_task(|cx: rycos::Cx<(String, rycos::TaskRef<String>)>| async move {
///         while let Some((text, reply_to)) = cx.receive().await {
///             let _ = reply_to.send(text.to_uppercase());
///         }
///     });
///     let (me, answer) = rycos::spawn_task_joinable(move |cx: rycos::Cx<String>| async move {
///         echo.send(("hello".into(), cx.me())).unwrap();
///         cx.receive().await
///     });
///     drop(me);
///     assert_eq!(answer.await.unwrap().as_deref(), Some("HELLO"));
/// });
/// ```
pub struct Cx<M> {
    raw: RawTask,
    _message: PhantomData<fn(M) -> M>,
}

impl<M: Send + 'static> Cx<M> {
    /// # Safety
    /// `raw` must have a `Mailbox<M>`; the caller hands over one task reference.
    pub(crate) unsafe fn from_raw(raw: RawTask) -> Cx<M> {
        Cx { raw, _message: PhantomData }
    }

    fn mailbox(&self) -> &Mailbox<M> {
        // SAFETY: guaranteed by `from_raw`.
        unsafe { self.raw.mailbox::<Mailbox<M>>() }
    }

    /// This task's id.
    pub fn id(&self) -> TaskId {
        self.raw.id()
    }

    /// A handle to this task, to give to others (pycos: passing `task` in a message).
    pub fn me(&self) -> TaskRef<M> {
        self.mailbox().add_handle(self.raw);
        self.raw.ref_inc();
        // SAFETY: this task has a Mailbox<M>; a handle and a reference were added above.
        unsafe { TaskRef::from_raw(self.raw) }
    }

    /// Waits for the next message (pycos `yield task.receive()`). `None` once the mailbox is
    /// empty and no [`TaskRef`] to this task is left, so no message can arrive.
    ///
    /// Cancel-safe: dropping the future never loses a message.
    pub fn receive(&self) -> Receive<'_, M> {
        Receive { cx: self, matches: NoFilter, registered: false }
    }

    /// Waits for the first queued message that `matches` accepts (selective receive, pycos
    /// `CategorizeMessages`); the other messages stay queued in their order.
    pub fn receive_matching<P: FnMut(&M) -> bool>(&self, matches: P) -> Receive<'_, M, P> {
        Receive { cx: self, matches, registered: false }
    }

    /// Like [`receive`](Cx::receive), giving up after `timeout` (pycos `receive(timeout)`).
    pub async fn receive_timeout(&self, timeout: Duration) -> Result<M, RecvError> {
        match crate::time::timeout(timeout, self.receive()).await {
            Ok(Some(message)) => Ok(message),
            Ok(None) => Err(RecvError::Closed),
            Err(_) => Err(RecvError::Timeout),
        }
    }

    /// Like [`receive_matching`](Cx::receive_matching), giving up after `timeout`.
    pub async fn receive_matching_timeout<P: FnMut(&M) -> bool>(
        &self,
        matches: P,
        timeout: Duration,
    ) -> Result<M, RecvError> {
        match crate::time::timeout(timeout, self.receive_matching(matches)).await {
            Ok(Some(message)) => Ok(message),
            Ok(None) => Err(RecvError::Closed),
            Err(_) => Err(RecvError::Timeout),
        }
    }

    /// Takes the next message if one is queued.
    pub fn try_receive(&self) -> Result<M, TryRecvError> {
        self.mailbox().try_receive(self.raw)
    }

    /// Number of messages queued and not yet received.
    pub fn pending_messages(&self) -> usize {
        self.mailbox().len()
    }

    /// Suspends this task until another calls [`AnyTaskRef::resume`](crate::AnyTaskRef::resume) (pycos `suspend`); returns
    /// the value passed to `resume`. The mailbox is not involved: messages that arrive meanwhile
    /// stay queued.
    pub fn suspend(&self) -> Suspend<'_, M> {
        Suspend { cx: self, waiting: false }
    }

    /// Like [`suspend`](Cx::suspend), giving up after `timeout` (`None`).
    pub async fn suspend_timeout(&self, timeout: Duration) -> Option<Resumed> {
        let mut suspended = self.suspend();
        match crate::time::timeout(timeout, &mut suspended).await {
            Ok(resumed) => Some(resumed),
            // A resume that raced with the timeout reported success: honour it.
            Err(_) => suspended.stop().map(Resumed),
        }
    }

    /// Allows (`true`) or forbids (`false`) hot swapping this task's code at its mailbox waits
    /// (pycos `hot_swappable`). A swap replaces the code at the next `receive` once allowed;
    /// the new code starts with swapping forbidden and opts in itself.
    pub fn hot_swappable(&self, swappable: bool) {
        hot_swap::set_swappable(self.raw, swappable);
    }

    /// Like [`receive`](Cx::receive), but a hot swap request the code has not seen yet is
    /// returned as [`Received::SwapRequested`], so the code can accept or decline it.
    pub fn receive_or_swap(&self) -> ReceiveOrSwap<'_, M> {
        ReceiveOrSwap { receive: self.receive() }
    }

    /// Makes `Runtime::join` ignore (`true`) or wait for (`false`) this task.
    pub fn set_daemon(&self, daemon: bool) {
        self.raw.set_daemon(daemon);
    }
}

/// Future of [`Cx::suspend`]: ready with the value of a [`resume`](crate::AnyTaskRef::resume). Small
/// on purpose (a suspended task costs what one waiting in `receive` costs); dropping it while
/// suspended ends the suspension.
#[must_use = "futures do nothing unless awaited"]
pub struct Suspend<'a, M> {
    cx: &'a Cx<M>,
    /// Marked suspended in the mailbox: `Drop` must undo it.
    waiting: bool,
}

impl<M: Send + 'static> Suspend<'_, M> {
    /// Ends the suspension; the value of a `resume` that came meanwhile.
    fn stop(&mut self) -> Option<Box<dyn Any + Send>> {
        self.waiting = false;
        self.cx.mailbox().end_suspend()
    }
}

impl<M: Send + 'static> Future for Suspend<'_, M> {
    type Output = Resumed;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Resumed> {
        let polled = self.cx.mailbox().poll_suspend(cx, self.cx.raw);
        self.waiting = polled.is_pending();
        polled.map(Resumed)
    }
}

impl<M> Drop for Suspend<'_, M> {
    fn drop(&mut self) {
        if self.waiting {
            // SAFETY: as in `Cx::mailbox` (the `Cx` was made for a `Mailbox<M>`).
            let mailbox = unsafe { self.cx.raw.mailbox::<Mailbox<M>>() };
            drop(mailbox.end_suspend());
        }
    }
}

impl<M> fmt::Debug for Suspend<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Suspend").field("waiting", &self.waiting).finish()
    }
}

impl<M> Drop for Cx<M> {
    fn drop(&mut self) {
        self.raw.drop_reference();
    }
}

impl<M> fmt::Debug for Cx<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cx").field("id", &self.raw.id()).finish()
    }
}

/// The value a suspended task was resumed with.
pub struct Resumed(Box<dyn Any + Send>);

impl Resumed {
    /// The value, if it has type `T`; otherwise the `Resumed` back.
    pub fn downcast<T: Any>(self) -> Result<T, Resumed> {
        self.0.downcast::<T>().map(|b| *b).map_err(Resumed)
    }

    /// True if the value has type `T`.
    pub fn is<T: Any>(&self) -> bool {
        self.0.is::<T>()
    }

    /// The boxed value.
    pub fn into_inner(self) -> Box<dyn Any + Send> {
        self.0
    }
}

impl fmt::Debug for Resumed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Resumed(..)")
    }
}

/// The filter of a plain receive: every message matches.
#[derive(Debug, Clone, Copy)]
pub struct NoFilter;

/// A message filter for [`Receive`].
pub trait Filter<M> {
    /// Runs `f` with the filter as a predicate, or with `None` if every message matches.
    #[doc(hidden)]
    fn with<R>(&mut self, f: impl FnOnce(Option<&mut dyn FnMut(&M) -> bool>) -> R) -> R;
}

impl<M> Filter<M> for NoFilter {
    fn with<R>(&mut self, f: impl FnOnce(Option<&mut dyn FnMut(&M) -> bool>) -> R) -> R {
        f(None)
    }
}

impl<M, P: FnMut(&M) -> bool> Filter<M> for P {
    fn with<R>(&mut self, f: impl FnOnce(Option<&mut dyn FnMut(&M) -> bool>) -> R) -> R {
        f(Some(self))
    }
}

/// Future of [`Cx::receive`] and [`Cx::receive_matching`].
#[must_use = "futures do nothing unless awaited"]
pub struct Receive<'a, M, P = NoFilter> {
    cx: &'a Cx<M>,
    matches: P,
    registered: bool,
}

impl<M, P> Unpin for Receive<'_, M, P> {}

impl<M: Send + 'static, P: Filter<M>> Future for Receive<'_, M, P> {
    type Output = Option<M>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<M>> {
        std::task::ready!(crate::coop::poll_proceed(cx));
        let this = self.get_mut();
        let task = this.cx;
        if let AtWait::SwapNow = hot_swap::at_wait(task.raw, false) {
            return swap_now(task.raw, cx);
        }
        let registered = &mut this.registered;
        this.matches.with(|matches| task.mailbox().poll_receive(cx, task.raw, registered, matches))
    }
}

impl<M, P> Drop for Receive<'_, M, P> {
    #[inline]
    fn drop(&mut self) {
        if self.registered {
            // SAFETY: a Cx<M> only exists for a task with a Mailbox<M>.
            unsafe { self.cx.raw.mailbox::<Mailbox<M>>() }.unregister_receiver();
        }
    }
}

impl<M, P> fmt::Debug for Receive<'_, M, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receive").field("task", &self.cx.raw.id()).finish()
    }
}

/// A mailbox wait that is a swap point: stay pending without taking a message; the task body
/// swaps the code right after this poll. (If this wait is polled from elsewhere than the task's
/// own poll, the task is woken so its body gets to run.)
fn swap_now<T>(raw: RawTask, cx: &Context<'_>) -> Poll<T> {
    if !raw.is_waker_of(cx.waker()) {
        raw.wake_by_ref();
    }
    Poll::Pending
}

/// What [`Cx::receive_or_swap`] got.
#[derive(Debug)]
pub enum Received<M> {
    /// The next message.
    Message(M),
    /// Someone asked to hot swap this task's code: accept or decline.
    SwapRequested(SwapRequest),
    /// No message can arrive any more (as when `receive` returns `None`).
    Closed,
}

/// Future of [`Cx::receive_or_swap`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct ReceiveOrSwap<'a, M> {
    receive: Receive<'a, M>,
}

impl<M: Send + 'static> Future for ReceiveOrSwap<'_, M> {
    type Output = Received<M>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Received<M>> {
        if let AtWait::Tell(request) = hot_swap::at_wait(self.receive.cx.raw, true) {
            return Poll::Ready(Received::SwapRequested(request));
        }
        Pin::new(&mut self.receive).poll(cx).map(|m| m.map_or(Received::Closed, Received::Message))
    }
}
