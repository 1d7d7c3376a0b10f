//! Nodes in one process linked over loopback: names, remote sends and delivers, references in
//! messages, monitors, peer events, refusals. (Nodes in separate processes: `dist_process.rs`.)

mod common;

use rycos::dist::{LinkState, Location, Node, PeerError, PeerEvent};
use rycos::{Cx, DeliverError, Exit, ExitReason, LocateError, SendError, TaskRef};
use serde::{Deserialize, Serialize};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(10);

fn runtime() -> rycos::Runtime {
    rycos::Runtime::builder().worker_threads(2).build().unwrap()
}

async fn node(name: &str, secret: &str) -> Node {
    Node::builder()
        .name(name)
        .listen("127.0.0.1:0".parse().unwrap())
        .secret(secret)
        .heartbeat(Duration::from_millis(100), 10)
        .grace(Duration::from_millis(500))
        .start()
        .await
        .unwrap()
}

/// Two nodes with the same secret, linked.
async fn pair() -> (Node, Node) {
    let a = node("a", "secret").await;
    let b = node("b", "secret").await;
    b.peer(a.location().addr()).await.unwrap();
    (a, b)
}

#[derive(Debug, Serialize, Deserialize)]
enum Request {
    Double(u64, TaskRef<u64>),
    Stop,
}

fn doubler() -> TaskRef<Request> {
    rycos::spawn_task(|cx: Cx<Request>| async move {
        while let Some(request) = cx.receive().await {
            match request {
                Request::Double(n, reply) => {
                    let _ = reply.send(n * 2);
                }
                Request::Stop => return,
            }
        }
    })
}

#[test]
fn locate_finds_a_name_on_a_peer_and_a_reference_in_a_message_carries_the_reply() {
    let _guard = common::watchdog(Duration::from_secs(30));
    runtime().block_on(async {
        let (a, b) = pair().await;
        a.register("doubler", &doubler()).unwrap();
        let remote = b.locate::<Request>("doubler", LONG).await.unwrap();
        assert!(!remote.is_local());
        assert_eq!(remote.addr().node, a.id());
        assert_eq!(remote.location().as_ref(), Some(a.location()));
        assert_eq!(remote.name(), Some("doubler"));
        let (_, answers) = rycos::spawn_task_joinable(move |cx: Cx<u64>| async move {
            let mut got = Vec::new();
            for n in 1..=10 {
                remote.send(Request::Double(n, cx.me())).unwrap();
                got.push(cx.receive().await.unwrap());
            }
            got
        });
        assert_eq!(answers.await.unwrap(), (1..=10).map(|n| n * 2).collect::<Vec<_>>());
        a.shutdown().await;
        b.shutdown().await;
    });
}

#[test]
fn locate_answers_not_found_wrong_type_unregistered_and_ended() {
    let _guard = common::watchdog(Duration::from_secs(30));
    runtime().block_on(async {
        let (a, b) = pair().await;
        assert_eq!(
            b.locate::<Request>("nobody", LONG).await.unwrap_err(),
            LocateError::NotFound("nobody".into())
        );

        let task = doubler();
        a.register("doubler", &task).unwrap();
        match b.locate::<String>("doubler", LONG).await.unwrap_err() {
            LocateError::WrongType { name, expected, found } => {
                assert_eq!(name, "doubler");
                assert_eq!(expected, "string::String");
                assert!(found.ends_with("Request"), "{found}");
            }
            other => panic!("{other:?}"),
        }

        assert!(a.unregister("doubler"));
        assert!(matches!(b.locate::<Request>("doubler", LONG).await, Err(LocateError::NotFound(_))));

        let (ending, ended) =
            rycos::spawn_task_joinable(|cx: Cx<Request>| async move { cx.receive().await.map(drop) });
        a.register("ending", &ending).unwrap();
        assert!(b.locate::<Request>("ending", LONG).await.is_ok());
        ending.send(Request::Stop).unwrap();
        ended.await.unwrap();
        assert!(matches!(b.locate::<Request>("ending", LONG).await, Err(LocateError::NotFound(_))));
        task.send(Request::Stop).unwrap();
        a.shutdown().await;
        b.shutdown().await;
    });
}

