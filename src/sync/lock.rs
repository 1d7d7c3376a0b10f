//! [`Lock<T>`]: a mutual-exclusion lock for tasks, held across `.await`.

use super::semaphore::{Acquire, Permit, Semaphore};
use crate::loom::UnsafeCell;
use crate::time::{Elapsed, timeout};
use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// A lock for tasks (pycos `Lock`), guarding a value of type `T` (use `Lock<()>` for a bare
/// lock). Waiting tasks get the lock in the order they asked for it; the lock is handed straight
/// to the next waiter on release, so a task that releases and re-locks in a loop cannot starve
/// the others.
///
/// Unlike `std::sync::Mutex`, the guard may be held across `.await` and waiting does not block
/// the worker thread.
///
/// ```
/// use rycos::sync::Lock;
/// use std::sync::Arc;
///
/// let rt = rycos::Runtime::new().unwrap();
/// let total = rt.block_on(async {
///     let account = Arc::new(Lock::new(0u64));
///     let tasks: Vec<_> = (0..10)
///         .map(|_| {
///             let account = account.clone();
///             rycos::spawn(async move {
///                 for _ in 0..100 {
///                     let mut balance = account.lock().await;
///                     rycos::yield_now().await; // other tasks run, none gets in
///                     *balance += 1;
///                 }
///             })
///         })
///         .collect();
///     for task in tasks {
///         task.await.unwrap();
///     }
///     let total = *account.lock().await;
///     total
/// });
/// assert_eq!(total, 1000);
/// ```
pub struct Lock<T> {
    semaphore: Semaphore,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out access to `value` to one guard at a time (the semaphore has one
// permit), so sharing the lock between threads only ever moves `T` between them: `T: Send` is
// what that needs, as for `std::sync::Mutex`.
unsafe impl<T: Send> Sync for Lock<T> {}
// SAFETY: as above; owning the lock owns the value.
unsafe impl<T: Send> Send for Lock<T> {}

impl<T> Lock<T> {
    /// An unlocked lock guarding `value`.
    pub fn new(value: T) -> Lock<T> {
        Lock { semaphore: Semaphore::new(1), value: UnsafeCell::new(value) }
    }

    /// Waits for the lock.
    pub fn lock(&self) -> LockFuture<'_, T> {
        LockFuture { lock: self, acquire: self.semaphore.acquire() }
    }

    /// Waits at most `limit` for the lock.
    pub async fn lock_timeout(&self, limit: Duration) -> Result<LockGuard<'_, T>, Elapsed> {
        timeout(limit, self.lock()).await
    }

    /// Waits for the lock of a shared `Lock`; the guard holds the `Arc`, so a held lock can move
    /// into another task (tokio's `lock_owned`). Cancel-safe like [`lock`](Lock::lock).
    ///
    /// ```
    /// use rycos::sync::Lock;
    /// use std::sync::Arc;
    ///
    /// let rt = rycos::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let shared = Arc::new(Lock::new(Vec::new()));
    ///     let mut held = shared.clone().lock_owned().await;
    ///     // The held lock moves into a task of its own, which releases it when done.
    ///     rycos::spawn(async move { held.push("from the task") }).await.unwrap();
    ///     assert_eq!(*shared.lock().await, ["from the task"]);
    /// });
    /// ```
    pub async fn lock_owned(self: Arc<Self>) -> OwnedLockGuard<T> {
        // Nothing is recorded until the permit is in hand, and no await follows: cancel-safe.
        self.semaphore.acquire().await.forget();
        OwnedLockGuard { lock: self }
    }

    /// Like [`try_lock`](Lock::try_lock) for a shared `Lock`, with an owned guard.
    pub fn try_lock_owned(self: Arc<Self>) -> Option<OwnedLockGuard<T>> {
        self.semaphore.try_acquire()?.forget();
        Some(OwnedLockGuard { lock: self })
    }

