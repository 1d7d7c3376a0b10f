//! A hierarchical timing wheel: 6 levels of 64 slots over ticks of 2^16 ns (≈ 65.5 µs).
//!
//! Level 0 slots are one tick wide (the level spans 4.2 ms), level 1 slots 64 ticks (268 ms),
//! level 2 17 s, level 3 18 min, level 4 19 h, level 5 51 days. An entry sits at the level of the
//! highest 6-bit group in which its tick differs from `elapsed`, so all entries of a lower level
//! are due before those of a higher one. When a higher-level slot comes due, its entries move
//! down ("cascade") until they reach level 0 and fire. Entries further away than the wheel's span
//! are parked in the top level and re-sorted when their slot comes round.
//!
//! Cascading a level-2 slot (one 268 ms span of timers: a quarter of a million entries when a
//! million timers are spread over a second) takes ~12 ms, and the timers due right after the
//! boundary would wait for all of it. So the wheel works ahead: while the current level-1
//! revolution runs, each `advance` moves a bounded batch of the next level-2 slot's entries into
//! a second, *staged* set of level-0 and level-1 lists, laid out as they would be at the boundary.
//! When the boundary comes, the staged set and the (empty) current one swap roles in O(1), and
//! only the entries added since the last batch are cascaded there. An entry's `Place` names the
//! physical list set, so cancelling a staged entry needs nothing special.
//!
//! Entries live in a slab; each slot is a doubly-linked list threaded through the slab by index,
//! so insert and cancel are O(1) and a million pending timers cost one slab entry each (no
//! allocation per timer once the slab has grown). An entry stays in the slab after it fires until
//! its owner (the `Sleep`) removes it, so its key stays valid and cannot be reused under it.
//! Whenever the wheel empties, the slab starts over from its first entry, so a new batch of
//! timers is laid out in insertion order rather than scattered (see `remove`).

use slab::Slab;
use std::task::Waker;

pub(crate) const TICK_SHIFT: u32 = 16;
const SLOT_BITS: u32 = 6;
const SLOTS: usize = 1 << SLOT_BITS;
const LEVELS: usize = 6;
const NIL: u32 = u32::MAX;
/// Physical index of the first list of the second set of level-0 and level-1 lists.
const STAGED: usize = LEVELS;
/// Entries of the next level-2 slot staged per tick that passed since the last batch: enough
/// to stage a million entries in one 4,096-tick revolution of level 1, in batches short enough
/// (a few µs for the usual one-tick step) not to hold up the lock's other users.
const STAGE_PER_TICK: u64 = 256;
/// Ticks covered by the whole wheel.
const SPAN: u64 = 1 << (SLOT_BITS as u64 * LEVELS as u64);

pub(crate) type Key = usize;

pub(crate) struct Wheel {
    /// Every slot before this tick has been processed.
    elapsed: u64,
    /// `LEVELS` levels, then a second set of lists for levels 0 and 1 (`STAGED..`): one set is
    /// current, the other receives the next level-2 slot ahead of its boundary.
    lists: [Level; LEVELS + 2],
    /// True when the current level-0 and level-1 lists are the second set.
    swapped: bool,
    /// The level-1 boundary whose level-2 slot is being staged, if any.
    staging: Option<u64>,
    /// `elapsed` when the last staging batch ran.
    staged_at: u64,
    /// Entries already due when inserted; they fire at the next `advance`.
    expired: u32,
    entries: Slab<Entry>,
}

struct Level {
    /// Bit `s` set when slot `s` holds entries.
    occupied: u64,
    heads: [u32; SLOTS],
}

