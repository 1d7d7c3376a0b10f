//! Shutdown: pending tasks are cancelled with their destructors run; shutdown never hangs on a
//! task that never yields; spawning afterwards is refused.
mod common;
use common::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[test]
fn drop_runs_destructors_of_pending_tasks() {
    let _w = watchdog(Duration::from_secs(30));
    for workers in [1, 2, 4] {
        let drops = DropCount::default();
        let rt = rt(workers);
        let mut handles = Vec::new();
        for _ in 0..100 {
            let token = drops.token();
            handles.push(rt.spawn(async move {
                let _token = token;
                pending_forever().await;
            }));
        }
        // Tasks parked in receive() hold only their own waker: shutdown must still find them.
        for _ in 0..100 {
            let token = drops.token();
            drop(rt.spawn_task(move |cx: rycos::Cx<()>| async move {
                let _token = token;
                let _me = cx.me(); // a handle to itself: receive() waits forever
                cx.receive().await;
            }));
        }
        drop(rt);
        assert_eq!(drops.get(), 200, "every pending task's future was dropped ({workers} workers)");
        for h in handles {
            assert!(h.join_blocking().unwrap_err().is_cancelled());
        }
    }
}

#[test]
fn shutdown_timeout_returns_and_names_the_task_that_never_yields() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Gate::default();
    let (s, st) = (stop.clone(), started.clone());
    let stuck = rt.spawn(async move {
        st.open();
        while !s.load(Ordering::SeqCst) {
            std::hint::spin_loop();
        }
    });
    let stuck_id = stuck.id();
    started.wait();
    let drops = DropCount::default();
    let token = drops.token();
    rt.spawn(async move {
        let _token = token;
        pending_forever().await;
    });
    let begin = Instant::now();
    let report = rt.shutdown_timeout(Duration::from_millis(100));
    let took = begin.elapsed();
    stop.store(true, Ordering::SeqCst);
    assert!(took < Duration::from_secs(5), "shutdown_timeout took {took:?}");
    assert!(!report.is_clean());
    assert_eq!(report.stuck_workers, 1);
    assert_eq!(report.stuck_tasks, vec![stuck_id]);
    assert_eq!(drops.get(), 1, "the other worker cancelled the pending task");
}

#[test]
fn tasks_never_polled_are_cancelled_even_behind_a_stuck_worker() {
    // A task is listed for shutdown only once it has waited; until its first poll, shutdown
    // finds it in a queue. Here nothing is polled before shutdown: one worker is stuck in a
    // poll for good, the other held until shutdown has begun, and tasks wait both in the stuck
    // worker's own queue and in the global queue. The held worker must cancel all of them.
    let _w = watchdog(Duration::from_secs(30));
    const EACH: usize = 25;
    let rt = rt(2);
    let handle = rt.handle().clone();
    let drops = DropCount::default();
    let polled = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let task = |token: DropToken, polled: Arc<std::sync::atomic::AtomicUsize>| async move {
        let _token = token;
        polled.fetch_add(1, Ordering::SeqCst);
        pending_forever().await;
    };
    let (stop, hold) = (Arc::new(AtomicBool::new(false)), Gate::default());
    let (held, spawned) = (Gate::default(), Gate::default());
    let (h, hd) = (hold.clone(), held.clone());
    rt.spawn(async move {
        hd.open();
        h.wait();
    });
    let (s, sp, d, p) = (stop.clone(), spawned.clone(), drops.clone(), polled.clone());
    rt.spawn(async move {
        for _ in 0..EACH {
            rycos::spawn(task(d.token(), p.clone())); // into this worker's queue
        }
        sp.open();
        while !s.load(Ordering::SeqCst) {
            std::hint::spin_loop();
        }
    });
    held.wait();
    spawned.wait();
    for _ in 0..EACH {
        rt.spawn(task(drops.token(), polled.clone())); // into the global queue
    }
    let shutdown = std::thread::spawn(move || rt.shutdown_timeout(Duration::from_millis(100)));
    while handle.try_spawn(async {}).is_ok() {
        std::thread::yield_now(); // until shutdown has begun
    }
    hold.open();
    while drops.get() < 2 * EACH {
        std::thread::yield_now();
    }
    assert_eq!(polled.load(Ordering::SeqCst), 0, "no task was polled before shutdown");
    assert_eq!(shutdown.join().unwrap().stuck_workers, 1);
    stop.store(true, Ordering::SeqCst);
    assert_eq!(drops.get(), 2 * EACH, "each cancelled once");
}

#[test]
fn spawn_after_shutdown_is_refused() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let handle = rt.handle().clone();
    assert!(rt.shutdown_timeout(Duration::from_secs(5)).is_clean());
    let drops = DropCount::default();
    let token = drops.token();
    let err = handle.try_spawn(async move { drop(token) }).unwrap_err();
    assert!(err.is_shutdown());
    assert_eq!(drops.get(), 1, "the refused future was dropped, not leaked");
    let cancelled = handle.spawn(async { 1 });
    assert!(cancelled.join_blocking().unwrap_err().is_cancelled());
    let task = rycos::task::Builder::new()
        .on(&handle)
        .spawn_task(|cx: rycos::Cx<u8>| async move { cx.receive().await });
    assert!(!task.is_alive());
    assert_eq!(task.send(9).unwrap_err().into_inner(), 9);
    assert!(rycos::task::Builder::new().on(&handle).try_spawn_task(|_: rycos::Cx<u8>| async {}).is_err());
}

#[test]
fn a_task_may_drop_its_own_runtime() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let handle = rt.handle().clone();
    let holder = Arc::new(std::sync::Mutex::new(Some(rt)));
    let (tx, rx) = std::sync::mpsc::channel();
    let h = holder.clone();
    let drops = DropCount::default();
    let token = drops.token();
    handle.spawn(async move {
        let _token = token;
        pending_forever().await;
    });
    handle.spawn(async move {
        let rt = h.lock().unwrap().take().unwrap();
        drop(rt); // must not deadlock by joining its own thread
        tx.send(()).unwrap();
    });
    rx.recv_timeout(Duration::from_secs(10)).expect("the task survived dropping its runtime");
    while drops.get() == 0 {
        std::thread::yield_now(); // the workers cancel the pending task on their way out
    }
    assert!(handle.try_spawn(async {}).is_err());
}

#[test]
fn shutdown_during_spawn_storm_loses_nothing() {
    let _w = watchdog(Duration::from_secs(60));
    for _ in 0..20 {
        let drops = DropCount::default();
        let rt = rt(2);
        let handle = rt.handle().clone();
        let d = drops.clone();
        let progress = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let p = progress.clone();
        let spawner = std::thread::spawn(move || {
            let mut spawned = 0;
            for _ in 0..2_000 {
                p.fetch_add(1, Ordering::SeqCst);
                let token = d.token();
                match handle.try_spawn(async move {
                    let _t = token;
                    pending_forever().await
                }) {
                    Ok(_) => spawned += 1,
                    Err(_) => break,
                }
            }
            spawned
        });
        while progress.load(Ordering::SeqCst) < 500 {
            std::thread::yield_now();
        }
        drop(rt); // shut down in the middle of the storm
        let spawned = spawner.join().unwrap();
        let expected = if spawned < 2_000 { spawned + 1 } else { spawned };
        assert_eq!(drops.get(), expected, "each future dropped exactly once");
    }
}
