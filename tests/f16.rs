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
    DType, Elementwise, Error, Gpu, LeakyReLU, PReLU, ReLU, Softmax, Tensor, ThresholdedReLU,
    ELU,
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
                let values = |f: &str| {
                    halves(c, f).unwrap_or_else(|| panic!("{}: no {f}", c["name"]))
                };
                Case {
                    name: c["name"].as_str().unwrap().to_string(),
                    op: c["op"].as_str().unwrap().to_string(),
                    params: c["params"].as_object().unwrap().clone(),
                    params_f16: c.get("params_f16").and_then(|p| p.as_object()).cloned(),
                    notes: c.get("notes").and_then(|n| n.as_str()).unwrap_or("").to_string(),
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
    cases().iter().filter(|c| ops.contains(&c.op.as_str())).collect()
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
            ReLU::new(mv, param(c, "negative_slope", 0.0), param(c, "threshold", 0.0))
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
        return if a.is_nan() && b.is_nan() { 0 } else { u32::MAX };
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
    if !(x < 0.0) || !x.is_finite() {
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
            _ => [want("max_value"), want("negative_slope"), want("threshold"), 0.0],
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
        let path = if gpu.info().shader_f16 { "native" } else { "packed" };
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
