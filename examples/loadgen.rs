//! Echo load generator: prints a JSON report of complete, byte-checked round trips.
//!
//! ```text
//! cargo run --release --example loadgen -- --addr 127.0.0.1:7000 --connections 1000 --size 64 --secs 10
//! cargo run --release --example loadgen -- --addr 127.0.0.1:7443 --tls-ca ca.pem
//! ```

#[path = "support/logging.rs"]
mod logging;
#[path = "support/mod.rs"]
mod support;

use clap::Parser;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

#[derive(Parser)]
#[command(about = "Drives an echo server with many connections and reports round trips and latency")]
struct Args {
    /// The echo server.
    #[arg(long, default_value = "127.0.0.1:7000")]
    addr: std::net::SocketAddr,
    /// Concurrent connections.
    #[arg(long, default_value_t = 1000)]
    connections: usize,
    /// Bytes per message.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// How long to measure, in seconds.
    #[arg(long, default_value_t = 10.0)]
    secs: f64,
    /// Worker threads of the load generator (default: one per core).
    #[arg(long)]
    workers: Option<usize>,
    /// Speak TLS, trusting the CA certificates in this PEM file (the server must present a
    /// certificate for `localhost`).
    #[arg(long)]
    tls_ca: Option<std::path::PathBuf>,
}

fn main() -> std::io::Result<()> {
    logging::init();
    let args = Args::parse();
    support::fdlimit::raise_to_hard_limit(args.connections as u64 + 64);
    let mut builder = rycos::Runtime::builder();
    if let Some(n) = args.workers {
        builder = builder.worker_threads(n);
    }
    let rt = builder.build()?;
    let tls = match &args.tls_ca {
        Some(ca) => Some(rycos::tls::TlsConnector::builder().root_certificates(ca)?.build()?),
        None => None,
    };
    let config = support::loadgen::Config {
        addr: args.addr,
        connections: args.connections,
        size: args.size,
        duration: Duration::from_secs_f64(args.secs),
        tls,
        window: None,
    };
    let report = rt.block_on(support::loadgen::run(&config, Arc::new(AtomicU64::new(0))));
    println!("{}", serde_json::to_string(&report).expect("a report serializes"));
    Ok(())
}
