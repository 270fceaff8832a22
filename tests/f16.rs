//! float16: every layer forward and backward on f16 tensors against TensorFlow's float16
//! outputs (tests/data/cases_f16.json, copied from shared/golden), on the GPU through both
//! storages (native `f16` where the adapter has `shader-f16`, and packed halves with the
//! feature masked) and on the CPU reference's f16 mode.

mod common;

use std::sync::OnceLock;

use serde_json::Value;
use wgpu_activations::half::f16;
use wgpu_activations::reference::f16 as cpu;
use wgpu_activations::{
    DType, Elementwise, Error, Gpu, LeakyReLU, PReLU, ReLU, Softmax, Tensor, ThresholdedReLU, ELU,
};

/// One float16 case: inputs and TF's outputs as halves held in f32.
#[derive(Clone, Debug)]
struct Case {
    name: String,
    op: String,
    params: serde_json::Map<String, Value>,
    params_f16: Option<serde_json::Map<String, Value>>,
    notes: String,
    shape: Vec<usize>,
    x: Vec<f32>,
    dy: Vec<f32>,
    y: Vec<f32>,
    dx: Vec<f32>,
    alpha_shape: Option<Vec<usize>>,
    alpha: Option<Vec<f32>>,
    dalpha: Option<Vec<f32>>,
}

fn half_of(v: &Value) -> f32 {
    match v {
        Value::Number(n) => f16::from_f64(n.as_f64().unwrap()).to_f32(),
        Value::String(s) if s == "NaN" => f32::NAN,
        Value::String(s) if s == "Infinity" => f32::INFINITY,
        Value::String(s) if s == "-Infinity" => f32::NEG_INFINITY,
        other => panic!("not a number: {other}"),
    }
}

fn halves(c: &Value, field: &str) -> Option<Vec<f32>> {
    c.get(field)?
        .as_array()
        .map(|a| a.iter().map(half_of).collect())
}

fn dims(c: &Value, field: &str) -> Option<Vec<usize>> {
    c.get(field)?
        .as_array()
        .map(|a| a.iter().map(|d| d.as_u64().unwrap() as usize).collect())
}

fn cases() -> &'static [Case] {
    static CASES: OnceLock<Vec<Case>> = OnceLock::new();
    CASES.get_or_init(|| {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/cases_f16.json"
        ))
        .unwrap();
        let all: Vec<Value> = serde_json::from_str(&text).unwrap();
        assert_eq!(all.len(), 89, "the float16 reference file has 89 cases");
        all.iter()
            .map(|c| {
                assert_eq!(c["dtype"], "float16");
                let values =
                    |f: &str| halves(c, f).unwrap_or_else(|| panic!("{}: no {f}", c["name"]));
                Case {
                    name: c["name"].as_str().unwrap().to_string(),
                    op: c["op"].as_str().unwrap().to_string(),
                    params: c["params"].as_object().unwrap().clone(),
                    params_f16: c.get("params_f16").and_then(|p| p.as_object()).cloned(),
                    notes: c
                        .get("notes")
                        .and_then(|n| n.as_str())
                        .unwrap_or("")
                        .to_string(),
                    shape: dims(c, "shape").unwrap(),
                    x: values("x"),
                    dy: values("dy"),
                    y: values("y"),
                    dx: values("dx"),
                    alpha_shape: dims(c, "alpha_shape"),
                    alpha: halves(c, "alpha"),
                    dalpha: halves(c, "dalpha"),
                }
            })
            .collect()
    })
}

fn of_op(ops: &[&str]) -> Vec<&'static Case> {
    cases()
        .iter()
        .filter(|c| ops.contains(&c.op.as_str()))
        .collect()
}

fn param(c: &Case, name: &str, default: f32) -> f32 {
    match c.params.get(name) {
        Some(Value::Number(n)) => n.as_f64().unwrap() as f32,
        _ => default,
    }
}

fn layer(c: &Case) -> Elementwise {
    match c.op.as_str() {
        "leaky_relu" => LeakyReLU::new(param(c, "alpha", 0.3)).unwrap().into(),
        "elu" => ELU::new(param(c, "alpha", 1.0)).unwrap().into(),
        "thresholded_relu" => ThresholdedReLU::new(param(c, "theta", 1.0)).unwrap().into(),
        "relu" => {
            let mv = match c.params.get("max_value") {
                Some(Value::Number(n)) => Some(n.as_f64().unwrap() as f32),
                _ => None,
            };
            ReLU::new(
                mv,
                param(c, "negative_slope", 0.0),
                param(c, "threshold", 0.0),
            )
            .unwrap()
            .into()
        }
        op => panic!("not elementwise: {op}"),
    }
}

/// Half ulps between two halves (0 for NaN vs NaN and for +0 vs -0; u32::MAX for NaN vs a
/// number).
fn half_ulps(a: f32, b: f32) -> u32 {
    if a.is_nan() || b.is_nan() {
        return if a.is_nan() && b.is_nan() {
            0
        } else {
            u32::MAX
        };
    }
    let ordered = |v: f32| {
        let bits = f16::from_f32(v).to_bits() as i32;
        if bits & 0x8000 != 0 {
            -(bits & 0x7fff)
        } else {
            bits
        }
    };
    (ordered(a) - ordered(b)).unsigned_abs()
}

