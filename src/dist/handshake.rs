//! The handshake two nodes run on a fresh connection (`docs/protocol.md`, "The handshake"):
//! hellos in fixed layout, a mutual HMAC-SHA256 proof over the shared secret bound to both
//! hellos and to the sender's role, then a verdict byte each way. Nothing is decoded with serde
//! before it has succeeded, and every refusal is named on both sides.

use futures_io::{AsyncRead, AsyncWrite};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use std::io;
use std::time::Duration;

/// The protocol version this build speaks; a peer with another is refused.
pub const PROTOCOL_VERSION: u16 = 1;

const MAGIC: [u8; 4] = *b"RYCS";
const NONCE: usize = 32;
/// Magic, version, incarnation, nonce, name length.
const FIXED: usize = 4 + 2 + 8 + NONCE + 1;
const PROOF: usize = 32;
const PROOF_LABEL: &[u8] = b"rycos-proof-v1";

const ACCEPTED: u8 = 0x00;
const WRONG_SECRET: u8 = 0x01;

/// Which end of the connection this side is; part of the proof, so a proof cannot be
/// reflected back to the side that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The side that opened the connection.
    Dialer,
    /// The side that accepted it.
    Listener,
}

impl Role {
    fn byte(self) -> u8 {
        match self {
            Role::Dialer => b'D',
            Role::Listener => b'L',
        }
    }

    fn other(self) -> Role {
        match self {
            Role::Dialer => Role::Listener,
            Role::Listener => Role::Dialer,
        }
    }
}

/// Who this node is, as its hello says.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The node's name (1 to 255 bytes of UTF-8).
    pub name: String,
    /// Its incarnation (random, chosen when it starts).
    pub incarnation: u64,
}

/// The authenticated peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// The name its hello gave.
    pub name: String,
    /// Its incarnation.
    pub incarnation: u64,
}

/// Why the peer refused us (the verdict byte it sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// Its proof check failed: the secrets differ.
    WrongSecret,
    /// A code this build does not know.
    Unknown(u8),
}

/// Why a handshake failed. The connection is closed in every case.
#[derive(Debug)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The peer's first bytes are not a rycos hello (a port scanner, random bytes, or plain
    /// TCP sent to a TLS port).
    NotRycos,
    /// The peer speaks another protocol version.
    Version {
        /// This build's version.
        ours: u16,
        /// The peer's.
        theirs: u16,
    },
    /// The hello is malformed (what is wrong with it).
    BadHello(&'static str),
    /// The peer's proof is wrong: its secret is not ours (or it has none and we do, or the
    /// other way round).
    WrongSecret,
    /// The peer refused our proof.
    RefusedByPeer(Refusal),
    /// The handshake did not finish in time (e.g. a peer that connects and sends nothing).
    TimedOut(Duration),
    /// The connection failed or closed during the handshake.
    Io(io::Error),
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::NotRycos => f.write_str("the peer is not a rycos node (no rycos hello)"),
            HandshakeError::Version { ours, theirs } => {
                write!(f, "the peer speaks protocol version {theirs}, this node {ours}")
            }
            HandshakeError::BadHello(what) => write!(f, "malformed hello from the peer: {what}"),
            HandshakeError::WrongSecret => {
                f.write_str("the peer's proof is wrong: its secret differs from ours")
            }
            HandshakeError::RefusedByPeer(Refusal::WrongSecret) => {
                f.write_str("the peer refused our proof: its secret differs from ours")
            }
            HandshakeError::RefusedByPeer(Refusal::Unknown(code)) => {
                write!(f, "the peer refused the handshake (code {code:#04x})")
            }
            HandshakeError::TimedOut(limit) => write!(f, "the handshake did not finish within {limit:?}"),
            HandshakeError::Io(e) => write!(f, "the connection failed during the handshake: {e}"),
        }
    }
}

impl std::error::Error for HandshakeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HandshakeError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for HandshakeError {
    fn from(e: io::Error) -> Self {
        HandshakeError::Io(e)
    }
}

/// Fresh random bytes from the kernel, for the nonce.
fn nonce() -> io::Result<[u8; NONCE]> {
    let mut bytes = [0u8; NONCE];
    let mut filled = 0;
    while filled < NONCE {
        filled += rustix::rand::getrandom(&mut bytes[filled..], rustix::rand::GetRandomFlags::empty())?;
    }
    Ok(bytes)
}

/// This side's hello, in the layout of `docs/protocol.md`.
fn hello(me: &Identity, nonce: &[u8; NONCE]) -> io::Result<Vec<u8>> {
    let name = me.name.as_bytes();
    let length = u8::try_from(name.len())
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "a node name is 1 to 255 bytes"))?;
    let mut bytes = Vec::with_capacity(FIXED + name.len());
    bytes.extend_from_slice(&MAGIC);
    bytes.extend_from_slice(&PROTOCOL_VERSION.to_le_bytes());
    bytes.extend_from_slice(&me.incarnation.to_le_bytes());
    bytes.extend_from_slice(nonce);
    bytes.push(length);
    bytes.extend_from_slice(name);
    Ok(bytes)
}

