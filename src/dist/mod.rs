//! Distribution (feature `dist`): nodes that link to each other over authenticated
//! connections, names that peers can locate, and `TaskRef`s to tasks of other nodes that work
//! like local ones (pycos `netpycos`). `docs/protocol.md` specifies the wire; `docs/semantics.md` (*Across nodes*)
//! what the layer promises.
//!
//! - [`Node`]: listens, dials ([`Node::peer`]), links, and routes; [`Node::register`] and
//!   [`Node::locate`] share names; [`Node::peer_events`] reports peers coming and going.
//! - A `TaskRef<M>` from `locate`, or inside a message, may point at a task of another node:
//!   `send`, `deliver`, `terminate` and monitors work on it unchanged. `M` must be
//!   `Serialize + DeserializeOwned` where such a reference is made.
//! - The wire layer underneath is public for tools and fuzzing: [`handshake()`], [`frame`]s,
//!   [`Envelope`]s, [`Location`].

mod chunk;
mod discovery;
pub mod envelope;
pub mod frame;
pub mod handshake;
mod link;
mod location;
mod names;
mod node;
mod remote;
mod snapshot;
mod stream;
mod type_name;
mod wire;

pub use chunk::DEFAULT_MAX_MESSAGE;
pub use discovery::{DEFAULT_DISCOVERY_INTERVAL, DEFAULT_DISCOVERY_PORT, DISCOVERY_GROUP_V6};
pub use envelope::{Envelope, EnvelopeError, NameKind};
pub use frame::{DEFAULT_MAX_FRAME, FrameError};
pub use handshake::{HandshakeError, Identity, PROTOCOL_VERSION, Peer, Refusal, Role, handshake};
pub use link::DownReason;
pub use location::{DEFAULT_PORT, Location, LocationError};
pub use node::{
    DEFAULT_GRACE, DEFAULT_HEARTBEAT, DEFAULT_MISSES, DEFAULT_OUTBOUND_LIMIT, Node, NodeBuilder, NodeError,
    PeerError, PeerEvent, PeerEvents, Shutdown,
};
pub use snapshot::{LinkState, NameSnapshot, NodeSnapshot, PeerSnapshot};
