//! The owner list: the live tasks of a runtime that shutdown could not otherwise find, so that
//! it can cancel the ones that wait on nothing but themselves (a task parked in `receive()`
//! holds its own waker).
//!
//! A task is listed lazily, the first time it waits (its poll returns `Pending`): until then it
//! is either queued, and shutdown cancels it when it drains the queues, or being polled, and the
//! poller lists it or, once shutdown has begun, cancels it. A task that finishes in its first
//! poll never touches the list. Listing at spawn made the spawner and the worker running the
//! tasks fight over the shard locks: 1M spawns took twice as long on two workers as on one
//! (docs/bench-history.md).
//!
//! Sharded by task id to keep workers off each other's locks. Each entry holds the task's owner
//! reference; the task's header records its index (`UNLISTED` until it is listed), written once,
//! by the thread that holds the task's RUNNING bit. A shard is a vector of optional
//! task pointers (8 bytes a task: the pointer's niche makes the `Option` free) plus a stack of
//! the indexes freed, which `insert` reuses first.

use super::task::RawTask;
use super::task::raw::UNLISTED;
use crate::loom::sync::Mutex;
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

impl OwnedTasks {
    pub(crate) fn new(num_workers: usize) -> OwnedTasks {
        // One shard under loom: ids grow across loom iterations, and the shard a task lands in must
        // not change the explored interleavings.
        //
        // Otherwise many: workers list and unlist tasks at the same time, and a collision on a
        // shard lock can tip them into a mode where they keep parking on it. With 16 shards for
        // 2 workers, 1M spawn + join (tasks then listed at spawn) fell into that mode in about
        // one process in five; with 64, in none of 12 (docs/bench-history.md). A shard costs 128
        // bytes.
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

    /// Lists a task that is about to wait, unless it already is; false if the runtime is shutting
    /// down (the caller must then cancel the task). The caller holds the task's RUNNING bit.
    pub(crate) fn track(&self, task: RawTask) -> bool {
        task.owner_index() != UNLISTED || self.insert(task)
    }

    /// Moves the task's owner reference into the list; false if the list is closed (the
    /// reference then stays with the task, to be released when it completes).
    fn insert(&self, task: RawTask) -> bool {
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
                let index = u32::try_from(shard.slots.len())
                    .ok()
                    .filter(|&index| index != UNLISTED)
                    .expect("more than 4 billion live tasks in one shard");
                shard.slots.push(Some(task));
                index
            }
        };
        // SAFETY: `owner_index` is written only here, by the thread holding RUNNING (the
        // caller), and read only by it or while the task is idle and queued (`Notified`).
        task.header().owner_index.with_mut(|slot| unsafe { *slot = index });
        true
    }

    /// Takes a completed task off the list; true if its owner reference is the caller's to
    /// release (the task was listed and still is, or was never listed). False when shutdown
    /// took it off first: the reference went with it. The caller holds the task's RUNNING bit.
    pub(crate) fn remove(&self, task: RawTask) -> bool {
        let index = task.owner_index();
        if index == UNLISTED {
            return true;
        }
        let mut shard = self.shard(task).lock();
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

    /// Every listed task, each with a reference of its own (release it with
    /// `drop_reference`). One shard is locked at a time, only to copy its pointers: the workers
    /// listing and unlisting tasks meanwhile wait for a few microseconds at most.
    pub(crate) fn listed(&self) -> Vec<RawTask> {
        let mut all = Vec::new();
        for shard in self.shards.iter() {
            let shard = shard.lock();
            for task in shard.slots.iter().flatten() {
                task.ref_inc();
                all.push(*task);
            }
        }
        all
    }

    /// The listed task with id `id`, with a reference of its own (release it with
    /// `drop_reference`).
    pub(crate) fn find(&self, id: super::task::TaskId) -> Option<RawTask> {
        let i = id.as_u64() as usize & (self.shards.len() - 1);
        let shard = self.shards[i].lock();
        let task = shard.slots.iter().flatten().find(|task| task.id() == id).copied()?;
        task.ref_inc();
        Some(task)
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
}
