//! loom model of the driver hand-off (`driver/mod.rs`): a timer registered while the driver
//! is about to sleep either moves the driver's deadline or wakes it — never neither, which
//! would leave the timer to fire only when something else wakes the runtime.
//!
//! Run with `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release --lib loom`.

use super::Driver;
use crate::loom::sync::Arc;
use crate::loom::thread;
use std::task::Waker;

#[test]
fn timer_registration_races_with_the_driver_parking() {
    loom::model(|| {
        let driver = Arc::new(Driver::new());
        let registrant = {
            let driver = driver.clone();
            thread::spawn(move || {
                // As `Sleep::poll` does: publish the timer, then ask whom to wake.
                let deadline = driver.timers.instant_of(1_000);
                let (_key, tick) = driver.timers.register(deadline, Waker::noop());
                driver.timer_registered(tick).is_some()
            })
        };
        let role = driver.try_claim().expect("nobody else drives");
        // Worker 0 parks as the driver with no limit of its own: it sleeps until the deadline
        // `parking` returns, or forever if it returns none.
        let sleeps_until = driver.parking(&role, 0, None);
        let woken = registrant.join().unwrap();
        driver.unparked(&role);
        assert!(
            sleeps_until.is_some() || woken,
            "the driver sleeps with no deadline and the new timer's registrant did not wake it"
        );
    });
}
