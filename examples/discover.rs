//! pycos `discover_peers`: nodes find each other by UDP broadcast, with no address given. Each
//! node announces itself on the discovery port; a node that hears an announcement tagged with
//! the same secret links to its sender. Here every node registers a `greeter`, greets the
//! greeter of each peer it finds, and stops once it has found `--peers` peers and been greeted
//! by as many.
//!
//! ```text
//! # on two machines of one LAN (or two network namespaces joined by a veth pair):
//! cargo run --release --example discover -- --name alpha --secret my-secret
//! cargo run --release --example discover -- --name beta --secret my-secret
//! ```
//!
//! Broadcasts do not cross routers, nor reach loopback: two nodes on one host that listen
//! only on 127.0.0.1 do not find each other this way (`Node::peer` links them directly).

#[path = "support/logging.rs"]
mod logging;

use rycos::dist::{Location, Node, PeerEvent};
use rycos::{Cx, TaskRef};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::time::Duration;

/// A greeting, with where to send the answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct Greeting {
    pub from: String,
    pub reply: TaskRef<String>,
}

/// Runs one node until it has found `peers` peers and been greeted by as many, or `limit`
/// passed. Returns, for each peer found, its location and its greeter's answer.
pub async fn run(
    name: &str,
    listen: SocketAddr,
    secret: &str,
    port: u16,
    peers: usize,
    limit: Duration,
) -> Result<Vec<(Location, String)>, Box<dyn std::error::Error>> {
    let node = Node::builder()
        .name(name)
        .listen(listen)
        .secret(secret)
        .discovery(true)
        .discovery_port(port)
        .discovery_interval(Duration::from_secs(1))
        .start()
        .await?;
    let own = name.to_owned();
    let (greeter, greeted) = rycos::spawn_task_joinable(move |cx: Cx<Greeting>| async move {
        let mut greeted = Vec::new();
        while greeted.len() < peers {
            let Some(Greeting { from, reply }) = cx.receive().await else { break };
            let _ = reply.send(format!("hello {from}, this is {own}"));
            greeted.push(from);
        }
        greeted
    });
    node.register("greeter", &greeter)?;
    drop(greeter);
    println!("{} is looking for {peers} peer(s) on UDP port {port}", node.location());

    let mut events = node.peer_events();
    // Peers may have found this node before it listened for events: those first.
    let mut linked_before: Vec<Location> = node.peers();
    let found = rycos::time::timeout(limit, async {
        let mut found: Vec<(Location, String)> = Vec::new();
        while found.len() < peers {
            let location = match linked_before.pop() {
                Some(location) => location,
                None => match events.next().await {
                    Some(PeerEvent::Up(location)) => location,
                    Some(_) => continue,
                    None => return Err("the node stopped".into()),
                },
            };
            if found.iter().any(|(seen, _)| *seen == location) {
                continue;
            }
            let greeter = node.locate_at::<Greeting>("greeter", &location, limit).await?;
            let (_, answer) = rycos::spawn_task_joinable({
                let from = name.to_owned();
                move |cx: Cx<String>| async move {
                    greeter.send(Greeting { from, reply: cx.me() }).map_err(|e| e.to_string())?;
                    cx.receive().await.ok_or_else(|| "no answer".to_owned())
                }
            });
            let answer = answer.await??;
            println!("found {location}: {answer}");
            found.push((location, answer));
        }
        Ok::<_, Box<dyn std::error::Error>>(found)
    })
    .await
    .map_err(|_| format!("found fewer than {peers} peer(s) in {limit:?}"))??;
    let greeted = rycos::time::timeout(limit, greeted)
        .await
        .map_err(|_| format!("greeted by fewer than {peers} peer(s) in {limit:?}"))??;
    println!("greeted by {}", greeted.join(", "));
    node.shutdown().await;
    Ok(found)
}

#[derive(clap::Parser)]
struct Args {
    /// This node's name.
    #[arg(long)]
    name: String,
    /// The shared secret.
    #[arg(long, default_value = "rycos")]
    secret: String,
    /// Where to take links.
    #[arg(long, default_value = "0.0.0.0:0")]
    listen: SocketAddr,
    /// The discovery port.
    #[arg(long, default_value_t = rycos::dist::DEFAULT_DISCOVERY_PORT)]
    port: u16,
    /// Peers to find before stopping.
    #[arg(long, default_value_t = 1)]
    peers: usize,
    /// Seconds to give up after.
    #[arg(long, default_value_t = 60)]
    secs: u64,
}

#[allow(dead_code)] // a module of the tests, which have their own `main`
fn main() {
    logging::init();
    let args: Args = clap::Parser::parse();
    let runtime = rycos::Runtime::new().unwrap();
    let outcome = runtime.block_on(run(
        &args.name,
        args.listen,
        &args.secret,
        args.port,
        args.peers,
        Duration::from_secs(args.secs),
    ));
    if let Err(e) = outcome {
        eprintln!("discover: {e}");
        std::process::exit(1);
    }
}
