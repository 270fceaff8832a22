//! PReLU on the CPU: `y = relu(x) + (-alpha) * relu(-x)` (Keras's formula, term by term in
//! f32), TensorFlow's gradients, and dalpha summed in f64.

use super::{mul_mask, relu};
use crate::error::{Error, Result};

/// `y` for one element.
pub fn prelu_forward_scalar(x: f32, alpha: f32) -> f32 {
    relu(x) + (-alpha) * relu(-x)
}

/// `dx` for one element: `dy * [x > 0] - ((-alpha) * dy) * [-x > 0]`, 0 at `x == 0` and NaN.
pub fn prelu_dx_scalar(x: f32, alpha: f32, dy: f32) -> f32 {
    mul_mask(dy, x > 0.0) + -mul_mask((-alpha) * dy, -x > 0.0)
}

/// One term of dalpha: `-(dy * relu(-x))`, i.e. `dy * min(x, 0)`, rounded to f32 as
/// TensorFlow and the GPU compute it.
pub fn prelu_dalpha_term(x: f32, dy: f32) -> f32 {
    -(dy * relu(-x))
}

/// For every element of `x` (row-major), the index of its alpha element.
///
/// # Errors
/// [`Error::ShapeMismatch`] unless `alpha_shape` is `x_shape[1..]` with some axes set to 1.
pub fn prelu_alpha_indices(x_shape: &[usize], alpha_shape: &[usize]) -> Result<Vec<usize>> {
    let fits = !x_shape.is_empty()
        && alpha_shape.len() + 1 == x_shape.len()
        && alpha_shape
            .iter()
            .zip(&x_shape[1..])
            .all(|(&a, &x)| a == x || a == 1);
    if !fits {
        return Err(Error::ShapeMismatch {
            what: "alpha",
            actual: alpha_shape.to_vec(),
            expected: x_shape.get(1..).unwrap_or(&[]).to_vec(),
        });
    }
    let n: usize = x_shape.iter().product();
    let mut indices = Vec::with_capacity(n);
    let mut coords = vec![0usize; x_shape.len()];
    for _ in 0..n {
        let mut a = 0;
        for d in 1..x_shape.len() {
            let c = if alpha_shape[d - 1] == 1 {
                0
            } else {
                coords[d]
            };
            a = a * alpha_shape[d - 1] + c;
        }
        indices.push(a);
        for d in (0..x_shape.len()).rev() {
            coords[d] += 1;
            if coords[d] < x_shape[d] {
                break;
            }
            coords[d] = 0;
        }
    }
    Ok(indices)
}

fn check_lengths(data: &[f32], shape: &[usize]) -> Result<()> {
    let expected: usize = shape.iter().product();
    if data.len() != expected {
        return Err(Error::LengthMismatch {
            len: data.len(),
            shape: shape.to_vec(),
            expected,
        });
    }
    Ok(())
}

/// `y = prelu(x)` with `alpha` of `alpha_shape` broadcast against `x` of `x_shape`.
///
/// # Errors
/// [`Error::LengthMismatch`], [`Error::ShapeMismatch`] for inconsistent shapes.
pub fn prelu_forward(
    x: &[f32],
    x_shape: &[usize],
    alpha: &[f32],
    alpha_shape: &[usize],
) -> Result<Vec<f32>> {
    check_lengths(x, x_shape)?;
    check_lengths(alpha, alpha_shape)?;
    let idx = prelu_alpha_indices(x_shape, alpha_shape)?;
    Ok(x.iter()
        .zip(idx)
        .map(|(&v, a)| prelu_forward_scalar(v, alpha[a]))
        .collect())
}

/// The gradients of PReLU.
#[derive(Clone, Debug, PartialEq)]
pub struct PreluGradients {
    /// `dx`, shape of `x`.
    pub dx: Vec<f32>,
    /// `dalpha`, shape of alpha: the f64 sum of the f32 terms, rounded once.
    pub dalpha: Vec<f32>,
    /// Per alpha element, `Σ |term|` in f64: the scale of the reduction error bound.
    pub dalpha_abs_sum: Vec<f64>,
    /// Per alpha element, the number of terms summed.
    pub dalpha_terms: usize,
}

/// `dx` and `dalpha` from `x`, `dy` and `alpha`.
///
/// # Errors
/// As [`prelu_forward`]; `dy` must have `x`'s length.
pub fn prelu_backward(
    x: &[f32],
    dy: &[f32],
    x_shape: &[usize],
    alpha: &[f32],
    alpha_shape: &[usize],
) -> Result<PreluGradients> {
    check_lengths(x, x_shape)?;
    check_lengths(dy, x_shape)?;
    check_lengths(alpha, alpha_shape)?;
    let idx = prelu_alpha_indices(x_shape, alpha_shape)?;
    let mut sum = vec![0f64; alpha.len()];
    let mut abs_sum = vec![0f64; alpha.len()];
    let mut dx = Vec::with_capacity(x.len());
    for ((&v, &g), &a) in x.iter().zip(dy).zip(&idx) {
        dx.push(prelu_dx_scalar(v, alpha[a], g));
        let t = prelu_dalpha_term(v, g) as f64;
        sum[a] += t;
        abs_sum[a] += t.abs();
    }
    Ok(PreluGradients {
        dx,
        dalpha: sum.iter().map(|&s| s as f32).collect(),
        dalpha_abs_sum: abs_sum,
        dalpha_terms: x.len() / alpha.len().max(1),
    })
}
