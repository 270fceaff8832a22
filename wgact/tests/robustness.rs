//! Robustness: threads, leaks, limits, lost devices, and a reader that never panics.

mod common;

use proptest::prelude::*;
use wgact::cases::parse_cases;
use wgact::check::{check_elementwise, CheckRow};
use wgact::check::{prelu, softmax};
use wgact::ops::ElementwiseOps;
use wgpu_activations::{Direction, Elementwise, Error, Gpu, PReLU, Softmax, Tensor, ELU};

#[test]
fn gpu_and_tensors_are_send_and_sync() {
    fn is<T: Send + Sync>() {}
    is::<Gpu>();
    is::<Tensor>();
}

#[test]
fn every_op_from_eight_threads_at_once_matches_the_reference() {
    let gpu = require_gpu!();
    let presets = Elementwise::presets();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..8)
            .map(|t| {
                let presets = &presets;
                scope.spawn(move || {
                    let mut failures = Vec::new();
                    let mut note = |row: &CheckRow| {
                        if let Err(why) = &row.outcome {
                            failures.push(format!(
                                "thread {t}: {} {} {:?}: {why}",
                                row.op,
                                row.direction.name(),
                                row.shape
                            ));
                        }
                    };
                    for (i, op) in presets.iter().enumerate() {
                        for direction in Direction::ALL {
                            let n = 1 + (t * 997 + i * 131) % 5000;
                            note(
                                &check_elementwise(gpu, op, direction, n, t as u64)
                                    .expect("GPU call succeeds"),
                            );
                        }
                    }
                    let shape = [3 + t, 2 + (t * 7) % 300];
                    let x = softmax::logits(shape[0] * shape[1], 5.0, t as u64);
                    for axis in [-1, 0] {
                        let layer = Softmax::new(axis).unwrap();
                        for row in softmax::check_case(gpu, &layer, &x, None, &shape, t as u64)
                            .expect("GPU call succeeds")
                        {
                            note(&row);
                        }
                    }
                    for row in
                        prelu::check_preset(gpu, &[2 + t, 6, 5, 8], Some(vec![1, 2]), t as u64)
                            .expect("GPU call succeeds")
                    {
                        note(&row);
                    }
                    failures
                })
            })
            .collect();
        let failures: Vec<String> = workers
            .into_iter()
            .flat_map(|w| w.join().expect("no panic"))
            .collect();
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    });
    gpu.health().expect("no GPU error escaped");
}

