//! pycos `remote_task_client.py`: links to the node of `remote_task_server`, locates its task by
//! name and sends it each word with a reference to a local task, which receives the replies.
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
use rycos::Cx;
use rycos::dist::Node;
use std::time::Duration;

/// How long the client waits for the server to answer at all.
const PATIENCE: Duration = Duration::from_secs(5);

/// Links `node` to the server at `server`, sends it `words` one by one and returns its replies;
/// with `stop`, asks the server to end afterwards.
pub async fn ask(
    node: &Node,
    server: &str,
    words: Vec<String>,
    stop: bool,
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    node.peer(server).await?;
    let upper = node.locate::<Request>(crate::upper::NAME, PATIENCE).await?;
    let (_me, replies) = rycos::spawn_task_joinable(move |cx: Cx<String>| async move {
        let mut replies = Vec::new();
        for text in words {
            upper.send(Request::Upper { text, reply: cx.me() }).map_err(|e| e.to_string())?;
            match rycos::time::timeout(PATIENCE, cx.receive()).await {
                Ok(Some(reply)) => replies.push(reply),
                Ok(None) => break,
                Err(_) => return Err("the server did not answer in time".to_string()),
            }
        }
        if stop {
            upper.send(Request::Stop).map_err(|e| e.to_string())?;
        }
        Ok(replies)
    });
    Ok(replies.await??)
}

#[allow(dead_code)]
fn main() {
    logging::init();
    let mut args = std::env::args().skip(1);
    let server = args.next().unwrap_or_else(|| "127.0.0.1:9705".into());
    let secret = args.next().unwrap_or_else(|| "rycos".into());
    let mut words: Vec<String> = args.collect();
    if words.is_empty() {
        words = vec!["hello".into(), "from".into(), "rycos".into()];
    }
    let outcome = rycos::Runtime::new().unwrap().block_on(async {
        let node = Node::builder()
            .name("upper-client")
            .listen("127.0.0.1:0".parse().unwrap())
            .secret(&secret)
            .start()
            .await?;
        let replies = ask(&node, &server, words, false).await;
        node.shutdown().await;
        replies
    });
    match outcome {
        Ok(replies) => replies.iter().for_each(|reply| println!("{reply}")),
        Err(e) => {
            eprintln!("remote_task_client: {e}");
            std::process::exit(1);
        }
    }
}
