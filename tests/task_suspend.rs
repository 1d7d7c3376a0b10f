//! suspend/resume: a wake-up channel separate from the mailbox (pycos `suspend`/`resume`).
mod common;
use common::*;
use rycos::Cx;
use std::time::Duration;

#[test]
fn resume_wakes_a_suspended_task_with_a_value() {
    let _w = watchdog(Duration::from_secs(30));
    each_flavor(|rt| {
        let (suspended, now_suspended) = std::sync::mpsc::channel();
        let (task, done) =
            rycos::task::Builder::new().on(rt.handle()).spawn_task_joinable(move |cx: Cx<u32>| async move {
                suspended.send(()).unwrap();
                let value = cx.suspend().await.downcast::<&str>().unwrap();
                // A message sent meanwhile is still queued.
                (value, cx.try_receive().ok())
            });
        now_suspended.recv().unwrap();
        task.send(3).unwrap();
        // The task may not have reached the suspend yet; resume reports that, so retry.
        while !task.resume("wake up") {
            std::thread::yield_now();
        }
        assert_eq!(done.join_blocking().unwrap(), ("wake up", Some(3)));
    });
}

#[test]
fn resume_of_a_task_that_is_not_suspended_is_ignored_and_reported() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let (task, done) =
        rycos::task::Builder::new().on(rt.handle()).spawn_task_joinable(|cx: Cx<()>| async move {
            cx.receive().await;
            cx.suspend_timeout(Duration::from_millis(20)).await.is_none()
        });
    assert!(!task.resume(1u8), "waiting in receive is not suspended");
    task.send(()).unwrap();
    assert!(done.join_blocking().unwrap(), "the earlier resume was not kept for later");
    assert!(!task.resume(2u8), "ended");
}

#[test]
fn only_one_resume_counts_per_suspend() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let (task, done) =
        rycos::task::Builder::new().on(rt.handle()).spawn_task_joinable(|cx: Cx<()>| async move {
            let first = cx.suspend().await.downcast::<u32>().unwrap();
            let second =
                cx.suspend_timeout(Duration::from_millis(20)).await.map(|v| v.downcast::<u32>().unwrap());
            (first, second)
        });
    while !task.resume(1u32) {
        std::thread::yield_now();
    }
    let second_accepted = task.resume(2u32);
    let (first, second) = done.join_blocking().unwrap();
    assert_eq!(first, 1);
    // The second resume either found the task in its second suspend, or was refused.
    assert_eq!(second_accepted, second == Some(2));
}

#[test]
fn a_resume_racing_with_the_timeout_is_never_lost() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = rt(2);
    let (task, done) =
        rycos::task::Builder::new().on(rt.handle()).spawn_task_joinable(|cx: Cx<()>| async move {
            let mut got = 0u32;
            let mut expired = 0u32;
            while got < 300 {
                match cx.suspend_timeout(Duration::from_micros(100)).await {
                    Some(_) => got += 1,
                    None => expired += 1,
                }
            }
            (got, expired)
        });
    let mut accepted = 0;
    while accepted < 300 {
        if task.resume(()) {
            accepted += 1;
        }
    }
    let (got, _) = done.join_blocking().unwrap();
    assert_eq!(got, accepted, "every accepted resume was seen");
}

#[test]
fn a_suspend_polled_through_another_waker_is_woken_by_resume() {
    // Inside a combinator the suspend is polled with the combinator's waker, not the task's:
    // that waker is kept and woken.
    let _w = watchdog(Duration::from_secs(10));
    let rt = rt(2);
    rt.block_on(async {
        let (task, done) = rycos::spawn_task_joinable(|cx: Cx<u32>| async move {
            let mut waits = futures::stream::FuturesUnordered::new();
            waits.push(cx.suspend());
            let resumed = futures::StreamExt::next(&mut waits).await.unwrap();
            resumed.downcast::<&str>().ok()
        });
        while !task.resume("through a combinator") {
            rycos::yield_now().await;
        }
        assert_eq!(done.await.unwrap(), Some("through a combinator"));
    });
}

#[test]
fn a_terminated_suspended_task_ends_and_later_resumes_are_refused() {
    let _w = watchdog(Duration::from_secs(10));
    let rt = rt(2);
    rt.block_on(async {
        let drops = DropCount::default();
        let token = drops.token();
        let (about_to, suspending) = std::sync::mpsc::channel();
        let (task, done) = rycos::spawn_task_joinable(move |cx: Cx<u32>| async move {
            let _token = token;
            about_to.send(()).unwrap();
            cx.suspend().await;
            unreachable!("terminated while suspended");
        });
        suspending.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(task.terminate());
        assert!(done.await.unwrap_err().is_cancelled());
        assert_eq!(drops.get(), 1, "its destructors ran");
        assert!(!task.resume(()), "an ended task cannot be resumed");
    });
}
