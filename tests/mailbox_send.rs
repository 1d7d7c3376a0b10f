//! Sending never blocks and never silently drops: failures hand the message back.
mod common;
use common::*;
use rycos::{Cx, DeliverError, SendError};
use std::time::{Duration, Instant};

#[test]
fn sending_to_a_finished_task_returns_the_message() {
    let _w = watchdog(Duration::from_secs(30));
    each_flavor(|rt| {
        let (task, done) = rycos::task::Builder::new()
            .on(rt.handle())
            .spawn_task_joinable(|cx: Cx<String>| async move { cx.receive().await });
        task.send("first".into()).unwrap();
        assert_eq!(done.join_blocking().unwrap().as_deref(), Some("first"));
        assert!(!task.is_alive());
        match task.send("late".into()) {
            Err(SendError::Closed(m)) => assert_eq!(m, "late"),
            other => panic!("expected Closed, got {other:?}"),
        }
        let err = rt.block_on(task.deliver("later".into(), Duration::from_secs(1))).unwrap_err();
        assert!(err.is_closed());
        assert_eq!(err.into_inner(), "later");
    });
}

#[test]
fn messages_left_in_a_finished_tasks_mailbox_are_dropped_once() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let drops = DropCount::default();
    let gate = Gate::default();
    let g = gate.clone();
    let (task, done) = rycos::task::Builder::new().on(rt.handle()).spawn_task_joinable(
        move |_cx: Cx<DropToken>| async move {
            g.wait();
        },
    );
    for _ in 0..10 {
        task.send(drops.token()).unwrap();
    }
    gate.open();
    done.join_blocking().unwrap();
    assert_eq!(drops.get(), 10);
}

#[test]
fn bounded_mailbox_refuses_when_full_and_deliver_waits_for_room() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let gate = Gate::default();
    let g = gate.clone();
    let (task, done) = rycos::task::Builder::new().on(rt.handle()).mailbox_capacity(2).spawn_task_joinable(
        move |cx: Cx<u32>| async move {
            g.wait();
            let mut got = Vec::new();
            while let Some(m) = cx.receive().await {
                got.push(m);
            }
            got
        },
    );
    task.send(1).unwrap();
    task.send(2).unwrap();
    match task.send(3) {
        Err(SendError::Full(3)) => {}
        other => panic!("expected Full(3), got {other:?}"),
    }
    // deliver times out while full, handing the message back.
    let start = Instant::now();
    let err = rt.block_on(task.deliver(4, Duration::from_millis(20))).unwrap_err();
    assert!(matches!(err, DeliverError::Timeout(4)));
    assert!(start.elapsed() >= Duration::from_millis(20));
    // ...and succeeds once the receiver makes room.
    let t2 = task.clone();
    let delivering = rt.spawn(async move { t2.deliver(5, Duration::from_secs(10)).await.is_ok() });
    gate.open();
    assert!(delivering.join_blocking().unwrap());
    drop(task);
    assert_eq!(done.join_blocking().unwrap(), vec![1, 2, 5]);
}

#[test]
fn many_waiting_deliveries_all_get_through_in_a_small_mailbox() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = rt(2);
    let (task, done) = rycos::task::Builder::new().on(rt.handle()).mailbox_capacity(1).spawn_task_joinable(
        |cx: Cx<u32>| async move {
            let mut sum = 0u64;
            while let Some(m) = cx.receive().await {
                sum += u64::from(m);
            }
            sum
        },
    );
    let senders: Vec<_> = (0..100u32)
        .map(|i| {
            let t = task.clone();
            rt.spawn(async move {
                for j in 0..50 {
                    // Some give up (and hand their place on) to exercise cancellation.
                    let timeout =
                        if j % 10 == 0 { Duration::from_micros(1) } else { Duration::from_secs(30) };
                    match t.deliver(i * 50 + j, timeout).await {
                        Ok(()) => {}
                        Err(DeliverError::Timeout(m)) => t.deliver(m, Duration::from_secs(30)).await.unwrap(),
                        Err(e) => panic!("{e}"),
                    }
                }
            })
        })
        .collect();
    for s in senders {
        s.join_blocking().unwrap();
    }
    drop(task);
    assert_eq!(done.join_blocking().unwrap(), (0..5_000u64).sum());
}

#[test]
fn a_send_finds_the_mailbox_full_while_a_delivery_waits_for_the_free_slot() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let (got_tx, got) = std::sync::mpsc::channel();
    // Takes one message per resume, and says which.
    let task = rycos::task::Builder::new().on(rt.handle()).mailbox_capacity(1).spawn_task(
        move |cx: Cx<u32>| async move {
            loop {
                cx.suspend().await;
                got_tx.send(cx.receive().await.unwrap()).unwrap();
            }
        },
    );
    let resume = || {
        while !task.resume(()) {
            std::thread::yield_now();
        }
    };
    rt.block_on(async {
        task.send(0).unwrap();
        let mut waiting = std::pin::pin!(task.deliver(1, Duration::from_secs(20)));
        assert!(futures::poll!(waiting.as_mut()).is_pending(), "the mailbox is full: the delivery waits");
        resume();
        assert_eq!(got.recv_timeout(Duration::from_secs(10)).unwrap(), 0);
        // The freed slot belongs to the waiting delivery, which has not run yet.
        assert!(matches!(task.send(2), Err(SendError::Full(2))), "a send must not take the slot");
        assert!(matches!(futures::poll!(waiting.as_mut()), std::task::Poll::Ready(Ok(()))));
        resume();
        assert_eq!(got.recv_timeout(Duration::from_secs(10)).unwrap(), 1);
    });
    task.terminate();
}
