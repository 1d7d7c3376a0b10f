//! The sequenced half of a link: every envelope a node sends a peer incarnation is a byte range
//! of one stream that outlives connections, kept until the peer acknowledges it, so that after a
//! broken connection the next one resends exactly what the peer has not processed, and the
//! peer drops what it already has (`docs/protocol.md`, "Resend and de-duplication").
//!
//! Positions are byte offsets in the stream of encoded envelope frames (header included),
//! counted from the link's start; the control frames (heartbeat, ack, resume) are outside it.
//! Offsets rather than message numbers keep the bookkeeping to three counters and one buffer:
//! no per-message record is made, and the retained bytes are exactly the frames to resend.
//!
//! Nothing here does I/O; `link.rs` holds these under its locks.

use std::fmt;

/// What this node sent: the frames from `base` on, how far the peer has acknowledged and how far
/// the current connection has taken them.
#[derive(Debug, Default)]
pub(crate) struct Outgoing {
    /// Encoded frames from offset `base` to `end()`.
    data: Vec<u8>,
    base: u64,
    /// The peer has processed everything before this.
    acked: u64,
    /// The current connection's writer has taken everything before this.
    written: u64,
    /// A direct write ([`wrote`](Outgoing::wrote)) stopped short of the end, maybe inside a
    /// frame: the rest must reach the connection before anything outside the stream does.
    cut: bool,
}

/// A peer said something about our stream that cannot be true: the link is broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StreamError {
    /// An acknowledgement or resume point beyond what was ever sent.
    AckBeyondEnd { claimed: u64, end: u64 },
    /// A frame that starts after the next one expected: something in between was lost.
    Gap { at: u64, expected: u64 },
    /// An envelope on a connection before the peer said where its data resumes.
    DataBeforeResume,
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::AckBeyondEnd { claimed, end } => {
                write!(f, "the peer acknowledged byte {claimed} of a stream of {end}")
            }
            StreamError::Gap { at, expected } => {
                write!(f, "a frame at byte {at} of the stream when byte {expected} was next")
            }
            StreamError::DataBeforeResume => f.write_str("an envelope before the connection's resume point"),
        }
    }
}

impl Outgoing {
    /// Where the next frame will start.
    pub(crate) fn end(&self) -> u64 {
        self.base + self.data.len() as u64
    }

    /// Bytes sent or queued that the peer has not acknowledged: what back-pressure counts.
    pub(crate) fn unacknowledged(&self) -> usize {
        (self.end() - self.acked) as usize
    }

    /// The buffer to encode the next frame into (it joins the stream).
    pub(crate) fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.data
    }

    /// The peer has processed everything before `through`. True if that freed anything.
    pub(crate) fn acknowledge(&mut self, through: u64) -> Result<bool, StreamError> {
        if through > self.end() {
            return Err(StreamError::AckBeyondEnd { claimed: through, end: self.end() });
        }
        if through <= self.acked {
            return Ok(false);
        }
        self.acked = through;
        self.compact();
        Ok(true)
    }

    /// Drops acknowledged bytes the current connection no longer needs, once they are at least
    /// half the buffer: each byte is moved at most once on average, not once per ack.
    fn compact(&mut self) {
        let done = self.acked.min(self.written) - self.base;
        if done > 0 && done as usize >= self.data.len() / 2 {
            self.data.drain(..done as usize);
            self.base += done;
        }
    }

    /// A new connection: the peer has processed everything before `peer_received`. Returns
    /// where this connection's frames start (what the resume frame tells the peer); the
    /// writer takes from there.
    pub(crate) fn resume(&mut self, peer_received: u64) -> Result<u64, StreamError> {
        self.acknowledge(peer_received)?;
        // `acked >= base` always holds (compaction stops at it), so the bytes are still here.
        self.written = self.acked;
        // Acknowledged means whole frames: the new connection starts on a frame boundary.
        self.cut = false;
        Ok(self.written)
    }

    /// Appends the frames the current connection has not taken to `batch`.
    pub(crate) fn take_unwritten(&mut self, batch: &mut Vec<u8>) {
        batch.extend_from_slice(self.unwritten());
        self.written = self.end();
        self.cut = false;
        self.compact();
    }

    /// The bytes the current connection has not taken.
    pub(crate) fn unwritten(&self) -> &[u8] {
        &self.data[(self.written - self.base) as usize..]
    }

    /// The current connection took the first `n` bytes of [`unwritten`](Outgoing::unwritten)
    /// straight from here (a write that needed no batch).
    pub(crate) fn wrote(&mut self, n: usize) {
        assert!(n <= self.unwritten().len(), "wrote {n} bytes of {}", self.unwritten().len());
        self.written += n as u64;
        self.cut = self.written != self.end();
        self.compact();
    }

    /// True if a direct write stopped short: the connection may be inside a frame, so the
    /// rest of the stream goes before any control frame.
    pub(crate) fn is_cut(&self) -> bool {
        self.cut
    }

    /// Forgets everything (the link is down): nothing will be resent.
    pub(crate) fn clear(&mut self) {
        let end = self.end();
        *self = Outgoing { data: Vec::new(), base: end, acked: end, written: end, cut: false };
    }
}

/// What this node has processed of the peer's stream.
#[derive(Debug, Default)]
pub(crate) struct Incoming {
    received: u64,
}

/// Whether a frame is news.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arrival {
    /// The next frame of the stream: process it.
    New,
    /// Processed already (it came on an earlier connection too): drop it.
    Duplicate,
}

