//! Per-task data most tasks never need — a name, exit hooks for monitors, the suspend slot —
//! kept out of the header and allocated the first time something asks for it.

use super::raw::RawTask;
use super::state::{Outcome, Snapshot};
use crate::loom::sync::Mutex;
use crate::loom::sync::atomic::AtomicBool;
use crate::monitor::{Exit, ExitReason};
use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};

/// Called once with the task's exit notice.
pub(crate) type ExitHook = Box<dyn FnOnce(&Exit) + Send>;

pub(crate) struct Extras {
    name: OnceLock<Arc<str>>,
    pub(super) inner: Mutex<Inner>,
    /// A hot swap request is waiting in `inner` (checked by every mailbox wait without locking).
    pub(super) swap_pending: AtomicBool,
    /// A mailbox wait decided to swap now; the task body takes the request after the poll.
    pub(super) swap_now: AtomicBool,
}

pub(super) struct Inner {
    /// Set (under the lock) by the completing thread once it has taken the hooks.
    pub(super) exited: bool,
    panic_message: Option<String>,
    next_hook: u64,
    hooks: Vec<(u64, ExitHook)>,
    suspend: Suspend,
    pub(super) hot_swap: super::hot_swap::Slot,
}

/// The wake-up channel of `Cx::suspend` / `resume`, separate from the mailbox.
#[derive(Default)]
struct Suspend {
    waiting: bool,
    waker: Option<Waker>,
    value: Option<Box<dyn Any + Send>>,
}

impl Default for Extras {
    fn default() -> Self {
        Extras {
            name: OnceLock::new(),
            inner: Mutex::new(Inner {
                exited: false,
                panic_message: None,
                next_hook: 0,
                hooks: Vec::new(),
                suspend: Suspend::default(),
                hot_swap: Default::default(),
            }),
            swap_pending: AtomicBool::new(false),
            swap_now: AtomicBool::new(false),
        }
    }
}

impl Extras {
    pub(crate) fn set_name(&self, name: Arc<str>) {
        let _ = self.name.set(name);
    }

    pub(crate) fn name(&self) -> Option<&Arc<str>> {
        self.name.get()
    }

    pub(super) fn set_panic_message(&self, message: String) {
        self.inner.lock().panic_message = Some(message);
    }

    fn exit_notice(&self, raw: RawTask, outcome: Outcome, panic_message: Option<String>) -> Exit {
        let reason = match outcome {
            Outcome::Finished => ExitReason::Finished,
            Outcome::Terminated => ExitReason::Terminated,
            Outcome::Panicked => {
                ExitReason::Panicked(panic_message.unwrap_or_else(|| "<non-string panic payload>".into()))
            }
        };
        Exit { task: raw.id(), name: self.name.get().cloned(), reason }
    }

    /// Runs every registered hook; called once by the completing thread after `COMPLETE`.
    pub(super) fn notify_exit(&self, raw: RawTask, outcome: Outcome) {
        let (hooks, message) = {
            let mut inner = self.inner.lock();
            inner.exited = true;
            super::hot_swap::fail_pending(&mut inner.hot_swap);
            (std::mem::take(&mut inner.hooks), inner.panic_message.clone())
        };
        if hooks.is_empty() {
            return;
        }
        let exit = self.exit_notice(raw, outcome, message);
        for (_, hook) in hooks {
            let _ = catch_unwind(AssertUnwindSafe(|| hook(&exit)));
        }
    }
}

/// Arranges for `hook` to run once when `raw` ends — at once if it already has.
///
/// Races with completion are settled like this: the completing thread sets `COMPLETE` and only
/// then looks for extras; we install extras and the hook and only then read the state word with a
/// read-modify-write (so the two accesses are ordered). If we see `COMPLETE`, the completing
/// thread may or may not have seen our hook; whoever removes the hook from the list under the
/// lock runs it, so it runs exactly once.
pub(crate) fn add_exit_hook(raw: RawTask, hook: ExitHook) {
    let extras = raw.extras();
    let token = {
        let mut inner = extras.inner.lock();
        if inner.exited {
            let message = inner.panic_message.clone();
            drop(inner);
            let outcome = raw.state().outcome().expect("exited implies complete");
            hook(&extras.exit_notice(raw, outcome, message));
            return;
        }
        let token = inner.next_hook;
        inner.next_hook += 1;
        inner.hooks.push((token, hook));
        token
    };
    let snapshot: Snapshot = raw.header().state.load_rmw();
    if let Some(outcome) = snapshot.outcome() {
        let taken = {
            let mut inner = extras.inner.lock();
            let pos = inner.hooks.iter().position(|(t, _)| *t == token);
            pos.map(|pos| (inner.hooks.swap_remove(pos).1, inner.panic_message.clone()))
        };
        if let Some((hook, message)) = taken {
            hook(&extras.exit_notice(raw, outcome, message));
        }
    }
}

/// Polls the suspend slot: ready with the value of a `resume`.
pub(crate) fn poll_suspend(raw: RawTask, cx: &mut Context<'_>) -> Poll<Box<dyn Any + Send>> {
    let mut inner = raw.extras().inner.lock();
    let slot = &mut inner.suspend;
    if let Some(value) = slot.value.take() {
        slot.waiting = false;
        slot.waker = None;
        return Poll::Ready(value);
    }
    slot.waiting = true;
    if !slot.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
        slot.waker = Some(cx.waker().clone());
    }
    Poll::Pending
}

/// Stops waiting; returns a value that arrived meanwhile, so that a `resume` that reported
/// success is never lost.
pub(crate) fn end_suspend(raw: RawTask) -> Option<Box<dyn Any + Send>> {
    let mut inner = raw.extras().inner.lock();
    let slot = &mut inner.suspend;
    slot.waiting = false;
    slot.waker = None;
    slot.value.take()
}

/// Hands `value` to a suspended task; false (and the value is dropped) if it is not suspended
/// or already has a value waiting.
pub(crate) fn resume(raw: RawTask, value: Box<dyn Any + Send>) -> bool {
    let waker = {
        let mut inner = raw.extras().inner.lock();
        let slot = &mut inner.suspend;
        if !slot.waiting || slot.value.is_some() {
            return false;
        }
        slot.value = Some(value);
        slot.waker.take()
    };
    if let Some(waker) = waker {
        waker.wake();
    }
    true
}