/// Elements that differ from `want` (zeros regardless of sign, NaN equal to NaN) and that
/// `allowed(i, got, want)` does not excuse, as readable lines.
fn mismatches(
    got: &[f32],
    want: &[f32],
    x: &[f32],
    allowed: impl Fn(usize, f32, f32) -> bool,
) -> Vec<String> {
    assert_eq!(got.len(), want.len());
    got.iter()
        .zip(want)
        .enumerate()
        .filter(|&(i, (&g, &w))| half_ulps(g, w) > 0 && !allowed(i, g, w))
        .map(|(i, (&g, &w))| format!("[{i}] x={} got {g:e} want {w:e}", x[i]))
        .take(8)
        .collect()
}

/// The x (halves, negative) whose exp lies within 4 f32 ulps of a rounding midpoint between
/// two halves: where a GPU exp's error may move `h(exp(x))` by one half ulp
/// (SEMANTICS_f16.md lists 16 such halves; any exp with more than 0.47 ulp error may).
fn elu_exp_near_midpoint(x: f32) -> bool {
    if x.is_nan() || x >= 0.0 || !x.is_finite() {
        return false;
    }
    let e = (x as f64).exp();
    let lo = f16::from_f64(e);
    let (a, b) = {
        let up = f16::from_bits(lo.to_bits() + 1).to_f64();
        let down = f16::from_bits(lo.to_bits().saturating_sub(1)).to_f64();
        (lo.to_f64(), if up - e < e - down { up } else { down })
    };
    let mid = (a + b) / 2.0;
    let ulp = (e as f32).abs() * f32::EPSILON;
    ((e - mid).abs() as f32) <= 4.0 * ulp
}

/// Whether element i of an elementwise case may differ from TensorFlow: only ELU's x near a
/// midpoint of exp, where the GPU's exp may round to the neighbouring half. One half ulp
/// of h(exp(x)) (at most 2^-11, as exp(x) < 1) moves y1 = h(h(exp(x)) - 1) by that much;
/// y scales it by |alpha| and dx by |alpha * dy|, each then rounded once more (1 ulp).
fn elementwise_allowance(c: &Case, i: usize, got: f32, want: f32) -> bool {
    if c.op != "elu" || !elu_exp_near_midpoint(c.x[i]) || got.is_nan() || want.is_nan() {
        return false;
    }
    let alpha = f16::from_f32(param(c, "alpha", 1.0)).to_f32().abs();
    let scale = alpha.max(1.0) * c.dy[i].abs().max(1.0);
    let ulp = f16::from_f32(want.abs()).to_f32() * 2f32.powi(-10);
    (got - want).abs() <= 2f32.powi(-11) * scale + 2.0 * ulp.max(2f32.powi(-24))
}

fn masked_gpu() -> Option<&'static Gpu> {
    static GPU: OnceLock<Option<Gpu>> = OnceLock::new();
    GPU.get_or_init(|| match Gpu::new_without(wgpu::Features::SHADER_F16) {
        Ok(gpu) => Some(gpu),
        Err(e @ Error::NoAdapter { .. }) => {
            if std::env::var("REQUIRE_GPU").is_ok_and(|v| v == "1") {
                panic!("REQUIRE_GPU=1 but {e}");
            }
            None
        }
        Err(e) => panic!("{e}"),
    })
    .as_ref()
}

/// Both storages: the shared context (native f16 where the adapter has it) and one with
/// `shader-f16` masked (packed halves).
fn gpus() -> Vec<&'static Gpu> {
    let Some(gpu) = common::gpu() else {
        return Vec::new();
    };
    let masked = masked_gpu().expect("a masked context where an unmasked one exists");
    assert!(!masked.info().shader_f16, "the mask leaves shader-f16 off");
    vec![gpu, masked]
}

/// How `gpu` stores halves: `native` (shader-f16) or `packed` (two per u32).
fn storage(gpu: &Gpu) -> &'static str {
    if gpu.info().shader_f16 {
        "native"
    } else {
        "packed"
    }
}

fn upload(gpu: &Gpu, v: &[f32], shape: &[usize]) -> Tensor {
    let t = Tensor::from_slice_as(gpu, v, shape, DType::F16).unwrap();
    assert_eq!(t.dtype(), DType::F16);
    t
}

