//! Blocking calls, child-process pipes and CPU offload on rycos and tokio, side by side in one
//! process run.
//!
//! ```text
//! cargo bench --bench pool               # every workload, median of 5 alternating runs
//! cargo bench --bench pool -- pipe       # only workloads whose name contains the filter
//! ```
//!
//! - `blocking_burst`: 100,000 trivial blocking calls submitted at once, then awaited
//!   (`rycos::blocking` vs `tokio::task::spawn_blocking`); calls/s.
//! - `blocking_callers`: 100 tasks making 1,000 blocking calls each, one after the other.
//! - `pipe_256MiB`: 256 MiB written into `cat` by one task and read back by another through a
//!   64 KiB buffer (`rycos::process` vs `tokio::process`); MiB/s.
//! - `pipe_256MiB_to_end`: the same, read back with `read_to_end` into one growing vector
//!   (rycos's own `AsyncReadExt::read_to_end` vs tokio's); MiB/s, and the time against the
//!   fixed-buffer read of the same runtime (`to_end / fixed`, from the same runs).
//! - `compute_latency`: 10,000 tasks each hand one trivial job to rayon and await it
//!   (`rycos::compute` vs `rayon::spawn` + a tokio oneshot); jobs/s and p50/p99 from submit
//!   to the awaiting task running again.
//!
//! Both runtimes get 2 workers. `ratio` is rycos / tokio for rates (above 1: rycos better).

use std::future::Future;
use std::time::{Duration, Instant};

const BURST: usize = 100_000;
const CALLERS: usize = 100;
const CALLS_EACH: usize = 1_000;
const PIPE_BYTES: usize = 256 << 20;
const COMPUTE_JOBS: usize = 10_000;

struct Runtimes {
    rycos: rycos::Runtime,
    tokio: tokio::runtime::Runtime,
}

impl Runtimes {
    fn rycos<T: Send + 'static, F: Future<Output = T> + Send + 'static>(&self, work: F) -> (Duration, T) {
        self.rycos.block_on(async move {
            rycos::spawn(async move {
                let start = Instant::now();
                let out = work.await;
                (start.elapsed(), out)
            })
            .await
            .unwrap()
        })
    }

    fn tokio<T: Send + 'static, F: Future<Output = T> + Send + 'static>(&self, work: F) -> (Duration, T) {
        self.tokio.block_on(async move {
            tokio::spawn(async move {
                let start = Instant::now();
                let out = work.await;
                (start.elapsed(), out)
            })
            .await
            .unwrap()
        })
    }
}

// ---- blocking calls --------------------------------------------------------------------------

async fn rycos_burst() {
    let calls: Vec<_> = (0..BURST).map(|i| rycos::blocking(move || std::hint::black_box(i))).collect();
    for (i, call) in calls.into_iter().enumerate() {
        assert_eq!(call.await.unwrap(), i);
    }
}

async fn tokio_burst() {
    let calls: Vec<_> =
        (0..BURST).map(|i| tokio::task::spawn_blocking(move || std::hint::black_box(i))).collect();
    for (i, call) in calls.into_iter().enumerate() {
        assert_eq!(call.await.unwrap(), i);
    }
}

async fn rycos_callers() {
    let callers: Vec<_> = (0..CALLERS)
        .map(|_| {
            rycos::spawn(async {
                for i in 0..CALLS_EACH {
                    assert_eq!(rycos::blocking(move || std::hint::black_box(i)).await.unwrap(), i);
                }
            })
        })
        .collect();
    for c in callers {
        c.await.unwrap();
    }
}

async fn tokio_callers() {
    let callers: Vec<_> = (0..CALLERS)
        .map(|_| {
            tokio::spawn(async {
                for i in 0..CALLS_EACH {
                    assert_eq!(
                        tokio::task::spawn_blocking(move || std::hint::black_box(i)).await.unwrap(),
                        i
                    );
                }
            })
        })
        .collect();
    for c in callers {
        c.await.unwrap();
    }
}

