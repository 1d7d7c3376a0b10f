//! What a worker does with a task: poll it, complete it, cancel it, hand its output to the
//! `JoinHandle`. These are the concrete functions behind a task's [`Vtable`].
//!
//! Panics in user code (the future's `poll`, its `Drop`, the output's `Drop`, a message's
//! `Drop`) are caught here and become the task's outcome; they never unwind into a worker.

use super::raw::{Cell, Header, Notified, RawTask, Stage, Vtable};
use super::state::{Outcome, TransitionToIdle, TransitionToRunning};
use super::{JoinError, MailboxProbe, MailboxSlot, Schedule, TaskBody, current};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, Waker};

pub(super) fn vtable<T: TaskBody, S: Schedule, M: MailboxSlot>() -> &'static Vtable {
    &Vtable {
        poll: poll::<T, S, M>,
        schedule: schedule::<T, S, M>,
        dealloc: dealloc::<T, S, M>,
        try_read_output: try_read_output::<T, S, M>,
        drop_join_handle_slow: drop_join_handle_slow::<T, S, M>,
        shutdown: shutdown::<T, S, M>,
        set_daemon: set_daemon::<T, S, M>,
        resume: resume::<T, S, M>,
        probe: probe::<T, S, M>,
    }
}

/// Typed access to a task's cell.
struct Harness<T: TaskBody, S, M> {
    cell: NonNull<Cell<T, S, M>>,
}

impl<T: TaskBody, S: Schedule, M: MailboxSlot> Harness<T, S, M> {
    /// # Safety
    /// `ptr` must be the header of a live task created with exactly these types.
    unsafe fn from_raw(ptr: NonNull<Header>) -> Self {
        Harness { cell: ptr.cast() }
    }

    fn cell(&self) -> &Cell<T, S, M> {
        // SAFETY: guaranteed by `from_raw`'s caller for as long as the harness is used.
        unsafe { self.cell.as_ref() }
    }

    fn raw(&self) -> RawTask {
        // SAFETY: the cell is live (see `cell`).
        unsafe { RawTask::from_raw(self.cell.cast()) }
    }

    fn header(&self) -> &Header {
        &self.cell().prefix.header
    }

    fn state(&self) -> &super::state::State {
        &self.header().state
    }

    /// Replaces the stage, dropping what was there.
    ///
    /// # Safety
    /// The caller owns the stage (`state.rs` rule 1).
    unsafe fn set_stage(&self, stage: Stage<T>) {
        self.cell().stage.with_mut(|slot| {
            // SAFETY: the caller owns the stage.
            unsafe { *slot = stage }
        });
    }

    /// Takes the stage out, leaving `Consumed`.
    ///
    /// # Safety
    /// The caller owns the stage (`state.rs` rule 1).
    unsafe fn take_stage(&self) -> Stage<T> {
        self.cell().stage.with_mut(|slot| {
            // SAFETY: the caller owns the stage.
            std::mem::replace(unsafe { &mut *slot }, Stage::Consumed)
        })
    }

    fn poll(self) {
        match self.state().transition_to_running() {
            TransitionToRunning::Success => self.poll_inner(),
            TransitionToRunning::Cancelled => self.cancel_and_complete(),
            TransitionToRunning::Failed => {}
            TransitionToRunning::Dealloc => self.dealloc(),
        }
    }

    fn poll_inner(self) {
        let raw = self.raw();
        let waker = raw.borrowed_waker();
        let mut cx = Context::from_waker(&waker);
        let polled = {
            let _current = current::enter(raw);
            catch_unwind(AssertUnwindSafe(|| {
                self.cell().stage.with_mut(|stage| {
                    // SAFETY: RUNNING is set, so this thread owns the stage (state.rs rule 1).
                    let stage = unsafe { &mut *stage };
                    let Stage::Running(body) = stage else { unreachable!("a running task has a body") };
                    // SAFETY: the body stays in place in the cell until it is dropped there.
                    let body = unsafe { Pin::new_unchecked(body) };
                    body.poll(&mut cx, raw)
                })
            }))
        };
        match polled {
            Ok(Poll::Pending) => {
                // Before going idle, while no one else can run or complete the task.
                if !self.cell().scheduler.track(raw) {
                    return self.cancel_and_complete();
                }
                match self.state().transition_to_idle() {
                    TransitionToIdle::Ok => {}
                    TransitionToIdle::OkNotified => {
                        // SAFETY: the poller's reference now belongs to this Notified.
                        let notified = unsafe { Notified::from_raw(raw) };
                        self.cell().scheduler.yield_now(notified);
                    }
                    TransitionToIdle::OkDealloc => self.dealloc(),
                    TransitionToIdle::Cancelled => self.cancel_and_complete(),
                }
            }
            Ok(Poll::Ready(output)) => {
                let output = match self.drop_body() {
                    None => Ok(output),
                    Some(panic) => Err(JoinError::panic(raw.id(), panic)),
                };
                self.complete(output);
            }
            Err(panic) => {
                let _ = self.drop_body();
                self.complete(Err(JoinError::panic(raw.id(), panic)));
            }
        }
    }

