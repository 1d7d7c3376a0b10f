//! A lock for the short, rarely contended critical sections of a task's mailbox.
//!
//! Taking it is one compare-and-swap and releasing it one plain release store.
//! `parking_lot::Mutex` needs a second locked instruction to release (it may have to wake a
//! parked thread), and on the receive path of a busy task those two instructions were a large
//! part of the cost (see BENCHMARKS.md, broadcast). Nobody parks here: a contended lock spins a
//! little, then yields its thread, which is fine for sections of a few dozen instructions.
//! Under loom this is loom's `Mutex`, so the models see every interleaving of its users.

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};

pub(crate) struct SpinMutex<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out access to the value to one thread at a time (the usual `Mutex`
// bounds: the value moves between threads, so it must be `Send`).
unsafe impl<T: Send> Send for SpinMutex<T> {}
// SAFETY: as above; `&SpinMutex` only gives access through the lock.
unsafe impl<T: Send> Sync for SpinMutex<T> {}

impl<T> SpinMutex<T> {
    pub(crate) const fn new(value: T) -> Self {
        SpinMutex { locked: AtomicBool::new(false), value: UnsafeCell::new(value) }
    }

    #[inline]
    pub(crate) fn lock(&self) -> SpinGuard<'_, T> {
        if self.locked.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            self.lock_contended();
        }
        SpinGuard { mutex: self }
    }

    #[cold]
    fn lock_contended(&self) {
        let mut spins = 0u32;
        loop {
            while self.locked.load(Ordering::Relaxed) {
                if spins < 64 {
                    std::hint::spin_loop();
                    spins += 1;
                } else {
                    std::thread::yield_now();
                }
            }
            if self.locked.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_ok() {
                return;
            }
        }
    }
}

pub(crate) struct SpinGuard<'a, T> {
    mutex: &'a SpinMutex<T>,
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while this thread holds the lock.
        unsafe { &*self.mutex.value.get() }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard exists only while this thread holds the lock, and `&mut self`
        // makes this the only reference through it.
        unsafe { &mut *self.mutex.value.get() }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.mutex.locked.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::SpinMutex;
    use std::sync::Arc;

    #[test]
    fn threads_take_turns_and_lose_no_update() {
        // Four threads on two cores: holders get preempted, so the yielding path runs too.
        let counter = Arc::new(SpinMutex::new((0u64, 0u64)));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let counter = counter.clone();
                std::thread::spawn(move || {
                    for _ in 0..200_000 {
                        let mut pair = counter.lock();
                        // Two writes that a second holder would tear apart.
                        pair.0 += 1;
                        pair.1 = pair.0 * 2;
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let pair = counter.lock();
        assert_eq!(pair.0, 800_000);
        assert_eq!(pair.1, 1_600_000);
    }
}
