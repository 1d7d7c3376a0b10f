//! [`Completion<T>`]: the future side of a job, and [`Completer<T>`], the side that finishes it.
//!
//! A plain one-shot slot under a mutex: no executor is assumed, so a `Completion` works under
//! rycos, tokio or `futures::executor::block_on`, and [`Completion::wait`] blocks a plain thread.

use crate::JobError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

struct Slot<T> {
    state: Mutex<State<T>>,
    /// For `Completion::wait` on a plain thread.
    done: Condvar,
}

struct State<T> {
    outcome: Option<Result<T, JobError>>,
    waker: Option<Waker>,
    /// The job has begun; dropping the completion can no longer skip it.
    started: bool,
    /// The completion was dropped before the job began: skip it.
    abandoned: bool,
    /// `detach` was called: dropping the completion does not skip the job.
    detached: bool,
    /// A plain thread blocks in `wait` (the condition variable is only signalled then: a
    /// signal costs a system call).
    blocked: bool,
}

fn lock<T>(slot: &Slot<T>) -> MutexGuard<'_, State<T>> {
    // A panic while the lock is held cannot leave the state half-changed (every critical
    // section is a few assignments), so a poisoned lock is still good.
    slot.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Makes a connected pair: finish the job through the [`Completer`], await the [`Completion`].
///
/// ```
/// let (completer, completion) = rycos_pool::completion::<u32>();
/// std::thread::spawn(move || completer.complete(Ok(7)));
/// assert_eq!(completion.wait().unwrap(), 7);
/// ```
pub fn completion<T>() -> (Completer<T>, Completion<T>) {
    let slot = Arc::new(Slot {
        state: Mutex::new(State {
            outcome: None,
            waker: None,
            started: false,
            abandoned: false,
            detached: false,
            blocked: false,
        }),
        done: Condvar::new(),
    });
    (Completer { slot: Some(slot.clone()) }, Completion { slot })
}

/// The result of a job, as a future (or with [`wait`](Completion::wait) on a plain thread).
/// Dropping it before the job has started skips the job.
#[must_use = "dropping a completion before its job starts cancels the job"]
pub struct Completion<T> {
    slot: Arc<Slot<T>>,
}

impl<T> Completion<T> {
    /// Blocks this thread until the job has finished.
    pub fn wait(self) -> Result<T, JobError> {
        let mut state = lock(&self.slot);
        loop {
            if let Some(outcome) = state.outcome.take() {
                return outcome;
            }
            state.blocked = true;
            state = self.slot.done.wait(state).unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    /// Lets the job run to its end even though nobody will look at the outcome (dropping the
    /// completion instead would skip a job that has not started).
    pub fn detach(self) {
        lock(&self.slot).detached = true;
    }

    /// True once the job has finished (its outcome is waiting to be taken).
    pub fn is_finished(&self) -> bool {
        lock(&self.slot).outcome.is_some()
    }
}

impl<T> Future for Completion<T> {
    type Output = Result<T, JobError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = lock(&self.slot);
        if let Some(outcome) = state.outcome.take() {
            return Poll::Ready(outcome);
        }
        if !state.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            state.waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl<T> Drop for Completion<T> {
    fn drop(&mut self) {
        let mut state = lock(&self.slot);
        if !state.started && !state.detached {
            state.abandoned = true;
        }
        state.waker = None;
    }
}

impl<T> fmt::Debug for Completion<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Completion").field("finished", &self.is_finished()).finish()
    }
}

/// The finishing side of a [`Completion`]. Dropping it unfinished fails the completion with
/// [`JobError::Dropped`], so an awaiting task never hangs.
pub struct Completer<T> {
    slot: Option<Arc<Slot<T>>>,
}

impl<T> Completer<T> {
    /// Marks the job as begun; false if the completion was dropped first (skip the job then).
    pub fn start(&self) -> bool {
        let Some(slot) = &self.slot else { return false };
        let mut state = lock(slot);
        state.started = true;
        !state.abandoned
    }

    /// Hands the outcome to the completion and wakes whoever waits for it.
    pub fn complete(mut self, outcome: Result<T, JobError>) {
        if let Some(slot) = self.slot.take() {
            finish(&slot, outcome);
        }
    }
}

fn finish<T>(slot: &Slot<T>, outcome: Result<T, JobError>) {
    let (waker, blocked) = {
        let mut state = lock(slot);
        state.started = true;
        state.outcome = Some(outcome);
        (state.waker.take(), state.blocked)
    };
    if blocked {
        slot.done.notify_all();
    }
    if let Some(waker) = waker {
        waker.wake();
    }
}

impl<T> Drop for Completer<T> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            finish(&slot, Err(JobError::Dropped));
        }
    }
}

impl<T> fmt::Debug for Completer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Completer")
    }
}
