//! PReLU's dalpha bound: y and dx are exact, dalpha is a sum and is judged within the
//! documented bound of its reduction tree.

use super::{Comparison, Mismatch, Tolerance};
use wgpu_activations::reference;

/// f32 unit roundoff, 2^-24.
pub const UNIT_ROUNDOFF: f64 = 1.0 / 16_777_216.0;

/// Per alpha element, the documented bound on `|dalpha_gpu - dalpha_reference|`:
/// `(D + 1) * u / (1 - (D + 1) * u) * Σ|terms|` (the GPU's tree plus the reference's final
/// rounding) plus `2^-126` per term and addition for flushed denormals.
pub fn dalpha_bounds(depth: u32, abs_sums: &[f64], terms: usize) -> Vec<f32> {
    let d = (depth + 1) as f64;
    let gamma = d * UNIT_ROUNDOFF / (1.0 - d * UNIT_ROUNDOFF);
    let ftz = 2.0 * terms as f64 * f32::MIN_POSITIVE as f64;
    abs_sums.iter().map(|&s| (gamma * s + ftz) as f32).collect()
}

/// The bound against another implementation's own dalpha (TensorFlow's, in the reference
/// file): [`dalpha_bounds`] widened by a tree of depth `ceil(log2 n) + 1` for the other side's
/// rounding, since its sum rounds too. `depth` is ours ([`PReLU::dalpha_tree_depth`] on the
/// GPU, 0 for the CPU reference).
pub fn dalpha_bounds_against(depth: u32, reference: &reference::prelu::PreluGradients) -> Vec<f32> {
    let other_side = (reference.dalpha_terms.max(1) as f64).log2().ceil() as u32 + 1;
    dalpha_bounds(
        depth + other_side,
        &reference.dalpha_abs_sum,
        reference.dalpha_terms,
    )
}

/// Compares dalpha with the reference under [`dalpha_bounds`].
pub fn check_dalpha(
    actual: &[f32],
    expected: &[f32],
    bounds: &[f32],
) -> std::result::Result<(), Mismatch> {
    let mut c = Comparison::new(actual, expected, Tolerance { ulps: 0, abs: 1.0 });
    c.abs_scale = Some(bounds);
    c.check()
}
