//! Channels, locks and semaphores on rycos and tokio, side by side in one process run.
//!
//! ```text
//! cargo bench --bench sync                # every workload, median of 5 runs
//! cargo bench --bench sync -- broadcast   # only workloads whose name contains the filter
//! cargo bench --bench sync -- --runs 9
//! ```
//!
//! Both runtimes get 2 workers. Runs alternate between the runtimes; figures are medians of
//! operations per second, and `ratio` is rycos / tokio (above 1: rycos is faster).
//!
//! - `broadcast`: 1 sender, 1,000 subscribers, 1,000 messages (`Channel` vs
//!   `tokio::sync::broadcast`, whose capacity is set so nobody lags); deliveries/s.
//! - `lock_handoff`: 1,000 tasks take a lock 100 times each and yield while holding it, so every
//!   release hands the lock to a queued waiter (`sync::Lock` vs `tokio::sync::Mutex`).
//! - `semaphore`: 1,000 tasks take one of 16 permits 100 times each, yielding while holding it.
//! - `semaphore_uncontended`: one task acquires and releases 1,000,000 times.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SUBSCRIBERS: usize = 1_000;
const MESSAGES: u64 = 1_000;
const TASKS: usize = 1_000;
const ROUNDS: usize = 100;
const PERMITS: usize = 16;
const UNCONTENDED: usize = 1_000_000;

struct Runtimes {
    rycos: rycos::Runtime,
    tokio: tokio::runtime::Runtime,
}

impl Runtimes {
    /// Times `work` run as a task (the clock runs inside the runtime).
    fn rycos<F: Future<Output = ()> + Send + 'static>(&self, work: F) -> Duration {
        self.rycos.block_on(async move {
            rycos::spawn(async move {
                let start = Instant::now();
                work.await;
                start.elapsed()
            })
            .await
            .unwrap()
        })
    }

    fn tokio<F: Future<Output = ()> + Send + 'static>(&self, work: F) -> Duration {
        self.tokio.block_on(async move {
            tokio::spawn(async move {
                let start = Instant::now();
                work.await;
                start.elapsed()
            })
            .await
            .unwrap()
        })
    }
}

// ---- broadcast ---------------------------------------------------------------------------------

async fn rycos_broadcast() {
    use rycos::channel::Channel;
    let channel = Channel::<u64>::new("bench-broadcast").unwrap();
    let mut done = Vec::with_capacity(SUBSCRIBERS);
    for _ in 0..SUBSCRIBERS {
        let (task, handle) = rycos::spawn_task_joinable(|cx: rycos::Cx<u64>| async move {
            let mut sum = 0;
            for _ in 0..MESSAGES {
                sum += cx.receive().await.unwrap();
            }
            sum
        });
        channel.subscribe(&task).unwrap();
        done.push(handle);
    }
    for m in 0..MESSAGES {
        let reached = channel.send(m).unwrap();
        assert_eq!(reached, SUBSCRIBERS, "message {m}");
    }
    for h in done {
        assert_eq!(h.await.unwrap(), MESSAGES * (MESSAGES - 1) / 2);
    }
    channel.close();
}

async fn tokio_broadcast() {
    let (sender, _) = tokio::sync::broadcast::channel::<u64>(MESSAGES as usize);
    let mut done = Vec::with_capacity(SUBSCRIBERS);
    for _ in 0..SUBSCRIBERS {
        let mut receiver = sender.subscribe();
        done.push(tokio::spawn(async move {
            let mut sum = 0;
            for _ in 0..MESSAGES {
                sum += receiver.recv().await.unwrap();
            }
            sum
        }));
    }
    for m in 0..MESSAGES {
        assert_eq!(sender.send(m).unwrap(), SUBSCRIBERS);
    }
    for h in done {
        assert_eq!(h.await.unwrap(), MESSAGES * (MESSAGES - 1) / 2);
    }
}

// ---- lock hand-off -----------------------------------------------------------------------------