#[test]
fn the_first_peer_that_has_the_name_wins_and_locate_at_asks_one() {
    let _guard = common::watchdog(Duration::from_secs(30));
    runtime().block_on(async {
        let asker = node("asker", "s").await;
        let mut peers = Vec::new();
        for i in 0..3 {
            let peer = node(&format!("p{i}"), "s").await;
            asker.peer(peer.location().addr()).await.unwrap();
            peers.push(peer);
        }
        let task = doubler();
        peers[2].register("only-on-p2", &task).unwrap();
        let found = asker.locate::<Request>("only-on-p2", LONG).await.unwrap();
        assert_eq!(found.addr().node, peers[2].id());

        let at_p0 = asker.locate_at::<Request>("only-on-p2", peers[0].location(), LONG).await;
        assert!(matches!(at_p0, Err(LocateError::NotFound(_))), "{at_p0:?}");
        let at_p2 = asker.locate_at::<Request>("only-on-p2", peers[2].location(), LONG).await.unwrap();
        assert_eq!(at_p2, found);
        let stranger: Location = "nobody@127.0.0.1:1".parse().unwrap();
        let at_stranger = asker.locate_at::<Request>("only-on-p2", &stranger, LONG).await;
        assert!(matches!(at_stranger, Err(LocateError::PeerDown { .. })), "{at_stranger:?}");
        task.send(Request::Stop).unwrap();
        for peer in peers {
            peer.shutdown().await;
        }
        asker.shutdown().await;
    });
}

