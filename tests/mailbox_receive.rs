//! Receiving: with and without timeout, selectively, and the end of input.
mod common;
use common::*;
use rycos::{Cx, RecvError, TryRecvError};
use std::time::{Duration, Instant};

#[test]
fn receive_returns_none_when_no_sender_is_left() {
    let _w = watchdog(Duration::from_secs(30));
    each_flavor(|rt| {
        let (task, done) =
            rycos::task::Builder::new().on(rt.handle()).spawn_task_joinable(|cx: Cx<u32>| async move {
                let mut got = Vec::new();
                while let Some(m) = cx.receive().await {
                    got.push(m);
                }
                assert_eq!(cx.try_receive(), Err(TryRecvError::Closed));
                got
            });
        let clone = task.clone();
        task.send(1).unwrap();
        drop(task);
        clone.send(2).unwrap();
        drop(clone); // the last handle: receive returns None after the queued messages
        assert_eq!(done.join_blocking().unwrap(), vec![1, 2]);
    });
}

#[test]
fn receive_timeout_expires_and_then_still_receives() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let (timed_out, first_timeout) = std::sync::mpsc::channel();
    let (task, done) =
        rycos::task::Builder::new().on(rt.handle()).spawn_task_joinable(move |cx: Cx<u32>| async move {
            let start = Instant::now();
            assert_eq!(cx.receive_timeout(Duration::from_millis(30)).await, Err(RecvError::Timeout));
            assert!(start.elapsed() >= Duration::from_millis(30), "never early");
            assert_eq!(cx.try_receive(), Err(TryRecvError::Empty));
            timed_out.send(()).unwrap();
            cx.receive_timeout(Duration::from_secs(10)).await
        });
    first_timeout.recv_timeout(Duration::from_secs(10)).unwrap();
    task.send(5).unwrap();
    assert_eq!(done.join_blocking().unwrap(), Ok(5));
}

#[test]
fn selective_receive_keeps_the_rest_in_order() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let (task, done) =
        rycos::task::Builder::new().on(rt.handle()).spawn_task_joinable(|cx: Cx<i32>| async move {
            let _me = cx.me();
            // Wait until everything is queued, so the filter sees a full mailbox.
            while cx.pending_messages() < 6 {
                rycos::yield_now().await;
            }
            let first_negative = cx.receive_matching(|m| *m < 0).await.unwrap();
            let big = cx.receive_matching_timeout(|m| *m > 100, Duration::from_millis(10)).await;
            let mut rest = Vec::new();
            while let Ok(m) = cx.try_receive() {
                rest.push(m);
            }
            (first_negative, big, rest)
        });
    for m in [1, 2, -3, 4, -5, 6] {
        task.send(m).unwrap();
    }
    let (neg, big, rest) = done.join_blocking().unwrap();
    assert_eq!(neg, -3);
    assert_eq!(big, Err(RecvError::Timeout));
    assert_eq!(rest, vec![1, 2, 4, -5, 6]);
}

#[test]
fn selective_receive_waits_for_a_matching_message() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let (task, done) =
        rycos::task::Builder::new().on(rt.handle()).spawn_task_joinable(|cx: Cx<&'static str>| async move {
            let wanted = cx.receive_matching(|m| m.starts_with("reply")).await.unwrap();
            (wanted, cx.receive().await.unwrap())
        });
    task.send("noise").unwrap();
    task.send("reply: 42").unwrap();
    assert_eq!(done.join_blocking().unwrap(), ("reply: 42", "noise"));
}

/// pycos's classic race: a receive times out just as a message arrives. The message must be
/// either received by that receive or left for the next one — never lost, never reordered.
#[test]
fn timeout_racing_with_arrival_loses_nothing() {
    let _w = watchdog(Duration::from_secs(120));
    let rt = rt(2);
    const N: u32 = 20_000;
    let (task, done) =
        rycos::task::Builder::new().on(rt.handle()).spawn_task_joinable(|cx: Cx<u32>| async move {
            let mut expected = 0;
            let mut timeouts = 0u32;
            while expected < N {
                match cx.receive_timeout(Duration::from_micros(50)).await {
                    Ok(m) => {
                        assert_eq!(m, expected, "lost or reordered");
                        expected += 1;
                    }
                    Err(RecvError::Timeout) => timeouts += 1,
                    Err(RecvError::Closed) => panic!("closed early"),
                    Err(e) => panic!("{e}"),
                }
            }
            timeouts
        });
    let sender = std::thread::spawn(move || {
        for i in 0..N {
            task.send(i).unwrap();
            if i % 64 == 0 {
                let until = Instant::now() + Duration::from_micros(if i % 128 == 0 { 300 } else { 60 });
                while Instant::now() < until {
                    std::hint::spin_loop(); // give the receiver time to time out sometimes
                }
            }
        }
    });
    sender.join().unwrap();
    let timeouts = done.join_blocking().unwrap();
    assert!(timeouts > 0, "the race was never exercised");
}

#[test]
fn a_receive_polled_from_a_foreign_waker_is_woken() {
    use futures::stream::{FuturesUnordered, StreamExt};
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let (task, done) =
        rycos::task::Builder::new().on(rt.handle()).spawn_task_joinable(|cx: Cx<u32>| async move {
            // FuturesUnordered polls its futures with its own wakers, not the task's.
            let mut set = FuturesUnordered::new();
            set.push(cx.receive());
            set.next().await.unwrap()
        });
    task.send(11).unwrap();
    assert_eq!(done.join_blocking().unwrap(), Some(11));
}
