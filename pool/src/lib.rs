//! `rycos-pool`: a blocking thread pool whose jobs complete as futures.
//!
//! Blocking calls — file reads, DNS lookups, database drivers, a `Mutex` held across I/O — would
//! stall an async runtime's workers. Send them here instead: [`ThreadPool::spawn`] runs a
//! closure on one of the pool's threads and returns a [`Completion`], a plain `Future` that
//! works under any executor (rycos, tokio, `futures::executor::block_on`), or that a plain
//! thread can [`wait`](Completion::wait) for.
//!
//! ```
//! let pool = rycos_pool::ThreadPool::builder().max_threads(4).build();
//! let sum = pool.spawn(|| (1..=100u64).sum::<u64>());
//! let text = pool.spawn(|| std::fs::read_to_string("/nonexistent").is_err());
//! assert_eq!(sum.wait().unwrap(), 5050);
//! assert!(text.wait().unwrap());
//! ```
//!
//! The pool grows up to `max_threads` while jobs wait, and threads above `min_threads` exit
//! after `idle_timeout` without work. If the OS refuses a new thread, the pool lowers its limit
//! to what it has and goes on; no job is lost or left waiting forever. A job that panics fails
//! its completion with [`JobError::Panicked`]; the thread goes on. Dropping a completion before
//! its job has started skips the job.

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

mod completion;
mod error;
mod pool;

pub use completion::{Completer, Completion, completion};
pub use error::JobError;
pub use pool::{Builder, ShutdownReport, ThreadPool};
