//! Where a task is: [`NodeId`] names a node (a process taking part in a rycos program, in one
//! incarnation), [`TaskAddr`] a task anywhere. A [`TaskId`] is unique only within its node.
//!
//! A restarted node is a new incarnation, so a new `NodeId`: addresses of the old one never
//! reach a stranger. Without the distribution layer every task is on this process's node,
//! [`NodeId::local`]. (`NodeId` itself lives beside `TaskId`, under the runtime, whose exit
//! records carry it.)

use super::{NodeId, TaskId};
use std::fmt;

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
