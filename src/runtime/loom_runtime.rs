//! loom models of the real runtime with two workers: the park/notify protocol, stealing, and
//! shutdown. A lost wake-up shows up as a loom deadlock (every thread blocked).
//!
//! Run with `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release --lib loom`.

use super::Runtime;
use crate::loom::sync::Arc;
use crate::loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use crate::loom::thread;

fn runtime() -> Runtime {
    Runtime::builder().worker_threads(2).build().unwrap()
}

#[test]
fn spawn_from_outside_is_run_and_joined() {
    loom::model(|| {
        let rt = runtime();
        let handle = rt.spawn(async { 7 });
        assert_eq!(handle.join_blocking().unwrap(), 7);
        drop(rt);
    });
}

#[test]
fn a_task_spawned_by_a_task_is_not_stranded() {
    loom::model(|| {
        let rt = runtime();
        let done = rt.spawn(async { crate::spawn(async { 1 }).await.unwrap() + 1 });
        assert_eq!(done.join_blocking().unwrap(), 2);
        drop(rt);
    });
}

#[test]
fn shutdown_races_with_spawn() {
    loom::model(|| {
        let rt = runtime();
        let handle = rt.handle().clone();
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let spawner = thread::spawn(move || {
            // Either accepted (then run or cancelled by shutdown) or refused; never lost.
            match handle.try_spawn(async move {
                r.fetch_add(1, SeqCst);
            }) {
                Ok(join) => join.join_blocking().is_ok(),
                Err(_) => false,
            }
        });
        drop(rt);
        let completed = spawner.join().unwrap();
        assert_eq!(completed, ran.load(SeqCst) == 1);
    });
}

/// Counts its own drop.
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

#[test]
fn shutdown_races_with_a_task_about_to_wait() {
    loom::model(|| {
        let rt = runtime();
        let handle = rt.handle().clone();
        let drops = Arc::new(AtomicUsize::new(0));
        let token = DropCounter(drops.clone());
        let spawner = thread::spawn(move || {
            // A task that waits on nothing is found at shutdown only through the owner list,
            // which it joins in its first poll; before that, through its queue. Whichever way
            // the race goes, it is refused or cancelled, and its body dropped once.
            match handle.try_spawn(async move {
                let _token = token;
                std::future::pending::<()>().await;
            }) {
                Ok(join) => join.join_blocking().unwrap_err().is_cancelled(),
                Err(_) => true,
            }
        });
        drop(rt);
        assert!(spawner.join().unwrap(), "the task was neither refused nor cancelled");
        assert_eq!(drops.load(SeqCst), 1);
    });
}