struct Entry {
    when: u64,
    place: Place,
    prev: u32,
    next: u32,
    waker: Option<Waker>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Place {
    /// In slot `slot` of the physical list set `list` (an index into `Wheel::lists`).
    Slot {
        list: u8,
        slot: u8,
    },
    Expired,
    Fired,
}

fn slot_range(level: usize) -> u64 {
    1 << (SLOT_BITS as usize * level)
}

fn level_range(level: usize) -> u64 {
    1 << (SLOT_BITS as usize * (level + 1))
}

/// The slot of `level` that tick `tick` falls in.
fn slot_of(level: usize, tick: u64) -> usize {
    ((tick >> (SLOT_BITS as usize * level)) % SLOTS as u64) as usize
}

/// The level for an entry due at `when`, seen from `elapsed` (`when > elapsed`).
fn level_for(elapsed: u64, when: u64) -> usize {
    let mut masked = (elapsed ^ when) | (SLOTS as u64 - 1);
    if masked >= SPAN {
        masked = SPAN - 1;
    }
    let significant = 63 - masked.leading_zeros() as usize;
    significant / SLOT_BITS as usize
}

impl Wheel {
    pub(crate) fn new() -> Wheel {
        Wheel {
            elapsed: 0,
            lists: std::array::from_fn(|_| Level { occupied: 0, heads: [NIL; SLOTS] }),
            swapped: false,
            staging: None,
            staged_at: 0,
            expired: NIL,
            entries: Slab::new(),
        }
    }

    pub(crate) fn elapsed(&self) -> u64 {
        self.elapsed
    }

    /// Entries in the slab (pending or fired but not yet removed).
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Adds a timer due at tick `when` that wakes `waker`.
    pub(crate) fn insert(&mut self, when: u64, waker: Waker) -> Key {
        let key = self.entries.insert(Entry {
            when,
            place: Place::Fired,
            prev: NIL,
            next: NIL,
            waker: Some(waker),
        });
        assert!(key < NIL as usize, "too many pending timers");
        self.place(key as u32);
        key
    }

    /// True once the timer has fired.
    pub(crate) fn is_fired(&self, key: Key) -> bool {
        self.entries[key].place == Place::Fired
    }

    /// Replaces the waker of a pending timer, unless it already wakes the same task.
    pub(crate) fn set_waker(&mut self, key: Key, waker: &Waker) {
        let slot = &mut self.entries[key].waker;
        if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *slot = Some(waker.clone());
        }
    }

    /// Cancels a pending timer or forgets a fired one.
    pub(crate) fn remove(&mut self, key: Key) {
        self.unlink(key as u32);
        self.entries.remove(key);
        if self.entries.is_empty() {
            // Start the next batch of entries at the front of the slab again, one after the
            // other in insertion order, instead of in the scattered order the last batch was
            // freed in: cascading walks a slot's list entry by entry, and over a scattered slab
            // every step is a cache miss (a 268k-entry cascade held the lock ~30 ms).
            self.entries.clear();
        }
    }

    /// The tick at which the next entry is due, if any.
    pub(crate) fn next_expiration(&self) -> Option<u64> {
        if self.expired != NIL {
            return Some(self.elapsed);
        }
        let staged = (0..2).any(|level| self.lists[self.staged_list(level)].occupied != 0);
        let boundary = self.staging.filter(|_| staged);
        (0..LEVELS)
            .filter_map(|level| self.next_slot(level).map(|(_, deadline)| deadline))
            .chain(boundary)
            .min()
    }

    /// Fires every entry due at or before tick `now`, pushing their wakers onto `wakers`. Stops
    /// early, returning true, once this call has added at least `limit` wakers; call again for
    /// the rest.
    pub(crate) fn advance(&mut self, now: u64, wakers: &mut Vec<Waker>, limit: usize) -> bool {
        let start = wakers.len();
        let more = loop {
            while self.expired != NIL {
                let key = self.expired;
                self.unlink(key);
                self.fire(key, wakers);
            }
            if wakers.len() - start >= limit {
                break true;
            }
            // The staging boundary is a stop of its own: once the whole next level-2 slot is
            // staged that slot is empty, yet time must stop there to swap the staged lists in.
            // (At a tie the level's slot sorts first; the swap still happens before it is
            // processed.)
            let boundary = self.staging.map(|at| (at, LEVELS, 0));
            let next = (0..LEVELS)
                .filter_map(|level| self.next_slot(level).map(|(slot, deadline)| (deadline, level, slot)))
                .chain(boundary)
                .min();
            match next {
                Some((deadline, level, slot)) if deadline <= now => {
                    self.elapsed = deadline;
                    if self.staging == Some(deadline) {
                        self.swap_in_staged();
                    }
                    if level < LEVELS {
                        self.process_slot(level, slot, wakers);
                    }
                }
                _ => {
                    self.elapsed = self.elapsed.max(now);
                    break false;
                }
            }
        };
        self.stage_ahead();
        more
    }

