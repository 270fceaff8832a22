//! Softmax's tolerances: y within a few ulps, dx scaled by its row's largest |dy|.

use super::{Comparison, Tolerance};
use wgpu_activations::reference;
use wgpu_activations::Result;

/// Tolerance of `y`: 8 ulp of the expected value, or 1e-7 absolute.
///
/// TensorFlow itself is only within 1-2 ulp of the correctly rounded quotient (Eigen's
/// approximate reciprocal); the GPU adds `exp`'s error (a few ulp), the f32 tree sum's
/// (about log2(n) roundings of relative size 2^-24 each, spread over the row) and the
/// reciprocal's. The absolute floor covers values far below the row's largest, whose relative
/// error grows with `|x - max|` (exp's argument carries its own rounding) but whose absolute
/// error stays below 1e-7 because they are small; it also covers results TensorFlow flushes
/// to 0 below 1.18e-38.
pub const Y_TOLERANCE: Tolerance = Tolerance { ulps: 8, abs: 1e-7 };

/// Tolerance of `dx`: 8 ulp, or 4e-7 times the row's largest `|dy|` absolute
/// ([`dx_abs_scale`]): `dy - sum(dy * y)` cancels, so its absolute error is a few roundings
/// of the row's largest `|dy|`, whatever the size of the result.
pub const DX_TOLERANCE: Tolerance = Tolerance { ulps: 8, abs: 4e-7 };

/// The per-element scale of [`DX_TOLERANCE`]'s absolute part: the largest finite `|dy|` of
/// the element's row (at least 1e-30).
pub fn dx_abs_scale(dy: &[f32], shape: &[usize], axis: i64) -> Result<Vec<f32>> {
    let v = reference::softmax_axis_split(shape, axis)?;
    let mut scale = vec![0.0f32; dy.len()];
    for o in 0..v.outer {
        for i in 0..v.inner {
            let idx = |k: usize| (o * v.len + k) * v.inner + i;
            let m = (0..v.len)
                .map(|k| dy[idx(k)].abs())
                .filter(|d| d.is_finite())
                .fold(1e-30f32, f32::max);
            for k in 0..v.len {
                scale[idx(k)] = m;
            }
        }
    }
    Ok(scale)
}

/// Compares `y` under [`Y_TOLERANCE`], denormals flushed on both sides.
pub fn compare_y(actual: &[f32], expected: &[f32]) -> std::result::Result<(), String> {
    let mut c = Comparison::new(actual, expected, Y_TOLERANCE);
    c.flush_denormals = true;
    c.check().map_err(|m| m.to_string())
}

/// Compares `dx` under [`DX_TOLERANCE`] scaled by [`dx_abs_scale`].
pub fn compare_dx(
    actual: &[f32],
    expected: &[f32],
    dy: &[f32],
    shape: &[usize],
    axis: i64,
) -> std::result::Result<(), String> {
    let scale = dx_abs_scale(dy, shape, axis).map_err(|e| e.to_string())?;
    let mut c = Comparison::new(actual, expected, DX_TOLERANCE);
    c.flush_denormals = true;
    c.abs_scale = Some(&scale);
    c.check().map_err(|m| m.to_string())
}
