//! The one door through which the runtime reaches for synchronisation.
//!
//! Everything that can race — atomics, locks, condition variables, `UnsafeCell`, threads and
//! thread-locals — is imported from here, never from `std` or `parking_lot` directly. In a normal
//! build these are the real primitives (`parking_lot` locks, `std` atomics). Built with
//! `RUSTFLAGS="--cfg loom"`, they are loom's model-checked stand-ins, so the loom models in
//! `src/**/loom_*.rs` explore every interleaving of the runtime's own protocols (task state word,
//! mailbox, worker parking) rather than a copy of them.
//!
//! The lock API follows `parking_lot` (no poisoning, `Condvar::wait(&mut guard)`); under loom a
//! thin wrapper gives loom's locks the same shape.

/// Records a protocol event when a loom model runs with `RYCOS_LOOM_TRACE=1`; compiled out
/// otherwise. The events of the current model iteration are kept in memory (a new iteration
/// starts with `loom_trace!("---- model iteration")`) and printed by [`dump_loom_trace`], so
/// the interleaving behind a failed model can be read.
macro_rules! loom_trace {
    ($($arg:tt)*) => {
        #[cfg(loom)]
        {
            if std::env::var_os("RYCOS_LOOM_TRACE").is_some() {
                let line = format!("[{:?}] {}", loom::thread::current().id(), format_args!($($arg)*));
                $crate::loom::record_trace(line);
            }
        }
    };
}

#[cfg(loom)]
static TRACE: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

#[cfg(loom)]
pub(crate) fn record_trace(line: String) {
    let mut trace = TRACE.lock().unwrap_or_else(|e| e.into_inner());
    if line.ends_with("---- model iteration") {
        trace.clear();
    }
    trace.push(line);
}

/// Prints the recorded events of the current iteration (for a panic hook in a loom test).
#[cfg(all(loom, test))]
pub(crate) fn dump_loom_trace() {
    let trace = TRACE.lock().unwrap_or_else(|e| e.into_inner());
    for line in trace.iter() {
        eprintln!("{line}");
    }
}
pub(crate) use loom_trace;

#[cfg(not(loom))]
pub(crate) use std_impl::*;

#[cfg(loom)]
pub(crate) use loom_impl::*;

#[cfg(not(loom))]
mod std_impl {
    pub(crate) mod sync {
        pub(crate) use once_cell::race::OnceBox;
        pub(crate) use parking_lot::{Condvar, Mutex, MutexGuard};
        pub(crate) use std::sync::Arc;

        pub(crate) mod atomic {
            pub(crate) use std::sync::atomic::{
                AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence,
            };
        }
    }

    pub(crate) use std::thread;

    /// `std::cell::UnsafeCell` with loom's closure-based access methods.
    #[derive(Debug)]
    pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub(crate) const fn new(value: T) -> Self {
            Self(std::cell::UnsafeCell::new(value))
        }

