//! The float16 mode of the CPU reference: TensorFlow's float16 rules
//! (`shared/golden/SEMANTICS_f16.md`), written independently of the shaders.
//!
//! Inputs and outputs are halves held in f32 (every value exactly a half). The rules:
//! - parameters are rounded float32 -> half ([`h`]) and the paths are chosen on the float32
//!   values, as Keras and TensorFlow do;
//! - every TensorFlow op computes in f32 and rounds its result to half once, so a chain of
//!   ops rounds once per op (ELU is `h(h(exp(x)) - 1)`);
//! - denormal halves are kept;
//! - the reductions (softmax, PReLU's dalpha) are deliberately *not* TensorFlow's half
//!   accumulation: like the GPU kernels they sum accurately (here in f64) and round the
//!   result once.

use super::elementwise::{branch, clips, has_negative_part, map_with_dy, max_nan, min_nan, Branch};
use super::prelu::{prelu_alpha_indices, PreluGradients};
use super::{mul_mask, relu};
use crate::elementwise::{Elementwise, ReLU};
use crate::error::Result;

/// `v` rounded to the nearest half (ties to even, overflow to ±inf, denormals kept), as f32.
pub fn h(v: f32) -> f32 {
    half::f16::from_f32(v).to_f32()
}

/// `h(h(exp(x)) - 1)` for x < 0 (x otherwise): `exp` rounded to half from f64, so the half
/// TensorFlow's f32 exp rounds to, except within half an f32 ulp of a half midpoint (none
/// among the halves: the closest is 0.473 f32 ulp away).
fn elu1(x: f32) -> f32 {
    if x < 0.0 {
        h(half::f16::from_f64((x as f64).exp()).to_f32() - 1.0)
    } else {
        x
    }
}

fn relu_positive(r: &ReLU, t_h: f32, x: f32) -> f32 {
    match branch(r) {
        Branch::Threshold => mul_mask(x, x > t_h),
        Branch::Relu6 => min_nan(relu(x), 6.0),
        Branch::Relu | Branch::Leaky => relu(x),
    }
}

/// `op(x)` in float16 for one half `x`.
pub fn elementwise_forward_f16_scalar(op: &Elementwise, x: f32) -> f32 {
    match op {
        Elementwise::LeakyReLU(l) => {
            let a = h(l.alpha());
            if l.alpha() == 0.0 {
                relu(x)
            } else if x > 0.0 {
                x
            } else {
                h(x * a)
            }
        }
        Elementwise::ELU(l) => {
            let y1 = elu1(x);
            if x > 0.0 {
                y1
            } else {
                h(h(l.alpha()) * y1)
            }
        }
        Elementwise::ThresholdedReLU(l) => mul_mask(x, x > h(l.theta())),
        Elementwise::ReLU(r) => {
            let ns = h(r.negative_slope());
            let t_h = h(r.threshold());
            if branch(r) == Branch::Leaky {
                return if x > 0.0 { x } else { h(x * ns) };
            }
            let mut u = relu_positive(r, t_h, x);
            if clips(r) {
                let m = h(r.max_value().unwrap_or(f32::INFINITY));
                u = max_nan(min_nan(u, m), 0.0);
            }
            if has_negative_part(r) {
                u = h(u - h(ns * relu(h(t_h - x))));
            }
            u
        }
    }
}

/// `dx` in float16 for one half `x` and upstream gradient `dy`.
pub fn elementwise_backward_f16_scalar(op: &Elementwise, x: f32, dy: f32) -> f32 {
    match op {
        Elementwise::LeakyReLU(l) => {
            if l.alpha() == 0.0 {
                mul_mask(dy, x > 0.0)
            } else if x > 0.0 {
                dy
            } else {
                h(dy * h(l.alpha()))
            }
        }
        Elementwise::ELU(l) => {
            // where(x > 0, res, alpha * res): the where's and the mul's gradients, summed by
            // TF's gradient aggregation, then EluGrad on the alpha-1 output.
            let a = h(l.alpha());
            let (pos, neg) = if x > 0.0 { (dy, 0.0) } else { (0.0, dy) };
            let g = h(pos + h(neg * a));
            let y1 = elu1(x);
            if y1 < 0.0 {
                h(h(y1 + 1.0) * g)
            } else {
                g
            }
        }
        Elementwise::ThresholdedReLU(l) => mul_mask(dy, x > h(l.theta())),
        Elementwise::ReLU(r) => {
            let ns = h(r.negative_slope());
            let t_h = h(r.threshold());
            if branch(r) == Branch::Leaky {
                return if x > 0.0 { dy } else { h(dy * ns) };
            }
            let mut g = dy;
            if clips(r) {
                let m = h(r.max_value().unwrap_or(f32::INFINITY));
                let u = relu_positive(r, t_h, x);
                if !(min_nan(u, m) >= 0.0 && u <= m) {
                    g = 0.0;
                }
            }
            let keep = match branch(r) {
                Branch::Threshold => x > t_h,
                Branch::Relu6 => x > 0.0 && x < 6.0,
                Branch::Relu | Branch::Leaky => x > 0.0,
            };
            let mut dx = mul_mask(g, keep);
            if has_negative_part(r) {
                // ReluGrad(h(-dy * ns), h(t - x)), negated by the subtraction's gradient.
                dx = h(dx + mul_mask(h(dy * ns), h(t_h - x) > 0.0));
            }
            dx
        }
    }
}

