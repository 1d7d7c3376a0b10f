//! Which runtime code outside any runtime uses: the default one in a program that never built
//! its own, and none (a clear panic or error) once it has. One test in its own binary: the rule
//! depends on what the process did before, so nothing else may run in this process.
mod common;
use common::*;
use std::time::Duration;

fn worker_name() -> String {
    std::thread::current().name().unwrap_or("").to_owned()
}

#[test]
fn the_default_runtime_serves_only_programs_that_never_built_their_own() {
    let _w = watchdog(Duration::from_secs(30));
    // pycos style: no runtime built, spawning just works, on the hidden default runtime.
    let name = rycos::spawn(async { worker_name() }).join_blocking().unwrap();
    assert!(name.starts_with("rycos-default"), "ran on {name:?}");
    assert_eq!(rycos::block_on(async { 1 + 1 }), 2);
    // A timer polled by another executor, outside any runtime, uses the default one too.
    let start = std::time::Instant::now();
    futures::executor::block_on(rycos::time::sleep(Duration::from_millis(5)));
    assert!(start.elapsed() >= Duration::from_millis(5));

    // The program builds its own runtime: from now on nothing lands on the default one.
    let rt = rt(2);
    let panic = std::panic::catch_unwind(|| rycos::spawn(async {})).expect_err("spawn outside must refuse");
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("built its own rycos::Runtime") && message.contains("rt.enter()"), "{message}");
    assert!(std::panic::catch_unwind(|| rycos::block_on(async {})).is_err(), "block_on too");
    let sleep = std::panic::catch_unwind(|| {
        futures::executor::block_on(rycos::time::sleep(Duration::from_millis(1)))
    });
    assert!(sleep.is_err(), "a timer outside must refuse");
    let err = rycos::net::TcpListener::bind("127.0.0.1:0").expect_err("a socket outside must refuse");
    assert!(err.to_string().contains("built its own rycos::Runtime"), "{err}");

    // Inside the program's runtime, and under `enter`, everything uses it.
    let name = rt.block_on(async { rycos::spawn(async { worker_name() }).await.unwrap() });
    assert!(name.starts_with("rycos-worker"), "ran on {name:?}");
    let _inside = rt.enter();
    let listener = rycos::net::TcpListener::bind("127.0.0.1:0").expect("under enter");
    drop(listener);
    let name = rycos::spawn(async { worker_name() }).join_blocking().unwrap();
    assert!(name.starts_with("rycos-worker"), "ran on {name:?}");
}
