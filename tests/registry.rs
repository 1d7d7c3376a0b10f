//! Names for tasks (pycos `register` / `locate`): found, not found, wrong type, unregistered,
//! freed when the task ends; per runtime, and apart from channel names.
mod common;
use common::*;
use rycos::{Cx, LocateError, RegisterError, TaskRef};
use std::time::Duration;

/// A task that answers `(n, reply)` with `n + 1` until no handle is left, then returns how many
/// requests it served.
fn adder(rt: &rycos::Runtime) -> (TaskRef<(u32, TaskRef<u32>)>, rycos::JoinHandle<u32>) {
    rycos::task::Builder::new().on(rt.handle()).spawn_task_joinable(
        |cx: Cx<(u32, TaskRef<u32>)>| async move {
            let mut served = 0;
            while let Some((n, reply)) = cx.receive().await {
                let _ = reply.send(n + 1);
                served += 1;
            }
            served
        },
    )
}

#[test]
fn a_registered_task_is_located_by_name_and_type() {
    let _w = watchdog(Duration::from_secs(10));
    let rt = rt(2);
    let (task, _) = adder(&rt);
    rt.block_on(async {
        task.register("adder").unwrap();
        let found = rycos::locate::<(u32, TaskRef<u32>)>("adder").unwrap();
        assert_eq!(found.id(), task.id());
        let (_, answer) = rycos::spawn_task_joinable(move |cx: Cx<u32>| async move {
            found.send((41, cx.me())).unwrap();
            cx.receive().await
        });
        assert_eq!(answer.await.unwrap(), Some(42));

        assert_eq!(rycos::locate::<u32>("nobody").unwrap_err(), LocateError::NotFound("nobody".into()));
        match rycos::locate::<String>("adder").unwrap_err() {
            LocateError::WrongType { name, expected, found } => {
                assert_eq!(name, "adder");
                assert_eq!(expected, "alloc::string::String");
                assert!(found.contains("TaskRef<u32>"), "{found}");
            }
            other => panic!("{other:?}"),
        }
        let (other, _) = adder(&rt);
        assert_eq!(other.register("adder"), Err(RegisterError::NameTaken("adder".into())));
        assert!(other.register("adder-2").is_ok(), "a task may have a name of its own");
        assert_eq!(task.register("adder-too"), Ok(()), "and more than one");
    });
}

#[test]
fn unregister_frees_the_name_and_the_handle() {
    let _w = watchdog(Duration::from_secs(10));
    let rt = rt(2);
    let (task, served) = adder(&rt);
    rt.block_on(async {
        task.register("counted").unwrap();
        let (other, _) = adder(&rt);
        assert!(!other.unregister("counted"), "not the other task's name");
        assert!(rycos::locate::<(u32, TaskRef<u32>)>("counted").is_ok());
        let any = task.as_any().clone();
        drop(task);
        // The registry's handle keeps the task's receive waiting...
        assert!(any.is_alive());
        let task = rycos::locate::<(u32, TaskRef<u32>)>("counted").unwrap();
        assert!(task.unregister("counted"));
        assert!(!task.unregister("counted"), "once");
        assert_eq!(
            rycos::locate::<(u32, TaskRef<u32>)>("counted").unwrap_err(),
            LocateError::NotFound("counted".into())
        );
        drop(task);
        // ...and once the name is gone, no handle is left: `receive` returns `None`.
        assert_eq!(served.await.unwrap(), 0);
    });
}

#[test]
fn a_name_goes_with_its_task() {
    let _w = watchdog(Duration::from_secs(10));
    let rt = rt(2);
    rt.block_on(async {
        let (short, done) = rycos::spawn_task_joinable(|cx: Cx<()>| async move { cx.receive().await });
        short.register("short-lived").unwrap();
        short.send(()).unwrap();
        done.await.unwrap();
        // The exit hook that frees the name runs as the task completes; the join handle may
        // see the end first, so look until it is gone (bounded).
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while rycos::locate::<()>("short-lived").is_ok() {
            assert!(std::time::Instant::now() < deadline, "the name outlived its task");
            rycos::yield_now().await;
        }
        assert_eq!(short.register("short-lived"), Err(RegisterError::TaskEnded));
        let (next, _) = adder(&rt);
        next.register("short-lived").expect("the name is free again");
    });
}

#[test]
fn names_are_per_runtime_and_apart_from_channel_names() {
    let _w = watchdog(Duration::from_secs(10));
    let a = rt(1);
    let b = rt(1);
    let (task, _) = adder(&a);
    task.register_in(a.handle(), "shared-name").unwrap();
    assert!(a.handle().locate::<(u32, TaskRef<u32>)>("shared-name").is_ok());
    assert!(matches!(b.handle().locate::<(u32, TaskRef<u32>)>("shared-name"), Err(LocateError::NotFound(_))));
    a.block_on(async {
        let channel =
            rycos::channel::Channel::<u32>::new("shared-name").expect("a channel may share a task's name");
        assert!(rycos::locate::<(u32, TaskRef<u32>)>("shared-name").is_ok());
        drop(channel);
    });
}

#[test]
fn registering_racing_the_end_of_the_task_never_leaves_a_stale_name() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    rt.block_on(async {
        for i in 0..2_000 {
            let name = format!("racer-{i}");
            let (task, done) = rycos::spawn_task_joinable(|cx: Cx<()>| async move { cx.receive().await });
            task.send(()).unwrap(); // ends now, on any worker
            let registered = task.register(&name);
            done.await.unwrap();
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while rycos::locate::<()>(&name).is_ok() {
                assert!(std::time::Instant::now() < deadline, "{name} outlived its task ({registered:?})");
                rycos::yield_now().await;
            }
        }
    });
}
