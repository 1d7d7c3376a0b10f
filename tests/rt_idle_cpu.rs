//! An idle runtime parks its workers: they use no CPU, and spawning one task wakes at most
//! one of them.
mod common;
use common::*;
use std::time::Duration;

/// The tests here measure the whole process's CPU time, so they must not run at the same time
/// as each other (the harness runs a binary's tests in parallel).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn process_cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; RUSAGE_SELF is valid.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    assert_eq!(rc, 0);
    let tv =
        |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

#[test]
fn idle_workers_use_no_cpu() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(4);
    // Let the workers start and park.
    rt.spawn(async {}).join_blocking().unwrap();
    let before = process_cpu_time();
    std::thread::sleep(Duration::from_secs(1)); // measuring idleness: nothing to wait for
    let used = process_cpu_time() - before;
    assert!(used < Duration::from_millis(50), "an idle runtime used {used:?} of CPU in 1 s");
    // With a pending timer far away, the driver still sleeps rather than polls.
    let far = rt.spawn(async { rycos::time::sleep(Duration::from_secs(3600)).await });
    let before = process_cpu_time();
    std::thread::sleep(Duration::from_millis(500));
    let used = process_cpu_time() - before;
    assert!(used < Duration::from_millis(25), "a runtime waiting on a timer used {used:?} in 0.5 s");
    far.abort();
}

#[test]
fn one_spawn_into_an_idle_runtime_wakes_at_most_two_workers() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(4);
    rt.spawn(async {}).join_blocking().unwrap();
    // Wait until every worker is parked again.
    while rt.metrics().parked_workers < 4 {
        std::thread::yield_now();
    }
    for _ in 0..20 {
        let before = rt.metrics().worker_unparks;
        rt.spawn(async {}).join_blocking().unwrap();
        while rt.metrics().parked_workers < 4 {
            std::thread::yield_now();
        }
        let woken = rt.metrics().worker_unparks - before;
        assert!((1..=2).contains(&woken), "one task woke {woken} workers");
    }
}
