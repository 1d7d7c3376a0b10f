//! Links whose connections break: a TCP proxy the test controls stands between two nodes and
//! cuts every connection through it on demand, or refuses new ones. A cut shorter than the
//! grace period is survived (redial, resend, no duplicates); a longer one takes the link down.

mod common;

use rycos::dist::Node;
use rycos::{Cx, DeliverError, Exit, ExitReason};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(20);

/// A loopback TCP proxy to `upstream`, on plain threads (independent of the runtime under
/// test). `cut` ends every connection through it, both ways, after first dropping what it
/// carries for a moment (so that bytes are lost in flight, as when a route dies, not only
/// cleanly closed); while `refusing`, new connections are closed as soon as they are accepted.
struct Proxy {
    addr: SocketAddr,
    open: Arc<Mutex<Vec<TcpStream>>>,
    refusing: Arc<AtomicBool>,
    dropping: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
}

impl Proxy {
    fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let open = Arc::new(Mutex::new(Vec::<TcpStream>::new()));
        let refusing = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let dropping = Arc::new(AtomicBool::new(false));
        let (open_, refusing_, accepted_) = (open.clone(), refusing.clone(), accepted.clone());
        let dropping_ = dropping.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                if refusing_.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(upstream) else { continue };
                // As fast as the nodes' own sockets: Nagle would hold small frames back.
                let _ = (client.set_nodelay(true), server.set_nodelay(true));
                accepted_.fetch_add(1, Ordering::SeqCst);
                let mut open = open_.lock().unwrap();
                open.push(client.try_clone().unwrap());
                open.push(server.try_clone().unwrap());
                drop(open);
                pipe(client.try_clone().unwrap(), server.try_clone().unwrap(), dropping_.clone());
                pipe(server, client, dropping_.clone());
            }
        });
        Proxy { addr, open, refusing, dropping, accepted }
    }

    /// Loses what the connections carry for `lose`, then ends them (both directions, both
    /// ends).
    fn cut(&self, lose: Duration) {
        self.dropping.store(true, Ordering::SeqCst);
        std::thread::sleep(lose);
        let open = std::mem::take(&mut *self.open.lock().unwrap());
        self.dropping.store(false, Ordering::SeqCst);
        for stream in open {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    fn refuse(&self, refusing: bool) {
        self.refusing.store(refusing, Ordering::SeqCst);
    }

    fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// Copies `from` to `to` until either ends; while `dropping`, what it reads is lost, and the
/// connection it belongs to is about to be cut.
fn pipe(mut from: TcpStream, mut to: TcpStream, dropping: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) if dropping.load(Ordering::SeqCst) => continue,
                Ok(n) => {
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}

fn runtime() -> rycos::Runtime {
    rycos::Runtime::builder().worker_threads(2).build().unwrap()
}

/// A node that can only be reached through whoever it dials: it advertises an address where
/// nothing listens, so its peers cannot redial it around the proxy.
async fn hidden_node(name: &str, grace: Duration) -> Node {
    let nowhere = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap(); // closed on return
    builder(name, grace).advertise(nowhere).start().await.unwrap()
}

async fn server_node(grace: Duration) -> Node {
    builder("server", grace).start().await.unwrap()
}

fn builder(name: &str, grace: Duration) -> rycos::dist::NodeBuilder {
    Node::builder()
        .name(name)
        .listen("127.0.0.1:0".parse().unwrap())
        .secret("cut")
        .heartbeat(Duration::from_millis(100), 20)
        .grace(grace)
}

/// Every `deliver` that returned `Ok` is handled exactly once and in order, and so is every
/// `send`, while the proxy cuts the connection again and again mid-stream.
#[test]
fn cuts_shorter_than_the_grace_period_lose_and_repeat_nothing() {
    let _guard = common::watchdog(Duration::from_secs(120));
    const N: u64 = 100_000;
    const CUTS: usize = 15;
    runtime().block_on(async {
        let server = server_node(Duration::from_secs(10)).await;
        let (sink, seen) = common::collect_until_max();
        server.register("sink", &sink).unwrap();
        drop(sink);
        let proxy = Arc::new(Proxy::start(server.location().addr()));
        let client = hidden_node("client", Duration::from_secs(10)).await;
        client.peer(proxy.addr.to_string()).await.unwrap();
        let sink = client.locate::<u64>("sink", LONG).await.unwrap();

        // Cuts come from another thread while the stream runs: each waits for the
        // connection the previous cut forced (the proxy counts them), so every cut breaks a
        // live connection; the count bounds the loop.
        let stop = Arc::new(AtomicBool::new(false));
        let cutter = {
            let (proxy, stop) = (proxy.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut cuts = 0;
                while cuts < CUTS && !stop.load(Ordering::SeqCst) {
                    if proxy.connections() > cuts {
                        std::thread::sleep(Duration::from_millis(15)); // let traffic flow on it
                        proxy.cut(Duration::from_millis(10));
                        cuts += 1;
                    } else {
                        std::thread::yield_now();
                    }
                }
                cuts
            })
        };
        for n in 0..N {
            // Mostly sends, so that bytes are in flight when a cut comes; a deliver now and then.
            if n % 50 == 0 {
                sink.deliver(n, LONG).await.unwrap_or_else(|e| panic!("deliver {n}: {e}"));
            } else {
                // Sends never fail while the link waits for a connection: they queue.
                sink.send(n).unwrap_or_else(|e| panic!("send {n}: {e}"));
            }
            if n % 100 == 0 {
                rycos::yield_now().await;
            }
        }
        sink.deliver(u64::MAX, LONG).await.unwrap();
        stop.store(true, Ordering::SeqCst);
        let cuts = cutter.join().unwrap();
        let seen = seen.await.unwrap();
        assert_eq!(seen.len() as u64, N, "lost or repeated messages over {cuts} cuts");
        assert!(seen.iter().copied().eq(0..N), "every message once, in order ({cuts} cuts)");
        assert!(cuts >= 3, "the stream outran the cutter: only {cuts} cuts");
        assert_eq!(client.peers().len(), 1, "still one link");
        client.shutdown().await;
        server.shutdown().await;
    });
}

/// Large messages (1 MiB: 16 chunks each) through the same cuts: the chunks are resent and
/// de-duplicated like any frame, and every message arrives once, whole, in order.
#[test]
fn cuts_in_the_middle_of_large_messages_lose_and_repeat_no_piece() {
    let _guard = common::watchdog(Duration::from_secs(120));
    const N: u32 = 60;
    const CUTS: usize = 6;
    let message =
        |n: u32| -> Vec<u8> { (0..1 << 20).map(|i: u32| (i ^ n.wrapping_mul(2654435761)) as u8).collect() };
    runtime().block_on(async {
        let server = server_node(Duration::from_secs(10)).await;
        let (sink, seen) = rycos::spawn_task_joinable(move |cx: Cx<(u32, Vec<u8>)>| async move {
            let mut seen = Vec::new();
            while let Some((n, bytes)) = cx.receive().await {
                if n == u32::MAX {
                    break;
                }
                seen.push((n, bytes == message(n)));
            }
            seen
        });
        server.register("sink", &sink).unwrap();
        drop(sink);
        let proxy = Arc::new(Proxy::start(server.location().addr()));
        let client = hidden_node("client", Duration::from_secs(10)).await;
        client.peer(proxy.addr.to_string()).await.unwrap();
        let sink = client.locate::<(u32, Vec<u8>)>("sink", LONG).await.unwrap();
        let cutter = {
            let proxy = proxy.clone();
            std::thread::spawn(move || {
                for cuts in 0..CUTS {
                    while proxy.connections() <= cuts {
                        std::thread::yield_now();
                    }
                    std::thread::sleep(Duration::from_millis(20));
                    proxy.cut(Duration::from_millis(5));
                }
            })
        };
        for n in 0..N {
            sink.deliver((n, message(n)), LONG).await.unwrap_or_else(|e| panic!("deliver {n}: {e}"));
        }
        cutter.join().unwrap();
        sink.deliver((u32::MAX, Vec::new()), LONG).await.unwrap();
        let seen = seen.await.unwrap();
        assert_eq!(seen, (0..N).map(|n| (n, true)).collect::<Vec<_>>(), "each once, whole, in order");
        assert!(proxy.connections() > CUTS, "every cut forced a new connection");
        client.shutdown().await;
        server.shutdown().await;
    });
}

/// A cut the link cannot heal within its grace period: the peer is down, pending and later
/// delivers fail with `PeerDown`, a monitor hears `NoConnection`.
#[test]
fn a_cut_longer_than_the_grace_period_takes_the_peer_down() {
    let _guard = common::watchdog(Duration::from_secs(60));
    runtime().block_on(async {
        let grace = Duration::from_millis(400);
        let server = server_node(grace).await;
        let (waiter, _) =
            rycos::spawn_task_joinable(|cx: Cx<u64>| async move { while cx.receive().await.is_some() {} });
        server.register("waiter", &waiter).unwrap();
        let proxy = Proxy::start(server.location().addr());
        let client = hidden_node("client", grace).await;
        let mut events = client.peer_events();
        client.peer(proxy.addr.to_string()).await.unwrap();
        assert!(matches!(events.next().await, Some(rycos::dist::PeerEvent::Up(_))));
        let remote = client.locate::<u64>("waiter", LONG).await.unwrap();
        remote.deliver(1, LONG).await.unwrap();
        let (_, exit) = rycos::spawn_task_joinable({
            let remote = remote.clone();
            move |cx: Cx<Exit>| async move {
                cx.monitor(&remote);
                cx.receive().await
            }
        });
        // Before the cut: the link cannot see the connection break earlier than this.
        let started = std::time::Instant::now();
        proxy.refuse(true);
        proxy.cut(Duration::ZERO);
        let exit = exit.await.unwrap().expect("an exit");
        assert_eq!(exit.reason, ExitReason::NoConnection);
        assert!(started.elapsed() >= grace, "down only after the grace period");
        match events.next().await {
            Some(rycos::dist::PeerEvent::Down { location, .. }) => assert_eq!(&location, server.location()),
            other => panic!("{other:?}"),
        }
        match remote.deliver(2, LONG).await {
            Err(DeliverError::PeerDown(2)) => {}
            other => panic!("{other:?}"),
        }
        client.shutdown().await;
        server.shutdown().await;
    });
}
