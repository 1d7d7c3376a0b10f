//! Monitors: learning that another task ended, as a message in your mailbox (pycos `monitor`,
//! Erlang `monitor/2`).
//!
//! [`Cx::monitor`](crate::Cx::monitor) asks for an [`Exit`] to be put in the calling task's
//! mailbox when the target ends, however it ends: it returned, it panicked, or it was
//! terminated. The mailbox's message type says how to carry it, through `From<Exit>`:
//!
//! ```
//! use rycos::{Exit, ExitReason};
//!
//! enum Msg { Work(u32), Down(Exit) }
//! impl From<Exit> for Msg {
//!     fn from(e: Exit) -> Self { Msg::Down(e) }
//! }
//!
//! let rt = rycos::Runtime::new().unwrap();
//! let reason = rt.block_on(async {
//!     let watcher = rycos::spawn_task_joinable(|cx: rycos::Cx<Msg>| async move {
//!         let worker = rycos::spawn_task(|_cx: rycos::Cx<()>| async { panic!("boom") });
//!         cx.monitor(&worker);
//!         loop {
//!             if let Some(Msg::Down(exit)) = cx.receive().await {
//!                 return exit.reason;
//!             }
//!         }
//!     });
//!     watcher.1.await.unwrap()
//! });
//! assert_eq!(reason, ExitReason::Panicked("boom".into()));
//! ```
//!
//! Exit notices are control messages: a bounded mailbox accepts them even when full, and they
//! are never dropped while the monitoring task lives. Many tasks may monitor one task, and one
//! task may monitor many; monitoring a task that already ended delivers its `Exit` at once.
//!
//! A monitor can also get the value the task returned (pycos `MonitorStatus.value`):
//! [`Cx::monitor_value::<T>`](crate::Cx::monitor_value) asks for a copy of a `T: Clone`
//! result, which arrives in [`Exit::value`]. The copy is made as the task returns, if some
//! monitor had asked by then, and every monitor of that task shares it; the task's own output
//! still goes to its `JoinHandle`.

use crate::task::TaskId;
use std::any::Any;
use std::fmt;
use std::sync::Arc;

/// The notice a monitor receives when a monitored task ends.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Exit {
    /// The task that ended.
    pub task: TaskId,
    /// Its name, if it was spawned with one.
    pub name: Option<Arc<str>>,
    /// How it ended.
    pub reason: ExitReason,
    /// What it returned, if it finished and a monitor asked for it in time
    /// ([`Cx::monitor_value`](crate::Cx::monitor_value)).
    pub value: Option<ExitValue>,
}

impl Exit {
    /// The value the task returned, if it is here and of type `T`.
    pub fn value<T: Any>(&self) -> Option<&T> {
        self.value.as_ref()?.downcast_ref()
    }
}

/// A copy of the value a monitored task returned, shared by every monitor's [`Exit`].
#[derive(Clone)]
pub struct ExitValue(Arc<dyn Any + Send + Sync>);

impl ExitValue {
    pub(crate) fn new<T: Any + Send + Sync>(value: T) -> ExitValue {
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

/// How a task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExitReason {
    /// Its code returned.
    Finished,
    /// Its code panicked; the panic message (or a placeholder for a non-string payload).
    Panicked(String),
    /// It was terminated (`terminate`, `JoinHandle::abort`, or runtime shutdown).
    Terminated,
}

impl ExitReason {
    /// True unless the task returned normally.
    pub fn is_abnormal(&self) -> bool {
        !matches!(self, ExitReason::Finished)
    }
}

impl fmt::Debug for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Exit");
        d.field("task", &self.task);
        if let Some(name) = &self.name {
            d.field("name", name);
        }
        d.field("reason", &self.reason);
        if self.value.is_some() {
            d.field("value", &"..");
        }
        d.finish()
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "task {} ({name})", self.task)?,
            None => write!(f, "task {}", self.task)?,
        }
        match &self.reason {
            ExitReason::Finished => write!(f, " finished"),
            ExitReason::Panicked(m) => write!(f, " panicked: {m}"),
            ExitReason::Terminated => write!(f, " was terminated"),
        }
    }
}
