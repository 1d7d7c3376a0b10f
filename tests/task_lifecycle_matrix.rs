//! Every combination of how a task ends, what happens to its join handle, and when it is
//! aborted: the future is dropped exactly once, the output exactly once if it was made (never
//! otherwise), the handle reports what happened, and nothing hangs.
mod common;
use common::*;
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
enum Body {
    Completes,
    PanicsInPoll,
    /// Makes its output, then a destructor panics before the poll returns it (the unwinding
    /// drops the output). Not written as `let _bomb = ..; Some(output)`: rustc leaks a return
    /// value whose scope's destructor panics (rust-lang/rust#47949), which is not ours to test.
    PanicsInDropAfterMakingItsOutput,
    /// Completes with an output whose destructor panics: whoever drops it (the runtime when no
    /// handle wants it) must survive that.
    OutputPanicsOnDrop,
    PendsForever,
}

/// What a task returns: counts its own drop, and may panic in it.
struct Output {
    _token: DropToken,
    panics: bool,
}

impl Drop for Output {
    fn drop(&mut self) {
        if self.panics && !std::thread::panicking() {
            panic!("panic in the output's drop");
        }
    }
}

/// Drops `value` on this thread, which must survive an output that panics in its drop.
fn drop_here<T>(value: T) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(value)));
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
        let output = |panics| Some(Output { _token: out.token(), panics });
        match body {
            Body::Completes => output(false),
            Body::PanicsInPoll => panic!("panic in poll"),
            Body::PanicsInDropAfterMakingItsOutput => {
                let made = output(false);
                drop(PanicOnDrop);
                made
            }
            Body::OutputPanicsOnDrop => output(true),
            Body::PendsForever => {
                if matches!(abort, Abort::Never | Abort::AfterEnd) {
                    r.wait();
                    return output(false);
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
        !expect_cancelled && matches!(body, Body::PanicsInPoll | Body::PanicsInDropAfterMakingItsOutput);
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
                    drop_here(result);
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
                drop_here(output);
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
    let made_output = !matches!(abort, Abort::BeforeFirstPoll)
        && match body {
            Body::Completes | Body::PanicsInDropAfterMakingItsOutput | Body::OutputPanicsOnDrop => true,
            Body::PanicsInPoll => false,
            Body::PendsForever => matches!(abort, Abort::Never | Abort::AfterEnd),
        };
    assert_eq!(
        output_drops.get(),
        usize::from(made_output),
        "output dropped exactly once if made: {workers}/{body:?}/{handle_mode:?}/{abort:?}"
    );
}

#[test]
fn lifecycle_matrix() {
    let _w = watchdog(Duration::from_secs(120));
    for workers in [1, 2] {
        for body in [
            Body::Completes,
            Body::PanicsInPoll,
            Body::PanicsInDropAfterMakingItsOutput,
            Body::OutputPanicsOnDrop,
            Body::PendsForever,
        ] {
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
