//! A real network between two processes: this test's node in its own namespace, the other in a
//! namespace made here, joined by a veth pair. The link is taken down for less than the
//! heartbeat deadline (nothing lost, nothing twice, in order), for longer (the peer is down,
//! its monitors hear `NoConnection`, and a new link heals it), and made lossy and slow with
//! `tc netem` (everything arrives, in order). As root only; skipped, saying so, elsewhere.

mod common;

use common::child::{TestChild, follow_stdin};
use common::netns::{Netns, Veth, ip, run};
use rycos::dist::{Node, NodeBuilder, PeerEvent};
use rycos::{Cx, DeliverError, Exit, ExitReason, TaskRef};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const LISTEN_VAR: &str = "RYCOS_NETEM_LISTEN";
const SECRET: &str = "netem";
const LONG: Duration = Duration::from_secs(30);

/// What the sink saw: how many, the next number it expects, how many came out of order.
#[derive(Default)]
struct Tally {
    handled: u64,
    next: u64,
    disorder: u64,
}

/// The receiving node, in the namespace: `sink` expects 0, 1, 2, ...; "report" on stdin
/// prints its tally.
#[test]
#[ignore = "the node in the namespace: started by the tests below"]
fn child_ordered_sink() {
    let listen: SocketAddr = std::env::var(LISTEN_VAR).expect("started by a netem test").parse().unwrap();
    let tally = Arc::new(Mutex::new(Tally::default()));
    let shown = tally.clone();
    follow_stdin(move |_| {
        let t = shown.lock().unwrap();
        println!("tally {} {} {}", t.handled, t.next, t.disorder);
    });
    let runtime = rycos::Runtime::builder().worker_threads(2).build().unwrap();
    runtime.block_on(async move {
        let node = Node::builder()
            .name("sink")
            .listen(listen)
            .secret(SECRET)
            .heartbeat(Duration::from_millis(100), 50)
            // Found by its address: no announcements from the tests' nodes to each other.
            .discovery(false)
            .start()
            .await
            .unwrap();
        let sink = rycos::spawn_task(move |cx: Cx<u64>| async move {
            while let Some(n) = cx.receive().await {
                let mut t = tally.lock().unwrap();
                t.handled += 1;
                if n != t.next {
                    t.disorder += 1;
                }
                t.next = n + 1;
            }
        });
        node.register("sink", &sink).unwrap();
        println!("serving at {}", node.location().addr());
        std::future::pending::<()>().await;
    });
}

/// A namespace with the sink in it, and the veth pair to it.
struct Far {
    child: TestChild,
    addr: String,
    /// The end in this test's namespace.
    near: String,
    /// The end in the namespace (its name there).
    far: String,
    near_ip: String,
    _veth: Veth,
    ns: Netns,
}

impl Far {
    /// `None` (skipped, saying why) where namespaces cannot be made. `subnet` keeps the
    /// tests of this file, run at once, apart.
    fn start(tag: &str, subnet: u8) -> Option<Far> {
        let id = std::process::id();
        let ns = Netns::new(&format!("rycos-n{id}{tag}"))?;
        let (near, far) = (format!("rnv{id}{tag}a"), format!("rnv{id}{tag}b"));
        let (near_ip, far_ip) = (format!("10.233.{subnet}.1"), format!("10.233.{subnet}.2"));
        let veth = match Veth::new(&near, None, &format!("{near_ip}/24"), &far, &ns, &format!("{far_ip}/24"))
        {
            Ok(veth) => veth,
            Err(why) => {
                eprintln!("skipped: {why}");
                return None;
            }
        };
        let mut child = TestChild::start_with(
            ns.command(std::env::current_exe().unwrap()),
            "child_ordered_sink",
            &[(LISTEN_VAR, format!("{far_ip}:0"))],
        );
        let addr = child.expect("serving at ", LONG);
        Some(Far { child, addr, near, far, near_ip, _veth: veth, ns })
    }

    /// This test's node, on the near end.
    fn node(&self, heartbeat: Duration, misses: u32) -> NodeBuilder {
        Node::builder()
            .name("near")
            .listen(format!("{}:0", self.near_ip).parse().unwrap())
            .secret(SECRET)
            .heartbeat(heartbeat, misses)
            .grace(heartbeat * misses)
            .discovery(false)
    }

    fn link(&self, up: bool) {
        ip(&["link", "set", &self.near, if up { "up" } else { "down" }]).unwrap();
    }

    /// The sink's tally: (handled, next expected, out of order).
    fn tally(&mut self) -> (u64, u64, u64) {
        self.child.say("report");
        let tally = self.child.expect("tally ", LONG);
        let numbers: Vec<u64> = tally.split_whitespace().map(|n| n.parse().unwrap()).collect();
        (numbers[0], numbers[1], numbers[2])
    }

