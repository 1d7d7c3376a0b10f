//! What every task keeps for a snapshot of its runtime (`runtime/snapshot.rs`): where it was
//! spawned and when, how often and when last it was polled — 24 bytes in the header.
//!
//! They must be cheap enough to leave on: the worker that polls a task writes two of them with
//! plain stores (it holds the task's RUNNING bit, so nobody else writes them), and a snapshot
//! reads them racily (they are atomics; each is right on its own). Times come from the coarse
//! clock the timer checks keep (`Timers::coarse_ms`), not a clock read per poll, and are kept
//! in 16 ms units, so that 32 bits last 2.2 years.
//!
//! The spawn site is the pointer `#[track_caller]` hands over: one store. It makes the header
//! 80 bytes instead of 72, which costs an idle task 18 bytes (228 instead of 210 with one
//! captured handle: glibc's next 16-byte step). Both smaller encodings were measured and cost
//! spawn time instead (callgrind, 200k spawns and joins; BENCHMARKS.md): a number interned
//! through a per-thread cache, +2.6 %; a 32-bit distance from a static of this crate (the
//! sites lie in the same image) turned back into a reference with `unsafe`, +2.0 %.

use crate::loom::sync::atomic::AtomicU32;
use crate::loom::sync::atomic::Ordering::Relaxed;
use std::panic::Location;

/// Milliseconds in the unit task times are kept in.
pub(crate) const TIME_UNIT_MS: u64 = 16;

/// A task's statistics.
pub(crate) struct Stats {
    site: &'static Location<'static>,
    /// When it was spawned, in `TIME_UNIT_MS` since the runtime started.
    spawned: u32,
    /// Polls so far (wrapping after 2^32).
    polls: AtomicU32,
    /// When the last poll began, in the same units. Meaningless while `polls` is 0.
    last_poll: AtomicU32,
}

impl Stats {
    /// The statistics of a task spawned at `site` when the coarse clock read `now_ms`.
    #[inline]
    pub(crate) fn new(site: &'static Location<'static>, now_ms: u64) -> Stats {
        Stats { site, spawned: units(now_ms), polls: AtomicU32::new(0), last_poll: AtomicU32::new(0) }
    }

    /// A poll begins, at `now_ms` (the coarse clock). Only the polling worker writes.
    #[inline]
    pub(crate) fn note_poll(&self, now_ms: u64) {
        self.polls.store(self.polls.load(Relaxed).wrapping_add(1), Relaxed);
        self.last_poll.store(units(now_ms), Relaxed);
    }

    /// The source line that spawned the task.
    pub(crate) fn spawned_at(&self) -> &'static Location<'static> {
        self.site
    }

    /// Polls so far.
    pub(crate) fn polls(&self) -> u32 {
        self.polls.load(Relaxed)
    }

    /// Milliseconds from the spawn to `now_ms` (to within a unit; 0 for `now_ms` before it).
    pub(crate) fn age_ms(&self, now_ms: u64) -> u64 {
        u64::from(units(now_ms).saturating_sub(self.spawned)) * TIME_UNIT_MS
    }

    /// Milliseconds from the start of the last poll to `now_ms` (to within a unit); 0 for a
    /// poll that began after `now_ms` was read.
    pub(crate) fn since_last_poll_ms(&self, now_ms: u64) -> u64 {
        u64::from(units(now_ms).saturating_sub(self.last_poll.load(Relaxed))) * TIME_UNIT_MS
    }
}

/// `ms` in `TIME_UNIT_MS` units (wrapping after 2.2 years of uptime).
#[inline]
fn units(ms: u64) -> u32 {
    (ms / TIME_UNIT_MS) as u32
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[track_caller]
    fn here() -> &'static Location<'static> {
        Location::caller()
    }

    #[test]
    fn the_spawn_site_comes_back_as_it_was_given() {
        let site = here();
        let stats = Stats::new(site, 0);
        assert!(std::ptr::eq(stats.spawned_at(), site));
        assert_eq!(stats.spawned_at().line(), site.line());
    }

    #[test]
    fn times_are_kept_in_units_and_polls_counted() {
        let stats = Stats::new(here(), 1_000);
        assert_eq!(stats.polls(), 0);
        assert_eq!(stats.age_ms(1_000 + 10 * TIME_UNIT_MS), 10 * TIME_UNIT_MS);
        stats.note_poll(2_000);
        stats.note_poll(3_000);
        assert_eq!(stats.polls(), 2);
        assert_eq!(stats.since_last_poll_ms(3_000 + 5 * TIME_UNIT_MS), 5 * TIME_UNIT_MS);
        assert_eq!(stats.since_last_poll_ms(2_500), 0, "a poll after the reading is 'just now'");
        assert_eq!(stats.age_ms(500), 0);
        // Two years of uptime fit.
        let late = 2 * 365 * 24 * 3_600 * 1_000;
        assert_eq!(Stats::new(here(), late).age_ms(late + 1_600), 1_600);
    }
}
