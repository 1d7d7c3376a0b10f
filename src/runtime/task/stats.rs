//! What every task keeps for a snapshot of its runtime (`runtime/snapshot.rs`): where it was
//! spawned and when, how often and when last it was polled — 16 bytes in the header.
//!
//! They must be cheap enough to leave on: the worker that polls a task writes two of them with
//! plain stores (it holds the task's RUNNING bit, so nobody else writes them), and a snapshot
//! reads them racily (they are atomics; each is right on its own). Times come from the coarse
//! clock the timer checks keep (`Timers::coarse_ms`), not a clock read per poll, and are kept
//! in 16 ms units, so that 32 bits last 2.2 years. The spawn site is interned: four bytes of
//! number, not an eight-byte pointer (the header would have grown past 72 bytes, and with it
//! the allocation of every small task across one of the allocator's size classes: +15 % of
//! instructions per spawn, measured with callgrind).

use crate::loom::sync::atomic::AtomicU32;
use crate::loom::sync::atomic::Ordering::Relaxed;
use std::cell::Cell;
use std::collections::HashMap;
use std::panic::Location;
use std::sync::{OnceLock, RwLock};

/// Milliseconds in the unit task times are kept in.
pub(crate) const TIME_UNIT_MS: u64 = 16;

/// A task's statistics.
pub(crate) struct Stats {
    site: SpawnSite,
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
        Stats {
            site: SpawnSite::of(site),
            spawned: units(now_ms),
            polls: AtomicU32::new(0),
            last_poll: AtomicU32::new(0),
        }
    }

    /// A poll begins, at `now_ms` (the coarse clock). Only the polling worker writes.
    #[inline]
    pub(crate) fn note_poll(&self, now_ms: u64) {
        self.polls.store(self.polls.load(Relaxed).wrapping_add(1), Relaxed);
        self.last_poll.store(units(now_ms), Relaxed);
    }

    /// The source line that spawned the task.
    pub(crate) fn spawned_at(&self) -> &'static Location<'static> {
        self.site.location()
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

/// A spawn site by number. Call sites are finite (they are in the program's code), so the
/// table only grows while new code paths spawn for the first time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SpawnSite(u32);

#[derive(Default)]
struct Sites {
    /// By the address of the `Location` (one static per call site; a site inlined into two
    /// places may get two numbers, which is harmless).
    numbers: HashMap<usize, u32>,
    locations: Vec<&'static Location<'static>>,
}

fn sites() -> &'static RwLock<Sites> {
    static SITES: OnceLock<RwLock<Sites>> = OnceLock::new();
    SITES.get_or_init(Default::default)
}

/// Entries of each thread's cache of recent sites.
const CACHED: usize = 8;

thread_local! {
    /// Recent sites of this thread (address, number), by address: a loop that spawns finds
    /// its site here, without the table's lock.
    static RECENT: [Cell<(usize, u32)>; CACHED] = const { [const { Cell::new((0, 0)) }; CACHED] };
}

impl SpawnSite {
    #[inline]
    fn of(location: &'static Location<'static>) -> SpawnSite {
        let address = location as *const Location<'static> as usize;
        // `Location`s are 8-aligned: the bits above the alignment pick the entry.
        let slot = (address >> 3) % CACHED;
        let cached = RECENT.try_with(|recent| recent[slot].get()).unwrap_or((0, 0));
        if cached.0 == address {
            return SpawnSite(cached.1);
        }
        let number = Self::intern(address, location);
        let _ = RECENT.try_with(|recent| recent[slot].set((address, number)));
        SpawnSite(number)
    }

    #[cold]
    fn intern(address: usize, location: &'static Location<'static>) -> u32 {
        if let Some(&number) = sites().read().unwrap_or_else(|e| e.into_inner()).numbers.get(&address) {
            return number;
        }
        let mut sites = sites().write().unwrap_or_else(|e| e.into_inner());
        if let Some(&number) = sites.numbers.get(&address) {
            return number;
        }
        let number = u32::try_from(sites.locations.len()).expect("fewer than 2^32 spawn sites");
        sites.locations.push(location);
        sites.numbers.insert(address, number);
        number
    }

    fn location(self) -> &'static Location<'static> {
        sites().read().unwrap_or_else(|e| e.into_inner()).locations[self.0 as usize]
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[track_caller]
    fn here() -> &'static Location<'static> {
        Location::caller()
    }

    #[test]
    fn sites_are_numbered_once_and_give_their_location_back() {
        let sites: Vec<_> = (0..3).map(|_| here()).collect(); // one call site, three calls
        let other = here();
        let numbers: Vec<_> = sites.iter().map(|&s| SpawnSite::of(s)).collect();
        assert!(numbers.windows(2).all(|w| w[0] == w[1]));
        let other_number = SpawnSite::of(other);
        assert_ne!(numbers[0], other_number);
        assert_eq!(numbers[0].location().line(), sites[0].line());
        assert_eq!(other_number.location().line(), other.line());
        // From another thread (an empty cache): the same numbers.
        let again =
            std::thread::spawn(move || (SpawnSite::of(sites[0]), SpawnSite::of(other))).join().unwrap();
        assert_eq!(again, (numbers[0], other_number));
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
