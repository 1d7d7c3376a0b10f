//! `Runtime::join` waits for every non-daemon task (pycos semantics), and daemon status can
//! change while tasks run.
mod common;
use common::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

#[test]
fn join_waits_for_non_daemon_tasks_including_ones_they_spawn() {
    let _w = watchdog(Duration::from_secs(30));
    each_flavor(|rt| {
        let done = Arc::new(AtomicUsize::new(0));
        for i in 0..50 {
            let d = done.clone();
            rt.spawn(async move {
                rycos::time::sleep(Duration::from_millis(i % 7)).await;
                let d2 = d.clone();
                rycos::spawn(async move {
                    rycos::yield_now().await;
                    d2.fetch_add(1, Ordering::SeqCst);
                });
                d.fetch_add(1, Ordering::SeqCst);
            });
        }
        rt.join();
        assert_eq!(done.load(Ordering::SeqCst), 100);
        assert_eq!(rt.metrics().non_daemon_tasks, 0);
    });
}

#[test]
fn join_ignores_daemons() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let daemon =
        rycos::task::Builder::new().on(rt.handle()).daemon(true).spawn_task(|cx: rycos::Cx<()>| async move {
            let _me = cx.me();
            cx.receive().await;
        });
    rt.join();
    assert!(daemon.is_alive(), "join returned while the daemon still runs");
}

#[test]
fn set_daemon_changes_what_join_waits_for() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let task = rt.spawn_task(|cx: rycos::Cx<u32>| async move { cx.receive().await });
    assert!(!rt.join_timeout(Duration::from_millis(20)), "a live non-daemon task holds join");
    task.set_daemon(true);
    assert!(rt.join_timeout(Duration::from_secs(10)));
    task.set_daemon(false);
    assert_eq!(rt.metrics().non_daemon_tasks, 1);
    task.send(1).unwrap();
    rt.join();
    assert!(!task.is_alive());
    task.set_daemon(true); // no effect on an ended task
    assert_eq!(rt.metrics().non_daemon_tasks, 0);
}

#[test]
fn daemon_toggling_races_with_completion_keep_the_count_exact() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = rt(2);
    for _ in 0..2_000 {
        let task = rt.spawn_task(|cx: rycos::Cx<()>| async move { cx.receive().await });
        let t2 = task.clone();
        let toggler = std::thread::spawn(move || {
            for i in 0..4 {
                t2.set_daemon(i % 2 == 0);
            }
        });
        task.send(()).unwrap();
        toggler.join().unwrap();
        drop(task);
    }
    rt.join();
    assert_eq!(rt.metrics().non_daemon_tasks, 0);
}

#[test]
#[should_panic(expected = "runtime worker thread")]
fn join_inside_a_task_fails_clearly() {
    let rt = Arc::new(rt(1));
    let inner = rt.clone();
    let result = rt.spawn(async move { inner.join() }).join_blocking();
    std::panic::resume_unwind(result.unwrap_err().into_panic());
}
