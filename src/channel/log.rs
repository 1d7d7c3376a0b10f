//! The message log of a channel: one writer (the channel, under its lock) appends; every task
//! subscriber reads with its own cursor, at its own pace, without locking or writing anything
//! shared — the cost of a delivery is one acquire load and a clone.
//!
//! The log is a linked list of fixed-size segments whose slots are `OnceLock`s: written once by
//! the writer (release), read by cursors (acquire). A segment is freed when the writer and every
//! cursor have moved past it (they hold it by `Arc`).

use std::sync::{Arc, OnceLock};

const SEGMENT: usize = 64;

struct Segment<M> {
    slots: [OnceLock<M>; SEGMENT],
    next: OnceLock<Arc<Segment<M>>>,
}

impl<M> Segment<M> {
    fn new() -> Arc<Segment<M>> {
        Arc::new(Segment { slots: std::array::from_fn(|_| OnceLock::new()), next: OnceLock::new() })
    }
}

impl<M> Drop for Segment<M> {
    /// Frees a chain of segments nobody else holds iteratively: recursion through `next` could
    /// overflow the stack behind a cursor that lags far behind.
    fn drop(&mut self) {
        let mut next = self.next.take();
        while let Some(segment) = next {
            next = match Arc::try_unwrap(segment) {
                Ok(mut only_holder) => only_holder.next.take(),
                Err(_) => None,
            };
        }
    }
}

/// The appending end.
pub(super) struct Writer<M> {
    tail: Arc<Segment<M>>,
    index: usize,
    /// Messages appended so far.
    seq: u64,
}

impl<M> Writer<M> {
    pub(super) fn new() -> Writer<M> {
        Writer { tail: Segment::new(), index: 0, seq: 0 }
    }

    pub(super) fn push(&mut self, message: M) {
        if self.index == SEGMENT {
            let next = Segment::new();
            let _ = self.tail.next.set(next.clone());
            self.tail = next;
            self.index = 0;
        }
        let _ = self.tail.slots[self.index].set(message);
        self.index += 1;
        self.seq += 1;
    }

    /// Messages appended so far (the sequence number of the next one).
    pub(super) fn seq(&self) -> u64 {
        self.seq
    }

    /// A cursor that will read the messages appended from now on.
    pub(super) fn cursor(&self) -> Cursor<M> {
        Cursor { segment: self.tail.clone(), index: self.index, seq: self.seq }
    }
}

/// A reading position.
pub(super) struct Cursor<M> {
    segment: Arc<Segment<M>>,
    index: usize,
    seq: u64,
}

impl<M: Clone> Cursor<M> {
    /// The next message, if the writer has appended it.
    pub(super) fn next(&mut self) -> Option<M> {
        if self.index == SEGMENT {
            let next = self.segment.next.get()?.clone();
            self.segment = next;
            self.index = 0;
        }
        let message = self.segment.slots[self.index].get()?.clone();
        self.index += 1;
        self.seq += 1;
        Some(message)
    }

    /// The sequence number of the next message this cursor reads.
    pub(super) fn seq(&self) -> u64 {
        self.seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_read_what_was_written_after_them_across_segments() {
        let mut writer = Writer::new();
        writer.push(0u32);
        let mut early = writer.cursor();
        assert_eq!(early.next(), None);
        for n in 1..200 {
            writer.push(n);
        }
        let mut late = writer.cursor();
        writer.push(200);
        let read: Vec<u32> = std::iter::from_fn(|| early.next()).collect();
        assert_eq!(read, (1..=200).collect::<Vec<_>>());
        assert_eq!(early.seq(), 201);
        assert_eq!(late.next(), Some(200));
        assert_eq!(late.next(), None);
    }

    #[test]
    fn a_long_chain_behind_a_lagging_cursor_drops_without_recursion() {
        let mut writer = Writer::new();
        let lagging = writer.cursor();
        for n in 0..SEGMENT * 20_000 {
            writer.push(n);
        }
        drop(writer);
        drop(lagging); // 20,000 segments freed in a loop, not 20,000 frames deep
    }
}
