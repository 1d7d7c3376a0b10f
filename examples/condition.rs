//! pycos `condition.py`: producers and consumers share a bounded buffer guarded by a `Lock`,
//! with one `Condition` for "not empty" and one for "not full".
//!
//! ```text
//! cargo run --release --example condition
//! ```

#[path = "support/logging.rs"]
mod logging;

use rycos::sync::{Condition, Lock};
use std::collections::VecDeque;
use std::sync::Arc;

/// The buffer and its two conditions.
struct Buffer {
    items: Lock<VecDeque<Option<u64>>>,
    not_empty: Condition,
    not_full: Condition,
    capacity: usize,
}

impl Buffer {
    async fn put(&self, item: Option<u64>) {
        let mut items = self.items.lock().await;
        while items.len() == self.capacity {
            items = self.not_full.wait(items).await;
        }
        items.push_back(item);
        self.not_empty.notify(1);
    }

    async fn take(&self) -> Option<u64> {
        let mut items = self.items.lock().await;
        while items.is_empty() {
            items = self.not_empty.wait(items).await;
        }
        let item = items.pop_front().expect("not empty");
        self.not_full.notify(1);
        item
    }
}

/// `producers` each put `per_producer` numbers through a buffer of `capacity` slots to
/// `consumers`; returns (items taken, their sum) per consumer.
pub async fn run(producers: u64, per_producer: u64, consumers: usize, capacity: usize) -> Vec<(u64, u64)> {
    {
        let buffer = Arc::new(Buffer {
            items: Lock::new(VecDeque::new()),
            not_empty: Condition::new(),
            not_full: Condition::new(),
            capacity,
        });
        let takers: Vec<_> = (0..consumers)
            .map(|_| {
                let buffer = buffer.clone();
                rycos::spawn(async move {
                    let (mut count, mut sum) = (0, 0);
                    while let Some(n) = buffer.take().await {
                        count += 1;
                        sum += n;
                    }
                    (count, sum)
                })
            })
            .collect();
        let makers: Vec<_> = (0..producers)
            .map(|p| {
                let buffer = buffer.clone();
                rycos::spawn(async move {
                    for i in 0..per_producer {
                        buffer.put(Some(p * per_producer + i)).await;
                    }
                })
            })
            .collect();
        for m in makers {
            m.await.expect("producer finished");
        }
        for _ in 0..consumers {
            buffer.put(None).await; // one end marker per consumer
        }
        let mut results = Vec::new();
        for t in takers {
            results.push(t.await.expect("consumer finished"));
        }
        results
    }
}

#[allow(dead_code)]
fn main() {
    logging::init();
    let results = rycos::block_on(run(4, 10_000, 3, 8));
    for (i, (count, sum)) in results.iter().enumerate() {
        println!("consumer {i}: {count} items, sum {sum}");
    }
    let total: u64 = results.iter().map(|r| r.0).sum();
    println!("{total} items through an 8-slot buffer");
}
