//! The raw task: one heap allocation holding a header, the task's mailbox, its scheduler handle
//! and the future (later its output).
//!
//! ```text
//!  NonNull<Header> ──► ┌────────────────────────────┐  #[repr(C)], header first, so a pointer
//!                      │ Header (state, vtable, id, │  to the cell is a pointer to its header
//!                      │ join waker, extras)        │
//!                      ├────────────────────────────┤  Prefix<M>: the mailbox sits at an offset
//!                      │ mailbox: M                 │  that depends on M only, so a TaskRef<M>
//!                      ├────────────────────────────┤  reaches it without knowing the future type
//!                      │ scheduler: S               │
//!                      │ stage: future | output     │
//!                      └────────────────────────────┘
//! ```
//!
//! Everything that depends on the future type goes through [`Vtable`]. Handles (`Notified`,
//! wakers, `JoinHandle`, `TaskRef`, `Cx`, the runtime's owner list) are pointers to the header
//! that each hold one reference in the state word (see `state.rs` for who owns what).

use super::extras::Extras;
use super::harness;
use super::state::{Snapshot, State};
use super::stats::Stats;
use super::{Schedule, TaskBody, TaskId};
use crate::loom::UnsafeCell;
use crate::loom::sync::OnceBox;
use crate::loom::sync::atomic::AtomicU32;
use std::ptr::NonNull;
use std::task::{RawWaker, RawWakerVTable, Waker};

/// `Header::owner_index` of a task that is not on its runtime's owner list (yet).
pub(crate) const UNLISTED: u32 = u32::MAX;

/// The part of every task the runtime can use without knowing its types.
#[repr(C)]
pub(crate) struct Header {
    pub(super) state: State,
    pub(super) vtable: &'static Vtable,
    pub(crate) id: TaskId,
    /// Index in the runtime's owner list (`UNLISTED` until the task is listed); written once,
    /// by the thread that holds RUNNING.
    pub(crate) owner_index: UnsafeCell<u32>,
    /// Live `TaskRef`s of a task with a mailbox (its senders). Kept here rather than in the
    /// mailbox because it fits in padding the header has anyway: 8 bytes less per task.
    pub(crate) handles: AtomicU32,
    /// The `JoinHandle`'s waker; access is governed by the `JOIN_WAKER` bit.
    pub(super) join_waker: UnsafeCell<Option<Waker>>,
    /// Rarely used per-task data (name, monitors, hot swap), allocated on first use.
    pub(super) extras: OnceBox<Extras>,
    /// What a snapshot of the runtime shows (`stats.rs`).
    pub(crate) stats: Stats,
}

/// Operations that need the concrete future, scheduler and mailbox types.
pub(super) struct Vtable {
    pub(super) poll: unsafe fn(NonNull<Header>),
    pub(super) schedule: unsafe fn(NonNull<Header>),
    pub(super) dealloc: unsafe fn(NonNull<Header>),
    pub(super) try_read_output: unsafe fn(NonNull<Header>, *mut (), &Waker),
    pub(super) drop_join_handle_slow: unsafe fn(NonNull<Header>),
    pub(super) shutdown: unsafe fn(NonNull<Header>),
    pub(super) set_daemon: unsafe fn(NonNull<Header>, bool),
    pub(super) resume: unsafe fn(NonNull<Header>, Box<dyn std::any::Any + Send>) -> bool,
    pub(super) probe: unsafe fn(NonNull<Header>) -> super::MailboxProbe,
}

/// The header followed by the mailbox: the layout a `TaskRef<M>` relies on.
#[repr(C)]
pub(crate) struct Prefix<M> {
    pub(crate) header: Header,
    pub(crate) mailbox: M,
}

/// The whole allocation.
#[repr(C)]
pub(crate) struct Cell<T: TaskBody, S, M> {
    pub(super) prefix: Prefix<M>,
    pub(super) scheduler: S,
    pub(super) stage: UnsafeCell<Stage<T>>,
}

