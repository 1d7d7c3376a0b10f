//! The runtime: worker threads that run tasks, with work stealing, timers and shutdown.
//!
//! ```
//! let rt = rycos::Runtime::builder().worker_threads(2).build().unwrap();
//! let sum = rt.block_on(async {
//!     let handles: Vec<_> = (0..10u64).map(|i| rycos::spawn(async move { i * i })).collect();
//!     let mut sum = 0;
//!     for h in handles {
//!         sum += h.await.unwrap();
//!     }
//!     sum
//! });
//! assert_eq!(sum, 285);
//! ```
//!
//! pycos has one implicit scheduler per process; so does rycos: [`crate::spawn`] and friends
//! start a default runtime on first use when called outside any runtime. Build your own
//! [`Runtime`] to choose the number of workers or to shut it down explicitly.
//!
//! # Which runtime
//!
//! Code that runs in a task, in [`Runtime::block_on`] or under [`Runtime::enter`] uses that
//! runtime. Code that runs outside all of them uses the *default* runtime — but only in a
//! program that never built a runtime of its own. Once it has ([`Builder::build`],
//! [`Runtime::new`]), such a call is a mistake that would silently start a second, hidden
//! runtime (two more threads, outliving the program's own): spawning panics, and creating a
//! socket or opening a file returns an error, each saying how to reach the program's runtime.

mod affinity;
mod builder;
mod context;
pub(crate) mod driver;
mod idle;
mod owned;
mod park;
mod queue;
mod services;
mod shared;
mod snapshot;
pub(crate) mod task;
mod worker;

#[cfg(all(test, loom))]
mod loom_runtime;

pub use builder::Builder;
pub use context::EnterGuard;
pub use snapshot::{RuntimeSnapshot, TaskSnapshot, TaskState, WorkerSnapshot};

pub(crate) use shared::{Shared, Spawn, Spawned, TaskOptions};

use crate::error::SpawnError;
use crate::loom::sync::atomic::Ordering::Relaxed;
use crate::loom::sync::{Arc, Mutex};
use crate::loom::thread;
use std::fmt;
use std::future::Future;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use task::{JoinHandle, MailboxSlot, TaskBody, TaskId};

/// Tunables fixed when the runtime is built.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) global_queue_interval: u32,
    pub(crate) event_interval: u32,
    pub(crate) lifo_slot: bool,
}

/// A multi-threaded, work-stealing runtime (pycos `Pycos`).
///
/// Dropping it shuts it down: tasks still pending are cancelled (their destructors run) and the
/// worker threads are joined. A task that never yields would keep that waiting forever; use
/// [`shutdown_timeout`](Runtime::shutdown_timeout) when that can happen.
pub struct Runtime {
    handle: Handle,
    threads: Mutex<Vec<thread::JoinHandle<()>>>,
}

/// A cheap, cloneable reference to a runtime, for spawning onto it from anywhere.
#[derive(Clone)]
pub struct Handle {
    pub(crate) shared: Arc<Shared>,
}

/// Closes the blocking pool when shutdown is over (after the tasks, which may still await it).
/// Jobs of tasks that are gone are skipped (their completions were dropped); detached ones,
/// such as the last writes of a dropped `fs::File`, still run; then the threads exit.
struct StopBlockingPool<'a>(&'a Shared);

impl Drop for StopBlockingPool<'_> {
    fn drop(&mut self) {
        if let Some(pool) = self.0.blocking.get() {
            pool.close();
        }
    }
}

/// What [`Runtime::shutdown_timeout`] could not stop in time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Workers that were still busy when the timeout expired (their threads are detached).
    pub stuck_workers: usize,
    /// The tasks those workers were polling: tasks that never yield.
    pub stuck_tasks: Vec<TaskId>,
}

impl ShutdownReport {
    /// True if every worker stopped in time.
    pub fn is_clean(&self) -> bool {
        self.stuck_workers == 0
    }
}

impl Runtime {
    /// A runtime with one worker per core.
    pub fn new() -> std::io::Result<Runtime> {
        Builder::new().build()
    }

    /// A builder to configure the runtime.
    pub fn builder() -> Builder {
        Builder::new()
    }

    pub(crate) fn from_parts(handle: Handle, threads: Vec<thread::JoinHandle<()>>) -> Runtime {
        Runtime { handle, threads: Mutex::new(threads) }
    }

