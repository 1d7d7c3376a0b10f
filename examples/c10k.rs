//! C10K: a rycos echo server and 10,000 concurrent connections driving it, with live progress
//! and the round trips per second and latency percentiles at the end.
//!
//! ```text
//! cargo run --release --example c10k                      # 10,000 connections, 10 s
//! cargo run --release --example c10k -- --connections 20000 --secs 5
//! cargo run --release --example c10k -- --secs 600 --sample 10   # a soak: CSV + SVG chart
//! ```
//!
//! With `--sample S` it is a soak: every S seconds it records round trips per second, p99, and
//! the server's resident memory and open descriptors, and after the load it watches the
//! descriptors go back to where they were before the connections; the samples go to
//! `target/soak/c10k.csv` and are drawn in `target/soak/c10k.svg` (`--out` for elsewhere).
//!
//! The server runs in a child process (this program, started with `--serve`), so the server
//! and the load generator each have their own file-descriptor limit and their own runtime. Both
//! raise their soft limit on open files to the hard limit.

#[path = "support/logging.rs"]
mod logging;
#[path = "support/soak.rs"]
mod soak;
#[path = "support/mod.rs"]
mod support;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(about = "10,000 concurrent connections against a rycos echo server")]
struct Args {
    /// Concurrent connections.
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    /// Seconds to measure.
    #[arg(long, default_value_t = 10.0)]
    secs: f64,
    /// Bytes per message.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Soak: seconds between samples of the load and the server.
    #[arg(long)]
    sample: Option<f64>,
    /// Where the soak's CSV and chart go.
    #[arg(long, default_value = "target/soak")]
    out: std::path::PathBuf,
    /// Run as the echo server (used internally: the program starts itself with this).
    #[arg(long, hide = true)]
    serve: bool,
}

/// Descriptors a process needs beyond its connections (runtime, stdio, slack).
const SPARE_FDS: u64 = 64;

fn main() -> std::io::Result<()> {
    logging::init();
    let args = Args::parse();
    if args.serve {
        return serve(args.connections);
    }
    let limit = support::fdlimit::raise_to_hard_limit(args.connections as u64 + SPARE_FDS);
    let connections =
        usize::try_from(limit.saturating_sub(SPARE_FDS)).unwrap_or(usize::MAX).min(args.connections);
    if connections < args.connections {
        eprintln!("running with {connections} connections instead of {}", args.connections);
    }

    let mut server = Command::new(std::env::current_exe()?)
        .args(["--serve", "--connections", &connections.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    BufReader::new(server.stdout.take().expect("piped")).read_line(&mut line)?;
    let addr =
        line.trim().parse().map_err(|e| std::io::Error::other(format!("server said {line:?}: {e}")))?;
    println!(
        "rycos echo server at {addr} (child process {}); {connections} connections, {} s",
        server.id(),
        args.secs
    );

    let progress = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let soak = args.sample.map(|every| Soak::start(server.id(), every, progress.clone(), done.clone()));
    let bar = soak.is_none().then(|| spawn_progress(progress.clone(), done.clone(), args.secs));
    let rt = rycos::Runtime::new()?;
    let config = support::loadgen::Config {
        addr,
        connections,
        size: args.size,
        duration: Duration::from_secs_f64(args.secs),
        tls: None,
        window: soak.as_ref().map(|soak| soak.window.clone()),
    };
    let report = rt.block_on(support::loadgen::run(&config, progress));
    done.store(true, Ordering::Relaxed);
    if let Some(bar) = bar {
        let _ = bar.join();
    }
    if let Some(soak) = soak {
        soak.finish(&args, connections)?;
    }

    drop(server.stdin.take()); // the server exits when its stdin closes
    let _ = server.wait();

    println!(
        "{} connections, {}-byte messages, {:.1} s: {:.0} round trips/s",
        report.connections, report.size, report.secs, report.round_trips_per_sec
    );
    if args.sample.is_some() {
        println!("errors: {}", report.errors);
        if report.errors > 0 {
            std::process::exit(1);
        }
        return Ok(());
    }
    println!(
        "latency p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms; errors: {}",
        report.p50_us as f64 / 1e3,
        report.p99_us as f64 / 1e3,
        report.p999_us as f64 / 1e3,
        report.max_us as f64 / 1e3,
        report.errors
    );
    if report.errors > 0 {
        std::process::exit(1);
    }
    Ok(())
}

/// The server side: echo on 127.0.0.1 (port chosen by the system), print the address, and exit
/// when stdin closes.
fn serve(connections: usize) -> std::io::Result<()> {
    support::fdlimit::raise_to_hard_limit(connections as u64 + SPARE_FDS);
    let rt = rycos::Runtime::new()?;
    let listener =
        rt.block_on(async { rycos::net::TcpListener::bind_with_backlog("127.0.0.1:0", 16_384) })?;
    println!("{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    rt.spawn(support::echo::serve(listener));
    // Parent gone or done: stdin reaches end of file.
    let _ = std::io::stdin().lines().count();
    Ok(())
}

/// Shows round trips and the current rate while the load runs.
fn spawn_progress(progress: Arc<AtomicU64>, done: Arc<AtomicBool>, secs: f64) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let bar = ProgressBar::new((secs * 10.0) as u64);
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{bar:40}] {msg}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        // The clock starts with the first echo: before that, connections are being set up.
        let mut measuring_since = None;
        let (mut last, mut last_at) = (0u64, Instant::now());
        while !done.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(200));
            let now_count = progress.load(Ordering::Relaxed);
            let rate = (now_count - last) as f64 / last_at.elapsed().as_secs_f64();
            (last, last_at) = (now_count, Instant::now());
            match measuring_since {
                None if now_count > 0 => measuring_since = Some(Instant::now()),
                None => bar.set_message("connecting"),
                Some(since) => {
                    bar.set_position((since.elapsed().as_secs_f64() * 10.0) as u64);
                    bar.set_message(format!("{now_count} round trips, {rate:.0}/s"));
                }
            }
        }
        bar.finish_and_clear();
    })
}

