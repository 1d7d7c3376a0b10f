//! Timers: [`sleep`], [`sleep_until`], [`timeout`], [`interval`].
//!
//! Each runtime keeps one timing wheel (`runtime/driver/wheel.rs`) with 65.5 µs ticks. A timer never fires
//! early; it fires in the tick after its deadline, as soon as a worker looks: busy workers check
//! every `event_interval` polls, and when every worker is idle the first one to park sleeps
//! exactly until the next deadline.
//!
//! ```
//! use std::time::{Duration, Instant};
//! let rt = rycos::Runtime::new().unwrap();
//! rt.block_on(async {
//!     let start = Instant::now();
//!     rycos::time::sleep(Duration::from_millis(20)).await;
//!     assert!(start.elapsed() >= Duration::from_millis(20));
//!
//!     let slow = rycos::time::sleep(Duration::from_secs(10));
//!     assert!(rycos::time::timeout(Duration::from_millis(5), slow).await.is_err());
//! });
//! ```

use crate::runtime::Handle;
use crate::runtime::driver::time::Key;
use pin_project_lite::pin_project;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Waits until `duration` has passed (pycos `yield task.sleep(t)`).
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(Instant::now() + duration)
}

/// Waits until `deadline`.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep { deadline, entry: None }
}

/// Future of [`sleep`] and [`sleep_until`]. Cancelling it (dropping it) removes its timer.
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    deadline: Instant,
    entry: Option<(Handle, Key)>,
}

impl Sleep {
    /// When this sleep ends.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// True once the deadline has passed.
    pub fn is_elapsed(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Moves the deadline (the sleep may be waited on again).
    pub fn reset(&mut self, deadline: Instant) {
        self.cancel();
        self.deadline = deadline;
    }

    fn cancel(&mut self) {
        if let Some((handle, key)) = self.entry.take() {
            handle.shared.driver.timers.cancel(key);
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if let Some((handle, key)) = &self.entry {
            if handle.shared.driver.timers.poll_entry(*key, cx.waker()).is_pending() {
                return Poll::Pending;
            }
            self.entry = None;
        }
        // Also the path of a timer that fired: far deadlines are capped by the wheel's span
        // and re-registered here until they are really due.
        if Instant::now() >= self.deadline {
            return Poll::Ready(());
        }
        let handle = Handle::current_or_default();
        let (key, tick) = handle.shared.driver.timers.register(self.deadline, cx.waker());
        handle.shared.timer_registered(tick);
        self.entry = Some((handle, key));
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.cancel();
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep").field("deadline", &self.deadline).finish()
    }
}

/// The error of [`timeout`]: the deadline passed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(_: Elapsed) -> Self {
        std::io::ErrorKind::TimedOut.into()
    }
}

/// Runs `future`, giving up after `duration` (the future is then dropped). The future gets one
/// poll even if `duration` is zero, so a ready result is never lost to the timer.
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    Timeout { future, sleep: sleep(duration) }
}

/// Like [`timeout`] with a deadline.
pub fn timeout_at<F: Future>(deadline: Instant, future: F) -> Timeout<F> {
    Timeout { future, sleep: sleep_until(deadline) }
}

pin_project! {
    /// Future of [`timeout`].
    #[must_use = "futures do nothing unless awaited"]
    pub struct Timeout<F> {
        #[pin]
        future: F,
        sleep: Sleep,
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(output) = this.future.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        match Pin::new(this.sleep).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed(()))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F> fmt::Debug for Timeout<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout").field("deadline", &self.sleep.deadline).finish()
    }
}

/// Ticks every `period`, the first tick at once. A tick that comes late (the task was busy)
/// does not make the next ones come faster: missed ticks are skipped and the schedule keeps its
/// phase.
///
/// ```
/// use std::time::Duration;
/// let rt = rycos::Runtime::new().unwrap();
/// rt.block_on(async {
///     let mut every = rycos::time::interval(Duration::from_millis(2));
///     let first = every.tick().await;
///     let second = every.tick().await;
///     assert!(second - first >= Duration::from_millis(2));
/// });
/// ```
pub fn interval(period: Duration) -> Interval {
    assert!(!period.is_zero(), "interval period must be positive");
    let now = Instant::now();
    Interval { period, next: now, sleep: sleep_until(now) }
}

/// A periodic timer; see [`interval`].
#[derive(Debug)]
pub struct Interval {
    period: Duration,
    next: Instant,
    sleep: Sleep,
}

impl Interval {
    /// Waits for the next tick; returns when it was scheduled.
    pub async fn tick(&mut self) -> Instant {
        std::future::poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        std::task::ready!(Pin::new(&mut self.sleep).poll(cx));
        let scheduled = self.next;
        let now = Instant::now();
        let mut next = scheduled + self.period;
        if next <= now {
            let behind = now.duration_since(next).as_nanos() / self.period.as_nanos();
            let skip = u32::try_from(behind + 1).unwrap_or(u32::MAX);
            next += self.period.saturating_mul(skip);
        }
        self.next = next;
        self.sleep.reset(next);
        Poll::Ready(scheduled)
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }
}

impl futures_core::Stream for Interval {
    type Item = Instant;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Instant>> {
        self.get_mut().poll_tick(cx).map(Some)
    }
}
