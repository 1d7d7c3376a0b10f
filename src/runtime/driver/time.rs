//! A runtime's timers: the wheel (`wheel.rs`) behind a lock, and the tick the earliest timer is
//! due, which workers read without the lock.

pub(crate) use super::wheel::Key;
use super::wheel::{TICK_SHIFT, Wheel};
use crate::loom::sync::Mutex;
use crate::loom::sync::atomic::{AtomicU64, Ordering::Relaxed, Ordering::SeqCst};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

/// Most wakers taken out of the wheel under one hold of its lock.
const FIRE_BATCH: usize = 1024;

/// A runtime's timers.
pub(crate) struct Timers {
    start: Instant,
    wheel: Mutex<Wheel>,
    /// The tick the earliest timer is due (`u64::MAX`: none); read without the lock.
    next: AtomicU64,
    /// Milliseconds since `start` when a worker last read the clock (every timer check does):
    /// the time task statistics stamp each poll with, without a clock read per poll. A std
    /// atomic even under loom: it orders nothing, and whether a look writes it depends on the
    /// real clock, which would make a loom model's schedule differ between its replays.
    coarse_ms: std::sync::atomic::AtomicU64,
}

impl Timers {
    pub(crate) fn new() -> Timers {
        Timers {
            start: Instant::now(),
            wheel: Mutex::new(Wheel::new()),
            next: AtomicU64::new(u64::MAX),
            coarse_ms: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The first tick that starts at or after `t` (timers never fire early).
    fn deadline_tick(&self, t: Instant) -> u64 {
        let nanos = t.saturating_duration_since(self.start).as_nanos();
        let tick = nanos.div_ceil(1 << TICK_SHIFT);
        u64::try_from(tick).unwrap_or(u64::MAX - 1)
    }

    /// Brings the coarse clock up to date (a worker does on waking: it may have slept long).
    pub(crate) fn refresh_clock(&self) {
        self.now_tick();
    }

    /// The tick now is in.
    fn now_tick(&self) -> u64 {
        let nanos = self.start.elapsed().as_nanos();
        let ms = u64::try_from(nanos / 1_000_000).unwrap_or(u64::MAX);
        // Written once a millisecond at most, not on every look (workers share the line).
        if ms > self.coarse_ms.load(Relaxed) {
            self.coarse_ms.fetch_max(ms, Relaxed);
        }
        u64::try_from(nanos >> TICK_SHIFT).unwrap_or(u64::MAX - 1)
    }

    /// When the runtime started: the zero of every time kept in milliseconds.
    pub(crate) fn start(&self) -> Instant {
        self.start
    }

    /// Milliseconds since the start as of the last timer check on any worker (every few dozen
    /// polls, and whenever a worker wakes): a few milliseconds behind at most while it runs.
    #[inline]
    pub(crate) fn coarse_ms(&self) -> u64 {
        self.coarse_ms.load(Relaxed)
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

    /// When the earliest timer is due, if any is registered.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        let next = self.next_due_tick();
        (next != u64::MAX).then(|| self.instant_of(next))
    }

    pub(crate) fn len(&self) -> usize {
        self.wheel.lock().len()
    }

    /// Registers a timer; returns its key and its tick.
    pub(crate) fn register(&self, deadline: Instant, waker: &Waker) -> (Key, u64) {
        let tick = self.deadline_tick(deadline);
        let mut wheel = self.wheel.lock();
        let key = wheel.insert(tick, waker.clone());
        let due = tick.max(wheel.elapsed());
        self.next.fetch_min(due, SeqCst);
        (key, due)
    }

    /// Ready (and the entry removed) once the timer fired; otherwise updates its waker.
    pub(crate) fn poll_entry(&self, key: Key, waker: &Waker) -> Poll<()> {
        let mut wheel = self.wheel.lock();
        if wheel.is_fired(key) {
            wheel.remove(key);
            Poll::Ready(())
        } else {
            wheel.set_waker(key, waker);
            Poll::Pending
        }
    }

    pub(crate) fn cancel(&self, key: Key) {
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
