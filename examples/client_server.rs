//! pycos `client_server.py`: a daemon server task receives messages from ten clients, each of
//! which sends three messages at random intervals.
//!
//! ```text
//! cargo run --release --example client_server
//! ```

#[path = "support/logging.rs"]
mod logging;

use rycos::{Cx, TaskRef};
use std::time::Duration;

/// Runs `clients` clients against one server; returns the messages the server received.
pub fn run(clients: u32, messages_each: u32) -> Vec<String> {
    let rt = rycos::Runtime::new().expect("start the runtime");
    let (server, received) =
        rycos::task::Builder::new().on(rt.handle()).spawn_task_joinable(|cx: Cx<String>| async move {
            let mut received = Vec::new();
            // pycos: `msg = yield task.receive()`; here the loop ends when every client's
            // handle is gone.
            while let Some(msg) = cx.receive().await {
                println!("server received {msg:?}");
                received.push(msg);
            }
            received
        });
    for n in 0..clients {
        let server: TaskRef<String> = server.clone();
        rt.spawn(async move {
            for i in 0..messages_each {
                let pause = (u64::from(n) * 7 + u64::from(i) * 13) % 20;
                rycos::time::sleep(Duration::from_millis(pause)).await;
                server.send(format!("client {n}: message {i}")).expect("server is alive");
            }
        });
    }
    drop(server);
    received.join_blocking().expect("server task")
}

#[allow(dead_code)]
fn main() {
    logging::init();
    let received = run(10, 3);
    println!("{} messages received", received.len());
}
