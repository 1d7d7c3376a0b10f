//! Hot swap: code replaced at a mailbox wait with messages in flight; opt-in, told/decline,
//! timeouts, cancellation, ended tasks, type mismatches.
mod common;
use common::*;

use rycos::task::{Builder, HotSwapError};
use rycos::{Cx, Received, TaskRef};
use std::time::Duration;

/// (sequence number, who to tell) — the reply is (version, sequence number).
type Job = (u32, TaskRef<(u8, u32)>);

async fn handler(cx: Cx<Job>, version: u8) {
    cx.hot_swappable(true);
    while let Some((n, reply)) = cx.receive().await {
        let _ = reply.send((version, n));
    }
}

#[test]
fn swap_with_messages_in_flight_loses_and_repeats_nothing() {
    let _w = watchdog(Duration::from_secs(30));
    each_flavor(|rt| {
        rt.block_on(async {
            const N: u32 = 20_000;
            let server = Builder::new().name("server").spawn_task(|cx: Cx<Job>| handler(cx, 1));
            let id = server.id();
            let (client, replies) = rycos::spawn_task_joinable(move |cx: Cx<(u8, u32)>| async move {
                let mut got = Vec::with_capacity(N as usize);
                while got.len() < N as usize {
                    got.push(cx.receive_timeout(Duration::from_secs(10)).await.expect("a reply"));
                }
                got
            });
            let swapped = {
                let server = server.clone();
                let client = client.clone();
                rycos::spawn(async move {
                    for n in 0..N {
                        server.send((n, client.clone())).unwrap();
                        if n == N / 2 {
                            let request = server.hot_swap(|cx: Cx<Job>| handler(cx, 2));
                            // Keep sending while the request is pending.
                            rycos::spawn(request);
                        }
                        if n % 100 == 0 {
                            rycos::yield_now().await;
                        }
                    }
                })
            };
            swapped.await.unwrap();
            let got = replies.await.unwrap();
            let mut seen: Vec<u32> = got.iter().map(|&(_, n)| n).collect();
            assert_eq!(seen, (0..N).collect::<Vec<_>>(), "each message handled once, in order");
            let first_v2 = got.iter().position(|&(v, _)| v == 2).expect("the new code ran");
            assert!(got[..first_v2].iter().all(|&(v, _)| v == 1));
            assert!(got[first_v2..].iter().all(|&(v, _)| v == 2));
            assert_eq!(server.id(), id);
            assert_eq!(server.name(), Some("server"));
            seen.clear();
            drop(client);
        });
    });
}

#[test]
fn an_idle_task_is_swapped_at_once_and_its_join_handle_gets_the_new_output() {
    let _w = watchdog(Duration::from_secs(10));
    let rt = rt(2);
    rt.block_on(async {
        let (task, joined) = rycos::spawn_task_joinable(|cx: Cx<u32>| async move {
            cx.hot_swappable(true);
            cx.receive().await.map(|n| n + 1000)
        });
        rycos::yield_now().await;
        assert_eq!(
            task.hot_swap(|cx: Cx<u32>| async move { cx.receive().await.map(|n| n * 2) }).await,
            Ok(())
        );
        task.send(21).unwrap();
        assert_eq!(joined.await.unwrap(), Some(42));
    });
}

#[test]
fn a_task_that_never_allows_it_times_out_and_the_request_is_withdrawn() {
    let _w = watchdog(Duration::from_secs(10));
    let rt = rt(2);
    rt.block_on(async {
        let (task, joined) = rycos::spawn_task_joinable(|cx: Cx<u32>| async move {
            let first = cx.receive().await;
            cx.hot_swappable(true); // too late: the request is gone by now
            let second = cx.receive().await;
            (first, second, "old code")
        });
        let outcome = task
            .hot_swap_timeout(
                |cx: Cx<u32>| async move { (cx.receive().await, None::<u32>, "new code") },
                Duration::from_millis(30),
            )
            .await;
        assert_eq!(outcome, Err(HotSwapError::TimedOut));
        task.send(1).unwrap();
        task.send(2).unwrap();
        assert_eq!(joined.await.unwrap(), (Some(1), Some(2), "old code"));
    });
}