pub(crate) enum Stage<T: TaskBody> {
    Running(T),
    Finished(Result<T::Output, super::JoinError>),
    Consumed,
}

/// An untyped pointer to a task. Copying it does not add a reference.
///
/// Transparent over the pointer so that a handle storing a `NonNull<Header>` can lend it out as
/// a `&RawTask` (`task::repr`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub(crate) struct RawTask {
    ptr: NonNull<Header>,
}

// SAFETY: a RawTask is only a pointer; every access to what it points to goes through the state
// word's protocol, which is thread-safe.
unsafe impl Send for RawTask {}
// SAFETY: as above.
unsafe impl Sync for RawTask {}

impl RawTask {
    /// Allocates a task. `refs` references are handed out by the caller (the first `Notified`,
    /// the owner list, and any handles).
    #[inline]
    pub(super) fn new<T, S, M>(
        body: T,
        scheduler: S,
        mailbox: M,
        id: TaskId,
        state: State,
        handles: u32,
        stats: Stats,
    ) -> RawTask
    where
        T: TaskBody,
        S: Schedule,
        M: super::MailboxSlot,
    {
        let cell = Box::new(Cell::<T, S, M> {
            prefix: Prefix {
                header: Header {
                    state,
                    vtable: harness::vtable::<T, S, M>(),
                    id,
                    owner_index: UnsafeCell::new(UNLISTED),
                    handles: AtomicU32::new(handles),
                    join_waker: UnsafeCell::new(None),
                    extras: OnceBox::new(),
                    stats,
                },
                mailbox,
            },
            scheduler,
            stage: UnsafeCell::new(Stage::Running(body)),
        });
        let ptr = NonNull::from(Box::leak(cell)).cast::<Header>();
        RawTask { ptr }
    }

    /// # Safety
    /// `ptr` must point to the header of a live task.
    pub(crate) unsafe fn from_raw(ptr: NonNull<Header>) -> RawTask {
        RawTask { ptr }
    }

    /// The pointer itself (no reference is added or given up), for handles that store it.
    pub(crate) fn header_ptr(self) -> NonNull<Header> {
        self.ptr
    }

    pub(crate) fn header(&self) -> &Header {
        // SAFETY: a RawTask is only used while some reference keeps the allocation alive.
        unsafe { self.ptr.as_ref() }
    }

    pub(crate) fn id(self) -> TaskId {
        self.header().id
    }

    /// The source line that spawned the task.
    pub(crate) fn spawn_location(self) -> &'static std::panic::Location<'static> {
        self.header().stats.spawned_at()
    }

    pub(crate) fn state(&self) -> Snapshot {
        self.header().state.load()
    }

    pub(crate) fn extras(&self) -> &Extras {
        self.header().extras.get_or_init(|| Box::new(Extras::default()))
    }

    #[inline]
    pub(crate) fn extras_if_any(&self) -> Option<&Extras> {
        self.header().extras.get()
    }

    /// The mailbox of a task created with mailbox type `M`.
    ///
    /// # Safety
    /// The task must have been created with exactly this `M`.
    pub(crate) unsafe fn mailbox<M>(&self) -> &M {
        // SAFETY: `Cell` and `Prefix` are repr(C) with the header first, so the allocation starts
        // with a `Prefix<M>` for the `M` it was created with (the caller's obligation).
        unsafe { &self.ptr.cast::<Prefix<M>>().as_ref().mailbox }
    }

    pub(crate) fn ref_inc(self) {
        self.header().state.ref_inc();
    }

    /// Wakes the task from `Cx::suspend` with `value`; false if it is not suspended.
    pub(crate) fn resume(self, value: Box<dyn std::any::Any + Send>) -> bool {
        // SAFETY: the vtable is this task's own, and a reference keeps the task alive.
        unsafe { (self.header().vtable.resume)(self.ptr, value) }
    }

    /// What its mailbox says of itself (for a snapshot).
    pub(crate) fn probe_mailbox(self) -> super::MailboxProbe {
        // SAFETY: the vtable is this task's own, and a reference keeps the task alive.
        unsafe { (self.header().vtable.probe)(self.ptr) }
    }

