//! Messages between two processes on loopback: rycos nodes against a raw framed TCP baseline
//! and against `ractor` + `ractor_cluster`.
//!
//! ```text
//! cargo bench --bench remote                              # 5 runs of every workload
//! cargo bench --bench remote -- --runs 3 --messages 1000000 --secs 3 --workers 2 --no-ractor
//! ```
//!
//! A child process (this program with `--serve`) runs a rycos node with two tasks, `sink`
//! (counts one-way messages, answers the count when asked) and `echo` (sends every request's
//! payload back to the reference inside it), a raw TCP server on plain threads, and a ractor
//! node with the same two actors (`remote_ractor.rs`). This process is the client of all
//! three. Runs alternate between the sides; figures are medians, ratios are rycos's rate over
//! the other side's.
//!
//! - **one-way**: one task sends `--messages` 64-byte messages to `sink`, then asks for the
//!   count (which must be all of them); baseline: one thread writes the same number of
//!   length-prefixed 64-byte frames in 64 KiB batches, the server's one thread reads them.
//!   That is the ceiling here: no runtime, no envelope, no per-message work but the copy.
//! - **round trip, 1 outstanding**: one task sends a request carrying its own reference, waits
//!   for the reply, again, for `--secs`; p50 and p99 of the round trip. Baseline: one thread
//!   writes a frame and reads it back (`TCP_NODELAY` both sides).
//! - **round trip, 100 callers**: 100 tasks do the same at once (throughput).
//! - **deliver, 100 callers**: 100 tasks `deliver` to `sink` and wait for each
//!   acknowledgement; the count `sink` reports must equal the delivers that returned `Ok`.
//!
//! Both processes run rycos, and ractor's tokio, with `--workers` threads (default 1: a link's
//! reader, writer and the user's task then share one thread, as the baseline's one thread per
//! side does; on this 2-core machine, two processes of two workers oversubscribe the cores).

#[path = "remote_ractor.rs"]
mod ractor_side;

use clap::Parser;
use hdrhistogram::Histogram;
use rycos::dist::Node;
use rycos::{Cx, SendError, TaskRef};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Args {
    /// Runs of every workload on each side.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// One-way messages per run.
    #[arg(long, default_value_t = 2_000_000)]
    messages: u64,
    /// Seconds per round-trip and deliver run.
    #[arg(long, default_value_t = 3.0)]
    secs: f64,
    /// Worker threads of the rycos runtime in each process.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Workloads to run, comma separated: one-way, round-trip, callers, delivers.
    #[arg(long, value_delimiter = ',', default_value = "one-way,round-trip,callers,delivers")]
    only: Vec<String>,
    /// Leave out the ractor_cluster side.
    #[arg(long = "no-ractor", action = clap::ArgAction::SetFalse)]
    ractor: bool,
    /// Serve (internal).
    #[arg(long, hide = true)]
    serve: bool,
    #[arg(long, hide = true)]
    bench: bool,
}

/// 64 bytes on the wire and no allocation per message: a byte array encoded as one byte string
/// (`serde_bytes`; serde's own arrays go element by element, which costs more than the rest of
/// a remote send).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Payload(#[serde(with = "serde_bytes")] [u8; 64]);

const PAYLOAD: Payload = Payload([7; 64]);
const FRAME: usize = 64;

#[derive(Debug, Serialize, Deserialize)]
enum Sink {
    Data(Payload),
    /// Answer the count so far, and start again from zero.
    Count(TaskRef<u64>),
}

#[derive(Debug, Serialize, Deserialize)]
struct Ping(Payload, TaskRef<Payload>);

const SECRET: &str = "remote-bench";
const LONG: Duration = Duration::from_secs(30);

