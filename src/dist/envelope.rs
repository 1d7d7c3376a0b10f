//! Envelopes: what a data frame (`frame::KIND_ENVELOPE`) carries, encoded with postcard
//! (`docs/protocol.md`, "Envelopes"). Only frames from an authenticated peer are decoded, and a
//! frame is at most the link's maximum size, so a length inside an envelope can claim no more
//! memory than the frame that carries it (postcard takes byte strings out of the input, which
//! must hold them).
//!
//! Names, sends, acknowledged delivers, terminate and monitors; chunks of large messages join
//! with their own version bump.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Which namespace a located name is in (the registry's kinds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NameKind {
    /// A task registered with `TaskRef::register`.
    Task,
    /// A channel.
    Channel,
}

/// One message between two nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Envelope {
    /// "Who has `name`?" — answered by `Located`, `NotFound` or `WrongType` with the same
    /// `request`. `type_name` is the message type the asker will send, checked here, at locate
    /// time, so a wrong type is never a garbled decode later.
    Locate {
        /// The asker's number for this question.
        request: u64,
        /// The namespace.
        kind: NameKind,
        /// The registered name.
        name: String,
        /// The stable name of the message type the asker expects.
        type_name: String,
    },
    /// The name is the task `task` (a per-node task id) with mailbox type `type_name`.
    Located {
        /// The `Locate` answered.
        request: u64,
        /// The task's id on the answering node.
        task: u64,
    },
    /// Nobody here has the name.
    NotFound {
        /// The `Locate` answered.
        request: u64,
    },
    /// The name is here, for another message type.
    WrongType {
        /// The `Locate` answered.
        request: u64,
        /// The type the registered task's mailbox takes.
        found: String,
    },
    /// A message for the task `to`: in order per sender and receiver, exactly once while the
    /// link lives.
    Send {
        /// The receiving task's id on this node.
        to: u64,
        /// The message, encoded by the sender's captured encoder.
        #[serde(with = "serde_bytes")]
        payload: Vec<u8>,
    },
    /// A message for the task `to` that the sender waits to see acknowledged (`Delivered` with
    /// the same `seq`): the receiving node waits up to `wait_ms` for room in a full mailbox.
    Deliver {
        /// The receiving task's id on this node.
        to: u64,
        /// The sender's number for this deliver on this link.
        seq: u64,
        /// How long the sender waits, in milliseconds.
        wait_ms: u32,
        /// The message, encoded by the sender's captured encoder.
        #[serde(with = "serde_bytes")]
        payload: Vec<u8>,
    },
    /// The answer to `Deliver { seq, .. }`.
    Delivered {
        /// The deliver answered.
        seq: u64,
        /// Whether the message is in the mailbox.
        outcome: Delivered,
    },
    /// Terminate the task `task` of this node.
    Terminate {
        /// The task's id on this node.
        task: u64,
    },
    /// Tell the sender, with `Exit { monitor }`, when the task `task` of this node ends.
    Monitor {
        /// The task's id on this node.
        task: u64,
        /// The sender's number for this monitor on this link.
        monitor: u64,
    },
    /// Withdraw `Monitor { monitor, .. }`.
    Demonitor {
        /// The monitor withdrawn.
        monitor: u64,
    },
    /// The task watched by `Monitor { monitor, .. }` has ended.
    Exit {
        /// The monitor answered.
        monitor: u64,
        /// How the task ended.
        how: Ending,
    },
    /// The sender is closing the link (shutting down, or `close_peer`): nothing follows, and
    /// the receiver takes the link down at once rather than waiting for a reconnection.
    Goodbye {
        /// Why, for the receiver's logs and peer events.
        reason: String,
    },
}

/// How a deliver went (`Envelope::Delivered`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Delivered {
    /// The message is in the task's mailbox.
    Queued,
    /// The task has ended (or never existed here).
    Closed,
    /// The mailbox stayed full for the time the sender waits.
    Timeout,
    /// The payload did not decode as the task's message type.
    Malformed,
}

/// How a monitored task ended (`Envelope::Exit`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Ending {
    /// Its code returned.
    Finished,
    /// Its code panicked, with this message.
    Panicked(String),
    /// It was terminated.
    Terminated,
    /// No such task was running when the monitor arrived: it had ended, and how is not kept.
    Gone,
}

/// Why the body of an envelope frame is not an envelope. It ends the link: a peer that passed
/// the handshake and still sends garbage is broken or hostile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeError(String);

impl fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed envelope: {}", self.0)
    }
}

impl std::error::Error for EnvelopeError {}