/// Sends 0, 1, … up to `count` to `remote`, giving the link's writer a turn whenever its
/// outbound buffer is full.
async fn send_numbers(remote: &TaskRef<u64>, count: u64) {
    let mut n = 0;
    while n < count {
        match remote.send(n) {
            Ok(()) => n += 1,
            Err(SendError::Full(_)) => rycos::yield_now().await,
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn messages_from_one_sender_arrive_in_order() {
    let _guard = common::watchdog(Duration::from_secs(60));
    runtime().block_on(async {
        let (a, b) = pair().await;
        // A million in the optimised run; the instrumented (ASan) debug run takes a fifth.
        const N: u64 = if cfg!(debug_assertions) { 200_000 } else { 1_000_000 };
        let (sink, received) = rycos::spawn_task_joinable(|cx: Cx<u64>| async move {
            let mut next = 0;
            while next < N {
                let n = cx.receive().await.unwrap();
                assert_eq!(n, next, "out of order");
                next += 1;
            }
            next
        });
        a.register("sink", &sink).unwrap();
        let remote = b.locate::<u64>("sink", LONG).await.unwrap();
        send_numbers(&remote, N).await;
        assert_eq!(received.await.unwrap(), N);
        a.shutdown().await;
        b.shutdown().await;
    });
}

/// A receiving node whose one worker runs both the link's reader and the receiving task: the
/// reader hands over a turn's worth of messages and lets the task run, so a flood from a peer
/// does not pile up in the mailbox (it grew to millions of messages before, all of a run).
#[test]
fn a_flood_from_a_peer_does_not_pile_up_in_the_receivers_mailbox() {
    let _guard = common::watchdog(Duration::from_secs(60));
    const N: u64 = if cfg!(debug_assertions) { 100_000 } else { 300_000 };
    let receiving = rycos::Runtime::builder().worker_threads(1).build().unwrap();
    let (a, sink, most_queued) = receiving.block_on(async {
        let a = node("a", "secret").await;
        let (sink, most_queued) = rycos::spawn_task_joinable(|cx: Cx<u64>| async move {
            let mut most_queued = 0;
            for expected in 0..N {
                assert_eq!(cx.receive().await, Some(expected), "out of order");
                most_queued = most_queued.max(cx.pending_messages());
            }
            most_queued
        });
        a.register("sink", &sink).unwrap();
        (a, sink, most_queued)
    });
    runtime().block_on(async {
        let b = node("b", "secret").await;
        b.peer(a.location().addr()).await.unwrap();
        let remote = b.locate::<u64>("sink", LONG).await.unwrap();
        send_numbers(&remote, N).await;
        let most_queued = receiving.block_on(most_queued).unwrap();
        // A turn is 128 envelopes, and the task usually runs after each (about 10 turns at worst
        // seen; without the turns, a third of the flood queued at once).
        assert!(most_queued < 10_000, "{most_queued} of {N} messages queued at once");
        b.shutdown().await;
    });
    drop(sink);
    receiving.block_on(a.shutdown());
}

/// `Node::snapshot`: each side sees the other up, with the messages and bytes that went each
/// way, a round-trip time from the heartbeat probes, and the names shared.
#[test]
fn a_node_snapshot_shows_peers_traffic_round_trip_time_and_names() {
    let _guard = common::watchdog(Duration::from_secs(30));
    runtime().block_on(async {
        let (a, b) = pair().await;
        const N: u64 = 1_000;
        let all_in = std::sync::Arc::new(rycos::sync::Event::new());
        let sink = {
            let all_in = all_in.clone();
            // Lives on after the last message: its name stays shared.
            rycos::spawn_task(move |cx: Cx<u64>| async move {
                while let Some(n) = cx.receive().await {
                    if n == N - 1 {
                        all_in.set();
                    }
                }
            })
        };
        a.register("sink", &sink).unwrap();
        let remote = b.locate::<u64>("sink", LONG).await.unwrap();
        for n in 0..N {
            remote.send(n).unwrap();
        }
        all_in.wait().await;
        // Heartbeats every 100 ms carry the probes; wait for both sides to have an echo.
        let deadline = std::time::Instant::now() + LONG;
        let (seen_by_a, seen_by_b) = loop {
            let (sa, sb) = (a.snapshot(), b.snapshot());
            if sa.peers.iter().chain(&sb.peers).all(|p| p.rtt.is_some() && p.unacknowledged == 0) {
                break (sa, sb);
            }
            assert!(std::time::Instant::now() < deadline, "no round-trip time: {sa:#?} {sb:#?}");
            rycos::time::sleep(Duration::from_millis(20)).await;
        };
        let (from_b, to_a) = (&seen_by_a.peers[..], &seen_by_b.peers[..]);
        assert_eq!((from_b.len(), to_a.len()), (1, 1), "{seen_by_a:#?} {seen_by_b:#?}");
        let (from_b, to_a) = (&from_b[0], &to_a[0]);
        assert_eq!(&from_b.location, b.location());
        assert_eq!(&to_a.location, a.location());
        assert_eq!((from_b.state, to_a.state), (LinkState::Up, LinkState::Up));
        // The sends, and the locate's question and answer.
        assert!(from_b.messages_in > N && to_a.messages_out > N, "{from_b:?} {to_a:?}");
        assert!(from_b.bytes_in >= N * 8 && to_a.bytes_out >= from_b.bytes_in, "{from_b:?} {to_a:?}");
        assert!(from_b.rtt.unwrap() < LONG);
        assert_eq!(seen_by_a.location, *a.location());
        assert_eq!(seen_by_a.names.len(), 1);
        let name = &seen_by_a.names[0];
        assert_eq!((name.name.as_str(), name.task), ("sink", sink.id()));
        assert!(name.type_name.contains("u64"), "{name:?}");
        assert!(seen_by_b.names.is_empty());
        sink.terminate();
        a.shutdown().await;
        b.shutdown().await;
    });
}

/// What was sent before `shutdown` reaches the peer when the shutdown is awaited, even if the
/// sender's runtime (which runs the link's writer) is dropped right after.
#[test]
fn an_awaited_shutdown_writes_what_was_sent_before_it() {
    let _guard = common::watchdog(Duration::from_secs(60));
    const N: u64 = 10_000;
    let receiver_rt = runtime();
    let (receiver, received) = receiver_rt.block_on(async {
        let receiver = node("receiver", "flush").await;
        let (sink, received) = rycos::spawn_task_joinable(|cx: Cx<u64>| async move {
            let mut next = 0;
            while next < N {
                assert_eq!(cx.receive().await, Some(next));
                next += 1;
            }
            next
        });
        receiver.register("sink", &sink).unwrap();
        (receiver, received)
    });
    let sender_rt = runtime();
    sender_rt.block_on(async {
        let sender = node("sender", "flush").await;
        sender.peer(receiver.location().addr()).await.unwrap();
        let sink = sender.locate::<u64>("sink", LONG).await.unwrap();
        for n in 0..N {
            sink.send(n).unwrap();
        }
        sender.shutdown().await;
    });
    drop(sender_rt);
    receiver_rt.block_on(async {
        let received = rycos::time::timeout(LONG, received).await;
        assert_eq!(received.expect("messages sent before the shutdown were lost").unwrap(), N);
        receiver.shutdown().await;
    });
}

#[test]
fn deliver_completes_when_the_message_is_in_the_remote_mailbox() {
    let _guard = common::watchdog(Duration::from_secs(30));
    runtime().block_on(async {
        let (a, b) = pair().await;
        let (sink, got) = rycos::spawn_task_joinable(|cx: Cx<u64>| async move {
            let mut sum = 0;
            for _ in 0..100 {
                sum += cx.receive().await.unwrap();
            }
            sum
        });
        a.register("sink", &sink).unwrap();
        drop(sink);
        let remote = b.locate::<u64>("sink", LONG).await.unwrap();
        for n in 0..100 {
            remote.deliver(n, LONG).await.unwrap();
        }
        assert_eq!(got.await.unwrap(), (0..100).sum::<u64>());
        // The task has ended: a deliver says so.
        match remote.deliver(7, LONG).await {
            Err(DeliverError::Closed(7)) => {}
            other => panic!("{other:?}"),
        }
        let mut events = b.peer_events();
        a.shutdown().await;
        assert!(matches!(events.next().await, Some(PeerEvent::Down { .. })));
        // Its node is gone: PeerDown, with the message back.
        match remote.deliver(8, LONG).await {
            Err(DeliverError::PeerDown(8)) => {}
            other => panic!("{other:?}"),
        }
        assert!(matches!(remote.send(9), Err(SendError::PeerDown(9))));
        b.shutdown().await;
    });
}

#[test]
fn delivers_wait_for_room_in_a_full_outbound_buffer() {
    let _guard = common::watchdog(Duration::from_secs(60));
    runtime().block_on(async {
        let a = node("ra", "s").await;
        // A buffer smaller than one message: a deliver finds it full until the writer has
        // taken what the one before queued. (Messages stay small enough that encoding them in a
        // debug build does not hold the runtime up for a heartbeat.)
        let b = Node::builder()
            .name("rb")
            .listen("127.0.0.1:0".parse().unwrap())
            .secret("s")
            .outbound_limit(1024)
            .start()
            .await
            .unwrap();
        b.peer(a.location().addr()).await.unwrap();
        const N: usize = 64;
        const SIZE: usize = 16 * 1024;
        let (sink, got) = rycos::spawn_task_joinable(|cx: Cx<Vec<u8>>| async move {
            let mut bytes = 0;
            for _ in 0..N {
                bytes += cx.receive().await.unwrap().len();
            }
            bytes
        });
        a.register("sink", &sink).unwrap();
        let remote = b.locate::<Vec<u8>>("sink", LONG).await.unwrap();
        let senders: Vec<_> = (0..N)
            .map(|i| {
                let remote = remote.clone();
                rycos::spawn(async move {
                    remote.deliver(vec![i as u8; SIZE], LONG).await.map_err(|e| e.to_string())
                })
            })
            .collect();
        for sender in senders {
            sender.await.unwrap().unwrap();
        }
        assert_eq!(got.await.unwrap(), N * SIZE);
        a.shutdown().await;
        b.shutdown().await;
    });
}

#[derive(Debug, Serialize, Deserialize)]
enum Watched {
    Finish,
    Panic,
    Wait,
}

fn watched() -> TaskRef<Watched> {
    rycos::spawn_task(|cx: Cx<Watched>| async move {
        match cx.receive().await {
            Some(Watched::Finish) | None => {}
            Some(Watched::Panic) => panic!("asked to"),
            Some(Watched::Wait) => std::future::pending::<()>().await,
        }
    })
}

/// Monitors `target` from a task and returns its `Exit` after `trigger` ran.
async fn exit_of(target: TaskRef<Watched>, trigger: impl FnOnce(&TaskRef<Watched>) + Send + 'static) -> Exit {
    let (_, exit) = rycos::spawn_task_joinable(move |cx: Cx<Exit>| async move {
        cx.monitor(&target);
        trigger(&target);
        cx.receive().await.unwrap()
    });
    exit.await.unwrap()
}

#[test]
fn a_monitor_sees_a_remote_task_finish_panic_be_terminated_and_its_node_go_down() {
    let _guard = common::watchdog(Duration::from_secs(30));
    runtime().block_on(async {
        let (a, b) = pair().await;
        for (name, trigger, reason) in [
            ("finish", Watched::Finish, ExitReason::Finished),
            ("panic", Watched::Panic, ExitReason::Panicked("asked to".into())),
        ] {
            a.register(name, &watched()).unwrap();
            let remote = b.locate::<Watched>(name, LONG).await.unwrap();
            let exit = exit_of(remote, move |t| t.send(trigger).unwrap()).await;
            assert_eq!(exit.reason, reason, "{name}");
            assert_eq!(exit.node, a.id());
        }
        a.register("terminated", &watched()).unwrap();
        let remote = b.locate::<Watched>("terminated", LONG).await.unwrap();
        let exit = exit_of(remote, |t| {
            t.send(Watched::Wait).unwrap();
            assert!(t.terminate());
        })
        .await;
        assert_eq!(exit.reason, ExitReason::Terminated);

        a.register("orphan", &watched()).unwrap();
        let remote = b.locate::<Watched>("orphan", LONG).await.unwrap();
        let a_stops = a.clone();
        let exit = exit_of(remote, move |_| drop(a_stops.shutdown())).await;
        assert_eq!(exit.reason, ExitReason::NoConnection);
        b.shutdown().await;
    });
}

#[test]
fn an_exit_comes_after_every_message_the_ended_task_sent() {
    let _guard = common::watchdog(Duration::from_secs(30));
    runtime().block_on(async {
        let (a, b) = pair().await;
        #[derive(Debug, Serialize, Deserialize)]
        struct Burst(TaskRef<Counted>);
        #[derive(Debug, Serialize, Deserialize)]
        enum Counted {
            N(u32),
            #[serde(skip)]
            Down(Exit),
        }
        impl From<Exit> for Counted {
            fn from(e: Exit) -> Self {
                Counted::Down(e)
            }
        }
        let sender = rycos::spawn_task(|cx: Cx<Burst>| async move {
            if let Some(Burst(to)) = cx.receive().await {
                for n in 0..1000 {
                    to.send(Counted::N(n)).unwrap();
                }
            }
        });
        a.register("burst", &sender).unwrap();
        let remote = b.locate::<Burst>("burst", LONG).await.unwrap();
        let (_, seen) = rycos::spawn_task_joinable(move |cx: Cx<Counted>| async move {
            cx.monitor(&remote);
            remote.send(Burst(cx.me())).unwrap();
            let mut count = 0;
            loop {
                match cx.receive().await.unwrap() {
                    Counted::N(n) => {
                        assert_eq!(n, count);
                        count += 1;
                    }
                    Counted::Down(exit) => {
                        assert_eq!(exit.reason, ExitReason::Finished);
                        return count;
                    }
                }
            }
        });
        assert_eq!(seen.await.unwrap(), 1000, "every message before the exit");
        a.shutdown().await;
        b.shutdown().await;
    });
}

#[test]
fn references_travel_across_three_nodes_and_come_home_local() {
    let _guard = common::watchdog(Duration::from_secs(30));
    runtime().block_on(async {
        let a = node("a3", "s").await;
        let b = node("b3", "s").await;
        let c = node("c3", "s").await;
        b.peer(a.location().addr()).await.unwrap();
        c.peer(a.location().addr()).await.unwrap();
        // b and c are not linked: a reference from c reaches b through a, and b links to c.

        // On a: a relay that forwards each reference it gets to whoever asks next.
        #[derive(Debug, Serialize, Deserialize)]
        enum Relay {
            Offer(TaskRef<Request>),
            Take(TaskRef<TaskRef<Request>>),
        }
        // Offers and takes come on different links, in no set order: each take waits for an
        // offer.
        let relay = rycos::spawn_task(|cx: Cx<Relay>| async move {
            let (mut offers, mut takers) =
                (std::collections::VecDeque::new(), std::collections::VecDeque::new());
            while let Some(m) = cx.receive().await {
                match m {
                    Relay::Offer(r) => offers.push_back(r),
                    Relay::Take(to) => takers.push_back(to),
                }
                while !offers.is_empty() && !takers.is_empty() {
                    let _ = takers.pop_front().unwrap().send(offers.pop_front().unwrap());
                }
            }
        });
        a.register("relay", &relay).unwrap();

        let on_c = doubler();
        let relay_from_c = c.locate::<Relay>("relay", LONG).await.unwrap();
        relay_from_c.send(Relay::Offer(on_c.clone())).unwrap();

        let relay_from_b = b.locate::<Relay>("relay", LONG).await.unwrap();
        let (_, answer) = rycos::spawn_task_joinable(move |cx: Cx<TaskRef<Request>>| async move {
            relay_from_b.send(Relay::Take(cx.me())).unwrap();
            let doubler_on_c = cx.receive().await.unwrap();
            assert!(!doubler_on_c.is_local());
            let (reply_to, replies) =
                rycos::spawn_task_joinable(|cx: Cx<u64>| async move { cx.receive().await });
            doubler_on_c.send(Request::Double(21, reply_to)).unwrap();
            (doubler_on_c.addr(), replies.await.unwrap())
        });
        let (addr, reply) = answer.await.unwrap();
        assert_eq!(addr.node, c.id());
        assert_eq!(reply, Some(42));
        assert!(b.peers().contains(c.location()), "b linked to c to reach its task");

        // A reference that comes home is local again.
        let (_, home) = rycos::spawn_task_joinable({
            let relay_from_c = c.locate::<Relay>("relay", LONG).await.unwrap();
            relay_from_c.send(Relay::Offer(on_c.clone())).unwrap();
            move |cx: Cx<TaskRef<Request>>| async move {
                relay_from_c.send(Relay::Take(cx.me())).unwrap();
                cx.receive().await.unwrap()
            }
        });
        let back = home.await.unwrap();
        assert!(back.is_local());
        assert_eq!(back.location(), None, "a local task has no remote location");
        assert_eq!(back, on_c);
        on_c.send(Request::Stop).unwrap();
        for n in [a, b, c] {
            n.shutdown().await;
        }
    });
}

#[test]
fn peer_events_report_up_and_down_and_close_peer_takes_a_link_down() {
    let _guard = common::watchdog(Duration::from_secs(30));
    runtime().block_on(async {
        let a = node("ea", "s").await;
        let b = node("eb", "s").await;
        let mut a_events = a.peer_events();
        let mut b_events = b.peer_events();
        b.peer(a.location().addr()).await.unwrap();
        assert_eq!(b_events.next().await, Some(PeerEvent::Up(a.location().clone())));
        assert_eq!(a_events.next().await, Some(PeerEvent::Up(b.location().clone())));
        assert_eq!(a.peers(), vec![b.location().clone()]);

        assert!(b.close_peer(a.location()));
        match b_events.next().await {
            Some(PeerEvent::Down { location, why }) => {
                assert_eq!(&location, a.location());
                assert!(why.contains("closed by this node"), "{why}");
            }
            other => panic!("{other:?}"),
        }
        match a_events.next().await {
            Some(PeerEvent::Down { location, .. }) => assert_eq!(&location, b.location()),
            other => panic!("{other:?}"),
        }
        assert!(b.peers().is_empty());
        assert!(!b.close_peer(a.location()), "no link left to close");
        a.shutdown().await;
        b.shutdown().await;
    });
}

#[test]
fn a_silent_peer_is_down_after_its_missed_heartbeats() {
    let _guard = common::watchdog(Duration::from_secs(30));
    runtime().block_on(async {
        let a = Node::builder()
            .name("hb")
            .listen("127.0.0.1:0".parse().unwrap())
            .heartbeat(Duration::from_millis(50), 4)
            .start()
            .await
            .unwrap();
        let mut events = a.peer_events();
        // A peer that passes the handshake and then never speaks again.
        let stream = rycos::net::TcpStream::connect(a.location().addr()).await.unwrap();
        let me = rycos::dist::Identity { name: "mute@127.0.0.1:1".into(), incarnation: 77 };
        let mut s = stream;
        rycos::dist::handshake(&mut s, rycos::dist::Role::Dialer, &me, b"", LONG).await.unwrap();
        // The last step of linking: its link's epoch (`docs/protocol.md`, "Link epochs").
        s.write_all(&1u64.to_le_bytes()).await.unwrap();
        assert!(matches!(events.next().await, Some(PeerEvent::Up(_))));
        match events.next().await {
            Some(PeerEvent::Down { why, .. }) => assert!(why.contains("heartbeats missed"), "{why}"),
            other => panic!("{other:?}"),
        }
        a.shutdown().await;
    });
}

/// A node whose own runtime stalls (its one worker blocked for longer than its heartbeats
/// allow) does not take its live peer for silent: it was not there to hear it. The peer,
/// which allows long enough, keeps the link too.
#[test]
fn a_stall_of_this_nodes_runtime_does_not_make_a_live_peer_silent() {
    let _guard = common::watchdog(Duration::from_secs(30));
    let stalling = rycos::Runtime::builder().worker_threads(1).build().unwrap();
    let builder = |name: &str| {
        Node::builder()
            .name(name)
            .listen("127.0.0.1:0".parse().unwrap())
            .secret("stall")
            .grace(Duration::ZERO)
    };
    let a = stalling.block_on(builder("a").heartbeat(Duration::from_millis(100), 5).start()).unwrap();
    runtime().block_on(async {
        let b = builder("b").heartbeat(Duration::from_millis(100), 100).start().await.unwrap();
        let mut events = a.peer_events();
        b.peer(a.location().addr()).await.unwrap();
        // The stimulus: a's only worker is blocked for three times what a's heartbeats allow.
        let stall = stalling.spawn(async { std::thread::sleep(Duration::from_millis(1_500)) });
        stall.await.unwrap();
        // Heartbeats go on for a while after the stall; then the link must still carry a deliver.
        rycos::time::sleep(Duration::from_millis(400)).await;
        let (sink, got) = rycos::spawn_task_joinable(|cx: Cx<u32>| async move { cx.receive().await });
        b.register("sink", &sink).unwrap();
        let remote = a.locate::<u32>("sink", LONG).await.unwrap();
        remote.deliver(7, LONG).await.unwrap();
        assert_eq!(got.await.unwrap(), Some(7));
        assert_eq!(a.peers(), vec![b.location().clone()]);
        while let Some(Some(event)) = futures::FutureExt::now_or_never(events.next()) {
            assert!(matches!(event, PeerEvent::Up(_)), "the link went down: {event:?}");
        }
        b.shutdown().await;
    });
    stalling.block_on(a.shutdown());
}

#[test]
fn a_wrong_secret_is_refused_on_both_sides_and_the_node_keeps_serving() {
    let _guard = common::watchdog(Duration::from_secs(30));
    runtime().block_on(async {
        let a = node("sa", "right").await;
        let stranger = node("sb", "wrong").await;
        match stranger.peer(a.location().addr()).await {
            Err(PeerError::Handshake(e)) => assert!(e.to_string().contains("secret"), "{e}"),
            other => panic!("{other:?}"),
        }
        assert!(a.peers().is_empty());
        let mut events = a.peer_events();
        let friend = node("sc", "right").await;
        friend.peer(a.location().addr()).await.unwrap();
        // The listening side installs the link on its own time: wait for it to say so.
        assert_eq!(events.next().await, Some(PeerEvent::Up(friend.location().clone())));
        assert_eq!(a.peers(), vec![friend.location().clone()]);
        for n in [a, stranger, friend] {
            n.shutdown().await;
        }
    });
}

#[test]
fn nodes_that_dial_each_other_at_once_end_with_one_working_link() {
    let _guard = common::watchdog(Duration::from_secs(60));
    runtime().block_on(async {
        for round in 0..20 {
            let a = node(&format!("x{round}"), "s").await;
            let b = node(&format!("y{round}"), "s").await;
            let (a2, b2) = (a.clone(), b.clone());
            let (b_addr, a_addr) = (b.location().addr(), a.location().addr());
            let one = rycos::spawn(async move { a2.peer(b_addr).await });
            let two = rycos::spawn(async move { b2.peer(a_addr).await });
            one.await.unwrap().unwrap();
            two.await.unwrap().unwrap();
            let sink = doubler();
            let name = format!("d{round}");
            a.register(&name, &sink).unwrap();
            let remote = b.locate::<Request>(&name, LONG).await.unwrap();
            let (_, reply) = rycos::spawn_task_joinable(move |cx: Cx<u64>| async move {
                remote.send(Request::Double(4, cx.me())).unwrap();
                cx.receive().await
            });
            assert_eq!(reply.await.unwrap(), Some(8), "round {round}");
            assert_eq!(a.peers(), vec![b.location().clone()]);
            assert_eq!(b.peers(), vec![a.location().clone()]);
            sink.send(Request::Stop).unwrap();
            a.shutdown().await;
            b.shutdown().await;
        }
    });
}

#[test]
fn nodes_link_over_ipv6_and_a_static_peer_is_found_by_its_dns_name() {
    let _guard = common::watchdog(Duration::from_secs(30));
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipped: no IPv6 loopback here");
        return;
    }
    runtime().block_on(async {
        let v6 =
            |name: &str| Node::builder().name(name).listen("[::1]:0".parse().unwrap()).secret("six").start();
        let a = v6("a6").await.unwrap();
        a.register("doubler", &doubler()).unwrap();
        let b = v6("b6").await.unwrap();
        assert!(a.location().addr().is_ipv6());
        let location = b.peer(a.location().addr()).await.unwrap();
        assert_eq!(location.to_string(), format!("a6@[::1]:{}", a.location().addr().port()));
        let remote = b.locate::<Request>("doubler", LONG).await.unwrap();
        let (_, doubled) = rycos::spawn_task_joinable(move |cx: Cx<u64>| async move {
            remote.send(Request::Double(21, cx.me())).unwrap();
            cx.receive().await.unwrap()
        });
        assert_eq!(doubled.await.unwrap(), 42);

        // A static peer given by name: resolved when dialled (and again on every redial).
        let d = node("d", "six").await;
        let c = Node::builder()
            .name("c")
            .listen("127.0.0.1:0".parse().unwrap())
            .secret("six")
            .peer(format!("localhost:{}", d.location().addr().port()))
            .start()
            .await
            .unwrap();
        let mut events = c.peer_events();
        if c.peers().is_empty() {
            let up = rycos::time::timeout(LONG, events.next()).await;
            assert!(matches!(&up, Ok(Some(PeerEvent::Up(location))) if location == d.location()), "{up:?}");
        }
        assert_eq!(c.peers(), vec![d.location().clone()]);
        d.shutdown().await;
        c.shutdown().await;
        // b's goodbye reaches a as a closes its own link: this order once hung a's shutdown
        // about one run in two (the connection went before the goodbye was written, and
        // nothing set the link closed; `Link::disconnected` does now).
        b.shutdown().await;
        a.shutdown().await;
    });
}

/// A peer whose runtime is stalled answers late: its `Located` still beats the quick
/// `NotFound`s of the others (pycos answers with the first reply, found or not), and a quick
/// peer that has the name beats it.
#[test]
fn a_slow_peer_that_has_the_name_beats_quick_ones_that_do_not() {
    let _guard = common::watchdog(Duration::from_secs(30));
    let slow_runtime = rycos::Runtime::builder().worker_threads(1).build().unwrap();
    let stall = Duration::from_millis(400);
    runtime().block_on(async {
        let asker = node("asker", "s").await;
        let quick = vec![node("quick0", "s").await, node("quick1", "s").await];
        let slow = Node::builder()
            .name("slow")
            .listen("127.0.0.1:0".parse().unwrap())
            .secret("s")
            .runtime(slow_runtime.handle())
            .start()
            .await
            .unwrap();
        for peer in quick.iter().chain([&slow]) {
            asker.peer(peer.location().addr()).await.unwrap();
        }
        let task = doubler();
        slow.register("on-slow", &task).unwrap();
        // The slow node's one worker sleeps: its answer waits, the quick ones' do not. Asked
        // only once the sleep has begun, so the slow node cannot answer first.
        let stall_slow_node = || {
            let (began, beginning) = std::sync::mpsc::channel();
            slow_runtime.spawn(async move {
                began.send(()).unwrap();
                std::thread::sleep(stall);
            });
            beginning.recv().unwrap();
        };
        stall_slow_node();
        let found = asker.locate::<Request>("on-slow", LONG).await.unwrap();
        assert_eq!(found.addr().node, slow.id(), "the slow peer's Located, not a quick NotFound");

        quick[1].register("on-both", &task).unwrap();
        slow.register("on-both", &task).unwrap();
        stall_slow_node();
        let found = asker.locate::<Request>("on-both", LONG).await.unwrap();
        assert_eq!(found.addr().node, quick[1].id(), "the first peer that has the name");
        for peer in quick {
            peer.shutdown().await;
        }
        slow.shutdown().await;
        asker.shutdown().await;
    });
}

/// A peer that passes the handshake and hangs up before its link epoch: the link made for it
/// goes down at once (left up without a connection, nothing would ever dial it, and sends to
/// the peer's tasks would queue on it for ever).
#[test]
fn a_peer_that_hangs_up_after_the_handshake_leaves_no_link_behind() {
    let _guard = common::watchdog(Duration::from_secs(30));
    runtime().block_on(async {
        let a = node("a", "").await;
        let mut events = a.peer_events();
        let mut s = rycos::net::TcpStream::connect(a.location().addr()).await.unwrap();
        let me = rycos::dist::Identity { name: "quitter@127.0.0.1:1".into(), incarnation: 78 };
        rycos::dist::handshake(&mut s, rycos::dist::Role::Dialer, &me, b"", LONG).await.unwrap();
        drop(s);
        match rycos::time::timeout(LONG, events.next()).await {
            Ok(Some(PeerEvent::Down { location, why })) => {
                assert_eq!(location.name(), "quitter");
                assert!(why.contains("first connection failed"), "{why}");
            }
            other => panic!("{other:?}"),
        }
        assert!(a.peers().is_empty());
        a.shutdown().await;
    });
}
