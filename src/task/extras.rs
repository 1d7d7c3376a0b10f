//! Per-task data most tasks never need — a name, exit hooks for monitors, hot swap requests —
//! kept out of the header and allocated the first time something asks for it.

use super::raw::RawTask;
use super::state::{Outcome, Snapshot};
use crate::loom::sync::Mutex;
use crate::loom::sync::atomic::AtomicBool;
use crate::monitor::{Exit, ExitReason, ExitValue};
use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, OnceLock};

/// Called once with the task's exit notice.
pub(crate) type ExitHook = Box<dyn FnOnce(&Exit) + Send>;

/// Names an exit hook still waiting for its task to end, so that it can be removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HookToken(u64);

/// Makes a shareable copy of a task's output, if it is of the type it was made for.
type Capture = Box<dyn Fn(&dyn Any) -> Option<ExitValue> + Send>;

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
    /// Monitors' requests for a copy of the output (one per type), until the task returns.
    captures: Vec<(std::any::TypeId, Capture)>,
    /// Set when the task returned (or ended otherwise): later requests are too late.
    value_decided: bool,
    /// The copy of the output, for every exit notice.
    value: Option<ExitValue>,
    pub(super) hot_swap: super::hot_swap::Slot,
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
                captures: Vec::new(),
                value_decided: false,
                value: None,
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

    /// The task is about to publish its outcome (`output` if it returned): monitors that asked
    /// for the value get their copy made now, while the output is still the task's.
    pub(super) fn capture_value(&self, output: Option<&dyn Any>) {
        let mut inner = self.inner.lock();
        inner.value_decided = true;
        let captures = std::mem::take(&mut inner.captures);
        if let Some(output) = output {
            inner.value = captures.iter().find_map(|(_, capture)| capture(output));
        }
    }

    fn exit_notice(
        &self,
        raw: RawTask,
        outcome: Outcome,
        panic_message: Option<String>,
        value: Option<ExitValue>,
    ) -> Exit {
        let reason = match outcome {
            Outcome::Finished => ExitReason::Finished,
            Outcome::Terminated => ExitReason::Terminated,
            Outcome::Panicked => {
                ExitReason::Panicked(panic_message.unwrap_or_else(|| "<non-string panic payload>".into()))
            }
        };
        Exit { task: raw.id(), node: super::NodeId::local(), name: self.name.get().cloned(), reason, value }
    }

    /// Runs every registered hook; called once by the completing thread after `COMPLETE`.
    pub(super) fn notify_exit(&self, raw: RawTask, outcome: Outcome) {
        let (hooks, message) = {
            let mut inner = self.inner.lock();
            inner.exited = true;
            super::hot_swap::fail_pending(&mut inner.hot_swap);
            (std::mem::take(&mut inner.hooks), (inner.panic_message.clone(), inner.value.clone()))
        };
        if hooks.is_empty() {
            return;
        }
        let exit = self.exit_notice(raw, outcome, message.0, message.1);
        for (_, hook) in hooks {
            let _ = catch_unwind(AssertUnwindSafe(|| hook(&exit)));
        }
    }
}

/// Arranges for `hook` to run once when `raw` ends — at once if it already has (then `None`:
/// there is nothing left to remove).
///
/// Races with completion are settled like this: the completing thread sets `COMPLETE` and only
/// then looks for extras; we install extras and the hook and only then read the state word with a
/// read-modify-write (so the two accesses are ordered). If we see `COMPLETE`, the completing
/// thread may or may not have seen our hook; whoever removes the hook from the list under the
/// lock runs it, so it runs exactly once.
pub(crate) fn add_exit_hook(raw: RawTask, hook: ExitHook) -> Option<HookToken> {
    let extras = raw.extras();
    let token = {
        let mut inner = extras.inner.lock();
        if inner.exited {
            let (message, value) = (inner.panic_message.clone(), inner.value.clone());
            drop(inner);
            let outcome = raw.state().outcome().expect("exited implies complete");
            hook(&extras.exit_notice(raw, outcome, message, value));
            return None;
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
            pos.map(|pos| (inner.hooks.swap_remove(pos).1, inner.panic_message.clone(), inner.value.clone()))
        };
        if let Some((hook, message, value)) = taken {
            hook(&extras.exit_notice(raw, outcome, message, value));
            return None;
        }
    }
    Some(HookToken(token))
}

/// Removes an exit hook that has not run; false if it is gone already (it ran, or the
/// completing thread has taken it to run it).
pub(crate) fn remove_exit_hook(raw: RawTask, token: HookToken) -> bool {
    let Some(extras) = raw.extras_if_any() else { return false };
    let removed = {
        let mut inner = extras.inner.lock();
        let pos = inner.hooks.iter().position(|(t, _)| *t == token.0);
        pos.map(|pos| inner.hooks.swap_remove(pos).1)
    };
    // Dropped outside the lock: a hook may hold a task handle whose drop wakes that task.
    removed.is_some()
}

/// Asks for a copy of `raw`'s output, if it is a `T`, in its exit notices; too late (and
/// nothing happens) once the task has returned.
pub(crate) fn capture_value<T: Clone + Send + Sync + 'static>(raw: RawTask) {
    let extras = raw.extras();
    let mut inner = extras.inner.lock();
    if inner.value_decided {
        return;
    }
    // One capture per type is enough: every monitor shares the copy.
    let id = std::any::TypeId::of::<T>();
    if inner.captures.iter().all(|(t, _)| *t != id) {
        let capture: Capture = Box::new(|output| output.downcast_ref::<T>().cloned().map(ExitValue::new));
        inner.captures.push((id, capture));
    }
}
