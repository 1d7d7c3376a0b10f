//! `rycos-pool`: a blocking thread pool whose jobs complete as futures.
//!
//! This crate is filled in by the blocking-pool work; it has no dependency on `rycos`.

#![forbid(unsafe_code)]
