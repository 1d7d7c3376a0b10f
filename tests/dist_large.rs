//! Messages larger than a chunk (64 KiB) between two nodes: they arrive whole, small messages
//! to other tasks pass them, and the orders the protocol promises hold (per pair of tasks; an
//! exit after the ended task's messages). Too large for the sender: `TooLarge` at once; too
//! large for the receiver: skipped there, the link stays up.

mod common;

use rycos::dist::Node;
use rycos::{Cx, DeliverError, Exit, ExitReason, SendError, TaskRef};
use serde::{Deserialize, Serialize};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(20);

fn runtime() -> rycos::Runtime {
    rycos::Runtime::builder().worker_threads(2).build().unwrap()
}

async fn node(name: &str, max_message: usize) -> Node {
    Node::builder()
        .name(name)
        .listen("127.0.0.1:0".parse().unwrap())
        .secret("large")
        .heartbeat(Duration::from_millis(100), 20)
        .max_message(max_message)
        .start()
        .await
        .unwrap()
}

/// A message whose bytes depend on its seed, so a piece out of place shows.
fn bulk(seed: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

#[derive(Debug, Serialize, Deserialize)]
enum Msg {
    /// Bulk bytes as a byte string (`serde_bytes`), as a user would send them: as a sequence of
    /// `u8`s, 16 MiB decode element by element inside the link's reader, which takes seconds
    /// in the instrumented debug build and held up the workers (and so the heartbeats) of both
    /// nodes, which share one runtime here, long enough for a peer to be declared down.
    Big(u8, #[serde(with = "serde_bytes")] Vec<u8>),
    Small(u32),
}

/// What the receivers saw, in the order they saw it, on the receiving node.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Big { task: &'static str, seed: u8, intact: bool },
    Small { task: &'static str, n: u32 },
}

/// A task that reports every message it gets to `log`.
fn receiver(task: &'static str, log: TaskRef<Seen>) -> TaskRef<Msg> {
    rycos::spawn_task(move |cx: Cx<Msg>| async move {
        while let Some(message) = cx.receive().await {
            let seen = match message {
                Msg::Big(seed, bytes) => Seen::Big { task, seed, intact: bytes == bulk(seed, bytes.len()) },
                Msg::Small(n) => Seen::Small { task, n },
            };
            let _ = log.send(seen);
        }
    })
}

/// A task that collects `count` reports.
fn collector(count: usize) -> (TaskRef<Seen>, rycos::JoinHandle<Vec<Seen>>) {
    rycos::spawn_task_joinable(move |cx: Cx<Seen>| async move {
        let mut seen = Vec::new();
        while seen.len() < count {
            seen.push(cx.receive().await.unwrap());
        }
        seen
    })
}

#[test]
fn a_large_message_arrives_whole_and_small_ones_to_other_tasks_pass_it() {
    let _guard = common::watchdog(Duration::from_secs(60));
    runtime().block_on(async {
        let a = node("a", 64 << 20).await;
        let b = node("b", 64 << 20).await;
        b.peer(a.location().addr()).await.unwrap();
        let (log, seen) = collector(5);
        a.register("bulk", &receiver("bulk", log.clone())).unwrap();
        a.register("quick", &receiver("quick", log)).unwrap();
        let to_bulk = b.locate::<Msg>("bulk", LONG).await.unwrap();
        let to_quick = b.locate::<Msg>("quick", LONG).await.unwrap();

        // 16 MiB: 256 chunks. The small message to another task is sent after it and
        // arrives before it; the small one to the same task stays behind it.
        to_bulk.send(Msg::Big(1, bulk(1, 16 << 20))).unwrap();
        to_quick.send(Msg::Small(1)).unwrap();
        to_bulk.send(Msg::Small(2)).unwrap();
        to_quick.send(Msg::Small(3)).unwrap();
        // A deliver of a large message completes once it is in the mailbox.
        to_bulk.deliver(Msg::Big(2, bulk(2, 3 << 20)), LONG).await.unwrap();
        let seen = seen.await.unwrap();
        assert_eq!(
            seen,
            vec![
                Seen::Small { task: "quick", n: 1 },
                Seen::Small { task: "quick", n: 3 },
                Seen::Big { task: "bulk", seed: 1, intact: true },
                Seen::Small { task: "bulk", n: 2 },
                Seen::Big { task: "bulk", seed: 2, intact: true },
            ]
        );
        b.shutdown().await;
        a.shutdown().await;
    });
}

#[derive(Debug, Serialize, Deserialize)]
enum Report {
    Big(Vec<u8>),
    #[serde(skip)]
    Down(Exit),
}

impl From<Exit> for Report {
    fn from(exit: Exit) -> Self {
        Report::Down(exit)
    }
}

#[test]
fn an_exit_comes_after_the_large_message_its_task_sent_last() {
    let _guard = common::watchdog(Duration::from_secs(60));
    runtime().block_on(async {
        let a = node("a", 64 << 20).await;
        let b = node("b", 64 << 20).await;
        b.peer(a.location().addr()).await.unwrap();
        let sender = rycos::spawn_task(|cx: Cx<TaskRef<Report>>| async move {
            if let Some(to) = cx.receive().await {
                to.send(Report::Big(bulk(7, 8 << 20))).unwrap();
            }
        });
        a.register("sender", &sender).unwrap();
        drop(sender);
        let remote = b.locate::<TaskRef<Report>>("sender", LONG).await.unwrap();
        let (_, order) = rycos::spawn_task_joinable(move |cx: Cx<Report>| async move {
            cx.monitor(&remote);
            remote.send(cx.me()).unwrap();
            let mut order = Vec::new();
            for _ in 0..2 {
                order.push(match cx.receive().await.unwrap() {
                    Report::Big(bytes) => format!("big intact={}", bytes == bulk(7, 8 << 20)),
                    Report::Down(exit) => format!("exit {:?}", exit.reason),
                });
            }
            order
        });
        assert_eq!(
            order.await.unwrap(),
            ["big intact=true".to_owned(), format!("exit {:?}", ExitReason::Finished)]
        );
        b.shutdown().await;
        a.shutdown().await;
    });
}

#[test]
fn a_message_over_the_senders_maximum_fails_at_once_and_the_link_serves_on() {
    let _guard = common::watchdog(Duration::from_secs(60));
    runtime().block_on(async {
        let a = node("a", 64 << 20).await;
        let b = node("b", 1 << 20).await;
        b.peer(a.location().addr()).await.unwrap();
        let (log, seen) = collector(1);
        a.register("bulk", &receiver("bulk", log)).unwrap();
        let to_bulk = b.locate::<Msg>("bulk", LONG).await.unwrap();
        match to_bulk.send(Msg::Big(1, bulk(1, 2 << 20))) {
            Err(SendError::TooLarge(Msg::Big(1, bytes))) => assert_eq!(bytes.len(), 2 << 20, "handed back"),
            other => panic!("expected TooLarge, got {other:?}"),
        }
        match to_bulk.deliver(Msg::Big(1, bulk(1, 2 << 20)), LONG).await {
            Err(DeliverError::TooLarge(_)) => {}
            other => panic!("expected TooLarge, got {other:?}"),
        }
        to_bulk.deliver(Msg::Small(9), LONG).await.unwrap();
        assert_eq!(seen.await.unwrap(), vec![Seen::Small { task: "bulk", n: 9 }]);
        b.shutdown().await;
        a.shutdown().await;
    });
}

#[test]
fn a_message_over_the_receivers_maximum_is_skipped_and_the_link_serves_on() {
    let _guard = common::watchdog(Duration::from_secs(60));
    runtime().block_on(async {
        let a = node("a", 1 << 20).await;
        let b = node("b", 64 << 20).await;
        b.peer(a.location().addr()).await.unwrap();
        let (log, seen) = collector(2);
        a.register("bulk", &receiver("bulk", log)).unwrap();
        let to_bulk = b.locate::<Msg>("bulk", LONG).await.unwrap();
        to_bulk.send(Msg::Small(1)).unwrap();
        to_bulk.send(Msg::Big(1, bulk(1, 4 << 20))).unwrap();
        to_bulk.deliver(Msg::Small(2), LONG).await.unwrap();
        to_bulk.deliver(Msg::Big(3, bulk(3, 512 << 10)), LONG).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            seen.await.unwrap(),
            vec![Seen::Small { task: "bulk", n: 1 }, Seen::Small { task: "bulk", n: 2 }]
                .into_iter()
                .collect::<Vec<_>>()
        );
        assert_eq!(b.peers().len(), 1, "the link stayed up");
        b.shutdown().await;
        a.shutdown().await;
    });
}
