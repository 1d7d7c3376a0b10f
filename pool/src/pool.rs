//! The pool: a FIFO of jobs under a mutex, worker threads that wait on a condition variable.
//!
//! A new job wakes an idle thread if there is one, else starts a thread if the limit allows;
//! a thread that finds the queue empty waits `idle_timeout` for more before exiting (down to
//! `min_threads`). Before sleeping, one thread at a time spins briefly: under a steady stream
//! of short jobs that saves a futex sleep and wake per job.

use crate::completion::{Completer, Completion, completion};
use crate::error::JobError;
use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A queued job: called with `None` it runs, with `Some(error)` it fails its completion unrun.
type Job = Box<dyn FnOnce(Option<JobError>) + Send>;

/// Starts an OS thread; replaceable to simulate failures in tests.
type ThreadStarter =
    Arc<dyn Fn(std::thread::Builder, Box<dyn FnOnce() + Send>) -> io::Result<()> + Send + Sync>;

/// Options of a [`ThreadPool`].
#[derive(Clone)]
pub struct Builder {
    min_threads: usize,
    max_threads: usize,
    idle_timeout: Duration,
    name: String,
    starter: Option<ThreadStarter>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            min_threads: 0,
            max_threads: 512,
            idle_timeout: Duration::from_secs(10),
            name: "rycos-pool".into(),
            starter: None,
        }
    }
}

impl Builder {
    /// Threads kept even when idle (default 0).
    pub fn min_threads(mut self, n: usize) -> Self {
        self.min_threads = n;
        self
    }

    /// Most threads at once (default 512, at least 1).
    pub fn max_threads(mut self, n: usize) -> Self {
        self.max_threads = n.max(1);
        self
    }

    /// How long a thread above `min_threads` waits for work before it exits (default 10 s).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Thread names: `name-0`, `name-1`, … (default `rycos-pool`).
    pub fn thread_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Replaces how threads are started (for tests that simulate the OS refusing threads).
    #[doc(hidden)]
    pub fn thread_starter(
        mut self,
        starter: impl Fn(std::thread::Builder, Box<dyn FnOnce() + Send>) -> io::Result<()> + Send + Sync + 'static,
    ) -> Self {
        self.starter = Some(Arc::new(starter));
        self
    }

    /// Builds the pool and starts its `min_threads` threads.
    pub fn build(self) -> ThreadPool {
        let min_threads = self.min_threads.min(self.max_threads);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                threads: 0,
                idle: 0,
                running: 0,
                limit: self.max_threads,
                shutdown: false,
            }),
            work: Condvar::new(),
            quiet: Condvar::new(),
            queued: AtomicUsize::new(0),
            spinning: AtomicBool::new(false),
            next_thread: AtomicUsize::new(0),
            config: Config { min_threads, idle_timeout: self.idle_timeout, name: self.name },
            starter: self.starter.unwrap_or_else(|| Arc::new(|builder, body| builder.spawn(body).map(drop))),
        });
        {
            let mut state = shared.lock();
            for _ in 0..min_threads {
                if shared.start_thread(&mut state).is_err() {
                    break;
                }
            }
        }
        ThreadPool { shared }
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("min_threads", &self.min_threads)
            .field("max_threads", &self.max_threads)
            .field("idle_timeout", &self.idle_timeout)
            .field("name", &self.name)
            .finish()
    }
}

struct Config {
    min_threads: usize,
    idle_timeout: Duration,
    name: String,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled when a job is queued or the pool shuts down.
    work: Condvar,
    /// Signalled when the pool runs out of work (`join`) or of threads (`shutdown`).
    quiet: Condvar,
    /// Queue length, readable without the lock (spinning threads look at it).
    queued: AtomicUsize,
    /// A thread is spinning for work.
    spinning: AtomicBool,
    next_thread: AtomicUsize,
    config: Config,
    starter: ThreadStarter,
}

