//! The task state word: one `AtomicUsize` that decides who may touch which part of a task.
//!
//! Low bits are flags, the high bits count references to the allocation.
//!
//! | bit | set means |
//! |---|---|
//! | `RUNNING` | a thread owns the future (it is being polled or cancelled) |
//! | `COMPLETE` | the future is gone; the output (or the error) is stored |
//! | `NOTIFIED` | a wake-up is pending: the task sits in a run queue, or will be put there by the thread that is running it |
//! | `JOIN_INTEREST` | a `JoinHandle` exists and may read the output |
//! | `JOIN_WAKER` | the join waker slot is published to the runtime (see below) |
//! | `CANCELLED` | abort/terminate/shutdown was requested |
//! | `DAEMON` | `Runtime::join` does not wait for this task |
//! | `PANICKED`, `TERMINATED` | how it ended (set together with `COMPLETE`, read by monitors) |
//!
//! Ownership rules (the proof obligations of every `unsafe` access in `raw.rs`):
//!
//! 1. The future/output slot (`stage`) belongs to the thread that set `RUNNING`, until it sets
//!    `COMPLETE`. After `COMPLETE` it belongs to the `JoinHandle` if `JOIN_INTEREST` was set at
//!    that moment, otherwise to the completing thread. A `JoinHandle` dropped after completion
//!    takes it over (it clears `JOIN_INTEREST` and sees `COMPLETE`).
//! 2. The join waker slot belongs to the `JoinHandle` while `JOIN_WAKER` is clear. Setting
//!    `JOIN_WAKER` publishes it to the runtime, which reads (wakes) it once `COMPLETE` is set and
//!    then clears the bit. The handle may take it back only by clearing the bit with a CAS that
//!    fails if `COMPLETE` is already set.
//! 3. A task is in at most one run queue: only the transition that sets `NOTIFIED` on an idle
//!    (neither running nor complete) task submits it. A wake while `RUNNING` just sets
//!    `NOTIFIED`; the poller resubmits when it goes idle.
//! 4. Every `Notified`, `Waker`, `JoinHandle`, `TaskRef`, `Cx` and the owner list hold one
//!    reference; whoever brings the count to zero frees the allocation. The owner reference
//!    exists from the start: until the task is listed (lazily, when it first waits) it stays with
//!    the task and is released when the task completes.

use crate::loom::sync::atomic::{AtomicUsize, Ordering::*};
use std::fmt;

const RUNNING: usize = 1 << 0;
const COMPLETE: usize = 1 << 1;
const NOTIFIED: usize = 1 << 2;
const JOIN_INTEREST: usize = 1 << 3;
const JOIN_WAKER: usize = 1 << 4;
const CANCELLED: usize = 1 << 5;
const DAEMON: usize = 1 << 6;
const PANICKED: usize = 1 << 7;
const TERMINATED: usize = 1 << 8;

const REF_SHIFT: usize = 9;
const REF_ONE: usize = 1 << REF_SHIFT;

/// How a task ended; recorded in the state word together with `COMPLETE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Finished,
    Panicked,
    Terminated,
}

impl Outcome {
    fn bits(self) -> usize {
        match self {
            Outcome::Finished => 0,
            Outcome::Panicked => PANICKED,
            Outcome::Terminated => TERMINATED,
        }
    }
}

pub(crate) struct State {
    val: AtomicUsize,
}

/// A copy of the state word taken at one instant.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snapshot(usize);

#[must_use]
pub(super) enum TransitionToRunning {
    /// The caller now owns the future and must poll it.
    Success,
    /// The caller owns the future and must cancel it.
    Cancelled,
    /// Someone else owns it or it is complete; the caller's reference was released.
    Failed,
    /// As `Failed`, and the caller released the last reference: deallocate.
    Dealloc,
}

#[must_use]
pub(super) enum TransitionToIdle {
    Ok,
    /// Woken while running: the poller's reference now belongs to a new `Notified`.
    OkNotified,
    /// The poller released the last reference: deallocate.
    OkDealloc,
    /// Cancellation was requested while running: the caller still owns the future.
    Cancelled,
}

#[must_use]
pub(super) enum TransitionToNotifiedByVal {
    DoNothing,
    /// The waker's reference now belongs to a `Notified` the caller must submit.
    Submit,
    Dealloc,
}

