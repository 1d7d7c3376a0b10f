//! A channel transform that panics is reported as a `tracing` error (alone in its binary: it
//! installs the global subscriber).
mod common;
use common::*;
use rycos::channel::Channel;
use std::time::Duration;

#[test]
fn a_panicking_transform_is_reported_through_tracing() {
    use std::sync::{Arc, Mutex};
    let _w = watchdog(Duration::from_secs(10));
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
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).finish();
    // Global, and alone in this binary: tracing caches per call site whether anyone listens.
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let rt = rt(2);
    rt.block_on(async {
        let chan = Channel::builder("reported").transform(|_: &u32| panic!("bad transform")).build().unwrap();
        let (task, _got) = rycos::spawn_task_joinable(|cx: rycos::Cx<u32>| async move { cx.receive().await });
        chan.subscribe(&task).unwrap();
        assert_eq!(chan.send(1).unwrap(), 0);
    });
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("ERROR") && log.contains("channel transform panicked"), "{log}");
    assert!(
        log.contains("reported") && log.contains("bad transform"),
        "names the channel and the panic: {log}"
    );
}
