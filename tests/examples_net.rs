//! The networking examples, run as tests.
// Each example is a standalone binary that includes the shared support code it needs, so gathering
// several of them here loads `support/certs.rs` twice (once through `tls_echo`), and each brings
// its own copy of `support/logging.rs`.
#![allow(clippy::duplicate_mod)]
mod common;
use common::tools::{field, run_tool, wrk};
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
    let rt = rt(2);
    let replies = rt.block_on(udp::run(3, 4)).unwrap();
    assert_eq!(replies.len(), 12);
    assert!(replies.iter().all(|r| r.starts_with("echo client")));
}

/// Runs `program` with `input` on its stdin; its stdout, or `None` (said loudly) if it is not
/// installed.
fn run_with_input(program: &str, args: &[&str], input: &[u8]) -> Option<String> {
    use std::io::Write;
    let child = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("SKIPPED: `{program}` is not installed (.ci/run installs it)");
            return None;
        }
        Err(e) => panic!("{program}: {e}"),
    };
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{program}: {}", String::from_utf8_lossy(&out.stderr));
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn the_udp_server_answers_a_real_client() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let server = rt.block_on(async { rycos::net::UdpSocket::bind("127.0.0.1:0").unwrap() });
    let addr = server.local_addr().unwrap();
    rt.spawn(udp::serve(server));
    // socat sends the line as one datagram and prints the answer (waiting up to 5 s for it).
    let target = format!("UDP:{addr}");
    if let Some(answer) = run_with_input("socat", &["-T", "5", "-", &target], b"hello from socat") {
        assert_eq!(answer, "echo hello from socat");
    }
}

/// Sends `request` on a new connection to the web server and reads what comes back for up to
/// `wait`: the bytes, and whether the server closed the connection.
async fn http_exchange(addr: std::net::SocketAddr, request: &[u8], wait: Duration) -> (String, bool) {
    let conn = TcpStream::connect(addr).await.unwrap();
    conn.write_all(request).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = std::time::Instant::now() + wait;
    let closed = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rycos::time::timeout(left, conn.read(&mut buf)).await {
            Ok(Ok(0)) => break true,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Ok(Err(e)) => panic!("read: {e}"),
            Err(_) => break false,
        }
    };
    (String::from_utf8(got).unwrap(), closed)
}

fn statuses(answers: &str) -> Vec<&str> {
    answers.match_indices("HTTP/1.1 ").map(|(at, _)| &answers[at + 9..at + 12]).collect()
}

/// A web server on a runtime of its own, for the tests that drive it.
fn start_webserver(rt: &rycos::Runtime) -> std::net::SocketAddr {
    let listener = rt.block_on(async { TcpListener::bind("127.0.0.1:0").unwrap() });
    let addr = listener.local_addr().unwrap();
    rt.spawn(webserver::serve(listener));
    addr
}

#[test]
fn webserver_keeps_alive_and_closes_by_the_rules_of_each_http_version() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let addr = start_webserver(&rt);
    rt.block_on(async {
        let short = Duration::from_millis(300);
        let long = Duration::from_secs(10);
        let (answer, closed) = http_exchange(addr, b"GET / HTTP/1.0\r\n\r\n", long).await;
        assert!(closed && answer.ends_with("pong") && answer.contains("Connection: close"), "{answer}");
        let (answer, closed) =
            http_exchange(addr, b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", short).await;
        assert!(!closed && answer.contains("Connection: keep-alive"), "1.0 keep-alive stays open: {answer}");
        let (answer, closed) = http_exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", short).await;
        assert!(!closed && answer.ends_with("pong"), "1.1 stays open by default: {answer}");
        let (answer, closed) =
            http_exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", long).await;
        assert!(closed && answer.contains("Connection: close"), "{answer}");
        let (answer, closed) =
            http_exchange(addr, b"HEAD / HTTP/1.1\r\nConnection: close\r\n\r\n", long).await;
        assert!(closed && answer.ends_with("\r\n\r\n") && answer.contains("Content-Length: 4"), "{answer}");
    });
}

#[test]
fn webserver_reads_request_bodies_and_answers_pipelined_requests_in_order() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let addr = start_webserver(&rt);
    rt.block_on(async {
        let post = |body: &str| {
            format!("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}", body.len())
        };
        let chunked = "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
                       5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nTrailer: yes\r\n\r\n";
        let get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        // A body that looks like a request must not be taken for one.
        let requests = format!(
            "{}{}{get}{chunked}{get}GET / HTTP/1.1\r\nConnection: close\r\n\r\n",
            post("GET / HTTP/1.1\r\n\r\n"),
            post("abc")
        );
        let (answer, closed) = http_exchange(addr, requests.as_bytes(), Duration::from_secs(10)).await;
        assert!(closed);
        assert_eq!(statuses(&answer), ["200"; 6], "{answer}");
        let bodies: Vec<&str> =
            answer.split("\r\n\r\n").skip(1).map(|rest| rest.split("HTTP/1.1").next().unwrap()).collect();
        assert_eq!(
            bodies,
            ["received 18 bytes\n", "received 3 bytes\n", "pong", "received 12 bytes\n", "pong", "pong"],
            "{answer}"
        );
        // Expect: 100-continue gets its interim answer before the body is sent.
        let conn = TcpStream::connect(addr).await.unwrap();
        conn.write_all(b"POST / HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
            .await
            .unwrap();
        let mut interim = [0u8; 25];
        conn.read_exact(&mut interim).await.unwrap();
        assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
        conn.write_all(b"ok").await.unwrap();
        let mut line = [0u8; 15];
        conn.read_exact(&mut line).await.unwrap();
        assert_eq!(&line, b"HTTP/1.1 200 OK");
    });
}