    /// Releases one reference, freeing the task if it was the last.
    pub(crate) fn drop_reference(self) {
        if self.header().state.ref_dec() {
            self.dealloc();
        }
    }

    fn dealloc(self) {
        // SAFETY: the caller released the last reference.
        unsafe { (self.header().vtable.dealloc)(self.ptr) }
    }

    /// Polls the task; consumes the reference of the `Notified` it came from.
    fn poll(self) {
        // SAFETY: called with the reference of a `Notified`, as `poll` requires.
        unsafe { (self.header().vtable.poll)(self.ptr) }
    }

    /// Hands a new `Notified` (whose reference the caller already added) to the scheduler.
    fn schedule(self) {
        // SAFETY: the caller added the reference the new Notified owns.
        unsafe { (self.header().vtable.schedule)(self.ptr) }
    }

    /// # Safety
    /// `dst` must point to a `Poll<Result<T, JoinError>>` for the task's output type `T`, and the
    /// caller must be the task's `JoinHandle`.
    pub(crate) unsafe fn try_read_output(self, dst: *mut (), waker: &Waker) {
        // SAFETY: forwarded obligations.
        unsafe { (self.header().vtable.try_read_output)(self.ptr, dst, waker) }
    }

    /// # Safety
    /// Called once, by the task's `JoinHandle`, which gives up its reference.
    pub(crate) unsafe fn drop_join_handle(self) {
        // SAFETY: forwarded obligations.
        unsafe { (self.header().vtable.drop_join_handle_slow)(self.ptr) }
    }

    /// The task's index in its runtime's owner list, or `UNLISTED`. The caller holds RUNNING,
    /// or a `Notified` of the task: the index is written once, by the thread holding RUNNING.
    pub(crate) fn owner_index(self) -> u32 {
        // SAFETY: per the contract above, no write can race with this read: a running task's
        // index is written only by its poller (the caller), and a queued task's poll, which
        // may have written it, ended before the `Notified` was made, through the state word.
        self.header().owner_index.with(|index| unsafe { *index })
    }

    /// Cancels the task as part of runtime shutdown; consumes one reference (the owner list's,
    /// or a queued `Notified`'s).
    pub(crate) fn shutdown(self) {
        // SAFETY: the caller hands over a reference it owns.
        unsafe { (self.header().vtable.shutdown)(self.ptr) }
    }

    /// Wakes the task without consuming a reference.
    pub(crate) fn wake_by_ref(self) {
        crate::loom::loom_trace!("wake_by_ref {:?} state {:?}", self.id(), self.state());
        let submit = self.header().state.transition_to_notified_by_ref();
        crate::loom::loom_trace!("wake_by_ref {:?} -> submit {submit}", self.id());
        if submit {
            self.schedule();
        }
    }

    /// Requests cancellation: the task is dropped at its next await (or right away if idle).
    pub(crate) fn request_cancel(self) {
        if self.header().state.transition_to_notified_and_cancel() {
            self.schedule();
        }
    }

    /// Makes `Runtime::join` ignore (`true`) or wait for (`false`) this task.
    pub(crate) fn set_daemon(self, daemon: bool) {
        // SAFETY: the vtable belongs to this task.
        unsafe { (self.header().vtable.set_daemon)(self.ptr, daemon) }
    }

    /// Flips the daemon flag in the state word (for the scheduler, which keeps the count `join`
    /// waits for): `Some(true)` if it changed, `None` if the task is complete.
    pub(crate) fn transition_daemon(self, daemon: bool) -> Option<bool> {
        self.header().state.set_daemon(daemon)
    }

    /// A waker that borrows this task's reference (it must not outlive the caller's reference).
    pub(super) fn borrowed_waker(self) -> std::mem::ManuallyDrop<Waker> {
        // SAFETY: the vtable's functions uphold the RawWaker contract for task pointers; the
        // ManuallyDrop keeps the borrowed waker from releasing a reference it does not own.
        std::mem::ManuallyDrop::new(unsafe { Waker::from_raw(raw_waker(self.ptr)) })
    }

