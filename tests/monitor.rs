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
                Msg::Watch(t) => drop(cx.monitor(&t)),
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

/// A task that waits for `gate`, then ends.
fn waits_for(rt: &rycos::Runtime, gate: &std::sync::Arc<rycos::sync::Event>) -> TaskRef<()> {
    let gate = gate.clone();
    rycos::task::Builder::new().on(rt.handle()).spawn_task(move |_cx: Cx<()>| async move {
        gate.wait().await;
    })
}

#[test]
fn a_monitor_removed_before_the_end_never_delivers() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let gate = std::sync::Arc::new(rycos::sync::Event::new());
    let target = waits_for(&rt, &gate);
    let (_, outcome) = rycos::task::Builder::new().on(rt.handle()).spawn_task_joinable({
        let (target, gate) = (target.as_any().clone(), gate.clone());
        move |cx: Cx<Exit>| async move {
            let removed = cx.monitor(&target);
            // Registered after it: its hook runs after the removed one would have.
            let _sentinel = cx.monitor(&target);
            let in_time = cx.demonitor(removed);
            gate.set();
            let first = cx.receive_timeout(Duration::from_secs(10)).await.unwrap();
            (in_time, first.task, cx.try_receive().is_err())
        }
    });
    let (in_time, first, nothing_else) = outcome.join_blocking().unwrap();
    assert!(in_time, "the target was still waiting");
    assert_eq!(first, target.id(), "the sentinel's notice");
    assert!(nothing_else, "the removed monitor's notice never came");
}

#[test]
fn demonitor_racing_the_end_is_either_in_time_or_finds_the_notice_queued() {
    let _w = watchdog(Duration::from_secs(60));
    each_flavor(|rt| {
        let (_, outcome) =
            rycos::task::Builder::new().on(rt.handle()).spawn_task_joinable(|cx: Cx<Exit>| async move {
                let (mut in_time, mut too_late) = (0, 0);
                for _ in 0..1000 {
                    let target = rycos::spawn_task(|cx: Cx<()>| async move { cx.receive().await });
                    let raced = cx.monitor(&target);
                    let _sentinel = cx.monitor(&target);
                    target.send(()).unwrap(); // ends now, on any worker
                    let removed = cx.demonitor(raced);
                    let expected = if removed { 1 } else { 2 };
                    let mut got = 0;
                    // The sentinel's notice comes last: count up to it.
                    loop {
                        let exit = cx.receive_timeout(Duration::from_secs(10)).await.unwrap();
                        assert_eq!(exit.task, target.id());
                        got += 1;
                        if got == expected {
                            break;
                        }
                    }
                    assert!(cx.try_receive().is_err(), "no notice beyond the expected {expected}");
                    if removed { in_time += 1 } else { too_late += 1 }
                }
                (in_time, too_late)
            });
        let (in_time, too_late) = outcome.join_blocking().unwrap();
        assert_eq!(in_time + too_late, 1000);
    });
}

#[test]
fn demonitor_after_the_notice_arrived_says_so() {
    let _w = watchdog(Duration::from_secs(10));
    let rt = rt(2);
    let (_, outcome) =
        rycos::task::Builder::new().on(rt.handle()).spawn_task_joinable(|cx: Cx<Exit>| async move {
            let target = rycos::spawn_task(|_cx: Cx<()>| async {});
            let monitor = cx.monitor(&target);
            let exit = cx.receive_timeout(Duration::from_secs(10)).await.unwrap();
            (exit.task == target.id(), cx.demonitor(monitor))
        });
    assert_eq!(outcome.join_blocking().unwrap(), (true, false));
}

#[test]
fn ten_thousand_monitors_on_one_target_half_of_them_removed() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = rt(2);
    let gate = std::sync::Arc::new(rycos::sync::Event::new());
    let target = waits_for(&rt, &gate);
    let (_, outcome) = rycos::task::Builder::new().on(rt.handle()).spawn_task_joinable({
        let (target, gate) = (target.as_any().clone(), gate.clone());
        move |cx: Cx<Exit>| async move {
            let monitors: Vec<_> = (0..10_000).map(|_| cx.monitor(&target)).collect();
            let removed = monitors.into_iter().step_by(2).map(|m| cx.demonitor(m)).filter(|&r| r).count();
            gate.set();
            let mut got = 0;
            while got < 5_000 {
                cx.receive_timeout(Duration::from_secs(10)).await.unwrap();
                got += 1;
            }
            // A broken demonitor would deliver 5,000 more right behind these.
            let extra = cx.receive_timeout(Duration::from_millis(200)).await.is_ok();
            (removed, got, extra)
        }
    });
    assert_eq!(outcome.join_blocking().unwrap(), (5_000, 5_000, false));
}