        /// Gives `f` a shared pointer to the contents.
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        /// Gives `f` an exclusive pointer to the contents.
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }

        pub(crate) fn into_inner(self) -> T {
            self.0.into_inner()
        }
    }

    /// Declares a thread-local; the initialiser must be a constant expression.
    macro_rules! rt_thread_local {
        ($(#[$attr:meta])* static $name:ident: $t:ty = $init:expr;) => {
            std::thread_local! { $(#[$attr])* static $name: $t = const { $init }; }
        };
    }
    pub(crate) use rt_thread_local as thread_local;
}

#[cfg(loom)]
mod loom_impl {
    pub(crate) mod sync {
        pub(crate) use loom::sync::Arc;
        use std::ops::{Deref, DerefMut};

        /// `once_cell::race::OnceBox` on a loom atomic, so that loom sees the race to create
        /// the value (a task's extras, made on first use, race with its completion).
        #[derive(Debug)]
        pub(crate) struct OnceBox<T>(loom::sync::atomic::AtomicPtr<T>);

        impl<T> OnceBox<T> {
            pub(crate) fn new() -> Self {
                Self(loom::sync::atomic::AtomicPtr::new(std::ptr::null_mut()))
            }
            pub(crate) fn get(&self) -> Option<&T> {
                let ptr = self.0.load(std::sync::atomic::Ordering::Acquire);
                // SAFETY: a non-null pointer came from `Box::into_raw` in `get_or_init` and is
                // freed only in `drop`, which `&self` outlives.
                unsafe { ptr.as_ref() }
            }
            pub(crate) fn get_or_init(&self, init: impl FnOnce() -> Box<T>) -> &T {
                use std::sync::atomic::Ordering::{AcqRel, Acquire};
                if let Some(value) = self.get() {
                    return value;
                }
                let new = Box::into_raw(init());
                let ptr = match self.0.compare_exchange(std::ptr::null_mut(), new, AcqRel, Acquire) {
                    Ok(_) => new,
                    Err(winner) => {
                        // SAFETY: `new` lost the race and was never shared.
                        drop(unsafe { Box::from_raw(new) });
                        winner
                    }
                };
                // SAFETY: as in `get`.
                unsafe { &*ptr }
            }
        }

        impl<T> Drop for OnceBox<T> {
            fn drop(&mut self) {
                self.0.with_mut(|ptr| {
                    if !ptr.is_null() {
                        // SAFETY: made by `Box::into_raw`, owned by this cell alone now.
                        drop(unsafe { Box::from_raw(*ptr) });
                    }
                });
            }
        }

        pub(crate) mod atomic {
            pub(crate) use loom::sync::atomic::{
                AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence,
            };
        }

        /// loom's mutex with `parking_lot`'s poison-free API.
        #[derive(Debug)]
        pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

        /// Guard of [`Mutex`]; the `Option` lets [`Condvar::wait`] hand it to loom and back.
        pub(crate) struct MutexGuard<'a, T>(Option<loom::sync::MutexGuard<'a, T>>);

        impl<T> Mutex<T> {
            pub(crate) fn new(value: T) -> Self {
                Self(loom::sync::Mutex::new(value))
            }
            pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
                MutexGuard(Some(self.0.lock().unwrap()))
            }
        }

        impl<T: Default> Default for Mutex<T> {
            fn default() -> Self {
                Self::new(T::default())
            }
        }

        impl<T> Deref for MutexGuard<'_, T> {
            type Target = T;
            fn deref(&self) -> &T {
                self.0.as_ref().unwrap()
            }
        }
        impl<T> DerefMut for MutexGuard<'_, T> {
            fn deref_mut(&mut self) -> &mut T {
                self.0.as_mut().unwrap()
            }
        }

        /// Result of a timed wait (loom has no clock: a timed wait is an untimed one).
        #[derive(Debug)]
        pub(crate) struct WaitTimeoutResult;
        impl WaitTimeoutResult {
            pub(crate) fn timed_out(&self) -> bool {
                false
            }
        }

        /// loom's condition variable with `parking_lot`'s API.
        #[derive(Debug)]
        pub(crate) struct Condvar(loom::sync::Condvar);
        impl Condvar {
            pub(crate) fn new() -> Self {
                Self(loom::sync::Condvar::new())
            }
            pub(crate) fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
                let inner = guard.0.take().unwrap();
                guard.0 = Some(self.0.wait(inner).unwrap());
            }
            pub(crate) fn wait_until<T>(
                &self,
                guard: &mut MutexGuard<'_, T>,
                _deadline: std::time::Instant,
            ) -> WaitTimeoutResult {
                self.wait(guard);
                WaitTimeoutResult
            }
            pub(crate) fn notify_one(&self) -> bool {
                self.0.notify_one();
                true
            }
            pub(crate) fn notify_all(&self) -> usize {
                self.0.notify_all();
                0
            }
        }
    }

    pub(crate) use loom::cell::UnsafeCell;
    pub(crate) use loom::thread;

    macro_rules! rt_thread_local {
        ($(#[$attr:meta])* static $name:ident: $t:ty = $init:expr;) => {
            loom::thread_local! { $(#[$attr])* static $name: $t = $init; }
        };
    }
    pub(crate) use rt_thread_local as thread_local;
}