#[test]
fn a_tensor_past_the_adapters_max_buffer_size_is_too_large_not_a_panic() {
    let gpu = require_gpu!();
    let max = gpu.info().max_buffer_size;
    let elements = (max / 4 + 1) as usize;
    match Tensor::zeros(gpu, &[elements]) {
        Err(Error::TooLarge { max: m, .. }) => assert_eq!(m, max),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert!(matches!(
        Tensor::zeros(gpu, &[usize::MAX, 4]),
        Err(Error::TooLarge { .. })
    ));
    let message = Tensor::zeros(gpu, &[elements]).unwrap_err().to_string();
    assert!(message.contains(&max.to_string()), "{message}");
}

#[test]
fn a_lost_device_makes_later_calls_return_an_error() {
    let Some(_) = common::gpu() else { return };
    let gpu = Gpu::new().unwrap();
    let x = Tensor::from_slice(&gpu, &[1.0; 16], &[16]).unwrap();
    wgpu_activations::destroy_device_for_tests(&gpu);
    let err = ELU::default().forward(&gpu, &x).unwrap_err();
    assert!(
        matches!(err, Error::DeviceLost(_)),
        "expected DeviceLost, got {err}"
    );
    assert!(matches!(gpu.health(), Err(Error::DeviceLost(_))));
}

proptest! {
    #[test]
    fn the_case_reader_never_panics_on_arbitrary_text(text in ".{0,400}") {
        let _ = parse_cases(&text);
    }

    #[test]
    fn the_case_reader_never_panics_on_arbitrary_json_shaped_text(
        text in r#"\[\{("(name|op|shape|x|dy|y|dx|params|alpha|alpha_shape|expect_error)": ?(\[[-0-9.,e"NaInfty ]{0,20}\]|"[a-z_]{0,12}"|-?[0-9]{1,3}|null|true|\{\}),? ?){0,8}\}\]"#
    ) {
        let _ = parse_cases(&text);
    }
}

#[test]
fn malformed_case_files_name_the_case_and_the_field() {
    let base = r#"{"name": "c1", "op": "elu", "params": {"alpha": 1.0}, "shape": [2], "x": [1, 2], "dy": [1, 1], "y": [1, 2], "dx": [1, 1]}"#;
    assert_eq!(parse_cases(&format!("[{base}]")).unwrap().len(), 1);
    let broken = [
        (base.replace(r#""x": [1, 2]"#, r#""x": [1]"#), "`x`"),
        (base.replace(r#""op": "elu""#, r#""op": "gelu""#), "`op`"),
        (base.replace(r#""shape": [2], "#, ""), "`shape`"),
        (
            base.replace(r#""dy": [1, 1]"#, r#""dy": [1, "one"]"#),
            "`dy`",
        ),
        (
            base.replace(r#""shape": [2]"#, r#""shape": [-2]"#),
            "`shape`",
        ),
    ];
    for (text, field) in broken {
        let message = parse_cases(&format!("[{text}]")).unwrap_err().to_string();
        assert!(
            message.contains("c1") && message.contains(field),
            "{message}"
        );
    }
    assert!(parse_cases("{").unwrap_err().to_string().contains("JSON"));
    assert!(parse_cases("{}").is_err());
}

fn any_param() -> impl Strategy<Value = f32> {
    prop_oneof![
        -5.0f32..5.0,
        Just(f32::NAN),
        Just(f32::INFINITY),
        Just(f32::NEG_INFINITY),
        Just(-0.0f32)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Random parameters (valid or not) and random, often mismatched, shapes: every call
    /// returns a value or a typed error, never a panic, and invalid input is always an error.
    #[test]
    fn no_public_elementwise_call_panics_on_bad_parameters_or_shapes(
        a in any_param(), b in any_param(), c in any_param(), with_max in any::<bool>(),
        x_shape in prop::collection::vec(0usize..5, 0..4),
        dy_shape in prop::collection::vec(0usize..5, 0..4),
        data_len in 0usize..70,
    ) {
        use wgpu_activations::{LeakyReLU, ReLU, ThresholdedReLU};
        let built: Vec<Result<Elementwise, Error>> = vec![
            LeakyReLU::new(a).map(Into::into),
            ELU::new(a).map(Into::into),
            ThresholdedReLU::new(a).map(Into::into),
            ReLU::new(with_max.then_some(a), b, c).map(Into::into),
        ];
        // Keras's rules, plus "finite": alphas may be negative, the rest may not.
        let non_negative = |v: f32| v.is_finite() && v >= 0.0;
        let valid = [
            a.is_finite(),
            a.is_finite(),
            non_negative(a),
            (!with_max || non_negative(a)) && non_negative(b) && non_negative(c),
        ];
        for (layer, valid) in built.iter().zip(valid) {
            prop_assert_eq!(layer.is_ok(), valid, "{:?}", layer);
            if let Err(e) = layer {
                prop_assert!(matches!(e, Error::InvalidParameter { .. }), "{e}");
            }
        }
        let Some(gpu) = common::gpu() else { return Ok(()) };
        let data = vec![1.0f32; data_len];
        let x = Tensor::from_slice(gpu, &data, &x_shape);
        let dy = Tensor::from_slice(gpu, &data, &dy_shape);
        let x_fits = x_shape.iter().product::<usize>() == data_len;
        prop_assert_eq!(x.is_ok(), x_fits);
        if let (Ok(x), Ok(dy)) = (x, dy) {
            for layer in built.into_iter().flatten() {
                prop_assert!(layer.forward(gpu, &x).is_ok());
                let dx = layer.backward(gpu, &x, &dy);
                prop_assert_eq!(dx.is_ok(), x_shape == dy_shape, "{:?} vs {:?}", x_shape, dy_shape);
            }
        }
        prop_assert!(gpu.health().is_ok());
    }
}

#[test]
fn prelu_on_a_tensor_past_one_storage_binding_matches_the_reference() {
    let gpu = require_gpu!();
    // NHWC with one alpha per channel: 4 * 1024 * 1025 * 8 floats = 128.1 MiB.
    let shape = [4, 1024, 1025, 8];
    let bytes = shape.iter().product::<usize>() as u64 * 4;
    assert!(bytes > gpu.info().max_storage_buffer_binding_size.min(128 << 20));
    for row in prelu::check_preset(gpu, &shape, Some(vec![1, 2]), 3).unwrap() {
        assert!(
            row.outcome.is_ok(),
            "{} {}: {}",
            row.op,
            row.direction.name(),
            row.outcome.unwrap_err()
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Softmax and PReLU with random (often invalid) axes and shapes: typed errors, no panic.
    #[test]
    fn no_softmax_or_prelu_call_panics_on_bad_axes_or_shapes(
        axis in -7i64..7,
        shared in prop::option::of(prop::collection::vec(0usize..7, 0..4)),
        x_shape in prop::collection::vec(1usize..4, 0..5),
        dy_shape in prop::collection::vec(1usize..4, 0..5),
    ) {
        let Some(gpu) = common::gpu() else { return Ok(()) };
        let n = |s: &[usize]| s.iter().product::<usize>();
        let x = Tensor::from_slice(gpu, &vec![0.25; n(&x_shape)], &x_shape).unwrap();
        let dy = Tensor::from_slice(gpu, &vec![0.5; n(&dy_shape)], &dy_shape).unwrap();
        let rank = x_shape.len() as i64;

        let layer = Softmax::new(axis).unwrap();
        let y = layer.forward(gpu, &x);
        let axis_ok = rank >= 2 && (-rank..rank).contains(&axis);
        prop_assert_eq!(y.is_ok(), axis_ok, "softmax axis {} on {:?}: {:?}", axis, x_shape, y.as_ref().err());
        if let Err(e) = &y {
            prop_assert!(matches!(e, Error::InvalidRank { .. } | Error::AxisOutOfRange { .. }), "{e}");
        }
        if let Ok(y) = y {
            let dx = layer.backward(gpu, &y, &dy);
            prop_assert_eq!(dx.is_ok(), x_shape == dy_shape);
        }

        match PReLU::new(Default::default(), None, None, shared.clone()) {
            Err(e) => prop_assert!(matches!(e, Error::InvalidParameter { .. }), "{e}"),
            Ok(mut layer) => {
                let axes_fit = shared.iter().flatten().all(|&a| a >= 1 && (a as i64) < rank);
                let y = layer.forward(gpu, &x);
                prop_assert_eq!(y.is_ok(), axes_fit && rank >= 1, "{:?} on {:?}: {:?}", shared, x_shape, y.as_ref().err());
                if y.is_ok() {
                    // Only the batch size (and shared axes) may differ between x and dy.
                    let grads = layer.backward(gpu, &x, &dy);
                    if x_shape == dy_shape {
                        prop_assert!(grads.is_ok(), "{:?}", grads.err());
                    } else {
                        prop_assert!(grads.is_err());
                    }
                }
            }
        }
        prop_assert!(gpu.health().is_ok());
    }
}
