//! A watchdog for tests (shared with the workspace's other crates' tests through `#[path]`).

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Fails the whole test binary (instead of hanging it) if the guard is not dropped in time.
pub struct Watchdog {
    done: Arc<(Mutex<bool>, Condvar)>,
}

pub fn watchdog(limit: Duration) -> Watchdog {
    let done = Arc::new((Mutex::new(false), Condvar::new()));
    let seen = done.clone();
    let name = std::thread::current().name().unwrap_or("?").to_owned();
    std::thread::spawn(move || {
        let (lock, cv) = &*seen;
        let guard = lock.lock().unwrap();
        let (guard, _) = cv.wait_timeout_while(guard, limit, |done| !*done).unwrap();
        if !*guard {
            // Not eprintln!: the test harness captures that (also in threads a test spawns),
            // and the capture is lost when the process exits.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "watchdog: test `{name}` still running after {limit:?}: deadlock or lost wake-up"
            );
            std::process::exit(101);
        }
    });
    Watchdog { done }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        let (lock, cv) = &*self.done;
        *lock.lock().unwrap() = true;
        cv.notify_all();
    }
}
