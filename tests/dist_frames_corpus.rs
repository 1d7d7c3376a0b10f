//! Replays the frame decoder's fuzz corpus (`fuzz/corpus/frames`, minimised after each
//! campaign) with the fuzz target's own invariants, so what the fuzzer found stays covered.

#[path = "../fuzz/fuzz_targets/check_frames.rs"]
mod check_frames;

use rycos::dist::frame::encode;

#[test]
fn the_fuzz_corpus_still_decodes_within_the_invariants() {
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/frames");
    let mut inputs = 0;
    let mut frames = 0;
    for entry in std::fs::read_dir(&corpus).expect("the corpus is committed") {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        frames += check_frames::check(&data);
        inputs += 1;
    }
    assert!(inputs >= 10, "only {inputs} corpus inputs in {}", corpus.display());
    assert!(frames > 0, "no corpus input decodes to a frame: the corpus is not exercising the decoder");
}

#[test]
fn well_formed_streams_pass_the_invariants() {
    let mut stream = vec![255u8]; // the largest limit the checker picks
    for n in 0..100u8 {
        encode(0x10, &vec![n; usize::from(n)], &mut stream);
    }
    assert_eq!(check_frames::check(&stream), 100);
    // Cut inside the last frame: the checker sees it reported as truncated.
    assert_eq!(check_frames::check(&stream[..stream.len() - 3]), 99);
}