    /// A handle to this runtime.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Runs `future` to completion on the current thread, while the workers run spawned tasks.
    /// Inside it, [`crate::spawn`] and timers use this runtime.
    ///
    /// # Panics
    /// On a worker thread of any rycos runtime: blocking a worker can deadlock it. `.await` the
    /// future there instead.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.handle.block_on(future)
    }

    /// Spawns a future; see [`Handle::spawn`].
    #[track_caller]
    #[inline]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// Makes this runtime the current one on this thread until the guard drops, so that
    /// [`crate::spawn`] and timers use it.
    pub fn enter(&self) -> EnterGuard {
        self.handle.enter()
    }

    /// Waits until every non-daemon task has ended (pycos `Pycos.join`); tasks spawned while
    /// waiting are waited for too.
    ///
    /// # Panics
    /// On a worker thread (a task waiting for all tasks would wait for itself).
    pub fn join(&self) {
        assert_not_worker("Runtime::join");
        self.handle.shared.wait_non_daemon_zero(None);
    }

    /// Like [`join`](Runtime::join), giving up after `timeout`; true if every non-daemon task
    /// ended.
    pub fn join_timeout(&self, timeout: Duration) -> bool {
        assert_not_worker("Runtime::join_timeout");
        self.handle.shared.wait_non_daemon_zero(Some(Instant::now() + timeout))
    }

    /// Shuts down, waiting at most `timeout` for the workers to finish what they are polling.
    /// Pending tasks are cancelled and their destructors run. Workers still busy after the
    /// timeout (a task that never yields) are detached, and reported.
    pub fn shutdown_timeout(self, timeout: Duration) -> ShutdownReport {
        self.shutdown(Some(Instant::now() + timeout))
    }

    /// Shuts down without waiting for the workers.
    pub fn shutdown_background(self) {
        self.shutdown(Some(Instant::now()));
    }

    // The shutdown protocol, in order. This function runs steps 1, 2 and 6–8; each worker runs
    // 3–5 (`Worker::shutdown`).
    //
    // 1. `Shared::begin_shutdown` closes the owner list (`OwnedTasks::close`) first: from then
    //    on no task gets listed, so a spawn is refused and its task cancelled on the spot
    //    (`Spawned::accepted` is false). Closing before the flag is what keeps a task from being
    //    listed after a worker's single drain (loom: `shutdown_races_with_spawn`).
    // 2. It sets the shutdown flag (SeqCst) and unparks every worker. A push from outside that
    //    raced the flag drains the global queue itself: the fences in `begin_shutdown` and
    //    `push_from_outside` pair, so either the pusher sees the flag or the final drain sees
    //    the task.
    // 3. A worker sees the flag at the top of its loop and sets `shutting_down`: wakes on its
    //    thread now go the outside path, which cancels instead of queueing. It drains the owner
    //    list: every listed task is shut down (future dropped, join handles and monitors told).
    // 4. It cancels its LIFO slot and its local queue: tasks never polled are on no list, their
    //    queue entry is all there is.
    // 5. It drains the global queue and steals from the other workers' queues (one stuck in a
    //    poll cannot drain its own), cancelling everything, and counts itself exited.
    // 6. The blocking pool closes when this function returns (`StopBlockingPool`): jobs whose
    //    completion was dropped are skipped, detached ones (a dropped file's last write) run.
    // 7. Called on one of this runtime's own workers, nothing can be waited for: the workers
    //    finish on their own. Otherwise wait until every worker exited or `deadline` passed.
    // 8. All exited: join the threads and drain the global queue once more (a destructor on
    //    another thread may have woken a task). Not all: report the workers still polling and
    //    the tasks they poll, and leave them detached.
    fn shutdown(&self, deadline: Option<Instant>) -> ShutdownReport {
        let shared = &self.handle.shared;
        shared.begin_shutdown();
        // Blocking jobs nobody waits for any more are skipped; running ones finish on their own.
        let _stop_blocking = StopBlockingPool(shared);
        let threads = std::mem::take(&mut *self.threads.lock());
        if threads.is_empty() {
            return ShutdownReport::default();
        }
        if context::with_worker(|w| w.is_some_and(|w| w.serves(shared))) {
            // Dropped by one of its own tasks: the workers cannot be waited for from one of
            // them. They finish on their own.
            return ShutdownReport::default();
        }
        if shared.wait_workers_exited(deadline) {
            for thread in threads {
                let _ = thread.join();
            }
            shared.drain_inject();
            return ShutdownReport::default();
        }
        let stuck_tasks = shared
            .workers
            .iter()
            .filter_map(|r| TaskId::from_u64(r.activity.running.load(Relaxed)))
            .collect();
        ShutdownReport { stuck_workers: shared.num_workers() - shared.workers_exited(), stuck_tasks }
    }

    /// Counters describing the runtime right now.
    pub fn metrics(&self) -> RuntimeMetrics {
        self.handle.metrics()
    }

    /// The runtime's workers and live tasks as they are now; see [`Handle::snapshot`].
    pub fn snapshot(&self) -> RuntimeSnapshot {
        self.handle.snapshot()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shutdown(None);
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.handle, f)
    }
}

