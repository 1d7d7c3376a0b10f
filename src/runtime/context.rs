//! Thread-locals that tell runtime code where it is running: on a worker of some runtime, or on
//! a thread that entered a runtime (`block_on`, `Runtime::enter`), or neither.

use super::Handle;
use super::worker::Worker;
use std::cell::{Cell, RefCell};

crate::loom::thread_local! {
    /// The worker running on this thread, for its whole life.
    static WORKER: Cell<*const Worker> = Cell::new(std::ptr::null());
}

crate::loom::thread_local! {
    /// The runtime a non-worker thread has entered.
    static ENTERED: RefCell<Option<Handle>> = RefCell::new(None);
}

/// Runs `f` with this thread's worker, if it is one.
pub(crate) fn with_worker<R>(f: impl FnOnce(Option<&Worker>) -> R) -> R {
    let ptr = WORKER.try_with(|w| w.get()).unwrap_or(std::ptr::null());
    // SAFETY: the pointer is set by `set_worker` (from `worker::run`) for the lifetime of the worker, which outlives
    // every call made on its thread, and cleared before the worker is dropped.
    f(unsafe { ptr.as_ref() })
}

/// Clears the worker pointer when the worker loop ends (or unwinds).
pub(crate) struct WorkerGuard(());

pub(crate) fn set_worker(worker: &Worker) -> WorkerGuard {
    WORKER.with(|w| w.set(worker));
    WorkerGuard(())
}

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        let _ = WORKER.try_with(|w| w.set(std::ptr::null()));
    }
}

pub(crate) fn is_worker_thread() -> bool {
    with_worker(|w| w.is_some())
}

/// The runtime this thread belongs to or has entered.
pub(crate) fn current_handle() -> Option<Handle> {
    if let Some(handle) = with_worker(|w| w.map(|w| w.handle())) {
        return Some(handle);
    }
    ENTERED.try_with(|e| e.borrow().clone()).ok().flatten()
}

/// Restores the previously entered runtime when dropped; see [`Runtime::enter`](super::Runtime::enter).
#[derive(Debug)]
#[must_use = "the runtime is only entered while the guard lives"]
pub struct EnterGuard {
    previous: Option<Handle>,
    _not_send: std::marker::PhantomData<*const ()>,
}

pub(crate) fn enter(handle: Handle) -> EnterGuard {
    let previous = ENTERED.with(|e| e.borrow_mut().replace(handle));
    EnterGuard { previous, _not_send: std::marker::PhantomData }
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        let _ = ENTERED.try_with(|e| *e.borrow_mut() = previous);
    }
}
