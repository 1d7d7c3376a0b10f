//! pycos `hotswap.py`: a server task's message handler is replaced twice while clients keep
//! sending. The mailbox, with whatever is queued in it, passes to the new code; every request
//! is answered exactly once, and each answer says which version of the code handled it.
//!
//! ```text
//! cargo run --release --example hotswap
//! ```

#[path = "support/logging.rs"]
mod logging;

use rycos::task::Builder;
use rycos::{Cx, TaskRef};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A request: (client, sequence number, where to answer).
pub type Request = (u32, u32, TaskRef<Answer>);
/// An answer: (code version, client, sequence number).
pub type Answer = (u32, u32, u32);

/// Version `version` of the server code: answers requests, allowing swaps between them, and
/// counts its answers in `answered`.
async fn server(cx: Cx<Request>, version: u32, answered: Arc<AtomicUsize>) {
    cx.hot_swappable(true);
    while let Some((client, n, reply)) = cx.receive().await {
        let _ = reply.send((version, client, n));
        answered.fetch_add(1, Ordering::Relaxed);
    }
}

/// What happened, per client: the answers in arrival order.
pub async fn run(clients: u32, requests: u32) -> Vec<Vec<Answer>> {
    {
        let answered = Arc::new(AtomicUsize::new(0));
        let first = answered.clone();
        let server_ref =
            Builder::new().name("server").spawn_task(move |cx: Cx<Request>| server(cx, 1, first));
        let mut handles = Vec::new();
        for client in 0..clients {
            let server_ref = server_ref.clone();
            let (_, answers) = rycos::spawn_task_joinable(move |cx: Cx<Answer>| async move {
                let mut answers = Vec::new();
                for n in 0..requests {
                    server_ref.send((client, n, cx.me())).expect("the server is alive");
                    if n % 16 == 0 {
                        // Collect what has arrived so far; keep requests in flight.
                        while let Ok(answer) = cx.try_receive() {
                            answers.push(answer);
                        }
                        rycos::yield_now().await;
                    }
                }
                while answers.len() < requests as usize {
                    answers.push(cx.receive().await.expect("an answer"));
                }
                answers
            });
            handles.push(answers);
        }
        let total = (clients * requests) as usize;
        for version in 2..=3 {
            // Swap at a third and at two thirds of the way, while requests keep coming.
            while answered.load(Ordering::Relaxed) < total * (version as usize - 1) / 3 {
                rycos::yield_now().await;
            }
            let answered = answered.clone();
            server_ref.hot_swap(move |cx: Cx<Request>| server(cx, version, answered)).await.expect("swapped");
            println!(
                "server code is now version {version} (task {:?}, still named {:?}), {} requests queued",
                server_ref.id(),
                server_ref.name(),
                server_ref.pending_messages()
            );
        }
        let mut all = Vec::new();
        for h in handles {
            all.push(h.await.expect("client finished"));
        }
        all
    }
}

/// Checks that every client got each of its `requests` answers exactly once, in order, with
/// code versions that never go back; returns how many answers each version gave.
pub fn verify(answers: &[Vec<Answer>], requests: u32) -> Result<[usize; 4], String> {
    let mut by_version = [0usize; 4];
    for (client, got) in answers.iter().enumerate() {
        let numbers: Vec<u32> = got.iter().map(|&(_, _, n)| n).collect();
        if numbers != (0..requests).collect::<Vec<_>>() {
            return Err(format!("client {client}: answers lost, repeated or out of order"));
        }
        if got.windows(2).any(|w| w[1].0 < w[0].0) {
            return Err(format!("client {client}: an older version answered after a newer one"));
        }
        for &(version, _, _) in got {
            by_version[version as usize] += 1;
        }
    }
    Ok(by_version)
}

#[allow(dead_code)]
fn main() {
    logging::init();
    let requests = 50_000;
    let answers = rycos::block_on(run(8, requests));
    match verify(&answers, requests) {
        Ok(by_version) => println!(
            "{} answers: {} by version 1, {} by version 2, {} by version 3; none lost, none twice",
            answers.iter().map(Vec::len).sum::<usize>(),
            by_version[1],
            by_version[2],
            by_version[3]
        ),
        Err(problem) => {
            eprintln!("{problem}");
            std::process::exit(1);
        }
    }
}
