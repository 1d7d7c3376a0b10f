//! The echo load generator: `connections` connections, each sending a `size`-byte message and
//! waiting for the whole echo, over and over, for `duration`. Only complete echoes whose bytes
//! match are counted. Runs on rycos, whichever server it measures.

use futures::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use hdrhistogram::Histogram;
use rycos::net::TcpStream;
use rycos::tls::TlsConnector;
use rycos::{Cx, TaskRef};
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What to run.
#[derive(Clone, Debug)]
pub struct Config {
    pub addr: SocketAddr,
    pub connections: usize,
    pub size: usize,
    pub duration: Duration,
    /// Speak TLS (to a server for `localhost`) with this connector.
    pub tls: Option<TlsConnector>,
    /// Record latencies here instead of keeping them per connection (a soak: hours of echoes
    /// would not fit in memory, and a sampler reads the window as the load runs). The
    /// report's percentiles are then empty (0): the sampler has them.
    pub window: Option<Arc<Window>>,
}

/// Latencies since a sampler last took them, in shards so that thousands of connections do not
/// queue for one lock.
pub struct Window {
    shards: Vec<std::sync::Mutex<Histogram<u64>>>,
}

impl std::fmt::Debug for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Window").field("shards", &self.shards.len()).finish()
    }
}

impl Default for Window {
    fn default() -> Self {
        Window { shards: (0..16).map(|_| std::sync::Mutex::new(latency_histogram())).collect() }
    }
}

impl Window {
    fn record(&self, connection: usize, micros: u64) {
        let shard = &self.shards[connection % self.shards.len()];
        shard.lock().unwrap_or_else(|e| e.into_inner()).saturating_record(micros);
    }

    /// The latencies (µs) recorded since the last call, and a fresh window.
    pub fn take(&self) -> Histogram<u64> {
        let mut all = latency_histogram();
        for shard in &self.shards {
            let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            all.add(&*shard).expect("same bounds");
            shard.reset();
        }
        all
    }
}

/// A histogram of latencies in microseconds, up to a minute.
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds")
}

/// What happened, in the JSON the load generator prints.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub connections: usize,
    pub size: usize,
    pub secs: f64,
    /// Complete, byte-checked echoes.
    pub round_trips: u64,
    pub round_trips_per_sec: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
    /// Connections that failed to connect, and echoes that failed or came back wrong.
    pub errors: u64,
}

enum Control {
    Go(Instant),
}

/// A connection task reports whether it connected.
enum Up {
    Connected,
    Failed,
}

/// Runs the load on the current runtime; `progress` is bumped once per completed echo.
pub async fn run(config: &Config, progress: Arc<AtomicU64>) -> Report {
    let config = config.clone();
    let (_, report) = rycos::spawn_task_joinable(move |cx: Cx<Up>| coordinate(cx, config, progress));
    report.await.expect("the load generator does not panic")
}

