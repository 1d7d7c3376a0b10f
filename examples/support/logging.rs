//! Diagnostics for the examples: rycos reports through `tracing` (a task's panic, a peer up or
//! down, a refused handshake) and prints nothing itself. This writes those events to stderr,
//! warnings and errors by default; `RUST_LOG` chooses otherwise (`RUST_LOG=rycos=debug`,
//! `RUST_LOG=rycos::dist=info,warn`).

use tracing_subscriber::EnvFilter;

/// Installs the subscriber; call once, first thing in `main`.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    // `try_`: a test that runs an example's `main` in its own process may have installed one.
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