// ---- pipes -------------------------------------------------------------------------------------

/// How the reading side takes the 256 MiB.
#[derive(Clone, Copy)]
enum ReadBack {
    FixedBuffer,
    ToEnd,
}

async fn rycos_pipe(read_back: ReadBack) {
    use rycos::io::prelude::*;
    use std::process::Stdio;
    let mut cat =
        rycos::process::Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let mut stdin = cat.stdin.take().unwrap();
    let mut stdout = cat.stdout.take().unwrap();
    let writer = rycos::spawn(async move {
        let chunk = vec![7u8; 64 << 10];
        for _ in 0..PIPE_BYTES / chunk.len() {
            stdin.write_all(&chunk).await.unwrap();
        }
    });
    let total = match read_back {
        ReadBack::FixedBuffer => {
            let mut buf = vec![0u8; 64 << 10];
            let mut total = 0;
            loop {
                let n = stdout.read(&mut buf).await.unwrap();
                if n == 0 {
                    break total;
                }
                total += n;
            }
        }
        ReadBack::ToEnd => {
            let mut all = Vec::new();
            stdout.read_to_end(&mut all).await.unwrap();
            all.len()
        }
    };
    writer.await.unwrap();
    assert_eq!(total, PIPE_BYTES);
    assert!(cat.wait().await.unwrap().success());
}

async fn tokio_pipe(read_back: ReadBack) {
    use std::process::Stdio;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut cat =
        tokio::process::Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let mut stdin = cat.stdin.take().unwrap();
    let mut stdout = cat.stdout.take().unwrap();
    let writer = tokio::spawn(async move {
        let chunk = vec![7u8; 64 << 10];
        for _ in 0..PIPE_BYTES / chunk.len() {
            stdin.write_all(&chunk).await.unwrap();
        }
    });
    let total = match read_back {
        ReadBack::FixedBuffer => {
            let mut buf = vec![0u8; 64 << 10];
            let mut total = 0;
            loop {
                let n = stdout.read(&mut buf).await.unwrap();
                if n == 0 {
                    break total;
                }
                total += n;
            }
        }
        ReadBack::ToEnd => {
            let mut all = Vec::new();
            stdout.read_to_end(&mut all).await.unwrap();
            all.len()
        }
    };
    writer.await.unwrap();
    assert_eq!(total, PIPE_BYTES);
    assert!(cat.wait().await.unwrap().success());
}

// ---- CPU offload -------------------------------------------------------------------------------

