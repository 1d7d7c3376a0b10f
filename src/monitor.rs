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
//! [`Cx::monitor`](crate::Cx::monitor) returns a [`MonitorRef`];
//! [`Cx::demonitor`](crate::Cx::demonitor) removes the monitor (Erlang `demonitor`): `true`
//! means its `Exit` will never arrive, `false` that the target ended first and the `Exit` is
//! already queued.
//!
//! This module is the whole mechanism: the notice types, the monitor API, and how a monitor
//! rides on the task's exit hooks (`task::extras`), which run once, on the thread that
//! completes the task, after it is marked complete.
//!
//! A monitor can also get the value the task returned (pycos `MonitorStatus.value`):
//! [`Cx::monitor_value::<T>`](crate::Cx::monitor_value) asks for a copy of a `T: Clone`
//! result, which arrives in [`Exit::value`]. The copy is made as the task returns, if some
//! monitor had asked by then, and every monitor of that task shares it; the task's own output
//! still goes to its `JoinHandle`.

use crate::runtime::task::state::Outcome;
pub use crate::task::extras::ExitValue;
use crate::task::extras::{Ended, HookToken};
use crate::task::{AnyTaskRef, Cx, NodeId, TaskId};
use parking_lot::Mutex;
use std::any::Any;
use std::fmt;
use std::sync::Arc;

/// The notice a monitor receives when a monitored task ends.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Exit {
    /// The task that ended.
    pub task: TaskId,
    /// The node it ran on ([`NodeId::local`] for a task of this process).
    pub node: NodeId,
    /// Its name, if it was spawned with one.
    pub name: Option<Arc<str>>,
    /// How it ended.
    pub reason: ExitReason,
    /// What it returned, if it finished and a monitor asked for it in time
    /// ([`Cx::monitor_value`](crate::Cx::monitor_value)).
    pub value: Option<ExitValue>,
}

impl Exit {
    /// The notice for a local task's end.
    fn of(ended: &Ended) -> Exit {
        let reason = match ended.outcome {
            _ if ended.connection_lost => ExitReason::NoConnection,
            Outcome::Finished => ExitReason::Finished,
            Outcome::Terminated => ExitReason::Terminated,
            Outcome::Panicked => ExitReason::Panicked(
                ended.panic_message.clone().unwrap_or_else(|| "<non-string panic payload>".into()),
            ),
        };
        Exit {
            task: ended.task,
            node: ended.node,
            name: ended.name.clone(),
            reason,
            value: ended.value.clone(),
        }
    }

    /// The ended task's address (its node and id).
    pub fn addr(&self) -> crate::TaskAddr {
        crate::TaskAddr { node: self.node, task: self.task }
    }

    /// The value the task returned, if it is here and of type `T`.
    pub fn value<T: Any>(&self) -> Option<&T> {
        self.value.as_ref()?.downcast_ref()
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
    /// Its node went down, or the connection to it was lost for good: whether the task still
    /// runs is unknown (the distribution layer reports this; never for a local task).
    NoConnection,
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
        d.field("task", &self.task).field("node", &self.node);
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
            ExitReason::NoConnection => write!(f, " is out of reach: its node is down or unreachable"),
        }
    }
}

/// A monitor set up by [`Cx::monitor`]; give it to [`Cx::demonitor`] to remove the monitor.
/// Dropping it keeps the monitor.
pub struct MonitorRef {
    target: AnyTaskRef,
    /// The exit hook, unless it ran at once (the target had ended already).
    hook: Option<HookToken>,
    notice: Arc<Mutex<Notice>>,
}

impl MonitorRef {
    /// The monitored task.
    pub fn target(&self) -> &AnyTaskRef {
        &self.target
    }
}

impl fmt::Debug for MonitorRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MonitorRef").field("target", &self.target.id()).finish_non_exhaustive()
    }
}

/// Where a monitor's notice stands; decided under its lock, so that `demonitor` and the target's
/// end agree on whether the notice was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Notice {
    Pending,
    Sent,
    Cancelled,
}