impl Incoming {
    /// Everything before this has been processed.
    pub(crate) fn received(&self) -> u64 {
        self.received
    }

    /// A frame of `len` bytes at offset `at` arrived; it counts as processed if it is new
    /// (the caller processes it under the same lock, so two connections never both do).
    pub(crate) fn arrive(&mut self, at: u64, len: usize) -> Result<Arrival, StreamError> {
        if at == self.received {
            self.received += len as u64;
            Ok(Arrival::New)
        } else if at < self.received {
            Ok(Arrival::Duplicate)
        } else {
            Err(StreamError::Gap { at, expected: self.received })
        }
    }

    /// A connection's resume point: where its first frame is. Beyond what was processed is a
    /// gap.
    pub(crate) fn check_resume(&self, at: u64) -> Result<(), StreamError> {
        if at > self.received { Err(StreamError::Gap { at, expected: self.received }) } else { Ok(()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(out: &mut Outgoing, sizes: &[usize]) {
        for (i, &size) in sizes.iter().enumerate() {
            out.buffer().extend(std::iter::repeat_n(i as u8, size));
        }
    }

    #[test]
    fn a_new_connection_resends_exactly_what_the_peer_has_not_processed() {
        let mut out = Outgoing::default();
        frames(&mut out, &[10, 20, 30]);
        let mut first = Vec::new();
        out.take_unwritten(&mut first);
        assert_eq!(first.len(), 60);
        // The peer processed the first two frames, then the connection broke.
        assert_eq!(out.resume(30).unwrap(), 30);
        let mut again = Vec::new();
        out.take_unwritten(&mut again);
        assert_eq!(again, first[30..]);
        assert_eq!(out.unacknowledged(), 30);
        let mut nothing = Vec::new();
        out.take_unwritten(&mut nothing);
        assert!(nothing.is_empty(), "all taken");
    }

    #[test]
    fn acknowledged_bytes_are_freed_and_back_pressure_counts_the_rest() {
        let mut out = Outgoing::default();
        frames(&mut out, &[100, 100]);
        let mut batch = Vec::new();
        out.take_unwritten(&mut batch);
        assert_eq!(out.unacknowledged(), 200);
        assert!(out.acknowledge(150).unwrap());
        assert!(!out.acknowledge(100).unwrap(), "an older ack frees nothing");
        assert_eq!(out.unacknowledged(), 50);
        assert!(out.data.len() <= 200 - 100, "half the buffer was acknowledged: compacted");
        assert_eq!(
            out.acknowledge(201),
            Err(StreamError::AckBeyondEnd { claimed: 201, end: 200 }),
            "nobody can acknowledge what was never sent"
        );
    }

    #[test]
    fn acknowledged_but_unwritten_bytes_stay_for_the_current_connection() {
        let mut out = Outgoing::default();
        frames(&mut out, &[10, 10, 10]);
        let mut batch = Vec::new();
        out.take_unwritten(&mut batch);
        // A new connection resumes at 10; the old one's last frames still reach the peer.
        assert_eq!(out.resume(10).unwrap(), 10);
        assert!(out.acknowledge(30).unwrap());
        // The current connection must still carry 10..30 (the peer expects its frames in order
        // from the resume point and drops the duplicates).
        let mut again = Vec::new();
        out.take_unwritten(&mut again);
        assert_eq!(again, batch[10..]);
    }

    #[test]
    fn the_receiver_processes_each_frame_once_across_connections() {
        let mut inc = Incoming::default();
        assert_eq!(inc.arrive(0, 10), Ok(Arrival::New));
        assert_eq!(inc.arrive(10, 5), Ok(Arrival::New));
        // A second connection resumed at 10: its first frame is the one already processed.
        assert!(inc.check_resume(10).is_ok());
        assert_eq!(inc.arrive(10, 5), Ok(Arrival::Duplicate));
        assert_eq!(inc.arrive(15, 7), Ok(Arrival::New));
        assert_eq!(inc.received(), 22);
        assert_eq!(inc.arrive(30, 1), Err(StreamError::Gap { at: 30, expected: 22 }));
        assert_eq!(inc.check_resume(23), Err(StreamError::Gap { at: 23, expected: 22 }));
    }

    #[test]
    fn a_direct_write_cut_short_is_finished_before_anything_else() {
        let mut out = Outgoing::default();
        frames(&mut out, &[10, 10]);
        out.wrote(15);
        assert!(out.is_cut(), "stopped inside the second frame");
        assert_eq!(out.unwritten().len(), 5);
        frames(&mut out, &[10]);
        let mut rest = Vec::new();
        out.take_unwritten(&mut rest);
        assert_eq!(rest.len(), 15, "the cut frame's rest and the new one");
        assert!(!out.is_cut());
        out.wrote(0);
        assert!(!out.is_cut(), "nothing left unwritten");
        frames(&mut out, &[10]);
        out.wrote(4);
        assert_eq!(out.resume(30).unwrap(), 30, "a new connection resends from a frame boundary");
        assert!(!out.is_cut());
        assert_eq!(out.unwritten().len(), 10);
    }

    #[test]
    fn a_cleared_stream_keeps_its_offsets() {
        let mut out = Outgoing::default();
        frames(&mut out, &[10]);
        out.clear();
        assert_eq!(out.end(), 10);
        assert_eq!(out.unacknowledged(), 0);
        let mut nothing = Vec::new();
        out.take_unwritten(&mut nothing);
        assert!(nothing.is_empty(), "nothing to resend");
    }
}