struct State {
    queue: VecDeque<Job>,
    threads: usize,
    idle: usize,
    running: usize,
    /// Most threads at once; lowered when the OS refuses one.
    limit: usize,
    shutdown: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Jobs run outside the lock, so no user code can poison it; recover anyway.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts one more thread; on failure the limit drops to the threads there are.
    fn start_thread(self: &Arc<Self>, state: &mut State) -> io::Result<()> {
        let index = self.next_thread.fetch_add(1, Ordering::Relaxed);
        let builder = std::thread::Builder::new().name(format!("{}-{index}", self.config.name));
        let shared = self.clone();
        match (self.starter)(builder, Box::new(move || shared.run_thread())) {
            Ok(()) => {
                state.threads += 1;
                Ok(())
            }
            Err(e) => {
                state.limit = state.threads.max(1);
                Err(e)
            }
        }
    }

    fn run_thread(self: Arc<Self>) {
        let mut state = self.lock();
        loop {
            if let Some(job) = state.queue.pop_front() {
                self.queued.store(state.queue.len(), Ordering::Relaxed);
                state.running += 1;
                drop(state);
                job(None);
                state = self.lock();
                state.running -= 1;
                if state.queue.is_empty() && state.running == 0 {
                    self.quiet.notify_all();
                }
                continue;
            }
            if state.shutdown {
                break;
            }
            // Spin a little before sleeping: the next job is often just behind.
            drop(state);
            let spun = self.spin_for_work();
            state = self.lock();
            if spun {
                continue;
            }
            state.idle += 1;
            let (next, timeout) = self
                .work
                .wait_timeout_while(state, self.config.idle_timeout, |s| s.queue.is_empty() && !s.shutdown)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            state = next;
            state.idle -= 1;
            if timeout.timed_out() && state.queue.is_empty() && state.threads > self.config.min_threads {
                break;
            }
        }
        state.threads -= 1;
        if state.threads == 0 {
            self.quiet.notify_all();
        }
    }

    /// Spins for a few microseconds; true if a job appeared. Only one thread spins at a time:
    /// with hundreds of threads on a few cores, spinners would take the CPU from the very
    /// threads that queue and run the jobs.
    fn spin_for_work(&self) -> bool {
        if self.spinning.swap(true, Ordering::Acquire) {
            return false;
        }
        let start = Instant::now();
        let mut found = false;
        while start.elapsed() < Duration::from_micros(20) {
            if self.queued.load(Ordering::Relaxed) > 0 {
                found = true;
                break;
            }
            std::hint::spin_loop();
        }
        self.spinning.store(false, Ordering::Release);
        found
    }
}

/// A pool of threads for blocking work. Cloning gives another handle to the same pool.
///
/// ```
/// # futures::executor::block_on(async {
/// let pool = rycos_pool::ThreadPool::builder().thread_name("io").build();
/// let len = pool.spawn(|| std::fs::metadata("Cargo.toml").map(|m| m.len()));
/// assert!(len.await.unwrap().unwrap() > 0);
/// pool.join();
/// assert_eq!(pool.queued(), 0);
/// # });
/// ```
#[derive(Clone)]
pub struct ThreadPool {
    shared: Arc<Shared>,
}

/// What [`ThreadPool::shutdown`] could not finish in time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Queued jobs that never started; their completions failed with [`JobError::Shutdown`].
    pub cancelled: usize,
    /// Jobs still running when the timeout passed (they finish in the background).
    pub still_running: usize,
}

impl ShutdownReport {
    /// True if every job finished in time.
    pub fn is_clean(&self) -> bool {
        self.cancelled == 0 && self.still_running == 0
    }
}

impl ThreadPool {
    /// Options for a new pool.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// A pool of at most `max_threads` threads, with the default options otherwise.
    pub fn new(max_threads: usize) -> ThreadPool {
        ThreadPool::builder().max_threads(max_threads).build()
    }

