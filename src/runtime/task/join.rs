//! Waiting for a task's result: [`JoinHandle`] and [`JoinError`].

use super::TaskId;
use super::raw::RawTask;
use std::any::Any;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

/// An owned permission to wait for a task's output (pycos `task.value()` / `finish()`).
///
/// `.await` it from a task, or call [`join_blocking`](JoinHandle::join_blocking) from a plain
/// thread. Dropping the handle detaches the task: it keeps running and its output is dropped.
///
/// ```
/// let rt = rycos::Runtime::new().unwrap();
/// let answer = rt.block_on(async {
///     let handle = rycos::spawn(async { 6 * 7 });
///     handle.await.unwrap()
/// });
/// assert_eq!(answer, 42);
/// ```
pub struct JoinHandle<T> {
    raw: RawTask,
    // `fn() -> T`: the handle hands out a `T` and never holds one; `T: Send` is required by
    // every spawn function, so the handle may be sent and shared whatever `T` is.
    _output: PhantomData<fn() -> T>,
}

impl<T> JoinHandle<T> {
    /// # Safety
    /// `raw` must be a task with output type `T` and `JOIN_INTEREST` set, and the caller hands
    /// over the reference reserved for the join handle.
    pub(crate) unsafe fn new(raw: RawTask) -> Self {
        JoinHandle { raw, _output: PhantomData }
    }

    /// The task's id.
    pub fn id(&self) -> TaskId {
        self.raw.id()
    }

    /// The task's allocation (for the actor layer's `JoinHandle::task`).
    pub(crate) fn raw(&self) -> RawTask {
        self.raw
    }

    /// True once the task has finished (its output, or its error, is ready).
    pub fn is_finished(&self) -> bool {
        self.raw.state().is_complete()
    }

    /// Cancels the task: it is dropped at its next `.await` (right away if it is waiting), its
    /// destructors run, and the handle then yields a [`JoinError`] that
    /// [`is_cancelled`](JoinError::is_cancelled). A task that already finished is unaffected.
    pub fn abort(&self) {
        self.raw.request_cancel();
    }

    /// Blocks the current thread until the task finishes (pycos `value()`).
    ///
    /// # Panics
    /// If called on a runtime worker thread, where blocking could deadlock the runtime; there,
    /// `.await` the handle instead.
    pub fn join_blocking(self) -> Result<T, JoinError> {
        crate::runtime::block_on_current_thread(self)
    }
}

impl<T> Unpin for JoinHandle<T> {}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        std::task::ready!(crate::coop::poll_proceed(cx));
        let mut out = Poll::Pending;
        // SAFETY: `out` has the type `try_read_output` writes for this task, and we are its
        // join handle (guaranteed by `new`).
        unsafe { self.raw.try_read_output((&raw mut out).cast(), cx.waker()) };
        out
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        // SAFETY: the handle's own reference, given up exactly once.
        unsafe { self.raw.drop_join_handle() }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle").field("id", &self.id()).field("finished", &self.is_finished()).finish()
    }
}

/// Why a task produced no output: it panicked, or it was cancelled (aborted, terminated or
/// dropped by runtime shutdown).
pub struct JoinError {
    id: TaskId,
    /// `None` for a cancellation. Boxed: a task's output slot is as large as its error type,
    /// and panics are rare.
    panic: Option<Box<Panic>>,
}

struct Panic {
    message: Option<String>,
    // A Mutex only to make JoinError Sync: the payload is reached by value, never shared.
    payload: Mutex<Box<dyn Any + Send>>,
}

impl JoinError {
    pub(crate) fn cancelled(id: TaskId) -> JoinError {
        JoinError { id, panic: None }
    }

    pub(crate) fn panic(id: TaskId, payload: Box<dyn Any + Send>) -> JoinError {
        let message = panic_message(&*payload);
        JoinError { id, panic: Some(Box::new(Panic { message, payload: Mutex::new(payload) })) }
    }

    /// The id of the task that failed.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// True if the task was cancelled (aborted, terminated or dropped at shutdown).
    pub fn is_cancelled(&self) -> bool {
        self.panic.is_none()
    }

    /// True if the task panicked.
    pub fn is_panic(&self) -> bool {
        self.panic.is_some()
    }

    /// The panic message, if the task panicked with a string.
    pub fn panic_message(&self) -> Option<&str> {
        self.panic.as_ref().and_then(|p| p.message.as_deref())
    }

    /// The panic payload, to resume the panic with `std::panic::resume_unwind`.
    ///
    /// # Panics
    /// If the task did not panic.
    pub fn into_panic(self) -> Box<dyn Any + Send> {
        self.try_into_panic().expect("JoinError::into_panic on a task that did not panic")
    }

    /// The panic payload, or the error back if the task did not panic.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send>, JoinError> {
        match self.panic {
            Some(panic) => Ok(panic.payload.into_inner().unwrap_or_else(|e| e.into_inner())),
            None => Err(self),
        }
    }
}

/// The text of a panic payload (`&str` or `String`), if it has one.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> Option<String> {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        Some((*s).to_owned())
    } else {
        payload.downcast_ref::<String>().cloned()
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.panic, self.panic_message()) {
            (None, _) => write!(f, "task {} was cancelled", self.id),
            (Some(_), Some(m)) => write!(f, "task {} panicked: {m}", self.id),
            (Some(_), None) => write!(f, "task {} panicked", self.id),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.panic {
            None => write!(f, "JoinError::Cancelled({:?})", self.id),
            Some(p) => write!(f, "JoinError::Panic({:?}, {:?})", self.id, p.message),
        }
    }
}

impl std::error::Error for JoinError {}

impl From<JoinError> for std::io::Error {
    fn from(e: JoinError) -> Self {
        std::io::Error::other(e)
    }
}
