//! The examples run as part of the test suite (smaller where they take a size).
// Each example brings its own copy of examples/support/logging.rs.
#![allow(clippy::duplicate_mod)]
mod common;
use common::watchdog;
use std::time::Duration;

#[path = "../examples/client_server.rs"]
mod client_server;
#[path = "../examples/supervisor.rs"]
mod supervisor;
#[path = "../examples/tasks.rs"]
mod tasks;
#[path = "../examples/tour.rs"]
mod tour;

#[test]
fn tasks_example() {
    let _w = watchdog(Duration::from_secs(60));
    assert_eq!(tasks::run(5_000), 5_000);
}

#[test]
fn client_server_example() {
    let _w = watchdog(Duration::from_secs(60));
    let mut received = client_server::run(10, 3);
    assert_eq!(received.len(), 30);
    received.sort();
    received.dedup();
    assert_eq!(received.len(), 30, "no duplicates");
}

#[test]
fn supervisor_example_restarts_then_gives_up() {
    let _w = watchdog(Duration::from_secs(60));
    use supervisor::{Outcome, RestartLimit};
    let generous = RestartLimit { max_restarts: 10, period: Duration::from_secs(10) };
    assert_eq!(
        supervisor::run(30, generous),
        Outcome::Finished { handled: 26, failed: vec![7, 14, 21, 28], restarts: 4 }
    );
    let strict = RestartLimit { max_restarts: 2, period: Duration::from_secs(60) };
    assert_eq!(supervisor::run(30, strict), Outcome::GaveUp { at_job: 21, restarts: 2 });
}

#[test]
fn tour_example() {
    let _w = watchdog(Duration::from_secs(60));
    tour::run();
}