/// Starts the connections, waits until all are up, lets them run, and collects the latencies.
async fn coordinate(cx: Cx<Up>, config: Config, progress: Arc<AtomicU64>) -> Report {
    let coordinator = cx.me();
    let errors = Arc::new(AtomicU64::new(0));
    let mut workers: Vec<(TaskRef<Control>, rycos::JoinHandle<Vec<u32>>)> =
        Vec::with_capacity(config.connections);
    for i in 0..config.connections {
        let (up, addr, size) = (coordinator.clone(), config.addr, config.size);
        let (progress, errors) = (progress.clone(), errors.clone());
        let payload: Vec<u8> = (0..size).map(|b| (b as u8).wrapping_mul(31).wrapping_add(i as u8)).collect();
        let tls = config.tls.clone();
        let window = config.window.clone().map(|window| (window, i));
        workers.push(rycos::spawn_task_joinable(move |cx: Cx<Control>| async move {
            let conn = match connect(addr, tls.as_ref()).await {
                Ok(conn) => {
                    let _ = up.send(Up::Connected);
                    conn
                }
                Err(_) => {
                    let _ = up.send(Up::Failed);
                    errors.fetch_add(1, Ordering::Relaxed);
                    return Vec::new();
                }
            };
            drop(up);
            let Some(Control::Go(deadline)) = cx.receive().await else { return Vec::new() };
            match conn {
                Conn::Plain(mut tcp) => {
                    echo_loop(&mut tcp, &payload, deadline, &progress, &errors, window).await
                }
                Conn::Tls(mut tls) => {
                    echo_loop(&mut *tls, &payload, deadline, &progress, &errors, window).await
                }
            }
        }));
    }
    drop(coordinator);
    // Start measuring when every connection is up (or failed).
    let mut settled = 0;
    while settled < config.connections {
        match cx.receive().await {
            Some(_) => settled += 1,
            None => break,
        }
    }
    let start = Instant::now();
    let echoes_before = progress.load(Ordering::Relaxed);
    let deadline = start + config.duration;
    for (task, _) in &workers {
        let _ = task.send(Control::Go(deadline));
    }
    let mut histogram = latency_histogram();
    let mut round_trips = 0u64;
    for (task, join) in workers {
        drop(task);
        for latency in join.await.unwrap_or_default() {
            histogram.saturating_record(u64::from(latency));
            round_trips += 1;
        }
    }
    if config.window.is_some() {
        // The latencies went to the window; the count is in `progress`.
        round_trips = progress.load(Ordering::Relaxed) - echoes_before;
    }
    let secs = start.elapsed().as_secs_f64().max(config.duration.as_secs_f64());
    Report {
        connections: config.connections,
        size: config.size,
        secs,
        round_trips,
        round_trips_per_sec: round_trips as f64 / config.duration.as_secs_f64(),
        p50_us: histogram.value_at_quantile(0.50),
        p99_us: histogram.value_at_quantile(0.99),
        p999_us: histogram.value_at_quantile(0.999),
        max_us: histogram.max(),
        errors: errors.load(Ordering::Relaxed),
    }
}

enum Conn {
    Plain(TcpStream),
    Tls(Box<rycos::tls::TlsStream>),
}

/// Sends the payload and waits for its echo until the deadline; returns the latencies (µs), or
/// records them in `window` (with this connection's number) and returns none.
async fn echo_loop<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut S,
    payload: &[u8],
    deadline: Instant,
    progress: &AtomicU64,
    errors: &AtomicU64,
    window: Option<(Arc<Window>, usize)>,
) -> Vec<u32> {
    let mut latencies = Vec::new();
    let mut echo = vec![0u8; payload.len()];
    while Instant::now() < deadline {
        let start = Instant::now();
        let ok = async {
            conn.write_all(payload).await?;
            conn.flush().await?;
            conn.read_exact(&mut echo).await
        }
        .await
        .is_ok();
        if !ok || echo != payload {
            errors.fetch_add(1, Ordering::Relaxed);
            break;
        }
        let micros = u32::try_from(start.elapsed().as_micros()).unwrap_or(u32::MAX);
        match &window {
            Some((window, connection)) => window.record(*connection, u64::from(micros)),
            None => latencies.push(micros),
        }
        progress.fetch_add(1, Ordering::Relaxed);
    }
    latencies
}

/// Connects (and shakes hands), retrying a few times: a burst of thousands of connects can
/// overflow the server's backlog for a moment.
async fn connect(addr: SocketAddr, tls: Option<&TlsConnector>) -> std::io::Result<Conn> {
    let mut attempt = 0;
    loop {
        let connected = async {
            let tcp = TcpStream::connect_timeout(addr, Duration::from_secs(10)).await?;
            tcp.set_nodelay(true)?;
            match tls {
                None => Ok(Conn::Plain(tcp)),
                Some(connector) => {
                    let handshake = connector.connect("localhost", tcp);
                    Ok(Conn::Tls(Box::new(rycos::time::timeout(Duration::from_secs(10), handshake).await??)))
                }
            }
        }
        .await;
        match connected {
            Ok(conn) => return Ok(conn),
            Err(_) if attempt < 5 => {
                attempt += 1;
                rycos::time::sleep(Duration::from_millis(20 << attempt)).await;
            }
            Err(e) => return Err(e),
        }
    }
}
