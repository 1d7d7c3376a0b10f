//! Every combination of how a task ends, what happens to its join handle, and when it is
//! aborted: the future and the output are each dropped exactly once, the handle reports what
//! happened, and nothing hangs.
mod common;
use common::*;
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
enum Body {
    Completes,
    PanicsInPoll,
    PanicsInDropAfterCompleting,
    PendsForever,
}

#[derive(Clone, Copy, Debug)]
enum Handle {
    DroppedAtOnce,
    DroppedAfterEnd,
    Awaited,
}

#[derive(Clone, Copy, Debug)]
enum Abort {
    Never,
    BeforeFirstPoll,
    WhilePending,
    AfterEnd,
}

struct PanicOnDrop;
impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("panic in drop");
        }
    }
}

fn run_case(workers: usize, body: Body, handle_mode: Handle, abort: Abort) {
    let rt = rt(workers);
    let future_drops = DropCount::default();
    let output_drops = DropCount::default();
    let polled = Gate::default();
    let release = Gate::default();
    let (token, out, p, r) = (future_drops.token(), output_drops.clone(), polled.clone(), release.clone());

    // To abort before the first poll, occupy every worker first (each blocker reports in).
    let hold = Gate::default();
    let occupied = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let blocker = matches!(abort, Abort::BeforeFirstPoll).then(|| {
        let blockers: Vec<_> = (0..workers)
            .map(|_| {
                let (h, o) = (hold.clone(), occupied.clone());
                rt.spawn(async move {
                    o.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    h.wait()
                })
            })
            .collect();
        while occupied.load(std::sync::atomic::Ordering::SeqCst) < workers {
            std::thread::yield_now();
        }
        blockers
    });

    let task = rt.spawn(async move {
        let _token = token;
        p.open();
        match body {
            Body::Completes => Some(out.token()),
            Body::PanicsInPoll => panic!("panic in poll"),
            Body::PanicsInDropAfterCompleting => {
                let _bomb = PanicOnDrop;
                Some(out.token())
            }
            Body::PendsForever => {
                if matches!(abort, Abort::Never | Abort::AfterEnd) {
                    r.wait();
                    return Some(out.token());
                }
                pending_forever().await;
                unreachable!()
            }
        }
    });

    match abort {
        Abort::BeforeFirstPoll => task.abort(),
        Abort::WhilePending => {
            polled.wait();
            task.abort();
        }
        _ => {}
    }
    hold.open();
    drop(blocker);
    if matches!((body, abort), (Body::PendsForever, Abort::Never | Abort::AfterEnd)) {
        release.open();
    }

    // An abort before the first poll always cancels; one while pending cancels only a body
    // that does wait (the others have finished by then); panics are panics.
    let expect_cancelled = matches!(abort, Abort::BeforeFirstPoll)
        || matches!((body, abort), (Body::PendsForever, Abort::WhilePending));
    let expect_panic =
        !expect_cancelled && matches!(body, Body::PanicsInPoll | Body::PanicsInDropAfterCompleting);
    let expect_ok = !expect_cancelled && !expect_panic;
    let outcome = match handle_mode {
        Handle::DroppedAtOnce => {
            drop(task);
            // Nothing to wait on but the task's end, which drops its future.
            while future_drops.get() == 0 {
                std::thread::yield_now();
            }
            None
        }
        Handle::DroppedAfterEnd | Handle::Awaited => {
            // Wait for the end through a second task, so both the handle and the task live.
            let (tx, rx) = std::sync::mpsc::channel();
            let waiter = rt.spawn(async move {
                let mut task = task;
                let result = (&mut task).await;
                if matches!(abort, Abort::AfterEnd) {
                    task.abort(); // changes nothing: the result is already out
                    assert!(task.is_finished());
                }
                tx.send(()).unwrap();
                result
            });
            rx.recv_timeout(Duration::from_secs(10))
                .unwrap_or_else(|_| panic!("no end: {workers}/{body:?}/{handle_mode:?}/{abort:?}"));
            let result = waiter.join_blocking().unwrap();
            match handle_mode {
                Handle::DroppedAfterEnd => {
                    drop(result);
                    None
                }
                _ => Some(result),
            }
        }
    };
    if let Some(result) = outcome {
        match result {
            Ok(output) => {
                assert!(expect_ok, "{body:?}/{abort:?} should have failed");
                drop(output);
            }
            Err(e) => {
                assert!(!expect_ok, "{body:?}/{abort:?} should have succeeded: {e:?}");
                assert_eq!(e.is_panic(), expect_panic, "{body:?}/{abort:?}: {e:?}");
                assert_eq!(e.is_cancelled(), expect_cancelled, "{body:?}/{abort:?}: {e:?}");
            }
        }
    }
    drop(rt); // completes anything still pending
    assert_eq!(future_drops.get(), 1, "future dropped once: {workers}/{body:?}/{handle_mode:?}/{abort:?}");
    assert!(output_drops.get() <= 1, "output dropped at most once");
    let produced = expect_ok;
    if produced {
        assert_eq!(
            output_drops.get(),
            1,
            "output dropped once: {workers}/{body:?}/{handle_mode:?}/{abort:?}"
        );
    }
}

#[test]
fn lifecycle_matrix() {
    let _w = watchdog(Duration::from_secs(120));
    for workers in [1, 2] {
        for body in
            [Body::Completes, Body::PanicsInPoll, Body::PanicsInDropAfterCompleting, Body::PendsForever]
        {
            for handle in [Handle::DroppedAtOnce, Handle::DroppedAfterEnd, Handle::Awaited] {
                for abort in [Abort::Never, Abort::BeforeFirstPoll, Abort::WhilePending, Abort::AfterEnd] {
                    if matches!(handle, Handle::DroppedAtOnce) && matches!(abort, Abort::AfterEnd) {
                        continue; // no handle left to abort with
                    }
                    run_case(workers, body, handle, abort);
                }
            }
        }
    }
}
