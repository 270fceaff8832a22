//! # wgact: the tooling of wgpu-activations
//!
//! What checks and measures the library from the outside, through its public API only:
//!
//! - [`check`]: parameter presets, kink points, special values, boundary sizes and the
//!   GPU-against-CPU-reference checks behind `wgact check` (with [`check::prelu`] and
//!   [`check::softmax`] for those two families);
//! - [`cases`]: the reference-vector format (`tests/data/cases.json`, TensorFlow's outputs);
//! - [`conformance`]: running those cases on the GPU or the CPU reference and judging them;
//! - [`compare`]: ulp distances and the documented tolerances;
//! - [`bench`]: the timing harness behind `wgact bench` and the criterion benches.
//!
//! None of these modules reads files or spawns processes: they take strings and slices, and
//! the `wgact` binary (feature `cli`, on by default) does the I/O. A crate that cannot use
//! the CLI (a browser build) depends on `wgact` with `default-features = false`.

// Timing is native only (a browser has no `Instant`); so are the blocking GPU checks inside
// `check`, whose presets and comparisons the conformance runner shares.
#[cfg(not(target_arch = "wasm32"))]
pub mod bench;
pub mod cases;
#[cfg_attr(target_arch = "wasm32", allow(unused_imports))]
pub mod check;
pub mod compare;
pub mod conformance;
pub mod ops;
