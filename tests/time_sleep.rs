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
        let period = Duration::from_millis(20);
        let mut every = interval(period);
        // A tick seen more than a period after it was due has already made the interval skip
        // the deadlines it passed (that is the behaviour under test below): the exact-value
        // checks hold for ticks seen in time, which a loaded machine (ASan, 2 cores) does
        // not always manage; the rest hold always.
        let t0 = every.tick().await;
        let t0_in_time = Instant::now() < t0 + period;
        let t1 = every.tick().await;
        let t1_in_time = Instant::now() < t1 + period;
        if t0_in_time {
            assert_eq!(t1 - t0, period, "on schedule");
        }
        std::thread::sleep(period * 4 + period / 2); // miss several ticks (blocking on purpose)
        let asked = Instant::now();
        let t2 = every.tick().await; // the late tick fires at once...
        let t3 = every.tick().await; // ...and the next keeps the phase
        if t1_in_time {
            assert_eq!(t2, t1 + period, "the late tick carries the time it was due");
        }
        assert!(t2 < asked, "the late tick is one that was due already, not a later deadline");
        assert!(t3 > t2 + period, "the ticks missed meanwhile are skipped, not fired in a burst");
        for t in [t1, t2, t3] {
            assert_eq!((t - t0).as_nanos() % period.as_nanos(), 0, "the phase is kept");
        }
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
