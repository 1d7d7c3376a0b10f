//! A panicking task is reported as a `tracing` error with its id, name, spawn location and
//! message (alone in its binary: it installs the global subscriber).
mod common;
use common::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Collects what the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_task_panic_is_an_error_event_with_the_task_and_the_message() {
    let _w = watchdog(Duration::from_secs(10));
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).finish();
    // Global, and alone in this binary: tracing caches per call site whether anyone listens.
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let rt = rt(2);
    let (id, line) = rt.block_on(async {
        let handle = rycos::task::Builder::new().name("doomed").spawn(async { panic!("out of cheese") });
        let line = line!() - 1;
        let id = handle.id();
        assert!(handle.await.unwrap_err().is_panic());
        (id, line)
    });
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
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
