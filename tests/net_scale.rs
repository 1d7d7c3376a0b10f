//! Many connections, and running out of file descriptors. The server runs in a child process
//! (this test binary again, running the ignored `child_echo_server` test) so that it has its own
//! descriptor limit and its own counts of tasks and descriptors.
mod common;
#[allow(dead_code)]
#[path = "../examples/support/echo.rs"]
mod echo;

use common::*;
use rycos::net::{TcpListener, TcpStream};
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// These tests count the process's descriptors, so they must not overlap.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn raise_fd_limit() -> u64 {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    setrlimit(Resource::Nofile, Rlimit { current: limit.maximum, maximum: limit.maximum }).unwrap();
    limit.maximum.unwrap_or(u64::MAX)
}

/// The child: an echo server that reports its address, then answers `stats` (live tasks and
/// open descriptors) and `emfile?` (accepts that failed with EMFILE) on stdin, until stdin closes.
#[test]
#[ignore = "run by the other tests as a child process"]
fn child_echo_server() {
    let Ok(fd_limit) = std::env::var("RYCOS_CHILD_FD_LIMIT") else { return };
    use rustix::process::{Resource, Rlimit, setrlimit};
    let limit: u64 = fd_limit.parse().unwrap();
    setrlimit(Resource::Nofile, Rlimit { current: Some(limit), maximum: None }).unwrap_or_else(|_| {
        let hard = rustix::process::getrlimit(Resource::Nofile).maximum;
        setrlimit(Resource::Nofile, Rlimit { current: Some(limit), maximum: hard }).unwrap()
    });
    let rt = rt(2);
    let listener = rt.block_on(async { TcpListener::bind_with_backlog("127.0.0.1:0", 16_384) }).unwrap();
    let emfile = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let e = emfile.clone();
    println!("{}", listener.local_addr().unwrap());
    rt.spawn(async move {
        loop {
            match listener.accept().await {
                Ok((conn, _)) => drop(rycos::spawn(echo::echo(conn))),
                Err(err) if echo::is_fd_exhaustion(&err) => {
                    e.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    rycos::time::sleep(Duration::from_millis(5)).await;
                }
                Err(err) => panic!("accept: {err}"),
            }
        }
    });
    for line in std::io::stdin().lines() {
        match line.unwrap().as_str() {
            "stats" => println!("{} {}", rt.metrics().live_tasks, open_fds()),
            "emfile?" => println!("{}", emfile.load(std::sync::atomic::Ordering::SeqCst)),
            other => panic!("unknown command {other}"),
        }
    }
}

struct Server {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<std::process::ChildStdout>,
    addr: SocketAddr,
}

impl Server {
    fn start(fd_limit: u64) -> Server {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["child_echo_server", "--exact", "--ignored", "--nocapture", "--test-threads", "1"])
            .env("RYCOS_CHILD_FD_LIMIT", fd_limit.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let addr = loop {
            let mut line = String::new();
            assert!(stdout.read_line(&mut line).unwrap() > 0, "the child server exited");
            // The harness prints "test child_echo_server ... " in front of the first line.
            if let Some(Ok(addr)) = line.split_whitespace().last().map(str::parse) {
                break addr;
            }
        };
        Server { child, stdin, stdout, addr }
    }

    fn ask(&mut self, question: &str) -> String {
        writeln!(self.stdin, "{question}").unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        line.trim().to_owned()
    }

    /// (live tasks, open descriptors) of the child.
    fn stats(&mut self) -> (usize, usize) {
        let answer = self.ask("stats");
        let mut parts = answer.split(' ').map(|p| p.parse().unwrap());
        (parts.next().unwrap(), parts.next().unwrap())
    }

