//! Replays the fuzz corpora of the frame and envelope decoders (`fuzz/corpus/*`, minimised
//! after each campaign) with the fuzz targets' own invariants, so what the fuzzer found stays
//! covered.

#[path = "../fuzz/fuzz_targets/check_envelopes.rs"]
mod check_envelopes;
#[path = "../fuzz/fuzz_targets/check_frames.rs"]
mod check_frames;

use rycos::dist::frame::encode;

#[test]
fn the_frame_fuzz_corpus_still_decodes_within_the_invariants() {
    let inputs = corpus("frames");
    let frames: usize = inputs.iter().map(|data| check_frames::check(data)).sum();
    assert!(frames > 0, "no corpus input decodes to a frame: the corpus is not exercising the decoder");
}

#[test]
fn the_envelope_fuzz_corpus_still_decodes_within_the_invariant() {
    let inputs = corpus("envelopes");
    let envelopes = inputs.iter().filter(|data| check_envelopes::check(data)).count();
    assert!(envelopes > 0, "no corpus input is an envelope: the corpus is not exercising the decoder");
}

/// The committed corpus of one fuzz target.
fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
    let inputs: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .expect("the corpus is committed")
        .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
        .collect();
    assert!(inputs.len() >= 10, "only {} corpus inputs in {}", inputs.len(), dir.display());
    inputs
}

#[test]
fn well_formed_streams_pass_the_invariants() {
    let mut stream = vec![255u8]; // the largest limit the checker picks
    for n in 0..100u8 {
        encode(rycos::dist::frame::kind::ENVELOPE, &vec![n; usize::from(n)], &mut stream);
    }
    assert_eq!(check_frames::check(&stream), 100);
    // Cut inside the last frame: the checker sees it reported as truncated.
    assert_eq!(check_frames::check(&stream[..stream.len() - 3]), 99);
}
