//! Cooperative budget: a task that keeps finding its resources ready (a full mailbox, a finished
//! join handle) would otherwise never return to its worker, starving every task queued behind it.
//!
//! The worker grants each task poll a budget; every rycos future that may complete without
//! waiting spends one unit, and once the budget is spent it returns `Pending` after waking its
//! task, which then goes to the back of the queue. Outside a worker the budget is unlimited.

use std::cell::Cell;
use std::task::{Context, Poll};

/// Operations a task may complete in one poll before it must yield.
pub(crate) const BUDGET: u32 = 128;

crate::loom::thread_local! {
    static REMAINING: Cell<Option<u32>> = Cell::new(None);
}

/// Runs `f` (one task poll) with a fresh budget.
pub(crate) fn budgeted<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(Option<u32>);
    impl Drop for Reset {
        fn drop(&mut self) {
            let _ = REMAINING.try_with(|r| r.set(self.0));
        }
    }
    let _reset = Reset(REMAINING.with(|r| r.replace(Some(BUDGET))));
    f()
}

/// Spends one unit; `Pending` (with the task woken to run again later) when none is left.
#[inline]
pub(crate) fn poll_proceed(cx: &mut Context<'_>) -> Poll<()> {
    let allowed = REMAINING
        .try_with(|r| match r.get() {
            None => true,
            Some(0) => false,
            Some(n) => {
                r.set(Some(n - 1));
                true
            }
        })
        .unwrap_or(true);
    if allowed {
        Poll::Ready(())
    } else {
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
