//! Code the networking examples and the echo benchmark share (included with `#[path]`).
#![allow(dead_code)]

pub mod certs;
pub mod echo;
pub mod fdlimit;
pub mod loadgen;
