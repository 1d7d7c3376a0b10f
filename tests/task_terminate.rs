//! terminate(): the task is dropped at its next await, its destructors run, and everyone
//! waiting hears that it was terminated.
mod common;
use common::*;
use rycos::Cx;
use std::time::Duration;

#[test]
fn terminate_a_waiting_task_runs_its_destructors() {
    let _w = watchdog(Duration::from_secs(30));
    each_flavor(|rt| {
        let drops = DropCount::default();
        let token = drops.token();
        let (task, done) =
            rycos::task::Builder::new().on(rt.handle()).spawn_task_joinable(move |cx: Cx<u32>| async move {
                let _token = token;
                let _me = cx.me();
                cx.receive().await;
            });
        assert!(task.is_alive());
        assert!(task.terminate());
        assert!(done.join_blocking().unwrap_err().is_cancelled());
        assert_eq!(drops.get(), 1);
        assert!(!task.is_alive());
        assert!(task.send(1).unwrap_err().is_closed());
    });
}

#[test]
fn terminate_takes_effect_at_the_next_await_not_in_the_middle() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let inside = Gate::default();
    let go = Gate::default();
    let (i, g) = (inside.clone(), go.clone());
    let progress = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let p = progress.clone();
    let handle = rt.spawn(async move {
        i.open();
        g.wait(); // terminated while running here
        p.store(1, std::sync::atomic::Ordering::SeqCst); // still runs: no await in between
        rycos::yield_now().await; // cancelled here
        p.store(2, std::sync::atomic::Ordering::SeqCst);
    });
    inside.wait();
    handle.task().terminate();
    go.open();
    assert!(handle.join_blocking().unwrap_err().is_cancelled());
    assert_eq!(progress.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[test]
fn a_task_can_terminate_itself() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let handle = rt.spawn(async {
        rycos::current().unwrap().terminate();
        rycos::yield_now().await;
        unreachable!("terminated at the await");
    });
    assert!(handle.join_blocking().unwrap_err().is_cancelled());
}

#[test]
fn abort_and_terminate_race_with_completion_safely() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = rt(2);
    for i in 0..5_000u32 {
        let handle = rt.spawn(async move {
            if i % 3 == 0 {
                rycos::yield_now().await;
            }
            i
        });
        let task = handle.task();
        let t = std::thread::spawn(move || task.terminate());
        match handle.join_blocking() {
            Ok(v) => assert_eq!(v, i),
            Err(e) => assert!(e.is_cancelled()),
        }
        t.join().unwrap();
    }
}
