//! The distribution examples, run as tests: `remote_task_server` and `remote_task_client` on two
//! nodes of one process. (The same pair across processes, and a server killed under a client:
//! `dist_process.rs`.)
// Each example brings its own copy of examples/support/logging.rs.
#![allow(clippy::duplicate_mod)]
mod common;

#[path = "../examples/remote_task_client.rs"]
mod remote_task_client;
#[path = "../examples/remote_task_server.rs"]
mod remote_task_server;
#[path = "../examples/support/upper.rs"]
mod upper;

use common::*;
use rycos::dist::Node;
use std::time::Duration;

async fn node(secret: &str) -> Node {
    Node::builder().listen("127.0.0.1:0".parse().unwrap()).secret(secret).start().await.unwrap()
}

#[test]
fn the_client_gets_its_words_back_upper_cased_and_stops_the_server() {
    let _w = watchdog(Duration::from_secs(30));
    rt(2).block_on(async {
        let server = node("shared").await;
        let served = remote_task_server::serve(&server).unwrap();
        let client = node("shared").await;
        let words = vec!["hello".to_string(), "wide".into(), "world".into()];
        let replies = remote_task_client::ask(&client, &server.location().addr().to_string(), words, true)
            .await
            .unwrap();
        assert_eq!(replies, vec!["HELLO", "WIDE", "WORLD"]);
        assert_eq!(served.await.unwrap(), 3, "the server counted three requests and stopped");
        client.shutdown().await;
        server.shutdown().await;
    });
}

#[test]
fn a_client_with_another_secret_is_refused() {
    let _w = watchdog(Duration::from_secs(30));
    rt(2).block_on(async {
        let server = node("right").await;
        let _served = remote_task_server::serve(&server).unwrap();
        let client = node("wrong").await;
        let err =
            remote_task_client::ask(&client, &server.location().addr().to_string(), vec!["x".into()], false)
                .await
                .unwrap_err();
        assert!(err.to_string().contains("secret"), "{err}");
        client.shutdown().await;
        server.shutdown().await;
    });
}
