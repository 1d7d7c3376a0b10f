//! Hot swap (pycos `hot_swap`): replacing a running task's code, keeping its mailbox, id and
//! name.
//!
//! The requester stores the new code in the task's extras and wakes it. The swap happens at a
//! mailbox wait of the task (`receive` and its variants), and only when the running code allows
//! it: it opted in with [`Cx::hot_swappable`](super::Cx::hot_swappable), or it was told with
//! [`Cx::receive_or_swap`](super::Cx::receive_or_swap) and accepted. The receive then stays
//! pending without taking a message and raises `swap_now`; the task body (`ActorBody`) sees the
//! flag after the poll, drops the old future (its `Cx` and receive with it — the messages stay
//! queued) and starts the new code with a fresh `Cx`.

use super::raw::RawTask;
use crate::loom::sync::Mutex;
use crate::loom::sync::atomic::Ordering;
use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

/// The replacement code as the task body expects it: `Box<SwapCode<M, T>>` inside `dyn Any`.
pub(crate) type SwapCode<M, T> =
    Box<dyn FnOnce(super::Cx<M>) -> Pin<Box<dyn Future<Output = T> + Send>> + Send>;

/// Why a hot swap did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HotSwapError {
    /// The task had ended (or ended before it reached a swap point).
    TaskEnded,
    /// Another swap request for the task is still pending.
    AlreadyPending,
    /// The running code declined, with its reason.
    Declined(String),
    /// The task did not become swappable in time; the request was withdrawn.
    TimedOut,
    /// The request was withdrawn (the [`HotSwap`] was dropped). [`HotSwap::cancel`] reports a
    /// withdrawal as `Ok`.
    Cancelled,
    /// [`HotSwap::cancel`] came too late: the task had already taken the new code.
    AlreadySwapped,
    /// The new code's output type differs from the running code's.
    OutputTypeMismatch,
}

impl fmt::Display for HotSwapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HotSwapError::TaskEnded => f.write_str("the task has ended"),
            HotSwapError::AlreadyPending => f.write_str("another hot swap of this task is pending"),
            HotSwapError::Declined(reason) => write!(f, "the task declined the hot swap: {reason}"),
            HotSwapError::TimedOut => f.write_str("the task did not reach a swap point in time"),
            HotSwapError::Cancelled => f.write_str("the hot swap was cancelled"),
            HotSwapError::AlreadySwapped => f.write_str("the task had already taken the new code"),
            HotSwapError::OutputTypeMismatch => {
                f.write_str("the new code returns another type than the task")
            }
        }
    }
}

impl std::error::Error for HotSwapError {}

/// Where the outcome of one request goes.
#[derive(Default)]
struct Reply {
    outcome: Option<Result<(), HotSwapError>>,
    waker: Option<Waker>,
}

type ReplySlot = Arc<Mutex<Reply>>;

fn complete(reply: &ReplySlot, outcome: Result<(), HotSwapError>) {
    let waker = {
        let mut reply = reply.lock();
        reply.outcome = Some(outcome);
        reply.waker.take()
    };
    if let Some(waker) = waker {
        waker.wake();
    }
}

/// The task's side: lives in its extras, under the extras lock.
#[derive(Default)]
pub(super) struct Slot {
    /// The running code lets swaps happen at any mailbox wait.
    swappable: bool,
    request: Option<Request>,
}

struct Request {
    code: Box<dyn Any + Send>,
    reply: ReplySlot,
    /// The running code has seen it through `receive_or_swap`.
    told: bool,
    accepted: bool,
}

impl Slot {
    fn ready(&self) -> bool {
        self.request.as_ref().is_some_and(|r| r.accepted || self.swappable)
    }
}

/// What a mailbox wait should do about hot swapping.
pub(crate) enum AtWait {
    /// Nothing pending: receive as usual.
    Receive,
    /// Swap now: stay pending; the task body takes over.
    SwapNow,
    /// A request the running code has not been told about (only for `receive_or_swap`).
    Tell(SwapRequest),
}

/// Called by a mailbox wait; `tell` if the caller can report a request to the running code.
#[inline]
pub(crate) fn at_wait(raw: RawTask, tell: bool) -> AtWait {
    let Some(extras) = raw.extras_if_any() else { return AtWait::Receive };
    if !extras.swap_pending.load(Ordering::Acquire) {
        return AtWait::Receive;
    }
    at_wait_pending(raw, extras, tell)
}

