//! Tasks as pycos knows them: plain futures with a [`JoinHandle`], and tasks with a mailbox,
//! reached through [`TaskRef<M>`] and driven by their [`Cx<M>`] — the actor layer over the raw
//! task (`runtime::task`), which it reaches only through `MailboxSlot`, `TaskBody` and the
//! handles' counted pointer.

mod address;
mod builder;
mod cx;
mod hot_swap;
#[cfg(all(test, loom))]
mod loom_actor;
pub(crate) mod mailbox;
pub(crate) mod remote;
mod repr;
mod spawn;
mod task_ref;

pub use crate::runtime::task::{JoinError, JoinHandle, NodeId, TaskId, yield_now};
pub use address::TaskAddr;
pub use builder::Builder;
pub use cx::{Cx, Filter, NoFilter, Receive, ReceiveOrSwap, Received, Resumed, Suspend};
pub use hot_swap::{HotSwap, HotSwapError, SwapRequest};
pub use task_ref::{AnyTaskRef, TaskRef};

pub(crate) use crate::runtime::task::{extras, panic_message};
pub use spawn::{TaskFn, TaskOutput};

use crate::runtime::task::current_task;

/// The task this code runs in, if it runs in one (pycos `Pycos.cur_task()`).
///
/// ```
/// let rt = rycos::Runtime::new().unwrap();
/// let handle = rt.spawn(async { rycos::current().map(|t| t.id()) });
/// let id = handle.id();
/// assert_eq!(rt.block_on(handle).unwrap(), Some(id));
/// assert!(rycos::current().is_none()); // not inside a task here
/// ```
pub fn current() -> Option<AnyTaskRef> {
    let raw = current_task()?;
    raw.ref_inc();
    // SAFETY: a reference was added for the new handle.
    Some(unsafe { AnyTaskRef::from_raw(raw) })
}

/// What a task costs in memory is decided by a few layouts; these tests make growth a decision.
#[cfg(all(test, not(loom), target_pointer_width = "64"))]
mod sizes {
    use std::mem::size_of;

    #[test]
    fn the_header_of_every_task_stays_at_80_bytes() {
        assert_eq!(size_of::<crate::runtime::task::raw::Header>(), 80);
    }

    /// An idle actor (a `receive` loop with a `u64` mailbox) is one allocation of 184 bytes:
    /// glibc hands out 192 (8 bytes of its own, rounded up to 16). Eight bytes more would cost
    /// every such task 16, as one captured pointer does (README's "memory of an idle task":
    /// 228 B with the runtime's own share).
    #[test]
    fn an_idle_actor_fits_in_184_bytes() {
        let body = |cx: super::Cx<u64>| async move {
            std::hint::black_box(cx.receive().await);
        };
        fn cell_size<F, Fut>(_: &F) -> usize
        where
            F: FnOnce(super::Cx<u64>) -> Fut + Send + 'static,
            Fut: std::future::Future + Send + 'static,
            Fut::Output: Send + 'static,
        {
            size_of::<
                crate::runtime::task::raw::Cell<
                    super::spawn::ActorBody<F, Fut, u64>,
                    crate::loom::sync::Arc<crate::runtime::Shared>,
                    super::mailbox::Mailbox<u64>,
                >,
            >()
        }
        // At most: a compiler that lays the future out tighter is welcome.
        assert!(cell_size(&body) <= 184, "an idle actor takes {} bytes", cell_size(&body));
    }
}
