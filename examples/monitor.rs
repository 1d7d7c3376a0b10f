//! A busy program with the web monitor on: open the address it prints in a browser.
//!
//! ```text
//! cargo run --release --example monitor                       # http://127.0.0.1:8181/
//! cargo run --release --example monitor -- --token s3cret     # allows terminating tasks
//! cargo run --release --example monitor -- --addr 127.0.0.1:0 --secs 30
//! ```
//!
//! What runs: a `dispatcher` that hands jobs to eight named `worker-N` tasks; a `producer` that
//! sends it jobs and spawns a short-lived `job` task every few milliseconds; 200 `idle` tasks
//! waiting in `receive`, some with messages piling up; a `sleeper` on a timer; a `flaky` task
//! that panics now and then and is restarted by a `supervisor` that monitors it; and two nodes,
//! `demo` and `peer`, linked, so the monitor shows a peer and a shared name.

#[path = "support/logging.rs"]
mod logging;

use clap::Parser;
use rycos::dist::Node;
use rycos::{Cx, Exit, TaskRef};
use std::net::SocketAddr;
use std::time::Duration;

// `main` and its arguments are unused where a test includes this file for `start`.
#[allow(dead_code)]
#[derive(Parser)]
#[command(about = "A busy rycos program with the web monitor on")]
struct Args {
    /// Where the monitor listens.
    #[arg(long, default_value = "127.0.0.1:8181")]
    addr: SocketAddr,
    /// Allows terminating tasks from the page to whoever has this token.
    #[arg(long)]
    token: Option<String>,
    /// Stop after this many seconds (default: run until killed).
    #[arg(long)]
    secs: Option<f64>,
}

/// What the dispatcher and the workers take.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum Job {
    Square(u64),
}

#[allow(dead_code)]
fn main() -> std::io::Result<()> {
    logging::init();
    let args = Args::parse();
    let rt = rycos::Runtime::new()?;
    let (monitor, _nodes) = rt.block_on(async {
        let nodes = start().await?;
        let mut builder = rycos_monitor::Monitor::builder().addr(args.addr).node(&nodes.0);
        if let Some(token) = &args.token {
            builder = builder.token(token.clone());
        }
        let monitor = builder.start(&rycos::Handle::current())?;
        Ok::<_, std::io::Error>((monitor, nodes))
    })?;
    match &args.token {
        Some(token) => println!("monitor on {}#token={token}", monitor.url()),
        None => println!("monitor on {}", monitor.url()),
    }
    match args.secs {
        Some(secs) => std::thread::sleep(Duration::from_secs_f64(secs)),
        None => loop {
            std::thread::park();
        },
    }
    monitor.stop();
    Ok(())
}

/// Starts the demo's tasks and its two nodes.
pub async fn start() -> std::io::Result<(Node, Node)> {
    let node = |name: &'static str| async move {
        Node::builder()
            .name(name)
            .listen("127.0.0.1:0".parse().unwrap())
            .secret("monitor demo")
            .start()
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))
    };
    let (demo, peer) = (node("demo").await?, node("peer").await?);
    peer.peer(demo.location().addr()).await.map_err(|e| std::io::Error::other(e.to_string()))?;

    let workers: Vec<TaskRef<Job>> = (0..8)
        .map(|n| {
            rycos::task::Builder::new().name(format!("worker-{n}")).spawn_task(|cx: Cx<Job>| async move {
                while let Some(Job::Square(n)) = cx.receive().await {
                    std::hint::black_box(n * n);
                    rycos::time::sleep(Duration::from_millis(n % 3)).await;
                }
            })
        })
        .collect();
    let dispatcher =
        rycos::task::Builder::new().name("dispatcher").spawn_task(move |cx: Cx<Job>| async move {
            let mut next = 0;
            while let Some(job) = cx.receive().await {
                let _ = workers[next % workers.len()].send(job);
                next += 1;
            }
        });
    demo.register("dispatcher", &dispatcher).map_err(|e| std::io::Error::other(e.to_string()))?;
    // The peer node sends through the link too.
    let remote = peer
        .locate::<Job>("dispatcher", Duration::from_secs(5))
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?;

    rycos::task::Builder::new().name("producer").spawn(async move {
        let mut n = 0u64;
        let mut tick = rycos::time::interval(Duration::from_millis(5));
        loop {
            tick.tick().await;
            n += 1;
            let _ = dispatcher.send(Job::Square(n));
            let _ = remote.send(Job::Square(n + 1));
            // A short-lived task now and then: the live count moves.
            rycos::task::Builder::new().name("job").spawn(async move {
                rycos::time::sleep(Duration::from_millis(200 + n % 800)).await;
            });
        }
    });

    let idle: Vec<TaskRef<u64>> = (0..200)
        .map(|n| {
            rycos::task::Builder::new().name(format!("idle-{n}")).spawn_task(|cx: Cx<u64>| async move {
                // Some of them never read: their mailboxes fill.
                if cx.me().id().as_u64().is_multiple_of(4) {
                    std::future::pending::<()>().await;
                }
                while cx.receive().await.is_some() {}
            })
        })
        .collect();
    rycos::task::Builder::new().name("feeder").spawn(async move {
        let mut tick = rycos::time::interval(Duration::from_millis(250));
        for n in 0.. {
            tick.tick().await;
            let _ = idle[n % idle.len()].send(n as u64);
        }
    });
    rycos::task::Builder::new().name("sleeper").spawn(async {
        loop {
            rycos::time::sleep(Duration::from_secs(3)).await;
        }
    });
    rycos::task::Builder::new().name("supervisor").spawn_task(|cx: Cx<Exit>| async move {
        let mut round = 0u64;
        loop {
            round += 1;
            let flaky = rycos::task::Builder::new().name("flaky").spawn_task(move |cx: Cx<()>| async move {
                let _ = cx.receive_timeout(Duration::from_millis(2_000 + round % 5 * 700)).await;
                panic!("flaky gave up (round {round}), as it does now and then");
            });
            cx.monitor(&flaky);
            // The supervisor waits for the end, then starts it again.
            let _ = cx.receive().await;
        }
    });
    Ok((demo, peer))
}