/// `at_wait` once a swap is pending.
#[inline(never)]
fn at_wait_pending(raw: RawTask, extras: &super::extras::Extras, tell: bool) -> AtWait {
    let mut inner = extras.inner.lock();
    let slot = &mut inner.hot_swap;
    if slot.ready() {
        extras.swap_now.store(true, Ordering::Relaxed);
        return AtWait::SwapNow;
    }
    match slot.request.as_mut() {
        Some(request) if tell && !request.told => {
            request.told = true;
            AtWait::Tell(SwapRequest::new(raw, request.reply.clone()))
        }
        _ => AtWait::Receive,
    }
}

/// What the task body should do after a pending poll.
pub(crate) enum Taken {
    /// Nothing to swap: the poll stands.
    Nothing,
    /// Swap in this code.
    Code(Box<dyn Any + Send>),
    /// The code did not fit and was refused; poll the running code again (its mailbox wait
    /// stepped aside for the swap and has not registered for wake-ups).
    Refused,
}

/// Called by the task body after a pending poll: the code to swap in, if a mailbox wait decided
/// so and the code `fits` the task (else the request is answered with a type mismatch and the
/// running code goes on).
///
/// Every request is answered while the extras lock is held, in the same step that removes it
/// from the slot; so a requester that finds its request gone always finds its answer.
pub(crate) fn take_ready(raw: RawTask, fits: impl FnOnce(&(dyn Any + Send)) -> bool) -> Taken {
    let Some(extras) = raw.extras_if_any() else { return Taken::Nothing };
    if !extras.swap_now.swap(false, Ordering::Relaxed) {
        return Taken::Nothing;
    }
    let mut inner = extras.inner.lock();
    let slot = &mut inner.hot_swap;
    // Withdrawn between the wait and now: the wait must run again.
    let Some(request) = slot.request.take() else { return Taken::Refused };
    extras.swap_pending.store(false, Ordering::Release);
    if !fits(&*request.code) {
        complete(&request.reply, Err(HotSwapError::OutputTypeMismatch));
        return Taken::Refused;
    }
    // The new code starts from scratch: it opts in again if it wants to be swapped.
    slot.swappable = false;
    complete(&request.reply, Ok(()));
    Taken::Code(request.code)
}

/// `Cx::hot_swappable`.
pub(crate) fn set_swappable(raw: RawTask, swappable: bool) {
    let extras = raw.extras();
    extras.inner.lock().hot_swap.swappable = swappable;
}

/// `SwapRequest::accept` (`None`) / `decline` (`Some(reason)`) of the request answered through
/// `reply` (if it is still the pending one).
fn decide(raw: RawTask, reply: &ReplySlot, decline: Option<String>) {
    let Some(extras) = raw.extras_if_any() else { return };
    let mut inner = extras.inner.lock();
    let slot = &mut inner.hot_swap;
    if !slot.request.as_ref().is_some_and(|r| Arc::ptr_eq(&r.reply, reply)) {
        return; // withdrawn (and maybe replaced) meanwhile
    }
    match decline {
        None => {
            if let Some(request) = slot.request.as_mut() {
                request.accepted = true;
            }
        }
        Some(reason) => {
            if let Some(request) = slot.request.take() {
                extras.swap_pending.store(false, Ordering::Release);
                complete(&request.reply, Err(HotSwapError::Declined(reason)));
            }
        }
    }
}

/// The task ended: a pending request can never be served. Called under the extras lock.
pub(super) fn fail_pending(slot: &mut Slot) {
    if let Some(request) = slot.request.take() {
        complete(&request.reply, Err(HotSwapError::TaskEnded));
    }
}

/// `TaskRef::hot_swap`: queues the request and wakes the task so that a waiting receive
/// notices it.
pub(crate) fn request(raw: RawTask, code: Box<dyn Any + Send>) -> HotSwap {
    let reply: ReplySlot = Arc::new(Mutex::new(Reply::default()));
    let extras = raw.extras();
    {
        let mut inner = extras.inner.lock();
        if inner.exited {
            return HotSwap::answered(Err(HotSwapError::TaskEnded));
        }
        if inner.hot_swap.request.is_some() {
            return HotSwap::answered(Err(HotSwapError::AlreadyPending));
        }
        inner.hot_swap.request = Some(Request { code, reply: reply.clone(), told: false, accepted: false });
        extras.swap_pending.store(true, Ordering::Release);
    }
    raw.ref_inc();
    let handle = HotSwap { task: Some(raw), reply };
    // As for exit hooks: if the task completed before the request was in place, the completing
    // thread may not have seen it, so withdraw it ourselves (read-modify-write orders the two).
    if raw.header().state.load_rmw().is_complete() {
        handle.withdraw(HotSwapError::TaskEnded);
    } else {
        raw.wake_by_ref();
    }
    handle
}

