//! Lock, RLock, Semaphore, Event and Condition: contention on every worker, FIFO hand-off,
//! timeouts, and cancellation while waiting.
mod common;
use common::*;

use futures::poll;
use rycos::sync::{Condition, Event, Lock, RLock, RLockError, Semaphore};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use std::time::Duration;

/// Yields until `ready()` holds (the condition is made true by other tasks, not by time).
async fn until(mut ready: impl FnMut() -> bool) {
    while !ready() {
        rycos::yield_now().await;
    }
}

#[test]
fn lock_keeps_a_read_modify_write_across_awaits_whole() {
    let _w = watchdog(Duration::from_secs(30));
    each_flavor(|rt| {
        let total = rt.block_on(async {
            let counter = Arc::new(Lock::new(0u64));
            let tasks: Vec<_> = (0..64)
                .map(|_| {
                    let counter = counter.clone();
                    rycos::spawn(async move {
                        for _ in 0..200 {
                            let mut n = counter.lock().await;
                            let seen = *n;
                            rycos::yield_now().await;
                            *n = seen + 1;
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
            *counter.lock().await
        });
        assert_eq!(total, 64 * 200);
    });
}

#[test]
fn lock_waiters_are_served_in_arrival_order() {
    let _w = watchdog(Duration::from_secs(10));
    let rt = rt(2);
    let order = rt.block_on(async {
        let lock = Arc::new(Lock::new(Vec::new()));
        let held = lock.lock().await;
        let mut waiters = Vec::new();
        for i in 0..20 {
            let mine = lock.clone();
            waiters.push(rycos::spawn(async move { mine.lock().await.push(i) }));
            until(|| lock.waiting() == i + 1).await;
        }
        assert!(lock.try_lock().is_none(), "try_lock may not jump the queue");
        drop(held);
        for w in waiters {
            w.await.unwrap();
        }
        lock.lock().await.clone()
    });
    assert_eq!(order, (0..20).collect::<Vec<_>>());
}

#[test]
fn a_waiter_that_times_out_or_is_terminated_leaves_the_lock_usable() {
    let _w = watchdog(Duration::from_secs(10));
    let rt = rt(2);
    rt.block_on(async {
        let lock = Arc::new(Lock::new(0));
        let held = lock.lock().await;
        assert!(lock.lock_timeout(Duration::from_millis(20)).await.is_err());
        assert_eq!(lock.waiting(), 0, "the timed-out waiter left the queue");

        let doomed_lock = lock.clone();
        let doomed = rycos::spawn_task(move |_cx: rycos::Cx<()>| async move {
            *doomed_lock.lock().await += 100;
        });
        until(|| lock.waiting() == 1).await;
        let next_lock = lock.clone();
        let next = rycos::spawn(async move { *next_lock.lock().await += 1 });
        until(|| lock.waiting() == 2).await;
        assert!(doomed.terminate());
        until(|| lock.waiting() == 1).await;
        drop(held);
        next.await.unwrap();
        assert_eq!(*lock.lock().await, 1, "the terminated waiter never ran its update");
        assert!(!lock.is_locked());
    });
}

#[test]
fn semaphore_bounds_concurrency_on_every_worker() {
    let _w = watchdog(Duration::from_secs(30));
    each_flavor(|rt| {
        let peak = rt.block_on(async {
            let slots = Arc::new(Semaphore::new(3));
            let inside = Arc::new(AtomicUsize::new(0));
            let peak = Arc::new(AtomicUsize::new(0));
            let tasks: Vec<_> = (0..50)
                .map(|_| {
                    let (slots, inside, peak) = (slots.clone(), inside.clone(), peak.clone());
                    rycos::spawn(async move {
                        for _ in 0..20 {
                            let _permit = slots.acquire().await;
                            let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                            peak.fetch_max(now, Ordering::SeqCst);
                            rycos::yield_now().await;
                            inside.fetch_sub(1, Ordering::SeqCst);
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
            assert_eq!(slots.available_permits(), 3);
            peak.load(Ordering::SeqCst)
        });
        assert!(peak <= 3, "{peak} tasks held a permit at once");
    });
}

#[test]
fn a_large_request_is_not_overtaken_by_small_ones() {
    let _w = watchdog(Duration::from_secs(10));
    let rt = rt(2);
    rt.block_on(async {
        let semaphore = Arc::new(Semaphore::new(3));
        let held = semaphore.acquire_many(2).await;
        let big = {
            let s = semaphore.clone();
            rycos::spawn(async move { s.acquire_many(3).await.permits() })
        };
        until(|| semaphore.waiting() == 1).await;
        // One permit is free, but the big waiter is first in line.
        assert!(semaphore.try_acquire().is_none());
        let small = {
            let s = semaphore.clone();
            rycos::spawn(async move { s.acquire().await.permits() })
        };
        until(|| semaphore.waiting() == 2).await;
        drop(held);
        assert_eq!(big.await.unwrap(), 3);
        assert_eq!(small.await.unwrap(), 1);
        assert_eq!(semaphore.available_permits(), 3);
    });
}

#[test]
fn cancelling_the_front_waiter_lets_the_ones_behind_it_in() {
    let _w = watchdog(Duration::from_secs(10));
    let rt = rt(2);
    rt.block_on(async {
        let semaphore = Semaphore::new(1);
        let mut big = pin!(semaphore.acquire_many(2));
        assert!(poll!(big.as_mut()).is_pending());
        let mut small = pin!(semaphore.acquire());
        assert!(poll!(small.as_mut()).is_pending(), "queued behind the big one");
        big.set(semaphore.acquire_many(0)); // drops the big waiter
        match poll!(small.as_mut()) {
            Poll::Ready(permit) => assert_eq!(permit.permits(), 1),
            Poll::Pending => panic!("the free permit went nowhere"),
        }
    });
}

#[test]
fn a_granted_but_dropped_acquire_hands_its_permit_on() {
    let _w = watchdog(Duration::from_secs(10));
    let rt = rt(1);
    rt.block_on(async {
        let semaphore = Semaphore::new(1);
        let held = semaphore.acquire().await;
        let mut first = pin!(semaphore.acquire());
        let mut second = pin!(semaphore.acquire());
        assert!(poll!(first.as_mut()).is_pending());
        assert!(poll!(second.as_mut()).is_pending());
        drop(held); // granted to `first`, which never looks
        first.set(semaphore.acquire_many(0));
        assert!(poll!(second.as_mut()).is_ready());
    });
}

#[test]
fn owned_permits_move_into_tasks() {
    let rt = rt(2);
    rt.block_on(async {
        let semaphore = Arc::new(Semaphore::new(1));
        let permit = semaphore.clone().acquire_owned().await;
        let task = rycos::spawn(async move {
            let _p = permit;
            7
        });
        assert_eq!(task.await.unwrap(), 7);
        assert_eq!(semaphore.available_permits(), 1);
        assert!(semaphore.acquire_timeout(Duration::from_millis(10)).await.is_ok());
    });
}

#[test]
fn rlock_re_entry_wrong_owner_and_outside_a_task() {
    let _w = watchdog(Duration::from_secs(10));
    let lock = Arc::new(RLock::new());
    assert_eq!(lock.release(), Err(RLockError::NotInTask));
    let rt = rt(2);
    let lock2 = lock.clone();
    rt.block_on(rt.spawn(async move {
        let lock = lock2;
        lock.acquire().await.unwrap();
        assert!(lock.try_acquire().unwrap());
        lock.acquire().await.unwrap();
        assert_eq!(lock.depth(), 3);
        assert_eq!(lock.owner(), rycos::current().map(|t| t.id()));

        let other = lock.clone();
        let outcome = rycos::spawn(async move {
            let refused = other.release();
            let busy = other.try_acquire().unwrap();
            let timed_out = other.acquire_timeout(Duration::from_millis(20)).await;
            (refused, busy, timed_out)
        })
        .await
        .unwrap();
        assert_eq!(outcome, (Err(RLockError::NotOwner), false, Err(RLockError::Timeout)));
        assert_eq!(lock.depth(), 3, "the refused release changed nothing");

        let waiter = {
            let other = lock.clone();
            rycos::spawn(async move {
                other.acquire().await.unwrap();
                let depth = other.depth();
                other.release().unwrap();
                depth
            })
        };
        for _ in 0..3 {
            lock.release().unwrap();
        }
        assert_eq!(waiter.await.unwrap(), 1);
        assert_eq!(lock.release(), Err(RLockError::NotOwner));
        assert!(!lock.is_locked());
    }))
    .unwrap();
}

#[test]
fn rlock_excludes_other_tasks_under_contention() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let total = rt.block_on(async {
        let lock = Arc::new(RLock::new());
        let value = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (lock, value) = (lock.clone(), value.clone());
                rycos::spawn(async move {
                    for _ in 0..100 {
                        lock.acquire().await.unwrap();
                        lock.acquire().await.unwrap();
                        let seen = value.load(Ordering::SeqCst);
                        rycos::yield_now().await;
                        value.store(seen + 1, Ordering::SeqCst);
                        lock.release().unwrap();
                        lock.release().unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        value.load(Ordering::SeqCst)
    });
    assert_eq!(total, 1600);
}

#[test]
fn event_wakes_every_waiter_and_clear_resets() {
    let _w = watchdog(Duration::from_secs(10));
    let rt = rt(2);
    rt.block_on(async {
        let event = Arc::new(Event::new());
        assert!(event.wait_timeout(Duration::from_millis(10)).await.is_err(), "not set: times out");
        assert_eq!(event.waiting(), 0);
        let waiters: Vec<_> = (0..10)
            .map(|_| {
                let e = event.clone();
                rycos::spawn(async move { e.wait().await })
            })
            .collect();
        until(|| event.waiting() == 10).await;
        event.set();
        event.clear(); // waiters queued before the set are still released
        for w in waiters {
            w.await.unwrap();
        }
        assert!(!event.is_set());
        event.set();
        assert_eq!(event.wait_timeout(Duration::from_millis(10)).await, Ok(()), "set: returns at once");
    });
}

#[test]
fn condition_notify_counts_are_exact() {
    let _w = watchdog(Duration::from_secs(10));
    let rt = rt(2);
    rt.block_on(async {
        let shared = Arc::new((Lock::new(0u32), Condition::new()));
        let (woken_tx, woken) = rycos::spawn_task_joinable(|cx: rycos::Cx<u32>| async move {
            let mut seen = Vec::new();
            while let Ok(i) = cx.receive_timeout(Duration::from_secs(5)).await {
                seen.push(i);
                if seen.len() == 5 {
                    break;
                }
            }
            seen
        });
        let waiters: Vec<_> = (0..5)
            .map(|i| {
                let (shared, woken_tx) = (shared.clone(), woken_tx.clone());
                rycos::spawn(async move {
                    let (count, changed) = &*shared;
                    let guard = count.lock().await;
                    let mut guard = changed.wait(guard).await;
                    *guard += 1;
                    woken_tx.send(i).unwrap();
                })
            })
            .collect();
        let (count, changed) = &*shared;
        until(|| changed.waiting() == 5).await;
        assert_eq!(changed.notify(2), 2);
        assert_eq!(changed.waiting(), 3, "exactly two were taken off the queue");
        until(|| count.try_lock().is_some_and(|c| *c == 2)).await;
        assert_eq!(changed.notify_all(), 3);
        assert_eq!(changed.notify(1), 0, "nobody left to wake");
        for w in waiters {
            w.await.unwrap();
        }
        let mut order = woken.await.unwrap();
        order.sort();
        assert_eq!(order, vec![0, 1, 2, 3, 4]);
        assert_eq!(*count.lock().await, 5);
    });
}

#[test]
fn a_notified_waiter_that_is_dropped_passes_the_notification_on() {
    let _w = watchdog(Duration::from_secs(10));
    let rt = rt(1);
    rt.block_on(async {
        let lock = Lock::new(());
        let changed = Condition::new();
        let mut first = Box::pin(changed.wait(lock.lock().await));
        assert!(poll!(first.as_mut()).is_pending());
        let mut second = pin!(changed.wait(lock.lock().await));
        assert!(poll!(second.as_mut()).is_pending());
        assert_eq!(changed.notify(1), 1);
        drop(first); // the notification was meant for it; the second waiter gets it instead
        let guard = second.await;
        drop(guard);
        assert_eq!(changed.waiting(), 0);
    });
}

#[test]
fn condition_wait_timeout_retakes_the_lock() {
    let rt = rt(2);
    rt.block_on(async {
        let lock = Lock::new(5);
        let changed = Condition::new();
        let rycos::sync::TimedOut(guard) =
            changed.wait_timeout(lock.lock().await, Duration::from_millis(20)).await.unwrap_err();
        assert_eq!(*guard, 5);
        assert!(lock.is_locked());
        assert_eq!(changed.waiting(), 0);
    });
}

#[test]
fn condition_wait_timeout_is_ok_when_notified_in_time() {
    let _w = watchdog(Duration::from_secs(10));
    let rt = rt(2);
    rt.block_on(async {
        let shared = Arc::new((Lock::new(0u32), Condition::new()));
        let waiter = {
            let shared = shared.clone();
            rycos::spawn(async move {
                let (value, changed) = &*shared;
                let guard = changed.wait_timeout(value.lock().await, Duration::from_secs(5)).await.unwrap();
                *guard
            })
        };
        let (value, changed) = &*shared;
        until(|| changed.waiting() == 1).await;
        *value.lock().await = 7;
        assert_eq!(changed.notify(1), 1);
        assert_eq!(waiter.await.unwrap(), 7);
    });
}

#[test]
fn wait_for_waits_until_the_predicate_holds_under_the_lock() {
    let _w = watchdog(Duration::from_secs(10));
    let rt = rt(2);
    rt.block_on(async {
        let shared = Arc::new((Lock::new(0u32), Condition::new()));
        let waiter = {
            let shared = shared.clone();
            rycos::spawn(async move {
                let (value, changed) = &*shared;
                let mut checks = 0;
                let guard = changed
                    .wait_for(value.lock().await, |v| {
                        checks += 1;
                        *v >= 3
                    })
                    .await;
                (*guard, checks)
            })
        };
        let (value, changed) = &*shared;
        for n in 1..=3 {
            until(|| changed.waiting() == 1).await;
            *value.lock().await = n;
            changed.notify_all();
        }
        assert_eq!(waiter.await.unwrap(), (3, 4), "checked at the start and after each notification");
        // The timed form: the predicate never holds.
        let timed =
            changed.wait_for_timeout(value.lock().await, |v| *v > 100, Duration::from_millis(20)).await;
        assert!(matches!(timed, Err(rycos::sync::TimedOut(ref g)) if **g == 3));
        drop(timed);
        let held = changed.wait_for_timeout(value.lock().await, |v| *v == 3, Duration::from_millis(20)).await;
        assert!(held.is_ok(), "holds at once: no wait");
    });
}

#[test]
fn a_condition_over_an_owned_guard_lets_the_lock_move_between_tasks() {
    let _w = watchdog(Duration::from_secs(10));
    let rt = rt(2);
    rt.block_on(async {
        let lock = Arc::new(Lock::new(Vec::<u32>::new()));
        let changed = Arc::new(Condition::new());
        let consumer = {
            let (lock, changed) = (lock.clone(), changed.clone());
            rycos::spawn(async move {
                let guard = lock.lock_owned().await;
                let mut guard = changed.wait_for(guard, |items| !items.is_empty()).await;
                guard.pop()
            })
        };
        until(|| changed.waiting() == 1).await;
        let mut held = lock.clone().lock_owned().await;
        held.push(42);
        // The held lock moves into another task, which releases it there.
        rycos::spawn(async move { held.push(43) }).await.unwrap();
        changed.notify(1);
        assert_eq!(consumer.await.unwrap(), Some(43));
        assert!(lock.clone().try_lock_owned().is_some());
    });
}

#[test]
fn a_condition_over_an_rlock_releases_every_level_and_restores_them() {
    let _w = watchdog(Duration::from_secs(10));
    let rt = rt(2);
    rt.block_on(async {
        let rlock = Arc::new(RLock::new());
        let changed = Arc::new(Condition::new());
        let waiter = {
            let (rlock, changed) = (rlock.clone(), changed.clone());
            rycos::spawn(async move {
                rlock.acquire().await.unwrap();
                rlock.acquire().await.unwrap();
                changed.wait_rlock(&rlock).await.unwrap();
                let depth = rlock.depth();
                rlock.release().unwrap();
                rlock.release().unwrap();
                depth
            })
        };
        until(|| changed.waiting() == 1).await;
        // The waiter released both levels: another task can take the lock.
        let other = {
            let (rlock, changed) = (rlock.clone(), changed.clone());
            rycos::spawn(async move {
                rlock.acquire().await.unwrap();
                assert_eq!(changed.notify(1), 1);
                // Its own wait times out (the notification went to the first waiter).
                assert_eq!(
                    changed.wait_rlock_timeout(&rlock, Duration::from_millis(10)).await,
                    Err(RLockError::Timeout)
                );
                assert_eq!(rlock.depth(), 1, "held again after the timeout");
                rlock.release().unwrap();
            })
        };
        other.await.unwrap();
        assert_eq!(waiter.await.unwrap(), 2, "taken again at the depth it had");
        let stranger = rycos::spawn({
            let (rlock, changed) = (rlock.clone(), changed.clone());
            async move { changed.wait_rlock(&rlock).await }
        });
        assert_eq!(stranger.await.unwrap(), Err(RLockError::NotOwner));
    });
}
