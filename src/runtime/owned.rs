//! The owner list: every live task of a runtime, so that shutdown can find and cancel the ones
//! that wait on nothing but themselves (a task parked in `receive()` holds its own waker).
//!
//! Sharded by task id to keep spawning threads off each other's locks. Each entry holds one task
//! reference; the task's header records its slab index, read and written only under the shard
//! lock.

use crate::loom::sync::Mutex;
use crate::task::RawTask;
use crossbeam_utils::CachePadded;
use slab::Slab;

pub(crate) struct OwnedTasks {
    /// Padded: neighbouring shards are locked by different workers at the same time.
    shards: Box<[CachePadded<Mutex<Shard>>]>,
}

struct Shard {
    tasks: Slab<RawTask>,
    closed: bool,
}

impl OwnedTasks {
    pub(crate) fn new(num_workers: usize) -> OwnedTasks {
        let n = (num_workers * 4).next_power_of_two().clamp(16, 256);
        OwnedTasks { shards: (0..n).map(|_| CachePadded::new(Mutex::new(Shard { tasks: Slab::new(), closed: false }))).collect() }
    }

    fn shard(&self, task: RawTask) -> &Mutex<Shard> {
        let i = task.id().as_u64() as usize & (self.shards.len() - 1);
        &self.shards[i]
    }

    /// Adds a task (taking over one of its references). False if the runtime is shutting down:
    /// the reference then stays with the caller.
    pub(crate) fn insert(&self, task: RawTask) -> bool {
        let mut shard = self.shard(task).lock();
        if shard.closed {
            return false;
        }
        let index = shard.tasks.insert(task);
        let index = u32::try_from(index).expect("more than 4 billion live tasks in one shard");
        // SAFETY: `owner_index` is only accessed under this shard's lock.
        task.header().owner_index.with_mut(|slot| unsafe { *slot = index });
        true
    }

    /// Removes a completed task; true if it was still listed (its reference is then the
    /// caller's to release).
    pub(crate) fn remove(&self, task: RawTask) -> bool {
        let mut shard = self.shard(task).lock();
        // SAFETY: `owner_index` is only accessed under this shard's lock.
        let index = task.header().owner_index.with(|slot| unsafe { *slot }) as usize;
        if shard.tasks.get(index) == Some(&task) {
            shard.tasks.remove(index);
            true
        } else {
            false
        }
    }

    /// Refuses further tasks in every shard.
    pub(crate) fn close(&self) {
        for shard in self.shards.iter() {
            shard.lock().closed = true;
        }
    }

    /// Takes every listed task out of every shard, with its reference; the caller cancels them.
    /// Safe to call from several threads: each task is handed to exactly one caller.
    pub(crate) fn drain(&self) -> Vec<RawTask> {
        let mut all = Vec::new();
        for shard in self.shards.iter() {
            all.extend(shard.lock().tasks.drain());
        }
        all
    }

    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().tasks.len()).sum()
    }
}
