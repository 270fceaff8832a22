//! PReLU: GPU against the CPU reference and TensorFlow's vectors, the dalpha reduction's
//! bound and determinism, initializers, regularizers, constraints and typed errors.

mod common;

use wgact::cases::{parse_cases, Case};
use wgact::check::prelu::{
    check_dalpha, check_inputs, check_preset, check_presets, dalpha_bounds, LARGE_PRESET,
};
use wgpu_activations::prelu::{
    fans, Constraint, Initializer, PReLU, Regularizer, TRUNCATED_NORMAL_STDDEV,
};
use wgpu_activations::reference::prelu as reference;
use wgpu_activations::{Error, Gpu, LimitsOverride, Tensor};

fn layer(shared_axes: Option<Vec<usize>>) -> PReLU {
    PReLU::new(Initializer::Zeros, None, None, shared_axes).expect("valid layer")
}

/// Runs forward and backward on the GPU with the given alpha; returns (y, dx, dalpha).
fn run(
    gpu: &Gpu,
    layer: &mut PReLU,
    shape: &[usize],
    x: &[f32],
    dy: &[f32],
    alpha: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    layer.build(gpu, shape).unwrap();
    layer.set_alpha(gpu, alpha).unwrap();
    let xt = Tensor::from_slice(gpu, x, shape).unwrap();
    let dyt = Tensor::from_slice(gpu, dy, shape).unwrap();
    let y = layer.forward(gpu, &xt).unwrap().to_vec(gpu).unwrap();
    let (dx, dalpha) = layer.backward(gpu, &xt, &dyt).unwrap();
    (y, dx.to_vec(gpu).unwrap(), dalpha.to_vec(gpu).unwrap())
}

#[test]
fn gpu_matches_the_cpu_reference_for_every_shape_and_shared_axes_preset() {
    let gpu = require_gpu!();
    for (shape, shared_axes) in check_presets() {
        for row in check_preset(gpu, &shape, shared_axes, 7).unwrap() {
            assert!(
                row.outcome.is_ok(),
                "{} {:?} {:?}: {:?}",
                row.op,
                row.direction,
                row.shape,
                row.outcome
            );
        }
    }
}

#[test]
fn one_alpha_element_summing_over_a_million_terms_stays_within_the_documented_bound() {
    let gpu = require_gpu!();
    let (shape, axes) = LARGE_PRESET;
    let terms = shape[0] * shape[1] * shape[2];
    assert!(terms > 1_000_000);
    let mut l = layer(Some(axes.to_vec()));
    l.build(gpu, &shape).unwrap();
    // Terms of one sign make Σ|t| = |Σ t|, so the bound is relative to the result itself
    // and a serial f32 sum (error ~ n * u) would break it.
    let n: usize = shape.iter().product();
    let x: Vec<f32> = (0..n).map(|i| -1.0 - (i % 1000) as f32 * 1e-3).collect();
    let dy: Vec<f32> = (0..n).map(|i| 0.1 + (i % 997) as f32 * 1e-4).collect();
    let alpha = [0.25, -0.5];
    let (_, _, dalpha) = run(gpu, &mut l, &shape, &x, &dy, &alpha);
    let g = reference::prelu_backward(&x, &dy, &shape, &alpha, &[1, 1, 2]).unwrap();
    assert_eq!(g.dalpha_terms, terms);
    let depth = l.dalpha_tree_depth(gpu, &shape).unwrap();
    let log2_terms = (terms as f64).log2().ceil() as u32;
    assert!(
        depth <= log2_terms + 2,
        "depth {depth} for 2^{log2_terms} terms"
    );
    let bounds = dalpha_bounds(depth, &g.dalpha_abs_sum, g.dalpha_terms);
    check_dalpha(&dalpha, &g.dalpha, &bounds).unwrap();
    // The bound is tight enough to mean something: well under a serial sum's n * u.
    for (b, s) in bounds.iter().zip(&g.dalpha_abs_sum) {
        assert!((*b as f64) < 30.0 / 16_777_216.0 * s);
    }
}

/// The reference file's PReLU cases, read with the crate's own reader.
fn prelu_cases() -> Vec<Case> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/data/cases.json"
    ))
    .expect("tests/data/cases.json");
    let cases: Vec<Case> = parse_cases(&text)
        .unwrap()
        .into_iter()
        .filter(|c| c.op == "prelu")
        .collect();
    assert!(cases.len() >= 21);
    cases
}

fn exact(actual: &[f32], expected: &[f32]) -> Result<(), String> {
    wgact::compare::Comparison::new(actual, expected, wgact::compare::Tolerance::EXACT)
        .check()
        .map_err(|m| m.to_string())
}

/// Exact, accepting the result for denormal inputs flushed to zero (GPUs may flush).
fn exact_or_flushed(actual: &[f32], expected: &[f32], flushed: &[f32]) -> Result<(), String> {
    let mut c = wgact::compare::Comparison::new(actual, expected, wgact::compare::Tolerance::EXACT);
    c.alternative = Some(flushed);
    c.flush_denormals = true;
    c.check().map_err(|m| m.to_string())
}