/// Each task records the time from submitting its job to running again after it.
async fn rycos_compute() -> Vec<Duration> {
    let tasks: Vec<_> = (0..COMPUTE_JOBS)
        .map(|i| {
            rycos::spawn(async move {
                let submitted = Instant::now();
                assert_eq!(rycos::compute(move || std::hint::black_box(i)).await.unwrap(), i);
                submitted.elapsed()
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(COMPUTE_JOBS);
    for t in tasks {
        latencies.push(t.await.unwrap());
    }
    latencies
}

async fn tokio_compute() -> Vec<Duration> {
    let tasks: Vec<_> = (0..COMPUTE_JOBS)
        .map(|i| {
            tokio::spawn(async move {
                let submitted = Instant::now();
                let (tx, rx) = tokio::sync::oneshot::channel();
                rayon::spawn(move || {
                    let _ = tx.send(std::hint::black_box(i));
                });
                assert_eq!(rx.await.unwrap(), i);
                submitted.elapsed()
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(COMPUTE_JOBS);
    for t in tasks {
        latencies.push(t.await.unwrap());
    }
    latencies
}

// ---- running and reporting ---------------------------------------------------------------------

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn percentile(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() - 1) as f64 * p) as usize]
}

fn row(name: &str, unit: &str, r: f64, t: f64) {
    println!("{name:<18} {unit:<12} {r:>14.0} {t:>14.0} {:>7.2}", r / t);
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
    let wanted = |name: &str| filter.as_ref().is_none_or(|f| name.contains(f.as_str()));
    let rts = Runtimes {
        rycos: rycos::Runtime::builder().worker_threads(2).build().unwrap(),
        tokio: tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap(),
    };
    println!("rycos vs tokio, 2 workers each, median of {runs} alternating runs (ratio = rycos / tokio)");
    println!("{:<18} {:<12} {:>14} {:>14} {:>7}", "workload", "unit", "rycos", "tokio", "ratio");
    let rate = |ops: usize, d: Duration| ops as f64 / d.as_secs_f64();
    if wanted("blocking_burst") {
        let (mut r, mut t) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            r.push(rate(BURST, rts.rycos(rycos_burst()).0));
            t.push(rate(BURST, rts.tokio(tokio_burst()).0));
        }
        row("blocking_burst", "calls/s", median(r), median(t));
    }
    if wanted("blocking_callers") {
        let (mut r, mut t) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            r.push(rate(CALLERS * CALLS_EACH, rts.rycos(rycos_callers()).0));
            t.push(rate(CALLERS * CALLS_EACH, rts.tokio(tokio_callers()).0));
        }
        row("blocking_callers", "calls/s", median(r), median(t));
    }
    if wanted("pipe_256MiB") {
        let (mut r, mut t) = (Vec::new(), Vec::new());
        let (mut r_end, mut t_end) = (Vec::new(), Vec::new());
        let to_end = filter.as_ref().is_none_or(|f| "pipe_256MiB_to_end".contains(f.as_str()));
        for _ in 0..runs {
            r.push(256.0 / rts.rycos(rycos_pipe(ReadBack::FixedBuffer)).0.as_secs_f64());
            t.push(256.0 / rts.tokio(tokio_pipe(ReadBack::FixedBuffer)).0.as_secs_f64());
            if to_end {
                r_end.push(256.0 / rts.rycos(rycos_pipe(ReadBack::ToEnd)).0.as_secs_f64());
                t_end.push(256.0 / rts.tokio(tokio_pipe(ReadBack::ToEnd)).0.as_secs_f64());
            }
        }
        let (r, t) = (median(r), median(t));
        row("pipe_256MiB", "MiB/s", r, t);
        if to_end {
            let (r_end, t_end) = (median(r_end), median(t_end));
            row("pipe_256MiB_to_end", "MiB/s", r_end, t_end);
            println!(
                "{:<18} {:<12} {:>14.2} {:>14.2}",
                "  to_end / fixed",
                "time ratio",
                r / r_end,
                t / t_end
            );
        }
    }
    if wanted("compute_latency") {
        let (mut r, mut t) = (Vec::new(), Vec::new());
        let (mut rp, mut tp) = ((Vec::new(), Vec::new()), (Vec::new(), Vec::new()));
        for _ in 0..runs {
            let (d, mut lat) = rts.rycos(rycos_compute());
            r.push(rate(COMPUTE_JOBS, d));
            rp.0.push(percentile(&mut lat, 0.5).as_secs_f64() * 1e6);
            rp.1.push(percentile(&mut lat, 0.99).as_secs_f64() * 1e6);
            let (d, mut lat) = rts.tokio(tokio_compute());
            t.push(rate(COMPUTE_JOBS, d));
            tp.0.push(percentile(&mut lat, 0.5).as_secs_f64() * 1e6);
            tp.1.push(percentile(&mut lat, 0.99).as_secs_f64() * 1e6);
        }
        row("compute_latency", "jobs/s", median(r), median(t));
        let (r50, r99, t50, t99) = (median(rp.0), median(rp.1), median(tp.0), median(tp.1));
        println!(
            "{:<18} {:<12} {:>14} {:>14} {:>7.2}",
            "  p50 / p99",
            "µs",
            format!("{r50:.0} / {r99:.0}"),
            format!("{t50:.0} / {t99:.0}"),
            t99 / r99
        );
    }
}
