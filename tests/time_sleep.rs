//! Timers: never early, cancellable, many at once, and `timeout`/`interval`.
mod common;
use common::*;
use rycos::time::{interval, sleep, sleep_until, timeout};
use std::time::{Duration, Instant};

#[test]
fn sleep_is_never_early() {
    let _w = watchdog(Duration::from_secs(30));
    each_flavor(|rt| {
        rt.block_on(async {
            for ms in [0, 1, 2, 5, 17, 40] {
                let start = Instant::now();
                sleep(Duration::from_millis(ms)).await;
                assert!(start.elapsed() >= Duration::from_millis(ms), "{ms} ms sleep woke early");
            }
        });
        let handles: Vec<_> = (0..200u64)
            .map(|i| {
                rt.spawn(async move {
                    let deadline = Instant::now() + Duration::from_micros(i * 97);
                    sleep_until(deadline).await;
                    Instant::now() >= deadline
                })
            })
            .collect();
        for h in handles {
            assert!(h.join_blocking().unwrap());
        }
    });
}

#[test]
fn timeout_gives_up_and_keeps_ready_results() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    rt.block_on(async {
        let start = Instant::now();
        assert!(timeout(Duration::from_millis(15), sleep(Duration::from_secs(60))).await.is_err());
        assert!(start.elapsed() >= Duration::from_millis(15));
        assert_eq!(timeout(Duration::ZERO, async { 7 }).await, Ok(7), "a ready future wins");
        let drops = DropCount::default();
        let token = drops.token();
        let r = timeout(Duration::from_millis(1), async move {
            let _t = token;
            pending_forever().await
        })
        .await;
        assert!(r.is_err());
        assert_eq!(drops.get(), 1, "the timed-out future was dropped");
    });
}

#[test]
fn cancelled_sleeps_leave_no_timers_behind() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    rt.block_on(async {
        for _ in 0..10_000 {
            let mut s = std::pin::pin!(sleep(Duration::from_secs(3600)));
            assert!(futures::poll!(s.as_mut()).is_pending()); // registers
        }
    });
    assert_eq!(rt.metrics().timers, 0);
}

#[test]
fn interval_ticks_on_schedule_and_skips_missed_ticks() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    rt.block_on(async {
        let mut every = interval(Duration::from_millis(5));
        let t0 = every.tick().await;
        let t1 = every.tick().await;
        assert_eq!(t1 - t0, Duration::from_millis(5));
        std::thread::sleep(Duration::from_millis(23)); // miss several ticks (blocking on purpose)
        let t2 = every.tick().await; // the late tick fires at once...
        let t3 = every.tick().await; // ...and the next keeps the phase
        assert_eq!(t2, t1 + Duration::from_millis(5));
        assert!(t3 > t2 + Duration::from_millis(5));
        assert_eq!((t3 - t0).as_nanos() % Duration::from_millis(5).as_nanos(), 0);
    });
}

#[test]
fn a_sleep_in_a_busy_runtime_still_fires() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let busy: Vec<_> = (0..4)
        .map(|_| {
            let s = stop.clone();
            rt.spawn(async move {
                while !s.load(std::sync::atomic::Ordering::Relaxed) {
                    rycos::yield_now().await;
                }
            })
        })
        .collect();
    let start = Instant::now();
    rt.spawn(async { sleep(Duration::from_millis(10)).await }).join_blocking().unwrap();
    let late = start.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for b in busy {
        b.join_blocking().unwrap();
    }
    assert!(late >= Duration::from_millis(10));
}
