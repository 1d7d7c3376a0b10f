//! Monitors: an `Exit` arrives in the monitoring task's mailbox however the target ends.
mod common;
use common::*;
use rycos::{AnyTaskRef, Cx, Exit, ExitReason, TaskRef};
use std::time::Duration;

#[derive(Debug)]
enum Msg {
    Watch(AnyTaskRef),
    Down(Exit),
}

impl From<Exit> for Msg {
    fn from(e: Exit) -> Self {
        Msg::Down(e)
    }
}

/// A task that monitors whatever it is told to watch and returns the first `expected` exits.
fn watcher(
    rt: &rycos::Runtime,
    expected: usize,
    capacity: Option<usize>,
) -> (TaskRef<Msg>, rycos::JoinHandle<Vec<Exit>>) {
    let mut builder = rycos::task::Builder::new().on(rt.handle());
    if let Some(c) = capacity {
        builder = builder.mailbox_capacity(c);
    }
    builder.spawn_task_joinable(move |cx: Cx<Msg>| async move {
        let mut exits = Vec::new();
        while exits.len() < expected {
            match cx.receive_timeout(Duration::from_secs(10)).await.expect("an exit notice") {
                Msg::Watch(t) => cx.monitor(&t),
                Msg::Down(e) => exits.push(e),
            }
        }
        exits
    })
}

fn sorted(mut exits: Vec<Exit>) -> Vec<(rycos::TaskId, ExitReason)> {
    exits.sort_by_key(|e| e.task);
    exits.into_iter().map(|e| (e.task, e.reason)).collect()
}

#[test]
fn every_exit_reason_is_reported() {
    let _w = watchdog(Duration::from_secs(30));
    each_flavor(|rt| {
        let (w, exits) = watcher(rt, 3, None);
        // The targets wait for `go` without blocking their worker: a blocking wait would hold
        // the only worker of the 1-worker flavour, and the watcher could never register.
        let go = std::sync::Arc::new(rycos::sync::Event::new());
        let (g1, g2, g3) = (go.clone(), go.clone(), go.clone());
        let finisher = rycos::task::Builder::new()
            .on(rt.handle())
            .name("finisher")
            .spawn(async move { g1.wait().await });
        let crasher = rt.spawn(async move {
            g2.wait().await;
            panic!("worker crashed")
        });
        let waiter = rt.spawn_task(move |cx: Cx<()>| async move {
            g3.wait().await;
            let _me = cx.me();
            cx.receive().await;
        });
        w.send(Msg::Watch(finisher.task())).unwrap();
        w.send(Msg::Watch(crasher.task())).unwrap();
        w.send(Msg::Watch(waiter.as_any().clone())).unwrap();
        // The watcher must have registered all three before anything ends: wait for it to
        // drain its mailbox.
        while w.pending_messages() > 0 {
            std::thread::yield_now();
        }
        go.set();
        assert!(waiter.terminate());
        let mut want = vec![
            (finisher.id(), ExitReason::Finished),
            (crasher.id(), ExitReason::Panicked("worker crashed".into())),
            (waiter.id(), ExitReason::Terminated),
        ];
        want.sort_by_key(|r| r.0);
        let exits = exits.join_blocking().unwrap();
        assert_eq!(exits.iter().find(|e| e.task == finisher.id()).unwrap().name.as_deref(), Some("finisher"));
        assert_eq!(sorted(exits), want);
        assert!(!waiter.is_alive());
        assert!(!waiter.terminate(), "terminating an ended task reports false");
    });
}

#[test]
fn monitoring_an_ended_task_delivers_at_once() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let done = rt.spawn(async { panic!("early") });
    let target = done.task();
    while target.is_alive() {
        std::thread::yield_now();
    }
    let (w, exits) = watcher(&rt, 1, None);
    w.send(Msg::Watch(target.clone())).unwrap();
    assert_eq!(
        sorted(exits.join_blocking().unwrap()),
        vec![(target.id(), ExitReason::Panicked("early".into()))]
    );
}

#[test]
fn many_monitors_one_target_and_one_monitor_many_targets() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let go = Gate::default();
    let targets: Vec<_> = (0..20)
        .map(|_| {
            let g = go.clone();
            rt.spawn(async move { g.wait() })
        })
        .collect();
    let watchers: Vec<_> = (0..10).map(|_| watcher(&rt, targets.len(), None)).collect();
    for (w, _) in &watchers {
        for t in &targets {
            w.send(Msg::Watch(t.task())).unwrap();
        }
    }
    go.open();
    let mut want: Vec<_> = targets.iter().map(|t| (t.id(), ExitReason::Finished)).collect();
    want.sort_by_key(|r| r.0);
    for (_, exits) in watchers {
        assert_eq!(sorted(exits.join_blocking().unwrap()), want);
    }
}

#[test]
fn exit_notices_get_into_a_full_bounded_mailbox() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let hold = Gate::default();
    let h = hold.clone();
    let (watching, watched) = std::sync::mpsc::channel::<()>();
    let (w, result) = rycos::task::Builder::new().on(rt.handle()).mailbox_capacity(1).spawn_task_joinable(
        move |cx: Cx<Msg>| async move {
            let Some(Msg::Watch(target)) = cx.receive().await else { panic!() };
            cx.monitor(&target);
            watching.send(()).unwrap();
            h.wait(); // the mailbox fills up meanwhile
            let mut seen = 0;
            let mut down = None;
            while let Ok(m) = cx.receive_timeout(Duration::from_secs(10)).await {
                seen += 1;
                if let Msg::Down(e) = m {
                    down = Some(e);
                    break;
                }
            }
            (seen, down.map(|e| e.reason))
        },
    );
    let release_target = Gate::default();
    let r = release_target.clone();
    let target = rt.spawn(async move { r.wait() });
    w.send(Msg::Watch(target.task())).unwrap();
    watched.recv_timeout(Duration::from_secs(10)).unwrap();
    let filler = rt.spawn(async {});
    w.send(Msg::Watch(filler.task())).unwrap(); // now full
    assert!(w.send(Msg::Watch(filler.task())).unwrap_err().is_full());
    release_target.open();
    target.join_blocking().unwrap();
    hold.open();
    let (seen, reason) = result.join_blocking().unwrap();
    assert_eq!(reason, Some(ExitReason::Finished), "the exit got past the full mailbox");
    assert_eq!(seen, 2);
}

#[test]
fn monitor_registration_racing_with_completion_delivers_exactly_once() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = rt(2);
    for _ in 0..500 {
        let target = rt.spawn(async {});
        let any = target.task();
        let (w, exits) =
            rycos::task::Builder::new().on(rt.handle()).spawn_task_joinable(move |cx: Cx<Msg>| async move {
                cx.monitor(&any);
                let first = cx.receive().await;
                let second = cx.receive_timeout(Duration::from_millis(2)).await;
                (first.is_some(), second.is_ok())
            });
        drop(w);
        let (got_one, got_two) = exits.join_blocking().unwrap();
        assert!(got_one && !got_two, "exactly one exit notice");
        drop(target);
    }
}
