//! Discovery: nodes find each other by their UDP announcements. In one process, over loopback
//! with the announcements sent to each other's discovery port (loopback carries no broadcast),
//! with a forged announcement that must be ignored; and `examples/discover.rs` in two network
//! namespaces joined by a veth pair, by real broadcast (as root; skipped, saying so, elsewhere).

mod common;

#[path = "../examples/discover.rs"]
mod discover;

use common::netns::{Netns, Veth};
use rycos::dist::{Node, PeerEvent};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::process::{Output, Stdio};
use std::time::Duration;

fn runtime() -> rycos::Runtime {
    rycos::Runtime::builder().worker_threads(2).build().unwrap()
}

/// A UDP port nothing uses now.
fn free_udp_port() -> u16 {
    UdpSocket::bind("0.0.0.0:0").unwrap().local_addr().unwrap().port()
}

async fn discovering(name: &str, port: u16, announce_to: u16) -> Node {
    Node::builder()
        .name(name)
        .listen("127.0.0.1:0".parse().unwrap())
        .secret("found")
        .discovery(true)
        .discovery_port(port)
        .announce_to(SocketAddr::from(([127, 0, 0, 1], announce_to)))
        .discovery_interval(Duration::from_millis(200))
        .start()
        .await
        .unwrap()
}

/// What a stranger without the secret can send: the layout right, the tag a guess, pointing
/// at a listener of ours that must never be dialled.
fn forged_announcement(port: u16) -> Vec<u8> {
    let mut datagram = b"RYCA".to_vec();
    datagram.extend_from_slice(&1u16.to_le_bytes());
    datagram.extend_from_slice(&0x5eed_u64.to_le_bytes());
    datagram.extend_from_slice(&port.to_le_bytes());
    datagram.push(0);
    let name = b"mallory@127.0.0.1:1";
    datagram.push(name.len() as u8);
    datagram.extend_from_slice(name);
    datagram.extend_from_slice(&[0xab; 32]);
    datagram
}

#[test]
fn nodes_that_hear_each_other_link_and_a_forged_announcement_is_ignored() {
    let _guard = common::watchdog(Duration::from_secs(30));
    let port_a = free_udp_port();
    let port_b = std::iter::repeat_with(free_udp_port).find(|&port| port != port_a).unwrap();
    let trap = TcpListener::bind("127.0.0.1:0").unwrap();
    trap.set_nonblocking(true).unwrap();
    runtime().block_on(async {
        let a = discovering("a", port_a, port_b).await;
        let mut events = a.peer_events();
        // The forgery reaches a's socket before b exists: a reads its socket in order, so
        // by the time it links to b, it has read (and refused) the forgery.
        let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
        stranger
            .send_to(&forged_announcement(trap.local_addr().unwrap().port()), ("127.0.0.1", port_a))
            .unwrap();
        let b = discovering("b", port_b, port_a).await;
        match events.next().await {
            Some(PeerEvent::Up(location)) => assert_eq!(&location, b.location()),
            other => panic!("expected b to come up, got {other:?}"),
        }
        assert_eq!(a.peers(), vec![b.location().clone()], "one link, to b");
        assert!(
            matches!(trap.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "the forged announcement made a dial its address"
        );
        // Announcements go on: the linked peer is not dialled again.
        a.shutdown().await;
        b.shutdown().await;
    });
}

#[test]
fn explicit_discovery_on_a_port_in_use_is_an_error_naming_it() {
    let _guard = common::watchdog(Duration::from_secs(30));
    // A socket without SO_REUSEPORT holds the port: nobody can share it.
    let holder = UdpSocket::bind("0.0.0.0:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    runtime().block_on(async {
        let refused = Node::builder()
            .listen("127.0.0.1:0".parse().unwrap())
            .discovery(true)
            .discovery_port(port)
            .start()
            .await;
        match refused {
            Err(e) => assert!(e.to_string().contains(&format!("discovery port {port}")), "{e}"),
            Ok(_) => panic!("started with its discovery port taken"),
        }
    });
}