    /// Polls `stats` until `done` holds or `limit` passes (the child's tasks end on their own
    /// schedule once the peers close: there is no signal to wait for across processes).
    fn wait_for_stats(&mut self, limit: Duration, done: impl Fn((usize, usize)) -> bool) -> (usize, usize) {
        let deadline = Instant::now() + limit;
        loop {
            let stats = self.stats();
            if done(stats) || Instant::now() > deadline {
                return stats;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn ten_thousand_concurrent_connections_and_nothing_leaks() {
    const CONNECTIONS: usize = 10_000;
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let _w = watchdog(Duration::from_secs(240));
    let hard = raise_fd_limit();
    assert!(
        hard >= CONNECTIONS as u64 + 100,
        "this test needs a hard limit of at least {} open files (it is {hard})",
        CONNECTIONS + 100
    );
    let mut server = Server::start(hard);
    let (tasks_before, fds_before) = server.stats();
    let rt = rt(2);
    let my_fds_before = open_fds();
    let addr = server.addr;
    let echoed = rt.block_on(async move {
        // Every connection connects, then all hold while each does one echo.
        let mut conns = Vec::with_capacity(CONNECTIONS);
        for chunk in 0..CONNECTIONS / 500 {
            let batch: Vec<_> = (0..500).map(|_| rycos::spawn(TcpStream::connect(addr))).collect();
            for c in batch {
                conns.push(c.await.unwrap().unwrap_or_else(|e| panic!("connect in batch {chunk}: {e}")));
            }
        }
        let checks: Vec<_> = conns
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                rycos::spawn(async move {
                    let msg = (i as u32).to_be_bytes();
                    c.write_all(&msg).await.unwrap();
                    let mut back = [0u8; 4];
                    c.read_exact(&mut back).await.unwrap();
                    assert_eq!(back, msg);
                    c
                })
            })
            .collect();
        let mut conns = Vec::with_capacity(CONNECTIONS);
        for c in checks {
            conns.push(c.await.unwrap());
        }
        conns.len()
    });
    assert_eq!(echoed, CONNECTIONS);
    // All the client sockets are closed by now; ours are back to what we had.
    assert_eq!(open_fds(), my_fds_before, "client-side descriptors leaked");
    assert_eq!(rt.metrics().live_tasks, 0, "client-side tasks leaked");
    let (tasks, fds) = server.wait_for_stats(Duration::from_secs(30), |s| s == (tasks_before, fds_before));
    assert_eq!((tasks, fds), (tasks_before, fds_before), "server tasks or descriptors leaked");
}

#[test]
fn accept_reports_emfile_and_recovers_when_descriptors_are_freed() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let _w = watchdog(Duration::from_secs(120));
    raise_fd_limit();
    let mut server = Server::start(64);
    let rt = rt(2);
    let addr = server.addr;
    // More connections than the server has descriptors (64, some used by the runtime): the
    // surplus waits in the backlog. Fewer wait than get served, so all of them fit once the
    // served ones close.
    let conns: Vec<TcpStream> = rt
        .block_on(async move { futures::future::join_all((0..80).map(|_| TcpStream::connect(addr))).await })
        .into_iter()
        .map(Result::unwrap)
        .collect();
    // Which connections the server accepted: those that echo promptly.
    let echoes = |conns: Vec<TcpStream>| {
        rt.block_on(async move {
            let probes = conns.into_iter().map(|c| async move {
                let ok = async {
                    c.write_all(b"?").await?;
                    let mut b = [0u8; 1];
                    c.read_exact(&mut b).await
                };
                let answered =
                    rycos::time::timeout(Duration::from_millis(500), ok).await.is_ok_and(|r| r.is_ok());
                (c, answered)
            });
            futures::future::join_all(probes).await
        })
    };
    let probed = echoes(conns);
    let served = probed.iter().filter(|(_, ok)| *ok).count();
    assert!(served > 40 && served < 64, "the server should run out of descriptors ({served} served)");
    let emfile: usize = server.ask("emfile?").parse().unwrap();
    assert!(emfile > 0, "accept never reported EMFILE");
    // The server still runs. Free its descriptors by closing the served connections; it then
    // accepts the ones that waited.
    let (served_conns, waiting): (Vec<_>, Vec<_>) = probed.into_iter().partition(|(_, ok)| *ok);
    drop(served_conns);
    let waiting: Vec<TcpStream> = waiting.into_iter().map(|(c, _)| c).collect();
    let count = waiting.len();
    let answered = rt.block_on(async move {
        let all = waiting.into_iter().map(|c| async move {
            c.write_all(b"!").await.unwrap();
            let mut b = [0u8; 1];
            rycos::time::timeout(Duration::from_secs(20), c.read_exact(&mut b)).await.is_ok()
        });
        futures::future::join_all(all).await.into_iter().filter(|ok| *ok).count()
    });
    assert!(count > 0);
    assert_eq!(answered, count, "every waiting connection is served once descriptors are freed");
}
