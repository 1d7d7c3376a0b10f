//! A runtime seen from outside while it runs: its workers and its live tasks, for monitors
//! (`rycos-monitor`), logs and tests.
//!
//! Nothing here stops the workers. Every task carries its statistics (`task::Stats`: where and
//! when it was spawned, how often and when last it was polled), written by the worker that
//! polls it with two plain stores; a snapshot reads them with the task's state word and asks
//! its mailbox (one short lock each). The tasks come from the owner list, one shard locked at a
//! time only to copy pointers out of it. So a snapshot is not one instant: each task is seen
//! as it was when its turn came.

use super::Handle;
use super::task::{MailboxProbe, RawTask, TaskId};
use crate::loom::sync::atomic::Ordering::Relaxed;
use std::fmt;
use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;

/// What [`Runtime::snapshot`](super::Runtime::snapshot) saw.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RuntimeSnapshot {
    /// Time since the runtime started.
    pub uptime: Duration,
    /// Every worker, by index.
    pub workers: Vec<WorkerSnapshot>,
    /// The tasks that have waited at least once and not ended, by id. A task spawned and not
    /// yet polled, or in its first poll, is counted in `live_tasks` but not listed here.
    pub tasks: Vec<TaskSnapshot>,
    /// Tasks spawned and not yet ended.
    pub live_tasks: usize,
    /// Tasks waiting in the global queue.
    pub global_queue: usize,
    /// Timers registered.
    pub timers: usize,
}

/// One worker thread.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerSnapshot {
    /// Its index (`rycos-worker-<index>`).
    pub index: usize,
    /// Tasks polled since the runtime started.
    pub polls: u64,
    /// Times it took tasks from another worker's queue (one per batch taken).
    pub steals: u64,
    /// Times it woke from parking.
    pub unparks: u64,
    /// Tasks in its local queue.
    pub queued: usize,
    /// True if it is parked now.
    pub parked: bool,
    /// The task it is polling, if any.
    pub running: Option<TaskId>,
}

/// One live task.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TaskSnapshot {
    /// Its id.
    pub id: TaskId,
    /// Its name, if it was given one (`task::Builder::name`).
    pub name: Option<Arc<str>>,
    /// The source line that spawned it.
    pub spawned_at: &'static Location<'static>,
    /// What it is doing.
    pub state: TaskState,
    /// Messages in its mailbox; `None` for a task without one (a plain future).
    pub mailbox: Option<usize>,
    /// Polls so far (wraps after `u32::MAX`).
    pub polls: u32,
    /// Time since it was spawned (to within about 20 ms).
    pub age: Duration,
    /// Time since its last poll began (to within about 20 ms; meaningless while `polls` is 0).
    pub since_last_poll: Duration,
    /// True for a daemon (`Runtime::join` does not wait for it).
    pub daemon: bool,
    /// Exit hooks waiting for its end: the monitors watching it, and its registered names
    /// and exports to other nodes.
    pub exit_hooks: usize,
}

/// What a task is doing when the snapshot looks at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TaskState {
    /// A worker is polling it.
    Running,
    /// It is queued to run.
    Queued,
    /// It waits in a receive for a message.
    Receiving,
    /// It waits in `Cx::suspend` for a `resume`.
    Suspended,
    /// It waits on something else: a timer, a socket, a lock, a join handle, a deliver.
    Waiting,
}

