//! hyper's hello-world server on rycos (`rycos-hyper`) and on tokio (`hyper-util`), driven by
//! `wrk`.
//!
//! ```text
//! cargo bench --bench http                                  # C = 100 and 1,000, 5 runs × 5 s each
//! cargo bench --bench http -- --runs 7 --secs 10 --ceiling
//! ```
//!
//! `wrk` comes from Debian's package (`apt-get install wrk`; `.ci/run` installs it). Each server
//! runs in its own child process (this program with `--serve`) with 2 worker threads and is
//! started fresh for every run; the runs alternate between the servers, each round starting
//! with the other one, and the figures are medians. The same service on both: one
//! `hyper::server::conn::http1` connection per accepted socket, `TCP_NODELAY`, a 13-byte
//! `Hello, World!` body. `wrk` runs one thread (`--wrk-threads`) on the same two cores.
//!
//! Each server reports the CPU time it used, printed as microseconds per request: the cost of
//! a request independent of how the cores were shared. `--ceiling` adds two servers with no
//! runtime: hyper polled straight from an epoll loop per thread (`bare_hyper.rs`: the most any
//! runtime can give hyper here), and an epoll loop writing a canned response for every request
//! head it reads, with no HTTP library (what the kernel allows here).

#[path = "bare_hyper.rs"]
mod bare_hyper;
#[path = "servers.rs"]
mod servers;
#[path = "../examples/support/mod.rs"]
mod support;

use bytes::Bytes;
use clap::Parser;
use http_body_util::Full;
use hyper::{Request, Response};
use std::convert::Infallible;
use std::process::{Command, Stdio};

#[derive(Parser)]
struct Args {
    /// Runs per server and connection count.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Seconds per run.
    #[arg(long, default_value_t = 5.0)]
    secs: f64,
    /// Connection counts, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "100,1000")]
    connections: Vec<usize>,
    /// Threads of wrk.
    #[arg(long, default_value_t = 1)]
    wrk_threads: usize,
    /// Also measure the two ceilings: hyper with no runtime (the most any runtime can give
    /// hyper here), and an epoll server with no runtime and no HTTP library (the most any
    /// server can do).
    #[arg(long)]
    ceiling: bool,
    /// Serve (internal): "rycos", "tokio", "bare-hyper" or "epoll".
    #[arg(long, hide = true)]
    serve: Option<String>,
    #[arg(long, hide = true)]
    bench: bool,
}

const WORKERS: usize = 2;
const BODY: &[u8] = b"Hello, World!";

fn main() {
    let args = Args::parse();
    support::fdlimit::raise_to_hard_limit(4_096);
    if let Some(flavor) = &args.serve {
        serve(flavor);
        return;
    }
    if Command::new("wrk").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_err() {
        eprintln!("this benchmark drives the servers with wrk: install it (Debian: apt-get install wrk)");
        std::process::exit(2);
    }
    println!(
        "http: hyper hello world on rycos and tokio ({WORKERS} workers each, own process), wrk -t{}, {} s × {} runs, medians",
        args.wrk_threads, args.secs, args.runs
    );
    println!("(server CPU: user + system microseconds the server process used per request)");
    println!(
        "{:<10} {:>12} {:>12} {:>7} {:>18} {:>16}",
        "workload", "rycos req/s", "tokio req/s", "ratio", "p99 rycos/tokio", "CPU µs/req"
    );
    for &connections in &args.connections {
        let mut flavors = vec!["rycos", "tokio"];
        if args.ceiling {
            flavors.extend(["bare-hyper", "epoll"]);
        }
        let mut runs: Vec<Vec<Run>> = vec![Vec::new(); flavors.len()];
        for round in 0..args.runs {
            let mut order: Vec<usize> = (0..flavors.len()).collect();
            order.rotate_left(round % flavors.len());
            for i in order {
                runs[i].push(measure(flavors[i], connections, &args));
            }
        }
        let medians: Vec<Run> = runs.iter().map(|r| median(r)).collect();
        let (r, t) = (&medians[0], &medians[1]);
        println!(
            "{:<10} {:>12.0} {:>12.0} {:>7.2} {:>18} {:>16}",
            format!("C={connections}"),
            r.requests_per_s,
            t.requests_per_s,
            r.requests_per_s / t.requests_per_s,
            format!("{:.2} / {:.2} ms", r.p99_ms, t.p99_ms),
            format!("{:.2} / {:.2}", r.cpu_us_per_request, t.cpu_us_per_request),
        );
        println!("  round by round: rycos/tokio {}", Quartiles::of_ratios(&runs[0], &runs[1]));
        let ceilings = ["hyper with no runtime (an epoll loop per thread)", "no runtime, no HTTP library"];
        for (i, (name, c)) in ceilings.iter().zip(medians.iter().skip(2)).enumerate() {
            println!(
                "  ceiling, {name}: {:.0} req/s = {:.2}× tokio, p99 {:.2} ms, CPU {:.2} µs/req",
                c.requests_per_s,
                c.requests_per_s / t.requests_per_s,
                c.p99_ms,
                c.cpu_us_per_request
            );
            println!(
                "    round by round: ceiling/tokio {}; rycos/ceiling {}",
                Quartiles::of_ratios(&runs[2 + i], &runs[1]),
                Quartiles::of_ratios(&runs[0], &runs[2 + i]),
            );
        }
    }
}

