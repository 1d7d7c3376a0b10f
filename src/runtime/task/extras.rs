//! Per-task data most tasks never need — a name, exit hooks, a copy of the output for those
//! who asked, the hot-swap state of the layer above — kept out of the header and allocated the
//! first time something asks for it.
//!
//! Exit hooks are the one mechanism behind everything that must happen when a task ends:
//! monitors (`monitor.rs`), names (`registry.rs`), failing a pending hot swap. A hook gets an
//! [`Ended`] record and runs once, on the thread that completes the task, after `COMPLETE`.

use super::raw::RawTask;
use super::state::{Outcome, Snapshot};
use super::{NodeId, TaskId};
use crate::loom::sync::Mutex;
use crate::loom::sync::atomic::AtomicBool;
use std::any::Any;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, OnceLock};

/// What an exit hook learns of the task that ended.
pub(crate) struct Ended {
    pub(crate) task: TaskId,
    pub(crate) name: Option<Arc<str>>,
    pub(crate) outcome: Outcome,
    /// The panic message, if it panicked with a text payload.
    pub(crate) panic_message: Option<String>,
    /// The copy of its output, if one was asked for in time (`capture_value`).
    pub(crate) value: Option<ExitValue>,
    /// The node it ran on: [`NodeId::local`] for a task of this process.
    pub(crate) node: NodeId,
    /// Set for a task on another node when that node went down or the connection to it was
    /// lost for good: then `outcome` says nothing (whether the task still runs is unknown).
    pub(crate) connection_lost: bool,
}

impl Ended {
    /// The record for a task on the node `node` that is out of reach.
    #[cfg_attr(not(feature = "dist"), allow(dead_code))]
    pub(crate) fn connection_lost(task: TaskId, node: NodeId, name: Option<Arc<str>>) -> Ended {
        Ended {
            task,
            name,
            outcome: Outcome::Terminated,
            panic_message: None,
            value: None,
            node,
            connection_lost: true,
        }
    }
}

/// Called once with the task's end.
pub(crate) type ExitHook = Box<dyn FnOnce(&Ended) + Send>;

/// Names an exit hook still waiting for its task to end, so that it can be removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HookToken(u64);

// Numbered tokens are made only by the distribution layer.
#[cfg_attr(not(feature = "dist"), allow(dead_code))]
impl HookToken {
    /// A token numbered by a hook list other than a local task's (a remote task's monitors).
    pub(crate) fn from_number(number: u64) -> HookToken {
        HookToken(number)
    }

    /// The number inside.
    pub(crate) fn number(self) -> u64 {
        self.0
    }
}

/// A copy of the value a task returned, shared by everyone who asked for it (a monitor's
/// [`Exit`](crate::Exit)).
#[derive(Clone)]
pub struct ExitValue(Arc<dyn Any + Send + Sync>);

impl ExitValue {
    fn new<T: Any + Send + Sync>(value: T) -> ExitValue {
        ExitValue(Arc::new(value))
    }

    /// The value, if it is a `T`.
    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        self.0.downcast_ref()
    }
}

impl PartialEq for ExitValue {
    /// The same copy (every monitor of one task shares it).
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for ExitValue {}

impl fmt::Debug for ExitValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ExitValue(..)")
    }
}

/// Makes a shareable copy of a task's output, if it is of the type it was made for.
type Capture = Box<dyn Fn(&dyn Any) -> Option<ExitValue> + Send>;

pub(crate) struct Extras {
    name: OnceLock<Arc<str>>,
    inner: Mutex<Inner>,
    /// The hot-swap state of the actor layer (`task::hot_swap`); opaque here.
    pub(crate) swap: Mutex<Option<Box<dyn Any + Send>>>,
    /// A hot swap request is waiting in `swap` (checked by every mailbox wait without locking).
    pub(crate) swap_pending: AtomicBool,
    /// A mailbox wait decided to swap now; the task body takes the request after the poll.
    pub(crate) swap_now: AtomicBool,
}

struct Inner {
    /// Set (under the lock) by the completing thread once it has taken the hooks.
    exited: bool,
    panic_message: Option<String>,
    next_hook: u64,
    hooks: Vec<(u64, ExitHook)>,
    /// Requests for a copy of the output (one per type), until the task returns.
    captures: Vec<(std::any::TypeId, Capture)>,
    /// Set when the task returned (or ended otherwise): later requests are too late.
    value_decided: bool,
    /// The copy of the output, for every hook.
    value: Option<ExitValue>,
}

impl Inner {
    /// The record for the hooks (taken under the lock; the hooks run after it is released: a
    /// hook may run user code, which may reach this task's extras again).
    fn ended(&self, raw: RawTask, name: Option<&Arc<str>>, outcome: Outcome) -> Ended {
        Ended {
            task: raw.id(),
            name: name.cloned(),
            outcome,
            panic_message: self.panic_message.clone(),
            value: self.value.clone(),
            node: NodeId::local(),
            connection_lost: false,
        }
    }
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
            }),
            swap: Mutex::new(None),
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

    /// Exit hooks waiting for the task's end.
    pub(crate) fn hook_count(&self) -> usize {
        self.inner.lock().hooks.len()
    }

    pub(super) fn set_panic_message(&self, message: String) {
        self.inner.lock().panic_message = Some(message);
    }

    /// The task is about to publish its outcome (`output` if it returned): those who asked for
    /// the value get their copy made now, while the output is still the task's.
    pub(super) fn capture_value(&self, output: Option<&dyn Any>) {
        let mut inner = self.inner.lock();
        inner.value_decided = true;
        let captures = std::mem::take(&mut inner.captures);
        if let Some(output) = output {
            inner.value = captures.iter().find_map(|(_, capture)| capture(output));
        }
    }

    /// Runs every registered hook; called once by the completing thread after `COMPLETE`.
    pub(super) fn notify_exit(&self, raw: RawTask, outcome: Outcome) {
        let (hooks, ended) = {
            let mut inner = self.inner.lock();
            inner.exited = true;
            if inner.hooks.is_empty() {
                return;
            }
            (std::mem::take(&mut inner.hooks), inner.ended(raw, self.name.get(), outcome))
        };
        for (_, hook) in hooks {
            let _ = catch_unwind(AssertUnwindSafe(|| hook(&ended)));
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
            let outcome = raw.state().outcome().expect("exited implies complete");
            let ended = inner.ended(raw, extras.name.get(), outcome);
            drop(inner);
            hook(&ended);
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
            pos.map(|pos| (inner.hooks.swap_remove(pos).1, inner.ended(raw, extras.name.get(), outcome)))
        };
        if let Some((hook, ended)) = taken {
            hook(&ended);
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
