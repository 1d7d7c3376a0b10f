//! Echo servers on rycos and on tokio (plain TCP and TLS) under the same load.
//!
//! ```text
//! cargo bench --bench echo                                   # 5 runs × 10 s, C = 1,000 and 10,000, plain and TLS
//! cargo bench --bench echo -- --runs 3 --secs 5 --connections 1000 --plain
//! ```
//!
//! Each server runs in its own child process (this program with `--serve`), with 2 worker
//! threads, and is started fresh for every measurement. The load generator
//! (`examples/support/loadgen.rs`, on rycos) runs in this process against whichever server is up:
//! C connections each send a 64-byte message and wait for the whole echo, for the duration;
//! only complete, byte-checked echoes count. Runs alternate between the servers, and the
//! figures are medians. The ratio is rycos's round trips per second over tokio's.
//!
//! Each server also reports the CPU time it used (user + system, from `getrusage` when it is
//! told to stop), printed as microseconds per round trip: the cost of an echo independent of
//! how the two cores were shared with the load generator. `--ceiling` adds a third server with
//! no runtime at all (an epoll loop per thread, one `read` and one `write` per echo): the most
//! any server can reach under this load on this machine.

#[path = "servers.rs"]
mod servers;
#[path = "../examples/support/mod.rs"]
mod support;

use clap::Parser;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

#[derive(Parser)]
struct Args {
    /// Runs per server and configuration.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Seconds per run.
    #[arg(long, default_value_t = 10.0)]
    secs: f64,
    /// Connection counts, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    connections: Vec<usize>,
    /// Message size in bytes.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Plain TCP only.
    #[arg(long)]
    plain: bool,
    /// TLS only.
    #[arg(long)]
    tls: bool,
    /// Also measure the no-runtime epoll server (plain TCP only): the ceiling for any server.
    #[arg(long)]
    ceiling: bool,
    /// Serve (internal): "rycos", "tokio" or "epoll".
    #[arg(long, hide = true)]
    serve: Option<String>,
    /// Directory of the PEM files for TLS serving (internal).
    #[arg(long, hide = true)]
    pki: Option<PathBuf>,
    #[arg(long, hide = true)]
    bench: bool,
}

const WORKERS: usize = 2;

