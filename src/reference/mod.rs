//! CPU reference: every op and direction written plainly from the TensorFlow formulas.
//!
//! Written for obviousness, not speed: straight loops, scalar code, the same order of
//! operations TensorFlow uses. The tests check the shaders against it; callers without a
//! GPU can use it directly.

mod elementwise;
pub mod prelu;
mod softmax;

pub use elementwise::{
    elementwise_backward, elementwise_backward_scalar, elementwise_forward,
    elementwise_forward_scalar,
};
pub use softmax::{softmax_backward, softmax_forward, softmax_row_f64};
