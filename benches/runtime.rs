//! The core runtime workloads on rycos and tokio, side by side in one process run.
//!
//! ```text
//! cargo bench --bench runtime                 # every workload, median of 5 runs
//! cargo bench --bench runtime -- ping_pong    # only workloads whose name contains the filter
//! cargo bench --bench runtime -- --runs 3
//! cargo bench --bench runtime -- --pin        # both runtimes' workers pinned, one per CPU
//! RYCOS_BENCH_SPLIT=1 cargo bench --bench runtime -- yield_many   # every run: time, CPU, polls per worker, unparks, steals
//! cargo bench --bench runtime -- --monitor    # with the web monitor serving a live page meanwhile
//! cargo bench --bench runtime -- --instructions   # instructions under callgrind instead of time
//! ```
//!
//! `--monitor` starts `rycos-monitor` on the rycos runtime and a client that does what an open
//! monitor page does: it follows the event stream (a summary a second, each a snapshot of the
//! runtime) and fetches the first page of the task table after every event. Compare runs with
//! and without it for the monitor's cost.
//!
//! Both runtimes get the same number of workers (2 by default, `--workers N`); tokio's
//! current-thread runtime is a third column for the workloads where it matters. Runs alternate
//! between the runtimes and each figure is a median. `ratio` is tokio (multi-thread) divided by
//! rycos for times and bytes, so above 1 means rycos is faster or smaller.
//!
//! `--pin` pins worker `i` of both multi-thread runtimes to CPU `i` (rycos with
//! `Builder::pin_workers`, tokio from `on_thread_start`). Unpinned, Linux sometimes runs both
//! workers of a runtime on one CPU for a whole short run; pinned, both runtimes always get both
//! CPUs, so the ratio measures the runtimes rather than where the kernel put their threads.
//!
//! These are regression measurements on a shared 2-core machine, not absolute truths: compare
//! ratios, not milliseconds.
//!
//! `--instructions` counts what the wall clock here cannot resolve (a cost of 2 % in a run that
//! swings by 20 %): each throughput workload runs once per column in a child process under
//! `valgrind --tool=callgrind` (Debian: `apt-get install valgrind`), one worker, and the
//! instructions of the whole process are printed — rycos, rycos with the web monitor serving a
//! page (the client above, connected before the workload starts), and tokio. Counts repeat
//! to within a few hundred thousand instructions from run to run. Valgrind runs the threads
//! one at a time and ~50× slower, so the monitor's one snapshot a second happens ~50× as often
//! per instruction as it would natively: its column overstates its cost.

use std::future::Future;
use std::time::{Duration, Instant};

const SPAWN_MANY: usize = 1_000_000;
const CHAIN_DEPTH: usize = 100_000;
const YIELD_TASKS: usize = 200;
const YIELDS: usize = 1_000;
const ROUND_TRIPS: u64 = 1_000_000;
const FAN_IN_SENDERS: usize = 1_000;
const FAN_IN_EACH: usize = 1_000;
const IDLE_TASKS: usize = 1_000_000;
const TIMERS: usize = 1_000_000;

/// Workloads that take only a few milliseconds run until rycos has spent this long on them (at
/// most `SHORT_WORKLOAD_RUNS` runs): one descheduled thread distorts a 5 ms run by half, so five
/// runs of it are not enough for a stable median.
const SHORT_WORKLOAD_MS: f64 = 100.0;
const SHORT_WORKLOAD_RUNS: usize = 25;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Flavor {
    Rycos,
    Tokio,
    TokioCurrentThread,
}

struct Options {
    filter: Option<String>,
    runs: usize,
    workers: usize,
    pin: bool,
    monitor: bool,
    instructions: bool,
}

fn options() -> Options {
    let mut opts =
        Options { filter: None, runs: 5, workers: 2, pin: false, monitor: false, instructions: false };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => opts.runs = args.next().and_then(|v| v.parse().ok()).expect("--runs N"),
            "--workers" => opts.workers = args.next().and_then(|v| v.parse().ok()).expect("--workers N"),
            "--pin" => opts.pin = true,
            "--monitor" => opts.monitor = true,
            "--instructions" => opts.instructions = true,
            "--bench" | "--nocapture" => {}
            other if other.starts_with("--") => {}
            other => opts.filter = Some(other.to_owned()),
        }
    }
    opts
}

