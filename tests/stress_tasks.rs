//! Stress: a million tasks over all workers, each dropped exactly once (in the spirit of
//! crossbeam-deque's `destructors` test), and a spawn/steal storm.
mod common;
use common::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

struct Tracked {
    slots: Arc<Vec<AtomicU8>>,
    index: usize,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.slots[self.index].fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_million_tasks_each_dropped_exactly_once() {
    let _w = watchdog(Duration::from_secs(300));
    const N: usize = 1_000_000;
    let rt = rt(2);
    let slots: Arc<Vec<AtomicU8>> = Arc::new((0..N).map(|_| AtomicU8::new(0)).collect());
    let s = slots.clone();
    rt.block_on(async move {
        // Spawned from tasks on every worker, so local queues fill and get stolen from.
        let spawners: Vec<_> = (0..8)
            .map(|part| {
                let s = s.clone();
                rycos::spawn(async move {
                    let mut handles = Vec::with_capacity(N / 8);
                    for index in (part..N).step_by(8) {
                        let t = Tracked { slots: s.clone(), index };
                        let h = rycos::spawn(async move {
                            if index % 3 == 0 {
                                rycos::yield_now().await;
                            }
                            t
                        });
                        // Keep some handles, detach others (their outputs are dropped by the
                        // runtime), abort a few.
                        match index % 10 {
                            0 => h.abort(),
                            1..=4 => drop(h),
                            _ => handles.push(h),
                        }
                    }
                    for h in handles {
                        drop(h.await.unwrap());
                    }
                })
            })
            .collect();
        for s in spawners {
            s.await.unwrap();
        }
    });
    drop(rt); // anything still pending (aborted, detached) is finished by now
    let bad: Vec<usize> = (0..N).filter(|&i| slots[i].load(Ordering::SeqCst) != 1).take(10).collect();
    assert!(bad.is_empty(), "tasks not dropped exactly once: {bad:?}");
}

#[test]
fn spawn_and_steal_storm_with_oversubscribed_workers() {
    let _w = watchdog(Duration::from_secs(300));
    // 8 workers on a 2-core machine: preemption in the middle of every protocol.
    let rt = rt(8);
    for _ in 0..20 {
        let total = rt.block_on(async {
            let handles: Vec<_> = (0..200u64)
                .map(|i| {
                    rycos::spawn(async move {
                        let inner: Vec<_> = (0..50u64).map(|j| rycos::spawn(async move { i * j })).collect();
                        let mut sum = 0;
                        for h in inner {
                            sum += h.await.unwrap();
                        }
                        sum
                    })
                })
                .collect();
            let mut total = 0;
            for h in handles {
                total += h.await.unwrap();
            }
            total
        });
        assert_eq!(total, (0..200u64).sum::<u64>() * (0..50u64).sum::<u64>());
    }
}
