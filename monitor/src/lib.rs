//! A live web monitor for [rycos]: a runtime's workers and tasks (with their mailboxes), and a
//! node's peers and names, on a page served by rycos itself (through hyper, `rycos-hyper`).
//! Nothing to install: the page, its script and its style are in the binary, and it loads
//! nothing from anywhere else.
//!
//! ```no_run
//! let rt = rycos::Runtime::new().unwrap();
//! let monitor = rt.block_on(async {
//!     rycos_monitor::serve(rt.handle(), "127.0.0.1:8181".parse().unwrap()).unwrap()
//! });
//! println!("monitor on {}", monitor.url());
//! ```
//!
//! # Safe by default
//!
//! - It listens where it is told; [`Monitor::builder`] starts from `127.0.0.1:0`. Listening
//!   beyond loopback is allowed, and logged as a warning.
//! - It is read-only unless started with a [token](MonitorBuilder::token). With one, the page
//!   offers to terminate a task: it takes the token from its URL's fragment
//!   (`http://host:port/#token=…`, never sent to any server by the browser), keeps it in the
//!   tab's session storage, and sends it only to its own origin, in an `Authorization: Bearer`
//!   header. The server checks the token in constant time and refuses requests whose `Origin`
//!   is another site's.
//! - Every response forbids framing and sniffing, and the page's content security policy
//!   allows only its own script, style and API.
//!
//! # The page
//!
//! Counts by task state, the workers (polls, steals, wake-ups, queue, parked or running), a
//! task table of every listed task (sorted by any column, filtered by name and state, 100 rows
//! a page, so 100,000 tasks stay usable), a task's detail (state, mailbox, polls, age, idle
//! time, spawn location, monitors), and, with a node, its peers (link state, round-trip time,
//! traffic, unacknowledged bytes) and shared names. It updates from a server-sent event stream
//! once a [period](MonitorBuilder::period); it never reloads.
//!
//! # The JSON API (what the page reads; for scripts too)
//!
//! | request | answer |
//! |---|---|
//! | `GET /api/runtime` | `{uptime_ms, live_tasks, states: {running, queued, receiving, suspended, waiting}, queued_messages, global_queue, timers, workers: [{index, polls, steals, unparks, queued, parked, running}], node?}` |
//! | `GET /api/tasks?name=&state=&sort=&order=&offset=&limit=` | `{total, matched, offset, tasks: [Task]}`; `name`: a case-insensitive part of the name; `state`: one of the states (or `all`); `sort`: `id` (default), `name`, `state`, `mailbox`, `polls`, `age`, `idle`; `order`: `asc` (default) or `desc`; `limit`: 1–1000 (default 100) |
//! | `GET /api/tasks/{id}` | `Task`: `{id, name, state, mailbox, polls, age_ms, idle_ms, daemon, spawned_at, exit_hooks}` (`mailbox` is `null` for a task without one; `exit_hooks` counts its monitors, names and exports) |
//! | `GET /api/node` | `{location, peers: [{location, state, rtt_us, bytes_in, bytes_out, messages_in, messages_out, unacknowledged}], names: [{name, task, type_name}]}` |
//! | `GET /api/events` | `text/event-stream`: a `summary` event (the `/api/runtime` object) at once and every period |
//! | `POST /api/tasks/{id}/terminate` | with the token: `{"terminated": bool}` (false: it had ended) |
//!
//! Errors are `{"error": "…"}` with 400 (a bad query), 401 (no or a wrong token), 403 (another
//! origin, or a read-only monitor), 404 (no such task, no node, no such path) or 405.
//!
//! [rycos]: https://docs.rs/rycos

mod api;
mod assets;
mod events;
mod server;

pub use api::MAX_LIMIT;

use rycos::Handle;
use rycos::dist::Node;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often the page's event stream sends a summary unless told otherwise.
pub const DEFAULT_PERIOD: Duration = Duration::from_secs(1);

/// Starts a read-only monitor of `runtime` on `addr` (its task runs on `runtime`); see
/// [`Monitor::builder`] for the other settings.
pub fn serve(runtime: &Handle, addr: SocketAddr) -> std::io::Result<Monitor> {
    Monitor::builder().addr(addr).start(runtime)
}

/// A running monitor. Dropping it does not stop it; [`stop`](Monitor::stop) does.
#[derive(Debug, Clone)]
pub struct Monitor {
    shared: Arc<server::Shared>,
    addr: SocketAddr,
}

/// Settings of a monitor.
#[derive(Debug, Clone)]
pub struct MonitorBuilder {
    addr: SocketAddr,
    token: Option<String>,
    node: Option<Node>,
    period: Duration,
}

impl Monitor {
    /// Settings, starting from `127.0.0.1:0`, read-only, no node, [`DEFAULT_PERIOD`].
    pub fn builder() -> MonitorBuilder {
        MonitorBuilder {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            token: None,
            node: None,
            period: DEFAULT_PERIOD,
        }
    }

    /// Shows `node`'s peers and names too (replacing any node shown before).
    pub fn with_node(self, node: &Node) -> Monitor {
        *self.shared.node.lock().unwrap_or_else(|e| e.into_inner()) = Some(node.clone());
        self
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The page's address (`http://addr/`).
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Stops accepting connections and ends the event streams (their next event is not sent).
    pub fn stop(&self) {
        self.shared.stop();
    }
}

impl MonitorBuilder {
    /// Where to listen (port 0: any free port; [`Monitor::addr`] says which).
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Allows actions (terminating a task) to requests that carry this token.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Shows `node`'s peers and names.
    pub fn node(mut self, node: &Node) -> Self {
        self.node = Some(node.clone());
        self
    }

    /// How often the event stream sends a summary (at least 50 ms).
    pub fn period(mut self, period: Duration) -> Self {
        self.period = period.max(Duration::from_millis(50));
        self
    }

    /// Binds and starts serving on `runtime`.
    pub fn start(self, runtime: &Handle) -> std::io::Result<Monitor> {
        let listener = {
            let _in_runtime = runtime.enter();
            rycos::net::TcpListener::bind(self.addr)?
        };
        let addr = listener.local_addr()?;
        if !addr.ip().is_loopback() {
            tracing::warn!(target: "rycos::monitor", %addr, read_only = self.token.is_none(),
                "the monitor listens beyond loopback");
        }
        if self.token.as_deref().is_some_and(str::is_empty) {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "an empty monitor token"));
        }
        let shared =
            Arc::new(server::Shared::new(runtime.clone(), self.token, Mutex::new(self.node), self.period));
        runtime.spawn(server::accept_loop(shared.clone(), listener));
        Ok(Monitor { shared, addr })
    }
}
