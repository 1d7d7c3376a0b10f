//! Where a task is: [`NodeId`] names a node (a process taking part in a rycos program, in one
//! incarnation), [`TaskAddr`] a task anywhere. A [`TaskId`] is unique only within its node.
//!
//! A restarted node is a new incarnation, so a new `NodeId`: addresses of the old one never
//! reach a stranger. Without the distribution layer every task is on this process's node,
//! [`NodeId::local`].

use super::TaskId;
use std::fmt;
use std::num::NonZeroU64;
use std::sync::OnceLock;

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

/// A task's address anywhere: its node and its id there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskAddr {
    /// The node the task runs on.
    pub node: NodeId,
    /// The task's id on that node.
    pub task: TaskId,
}

impl fmt::Display for TaskAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.task, self.node)
    }
}