// Every case of the reference file (y, dx, dalpha, on the GPU and the CPU) runs through the
// conformance runner in tests/golden.rs.

#[test]
fn the_initializer_of_a_reference_case_gives_its_alpha() {
    let gpu = require_gpu!();
    let case = prelu_cases()
        .into_iter()
        .find(|c| c.name == "prelu_2x3x4x5_sa12_init_const0.25")
        .unwrap();
    let mut l = PReLU::new(Initializer::Constant(0.25), None, None, Some(vec![1, 2])).unwrap();
    let x = Tensor::from_slice(gpu, &case.x, &case.shape).unwrap();
    let y = l.forward(gpu, &x).unwrap().to_vec(gpu).unwrap();
    assert_eq!(Some(l.alpha(gpu).unwrap()), case.alpha);
    exact(&y, case.y.as_ref().unwrap()).unwrap();
}

#[test]
fn dalpha_is_bitwise_identical_across_runs() {
    let gpu = require_gpu!();
    for (shape, axes) in [
        (vec![3, 33, 65, 130], Some(vec![1, 2])),
        (vec![64, 3, 70], None),
        (vec![5, 300, 7], Some(vec![2])),
    ] {
        let mut l = layer(axes);
        l.build(gpu, &shape).unwrap();
        let n: usize = shape.iter().product();
        let (x, dy, alpha) = check_inputs(n, l.alpha_shape().unwrap().iter().product(), 3);
        let x: Vec<f32> = x
            .iter()
            .map(|v| if v.is_finite() { *v } else { 1.5 })
            .collect();
        let first = run(gpu, &mut l, &shape, &x, &dy, &alpha).2;
        for _ in 0..3 {
            let again = run(gpu, &mut l, &shape, &x, &dy, &alpha).2;
            let a: Vec<u32> = first.iter().map(|v| v.to_bits()).collect();
            let b: Vec<u32> = again.iter().map(|v| v.to_bits()).collect();
            assert_eq!(a, b, "{shape:?}");
        }
    }
}

/// PReLU over `shape` with `axes` on `gpu`, on inputs from `seed`, checked against the CPU
/// reference: y and dx exact (or equal to the reference on flushed denormal inputs), dalpha
/// within its documented bound. Returns the built layer, `[x, dy, alpha]` and dalpha.
fn matches_the_reference(
    gpu: &Gpu,
    shape: &[usize],
    axes: Option<Vec<usize>>,
    seed: u64,
    what: &str,
) -> (PReLU, [Vec<f32>; 3], Vec<f32>) {
    let mut l = layer(axes);
    l.build(gpu, shape).unwrap();
    let alpha_shape = l.alpha_shape().unwrap().to_vec();
    let n: usize = shape.iter().product();
    let (x, dy, alpha) = check_inputs(n, alpha_shape.iter().product(), seed);
    let (y, dx, dalpha) = run(gpu, &mut l, shape, &x, &dy, &alpha);
    let xf: Vec<f32> = x
        .iter()
        .map(|&v| wgact::compare::flush_denormal(v))
        .collect();
    let y_ref = reference::prelu_forward(&x, shape, &alpha, &alpha_shape).unwrap();
    let y_alt = reference::prelu_forward(&xf, shape, &alpha, &alpha_shape).unwrap();
    exact_or_flushed(&y, &y_ref, &y_alt).unwrap_or_else(|m| panic!("{what} y: {m}"));
    let g = reference::prelu_backward(&x, &dy, shape, &alpha, &alpha_shape).unwrap();
    let g_alt = reference::prelu_backward(&xf, &dy, shape, &alpha, &alpha_shape).unwrap();
    exact_or_flushed(&dx, &g.dx, &g_alt.dx).unwrap_or_else(|m| panic!("{what} dx: {m}"));
    let depth = l.dalpha_tree_depth(gpu, shape).unwrap();
    check_dalpha(
        &dalpha,
        &g.dalpha,
        &dalpha_bounds(depth, &g.dalpha_abs_sum, n),
    )
    .unwrap_or_else(|m| panic!("{what} dalpha: {m}"));
    (l, [x, dy, alpha], dalpha)
}

