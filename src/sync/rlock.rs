//! [`RLock`]: a lock its holding task may take again.

use super::semaphore::Semaphore;
use crate::loom::sync::Mutex;
use crate::task::{TaskId, current};
use crate::time::timeout;
use std::fmt;
use std::time::Duration;

/// A re-entrant lock (pycos `RLock`): the task holding it may acquire it again, and must release
/// it as many times. Only the holder may release it; a release from another task is refused with
/// [`RLockError::NotOwner`] and changes nothing.
///
/// Ownership belongs to a task, so `acquire` and `release` must be called from inside one.
///
/// ```
/// use rycos::sync::{RLock, RLockError};
/// use std::sync::Arc;
///
/// let rt = rycos::Runtime::new().unwrap();
/// rt.block_on(rt.spawn(async {
///     let lock = Arc::new(RLock::new());
///     lock.acquire().await.unwrap();
///     lock.acquire().await.unwrap(); // again: no deadlock
///     assert_eq!(lock.depth(), 2);
///
///     let other = lock.clone();
///     let refused = rycos::spawn(async move { other.release() }).await.unwrap();
///     assert_eq!(refused, Err(RLockError::NotOwner));
///
///     lock.release().unwrap();
///     lock.release().unwrap();
///     assert!(!lock.is_locked());
/// }))
/// .unwrap();
/// ```
pub struct RLock {
    /// One permit: held by the owning task from its first acquire to its last release.
    semaphore: Semaphore,
    owner: Mutex<Option<Owner>>,
}

#[derive(Debug, Clone, Copy)]
struct Owner {
    task: TaskId,
    depth: u32,
}

/// Why an [`RLock`] operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RLockError {
    /// `release` by a task that does not hold the lock.
    NotOwner,
    /// Called outside a task: an `RLock` is owned by a task.
    NotInTask,
    /// The timeout passed before the lock was free.
    Timeout,
}

impl fmt::Display for RLockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RLockError::NotOwner => "the RLock is not held by this task",
            RLockError::NotInTask => "an RLock can only be used from inside a task",
            RLockError::Timeout => "timed out waiting for the RLock",
        })
    }
}

impl std::error::Error for RLockError {}

fn current_task() -> Result<TaskId, RLockError> {
    current().map(|task| task.id()).ok_or(RLockError::NotInTask)
}

impl RLock {
    /// An unlocked re-entrant lock.
    pub fn new() -> RLock {
        RLock { semaphore: Semaphore::new(1), owner: Mutex::new(None) }
    }

    /// Takes the lock, or takes it once more if this task already holds it.
    pub async fn acquire(&self) -> Result<(), RLockError> {
        let me = current_task()?;
        if self.reenter(me) {
            return Ok(());
        }
        // Cancel-safe: nothing is recorded until the permit is in hand, and no await follows.
        self.semaphore.acquire().await.forget();
        *self.owner.lock() = Some(Owner { task: me, depth: 1 });
        Ok(())
    }

    /// Like [`acquire`](RLock::acquire), giving up after `limit`.
    pub async fn acquire_timeout(&self, limit: Duration) -> Result<(), RLockError> {
        timeout(limit, self.acquire()).await.unwrap_or(Err(RLockError::Timeout))
    }

    /// Takes the lock if it is free or already held by this task.
    pub fn try_acquire(&self) -> Result<bool, RLockError> {
        let me = current_task()?;
        if self.reenter(me) {
            return Ok(true);
        }
        let Some(permit) = self.semaphore.try_acquire() else { return Ok(false) };
        permit.forget();
        *self.owner.lock() = Some(Owner { task: me, depth: 1 });
        Ok(true)
    }

    fn reenter(&self, me: TaskId) -> bool {
        match self.owner.lock().as_mut() {
            Some(owner) if owner.task == me => {
                owner.depth = owner.depth.checked_add(1).expect("RLock acquired 2^32 times");
                true
            }
            _ => false,
        }
    }

    /// Releases one acquisition; the lock is free again after the last one.
    pub fn release(&self) -> Result<(), RLockError> {
        let me = current_task()?;
        let freed = {
            let mut owner = self.owner.lock();
            match owner.as_mut() {
                Some(o) if o.task == me => {
                    o.depth -= 1;
                    if o.depth == 0 {
                        *owner = None;
                        true
                    } else {
                        false
                    }
                }
                _ => return Err(RLockError::NotOwner),
            }
        };
        if freed {
            self.semaphore.add_permits(1);
        }
        Ok(())
    }

    /// The depth at which the current task holds the lock; `NotOwner` if it does not.
    pub(super) fn held_by_current_task(&self) -> Result<u32, RLockError> {
        let me = current_task()?;
        match *self.owner.lock() {
            Some(owner) if owner.task == me => Ok(owner.depth),
            _ => Err(RLockError::NotOwner),
        }
    }

    /// Releases the lock whatever its depth (a condition wait; the caller checked ownership).
    pub(super) fn release_all(&self) {
        *self.owner.lock() = None;
        self.semaphore.add_permits(1);
    }

    /// Takes the lock again at `depth` (after a condition wait).
    pub(super) async fn reacquire(&self, depth: u32) -> Result<(), RLockError> {
        self.acquire().await?;
        if let Some(owner) = self.owner.lock().as_mut() {
            owner.depth = depth;
        }
        Ok(())
    }

    /// True while some task holds the lock.
    pub fn is_locked(&self) -> bool {
        self.owner.lock().is_some()
    }

    /// How many times the holder has acquired the lock (0 when free).
    pub fn depth(&self) -> u32 {
        self.owner.lock().map_or(0, |o| o.depth)
    }

    /// The task holding the lock.
    pub fn owner(&self) -> Option<TaskId> {
        self.owner.lock().map(|o| o.task)
    }
}

impl Default for RLock {
    fn default() -> Self {
        RLock::new()
    }
}

impl fmt::Debug for RLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let owner = *self.owner.lock();
        f.debug_struct("RLock")
            .field("owner", &owner.map(|o| o.task))
            .field("depth", &owner.map_or(0, |o| o.depth))
            .finish()
    }
}
