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

use super::extras::{self, HookToken};
use crate::loom::sync::Mutex;
use crate::loom::sync::atomic::Ordering;
use crate::runtime::task::raw::RawTask;
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
    /// The task runs on another node: code cannot travel.
    NotLocal,
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
            HotSwapError::NotLocal => f.write_str("the task runs on another node: code cannot travel"),
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

/// The task's side: lives in its extras (`Extras::swap`, made on first use), under that lock.
#[derive(Default)]
struct Slot {
    /// The running code lets swaps happen at any mailbox wait.
    swappable: bool,
    request: Option<Request>,
}

struct Request {
    code: Box<dyn Any + Send>,
    reply: ReplySlot,
    /// The exit hook that fails the request if the task ends first.
    on_exit: Option<HookToken>,
    /// The running code has seen it through `receive_or_swap`.
    told: bool,
    accepted: bool,
}

impl Slot {
    fn ready(&self) -> bool {
        self.request.as_ref().is_some_and(|r| r.accepted || self.swappable)
    }

    fn is_ours(&self, reply: &ReplySlot) -> bool {
        self.request.as_ref().is_some_and(|r| Arc::ptr_eq(&r.reply, reply))
    }
}

/// The task's slot, under the swap lock.
fn slot(swap: &mut Option<Box<dyn Any + Send>>) -> &mut Slot {
    swap.get_or_insert_with(|| Box::new(Slot::default())).downcast_mut().expect("the swap state is a Slot")
}

/// A request left the slot answered: its exit hook has nothing left to do.
fn forget_exit_hook(raw: RawTask, request: &Request) {
    if let Some(hook) = request.on_exit {
        extras::remove_exit_hook(raw, hook);
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
fn at_wait_pending(raw: RawTask, extras: &extras::Extras, tell: bool) -> AtWait {
    let mut swap = extras.swap.lock();
    let slot = slot(&mut swap);
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
/// Every request is answered while the swap lock is held, in the same step that removes it
/// from the slot; so a requester that finds its request gone always finds its answer.
///
/// Every pending poll of every mailbox task comes here, so the common case — no swap decided —
/// is one inlined load, and the rest is a cold call (after the layout change LLVM had stopped
/// inlining the whole function into `ActorBody::poll`).
#[inline]
pub(crate) fn take_ready(raw: RawTask, fits: impl FnOnce(&(dyn Any + Send)) -> bool) -> Taken {
    match raw.extras_if_any() {
        Some(extras) if extras.swap_now.load(Ordering::Relaxed) => take_decided(raw, extras, fits),
        _ => Taken::Nothing,
    }
}

#[cold]
#[inline(never)]
fn take_decided(
    raw: RawTask,
    extras: &extras::Extras,
    fits: impl FnOnce(&(dyn Any + Send)) -> bool,
) -> Taken {
    if !extras.swap_now.swap(false, Ordering::Relaxed) {
        return Taken::Nothing;
    }
    let request = {
        let mut swap = extras.swap.lock();
        let slot = slot(&mut swap);
        // Withdrawn between the wait and now: the wait must run again.
        let Some(request) = slot.request.take() else { return Taken::Refused };
        extras.swap_pending.store(false, Ordering::Release);
        if !fits(&*request.code) {
            complete(&request.reply, Err(HotSwapError::OutputTypeMismatch));
            drop(swap);
            forget_exit_hook(raw, &request);
            return Taken::Refused;
        }
        // The new code starts from scratch: it opts in again if it wants to be swapped.
        slot.swappable = false;
        complete(&request.reply, Ok(()));
        request
    };
    forget_exit_hook(raw, &request);
    Taken::Code(request.code)
}

/// `Cx::hot_swappable`.
pub(crate) fn set_swappable(raw: RawTask, swappable: bool) {
    slot(&mut raw.extras().swap.lock()).swappable = swappable;
}

/// `SwapRequest::accept` (`None`) / `decline` (`Some(reason)`) of the request answered through
/// `reply` (if it is still the pending one).
fn decide(raw: RawTask, reply: &ReplySlot, decline: Option<String>) {
    let Some(extras) = raw.extras_if_any() else { return };
    let declined = {
        let mut swap = extras.swap.lock();
        let slot = slot(&mut swap);
        if !slot.is_ours(reply) {
            return; // withdrawn (and maybe replaced) meanwhile
        }
        match decline {
            None => {
                if let Some(request) = slot.request.as_mut() {
                    request.accepted = true;
                }
                None
            }
            Some(reason) => slot.request.take().inspect(|request| {
                extras.swap_pending.store(false, Ordering::Release);
                complete(&request.reply, Err(HotSwapError::Declined(reason)));
            }),
        }
    };
    if let Some(request) = declined {
        forget_exit_hook(raw, &request);
    }
}

/// Answers the request through `reply` with `why`, if it is still the task's pending one;
/// true if it was.
fn withdraw(raw: RawTask, reply: &ReplySlot, why: HotSwapError) -> bool {
    let Some(extras) = raw.extras_if_any() else { return false };
    let withdrawn = {
        let mut swap = extras.swap.lock();
        let slot = slot(&mut swap);
        if !slot.is_ours(reply) {
            return false;
        }
        extras.swap_pending.store(false, Ordering::Release);
        complete(reply, Err(why));
        slot.request.take()
    };
    if let Some(request) = withdrawn {
        forget_exit_hook(raw, &request);
    }
    true
}

/// `TaskRef::hot_swap`: queues the request and wakes the task so that a waiting receive
/// notices it.
pub(crate) fn request(raw: RawTask, code: Box<dyn Any + Send>) -> HotSwap {
    let reply: ReplySlot = Arc::new(Mutex::new(Reply::default()));
    let extras = raw.extras();
    {
        let mut swap = extras.swap.lock();
        let slot = slot(&mut swap);
        if slot.request.is_some() {
            return HotSwap::answered(Err(HotSwapError::AlreadyPending));
        }
        slot.request =
            Some(Request { code, reply: reply.clone(), on_exit: None, told: false, accepted: false });
        extras.swap_pending.store(true, Ordering::Release);
    }
    // A task that ends first fails the request. If it has ended already, the hook runs here, at
    // once (the exit hooks settle the race with completion).
    let (ended, failing) = (raw, reply.clone());
    let hook = extras::add_exit_hook(
        raw,
        Box::new(move |_| {
            withdraw(ended, &failing, HotSwapError::TaskEnded);
        }),
    );
    if let Some(hook) = hook {
        let mut swap = extras.swap.lock();
        match slot(&mut swap).request.as_mut() {
            Some(request) if Arc::ptr_eq(&request.reply, &reply) => request.on_exit = Some(hook),
            // Answered meanwhile (the task took or refused it): the hook is not needed.
            _ => {
                drop(swap);
                extras::remove_exit_hook(raw, hook);
            }
        }
    }
    raw.ref_inc();
    raw.wake_by_ref();
    HotSwap { task: Some(raw), reply }
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
    pub(crate) fn answered(outcome: Result<(), HotSwapError>) -> HotSwap {
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
        if let Some(raw) = self.task {
            withdraw(raw, &self.reply, why);
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
