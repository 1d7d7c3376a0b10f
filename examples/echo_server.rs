//! pycos `echo_server`: a TCP server that sends back whatever it receives.
//!
//! ```text
//! cargo run --release --example echo_server -- --addr 127.0.0.1:7000
//! ```

#[path = "support/logging.rs"]
mod logging;
#[path = "support/mod.rs"]
mod support;

use clap::Parser;

#[derive(Parser)]
#[command(about = "A rycos TCP echo server")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7000")]
    addr: String,
    /// Worker threads (default: one per core).
    #[arg(long)]
    workers: Option<usize>,
}

fn main() -> std::io::Result<()> {
    logging::init();
    let args = Args::parse();
    support::fdlimit::raise_to_hard_limit(1024);
    let mut builder = rycos::Runtime::builder();
    if let Some(n) = args.workers {
        builder = builder.worker_threads(n);
    }
    let rt = builder.build()?;
    rt.block_on(async {
        let listener = rycos::net::TcpListener::bind_with_backlog(&args.addr, 4096)?;
        println!("echo server listening on {}", listener.local_addr()?);
        support::echo::serve(listener).await;
        Ok(())
    })
}
