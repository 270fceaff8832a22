//! The float16 rows of `wgact check`: every elementwise preset, PReLU and softmax on f16
//! tensors against the CPU reference's f16 mode, under the float16 contract of
//! [`crate::conformance::f16`] (exact, but for ELU's exp-midpoint inputs; reductions within
//! their f32-accumulation bounds).

use crate::check::{elementwise_inputs, CheckRow, Rng};
use crate::compare::f16::{exp_near_half_midpoint, half_ulps};
use crate::ops::ElementwiseOps;
use wgpu_activations::half;
use wgpu_activations::reference::f16 as cpu;
use wgpu_activations::{
    DType, Direction, Elementwise, Gpu, Initializer, PReLU, Result, Softmax, Tensor,
};

/// Sizes of the elementwise f16 rows: odd lengths (half a word left over), vec4 tails.
pub const F16_SIZES: &[usize] = &[1, 3, 8, 65, 1023, 4099];

fn halves(v: &[f32]) -> Vec<f32> {
    v.iter().map(|&x| cpu::h(x)).collect()
}

fn first_bad(
    actual: &[f32],
    expected: &[f32],
    ok: impl Fn(usize) -> bool,
) -> std::result::Result<(), String> {
    match (0..actual.len()).find(|&i| !ok(i)) {
        None => Ok(()),
        Some(i) => Err(format!(
            "[{i}] = {:e}, expected {:e} ({} half ulps)",
            actual[i],
            expected[i],
            half_ulps(actual[i], expected[i])
        )),
    }
}

fn row(
    op: String,
    direction: Direction,
    shape: &[usize],
    outcome: std::result::Result<(), String>,
) -> CheckRow {
    CheckRow {
        op: format!("{op} f16"),
        direction,
        shape: shape.to_vec(),
        outcome,
    }
}

