//! loom model of a channel append racing a log subscriber's receive that is about to wait:
//! either the receive's last look finds the message, or the append wakes it. The channel half
//! is the real `route::append`; the mailbox half is the three steps of
//! `Mailbox::pull_before_waiting` (mark the sources waiting, fence, pull once more).
//!
//! Run with `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release --lib loom`.

use super::log::Writer;
use super::route::{Board, append, link};
use crate::loom::sync::atomic::{AtomicBool, Ordering::SeqCst, fence};
use crate::loom::thread;
use crate::task::mailbox::Source;

#[test]
fn channel_append_races_with_a_receive_about_to_wait() {
    loom::model(|| {
        let board = std::sync::Arc::new(Board::default());
        let mut log = Writer::<u32>::new();
        let woken = crate::loom::sync::Arc::new(AtomicBool::new(false));
        let wake = {
            let woken = woken.clone();
            Box::new(move || woken.store(true, SeqCst))
        };
        let (_flags, mut source) = link::<u32, u32>(log.cursor(), &board, wake);
        let publisher = {
            let board = board.clone();
            thread::spawn(move || append(&mut log, &board, 7))
        };
        // The receive: nothing yet? Then mark the source waiting, fence, look once more.
        let got = source.next().or_else(|| {
            source.set_waiting();
            fence(SeqCst);
            source.next()
        });
        publisher.join().unwrap();
        assert!(
            got == Some(7) || woken.load(SeqCst),
            "the receive missed the message and was not woken for it (a lost wake-up)"
        );
    });
}
