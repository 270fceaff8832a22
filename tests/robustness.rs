//! Robustness: threads, leaks, limits, lost devices, and a reader that never panics.

mod common;

use proptest::prelude::*;
use wgpu_activations::cases::parse_cases;
use wgpu_activations::check::check_elementwise;
use wgpu_activations::{Direction, Elementwise, Error, Gpu, Tensor, ELU};

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
                    for (i, op) in presets.iter().enumerate() {
                        for direction in Direction::ALL {
                            let n = 1 + (t * 997 + i * 131) % 5000;
                            let row = check_elementwise(gpu, op, direction, n, t as u64)
                                .expect("GPU call succeeds");
                            if let Err(why) = row.outcome {
                                failures.push(format!(
                                    "thread {t}: {} {} n={n}: {why}",
                                    row.op,
                                    direction.name()
                                ));
                            }
                        }
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

fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = status.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[test]
fn ten_thousand_forward_and_backward_calls_keep_memory_bounded() {
    let Some(_) = common::gpu() else { return };
    // A context of its own: other tests allocate on the shared one concurrently.
    let gpu = &Gpu::new().unwrap();
    let n = 1 << 14;
    let x = Tensor::from_slice(gpu, &vec![0.5; n], &[n]).unwrap();
    let op = Elementwise::from(ELU::default());
    let baseline = gpu.live_tensor_bytes();
    let mut rss_after_warmup = None;
    for i in 0..5_000 {
        let y = op.forward(gpu, &x).unwrap();
        let dx = op.backward(gpu, &x, &y).unwrap();
        assert!(gpu.live_tensor_bytes() >= baseline + 2 * (n as u64) * 4);
        drop((y, dx));
        if i == 1_000 {
            y_and_dx_are_freed(gpu, baseline);
            rss_after_warmup = resident_bytes();
        }
    }
    y_and_dx_are_freed(gpu, baseline);
    if let (Some(before), Some(after)) = (rss_after_warmup, resident_bytes()) {
        // 4,000 more iterations each allocate 128 KiB of tensors: a leak would add ~500 MiB.
        let growth = after.saturating_sub(before);
        assert!(
            growth < 64 << 20,
            "resident memory grew by {growth} bytes over 8,000 calls"
        );
    }
}

fn y_and_dx_are_freed(gpu: &Gpu, baseline: u64) {
    assert_eq!(
        gpu.live_tensor_bytes(),
        baseline,
        "every dropped tensor's buffer is released"
    );
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
