//! The envelope decoder on arbitrary bytes (the invariant is in `check_envelopes.rs`).
//!
//! `cargo +nightly fuzz run envelopes` from the repository root; the corpus in
//! `fuzz/corpus/envelopes` is replayed by `tests/dist_fuzz_corpus.rs`.
#![no_main]

mod check_envelopes;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    check_envelopes::check(data);
});
