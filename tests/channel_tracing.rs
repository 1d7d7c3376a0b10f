//! A channel transform that panics is reported as a `tracing` error (alone in its binary: it
//! installs the global subscriber).
mod common;
use common::*;
use rycos::channel::Channel;
use std::time::Duration;

#[test]
fn a_panicking_transform_is_reported_through_tracing() {
    let _w = watchdog(Duration::from_secs(10));
    let log = common::tracing_log::CapturedLog::install();
    let rt = rt(2);
    rt.block_on(async {
        let chan = Channel::builder("reported").transform(|_: &u32| panic!("bad transform")).build().unwrap();
        let (task, _got) = rycos::spawn_task_joinable(|cx: rycos::Cx<u32>| async move { cx.receive().await });
        chan.subscribe(&task).unwrap();
        assert_eq!(chan.send(1).unwrap(), 0);
    });
    let log = log.text();
    assert!(log.contains("ERROR") && log.contains("channel transform panicked"), "{log}");
    assert!(
        log.contains("reported") && log.contains("bad transform"),
        "names the channel and the panic: {log}"
    );
}
