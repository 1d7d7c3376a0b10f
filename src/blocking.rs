//! Blocking and CPU-heavy work off the workers (pycos `AsyncThreadPool`).
//!
//! - [`blocking`] runs a blocking closure on the runtime's own thread pool (started on first
//!   use, up to 512 threads, idle ones exit after 10 s).
//! - [`AsyncThreadPool`] is a dedicated pool, for pycos users who size their own.
//! - `compute` runs CPU-heavy work on rayon's pool, whose threads match the cores (feature
//!   `compute`, on by default).
//!
//! All three return a [`Completion`]: `.await` it for `Result<T, JobError>` (`Err` if the
//! closure panicked). Dropping it before the job starts skips the job.

use crate::runtime::Handle;
use rycos_pool::{Completion, ThreadPool};
#[cfg(feature = "compute")]
use rycos_pool::{JobError, completion};
#[cfg(feature = "compute")]
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

/// Runs `f` on the current runtime's blocking pool (or the default runtime's).
///
/// ```
/// let rt = rycos::Runtime::new().unwrap();
/// let size = rt.block_on(async {
///     rycos::blocking(|| std::fs::metadata("Cargo.toml").map(|m| m.len())).await
/// });
/// assert!(size.unwrap().unwrap() > 0);
/// ```
pub fn blocking<T, F>(f: F) -> Completion<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Handle::current_or_default().blocking_pool().spawn(f)
}

#[cfg(feature = "compute")]
/// Runs CPU-heavy `f` on rayon's global pool; the task waits without holding a worker.
///
/// ```
/// let rt = rycos::Runtime::new().unwrap();
/// let primes = rt.block_on(rycos::compute(|| (2..10_000u32).filter(|n| (2..*n).take_while(|d| d * d <= *n).all(|d| n % d != 0)).count()));
/// assert_eq!(primes.unwrap(), 1229);
/// ```
pub fn compute<T, F>(f: F) -> Completion<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let (completer, completion) = completion();
    rayon::spawn(move || run_to(completer, f));
    completion
}

#[cfg(feature = "compute")]
/// Like [`compute`], on the given rayon pool.
pub fn compute_in<T, F>(pool: &rayon::ThreadPool, f: F) -> Completion<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let (completer, completion) = completion();
    pool.spawn(move || run_to(completer, f));
    completion
}

#[cfg(feature = "compute")]
fn run_to<T, F: FnOnce() -> T>(completer: rycos_pool::Completer<T>, f: F) {
    if completer.start() {
        completer.complete(catch_unwind(AssertUnwindSafe(f)).map_err(JobError::Panicked));
    }
}

/// A dedicated pool of threads for blocking calls (pycos `AsyncThreadPool`).
///
/// ```
/// let rt = rycos::Runtime::new().unwrap();
/// rt.block_on(async {
///     let pool = rycos::AsyncThreadPool::new(4);
///     let line = pool.async_task(|| "read from a blocking source".to_uppercase()).await.unwrap();
///     assert_eq!(line, "READ FROM A BLOCKING SOURCE");
/// });
/// ```
#[derive(Debug, Clone)]
pub struct AsyncThreadPool {
    pool: ThreadPool,
}

impl AsyncThreadPool {
    /// A pool of at most `threads` threads.
    pub fn new(threads: usize) -> AsyncThreadPool {
        AsyncThreadPool {
            pool: ThreadPool::builder().max_threads(threads).thread_name("rycos-async-pool").build(),
        }
    }

    /// Runs `f` on the pool (pycos `yield pool.async_task(f, ...)`).
    pub fn async_task<T, F>(&self, f: F) -> Completion<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.pool.spawn(f)
    }

    /// Blocks until every queued job has run (from a plain thread).
    pub fn join(&self) {
        self.pool.join();
    }

    /// Stops the pool; see [`ThreadPool::shutdown`].
    pub fn shutdown(&self, timeout: Duration) -> rycos_pool::ShutdownReport {
        self.pool.shutdown(timeout)
    }

    /// The underlying pool (queue length, thread counts).
    pub fn pool(&self) -> &ThreadPool {
        &self.pool
    }
}

#[cfg(all(test, feature = "compute", not(loom)))]
mod tests {
    use rycos_pool::JobError;

    #[test]
    fn compute_returns_the_value_and_reports_a_panic() {
        let rt = crate::Runtime::new().unwrap();
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        rt.block_on(async {
            assert_eq!(super::compute(|| (1..=10u64).product::<u64>()).await.unwrap(), 3_628_800);
            assert_eq!(super::compute_in(&pool, || 6 * 7).await.unwrap(), 42);
            let failed = super::compute_in(&pool, || -> u32 { panic!("bad input") }).await;
            assert!(matches!(failed, Err(JobError::Panicked(_))), "{failed:?}");
            // The pool survived the panic.
            assert_eq!(super::compute_in(&pool, || 1 + 1).await.unwrap(), 2);
        });
    }
}
