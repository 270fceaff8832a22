use super::{mul_mask, relu};
use crate::elementwise::{Elementwise, ReLU};
use crate::error::{Error, Result};

/// Which branch `keras.backend.relu` takes, read off its source independently of the GPU
/// path's own decision (`ReLU::path`), so the reference does not share what it checks.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Branch {
    /// `negative_slope != 0`, no `max_value`, `threshold == 0`: `tf.nn.leaky_relu`.
    Leaky,
    /// `threshold != 0`: `x * cast(x > threshold)`.
    Threshold,
    /// `max_value == 6` (and no threshold): `tf.nn.relu6`.
    Relu6,
    /// Otherwise `tf.nn.relu`.
    Relu,
}

pub(super) fn branch(r: &ReLU) -> Branch {
    let (ns, mv, th) = (r.negative_slope(), r.max_value(), r.threshold());
    if ns != 0.0 && mv.is_none() && th == 0.0 {
        Branch::Leaky
    } else if th != 0.0 {
        Branch::Threshold
    } else if mv == Some(6.0) {
        Branch::Relu6
    } else {
        Branch::Relu
    }
}

/// Keras clips to `[0, max_value]` after the positive part unless relu6 already did.
pub(super) fn clips(r: &ReLU) -> bool {
    r.max_value().is_some() && branch(r) != Branch::Relu6
}

/// Keras subtracts `negative_slope * relu(threshold - x)` unless it took the leaky branch.
pub(super) fn has_negative_part(r: &ReLU) -> bool {
    r.negative_slope() != 0.0 && branch(r) != Branch::Leaky
}

/// `minimum` / `maximum` with NaN propagated.
pub(super) fn min_nan(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() {
        f32::NAN
    } else {
        a.min(b)
    }
}
pub(super) fn max_nan(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() {
        f32::NAN
    } else {
        a.max(b)
    }
}

/// `exp(x) - 1` as TensorFlow computes `tf.nn.elu` at alpha 1: an f32 exp, then an f32
/// subtraction (not `expm1`).
fn elu1(x: f32) -> f32 {
    if x < 0.0 {
        ((x as f64).exp() as f32) - 1.0
    } else {
        x
    }
}

fn relu_positive(r: &ReLU, x: f32) -> f32 {
    match branch(r) {
        Branch::Threshold => mul_mask(x, x > r.threshold()),
        Branch::Relu6 => min_nan(relu(x), 6.0),
        Branch::Relu | Branch::Leaky => relu(x),
    }
}

/// `op(x)` for one element.
pub fn elementwise_forward_scalar(op: &Elementwise, x: f32) -> f32 {
    match op {
        Elementwise::LeakyReLU(l) => {
            if l.alpha() == 0.0 {
                relu(x)
            } else if x > 0.0 {
                x
            } else {
                l.alpha() * x
            }
        }
        Elementwise::ELU(l) => {
            let y1 = elu1(x);
            if x > 0.0 {
                y1
            } else {
                l.alpha() * y1
            }
        }
        Elementwise::ThresholdedReLU(l) => mul_mask(x, x > l.theta()),
        Elementwise::ReLU(r) => {
            let ns = r.negative_slope();
            if branch(r) == Branch::Leaky {
                return if x > 0.0 { x } else { ns * x };
            }
            let mut t = relu_positive(r, x);
            if clips(r) {
                t = max_nan(min_nan(t, r.max_value().unwrap_or(f32::INFINITY)), 0.0);
            }
            if has_negative_part(r) {
                t -= ns * relu(-x + r.threshold());
            }
            t
        }
    }
}

/// `dx` for one element, from `x` and the upstream gradient `dy`.
pub fn elementwise_backward_scalar(op: &Elementwise, x: f32, dy: f32) -> f32 {
    match op {
        Elementwise::LeakyReLU(l) => {
            if l.alpha() == 0.0 {
                mul_mask(dy, x > 0.0) // ReluGrad
            } else if x > 0.0 {
                dy
            } else {
                dy * l.alpha() // LeakyReluGrad
            }
        }
        Elementwise::ELU(l) => {
            let y1 = elu1(x);
            let elu_grad = if y1 < 0.0 { (y1 + 1.0) * dy } else { dy };
            if x > 0.0 {
                dy
            } else {
                l.alpha() * elu_grad
            }
        }
        Elementwise::ThresholdedReLU(l) => mul_mask(dy, x > l.theta()),
        Elementwise::ReLU(r) => {
            let ns = r.negative_slope();
            if branch(r) == Branch::Leaky {
                return if x > 0.0 { dy } else { dy * ns };
            }
            let mut g = dy;
            if clips(r) {
                // Gradients of maximum(minimum(t, mv), 0): ties pass, NaN compares false.
                let mv = r.max_value().unwrap_or(f32::INFINITY);
                let t = relu_positive(r, x);
                let maximum_passes = min_nan(t, mv) >= 0.0;
                let minimum_passes = t <= mv;
                if !(maximum_passes && minimum_passes) {
                    g = 0.0;
                }
            }
            let keep = match branch(r) {
                Branch::Threshold => x > r.threshold(),
                Branch::Relu6 => x > 0.0 && x < 6.0,
                Branch::Relu | Branch::Leaky => x > 0.0,
            };
            let mut dx = mul_mask(g, keep);
            if has_negative_part(r) {
                // d/dx of -ns * relu(threshold - x): ReluGrad of -(dy * ns), through the negation.
                dx += mul_mask(dy * ns, -x + r.threshold() > 0.0);
            }
            dx
        }
    }
}

/// `y = op(x)` elementwise.
pub fn elementwise_forward(op: &Elementwise, x: &[f32]) -> Vec<f32> {
    x.iter()
        .map(|&v| elementwise_forward_scalar(op, v))
        .collect()
}

/// `dx` from `x` and `dy` elementwise.
///
/// # Errors
/// [`Error::ShapeMismatch`] when `x` and `dy` differ in length.
pub fn elementwise_backward(op: &Elementwise, x: &[f32], dy: &[f32]) -> Result<Vec<f32>> {
    map_with_dy(x, dy, |v, g| elementwise_backward_scalar(op, v, g))
}

/// `grad(x[i], dy[i])` for every element (the float32 and float16 backward passes, each
/// with its own rounding in `grad`).
///
/// # Errors
/// [`Error::ShapeMismatch`] when `x` and `dy` differ in length.
pub(super) fn map_with_dy(
    x: &[f32],
    dy: &[f32],
    grad: impl Fn(f32, f32) -> f32,
) -> Result<Vec<f32>> {
    if x.len() != dy.len() {
        return Err(Error::ShapeMismatch {
            what: "dy",
            actual: vec![dy.len()],
            expected: vec![x.len()],
        });
    }
    Ok(x.iter().zip(dy).map(|(&v, &g)| grad(v, g)).collect())
}