#[test]
fn cancel_withdraws_and_a_second_request_waits_its_turn() {
    let _w = watchdog(Duration::from_secs(10));
    let rt = rt(2);
    rt.block_on(async {
        let (task, joined) = rycos::spawn_task_joinable(|cx: Cx<u32>| async move { cx.receive().await });
        let first = task.hot_swap(|cx: Cx<u32>| async move { cx.receive().await });
        let second = task.hot_swap(|cx: Cx<u32>| async move { cx.receive().await });
        assert_eq!(second.await, Err(HotSwapError::AlreadyPending));
        assert_eq!(first.cancel(), Ok(()), "withdrawn in time");
        let third = task.hot_swap(|_cx: Cx<u32>| async move { Some(7) });
        drop(third); // dropping withdraws too
        task.send(5).unwrap();
        assert_eq!(joined.await.unwrap(), Some(5));
        let late = task.hot_swap(|cx: Cx<u32>| async move { cx.receive().await }).await;
        assert_eq!(late, Err(HotSwapError::TaskEnded));
    });
}

#[test]
fn a_cancel_after_the_swap_says_it_came_too_late() {
    let _w = watchdog(Duration::from_secs(10));
    let rt = rt(2);
    rt.block_on(async {
        let (task, joined) = rycos::spawn_task_joinable(|cx: Cx<u32>| async move {
            cx.hot_swappable(true);
            cx.receive().await
        });
        let (started_tx, started) = std::sync::mpsc::channel();
        let swap = task.hot_swap(move |cx: Cx<u32>| async move {
            started_tx.send(()).unwrap();
            cx.receive().await.map(|n| n * 10)
        });
        started.recv_timeout(Duration::from_secs(5)).expect("the new code started");
        assert_eq!(swap.cancel(), Err(HotSwapError::AlreadySwapped));
        task.send(4).unwrap();
        assert_eq!(joined.await.unwrap(), Some(40), "the new code runs");
    });
}

#[test]
fn the_running_code_is_told_and_may_decline_or_accept() {
    let _w = watchdog(Duration::from_secs(10));
    let rt = rt(2);
    rt.block_on(async {
        // Both versions report each message they handle here, tagged with their version.
        let (log, logged) = rycos::spawn_task_joinable(|cx: Cx<(&'static str, u32)>| async move {
            let mut all = Vec::new();
            while all.len() < 3 {
                all.push(cx.receive_timeout(Duration::from_secs(5)).await.expect("a report"));
            }
            all
        });
        let old_log = log.clone();
        let (task, joined) = rycos::spawn_task_joinable(move |cx: Cx<u32>| async move {
            let mut requests = 0;
            loop {
                match cx.receive_or_swap().await {
                    Received::Message(n) => old_log.send(("old", n)).unwrap(),
                    Received::SwapRequested(request) => {
                        requests += 1;
                        if requests == 1 {
                            request.decline("busy");
                        } else {
                            request.accept();
                        }
                    }
                    Received::Closed => return "old code",
                }
            }
        });
        task.send(1).unwrap();
        let declined = task.hot_swap(|_cx: Cx<u32>| async move { "never" }).await;
        assert_eq!(declined, Err(HotSwapError::Declined("busy".into())));
        task.send(2).unwrap();
        let accepted = task
            .hot_swap(move |cx: Cx<u32>| async move {
                while let Some(n) = cx.receive().await {
                    log.send(("new", n)).unwrap();
                }
                "new code"
            })
            .await;
        assert_eq!(accepted, Ok(()));
        task.send(3).unwrap();
        drop(task);
        assert_eq!(joined.await.unwrap(), "new code");
        let all = logged.await.unwrap();
        let numbers: Vec<u32> = all.iter().map(|&(_, n)| n).collect();
        assert_eq!(numbers, [1, 2, 3], "each message handled once, in order");
        assert_eq!(all[0].0, "old", "the declined swap changed nothing");
        assert_eq!(all[2].0, "new");
    });
}

#[test]
fn a_pending_request_fails_when_the_task_ends_and_types_must_match() {
    let _w = watchdog(Duration::from_secs(10));
    let rt = rt(2);
    rt.block_on(async {
        let (task, joined) =
            rycos::spawn_task_joinable(|cx: Cx<u32>| async move { cx.receive().await.unwrap_or(0) });
        let pending = task.hot_swap(|_cx: Cx<u32>| async move { 1u32 });
        task.send(9).unwrap(); // the task ends before it allows a swap
        assert_eq!(joined.await.unwrap(), 9);
        assert_eq!(pending.await, Err(HotSwapError::TaskEnded));

        let (task, joined) = rycos::spawn_task_joinable(|cx: Cx<u32>| async move {
            cx.hot_swappable(true);
            cx.receive().await.unwrap_or(0)
        });
        let wrong = task.hot_swap(|_cx: Cx<u32>| async move { "a string, not a u32" }).await;
        assert_eq!(wrong, Err(HotSwapError::OutputTypeMismatch));
        task.send(4).unwrap();
        assert_eq!(joined.await.unwrap(), 4, "the old code went on");
    });
}
