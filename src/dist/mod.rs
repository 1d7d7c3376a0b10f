//! Distribution (feature `dist`), so far its wire layer: the authenticated [`handshake()`] two
//! nodes run on a fresh connection and the [`frame`]s they exchange after it, as
//! `docs/protocol.md` specifies them. Nodes, links, names across nodes and remote `TaskRef`s
//! are built on these next; until then this is a low-level API (and what the fuzz target of the
//! frame decoder links against).

pub mod frame;
pub mod handshake;

pub use frame::{DEFAULT_MAX_FRAME, FrameError};
pub use handshake::{HandshakeError, Identity, PROTOCOL_VERSION, Peer, Refusal, Role, handshake};
