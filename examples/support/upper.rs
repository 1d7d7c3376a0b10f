//! The messages `remote_task_server` and `remote_task_client` exchange (included with
//! `#[path]` by both, so that both name the type alike: a remote name is type-checked by the
//! message type's path).

use rycos::TaskRef;
use serde::{Deserialize, Serialize};

/// The name the server registers its task under.
pub const NAME: &str = "upper";

/// What the server's task understands.
#[derive(Debug, Serialize, Deserialize)]
pub enum Request {
    /// Upper-case `text` and send the result to `reply` (a task of the asking node).
    Upper { text: String, reply: TaskRef<String> },
    /// End the server.
    Stop,
}