impl State {
    /// A new task: notified (it is about to be scheduled) with `refs` references.
    pub(super) fn new(refs: usize, join_interest: bool, daemon: bool) -> State {
        let mut bits = NOTIFIED | (refs * REF_ONE);
        if join_interest {
            bits |= JOIN_INTEREST;
        }
        if daemon {
            bits |= DAEMON;
        }
        State { val: AtomicUsize::new(bits) }
    }

    pub(crate) fn load(&self) -> Snapshot {
        Snapshot(self.val.load(Acquire))
    }

    /// Reads the word with a read-modify-write, which is ordered with every other RMW on it
    /// (used where a plain load could miss a concurrent `transition_to_complete`).
    pub(crate) fn load_rmw(&self) -> Snapshot {
        Snapshot(self.val.fetch_add(0, AcqRel))
    }

    fn fetch_update<T>(&self, mut f: impl FnMut(Snapshot) -> (T, Option<Snapshot>)) -> T {
        let mut curr = self.load();
        loop {
            let (out, next) = f(curr);
            let Some(next) = next else { return out };
            match self.val.compare_exchange_weak(curr.0, next.0, AcqRel, Acquire) {
                Ok(_) => {
                    crate::loom::loom_trace!("  state {curr:?} -> {next:?}");
                    return out;
                }
                Err(actual) => curr = Snapshot(actual),
            }
        }
    }

    pub(super) fn transition_to_running(&self) -> TransitionToRunning {
        self.fetch_update(|mut s| {
            debug_assert!(s.is_notified(), "a queued task must be notified");
            if !s.is_idle() {
                s.ref_dec();
                let action = if s.ref_count() == 0 {
                    TransitionToRunning::Dealloc
                } else {
                    TransitionToRunning::Failed
                };
                return (action, Some(s));
            }
            s.0 = (s.0 | RUNNING) & !NOTIFIED;
            let action =
                if s.is_cancelled() { TransitionToRunning::Cancelled } else { TransitionToRunning::Success };
            (action, Some(s))
        })
    }

    pub(super) fn transition_to_idle(&self) -> TransitionToIdle {
        self.fetch_update(|mut s| {
            debug_assert!(s.is_running());
            if s.is_cancelled() {
                return (TransitionToIdle::Cancelled, None);
            }
            s.0 &= !RUNNING;
            if s.is_notified() {
                (TransitionToIdle::OkNotified, Some(s))
            } else {
                s.ref_dec();
                if s.ref_count() == 0 {
                    (TransitionToIdle::OkDealloc, Some(s))
                } else {
                    (TransitionToIdle::Ok, Some(s))
                }
            }
        })
    }

    /// RUNNING → COMPLETE, recording how the task ended. Returns the new snapshot.
    pub(super) fn transition_to_complete(&self, outcome: Outcome) -> Snapshot {
        let prev = Snapshot(self.val.fetch_xor(RUNNING | COMPLETE | outcome.bits(), AcqRel));
        debug_assert!(prev.is_running() && !prev.is_complete());
        Snapshot(prev.0 ^ (RUNNING | COMPLETE | outcome.bits()))
    }

    /// Releases `count` references at the end of a task's life; true if they were the last.
    pub(super) fn transition_to_terminal(&self, count: usize) -> bool {
        let prev = Snapshot(self.val.fetch_sub(count * REF_ONE, AcqRel));
        debug_assert!(prev.ref_count() >= count, "task reference count underflow");
        prev.ref_count() == count
    }

    /// Like [`transition_to_notified_by_ref`](State::transition_to_notified_by_ref), decided by
    /// one `fetch_or`; the waker's reference becomes the new `Notified`'s, or is released.
    pub(super) fn transition_to_notified_by_val(&self) -> TransitionToNotifiedByVal {
        let prev = Snapshot(self.val.fetch_or(NOTIFIED, AcqRel));
        if prev.is_idle() && !prev.is_notified() {
            TransitionToNotifiedByVal::Submit
        } else if self.ref_dec() {
            TransitionToNotifiedByVal::Dealloc
        } else {
            TransitionToNotifiedByVal::DoNothing
        }
    }

    /// True if the caller must submit a new `Notified` (a reference was added for it).
    ///
    /// One `fetch_or` decides: if it found the task idle and not yet notified, this caller set
    /// `NOTIFIED` and owns the submission; the reference for the new `Notified` is added right
    /// after (the caller's own reference keeps the task alive in between, and nothing else can
    /// run the task before it is submitted). Setting `NOTIFIED` on a running task makes the
    /// poller resubmit it; on a complete or already notified one it changes nothing that
    /// matters. Deciding from a single read-modify-write, never from a plain load, means a
    /// stale read cannot drop the wake-up.
    pub(super) fn transition_to_notified_by_ref(&self) -> bool {
        let prev = Snapshot(self.val.fetch_or(NOTIFIED, AcqRel));
        crate::loom::loom_trace!("  notified_by_ref from {prev:?}");
        if prev.is_idle() && !prev.is_notified() {
            self.ref_inc();
            true
        } else {
            false
        }
    }

