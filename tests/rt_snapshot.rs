//! `Runtime::snapshot`: workers, and each live task's name, spawn location, state, mailbox,
//! polls, age and idle time, daemon flag and exit hooks — also for 100k tasks, and from a task.

mod common;
use common::*;
use rycos::runtime::{RuntimeSnapshot, TaskSnapshot, TaskState};
use rycos::sync::Event;
use rycos::task::Builder;
use rycos::{Cx, TaskId};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Snapshots until `found` accepts what it sees of `id` (tasks are listed once they have
/// waited; states change as workers get to them).
fn wait_for(rt: &rycos::Runtime, id: TaskId, found: impl Fn(&TaskSnapshot) -> bool) -> TaskSnapshot {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let snapshot = rt.snapshot();
        if let Some(task) = snapshot.tasks.iter().find(|t| t.id == id)
            && found(task)
        {
            return task.clone();
        }
        assert!(Instant::now() < deadline, "task {id} never looked as expected: {snapshot:#?}");
        std::thread::yield_now();
    }
}

#[test]
fn each_state_is_seen_with_its_name_mailbox_and_spawn_location() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let gate = Arc::new(Event::new());
    let spin = Arc::new(AtomicBool::new(true));
    let receiving = rt.block_on(async {
        Builder::new().name("receiving").spawn_task(|cx: Cx<u32>| async move { cx.receive().await })
    });
    let line = line!() - 2;
    let suspended = rt.block_on(async {
        Builder::new().name("suspended").spawn_task(|cx: Cx<u32>| async move {
            let _ = cx.suspend().await;
        })
    });
    // Waits on an event with three messages queued that it does not read yet.
    let waiting = rt.block_on(async {
        let gate = gate.clone();
        Builder::new().name("waiting").daemon(true).spawn_task(move |cx: Cx<u32>| async move {
            gate.wait().await;
            cx.receive().await
        })
    });
    for n in 0..3 {
        waiting.send(n).unwrap();
    }
    // Polled for as long as the flag says; it yields once first so that it is listed.
    let running = {
        let spin = spin.clone();
        Builder::new().name("running").on(rt.handle()).spawn(async move {
            rycos::yield_now().await;
            while spin.load(Ordering::Relaxed) {
                std::hint::spin_loop();
            }
        })
    };

    let seen = wait_for(&rt, receiving.id(), |t| t.state == TaskState::Receiving);
    assert_eq!(seen.name.as_deref(), Some("receiving"));
    assert_eq!(seen.mailbox, Some(0));
    assert_eq!((seen.spawned_at.file(), seen.spawned_at.line()), (file!(), line), "the spawn call");
    assert!(!seen.daemon);
    assert!(seen.polls >= 1);

    let seen = wait_for(&rt, suspended.id(), |t| t.state == TaskState::Suspended);
    assert_eq!(seen.name.as_deref(), Some("suspended"));

    let seen = wait_for(&rt, waiting.id(), |t| t.state == TaskState::Waiting && t.mailbox == Some(3));
    assert!(seen.daemon, "spawned as a daemon");

    let running_id = running.id();
    let seen = wait_for(&rt, running_id, |t| t.state == TaskState::Running);
    assert_eq!(seen.name.as_deref(), Some("running"));
    assert_eq!(seen.mailbox, None, "a plain future has no mailbox");
    let snapshot = rt.snapshot();
    assert!(
        snapshot.workers.iter().any(|w| w.running == Some(running_id)),
        "a worker says it runs the spinning task: {:?}",
        snapshot.workers
    );

    spin.store(false, Ordering::Relaxed);
    running.join_blocking().unwrap();
    gate.set();
    receiving.terminate();
    suspended.terminate();
    let gone = |snapshot: &RuntimeSnapshot, id: TaskId| snapshot.tasks.iter().all(|t| t.id != id);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !{
        let snapshot = rt.snapshot();
        [receiving.id(), suspended.id(), waiting.id(), running_id].into_iter().all(|id| gone(&snapshot, id))
    } {
        assert!(Instant::now() < deadline, "ended tasks are still listed: {:#?}", rt.snapshot());
        std::thread::yield_now();
    }
}