#[test]
fn chunked_inputs_and_two_dimensional_grids_give_the_reference_results() {
    let gpu = require_gpu!();
    // Binding limits of 4000 and 16396 bytes force many chunks with unaligned starts
    // (slices of 7 * 13 and 130 elements), and 12 workgroups per dimension force 2-D grids
    // (e.g. 130 rows of partials: 12 x 11) and the skipping of surplus workgroups. The last
    // four shapes have an innermost canonical axis of a multiple of 4 (72 and 12 kept, 20
    // and 400 reduced), so y and dx take the vec4 kernels, across chunks of 896 and 4032
    // elements (a binding less the 256 bytes a view's offset may need).
    for (shape, axes) in [
        (vec![40, 7, 13], None),
        (vec![40, 7, 13], Some(vec![1])),
        (vec![9, 10, 13], Some(vec![1, 2])),
        (vec![3, 33, 65, 2], Some(vec![1, 2])),
        (vec![40, 130], None),
        (vec![40, 6, 12], None),
        (vec![40, 6, 12], Some(vec![1])),
        (vec![20, 6, 4, 5], Some(vec![2, 3])),
        (vec![10, 5, 8], Some(vec![1, 2])),
        (vec![30, 2, 40], Some(vec![1])),
        (vec![40, 5, 20], Some(vec![1])),
    ] {
        for (binding, groups) in [
            (Some(4000), Some(12)),
            (Some(16396), None),
            (None, Some(12)),
        ] {
            let gpu = &gpu.with_limits_override(LimitsOverride {
                max_binding_bytes: binding,
                max_groups_per_dim: groups,
                ..LimitsOverride::default()
            });
            let what = format!("{shape:?} {axes:?} binding {binding:?} groups {groups:?}");
            matches_the_reference(gpu, &shape, axes.clone(), 11, &what);
        }
    }
}

#[test]
fn slices_and_alphas_past_one_binding_are_chunked_inside_the_slice() {
    let gpu = require_gpu!();
    // A binding of 1024 bytes holds fewer elements than one slice of the outermost axis
    // (and, for most shapes, than alpha): x is cut inside slices, at the first canonical
    // level that fits, along a kept axis ([N, C] and NHWC with C past a binding), a reduced
    // one (NCHW with H * W past a binding) or with a further prefix fixed; alpha and the
    // partial sums' rows are bound per chunk. Odd sizes, vec4-friendly ones, 2-D grids.
    for (shape, axes) in [
        (vec![2, 700], None),
        (vec![3, 301], None),
        (vec![2, 5, 300], Some(vec![1])),
        (vec![3, 2, 6, 44], Some(vec![1, 2])),
        (vec![3, 50, 13], Some(vec![2])),
        (vec![2, 3, 500], Some(vec![2])),
        (vec![2, 3, 257, 3], Some(vec![2])),
        (vec![3, 2, 130, 4], None),
        (vec![1, 1000], Some(vec![1])),
        (vec![2, 2, 3, 97], Some(vec![1])),
    ] {
        for (binding, groups) in [(1024, None), (1024, Some(12)), (2048, None)] {
            let gpu = &gpu.with_limits_override(LimitsOverride {
                max_binding_bytes: Some(binding),
                max_groups_per_dim: groups,
                ..LimitsOverride::default()
            });
            let what = format!("{shape:?} {axes:?} binding {binding} groups {groups:?}");
            let (mut l, [x, dy, alpha], dalpha) =
                matches_the_reference(gpu, &shape, axes.clone(), 13, &what);
            let again = run(gpu, &mut l, &shape, &x, &dy, &alpha).2;
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&dalpha),
                bits(&again),
                "{what}: dalpha bits across runs"
            );
        }
    }
}

#[test]
fn a_tensor_past_128_mib_with_one_slice_past_a_binding_runs_for_real() {
    let gpu = require_gpu!();
    // NCHW-like [1, 3, 11 Mi], one alpha per channel: 132 MiB, one slice of the batch axis
    // past a 128 MiB binding, so x is cut between channels (2 + 1), on the device's own
    // buffers when its limits allow them.
    let shape = [1, 3, 11 << 20];
    let n: usize = shape.iter().product();
    if gpu.device().limits().max_buffer_size < (n as u64) * 4 {
        eprintln!("skipped: max_buffer_size below 132 MiB");
        return;
    }
    let gpu = &gpu.with_limits_override(LimitsOverride {
        max_binding_bytes: Some(128 << 20),
        ..LimitsOverride::default()
    });
    let mut l = layer(Some(vec![2]));
    l.build(gpu, &shape).unwrap();
    let x: Vec<f32> = (0..n).map(|i| (i % 17) as f32 - 8.0).collect();
    let dy: Vec<f32> = (0..n).map(|i| ((i % 5) as f32 - 2.0) * 0.125).collect();
    let alpha = [0.25, -0.5, 2.0];
    let (y, dx, dalpha) = run(gpu, &mut l, &shape, &x, &dy, &alpha);
    let y_ref = reference::prelu_forward(&x, &shape, &alpha, &[3, 1]).unwrap();
    assert!(y == y_ref, "y");
    let g = reference::prelu_backward(&x, &dy, &shape, &alpha, &[3, 1]).unwrap();
    assert!(dx == g.dx, "dx");
    let depth = l.dalpha_tree_depth(gpu, &shape).unwrap();
    check_dalpha(
        &dalpha,
        &g.dalpha,
        &dalpha_bounds(depth, &g.dalpha_abs_sum, n),
    )
    .unwrap();
}

