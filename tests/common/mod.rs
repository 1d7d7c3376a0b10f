//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

pub mod child;
pub mod netns;
pub mod tools;
pub mod tracing_log;
pub mod watchdog;

pub use watchdog::*;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

/// A runtime with `n` workers.
pub fn rt(n: usize) -> rycos::Runtime {
    rycos::Runtime::builder().worker_threads(n).build().unwrap()
}

/// Runs `body` on runtimes with 1, 2 and 4 workers.
pub fn each_flavor(body: impl Fn(&rycos::Runtime)) {
    for n in [1, 2, 4] {
        let rt = rt(n);
        body(&rt);
    }
}

/// Counts how many times values carrying it were dropped.
#[derive(Clone, Default)]
pub struct DropCount(Arc<AtomicUsize>);

impl DropCount {
    pub fn token(&self) -> DropToken {
        DropToken(self.0.clone())
    }
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

pub struct DropToken(Arc<AtomicUsize>);

impl Drop for DropToken {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A one-shot gate: `open` releases every `wait`.
#[derive(Clone, Default)]
pub struct Gate(Arc<(Mutex<bool>, Condvar)>);

impl Gate {
    pub fn open(&self) {
        *self.0.0.lock().unwrap() = true;
        self.0.1.notify_all();
    }
    /// Blocks the calling thread until the gate opens.
    pub fn wait(&self) {
        let guard = self.0.0.lock().unwrap();
        drop(self.0.1.wait_while(guard, |open| !*open).unwrap());
    }
}

/// A future that is pending forever (it never registers a waker, so only cancellation ends it).
pub async fn pending_forever() {
    std::future::pending::<()>().await
}

/// A connected TCP pair on loopback: (client, accepted).
pub async fn pair() -> (rycos::net::TcpStream, rycos::net::TcpStream) {
    let listener = rycos::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let accept = rycos::spawn(async move { listener.accept().await.unwrap().0 });
    let client = rycos::net::TcpStream::connect(addr).await.unwrap();
    (client, accept.await.unwrap())
}

/// A task that keeps every number it receives until `u64::MAX` (not kept), then returns them:
/// what the distribution tests send through breaking links and compare with what they sent.
pub fn collect_until_max() -> (rycos::TaskRef<u64>, rycos::JoinHandle<Vec<u64>>) {
    rycos::spawn_task_joinable(|cx: rycos::Cx<u64>| async move {
        let mut seen = Vec::new();
        while let Some(n) = cx.receive().await {
            if n == u64::MAX {
                break;
            }
            seen.push(n);
        }
        seen
    })
}