#[test]
fn polls_age_and_idle_time_grow_and_exit_hooks_count_monitors() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let (target, watcher) = rt.block_on(async {
        let target = rycos::spawn_task(|cx: Cx<u32>| async move { while cx.receive().await.is_some() {} });
        let watched = target.clone();
        let watcher = rycos::spawn_task(move |cx: Cx<rycos::Exit>| async move {
            cx.monitor(&watched);
            cx.receive().await
        });
        (target, watcher)
    });
    let before = wait_for(&rt, target.id(), |t| t.exit_hooks == 1 && t.state == TaskState::Receiving);
    // Time passes (this is what is measured, not a wait for something to happen).
    std::thread::sleep(Duration::from_millis(100));
    for n in 0..10 {
        target.send(n).unwrap();
    }
    let after = wait_for(&rt, target.id(), |t| t.polls > before.polls && t.state == TaskState::Receiving);
    assert!(after.age >= before.age + Duration::from_millis(90), "{before:?} then {after:?}");
    // Polled just now for the messages: idle for far less than the 100 ms before them.
    assert!(after.since_last_poll < Duration::from_millis(80), "{after:?}");
    // Task times are kept in 16 ms units: 64 ms of real time between the two readings show as
    // at least four units more idle time (the floors of two readings differ by at least the
    // floor of their distance). Asserted with one unit of slack. (A 60 ms sleep and "at least
    // 50 ms more" failed when the readings straddled only three unit edges: 16 then 64 ms.)
    let idle_before = wait_for(&rt, target.id(), |_| true).since_last_poll;
    std::thread::sleep(Duration::from_millis(64));
    let idle_after = wait_for(&rt, target.id(), |_| true).since_last_poll;
    assert!(idle_after >= idle_before + Duration::from_millis(48), "{idle_before:?} then {idle_after:?}");
    let watching = wait_for(&rt, watcher.id(), |t| t.state == TaskState::Receiving);
    assert_eq!(watching.exit_hooks, 0, "nobody watches the watcher");
    let workers = rt.snapshot().workers;
    assert_eq!(workers.len(), 2);
    assert!(workers.iter().map(|w| w.polls).sum::<u64>() >= 3, "{workers:?}");
    target.terminate();
    watcher.terminate();
}

#[test]
fn a_hundred_thousand_tasks_are_listed_and_a_task_can_take_a_snapshot() {
    let _w = watchdog(Duration::from_secs(120));
    const N: usize = if cfg!(debug_assertions) { 20_000 } else { 100_000 };
    let rt = rt(2);
    let tasks: Vec<_> = rt.block_on(async {
        (0..N).map(|_| rycos::spawn_task(|cx: Cx<u32>| async move { cx.receive().await })).collect()
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let snapshot = loop {
        let snapshot = rt.snapshot();
        if snapshot.tasks.iter().filter(|t| t.state == TaskState::Receiving).count() >= N {
            break snapshot;
        }
        assert!(Instant::now() < deadline, "only {} of {N} tasks listed", snapshot.tasks.len());
        std::thread::yield_now();
    };
    assert!(snapshot.live_tasks >= N);
    assert!(snapshot.tasks.windows(2).all(|w| w[0].id < w[1].id), "sorted by id");
    let mine: std::collections::HashSet<_> = tasks.iter().map(|t| t.id()).collect();
    assert_eq!(snapshot.tasks.iter().filter(|t| mine.contains(&t.id)).count(), N);
    // From inside a task of the same runtime: no deadlock, and it sees itself running.
    let handle = rt.handle().clone();
    let seen_by_task = rt.block_on(async move {
        rycos::spawn(async move {
            let me = rycos::current().map(|t| t.id());
            let snapshot = handle.snapshot();
            (snapshot.tasks.len(), snapshot.workers.iter().any(|w| w.running.is_some() && w.running == me))
        })
        .await
        .unwrap()
    });
    assert!(seen_by_task.0 >= N);
    assert!(seen_by_task.1, "the worker polling the task says so");
    for task in &tasks {
        task.terminate();
    }
}
