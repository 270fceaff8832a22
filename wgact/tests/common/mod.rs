//! The library's shared GPU test helpers (`tests/common/mod.rs`), one copy for both packages.
#![allow(dead_code)]

#[path = "../../../tests/common/mod.rs"]
mod shared;

pub use shared::*;