    /// Drops the future (running its destructors); returns the panic if `Drop` panicked.
    fn drop_body(&self) -> Option<Box<dyn std::any::Any + Send>> {
        let _current = current::enter(self.raw());
        catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: called only while RUNNING is set (rule 1).
            unsafe { self.set_stage(Stage::Consumed) };
        }))
        .err()
    }

    fn cancel_and_complete(self) {
        let id = self.raw().id();
        let error = match self.drop_body() {
            None => JoinError::cancelled(id),
            Some(panic) => JoinError::panic(id, panic),
        };
        self.complete(Err(error));
    }

    /// Publishes the outcome: the mailbox closes, the join handle and monitors hear of it, and
    /// the owner list lets go. Consumes the reference the caller ran the task with.
    fn complete(self, output: Result<T::Output, JoinError>) {
        let raw = self.raw();
        let outcome = match &output {
            Ok(_) => Outcome::Finished,
            Err(e) if e.is_panic() => Outcome::Panicked,
            Err(_) => Outcome::Terminated,
        };
        if let Err(e) = &output
            && e.is_panic()
        {
            let message = e.panic_message();
            if let Some(message) = message {
                raw.extras().set_panic_message(message.to_owned());
            }
            let name = raw.extras_if_any().and_then(|extras| extras.name());
            tracing::error!(
                target: "rycos::task",
                task = %raw.id(),
                name = name.map(|name| &**name),
                spawned_at = %raw.spawn_location(),
                panic = message.unwrap_or("<non-string panic payload>"),
                "task panicked"
            );
        }
        // Monitors that asked for the value get their copy while the output is still ours.
        if let Some(extras) = raw.extras_if_any() {
            let _ = catch_unwind(AssertUnwindSafe(|| {
                extras.capture_value(output.as_ref().ok().map(|value| value as &dyn std::any::Any));
            }));
        }
        // Close the mailbox before anyone can observe COMPLETE: from then on a send returns its
        // message instead of queueing it for a task that will never receive it.
        let _ = catch_unwind(AssertUnwindSafe(|| self.cell().prefix.mailbox.close()));

        // SAFETY: RUNNING is still set, so the stage is ours (rule 1).
        unsafe { self.set_stage(Stage::Finished(output)) };
        let snapshot = self.state().transition_to_complete(outcome);

        let _ = catch_unwind(AssertUnwindSafe(|| {
            if !snapshot.is_join_interested() {
                // SAFETY: nobody will read the output; it is ours to drop (rule 1).
                unsafe { self.set_stage(Stage::Consumed) };
            } else if snapshot.is_join_waker_set() {
                // SAFETY: JOIN_WAKER and COMPLETE are set: the runtime may read the slot, and the
                // handle cannot change it (rule 2).
                unsafe { wake_join_waker(self.header()) };
                let snapshot = self.state().unset_join_waker_after_complete();
                if !snapshot.is_join_interested() {
                    // SAFETY: the handle is gone and left the slot to us (rule 2).
                    unsafe { set_join_waker_slot(self.header(), None) };
                }
            }
        }));

        if let Some(extras) = raw.extras_if_any() {
            extras.notify_exit(raw, outcome);
        }
        let scheduler = &self.cell().scheduler;
        scheduler.task_ended(snapshot.is_daemon());
        let released = 1 + usize::from(scheduler.release(raw));
        if self.state().transition_to_terminal(released) {
            self.dealloc();
        }
    }

    fn dealloc(self) {
        // A panicking message or output destructor must not unwind into whoever dropped the
        // last reference (a waker, a worker); what is left of the cell then leaks.
        let _ = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: the last reference was released, so nothing else can reach the cell, which
            // was allocated as a Box in `RawTask::new`.
            drop(unsafe { Box::from_raw(self.cell.as_ptr()) });
        }));
    }
}

unsafe fn poll<T: TaskBody, S: Schedule, M: MailboxSlot>(ptr: NonNull<Header>) {
    // SAFETY: called through this task's own vtable.
    unsafe { Harness::<T, S, M>::from_raw(ptr) }.poll();
}

unsafe fn schedule<T: TaskBody, S: Schedule, M: MailboxSlot>(ptr: NonNull<Header>) {
    // SAFETY: called through this task's own vtable.
    let harness = unsafe { Harness::<T, S, M>::from_raw(ptr) };
    // SAFETY: the caller added the reference this Notified owns.
    let notified = unsafe { Notified::from_raw(harness.raw()) };
    harness.cell().scheduler.schedule(notified);
}

unsafe fn dealloc<T: TaskBody, S: Schedule, M: MailboxSlot>(ptr: NonNull<Header>) {
    // SAFETY: called through this task's own vtable.
    unsafe { Harness::<T, S, M>::from_raw(ptr) }.dealloc();
}

unsafe fn shutdown<T: TaskBody, S: Schedule, M: MailboxSlot>(ptr: NonNull<Header>) {
    // SAFETY: called through this task's own vtable.
    let harness = unsafe { Harness::<T, S, M>::from_raw(ptr) };
    if harness.state().transition_to_shutdown() {
        harness.cancel_and_complete();
    } else {
        // Running elsewhere (it will see CANCELLED when it yields) or already complete.
        harness.raw().drop_reference();
    }
}