// ---- running a future on each runtime -------------------------------------------------------

struct Runtimes {
    rycos: rycos::Runtime,
    tokio: tokio::runtime::Runtime,
    tokio_ct: tokio::runtime::Runtime,
}

impl Runtimes {
    fn new(workers: usize, pin: bool) -> Runtimes {
        let mut tokio = tokio::runtime::Builder::new_multi_thread();
        tokio.worker_threads(workers).enable_all();
        if pin {
            let cpus = allowed_cpus();
            let started = std::sync::atomic::AtomicUsize::new(0);
            tokio.on_thread_start(move || {
                let i = started.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let mut set = rustix::thread::CpuSet::new();
                set.set(cpus[i % cpus.len()]);
                rustix::thread::sched_setaffinity(None, &set).expect("pin a tokio worker");
            });
        }
        Runtimes {
            rycos: rycos::Runtime::builder().worker_threads(workers).pin_workers(pin).build().unwrap(),
            tokio: tokio.build().unwrap(),
            tokio_ct: tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap(),
        }
    }
}

/// The CPUs this process may run on.
fn allowed_cpus() -> Vec<usize> {
    let set = rustix::thread::sched_getaffinity(None).expect("sched_getaffinity");
    (0..rustix::thread::CpuSet::MAX_CPU).filter(|&cpu| set.is_set(cpu)).collect()
}

/// Times `body` run as a task on the runtime (the clock runs inside the runtime).
fn time_on<R: Send + 'static, F: Future<Output = R> + Send + 'static>(
    rts: &Runtimes,
    flavor: Flavor,
    body: impl FnOnce() -> F,
) -> Duration {
    let fut = body();
    let timed = async move {
        let start = Instant::now();
        let _ = fut.await;
        start.elapsed()
    };
    match flavor {
        Flavor::Rycos => rts.rycos.block_on(async move { rycos::spawn(timed).await.unwrap() }),
        Flavor::Tokio => rts.tokio.block_on(async move { tokio::spawn(timed).await.unwrap() }),
        Flavor::TokioCurrentThread => {
            rts.tokio_ct.block_on(async move { tokio::spawn(timed).await.unwrap() })
        }
    }
}

// ---- workloads -------------------------------------------------------------------------------

async fn rycos_spawn_many() {
    let handles: Vec<_> = (0..SPAWN_MANY).map(|i| rycos::spawn(async move { i })).collect();
    for h in handles {
        std::hint::black_box(h.await.unwrap());
    }
}

async fn tokio_spawn_many() {
    let handles: Vec<_> = (0..SPAWN_MANY).map(|i| tokio::spawn(async move { i })).collect();
    for h in handles {
        std::hint::black_box(h.await.unwrap());
    }
}

fn rycos_chain(done: rycos::TaskRef<()>, n: usize) {
    if n == 0 {
        done.send(()).unwrap();
    } else {
        rycos::spawn(async move { rycos_chain(done, n - 1) });
    }
}

async fn rycos_chained_spawn() {
    let (me, done) = rycos::spawn_task_joinable(|cx: rycos::Cx<()>| async move {
        let _ = cx.receive().await;
    });
    rycos_chain(me, CHAIN_DEPTH);
    done.await.unwrap();
}

fn tokio_chain(done: tokio::sync::oneshot::Sender<()>, n: usize) {
    if n == 0 {
        done.send(()).unwrap();
    } else {
        tokio::spawn(async move { tokio_chain(done, n - 1) });
    }
}

async fn tokio_chained_spawn() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio_chain(tx, CHAIN_DEPTH);
    rx.await.unwrap();
}

