//! Configuring and starting a [`Runtime`].

use super::park::Parker;
use super::queue::Local;
use super::shared::{Activity, Shared, WorkerShared};
use super::{Config, Handle, Runtime, worker};
use crate::loom::sync::Arc;
use crate::loom::thread;
use crossbeam_utils::CachePadded;
use std::fmt;

/// Builds a [`Runtime`].
///
/// ```
/// let rt = rycos::Runtime::builder()
///     .worker_threads(2)
///     .thread_name("my-app")
///     .build()
///     .unwrap();
/// assert_eq!(rt.metrics().workers, 2);
/// ```
pub struct Builder {
    worker_threads: Option<usize>,
    thread_name: std::sync::Arc<dyn Fn(usize) -> String + Send + Sync>,
    stack_size: Option<usize>,
    global_queue_interval: u32,
    event_interval: u32,
    lifo_slot: bool,
    pin_workers: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// Defaults: one worker per core, threads named `rycos-worker-N`.
    pub fn new() -> Builder {
        Builder {
            worker_threads: None,
            thread_name: std::sync::Arc::new(|i| format!("rycos-worker-{i}")),
            stack_size: None,
            global_queue_interval: 61,
            event_interval: 61,
            lifo_slot: true,
            pin_workers: false,
        }
    }

    /// Number of worker threads (at least 1). Default: the number of cores.
    pub fn worker_threads(mut self, n: usize) -> Builder {
        assert!(n > 0, "a runtime needs at least one worker thread");
        self.worker_threads = Some(n);
        self
    }

    /// Names the worker threads `{prefix}-N`.
    pub fn thread_name(mut self, prefix: impl Into<String>) -> Builder {
        let prefix = prefix.into();
        self.thread_name = std::sync::Arc::new(move |i| format!("{prefix}-{i}"));
        self
    }

    /// Names worker thread `i` with `name(i)`.
    pub fn thread_name_fn(mut self, name: impl Fn(usize) -> String + Send + Sync + 'static) -> Builder {
        self.thread_name = std::sync::Arc::new(name);
        self
    }

    /// Stack size of the worker threads, in bytes.
    pub fn thread_stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = Some(bytes);
        self
    }

    /// How many polls a worker makes between looks at the global queue (default 61).
    pub fn global_queue_interval(mut self, ticks: u32) -> Builder {
        assert!(ticks > 0, "global_queue_interval must be positive");
        self.global_queue_interval = ticks;
        self
    }

    /// How many polls a worker makes between checks for due timers (default 61).
    pub fn event_interval(mut self, ticks: u32) -> Builder {
        assert!(ticks > 0, "event_interval must be positive");
        self.event_interval = ticks;
        self
    }

    /// Whether a task woken by a worker runs next on that worker (default true). Turning it
    /// off makes scheduling strictly FIFO at the cost of message-passing latency.
    pub fn lifo_slot(mut self, enabled: bool) -> Builder {
        self.lifo_slot = enabled;
        self
    }

    /// Pins worker `i` to the `i`-th CPU this process may run on (wrapping around when there
    /// are more workers than CPUs). Default: off; the operating system places the workers.
    ///
    /// Pinning keeps the workers spread over the cores: without it, Linux can run two busy
    /// workers on one core for tens of milliseconds while another core idles (measured in
    /// docs/bench-history.md). Leave it off when the machine runs other busy programs: a pinned
    /// worker cannot move away from a loaded core.
    ///
    /// ```
    /// let rt = rycos::Runtime::builder().worker_threads(2).pin_workers(true).build().unwrap();
    /// assert_eq!(rt.block_on(async { rycos::spawn(async { 6 * 7 }).await.unwrap() }), 42);
    /// ```
    pub fn pin_workers(mut self, enabled: bool) -> Builder {
        self.pin_workers = enabled;
        self
    }

    /// Starts the worker threads.
    ///
    /// From then on, code running outside any runtime no longer falls back on the default
    /// runtime: see [`Handle::try_current`] and the crate docs ("Which runtime").
    pub fn build(self) -> std::io::Result<Runtime> {
        let runtime = self.start()?;
        super::OWN_RUNTIME_BUILT.store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(runtime)
    }

    /// Starts the runtime (the default runtime starts this way too, without counting as the
    /// program's own).
    pub(super) fn start(self) -> std::io::Result<Runtime> {
        let workers = self
            .worker_threads
            .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
        let cpus = if self.pin_workers { super::affinity::allowed_cpus()? } else { Vec::new() };
        #[cfg(not(loom))]
        let reactor = std::sync::Arc::new(crate::runtime::driver::io::Reactor::new()?);
        #[cfg(not(loom))]
        let new_parker = || Parker::with_reactor(reactor.clone());
        #[cfg(loom)]
        let new_parker = Parker::new;
        let locals: Vec<(Local, Parker)> = (0..workers).map(|_| (Local::new(), new_parker())).collect();
        let shared_parts = locals
            .iter()
            .map(|(local, parker)| {
                CachePadded::new(WorkerShared {
                    stealer: local.stealer(),
                    unparker: parker.unparker(),
                    activity: CachePadded::new(Activity::default()),
                })
            })
            .collect();
        let config = Config {
            global_queue_interval: self.global_queue_interval,
            event_interval: self.event_interval,
            lifo_slot: self.lifo_slot,
        };
        let driver = super::driver::Driver::new(
            #[cfg(not(loom))]
            reactor,
        );
        let shared = Arc::new(Shared::new(shared_parts, config, driver));
        let handle = Handle { shared: shared.clone() };
        let mut threads = Vec::with_capacity(workers);
        for (index, (local, parker)) in locals.into_iter().enumerate() {
            let worker_shared = shared.clone();
            let mut builder = thread::Builder::new().name((self.thread_name)(index));
            if let Some(size) = self.stack_size {
                builder = builder.stack_size(size);
            }
            let cpu = (!cpus.is_empty()).then(|| cpus[index % cpus.len()]);
            let body = move || {
                if let Some(cpu) = cpu {
                    // Fails only if the CPU went offline since `allowed_cpus`; the worker then
                    // runs wherever the system puts it, which is still correct.
                    let _ = super::affinity::pin_current_thread(cpu);
                }
                worker::run(worker_shared, index, local, parker)
            };
            match builder.spawn(body) {
                Ok(thread) => threads.push(thread),
                Err(e) => {
                    // Stop the workers already started; the runtime never existed.
                    shared.begin_shutdown();
                    for thread in threads {
                        let _ = thread.join();
                    }
                    return Err(e);
                }
            }
        }
        Ok(Runtime::from_parts(handle, threads))
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("worker_threads", &self.worker_threads)
            .field("stack_size", &self.stack_size)
            .field("global_queue_interval", &self.global_queue_interval)
            .field("event_interval", &self.event_interval)
            .field("lifo_slot", &self.lifo_slot)
            .field("pin_workers", &self.pin_workers)
            .finish()
    }
}
