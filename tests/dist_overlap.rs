//! Two connections of one link that overlap: frames the old connection carried arrive at the
//! receiver after the new connection already resent and delivered them. The receiver must drop
//! them as duplicates (`docs/protocol.md`, "Resend and de-duplication").
//!
//! A proxy the test controls freezes the first connection: what the client writes on it is
//! held back, and the client's side is closed, so the client redials and resends on a second
//! connection; only then are the held bytes handed to the server on the first connection,
//! which the server still reads (it did not dial it, so it reads it to its end).

mod common;

use rycos::dist::Node;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(20);

/// Bytes held back, and the signal that more came.
type Held = Arc<(Mutex<Vec<u8>>, Condvar)>;
/// A pipe's switch to hold back what it reads, and where.
type Hold = Option<(Arc<AtomicBool>, Held)>;

/// The first connection's two sockets and what was held back from it.
struct First {
    client: TcpStream,
    server: TcpStream,
    holding: Arc<AtomicBool>,
    held: Held,
    /// Says when the server closed its end.
    server_closed: mpsc::Receiver<()>,
}

struct OverlapProxy {
    addr: SocketAddr,
    first: Arc<Mutex<Option<First>>>,
}

impl OverlapProxy {
    fn start(upstream: SocketAddr) -> OverlapProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let first = Arc::new(Mutex::new(None));
        let slot = first.clone();
        std::thread::spawn(move || {
            for (n, client) in listener.incoming().enumerate() {
                let Ok(client) = client else { return };
                let Ok(server) = TcpStream::connect(upstream) else { continue };
                let _ = (client.set_nodelay(true), server.set_nodelay(true));
                if n > 0 {
                    copy(client.try_clone().unwrap(), server.try_clone().unwrap(), None);
                    copy(server, client, None);
                    continue;
                }
                let holding = Arc::new(AtomicBool::new(false));
                let held = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
                let (closed_tx, server_closed) = mpsc::channel();
                copy(
                    client.try_clone().unwrap(),
                    server.try_clone().unwrap(),
                    Some((holding.clone(), held.clone())),
                );
                let (from_server, to_client) = (server.try_clone().unwrap(), client.try_clone().unwrap());
                std::thread::spawn(move || {
                    pump(from_server, to_client, None);
                    let _ = closed_tx.send(());
                });
                *slot.lock().unwrap() = Some(First { client, server, holding, held, server_closed });
            }
        });
        OverlapProxy { addr, first }
    }

    fn with_first<T>(&self, f: impl FnOnce(&First) -> T) -> T {
        f(self.first.lock().unwrap().as_ref().expect("the first connection"))
    }
}

/// Copies `from` to `to` on a thread of its own; with `hold`, bytes read while its flag is set
/// are kept in its buffer instead.
fn copy(from: TcpStream, to: TcpStream, hold: Hold) {
    std::thread::spawn(move || pump(from, to, hold));
}

fn pump(mut from: TcpStream, mut to: TcpStream, hold: Hold) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some((holding, held)) = &hold
            && holding.load(Ordering::SeqCst)
        {
            held.0.lock().unwrap().extend_from_slice(&buf[..n]);
            held.1.notify_all();
            continue;
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    if hold.is_none() {
        let _ = to.shutdown(Shutdown::Write);
    }
}

#[test]
fn frames_an_old_connection_brings_after_the_new_one_resent_them_are_dropped() {
    let _guard = common::watchdog(Duration::from_secs(60));
    const K: u64 = 200;
    let runtime = rycos::Runtime::builder().worker_threads(2).build().unwrap();
    runtime.block_on(async {
        let builder = |name: &str| {
            Node::builder()
                .name(name)
                .listen("127.0.0.1:0".parse().unwrap())
                .secret("overlap")
                .heartbeat(Duration::from_millis(200), 50)
                .grace(Duration::from_secs(10))
        };
        let server = builder("server").start().await.unwrap();
        let (sink, seen) = common::collect_until_max();
        server.register("sink", &sink).unwrap();
        drop(sink);
        let proxy = OverlapProxy::start(server.location().addr());
        // Reachable only through the proxy: the server cannot dial it around the freeze.
        let nowhere = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let client = builder("client").advertise(nowhere).start().await.unwrap();
        client.peer(proxy.addr.to_string()).await.unwrap();
        let sink = client.locate::<u64>("sink", LONG).await.unwrap();
        sink.deliver(0, LONG).await.unwrap();

        // Freeze the first connection and send on it: the frames stop at the proxy.
        proxy.with_first(|first| first.holding.store(true, Ordering::SeqCst));
        for n in 1..=K {
            sink.send(n).unwrap();
        }
        let held = proxy.with_first(|first| {
            let (bytes, grew) = &*first.held;
            let held = grew.wait_timeout_while(bytes.lock().unwrap(), LONG, |b| b.is_empty()).unwrap().0;
            held.len()
        });
        assert!(held > 0, "nothing was held back");
        // The client loses the first connection, redials, and resends on the second.
        proxy.with_first(|first| first.client.shutdown(Shutdown::Both).unwrap());
        sink.deliver(K + 1, LONG).await.unwrap();

        // Now the old connection delivers what it held, then ends: the server's reader of it
        // takes every frame, and must drop each as processed already.
        proxy.with_first(|first| {
            let bytes = std::mem::take(&mut *first.held.0.lock().unwrap());
            let mut server_side = first.server.try_clone().unwrap();
            server_side.write_all(&bytes).unwrap();
            server_side.shutdown(Shutdown::Write).unwrap();
        });
        // The server closes its end once it has read to it: every held frame was handled.
        proxy
            .with_first(|first| first.server_closed.recv_timeout(LONG))
            .expect("the server closed the old connection");

        sink.deliver(u64::MAX, LONG).await.unwrap();
        let seen = seen.await.unwrap();
        assert_eq!(seen, (0..=K + 1).collect::<Vec<_>>(), "each once, in order ({held} bytes came twice)");
        client.shutdown().await;
        server.shutdown().await;
    });
}