#[test]
fn the_register_trees_of_dalpha_give_the_bits_of_the_shared_memory_trees() {
    let gpu = require_gpu!();
    // Innermost kept axes of 64 or more, 32 to 63 and 16 to 31 alpha elements give 4, 8 and
    // 16 lanes per alpha element, summed in registers; the same order in shared memory must
    // give the same bits, -0 and NaN included, with and without chunks and 2-D grids. Kept
    // axes of 64, 72 and 96 (a multiple of 4) take the vec4 form: two quads per invocation
    // as a CPU adapter runs it (72 and 96: the last group of alpha elements without a second
    // quad) and one as a GPU does. The later passes sum in registers as a CPU adapter runs
    // them and in shared memory as a GPU does. Every combination gives the same dalpha, and
    // the same y and dx.
    for (shape, axes) in [
        (vec![700, 3, 70], Some(vec![1])),
        (vec![300, 40], None),
        (vec![5, 100, 3, 20], Some(vec![1, 2])),
        (vec![3, 33, 65, 130], Some(vec![1, 2])),
        (vec![20, 5, 7, 64], Some(vec![1, 2])),
        (vec![300, 6, 12], None),
        (vec![90, 7, 96], Some(vec![1])),
    ] {
        for (binding, groups) in [(None, None), (Some(1 << 18), Some(12))] {
            let run_with = |shared: bool, gpu_kernels: bool| {
                let gpu = &gpu.with_limits_override(LimitsOverride {
                    max_binding_bytes: binding,
                    max_groups_per_dim: groups,
                    shared_memory_trees: shared,
                    gpu_prelu: gpu_kernels,
                    ..LimitsOverride::default()
                });
                let mut l = layer(axes.clone());
                l.build(gpu, &shape).unwrap();
                let alpha_len = l.alpha_shape().unwrap().iter().product();
                let n: usize = shape.iter().product();
                let (mut x, dy, alpha) = check_inputs(n, alpha_len, 5);
                // Runs of zero terms (of either sign), so that signed-zero sums are compared too.
                for v in x.iter_mut().take(n / 3).skip(n / 4) {
                    *v = 0.0;
                }
                let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                let (y, dx, dalpha) = run(gpu, &mut l, &shape, &x, &dy, &alpha);
                [bits(&y), bits(&dx), bits(&dalpha)]
            };
            let shared = run_with(true, true);
            for gpu_kernels in [false, true] {
                let registers = run_with(false, gpu_kernels);
                for (k, what) in ["y", "dx", "dalpha"].iter().enumerate() {
                    assert!(
                        registers[k] == shared[k],
                        "{what}: {shape:?} {axes:?} binding {binding:?} groups {groups:?} \
                         gpu kernels {gpu_kernels}"
                    );
                }
            }
        }
    }
}

#[test]
fn alphas_of_every_class_against_special_inputs_give_the_reference_y_and_dx_in_f32_and_f16() {
    let gpu = require_gpu!();
    // Every x class against every alpha class: the rows of x are special values, the columns
    // the alphas (zero, infinite and NaN ones, and in f16 ones that round to inf or to 0, side
    // by side with plain ones in one SIMD group), through every walk of the forward. A CPU
    // adapter's blocked loop takes [rows, 64] (vec4, a lane's alpha repeats every 2 steps),
    // [rows, 4, 8] (1 step), [rows, 128] (4), [rows, 2, 128] (8) and [rows, 2] (scalar, 1);
    // [rows, 5, 7] (a period of 35) takes the grid-stride loops. 16 workgroups make the
    // blocks long enough for every phase of a lane's alphas. With the GPU's kernels
    // (`gpu_prelu`) every shape takes the grid-stride loops: alpha fixed per invocation,
    // or, under a grid of 12 workgroups (several steps per invocation), with and without a
    // binding of 16396 bytes (chunks), decoded at every step where no stride of 12 or fewer
    // workgroups is a multiple of the period (35).
    let alphas = [
        0.0,
        -0.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        0.25,
        1e5,
        1e-9,
        300.0,
    ];
    let mut xs = wgact::check::special_values();
    xs.extend([70000.0, -70000.0, 1e-6, -1e-6, 2.0, -3.0]);
    let configs = [
        (vec![64], None, None),
        (vec![4, 8], Some(16), None),
        (vec![128], Some(16), None),
        (vec![2, 128], Some(16), None),
        (vec![2], Some(16), None),
        (vec![5, 7], None, None),
        (vec![64], Some(12), None),
        (vec![5, 7], Some(12), None),
        (vec![64], Some(12), Some(16396)),
        (vec![5, 7], Some(12), Some(16396)),
    ];
    for ((cols, groups, binding), gpu_kernels) in configs
        .into_iter()
        .flat_map(|c| [(c.clone(), false), (c, true)])
    {
        let gpu = &gpu.with_limits_override(LimitsOverride {
            max_groups_per_dim: groups,
            max_binding_bytes: binding,
            gpu_prelu: gpu_kernels,
            ..LimitsOverride::default()
        });
        let count_a: usize = cols.iter().product();
        // Enough rows that the grid-stride loops take several steps under 12 workgroups.
        let rows = xs.len() * 32;
        let shape: Vec<usize> = std::iter::once(rows).chain(cols.iter().copied()).collect();
        let alpha: Vec<f32> = (0..count_a).map(|k| alphas[k % alphas.len()]).collect();
        let n = rows * count_a;
        let x: Vec<f32> = (0..n).map(|i| xs[(i / count_a) % xs.len()]).collect();
        // 300 * 300 overflows half: dx's masked product is then NaN in f16, not 0.
        let dy: Vec<f32> = (0..n).map(|i| [1.5, -0.75, 1e5, 300.0][i % 4]).collect();
        for dtype in [wgpu_activations::DType::F32, wgpu_activations::DType::F16] {
            let mut l = layer(None);
            l.build(gpu, &shape).unwrap();
            l.set_alpha(gpu, &alpha).unwrap();
            let xt = Tensor::from_slice_as(gpu, &x, &shape, dtype).unwrap();
            let dyt = Tensor::from_slice_as(gpu, &dy, &shape, dtype).unwrap();
            let y = l.forward(gpu, &xt).unwrap().to_vec(gpu).unwrap();
            let dx = l.backward(gpu, &xt, &dyt).unwrap().0.to_vec(gpu).unwrap();
            let (y_ref, dx_ref) = match dtype {
                wgpu_activations::DType::F32 => (
                    reference::prelu_forward(&x, &shape, &alpha, &cols).unwrap(),
                    reference::prelu_backward(&x, &dy, &shape, &alpha, &cols)
                        .unwrap()
                        .dx,
                ),
                wgpu_activations::DType::F16 => {
                    let f16 = wgpu_activations::reference::f16::prelu_forward_f16;
                    let g = wgpu_activations::reference::f16::prelu_backward_f16;
                    // alpha is an f32 weight that an f16 layer uses rounded to half.
                    let (xh, dyh, ah) = (round_half(&x), round_half(&dy), round_half(&alpha));
                    (
                        f16(&xh, &shape, &ah, &cols).unwrap(),
                        g(&xh, &dyh, &shape, &ah, &cols).unwrap().dx,
                    )
                }
            };
            let what = format!(
                "{shape:?} {dtype:?} groups {groups:?} binding {binding:?} gpu kernels {gpu_kernels}"
            );
            exact(&y, &y_ref).unwrap_or_else(|m| panic!("{what} y: {m}"));
            exact(&dx, &dx_ref).unwrap_or_else(|m| panic!("{what} dx: {m}"));
        }
    }
}