/// `y = op(x)` in float16, elementwise (`x` holds halves).
pub fn elementwise_forward_f16(op: &Elementwise, x: &[f32]) -> Vec<f32> {
    x.iter()
        .map(|&v| elementwise_forward_f16_scalar(op, v))
        .collect()
}

/// `dx` in float16, elementwise.
///
/// # Errors
/// [`crate::Error::ShapeMismatch`] when `x` and `dy` differ in length.
pub fn elementwise_backward_f16(op: &Elementwise, x: &[f32], dy: &[f32]) -> Result<Vec<f32>> {
    map_with_dy(x, dy, |v, g| elementwise_backward_f16_scalar(op, v, g))
}

/// PReLU `y` in float16: `h(relu(x) + h(-alpha * relu(-x)))` (alpha a half variable).
pub fn prelu_forward_f16_scalar(x: f32, alpha: f32) -> f32 {
    h(relu(x) + h(mul_ieee(-alpha, relu(-x))))
}

/// PReLU `dx` in float16: `h(dy * [x > 0] - h(dy * -alpha) * [-x > 0])`.
pub fn prelu_dx_f16_scalar(x: f32, alpha: f32, dy: f32) -> f32 {
    h(mul_mask(dy, x > 0.0) - mul_mask(h(mul_ieee(-alpha, dy)), -x > 0.0))
}

fn mul_ieee(a: f32, b: f32) -> f32 {
    a * b
}

/// PReLU forward in float16 (halves in f32; shapes as [`super::prelu::prelu_forward`]).
///
/// # Errors
/// As [`super::prelu::prelu_forward`].
pub fn prelu_forward_f16(
    x: &[f32],
    x_shape: &[usize],
    alpha: &[f32],
    alpha_shape: &[usize],
) -> Result<Vec<f32>> {
    super::prelu::prelu_forward(x, x_shape, alpha, alpha_shape)?;
    let idx = prelu_alpha_indices(x_shape, alpha_shape)?;
    Ok(x.iter()
        .zip(idx)
        .map(|(&v, a)| prelu_forward_f16_scalar(v, alpha[a]))
        .collect())
}

/// PReLU gradients in float16: `dx` by TF's rules; `dalpha` the f64 sum of the half terms
/// `-h(dy * relu(-x))`, rounded once to half (TensorFlow sums them in half instead).
///
/// # Errors
/// As [`super::prelu::prelu_backward`].
pub fn prelu_backward_f16(
    x: &[f32],
    dy: &[f32],
    x_shape: &[usize],
    alpha: &[f32],
    alpha_shape: &[usize],
) -> Result<PreluGradients> {
    let checked = super::prelu::prelu_backward(x, dy, x_shape, alpha, alpha_shape)?;
    let idx = prelu_alpha_indices(x_shape, alpha_shape)?;
    let mut sum = vec![0f64; alpha.len()];
    let mut abs_sum = vec![0f64; alpha.len()];
    let mut dx = Vec::with_capacity(x.len());
    for ((&v, &g), &a) in x.iter().zip(dy).zip(&idx) {
        dx.push(prelu_dx_f16_scalar(v, alpha[a], g));
        let t = -(h(g * relu(-v)) as f64);
        sum[a] += t;
        abs_sum[a] += t.abs();
    }
    Ok(PreluGradients {
        dx,
        dalpha: sum
            .iter()
            .map(|&s| half::f16::from_f64(s).to_f32())
            .collect(),
        dalpha_abs_sum: abs_sum,
        dalpha_terms: checked.dalpha_terms,
    })
}

/// Softmax in float16: the f64 softmax of the halves (special rows as in float32), rounded
/// to half (within an f32 rounding of the exact result rounded once).
///
/// # Errors
/// As [`super::softmax_forward`].
pub fn softmax_forward_f16(
    x: &[f32],
    shape: &[usize],
    axis: i64,
    mask: Option<&[f32]>,
) -> Result<Vec<f32>> {
    Ok(super::softmax_forward(x, shape, axis, mask)?
        .into_iter()
        .map(h)
        .collect())
}

/// Softmax's gradient in float16: [`super::softmax_backward`] on the halves, rounded to half.
///
/// # Errors
/// As [`super::softmax_backward`].
pub fn softmax_backward_f16(
    y: &[f32],
    dy: &[f32],
    shape: &[usize],
    axis: i64,
    mask: Option<&[f32]>,
) -> Result<Vec<f32>> {
    Ok(super::softmax_backward(y, dy, shape, axis, mask)?
        .into_iter()
        .map(h)
        .collect())
}
