//! Task and node identifiers.

use std::cell::Cell;
use std::fmt;
use std::num::NonZeroU64;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// A task's identifier, unique among all tasks of its node (this process) for its whole life.
///
/// Ids are never reused. With the node's [`NodeId`](crate::NodeId) it makes a
/// [`TaskAddr`](crate::TaskAddr), unique everywhere.
///
/// ```
/// let rt = rycos::Runtime::new().unwrap();
/// let a = rt.spawn(async {});
/// let b = rt.spawn(async {});
/// assert_ne!(a.id(), b.id());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(NonZeroU64);

/// Ids are handed to each thread in blocks, so spawning does not contend on one counter.
const BLOCK: u64 = 1024;
static NEXT_BLOCK: AtomicU64 = AtomicU64::new(1);

std::thread_local! {
    /// The next id this thread hands out and the end of its block.
    static LOCAL: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

impl TaskId {
    pub(crate) fn next() -> TaskId {
        let id = LOCAL
            .try_with(|local| {
                let (mut next, mut end) = local.get();
                if next == end {
                    next = NEXT_BLOCK.fetch_add(BLOCK, Ordering::Relaxed);
                    end = next + BLOCK;
                }
                local.set((next + 1, end));
                next
            })
            // During thread teardown the thread-local is gone: take a block of one.
            .unwrap_or_else(|_| NEXT_BLOCK.fetch_add(1, Ordering::Relaxed));
        TaskId(NonZeroU64::new(id).expect("task id counter overflowed"))
    }

    /// The id for a number produced by [`as_u64`](TaskId::as_u64) (a monitor's URL, a log
    /// line); `None` for 0.
    pub fn from_u64(id: u64) -> Option<TaskId> {
        NonZeroU64::new(id).map(TaskId)
    }

    /// The id as a number.
    pub fn as_u64(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Debug for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaskId({})", self.0)
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A node in one incarnation: random, chosen when it starts.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(NonZeroU64);

impl NodeId {
    /// This process's node (the node of every local task until the distribution layer gives a
    /// process nodes of its own).
    pub fn local() -> NodeId {
        static LOCAL: OnceLock<NodeId> = OnceLock::new();
        *LOCAL.get_or_init(NodeId::fresh)
    }

    /// A new, random incarnation.
    pub(crate) fn fresh() -> NodeId {
        use std::hash::{BuildHasher, Hasher};
        // std's randomly keyed hasher is a good enough source for an incarnation number: what
        // matters is that two starts do not collide, not that nobody can guess it.
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        hasher.write_u128(now.as_nanos());
        NodeId(NonZeroU64::new(hasher.finish()).unwrap_or(NonZeroU64::MIN))
    }

    /// The incarnation number.
    pub fn as_u64(self) -> u64 {
        self.0.get()
    }

    /// The id for a number produced by [`as_u64`](NodeId::as_u64); `None` for 0.
    pub fn from_u64(id: u64) -> Option<NodeId> {
        NonZeroU64::new(id).map(NodeId)
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({:016x})", self.0)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}
