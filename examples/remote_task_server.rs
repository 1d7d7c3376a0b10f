//! pycos `remote_task_server.py`: a node that registers a task by name. Any node that knows
//! the address and the secret can locate the task and send it requests; each request carries
//! a reference to a task of the asking node, and the reply goes there, across the network,
//! with the same `send` as a local one. See `remote_task_client` for the other side.
//!
//! ```text
//! cargo run --release --example remote_task_server -- 127.0.0.1:9705 my-secret
//! cargo run --release --example remote_task_client -- 127.0.0.1:9705 my-secret hello world
//! ```

#[path = "support/logging.rs"]
mod logging;

// A remote name is type-checked by the message type's module path (crate name left out), so
// the server, the client and the tests that include them reach `Request` by one path,
// `upper::Request`: the module sits at the root of whichever crate this file is part of (the
// tests declare it themselves).
#[cfg(not(test))]
#[path = "support/upper.rs"]
mod upper;

use crate::upper::Request;
use rycos::dist::Node;
use rycos::{Cx, JoinHandle, RegisterError};
use std::net::SocketAddr;

/// Starts the server task on `node` under [`crate::upper::NAME`]; the handle completes with the number
/// of requests served once a `Stop` arrives.
pub fn serve(node: &Node) -> Result<JoinHandle<u64>, RegisterError> {
    let (task, served) = rycos::spawn_task_joinable(|cx: Cx<Request>| async move {
        let mut served = 0;
        while let Some(request) = cx.receive().await {
            match request {
                Request::Upper { text, reply } => {
                    served += 1;
                    // The asker may be gone by now; that is its business.
                    let _ = reply.send(text.to_uppercase());
                }
                Request::Stop => break,
            }
        }
        served
    });
    node.register(crate::upper::NAME, &task)?;
    Ok(served)
}

/// Starts a node listening on `listen` with `secret`, serves until a `Stop`, then shuts the
/// node down. Prints the node's location first, so that whoever started it knows where it is.
pub async fn run(listen: SocketAddr, secret: &str) -> Result<u64, Box<dyn std::error::Error>> {
    let node = Node::builder().name("upper-server").listen(listen).secret(secret).start().await?;
    let served = serve(&node)?;
    println!("serving `{}` at {}", crate::upper::NAME, node.location());
    let served = served.await?;
    node.shutdown().await;
    Ok(served)
}

#[allow(dead_code)]
fn main() {
    logging::init();
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:9705".into());
    let secret = args.next().unwrap_or_else(|| "rycos".into());
    let listen: SocketAddr = listen.parse().unwrap_or_else(|e| {
        eprintln!("remote_task_server: `{listen}` is not an address: {e}");
        std::process::exit(2);
    });
    match rycos::Runtime::new().unwrap().block_on(run(listen, &secret)) {
        Ok(served) => println!("served {served} requests"),
        Err(e) => {
            eprintln!("remote_task_server: {e}");
            std::process::exit(1);
        }
    }
}
