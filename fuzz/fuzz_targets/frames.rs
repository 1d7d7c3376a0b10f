//! The frame decoder on arbitrary bytes (the invariants are in `check_frames.rs`).
//!
//! `cargo +nightly fuzz run frames` from the repository root; the corpus in
//! `fuzz/corpus/frames` is replayed by `tests/dist_frames_corpus.rs`.
#![no_main]

mod check_frames;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    check_frames::check(data);
});