/// Each value rounded to the nearest half, as an f16 tensor stores it.
fn round_half(v: &[f32]) -> Vec<f32> {
    v.iter()
        .map(|&f| wgpu_activations::half::f16::from_f32(f).to_f32())
        .collect()
}

#[test]
fn dx_at_zero_is_zero_unlike_leaky_relu() {
    let gpu = require_gpu!();
    let mut l = layer(None);
    let (_, dx, _) = run(
        gpu,
        &mut l,
        &[2, 2],
        &[0.0, -0.0, -2.0, 3.0],
        &[1.0; 4],
        &[0.5, 0.5],
    );
    assert_eq!(dx, vec![0.0, 0.0, 0.5, 1.0]);
}

#[test]
fn alpha_zero_at_minus_infinity_gives_nan_and_nan_input_gives_nan_dalpha() {
    let gpu = require_gpu!();
    let mut l = layer(None);
    let x = [
        f32::NEG_INFINITY,
        f32::NAN,
        f32::NEG_INFINITY,
        f32::INFINITY,
    ];
    let dy = [1.0, 1.0, -2.0, 1.0];
    let (y, dx, dalpha) = run(gpu, &mut l, &[1, 4], &x, &dy, &[0.0, 0.5, 2.0, 0.0]);
    assert!(y[0].is_nan(), "0 * -inf");
    assert!(y[1].is_nan());
    assert_eq!(y[2], f32::NEG_INFINITY);
    assert_eq!(y[3], f32::INFINITY);
    assert_eq!(dx, vec![0.0, 0.0, -4.0, 1.0]);
    assert_eq!(dalpha[0], f32::NEG_INFINITY);
    assert!(dalpha[1].is_nan());
    assert_eq!(dalpha[2], f32::INFINITY);
    assert_eq!(dalpha[3], 0.0);
}

#[test]
fn batch_and_shared_axes_may_change_size_but_no_other_axis() {
    let gpu = require_gpu!();
    let mut l = layer(Some(vec![1, 2]));
    let x = Tensor::from_slice(gpu, &[1.0; 120], &[2, 3, 4, 5]).unwrap();
    l.forward(gpu, &x).unwrap();
    assert_eq!(l.alpha_shape().unwrap(), &[1, 1, 5]);
    let x2 = Tensor::from_slice(gpu, &vec![-1.0; 7 * 8 * 5], &[1, 7, 8, 5]).unwrap();
    l.forward(gpu, &x2).unwrap();
    let x3 = Tensor::from_slice(gpu, &[1.0; 24], &[2, 3, 4, 1]).unwrap();
    assert!(matches!(
        l.forward(gpu, &x3),
        Err(Error::ShapeMismatch { .. })
    ));

    let mut l = layer(None);
    l.build(gpu, &[2, 3, 4, 5]).unwrap();
    let x4 = Tensor::from_slice(gpu, &vec![1.0; 2 * 7 * 8 * 5], &[2, 7, 8, 5]).unwrap();
    assert!(matches!(
        l.forward(gpu, &x4),
        Err(Error::ShapeMismatch { .. })
    ));
    let x5 = Tensor::from_slice(gpu, &vec![1.0; 9 * 60], &[9, 3, 4, 5]).unwrap();
    l.forward(gpu, &x5).unwrap();
    let x6 = Tensor::from_slice(gpu, &[1.0; 60], &[3, 4, 5]).unwrap();
    assert!(matches!(
        l.forward(gpu, &x6),
        Err(Error::ShapeMismatch { .. })
    ));
}

