//! pycos `tasks.py`: many tasks that each sleep for a while and finish — here 100,000 of them.
//!
//! ```text
//! cargo run --release --example tasks [count]
//! ```

#[path = "support/logging.rs"]
mod logging;

use std::time::{Duration, Instant};

/// Spawns `count` tasks sleeping 0–100 ms each; returns how many finished.
pub fn run(count: usize) -> usize {
    let rt = rycos::Runtime::new().expect("start the runtime");
    let start = Instant::now();
    let finished = rt.block_on(async move {
        let handles: Vec<_> = (0..count)
            .map(|n| {
                rycos::spawn(async move {
                    // A cheap deterministic spread of 0..100 ms (pycos uses random.uniform).
                    let ms = (n as u64).wrapping_mul(2_654_435_761) % 100;
                    rycos::time::sleep(Duration::from_millis(ms)).await;
                    n
                })
            })
            .collect();
        let mut finished = 0;
        for h in handles {
            h.await.expect("task");
            finished += 1;
        }
        finished
    });
    println!(
        "{finished} tasks slept 0-100 ms each and finished in {:.0?} on {} workers",
        start.elapsed(),
        rt.metrics().workers
    );
    finished
}

#[allow(dead_code)]
fn main() {
    logging::init();
    let count = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    assert_eq!(run(count), count);
}