#[test]
fn webserver_refuses_bad_requests_and_overlong_heads_then_closes() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let addr = start_webserver(&rt);
    rt.block_on(async {
        let wait = Duration::from_secs(10);
        let (answer, closed) = http_exchange(addr, b"\x00\x01 not http\r\n\r\n", wait).await;
        assert!(closed && answer.starts_with("HTTP/1.1 400"), "{answer}");
        let both = b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
        let (answer, closed) = http_exchange(addr, both, wait).await;
        assert!(closed && answer.starts_with("HTTP/1.1 400"), "both lengths: {answer}");
        let (answer, closed) =
            http_exchange(addr, b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", wait).await;
        assert!(closed && answer.starts_with("HTTP/1.1 400"), "bad length: {answer}");
        let huge = format!("GET / HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(20_000));
        let (answer, closed) = http_exchange(addr, huge.as_bytes(), wait).await;
        assert!(closed && answer.starts_with("HTTP/1.1 431"), "long head: {answer}");
        let many: String = (0..100).map(|i| format!("X-{i}: y\r\n")).collect();
        let (answer, closed) =
            http_exchange(addr, format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes(), wait).await;
        assert!(closed && answer.starts_with("HTTP/1.1 431"), "many headers: {answer}");
        // The server still serves.
        let (answer, _) = http_exchange(addr, b"GET / HTTP/1.0\r\n\r\n", wait).await;
        assert!(answer.ends_with("pong"));
    });
}

#[test]
fn webserver_serves_ab_with_and_without_keep_alive_and_wrk() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = rt(2);
    let addr = start_webserver(&rt);
    let url = format!("http://{addr}/");
    for keep_alive in [false, true] {
        let mut args: Vec<String> = ["-n", "2000", "-c", "20", "-s", "10"].map(String::from).to_vec();
        if keep_alive {
            args.push("-k".into());
        }
        args.push(url.clone());
        let Some(report) = run_tool("ab", &args) else { break };
        assert_eq!(field(&report, "Complete requests:"), "2000", "{report}");
        assert_eq!(field(&report, "Failed requests:"), "0", "{report}");
        if keep_alive {
            assert_eq!(field(&report, "Keep-Alive requests:"), "2000", "{report}");
        }
    }
    if let Some(requests) = wrk(&url, 20) {
        assert!(requests > 100, "{requests} requests");
    }
}

#[test]
fn tls_echo_example() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    assert_eq!(rt.block_on(tls_echo::run(&["a", "bc", "def"])).unwrap(), vec!["a", "bc", "def"]);
}

#[test]
fn the_tls_echo_server_answers_openssl_s_client() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let dir = std::env::temp_dir().join(format!("rycos-tls-serve-{}", std::process::id()));
    let pki = support::certs::generate(&dir);
    let listener = rt.block_on(async { TcpListener::bind("127.0.0.1:0").unwrap() });
    let addr = listener.local_addr().unwrap().to_string();
    let acceptor = rycos::tls::TlsAcceptor::builder(&pki.server_chain, &pki.server_key).build().unwrap();
    rt.spawn(tls_echo::serve(listener, acceptor));
    let ca = pki.ca.to_str().unwrap();
    // -verify_return_error: a certificate that does not check out fails the run. -no_ign_eof:
    // the end of stdin ends the session (closed once the echo is back).
    let args = [
        "s_client",
        "-connect",
        &addr,
        "-CAfile",
        ca,
        "-servername",
        "localhost",
        "-verify_return_error",
        "-quiet",
        "-no_ign_eof",
    ];
    let child = std::process::Command::new("openssl")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("SKIPPED: `openssl` is not installed");
            return;
        }
        Err(e) => panic!("openssl: {e}"),
    };
    use std::io::{BufRead, Write};
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"ping over tls\n").unwrap();
    let mut echoed = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut echoed).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(echoed, "ping over tls\n", "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
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
            window: None,
        };
        support::loadgen::run(&config, std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0))).await
    });
    assert_eq!(report.errors, 0);
    assert!(report.round_trips > 100, "{report:?}");
    assert!(report.p50_us <= report.p99_us && report.p99_us <= report.p999_us);
}
