//! Stress versions of the loom models: the same small scenarios, run many times on real
//! threads (with the machine's own scheduling noise), so a lost wake-up shows up as a hang that
//! the watchdog turns into a failure.
mod common;
use common::*;
use std::time::Duration;

#[test]
fn wake_from_another_thread_reaches_a_parked_worker() {
    let _w = watchdog(Duration::from_secs(240));
    for i in 0..20_000u32 {
        let rt = rt(2);
        let (task, done) = rycos::task::Builder::new()
            .on(rt.handle())
            .spawn_task_joinable(|cx: rycos::Cx<u32>| async move { cx.receive().await });
        let sender = std::thread::spawn(move || {
            if i % 3 == 0 {
                std::thread::yield_now(); // vary who gets there first
            }
            task.send(i).unwrap()
        });
        sender.join().unwrap();
        assert_eq!(done.join_blocking().unwrap(), Some(i));
        drop(rt);
    }
}

#[test]
fn send_to_a_task_that_is_parking_on_one_runtime_many_times() {
    let _w = watchdog(Duration::from_secs(240));
    let rt = rt(2);
    for i in 0..100_000u32 {
        let (task, done) = rycos::task::Builder::new()
            .on(rt.handle())
            .spawn_task_joinable(|cx: rycos::Cx<u32>| async move { cx.receive().await });
        let sender = std::thread::spawn(move || task.send(i).unwrap());
        assert_eq!(done.join_blocking().unwrap(), Some(i));
        sender.join().unwrap();
    }
}