async fn rycos_lock_handoff() {
    let lock = Arc::new(rycos::sync::Lock::new(0usize));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let lock = lock.clone();
            rycos::spawn(async move {
                for _ in 0..ROUNDS {
                    let mut n = lock.lock().await;
                    *n += 1;
                    rycos::yield_now().await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(*lock.lock().await, TASKS * ROUNDS);
}

async fn tokio_lock_handoff() {
    let lock = Arc::new(tokio::sync::Mutex::new(0usize));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let lock = lock.clone();
            tokio::spawn(async move {
                for _ in 0..ROUNDS {
                    let mut n = lock.lock().await;
                    *n += 1;
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(*lock.lock().await, TASKS * ROUNDS);
}

// ---- semaphore ---------------------------------------------------------------------------------

async fn rycos_semaphore() {
    let semaphore = Arc::new(rycos::sync::Semaphore::new(PERMITS));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let semaphore = semaphore.clone();
            rycos::spawn(async move {
                for _ in 0..ROUNDS {
                    let _permit = semaphore.acquire().await;
                    rycos::yield_now().await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(semaphore.available_permits(), PERMITS);
}

async fn tokio_semaphore() {
    let semaphore = Arc::new(tokio::sync::Semaphore::new(PERMITS));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let semaphore = semaphore.clone();
            tokio::spawn(async move {
                for _ in 0..ROUNDS {
                    let _permit = semaphore.acquire().await.unwrap();
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(semaphore.available_permits(), PERMITS);
}

async fn rycos_semaphore_uncontended() {
    let semaphore = rycos::sync::Semaphore::new(1);
    for _ in 0..UNCONTENDED {
        drop(std::hint::black_box(semaphore.acquire().await));
    }
}

async fn tokio_semaphore_uncontended() {
    let semaphore = tokio::sync::Semaphore::new(1);
    for _ in 0..UNCONTENDED {
        drop(std::hint::black_box(semaphore.acquire().await.unwrap()));
    }
}

// ---- running and reporting ---------------------------------------------------------------------

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut runs = 5;
    let mut filter = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => runs = args.next().and_then(|v| v.parse().ok()).expect("--runs N"),
            a if a.starts_with("--") => {}
            a => filter = Some(a.to_owned()),
        }
    }
    let rts = Runtimes {
        rycos: rycos::Runtime::builder().worker_threads(2).build().unwrap(),
        tokio: tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap(),
    };
    type Run = fn(&Runtimes) -> Duration;
    let workloads: [(&str, &str, f64, Run, Run); 4] = [
        (
            "broadcast",
            "deliveries/s",
            (SUBSCRIBERS as u64 * MESSAGES) as f64,
            |r| r.rycos(rycos_broadcast()),
            |r| r.tokio(tokio_broadcast()),
        ),
        (
            "lock_handoff",
            "locks/s",
            (TASKS * ROUNDS) as f64,
            |r| r.rycos(rycos_lock_handoff()),
            |r| r.tokio(tokio_lock_handoff()),
        ),
        (
            "semaphore",
            "acquires/s",
            (TASKS * ROUNDS) as f64,
            |r| r.rycos(rycos_semaphore()),
            |r| r.tokio(tokio_semaphore()),
        ),
        (
            "semaphore_uncontended",
            "acquires/s",
            UNCONTENDED as f64,
            |r| r.rycos(rycos_semaphore_uncontended()),
            |r| r.tokio(tokio_semaphore_uncontended()),
        ),
    ];
    println!("rycos vs tokio, 2 workers each, median of {runs} alternating runs (ratio = rycos / tokio)");
    println!("{:<22} {:<13} {:>14} {:>14} {:>7}", "workload", "unit", "rycos", "tokio", "ratio");
    for (name, unit, operations, on_rycos, on_tokio) in workloads {
        if filter.as_ref().is_some_and(|f| !name.contains(f.as_str())) {
            continue;
        }
        let (mut rycos, mut tokio) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            rycos.push(operations / on_rycos(&rts).as_secs_f64());
            tokio.push(operations / on_tokio(&rts).as_secs_f64());
        }
        let (r, t) = (median(rycos), median(tokio));
        println!("{name:<22} {unit:<13} {r:>14.0} {t:>14.0} {:>7.2}", r / t);
    }
}
