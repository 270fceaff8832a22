//! Softmax checks: inputs, special rows, tolerances, and the `wgact check` presets.

use crate::check::{CheckRow, Rng};
pub use crate::compare::softmax::{compare_dx, compare_y, dx_abs_scale, DX_TOLERANCE, Y_TOLERANCE};
use wgpu_activations::reference;
use wgpu_activations::Direction;
use wgpu_activations::Gpu;
use wgpu_activations::Result;
use wgpu_activations::Tensor;

use wgpu_activations::Softmax;

/// Row lengths of the presets: every lane / workgroup / register boundary of the strategies
/// (`plan::strategy`), the long-row scheme (4097: two chunks) and a long row of 65537.
pub const ROW_LENGTHS: &[usize] = &[
    1, 2, 3, 7, 31, 32, 33, 63, 64, 65, 255, 256, 257, 1000, 1024, 4097, 65537,
];

/// Rows of 8 that TensorFlow treats specially (the `softmax_special_*` cases of SEMANTICS.md):
/// spreads of 1e4, 88/89, -1e30 entries, all-equal rows, ±1e30, ±FLT_MAX, tiny values,
/// partial -inf, all -inf, +inf, NaN.
pub fn special_rows() -> Vec<[f32; 8]> {
    let inf = f32::INFINITY;
    vec![
        [1e4, 9999.0, 9998.0, 9997.0, 0.0, -1e4, 1e4, 9999.5],
        [88.0, 89.0, 0.0, -88.0, 88.5, 1.0, 2.0, 3.0],
        [-1e30, 0.0, 1.0, -1e30, 2.0, -1e30, 3.0, -1e30],
        [5.0; 8],
        [0.0; 8],
        [1e30; 8],
        [-1e30; 8],
        [3.4e38, -3.4e38, 0.0, 1.0, f32::MAX, f32::MIN, 2.0, 3.0],
        [-1e30, -1e30, -1e30, -1e30, -1e30, -1e30, -1e30, 0.0],
        [100.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        [1e-7, -1e-7, 0.0, -0.0, 1e-7, 0.0, 0.0, 1e-45],
        [-inf, 0.0, 1.0, 2.0, -inf, 3.0, 0.5, -inf],
        [-inf; 8],
        [inf, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        [0.0, 1.0, f32::NAN, 2.0, 3.0, 4.0, 5.0, 6.0],
        [-inf, -inf, -inf, 7.0, -inf, -inf, -inf, -inf],
        [0.0, -87.5, -88.0, -100.0, -103.0, -104.0, -110.0, 1.0],
    ]
}

/// Deterministic logits of `n` elements: uniform in `[-spread, spread)`.
pub fn logits(n: usize, spread: f32, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed ^ (n as u64).wrapping_mul(0x9e37_79b9));
    (0..n).map(|_| rng.uniform(-spread, spread)).collect()
}

/// Deterministic upstream gradients of `n` elements, uniform in `[-1, 1)`.
pub fn upstream(n: usize, seed: u64) -> Vec<f32> {
    logits(n, 1.0, seed ^ 0x5eed)
}

/// A mask of `n` elements keeping about `keep_percent`% of the positions.
pub fn random_mask(n: usize, keep_percent: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed ^ 0x3a5c);
    (0..n)
        .map(|_| {
            if rng.below(100) < keep_percent {
                1.0
            } else {
                0.0
            }
        })
        .collect()
}