fn main() {
    let args = Args::parse();
    if let Some(flavor) = &args.serve {
        support::fdlimit::raise_to_hard_limit(20_000);
        serve(flavor, args.pki.as_deref());
        return;
    }
    support::fdlimit::raise_to_hard_limit(*args.connections.iter().max().unwrap_or(&1000) as u64 + 100);
    let pki_dir = std::env::temp_dir().join(format!("rycos-echo-bench-{}", std::process::id()));
    let pki = support::certs::generate(&pki_dir);
    let modes: Vec<bool> = match (args.plain, args.tls) {
        (true, false) => vec![false],
        (false, true) => vec![true],
        _ => vec![false, true],
    };
    println!(
        "echo: rycos vs tokio servers ({WORKERS} workers each, own process), rycos load generator, {}-byte messages, {} s × {} runs, medians",
        args.size, args.secs, args.runs
    );
    println!(
        "(CPU: user + system microseconds per round trip, used by the server process / by the load generator while it drove that server)"
    );
    println!(
        "{:<14} {:>10} {:>10} {:>7}   {:>21} {:>21}   {:>16}   {:>19}",
        "workload",
        "rycos rt/s",
        "tokio rt/s",
        "ratio",
        "rycos p50/p99/p999 ms",
        "tokio p50/p99/p999 ms",
        "server CPU µs/rt",
        "generator CPU µs/rt"
    );
    for tls in modes {
        for &connections in &args.connections {
            let mut flavors = vec!["rycos", "tokio"];
            if args.ceiling && !tls {
                flavors.push("epoll");
            }
            let mut results: Vec<Vec<Measured>> = vec![Vec::new(); flavors.len()];
            for run in 0..args.runs {
                // Rotate which server goes first.
                for i in 0..flavors.len() {
                    let which = (run + i) % flavors.len();
                    results[which].push(measure(flavors[which], tls, connections, &args, &pki_dir, &pki));
                }
            }
            let medians: Vec<Measured> = results.iter().map(|runs| median(runs)).collect();
            let (r, t) = (&medians[0], &medians[1]);
            let name = format!("{} C={connections}", if tls { "tls" } else { "plain" });
            let ms = |us: u64| us as f64 / 1e3;
            let latency = |m: &Measured| {
                format!("{:.1}/{:.1}/{:.1}", ms(m.report.p50_us), ms(m.report.p99_us), ms(m.report.p999_us))
            };
            println!(
                "{name:<14} {:>10.0} {:>10.0} {:>7.2}   {:>21} {:>21}   {:>16}   {:>19}",
                r.report.round_trips_per_sec,
                t.report.round_trips_per_sec,
                r.report.round_trips_per_sec / t.report.round_trips_per_sec,
                latency(r),
                latency(t),
                format!("{:.2} / {:.2}", r.server_cpu_us_per_round_trip, t.server_cpu_us_per_round_trip),
                format!(
                    "{:.2} / {:.2}",
                    r.generator_cpu_us_per_round_trip, t.generator_cpu_us_per_round_trip
                ),
            );
            if let Some(e) = medians.get(2) {
                println!(
                    "  ceiling (epoll, no runtime): {:.0} rt/s = {:.2}× tokio, {} ms, server CPU {:.2} µs/rt = tokio's / {:.2}",
                    e.report.round_trips_per_sec,
                    e.report.round_trips_per_sec / t.report.round_trips_per_sec,
                    latency(e),
                    e.server_cpu_us_per_round_trip,
                    t.server_cpu_us_per_round_trip / e.server_cpu_us_per_round_trip,
                );
            }
            let errors: u64 = medians.iter().map(|m| m.report.errors).sum();
            if errors > 0 {
                println!("  ({errors} errors in the median runs)");
            }
        }
    }
    let _ = std::fs::remove_dir_all(&pki_dir);
}

/// One run against one server.
#[derive(Clone)]
struct Measured {
    report: support::loadgen::Report,
    /// CPU time (user + system) the server process used, per complete round trip.
    server_cpu_us_per_round_trip: f64,
    /// The same for the load generator (this process, while it ran): the two share two cores,
    /// so a server whose answers cost its client more gets less of them.
    generator_cpu_us_per_round_trip: f64,
}

