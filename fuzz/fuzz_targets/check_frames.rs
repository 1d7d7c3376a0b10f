//! The invariants the frame decoder keeps on any input; shared by the fuzz target (`frames.rs`)
//! and the replay of its corpus in the tests (`tests/dist_frames_corpus.rs`).

use rycos::dist::frame::{FrameError, at_end, decode, kind};

/// Decodes `data` as a stream of frames (its first byte picks the limit, so small limits get
/// exercised too) and panics if the decoder ever panics, claims more bytes than it was given,
/// returns a body at or above the limit, or misreports how the stream ends. Returns the number
/// of frames decoded.
pub fn check(data: &[u8]) -> usize {
    let Some((&limit, bytes)) = data.split_first() else { return 0 };
    let max = 1 + usize::from(limit) * 257;
    let mut rest = bytes;
    let mut frames = 0;
    loop {
        match decode(rest, max) {
            Ok(Some(frame)) => {
                assert!(kind::is_known(frame.kind));
                assert!(frame.consumed >= 5 && frame.consumed <= rest.len());
                assert!(frame.body.len() < max);
                rest = &rest[frame.consumed..];
                frames += 1;
            }
            Ok(None) => {
                match at_end(rest, max) {
                    Ok(()) => assert!(rest.is_empty()),
                    Err(FrameError::Truncated { have, need }) => assert!(have < need && have == rest.len()),
                    Err(other) => panic!("a pending frame ended as {other:?}"),
                }
                return frames;
            }
            Err(FrameError::Oversized { claimed, max: limit }) => {
                assert!(claimed > limit as u64);
                return frames;
            }
            Err(FrameError::Empty) => return frames,
            Err(FrameError::UnknownKind(k)) => {
                assert!(!kind::is_known(k));
                return frames;
            }
            Err(other) => panic!("decode reported {other:?}"),
        }
    }
}