impl<M: Send + 'static> Cx<M> {
    /// Makes an [`Exit`] arrive in this task's mailbox when `target` ends (pycos `monitor`,
    /// Erlang `monitor/2`). If `target` has already ended, the notice is queued at once. The
    /// returned [`MonitorRef`] removes the monitor again ([`demonitor`](Cx::demonitor)); it may
    /// simply be dropped to keep the monitor.
    ///
    /// While it waits for the target's end, a monitor holds a [`TaskRef`](crate::TaskRef) to
    /// this task (to send the notice with), so this task's `receive` does not return `None`.
    pub fn monitor(&self, target: &AnyTaskRef) -> MonitorRef
    where
        M: From<Exit>,
    {
        let me = self.me();
        let notice = Arc::new(Mutex::new(Notice::Pending));
        let theirs = notice.clone();
        let hook = target.add_exit_hook(Box::new(move |ended: &Ended| {
            let mut notice = theirs.lock();
            if *notice == Notice::Pending {
                // Fails only if this task has ended meanwhile: nobody is left to tell.
                let _ = me.send_control(M::from(Exit::of(ended)));
                *notice = Notice::Sent;
            }
        }));
        MonitorRef { target: target.clone(), hook, notice }
    }

    /// Removes a monitor (Erlang `demonitor/1`). True if it was removed in time: its [`Exit`]
    /// never arrives. False if the target had ended first: its `Exit` is already in this task's
    /// mailbox when `demonitor` returns (take it out with `receive_matching` if unwanted).
    ///
    /// ```
    /// use rycos::{Cx, Exit};
    /// use std::time::Duration;
    ///
    /// let rt = rycos::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let (_, watcher) = rycos::spawn_task_joinable(|cx: Cx<Exit>| async move {
    ///         let worker = rycos::spawn_task(|cx: Cx<()>| async move { cx.receive().await });
    ///         let monitor = cx.monitor(&worker);
    ///         assert!(cx.demonitor(monitor), "the worker still runs: removed in time");
    ///         worker.send(()).unwrap(); // it ends now, and nobody hears of it
    ///         cx.receive_timeout(Duration::from_millis(50)).await.is_err()
    ///     });
    ///     assert!(watcher.await.unwrap());
    /// });
    /// ```
    pub fn demonitor(&self, monitor: MonitorRef) -> bool {
        let MonitorRef { target, hook, notice } = monitor;
        if let Some(hook) = hook {
            // Not needed for the outcome (the notice state decides it), but the hook and the
            // handle to this task it holds go now rather than when the target ends.
            target.remove_exit_hook(hook);
        }
        let mut notice = notice.lock();
        match *notice {
            Notice::Sent => false,
            Notice::Pending | Notice::Cancelled => {
                *notice = Notice::Cancelled;
                true
            }
        }
    }

    /// Like [`monitor`](Cx::monitor), and the [`Exit`] carries a copy of what `target`
    /// returned, if it returns a `T` (pycos `MonitorStatus.value`): read it with
    /// [`Exit::value`]. The copy is made as the task returns, if some monitor had asked by then,
    /// and every monitor's `Exit` shares it (also those set up later); a task nobody asked
    /// about before it returned has no copy. The task's own output still goes to its
    /// `JoinHandle`.
    ///
    /// ```
    /// use rycos::{Cx, Exit};
    ///
    /// let rt = rycos::Runtime::new().unwrap();
    /// let answer = rt.block_on(async {
    ///     let (_, watcher) = rycos::spawn_task_joinable(|cx: Cx<Exit>| async move {
    ///         let worker = rycos::spawn_task(|cx: Cx<()>| async move {
    ///             cx.receive().await; // until told to finish
    ///             String::from("forty-two")
    ///         });
    ///         cx.monitor_value::<String>(&worker);
    ///         worker.send(()).unwrap();
    ///         let exit = cx.receive().await.unwrap();
    ///         exit.value::<String>().cloned()
    ///     });
    ///     watcher.await.unwrap()
    /// });
    /// assert_eq!(answer.as_deref(), Some("forty-two"));
    /// ```
    pub fn monitor_value<T>(&self, target: &AnyTaskRef) -> MonitorRef
    where
        M: From<Exit>,
        T: Clone + Send + Sync + 'static,
    {
        target.capture_value::<T>();
        self.monitor(target)
    }
}