fn main() {
    let args = Args::parse();
    if args.serve {
        serve(args.workers);
        return;
    }
    let server = Server::start(args.workers);
    let rt = rycos::Runtime::builder().worker_threads(args.workers).build().expect("runtime");
    let (node, sink, echo) = rt.block_on(async {
        let node = node("remote-bench-client").await;
        node.peer(server.node.to_string()).await.expect("link to the server");
        let sink = node.locate::<Sink>("sink", LONG).await.expect("sink");
        let echo = node.locate::<Ping>("echo", LONG).await.expect("echo");
        (node, sink, echo)
    });
    let ractor = args.ractor.then(|| ractor_side::Client::connect(server.ractor, args.workers));
    let secs = Duration::from_secs_f64(args.secs);
    println!(
        "remote: two processes on loopback, {} worker(s) each, 64-byte messages, {} runs, medians",
        args.workers, args.runs
    );
    println!(
        "{:<26} {:>13} {:>13} {:>6} {:>15} {:>7}",
        "workload", "rycos", "raw TCP", "ratio", "ractor_cluster", "ratio"
    );
    let wanted = |workload: &str| args.only.iter().any(|w| w == workload);
    let runs = |workload: &str| if wanted(workload) { args.runs } else { 0 };

    let (mut rycos_rate, mut raw_rate, mut ractor_rate) = (Vec::new(), Vec::new(), Vec::new());
    alternate(
        runs("one-way"),
        &mut [
            &mut || rycos_rate.push(rt.block_on(one_way(&sink, args.messages))),
            &mut || raw_rate.push(raw_one_way(server.raw, args.messages)),
            &mut || ractor_rate.extend(ractor.as_ref().map(|r| r.one_way(args.messages))),
        ],
    );
    if wanted("one-way") {
        row("one-way", &rycos_rate, &raw_rate, &ractor_rate);
    }

    let (mut rycos_rt, mut raw_rt, mut ractor_rt) = (Vec::new(), Vec::new(), Vec::new());
    alternate(
        runs("round-trip"),
        &mut [
            &mut || rycos_rt.push(rt.block_on(round_trips(&echo, secs))),
            &mut || raw_rt.push(raw_round_trips(server.raw, secs)),
            &mut || ractor_rt.extend(ractor.as_ref().map(|r| r.round_trips(secs))),
        ],
    );
    if wanted("round-trip") {
        let rates = |v: &[Trips]| v.iter().map(|t| t.rate).collect::<Vec<_>>();
        row("round trip, 1 outstanding", &rates(&rycos_rt), &rates(&raw_rt), &rates(&ractor_rt));
        let latency = |v: &[Trips]| {
            let p50 = median(&v.iter().map(|t| t.p50_us).collect::<Vec<_>>());
            let p99 = median(&v.iter().map(|t| t.p99_us).collect::<Vec<_>>());
            if v.is_empty() { "-".to_string() } else { format!("{p50:.0} / {p99:.0}") }
        };
        println!(
            "{:<26} {:>13} {:>13} {:>6} {:>15}",
            "  p50 / p99 µs",
            latency(&rycos_rt),
            latency(&raw_rt),
            "",
            latency(&ractor_rt)
        );
    }

    let (mut rycos_callers, mut ractor_callers) = (Vec::new(), Vec::new());
    alternate(
        runs("callers"),
        &mut [&mut || rycos_callers.push(rt.block_on(concurrent_round_trips(&echo, 100, secs))), &mut || {
            ractor_callers.extend(ractor.as_ref().map(|r| r.concurrent_round_trips(100, secs)))
        }],
    );
    if wanted("callers") {
        row("round trip, 100 callers", &rycos_callers, &[], &ractor_callers);
    }
    if wanted("delivers") {
        let rates: Vec<f64> =
            (0..args.runs).map(|_| rt.block_on(concurrent_delivers(&sink, 100, secs))).collect();
        row("deliver, 100 callers", &rates, &[], &[]);
    }

    rt.block_on(node.shutdown());
    drop(server);
}

async fn node(name: &str) -> Node {
    Node::builder()
        .name(name)
        .listen("127.0.0.1:0".parse().unwrap())
        .secret(SECRET)
        .start()
        .await
        .expect("node")
}

/// `messages` one-way sends, then the count; messages per second.
async fn one_way(sink: &TaskRef<Sink>, messages: u64) -> f64 {
    let sink = sink.clone();
    let (_, rate) = rycos::spawn_task_joinable(move |cx: Cx<u64>| async move {
        let started = Instant::now();
        for _ in 0..messages {
            let mut message = Sink::Data(PAYLOAD);
            loop {
                match sink.send(message) {
                    Ok(()) => break,
                    // The link's outbound buffer is full: let its writer run.
                    Err(SendError::Full(back)) => {
                        message = back;
                        rycos::yield_now().await;
                    }
                    Err(e) => panic!("send: {e}"),
                }
            }
        }
        sink.send(Sink::Count(cx.me())).expect("count");
        let counted = cx.receive().await.expect("the count");
        assert_eq!(counted, messages, "every message arrived");
        messages as f64 / started.elapsed().as_secs_f64()
    });
    rate.await.expect("one-way run")
}

/// Round trips and their latency.
struct Trips {
    rate: f64,
    p50_us: f64,
    p99_us: f64,
}

fn trips(histogram: &Histogram<u64>, count: u64, elapsed: Duration) -> Trips {
    Trips {
        rate: count as f64 / elapsed.as_secs_f64(),
        p50_us: histogram.value_at_quantile(0.5) as f64 / 1e3,
        p99_us: histogram.value_at_quantile(0.99) as f64 / 1e3,
    }
}