impl Envelope {
    /// Appends this envelope to `out` (the body of one envelope frame).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        // A Vec writer cannot fail, and every field serialises.
        append(self, out).expect("envelopes always encode");
    }

    /// Appends `Send { to, payload }` to `out`, the payload borrowed: the sender's fast path,
    /// the same bytes as [`encode_into`](Envelope::encode_into) (postcard's: the variant, two
    /// varints and the bytes; a test holds the two together) without serde in between.
    pub(crate) fn encode_send_into(to: u64, payload: &[u8], out: &mut Vec<u8>) {
        out.reserve(Self::send_len(to, payload.len()));
        out.push(SEND_TAG);
        push_varint(to, out);
        push_varint(payload.len() as u64, out);
        out.extend_from_slice(payload);
    }

    /// Bytes of `Send { to, payload }` with a payload of `len` bytes.
    pub(crate) fn send_len(to: u64, len: usize) -> usize {
        1 + varint_len(to) + varint_len(len as u64) + len
    }

    /// The receiver's fast path for the commonest envelope: if `body` is a well-formed `Send`,
    /// its task and its payload borrowed from `body` — what [`decode`](Envelope::decode)
    /// gives, without allocating the payload. `None` for anything else (decode it).
    pub(crate) fn peek_send(body: &[u8]) -> Option<(u64, &[u8])> {
        let rest = body.strip_prefix(&[SEND_TAG])?;
        let (to, rest) = take_varint(rest)?;
        let (len, payload) = take_varint(rest)?;
        (payload.len() as u64 == len).then_some((to, payload))
    }

    /// The envelope in `body`, which must be exactly one envelope (trailing bytes are an
    /// error: they would be a second message the peer did not frame).
    pub fn decode(body: &[u8]) -> Result<Envelope, EnvelopeError> {
        let (envelope, rest) =
            postcard::take_from_bytes::<Envelope>(body).map_err(|e| EnvelopeError(e.to_string()))?;
        if !rest.is_empty() {
            return Err(EnvelopeError(format!("{} bytes after the envelope", rest.len())));
        }
        Ok(envelope)
    }
}

/// `Send`'s variant on the wire: postcard writes a variant's index as a varint, and `Send` is
/// the fifth (a test checks this against the encoder).
const SEND_TAG: u8 = 4;

/// Appends `value` in postcard's format to `out`. postcard's own `to_extend` pushes a byte
/// string byte by byte through `Extend`; this copies it in one go.
pub(crate) fn append<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> postcard::Result<()> {
    postcard::serialize_with_flavor(value, Appending(out))
}

/// postcard's output into the end of a borrowed `Vec`.
struct Appending<'a>(&'a mut Vec<u8>);

impl postcard::ser_flavors::Flavor for Appending<'_> {
    type Output = ();

    #[inline(always)]
    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.0.push(byte);
        Ok(())
    }

    #[inline(always)]
    fn try_extend(&mut self, bytes: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// postcard's unsigned varint: seven bits a byte, least significant first, the high bit set
/// on every byte but the last.
fn push_varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// A varint at the start of `bytes` and what follows it, as postcard reads a `u64`: at most
/// ten bytes, the tenth holding only the top bit.
fn take_varint(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let mut value = 0;
    for (i, &byte) in bytes.iter().take(10).enumerate() {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return (i < 9 || byte <= 1).then(|| (value, &bytes[i + 1..]));
        }
    }
    None
}