/// The run with the median throughput, with each latency percentile and the CPU cost replaced
/// by its own median over the runs.
fn median(runs: &[Measured]) -> Measured {
    let mut sorted = runs.to_vec();
    sorted.sort_by(|a, b| a.report.round_trips_per_sec.total_cmp(&b.report.round_trips_per_sec));
    let mut median = sorted[sorted.len() / 2].clone();
    let pick = |f: fn(&support::loadgen::Report) -> u64| {
        let mut v: Vec<u64> = runs.iter().map(|m| f(&m.report)).collect();
        v.sort_unstable();
        v[v.len() / 2]
    };
    median.report.p50_us = pick(|r| r.p50_us);
    median.report.p99_us = pick(|r| r.p99_us);
    median.report.p999_us = pick(|r| r.p999_us);
    let cpu = |f: fn(&Measured) -> f64| {
        let mut v: Vec<f64> = runs.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    median.server_cpu_us_per_round_trip = cpu(|m| m.server_cpu_us_per_round_trip);
    median.generator_cpu_us_per_round_trip = cpu(|m| m.generator_cpu_us_per_round_trip);
    median
}

/// Starts a server, drives it, stops it.
fn measure(
    flavor: &str,
    tls: bool,
    connections: usize,
    args: &Args,
    pki_dir: &Path,
    pki: &support::certs::Pki,
) -> Measured {
    let exe = std::env::current_exe().expect("own path");
    let mut command = Command::new(exe);
    command.args(["--serve", flavor]);
    if tls {
        command.arg("--pki").arg(pki_dir);
    }
    let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("start the server");
    let addr = servers::read_addr(&mut child);
    let connector = tls.then(|| {
        rycos::tls::TlsConnector::builder()
            .root_certificates(&pki.ca)
            .expect("CA")
            .build()
            .expect("connector")
    });
    let rt = rycos::Runtime::new().expect("runtime");
    let config = support::loadgen::Config {
        addr,
        connections,
        size: args.size,
        duration: Duration::from_secs_f64(args.secs),
        tls: connector,
        window: None,
    };
    let generator_cpu_before = servers::cpu_time_us();
    let report = rt.block_on(support::loadgen::run(&config, Arc::new(AtomicU64::new(0))));
    drop(rt);
    let generator_cpu_us = servers::cpu_time_us() - generator_cpu_before;
    let server_cpu_us = servers::stop(child);
    let round_trips = report.round_trips.max(1) as f64;
    Measured {
        report,
        server_cpu_us_per_round_trip: server_cpu_us / round_trips,
        generator_cpu_us_per_round_trip: generator_cpu_us / round_trips,
    }
}

fn rustls_server_config(pki: &Path) -> Arc<rustls::ServerConfig> {
    let chain = rycos::tls::load_certificates(pki.join("server-chain.pem")).expect("chain");
    let key = rycos::tls::load_private_key(pki.join("server-key.pem")).expect("key");
    let config =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("certificate");
    Arc::new(config)
}

fn serve(flavor: &str, pki: Option<&Path>) {
    let std_listener = servers::listener();
    servers::announce(&std_listener);
    match flavor {
        "rycos" => serve_rycos(std_listener, pki),
        "tokio" => serve_tokio(std_listener, pki),
        "epoll" => servers::serve_epoll(std_listener, WORKERS, |read, out| {
            out.extend_from_slice(read);
            true
        }),
        other => panic!("unknown server {other}"),
    }
}

fn serve_rycos(std_listener: std::net::TcpListener, pki: Option<&Path>) {
    let rt = rycos::Runtime::builder().worker_threads(WORKERS).build().expect("runtime");
    let acceptor = pki.map(|dir| rycos::tls::TlsAcceptor::from_config(rustls_server_config(dir)));
    rt.block_on(async move {
        let listener = rycos::net::TcpListener::from_std(std_listener).expect("listener");
        match acceptor {
            None => support::echo::serve(listener).await,
            Some(acceptor) => loop {
                let Ok((tcp, _)) = listener.accept().await else { continue };
                let acceptor = acceptor.clone();
                rycos::spawn(async move {
                    tcp.set_nodelay(true)?;
                    let mut tls = acceptor.accept(tcp).await?;
                    let mut buf = vec![0u8; 16 * 1024];
                    loop {
                        let n = tls.read(&mut buf).await?;
                        if n == 0 {
                            return std::io::Result::Ok(());
                        }
                        tls.write_all(&buf[..n]).await?;
                    }
                });
            },
        }
    });
}

fn serve_tokio(std_listener: std::net::TcpListener, pki: Option<&Path>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .expect("runtime");
    let acceptor = pki.map(|dir| tokio_rustls::TlsAcceptor::from(rustls_server_config(dir)));
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(std_listener).expect("listener");
        loop {
            let Ok((mut tcp, _)) = listener.accept().await else { continue };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                tcp.set_nodelay(true)?;
                let mut buf = vec![0u8; 16 * 1024];
                match acceptor {
                    None => loop {
                        let n = tcp.read(&mut buf).await?;
                        if n == 0 {
                            return std::io::Result::Ok(());
                        }
                        tcp.write_all(&buf[..n]).await?;
                    },
                    Some(acceptor) => {
                        let mut tls = acceptor.accept(tcp).await?;
                        loop {
                            let n = tls.read(&mut buf).await?;
                            if n == 0 {
                                return Ok(());
                            }
                            tls.write_all(&buf[..n]).await?;
                        }
                    }
                }
            });
        }
    });
}
