//! pycos `channel.py`: a producer publishes on a named channel; consumers subscribe, some
//! directly and some through a filtering sub-channel. `deliver` waits until every consumer has
//! subscribed, so none misses the first message.
//!
//! ```text
//! cargo run --release --example channel
//! ```

#[path = "support/logging.rs"]
mod logging;

use rycos::channel::Channel;
use rycos::{Cx, JoinHandle};
use std::time::Duration;

/// What a consumer hears.
#[derive(Debug, Clone)]
pub enum Update {
    Number(u64),
    Done,
}

/// A consumer: subscribes to the channel named `name` (which, if it is not "numbers", it then
/// hangs below "numbers"), and sums the numbers until `Done`.
fn consumer(name: &'static str) -> JoinHandle<(usize, u64)> {
    let (me, sum) = rycos::spawn_task_joinable(move |cx: Cx<Update>| async move {
        let channel = Channel::<Update>::locate(name).expect("the channel exists");
        channel.subscribe(&cx.me()).expect("subscribed");
        if name != "numbers" {
            // Only now that this consumer listens does the sub-channel count for `deliver`.
            Channel::<Update>::locate("numbers")
                .expect("the channel exists")
                .subscribe(&channel)
                .expect("no cycle");
        }
        let (mut count, mut sum) = (0, 0);
        while let Some(update) = cx.receive().await {
            match update {
                Update::Number(n) => {
                    count += 1;
                    sum += n;
                }
                Update::Done => break,
            }
        }
        (count, sum)
    });
    drop(me);
    sum
}

/// Publishes 1..=n; returns (messages, sum) per consumer: two on "numbers", one on "evens".
pub async fn run(n: u64) -> Vec<(usize, u64)> {
    {
        let numbers = Channel::<Update>::new("numbers").expect("a fresh name");
        let evens = Channel::<Update>::builder("evens")
            .transform(|u| match u {
                Update::Number(n) if n % 2 == 1 => None,
                other => Some(other.clone()),
            })
            .build()
            .expect("a fresh name");
        let consumers = vec![consumer("numbers"), consumer("numbers"), consumer("evens")];

        // Wait for the two direct subscribers plus the sub-channel.
        let reached = numbers.deliver(Update::Number(1), 3, Duration::from_secs(5)).await;
        println!("first number reached {} consumers", reached.expect("consumers subscribed"));
        for i in 2..=n {
            numbers.send(Update::Number(i)).expect("subscribers are there");
        }
        numbers.send(Update::Done).expect("subscribers are there");
        let mut results = Vec::new();
        for c in consumers {
            results.push(c.await.expect("consumer finished"));
        }
        numbers.close();
        evens.close();
        results
    }
}

#[allow(dead_code)]
fn main() {
    logging::init();
    for (i, (count, sum)) in rycos::block_on(run(1000)).into_iter().enumerate() {
        println!("consumer {i}: {count} numbers, sum {sum}");
    }
}
