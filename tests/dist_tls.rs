//! Links over TLS: two nodes with certificates from one CA link, and everything works over
//! the link as over plain TCP (names, delivers, a chunked message). Refused, each with a
//! clear error on the side that asked, while the node goes on serving its other peers: a peer
//! whose certificate another CA signed, plain TCP to a TLS node, TLS to a plain node, and a
//! port scanner that connects and says nothing.

mod common;

// Only the server certificate is used: every node presents it.
#[allow(dead_code)]
#[path = "../examples/support/certs.rs"]
mod certs;

use rycos::dist::{Node, NodeBuilder, PeerError};
use rycos::{Cx, TaskRef};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(10);

fn runtime() -> rycos::Runtime {
    rycos::Runtime::builder().worker_threads(2).build().unwrap()
}

fn pki(test: &str) -> certs::Pki {
    certs::generate(&std::env::temp_dir().join(format!("rycos-dist-tls-{}-{test}", std::process::id())))
}

fn plain(name: &str) -> NodeBuilder {
    Node::builder()
        .name(name)
        .listen("127.0.0.1:0".parse().unwrap())
        .secret("tls")
        .handshake_timeout(Duration::from_millis(500))
}

/// A node with the test CA's certificate for `localhost`, trusting peers the CA signed.
fn tls(name: &str, pki: &certs::Pki) -> NodeBuilder {
    plain(name).tls(&pki.server_chain, &pki.server_key, &pki.ca).tls_server_name("localhost")
}

fn echo() -> TaskRef<(Vec<u8>, TaskRef<usize>)> {
    rycos::spawn_task(|cx: Cx<(Vec<u8>, TaskRef<usize>)>| async move {
        while let Some((bytes, reply)) = cx.receive().await {
            let _ = reply.send(bytes.iter().map(|&b| b as usize).sum());
        }
    })
}

/// `peer` still serves TLS peers: a fresh node links to it and gets an answer.
async fn still_serves(peer: &Node, pki: &certs::Pki) {
    let fresh = tls("fresh", pki).start().await.unwrap();
    fresh.peer(peer.location().addr()).await.expect("a TLS peer is still welcome");
    let remote = fresh.locate::<(Vec<u8>, TaskRef<usize>)>("echo", LONG).await.unwrap();
    let (_, sum) = rycos::spawn_task_joinable(move |cx: Cx<usize>| async move {
        remote.send((vec![1, 2, 3], cx.me())).unwrap();
        cx.receive().await.unwrap()
    });
    assert_eq!(sum.await.unwrap(), 6);
    fresh.shutdown().await;
}

#[test]
fn nodes_with_certificates_of_one_ca_link_over_tls() {
    let _guard = common::watchdog(Duration::from_secs(60));
    let pki = pki("link");
    runtime().block_on(async {
        let a = tls("a", &pki).start().await.unwrap();
        let b = tls("b", &pki).start().await.unwrap();
        a.register("echo", &echo()).unwrap();
        let location = b.peer(a.location().addr()).await.unwrap();
        assert_eq!(&location, a.location());
        let remote = b.locate::<(Vec<u8>, TaskRef<usize>)>("echo", LONG).await.unwrap();
        // 3 MiB: 48 chunks, through the TLS session's shared halves.
        let big: Vec<u8> = (0..3 << 20).map(|i| (i % 7) as u8).collect();
        let expected: usize = big.iter().map(|&b| b as usize).sum();
        let (_, sums) = rycos::spawn_task_joinable(move |cx: Cx<usize>| async move {
            let mut sums = Vec::new();
            for message in [vec![5u8; 10], big] {
                remote.deliver((message, cx.me()), LONG).await.unwrap();
                sums.push(cx.receive().await.unwrap());
            }
            sums
        });
        assert_eq!(sums.await.unwrap(), vec![50, expected]);
        b.shutdown().await;
        a.shutdown().await;
    });
}

#[test]
fn a_peer_whose_certificate_another_ca_signed_is_refused_both_ways() {
    let _guard = common::watchdog(Duration::from_secs(60));
    let pki = pki("other-ca");
    runtime().block_on(async {
        let a = tls("a", &pki).start().await.unwrap();
        a.register("echo", &echo()).unwrap();
        // b presents the same certificate but trusts only a CA that signed nothing here.
        let b = plain("b")
            .tls(&pki.server_chain, &pki.server_key, &pki.other_ca)
            .tls_server_name("localhost")
            .start()
            .await
            .unwrap();
        match b.peer(a.location().addr()).await {
            Err(PeerError::Tls(e)) => assert!(e.to_string().contains("UnknownIssuer"), "{e}"),
            other => panic!("b trusted a's certificate: {other:?}"),
        }
        // The other way: a trusts b's certificate, b refuses a's (its client certificate).
        match a.peer(b.location().addr()).await {
            Err(PeerError::Tls(_) | PeerError::Handshake(_)) => {}
            other => panic!("b accepted a certificate its CA did not sign: {other:?}"),
        }
        assert!(a.peers().is_empty() && b.peers().is_empty());
        still_serves(&a, &pki).await;
        b.shutdown().await;
        a.shutdown().await;
    });
}

#[test]
fn plain_tcp_and_tls_refuse_each_other() {
    let _guard = common::watchdog(Duration::from_secs(60));
    let pki = pki("plain");
    runtime().block_on(async {
        let secure = tls("secure", &pki).start().await.unwrap();
        secure.register("echo", &echo()).unwrap();
        let open = plain("open").start().await.unwrap();
        // Plain to TLS: the TLS node reads a hello that is not a ClientHello and closes; the
        // plain node's handshake hears no rycos hello.
        match open.peer(secure.location().addr()).await {
            Err(PeerError::Handshake(e)) => assert!(!e.to_string().is_empty()),
            other => panic!("plain TCP linked to a TLS node: {other:?}"),
        }
        // TLS to plain: the plain node sees a ClientHello, not the magic, and closes.
        match secure.peer(open.location().addr()).await {
            Err(PeerError::Tls(e)) => assert!(!e.to_string().is_empty()),
            other => panic!("TLS linked to a plain node: {other:?}"),
        }
        assert!(secure.peers().is_empty() && open.peers().is_empty());
        still_serves(&secure, &pki).await;
        open.shutdown().await;
        secure.shutdown().await;
    });
}

#[test]
fn a_silent_connection_to_a_tls_node_is_dropped_and_others_are_served_meanwhile() {
    let _guard = common::watchdog(Duration::from_secs(60));
    let pki = pki("silent");
    runtime().block_on(async {
        let secure = tls("secure", &pki).start().await.unwrap();
        secure.register("echo", &echo()).unwrap();
        let mut scanner = std::net::TcpStream::connect(secure.location().addr()).unwrap();
        // Served while the scanner holds its connection open.
        still_serves(&secure, &pki).await;
        // Dropped once the handshake timeout (500 ms) passes: the read sees the end.
        scanner.set_read_timeout(Some(LONG)).unwrap();
        let mut byte = [0u8; 1];
        match std::io::Read::read(&mut scanner, &mut byte) {
            Ok(0) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            other => panic!("the silent connection was not closed: {other:?}"),
        }
        secure.shutdown().await;
    });
}
