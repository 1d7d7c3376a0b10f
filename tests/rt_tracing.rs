//! A panicking task is reported as a `tracing` error with its id, name, spawn location and
//! message (alone in its binary: it installs the global subscriber).
mod common;
use common::tracing_log::CapturedLog;
use common::*;
use std::time::Duration;

#[test]
fn a_task_panic_is_an_error_event_with_the_task_and_the_message() {
    let _w = watchdog(Duration::from_secs(10));
    let log = CapturedLog::install();
    let rt = rt(2);
    let (id, line) = rt.block_on(async {
        let handle = rycos::task::Builder::new().name("doomed").spawn(async { panic!("out of cheese") });
        let line = line!() - 1;
        let id = handle.id();
        assert!(handle.await.unwrap_err().is_panic());
        (id, line)
    });
    let log = log.text();
    let event =
        log.lines().find(|l| l.contains("task panicked")).unwrap_or_else(|| panic!("no event: {log}"));
    assert!(event.contains("ERROR"), "{event}");
    assert!(event.contains(&format!("task={id}")), "the task's id: {event}");
    assert!(event.contains("name=\"doomed\""), "its name: {event}");
    assert!(event.contains(&format!("{}:{line}", file!())), "where it was spawned: {event}");
    assert!(event.contains("out of cheese"), "the panic message: {event}");
    // The runtime goes on.
    assert_eq!(rt.block_on(async { rycos::spawn(async { 7 }).await.unwrap() }), 7);
}
