//! Spawning and joining tasks, from inside and outside the runtime.
mod common;
use common::*;
use std::time::Duration;

#[test]
fn spawn_from_outside_and_inside() {
    let _w = watchdog(Duration::from_secs(30));
    each_flavor(|rt| {
        let outside = rt.spawn(async { 1 });
        let inside = rt.block_on(async {
            let nested = rycos::spawn(async { rycos::spawn(async { 2 }).await.unwrap() + 1 });
            nested.await.unwrap()
        });
        assert_eq!(outside.join_blocking().unwrap(), 1);
        assert_eq!(inside, 3);
    });
}

#[test]
fn many_tasks_all_complete_with_their_own_output() {
    let _w = watchdog(Duration::from_secs(60));
    each_flavor(|rt| {
        let sum = rt.block_on(async {
            let handles: Vec<_> = (0..10_000u64).map(|i| rycos::spawn(async move { i })).collect();
            let mut sum = 0;
            for (i, h) in handles.into_iter().enumerate() {
                let v = h.await.unwrap();
                assert_eq!(v, i as u64);
                sum += v;
            }
            sum
        });
        assert_eq!(sum, (0..10_000u64).sum());
    });
}

#[test]
fn dropping_the_join_handle_detaches() {
    let _w = watchdog(Duration::from_secs(30));
    each_flavor(|rt| {
        let (tx, rx) = std::sync::mpsc::channel();
        drop(rt.spawn(async move {
            rycos::time::sleep(Duration::from_millis(5)).await;
            tx.send(7).unwrap();
        }));
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), 7);
    });
}

#[test]
fn join_handle_reports_finished() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let gate = Gate::default();
    let g = gate.clone();
    let handle = rt.spawn(async move { g.wait() });
    assert!(!handle.is_finished());
    gate.open();
    let id = handle.id();
    let (tx, rx) = std::sync::mpsc::channel();
    rt.spawn(async move {
        handle.await.unwrap();
        tx.send(()).unwrap();
    });
    rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_ne!(id.as_u64(), 0);
}

#[test]
fn current_task_is_visible_inside_only() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    assert!(rycos::current().is_none());
    let handle = rt.spawn(async { rycos::current().unwrap().id() });
    let id = handle.id();
    assert_eq!(handle.join_blocking().unwrap(), id);
    rt.block_on(async { assert!(rycos::current().is_none(), "block_on's future is not a task") });
}

#[test]
#[should_panic(expected = "runtime worker thread")]
fn block_on_inside_a_worker_fails_clearly() {
    let rt = rt(1);
    let inner = rt.handle().clone();
    let result = rt.spawn(async move { inner.block_on(async {}) }).join_blocking();
    std::panic::resume_unwind(result.unwrap_err().into_panic());
}

#[test]
#[should_panic(expected = "runtime worker thread")]
fn join_blocking_inside_a_worker_fails_clearly() {
    let rt = rt(1);
    let result = rt
        .spawn(async {
            let other = rycos::spawn(async {});
            other.join_blocking()
        })
        .join_blocking();
    std::panic::resume_unwind(result.unwrap_err().into_panic());
}

// The default runtime (no runtime built) is tested in `rt_default.rs`, alone in its process:
// whether it may be used depends on what the process did before.

#[test]
fn worker_threads_have_their_names() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rycos::Runtime::builder().worker_threads(2).thread_name("named").build().unwrap();
    let name = rt.spawn(async { std::thread::current().name().map(str::to_owned) }).join_blocking().unwrap();
    assert!(name.unwrap().starts_with("named-"));
    assert_eq!(rt.metrics().workers, 2);
}

#[test]
fn a_task_spawned_from_a_plain_thread_uses_the_entered_runtime() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let _guard = rt.enter();
    let handle = rycos::spawn(async { rycos::runtime::Handle::current() });
    assert!(handle.join_blocking().unwrap().same_runtime(rt.handle()));
}

#[test]
fn worker_poll_counts_add_up_to_the_polls_made() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rycos::Runtime::builder().worker_threads(2).build().unwrap();
    let before = rt.metrics().worker_polls;
    assert_eq!(before.len(), 2);
    // 1,000 tasks that yield once: two polls each, all on the workers (block_on's own future
    // is polled by this thread).
    rt.block_on(async {
        let handles: Vec<_> = (0..1000).map(|_| rycos::spawn(rycos::yield_now())).collect();
        for h in handles {
            h.await.unwrap();
        }
    });
    let after = rt.metrics().worker_polls;
    let made: u64 = after.iter().zip(&before).map(|(a, b)| a - b).sum();
    assert_eq!(made, 2000, "polls per worker: {after:?}");
}

#[test]
fn live_tasks_counts_every_task_from_spawn_to_its_end() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let go = std::sync::Arc::new(rycos::sync::Event::new());
    let waiting = |go: std::sync::Arc<rycos::sync::Event>| async move { go.wait().await };
    for _ in 0..100 {
        rt.spawn(waiting(go.clone())); // from outside the workers
    }
    assert_eq!(rt.metrics().live_tasks, 100);
    let g = go.clone();
    rt.spawn(async move {
        for _ in 0..100 {
            rycos::spawn(waiting(g.clone())); // from a worker
        }
    })
    .join_blocking()
    .unwrap();
    // The join handle may hear of the spawner's end a moment before the count does.
    while rt.metrics().live_tasks > 200 {
        std::thread::yield_now();
    }
    assert_eq!(rt.metrics().live_tasks, 200, "the spawner has ended, the 100 it spawned have not");
    go.set();
    while rt.metrics().live_tasks > 0 {
        std::thread::yield_now();
    }
}
