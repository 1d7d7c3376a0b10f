//! Networking: TCP, UDP and Unix-domain sockets on the runtime's reactor (pycos
//! `AsyncSocket`), with pycos's length-prefixed messages.
//!
//! Every operation is an `async fn` that tries the system call first and waits only if it
//! would block. Bound any of them with [`crate::time::timeout`]. Streams are cheap to clone and
//! take `&self`, so a reader task and a writer task can share a connection.

mod framing;
mod stream;
mod tcp;
mod udp;
mod unix;

pub use framing::DEFAULT_MAX_MESSAGE;
pub use stream::Stream;
pub use tcp::{DEFAULT_BACKLOG, Incoming, TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixListener, UnixStream};

// Framing over any byte stream, shared with `tls`.
#[cfg(feature = "tls")]
pub(crate) use framing::{read_exact, recv_msg, send_msg, write_all};
