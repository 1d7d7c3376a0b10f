//! Spawning with options: a name, daemon status, a bounded mailbox, a particular runtime.

use super::{JoinHandle, TaskFn, TaskOutput, TaskRef};
use crate::error::SpawnError;
use crate::runtime::{Handle, TaskOptions};
use std::fmt;
use std::future::Future;
use std::sync::Arc;

/// Spawns a task with options.
///
/// ```
/// let rt = rycos::Runtime::new().unwrap();
/// let _guard = rt.enter();
/// let logger = rycos::task::Builder::new()
///     .name("logger")
///     .daemon(true)
///     .mailbox_capacity(1000)
///     .spawn_task(|cx: rycos::Cx<String>| async move {
///         while let Some(line) = cx.receive().await {
///             println!("{line}");
///         }
///     });
/// assert_eq!(logger.name(), Some("logger"));
/// assert!(logger.is_daemon());
/// ```
#[derive(Clone, Default)]
pub struct Builder {
    options: TaskOptions,
    capacity: Option<usize>,
    handle: Option<Handle>,
}

impl Builder {
    /// Default options: unnamed, not a daemon, unbounded mailbox, the current runtime (or the
    /// default one).
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the task (shown in `Debug`, exit notices and shutdown reports).
    pub fn name(mut self, name: impl AsRef<str>) -> Builder {
        self.options.name = Some(Arc::from(name.as_ref()));
        self
    }

    /// Makes the task a daemon: `Runtime::join` does not wait for it (pycos `daemon=True`).
    pub fn daemon(mut self, daemon: bool) -> Builder {
        self.options.daemon = daemon;
        self
    }

    /// Bounds the mailbox to `capacity` user messages: `send` to a full mailbox returns the
    /// message in `SendError::Full`, `deliver` waits for room. Exit notices are always accepted.
    pub fn mailbox_capacity(mut self, capacity: usize) -> Builder {
        assert!(capacity > 0, "a mailbox needs room for at least one message");
        self.capacity = Some(capacity);
        self
    }

    /// Spawns onto this runtime instead of the current one.
    pub fn on(mut self, handle: &Handle) -> Builder {
        self.handle = Some(handle.clone());
        self
    }

    fn handle(&self) -> Handle {
        self.handle.clone().unwrap_or_else(Handle::current_or_default)
    }

    /// Spawns a future. After shutdown the handle reports cancellation.
    #[track_caller]
    pub fn spawn<F>(self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle().spawn_with(future, &self.options).unwrap_or_else(|handle| handle)
    }

    /// Spawns a future, or fails if the runtime has shut down.
    #[track_caller]
    pub fn try_spawn<F>(self, future: F) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle().spawn_with(future, &self.options).map_err(|_| SpawnError::shutdown())
    }

    /// Spawns a task with a mailbox. After shutdown the returned handle refers to a task that
    /// has already ended (sends return their message).
    #[track_caller]
    pub fn spawn_task<M, F>(self, start: F) -> TaskRef<M>
    where
        M: Send + 'static,
        F: TaskFn<M>,
    {
        self.handle().spawn_actor(start, self.capacity, false, &self.options).task
    }

    /// Spawns a task with a mailbox, or fails if the runtime has shut down.
    #[track_caller]
    pub fn try_spawn_task<M, F>(self, start: F) -> Result<TaskRef<M>, SpawnError>
    where
        M: Send + 'static,
        F: TaskFn<M>,
    {
        let spawned = self.handle().spawn_actor(start, self.capacity, false, &self.options);
        if spawned.accepted { Ok(spawned.task) } else { Err(SpawnError::shutdown()) }
    }

    /// Spawns a task with a mailbox and a handle to its result.
    #[track_caller]
    pub fn spawn_task_joinable<M, F>(self, start: F) -> (TaskRef<M>, JoinHandle<TaskOutput<M, F>>)
    where
        M: Send + 'static,
        F: TaskFn<M>,
    {
        let spawned = self.handle().spawn_actor(start, self.capacity, true, &self.options);
        (spawned.task, spawned.join.expect("spawned with a join handle"))
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("name", &self.options.name)
            .field("daemon", &self.options.daemon)
            .field("mailbox_capacity", &self.capacity)
            .finish()
    }
}