    /// Requests cancellation from outside; true if the caller must submit a new `Notified`
    /// (a reference was added for it) so that a worker carries the cancellation out.
    pub(super) fn transition_to_notified_and_cancel(&self) -> bool {
        self.fetch_update(|mut s| {
            if s.is_cancelled() || s.is_complete() {
                (false, None)
            } else if s.is_running() || s.is_notified() {
                // The poller (or the worker that pops it) will see CANCELLED.
                s.0 |= CANCELLED | NOTIFIED;
                (false, Some(s))
            } else {
                s.0 |= CANCELLED | NOTIFIED;
                s.ref_inc();
                (true, Some(s))
            }
        })
    }

    /// Marks the task cancelled and, if nobody is running it, claims it (sets `RUNNING`).
    /// True if the caller now owns the future and must cancel it.
    pub(super) fn transition_to_shutdown(&self) -> bool {
        self.fetch_update(|mut s| {
            let claimed = s.is_idle();
            if claimed {
                s.0 |= RUNNING;
            }
            s.0 |= CANCELLED;
            (claimed, Some(s))
        })
    }

    /// Clears `JOIN_INTEREST` (and `JOIN_WAKER` if not complete). Returns `(drop_output,
    /// drop_waker)`: what the dropping handle now owns and must drop.
    pub(super) fn transition_to_join_handle_dropped(&self) -> (bool, bool) {
        self.fetch_update(|s| {
            debug_assert!(s.is_join_interested());
            let mut next = s;
            next.0 &= !JOIN_INTEREST;
            if !s.is_complete() {
                next.0 &= !JOIN_WAKER;
            }
            ((s.is_complete(), !next.is_join_waker_set()), Some(next))
        })
    }

    /// Publishes the join waker. Fails (with the current snapshot) if the task is complete.
    pub(super) fn set_join_waker(&self) -> Result<Snapshot, Snapshot> {
        self.fetch_update(|s| {
            debug_assert!(s.is_join_interested() && !s.is_join_waker_set());
            if s.is_complete() {
                return (Err(s), None);
            }
            let next = Snapshot(s.0 | JOIN_WAKER);
            (Ok(next), Some(next))
        })
    }

    /// Takes the join waker back from the runtime. Fails if the task is complete.
    pub(super) fn unset_join_waker(&self) -> Result<Snapshot, Snapshot> {
        self.fetch_update(|s| {
            debug_assert!(s.is_join_interested() && s.is_join_waker_set());
            if s.is_complete() {
                return (Err(s), None);
            }
            let next = Snapshot(s.0 & !JOIN_WAKER);
            (Ok(next), Some(next))
        })
    }

    /// After waking the join waker on completion, hands the slot back. Returns the new snapshot.
    pub(super) fn unset_join_waker_after_complete(&self) -> Snapshot {
        let prev = Snapshot(self.val.fetch_and(!JOIN_WAKER, AcqRel));
        debug_assert!(prev.is_complete() && prev.is_join_waker_set());
        Snapshot(prev.0 & !JOIN_WAKER)
    }

    /// Sets or clears `DAEMON`; `None` if the task already completed (nothing changes),
    /// otherwise whether the flag changed.
    pub(super) fn set_daemon(&self, daemon: bool) -> Option<bool> {
        self.fetch_update(|s| {
            if s.is_complete() {
                return (None, None);
            }
            if s.is_daemon() == daemon {
                return (Some(false), None);
            }
            (Some(true), Some(Snapshot(s.0 ^ DAEMON)))
        })
    }

    pub(super) fn ref_inc(&self) {
        let prev = self.val.fetch_add(REF_ONE, Relaxed);
        crate::loom::loom_trace!("  state ref_inc from {:?}", Snapshot(prev));
        // Wrapping the count would free a live task; abort like `Arc` does.
        if prev > isize::MAX as usize {
            std::process::abort();
        }
    }

