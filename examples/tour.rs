//! A guided tour of rycos: each step prints what it shows and checks that it happened.
//!
//! ```text
//! cargo run --release --example tour
//! ```

#[path = "support/logging.rs"]
mod logging;

use rycos::{Cx, Exit, ExitReason, TaskRef};
use std::time::{Duration, Instant};

fn step(title: &str) {
    println!("\n== {title}");
}

/// Runs the tour; panics if anything does not behave as described.
pub fn run() {
    let rt = rycos::Runtime::builder().thread_name("tour").build().expect("start the runtime");
    println!("rycos tour: a runtime with {} workers", rt.metrics().workers);

    rt.block_on(async {
        step("1. Tasks and join handles (pycos Task, value())");
        let squares: Vec<_> = (1..=5u64).map(|n| rycos::spawn(async move { n * n })).collect();
        let mut total = 0;
        for h in squares {
            total += h.await.unwrap();
        }
        println!("sum of squares 1..=5 computed by 5 tasks: {total}");
        assert_eq!(total, 55);

        step("2. A server task with a mailbox (send / receive)");
        let upper = rycos::spawn_task(|cx: Cx<(String, TaskRef<String>)>| async move {
            while let Some((text, reply_to)) = cx.receive().await {
                let _ = reply_to.send(text.to_uppercase());
            }
        });
        let (_, reply) = rycos::spawn_task_joinable(move |cx: Cx<String>| async move {
            upper.send(("hello, rycos".into(), cx.me())).unwrap();
            cx.receive_timeout(Duration::from_secs(5)).await.unwrap()
        });
        let reply = reply.await.unwrap();
        println!("the server answered {reply:?}");
        assert_eq!(reply, "HELLO, RYCOS");

        step("3. Selective receive keeps the other messages in order (CategorizeMessages)");
        let (inbox, picked) = rycos::spawn_task_joinable(|cx: Cx<i32>| async move {
            let _me = cx.me();
            while cx.pending_messages() < 4 {
                rycos::yield_now().await;
            }
            let urgent = cx.receive_matching(|m| *m < 0).await.unwrap();
            let rest: Vec<i32> = std::iter::from_fn(|| cx.try_receive().ok()).collect();
            (urgent, rest)
        });
        for m in [1, 2, -99, 3] {
            inbox.send(m).unwrap();
        }
        let (urgent, rest) = picked.await.unwrap();
        println!("picked {urgent} first, the rest stayed in order: {rest:?}");
        assert_eq!((urgent, rest), (-99, vec![1, 2, 3]));

        step("4. Sending never drops: a finished task hands the message back");
        let (short_lived, ended) =
            rycos::spawn_task_joinable(|cx: Cx<u32>| async move { cx.receive().await });
        short_lived.send(1).unwrap();
        ended.await.unwrap();
        let back = short_lived.send(2).unwrap_err();
        println!("send to an ended task: {back}");
        println!("...and the message came back: {}", back.into_inner());

        step("5. A bounded mailbox: send refuses, deliver waits for room");
        let gate = rycos::spawn_task(|cx: Cx<()>| async move {
            cx.receive().await;
        });
        let (slow, slow_done) =
            rycos::task::Builder::new().mailbox_capacity(1).spawn_task_joinable(|cx: Cx<u32>| async move {
                let mut got = Vec::new();
                while let Some(m) = cx.receive().await {
                    got.push(m);
                    rycos::time::sleep(Duration::from_millis(2)).await;
                }
                got
            });
        slow.send(1).unwrap();
        let full = slow.send(2);
        println!("second send to a 1-slot mailbox: {:?}", full.as_ref().map_err(|e| e.to_string()));
        slow.deliver(3, Duration::from_secs(5)).await.unwrap();
        println!("deliver waited for room and got message 3 in");
        drop(slow);
        drop(gate);
        let got = slow_done.await.unwrap();
        assert!(got.ends_with(&[3]));

        step("6. suspend / resume: a wake-up channel apart from the mailbox");
        let (sleeper, woken) =
            rycos::spawn_task_joinable(
                |cx: Cx<()>| async move { cx.suspend().await.downcast::<&str>().unwrap() },
            );
        while !sleeper.resume("wake up!") {
            rycos::yield_now().await;
        }
        println!("the suspended task was resumed with {:?}", woken.await.unwrap());

        step("7. Monitors: an Exit arrives as a message when a watched task ends");
        enum Watch {
            Down(Exit),
        }
        impl From<Exit> for Watch {
            fn from(e: Exit) -> Self {
                Watch::Down(e)
            }
        }
        let (_, reason) = rycos::spawn_task_joinable(|cx: Cx<Watch>| async move {
            let doomed =
                rycos::task::Builder::new().name("doomed").spawn(async { panic!("division by zero") });
            cx.monitor(&doomed.task());
            let Some(Watch::Down(exit)) = cx.receive().await else { unreachable!() };
            println!("monitor received: {exit}");
            exit.reason
        });
        assert_eq!(reason.await.unwrap(), ExitReason::Panicked("division by zero".into()));

        step("8. terminate: the task is dropped at its next await, destructors run");
        let (victim, victim_end) = rycos::spawn_task_joinable(|cx: Cx<()>| async move {
            let _me = cx.me();
            cx.receive().await;
        });
        victim.terminate();
        println!("terminated task's join handle: {}", victim_end.await.unwrap_err());

        step("9. Timers: sleep never wakes early; timeout gives up");
        let start = Instant::now();
        rycos::time::sleep(Duration::from_millis(10)).await;
        println!("slept 10 ms, woke after {:.2?}", start.elapsed());
        let gave_up = rycos::time::timeout(Duration::from_millis(5), std::future::pending::<()>()).await;
        println!("timeout of a future that never completes: {gave_up:?}");
        assert!(gave_up.is_err());

        step("10. Many cheap tasks: 100,000 spawned and joined");
        let start = Instant::now();
        let handles: Vec<_> = (0..100_000u32).map(|i| rycos::spawn(async move { i })).collect();
        let mut n = 0u64;
        for h in handles {
            n += u64::from(h.await.unwrap());
        }
        println!("100,000 tasks in {:.1?} (sum {n})", start.elapsed());
    });

    step("11. Daemons and join (pycos Pycos.join)");
    let daemon =
        rycos::task::Builder::new().on(rt.handle()).daemon(true).spawn_task(|cx: Cx<()>| async move {
            let _me = cx.me();
            cx.receive().await;
        });
    rt.spawn(async { rycos::time::sleep(Duration::from_millis(5)).await });
    rt.join();
    println!(
        "join returned once the non-daemon tasks ended; the daemon is still alive: {}",
        daemon.is_alive()
    );
    assert!(daemon.is_alive());

    step("12. Shutdown cancels what is left, running destructors");
    let report = rt.shutdown_timeout(Duration::from_secs(5));
    println!("shutdown clean: {}; daemon alive afterwards: {}", report.is_clean(), daemon.is_alive());
    assert!(!daemon.is_alive());
    println!("\ntour complete");
}

#[allow(dead_code)]
fn main() {
    logging::init();
    run();
}