/// One caller, one request outstanding, for `secs`.
async fn round_trips(echo: &TaskRef<Ping>, secs: Duration) -> Trips {
    let echo = echo.clone();
    let (_, done) = rycos::spawn_task_joinable(move |cx: Cx<Payload>| async move {
        let mut histogram = Histogram::<u64>::new(3).unwrap();
        let started = Instant::now();
        let mut count = 0;
        while started.elapsed() < secs {
            let sent = Instant::now();
            echo.send(Ping(PAYLOAD, cx.me())).expect("request");
            cx.receive().await.expect("reply");
            histogram.record(sent.elapsed().as_nanos() as u64).unwrap();
            count += 1;
        }
        trips(&histogram, count, started.elapsed())
    });
    done.await.expect("round-trip run")
}

/// `callers` tasks doing round trips at once for `secs`; round trips per second.
async fn concurrent_round_trips(echo: &TaskRef<Ping>, callers: usize, secs: Duration) -> f64 {
    let total = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..callers {
        let (echo, total) = (echo.clone(), total.clone());
        let (_, done) = rycos::spawn_task_joinable(move |cx: Cx<Payload>| async move {
            let mut count = 0;
            while started.elapsed() < secs {
                echo.send(Ping(PAYLOAD, cx.me())).expect("request");
                cx.receive().await.expect("reply");
                count += 1;
            }
            total.fetch_add(count, Ordering::Relaxed);
        });
        handles.push(done);
    }
    for done in handles {
        done.await.expect("caller");
    }
    total.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// `callers` tasks delivering to `sink` for `secs`; acknowledged delivers per second (checked
/// against the count `sink` reports).
async fn concurrent_delivers(sink: &TaskRef<Sink>, callers: usize, secs: Duration) -> f64 {
    let total = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..callers {
        let (sink, total) = (sink.clone(), total.clone());
        handles.push(rycos::spawn(async move {
            let mut count = 0;
            while started.elapsed() < secs {
                sink.deliver(Sink::Data(PAYLOAD), LONG).await.expect("deliver");
                count += 1;
            }
            total.fetch_add(count, Ordering::Relaxed);
        }));
    }
    for done in handles {
        done.await.expect("caller");
    }
    let elapsed = started.elapsed();
    let delivered = total.load(Ordering::Relaxed);
    let sink = sink.clone();
    let (_, counted) = rycos::spawn_task_joinable(move |cx: Cx<u64>| async move {
        sink.send(Sink::Count(cx.me())).expect("count");
        cx.receive().await.expect("the count")
    });
    assert_eq!(counted.await.unwrap(), delivered, "every acknowledged deliver was counted once");
    delivered as f64 / elapsed.as_secs_f64()
}

/// A connection to the baseline server in `mode` (`o` one-way, `p` ping-pong), and the frame
/// it carries: a length, then 64 bytes.
fn raw_connect(addr: SocketAddr, mode: u8) -> (TcpStream, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).expect("raw server");
    stream.set_nodelay(true).unwrap();
    stream.write_all(&[mode]).unwrap();
    let mut frame = Vec::with_capacity(4 + FRAME);
    frame.extend_from_slice(&(FRAME as u32).to_le_bytes());
    frame.extend_from_slice(&[7; FRAME]);
    (stream, frame)
}

/// The baseline's one-way run: `messages` frames in 64 KiB writes, then a zero-length frame
/// that the server answers with its count.
fn raw_one_way(addr: SocketAddr, messages: u64) -> f64 {
    let (mut stream, frame) = raw_connect(addr, b'o');
    let per_batch = (64 * 1024) / frame.len();
    let batch: Vec<u8> = frame.iter().copied().cycle().take(frame.len() * per_batch).collect();
    let started = Instant::now();
    let mut left = messages;
    while left > 0 {
        let n = left.min(per_batch as u64);
        stream.write_all(&batch[..n as usize * frame.len()]).unwrap();
        left -= n;
    }
    stream.write_all(&0u32.to_le_bytes()).unwrap();
    let mut count = [0u8; 8];
    stream.read_exact(&mut count).unwrap();
    assert_eq!(u64::from_le_bytes(count), messages, "every frame arrived");
    messages as f64 / started.elapsed().as_secs_f64()
}

