//! Nodes in separate processes: this test binary starts itself again as the node of
//! `remote_task_server` (the ignored test `child_upper_server`) or `remote_monitor`
//! (`child_monitored_server`), talks to it over loopback, asks it to stop, or kills it with
//! SIGKILL under a monitor and a deliver.
// Each example brings its own copy of examples/support/logging.rs.
#![allow(clippy::duplicate_mod)]
mod common;

#[path = "../examples/remote_monitor.rs"]
mod remote_monitor;
#[path = "../examples/remote_task_client.rs"]
mod remote_task_client;
#[path = "../examples/remote_task_server.rs"]
mod remote_task_server;
#[path = "../examples/support/upper.rs"]
mod upper;

use common::*;
use rycos::dist::{Location, Node, PeerEvent};
use rycos::{Cx, DeliverError, Exit, ExitReason, SendError};
use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

const SECRET_VAR: &str = "RYCOS_DIST_CHILD_SECRET";

/// The server's side, run only in the child process (`ServerProcess::start`).
#[test]
#[ignore = "the node of another process: started by the tests of this file"]
fn child_upper_server() {
    let secret = child_setup();
    let served = rt(2).block_on(remote_task_server::run("127.0.0.1:0".parse().unwrap(), &secret)).unwrap();
    println!("served {served} requests");
}

/// The server of `remote_monitor`, run only in the child process (`ServerProcess::start`).
#[test]
#[ignore = "the node of another process: started by the tests of this file"]
fn child_monitored_server() {
    let secret = child_setup();
    // One task panics on purpose: one line for it, not a backtrace in the parent's output.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("child_monitored_server: a task panicked, as told: {info}")
    }));
    rt(2).block_on(remote_monitor::run_server("127.0.0.1:0".parse().unwrap(), &secret)).unwrap();
}

/// What every `child_*` entry starts with: the process ends when the parent does, and the
/// secret the parent chose.
fn child_setup() -> String {
    // The parent holds our stdin: when it ends, even by its watchdog's exit, so do we.
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        std::process::exit(3);
    });
    std::env::var(SECRET_VAR).expect("started by ServerProcess::start, which sets the secret")
}

/// A child process running one of the `child_*` entries above, killed if the test ends first.
struct ServerProcess {
    child: Child,
    location: Location,
    /// Held open for the child's life (`Child::wait` would close it first).
    _stdin: ChildStdin,
}

impl ServerProcess {
    /// Starts `entry`, and waits for the line where it says where it serves.
    fn start(entry: &str, secret: &str) -> ServerProcess {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--ignored", "--exact", entry, "--nocapture", "--test-threads=1"])
            .env(SECRET_VAR, secret)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let location = loop {
            let line = lines.next().expect("the child ended before it served").unwrap();
            // "serving `name`, ... at LOCATION"; the harness writes "test child_... " on the
            // same line first.
            if let Some((_, served)) = line.split_once("serving `")
                && let Some((_, location)) = served.rsplit_once(" at ")
            {
                break location.trim().parse::<Location>().unwrap();
            }
        };
        // The rest of its output goes on being read, so that the child never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        ServerProcess { child, location, _stdin: stdin }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn client(secret: &str) -> Node {
    Node::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .secret(secret)
        .heartbeat(Duration::from_millis(100), 10)
        .grace(Duration::from_millis(300))
        .start()
        .await
        .unwrap()
}

#[test]
fn a_server_in_another_process_answers_and_stops_when_asked() {
    let _w = watchdog(Duration::from_secs(60));
    let mut server = ServerProcess::start("child_upper_server", "between processes");
    assert_eq!(server.location.name(), "upper-server");
    rt(2).block_on(async {
        let node = client("between processes").await;
        let words = (0..100).map(|i| format!("word {i}")).collect::<Vec<_>>();
        let replies =
            remote_task_client::ask(&node, &server.location.addr().to_string(), words.clone(), true)
                .await
                .unwrap();
        assert_eq!(replies, words.iter().map(|w| w.to_uppercase()).collect::<Vec<_>>());
        node.shutdown().await;
    });
    let status = server.child.wait().unwrap();
    assert!(status.success(), "the server process ended with {status}");
}

#[test]
fn a_server_killed_with_sigkill_is_down_for_monitors_delivers_and_sends() {
    let _w = watchdog(Duration::from_secs(60));
    let mut server = ServerProcess::start("child_upper_server", "kill");
    rt(2).block_on(async {
        let node = client("kill").await;
        let mut events = node.peer_events();
        node.peer(server.location.addr()).await.unwrap();
        assert!(matches!(events.next().await, Some(PeerEvent::Up(_))));
        let upper = node.locate::<upper::Request>(upper::NAME, Duration::from_secs(10)).await.unwrap();
        let monitoring = std::sync::Arc::new(rycos::sync::Event::new());
        let (_, exit) = rycos::spawn_task_joinable({
            let (upper, monitoring) = (upper.clone(), monitoring.clone());
            move |cx: Cx<Exit>| async move {
                cx.monitor(&upper);
                // A round trip after the monitor proves the server has it: frames from one
                // node arrive in order.
                let (_, echoed) = rycos::spawn_task_joinable(move |me: Cx<String>| async move {
                    upper.send(upper::Request::Upper { text: "ready".into(), reply: me.me() }).unwrap();
                    me.receive().await
                });
                assert_eq!(echoed.await.unwrap().as_deref(), Some("READY"));
                monitoring.set();
                cx.receive().await
            }
        });
        monitoring.wait().await;
        server.child.kill().unwrap();
        let exit = exit.await.unwrap().expect("an exit");
        assert_eq!(exit.reason, ExitReason::NoConnection);
        match events.next().await {
            Some(PeerEvent::Down { location, .. }) => assert_eq!(location, server.location),
            other => panic!("{other:?}"),
        }
        match upper.deliver(upper::Request::Stop, Duration::from_secs(5)).await {
            Err(DeliverError::PeerDown(_)) => {}
            other => panic!("{other:?}"),
        }
        assert!(matches!(upper.send(upper::Request::Stop), Err(SendError::PeerDown(_))));
        node.shutdown().await;
    });
}

/// `remote_monitor` across processes: the watcher sees one task finish, one panic, and the
/// third lost with its node, killed with SIGKILL.
#[test]
fn remote_monitor_sees_a_finish_a_panic_and_a_killed_node() {
    let _w = watchdog(Duration::from_secs(60));
    let server = ServerProcess::start("child_monitored_server", "monitor");
    let pid = server.child.id();
    rt(2).block_on(async {
        let node = client("monitor").await;
        let kill = move || {
            let killed = Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
            assert!(killed.success());
        };
        let reasons = remote_monitor::watch(&node, &server.location.addr().to_string(), kill).await.unwrap();
        assert_eq!(
            reasons,
            vec![ExitReason::Finished, ExitReason::Panicked("told to".into()), ExitReason::NoConnection]
        );
        node.shutdown().await;
    });
}
