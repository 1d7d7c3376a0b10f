//! Large envelopes in pieces (`docs/protocol.md`, "Large messages"): an envelope larger than
//! [`CHUNK`] travels as chunk frames, one per write, with the small envelopes queued meanwhile
//! written between them, so a 100 MB message holds a heartbeat or another task's message back
//! by one chunk, not by the whole message.
//!
//! Interleaving must not break the orders the protocol promises: messages from one task to
//! another arrive in the order sent, and a task's exit after the messages it sent. So an
//! envelope that the pieces of a large one could be overtaken by waits behind it: one for the
//! same task (a send, a deliver, a terminate), and anything that must follow every message (an
//! exit, a goodbye). Answers (located, delivered) and monitor requests pass at once.
//!
//! The chunk frames are part of the link's stream like any envelope, so they are resent and
//! de-duplicated across connections frame by frame; the receiver reassembles them under the
//! link's inbound lock, growing its buffer only as bytes arrive (a claimed total allocates
//! nothing), and skips a message over its maximum without taking the link down.

use super::envelope::Envelope;
use super::frame::{self, kind};
use std::collections::VecDeque;
use std::fmt;

/// Bytes of message in one chunk frame, and the largest envelope sent whole.
pub(crate) const CHUNK: usize = 64 * 1024;

/// A chunk's body before its bytes: message id, total length, offset (each `u64` LE).
pub(crate) const CHUNK_HEADER: usize = 24;

/// The largest message a node sends or accepts unless configured otherwise: 256 MiB.
pub const DEFAULT_MAX_MESSAGE: usize = 256 << 20;

/// What an envelope may not overtake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    /// Nothing: an answer or a request whose order against messages does not matter.
    Free,
    /// Earlier envelopes for this task.
    Task(u64),
    /// Every earlier envelope (exits, goodbye).
    All,
}

impl Order {
    /// The order `envelope` keeps.
    pub(crate) fn of(envelope: &Envelope) -> Order {
        match envelope {
            Envelope::Send { to, .. } | Envelope::Deliver { to, .. } => Order::Task(*to),
            Envelope::Terminate { task } => Order::Task(*task),
            Envelope::Exit { .. } | Envelope::Goodbye { .. } => Order::All,
            Envelope::Locate { .. }
            | Envelope::Located { .. }
            | Envelope::NotFound { .. }
            | Envelope::WrongType { .. }
            | Envelope::Delivered { .. }
            | Envelope::Monitor { .. }
            | Envelope::Demonitor { .. } => Order::Free,
        }
    }

    /// True if an envelope of order `self` must wait behind a held one of order `held`.
    fn waits_behind(self, held: Order) -> bool {
        match (self, held) {
            (Order::Free, _) => false,
            (Order::All, _) | (_, Order::All) => true,
            (Order::Task(a), Order::Task(b)) => a == b,
            (Order::Task(_), Order::Free) => false,
        }
    }
}

/// One envelope not yet in the stream.
struct Held {
    /// The encoded envelope.
    body: Vec<u8>,
    /// Bytes of it already cut into chunks.
    cut: usize,
    order: Order,
    /// The message id its chunks carry (large envelopes only).
    id: Option<u64>,
}

/// The sending side: envelopes waiting to enter the stream, oldest first — large ones being
/// cut, and those that may not overtake them.
#[derive(Default)]
pub(crate) struct Chunker {
    held: VecDeque<Held>,
    /// Bytes of `held` not yet in the stream (they count against the outbound limit).
    bytes: usize,
    next_id: u64,
}

impl Chunker {
    /// Bytes waiting to enter the stream.
    pub(crate) fn pending(&self) -> usize {
        self.bytes
    }

    /// Queues the envelope of `len` bytes that `write` appends: written straight into `stream`
    /// as one frame when it is small and nothing it may not overtake is held (the commonest
    /// case: no copy of its own), kept here otherwise.
    pub(crate) fn push_with(
        &mut self,
        len: usize,
        order: Order,
        stream: &mut Vec<u8>,
        write: impl FnOnce(&mut Vec<u8>),
    ) {
        if self.goes_straight(len, order) {
            frame::encode_with(kind::ENVELOPE, len, stream, write);
            return;
        }
        let mut body = Vec::with_capacity(len);
        write(&mut body);
        self.hold(body, order);
    }