/// Reads the peer's hello: the raw bytes (they enter the proofs) and what they say.
async fn read_hello<S: AsyncRead + Unpin>(stream: &mut S) -> Result<(Vec<u8>, Peer), HandshakeError> {
    let mut fixed = [0u8; FIXED];
    stream.read_exact(&mut fixed[..MAGIC.len()]).await?;
    if fixed[..MAGIC.len()] != MAGIC {
        return Err(HandshakeError::NotRycos);
    }
    stream.read_exact(&mut fixed[MAGIC.len()..]).await?;
    let theirs = u16::from_le_bytes([fixed[4], fixed[5]]);
    if theirs != PROTOCOL_VERSION {
        // Both sides see both versions in the hellos: each reports it, nothing more is sent.
        return Err(HandshakeError::Version { ours: PROTOCOL_VERSION, theirs });
    }
    let incarnation = u64::from_le_bytes(fixed[6..14].try_into().expect("eight bytes"));
    let length = fixed[FIXED - 1] as usize;
    if length == 0 {
        return Err(HandshakeError::BadHello("empty node name"));
    }
    let mut bytes = fixed.to_vec();
    bytes.resize(FIXED + length, 0);
    stream.read_exact(&mut bytes[FIXED..]).await?;
    let name = std::str::from_utf8(&bytes[FIXED..])
        .map_err(|_| HandshakeError::BadHello("node name is not UTF-8"))?;
    let peer = Peer { name: name.to_owned(), incarnation };
    Ok((bytes, peer))
}

/// The proof the side in `role` sends: bound to its own hello, then the peer's.
fn proof(secret: &[u8], role: Role, own_hello: &[u8], peer_hello: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(PROOF_LABEL);
    mac.update(&[role.byte()]);
    mac.update(own_hello);
    mac.update(peer_hello);
    mac
}

/// Runs the handshake on `stream` as `role`, within `limit`; the authenticated peer, or why
/// not. On an error the caller drops the connection.
pub async fn handshake<S>(
    stream: &mut S,
    role: Role,
    me: &Identity,
    secret: &[u8],
    limit: Duration,
) -> Result<Peer, HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    crate::time::timeout(limit, exchange(stream, role, me, secret))
        .await
        .unwrap_or(Err(HandshakeError::TimedOut(limit)))
}

