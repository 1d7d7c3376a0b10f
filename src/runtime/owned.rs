//! The owner list: every live task of a runtime, so that shutdown can find and cancel the ones
//! that wait on nothing but themselves (a task parked in `receive()` holds its own waker).
//!
//! Sharded by task id to keep spawning threads off each other's locks. Each entry holds one task
//! reference; the task's header records its index, read and written only under the shard lock.
//! A shard is a vector of optional task pointers (8 bytes a task: the pointer's niche makes the
//! `Option` free) plus a stack of the indexes freed, which `insert` reuses first.

use crate::loom::sync::Mutex;
use crate::task::RawTask;
use crossbeam_utils::CachePadded;

pub(crate) struct OwnedTasks {
    /// Padded: neighbouring shards are locked by different workers at the same time.
    shards: Box<[CachePadded<Mutex<Shard>>]>,
}

struct Shard {
    slots: Vec<Option<RawTask>>,
    free: Vec<u32>,
    closed: bool,
}

impl Shard {
    fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }
}

impl OwnedTasks {
    pub(crate) fn new(num_workers: usize) -> OwnedTasks {
        // One shard under loom: ids grow across loom iterations, and the shard a task lands in must
        // not change the explored interleavings.
        //
        // Otherwise many: a spawning worker inserts while the others remove the tasks that
        // finished, and a collision on a shard lock can tip both into a mode where they keep
        // parking on it. With 16 shards for 2 workers, 1M spawn + join fell into that mode in
        // about one process in five (700-800 ms instead of 280-430); with 64, in none of 12
        // (BENCHMARKS.md). A shard costs 128 bytes.
        let n = if cfg!(loom) { 1 } else { (num_workers * 32).next_power_of_two().clamp(64, 1024) };
        OwnedTasks {
            shards: (0..n)
                .map(|_| {
                    CachePadded::new(Mutex::new(Shard { slots: Vec::new(), free: Vec::new(), closed: false }))
                })
                .collect(),
        }
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
        let index = match shard.free.pop() {
            Some(index) => {
                shard.slots[index as usize] = Some(task);
                index
            }
            None => {
                let index =
                    u32::try_from(shard.slots.len()).expect("more than 4 billion live tasks in one shard");
                shard.slots.push(Some(task));
                index
            }
        };
        // SAFETY: `owner_index` is only accessed under this shard's lock.
        task.header().owner_index.with_mut(|slot| unsafe { *slot = index });
        true
    }

    /// Removes a completed task; true if it was still listed (its reference is then the
    /// caller's to release).
    pub(crate) fn remove(&self, task: RawTask) -> bool {
        let mut shard = self.shard(task).lock();
        // SAFETY: `owner_index` is only accessed under this shard's lock.
        let index = task.header().owner_index.with(|slot| unsafe { *slot });
        match shard.slots.get_mut(index as usize) {
            Some(slot) if *slot == Some(task) => {
                *slot = None;
                shard.free.push(index);
                true
            }
            _ => false,
        }
    }

    /// Refuses further tasks in every shard; false if it was already closed.
    pub(crate) fn close(&self) -> bool {
        let mut newly = false;
        for shard in self.shards.iter() {
            newly |= !std::mem::replace(&mut shard.lock().closed, true);
        }
        newly
    }

    /// Takes every listed task out of every shard, with its reference; the caller cancels them.
    /// Safe to call from several threads: each task is handed to exactly one caller.
    pub(crate) fn drain(&self) -> Vec<RawTask> {
        let mut all = Vec::new();
        for shard in self.shards.iter() {
            let mut shard = shard.lock();
            shard.free.clear();
            all.extend(std::mem::take(&mut shard.slots).into_iter().flatten());
        }
        all
    }

    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }
}
