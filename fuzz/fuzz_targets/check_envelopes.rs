//! The invariant the envelope decoder keeps on any input; shared by the fuzz target
//! (`envelopes.rs`) and the replay of its corpus in the tests (`tests/dist_fuzz_corpus.rs`).

use rycos::dist::Envelope;

/// Decodes `data` as an envelope body and panics if decoding panics or if an envelope it
/// accepts does not survive an encode/decode round trip unchanged. True if `data` was an
/// envelope.
pub fn check(data: &[u8]) -> bool {
    match Envelope::decode(data) {
        Ok(envelope) => {
            let mut again = Vec::new();
            envelope.encode_into(&mut again);
            assert_eq!(Envelope::decode(&again).as_ref(), Ok(&envelope));
            true
        }
        Err(_) => false,
    }
}
