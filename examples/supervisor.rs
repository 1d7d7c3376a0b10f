//! A supervisor that restarts a crashing worker, Erlang/OTP style.
//!
//! The supervisor hands the worker one job at a time and waits for either its reply or its
//! exit notice (it monitors the worker). When the worker panics, the job that killed it is
//! recorded as failed and a fresh worker is started — unless that would be more than
//! `max_restarts` restarts within `period`, in which case the supervisor gives up (in OTP it
//! would escalate to its own supervisor).
//!
//! ```text
//! cargo run --release --example supervisor
//! ```

#[path = "support/logging.rs"]
mod logging;

use rycos::{Cx, Exit, ExitReason, TaskRef};
use std::time::{Duration, Instant};

/// The supervisor's mailbox: replies from the worker, and exit notices.
#[derive(Debug)]
pub enum SupervisorMsg {
    /// The worker finished a job.
    Done(u32),
    /// The monitored worker ended.
    Down(Exit),
}

impl From<Exit> for SupervisorMsg {
    fn from(exit: Exit) -> Self {
        SupervisorMsg::Down(exit)
    }
}

/// At most `max_restarts` restarts within `period`.
#[derive(Clone, Copy, Debug)]
pub struct RestartLimit {
    /// Restarts allowed within the period.
    pub max_restarts: usize,
    /// The sliding window.
    pub period: Duration,
}

/// How the supervisor ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every job was handled or failed.
    Finished { handled: u32, failed: Vec<u32>, restarts: usize },
    /// The restart limit was exceeded at this job.
    GaveUp { at_job: u32, restarts: usize },
}

type Job = (u32, TaskRef<SupervisorMsg>);

/// A worker that squares numbers and crashes on multiples of 7 (input it cannot handle).
fn spawn_worker() -> TaskRef<Job> {
    rycos::task::Builder::new().name("worker").spawn_task(|cx: Cx<Job>| async move {
        while let Some((job, reply_to)) = cx.receive().await {
            if job % 7 == 0 {
                panic!("cannot handle job {job}");
            }
            let _ = reply_to.send(SupervisorMsg::Done(job));
        }
    })
}

/// Supervises a worker through `jobs` jobs.
pub fn run(jobs: u32, limit: RestartLimit) -> Outcome {
    let rt = rycos::Runtime::new().expect("start the runtime");
    let (_supervisor, outcome) = rycos::task::Builder::new()
        .on(rt.handle())
        .name("supervisor")
        .spawn_task_joinable(move |cx: Cx<SupervisorMsg>| async move {
            let start = |cx: &Cx<SupervisorMsg>| {
                let worker = spawn_worker();
                cx.monitor(&worker);
                worker
            };
            let mut worker = start(&cx);
            let mut restarts: Vec<Instant> = Vec::new();
            let (mut handled, mut failed) = (0, Vec::new());
            for job in 1..=jobs {
                if worker.send((job, cx.me())).is_err() {
                    unreachable!("a dead worker is replaced before the next job");
                }
                match cx.receive().await.expect("the supervisor holds its own handle") {
                    SupervisorMsg::Done(done) => {
                        assert_eq!(done, job);
                        handled += 1;
                    }
                    SupervisorMsg::Down(exit) => {
                        if let ExitReason::Panicked(why) = &exit.reason {
                            println!("supervisor: {} crashed ({why})", exit.name.as_deref().unwrap_or("?"));
                        }
                        failed.push(job);
                        let now = Instant::now();
                        restarts.retain(|t| now.duration_since(*t) < limit.period);
                        if restarts.len() >= limit.max_restarts {
                            println!(
                                "supervisor: restart limit ({} in {:?}) reached; giving up",
                                limit.max_restarts, limit.period
                            );
                            return Outcome::GaveUp { at_job: job, restarts: restarts.len() };
                        }
                        restarts.push(now);
                        worker = start(&cx);
                    }
                }
            }
            Outcome::Finished { handled, failed, restarts: restarts.len() }
        });
    outcome.join_blocking().expect("the supervisor itself does not crash")
}

#[allow(dead_code)]
fn main() {
    logging::init();
    let generous = RestartLimit { max_restarts: 10, period: Duration::from_secs(10) };
    println!("with a generous limit: {:?}", run(30, generous));
    let strict = RestartLimit { max_restarts: 2, period: Duration::from_secs(60) };
    println!("with a strict limit:   {:?}", run(30, strict));
}
