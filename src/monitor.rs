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

use crate::task::TaskId;
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
        d.field("reason", &self.reason).finish()
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