    /// The tally once the sink has handled at least `handled` messages (or after `LONG`): an
    /// acknowledged deliver is in the sink's mailbox, not yet necessarily handled. More than
    /// `handled` shows in the tally (a message handled twice).
    fn tally_after(&mut self, handled: u64) -> (u64, u64, u64) {
        let deadline = std::time::Instant::now() + LONG;
        loop {
            let tally = self.tally();
            if tally.0 >= handled || std::time::Instant::now() > deadline {
                return tally;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Sends `0..n` to `sink`, every hundredth with `deliver`; `during` runs (on a plain thread)
/// once the first thousand are acknowledged.
async fn stream(sink: &TaskRef<u64>, n: u64, during: impl FnOnce() + Send + 'static) {
    let mut during = Some(during);
    let mut disturbance = None;
    for i in 0..n {
        if i % 100 == 0 || i == n - 1 {
            sink.deliver(i, LONG).await.unwrap_or_else(|e| panic!("deliver {i}: {e}"));
        } else {
            let mut message = i;
            // A full outbound buffer while the link stalls: wait for room, as deliver does.
            while let Err(e) = sink.send(message) {
                message = e.into_inner();
                rycos::time::sleep(Duration::from_millis(5)).await;
            }
        }
        if i == 1000 {
            let during = during.take().unwrap();
            disturbance = Some(std::thread::spawn(during));
        }
    }
    if let Some(disturbance) = disturbance {
        disturbance.join().unwrap();
    }
}

#[test]
fn a_link_down_shorter_than_the_heartbeat_deadline_loses_and_repeats_nothing() {
    let _guard = common::watchdog(Duration::from_secs(120));
    let Some(mut far) = Far::start("s", 1) else { return };
    let runtime = rycos::Runtime::builder().worker_threads(2).build().unwrap();
    runtime.block_on(async {
        let node = far.node(Duration::from_millis(200), 15).start().await.unwrap();
        let mut events = node.peer_events();
        node.peer(&far.addr).await.unwrap();
        assert!(matches!(events.next().await, Some(PeerEvent::Up(_))));
        let sink = node.locate::<u64>("sink", LONG).await.unwrap();
        let near = far.near.clone();
        const N: u64 = 20_000;
        stream(&sink, N, move || {
            ip(&["link", "set", &near, "down"]).unwrap();
            std::thread::sleep(Duration::from_millis(700));
            ip(&["link", "set", &near, "up"]).unwrap();
        })
        .await;
        assert_eq!(far.tally_after(N), (N, N, 0), "every message once, in order");
        assert_eq!(node.peers().len(), 1, "the link stayed up");
        node.shutdown().await;
        assert!(
            matches!(events.next().await, Some(PeerEvent::Down { why, .. }) if why.contains("shut down")),
            "the only down is the shutdown's"
        );
    });
}

#[test]
fn a_link_down_longer_than_the_heartbeat_deadline_takes_the_peer_down_and_a_new_link_heals() {
    let _guard = common::watchdog(Duration::from_secs(120));
    let Some(mut far) = Far::start("l", 2) else { return };
    let runtime = rycos::Runtime::builder().worker_threads(2).build().unwrap();
    runtime.block_on(async {
        let node = far.node(Duration::from_millis(100), 5).start().await.unwrap();
        node.peer(&far.addr).await.unwrap();
        let sink = node.locate::<u64>("sink", LONG).await.unwrap();
        sink.deliver(0, LONG).await.unwrap();
        let (_, exit) = rycos::spawn_task_joinable({
            let sink = sink.clone();
            move |cx: Cx<Exit>| async move {
                cx.monitor(&sink);
                cx.receive().await
            }
        });
        let mut events = node.peer_events();
        far.link(false);
        assert_eq!(exit.await.unwrap().expect("an exit").reason, ExitReason::NoConnection);
        assert!(matches!(events.next().await, Some(PeerEvent::Down { .. })));
        match sink.deliver(1, LONG).await {
            Err(DeliverError::PeerDown(1)) => {}
            other => panic!("{other:?}"),
        }
        far.link(true);
        // The far node is alive and still thinks its link up (it allows 5 s of silence): the
        // new link's epoch tells it that this side started over, and it does too.
        node.peer(&far.addr).await.unwrap();
        let again = node.locate::<u64>("sink", LONG).await.unwrap();
        again.deliver(1, LONG).await.unwrap();
        assert_eq!(far.tally_after(2), (2, 2, 0));
        node.shutdown().await;
    });
}

#[test]
fn five_percent_loss_and_twenty_milliseconds_of_delay_deliver_everything_in_order() {
    let _guard = common::watchdog(Duration::from_secs(180));
    let Some(mut far) = Far::start("m", 3) else { return };
    let netem = ["root", "netem", "loss", "5%", "delay", "20ms"];
    let mut near_args = vec!["qdisc", "add", "dev", far.near.as_str()];
    near_args.extend(netem);
    let mut far_args = vec!["-n", far.ns.name.as_str(), "qdisc", "add", "dev", far.far.as_str()];
    far_args.extend(netem);
    if let Err(why) = run("tc", &near_args).and_then(|()| run("tc", &far_args)) {
        eprintln!("skipped: {why} (tc netem needs the sch_netem module)");
        return;
    }
    let runtime = rycos::Runtime::builder().worker_threads(2).build().unwrap();
    runtime.block_on(async {
        let node = far.node(Duration::from_millis(500), 20).start().await.unwrap();
        node.peer(&far.addr).await.unwrap();
        let sink = node.locate::<u64>("sink", LONG).await.unwrap();
        const N: u64 = 5_000;
        stream(&sink, N, || {}).await;
        assert_eq!(far.tally_after(N), (N, N, 0), "every message once, in order");
        assert_eq!(node.peers().len(), 1, "the link stayed up");
        node.shutdown().await;
    });
}
