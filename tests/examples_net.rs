//! The networking examples, run as tests.
// Each example is a standalone binary that includes the shared support code it needs, so gathering
// several of them here loads `support/certs.rs` twice (once through `tls_echo`).
#![allow(clippy::duplicate_mod)]
mod common;
use common::*;
use std::time::Duration;

#[path = "../examples/chat_sock_server.rs"]
mod chat_sock_server;
#[path = "../examples/sock_client.rs"]
mod sock_client;
#[path = "../examples/sock_server.rs"]
mod sock_server;
#[path = "../examples/support/mod.rs"]
mod support;
#[path = "../examples/tls_echo.rs"]
mod tls_echo;
#[path = "../examples/udp.rs"]
mod udp;
#[path = "../examples/webserver.rs"]
mod webserver;

use rycos::net::{TcpListener, TcpStream};

#[test]
fn sock_server_and_client() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        rycos::spawn(sock_server::serve(listener));
        let replies = sock_client::run(addr, 3).await.unwrap();
        assert_eq!(replies, vec!["ack: message 0", "ack: message 1", "ack: message 2"]);
    });
}

#[test]
fn chat_room_relays_lines_to_the_others() {
    use futures::io::AsyncBufReadExt;
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        rycos::spawn(chat_sock_server::serve(listener));
        let alice = TcpStream::connect(addr).await.unwrap();
        let mut alice_lines = rycos::io::BufReader::new(alice.clone());
        let bob = TcpStream::connect(addr).await.unwrap();
        let mut bob_lines = rycos::io::BufReader::new(bob.clone());
        let mut line = String::new();
        alice_lines.read_line(&mut line).await.unwrap();
        assert_eq!(line, "* client 2 joined\n", "alice hears bob join");
        alice.write_all(b"hi bob\n").await.unwrap();
        line.clear();
        bob_lines.read_line(&mut line).await.unwrap();
        assert_eq!(line, "1: hi bob\n");
        drop(bob_lines);
        drop(bob);
        line.clear();
        alice_lines.read_line(&mut line).await.unwrap();
        assert_eq!(line, "* client 2 left\n");
    });
}

#[test]
fn udp_example() {
    let _w = watchdog(Duration::from_secs(30));
    let replies = udp::run(3, 4).unwrap();
    assert_eq!(replies.len(), 12);
    assert!(replies.iter().all(|r| r.starts_with("echo client")));
}

#[test]
fn webserver_answers_pipelined_requests_and_rejects_garbage() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        rycos::spawn(webserver::serve(listener));
        let conn = TcpStream::connect(addr).await.unwrap();
        let request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        conn.write_all(format!("{request}{request}{request}").as_bytes()).await.unwrap();
        let one = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\npong";
        let mut three = vec![0u8; one.len() * 3];
        conn.read_exact(&mut three).await.unwrap();
        assert_eq!(three, one.repeat(3));
        let bad = TcpStream::connect(addr).await.unwrap();
        bad.write_all(b"\x00\x01 not http\r\n\r\n").await.unwrap();
        let mut reply = [0u8; 24];
        bad.read_exact(&mut reply).await.unwrap();
        assert!(reply.starts_with(b"HTTP/1.1 400"));
    });
}

#[test]
fn tls_echo_example() {
    let _w = watchdog(Duration::from_secs(30));
    assert_eq!(tls_echo::run(&["a", "bc", "def"]).unwrap(), vec!["a", "bc", "def"]);
}

#[test]
fn load_generator_against_the_echo_server() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = rt(2);
    let report = rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        rycos::spawn(support::echo::serve(listener));
        let config = support::loadgen::Config {
            addr,
            connections: 50,
            size: 64,
            duration: Duration::from_millis(300),
            tls: None,
        };
        support::loadgen::run(&config, std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0))).await
    });
    assert_eq!(report.errors, 0);
    assert!(report.round_trips > 100, "{report:?}");
    assert!(report.p50_us <= report.p99_us && report.p99_us <= report.p999_us);
}