#[cfg(not(target_arch = "wasm32"))]
/// Runs forward and backward of `layer` on `x` (with `mask`) on the GPU and compares each with
/// the CPU reference; the backward is fed the reference `y`. Returns the two rows.
///
/// # Errors
/// GPU errors; failed comparisons are in the rows.
pub fn check_case(
    gpu: &Gpu,
    layer: &Softmax,
    x: &[f32],
    mask: Option<&[f32]>,
    shape: &[usize],
    seed: u64,
) -> Result<[CheckRow; 2]> {
    let axis = layer.axis();
    let dy = upstream(x.len(), seed);
    let y_ref = reference::softmax_forward(x, shape, axis, mask)?;
    let dx_ref = reference::softmax_backward(&y_ref, &dy, shape, axis, mask)?;
    let xt = Tensor::from_slice(gpu, x, shape)?;
    let yt = Tensor::from_slice(gpu, &y_ref, shape)?;
    let dyt = Tensor::from_slice(gpu, &dy, shape)?;
    let (y, dx) = match mask {
        Some(m) => {
            let mt = Tensor::from_slice(gpu, m, shape)?;
            (
                layer.forward_masked(gpu, &xt, &mt)?,
                layer.backward_masked(gpu, &yt, &dyt, &mt)?,
            )
        }
        None => (layer.forward(gpu, &xt)?, layer.backward(gpu, &yt, &dyt)?),
    };
    let op = format!(
        "softmax(axis={axis}){}",
        if mask.is_some() { " masked" } else { "" }
    );
    Ok([
        CheckRow {
            op: op.clone(),
            direction: Direction::Forward,
            shape: shape.to_vec(),
            outcome: compare_y(&y.to_vec(gpu)?, &y_ref),
        },
        CheckRow {
            op,
            direction: Direction::Backward,
            shape: shape.to_vec(),
            outcome: compare_dx(&dx.to_vec(gpu)?, &dx_ref, &dy, shape, axis),
        },
    ])
}

#[cfg(not(target_arch = "wasm32"))]
/// The `wgact check` presets: every row length of [`ROW_LENGTHS`] (65537 skipped when
/// `quick`), every axis of a 3-D and a 4-D shape, the special rows along the last axis and
/// along axis 0, and masks (none kept in one row, some, all).
pub(crate) fn check_rows(
    gpu: &Gpu,
    quick: bool,
    seed: u64,
    emit: &mut dyn FnMut(&CheckRow),
) -> Result<()> {
    let mut run = |layer: Softmax, x: &[f32], mask: Option<&[f32]>, shape: &[usize]| {
        for row in check_case(gpu, &layer, x, mask, shape, seed)? {
            emit(&row);
        }
        Ok::<(), wgpu_activations::Error>(())
    };
    let last = Softmax::default();
    for &len in ROW_LENGTHS {
        if quick && len > 10_000 {
            continue;
        }
        let rows = if len > 10_000 { 2 } else { 3 };
        let shape = [rows, len];
        run(last, &logits(rows * len, 8.0, seed), None, &shape)?;
    }
    for shape in [vec![5usize, 33, 7], vec![3, 4, 65, 6]] {
        let n: usize = shape.iter().product();
        let x = logits(n, 8.0, seed);
        for axis in 0..shape.len() as i64 {
            run(Softmax::new(axis)?, &x, None, &shape)?;
        }
        run(Softmax::new(-2)?, &x, None, &shape)?;
    }
    let special = special_rows();
    let rows = special.len();
    let flat: Vec<f32> = special.iter().flatten().copied().collect();
    run(last, &flat, None, &[rows, 8])?;
    let transposed: Vec<f32> = (0..8)
        .flat_map(|k| special.iter().map(move |r| r[k]))
        .collect();
    run(Softmax::new(0)?, &transposed, None, &[8, rows])?;
    let shape = [6, 33];
    let x = logits(6 * 33, 8.0, seed);
    let mut mask = random_mask(6 * 33, 60, seed);
    mask[33..66].iter_mut().for_each(|m| *m = 0.0);
    run(last, &x, Some(&mask), &shape)?;
    run(last, &x, Some(&vec![1.0; 6 * 33]), &shape)?;
    run(last, &x, Some(&vec![0.0; 6 * 33]), &shape)?;
    run(Softmax::new(0)?, &x, Some(&mask), &shape)?;
    Ok(())
}