#[test]
fn bad_shared_axes_shapes_and_lengths_give_typed_errors() {
    let gpu = require_gpu!();
    assert!(matches!(
        PReLU::new(Initializer::Zeros, None, None, Some(vec![0])),
        Err(Error::InvalidParameter {
            name: "shared_axes",
            ..
        })
    ));
    for axes in [vec![4], vec![1, 5]] {
        let mut l = layer(Some(axes));
        assert!(matches!(
            l.build(gpu, &[2, 3, 4, 5]),
            Err(Error::InvalidParameter {
                name: "shared_axes",
                ..
            })
        ));
    }
    // Duplicates are accepted, as in Keras.
    let mut l = layer(Some(vec![1, 1]));
    l.build(gpu, &[2, 3, 4]).unwrap();
    assert_eq!(l.alpha_shape().unwrap(), &[1, 4]);
    assert!(matches!(
        layer(None).build(gpu, &[2; 9]),
        Err(Error::InvalidRank { rank: 9, .. })
    ));
    assert!(matches!(
        layer(None).build(gpu, &[]),
        Err(Error::InvalidRank { .. })
    ));

    let l = layer(None);
    assert!(matches!(l.alpha(gpu), Err(Error::NotBuilt { .. })));
    assert!(matches!(l.alpha_shape(), Err(Error::NotBuilt { .. })));

    let mut l = layer(None);
    l.build(gpu, &[2, 3]).unwrap();
    assert!(matches!(
        l.set_alpha(gpu, &[1.0, 2.0]),
        Err(Error::LengthMismatch { len: 2, .. })
    ));
    let x = Tensor::from_slice(gpu, &[1.0; 6], &[2, 3]).unwrap();
    let dy = Tensor::from_slice(gpu, &[1.0; 6], &[3, 2]).unwrap();
    assert!(matches!(
        l.backward(gpu, &x, &dy),
        Err(Error::ShapeMismatch { what: "dy", .. })
    ));
    assert!(matches!(
        PReLU::new(Initializer::Constant(f32::NAN), None, None, None),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        PReLU::new(
            Initializer::Zeros,
            Some(Regularizer::L2 { l2: -1.0 }),
            None,
            None
        ),
        Err(Error::InvalidParameter { .. })
    ));
}

#[test]
fn rank_one_inputs_share_one_scalar_alpha() {
    let gpu = require_gpu!();
    let mut l = layer(None);
    let (y, dx, dalpha) = run(
        gpu,
        &mut l,
        &[3],
        &[-2.0, 1.0, -4.0],
        &[1.0, 1.0, 0.5],
        &[0.5],
    );
    assert_eq!(l.alpha_shape().unwrap(), &[] as &[usize]);
    assert_eq!(y, vec![-1.0, 1.0, -2.0]);
    assert_eq!(dx, vec![0.5, 1.0, 0.25]);
    assert_eq!(dalpha, vec![-4.0]);
}

#[test]
fn backward_can_add_the_l2_gradient_and_non_neg_clips_alpha() {
    let gpu = require_gpu!();
    let mut l = PReLU::new(
        Initializer::Zeros,
        Some(Regularizer::l2()),
        Some(Constraint::non_neg()),
        None,
    )
    .unwrap();
    l.build(gpu, &[1, 3]).unwrap();
    l.set_alpha(gpu, &[-0.5, 0.25, 2.0]).unwrap();
    let x = Tensor::from_slice(gpu, &[-1.0, -2.0, 3.0], &[1, 3]).unwrap();
    let dy = Tensor::from_slice(gpu, &[1.0, 1.0, 1.0], &[1, 3]).unwrap();
    let (_, plain) = l.backward(gpu, &x, &dy).unwrap();
    assert_eq!(plain.to_vec(gpu).unwrap(), vec![-1.0, -2.0, 0.0]);
    let (_, with) = l.backward_with(gpu, &x, &dy, true).unwrap();
    // + 2 * 0.01 * alpha
    assert_eq!(
        with.to_vec(gpu).unwrap(),
        vec![-1.0 - 0.01, -2.0 + 0.005, 0.04]
    );
    // 0.01 * (0.25 + 0.0625 + 4)
    assert!((l.regularization_penalty() - 0.043125).abs() < 1e-8);
    l.apply_constraint(gpu).unwrap();
    assert_eq!(l.alpha(gpu).unwrap(), vec![0.0, 0.25, 2.0]);
}