    /// Stages a batch of the next level-2 slot's entries into the spare level-0 and level-1
    /// lists, starting on that slot if nothing is being staged.
    fn stage_ahead(&mut self) {
        let boundary = match self.staging {
            Some(boundary) => boundary,
            None => {
                let boundary = (self.elapsed | (level_range(1) - 1)) + 1;
                // At a boundary of level 2 itself the entries come from a higher level, whose
                // cascade is rare (every 17 s); those are left to `process_slot`.
                if boundary.is_multiple_of(level_range(2)) || !self.slot_occupied(2, boundary) {
                    return;
                }
                self.staging = Some(boundary);
                self.staged_at = self.elapsed;
                boundary
            }
        };
        let budget = (self.elapsed - self.staged_at).max(1) * STAGE_PER_TICK;
        self.staged_at = self.elapsed;
        let slot = slot_of(2, boundary);
        for _ in 0..budget {
            let key = self.lists[2].heads[slot];
            if key == NIL {
                return;
            }
            self.unlink(key);
            let when = self.entries[key as usize].when;
            let level = level_for(boundary, when);
            let place = Place::Slot { list: self.staged_list(level) as u8, slot: slot_of(level, when) as u8 };
            self.link(key, place);
        }
    }

    /// At the staging boundary: the staged lists become the current ones. The current ones are
    /// empty then: every entry they held was due before the boundary.
    fn swap_in_staged(&mut self) {
        debug_assert!((0..2).all(|level| self.lists[self.current_list(level)].occupied == 0));
        self.swapped = !self.swapped;
        self.staging = None;
    }

    fn slot_occupied(&self, level: usize, tick: u64) -> bool {
        self.lists[self.current_list(level)].occupied & (1 << slot_of(level, tick)) != 0
    }

    /// The physical list set that holds `level` now.
    fn current_list(&self, level: usize) -> usize {
        if level < 2 && self.swapped { STAGED + level } else { level }
    }

    /// The physical list set that receives staged entries of `level` (0 or 1).
    fn staged_list(&self, level: usize) -> usize {
        if self.swapped { level } else { STAGED + level }
    }

    /// The first occupied slot of `level` at or after `elapsed`, and the tick it comes due.
    fn next_slot(&self, level: usize) -> Option<(usize, u64)> {
        let occupied = self.lists[self.current_list(level)].occupied;
        if occupied == 0 {
            return None;
        }
        let current = ((self.elapsed >> (SLOT_BITS as usize * level)) % SLOTS as u64) as u32;
        let slot = ((occupied.rotate_right(current).trailing_zeros() + current) % SLOTS as u32) as usize;
        let level_start = self.elapsed & !(level_range(level) - 1);
        let mut deadline = level_start + slot as u64 * slot_range(level);
        if deadline < self.elapsed || (deadline == self.elapsed && level > 0) {
            // The slot comes round in the next revolution of this level (only far entries
            // clamped into the top level can be there).
            deadline += level_range(level);
        }
        Some((slot, deadline))
    }

    fn process_slot(&mut self, level: usize, slot: usize, wakers: &mut Vec<Waker>) {
        let list = self.current_list(level);
        let lvl = &mut self.lists[list];
        let mut key = std::mem::replace(&mut lvl.heads[slot], NIL);
        lvl.occupied &= !(1 << slot);
        while key != NIL {
            let entry = &mut self.entries[key as usize];
            let next = entry.next;
            entry.prev = NIL;
            entry.next = NIL;
            entry.place = Place::Fired;
            if entry.when <= self.elapsed {
                self.fire(key, wakers);
            } else {
                self.place(key);
            }
            key = next;
        }
    }

