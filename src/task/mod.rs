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

#[cfg(all(test, not(loom)))]
mod size_probe {
    #[test]
    fn print_sizes() {
        use std::mem::size_of;
        eprintln!("Header {}", size_of::<crate::runtime::task::raw::Header>());
        eprintln!("Mailbox<u64> {}", size_of::<super::mailbox::Mailbox<u64>>());
        let f = |cx: super::Cx<u64>| async move {
            std::hint::black_box(cx.receive().await);
        };
        fn body_size<F, Fut>(_: &F) -> usize
        where
            F: FnOnce(super::Cx<u64>) -> Fut,
            Fut: std::future::Future,
        {
            size_of::<super::spawn::ActorBody<F, Fut, u64>>()
        }
        eprintln!("ActorBody {}", body_size(&f));
        fn cell_size<F, Fut>(_: &F) -> (usize, usize)
        where
            F: FnOnce(super::Cx<u64>) -> Fut + Send + 'static,
            Fut: std::future::Future + Send + 'static,
            Fut::Output: Send + 'static,
        {
            (
                size_of::<
                    crate::runtime::task::raw::Cell<
                        super::spawn::ActorBody<F, Fut, u64>,
                        crate::loom::sync::Arc<crate::runtime::Shared>,
                        super::mailbox::Mailbox<u64>,
                    >,
                >(),
                size_of::<crate::runtime::task::raw::Stage<super::spawn::ActorBody<F, Fut, u64>>>(),
            )
        }
        eprintln!("Cell, Stage {:?}", cell_size(&f));
        eprintln!("JoinError {}", size_of::<super::JoinError>());
        eprintln!("Arc<Shared> {}", size_of::<crate::loom::sync::Arc<crate::runtime::Shared>>());
    }
}