/// The spread of a ratio taken run by run within each round (the two runs of a round are
/// seconds apart, so the machine's slower and faster hours cancel out of it).
struct Quartiles {
    lower: f64,
    median: f64,
    upper: f64,
}

impl Quartiles {
    /// `a[k] / b[k]` over the rounds `k`, in requests per second.
    fn of_ratios(a: &[Run], b: &[Run]) -> Quartiles {
        let mut ratios: Vec<f64> =
            a.iter().zip(b).map(|(a, b)| a.requests_per_s / b.requests_per_s).collect();
        ratios.sort_by(f64::total_cmp);
        // Interpolated between the two nearest ranks.
        let at = |q: f64| {
            let rank = (ratios.len() - 1) as f64 * q;
            let (below, above) = (ratios[rank.floor() as usize], ratios[rank.ceil() as usize]);
            below + (above - below) * rank.fract()
        };
        Quartiles { lower: at(0.25), median: at(0.5), upper: at(0.75) }
    }
}

impl std::fmt::Display for Quartiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "median {:.3} (quartiles {:.3}–{:.3})", self.median, self.lower, self.upper)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Run {
    requests_per_s: f64,
    p99_ms: f64,
    cpu_us_per_request: f64,
}

/// The run with the median rate, with the medians of the other figures.
fn median(runs: &[Run]) -> Run {
    let pick = |f: fn(&Run) -> f64| {
        let mut v: Vec<f64> = runs.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    Run {
        requests_per_s: pick(|r| r.requests_per_s),
        p99_ms: pick(|r| r.p99_ms),
        cpu_us_per_request: pick(|r| r.cpu_us_per_request),
    }
}

/// Starts a server, drives it with wrk, stops it.
fn measure(flavor: &str, connections: usize, args: &Args) -> Run {
    let exe = std::env::current_exe().expect("own path");
    let mut child = Command::new(exe)
        .args(["--serve", flavor])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the server");
    let addr = servers::read_addr(&mut child);
    let output = Command::new("wrk")
        .args([
            "-t",
            &args.wrk_threads.to_string(),
            "-c",
            &connections.to_string(),
            "-d",
            &format!("{}s", args.secs),
            "--timeout",
            "10s",
            "--latency",
            &format!("http://{addr}/"),
        ])
        .output()
        .expect("run wrk");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "wrk failed: {report}");
    assert!(!report.contains("Non-2xx"), "{flavor} answered errors: {report}");
    let cpu_us = servers::stop(child);
    let requests: f64 = report
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no request count in {report}"));
    let requests_per_s = field(&report, "Requests/sec:").parse().expect("a rate");
    Run {
        requests_per_s,
        p99_ms: duration_ms(field(&report, "99%")),
        cpu_us_per_request: cpu_us / requests.max(1.0),
    }
}

/// The value after `name` on the first line that starts with it.
fn field<'a>(report: &'a str, name: &str) -> &'a str {
    report
        .lines()
        .find_map(|l| l.trim().strip_prefix(name))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {name:?} in {report}"))
}

/// wrk's durations: `812.00us`, `3.45ms`, `1.20s`.
fn duration_ms(text: &str) -> f64 {
    let split = text.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().unwrap_or_else(|_| panic!("not a duration: {text}"));
    match unit {
        "us" => number / 1e3,
        "ms" => number,
        "s" => number * 1e3,
        "m" => number * 60e3,
        _ => panic!("not a duration: {text}"),
    }
}

/// The response both hyper servers give.
async fn hello(_: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(BODY))))
}

fn serve(flavor: &str) {
    let std_listener = servers::listener();
    servers::announce(&std_listener);
    match flavor {
        "rycos" => serve_rycos(std_listener),
        "tokio" => serve_tokio(std_listener),
        "bare-hyper" => bare_hyper::serve(std_listener, WORKERS),
        "epoll" => servers::serve_epoll(std_listener, WORKERS, answer_heads),
        other => panic!("unknown server {other}"),
    }
}

fn serve_rycos(std_listener: std::net::TcpListener) {
    let rt = rycos::Runtime::builder().worker_threads(WORKERS).build().expect("runtime");
    rt.block_on(async {
        let listener = rycos::net::TcpListener::from_std(std_listener).expect("listener");
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let _ = stream.set_nodelay(true);
            rycos::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(rycos_hyper::RycosIo::new(stream), hyper::service::service_fn(hello))
                    .await;
            });
        }
    });
}

fn serve_tokio(std_listener: std::net::TcpListener) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let listener = tokio::net::TcpListener::from_std(std_listener).expect("listener");
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), hyper::service::service_fn(hello))
                    .await;
            });
        }
    });
}

/// The ceiling's answer: a canned response for every request head in what was read.
fn answer_heads(read: &[u8], out: &mut Vec<u8>) -> bool {
    let heads = read.windows(4).filter(|w| *w == b"\r\n\r\n").count();
    for _ in 0..heads {
        out.extend_from_slice(
            b"HTTP/1.1 200 OK\r\ncontent-length: 13\r\ndate: Sun, 06 Dec 2026 00:00:00 GMT\r\n\r\n",
        );
        out.extend_from_slice(BODY);
    }
    true
}
