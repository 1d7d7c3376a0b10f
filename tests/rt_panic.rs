//! A panicking task becomes an error for whoever waits on it; the worker and the other tasks
//! carry on.
mod common;
use common::*;
use std::time::Duration;

#[test]
fn panic_becomes_join_error_with_payload() {
    let _w = watchdog(Duration::from_secs(30));
    each_flavor(|rt| {
        let n = std::hint::black_box(7);
        let err = rt.spawn(async move { panic!("boom {n}") }).join_blocking().unwrap_err();
        assert!(err.is_panic());
        assert_eq!(err.panic_message(), Some("boom 7"));
        assert!(err.to_string().contains("boom 7"));
        let payload = err.into_panic();
        assert_eq!(payload.downcast_ref::<String>().map(String::as_str), Some("boom 7"));
        let err = rt.spawn(async { panic!("static") }).join_blocking().unwrap_err();
        assert_eq!(err.panic_message(), Some("static"));
        // The runtime still serves.
        assert_eq!(rt.spawn(async { 3 }).join_blocking().unwrap(), 3);
    });
}

#[test]
fn non_string_payload_is_kept() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let err = rt.spawn(async { std::panic::panic_any(42u8) }).join_blocking().unwrap_err();
    assert_eq!(err.panic_message(), None);
    assert_eq!(*err.into_panic().downcast::<u8>().unwrap(), 42);
}

#[test]
fn many_panicking_tasks_do_not_take_workers_down() {
    let _w = watchdog(Duration::from_secs(60));
    each_flavor(|rt| {
        let handles: Vec<_> = (0..2_000)
            .map(|i| rt.spawn(async move { if i % 2 == 0 { panic!("even {i}") } else { i } }))
            .collect();
        let mut ok = 0;
        for h in handles {
            match h.join_blocking() {
                Ok(_) => ok += 1,
                Err(e) => assert!(e.is_panic()),
            }
        }
        assert_eq!(ok, 1_000);
        assert_eq!(rt.metrics().workers, rt.metrics().workers);
        assert_eq!(rt.block_on(async { rycos::spawn(async { 1 }).await.unwrap() }), 1);
    });
}

#[test]
fn panic_in_a_destructor_during_cancellation_is_reported() {
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("drop bomb");
        }
    }
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let started = Gate::default();
    let s = started.clone();
    let handle = rt.spawn(async move {
        let _bomb = Bomb;
        s.open();
        pending_forever().await;
    });
    started.wait();
    handle.abort();
    let err = handle.join_blocking().unwrap_err();
    assert!(err.is_panic(), "the destructor's panic is the outcome: {err:?}");
    assert_eq!(err.panic_message(), Some("drop bomb"));
    assert_eq!(rt.spawn(async { 5 }).join_blocking().unwrap(), 5);
}
