//! The examples of synchronisation, channels and hot swap, run as tests.
// Each example brings its own copy of examples/support/logging.rs.
#![allow(clippy::duplicate_mod)]
mod common;
use common::*;
use std::time::Duration;

#[path = "../examples/channel.rs"]
mod channel;
#[path = "../examples/chat_chan_client.rs"]
mod chat_chan_client;
#[path = "../examples/chat_chan_server.rs"]
mod chat_chan_server;
#[path = "../examples/condition.rs"]
mod condition;
#[path = "../examples/hotswap.rs"]
mod hotswap;

#[test]
fn channel_example() {
    let _w = watchdog(Duration::from_secs(30));
    let results = rt(2).block_on(channel::run(100));
    assert_eq!(results[0], (100, 5050));
    assert_eq!(results[1], (100, 5050));
    assert_eq!(results[2], (50, 2550), "the evens sub-channel dropped the odd numbers");
}

#[test]
fn condition_example() {
    let _w = watchdog(Duration::from_secs(30));
    let results = rt(2).block_on(condition::run(3, 2000, 4, 5));
    let count: u64 = results.iter().map(|r| r.0).sum();
    let sum: u64 = results.iter().map(|r| r.1).sum();
    assert_eq!(count, 6000);
    assert_eq!(sum, (0..6000).sum::<u64>());
}

#[test]
fn hotswap_example() {
    let _w = watchdog(Duration::from_secs(60));
    let answers = rt(2).block_on(hotswap::run(4, 5000));
    let by_version = hotswap::verify(&answers, 5000).unwrap();
    assert_eq!(by_version.iter().sum::<usize>(), 20_000);
    // The first swap waits for a third of the answers; how much the later versions get depends
    // on timing, the absence of losses and repeats does not.
    assert!(by_version[1] >= 20_000 / 3, "version 1 answered until the first swap");
}

#[test]
fn chat_over_a_channel() {
    use futures::StreamExt;
    use futures::io::AsyncBufReadExt;
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    rt.block_on(async {
        let listener = rycos::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let room = rycos::channel::Channel::new("test-room").unwrap();
        rycos::spawn(chat_chan_server::serve(listener, room.clone()));
        // The test listens to the room too, to know when alice's join has been said: the
        // server subscribes her writer and then announces her, so bob, if he joined in
        // between, would hear "* alice joined" first.
        let (announced, mut announcements) = futures::channel::mpsc::unbounded::<std::sync::Arc<str>>();
        let observer = rycos::spawn_task(move |cx: rycos::Cx<chat_chan_server::Said>| async move {
            while let Some((_, text)) = cx.receive().await {
                let _ = announced.unbounded_send(text);
            }
        });
        room.subscribe(&observer).unwrap();
        let (alice_says, alice) = chat_chan_client::connect(addr, "alice").await.unwrap();
        let mut alice_hears = rycos::io::BufReader::new(alice);
        assert_eq!(announcements.next().await.as_deref(), Some("* alice joined\n"));
        let (bob_says, bob) = chat_chan_client::connect(addr, "bob").await.unwrap();
        let mut bob_hears = rycos::io::BufReader::new(bob);
        let mut line = String::new();
        alice_hears.read_line(&mut line).await.unwrap();
        assert_eq!(line, "* bob joined\n");
        alice_says.send("hi bob".into()).unwrap();
        line.clear();
        bob_hears.read_line(&mut line).await.unwrap();
        assert_eq!(line, "alice: hi bob\n");
        bob_says.send("hi alice".into()).unwrap();
        line.clear();
        alice_hears.read_line(&mut line).await.unwrap();
        assert_eq!(line, "bob: hi alice\n", "alice does not hear her own line");
    });
}
