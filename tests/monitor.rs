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

/// A task that monitors `targets` asking for their `u64` values, then opens `gate` (so the
/// targets return only after the monitors are in place), and returns one exit per target.
fn value_watcher(
    rt: &rycos::Runtime,
    targets: Vec<AnyTaskRef>,
    gate: std::sync::Arc<rycos::sync::Event>,
) -> rycos::JoinHandle<Vec<Exit>> {
    let (_, done) =
        rycos::task::Builder::new().on(rt.handle()).spawn_task_joinable(move |cx: Cx<Exit>| async move {
            for t in &targets {
                cx.monitor_value::<u64>(t);
            }
            gate.set();
            let mut exits = Vec::new();
            while exits.len() < targets.len() {
                exits.push(cx.receive_timeout(Duration::from_secs(10)).await.expect("an exit notice"));
            }
            exits
        });
    done
}

/// A task that waits for `gate`, then returns `result` (or panics with its error).
fn gated<T: Send + 'static>(
    rt: &rycos::Runtime,
    gate: &std::sync::Arc<rycos::sync::Event>,
    result: Result<T, &'static str>,
) -> TaskRef<()> {
    let gate = gate.clone();
    rycos::task::Builder::new().on(rt.handle()).spawn_task(move |_cx: Cx<()>| async move {
        gate.wait().await;
        match result {
            Ok(value) => value,
            Err(why) => panic!("{why}"),
        }
    })
}

#[test]
fn a_monitor_can_get_the_value_the_task_returned() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let gate = std::sync::Arc::new(rycos::sync::Event::new());
    let returns = gated(&rt, &gate, Ok(42u64));
    let panics = gated::<u64>(&rt, &gate, Err("no value"));
    let other_type = gated(&rt, &gate, Ok(String::from("not a u64")));
    let targets = [&returns, &panics, &other_type].map(|t| t.as_any().clone()).to_vec();
    let exits = value_watcher(&rt, targets, gate).join_blocking().unwrap();
    let by_task = |t: &TaskRef<()>| exits.iter().find(|e| e.task == t.id()).unwrap();
    assert_eq!(by_task(&returns).reason, ExitReason::Finished);
    assert_eq!(by_task(&returns).value::<u64>(), Some(&42));
    assert!(matches!(by_task(&panics).reason, ExitReason::Panicked(_)));
    assert_eq!(by_task(&panics).value, None, "a panic has no value");
    assert_eq!(by_task(&other_type).reason, ExitReason::Finished);
    assert_eq!(by_task(&other_type).value, None, "not the type asked for");
}

#[test]
fn every_monitor_of_a_task_shares_one_copy_made_as_it_returns() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let gate = std::sync::Arc::new(rycos::sync::Event::new());
    let target = gated(&rt, &gate, Ok(7u64));
    // 1,000 monitors, each asking for the value and then saying so on its own event.
    let asked: Vec<_> = (0..1000).map(|_| std::sync::Arc::new(rycos::sync::Event::new())).collect();
    let watchers: Vec<_> =
        asked.iter().map(|a| value_watcher(&rt, vec![target.as_any().clone()], a.clone())).collect();
    let exits: Vec<Exit> = rt.block_on(async {
        for a in &asked {
            a.wait().await;
        }
        gate.set(); // only now may the target return
        let mut exits = Vec::new();
        for w in watchers {
            exits.extend(w.await.unwrap());
        }
        exits
    });
    assert_eq!(exits.len(), 1000);
    assert!(exits.iter().all(|e| e.value::<u64>() == Some(&7)));
    assert!(exits.windows(2).all(|w| w[0].value == w[1].value), "one shared copy");
    // Asked after the task returned: the copy made for the others is there too.
    let late =
        value_watcher(&rt, vec![target.as_any().clone()], std::sync::Arc::new(rycos::sync::Event::new()));
    assert_eq!(late.join_blocking().unwrap()[0].value, exits[0].value);
    // Nobody asked before this one returned: no copy was made, the exit comes without it.
    let (unwatched, done) =
        rycos::task::Builder::new().on(rt.handle()).spawn_task_joinable(|_cx: Cx<()>| async { 9u64 });
    assert_eq!(done.join_blocking().unwrap(), 9, "its own output went to its JoinHandle");
    let late =
        value_watcher(&rt, vec![unwatched.as_any().clone()], std::sync::Arc::new(rycos::sync::Event::new()));
    let late = late.join_blocking().unwrap();
    assert_eq!(late[0].reason, ExitReason::Finished);
    assert_eq!(late[0].value, None);
}