fn report(failures: Vec<String>, total: usize) {
    assert!(
        failures.is_empty(),
        "{} of {total} checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_reference_file_rounds_parameters_as_the_library_does() {
    for c in of_op(&["leaky_relu", "elu", "thresholded_relu", "relu"]) {
        let Some(p16) = &c.params_f16 else { continue };
        let block = layer(c).activation_params_of(DType::F16);
        let want = |k: &str| match p16.get(k) {
            Some(Value::Number(n)) => n.as_f64().unwrap() as f32,
            Some(Value::String(s)) if s == "Infinity" => f32::INFINITY,
            _ => 0.0,
        };
        let expected = match c.op.as_str() {
            "leaky_relu" | "elu" => [want("alpha"), 0.0, 0.0, 0.0],
            "thresholded_relu" => [want("theta"), 0.0, 0.0, 0.0],
            _ => [
                want("max_value"),
                want("negative_slope"),
                want("threshold"),
                0.0,
            ],
        };
        assert_eq!(block.p, expected, "{}", c.name);
    }
}

#[test]
fn every_elementwise_float16_case_matches_tensorflow_on_the_gpu_through_both_storages() {
    let cases = of_op(&["leaky_relu", "elu", "thresholded_relu", "relu"]);
    assert_eq!(cases.len(), 14 + 12 + 10 + 21);
    let mut failures = Vec::new();
    for gpu in gpus() {
        let path = storage(gpu);
        for c in &cases {
            let op = layer(c);
            let x = upload(gpu, &c.x, &c.shape);
            let dy = upload(gpu, &c.dy, &c.shape);
            let y = op.forward(gpu, &x).unwrap().to_vec(gpu).unwrap();
            let dx = op.backward(gpu, &x, &dy).unwrap().to_vec(gpu).unwrap();
            for (what, got, want) in [("y", &y, &c.y), ("dx", &dx, &c.dx)] {
                let bad = mismatches(got, want, &c.x, |i, g, w| elementwise_allowance(c, i, g, w));
                if !bad.is_empty() {
                    failures.push(format!("{path} {} {what}: {}", c.name, bad.join("; ")));
                }
            }
        }
    }
    report(failures, cases.len() * 4);
}

#[test]
fn every_elementwise_float16_case_matches_tensorflow_on_the_cpu_reference() {
    let mut failures = Vec::new();
    let cases = of_op(&["leaky_relu", "elu", "thresholded_relu", "relu"]);
    for c in &cases {
        let op = layer(c);
        let y = cpu::elementwise_forward_f16(&op, &c.x);
        let dx = cpu::elementwise_backward_f16(&op, &c.x, &c.dy).unwrap();
        for (what, got, want) in [("y", &y, &c.y), ("dx", &dx, &c.dx)] {
            let bad = mismatches(got, want, &c.x, |_, _, _| false);
            if !bad.is_empty() {
                failures.push(format!("cpu {} {what}: {}", c.name, bad.join("; ")));
            }
        }
    }
    report(failures, cases.len() * 2);
}

/// The cases whose TensorFlow result is an artefact of its half-precision accumulation
/// (their `notes` say so): the library accumulates in f32, so they are judged against the
/// exact value, and TensorFlow's own distance from it is checked to be the larger.
const ACCUMULATION_ARTEFACTS: [&str; 3] = [
    "f16_prelu_2500x2_saNone_dalpha_accumulation",
    "f16_softmax_L1024_half_accumulation",
    "f16_softmax_L65520_sum_overflow",
];

fn prelu_layer(gpu: Option<&Gpu>, c: &Case) -> (PReLU, Vec<f32>, Vec<usize>) {
    use wgpu_activations::Initializer;
    let shared_axes = match c.params.get("shared_axes") {
        Some(Value::Array(a)) => Some(a.iter().map(|v| v.as_u64().unwrap() as usize).collect()),
        _ => None,
    };
    let mut layer = PReLU::new(Initializer::Zeros, None, None, shared_axes).unwrap();
    let alpha_shape = layer.alpha_shape_for(&c.shape).unwrap();
    assert_eq!(Some(&alpha_shape), c.alpha_shape.as_ref(), "{}", c.name);
    let alpha = c
        .alpha
        .clone()
        .expect("every float16 PReLU case gives its alpha");
    if let Some(gpu) = gpu {
        layer.build(gpu, &c.shape).unwrap();
        layer.set_alpha(gpu, &alpha).unwrap();
    }
    (layer, alpha, alpha_shape)
}

/// The half ulp at |v| (the spacing of halves there; 2^-24 among denormals).
fn ulp16(v: f32) -> f32 {
    let v = f16::from_f32(v.abs()).to_f32();
    if v < 2f32.powi(-14) {
        2f32.powi(-24)
    } else {
        2f32.powi(v.log2().floor() as i32 - 10)
    }
}

#[test]
fn every_prelu_float16_case_matches_tensorflow_on_the_gpu_through_both_storages() {
    let cases = of_op(&["prelu"]);
    assert_eq!(cases.len(), 16);
    let mut failures = Vec::new();
    for gpu in gpus() {
        let path = storage(gpu);
        for c in &cases {
            let (mut layer, alpha, alpha_shape) = prelu_layer(Some(gpu), c);
            let x = upload(gpu, &c.x, &c.shape);
            let dy = upload(gpu, &c.dy, &c.shape);
            let y = layer.forward(gpu, &x).unwrap();
            assert_eq!(y.dtype(), DType::F16);
            let (dx, dalpha) = layer.backward(gpu, &x, &dy).unwrap();
            assert_eq!(dalpha.dtype(), DType::F16);
            let y = y.to_vec(gpu).unwrap();
            let dx = dx.to_vec(gpu).unwrap();
            let dalpha = dalpha.to_vec(gpu).unwrap();
            for (what, got, want) in [("y", &y, &c.y), ("dx", &dx, &c.dx)] {
                let bad = mismatches(got, want, &c.x, |_, _, _| false);
                if !bad.is_empty() {
                    failures.push(format!("{path} {} {what}: {}", c.name, bad.join("; ")));
                }
            }
            // dalpha: f32 accumulation over a tree of depth d, rounded once to half.
            let exact =
                cpu::prelu_backward_f16(&c.x, &c.dy, &c.shape, &alpha, &alpha_shape).unwrap();
            let depth = layer.dalpha_tree_depth(gpu, &c.shape).unwrap() as f64;
            let tf = c.dalpha.as_ref().unwrap();
            for (k, &got) in dalpha.iter().enumerate() {
                let abs = exact.dalpha_abs_sum[k];
                let sum: f64 = exact_dalpha_sum(c, &alpha_shape, k);
                if !sum.is_finite() || !tf[k].is_finite() {
                    // NaN or an infinite term: the same special value as TF and as exact.
                    if half_ulps(got, sum as f32) != 0 || half_ulps(got, tf[k]) != 0 {
                        failures.push(format!(
                            "{path} {} dalpha[{k}] = {got}, exact {sum}, TF {}",
                            c.name, tf[k]
                        ));
                    }
                    continue;
                }
                let bound = depth * 2f64.powi(-24) * abs + ulp16(sum as f32) as f64;
                if (got as f64 - sum).abs() > bound {
                    failures.push(format!(
                        "{path} {} dalpha[{k}] = {got} is {} from the exact {sum} (bound {bound})",
                        c.name,
                        (got as f64 - sum).abs()
                    ));
                }
                let tf_bound = 2f64.powi(-10) * abs + ulp16(tf[k]) as f64;
                let tf_dist = (got as f64 - tf[k] as f64).abs();
                let artefact = ACCUMULATION_ARTEFACTS.contains(&c.name.as_str());
                if artefact {
                    assert!(c.notes.contains("accumulates in half"), "{}", c.notes);
                    assert!(
                        (tf[k] as f64 - sum).abs() > (got as f64 - sum).abs(),
                        "{}: TF's artefact is farther from the exact sum than the library",
                        c.name
                    );
                } else if tf_dist > tf_bound {
                    failures.push(format!(
                        "{path} {} dalpha[{k}] = {got} is {tf_dist} from TF's {} (bound {tf_bound})",
                        c.name, tf[k]
                    ));
                }
            }
        }
    }
    report(failures, cases.len() * 6);
}

/// The exact (f64) sum of dalpha element k's half terms `-h(dy * relu(-x))`.
fn exact_dalpha_sum(c: &Case, alpha_shape: &[usize], k: usize) -> f64 {
    let idx =
        wgpu_activations::reference::prelu::prelu_alpha_indices(&c.shape, alpha_shape).unwrap();
    c.x.iter()
        .zip(&c.dy)
        .zip(idx)
        .filter(|&(_, a)| a == k)
        .map(|((&x, &dy), _)| {
            // relu(-x) with NaN propagated, as Eigen's max.
            let neg = if x.is_nan() || x < 0.0 { -x } else { 0.0 };
            -(cpu::h(dy * neg) as f64)
        })
        .sum()
}

#[test]
fn every_prelu_float16_case_matches_tensorflow_on_the_cpu_reference() {
    let mut failures = Vec::new();
    for c in of_op(&["prelu"]) {
        let (_, alpha, alpha_shape) = prelu_layer(None, c);
        let y = cpu::prelu_forward_f16(&c.x, &c.shape, &alpha, &alpha_shape).unwrap();
        let g = cpu::prelu_backward_f16(&c.x, &c.dy, &c.shape, &alpha, &alpha_shape).unwrap();
        for (what, got, want) in [("y", &y, &c.y), ("dx", &g.dx, &c.dx)] {
            let bad = mismatches(got, want, &c.x, |_, _, _| false);
            if !bad.is_empty() {
                failures.push(format!("cpu {} {what}: {}", c.name, bad.join("; ")));
            }
        }
        // The reference rounds the f64 sum once: within half an ulp of the exact sum.
        for (k, &got) in g.dalpha.iter().enumerate() {
            let sum = exact_dalpha_sum(c, &alpha_shape, k);
            assert_eq!(
                half_ulps(got, f16::from_f64(sum).to_f32()),
                0,
                "{} dalpha[{k}]",
                c.name
            );
            if !c.dalpha.as_ref().unwrap()[k].is_finite() {
                assert_eq!(
                    half_ulps(got, c.dalpha.as_ref().unwrap()[k]),
                    0,
                    "{}",
                    c.name
                );
            }
        }
    }
    report(failures, 32);
}

fn softmax_axis(c: &Case) -> i64 {
    c.params.get("axis").and_then(Value::as_i64).unwrap_or(-1)
}

#[test]
fn every_softmax_float16_case_is_within_its_bounds_on_the_gpu_through_both_storages() {
    let cases = of_op(&["softmax"]);
    assert_eq!(cases.len(), 16);
    let mut failures = Vec::new();
    for gpu in gpus() {
        let path = storage(gpu);
        for c in &cases {
            let layer = Softmax::new(softmax_axis(c)).unwrap();
            let x = upload(gpu, &c.x, &c.shape);
            let y_t = layer.forward(gpu, &x).unwrap();
            assert_eq!(y_t.dtype(), DType::F16);
            let y = y_t.to_vec(gpu).unwrap();
            // The gradient from TF's own y, so that dx is judged on the same input.
            let y_tf = upload(gpu, &c.y, &c.shape);
            let dy = upload(gpu, &c.dy, &c.shape);
            let dx = layer
                .backward(gpu, &y_tf, &dy)
                .unwrap()
                .to_vec(gpu)
                .unwrap();
            let exact_y = cpu::softmax_forward_f16(&c.x, &c.shape, softmax_axis(c), None).unwrap();
            let exact_dx =
                cpu::softmax_backward_f16(&c.y, &c.dy, &c.shape, softmax_axis(c), None).unwrap();
            let scale = dx_scale(c);
            let artefact = ACCUMULATION_ARTEFACTS.contains(&c.name.as_str());
            let (mut worst_y_tf, mut worst_dx_tf) = (0u32, 0f32);
            for i in 0..y.len() {
                let mut fail = |what: &str, got: f32, want: f32, against: &str| {
                    failures.push(format!(
                        "{path} {} {what}[{i}] = {got:e}, {against} {want:e}",
                        c.name
                    ))
                };
                // y: f32 accumulation, rounded once: within 1 ulp of the exact softmax.
                if half_ulps(y[i], exact_y[i]) > 1 {
                    fail("y", y[i], exact_y[i], "exact");
                }
                // dx: the f32 sum's error, carried through the cancellation in dy - s.
                let dx_bound = ulp16(exact_dx[i]) + 2f32.powi(-20) * scale[i];
                if half_ulps(dx[i], exact_dx[i]) > 0
                    && !within((dx[i] - exact_dx[i]).abs(), dx_bound)
                {
                    fail("dx", dx[i], exact_dx[i], "exact");
                }
                if artefact {
                    continue;
                }
                // Against TF: TF's own error (up to 19 ulps of y on adversarial rows) plus
                // the library's 1 ulp.
                let d = half_ulps(y[i], c.y[i]);
                worst_y_tf = worst_y_tf.max(d);
                if d > 20 {
                    fail("y", y[i], c.y[i], "TF");
                }
                let d = (dx[i] - c.dx[i]).abs();
                if c.dx[i].is_nan() != dx[i].is_nan() {
                    fail("dx", dx[i], c.dx[i], "TF");
                } else if d > 0.0 {
                    let ratio = (d - 2.0 * ulp16(c.dx[i])).max(0.0) / scale[i];
                    worst_dx_tf = worst_dx_tf.max(ratio);
                    if !within(ratio, 2f32.powi(-10)) {
                        fail("dx", dx[i], c.dx[i], "TF");
                    }
                }
            }
            if artefact {
                // TF's half sum: judged against the exact value above; TF is farther.
                let tf_far = (0..y.len()).any(|i| half_ulps(c.y[i], exact_y[i]) > 1);
                assert!(tf_far, "{}: TF's y is an accumulation artefact", c.name);
            }
            eprintln!(
                "{path} {}: y within {worst_y_tf} ulp of TF; dx - TF within {worst_dx_tf:.2e} of |y|(|dy| + sum|dy y|)",
                c.name
            );
        }
    }
    report(failures, cases.len() * 4);
}

/// Per element, `|y| * (|dy| + sum over its row of |dy * y|)`: the scale of softmax dx's
/// rounding error (TF's y and dy). The row sums come from the reference's gradient with
/// y = 1, which is `q - sum(q)` for dy = q.
fn dx_scale(c: &Case) -> Vec<f32> {
    let q: Vec<f32> =
        c.y.iter()
            .zip(&c.dy)
            .map(|(&y, &d)| (y * d).abs())
            .collect();
    let ones = vec![1.0; q.len()];
    let g =
        wgpu_activations::reference::softmax_backward(&ones, &q, &c.shape, softmax_axis(c), None)
            .unwrap();
    (0..q.len())
        .map(|i| c.y[i].abs() * (c.dy[i].abs() + (q[i] - g[i])))
        .collect()
}

#[test]
fn every_softmax_float16_case_is_within_its_bounds_on_the_cpu_reference() {
    let mut failures = Vec::new();
    for c in of_op(&["softmax"]) {
        let y = cpu::softmax_forward_f16(&c.x, &c.shape, softmax_axis(c), None).unwrap();
        let dx = cpu::softmax_backward_f16(&c.y, &c.dy, &c.shape, softmax_axis(c), None).unwrap();
        if ACCUMULATION_ARTEFACTS.contains(&c.name.as_str()) {
            continue;
        }
        let scale = dx_scale(c);
        for i in 0..y.len() {
            if half_ulps(y[i], c.y[i]) > 20 {
                failures.push(format!("{} y[{i}] = {} TF {}", c.name, y[i], c.y[i]));
            }
            let d = (dx[i] - c.dx[i]).abs();
            if c.dx[i].is_nan() != dx[i].is_nan()
                || (d > 0.0
                    && !within(
                        (d - 2.0 * ulp16(c.dx[i])).max(0.0),
                        2f32.powi(-10) * scale[i],
                    ))
            {
                failures.push(format!("{} dx[{i}] = {} TF {}", c.name, dx[i], c.dx[i]));
            }
        }
    }
    report(failures, 32);
}

/// A user kernel pasting `fused_wgsl_of(.., F16)`: halves packed in `u32`, converted with the
/// snippet's exact `wgact_half_to_f32` / `wgact_f32_to_half`, the activation called with
/// `activation_params_of(F16)`. Its bits must be the library's f16 kernels' on every
/// elementwise float16 case.
#[test]
fn a_user_kernel_pasting_the_f16_snippets_gets_the_library_bits() {
    use wgpu::util::DeviceExt;
    let Some(gpu) = common::gpu() else { return };
    let device = gpu.device();
    for c in of_op(&["leaky_relu", "elu", "thresholded_relu", "relu"]) {
        let op = layer(c);
        let src = format!(
            "{}
@group(0) @binding(0) var<uniform> act: WgactActivation;
@group(0) @binding(1) var<storage, read> xs: array<u32>;
@group(0) @binding(2) var<storage, read> dys: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;
fn two(w: u32) -> vec4<f32> {{
    return vec4<f32>(wgact_half_to_f32(w & 0xffffu), wgact_half_to_f32(w >> 16u), 0.0, 0.0);
}}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {{
    let i = g.x;
    if i >= arrayLength(&xs) {{ return; }}
    let x = two(xs[i]);
    let y = {}(x, act);
    let dx = {}(x, two(dys[i]), act);
    out[i] = wgact_f32_to_half(y.x) | (wgact_f32_to_half(y.y) << 16u);
    out[arrayLength(&xs) + i] = wgact_f32_to_half(dx.x) | (wgact_f32_to_half(dx.y) << 16u);
}}",
            wgpu_activations::fused_wgsl_of(&[op], DType::F16),
            op.wgsl_function(wgpu_activations::Direction::Forward),
            op.wgsl_function(wgpu_activations::Direction::Backward),
        );
        let pipeline = common::raw_pipeline(device, "user f16 kernel", src);
        let pack = |v: &[f32]| -> Vec<u32> {
            v.chunks(2)
                .map(|p| {
                    let lo = f16::from_f32(p[0]).to_bits() as u32;
                    let hi = p.get(1).map_or(0, |&h| f16::from_f32(h).to_bits() as u32);
                    lo | hi << 16
                })
                .collect()
        };
        let words = c.x.len().div_ceil(2);
        let storage = |data: &[u32]| {
            device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: None,
                contents: bytemuck::cast_slice(data),
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            })
        };
        let (xs, dys, out) = (
            storage(&pack(&c.x)),
            storage(&pack(&c.dy)),
            storage(&vec![0; 2 * words]),
        );
        let act = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: None,
            contents: bytemuck::bytes_of(&op.activation_params_of(DType::F16)),
            usage: wgpu::BufferUsages::UNIFORM,
        });
        common::dispatch(
            gpu,
            &pipeline,
            &[&act, &xs, &dys, &out],
            [(words as u32).div_ceil(64), 1, 1],
        );
        let n = c.x.len();
        let user_y = Tensor::view_of(gpu, &out, 0, &[n], DType::F16)
            .unwrap()
            .to_vec_f16(gpu)
            .unwrap();
        let user_dx = Tensor::view_of(gpu, &out, 2 * words as u64, &[n], DType::F16)
            .unwrap()
            .to_vec_f16(gpu)
            .unwrap();
        let x = upload(gpu, &c.x, &c.shape);
        let dy = upload(gpu, &c.dy, &c.shape);
        let lib_y = op.forward(gpu, &x).unwrap().to_vec_f16(gpu).unwrap();
        let lib_dx = op.backward(gpu, &x, &dy).unwrap().to_vec_f16(gpu).unwrap();
        for i in 0..n {
            let same = |a: f16, b: f16| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
            assert!(
                same(user_y[i], lib_y[i]),
                "{} y[{i}]: user {} library {}",
                c.name,
                user_y[i],
                lib_y[i]
            );
            assert!(
                same(user_dx[i], lib_dx[i]),
                "{} dx[{i}]: user {} library {}",
                c.name,
                user_dx[i],
                lib_dx[i]
            );
        }
    }
}