#[test]
fn regularizers_match_hand_computations() {
    let a = [-2.0f32, 0.0, 0.5, 3.0];
    // Σ|a| = 5.5, Σa² = 13.25
    assert!((Regularizer::l1().penalty(&a) - 0.055).abs() < 1e-9);
    assert!((Regularizer::l2().penalty(&a) - 0.1325).abs() < 1e-8);
    assert!((Regularizer::l1_l2().penalty(&a) - 0.1875).abs() < 1e-8);
    assert!((Regularizer::L1L2 { l1: 0.5, l2: 2.0 }.penalty(&a) - (2.75 + 26.5)).abs() < 1e-5);
    assert_eq!(Regularizer::l1().gradient(&a), vec![-0.01, 0.0, 0.01, 0.01]);
    assert_eq!(Regularizer::l2().gradient(&a), vec![-0.04, 0.0, 0.01, 0.06]);
    let g = Regularizer::l1_l2().gradient(&a);
    let want = [-0.05f32, 0.0, 0.02, 0.07];
    for (g, w) in g.iter().zip(want) {
        assert!((g - w).abs() < 1e-8, "{g} vs {w}");
    }
}

fn close(actual: &[f32], expected: &[f32]) {
    assert_eq!(actual.len(), expected.len());
    for (a, e) in actual.iter().zip(expected) {
        assert!(
            (a - e).abs() <= 1e-6 * e.abs().max(1.0),
            "{actual:?} vs {expected:?}"
        );
    }
}

#[test]
fn constraints_match_hand_computations() {
    let eps = 1e-7f32;
    assert_eq!(
        Constraint::non_neg()
            .apply(&[-1.0, 0.0, 2.0], &[3])
            .unwrap(),
        vec![0.0, 0.0, 2.0]
    );
    // shape (2, 2): columns (3, 4) norm 5 and (0, 1) norm 1 along axis 0.
    let w = [3.0, 0.0, 4.0, 1.0];
    close(
        &Constraint::max_norm().apply(&w, &[2, 2]).unwrap(),
        &[
            3.0 * 2.0 / (eps + 5.0),
            0.0,
            4.0 * 2.0 / (eps + 5.0),
            1.0 / (eps + 1.0),
        ],
    );
    close(
        &Constraint::unit_norm().apply(&w, &[2, 2]).unwrap(),
        &[0.6, 0.0, 0.8, 1.0],
    );
    // Along axis 1 the rows are (3, 0) norm 3 and (4, 1) norm sqrt(17).
    let r17 = 17f32.sqrt();
    close(
        &Constraint::UnitNorm { axis: vec![-1] }
            .apply(&w, &[2, 2])
            .unwrap(),
        &[1.0, 0.0, 4.0 / r17, 1.0 / r17],
    );
    close(
        &Constraint::min_max_norm().apply(&w, &[2, 2]).unwrap(),
        &[0.6, 0.0, 0.8, 1.0],
    );
    // rate 0.5, min 2, max 4: norm 5 -> 0.5 * 4 + 0.5 * 5 = 4.5; norm 1 -> 0.5 * 2 + 0.5 = 1.5
    let c = Constraint::MinMaxNorm {
        min_value: 2.0,
        max_value: 4.0,
        rate: 0.5,
        axis: vec![0],
    };
    close(
        &c.apply(&w, &[2, 2]).unwrap(),
        &[3.0 * 4.5 / 5.0, 0.0, 4.0 * 4.5 / 5.0, 1.5],
    );
    // A PReLU alpha of shape (1, 1, 3): axis 0 has size 1, each norm is |w|.
    close(
        &Constraint::max_norm()
            .apply(&[-5.0, 1.0, 0.5], &[1, 1, 3])
            .unwrap(),
        &[-2.0, 1.0, 0.5],
    );
    assert!(matches!(
        Constraint::unit_norm().apply(&w, &[4]).map(|_| ()),
        Ok(())
    ));
    assert!(matches!(
        Constraint::UnitNorm { axis: vec![2] }.apply(&w, &[2, 2]),
        Err(Error::AxisOutOfRange { axis: 2, rank: 2 })
    ));
}

#[test]
fn fans_follow_keras() {
    assert_eq!(fans(&[7]), (7.0, 7.0));
    assert_eq!(fans(&[3, 5]), (3.0, 5.0));
    assert_eq!(fans(&[4, 3, 5]), (12.0, 20.0));
    assert_eq!(fans(&[2, 4, 3, 5]), (24.0, 40.0));
    assert_eq!(fans(&[]), (1.0, 1.0));
}

fn stats(v: &[f32]) -> (f64, f64, f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
    let min = v.iter().fold(f64::INFINITY, |m, &x| m.min(x as f64));
    let max = v.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(x as f64));
    (mean, var.sqrt(), min, max)
}

/// The std of a unit normal truncated to [-2, 2].
const TRUNC_STD: f64 = TRUNCATED_NORMAL_STDDEV;

