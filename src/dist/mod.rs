//! Distribution (feature `dist`), so far its wire layer: the authenticated [`handshake()`] two
//! nodes run on a fresh connection, the [`frame`]s they exchange after it and the [`Envelope`]s
//! those carry, and where a node is ([`Location`]), as
//! `docs/protocol.md` specifies them. Nodes, links, names across nodes and remote `TaskRef`s
//! are built on these next; until then this is a low-level API (and what the fuzz target of the
//! frame decoder links against).

pub mod envelope;
pub mod frame;
pub mod handshake;
mod location;

pub use envelope::{Envelope, EnvelopeError, NameKind};
pub use frame::{DEFAULT_MAX_FRAME, FrameError};
pub use handshake::{HandshakeError, Identity, PROTOCOL_VERSION, Peer, Refusal, Role, handshake};
pub use location::{DEFAULT_PORT, Location, LocationError};
