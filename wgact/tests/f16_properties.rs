//! float16 properties: every layer on f16 tensors against the CPU reference's f16 mode, over
//! random shapes, parameters (those that round to 0 or overflow in half included) and
//! inputs mixed with every special half (±0, denormals, 65504, ±inf, NaN, each kink and
//! its ±1 half-ulp neighbours); through both storages (native `f16` and packed halves),
//! on views at odd offsets whose neighbouring halves must survive, and through the call,
//! record (one batch) and in-place levels.

mod common;

use std::sync::OnceLock;

use proptest::prelude::*;
use wgact::compare::f16::{exp_near_half_midpoint, half_ulps as ulps};
use wgpu_activations::half::f16;
use wgpu_activations::reference::f16 as cpu;
use wgpu_activations::{
    Batch, DType, Elementwise, Gpu, Initializer, LeakyReLU, PReLU, ReLU, Softmax, Tensor,
    ThresholdedReLU, ELU,
};

fn gpus() -> Vec<&'static Gpu> {
    static MASKED: OnceLock<Option<Gpu>> = OnceLock::new();
    let Some(gpu) = common::gpu() else {
        return Vec::new();
    };
    let masked = MASKED
        .get_or_init(|| Gpu::new_without(wgpu::Features::SHADER_F16).ok())
        .as_ref()
        .expect("a masked context where an unmasked one exists");
    assert!(!masked.info().shader_f16);
    vec![gpu, masked]
}

fn hv(v: f32) -> f32 {
    f16::from_f32(v).to_f32()
}

/// The half next to v towards +inf (steps) or -inf.
fn next(v: f32, up: bool) -> f32 {
    let h = f16::from_f32(v);
    let b = h.to_bits();
    let pos = b & 0x8000 == 0;
    let nb = match (b & 0x7fff == 0, up) {
        (true, true) => 1,
        (true, false) => 0x8001,
        (false, _) if pos == up => b + 1,
        _ => b - 1,
    };
    f16::from_bits(nb).to_f32()
}

/// Every special half, and each kink of `kinks` with its ±1 half-ulp neighbours.
fn specials(kinks: &[f32]) -> Vec<f32> {
    let mut v = vec![
        0.0,
        -0.0,
        2f32.powi(-24),
        -(2f32.powi(-24)),
        2f32.powi(-14) - 2f32.powi(-24),
        -(2f32.powi(-14) - 2f32.powi(-24)),
        2f32.powi(-14),
        65504.0,
        -65504.0,
        65472.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        1.0,
        -1.0,
        -8.3203125,
        -341.0 / 8192.0,
    ];
    for &k in kinks {
        let k = hv(k);
        v.extend([k, next(k, true), next(k, false), -k]);
    }
    v
}

fn half_value(kinks: Vec<f32>) -> impl Strategy<Value = f32> {
    prop_oneof![
        4 => (-8.0f32..8.0).prop_map(hv),
        2 => any::<u16>().prop_map(|b| f16::from_bits(b).to_f32()),
        3 => prop::sample::select(specials(&kinks)),
    ]
}

/// Parameters as Keras users give them, including some that round to 0 or overflow in half.
fn param(lo: f32, hi: f32) -> impl Strategy<Value = f32> {
    prop_oneof![
        4 => lo..hi,
        1 => prop::sample::select(vec![0.0f32, 1e-9, 0.1, 0.3, 1.0, 1.0 + 2f32.powi(-11), 6.0, 6.001, 6.1, 65504.0, 1e5]),
    ]
}

fn elementwise_op() -> impl Strategy<Value = Elementwise> {
    prop_oneof![
        param(-3.0, 3.0).prop_map(|a| LeakyReLU::new(a).unwrap().into()),
        param(-3.0, 3.0).prop_map(|a| ELU::new(a).unwrap().into()),
        param(0.0, 5.0).prop_map(|t| ThresholdedReLU::new(t).unwrap().into()),
        (
            prop::option::of(param(0.0, 8.0)),
            prop_oneof![Just(0.0f32), param(0.0, 2.0)],
            prop_oneof![Just(0.0f32), param(0.0, 3.0)]
        )
            .prop_map(|(mv, ns, th)| ReLU::new(mv, ns, th).unwrap().into()),
    ]
}

