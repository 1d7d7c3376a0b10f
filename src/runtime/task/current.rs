//! Which task this thread is polling right now.

use super::raw::RawTask;
use std::cell::Cell;

crate::loom::thread_local! {
    static CURRENT: Cell<Option<RawTask>> = Cell::new(None);
}

/// Restores the previous current task when dropped.
pub(crate) struct CurrentGuard {
    previous: Option<RawTask>,
}

/// Marks `task` as the one being polled on this thread until the guard drops.
pub(crate) fn enter(task: RawTask) -> CurrentGuard {
    let previous = CURRENT.with(|c| c.replace(Some(task)));
    CurrentGuard { previous }
}

impl Drop for CurrentGuard {
    fn drop(&mut self) {
        let previous = self.previous;
        // `try_with`: a task dropped during thread teardown has no thread-local left to restore.
        let _ = CURRENT.try_with(|c| c.set(previous));
    }
}

/// The task being polled on this thread, if any (without adding a reference).
pub(crate) fn get() -> Option<RawTask> {
    CURRENT.try_with(|c| c.get()).ok().flatten()
}
