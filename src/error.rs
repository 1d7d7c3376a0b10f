//! Errors of sending, receiving and spawning. Every error that fails to hand over a message
//! carries that message back, so nothing is lost silently.

use std::fmt;

/// `TaskRef::send` failed; the message is inside.
#[non_exhaustive]
pub enum SendError<M> {
    /// The task has finished (or was never started because the runtime had shut down).
    Closed(M),
    /// The task's mailbox is bounded and full (for a task on another node: the link's
    /// outbound buffer is full).
    Full(M),
    /// The task is on another node that is down or unreachable (the distribution layer).
    PeerDown(M),
    /// The task is on another node and the message, encoded, is larger than the node's
    /// maximum message size (`NodeBuilder::max_message`).
    TooLarge(M),
}

impl<M> SendError<M> {
    /// The message that was not sent.
    pub fn into_inner(self) -> M {
        match self {
            SendError::Closed(m) | SendError::Full(m) | SendError::PeerDown(m) | SendError::TooLarge(m) => m,
        }
    }

    /// True if the task has finished.
    pub fn is_closed(&self) -> bool {
        matches!(self, SendError::Closed(_))
    }

    /// True if the mailbox was full.
    pub fn is_full(&self) -> bool {
        matches!(self, SendError::Full(_))
    }
}

impl<M> fmt::Debug for SendError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Closed(_) => f.write_str("SendError::Closed(..)"),
            SendError::Full(_) => f.write_str("SendError::Full(..)"),
            SendError::PeerDown(_) => f.write_str("SendError::PeerDown(..)"),
            SendError::TooLarge(_) => f.write_str("SendError::TooLarge(..)"),
        }
    }
}

impl<M> fmt::Display for SendError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Closed(_) => f.write_str("the receiving task has finished"),
            SendError::Full(_) => f.write_str("the receiving task's mailbox is full"),
            SendError::PeerDown(_) => f.write_str("the receiving task's node is down or unreachable"),
            SendError::TooLarge(_) => f.write_str("the message is larger than the maximum message size"),
        }
    }
}

impl<M> std::error::Error for SendError<M> {}

/// `TaskRef::deliver` failed; the message is inside.
#[non_exhaustive]
pub enum DeliverError<M> {
    /// The task has finished.
    Closed(M),
    /// The message could not be queued before the timeout (the mailbox stayed full, or no
    /// acknowledgement came from another node).
    Timeout(M),
    /// The task is on another node that is down or unreachable (the distribution layer).
    PeerDown(M),
    /// The task is on another node and the message, encoded, is larger than the node's
    /// maximum message size (`NodeBuilder::max_message`).
    TooLarge(M),
}

impl<M> DeliverError<M> {
    /// The message that was not delivered.
    pub fn into_inner(self) -> M {
        match self {
            DeliverError::Closed(m)
            | DeliverError::Timeout(m)
            | DeliverError::PeerDown(m)
            | DeliverError::TooLarge(m) => m,
        }
    }

    /// True if the task has finished.
    pub fn is_closed(&self) -> bool {
        matches!(self, DeliverError::Closed(_))
    }

    /// True if the timeout expired.
    pub fn is_timeout(&self) -> bool {
        matches!(self, DeliverError::Timeout(_))
    }
}

impl<M> fmt::Debug for DeliverError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeliverError::Closed(_) => f.write_str("DeliverError::Closed(..)"),
            DeliverError::Timeout(_) => f.write_str("DeliverError::Timeout(..)"),
            DeliverError::PeerDown(_) => f.write_str("DeliverError::PeerDown(..)"),
            DeliverError::TooLarge(_) => f.write_str("DeliverError::TooLarge(..)"),
        }
    }
}

impl<M> fmt::Display for DeliverError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeliverError::Closed(_) => f.write_str("the receiving task has finished"),
            DeliverError::Timeout(_) => f.write_str("the message could not be delivered before the timeout"),
            DeliverError::PeerDown(_) => f.write_str("the receiving task's node is down or unreachable"),
            DeliverError::TooLarge(_) => f.write_str("the message is larger than the maximum message size"),
        }
    }
}

impl<M> std::error::Error for DeliverError<M> {}

/// A receive with a timeout got no message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecvError {
    /// The timeout expired first.
    Timeout,
    /// No message is queued and none can arrive: no `TaskRef` to this task is left.
    Closed,
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Timeout => f.write_str("no message arrived before the timeout"),
            RecvError::Closed => f.write_str("no message can arrive: every handle to this task is gone"),
        }
    }
}

impl std::error::Error for RecvError {}

/// `Cx::try_receive` found no message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TryRecvError {
    /// The mailbox is empty right now.
    Empty,
    /// The mailbox is empty and no `TaskRef` to this task is left.
    Closed,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("the mailbox is empty"),
            TryRecvError::Closed => f.write_str("the mailbox is empty and every handle to this task is gone"),
        }
    }
}

impl std::error::Error for TryRecvError {}

/// A task could not be spawned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpawnError {
    _private: (),
}

impl SpawnError {
    pub(crate) fn shutdown() -> SpawnError {
        SpawnError { _private: () }
    }

    /// True if the runtime has been shut down (the only cause today).
    pub fn is_shutdown(&self) -> bool {
        true
    }
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cannot spawn: the runtime has been shut down")
    }
}

impl std::error::Error for SpawnError {}