#[test]
fn initializers_have_keras_statistics_and_are_deterministic_per_seed() {
    // alpha of shape (8, 16, 32): fan_in = 16 * 8 = 128, fan_out = 32 * 8 = 256.
    let shape = [8, 16, 32];
    let n = 8 * 16 * 32;
    let (fan_in, fan_out) = (128.0f64, 256.0f64);
    let fan_avg = (fan_in + fan_out) / 2.0;
    // (initializer, mean, std, bound)
    let cases: Vec<(Initializer, f64, f64, f64)> = vec![
        (
            Initializer::random_uniform(1),
            0.0,
            0.1 / 12f64.sqrt(),
            0.05,
        ),
        (Initializer::random_normal(1), 0.0, 0.05, f64::INFINITY),
        (Initializer::truncated_normal(1), 0.0, 0.05 * TRUNC_STD, 0.1),
        (
            Initializer::RandomUniform {
                minval: 1.0,
                maxval: 3.0,
                seed: 4,
            },
            2.0,
            2.0 / 12f64.sqrt(),
            1.0,
        ),
        {
            let l = (6.0 / (fan_in + fan_out)).sqrt();
            (
                Initializer::GlorotUniform { seed: 2 },
                0.0,
                l / 3f64.sqrt(),
                l,
            )
        },
        {
            let s = (1.0 / fan_avg).sqrt();
            (
                Initializer::GlorotNormal { seed: 2 },
                0.0,
                s,
                2.0 * s / TRUNC_STD,
            )
        },
        {
            let l = (6.0 / fan_in).sqrt();
            (Initializer::HeUniform { seed: 3 }, 0.0, l / 3f64.sqrt(), l)
        },
        {
            let s = (2.0 / fan_in).sqrt();
            (
                Initializer::HeNormal { seed: 3 },
                0.0,
                s,
                2.0 * s / TRUNC_STD,
            )
        },
        {
            let l = (3.0 / fan_in).sqrt();
            (
                Initializer::LecunUniform { seed: 5 },
                0.0,
                l / 3f64.sqrt(),
                l,
            )
        },
        {
            let s = (1.0 / fan_in).sqrt();
            (
                Initializer::LecunNormal { seed: 5 },
                0.0,
                s,
                2.0 * s / TRUNC_STD,
            )
        },
    ];
    for (init, mean, std, bound) in cases {
        let v = init.values(&shape);
        assert_eq!(v.len(), n);
        let (m, s, lo, hi) = stats(&v);
        let se = std / (n as f64).sqrt();
        assert!((m - mean).abs() < 5.0 * se, "{init:?}: mean {m} vs {mean}");
        // The sample std's standard error is about std / sqrt(2n).
        assert!(
            (s - std).abs() < 5.0 * std / (2.0 * n as f64).sqrt(),
            "{init:?}: std {s} vs {std}"
        );
        assert!(
            lo >= mean - bound - 1e-6 && hi <= mean + bound + 1e-6,
            "{init:?}: [{lo}, {hi}]"
        );
        if bound.is_finite() {
            // The draws fill the interval.
            assert!(hi - lo > 1.9 * bound * 0.95, "{init:?}: [{lo}, {hi}]");
        }
        assert_eq!(init.values(&shape), v, "{init:?} is deterministic");
    }
    assert_ne!(
        Initializer::HeNormal { seed: 1 }.values(&shape),
        Initializer::HeNormal { seed: 2 }.values(&shape)
    );
    assert_eq!(Initializer::Zeros.values(&[2, 3]), vec![0.0; 6]);
    assert_eq!(Initializer::Ones.values(&[4]), vec![1.0; 4]);
    assert_eq!(Initializer::Constant(-0.5).values(&[1, 2]), vec![-0.5; 2]);
    assert_eq!(Initializer::default(), Initializer::Zeros);
}

#[test]
fn a_layer_built_on_first_forward_takes_its_initializer_values() {
    let gpu = require_gpu!();
    let init = Initializer::HeUniform { seed: 9 };
    let mut l = PReLU::new(init, None, None, Some(vec![1])).unwrap();
    assert!(!l.is_built());
    let x = Tensor::from_slice(gpu, &[1.0; 24], &[2, 3, 4]).unwrap();
    l.forward(gpu, &x).unwrap();
    assert_eq!(l.alpha_shape().unwrap(), &[1, 4]);
    assert_eq!(l.alpha(gpu).unwrap(), init.values(&[1, 4]));
}

#[test]
fn an_empty_batch_gives_empty_outputs_and_a_zero_dalpha() {
    let gpu = require_gpu!();
    let mut l = layer(None);
    l.build(gpu, &[2, 3]).unwrap();
    l.set_alpha(gpu, &[0.5, 1.0, 2.0]).unwrap();
    let x = Tensor::from_slice(gpu, &[], &[0, 3]).unwrap();
    assert!(l.forward(gpu, &x).unwrap().to_vec(gpu).unwrap().is_empty());
    let (dx, dalpha) = l.backward(gpu, &x, &x).unwrap();
    assert!(dx.to_vec(gpu).unwrap().is_empty());
    assert_eq!(dalpha.to_vec(gpu).unwrap(), vec![0.0; 3]);
}