    /// Releases one reference; true if it was the last.
    pub(super) fn ref_dec(&self) -> bool {
        let prev = Snapshot(self.val.fetch_sub(REF_ONE, AcqRel));
        crate::loom::loom_trace!("  state ref_dec from {prev:?}");
        debug_assert!(prev.ref_count() >= 1, "task reference count underflow");
        prev.ref_count() == 1
    }
}

impl Snapshot {
    pub(crate) fn is_running(self) -> bool {
        self.0 & RUNNING != 0
    }
    pub(crate) fn is_complete(self) -> bool {
        self.0 & COMPLETE != 0
    }
    pub(crate) fn is_notified(self) -> bool {
        self.0 & NOTIFIED != 0
    }
    pub(crate) fn is_idle(self) -> bool {
        self.0 & (RUNNING | COMPLETE) == 0
    }
    pub(crate) fn is_join_interested(self) -> bool {
        self.0 & JOIN_INTEREST != 0
    }
    pub(crate) fn is_join_waker_set(self) -> bool {
        self.0 & JOIN_WAKER != 0
    }
    pub(crate) fn is_cancelled(self) -> bool {
        self.0 & CANCELLED != 0
    }
    pub(crate) fn is_daemon(self) -> bool {
        self.0 & DAEMON != 0
    }
    pub(crate) fn outcome(self) -> Option<Outcome> {
        if !self.is_complete() {
            None
        } else if self.0 & PANICKED != 0 {
            Some(Outcome::Panicked)
        } else if self.0 & TERMINATED != 0 {
            Some(Outcome::Terminated)
        } else {
            Some(Outcome::Finished)
        }
    }
    pub(crate) fn ref_count(self) -> usize {
        self.0 >> REF_SHIFT
    }
    fn ref_inc(&mut self) {
        self.0 += REF_ONE;
    }
    fn ref_dec(&mut self) {
        debug_assert!(self.ref_count() > 0);
        self.0 -= REF_ONE;
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("running", &self.is_running())
            .field("complete", &self.is_complete())
            .field("notified", &self.is_notified())
            .field("cancelled", &self.is_cancelled())
            .field("join_interest", &self.is_join_interested())
            .field("join_waker", &self.is_join_waker_set())
            .field("daemon", &self.is_daemon())
            .field("refs", &self.ref_count())
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn wake_while_running_resubmits_on_idle() {
        let s = State::new(1, false, false);
        assert!(matches!(s.transition_to_running(), TransitionToRunning::Success));
        assert!(!s.transition_to_notified_by_ref(), "running: no submit");
        assert!(matches!(s.transition_to_idle(), TransitionToIdle::OkNotified));
        assert_eq!(s.load().ref_count(), 1);
        assert!(s.load().is_notified());
    }

    #[test]
    fn wake_of_idle_task_submits_once() {
        let s = State::new(1, false, false);
        assert!(matches!(s.transition_to_running(), TransitionToRunning::Success));
        s.ref_inc(); // a waker
        assert!(matches!(s.transition_to_idle(), TransitionToIdle::Ok));
        assert!(s.transition_to_notified_by_ref());
        assert!(!s.transition_to_notified_by_ref(), "already queued");
        assert_eq!(s.load().ref_count(), 2);
    }

    #[test]
    fn cancel_of_idle_task_submits_and_running_sees_cancelled() {
        let s = State::new(1, false, false);
        assert!(matches!(s.transition_to_running(), TransitionToRunning::Success));
        s.ref_inc();
        assert!(matches!(s.transition_to_idle(), TransitionToIdle::Ok));
        assert!(s.transition_to_notified_and_cancel());
        assert!(!s.transition_to_notified_and_cancel(), "second cancel is a no-op");
        assert!(matches!(s.transition_to_running(), TransitionToRunning::Cancelled));
    }

    #[test]
    fn outcome_is_recorded_with_complete() {
        let s = State::new(1, true, false);
        assert!(matches!(s.transition_to_running(), TransitionToRunning::Success));
        let snap = s.transition_to_complete(Outcome::Panicked);
        assert_eq!(snap.outcome(), Some(Outcome::Panicked));
        assert!(!snap.is_running());
        assert_eq!(s.set_daemon(true), None, "a complete task's daemon flag is frozen");
    }

    #[test]
    fn join_handle_dropped_after_complete_owns_output() {
        let s = State::new(2, true, false);
        assert!(matches!(s.transition_to_running(), TransitionToRunning::Success));
        let _ = s.transition_to_complete(Outcome::Finished);
        assert_eq!(s.transition_to_join_handle_dropped(), (true, true));
    }
}
