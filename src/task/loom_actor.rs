//! loom models of the mailbox: sends racing receives, the last handle and the task's end (on the
//! raw task's toy scheduler), and wake-ups from outside reaching a parked worker of the real
//! runtime through a mailbox.
//!
//! Run with `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release --lib loom`.

use super::spawn::{ActorBody, new_mailbox};
use super::{Cx, TaskRef};
use crate::loom::sync::atomic::AtomicBool;
use crate::loom::thread;
use crate::runtime::Runtime;
use crate::runtime::task::loom_task::{Drops, Flag, Token, ToyScheduler};
use crate::runtime::task::{Schedule, Stats, allocate};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

fn runtime() -> Runtime {
    Runtime::builder().worker_threads(2).build().unwrap()
}

#[test]
fn mailbox_send_and_last_handle_drop_race_with_receive() {
    loom::model(|| {
        let sched = ToyScheduler::default();
        let body = ActorBody::<_, _, u32>::new(|cx: Cx<u32>| async move {
            let mut got = Vec::new();
            while let Some(m) = cx.receive().await {
                got.push(m);
            }
            got
        });
        let task = allocate(
            body,
            sched.clone(),
            new_mailbox::<u32>(None),
            true,
            1,
            false,
            Stats::new(std::panic::Location::caller(), 0),
        );
        task.raw.drop_reference(); // no owner list
        sched.schedule(task.notified());
        // SAFETY: allocated with a join handle, a Mailbox<u32> and one handle.
        let (sender, mut handle) =
            unsafe { (TaskRef::<u32>::from_raw(task.raw), task.join_handle::<Vec<u32>>()) };

        let s = sched.clone();
        let runner = thread::spawn(move || s.run_all());
        let second = sender.clone();
        let producer = thread::spawn(move || {
            second.send(1).unwrap();
            second.send(2).unwrap();
        });
        drop(sender);
        producer.join().unwrap();
        runner.join().unwrap();
        sched.run_all();

        let flag = std::sync::Arc::new(Flag(AtomicBool::new(false)));
        let join_waker = Waker::from(flag);
        match Pin::new(&mut handle).poll(&mut Context::from_waker(&join_waker)) {
            Poll::Ready(Ok(got)) => assert_eq!(got, vec![1, 2], "lost or reordered"),
            other => panic!("receive never saw the end of input: {:?}", other.is_ready()),
        }
    });
}

#[test]
fn send_races_with_task_completion() {
    loom::model(|| {
        let sched = ToyScheduler::default();
        let body = ActorBody::<_, _, Token>::new(|cx: Cx<Token>| async move {
            drop(cx.receive().await);
        });
        let task = allocate(
            body,
            sched.clone(),
            new_mailbox::<Token>(None),
            false,
            1,
            false,
            Stats::new(std::panic::Location::caller(), 0),
        );
        task.raw.drop_reference();
        sched.schedule(task.notified());
        // SAFETY: allocated with a Mailbox<Token> and one handle.
        let sender = unsafe { TaskRef::<Token>::from_raw(task.raw) };
        let drops = Drops::default();
        sender.send(drops.token()).unwrap();

        let s = sched.clone();
        let runner = thread::spawn(move || s.run_all());
        // Races with the task finishing: either queued (and then dropped when the mailbox
        // closes) or handed back. Never both, never neither.
        let late = sender.send(drops.token());
        runner.join().unwrap();
        sched.run_all();
        drop(late);
        drop(sender);
        assert_eq!(drops.count(), 2);
    });
}

#[test]
fn wake_from_outside_reaches_a_parked_worker() {
    loom::model(|| {
        let rt = runtime();
        let (task, done) = super::Builder::new()
            .on(rt.handle())
            .spawn_task_joinable(|cx: Cx<u32>| async move { cx.receive().await });
        // Sent from this (non-worker) thread, racing with the workers parking.
        task.send(5).unwrap();
        assert_eq!(done.join_blocking().unwrap(), Some(5));
        drop(task);
        drop(rt);
    });
}

#[test]
fn wake_from_another_thread_reaches_a_parked_worker() {
    if std::env::var_os("RYCOS_LOOM_TRACE").is_some() {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            crate::loom::dump_loom_trace();
            default(info);
        }));
    }
    loom::model(|| {
        crate::loom::loom_trace!("---- model iteration");
        let rt = runtime();
        let (task, done) = super::Builder::new()
            .on(rt.handle())
            .spawn_task_joinable(|cx: Cx<u32>| async move { cx.receive().await });
        let sender = thread::spawn(move || task.send(5).unwrap());
        sender.join().unwrap();
        assert_eq!(done.join_blocking().unwrap(), Some(5));
        drop(rt);
    });
}

/// A hot-swap request racing the task's end: the request is answered either way — `Ok` if the
/// task took the new code at its receive, `TaskEnded` if it ended first — and the requester is
/// woken for the answer. Protected by the exit hook `hot_swap::request` adds after queueing the
/// request: without it, a task that ends without reaching a swap point leaves the requester
/// waiting for ever.
#[test]
fn hot_swap_request_races_with_the_task_end() {
    use super::hot_swap::HotSwapError;
    loom::model(|| {
        let sched = ToyScheduler::default();
        let body = ActorBody::<_, _, u32>::new(|cx: Cx<u32>| async move {
            cx.hot_swappable(true);
            // Ends when the last handle goes (`None`), unless a swap comes first.
            let _ = cx.receive().await;
        });
        let task = allocate(
            body,
            sched.clone(),
            new_mailbox::<u32>(None),
            false,
            1,
            false,
            Stats::new(std::panic::Location::caller(), 0),
        );
        task.raw.drop_reference();
        sched.schedule(task.notified());
        // SAFETY: allocated with a Mailbox<u32> and one handle.
        let handle = unsafe { TaskRef::<u32>::from_raw(task.raw) };

        let s = sched.clone();
        let runner = thread::spawn(move || s.run_all());
        let mut swap = handle.hot_swap(|_cx: Cx<u32>| async move {});
        drop(handle);
        let flag = std::sync::Arc::new(Flag(AtomicBool::new(false)));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        let first = Pin::new(&mut swap).poll(&mut cx);
        runner.join().unwrap();
        sched.run_all();
        let outcome = match first {
            Poll::Ready(outcome) => outcome,
            Poll::Pending => {
                assert!(flag.0.load(crate::loom::sync::atomic::Ordering::SeqCst), "never woken");
                match Pin::new(&mut swap).poll(&mut cx) {
                    Poll::Ready(outcome) => outcome,
                    Poll::Pending => panic!("the hot swap was never answered"),
                }
            }
        };
        assert!(matches!(outcome, Ok(()) | Err(HotSwapError::TaskEnded)), "{outcome:?}");
        assert_eq!(sched.ended.load(crate::loom::sync::atomic::Ordering::SeqCst), 1);
    });
}