/// Bytes of `value` as a varint.
fn varint_len(value: u64) -> usize {
    // One byte per started group of seven bits; zero takes one byte too.
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<Envelope> {
        vec![
            Envelope::Locate {
                request: 1,
                kind: NameKind::Task,
                name: "server".into(),
                type_name: "app::Job".into(),
            },
            Envelope::Located { request: 1, task: 42 },
            Envelope::NotFound { request: u64::MAX },
            Envelope::WrongType { request: 7, found: "app::Other".into() },
            Envelope::Send { to: 42, payload: vec![1, 2, 3] },
            Envelope::Send { to: 0, payload: vec![] },
            Envelope::Deliver { to: 3, seq: 9, wait_ms: 1000, payload: vec![4; 20] },
            Envelope::Delivered { seq: 9, outcome: Delivered::Queued },
            Envelope::Delivered { seq: 10, outcome: Delivered::Malformed },
            Envelope::Terminate { task: 3 },
            Envelope::Monitor { task: 3, monitor: 1 },
            Envelope::Demonitor { monitor: 1 },
            Envelope::Exit { monitor: 1, how: Ending::Panicked("boom".into()) },
            Envelope::Exit { monitor: 2, how: Ending::Gone },
            Envelope::Goodbye { reason: "this node shut down".into() },
        ]
    }

    #[test]
    fn every_envelope_round_trips() {
        for envelope in samples() {
            let mut body = Vec::new();
            envelope.encode_into(&mut body);
            assert_eq!(Envelope::decode(&body), Ok(envelope));
        }
    }

    #[test]
    fn a_payload_is_its_length_and_its_bytes() {
        // The wire format pinned: variant 4 (`Send`), `to` = 42, a varint length, the bytes.
        let mut body = Vec::new();
        Envelope::Send { to: 42, payload: vec![1, 2, 3] }.encode_into(&mut body);
        assert_eq!(body, [4, 42, 3, 1, 2, 3]);
    }

    #[test]
    fn the_send_fast_path_agrees_with_decode() {
        for envelope in samples() {
            let mut body = Vec::new();
            envelope.encode_into(&mut body);
            let peeked = Envelope::peek_send(&body).map(|(to, payload)| (to, payload.to_vec()));
            match envelope {
                Envelope::Send { to, payload } => assert_eq!(peeked, Some((to, payload))),
                other => assert_eq!(peeked, None, "{other:?} is not a send"),
            }
            for cut in 0..body.len() {
                assert_eq!(Envelope::peek_send(&body[..cut]), None, "cut at {cut}");
            }
        }
    }

    #[test]
    fn the_send_fast_path_reads_odd_varints_as_decode_does() {
        // Over-long (zero continuation bytes), ten-byte, overflowing and unterminated varints
        // in the task and in the length: the fast path takes exactly what decode takes.
        let varints: [&[u8]; 7] = [
            &[5],
            &[0x85, 0x00],
            &[0xff; 9],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
            &[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00],
            &[0x83, 0x80, 0x00],
        ];
        for to in varints {
            for len in varints {
                let mut body = vec![SEND_TAG];
                body.extend_from_slice(to);
                body.extend_from_slice(len);
                body.extend_from_slice(&[7; 5]);
                let decoded = match Envelope::decode(&body) {
                    Ok(Envelope::Send { to, payload }) => Some((to, payload)),
                    _ => None,
                };
                let peeked = Envelope::peek_send(&body).map(|(to, payload)| (to, payload.to_vec()));
                assert_eq!(peeked, decoded, "{body:02x?}");
            }
        }
    }

    #[test]
    fn the_send_fast_path_agrees_with_decode_on_random_bodies() {
        // Short bodies behind the send tag, mostly continuation bytes and small lengths, so
        // that varints of every width, over-long ones and lengths near the rest all come up.
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut sends = 0;
        for _ in 0..200_000 {
            let len = (next() % 16) as usize;
            let mut body = vec![SEND_TAG];
            body.extend((0..len).map(|_| match next() % 4 {
                0 => 0x80 | (next() as u8 & 0x7f),
                1 => 0xff,
                2 => next() as u8 % 8,
                _ => next() as u8,
            }));
            let decoded = match Envelope::decode(&body) {
                Ok(Envelope::Send { to, payload }) => Some((to, payload)),
                _ => None,
            };
            let peeked = Envelope::peek_send(&body).map(|(to, payload)| (to, payload.to_vec()));
            assert_eq!(peeked, decoded, "{body:02x?}");
            sends += usize::from(decoded.is_some());
        }
        assert!(sends > 2_000, "only {sends} bodies were sends: the generator misses the decoder");
    }

    #[test]
    fn the_send_encoder_writes_what_the_envelope_encoder_writes() {
        // Every varint width for the task and the length: 1, 2 and 10 bytes; 1, 2 and 3.
        for to in [0, 1, 127, 128, 300, u64::MAX] {
            for len in [0, 1, 127, 128, 16_383, 16_384] {
                let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
                let mut expected = vec![9];
                Envelope::Send { to, payload: payload.clone() }.encode_into(&mut expected);
                let mut fast = vec![9];
                Envelope::encode_send_into(to, &payload, &mut fast);
                assert_eq!(fast, expected, "to {to}, {len} bytes");
                assert_eq!(Envelope::send_len(to, len), expected.len() - 1, "to {to}, {len} bytes");
            }
        }
    }

    #[test]
    fn truncated_trailing_and_garbage_bodies_are_errors() {
        for envelope in samples() {
            let mut body = Vec::new();
            envelope.encode_into(&mut body);
            for cut in 0..body.len() {
                assert!(Envelope::decode(&body[..cut]).is_err(), "{envelope:?} cut at {cut}");
            }
            body.push(0);
            let err = Envelope::decode(&body).unwrap_err();
            assert!(err.to_string().contains("1 bytes after"), "{err}");
        }
        assert!(Envelope::decode(&[0xff; 16]).is_err(), "an unknown variant");
    }

    #[test]
    fn a_huge_declared_length_is_refused_without_allocating_it() {
        // Send { to: 1, payload: <length 2^62> } and four bytes: postcard must find the bytes
        // missing rather than reserve 4 EiB.
        let mut body = vec![4u8, 1];
        body.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40]);
        body.extend_from_slice(&[1, 2, 3, 4]);
        assert!(Envelope::decode(&body).is_err());
    }
}