    /// True if an envelope of `len` bytes and `order` enters the stream at once, whole.
    fn goes_straight(&self, len: usize, order: Order) -> bool {
        len <= CHUNK && !self.held.iter().any(|held| order.waits_behind(held.order))
    }

    /// Keeps `body` until it may go (cut into chunks if it is large).
    fn hold(&mut self, body: Vec<u8>, order: Order) {
        let large = body.len() > CHUNK;
        let id = large.then(|| {
            self.next_id += 1;
            self.next_id
        });
        self.bytes += body.len();
        self.held.push_back(Held { body, cut: 0, order, id });
    }

    /// Moves what may go next into `stream`: the small envelopes at the front, and one chunk
    /// of the first large one (so each write carries at most one chunk). True if some remain.
    pub(crate) fn release(&mut self, stream: &mut Vec<u8>) -> bool {
        while let Some(front) = self.held.front_mut() {
            let Some(id) = front.id else {
                frame::encode(kind::ENVELOPE, &front.body, stream);
                self.bytes -= front.body.len();
                self.held.pop_front();
                continue;
            };
            let end = (front.cut + CHUNK).min(front.body.len());
            encode_chunk(id, &front.body, front.cut, end, stream);
            self.bytes -= end - front.cut;
            front.cut = end;
            if end == front.body.len() {
                self.held.pop_front();
            }
            break;
        }
        !self.held.is_empty()
    }

    /// Moves everything into `stream` (the link is closing: what was queued goes before the
    /// goodbye).
    pub(crate) fn release_all(&mut self, stream: &mut Vec<u8>) {
        while self.release(stream) {}
    }

    /// Forgets everything (the link is down).
    pub(crate) fn clear(&mut self) {
        *self = Chunker { next_id: self.next_id, ..Chunker::default() };
    }
}

/// Appends a chunk frame with `body[from..to]` of message `id`.
fn encode_chunk(id: u64, body: &[u8], from: usize, to: usize, stream: &mut Vec<u8>) {
    let piece = &body[from..to];
    let len = 1 + CHUNK_HEADER + piece.len();
    stream.reserve(frame::HEADER + len);
    stream.extend_from_slice(&(len as u32).to_le_bytes());
    stream.push(kind::CHUNK);
    stream.extend_from_slice(&id.to_le_bytes());
    stream.extend_from_slice(&(body.len() as u64).to_le_bytes());
    stream.extend_from_slice(&(from as u64).to_le_bytes());
    stream.extend_from_slice(piece);
}

/// A chunk that cannot be part of a message: the peer broke the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ChunkError {
    /// Fewer bytes than the chunk header.
    Short(usize),
    /// A first chunk while another message was unfinished.
    Interleaved { unfinished: u64, new: u64 },
    /// A chunk that does not continue the message being assembled.
    OutOfPlace { id: u64, offset: u64, expected_id: Option<u64>, expected_offset: u64 },
    /// A chunk reaching past the total its message claims, or one carrying nothing.
    BadLength { offset: u64, len: usize, total: u64 },
}

impl fmt::Display for ChunkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChunkError::Short(len) => write!(f, "a chunk of {len} bytes, shorter than its header"),
            ChunkError::Interleaved { unfinished, new } => {
                write!(f, "large message {new} started before message {unfinished} ended")
            }
            ChunkError::OutOfPlace { id, offset, expected_id, expected_offset } => match expected_id {
                Some(expected) => write!(
                    f,
                    "chunk at byte {offset} of message {id} when byte {expected_offset} of message {expected} was next"
                ),
                None => write!(f, "chunk at byte {offset} of message {id} with no message started"),
            },
            ChunkError::BadLength { offset, len, total } => {
                write!(f, "a chunk of {len} bytes at byte {offset} of a message of {total}")
            }
        }
    }
}

/// What one chunk made of the message it belongs to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Piece {
    /// More chunks to come.
    Partial,
    /// The message is complete: the envelope's encoded bytes.
    Whole(Vec<u8>),
    /// The message was over the maximum and has now been skipped to its end (nothing of it
    /// was kept).
    Skipped { total: u64 },
}

/// The receiving side: the large message being reassembled.
#[derive(Debug)]
pub(crate) struct Assembler {
    max_message: usize,
    current: Option<Assembly>,
}