/// A snapshot of a runtime's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuntimeMetrics {
    /// Worker threads.
    pub workers: usize,
    /// Tasks spawned and not yet ended.
    pub live_tasks: usize,
    /// Of those, the ones `join` waits for (not daemons).
    pub non_daemon_tasks: usize,
    /// Tasks waiting in the global queue.
    pub global_queue_depth: usize,
    /// Tasks waiting in the workers' local queues.
    pub local_queue_depth: usize,
    /// Workers parked right now.
    pub parked_workers: usize,
    /// Timers registered and not yet removed.
    pub timers: usize,
    /// Times any worker woke up from parking since the runtime started.
    pub worker_unparks: u64,
    /// Tasks each worker has polled since the runtime started, by worker index: how the work
    /// spread over the workers.
    pub worker_polls: Vec<u64>,
    /// Times any worker took tasks from another worker's queue since the runtime started
    /// (one count per batch taken).
    pub worker_steals: u64,
    /// Times a worker parked to watch lone tasks since the runtime started: a task queued on a
    /// busy worker with nothing else queued wakes nobody, and one parked worker looks at it
    /// every 0.1–1.6 ms instead, in case the busy worker is stuck in a long poll.
    pub worker_watches: u64,
}

impl Handle {
    /// The runtime this code runs in (a worker, or a thread in `block_on`/`enter`).
    ///
    /// # Panics
    /// Outside any runtime; see [`try_current`](Handle::try_current).
    pub fn current() -> Handle {
        Handle::try_current().expect("rycos: not inside a runtime (use Handle::try_current, or rycos::spawn to use the default runtime)")
    }

    /// The runtime this code runs in, if any.
    pub fn try_current() -> Option<Handle> {
        context::current_handle()
    }

    /// The runtime's pool for blocking calls, started on first use.
    pub(crate) fn blocking_pool(&self) -> &rycos_pool::ThreadPool {
        self.shared.blocking.get_or_init(|| {
            rycos_pool::ThreadPool::builder().max_threads(512).thread_name("rycos-blocking").build()
        })
    }

    /// The current runtime, or the default one (started on first use) in a program that has
    /// not built a runtime of its own (see "Which runtime" in the module docs).
    ///
    /// # Panics
    /// Outside any runtime in a program that has built one.
    #[track_caller]
    pub(crate) fn current_or_default() -> Handle {
        match Handle::try_current_or_default() {
            Ok(handle) => handle,
            Err(e) => panic!("{e}"),
        }
    }

    /// Like `current_or_default`, with the mistake as an error (for calls that return one).
    pub(crate) fn try_current_or_default() -> Result<Handle, NoRuntime> {
        if let Some(handle) = Handle::try_current() {
            return Ok(handle);
        }
        if OWN_RUNTIME_BUILT.load(Relaxed) {
            return Err(NoRuntime);
        }
        Ok(default_runtime().handle.clone())
    }