#[test]
fn f16_tensors_round_on_upload_keep_halves_exactly_and_refuse_mixed_dtypes() {
    let Some(gpu) = common::gpu() else { return };
    // Rounding on upload: ties to even, overflow to inf, denormals kept; odd length.
    let values = [
        1.0 + 2f32.powi(-11),
        1.0 + 3.0 * 2f32.powi(-11),
        65520.0,
        65519.0,
        2f32.powi(-25) * 3.0,
        -0.0,
        f32::NAN,
    ];
    let t = Tensor::from_slice_as(gpu, &values, &[7], DType::F16).unwrap();
    let back = t.to_vec(gpu).unwrap();
    let want = [
        1.0,
        1.0 + 4.0 * 2f32.powi(-11),
        f32::INFINITY,
        65504.0,
        2f32.powi(-24) * 2.0,
        -0.0,
        f32::NAN,
    ];
    for (g, w) in back.iter().zip(want) {
        assert!(
            g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()),
            "{g} vs {w}"
        );
    }
    let halves: Vec<f16> = (0..0x7c00u16).step_by(97).map(f16::from_bits).collect();
    let t = Tensor::from_f16(gpu, &halves, &[halves.len()]).unwrap();
    assert_eq!(t.to_vec_f16(gpu).unwrap(), halves);
    assert_eq!(
        pollster::block_on(t.read(gpu)).unwrap(),
        halves.iter().map(|h| h.to_f32()).collect::<Vec<_>>()
    );
    // One op's tensors share a dtype.
    let x32 = Tensor::from_slice(gpu, &[1.0, -1.0], &[2]).unwrap();
    let dy16 = Tensor::from_slice_as(gpu, &[1.0, 1.0], &[2], DType::F16).unwrap();
    let err = Elementwise::from(LeakyReLU::default())
        .backward(gpu, &x32, &dy16)
        .unwrap_err();
    assert!(matches!(err, Error::DTypeMismatch { .. }), "{err}");
    let y16 = Tensor::zeros_of(gpu, &[2], DType::F16).unwrap();
    let err = Softmax::new(-1).unwrap().forward_into(
        gpu,
        &x32.reshape(&[1, 2]).unwrap(),
        None,
        &y16.reshape(&[1, 2]).unwrap(),
    );
    assert!(matches!(err, Err(Error::DTypeMismatch { .. })), "{err:?}");
    assert!(matches!(
        x32.write_f16(gpu, &halves[..2]),
        Err(Error::DTypeMismatch { .. })
    ));
}