async fn rycos_yield_many() {
    let handles: Vec<_> = (0..YIELD_TASKS)
        .map(|_| {
            rycos::spawn(async {
                for _ in 0..YIELDS {
                    rycos::yield_now().await;
                }
            })
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
}

async fn tokio_yield_many() {
    let handles: Vec<_> = (0..YIELD_TASKS)
        .map(|_| {
            tokio::spawn(async {
                for _ in 0..YIELDS {
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
}

enum Ping {
    Peer(rycos::TaskRef<Ping>),
    N(u64),
}

async fn rycos_ping_pong() {
    let pong = rycos::spawn_task(|cx: rycos::Cx<Ping>| async move {
        let Some(Ping::Peer(peer)) = cx.receive().await else { unreachable!() };
        while let Some(Ping::N(n)) = cx.receive().await {
            if peer.send(Ping::N(n)).is_err() {
                break;
            }
        }
    });
    let (_, ping) = rycos::spawn_task_joinable(move |cx: rycos::Cx<Ping>| async move {
        pong.send(Ping::Peer(cx.me())).unwrap();
        for i in 0..ROUND_TRIPS {
            pong.send(Ping::N(i)).unwrap();
            let Some(Ping::N(back)) = cx.receive().await else { unreachable!() };
            assert_eq!(back, i);
        }
    });
    ping.await.unwrap();
}

async fn tokio_ping_pong() {
    let (to_pong, mut pong_rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
    let (to_ping, mut ping_rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
    tokio::spawn(async move {
        while let Some(n) = pong_rx.recv().await {
            if to_ping.send(n).is_err() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        for i in 0..ROUND_TRIPS {
            to_pong.send(i).unwrap();
            assert_eq!(ping_rx.recv().await, Some(i));
        }
    })
    .await
    .unwrap();
}

async fn rycos_fan_in() {
    let (sink, total) = rycos::spawn_task_joinable(|cx: rycos::Cx<usize>| async move {
        let mut n = 0;
        while cx.receive().await.is_some() {
            n += 1;
        }
        n
    });
    for _ in 0..FAN_IN_SENDERS {
        let sink = sink.clone();
        rycos::spawn(async move {
            for i in 0..FAN_IN_EACH {
                sink.send(i).unwrap();
            }
        });
    }
    drop(sink);
    assert_eq!(total.await.unwrap(), FAN_IN_SENDERS * FAN_IN_EACH);
}

async fn tokio_fan_in() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<usize>();
    let total = tokio::spawn(async move {
        let mut n = 0;
        while rx.recv().await.is_some() {
            n += 1;
        }
        n
    });
    for _ in 0..FAN_IN_SENDERS {
        let tx = tx.clone();
        tokio::spawn(async move {
            for i in 0..FAN_IN_EACH {
                tx.send(i).unwrap();
            }
        });
    }
    drop(tx);
    assert_eq!(total.await.unwrap(), FAN_IN_SENDERS * FAN_IN_EACH);
}

/// Lateness of 1M sleeps spread over 0–1 s: (total time, p99 lateness).
fn timers(rts: &Runtimes, flavor: Flavor) -> (Duration, Duration) {
    fn offset(i: usize) -> Duration {
        Duration::from_micros((i as u64).wrapping_mul(2_654_435_761) % 1_000_000)
    }
    let start = Instant::now();
    let mut lateness: Vec<Duration> = match flavor {
        Flavor::Rycos => rts.rycos.block_on(async {
            let handles: Vec<_> = (0..TIMERS)
                .map(|i| {
                    rycos::spawn(async move {
                        let deadline = Instant::now() + offset(i);
                        rycos::time::sleep_until(deadline).await;
                        deadline.elapsed()
                    })
                })
                .collect();
            let mut out = Vec::with_capacity(TIMERS);
            for h in handles {
                out.push(h.await.unwrap());
            }
            out
        }),
        _ => {
            let rt = if flavor == Flavor::Tokio { &rts.tokio } else { &rts.tokio_ct };
            rt.block_on(async {
                let handles: Vec<_> = (0..TIMERS)
                    .map(|i| {
                        tokio::spawn(async move {
                            let deadline = Instant::now() + offset(i);
                            tokio::time::sleep_until(deadline.into()).await;
                            deadline.elapsed()
                        })
                    })
                    .collect();
                let mut out = Vec::with_capacity(TIMERS);
                for h in handles {
                    out.push(h.await.unwrap());
                }
                out
            })
        }
    };
    let total = start.elapsed();
    lateness.sort_unstable();
    (total, lateness[lateness.len() * 99 / 100])
}

// ---- memory and CPU, measured in child processes ---------------------------------------------

fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS");
    let kb: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) }, 0);
    let tv =
        |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Child process: bytes of RSS per task parked in a receive (with its mailbox / channel).
fn child_idle_tasks(flavor: &str, workers: usize) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let started = Arc::new(AtomicUsize::new(0));
    let per_task = match flavor {
        "rycos" => {
            let rt = rycos::Runtime::builder().worker_threads(workers).build().unwrap();
            let mut refs = Vec::with_capacity(IDLE_TASKS);
            let before = rss_bytes();
            for _ in 0..IDLE_TASKS {
                let s = started.clone();
                refs.push(rt.spawn_task(move |cx: rycos::Cx<u64>| async move {
                    s.fetch_add(1, Ordering::Relaxed);
                    std::hint::black_box(cx.receive().await);
                }));
            }
            while started.load(Ordering::Relaxed) < IDLE_TASKS {
                std::thread::sleep(Duration::from_millis(5));
            }
            let per = (rss_bytes() - before) / IDLE_TASKS;
            std::mem::forget(rt); // exiting the process is faster than tearing down 1M tasks
            std::mem::forget(refs);
            per
        }
        _ => {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(workers).build().unwrap();
            let mut senders = Vec::with_capacity(IDLE_TASKS);
            let before = rss_bytes();
            for _ in 0..IDLE_TASKS {
                let s = started.clone();
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
                senders.push(tx);
                rt.spawn(async move {
                    s.fetch_add(1, Ordering::Relaxed);
                    std::hint::black_box(rx.recv().await);
                });
            }
            while started.load(Ordering::Relaxed) < IDLE_TASKS {
                std::thread::sleep(Duration::from_millis(5));
            }
            let per = (rss_bytes() - before) / IDLE_TASKS;
            std::mem::forget(rt);
            std::mem::forget(senders);
            per
        }
    };
    println!("{per_task}");
}

/// Child process: bytes of RSS per task suspended in `Cx::suspend` (pycos `suspend`); rycos only
/// (tokio has no such primitive).
fn child_suspended_tasks(workers: usize) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let started = Arc::new(AtomicUsize::new(0));
    let rt = rycos::Runtime::builder().worker_threads(workers).build().unwrap();
    let mut refs = Vec::with_capacity(IDLE_TASKS);
    let before = rss_bytes();
    for _ in 0..IDLE_TASKS {
        let s = started.clone();
        refs.push(rt.spawn_task(move |cx: rycos::Cx<u64>| async move {
            s.fetch_add(1, Ordering::Relaxed);
            std::hint::black_box(cx.suspend().await);
        }));
    }
    while started.load(Ordering::Relaxed) < IDLE_TASKS {
        std::thread::sleep(Duration::from_millis(5));
    }
    // Every task has reached its suspend once its poll returned; give the last polls a moment.
    while rt.metrics().local_queue_depth + rt.metrics().global_queue_depth > 0 {
        std::thread::sleep(Duration::from_millis(5));
    }
    println!("{}", (rss_bytes() - before) / IDLE_TASKS);
    std::mem::forget(rt);
    std::mem::forget(refs);
}

/// Child process: percent of one core used by an idle runtime over 5 s.
fn child_idle_cpu(flavor: &str, workers: usize) {
    let keep: Box<dyn std::any::Any> = match flavor {
        "rycos" => {
            let rt = rycos::Runtime::builder().worker_threads(workers).build().unwrap();
            rt.spawn(async {}).join_blocking().unwrap();
            Box::new(rt)
        }
        _ => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async { tokio::spawn(async {}).await.unwrap() });
            Box::new(rt)
        }
    };
    let before = cpu_time();
    std::thread::sleep(Duration::from_secs(5));
    let used = cpu_time() - before;
    drop(keep);
    println!("{:.3}", used.as_secs_f64() / 5.0 * 100.0);
}

fn in_child(kind: &str, flavor: &str, workers: usize) -> f64 {
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args(["--child", kind, flavor, &workers.to_string()])
        .output()
        .expect("run the benchmark child process");
    assert!(out.status.success(), "child failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().parse().expect("child output")
}

// ---- reporting ---------------------------------------------------------------------------------

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn report(name: &str, unit: &str, rycos: f64, tokio: f64, tokio_ct: Option<f64>) {
    let ct = tokio_ct.map_or("-".to_owned(), |v| format!("{v:.1}"));
    // Below the measurement's resolution a ratio says nothing.
    let ratio = if rycos >= 0.05 { format!("{:.2}", tokio / rycos) } else { "-".to_owned() };
    println!("{name:<16} {unit:<11} {rycos:>12.1} {tokio:>12.1} {ct:>12} {ratio:>8}");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--instructions-child") {
        child_instructions(&args[2], &args[3]);
        return;
    }
    if args.get(1).map(String::as_str) == Some("--child") {
        let workers = args[4].parse().unwrap();
        match args[2].as_str() {
            "idle_tasks" => child_idle_tasks(&args[3], workers),
            "idle_cpu" => child_idle_cpu(&args[3], workers),
            "suspended_tasks" => child_suspended_tasks(workers),
            other => panic!("unknown child workload {other}"),
        }
        return;
    }
    let opts = options();
    let wanted = |name: &str| opts.filter.as_ref().is_none_or(|f| name.contains(f.as_str()));
    if opts.instructions {
        count_instructions(&wanted);
        return;
    }
    println!(
        "rycos vs tokio, {} workers each{}, median of {} runs (ratio = tokio / rycos; > 1: rycos better)",
        opts.workers,
        if opts.pin { " pinned to CPUs" } else { "" },
        opts.runs
    );
    println!(
        "{:<16} {:<11} {:>12} {:>12} {:>12} {:>8}",
        "workload", "unit", "rycos", "tokio", "tokio-1t", "ratio"
    );
    let rts = Runtimes::new(opts.workers, opts.pin);
    let _monitor = opts.monitor.then(|| watch_with_monitor(&rts.rycos));

    for name in THROUGHPUT_WORKLOADS {
        if !wanted(name) {
            continue;
        }
        let mut samples: [Vec<f64>; 3] = [Vec::new(), Vec::new(), Vec::new()];
        let mut run = 0;
        while run < opts.runs
            || (run < SHORT_WORKLOAD_RUNS && samples[0].iter().sum::<f64>() < SHORT_WORKLOAD_MS)
        {
            run += 1;
            for (i, flavor) in
                [Flavor::Rycos, Flavor::Tokio, Flavor::TokioCurrentThread].into_iter().enumerate()
            {
                let before = rts.rycos.metrics();
                let cpu_before = cpu_time();
                let ms = time_on(&rts, flavor, || throughput_workload(name, flavor)).as_secs_f64() * 1e3;
                if std::env::var_os("RYCOS_BENCH_SPLIT").is_some() {
                    let cpu = (cpu_time() - cpu_before).as_secs_f64() * 1e3;
                    let after = rts.rycos.metrics();
                    let polls: Vec<u64> =
                        after.worker_polls.iter().zip(&before.worker_polls).map(|(a, b)| a - b).collect();
                    let unparks = after.worker_unparks - before.worker_unparks;
                    let steals = after.worker_steals - before.worker_steals;
                    let split = if flavor == Flavor::Rycos {
                        format!(", polls per worker {polls:?}, unparks {unparks}, steals {steals}")
                    } else {
                        String::new()
                    };
                    println!("  {name} {flavor:?} {ms:.1} ms, CPU {cpu:.1} ms{split}");
                }
                samples[i].push(ms);
            }
        }
        let [r, t, ct] = samples.map(median);
        report(name, "ms", r, t, Some(ct));
        if name == "ping_pong" {
            let rate = |ms: f64| ROUND_TRIPS as f64 / (ms / 1e3) / 1e6;
            println!(
                "{:<16} {:<11} {:>12.2} {:>12.2} {:>12.2}",
                "  ping_pong rate",
                "M trips/s",
                rate(r),
                rate(t),
                rate(ct)
            );
        }
    }

    if wanted("timers") {
        let mut total = [Vec::new(), Vec::new()];
        let mut p99 = [Vec::new(), Vec::new()];
        for _ in 0..opts.runs.min(3) {
            for (i, flavor) in [Flavor::Rycos, Flavor::Tokio].into_iter().enumerate() {
                let (t, late) = timers(&rts, flavor);
                total[i].push(t.as_secs_f64() * 1e3);
                p99[i].push(late.as_secs_f64() * 1e6);
            }
        }
        let [tr, tt] = total.map(median);
        let [pr, pt] = p99.map(median);
        report("timers total", "ms", tr, tt, None);
        report("timers p99 late", "us", pr, pt, None);
    }
    drop(rts);

    if wanted("idle_tasks") {
        let r = median((0..3).map(|_| in_child("idle_tasks", "rycos", opts.workers)).collect());
        let t = median((0..3).map(|_| in_child("idle_tasks", "tokio", opts.workers)).collect());
        report("idle_tasks", "bytes/task", r, t, None);
    }
    if wanted("suspended_tasks") {
        let r = median((0..3).map(|_| in_child("suspended_tasks", "rycos", opts.workers)).collect());
        // pycos 4.12.2, 100,000 tasks suspended in `yield task.suspend()`, on this machine.
        println!(
            "{:<16} {:<11} {r:>12.1} {:>12} {:>12} {:>8}",
            "suspended_tasks", "bytes/task", "pycos 1609", "-", "-"
        );
    }
    if wanted("idle_cpu") {
        let r = in_child("idle_cpu", "rycos", opts.workers);
        let t = in_child("idle_cpu", "tokio", opts.workers);
        println!("{:<16} {:<11} {r:>12.3} {t:>12.3} {:>12} {:>8}", "idle_cpu (5 s)", "% of core", "-", "-");
    }
    if wanted("snapshot") {
        // rycos only: tokio has no counterpart in the library (tokio-console is a separate
        // process fed by tracing).
        for tasks in [10_000, 100_000] {
            let ms = snapshot_ms(opts.workers, tasks);
            let label = format!("snapshot {}k", tasks / 1_000);
            println!("{label:<16} {:<11} {ms:>12.2} {:>12} {:>12} {:>8}", "ms", "-", "-", "-");
        }
    }
}

/// Milliseconds `Runtime::snapshot` takes with `tasks` tasks waiting in `receive` (median of
/// 5; the workers stay free to run).
fn snapshot_ms(workers: usize, tasks: usize) -> f64 {
    let rt = rycos::Runtime::builder().worker_threads(workers).build().unwrap();
    let spawned: Vec<rycos::TaskRef<u32>> = rt.block_on(async {
        (0..tasks)
            .map(|_| rycos::spawn_task(|cx: rycos::Cx<u32>| async move { cx.receive().await }))
            .collect()
    });
    // Listed once each has waited.
    while rt.snapshot().tasks.len() < tasks {
        std::thread::yield_now();
    }
    let times = (0..5)
        .map(|_| {
            let started = Instant::now();
            let snapshot = rt.snapshot();
            let ms = started.elapsed().as_secs_f64() * 1e3;
            assert!(snapshot.tasks.len() >= tasks);
            ms
        })
        .collect();
    for task in &spawned {
        task.terminate();
    }
    median(times)
}

/// Starts the web monitor on `rt` and a client that keeps a page's worth of it busy (see the
/// module docs); the monitor stops when the returned value is dropped.
fn watch_with_monitor(rt: &rycos::Runtime) -> MonitorWatch {
    let monitor = rycos_monitor::serve(rt.handle(), "127.0.0.1:0".parse().unwrap()).expect("monitor");
    let addr = monitor.addr();
    let (connected, first_event) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::{BufRead, BufReader, Read, Write};
        let get = |path: &str| {
            let mut stream = std::net::TcpStream::connect(addr)?;
            write!(stream, "GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n")?;
            let mut answer = Vec::new();
            stream.read_to_end(&mut answer)?;
            Ok::<usize, std::io::Error>(answer.len())
        };
        let Ok(mut events) = std::net::TcpStream::connect(addr) else { return };
        let _ = write!(events, "GET /api/events HTTP/1.1\r\nhost: {addr}\r\n\r\n");
        for line in BufReader::new(events).lines() {
            let Ok(line) = line else { return };
            if line.starts_with("event: summary") {
                let _ = connected.send(());
                if get("/api/tasks?limit=100").is_err() {
                    return;
                }
            }
        }
    });
    // The page is open before the workload starts (the stream sends its first summary at once).
    let _ = first_event.recv();
    println!("(with the web monitor on {addr}, a client following its event stream)");
    MonitorWatch(monitor)
}

