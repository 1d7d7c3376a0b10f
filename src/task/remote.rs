//! The seam between task handles and the distribution layer: what a [`TaskRef`] needs from a
//! task on another node. `task_ref.rs` matches every method on local or remote, and the remote
//! arm calls this trait; `dist` implements it (`dist::remote`). Nothing here knows about links,
//! frames or serde, so the core builds without the `dist` feature and a second transport could
//! implement the same trait.
//!
//! Messages cross the seam as `&dyn Any`: the implementation was made for one message type
//! (the encoder is captured where the remote reference is created, where `M: Serialize` is
//! known), encodes the message by reference, and the caller keeps ownership, so a failed send
//! hands the message back to the user untouched.
//!
//! [`TaskRef`]: super::TaskRef

use super::TaskAddr;
use super::extras::{ExitHook, HookToken};
use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// Why a remote send or deliver failed; the handle turns it into the matching
/// `SendError` / `DeliverError` variant with the message inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(feature = "dist"), allow(dead_code))]
pub(crate) enum RemoteFailure {
    /// The task's node is down (or was, and came back as a new incarnation).
    PeerDown,
    /// The link's outbound buffer is full.
    Full,
    /// The remote task has ended.
    Closed,
    /// No acknowledgement came in time.
    Timeout,
    /// The message is larger than the link's maximum message size.
    TooLarge,
}

impl fmt::Display for RemoteFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RemoteFailure::PeerDown => "the task's node is down or unreachable",
            RemoteFailure::Full => "the link's outbound buffer is full",
            RemoteFailure::Closed => "the task has ended",
            RemoteFailure::Timeout => "no acknowledgement came in time",
            RemoteFailure::TooLarge => "the message is larger than the link's maximum message size",
        })
    }
}

/// What waits for a remote deliver's acknowledgement.
pub(crate) type RemoteDeliver = Pin<Box<dyn Future<Output = Result<(), RemoteFailure>> + Send>>;

/// A task on another node, as a handle sees it.
pub(crate) trait RemoteTask: Send + Sync + 'static {
    /// Its node and its id there.
    fn addr(&self) -> TaskAddr;

    /// Its name, if it has one (registered names travel with the reference).
    fn name(&self) -> Option<&str>;

    /// False once its end is known here, or its node is down.
    fn is_alive(&self) -> bool;

    /// Asks its node to terminate it; false if it is known to have ended already.
    fn terminate(&self) -> bool;

    /// Queues `message` (an `M` of the handle's type) on the link: exactly once while the link lives, FIFO per
    /// sender and receiver. Never blocks.
    fn send(&self, message: &dyn Any) -> Result<(), RemoteFailure>;

    /// Queues `message` as a deliver and returns what completes when the remote node has put it
    /// in the mailbox (or fails), within `timeout`.
    fn deliver(&self, message: &dyn Any, timeout: Duration) -> Result<RemoteDeliver, RemoteFailure>;

    /// Runs `hook` once when the task ends or its node is lost (at once, returning `None`, if
    /// that is known already).
    fn add_exit_hook(&self, hook: ExitHook) -> Option<HookToken>;

    /// Removes a hook that has not run; false if it ran.
    fn remove_exit_hook(&self, hook: HookToken) -> bool;

    /// The implementation, for the layer that made it (serialising a reference).
    #[cfg_attr(not(feature = "dist"), allow(dead_code))]
    fn as_any(&self) -> &dyn Any;
}