    /// True if `waker` wakes exactly this task (so a wait may wake the task directly).
    pub(crate) fn is_waker_of(self, waker: &Waker) -> bool {
        std::ptr::eq(waker.vtable(), &WAKER_VTABLE) && waker.data() == self.ptr.as_ptr() as *const ()
    }
}

impl std::fmt::Debug for RawTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawTask").field("id", &self.id()).field("state", &self.state()).finish()
    }
}

/// A task that is scheduled to run: it owns one reference, which `run` consumes.
pub(crate) struct Notified(RawTask);

impl Notified {
    /// # Safety
    /// The caller transfers one reference of a task whose `NOTIFIED` bit it set.
    pub(super) unsafe fn from_raw(raw: RawTask) -> Notified {
        Notified(raw)
    }

    /// Polls the task (or carries out its cancellation).
    pub(crate) fn run(self) {
        let raw = self.0;
        std::mem::forget(self);
        raw.poll();
    }

    pub(crate) fn id(&self) -> TaskId {
        self.0.id()
    }

    /// The task's statistics (the worker notes each poll in them).
    pub(crate) fn stats(&self) -> &Stats {
        &self.0.header().stats
    }

    /// True if the task is on its runtime's owner list (so shutdown cancels it through the list).
    pub(crate) fn is_listed(&self) -> bool {
        self.0.owner_index() != UNLISTED
    }

    /// Cancels the task as part of runtime shutdown, consuming this reference: a queued task
    /// that was never polled is on no owner list, so whoever drains its queue must cancel it.
    /// A task that is running elsewhere or has ended only gives the reference back.
    pub(crate) fn cancel(self) {
        let raw = self.0;
        std::mem::forget(self);
        raw.shutdown();
    }
}

impl Drop for Notified {
    /// A queued task dropped without running (queues drained at shutdown) gives its reference back.
    fn drop(&mut self) {
        self.0.drop_reference();
    }
}

impl std::fmt::Debug for Notified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Notified").field(&self.0.id()).finish()
    }
}

/// One waker vtable for every task: `data` is the header pointer. Being a `static`, its address
/// is unique, which lets [`RawTask::is_waker_of`] recognise a task's own waker.
static WAKER_VTABLE: RawWakerVTable = RawWakerVTable::new(clone_waker, wake_by_val, wake_by_ref, drop_waker);

fn raw_waker(ptr: NonNull<Header>) -> RawWaker {
    RawWaker::new(ptr.as_ptr() as *const (), &WAKER_VTABLE)
}

unsafe fn clone_waker(data: *const ()) -> RawWaker {
    // SAFETY: `data` is the header pointer of a task kept alive by the waker being cloned.
    let raw = unsafe { RawTask::from_raw(NonNull::new_unchecked(data as *mut Header)) };
    raw.ref_inc();
    raw_waker(raw.ptr)
}

unsafe fn wake_by_val(data: *const ()) {
    use super::state::TransitionToNotifiedByVal::*;
    // SAFETY: as in clone_waker; this waker's reference is consumed below.
    let raw = unsafe { RawTask::from_raw(NonNull::new_unchecked(data as *mut Header)) };
    match raw.header().state.transition_to_notified_by_val() {
        Submit => raw.schedule(),
        Dealloc => raw.dealloc(),
        DoNothing => {}
    }
}

unsafe fn wake_by_ref(data: *const ()) {
    // SAFETY: as in clone_waker.
    let raw = unsafe { RawTask::from_raw(NonNull::new_unchecked(data as *mut Header)) };
    raw.wake_by_ref();
}

unsafe fn drop_waker(data: *const ()) {
    // SAFETY: as in clone_waker; this waker's reference is released.
    let raw = unsafe { RawTask::from_raw(NonNull::new_unchecked(data as *mut Header)) };
    raw.drop_reference();
}
