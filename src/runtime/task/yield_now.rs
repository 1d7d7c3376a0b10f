//! Giving the other tasks a turn.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Yields to the scheduler once: the task goes to the back of its worker's queue, so every task
/// queued before it runs first (pycos `yield` with no value).
///
/// ```
/// let rt = rycos::Runtime::new().unwrap();
/// rt.block_on(async {
///     for _ in 0..3 {
///         rycos::yield_now().await;
///     }
/// });
/// ```
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// Future of [`yield_now`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        // Waking while running makes the worker requeue the task at the back (not the LIFO slot).
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