struct MonitorWatch(rycos_monitor::Monitor);

// ---- instructions (--instructions) -------------------------------------------------------------

/// The columns of `--instructions`, as the child process takes them.
const INSTRUCTION_COLUMNS: [&str; 3] = ["rycos", "rycos+monitor", "tokio"];

/// The workloads timed (and counted by `--instructions`), by name: see `throughput_workload`.
const THROUGHPUT_WORKLOADS: [&str; 5] = ["spawn_many", "chained_spawn", "yield_many", "ping_pong", "fan_in"];

/// Runs each throughput workload under callgrind, once per column, and prints the counts.
fn count_instructions(wanted: &dyn Fn(&str) -> bool) {
    if std::process::Command::new("valgrind").arg("--version").output().is_err() {
        eprintln!("--instructions needs valgrind (Debian: apt-get install valgrind)");
        std::process::exit(2);
    }
    println!("instructions of the whole process (valgrind --tool=callgrind), 1 worker, one run each");
    println!(
        "{:<16} {:>14} {:>14} {:>9} {:>14} {:>8}",
        "workload", "rycos", "rycos+monitor", "monitor", "tokio", "ratio"
    );
    for name in THROUGHPUT_WORKLOADS.into_iter().filter(|name| wanted(name)) {
        let [rycos, monitored, tokio] = INSTRUCTION_COLUMNS.map(|column| instructions_of(name, column));
        println!(
            "{name:<16} {:>13.1}M {:>13.1}M {:>+8.2}% {:>13.1}M {:>8.2}",
            rycos / 1e6,
            monitored / 1e6,
            (monitored / rycos - 1.0) * 100.0,
            tokio / 1e6,
            tokio / rycos
        );
    }
}

