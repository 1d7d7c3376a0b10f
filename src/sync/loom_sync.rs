//! loom models of the lock, the semaphore and the condition, driven by `loom::future::block_on`.
//!
//! Run with `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release --lib loom`.

use super::{Condition, Lock, Semaphore};
use crate::loom::sync::Arc;
use crate::loom::thread;
use loom::future::block_on;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// Two threads increment through the lock: loom's cell checks that the two writes never
/// overlap, and the final count shows neither was lost.
#[test]
fn lock_excludes_and_hands_over() {
    loom::model(|| {
        let lock = Arc::new(Lock::new(0u32));
        let other = lock.clone();
        let t = thread::spawn(move || {
            block_on(async {
                *other.lock().await += 1;
            })
        });
        block_on(async {
            *lock.lock().await += 1;
        });
        t.join().unwrap();
        assert_eq!(*block_on(lock.lock()), 2);
        assert!(!lock.is_locked());
    });
}

/// A queued acquire is dropped while the holder releases: whichever way they interleave, the
/// permit ends up back in the semaphore and nobody is left queued.
#[test]
fn dropped_waiter_never_swallows_a_permit() {
    loom::model(|| {
        let semaphore = Arc::new(Semaphore::new(1));
        let permit = semaphore.try_acquire().unwrap();
        permit.forget();
        let releaser = semaphore.clone();
        let t = thread::spawn(move || releaser.add_permits(1));
        {
            let mut acquire = pin!(semaphore.acquire());
            let mut cx = Context::from_waker(Waker::noop());
            if let Poll::Ready(permit) = acquire.as_mut().poll(&mut cx) {
                drop(permit);
            }
        } // dropped here, maybe after its permit was granted
        t.join().unwrap();
        assert_eq!(semaphore.available_permits(), 1);
        assert_eq!(semaphore.waiting(), 0);
    });
}

/// A notify racing with a waiter that is releasing the lock is never lost.
#[test]
fn notify_reaches_a_waiter_that_is_releasing_the_lock() {
    loom::model(|| {
        let shared = Arc::new((Lock::new(false), Condition::new()));
        let producer = shared.clone();
        let t = thread::spawn(move || {
            block_on(async {
                let (ready, changed) = &*producer;
                *ready.lock().await = true;
                changed.notify(1);
            })
        });
        block_on(async {
            let (ready, changed) = &*shared;
            let mut guard = ready.lock().await;
            while !*guard {
                guard = changed.wait(guard).await;
            }
        });
        t.join().unwrap();
    });
}
