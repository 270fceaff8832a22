//! CPU reference for Softmax: TensorFlow's (Eigen's) formulas along any axis, written plainly,
//! with the sums accumulated in f64.

use crate::error::{Error, Result};

/// `shape` split around the softmax axis: `outer` rows before it, its length `len`, and the
/// `inner` stride after it (row-major), so element `k` of row `(o, i)` is
/// `(o * len + k) * inner + i`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AxisSplit {
    pub outer: usize,
    pub len: usize,
    pub inner: usize,
}

/// Splits `shape` around `axis` (negative counts from the end), as Keras' `Softmax(axis)`.
///
/// # Errors
/// [`Error::InvalidRank`] below rank 2; [`Error::AxisOutOfRange`] outside `[-rank, rank)`.
pub fn softmax_axis_split(shape: &[usize], axis: i64) -> Result<AxisSplit> {
    let rank = shape.len();
    if rank < 2 {
        return Err(Error::InvalidRank {
            op: "Softmax",
            rank,
            shape: shape.to_vec(),
            allowed: "2 or more (Keras cannot apply softmax to a 1-D tensor)",
        });
    }
    let r = rank as i64;
    if !(-r..r).contains(&axis) {
        return Err(Error::AxisOutOfRange { axis, rank });
    }
    let a = axis.rem_euclid(r) as usize;
    Ok(AxisSplit {
        outer: shape[..a].iter().product(),
        len: shape[a],
        inner: shape[a + 1..].iter().product(),
    })
}

fn check_len(what: &[f32], shape: &[usize]) -> Result<()> {
    let expected: usize = shape.iter().product();
    if what.len() != expected {
        return Err(Error::LengthMismatch {
            len: what.len(),
            shape: shape.to_vec(),
            expected,
        });
    }
    Ok(())
}

/// The element indices of every row along the axis, row by row.
fn rows(view: AxisSplit) -> impl Iterator<Item = Vec<usize>> {
    (0..view.outer).flat_map(move |o| {
        (0..view.inner).map(move |i| {
            (0..view.len)
                .map(|k| (o * view.len + k) * view.inner + i)
                .collect()
        })
    })
}

fn is_kept(mask: Option<&[f32]>, i: usize) -> bool {
    mask.is_none_or(|m| m[i] != 0.0)
}

/// `y = softmax(x)` along `axis` (row-major `x` of `shape`), as `tf.nn.softmax`:
/// `exp(x - max) / sum(exp(x - max))`, `x - max` in f32 as TensorFlow computes it, `exp` and
/// the sum in f64, one rounding at the end. A row containing NaN or +inf, or only -inf, is NaN;
/// -inf entries of other rows give 0.
///
/// With `mask` (same shape; 0.0 = masked, anything else = kept), masked positions are left
/// out entirely (their values are never looked at) and give 0; a fully masked row is all 0.
///
/// # Errors
/// [`Error::LengthMismatch`] for lengths that do not match `shape`; [`Error::InvalidRank`]
/// below rank 2; [`Error::AxisOutOfRange`] outside `[-rank, rank)`.
pub fn softmax_forward(
    x: &[f32],
    shape: &[usize],
    axis: i64,
    mask: Option<&[f32]>,
) -> Result<Vec<f32>> {
    let view = softmax_axis_split(shape, axis)?;
    check_len(x, shape)?;
    if let Some(m) = mask {
        check_len(m, shape)?;
    }
    let mut y = vec![0.0f32; x.len()];
    for row in rows(view) {
        let kept: Vec<usize> = row.iter().copied().filter(|&i| is_kept(mask, i)).collect();
        if kept.is_empty() {
            continue;
        }
        let poisoned = kept.iter().any(|&i| x[i].is_nan() || x[i] == f32::INFINITY);
        let max = kept.iter().map(|&i| x[i]).fold(f32::NEG_INFINITY, f32::max);
        if poisoned || max == f32::NEG_INFINITY {
            for &i in &kept {
                y[i] = f32::NAN;
            }
            continue;
        }
        let e: Vec<f64> = kept.iter().map(|&i| ((x[i] - max) as f64).exp()).collect();
        let sum: f64 = e.iter().sum();
        for (&i, &ei) in kept.iter().zip(&e) {
            y[i] = (ei / sum) as f32;
        }
    }
    Ok(y)
}

/// `dx = (dy - sum(dy * y)) * y` along `axis`, from the forward output `y` and the upstream
/// gradient `dy`, as TensorFlow's SoftmaxGrad; the sum and the product in f64. NaN in `y`
/// (special rows) makes the row NaN by plain arithmetic.
///
/// With `mask`, masked positions give 0 and are left out of the sum.
///
/// # Errors
/// As [`softmax_forward`].
pub fn softmax_backward(
    y: &[f32],
    dy: &[f32],
    shape: &[usize],
    axis: i64,
    mask: Option<&[f32]>,
) -> Result<Vec<f32>> {
    let view = softmax_axis_split(shape, axis)?;
    check_len(y, shape)?;
    check_len(dy, shape)?;
    if let Some(m) = mask {
        check_len(m, shape)?;
    }
    let mut dx = vec![0.0f32; y.len()];
    for row in rows(view) {
        let kept: Vec<usize> = row.iter().copied().filter(|&i| is_kept(mask, i)).collect();
        let sum: f64 = kept.iter().map(|&i| dy[i] as f64 * y[i] as f64).sum();
        for &i in &kept {
            dx[i] = ((dy[i] as f64 - sum) * y[i] as f64) as f32;
        }
    }
    Ok(dx)
}

/// Softmax of one row entirely in f64 (no special rows), for finite-difference checks of the
/// gradient.
pub fn softmax_row_f64(x: &[f64]) -> Vec<f64> {
    let max = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = x.iter().map(|&v| (v - max).exp()).collect();
    let sum: f64 = e.iter().sum();
    e.iter().map(|&v| v / sum).collect()
}