#[test]
fn one_task_monitors_ten_thousand_targets_and_removes_half() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = rt(2);
    let gate = std::sync::Arc::new(rycos::sync::Event::new());
    let targets: Vec<_> = (0..10_000).map(|_| waits_for(&rt, &gate)).collect();
    let kept: std::collections::HashSet<_> = targets.iter().step_by(2).map(|t| t.id()).collect();
    let (_, outcome) = rycos::task::Builder::new().on(rt.handle()).spawn_task_joinable({
        let targets: Vec<AnyTaskRef> = targets.iter().map(|t| t.as_any().clone()).collect();
        move |cx: Cx<Exit>| async move {
            let monitors: Vec<_> = targets.iter().map(|t| cx.monitor(t)).collect();
            for (i, m) in monitors.into_iter().enumerate() {
                if i % 2 == 1 {
                    assert!(cx.demonitor(m));
                }
            }
            gate.set();
            let mut seen = Vec::new();
            while seen.len() < 5_000 {
                seen.push(cx.receive_timeout(Duration::from_secs(10)).await.unwrap().task);
            }
            let extra = cx.receive_timeout(Duration::from_millis(200)).await.is_ok();
            (seen, extra)
        }
    });
    let (seen, extra) = outcome.join_blocking().unwrap();
    assert!(!extra);
    let seen: std::collections::HashSet<_> = seen.into_iter().collect();
    assert_eq!(seen, kept, "exactly the kept monitors, each once");
}

#[test]
fn demonitor_lets_go_of_the_monitoring_task() {
    // A monitor holds a handle to its task until the target ends; removing it releases that
    // handle at once, so a task with no other handles sees `receive` return `None`.
    let _w = watchdog(Duration::from_secs(10));
    let rt = rt(2);
    let gate = std::sync::Arc::new(rycos::sync::Event::new());
    let target = waits_for(&rt, &gate);
    let (watcher, outcome) = rycos::task::Builder::new().on(rt.handle()).spawn_task_joinable({
        let target = target.as_any().clone();
        move |cx: Cx<Exit>| async move {
            let monitor = cx.monitor(&target);
            cx.suspend().await; // until the test has dropped its handle
            cx.demonitor(monitor);
            cx.receive_timeout(Duration::from_secs(5)).await
        }
    });
    let watcher_any = watcher.as_any().clone();
    drop(watcher);
    while !watcher_any.resume(()) {
        std::thread::yield_now();
    }
    assert_eq!(outcome.join_blocking().unwrap().unwrap_err(), rycos::RecvError::Closed);
    gate.set();
}

#[test]
fn an_exit_names_the_task_by_its_address_on_this_node() {
    let _w = watchdog(Duration::from_secs(10));
    let rt = rt(2);
    let (_, outcome) =
        rycos::task::Builder::new().on(rt.handle()).spawn_task_joinable(|cx: Cx<Exit>| async move {
            let target = rycos::spawn_task(|_cx: Cx<()>| async {});
            let _monitor = cx.monitor(&target);
            let exit = cx.receive_timeout(Duration::from_secs(10)).await.unwrap();
            (exit.addr(), target.addr(), target.is_local())
        });
    let (exit_addr, target_addr, local) = outcome.join_blocking().unwrap();
    assert_eq!(exit_addr, target_addr);
    assert_eq!(exit_addr.node, rycos::NodeId::local());
    assert_eq!(rycos::NodeId::local(), rycos::NodeId::local(), "one incarnation per process");
    assert!(local);
    assert_eq!(rycos::NodeId::from_u64(exit_addr.node.as_u64()), Some(exit_addr.node));
}
