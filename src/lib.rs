//! # wgpu-activations
//!
//! The Keras "advanced activation" layers as hand-written WGSL compute shaders run through
//! [`wgpu`], forward and backward, computing what tf.keras (TensorFlow 2.x) computes:
//! its gradient rules at the kinks and its NaN / Inf behaviour included.
//!
//! ```
//! use wgpu_activations::{Gpu, LeakyReLU, Tensor};
//!
//! # fn main() -> Result<(), wgpu_activations::Error> {
//! # let gpu = match Gpu::new() {
//! #     Ok(gpu) => gpu,
//! #     Err(wgpu_activations::Error::NoAdapter { .. }) if std::env::var_os("REQUIRE_GPU").is_none() => return Ok(()),
//! #     Err(e) => return Err(e),
//! # };
//! // let gpu = Gpu::new()?;
//! let x = Tensor::from_slice(&gpu, &[-2.0, -0.0, 0.5, 3.0], &[2, 2])?;
//! let layer = LeakyReLU::new(0.3)?;
//! let y = layer.forward(&gpu, &x)?;
//! assert_eq!(y.to_vec(&gpu)?, vec![-0.6, -0.0, 0.5, 3.0]);
//!
//! let dy = Tensor::from_slice(&gpu, &[1.0; 4], &[2, 2])?;
//! let dx = layer.backward(&gpu, &x, &dy)?;
//! assert_eq!(dx.to_vec(&gpu)?, vec![0.3, 0.3, 1.0, 1.0]); // dx(0) takes the left slope
//! # Ok(())
//! # }
//! ```
//!
//! The CPU reference in [`reference`](mod@reference) implements every op independently and needs no GPU.

// wgpu's WebGPU handles are JavaScript objects, not `Send`/`Sync`; a browser page has one
// thread, so the crate's `Arc`s (shared with native builds) are plain counted pointers there.
#![cfg_attr(target_arch = "wasm32", allow(clippy::arc_with_non_send_sync))]

mod batch;
mod direction;
mod dtype;
mod elementwise;
mod error;
mod fill;
mod gpu;
#[cfg(feature = "keras")]
pub mod keras;
mod kernel;
pub mod prelu;
mod readback;
pub mod reference;
mod rng;
mod softmax;
mod tensor;
mod traffic;
#[cfg(test)]
mod uniform_layout;

pub use batch::Batch;
pub use direction::Direction;
pub use dtype::DType;
pub use elementwise::{
    fused_wgsl, fused_wgsl_of, ActivationParams, Elementwise, LeakyReLU, ReLU, ReluPath,
    ThresholdedReLU, ELU,
};
pub use error::{Error, Result};
#[doc(hidden)]
pub use gpu::destroy_device_for_tests;
#[doc(hidden)]
pub use gpu::LimitsOverride;
pub use gpu::{disabled_features, Gpu, GpuInfo};
/// The `half` crate, whose `f16` the f16 tensor API takes and returns.
pub use half;
#[doc(inline)]
pub use prelu::{Constraint, Initializer, PReLU, Regularizer};
pub use softmax::Softmax;
pub use tensor::{element_count, Tensor, VIEW_READBACK_USAGE, VIEW_UPLOAD_USAGE, VIEW_USAGE};
pub use traffic::Traffic;

/// Helpers every kernel may use (`shaders/common.wgsl`, and the exact half conversions of
/// `shaders/half.wgsl`).
pub(crate) const COMMON_WGSL: &str = concat!(
    include_str!("../shaders/common.wgsl"),
    "\n",
    include_str!("../shaders/half.wgsl")
);

/// The rounding flavour of the activation snippets: `wgact_h4` / `wgact_h1` round every
/// TensorFlow op's result to half in f16 and are the identity in f32, so each op has one
/// snippet and its f32 bits do not change.
pub(crate) fn round_wgsl(f16: bool) -> &'static str {
    if f16 {
        include_str!("../shaders/round_f16.wgsl")
    } else {
        include_str!("../shaders/round_f32.wgsl")
    }
}

/// Every complete WGSL source the crate compiles, labelled `family/op/direction...`, for
/// validating them without a GPU: generated from the same kernel specs the pipelines are
/// compiled from. Validation support for the crate's own tests, not part of the layers' API.
#[doc(hidden)]
pub fn shader_sources() -> Vec<(String, String)> {
    let mut sources: Vec<(String, String)> = elementwise::ElementwiseKernel::all()
        .into_iter()
        .map(|k| {
            let s = k.source();
            (s.label.clone(), s.wgsl())
        })
        .collect();
    sources.extend(prelu::shader_sources());
    sources.extend(softmax::shader_sources());
    for store in [
        kernel::Store::F32,
        kernel::Store::F16Native,
        kernel::Store::F16Packed,
    ] {
        let fill = fill::source(store);
        sources.push((fill.label.clone(), fill.wgsl()));
    }
    sources
}