impl TaskState {
    /// The state as a word (`running`, `queued`, `receiving`, `suspended`, `waiting`).
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Running => "running",
            TaskState::Queued => "queued",
            TaskState::Receiving => "receiving",
            TaskState::Suspended => "suspended",
            TaskState::Waiting => "waiting",
        }
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Handle {
    /// The runtime's workers and live tasks as they are now; see [`RuntimeSnapshot`]. Safe to
    /// call from anywhere, also from a task of this runtime; it does not stop the workers.
    ///
    /// ```
    /// use rycos::runtime::TaskState;
    ///
    /// let rt = rycos::Runtime::builder().worker_threads(2).build().unwrap();
    /// let waiter = rt.block_on(async {
    ///     rycos::task::Builder::new()
    ///         .name("waiter")
    ///         .spawn_task(|cx: rycos::Cx<u32>| async move { cx.receive().await })
    /// });
    /// // Listed once it has waited for the first time.
    /// let seen = loop {
    ///     let snapshot = rt.snapshot();
    ///     assert_eq!(snapshot.workers.len(), 2);
    ///     if let Some(seen) = snapshot.tasks.into_iter().find(|t| t.id == waiter.id()) {
    ///         break seen;
    ///     }
    ///     std::thread::yield_now();
    /// };
    /// assert_eq!(seen.name.as_deref(), Some("waiter"));
    /// assert_eq!(seen.state, TaskState::Receiving);
    /// assert_eq!(seen.mailbox, Some(0));
    /// assert!(seen.spawned_at.file().ends_with(".rs"));
    /// waiter.terminate();
    /// ```
    pub fn snapshot(&self) -> RuntimeSnapshot {
        let shared = &self.shared;
        let timers = &shared.driver.timers;
        let now_ms = u64::try_from(timers.start().elapsed().as_millis()).unwrap_or(u64::MAX);
        let workers = shared
            .workers
            .iter()
            .enumerate()
            .map(|(index, worker)| WorkerSnapshot {
                index,
                polls: worker.activity.polls.load(Relaxed),
                steals: worker.activity.steals.load(Relaxed),
                unparks: worker.activity.unparks.load(Relaxed),
                queued: worker.stealer.len(),
                parked: shared.idle.is_parked(index),
                running: TaskId::from_u64(worker.activity.running.load(Relaxed)),
            })
            .collect();
        let listed = shared.owned.listed();
        let mut tasks: Vec<TaskSnapshot> = listed.iter().filter_map(|&raw| describe(raw, now_ms)).collect();
        for raw in listed {
            raw.drop_reference();
        }
        tasks.sort_unstable_by_key(|task| task.id);
        RuntimeSnapshot {
            uptime: timers.start().elapsed(),
            workers,
            tasks,
            live_tasks: shared.live_tasks(),
            global_queue: shared.inject.len(),
            timers: timers.len(),
        }
    }
}

impl Handle {
    /// The live task `id` of this runtime, as a snapshot lists it (with a reference the caller
    /// releases), for the layer above to make a handle of.
    pub(crate) fn find_listed(&self, id: TaskId) -> Option<RawTask> {
        let raw = self.shared.owned.find(id)?;
        if raw.state().is_complete() {
            raw.drop_reference();
            return None;
        }
        Some(raw)
    }
}

/// One listed task as it is now, `None` if it has ended.
fn describe(raw: RawTask, now_ms: u64) -> Option<TaskSnapshot> {
    let state = raw.state();
    if state.is_complete() {
        return None;
    }
    let MailboxProbe { present, len, receiving, suspended } = raw.probe_mailbox();
    let task_state = if state.is_running() {
        TaskState::Running
    } else if state.is_notified() {
        TaskState::Queued
    } else if suspended {
        TaskState::Suspended
    } else if receiving {
        TaskState::Receiving
    } else {
        TaskState::Waiting
    };
    let stats = &raw.header().stats;
    let extras = raw.extras_if_any();
    Some(TaskSnapshot {
        id: raw.id(),
        name: extras.and_then(|extras| extras.name().cloned()),
        spawned_at: stats.spawned_at(),
        state: task_state,
        mailbox: present.then_some(len),
        polls: stats.polls(),
        age: Duration::from_millis(stats.age_ms(now_ms)),
        since_last_poll: Duration::from_millis(stats.since_last_poll_ms(now_ms)),
        daemon: state.is_daemon(),
        exit_hooks: extras.map_or(0, |extras| extras.hook_count()),
    })
}