/// A pending hot swap ([`TaskRef::hot_swap`](super::TaskRef::hot_swap)); await it for the
/// outcome. Dropping it withdraws the request if the task has not taken it yet.
#[must_use = "dropping the handle withdraws the request"]
pub struct HotSwap {
    /// The task, while the request may still be pending in it (holds a task reference).
    task: Option<RawTask>,
    reply: ReplySlot,
}

// SAFETY: `RawTask` is a counted reference to a task, usable from any thread (as in `TaskRef`).
unsafe impl Send for HotSwap {}
// SAFETY: as above; `&HotSwap` exposes nothing that mutates the task.
unsafe impl Sync for HotSwap {}

impl HotSwap {
    fn answered(outcome: Result<(), HotSwapError>) -> HotSwap {
        HotSwap { task: None, reply: Arc::new(Mutex::new(Reply { outcome: Some(outcome), waker: None })) }
    }

    /// Withdraws the request: `Ok` if it was still pending, so the task will not be swapped.
    /// If the task decided first, what it decided: [`HotSwapError::AlreadySwapped`] if it took
    /// the new code, or why not (`Declined`, `TaskEnded`, `OutputTypeMismatch`).
    pub fn cancel(self) -> Result<(), HotSwapError> {
        self.withdraw(HotSwapError::Cancelled);
        match self.reply.lock().outcome.take().expect("withdraw leaves an outcome") {
            Err(HotSwapError::Cancelled) => Ok(()),
            Ok(()) => Err(HotSwapError::AlreadySwapped),
            Err(refused) => Err(refused),
        }
    }

    /// Removes the request from the task if it is still pending, answering it with `why`; if
    /// the task took it, it has been answered already (see [`take_ready`]).
    fn withdraw(&self, why: HotSwapError) {
        let Some(raw) = self.task else { return };
        let Some(extras) = raw.extras_if_any() else { return };
        let mut inner = extras.inner.lock();
        let ours = inner.hot_swap.request.as_ref().is_some_and(|r| Arc::ptr_eq(&r.reply, &self.reply));
        if ours {
            inner.hot_swap.request = None;
            extras.swap_pending.store(false, Ordering::Release);
            complete(&self.reply, Err(why));
        }
    }

    /// `TaskRef::hot_swap_timeout` gave up waiting: withdraw, unless the task decided first.
    pub(crate) fn timed_out(self) -> Result<(), HotSwapError> {
        self.withdraw(HotSwapError::TimedOut);
        self.reply.lock().outcome.take().expect("withdraw leaves an outcome")
    }
}

impl Future for HotSwap {
    type Output = Result<(), HotSwapError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut reply = self.reply.lock();
        if let Some(outcome) = reply.outcome.take() {
            return Poll::Ready(outcome);
        }
        if !reply.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            reply.waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl Drop for HotSwap {
    fn drop(&mut self) {
        if self.reply.lock().outcome.is_none() {
            self.withdraw(HotSwapError::Cancelled);
        }
        if let Some(raw) = self.task.take() {
            raw.drop_reference();
        }
    }
}

impl fmt::Debug for HotSwap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HotSwap").field("answered", &self.reply.lock().outcome.is_some()).finish()
    }
}

/// A hot swap request the running code was told about ([`Cx::receive_or_swap`]). Accept it and
/// the swap happens at the task's next mailbox wait; decline it and the requester gets the
/// reason. Dropping it undecided declines it.
///
/// [`Cx::receive_or_swap`]: super::Cx::receive_or_swap
#[must_use = "dropping the request declines it"]
pub struct SwapRequest {
    raw: Option<RawTask>,
    reply: ReplySlot,
}

// SAFETY: holds a counted task reference, usable from any thread (as in `TaskRef`).
unsafe impl Send for SwapRequest {}

impl SwapRequest {
    fn new(raw: RawTask, reply: ReplySlot) -> SwapRequest {
        raw.ref_inc();
        SwapRequest { raw: Some(raw), reply }
    }

    /// Lets the swap happen at the next mailbox wait.
    pub fn accept(mut self) {
        if let Some(raw) = self.raw.take() {
            decide(raw, &self.reply, None);
            raw.drop_reference();
        }
    }

    /// Refuses the swap; the requester gets [`HotSwapError::Declined`] with `reason`.
    pub fn decline(mut self, reason: impl Into<String>) {
        if let Some(raw) = self.raw.take() {
            decide(raw, &self.reply, Some(reason.into()));
            raw.drop_reference();
        }
    }
}

impl Drop for SwapRequest {
    fn drop(&mut self) {
        if let Some(raw) = self.raw.take() {
            decide(raw, &self.reply, Some("the swap request was dropped undecided".into()));
            raw.drop_reference();
        }
    }
}

impl fmt::Debug for SwapRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SwapRequest")
    }
}
