//! LeakyReLU, ELU, ThresholdedReLU and ReLU on the GPU: against the CPU reference over every
//! preset and boundary size, at the kinks as SEMANTICS.md records TensorFlow's behaviour,
//! and with bad input.

mod common;

use wgact::check::{check_elementwise, LARGE_SIZE, SIZES};
use wgact::ops::ElementwiseOps;
use wgpu_activations::{
    Direction, Elementwise, Error, Gpu, LeakyReLU, LimitsOverride, ReLU, Tensor, ThresholdedReLU,
    ELU,
};

fn presets_of(name: &str) -> Vec<Elementwise> {
    Elementwise::presets()
        .into_iter()
        .filter(|op| op.name() == name)
        .collect()
}

fn assert_matches_reference(gpu: &Gpu, ops: &[Elementwise], direction: Direction, sizes: &[usize]) {
    assert!(!ops.is_empty());
    let mut failures = Vec::new();
    for op in ops {
        for &n in sizes {
            let row = check_elementwise(gpu, op, direction, n, 7).expect("GPU call succeeds");
            if let Err(why) = row.outcome {
                failures.push(format!("{} {} n={n}: {why}", row.op, direction.name()));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

macro_rules! matches_reference {
    ($($test:ident: $op:literal, $direction:expr;)*) => {$(
        #[test]
        fn $test() {
            let gpu = require_gpu!();
            assert_matches_reference(gpu, &presets_of($op), $direction, SIZES);
        }
    )*};
}

matches_reference! {
    leaky_relu_forward_matches_the_reference_exactly_for_every_preset_and_size: "leaky_relu", Direction::Forward;
    leaky_relu_backward_matches_the_reference_exactly_for_every_preset_and_size: "leaky_relu", Direction::Backward;
    elu_forward_is_within_its_ulp_bound_for_every_preset_and_size: "elu", Direction::Forward;
    elu_backward_is_within_its_ulp_bound_for_every_preset_and_size: "elu", Direction::Backward;
    thresholded_relu_forward_matches_the_reference_exactly_for_every_preset_and_size: "thresholded_relu", Direction::Forward;
    thresholded_relu_backward_matches_the_reference_exactly_for_every_preset_and_size: "thresholded_relu", Direction::Backward;
    relu_forward_matches_the_reference_exactly_on_every_keras_path_and_size: "relu", Direction::Forward;
    relu_backward_matches_the_reference_exactly_on_every_keras_path_and_size: "relu", Direction::Backward;
}

#[test]
fn every_op_on_a_tensor_past_one_binding_and_65535_workgroups_matches_the_reference() {
    let gpu = require_gpu!();
    let binding_elems = gpu.info().max_storage_buffer_binding_size as usize / 4;
    assert!(
        LARGE_SIZE > binding_elems || gpu.info().max_storage_buffer_binding_size > 1 << 28,
        "the large size must exceed one binding on this adapter"
    );
    let defaults: Vec<Elementwise> = vec![
        LeakyReLU::default().into(),
        ELU::default().into(),
        ThresholdedReLU::default().into(),
        ReLU::new(Some(6.0), 0.1, 0.5).unwrap().into(),
    ];
    for direction in Direction::ALL {
        assert_matches_reference(gpu, &defaults, direction, &[LARGE_SIZE]);
    }
}

#[test]
fn the_gpu_grid_stride_loop_and_the_cpu_blocked_loop_on_few_workgroups_match_the_reference() {
    // On a CPU adapter the kernels walk their units in per-SIMD-batch blocks; the override
    // takes the GPUs' grid-stride loop there too, so both loops are checked on any adapter.
    // Three workgroups at most make the blocks long and the last ones partial or empty.
    let gpu = require_gpu!();
    let overrides = [
        LimitsOverride {
            grid_stride_loops: true,
            ..LimitsOverride::default()
        },
        LimitsOverride {
            max_groups_per_dim: Some(3),
            ..LimitsOverride::default()
        },
    ];
    for limits in overrides {
        let gpu = &gpu.with_limits_override(limits);
        for direction in Direction::ALL {
            assert_matches_reference(gpu, &Elementwise::presets(), direction, SIZES);
        }
    }
}

/// Runs `op` forward and backward (dy = 1) on `x` on the GPU.
fn run(gpu: &Gpu, op: impl Into<Elementwise>, x: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let op = op.into();
    let xt = Tensor::from_slice(gpu, x, &[x.len()]).unwrap();
    let ones = Tensor::from_slice(gpu, &vec![1.0; x.len()], &[x.len()]).unwrap();
    let y = op.forward(gpu, &xt).unwrap().to_vec(gpu).unwrap();
    let dx = op.backward(gpu, &xt, &ones).unwrap().to_vec(gpu).unwrap();
    (y, dx)
}

/// Asserts `actual == expected` elementwise, zeros of either sign equal, NaN equal NaN.
fn assert_same(what: &str, actual: &[f32], expected: &[f32]) {
    assert_eq!(actual.len(), expected.len());
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            a == e || (a.is_nan() && e.is_nan()),
            "{what}[{i}]: got {a:e}, expected {e:e} (actual {actual:?})"
        );
    }
}

const INF: f32 = f32::INFINITY;
const NAN: f32 = f32::NAN;

#[test]
fn leaky_relu_takes_the_left_slope_at_zero_and_nan_and_zero_alpha_acts_as_relu() {
    let gpu = require_gpu!();
    let x = [0.0, -0.0, NAN, INF, -INF, 2.0, -2.0, -3.4e38];
    let (y, dx) = run(gpu, LeakyReLU::new(1.5).unwrap(), &x);
    assert_same("y", &y, &[0.0, 0.0, NAN, INF, -INF, 2.0, -3.0, -INF]);
    assert_same("dx", &dx, &[1.5, 1.5, 1.5, 1.0, 1.5, 1.0, 1.5, 1.5]);
    let (y, dx) = run(gpu, LeakyReLU::new(0.0).unwrap(), &x);
    assert_same("y", &y, &[0.0, 0.0, NAN, INF, 0.0, 2.0, 0.0, 0.0]);
    assert_same("dx", &dx, &[0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0]);
    let (y, _) = run(gpu, LeakyReLU::new(-1.0).unwrap(), &[-2.0, 3.0, -INF]);
    assert_same("y", &y, &[2.0, 3.0, INF]);
}

#[test]
fn elu_gradient_is_alpha_dy_at_zero_and_nan_and_exactly_zero_from_minus_17_33() {
    let gpu = require_gpu!();
    let x = [0.0, -0.0, NAN, -INF, INF, -17.5, -88.0, -1e30, 1e30];
    let (y, dx) = run(gpu, ELU::new(2.0).unwrap(), &x);
    assert_same("y", &y, &[0.0, 0.0, NAN, -2.0, INF, -2.0, -2.0, -2.0, 1e30]);
    assert_same("dx", &dx, &[2.0, 2.0, 2.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
}

#[test]
fn thresholded_relu_is_zero_at_theta_and_nan_at_minus_infinity() {
    let gpu = require_gpu!();
    let theta = 2.5f32;
    let above = f32::from_bits(theta.to_bits() + 1);
    let (y, dx) = run(
        gpu,
        ThresholdedReLU::new(theta).unwrap(),
        &[theta, above, -INF, NAN, INF, -1.0],
    );
    assert_same("y", &y, &[0.0, above, NAN, NAN, INF, 0.0]);
    assert_same("dx", &dx, &[0.0, 1.0, 0.0, 0.0, 1.0, 0.0]);
}

#[test]
fn relu6_blocks_the_gradient_at_six_but_other_max_values_pass_it() {
    let gpu = require_gpu!();
    let (y, dx) = run(
        gpu,
        ReLU::new(Some(6.0), 0.0, 0.0).unwrap(),
        &[6.0, 0.0, INF, NAN],
    );
    assert_same("relu6 y", &y, &[6.0, 0.0, 6.0, NAN]);
    assert_same("relu6 dx", &dx, &[0.0, 0.0, 0.0, 0.0]);
    let (y, dx) = run(
        gpu,
        ReLU::new(Some(2.5), 0.0, 0.0).unwrap(),
        &[2.5, 0.0, INF, 3.0],
    );
    assert_same("clip y", &y, &[2.5, 0.0, 2.5, 2.5]);
    assert_same("clip dx", &dx, &[1.0, 0.0, 0.0, 0.0]);
    // With a threshold, max_value 6 takes the clip path: the gradient passes at 6.
    let (_, dx) = run(gpu, ReLU::new(Some(6.0), 0.0, 0.5).unwrap(), &[6.0]);
    assert_same("T+clip dx", &dx, &[1.0]);
}

#[test]
fn relu_negative_slope_gradient_at_zero_depends_on_the_keras_path() {
    let gpu = require_gpu!();
    // Leaky path: dx(0) = slope, dx(NaN) = slope, y(-inf) = -inf.
    let (y, dx) = run(gpu, ReLU::new(None, 0.1, 0.0).unwrap(), &[0.0, NAN, -INF]);
    assert_same("leaky y", &y, &[0.0, NAN, -INF]);
    assert_same("leaky dx", &dx, &[0.1, 0.1, 0.1]);
    // max_value set, threshold 0: both relu(x) and relu(-x) have gradient 0 at 0.
    let (_, dx) = run(gpu, ReLU::new(Some(6.0), 0.1, 0.0).unwrap(), &[0.0, -1.0]);
    assert_same("R6 dx", &dx, &[0.0, 0.1]);
}

#[test]
fn relu_at_the_threshold_is_zero_with_zero_gradient_and_minus_infinity_gives_nan() {
    let gpu = require_gpu!();
    let (y, dx) = run(
        gpu,
        ReLU::new(None, 0.1, 0.5).unwrap(),
        &[0.5, 0.0, -INF, NAN, 1.5],
    );
    assert_same("y", &y, &[0.0, -0.05, NAN, NAN, 1.5]);
    assert_same("dx", &dx, &[0.0, 0.1, 0.1, 0.0, 1.0]);
    let (y, dx) = run(
        gpu,
        ReLU::new(Some(0.25), 0.0, 0.5).unwrap(),
        &[0.5, 0.75, 0.25],
    );
    assert_same("mv<th y", &y, &[0.0, 0.25, 0.0]);
    assert_same("mv<th dx", &dx, &[0.0, 0.0, 0.0]);
}

#[test]
fn zero_size_tensors_are_valid_and_cost_no_dispatch() {
    let gpu = require_gpu!();
    let x = Tensor::from_slice(gpu, &[], &[0, 3]).unwrap();
    let before = gpu.dispatch_count();
    for op in Elementwise::presets() {
        let y = op.forward(gpu, &x).unwrap();
        assert_eq!(y.shape(), &[0, 3]);
        assert!(y.to_vec(gpu).unwrap().is_empty());
        let dx = op.backward(gpu, &x, &x).unwrap();
        assert_eq!(dx.shape(), &[0, 3]);
    }
    assert_eq!(
        gpu.dispatch_count(),
        before,
        "zero-size tensors must not dispatch"
    );
}

#[test]
fn outputs_keep_the_input_shape() {
    let gpu = require_gpu!();
    let x = Tensor::from_slice(gpu, &[1.0; 24], &[2, 3, 4]).unwrap();
    let y = ELU::default().forward(gpu, &x).unwrap();
    assert_eq!(y.shape(), &[2, 3, 4]);
}

#[test]
fn a_gradient_of_another_shape_is_a_shape_mismatch() {
    let gpu = require_gpu!();
    let x = Tensor::from_slice(gpu, &[1.0; 6], &[2, 3]).unwrap();
    let dy = Tensor::from_slice(gpu, &[1.0; 6], &[3, 2]).unwrap();
    let err = LeakyReLU::default().backward(gpu, &x, &dy).unwrap_err();
    assert_eq!(
        err,
        Error::ShapeMismatch {
            what: "dy",
            actual: vec![3, 2],
            expected: vec![2, 3]
        }
    );
    assert!(err.to_string().contains("[3, 2]"), "{err}");
}

#[test]
fn uploading_data_that_does_not_fill_the_shape_is_an_error() {
    let gpu = require_gpu!();
    let err = Tensor::from_slice(gpu, &[1.0; 5], &[2, 3]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::LengthMismatch {
                len: 5,
                expected: 6,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_tensor_of_another_gpu_is_rejected() {
    let gpu = require_gpu!();
    let other = Gpu::new().unwrap();
    let x = Tensor::from_slice(&other, &[1.0; 4], &[4]).unwrap();
    let err = ELU::default().forward(gpu, &x).unwrap_err();
    assert_eq!(err, Error::ForeignTensor { what: "x" });
}

#[test]
fn a_wgsl_error_becomes_a_typed_error_naming_the_kernel() {
    let gpu = require_gpu!();
    let err = gpu
        .compile_for_tests(
            "broken/test",
            "@compute @workgroup_size(1) fn main() { let a: f32 = 1u; }",
        )
        .unwrap_err();
    match err {
        Error::ShaderCompile { kernel, .. } => assert!(kernel.contains("broken/test"), "{kernel}"),
        other => panic!("expected ShaderCompile, got {other}"),
    }
}

#[test]
fn gpu_info_reports_the_adapter_and_its_own_limits() {
    let gpu = require_gpu!();
    let info = gpu.info();
    assert!(!info.name.is_empty());
    assert!(info.max_storage_buffer_binding_size >= 128 << 20);
    assert!(info.max_compute_workgroups_per_dimension >= 65_535);
}