/// The baseline's round trips: a frame out, the same frame back, for `secs`.
fn raw_round_trips(addr: SocketAddr, secs: Duration) -> Trips {
    let (mut stream, frame) = raw_connect(addr, b'p');
    let mut back = vec![0u8; frame.len()];
    let mut histogram = Histogram::<u64>::new(3).unwrap();
    let started = Instant::now();
    let mut count = 0;
    while started.elapsed() < secs {
        let sent = Instant::now();
        stream.write_all(&frame).unwrap();
        stream.read_exact(&mut back).unwrap();
        histogram.record(sent.elapsed().as_nanos() as u64).unwrap();
        count += 1;
    }
    trips(&histogram, count, started.elapsed())
}

/// `runs` rounds of every side, each round starting one side later than the last, so that
/// no side always runs first (or always right after the heaviest).
fn alternate(runs: usize, sides: &mut [&mut dyn FnMut()]) {
    for run in 0..runs {
        if run > 0 {
            sides.rotate_left(1);
        }
        sides.iter_mut().for_each(|side| side());
    }
}

/// A table row: rycos's median rate, then each comparison's with rycos's ratio to it (`-`
/// where that side does not run the workload).
fn row(workload: &str, rycos: &[f64], raw: &[f64], ractor: &[f64]) {
    let rate = |v: &[f64]| if v.is_empty() { "-".to_string() } else { format!("{:.0}/s", median(v)) };
    let ratio =
        |v: &[f64]| if v.is_empty() { "-".to_string() } else { format!("{:.2}", median(rycos) / median(v)) };
    println!(
        "{workload:<26} {:>13} {:>13} {:>6} {:>15} {:>7}",
        rate(rycos),
        rate(raw),
        ratio(raw),
        rate(ractor),
        ratio(ractor)
    );
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The child process: its node's and its raw server's addresses.
struct Server {
    child: Child,
    node: SocketAddr,
    raw: SocketAddr,
    ractor: SocketAddr,
}

impl Server {
    fn start(workers: usize) -> Server {
        let exe = std::env::current_exe().expect("own path");
        let mut child = Command::new(exe)
            .args(["--serve", "--workers", &workers.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("the server's addresses");
        let mut words = line.split_whitespace().skip(1);
        let mut addr =
            || words.next().and_then(|w| w.parse().ok()).unwrap_or_else(|| panic!("server said {line:?}"));
        let (node, raw, ractor) = (addr(), addr(), addr());
        Server { child, node, raw, ractor }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Closing its stdin tells it to stop.
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// The child: a node with `sink` and `echo`, and the raw server, until stdin closes.
fn serve(workers: usize) {
    let raw = TcpListener::bind("127.0.0.1:0").expect("raw listener");
    let raw_addr = raw.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in raw.incoming().flatten() {
            std::thread::spawn(move || raw_serve(stream));
        }
    });
    let ractor_addr = SocketAddr::from(([127, 0, 0, 1], ractor_side::serve(workers)));
    let rt = rycos::Runtime::builder().worker_threads(workers).build().expect("runtime");
    rt.block_on(async {
        let node = node("remote-bench-server").await;
        let sink = rycos::spawn_task(|cx: Cx<Sink>| async move {
            let mut count = 0u64;
            while let Some(message) = cx.receive().await {
                match message {
                    Sink::Data(_) => count += 1,
                    Sink::Count(reply) => {
                        let _ = reply.send(std::mem::take(&mut count));
                    }
                }
            }
        });
        node.register("sink", &sink).unwrap();
        let echo = rycos::spawn_task(|cx: Cx<Ping>| async move {
            while let Some(Ping(payload, reply)) = cx.receive().await {
                let _ = reply.send(payload);
            }
        });
        node.register("echo", &echo).unwrap();
        println!("ready {} {raw_addr} {ractor_addr}", node.location().addr());
        // Until the parent closes our stdin.
        let _ = rycos::blocking(|| std::io::stdin().read_to_end(&mut Vec::new())).await;
        node.shutdown().await;
    });
}

/// The baseline server's connection: `o` counts frames until a zero-length one and answers the
/// count; `p` sends every frame back.
fn raw_serve(stream: TcpStream) {
    stream.set_nodelay(true).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::with_capacity(64 * 1024, stream);
    let mut mode = [0u8];
    if reader.read_exact(&mut mode).is_err() {
        return;
    }
    let mut header = [0u8; 4];
    let mut body = vec![0u8; FRAME];
    let mut count = 0u64;
    while reader.read_exact(&mut header).is_ok() {
        let len = u32::from_le_bytes(header) as usize;
        if len == 0 {
            let _ = writer.write_all(&count.to_le_bytes());
            count = 0;
            continue;
        }
        body.resize(len, 0);
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        count += 1;
        if mode[0] == b'p' && (writer.write_all(&header).is_err() || writer.write_all(&body).is_err()) {
            return;
        }
    }
}