#[derive(Debug)]
struct Assembly {
    id: u64,
    total: u64,
    /// Bytes that arrived (empty when skipping).
    bytes: Vec<u8>,
    seen: u64,
    skipping: bool,
}

impl Assembler {
    pub(crate) fn new(max_message: usize) -> Assembler {
        Assembler { max_message, current: None }
    }

    /// Takes the body of one chunk frame.
    pub(crate) fn piece(&mut self, body: &[u8]) -> Result<Piece, ChunkError> {
        if body.len() < CHUNK_HEADER {
            return Err(ChunkError::Short(body.len()));
        }
        let word = |at: usize| u64::from_le_bytes(body[at..at + 8].try_into().expect("8 bytes"));
        let (id, total, offset) = (word(0), word(8), word(16));
        let bytes = &body[CHUNK_HEADER..];
        if bytes.is_empty() || offset.saturating_add(bytes.len() as u64) > total {
            return Err(ChunkError::BadLength { offset, len: bytes.len(), total });
        }
        let assembly = match &mut self.current {
            None if offset == 0 => self.current.insert(Assembly {
                id,
                total,
                bytes: Vec::new(),
                seen: 0,
                skipping: total > self.max_message as u64,
            }),
            Some(current) if offset == 0 => {
                return Err(ChunkError::Interleaved { unfinished: current.id, new: id });
            }
            Some(current) if current.id == id && current.total == total && current.seen == offset => current,
            other => {
                let (expected_id, expected_offset) =
                    other.as_ref().map_or((None, 0), |c| (Some(c.id), c.seen));
                return Err(ChunkError::OutOfPlace { id, offset, expected_id, expected_offset });
            }
        };
        if !assembly.skipping {
            // Grown as bytes arrive, never to the claimed total up front.
            assembly.bytes.extend_from_slice(bytes);
        }
        assembly.seen += bytes.len() as u64;
        if assembly.seen < assembly.total {
            return Ok(Piece::Partial);
        }
        let done = self.current.take().expect("assembling");
        Ok(if done.skipping { Piece::Skipped { total: done.total } } else { Piece::Whole(done.bytes) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(chunker: &mut Chunker, body: &[u8], order: Order, stream: &mut Vec<u8>) {
        chunker.push_with(body.len(), order, stream, |out| out.extend_from_slice(body));
    }

    /// Every frame in `stream`: (kind, body).
    fn frames(stream: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let mut out = Vec::new();
        let mut at = 0;
        while let Some(frame) = frame::decode(&stream[at..], frame::DEFAULT_MAX_FRAME).unwrap() {
            out.push((frame.kind, frame.body.to_vec()));
            at += frame.consumed;
        }
        assert_eq!(at, stream.len(), "only whole frames");
        out
    }

    fn large(byte: u8) -> Vec<u8> {
        vec![byte; 3 * CHUNK + 100]
    }

    #[test]
    fn a_large_envelope_is_cut_one_chunk_per_release_and_reassembled() {
        let mut chunker = Chunker::default();
        let mut stream = Vec::new();
        let message: Vec<u8> = (0..3 * CHUNK + 100).map(|i| (i % 251) as u8).collect();
        push(&mut chunker, &message, Order::Task(1), &mut stream);
        assert!(stream.is_empty(), "held, not written whole");
        assert_eq!(chunker.pending(), message.len());
        let mut releases = 0;
        let mut assembler = Assembler::new(DEFAULT_MAX_MESSAGE);
        let mut whole = None;
        loop {
            let more = chunker.release(&mut stream);
            releases += 1;
            let written = frames(&stream);
            assert_eq!(written.len(), 1, "one chunk per release");
            let (kind, body) = &written[0];
            assert_eq!(*kind, kind::CHUNK);
            match assembler.piece(body).unwrap() {
                Piece::Partial => assert!(more),
                Piece::Whole(bytes) => whole = Some(bytes),
                Piece::Skipped { .. } => panic!("within the maximum"),
            }
            stream.clear();
            if !more {
                break;
            }
        }
        assert_eq!(releases, 4);
        assert_eq!(whole.as_deref(), Some(&message[..]));
        assert_eq!(chunker.pending(), 0);
    }

    #[test]
    fn small_envelopes_pass_a_large_one_unless_they_must_follow_it() {
        let mut chunker = Chunker::default();
        let mut stream = Vec::new();
        push(&mut chunker, &large(9), Order::Task(1), &mut stream);
        push(&mut chunker, b"other task", Order::Task(2), &mut stream);
        push(&mut chunker, b"an answer", Order::Free, &mut stream);
        let passed = frames(&stream);
        assert_eq!(
            passed,
            vec![(kind::ENVELOPE, b"other task".to_vec()), (kind::ENVELOPE, b"an answer".to_vec())],
            "written at once, ahead of the large one"
        );
        stream.clear();
        push(&mut chunker, b"same task", Order::Task(1), &mut stream);
        push(&mut chunker, b"exit", Order::All, &mut stream);
        push(&mut chunker, b"other task again", Order::Task(2), &mut stream);
        assert!(stream.is_empty(), "all three wait: the same task, an exit, and a task after the exit");
        chunker.release_all(&mut stream);
        let kinds: Vec<u8> = frames(&stream).iter().map(|(kind, _)| *kind).collect();
        assert_eq!(kinds, [kind::CHUNK; 4].iter().chain(&[kind::ENVELOPE; 3]).copied().collect::<Vec<_>>());
        let bodies: Vec<Vec<u8>> = frames(&stream).into_iter().skip(4).map(|(_, body)| body).collect();
        assert_eq!(bodies, [b"same task".to_vec(), b"exit".to_vec(), b"other task again".to_vec()]);
        assert_eq!(chunker.pending(), 0);
    }

    #[test]
    fn a_message_over_the_maximum_is_skipped_without_being_kept() {
        let mut chunker = Chunker::default();
        let mut stream = Vec::new();
        push(&mut chunker, &large(1), Order::Task(1), &mut stream);
        chunker.release_all(&mut stream);
        let mut assembler = Assembler::new(2 * CHUNK);
        let pieces: Vec<Piece> =
            frames(&stream).iter().map(|(_, body)| assembler.piece(body).unwrap()).collect();
        assert_eq!(pieces.last(), Some(&Piece::Skipped { total: large(1).len() as u64 }));
        assert!(assembler.current.is_none(), "ready for the next message");
    }

    #[test]
    fn chunks_that_do_not_fit_are_protocol_errors() {
        let chunk = |id: u64, total: u64, offset: u64, len: usize| {
            let mut body = Vec::new();
            for word in [id, total, offset] {
                body.extend_from_slice(&word.to_le_bytes());
            }
            body.extend(std::iter::repeat_n(7u8, len));
            body
        };
        let mut assembler = Assembler::new(DEFAULT_MAX_MESSAGE);
        assert_eq!(assembler.piece(&[0; 10]), Err(ChunkError::Short(10)));
        assert!(matches!(assembler.piece(&chunk(1, 10, 0, 11)), Err(ChunkError::BadLength { .. })));
        assert!(matches!(assembler.piece(&chunk(1, 10, 0, 0)), Err(ChunkError::BadLength { .. })));
        assert!(matches!(
            assembler.piece(&chunk(1, 10, 4, 2)),
            Err(ChunkError::OutOfPlace { expected_id: None, .. })
        ));
        assert_eq!(assembler.piece(&chunk(1, 10, 0, 4)), Ok(Piece::Partial));
        assert_eq!(
            assembler.piece(&chunk(2, 10, 0, 4)),
            Err(ChunkError::Interleaved { unfinished: 1, new: 2 })
        );
        assert!(matches!(assembler.piece(&chunk(1, 10, 5, 2)), Err(ChunkError::OutOfPlace { .. })));
        assert!(matches!(assembler.piece(&chunk(1, 11, 4, 2)), Err(ChunkError::OutOfPlace { .. })));
        // A claimed total of an exabyte allocates nothing up front: the buffer holds what came.
        let mut huge = Assembler::new(usize::MAX);
        assert_eq!(huge.piece(&chunk(3, u64::MAX / 2, 0, 16)), Ok(Piece::Partial));
        assert!(huge.current.as_ref().unwrap().bytes.capacity() < 1 << 20);
        assert_eq!(assembler.piece(&chunk(1, 10, 4, 6)), Ok(Piece::Whole(vec![7; 10])));
    }
}
