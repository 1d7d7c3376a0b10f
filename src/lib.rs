//! # rycos — concurrent, asynchronous, communicating tasks
//!
//! rycos is the Rust successor of the Python framework [pycos] (formerly asyncoro). Programs
//! read like threaded code — `.await` where pycos writes `yield` — but run as cheap tasks on a
//! multi-threaded, work-stealing runtime. Tasks exchange messages through per-task mailboxes
//! and named channels, watch each other with monitors, wait on timers, sockets and locks, and
//! hand blocking or CPU-heavy work to a thread pool.
//!
//! ```
//! use std::time::Duration;
//!
//! // A server task with a mailbox (pycos: a generator function with `task=None`).
//! let rt = rycos::Runtime::new().unwrap();
//! rt.block_on(async {
//!     let server = rycos::spawn_task(|cx: rycos::Cx<(u32, rycos::TaskRef<u32>)>| async move {
//!         while let Some((n, client)) = cx.receive().await {   // msg = yield task.receive()
//!             let _ = client.send(n * 2);                      // client.send(...)
//!         }
//!     });
//!     let (_, client) = rycos::spawn_task_joinable(move |cx: rycos::Cx<u32>| async move {
//!         let mut total = 0;
//!         for n in 0..5 {
//!             server.send((n, cx.me())).unwrap();
//!             total += cx.receive_timeout(Duration::from_secs(5)).await.unwrap();
//!         }
//!         total
//!     });
//!     assert_eq!(client.await.unwrap(), 20);
//! });
//! ```
//!
//! | pycos | rycos |
//! |---|---|
//! | `Task(gen, *args)` | [`spawn_task`] (`TaskRef<M>`), [`spawn`] (`JoinHandle<T>`) |
//! | `task.send(m)` / `deliver(m, timeout)` | [`TaskRef::send`] / [`TaskRef::deliver`] |
//! | `yield task.receive(timeout)` | [`Cx::receive`], [`Cx::receive_timeout`], [`Cx::try_receive`] |
//! | `CategorizeMessages` | [`Cx::receive_matching`] |
//! | `yield task.sleep(t)` | [`time::sleep`] |
//! | `suspend` / `resume` | [`Cx::suspend`] / [`AnyTaskRef::resume`] |
//! | `terminate` / `is_alive` / `set_daemon` | [`AnyTaskRef::terminate`] / `is_alive` / `set_daemon` |
//! | `monitor` / `MonitorStatus` | [`Cx::monitor`] / [`Exit`] |
//! | `value()` / `finish()` | [`JoinHandle::join_blocking`] / `.await` |
//! | `Pycos.cur_task()` | [`current`] |
//! | `Pycos().join()` | [`join`], [`Runtime::join`] |
//! | `Lock`, `RLock`, `Semaphore`, `Event`, `Condition` | [`sync`] |
//! | `register` / `Task.locate` | [`TaskRef::register`] / [`locate`] |
//! | `Channel` | [`channel::Channel`] |
//! | `hot_swappable` / `hot_swap` | [`Cx::hot_swappable`] / [`TaskRef::hot_swap`] |
//! | `AsyncThreadPool` | [`AsyncThreadPool`], [`blocking`], [`compute`] |
//! | `AsyncFile` / `AsyncPipe` | [`fs::File`] / [`process`] |
//!
//!
//! ## Cargo features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `tls` | on | [`tls`]: TLS streams over rustls (ring) |
//! | `compute` | on | [`compute`] / [`compute_in`]: CPU-heavy work on rayon's pool |
//! | `dist` | on | [`dist`]: the wire layer of the coming distribution — the authenticated handshake and frames |
//!
//! With `default-features = false` you get the runtime, tasks, mailboxes, monitors, names,
//! channels, sync primitives, timers, TCP/UDP/Unix sockets, files, pipes and the blocking pool.
//!
//! [pycos]: https://pycos.org

#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms,
    clippy::undocumented_unsafe_blocks
)]
#![deny(unsafe_op_in_unsafe_fn)]

mod blocking;
pub mod channel;
mod coop;
#[cfg(all(feature = "dist", not(loom)))]
pub mod dist;
mod error;
#[cfg(not(loom))]
pub mod fs;
#[cfg(not(loom))]
pub mod io;
pub(crate) mod loom;
pub mod monitor;
#[cfg(not(loom))]
pub mod net;
#[cfg(not(loom))]
pub mod process;
mod registry;
pub mod runtime;
pub mod sync;
pub mod task;
pub mod time;
#[cfg(all(feature = "tls", not(loom)))]
pub mod tls;

pub use blocking::{AsyncThreadPool, blocking};
#[cfg(feature = "compute")]
pub use blocking::{compute, compute_in};
pub use error::{DeliverError, RecvError, SendError, SpawnError, TryRecvError};
pub use monitor::{Exit, ExitReason, ExitValue, MonitorRef};
pub use registry::{LocateError, RegisterError, locate};
pub use runtime::{Handle, Runtime};
pub use task::{
    AnyTaskRef, Cx, JoinError, JoinHandle, NodeId, Received, TaskAddr, TaskId, TaskRef, current, yield_now,
};

/// The blocking thread pool crate ([`rycos_pool`]): `ThreadPool`, `Completion`, `JobError`.
pub use rycos_pool as pool;

use std::future::Future;

/// Spawns a future as a task on the current runtime (or the default one, started on first
/// use) and returns a handle to its result.
///
/// # Panics
/// Outside any runtime in a program that has built its own (see "Which runtime" in
/// [`runtime`]).
///
/// ```
/// let rt = rycos::Runtime::new().unwrap();
/// let handle = rt.block_on(async { rycos::spawn(async { "done" }) });
/// assert_eq!(handle.join_blocking().unwrap(), "done");
/// ```
#[track_caller]
#[inline]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    Handle::current_or_default().spawn(future)
}

/// Spawns a task with a mailbox of `M` messages (pycos `Task`). `start` runs in the new task
/// and gets the task's [`Cx`], through which it receives; the returned [`TaskRef`] sends to it.
#[track_caller]
pub fn spawn_task<M, F>(start: F) -> TaskRef<M>
where
    M: Send + 'static,
    F: task::TaskFn<M>,
{
    Handle::current_or_default().spawn_task(start)
}

/// Like [`spawn_task`], also returning a handle to the task's result.
#[track_caller]
pub fn spawn_task_joinable<M, F>(start: F) -> (TaskRef<M>, JoinHandle<task::TaskOutput<M, F>>)
where
    M: Send + 'static,
    F: task::TaskFn<M>,
{
    task::Builder::new().spawn_task_joinable(start)
}

/// Runs `future` to completion on this thread, on the current runtime or the default one.
///
/// # Panics
/// On a runtime worker thread; `.await` there instead.
#[track_caller]
pub fn block_on<F: Future>(future: F) -> F::Output {
    Handle::current_or_default().block_on(future)
}

/// Waits until every non-daemon task of the default runtime has ended (pycos
/// `Pycos().join()`).
///
/// # Panics
/// On a runtime worker thread.
#[track_caller]
pub fn join() {
    runtime::default_runtime().join();
}