/// The instructions callgrind counted for one child run.
fn instructions_of(workload: &str, column: &str) -> f64 {
    let out = std::process::Command::new("valgrind")
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .arg(std::env::current_exe().unwrap())
        .args(["--instructions-child", workload, column])
        .output()
        .expect("run valgrind");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{workload} on {column} under callgrind failed: {stderr}");
    // "==123== I   refs:      273,049,748"
    let refs = stderr.lines().find_map(|line| line.split("I   refs:").nth(1)).expect("callgrind's total");
    refs.trim().replace(',', "").parse().expect("a count")
}

/// In the child: one run of `workload` on a one-worker runtime of `column`.
fn child_instructions(workload: &str, column: &str) {
    if column == "tokio" {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let body = throughput_workload(workload, Flavor::Tokio);
        rt.block_on(async move { tokio::spawn(body).await.unwrap() });
        return;
    }
    let rt = rycos::Runtime::builder().worker_threads(1).build().unwrap();
    let _monitor = (column == "rycos+monitor").then(|| watch_with_monitor(&rt));
    let body = throughput_workload(workload, Flavor::Rycos);
    rt.block_on(async move { rycos::spawn(body).await.unwrap() });
}

/// The throughput workload `name` for `flavor`'s runtime (tokio's for both tokio flavors).
fn throughput_workload(name: &str, flavor: Flavor) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
    let rycos = flavor == Flavor::Rycos;
    match name {
        "spawn_many" if rycos => Box::pin(rycos_spawn_many()),
        "spawn_many" => Box::pin(tokio_spawn_many()),
        "chained_spawn" if rycos => Box::pin(rycos_chained_spawn()),
        "chained_spawn" => Box::pin(tokio_chained_spawn()),
        "yield_many" if rycos => Box::pin(rycos_yield_many()),
        "yield_many" => Box::pin(tokio_yield_many()),
        "ping_pong" if rycos => Box::pin(rycos_ping_pong()),
        "ping_pong" => Box::pin(tokio_ping_pong()),
        "fan_in" if rycos => Box::pin(rycos_fan_in()),
        "fan_in" => Box::pin(tokio_fan_in()),
        other => panic!("unknown workload {other}"),
    }
}

impl Drop for MonitorWatch {
    fn drop(&mut self) {
        self.0.stop();
    }
}