fn kinks(op: &Elementwise) -> Vec<f32> {
    match op {
        Elementwise::ThresholdedReLU(t) => vec![t.theta()],
        Elementwise::ReLU(r) => vec![0.0, 6.0, r.threshold(), r.max_value().unwrap_or(6.0)],
        _ => vec![0.0],
    }
}

/// ELU's documented exception: x whose exp lies within 4 f32 ulps of a midpoint between
/// halves, where the GPU's exp may round h(exp(x)) the other way (one half ulp of it,
/// <= 2^-11, scaled by |alpha| and |dy|, plus a final rounding).
fn elu_excused(op: &Elementwise, x: f32, dy: f32, got: f32, want: f32) -> bool {
    let Elementwise::ELU(l) = op else {
        return false;
    };
    if got.is_nan() || want.is_nan() || !exp_near_half_midpoint(x) {
        return false;
    }
    let scale = hv(l.alpha()).abs().max(1.0) * dy.abs().max(1.0);
    (got - want).abs() <= 2f32.powi(-11) * scale * 1.01 + 2.0 * want.abs() * 2f32.powi(-10)
}

const SENTINEL: u16 = 0x5a5a;

/// A view of `data` at half offset `off` in a fresh buffer whose other halves hold
/// SENTINEL.
fn sentinel_view(gpu: &Gpu, off: usize, data: &[f32], shape: &[usize]) -> Tensor {
    let words = (off + data.len() + 3).div_ceil(2);
    let buffer = gpu.device().create_buffer(&wgpu::BufferDescriptor {
        label: Some("f16 view"),
        size: (words * 4) as u64,
        usage: wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_SRC
            | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let fill = vec![SENTINEL; words * 2];
    gpu.queue()
        .write_buffer(&buffer, 0, bytemuck::cast_slice(&fill));
    let t = Tensor::view_of(gpu, &buffer, off as u64, shape, DType::F16).unwrap();
    let halves: Vec<f16> = data.iter().map(|&v| f16::from_f32(v)).collect();
    t.write_f16(gpu, &halves).unwrap();
    t
}

/// The halves of `t`'s whole buffer outside the view are still SENTINEL.
fn sentinels_intact(gpu: &Gpu, t: &Tensor) -> bool {
    let whole = Tensor::view_of(
        gpu,
        t.buffer(),
        0,
        &[t.buffer().size() as usize / 2],
        DType::F16,
    )
    .unwrap()
    .to_vec_f16(gpu)
    .unwrap();
    let (a, b) = (t.offset() as usize, t.offset() as usize + t.len());
    whole
        .iter()
        .enumerate()
        .all(|(i, h)| (a..b).contains(&i) || h.to_bits() == SENTINEL)
}

fn shapes(max: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..=40, 1..=3)
        .prop_filter("small", move |s| s.iter().product::<usize>() <= max)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn f16_elementwise_ops_match_the_f16_reference_through_both_storages_views_batches_and_in_place(
        (op, shape, x, dy) in (elementwise_op(), shapes(4096)).prop_flat_map(|(op, shape)| {
            let n = shape.iter().product::<usize>();
            (Just(op), Just(shape), prop::collection::vec(half_value(kinks(&op)), n),
             prop::collection::vec(half_value(vec![0.0]), n))
        }),
        offs in (0usize..6, 0usize..6, 0usize..6),
    ) {
        let want_y = cpu::elementwise_forward_f16(&op, &x);
        let want_dx = cpu::elementwise_backward_f16(&op, &x, &dy).unwrap();
        for gpu in gpus() {
            let path = if gpu.info().shader_f16 { "native" } else { "packed" };
            // Views at random (odd) offsets, recorded into one batch.
            let xv = sentinel_view(gpu, offs.0, &x, &shape);
            let dyv = sentinel_view(gpu, offs.1, &dy, &shape);
            let yv = sentinel_view(gpu, offs.2, &vec![0.0; x.len()], &shape);
            let dxv = sentinel_view(gpu, offs.0 ^ 1, &vec![0.0; x.len()], &shape);
            let mut batch = Batch::new(gpu);
            op.record_forward(&mut batch, &xv, &yv).unwrap();
            op.record_backward(&mut batch, &xv, &dyv, &dxv).unwrap();
            batch.submit().unwrap();
            // The call level on library tensors, and in place on a view.
            let xt = Tensor::from_slice_as(gpu, &x, &shape, DType::F16).unwrap();
            let y_call = op.forward(gpu, &xt).unwrap().to_vec(gpu).unwrap();
            let in_place = sentinel_view(gpu, offs.1 ^ 1, &dy, &shape);
            op.backward_in_place(gpu, &xv, &in_place).unwrap();
            let got = [
                ("y view", yv.to_vec(gpu).unwrap(), &want_y),
                ("y call", y_call, &want_y),
                ("dx view", dxv.to_vec(gpu).unwrap(), &want_dx),
                ("dx in place", in_place.to_vec(gpu).unwrap(), &want_dx),
            ];
            for (what, got, want) in got {
                for i in 0..x.len() {
                    prop_assert!(
                        ulps(got[i], want[i]) == 0 || elu_excused(&op, x[i], dy[i], got[i], want[i]),
                        "{path} {} {what}[{i}]: x={} dy={} got {} want {}", op.describe(), x[i], dy[i], got[i], want[i]
                    );
                }
            }
            for t in [&xv, &dyv, &yv, &dxv, &in_place] {
                prop_assert!(sentinels_intact(gpu, t), "{path}: a store clobbered a neighbouring half");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn f16_prelu_matches_the_f16_reference_through_both_storages(
        (shape, shared, x, dy) in prop::collection::vec(1usize..=9, 2..=4).prop_flat_map(|shape| {
            let n = shape.iter().product::<usize>();
            let rank = shape.len();
            (Just(shape), prop::collection::vec(any::<bool>(), rank - 1),
             prop::collection::vec(half_value(vec![0.0]), n), prop::collection::vec(half_value(vec![0.0]), n))
        }),
        alpha_seed in prop::collection::vec(half_value(vec![0.0]), 729),
        off in 0usize..4,
    ) {
        let axes: Vec<usize> = shared.iter().enumerate().filter(|(_, &s)| s).map(|(i, _)| i + 1).collect();
        let shared_axes = (!axes.is_empty()).then_some(axes);
        for gpu in gpus() {
            let mut layer = PReLU::new(Initializer::Zeros, None, None, shared_axes.clone()).unwrap();
            layer.build(gpu, &shape).unwrap();
            let alpha_shape = layer.alpha_shape().unwrap().to_vec();
            let alpha: Vec<f32> = alpha_seed[..alpha_shape.iter().product::<usize>()]
                .iter().map(|&a| if a.is_finite() { a } else { 0.5 }).collect();
            layer.set_alpha(gpu, &alpha).unwrap();
            let xv = sentinel_view(gpu, off, &x, &shape);
            let dyv = sentinel_view(gpu, off ^ 1, &dy, &shape);
            let y = layer.forward(gpu, &xv).unwrap().to_vec(gpu).unwrap();
            let (dx, dalpha) = layer.backward(gpu, &xv, &dyv).unwrap();
            let (dx, dalpha) = (dx.to_vec(gpu).unwrap(), dalpha.to_vec(gpu).unwrap());
            let want_y = cpu::prelu_forward_f16(&x, &shape, &alpha, &alpha_shape).unwrap();
            let want = cpu::prelu_backward_f16(&x, &dy, &shape, &alpha, &alpha_shape).unwrap();
            // In place, recorded into one batch: dalpha first, then dx over dy; y over x.
            let x_in_place = sentinel_view(gpu, off ^ 1, &x, &shape);
            let dy_in_place = sentinel_view(gpu, off, &dy, &shape);
            let dalpha_in_place = Tensor::zeros_of(gpu, &alpha_shape, DType::F16).unwrap();
            let mut batch = Batch::new(gpu);
            layer.record_backward_in_place(&mut batch, &x_in_place, &dy_in_place, &dalpha_in_place).unwrap();
            layer.record_forward_in_place(&mut batch, &x_in_place).unwrap();
            batch.submit().unwrap();
            let y_in_place = x_in_place.to_vec(gpu).unwrap();
            let dx_in_place = dy_in_place.to_vec(gpu).unwrap();
            let dalpha_again = dalpha_in_place.to_vec(gpu).unwrap();
            for (k, (&a, &b)) in dalpha_again.iter().zip(&dalpha).enumerate() {
                prop_assert_eq!(ulps(a, b), 0, "in place dalpha[{}] {} vs {}", k, a, b);
            }
            prop_assert!(sentinels_intact(gpu, &x_in_place) && sentinels_intact(gpu, &dy_in_place));
            for i in 0..x.len() {
                prop_assert_eq!(ulps(y_in_place[i], want_y[i]), 0, "in place y[{}]", i);
                prop_assert_eq!(ulps(dx_in_place[i], want.dx[i]), 0, "in place dx[{}]", i);
            }
            for i in 0..x.len() {
                prop_assert_eq!(ulps(y[i], want_y[i]), 0, "y[{}] x={} got {} want {}", i, x[i], y[i], want_y[i]);
                prop_assert_eq!(ulps(dx[i], want.dx[i]), 0, "dx[{}] x={} dy={} got {} want {}", i, x[i], dy[i], dx[i], want.dx[i]);
            }
            let depth = layer.dalpha_tree_depth(gpu, &shape).unwrap() as f32;
            for (k, (&got, &exact)) in dalpha.iter().zip(&want.dalpha).enumerate() {
                if !exact.is_finite() {
                    // NaN, or an infinite term or sum: the same special value.
                    prop_assert_eq!(ulps(got, exact), 0, "dalpha[{}] got {} want {}", k, got, exact);
                    continue;
                }
                let bound = depth * 2f32.powi(-24) * want.dalpha_abs_sum[k] as f32
                    + 2.0 * (exact.abs() * 2f32.powi(-10)).max(2f32.powi(-24));
                prop_assert!((got - exact).abs() <= bound, "dalpha[{}] got {} exact {} bound {}", k, got, exact, bound);
            }
        }
    }

    #[test]
    fn f16_softmax_is_within_one_ulp_of_the_exact_result_through_both_storages(
        (shape, x, dy) in prop::collection::vec(1usize..=70, 2..=3).prop_flat_map(|shape| {
            let n = shape.iter().product::<usize>();
            (Just(shape), prop::collection::vec(half_value(vec![0.0]), n), prop::collection::vec((-1.0f32..1.0).prop_map(hv), n))
        }),
        axis_pick in 0usize..3,
        off in 0usize..4,
    ) {
        let axis = -((axis_pick % shape.len()) as i64) - 1;
        let layer = Softmax::new(axis).unwrap();
        let want_y = cpu::softmax_forward_f16(&x, &shape, axis, None).unwrap();
        for gpu in gpus() {
            let xv = sentinel_view(gpu, off, &x, &shape);
            let y = layer.forward(gpu, &xv).unwrap();
            let yv = y.to_vec(gpu).unwrap();
            for i in 0..x.len() {
                prop_assert!(ulps(yv[i], want_y[i]) <= 1, "y[{}] got {} want {}", i, yv[i], want_y[i]);
            }
            // In place over a view: dx over dy.
            let dyv = sentinel_view(gpu, off ^ 1, &dy, &shape);
            layer.backward_in_place(gpu, &y, &dyv, None).unwrap();
            let dx = dyv.to_vec(gpu).unwrap();
            let want_dx = cpu::softmax_backward_f16(&yv, &dy, &shape, axis, None).unwrap();
            for i in 0..x.len() {
                let tol = 2.0 * (want_dx[i].abs() * 2f32.powi(-10)).max(2f32.powi(-24)) + 2f32.powi(-20);
                prop_assert!(ulps(dx[i], want_dx[i]) == 0 || (dx[i] - want_dx[i]).abs() <= tol,
                    "dx[{}] got {} want {}", i, dx[i], want_dx[i]);
            }
            prop_assert!(sentinels_intact(gpu, &xv) && sentinels_intact(gpu, &dyv));
        }
    }
}
