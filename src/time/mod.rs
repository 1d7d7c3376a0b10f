//! Timers: [`sleep`], [`sleep_until`], [`timeout`], [`interval`].
//!
//! Each runtime keeps one timing wheel (see `wheel.rs`) with 65.5 µs ticks. A timer never fires
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

mod wheel;

use crate::loom::sync::Mutex;
use crate::loom::sync::atomic::{AtomicU64, Ordering::SeqCst};
use crate::runtime::Handle;
use pin_project_lite::pin_project;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use wheel::{Key, TICK_SHIFT, Wheel};

/// Most wakers taken out of the wheel under one hold of its lock.
const FIRE_BATCH: usize = 1024;

/// A runtime's timers.
pub(crate) struct Timers {
    start: Instant,
    wheel: Mutex<Wheel>,
    /// The tick the earliest timer is due (`u64::MAX`: none); read without the lock.
    next: AtomicU64,
}

impl Timers {
    pub(crate) fn new() -> Timers {
        Timers { start: Instant::now(), wheel: Mutex::new(Wheel::new()), next: AtomicU64::new(u64::MAX) }
    }

    /// The first tick that starts at or after `t` (timers never fire early).
    fn deadline_tick(&self, t: Instant) -> u64 {
        let nanos = t.saturating_duration_since(self.start).as_nanos();
        let tick = nanos.div_ceil(1 << TICK_SHIFT);
        u64::try_from(tick).unwrap_or(u64::MAX - 1)
    }

    /// The tick now is in.
    fn now_tick(&self) -> u64 {
        let nanos = self.start.elapsed().as_nanos();
        u64::try_from(nanos >> TICK_SHIFT).unwrap_or(u64::MAX - 1)
    }

    pub(crate) fn instant_of(&self, tick: u64) -> Instant {
        self.start + Duration::from_nanos(tick.saturating_mul(1 << TICK_SHIFT))
    }

    /// True if a timer is due now.
    pub(crate) fn is_due(&self) -> bool {
        self.next.load(SeqCst) <= self.now_tick()
    }

    pub(crate) fn next_due_tick(&self) -> u64 {
        self.next.load(SeqCst)
    }

    pub(crate) fn len(&self) -> usize {
        self.wheel.lock().len()
    }

    /// Registers a timer; returns its key and its tick.
    fn register(&self, deadline: Instant, waker: &Waker) -> (Key, u64) {
        let tick = self.deadline_tick(deadline);
        let mut wheel = self.wheel.lock();
        let key = wheel.insert(tick, waker.clone());
        let due = tick.max(wheel.elapsed());
        self.next.fetch_min(due, SeqCst);
        (key, due)
    }

    /// Ready (and the entry removed) once the timer fired; otherwise updates its waker.
    fn poll_entry(&self, key: Key, waker: &Waker) -> Poll<()> {
        let mut wheel = self.wheel.lock();
        if wheel.is_fired(key) {
            wheel.remove(key);
            Poll::Ready(())
        } else {
            wheel.set_waker(key, waker);
            Poll::Pending
        }
    }

    fn cancel(&self, key: Key) {
        self.wheel.lock().remove(key);
    }

    /// Fires every due timer; returns how many tasks were woken.
    pub(crate) fn fire_due(&self) -> usize {
        let now = self.now_tick();
        if self.next.load(SeqCst) > now {
            return 0;
        }
        let mut woken = 0;
        let mut wakers = Vec::new();
        loop {
            let more = {
                let mut wheel = self.wheel.lock();
                let more = wheel.advance(now, &mut wakers, FIRE_BATCH);
                self.next.store(wheel.next_expiration().unwrap_or(u64::MAX), SeqCst);
                more
            };
            woken += wakers.len();
            for waker in wakers.drain(..) {
                waker.wake();
            }
            if !more {
                return woken;
            }
        }
    }
}

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
            handle.shared.timers.cancel(key);
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if let Some((handle, key)) = &self.entry {
            if handle.shared.timers.poll_entry(*key, cx.waker()).is_pending() {
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
        let (key, tick) = handle.shared.timers.register(self.deadline, cx.waker());
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
