//! Frames: `length: u32 LE | kind: u8 | body` (`docs/protocol.md`, "Frames").
//!
//! Writers append frames to one buffer ([`encode`]) so a link writes many per system call;
//! readers take every complete frame out of what one `read` brought in ([`decode`]). The length
//! is checked against the link's maximum before anything is allocated for the frame.

use std::fmt;

/// The largest frame a link accepts unless configured otherwise: 1 MiB. Larger messages travel
/// as chunks.
pub const DEFAULT_MAX_FRAME: usize = 1 << 20;

/// Bytes of the length field.
pub const HEADER: usize = 4;

/// Frame kinds (`docs/protocol.md`, the table of kinds): control frames below `0x10`.
pub mod kind {
    /// A sign of life, sent every heartbeat period (body: empty, or an 8-byte probe that the
    /// peer sends back in an `ECHO`).
    pub const HEARTBEAT: u8 = 0x01;
    /// How much of the peer's stream of envelopes this side has processed (body: the byte
    /// offset, `u64` little-endian); the first frame on every connection.
    pub const ACK: u8 = 0x02;
    /// Where this connection's part of the sender's stream starts (body: the byte offset,
    /// `u64` little-endian); written before the first envelope on a connection.
    pub const RESUME: u8 = 0x03;
    /// The answer to a heartbeat that carried a probe (body: the heartbeat's 8 bytes, sent
    /// back): the heartbeat's sender learns the round-trip time.
    pub const ECHO: u8 = 0x04;
    /// A postcard-encoded [`Envelope`](crate::dist::Envelope).
    pub const ENVELOPE: u8 = 0x10;
    /// A piece of a large envelope.
    pub const CHUNK: u8 = 0x11;

    /// True for the kinds this protocol version defines.
    pub const fn is_known(kind: u8) -> bool {
        matches!(kind, HEARTBEAT | ACK | RESUME | ECHO | ENVELOPE | CHUNK)
    }
}

/// Why a byte stream is not a valid sequence of frames. Every one ends the link.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// The header claims more than the link's maximum; nothing of that size was allocated.
    Oversized {
        /// What the header claimed (kind + body).
        claimed: u64,
        /// The link's maximum frame size.
        max: usize,
    },
    /// A length of 0: a frame has at least its kind byte.
    Empty,
    /// A kind this protocol version does not define.
    UnknownKind(u8),
    /// The stream ended inside a frame.
    Truncated {
        /// Bytes of the unfinished frame that had arrived.
        have: usize,
        /// Bytes the frame needed.
        need: usize,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Oversized { claimed, max } => {
                write!(f, "frame of {claimed} bytes refused: the limit is {max}")
            }
            FrameError::Empty => f.write_str("frame of length 0 (no kind byte)"),
            FrameError::UnknownKind(kind) => write!(f, "frame of unknown kind {kind:#04x}"),
            FrameError::Truncated { have, need } => {
                write!(f, "the stream ended inside a frame ({have} of {need} bytes)")
            }
        }
    }
}

impl std::error::Error for FrameError {}

impl From<FrameError> for std::io::Error {
    fn from(e: FrameError) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidData, e)
    }
}

/// Appends one frame of `kind` with `body` to `out`.
///
/// ```
/// use rycos::dist::frame::{decode, encode, DEFAULT_MAX_FRAME};
/// let mut wire = Vec::new();
/// encode(rycos::dist::frame::kind::ENVELOPE, b"one", &mut wire);
/// encode(rycos::dist::frame::kind::ENVELOPE, b"two", &mut wire);
/// let first = decode(&wire, DEFAULT_MAX_FRAME).unwrap().unwrap();
/// assert_eq!(first.body, b"one");
/// let second = decode(&wire[first.consumed..], DEFAULT_MAX_FRAME).unwrap().unwrap();
/// assert_eq!(second.body, b"two");
/// ```
///
/// Panics if the frame would exceed `u32::MAX` bytes; callers chunk long before that.
pub fn encode(kind: u8, body: &[u8], out: &mut Vec<u8>) {
    let length = u32::try_from(body.len() + 1).expect("a frame fits in 4 GiB (chunk larger messages)");
    out.reserve(HEADER + 1 + body.len());
    out.extend_from_slice(&length.to_le_bytes());
    out.push(kind);
    out.extend_from_slice(body);
}

/// Appends one frame of `kind` whose body `write_body` appends to `out` (`len` bytes, exactly):
/// the body is written in place, with no buffer of its own.
pub(crate) fn encode_with(kind: u8, len: usize, out: &mut Vec<u8>, write_body: impl FnOnce(&mut Vec<u8>)) {
    let length = u32::try_from(len + 1).expect("a frame fits in 4 GiB (chunk larger messages)");
    out.reserve(HEADER + 1 + len);
    out.extend_from_slice(&length.to_le_bytes());
    out.push(kind);
    let start = out.len();
    write_body(out);
    debug_assert_eq!(out.len() - start, len, "the body promised {len} bytes");
}

/// One frame found in a buffer: its kind, its body, and how many bytes of the buffer it used.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// What the body is (`docs/protocol.md`, the table of kinds).
    pub kind: u8,
    /// The frame's payload.
    pub body: &'a [u8],
    /// Bytes of the buffer the frame took, header included.
    pub consumed: usize,
}