/// Every f16 row (the elementwise presets at [`F16_SIZES`], PReLU and softmax shapes).
///
/// # Errors
/// GPU errors; failed comparisons are rows.
pub fn check_f16_rows(gpu: &Gpu, seed: u64, emit: &mut dyn FnMut(&CheckRow)) -> Result<()> {
    for op in Elementwise::presets() {
        for &n in F16_SIZES {
            let (x, dy) = elementwise_inputs(&op, n, seed);
            // The kinks of the half parameters and their half neighbours, at the start.
            let mut x = halves(&x);
            let p = op.activation_params_of(DType::F16).p;
            for (j, k) in p.iter().chain(&[0.0, 6.0]).enumerate() {
                if 3 * j + 2 < n && k.is_finite() {
                    let b = half::f16::from_f32(*k).to_bits();
                    x[3 * j] = *k;
                    x[3 * j + 1] = half::f16::from_bits(b.wrapping_add(1)).to_f32();
                    x[3 * j + 2] = half::f16::from_bits(b.wrapping_sub(1)).to_f32();
                }
            }
            let dy = halves(&dy);
            let xt = Tensor::from_slice_as(gpu, &x, &[n], DType::F16)?;
            let dyt = Tensor::from_slice_as(gpu, &dy, &[n], DType::F16)?;
            let elu = matches!(op, Elementwise::ELU(_));
            let allowed = |i: usize, a: f32, e: f32| {
                half_ulps(a, e) == 0
                    || (elu
                        && exp_near_half_midpoint(x[i])
                        && (a - e).abs()
                            <= 2f32.powi(-11) * p[0].abs().max(1.0) * dy[i].abs().max(1.0) * 1.01
                                + 2.0 * e.abs() * 2f32.powi(-10))
            };
            let y = op.forward(gpu, &xt)?.to_vec(gpu)?;
            let want = cpu::elementwise_forward_f16(&op, &x);
            emit(&row(
                op.describe(),
                Direction::Forward,
                &[n],
                first_bad(&y, &want, |i| allowed(i, y[i], want[i])),
            ));
            let dx = op.backward(gpu, &xt, &dyt)?.to_vec(gpu)?;
            let want = cpu::elementwise_backward_f16(&op, &x, &dy)?;
            emit(&row(
                op.describe(),
                Direction::Backward,
                &[n],
                first_bad(&dx, &want, |i| allowed(i, dx[i], want[i])),
            ));
        }
    }
    let mut rng = Rng::new(seed);
    for (shape, shared) in [
        (vec![5usize, 7], None),
        (vec![33, 4, 5], Some(vec![1])),
        (vec![3000, 3], None),
    ] {
        let n: usize = shape.iter().product();
        let x: Vec<f32> = (0..n).map(|_| cpu::h(rng.uniform(-4.0, 4.0))).collect();
        let dy: Vec<f32> = (0..n).map(|_| cpu::h(rng.uniform(-1.0, 1.0))).collect();
        let mut layer = PReLU::new(Initializer::Zeros, None, None, shared)?;
        layer.build(gpu, &shape)?;
        let alpha_shape = layer.alpha_shape()?.to_vec();
        let alpha: Vec<f32> = (0..alpha_shape.iter().product::<usize>())
            .map(|_| cpu::h(rng.uniform(-0.5, 1.5)))
            .collect();
        layer.set_alpha(gpu, &alpha)?;
        let xt = Tensor::from_slice_as(gpu, &x, &shape, DType::F16)?;
        let dyt = Tensor::from_slice_as(gpu, &dy, &shape, DType::F16)?;
        let y = layer.forward(gpu, &xt)?.to_vec(gpu)?;
        let (dx, dalpha) = layer.backward(gpu, &xt, &dyt)?;
        let (dx, dalpha) = (dx.to_vec(gpu)?, dalpha.to_vec(gpu)?);
        let want_y = cpu::prelu_forward_f16(&x, &shape, &alpha, &alpha_shape)?;
        let want = cpu::prelu_backward_f16(&x, &dy, &shape, &alpha, &alpha_shape)?;
        let depth = layer.dalpha_tree_depth(gpu, &shape)? as f32;
        emit(&row(
            "prelu".into(),
            Direction::Forward,
            &shape,
            first_bad(&y, &want_y, |i| half_ulps(y[i], want_y[i]) == 0),
        ));
        let outcome =
            first_bad(&dx, &want.dx, |i| half_ulps(dx[i], want.dx[i]) == 0).and_then(|()| {
                first_bad(&dalpha, &want.dalpha, |k| {
                    let bound = depth * 2f32.powi(-24) * want.dalpha_abs_sum[k] as f32
                        + 2.0 * (want.dalpha[k].abs() * 2f32.powi(-10)).max(2f32.powi(-24));
                    (dalpha[k] - want.dalpha[k]).abs() <= bound
                })
                .map_err(|m| format!("dalpha{m}"))
            });
        emit(&row("prelu".into(), Direction::Backward, &shape, outcome));
    }
    for shape in [vec![3usize, 33], vec![2, 1601], vec![4, 5, 7]] {
        let n: usize = shape.iter().product();
        let x: Vec<f32> = (0..n).map(|_| cpu::h(rng.uniform(-6.0, 6.0))).collect();
        let dy: Vec<f32> = (0..n).map(|_| cpu::h(rng.uniform(-1.0, 1.0))).collect();
        let layer = Softmax::new(-1)?;
        let y = layer.forward(gpu, &Tensor::from_slice_as(gpu, &x, &shape, DType::F16)?)?;
        let dx = layer.backward(
            gpu,
            &y,
            &Tensor::from_slice_as(gpu, &dy, &shape, DType::F16)?,
        )?;
        let (y, dx) = (y.to_vec(gpu)?, dx.to_vec(gpu)?);
        let want_y = cpu::softmax_forward_f16(&x, &shape, -1, None)?;
        let want_dx = cpu::softmax_backward_f16(&y, &dy, &shape, -1, None)?;
        emit(&row(
            "softmax(axis=-1)".into(),
            Direction::Forward,
            &shape,
            first_bad(&y, &want_y, |i| half_ulps(y[i], want_y[i]) <= 1),
        ));
        // |dy - s| <= 2 and |y| <= 1: the f32 sum's error is far below 2^-20.
        emit(&row(
            "softmax(axis=-1)".into(),
            Direction::Backward,
            &shape,
            first_bad(&dx, &want_dx, |i| {
                half_ulps(dx[i], want_dx[i]) == 0
                    || (dx[i] - want_dx[i]).abs()
                        <= 2f32.powi(-20) + (want_dx[i].abs() * 2f32.powi(-10)).max(2f32.powi(-24))
            }),
        ));
    }
    Ok(())
}
