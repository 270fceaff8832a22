//! The PReLU checks: the `wgact check` presets and rows, deterministic inputs, and the
//! documented dalpha bound.

use crate::check::{CheckRow, Rng};
pub use crate::compare::prelu::{
    check_dalpha, dalpha_bounds, dalpha_bounds_against, UNIT_ROUNDOFF,
};
use crate::compare::{flush_denormal, Comparison, Tolerance};
use wgpu_activations::reference;
use wgpu_activations::Direction;
use wgpu_activations::Gpu;
use wgpu_activations::Result;
use wgpu_activations::Tensor;
use wgpu_activations::{Initializer, PReLU};

/// The `wgact check` presets: `(input shape, shared_axes)`.
pub fn check_presets() -> Vec<(Vec<usize>, Option<Vec<usize>>)> {
    let nhwc = vec![2, 6, 5, 8];
    vec![
        (vec![4, 7], None),
        (vec![4, 7], Some(vec![1])),
        (vec![2, 5, 6], None),
        (vec![2, 5, 6], Some(vec![1])),
        (vec![2, 5, 6], Some(vec![2])),
        (nhwc.clone(), None),
        (nhwc.clone(), Some(vec![1])),
        (nhwc.clone(), Some(vec![1, 2])),
        (nhwc.clone(), Some(vec![2, 3])),
        (nhwc, Some(vec![1, 2, 3])),
        (vec![3, 33, 65, 130], Some(vec![1, 2])),
        // Reduced counts around one 1024-term block, and many blocks with alpha per element.
        (vec![1023, 1], None),
        (vec![4, 256], Some(vec![1])),
        (vec![1025, 1], None),
        (vec![300, 5, 7], None),
    ]
}

/// The large preset: one alpha element per channel sums `2 * 1024 * 520 = 1,064,960` terms.
pub const LARGE_PRESET: ([usize; 4], [usize; 2]) = ([2, 1024, 520, 2], [1, 2]);

/// Deterministic `(x, dy, alpha)` for a check: x uniform in `[-4, 4)` with every special
/// value spread through it, dy in `[-1, 1)`, alpha uniform in `[-0.5, 1.5)` with its first
/// element 0 (so `-inf` meets `alpha == 0`).
pub fn check_inputs(n: usize, alpha_len: usize, seed: u64) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let mut rng = Rng::new(seed ^ (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut x: Vec<f32> = (0..n).map(|_| rng.uniform(-4.0, 4.0)).collect();
    let specials = crate::check::special_values();
    for (j, &s) in specials.iter().enumerate() {
        if n > 0 {
            x[(j * 7919) % n] = s;
        }
    }
    let dy = (0..n).map(|_| rng.uniform(-1.0, 1.0)).collect();
    let mut alpha: Vec<f32> = (0..alpha_len).map(|_| rng.uniform(-0.5, 1.5)).collect();
    if let Some(a) = alpha.first_mut() {
        *a = 0.0;
    }
    (x, dy, alpha)
}

#[cfg(not(target_arch = "wasm32"))]
/// Runs one preset on the GPU and against the CPU reference: forward (exact), and backward
/// (dx exact, dalpha within [`dalpha_bounds`]).
///
/// # Errors
/// GPU errors (failed comparisons go in the rows).
pub fn check_preset(
    gpu: &Gpu,
    shape: &[usize],
    shared_axes: Option<Vec<usize>>,
    seed: u64,
) -> Result<[CheckRow; 2]> {
    let mut layer = PReLU::new(Initializer::Zeros, None, None, shared_axes.clone())?;
    layer.build(gpu, shape)?;
    let alpha_shape = layer.alpha_shape()?.to_vec();
    let n: usize = shape.iter().product();
    let (x, dy, alpha) = check_inputs(n, alpha_shape.iter().product(), seed);
    layer.set_alpha(gpu, &alpha)?;
    let xt = Tensor::from_slice(gpu, &x, shape)?;
    let dyt = Tensor::from_slice(gpu, &dy, shape)?;
    let xf: Vec<f32> = x.iter().map(|&v| flush_denormal(v)).collect();
    let name = format!("prelu(shared_axes={shared_axes:?})");

    let y = layer.forward(gpu, &xt)?.to_vec(gpu)?;
    let y_ref = reference::prelu::prelu_forward(&x, shape, &alpha, &alpha_shape)?;
    let y_alt = reference::prelu::prelu_forward(&xf, shape, &alpha, &alpha_shape)?;
    let mut c = Comparison::new(&y, &y_ref, Tolerance::EXACT);
    c.alternative = Some(&y_alt);
    c.flush_denormals = true;
    let forward = CheckRow {
        op: name.clone(),
        direction: Direction::Forward,
        shape: shape.to_vec(),
        outcome: c.check().map_err(|m| format!("y: {m}")),
    };

    let (dx, dalpha) = layer.backward(gpu, &xt, &dyt)?;
    let (dx, dalpha) = (dx.to_vec(gpu)?, dalpha.to_vec(gpu)?);
    let g = reference::prelu::prelu_backward(&x, &dy, shape, &alpha, &alpha_shape)?;
    let g_alt = reference::prelu::prelu_backward(&xf, &dy, shape, &alpha, &alpha_shape)?;
    let mut c = Comparison::new(&dx, &g.dx, Tolerance::EXACT);
    c.alternative = Some(&g_alt.dx);
    c.flush_denormals = true;
    let depth = layer.dalpha_tree_depth(gpu, shape)?;
    let bounds = dalpha_bounds(depth, &g.dalpha_abs_sum, g.dalpha_terms);
    let outcome = c.check().map_err(|m| format!("dx: {m}")).and_then(|_| {
        check_dalpha(&dalpha, &g.dalpha, &bounds)
            .map_err(|m| format!("dalpha (tree depth {depth}): {m}"))
    });
    let backward = CheckRow {
        op: name,
        direction: Direction::Backward,
        shape: shape.to_vec(),
        outcome,
    };
    Ok([forward, backward])
}

#[cfg(not(target_arch = "wasm32"))]
/// The `wgact check` rows of this family. The preset with more than 10^6 terms per alpha
/// element takes well under a second on lavapipe, so `quick` keeps it.
pub(crate) fn check_rows(
    gpu: &Gpu,
    _quick: bool,
    seed: u64,
    emit: &mut dyn FnMut(&CheckRow),
) -> Result<()> {
    let mut presets = check_presets();
    presets.push((LARGE_PRESET.0.to_vec(), Some(LARGE_PRESET.1.to_vec())));
    for (shape, shared_axes) in presets {
        for row in check_preset(gpu, &shape, shared_axes, seed)? {
            emit(&row);
        }
    }
    Ok(())
}