const NAME_VAR: &str = "RYCOS_DISCOVER_NAME";
const LISTEN_VAR: &str = "RYCOS_DISCOVER_LISTEN";

/// One node of `examples/discover.rs`, run only in a child process inside a namespace.
#[test]
#[ignore = "a node in a network namespace: started by the test below"]
fn child_discover() {
    let name = std::env::var(NAME_VAR).expect("started by the namespace test");
    // The parent holds our stdin: if it ends, so do we.
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        std::process::exit(3);
    });
    let listen = std::env::var(LISTEN_VAR).unwrap().parse().unwrap();
    let found = runtime()
        .block_on(discover::run(&name, listen, "in a namespace", PORT, 1, Duration::from_secs(30)))
        .unwrap();
    assert_eq!(found.len(), 1);
}

const PORT: u16 = 19705;

/// Runs `child_discover` as node `name` listening on `listen` inside `ns`.
fn run_node(ns: &Netns, name: &str, listen: &str) -> std::process::Child {
    ns.command(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "child_discover", "--nocapture", "--test-threads=1"])
        .env(NAME_VAR, name)
        .env(LISTEN_VAR, listen)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn said(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// Two namespaces joined by a veth pair (IPv4 `10.231.<subnet>.1` and `.2`; IPv6 link-local
/// only, usable at once), each running `child_discover` on `listen`; what each said. `None`
/// where namespaces cannot be made (it says why).
fn discover_in_namespaces(tag: &str, subnet: u8, listen: &str) -> Option<[String; 2]> {
    let id = std::process::id();
    let (na, nb) = (Netns::new(&format!("rycos-d{id}{tag}a"))?, Netns::new(&format!("rycos-d{id}{tag}b"))?);
    let veth = na.without_dad().and_then(|()| nb.without_dad()).and_then(|()| {
        Veth::new(
            &format!("rdv{id}{tag}a"),
            Some(&na),
            &format!("10.231.{subnet}.1/24"),
            &format!("rdv{id}{tag}b"),
            &nb,
            &format!("10.231.{subnet}.2/24"),
        )
    });
    if let Err(why) = veth {
        eprintln!("skipped: {why}");
        return None;
    }
    let (mut alpha, mut beta) = (run_node(&na, "alpha", listen), run_node(&nb, "beta", listen));
    // Held while they run (`wait_with_output` would close them first, and a child ends when its
    // stdin does).
    let _stdins = (alpha.stdin.take(), beta.stdin.take());
    let (alpha, beta) = (alpha.wait_with_output().unwrap(), beta.wait_with_output().unwrap());
    let (alpha_said, beta_said) = (said(&alpha), said(&beta));
    assert!(alpha.status.success(), "alpha failed:\n{alpha_said}");
    assert!(beta.status.success(), "beta failed:\n{beta_said}");
    assert!(
        alpha_said.contains("this is beta") && beta_said.contains("this is alpha"),
        "{alpha_said}\n{beta_said}"
    );
    assert!(alpha_said.contains("greeted by beta") && beta_said.contains("greeted by alpha"));
    Some([alpha_said, beta_said])
}

#[test]
fn two_nodes_in_two_network_namespaces_find_each_other_by_broadcast() {
    let _guard = common::watchdog(Duration::from_secs(90));
    let Some([alpha, beta]) = discover_in_namespaces("4", 1, "0.0.0.0:0") else { return };
    // Listening on 0.0.0.0 in a namespace with no route out, each advertises its veth address.
    assert!(alpha.contains("found beta@10.231.1.2:"), "{alpha}");
    assert!(beta.contains("found alpha@10.231.1.1:"), "{beta}");
}

#[test]
fn two_nodes_in_two_network_namespaces_find_each_other_by_ipv6_multicast() {
    let _guard = common::watchdog(Duration::from_secs(90));
    // IPv6 only: the IPv4 addresses on the veth are never used (no IPv4 listener, no
    // broadcast socket).
    let Some([alpha, beta]) = discover_in_namespaces("6", 2, "[::]:0") else { return };
    assert!(alpha.contains("found beta@[") && beta.contains("found alpha@["), "{alpha}\n{beta}");
}