    /// Spawns a future as a task. If the runtime has shut down, the future is dropped and the
    /// handle resolves to a cancelled [`JoinError`](crate::JoinError); see also
    /// [`try_spawn`](Handle::try_spawn).
    #[track_caller]
    #[inline]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_with(future, &TaskOptions::default()).unwrap_or_else(|handle| handle)
    }

    /// Spawns a future, or fails if the runtime has shut down.
    #[track_caller]
    pub fn try_spawn<F>(&self, future: F) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_with(future, &TaskOptions::default()).map_err(|_| SpawnError::shutdown())
    }

    #[track_caller]
    #[inline]
    pub(crate) fn spawn_with<F>(
        &self,
        future: F,
        options: &TaskOptions,
    ) -> Result<JoinHandle<F::Output>, JoinHandle<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let spawned = self.spawn_raw(
            future,
            (),
            Spawn { join: true, handles: 0, options, location: std::panic::Location::caller() },
        );
        // SAFETY: spawned with `join = true` and this output type.
        let handle = unsafe { spawned.task.join_handle::<F::Output>() };
        if spawned.accepted { Ok(handle) } else { Err(handle) }
    }

    /// Spawns a raw task: the body and the mailbox slot the layer above made (see
    /// `Shared::spawn`).
    #[inline]
    pub(crate) fn spawn_raw<T: TaskBody, M: MailboxSlot>(
        &self,
        body: T,
        mailbox: M,
        spec: Spawn<'_>,
    ) -> Spawned {
        Shared::spawn(&self.shared, body, mailbox, spec)
    }

    /// Runs `future` to completion on the current thread; see [`Runtime::block_on`].
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        assert_not_worker("block_on");
        let _enter = context::enter(self.clone());
        block_on_unchecked(future)
    }

    /// Counters describing the runtime right now.
    pub fn metrics(&self) -> RuntimeMetrics {
        let shared = &self.shared;
        RuntimeMetrics {
            workers: shared.num_workers(),
            live_tasks: shared.live_tasks(),
            non_daemon_tasks: shared.non_daemon_count(),
            global_queue_depth: shared.inject.len(),
            local_queue_depth: shared.workers.iter().map(|r| r.stealer.len()).sum(),
            parked_workers: shared.idle.num_parked(),
            timers: shared.driver.timers.len(),
            worker_unparks: shared.total(|activity| &activity.unparks),
            worker_polls: shared.workers.iter().map(|r| r.activity.polls.load(Relaxed)).collect(),
            worker_steals: shared.total(|activity| &activity.steals),
            worker_watches: shared.total(|activity| &activity.watches),
        }
    }

    /// Makes this runtime the current one on this thread until the guard drops, so that
    /// [`crate::spawn`], sockets and timers use it (what [`Runtime::enter`] does, for code that
    /// holds only a handle).
    pub fn enter(&self) -> EnterGuard {
        context::enter(self.clone())
    }

    /// True if both handles refer to the same runtime.
    pub fn same_runtime(&self, other: &Handle) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.metrics();
        f.debug_struct("Runtime")
            .field("workers", &m.workers)
            .field("live_tasks", &m.live_tasks)
            .field("global_queue_depth", &m.global_queue_depth)
            .field("local_queue_depth", &m.local_queue_depth)
            .field("parked_workers", &m.parked_workers)
            .finish()
    }
}

fn assert_not_worker(what: &str) {
    if context::is_worker_thread() {
        panic!(
            "rycos: `{what}` was called on a runtime worker thread. Blocking a worker can deadlock \
             the runtime; `.await` instead, or call it from a plain thread (std::thread::spawn)."
        );
    }
}

/// Blocks the current (non-worker) thread until `future` completes.
pub(crate) fn block_on_current_thread<F: Future>(future: F) -> F::Output {
    assert_not_worker("join_blocking");
    block_on_unchecked(future)
}

fn block_on_unchecked<F: Future>(future: F) -> F::Output {
    let parker = park::Parker::new();
    let waker = std::task::Waker::from(std::sync::Arc::new(parker.unparker()));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        parker.park(None);
    }
}

/// Set by the first runtime the program builds itself: from then on the default runtime is
/// not used (see "Which runtime" in the module docs).
pub(super) static OWN_RUNTIME_BUILT: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// A call needed a runtime outside any, in a program that has built its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NoRuntime;

impl fmt::Display for NoRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "rycos: called outside any runtime in a program that has built its own rycos::Runtime, \
             so the default runtime is not used (it would start a second, hidden one). Call this \
             inside the runtime (`rt.block_on(..)`, or a task), after `let _guard = rt.enter();`, \
             or through its handle (`rt.handle().spawn(..)`, `task::Builder::on`).",
        )
    }
}

impl std::error::Error for NoRuntime {}

impl From<NoRuntime> for std::io::Error {
    fn from(e: NoRuntime) -> Self {
        std::io::Error::other(e)
    }
}

/// The runtime `rycos::spawn` uses outside any other runtime (pycos's implicit scheduler), in a
/// program that has not built one of its own.
///
/// # Panics
/// In a program that has built its own runtime.
#[track_caller]
pub(crate) fn default_runtime() -> &'static Runtime {
    if OWN_RUNTIME_BUILT.load(Relaxed) {
        panic!("{NoRuntime}");
    }
    static DEFAULT: OnceLock<Runtime> = OnceLock::new();
    DEFAULT.get_or_init(|| {
        Builder::new()
            .thread_name("rycos-default")
            .start()
            .expect("rycos: could not start the default runtime's worker threads")
    })
}