    fn fire(&mut self, key: u32, wakers: &mut Vec<Waker>) {
        let entry = &mut self.entries[key as usize];
        entry.place = Place::Fired;
        if let Some(waker) = entry.waker.take() {
            wakers.push(waker);
        }
    }

    /// Links an unlinked entry into the list its tick calls for.
    fn place(&mut self, key: u32) {
        let when = self.entries[key as usize].when;
        let place = if when <= self.elapsed {
            Place::Expired
        } else {
            // Entries beyond the span sit in the top level until they come closer.
            let pos = when.min(self.elapsed + SPAN - 1);
            let level = level_for(self.elapsed, pos);
            Place::Slot { list: self.current_list(level) as u8, slot: slot_of(level, pos) as u8 }
        };
        self.link(key, place);
    }

    /// Pushes an unlinked entry onto the front of the list at `place`.
    fn link(&mut self, key: u32, place: Place) {
        let head = self.head_mut(place);
        let old_head = std::mem::replace(head, key);
        if let Place::Slot { list, slot } = place {
            self.lists[list as usize].occupied |= 1 << slot;
        }
        if old_head != NIL {
            self.entries[old_head as usize].prev = key;
        }
        let entry = &mut self.entries[key as usize];
        entry.place = place;
        entry.prev = NIL;
        entry.next = old_head;
    }

    /// Takes an entry out of whatever list holds it.
    fn unlink(&mut self, key: u32) {
        let Entry { place, prev, next, .. } = self.entries[key as usize];
        if place == Place::Fired {
            return;
        }
        if prev != NIL {
            self.entries[prev as usize].next = next;
        } else {
            *self.head_mut(place) = next;
            if let Place::Slot { list, slot } = place
                && next == NIL
            {
                self.lists[list as usize].occupied &= !(1 << slot);
            }
        }
        if next != NIL {
            self.entries[next as usize].prev = prev;
        }
        let entry = &mut self.entries[key as usize];
        entry.place = Place::Fired;
        entry.prev = NIL;
        entry.next = NIL;
    }

