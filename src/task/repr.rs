//! What a task handle holds, in one word: a counted pointer to a task of this process, or to a
//! task on another node, told apart by the pointer's lowest bit.
//!
//! Why one word and not a two-variant enum: a handle travels inside messages (a reply address
//! in a request), so its size is the message's. As an enum it was two words, the benchmark's
//! `enum Ping { Peer(TaskRef<Ping>), N(u64) }` grew from 16 to 24 bytes, and ping_pong got
//! 7–25 % slower (mailbox slots and `SendError`s that no longer fit two registers; see
//! BENCHMARKS.md, issue 13). Both pointers point at allocations aligned to at least 8 bytes, so
//! the bit is always free; the tag costs one `test` on the local path that the enum's
//! discriminant cost anyway.

use super::remote::RemoteTask;
use crate::runtime::task::raw::{Header, RawTask};
use std::num::NonZero;
use std::ptr::NonNull;
use std::sync::Arc;

/// Set in the pointer of a remote handle.
const REMOTE: usize = 1;

/// What a remote handle points at: the `Arc` is boxed once more so that the pointer is thin.
type RemoteBox = Arc<dyn RemoteTask>;

// The tag bit must be free in both pointers.
const _: () = assert!(align_of::<Header>() > REMOTE && align_of::<RemoteBox>() > REMOTE);

/// One counted reference to a local task or a remote one. Holding it keeps the local task's
/// allocation (not the task) or the remote record alive; dropping it releases that reference.
pub(super) struct Repr {
    /// A local task's header pointer as it is, or the remote pointer with `REMOTE` set (typed
    /// as a header pointer only so that the local arm can lend it out as a `&RawTask`; the
    /// tagged value is never dereferenced as one).
    tagged: NonNull<Header>,
}

/// A borrowed view of a [`Repr`], to match on.
pub(super) enum Arm<'a> {
    /// A task of this process (copying the `RawTask` out adds no reference).
    Local(&'a RawTask),
    /// A task on another node.
    Remote(&'a RemoteBox),
}

// SAFETY: a `Repr` is either a `RawTask` (Send + Sync: every access goes through the task's
// atomic state protocol) or an `Arc<Arc<dyn RemoteTask>>` (Send + Sync since `RemoteTask` is).
unsafe impl Send for Repr {}
// SAFETY: as above; `&Repr` only hands out `RawTask` copies and `&Arc<dyn RemoteTask>`.
unsafe impl Sync for Repr {}

impl Repr {
    /// Takes over one reference of `raw`.
    pub(super) fn local(raw: RawTask) -> Repr {
        Repr { tagged: raw.header_ptr() }
    }

    /// Takes over `remote`.
    pub(super) fn remote(remote: RemoteBox) -> Repr {
        let ptr =
            NonNull::new(Arc::into_raw(Arc::new(remote)).cast_mut()).expect("Arc::into_raw is never null");
        Repr { tagged: ptr.cast::<Header>().map_addr(|addr| addr | REMOTE) }
    }

    /// Which kind of task this is, borrowed.
    #[inline(always)]
    pub(super) fn arm(&self) -> Arm<'_> {
        if self.tagged.addr().get() & REMOTE == 0 {
            // SAFETY: untagged pointers come from `local`: the pointer of a live `RawTask` whose
            // reference this `Repr` holds, and `RawTask` is `repr(transparent)` over it, so
            // the field can be borrowed as one.
            Arm::Local(unsafe { &*(&raw const self.tagged).cast::<RawTask>() })
        } else {
            // SAFETY: tagged pointers come from `remote`: `Arc::into_raw` of an `Arc` whose
            // strong count this `Repr` holds, so the pointee lives as long as `self`.
            Arm::Remote(unsafe { self.remote_ptr().as_ref() })
        }
    }

    /// The pointer `Arc::into_raw` returned, for a tagged `Repr`.
    fn remote_ptr(&self) -> NonNull<RemoteBox> {
        debug_assert!(self.tagged.addr().get() & REMOTE != 0);
        self.tagged
            .map_addr(|addr| NonZero::new(addr.get() & !REMOTE).expect("an aligned pointer is never 0"))
            .cast::<RemoteBox>()
    }
}

impl Clone for Repr {
    fn clone(&self) -> Repr {
        match self.arm() {
            Arm::Local(raw) => raw.ref_inc(),
            // SAFETY: the pointer came from `Arc::into_raw` and `self` holds a strong count, so
            // the allocation is live while the count goes up.
            Arm::Remote(_) => unsafe { Arc::increment_strong_count(self.remote_ptr().as_ptr()) },
        }
        Repr { tagged: self.tagged }
    }
}

impl Drop for Repr {
    fn drop(&mut self) {
        match self.arm() {
            Arm::Local(raw) => raw.drop_reference(),
            // SAFETY: the pointer came from `Arc::into_raw`; this `Repr` gives back the strong
            // count it held, once.
            Arm::Remote(_) => drop(unsafe { Arc::from_raw(self.remote_ptr().as_ptr()) }),
        }
    }
}