/// A soak in progress: a thread samples the load and the server every `every` seconds.
struct Soak {
    window: Arc<support::loadgen::Window>,
    sampler: std::thread::JoinHandle<Vec<soak::Sample>>,
    server: u32,
    started: Instant,
}

impl Soak {
    fn start(server: u32, every: f64, progress: Arc<AtomicU64>, done: Arc<AtomicBool>) -> Soak {
        let window = Arc::new(support::loadgen::Window::default());
        let started = Instant::now();
        let sample = move |phase, rate, p99_ms| {
            let (rss_mib, fds) = soak::process_usage(server).unwrap_or((0.0, 0));
            soak::Sample {
                at_secs: started.elapsed().as_secs_f64(),
                phase,
                round_trips_per_sec: rate,
                p99_ms,
                rss_mib,
                fds,
            }
        };
        let baseline = sample("baseline", 0.0, 0.0);
        println!(
            "soak: a sample every {every} s; server {server}: {:.1} MiB, {} fds before the connections",
            baseline.rss_mib, baseline.fds
        );
        let taken = window.clone();
        let sampler = std::thread::spawn(move || {
            let mut samples = vec![baseline];
            let (mut last, mut last_at) = (0u64, Instant::now());
            let period = Duration::from_secs_f64(every);
            while !done.load(Ordering::Relaxed) {
                // Short naps, so the end of the load is seen at once.
                let until = Instant::now() + period;
                while Instant::now() < until && !done.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(50));
                }
                if done.load(Ordering::Relaxed) {
                    break; // a period cut short by the end of the load is not a sample
                }
                let count = progress.load(Ordering::Relaxed);
                let rate = (count - last) as f64 / last_at.elapsed().as_secs_f64();
                (last, last_at) = (count, Instant::now());
                if count == 0 {
                    continue; // still connecting
                }
                let p99_ms = taken.take().value_at_quantile(0.99) as f64 / 1e3;
                let s = sample("load", rate, p99_ms);
                println!(
                    "{:>7.0} s  {:>9.0} rt/s  p99 {:>7.2} ms  server {:>7.1} MiB  {:>6} fds",
                    s.at_secs, s.round_trips_per_sec, s.p99_ms, s.rss_mib, s.fds
                );
                samples.push(s);
            }
            samples
        });
        Soak { window, sampler, server, started }
    }

    /// After the load: watches the server's descriptors return (10 s at most), writes the CSV
    /// and the chart, and says how memory and descriptors behaved.
    fn finish(self, args: &Args, connections: usize) -> std::io::Result<()> {
        let mut samples = self.sampler.join().expect("the sampler does not panic");
        let baseline_fds = samples.first().map_or(0, |s| s.fds);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            std::thread::sleep(Duration::from_millis(500));
            let (rss_mib, fds) = soak::process_usage(self.server)?;
            samples.push(soak::Sample {
                at_secs: self.started.elapsed().as_secs_f64(),
                phase: "after",
                round_trips_per_sec: 0.0,
                p99_ms: 0.0,
                rss_mib,
                fds,
            });
            if fds <= baseline_fds || Instant::now() > deadline {
                break;
            }
        }
        std::fs::create_dir_all(&args.out)?;
        let (csv, svg) = (args.out.join("c10k.csv"), args.out.join("c10k.svg"));
        soak::write_csv(&csv, &samples)?;
        let title =
            format!("c10k soak: {connections} connections, {}-byte echoes, {:.0} s", args.size, args.secs);
        soak::draw_svg(&svg, &samples, &title).map_err(|e| std::io::Error::other(e.to_string()))?;
        let v = soak::verdict(&samples);
        println!(
            "server RSS after warm-up: mean {:.1} MiB, every sample within ±{:.1} %; open fds: {} before, {} at most, {} after the connections closed",
            v.rss_mean_mib, v.rss_deviation_pct, v.fds_baseline, v.fds_peak, v.fds_after
        );
        println!("samples: {}; chart: {}", csv.display(), svg.display());
        Ok(())
    }
}
