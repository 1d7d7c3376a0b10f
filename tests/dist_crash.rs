//! `kill -9` of the receiving process in the middle of a stream of delivers, again and again,
//! with a restart on the same port each time: no message is handled twice, every deliver ends
//! (`Ok`, or an error inside its timeout), the restarted process is a new incarnation (sends
//! to a reference of the old one fail with `PeerDown` and never reach the new one), and a
//! fresh locate finds the new one.

mod common;

use common::child::{TestChild, follow_stdin};
use rycos::dist::Node;
use rycos::{Cx, DeliverError, SendError, TaskRef};
use std::collections::HashSet;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const PORT_VAR: &str = "RYCOS_CRASH_PORT";
const FILE_VAR: &str = "RYCOS_CRASH_FILE";
const SECRET: &str = "crash";
/// What is sent to an old incarnation's reference: must never be handled.
const MARK: u64 = u64::MAX;
const CALLERS: u64 = 4;
const DELIVER_LIMIT: Duration = Duration::from_secs(3);

fn builder(name: &str) -> rycos::dist::NodeBuilder {
    Node::builder()
        .name(name)
        .secret(SECRET)
        .heartbeat(Duration::from_millis(100), 10)
        .grace(Duration::from_millis(300))
}

/// The receiving node, run only in a child process: `sink` appends every number it handles
/// to the file (one `write` each: what was written survives the process's SIGKILL).
#[test]
#[ignore = "the node killed by the test below"]
fn child_crash_sink() {
    let port: u16 = std::env::var(PORT_VAR).expect("started by the crash test").parse().unwrap();
    let path = std::env::var(FILE_VAR).unwrap();
    follow_stdin(drop);
    let runtime = rycos::Runtime::builder().worker_threads(2).build().unwrap();
    runtime.block_on(async move {
        let node = builder("sink").listen(([127, 0, 0, 1], port).into()).start().await.unwrap();
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&path).unwrap();
        let sink = rycos::spawn_task(move |cx: Cx<u64>| async move {
            while let Some(n) = cx.receive().await {
                file.write_all(format!("{n}\n").as_bytes()).unwrap();
            }
        });
        node.register("sink", &sink).unwrap();
        println!("serving at {}", node.location().addr());
        std::future::pending::<()>().await;
    });
}

/// A small deterministic generator (xorshift64): where each round's kill falls.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Every caller delivers its numbers (`caller`, `caller + CALLERS`, ...) until one fails;
/// the numbers delivered `Ok`, and how the last ended.
async fn deliver_until_down(sink: TaskRef<u64>, caller: u64, started: Arc<AtomicBool>) -> Vec<u64> {
    let mut delivered = Vec::new();
    for n in (caller..).step_by(CALLERS as usize) {
        let asked = Instant::now();
        match sink.deliver(n, DELIVER_LIMIT).await {
            Ok(()) => {
                delivered.push(n);
                started.store(true, Ordering::Release);
            }
            Err(e) => {
                assert!(
                    asked.elapsed() < DELIVER_LIMIT + Duration::from_secs(1),
                    "a deliver took {:?} to fail",
                    asked.elapsed()
                );
                assert!(matches!(e, DeliverError::PeerDown(_) | DeliverError::Timeout(_)), "{e}");
                return delivered;
            }
        }
    }
    unreachable!()
}

#[test]
fn a_receiver_killed_mid_stream_and_restarted_handles_nothing_twice() {
    let rounds: u32 = if cfg!(debug_assertions) { 20 } else { 100 };
    let _guard = common::watchdog(Duration::from_secs(u64::from(rounds) * 3 + 60));
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = std::env::temp_dir().join(format!("rycos-crash-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let runtime = rycos::Runtime::builder().worker_threads(2).build().unwrap();
    runtime.block_on(async {
        let node = builder("caller").listen("127.0.0.1:0".parse().unwrap()).start().await.unwrap();
        let mut events = node.peer_events();
        let mut old: Option<TaskRef<u64>> = None;
        for round in 0..rounds {
            let file = dir.join(format!("round-{round}"));
            let mut child = TestChild::start(
                "child_crash_sink",
                &[(PORT_VAR, port.to_string()), (FILE_VAR, file.display().to_string())],
            );
            let addr = child.expect("serving at ", Duration::from_secs(30));
            // The old incarnation's link redials this port and finds a new incarnation there,
            // or gives up after its grace: either way it goes down, and sends to it fail.
            if let Some(old) = &old {
                loop {
                    match old.send(MARK) {
                        Err(SendError::PeerDown(_)) => break,
                        Ok(()) => {
                            events.next().await.expect("events");
                        }
                        Err(e) => panic!("round {round}: {e}"),
                    }
                }
            }
            node.peer(&addr).await.unwrap_or_else(|e| panic!("round {round}: {e}"));
            let sink = node.locate::<u64>("sink", Duration::from_secs(5)).await.unwrap();
            if let Some(old) = &old {
                assert_ne!(
                    sink.addr().node,
                    old.addr().node,
                    "round {round}: a restart is a new incarnation"
                );
            }

            let started = Arc::new(AtomicBool::new(false));
            let callers: Vec<_> = (0..CALLERS)
                .map(|caller| rycos::spawn(deliver_until_down(sink.clone(), caller, started.clone())))
                .collect();
            // The kill comes from a plain thread, 0–30 ms after the first acknowledgement.
            let wait = Duration::from_micros(rng.below(30_000));
            let killer = {
                let started = started.clone();
                std::thread::spawn(move || {
                    while !started.load(Ordering::Acquire) {
                        std::thread::yield_now();
                    }
                    std::thread::sleep(wait);
                    child.kill();
                })
            };
            let mut delivered = Vec::new();
            for caller in callers {
                delivered.extend(caller.await.unwrap());
            }
            killer.join().unwrap();

            let handled: Vec<u64> = std::fs::read_to_string(&file)
                .unwrap()
                .lines()
                .map(|line| line.parse().unwrap_or_else(|_| panic!("round {round}: a torn line {line:?}")))
                .collect();
            let unique: HashSet<u64> = handled.iter().copied().collect();
            assert_eq!(unique.len(), handled.len(), "round {round}: a message was handled twice");
            assert!(!unique.contains(&MARK), "round {round}: a send to the old incarnation reached this one");
            for caller in 0..CALLERS {
                let theirs: Vec<u64> = handled.iter().copied().filter(|n| n % CALLERS == caller).collect();
                assert!(
                    theirs.windows(2).all(|w| w[0] < w[1]),
                    "round {round}: caller {caller} out of order"
                );
                // What was handled was delivered or in flight: nothing past a caller's last
                // attempt.
                let last_ok = delivered.iter().copied().filter(|n| n % CALLERS == caller).max();
                let limit = last_ok.map_or(caller, |n| n + CALLERS);
                assert!(theirs.iter().all(|&n| n <= limit), "round {round}: handled what was never sent");
            }
            old = Some(sink);
        }
        node.shutdown().await;
    });
    let _ = std::fs::remove_dir_all(&dir);
}
