//! pycos `remote_monitor`: a task monitors tasks on another node and hears how each ends —
//! one finishes, one panics, and the third is still running when its whole node is killed.
//! The monitor gets an `Exit` for each, the last with `ExitReason::NoConnection` once the link
//! is down (the grace period after the connection broke, 5 s by default).
//!
//! ```text
//! cargo run --release --features dist --example remote_monitor -- serve 127.0.0.1:9706 my-secret
//! cargo run --release --features dist --example remote_monitor -- watch 127.0.0.1:9706 my-secret
//! # when the watcher says so, kill the server (Ctrl-C, or kill -9)
//! ```
//!
//! Both roles are in this one file, so both name the message type alike (a remote name is
//! type-checked by the type's module path).

#[path = "support/logging.rs"]
mod logging;

use rycos::dist::Node;
use rycos::{Cx, Exit, ExitReason, RegisterError};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::time::Duration;

/// What the server's watched tasks are told to do.
#[derive(Debug, Serialize, Deserialize)]
pub enum Order {
    /// Return normally.
    Finish,
    /// Panic with this message.
    Panic(String),
}

/// The names the server registers: a task that finishes when told, one that panics when
/// told, one that runs until its node dies.
pub const FINISHES: &str = "finishes";
pub const PANICS: &str = "panics";
pub const LIVES: &str = "lives";

/// Starts the three watched tasks on `node`.
pub fn serve(node: &Node) -> Result<(), RegisterError> {
    for name in [FINISHES, PANICS, LIVES] {
        // One order ends each task (`None`: every handle is gone, so nobody can order it).
        let task = rycos::spawn_task(|cx: Cx<Order>| async move {
            match cx.receive().await {
                Some(Order::Finish) | None => {}
                Some(Order::Panic(message)) => panic!("{message}"),
            }
        });
        node.register(name, &task)?;
    }
    Ok(())
}

/// The server: serves until the process is killed.
pub async fn run_server(listen: SocketAddr, secret: &str) -> Result<(), Box<dyn std::error::Error>> {
    let node = Node::builder().name("monitored").listen(listen).secret(secret).start().await?;
    serve(&node)?;
    println!("serving `{FINISHES}`, `{PANICS}`, `{LIVES}` at {}", node.location());
    std::future::pending::<()>().await;
    Ok(())
}

/// The watcher: monitors the three tasks of the server at `server`, makes the first finish and
/// the second panic, calls `then_kill` once both exits are in, and waits for the third exit.
/// Returns the three exits' reasons in that order.
pub async fn watch(
    node: &Node,
    server: &str,
    then_kill: impl FnOnce() + Send + 'static,
) -> Result<Vec<ExitReason>, Box<dyn std::error::Error>> {
    node.peer(server).await?;
    let mut targets = Vec::new();
    for name in [FINISHES, PANICS, LIVES] {
        targets.push(node.locate::<Order>(name, Duration::from_secs(5)).await?);
    }
    let (_watcher, reasons) = rycos::spawn_task_joinable(move |cx: Cx<Exit>| async move {
        for target in &targets {
            cx.monitor(target);
        }
        // The monitors travel ahead of the orders on the one link to the server: each is in
        // place before its task can end.
        let [finishes, panics, lives] = &targets[..] else { unreachable!() };
        let mut reasons = Vec::new();
        finishes.send(Order::Finish).map_err(|e| e.to_string())?;
        reasons.push(next_exit(&cx, finishes).await?);
        panics.send(Order::Panic("told to".into())).map_err(|e| e.to_string())?;
        reasons.push(next_exit(&cx, panics).await?);
        then_kill();
        reasons.push(next_exit(&cx, lives).await?);
        Ok::<_, String>(reasons)
    });
    Ok(reasons.await??)
}

/// The next exit notice, which must be `target`'s.
async fn next_exit(cx: &Cx<Exit>, target: &rycos::TaskRef<Order>) -> Result<ExitReason, String> {
    let exit = cx.receive().await.ok_or("the watcher lost its mailbox")?;
    if exit.task != target.id() {
        return Err(format!("an exit of {:?} while waiting for {:?}", exit.name, target.name()));
    }
    println!("{}: {:?}", exit.name.as_deref().unwrap_or("?"), exit.reason);
    Ok(exit.reason)
}

#[allow(dead_code)] // a module of the tests, which have their own `main`
fn main() {
    logging::init();
    let mut args = std::env::args().skip(1);
    let role = args.next().unwrap_or_default();
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:9706".into());
    let secret = args.next().unwrap_or_else(|| "rycos".into());
    let runtime = rycos::Runtime::new().unwrap();
    let outcome: Result<(), Box<dyn std::error::Error>> = match role.as_str() {
        "serve" => match addr.parse() {
            Ok(listen) => runtime.block_on(run_server(listen, &secret)),
            Err(e) => Err(format!("`{addr}` is not an address: {e}").into()),
        },
        "watch" => runtime.block_on(async {
            let node = Node::builder()
                .name("watcher")
                .listen("127.0.0.1:0".parse().unwrap())
                .secret(&secret)
                .start()
                .await?;
            let reasons = watch(&node, &addr, || println!("now kill the server")).await;
            node.shutdown().await;
            reasons.map(drop)
        }),
        _ => Err("usage: remote_monitor serve|watch [address] [secret]".into()),
    };
    if let Err(e) = outcome {
        eprintln!("remote_monitor: {e}");
        std::process::exit(1);
    }
}
