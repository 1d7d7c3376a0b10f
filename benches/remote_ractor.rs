//! The remote workloads on `ractor` + `ractor_cluster`: the same two processes, one `NodeServer`
//! in each on its own tokio runtime, actors found through `ractor::pg` groups.
//!
//! ractor's idiom is kept: a message is an enum deriving `RactorClusterMessage`, a payload a
//! `Vec<u8>` (ractor's byte conversion for it is a plain copy), a request a `call` with an
//! `RpcReplyPort` (ractor has no reference-in-message reply, so the reply port stands for it).
//! ractor has no acknowledged send, so `deliver` has no counterpart here.

use super::{FRAME, LONG, Trips, trips};
use hdrhistogram::Histogram;
use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, RpcReplyPort};
use ractor_cluster::{NodeServer, NodeServerMessage, RactorClusterMessage};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const COOKIE: &str = "remote-bench";

#[derive(RactorClusterMessage)]
pub enum SinkMessage {
    Data(Vec<u8>),
    /// Answer the count so far, and start again from zero.
    #[rpc]
    Count(RpcReplyPort<u64>),
}

#[derive(RactorClusterMessage)]
pub enum EchoMessage {
    #[rpc]
    Ping(Vec<u8>, RpcReplyPort<Vec<u8>>),
}

struct Sink;

impl Actor for Sink {
    type Msg = SinkMessage;
    type State = u64;
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<SinkMessage>, _: ()) -> Result<u64, ActorProcessingErr> {
        Ok(0)
    }

    async fn handle(
        &self,
        _: ActorRef<SinkMessage>,
        message: SinkMessage,
        count: &mut u64,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            SinkMessage::Data(_) => *count += 1,
            SinkMessage::Count(reply) => {
                let _ = reply.send(std::mem::take(count));
            }
        }
        Ok(())
    }
}

struct Echo;

impl Actor for Echo {
    type Msg = EchoMessage;
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<EchoMessage>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle(
        &self,
        _: ActorRef<EchoMessage>,
        message: EchoMessage,
        _: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        let EchoMessage::Ping(payload, reply) = message;
        let _ = reply.send(payload);
        Ok(())
    }
}

fn runtime(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A node server on loopback. `NodeServer` takes a port, not a listener, so the port is found
/// free first (a race with other programs that only a busy machine loses, and then loudly).
async fn node_server(name: &str) -> (ActorRef<NodeServerMessage>, u16) {
    let port =
        std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let server = NodeServer::new(port, COOKIE.into(), name.into(), "localhost".into(), None, None)
        .with_listen_addr("127.0.0.1".parse().unwrap());
    let (server, _) = Actor::spawn(None, server, ()).await.expect("ractor node server");
    (server, port)
}

/// The server side, in the child process: a node with `sink` and `echo` in process groups of
/// those names, on a runtime of its own thread. Returns the node's port.
pub fn serve(workers: usize) -> u16 {
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        runtime(workers).block_on(async move {
            let (_server, port) = node_server("ractor-bench-server").await;
            let (sink, _) = Actor::spawn(Some("sink".into()), Sink, ()).await.expect("sink");
            let (echo, _) = Actor::spawn(Some("echo".into()), Echo, ()).await.expect("echo");
            ractor::pg::join("sink".into(), vec![sink.get_cell()]);
            ractor::pg::join("echo".into(), vec![echo.get_cell()]);
            port_tx.send(port).unwrap();
            // Until the process exits.
            std::future::pending::<()>().await;
        })
    });
    port_rx.recv().expect("the ractor server's port")
}

/// The client side: its own node, linked to the server's, and the two remote actors.
pub struct Client {
    rt: tokio::runtime::Runtime,
    sink: ActorRef<SinkMessage>,
    echo: ActorRef<EchoMessage>,
    _node: ActorRef<NodeServerMessage>,
}

impl Client {
    pub fn connect(server: SocketAddr, workers: usize) -> Client {
        let rt = runtime(workers);
        let (node, sink, echo) = rt.block_on(async {
            let (node, _) = node_server("ractor-bench-client").await;
            ractor_cluster::client_connect(&node, server).await.expect("link to the ractor server");
            let sink = remote_member("sink").await.into();
            let echo = remote_member("echo").await.into();
            (node, sink, echo)
        });
        Client { rt, sink, echo, _node: node }
    }

    /// `messages` casts to `sink`, then its count; messages per second.
    pub fn one_way(&self, messages: u64) -> f64 {
        self.rt.block_on(async {
            let started = Instant::now();
            for _ in 0..messages {
                self.sink.cast(SinkMessage::Data(vec![7; FRAME])).expect("cast");
            }
            let counted = self.sink.call(SinkMessage::Count, Some(LONG)).await.expect("count").unwrap();
            assert_eq!(counted, messages, "every message arrived");
            messages as f64 / started.elapsed().as_secs_f64()
        })
    }

    /// One call outstanding at a time, for `secs`.
    pub fn round_trips(&self, secs: Duration) -> Trips {
        self.rt.block_on(async {
            let mut histogram = Histogram::<u64>::new(3).unwrap();
            let started = Instant::now();
            let mut count = 0;
            while started.elapsed() < secs {
                let sent = Instant::now();
                let back = self.echo.call(|reply| EchoMessage::Ping(vec![7; FRAME], reply), Some(LONG)).await;
                assert_eq!(back.expect("call").unwrap().len(), FRAME);
                histogram.record(sent.elapsed().as_nanos() as u64).unwrap();
                count += 1;
            }
            trips(&histogram, count, started.elapsed())
        })
    }

    /// `callers` tasks calling `echo` at once for `secs`; calls per second.
    pub fn concurrent_round_trips(&self, callers: usize, secs: Duration) -> f64 {
        self.rt.block_on(async {
            let total = Arc::new(AtomicU64::new(0));
            let started = Instant::now();
            let callers: Vec<_> = (0..callers)
                .map(|_| {
                    let (echo, total) = (self.echo.clone(), total.clone());
                    tokio::spawn(async move {
                        let mut count = 0;
                        while started.elapsed() < secs {
                            let back =
                                echo.call(|reply| EchoMessage::Ping(vec![7; FRAME], reply), Some(LONG)).await;
                            assert_eq!(back.expect("call").unwrap().len(), FRAME);
                            count += 1;
                        }
                        total.fetch_add(count, Ordering::Relaxed);
                    })
                })
                .collect();
            for caller in callers {
                caller.await.expect("caller");
            }
            total.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
        })
    }
}

/// The remote actor in process group `group`, once the link has synchronised the groups
/// (ractor announces no moment for that, so ask until it is there, within `LONG`).
async fn remote_member(group: &str) -> ActorCell {
    let asked = Instant::now();
    loop {
        let members = ractor::pg::get_members(&group.to_string());
        if let Some(remote) = members.into_iter().find(|cell| !cell.get_id().is_local()) {
            return remote;
        }
        assert!(asked.elapsed() < LONG, "no remote member of {group:?} after {LONG:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
