//! A hierarchical timing wheel: 6 levels of 64 slots over ticks of 2^16 ns (≈ 65.5 µs).
//!
//! Level 0 slots are one tick wide (the level spans 4.2 ms), level 1 slots 64 ticks (268 ms),
//! level 2 17 s, level 3 18 min, level 4 19 h, level 5 51 days. An entry sits at the level of the
//! highest 6-bit group in which its tick differs from `elapsed`, so all entries of a lower level
//! are due before those of a higher one. When a higher-level slot comes due, its entries move
//! down ("cascade") until they reach level 0 and fire. Entries further away than the wheel's span
//! are parked in the top level and re-sorted when their slot comes round.
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
/// Ticks covered by the whole wheel.
const SPAN: u64 = 1 << (SLOT_BITS as u64 * LEVELS as u64);

pub(crate) type Key = usize;

pub(crate) struct Wheel {
    /// Every slot before this tick has been processed.
    elapsed: u64,
    levels: [Level; LEVELS],
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
    Slot { level: u8, slot: u8 },
    Expired,
    Fired,
}

fn slot_range(level: usize) -> u64 {
    1 << (SLOT_BITS as usize * level)
}

fn level_range(level: usize) -> u64 {
    1 << (SLOT_BITS as usize * (level + 1))
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
            levels: std::array::from_fn(|_| Level { occupied: 0, heads: [NIL; SLOTS] }),
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
        (0..LEVELS).filter_map(|level| self.next_slot(level).map(|(_, deadline)| deadline)).min()
    }

    /// Fires every entry due at or before tick `now`, pushing their wakers onto `wakers`. Stops
    /// early, returning true, once this call has added at least `limit` wakers; call again for
    /// the rest.
    pub(crate) fn advance(&mut self, now: u64, wakers: &mut Vec<Waker>, limit: usize) -> bool {
        let start = wakers.len();
        loop {
            while self.expired != NIL {
                let key = self.expired;
                self.unlink(key);
                self.fire(key, wakers);
            }
            if wakers.len() - start >= limit {
                return true;
            }
            let next = (0..LEVELS)
                .filter_map(|level| self.next_slot(level).map(|(slot, deadline)| (deadline, level, slot)))
                .min();
            match next {
                Some((deadline, level, slot)) if deadline <= now => {
                    self.elapsed = deadline;
                    self.process_slot(level, slot, wakers);
                }
                _ => {
                    self.elapsed = self.elapsed.max(now);
                    return false;
                }
            }
        }
    }

    /// The first occupied slot of `level` at or after `elapsed`, and the tick it comes due.
    fn next_slot(&self, level: usize) -> Option<(usize, u64)> {
        let occupied = self.levels[level].occupied;
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
        let lvl = &mut self.levels[level];
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
            let slot = (pos >> (SLOT_BITS as usize * level)) % SLOTS as u64;
            Place::Slot { level: level as u8, slot: slot as u8 }
        };
        let head = self.head_mut(place);
        let old_head = std::mem::replace(head, key);
        if let Place::Slot { level, slot } = place {
            self.levels[level as usize].occupied |= 1 << slot;
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
            if let Place::Slot { level, slot } = place
                && next == NIL
            {
                self.levels[level as usize].occupied &= !(1 << slot);
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
            Place::Slot { level, slot } => &mut self.levels[level as usize].heads[slot as usize],
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