/// `d <= bound`, false for a NaN distance (so a NaN never passes a bound).
fn within(d: f32, bound: f32) -> bool {
    d <= bound
}

/// A buffer of `words` u32 filled with the half 0x5a5a, with an f16 view of `len` halves at
/// `offset`.
fn sentinel_view(gpu: &Gpu, words: usize, offset: u64, shape: &[usize]) -> Tensor {
    let buffer = gpu.device().create_buffer(&wgpu::BufferDescriptor {
        label: Some("sentinel"),
        size: (words * 4) as u64,
        usage: wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_SRC
            | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    gpu.queue().write_buffer(
        &buffer,
        0,
        bytemuck::cast_slice(&vec![0x5a5a_5a5au32; words]),
    );
    Tensor::view_of(gpu, &buffer, offset, shape, DType::F16).unwrap()
}

#[test]
fn an_empty_batch_zeroes_an_f16_dalpha_view_and_nothing_around_it() {
    let Some(gpu) = common::gpu() else { return };
    for gpu in [gpu, masked_gpu().unwrap()] {
        let mut layer = PReLU::new(wgpu_activations::Initializer::Zeros, None, None, None).unwrap();
        layer.build(gpu, &[0, 5]).unwrap();
        let x = Tensor::zeros_of(gpu, &[0, 5], DType::F16).unwrap();
        let dx = Tensor::zeros_of(gpu, &[0, 5], DType::F16).unwrap();
        let dalpha = sentinel_view(gpu, 6, 3, &[5]);
        layer
            .backward_into(gpu, &x, &x.clone(), &dx, &dalpha)
            .unwrap();
        let whole = Tensor::view_of(gpu, dalpha.buffer(), 0, &[12], DType::F16)
            .unwrap()
            .to_vec_f16(gpu)
            .unwrap();
        for (i, h) in whole.iter().enumerate() {
            let want = if (3..8).contains(&i) { 0 } else { 0x5a5a };
            assert_eq!(h.to_bits(), want, "half {i}");
        }
    }
}

#[test]
fn masked_f16_softmax_matches_the_f16_reference_through_both_storages() {
    let Some(gpu) = common::gpu() else { return };
    let shape = [3, 7];
    let x: Vec<f32> = (0..21)
        .map(|i| f16::from_f32((i as f32 * 0.77).sin() * 5.0).to_f32())
        .collect();
    let mask: Vec<f32> = (0..21)
        .map(|i| if i % 3 == 1 { 0.0 } else { 1.0 })
        .collect();
    let dy: Vec<f32> = (0..21)
        .map(|i| f16::from_f32((i as f32 * 1.3).cos()).to_f32())
        .collect();
    let want_y = cpu::softmax_forward_f16(&x, &shape, -1, Some(&mask)).unwrap();
    let want_dx = cpu::softmax_backward_f16(&want_y, &dy, &shape, -1, Some(&mask)).unwrap();
    for gpu in [gpu, masked_gpu().unwrap()] {
        let layer = Softmax::new(-1).unwrap();
        let m = upload(gpu, &mask, &shape);
        let y = layer
            .forward_masked(gpu, &upload(gpu, &x, &shape), &m)
            .unwrap();
        let dx = layer
            .backward_masked(
                gpu,
                &upload(gpu, &want_y, &shape),
                &upload(gpu, &dy, &shape),
                &m,
            )
            .unwrap();
        let (y, dx) = (y.to_vec(gpu).unwrap(), dx.to_vec(gpu).unwrap());
        for i in 0..21 {
            assert!(
                half_ulps(y[i], want_y[i]) <= 1,
                "y[{i}] {} vs {}",
                y[i],
                want_y[i]
            );
            assert!(
                half_ulps(dx[i], want_dx[i]) <= 1,
                "dx[{i}] {} vs {}",
                dx[i],
                want_dx[i]
            );
        }
        // An f32 mask with f16 logits is refused.
        let m32 = Tensor::from_slice(gpu, &mask, &shape).unwrap();
        let err = layer
            .forward_masked(gpu, &upload(gpu, &x, &shape), &m32)
            .unwrap_err();
        assert!(matches!(err, Error::DTypeMismatch { .. }), "{err}");
    }
}

/// Every one of the 65,536 halves through ELU forward and backward on both storages: the vec4
/// path (an aligned tensor: word pairs, the branch-free `wgact_halves_to_f32x4` /
/// `wgact_f32x4_to_halves`) must give the bits of the scalar path (a view at an odd offset:
/// one half per invocation, the scalar `wgact_half_to_f32` / `wgact_f32_to_half`). NaN equals
/// NaN.
#[test]
fn the_vec4_and_scalar_paths_agree_on_every_half() {
    for gpu in gpus() {
        let all: Vec<f16> = (0..=u16::MAX).map(f16::from_bits).collect();
        let dys: Vec<f16> = all.iter().rev().copied().collect();
        let n = all.len();
        let op = ELU::new(0.7).unwrap();
        // Aligned: vec4 units.
        let x = Tensor::from_f16(gpu, &all, &[n]).unwrap();
        let dy = Tensor::from_f16(gpu, &dys, &[n]).unwrap();
        let y4 = op.forward(gpu, &x).unwrap().to_vec_f16(gpu).unwrap();
        let dx4 = op.backward(gpu, &x, &dy).unwrap().to_vec_f16(gpu).unwrap();
        // At half offset 1: scalar units.
        let shifted = |v: &[f16]| {
            let mut data = vec![f16::ZERO];
            data.extend_from_slice(v);
            let owner = Tensor::from_f16(gpu, &data, &[n + 1]).unwrap();
            let view = Tensor::view_of(gpu, owner.buffer(), 1, &[n], DType::F16).unwrap();
            (owner, view)
        };
        let ((_xo, x1), (_dyo, dy1)) = (shifted(&all), shifted(&dys));
        let (_yo, y1) = shifted(&vec![f16::ZERO; n]);
        let (_dxo, dx1) = shifted(&vec![f16::ZERO; n]);
        op.forward_into(gpu, &x1, &y1).unwrap();
        op.backward_into(gpu, &x1, &dy1, &dx1).unwrap();
        let same = |a: f16, b: f16| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
        let storage = if gpu.info().shader_f16 {
            "native"
        } else {
            "packed"
        };
        for (what, vec4, scalar) in [
            ("y", y4, y1.to_vec_f16(gpu).unwrap()),
            ("dx", dx4, dx1.to_vec_f16(gpu).unwrap()),
        ] {
            let differ: Vec<usize> = (0..n).filter(|&i| !same(vec4[i], scalar[i])).collect();
            assert!(
                differ.is_empty(),
                "{storage} {what}: {} halves differ, first x = {:#06x}: vec4 {:#06x}, scalar {:#06x}",
                differ.len(),
                all[differ[0]].to_bits(),
                vec4[differ[0]].to_bits(),
                scalar[differ[0]].to_bits()
            );
        }
    }
}

#[test]
fn prelu_float16_cut_inside_slices_past_a_binding_matches_the_cpu_reference() {
    // A 1024-byte binding: slices (and for the first two shapes alpha) past one binding, so
    // x, alpha and the partial sums are cut and bound per chunk, through both storages (the
    // packed one writes dalpha's halves at odd chunk starts through its atomics).
    for gpu in gpus() {
        let gpu = &gpu.with_limits_override(wgpu_activations::LimitsOverride {
            max_binding_bytes: Some(1024),
            ..Default::default()
        });
        for (shape, shared) in [
            (vec![2, 701], None),
            (vec![3, 2, 130, 4], None),
            (vec![2, 3, 301], Some(vec![2])),
        ] {
            let n: usize = shape.iter().product();
            let mut layer =
                PReLU::new(wgpu_activations::Initializer::Zeros, None, None, shared).unwrap();
            layer.build(gpu, &shape).unwrap();
            let alpha_shape = layer.alpha_shape().unwrap().to_vec();
            let count_a: usize = alpha_shape.iter().product();
            let alpha: Vec<f32> = (0..count_a).map(|c| (c % 9) as f32 * 0.125 - 0.5).collect();
            layer.set_alpha(gpu, &alpha).unwrap();
            let x: Vec<f32> = (0..n)
                .map(|i| ((i * 7 % 23) as f32 - 11.0) * 0.25)
                .collect();
            let dy: Vec<f32> = (0..n)
                .map(|i| ((i * 5 % 17) as f32 - 8.0) * 0.125)
                .collect();
            let xt = upload(gpu, &x, &shape);
            let dyt = upload(gpu, &dy, &shape);
            let y = layer.forward(gpu, &xt).unwrap().to_vec(gpu).unwrap();
            let (dx, dalpha) = layer.backward(gpu, &xt, &dyt).unwrap();
            let (dx, dalpha) = (dx.to_vec(gpu).unwrap(), dalpha.to_vec(gpu).unwrap());
            let what = format!("{shape:?} shader_f16 {}", gpu.info().shader_f16);
            let y_ref = cpu::prelu_forward_f16(&x, &shape, &alpha, &alpha_shape).unwrap();
            assert_eq!(y, y_ref, "{what} y");
            let g = cpu::prelu_backward_f16(&x, &dy, &shape, &alpha, &alpha_shape).unwrap();
            assert_eq!(dx, g.dx, "{what} dx");
            let depth = layer.dalpha_tree_depth(gpu, &shape).unwrap() as f64;
            for (k, (&got, &want)) in dalpha.iter().zip(&g.dalpha).enumerate() {
                let bound = depth * 2f64.powi(-24) * g.dalpha_abs_sum[k] + ulp16(want) as f64;
                assert!(
                    (got as f64 - want as f64).abs() <= bound,
                    "{what} dalpha[{k}] = {got}, reference {want} (bound {bound})"
                );
            }
        }
    }
}