    /// Takes the lock if it is free and nobody is queued for it.
    pub fn try_lock(&self) -> Option<LockGuard<'_, T>> {
        let permit = self.semaphore.try_acquire()?;
        Some(LockGuard { lock: self, _permit: permit })
    }

    /// True while some guard holds the lock.
    pub fn is_locked(&self) -> bool {
        self.semaphore.available_permits() == 0
    }

    /// Tasks queued for the lock right now.
    pub fn waiting(&self) -> usize {
        self.semaphore.waiting()
    }

    /// The value, through exclusive access to the lock (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        // SAFETY: `&mut self` proves no guard exists.
        self.value.with_mut(|value| unsafe { &mut *value })
    }

    /// The value, consuming the lock.
    pub fn into_inner(self) -> T {
        let Lock { value, .. } = self;
        value.into_inner()
    }
}

impl<T: Default> Default for Lock<T> {
    fn default() -> Self {
        Lock::new(T::default())
    }
}

impl<T> fmt::Debug for Lock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock").field("locked", &self.is_locked()).finish_non_exhaustive()
    }
}

/// Future of [`Lock::lock`]; cancel-safe (a dropped waiter never keeps or loses the lock).
#[must_use = "futures do nothing unless awaited"]
pub struct LockFuture<'a, T> {
    lock: &'a Lock<T>,
    acquire: Acquire<'a>,
}

impl<'a, T> Future for LockFuture<'a, T> {
    type Output = LockGuard<'a, T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<LockGuard<'a, T>> {
        let permit = std::task::ready!(Pin::new(&mut self.acquire).poll(cx));
        Poll::Ready(LockGuard { lock: self.lock, _permit: permit })
    }
}

impl<T> fmt::Debug for LockFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockFuture").finish_non_exhaustive()
    }
}

/// Access to the value of a held [`Lock`]; dropping it releases the lock (to the oldest waiter).
#[must_use = "dropping the guard releases the lock at once"]
pub struct LockGuard<'a, T> {
    lock: &'a Lock<T>,
    _permit: Permit<'a>,
}

impl<'a, T> LockGuard<'a, T> {
    /// The lock this guard holds (used by [`Condition::wait`](super::Condition::wait) to take
    /// it again).
    pub fn lock(guard: &Self) -> &'a Lock<T> {
        guard.lock
    }
}

impl<T> Deref for LockGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: this guard holds the lock's only permit, so no `&mut T` exists elsewhere.
        self.lock.value.with(|value| unsafe { &*value })
    }
}

impl<T> DerefMut for LockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: this guard holds the lock's only permit and `&mut self` proves no other
        // reference through it is alive.
        self.lock.value.with_mut(|value| unsafe { &mut *value })
    }
}

impl<T: fmt::Debug> fmt::Debug for LockGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LockGuard").field(&**self).finish()
    }
}

/// A held [`Lock`] that owns a reference to it ([`Lock::lock_owned`]): `'static`, so it can move
/// into another task. Dropping it releases the lock.
#[must_use = "dropping the guard releases the lock at once"]
pub struct OwnedLockGuard<T> {
    lock: Arc<Lock<T>>,
}

impl<T> OwnedLockGuard<T> {
    /// The lock this guard holds.
    pub fn lock(guard: &Self) -> &Arc<Lock<T>> {
        &guard.lock
    }
}

impl<T> Deref for OwnedLockGuard<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: this guard holds the lock's only permit, so no `&mut T` exists elsewhere.
        self.lock.value.with(|value| unsafe { &*value })
    }
}

impl<T> DerefMut for OwnedLockGuard<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: this guard holds the lock's only permit and `&mut self` proves no other
        // reference through it is alive.
        self.lock.value.with_mut(|value| unsafe { &mut *value })
    }
}

impl<T> Drop for OwnedLockGuard<T> {
    fn drop(&mut self) {
        self.lock.semaphore.add_permits(1);
    }
}

impl<T: fmt::Debug> fmt::Debug for OwnedLockGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OwnedLockGuard").field(&**self).finish()
    }
}