/// The first frame in `buf`, `None` if it has not arrived in full yet (read more and call
/// again), or why the bytes are not a frame. Only the header is trusted for the length, and it
/// is checked against `max` before the caller is asked to buffer that much; an unknown kind is
/// refused as soon as its byte is in.
pub fn decode(buf: &[u8], max: usize) -> Result<Option<Frame<'_>>, FrameError> {
    let Some(header) = buf.get(..HEADER) else { return Ok(None) };
    let length = u32::from_le_bytes(header.try_into().expect("four bytes")) as usize;
    if length == 0 {
        return Err(FrameError::Empty);
    }
    if length > max {
        return Err(FrameError::Oversized { claimed: length as u64, max });
    }
    // The kind is judged as soon as it arrives, before the body is waited for.
    if let Some(&kind) = buf.get(HEADER)
        && !kind::is_known(kind)
    {
        return Err(FrameError::UnknownKind(kind));
    }
    let Some(frame) = buf.get(HEADER..HEADER + length) else { return Ok(None) };
    Ok(Some(Frame { kind: frame[0], body: &frame[1..], consumed: HEADER + length }))
}

/// What `decode` of the leftover bytes means once the stream has ended: nothing left is a clean
/// end; anything else is a frame cut short.
pub fn at_end(leftover: &[u8], max: usize) -> Result<(), FrameError> {
    if leftover.is_empty() {
        return Ok(());
    }
    let need = match decode(leftover, max)? {
        // A whole frame would have been taken out by the caller; treat it as consumed.
        Some(_) => return Ok(()),
        None if leftover.len() < HEADER => HEADER,
        None => HEADER + u32::from_le_bytes(leftover[..HEADER].try_into().expect("four bytes")) as usize,
    };
    Err(FrameError::Truncated { have: leftover.len(), need })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_many_decode_from_one_buffer() {
        let mut wire = Vec::new();
        encode(kind::ENVELOPE, b"hello", &mut wire);
        encode(kind::HEARTBEAT, b"", &mut wire);
        encode(kind::ENVELOPE, &[7; 300], &mut wire);
        let mut rest = &wire[..];
        let mut got = Vec::new();
        while let Some(frame) = decode(rest, DEFAULT_MAX_FRAME).unwrap() {
            got.push((frame.kind, frame.body.to_vec()));
            rest = &rest[frame.consumed..];
        }
        assert!(rest.is_empty());
        assert_eq!(got, vec![(0x10, b"hello".to_vec()), (0x01, vec![]), (0x10, vec![7; 300])]);
    }

    #[test]
    fn a_frame_split_anywhere_waits_for_the_rest() {
        let mut wire = Vec::new();
        encode(0x10, b"split me", &mut wire);
        for cut in 0..wire.len() {
            assert_eq!(decode(&wire[..cut], DEFAULT_MAX_FRAME), Ok(None), "cut at {cut}");
            assert!(matches!(
                at_end(&wire[..cut], DEFAULT_MAX_FRAME),
                Err(FrameError::Truncated { .. }) | Ok(())
            ));
        }
        assert_eq!(at_end(&wire[..0], DEFAULT_MAX_FRAME), Ok(()));
        assert_eq!(
            at_end(&wire[..6], DEFAULT_MAX_FRAME),
            Err(FrameError::Truncated { have: 6, need: wire.len() })
        );
        assert_eq!(decode(&wire, DEFAULT_MAX_FRAME).unwrap().unwrap().body, b"split me");
    }

    #[test]
    fn an_oversized_header_is_refused_before_the_body_arrives() {
        // Only the 4-byte header: the claim is judged on it alone.
        let header = (u32::MAX).to_le_bytes();
        assert_eq!(
            decode(&header, DEFAULT_MAX_FRAME),
            Err(FrameError::Oversized { claimed: u32::MAX as u64, max: DEFAULT_MAX_FRAME })
        );
        let just_over = ((DEFAULT_MAX_FRAME + 1) as u32).to_le_bytes();
        assert!(matches!(decode(&just_over, DEFAULT_MAX_FRAME), Err(FrameError::Oversized { .. })));
        let at_limit = (DEFAULT_MAX_FRAME as u32).to_le_bytes();
        assert_eq!(decode(&at_limit, DEFAULT_MAX_FRAME), Ok(None));
        assert_eq!(decode(&0u32.to_le_bytes(), DEFAULT_MAX_FRAME), Err(FrameError::Empty));
    }

    #[test]
    fn an_unknown_kind_is_refused_before_its_body_arrives() {
        let mut wire = Vec::new();
        encode(0x7f, b"whatever", &mut wire);
        assert_eq!(decode(&wire[..HEADER + 1], DEFAULT_MAX_FRAME), Err(FrameError::UnknownKind(0x7f)));
        assert!(FrameError::UnknownKind(0x7f).to_string().contains("0x7f"));
        for known in [kind::HEARTBEAT, kind::ACK, kind::RESUME, kind::ENVELOPE, kind::CHUNK] {
            assert!(kind::is_known(known));
        }
    }

    #[test]
    fn random_bytes_never_panic_the_decoder() {
        // A small xorshift stream: deterministic, so a failure reproduces.
        let mut x = 0x2545_f491_u32;
        for _ in 0..20_000 {
            let mut buf = vec![0u8; (x % 64) as usize];
            for b in buf.iter_mut() {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                *b = x as u8;
            }
            let max = 1 + (x % 4096) as usize;
            let mut rest = &buf[..];
            while let Ok(Some(frame)) = decode(rest, max) {
                assert!(frame.consumed > HEADER && frame.consumed <= rest.len());
                assert!(frame.body.len() < max);
                rest = &rest[frame.consumed..];
            }
        }
    }
}
