//! CPU reference: every op and direction written plainly from the TensorFlow formulas.
//!
//! Written for obviousness, not speed: straight loops, scalar code, the same order of
//! operations TensorFlow uses. The tests check the shaders against it; callers without a
//! GPU can use it directly.

mod elementwise;
pub mod f16;
pub mod prelu;
mod softmax;

pub use elementwise::{
    elementwise_backward, elementwise_backward_scalar, elementwise_forward,
    elementwise_forward_scalar,
};
pub use softmax::{
    softmax_axis_split, softmax_backward, softmax_forward, softmax_row_f64, AxisSplit,
};

/// `max(v, 0)` as Eigen computes it: NaN propagates.
fn relu(v: f32) -> f32 {
    if v.is_nan() || v > 0.0 {
        v
    } else {
        0.0
    }
}

/// `v * cast(keep)` as TensorFlow multiplies by a cast mask: for non-finite `v` and
/// `keep == false` this is NaN, as in IEEE.
fn mul_mask(v: f32, keep: bool) -> f32 {
    v * if keep { 1.0 } else { 0.0 }
}