    /// Runs `job` on a pool thread; its result arrives through the returned [`Completion`].
    pub fn spawn<T, F>(&self, job: F) -> Completion<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (completer, completion) = completion();
        self.spawn_with(completer, job);
        completion
    }

    /// Runs `job` and hands its outcome to `completer` (for completions made elsewhere).
    pub fn spawn_with<T, F>(&self, completer: Completer<T>, job: F)
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let run: Job = Box::new(move |refused: Option<JobError>| {
            if let Some(error) = refused {
                return completer.complete(Err(error));
            }
            if !completer.start() {
                return; // the completion was dropped: skip the job
            }
            let outcome = catch_unwind(AssertUnwindSafe(job)).map_err(JobError::Panicked);
            completer.complete(outcome);
        });
        let shared = &self.shared;
        let mut state = shared.lock();
        if state.shutdown {
            drop(state);
            return run(Some(JobError::Shutdown));
        }
        state.queue.push_back(run);
        shared.queued.store(state.queue.len(), Ordering::Relaxed);
        // Every thread not running a job (asleep, or spinning) takes one queued job; a thread
        // woken from sleep counts as asleep until it has the lock again, so jobs queued before
        // it wakes must not all count on it (they did: eight jobs queued behind one waking
        // thread waited forever for each other). More jobs than free threads: start one.
        let free = state.threads - state.running;
        let mut refused = None;
        if state.threads < state.limit
            && state.queue.len() > free
            && let Err(e) = shared.start_thread(&mut state)
            && state.threads == 0
        {
            // Nobody can run it: fail it rather than leave it waiting forever. (Refused with
            // threads left, they will get to it: the limit came down.)
            refused = Some((state.queue.pop_back().expect("queued above"), e));
            shared.queued.store(state.queue.len(), Ordering::Relaxed);
        }
        let wake_a_sleeper = state.idle > 0;
        drop(state);
        if wake_a_sleeper {
            shared.work.notify_one();
        }
        if let Some((job, e)) = refused {
            job(Some(JobError::NoThreads(e)));
        }
    }

    /// Blocks until every queued and running job has finished.
    pub fn join(&self) {
        let shared = &self.shared;
        let state = shared.lock();
        let _quiet = shared
            .quiet
            .wait_while(state, |s| !(s.queue.is_empty() && s.running == 0))
            .unwrap_or_else(|poisoned| poisoned.into_inner());
    }

    /// Stops taking jobs and returns at once; the threads finish what is queued, then exit.
    pub fn close(&self) {
        self.shared.lock().shutdown = true;
        self.shared.work.notify_all();
    }

    /// Stops taking jobs, lets the threads finish what is queued, and waits at most `timeout`
    /// for them to exit. Jobs still queued then are cancelled (their completions fail with
    /// [`JobError::Shutdown`]); running ones are reported.
    pub fn shutdown(&self, timeout: Duration) -> ShutdownReport {
        let shared = &self.shared;
        let mut state = shared.lock();
        state.shutdown = true;
        shared.work.notify_all();
        let deadline = Instant::now() + timeout;
        while state.threads > 0 && !(state.queue.is_empty() && state.running == 0) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = shared.quiet.wait_timeout(state, left).unwrap_or_else(|poisoned| poisoned.into_inner()).0;
        }
        let cancelled: Vec<Job> = state.queue.drain(..).collect();
        shared.queued.store(0, Ordering::Relaxed);
        let report = ShutdownReport { cancelled: cancelled.len(), still_running: state.running };
        drop(state);
        for job in cancelled {
            job(Some(JobError::Shutdown));
        }
        report
    }

    /// Jobs waiting for a thread.
    pub fn queued(&self) -> usize {
        self.shared.lock().queue.len()
    }

    /// Threads alive.
    pub fn threads(&self) -> usize {
        self.shared.lock().threads
    }

    /// Threads waiting for work.
    pub fn idle_threads(&self) -> usize {
        self.shared.lock().idle
    }

    /// Jobs running right now.
    pub fn running(&self) -> usize {
        self.shared.lock().running
    }

    /// The current thread limit (lower than configured after the OS refused a thread).
    pub fn max_threads(&self) -> usize {
        self.shared.lock().limit
    }
}

impl fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.lock();
        f.debug_struct("ThreadPool")
            .field("threads", &state.threads)
            .field("idle", &state.idle)
            .field("running", &state.running)
            .field("queued", &state.queue.len())
            .field("limit", &state.limit)
            .finish()
    }
}