    fn head_mut(&mut self, place: Place) -> &mut u32 {
        match place {
            Place::Slot { list, slot } => &mut self.lists[list as usize].heads[slot as usize],
            Place::Expired => &mut self.expired,
            Place::Fired => unreachable!("fired entries are in no list"),
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn waker() -> Waker {
        Waker::from(Arc::new(Count(AtomicUsize::new(0))))
    }

    fn fire_until(wheel: &mut Wheel, now: u64) -> usize {
        let mut wakers = Vec::new();
        while wheel.advance(now, &mut wakers, 7) {}
        wakers.len()
    }

    #[test]
    fn fires_exactly_at_its_tick() {
        let mut wheel = Wheel::new();
        for when in [1, 63, 64, 65, 4095, 4096, 300_000] {
            let key = wheel.insert(when, waker());
            assert_eq!(wheel.next_expiration().map(|n| n <= when), Some(true));
            assert_eq!(fire_until(&mut wheel, when - 1), 0, "{when} fired early");
            assert!(!wheel.is_fired(key));
            assert_eq!(fire_until(&mut wheel, when), 1, "{when} did not fire on time");
            assert!(wheel.is_fired(key));
            wheel.remove(key);
        }
        assert_eq!(wheel.len(), 0);
        assert_eq!(wheel.next_expiration(), None);
    }

    #[test]
    fn entries_are_laid_out_in_insertion_order_again_once_the_wheel_empties() {
        let mut wheel = Wheel::new();
        let keys: Vec<_> = (0..100).map(|i| wheel.insert(10 + i, waker())).collect();
        fire_until(&mut wheel, 200);
        // Freed out of order, as timers of a busy runtime are.
        for key in keys.iter().rev().step_by(2).chain(keys.iter().step_by(2)) {
            wheel.remove(*key);
        }
        let again: Vec<_> = (0..100).map(|i| wheel.insert(300 + i, waker())).collect();
        assert_eq!(again, (0..100).collect::<Vec<_>>());
        assert_eq!(fire_until(&mut wheel, 400), 100);
    }

    /// The next level-2 slot is staged ahead of its boundary, in batches; staged entries can be
    /// cancelled, entries added during staging are cascaded at the boundary, and every one
    /// fires at its own tick.
    #[test]
    fn the_next_level_2_slot_is_staged_ahead_and_fires_on_time() {
        let mut wheel = Wheel::new();
        let boundary = level_range(1);
        let mut pending: Vec<(Key, u64)> = (0..20_000)
            .map(|i| boundary + i % level_range(1))
            .map(|when| (wheel.insert(when, waker()), when))
            .collect();
        let mut now = 0;
        while now < boundary - 1 {
            now += 1;
            fire_until(&mut wheel, now);
            if now == 8 {
                // Some are staged, not all: staging goes in batches.
                assert_eq!(wheel.staging, Some(boundary));
                assert!(wheel.lists[2].occupied != 0);
                assert!(wheel.lists[wheel.staged_list(1)].occupied != 0);
            }
            if now == boundary / 2 {
                for (key, _) in pending.drain(..5_000) {
                    wheel.remove(key);
                }
                pending.extend(
                    (0..100).map(|i| boundary + i * 37).map(|when| (wheel.insert(when, waker()), when)),
                );
            }
        }
        assert_eq!(wheel.lists[2].occupied, 0, "the whole slot was staged before its boundary");
        assert_eq!(wheel.next_expiration(), Some(boundary));
        while now < 2 * boundary {
            now += 1;
            fire_until(&mut wheel, now);
            for &(key, when) in &pending {
                assert_eq!(wheel.is_fired(key), when <= now, "due {when}, now {now}");
            }
            pending.retain(|&(key, _)| !wheel.is_fired(key));
        }
        assert!(pending.is_empty());
    }

    #[test]
    fn already_due_entries_fire_at_next_advance() {
        let mut wheel = Wheel::new();
        fire_until(&mut wheel, 1000);
        let key = wheel.insert(10, waker());
        assert_eq!(wheel.next_expiration(), Some(1000));
        assert_eq!(fire_until(&mut wheel, 1000), 1);
        assert!(wheel.is_fired(key));
    }

    #[test]
    fn cancelled_entries_never_fire() {
        let mut wheel = Wheel::new();
        let keys: Vec<_> = (0..100).map(|i| wheel.insert(50 + i * 37, waker())).collect();
        for key in keys.iter().step_by(2) {
            wheel.remove(*key);
        }
        assert_eq!(fire_until(&mut wheel, 10_000), 50);
    }

    #[test]
    fn entries_beyond_the_span_fire_late_never_early() {
        let mut wheel = Wheel::new();
        let far = SPAN * 3 + 12345;
        let key = wheel.insert(far, waker());
        let mut now = 0;
        while !wheel.is_fired(key) {
            now = wheel.next_expiration().unwrap();
            assert!(now <= far, "the wheel skipped past the deadline");
            fire_until(&mut wheel, now);
        }
        assert_eq!(now, far);
    }

    /// Random inserts, cancels and advances against a sorted map.
    #[test]
    fn matches_a_simple_model() {
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut wheel = Wheel::new();
        let mut model: BTreeMap<Key, u64> = BTreeMap::new();
        let mut now = 0u64;
        for _ in 0..20_000 {
            match next() % 10 {
                0..=4 => {
                    let spread = [10, 1_000, 100_000, 10_000_000][(next() % 4) as usize];
                    let when = now + next() % spread;
                    let key = wheel.insert(when, waker());
                    model.insert(key, when);
                }
                5 if !model.is_empty() => {
                    let key = *model.keys().nth((next() % model.len() as u64) as usize).unwrap();
                    wheel.remove(key);
                    model.remove(&key);
                }
                _ => {
                    now += next() % 5_000;
                    fire_until(&mut wheel, now);
                    let due: Vec<Key> = model.iter().filter(|&(_, &w)| w <= now).map(|(&k, _)| k).collect();
                    for (&key, &when) in &model {
                        assert_eq!(wheel.is_fired(key), when <= now, "key {key} due {when} at {now}");
                    }
                    for key in due {
                        wheel.remove(key);
                        model.remove(&key);
                    }
                }
            }
        }
    }
}