unsafe fn set_daemon<T: TaskBody, S: Schedule, M: MailboxSlot>(ptr: NonNull<Header>, daemon: bool) {
    // SAFETY: called through this task's own vtable.
    let harness = unsafe { Harness::<T, S, M>::from_raw(ptr) };
    harness.cell().scheduler.set_daemon(harness.raw(), daemon);
}

unsafe fn resume<T: TaskBody, S: Schedule, M: MailboxSlot>(
    ptr: NonNull<Header>,
    value: Box<dyn std::any::Any + Send>,
) -> bool {
    // SAFETY: called through this task's own vtable.
    let harness = unsafe { Harness::<T, S, M>::from_raw(ptr) };
    harness.cell().prefix.mailbox.resume(harness.raw(), value)
}

unsafe fn probe<T: TaskBody, S: Schedule, M: MailboxSlot>(ptr: NonNull<Header>) -> MailboxProbe {
    // SAFETY: called through this task's own vtable.
    let harness = unsafe { Harness::<T, S, M>::from_raw(ptr) };
    harness.cell().prefix.mailbox.probe()
}

unsafe fn try_read_output<T: TaskBody, S: Schedule, M: MailboxSlot>(
    ptr: NonNull<Header>,
    dst: *mut (),
    waker: &Waker,
) {
    // SAFETY: called through this task's own vtable.
    let harness = unsafe { Harness::<T, S, M>::from_raw(ptr) };
    if can_read_output(harness.header(), waker) {
        // SAFETY: COMPLETE with JOIN_INTEREST: the stage belongs to the join handle (rule 1).
        let stage = unsafe { harness.take_stage() };
        let Stage::Finished(output) = stage else {
            panic!("JoinHandle polled after it returned its output");
        };
        // SAFETY: the caller passes a `Poll<Result<T::Output, JoinError>>` (raw.rs contract).
        unsafe { *dst.cast::<Poll<Result<T::Output, JoinError>>>() = Poll::Ready(output) };
    }
}

/// True if the output is ready; otherwise makes sure `waker` will be woken when it is.
fn can_read_output(header: &Header, waker: &Waker) -> bool {
    let snapshot = header.state.load();
    debug_assert!(snapshot.is_join_interested());
    if snapshot.is_complete() {
        return true;
    }
    let registered = if !snapshot.is_join_waker_set() {
        set_join_waker(header, waker)
    } else {
        let same = header.join_waker.with(|slot| {
            // SAFETY: JOIN_WAKER is set, so the runtime may only read the slot; so do we.
            unsafe { &*slot }.as_ref().is_some_and(|w| w.will_wake(waker))
        });
        if same {
            return false;
        }
        header.state.unset_join_waker().and_then(|_| set_join_waker(header, waker))
    };
    match registered {
        Ok(_) => false,
        Err(snapshot) => {
            debug_assert!(snapshot.is_complete());
            true
        }
    }
}

fn set_join_waker(header: &Header, waker: &Waker) -> Result<super::state::Snapshot, super::state::Snapshot> {
    // SAFETY: JOIN_WAKER is clear, so the join handle owns the slot (rule 2).
    unsafe { set_join_waker_slot(header, Some(waker.clone())) };
    let result = header.state.set_join_waker();
    if result.is_err() {
        // SAFETY: completed meanwhile; the bit was never published, so the slot is still ours.
        unsafe { set_join_waker_slot(header, None) };
    }
    result
}

/// # Safety
/// The caller owns the join waker slot (`state.rs` rule 2).
unsafe fn set_join_waker_slot(header: &Header, waker: Option<Waker>) {
    header.join_waker.with_mut(|slot| {
        // SAFETY: the caller owns the slot.
        unsafe { *slot = waker }
    });
}

/// # Safety
/// The slot is published to the runtime and the task is complete (`state.rs` rule 2).
unsafe fn wake_join_waker(header: &Header) {
    header.join_waker.with(|slot| {
        // SAFETY: the caller may read the slot.
        match unsafe { &*slot } {
            Some(waker) => waker.wake_by_ref(),
            None => unreachable!("JOIN_WAKER set without a waker"),
        }
    });
}

unsafe fn drop_join_handle_slow<T: TaskBody, S: Schedule, M: MailboxSlot>(ptr: NonNull<Header>) {
    // SAFETY: called through this task's own vtable.
    let harness = unsafe { Harness::<T, S, M>::from_raw(ptr) };
    let (drop_output, drop_waker) = harness.state().transition_to_join_handle_dropped();
    if drop_output {
        let _ = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: complete, and JOIN_INTEREST was ours: the output is ours to drop (rule 1).
            unsafe { harness.set_stage(Stage::Consumed) };
        }));
    }
    if drop_waker {
        // SAFETY: JOIN_WAKER is clear after the transition: the slot is ours (rule 2).
        unsafe { set_join_waker_slot(harness.header(), None) };
    }
    harness.raw().drop_reference();
}