async fn exchange<S>(stream: &mut S, role: Role, me: &Identity, secret: &[u8]) -> Result<Peer, HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // Step 1: hellos, both ways at once.
    let own_hello = hello(me, &nonce()?)?;
    stream.write_all(&own_hello).await?;
    stream.flush().await?;
    let (peer_hello, peer) = read_hello(stream).await?;

    // Step 2: proofs.
    let own_proof = proof(secret, role, &own_hello, &peer_hello).finalize().into_bytes();
    stream.write_all(&own_proof).await?;
    stream.flush().await?;
    let mut peer_proof = [0u8; PROOF];
    stream.read_exact(&mut peer_proof).await?;
    let accepted = proof(secret, role.other(), &peer_hello, &own_hello).verify_slice(&peer_proof).is_ok();

    // Step 3: verdicts. Read the peer's before closing even when refusing, so that our refusal
    // is not lost to a reset (a socket closed with unread data resets the connection).
    stream.write_all(&[if accepted { ACCEPTED } else { WRONG_SECRET }]).await?;
    stream.flush().await?;
    let mut verdict = [0u8; 1];
    stream.read_exact(&mut verdict).await?;
    if !accepted {
        return Err(HandshakeError::WrongSecret);
    }
    match verdict[0] {
        ACCEPTED => Ok(peer),
        WRONG_SECRET => Err(HandshakeError::RefusedByPeer(Refusal::WrongSecret)),
        code => Err(HandshakeError::RefusedByPeer(Refusal::Unknown(code))),
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::net::{TcpListener, TcpStream};

    const LIMIT: Duration = Duration::from_secs(10);

    fn identity(name: &str) -> Identity {
        Identity { name: name.to_owned(), incarnation: name.len() as u64 * 1_000_003 }
    }

    async fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let dialer = TcpStream::connect(addr).await.unwrap();
        let (accepted, _) = listener.accept().await.unwrap();
        (dialer, accepted)
    }

    /// Both sides at once; the dialer's result, then the listener's.
    fn run(
        dialer_secret: &'static [u8],
        listener_secret: &'static [u8],
    ) -> (Result<Peer, HandshakeError>, Result<Peer, HandshakeError>) {
        let rt = crate::Runtime::new().unwrap();
        rt.block_on(async move {
            let (mut d, mut l) = pair().await;
            let listener = crate::spawn(async move {
                handshake(&mut l, Role::Listener, &identity("listener"), listener_secret, LIMIT).await
            });
            let dialed =
                handshake(&mut d, Role::Dialer, &identity("dialer-node"), dialer_secret, LIMIT).await;
            (dialed, listener.await.unwrap())
        })
    }

    #[test]
    fn the_same_secret_authenticates_both_sides() {
        let (dialed, listened) = run(b"s3cret", b"s3cret");
        assert_eq!(dialed.unwrap(), identity("listener").into_peer());
        assert_eq!(listened.unwrap(), identity("dialer-node").into_peer());
        // No secret on either side is a match too (the empty key).
        let (dialed, listened) = run(b"", b"");
        assert!(dialed.is_ok() && listened.is_ok());
    }

    #[test]
    fn a_wrong_or_missing_secret_is_refused_on_both_sides() {
        for (d, l) in [(&b"one"[..], &b"two"[..]), (b"", b"two"), (b"one", b"")] {
            let (dialed, listened) = run(d, l);
            assert!(matches!(dialed, Err(HandshakeError::WrongSecret)), "{dialed:?}");
            assert!(matches!(listened, Err(HandshakeError::WrongSecret)), "{listened:?}");
        }
    }

    #[test]
    fn a_reflected_proof_is_refused() {
        // A fake listener that answers the dialer's hello with the dialer's own hello and proof:
        // without the role byte it would pass.
        let rt = crate::Runtime::new().unwrap();
        let result = rt.block_on(async {
            let (mut d, l) = pair().await;
            let mirror = crate::spawn(async move {
                let mut hello = vec![0u8; FIXED + "dialer-node".len()];
                l.read_exact(&mut hello).await.unwrap();
                l.write_all(&hello).await.unwrap();
                let mut proof = [0u8; PROOF];
                l.read_exact(&mut proof).await.unwrap();
                l.write_all(&proof).await.unwrap();
                let mut verdict = [0u8; 1];
                l.read_exact(&mut verdict).await.unwrap();
                l.write_all(&[ACCEPTED]).await.unwrap();
                verdict[0]
            });
            let dialed = handshake(&mut d, Role::Dialer, &identity("dialer-node"), b"secret", LIMIT).await;
            (dialed, mirror.await.unwrap())
        });
        assert!(matches!(result.0, Err(HandshakeError::WrongSecret)), "{:?}", result.0);
        assert_eq!(result.1, WRONG_SECRET, "the dialer told the mirror why");
    }

    #[test]
    fn strangers_silence_and_other_versions_get_clear_errors() {
        let rt = crate::Runtime::new().unwrap();
        rt.block_on(async {
            // Random bytes (or an HTTP request, or a TLS ClientHello): not a rycos hello.
            let (mut d, l) = pair().await;
            l.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
            let got = handshake(&mut d, Role::Dialer, &identity("a"), b"", LIMIT).await;
            assert!(matches!(got, Err(HandshakeError::NotRycos)), "{got:?}");

            // A peer that connects and sends nothing.
            let (mut d, _silent) = pair().await;
            let short = Duration::from_millis(50);
            let got = handshake(&mut d, Role::Dialer, &identity("a"), b"", short).await;
            assert!(matches!(got, Err(HandshakeError::TimedOut(limit)) if limit == short), "{got:?}");

            // Another protocol version.
            let (mut d, l) = pair().await;
            let mut other = hello(&identity("future"), &[9; NONCE]).unwrap();
            other[4..6].copy_from_slice(&7u16.to_le_bytes());
            l.write_all(&other).await.unwrap();
            let got = handshake(&mut d, Role::Dialer, &identity("a"), b"", LIMIT).await;
            assert!(matches!(got, Err(HandshakeError::Version { ours: 1, theirs: 7 })), "{got:?}");
            assert!(got.unwrap_err().to_string().contains("version 7"));

            // A peer that closes in the middle of its hello.
            let (mut d, l) = pair().await;
            l.write_all(&MAGIC).await.unwrap();
            drop(l);
            let got = handshake(&mut d, Role::Dialer, &identity("a"), b"", LIMIT).await;
            assert!(
                matches!(&got, Err(HandshakeError::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof),
                "{got:?}"
            );

            // A hello whose name is not UTF-8.
            let (mut d, l) = pair().await;
            let mut bad = hello(&identity("xy"), &[1; NONCE]).unwrap();
            let last = bad.len() - 1;
            bad[last] = 0xff;
            l.write_all(&bad).await.unwrap();
            let got = handshake(&mut d, Role::Dialer, &identity("a"), b"", LIMIT).await;
            assert!(matches!(got, Err(HandshakeError::BadHello(_))), "{got:?}");
        });
    }

    #[test]
    fn every_nonce_is_fresh() {
        let a = nonce().unwrap();
        let b = nonce().unwrap();
        assert_ne!(a, b);
        assert!(
            hello(&Identity { name: String::new(), incarnation: 1 }, &a).is_err(),
            "empty names are refused"
        );
        assert!(hello(&Identity { name: "n".repeat(256), incarnation: 1 }, &a).is_err());
    }

    impl Identity {
        fn into_peer(self) -> Peer {
            Peer { name: self.name, incarnation: self.incarnation }
        }
    }
}
