//! float16 cases (`"dtype": "float16"`): run on f16 tensors or the CPU reference's f16 mode,
//! judged in half ulps (zeros regardless of sign, NaN equal to NaN):
//! - elementwise layers and PReLU's y and dx: **exact**, except ELU's x whose exp lies within
//!   4 f32 ulps of a midpoint between halves (the GPU's exp may round `h(exp(x))` the other
//!   way: one half ulp of it, <= 2^-11, times |alpha| and |dy|);
//! - the reductions accumulate in f32 (TensorFlow: in half). Softmax y within 1 ulp of the
//!   exact softmax rounded once and within 20 ulps of TensorFlow (TF's own error: <= 8 on
//!   random rows, 19 on adversarial ones); dx, computed from TF's y, within
//!   `ulp + 2^-20 * |y|(|dy| + Σ|dy y|)` of the exact gradient and
//!   `2 ulp + 2^-10 * |y|(|dy| + Σ|dy y|)` of TF's; PReLU dalpha within
//!   `depth * 2^-24 * Σ|t| + 1 ulp` of the exact sum of its half terms and
//!   `2^-10 * Σ|t| + 1 ulp` of TF's;
//! - a reduction case whose notes say TF's result is an artefact of its half accumulation
//!   is judged against the exact value only;
//! - `params_f16` must equal the library's rounding of the parameters.

use super::{elementwise_gpu, prelu_alpha, prelu_run, upload, Backend, Layer, Outputs};
use super::{PreluBackward, PreluForward};
use crate::cases::Case;
use crate::compare::f16::ulp16;
pub use crate::compare::f16::{exp_near_half_midpoint, half_ulps};
use wgpu_activations::half::f16;
use wgpu_activations::reference;
use wgpu_activations::reference::f16 as cpu;
use wgpu_activations::{DType, Elementwise, Result};

/// Whether TensorFlow's result for this reduction case is, by its notes, an artefact of
/// accumulating in half.
pub fn is_accumulation_artefact(case: &Case) -> bool {
    matches!(case.op.as_str(), "softmax" | "prelu")
        && ["accumulates in half", "half-precision sum", "half sum of"]
            .iter()
            .any(|p| case.notes.contains(p))
}

pub(super) async fn run(case: &Case, layer: Layer, backend: Backend<'_>) -> Result<Outputs> {
    match layer {
        Layer::Elementwise(op) => match backend {
            Backend::Cpu => Ok(Outputs {
                y: cpu::elementwise_forward_f16(&op, &case.x),
                dx: cpu::elementwise_backward_f16(&op, &case.x, &case.dy)?,
                dalpha: None,
            }),
            Backend::Gpu(gpu) => elementwise_gpu(&op, case, gpu).await,
        },
        // The gradient from TF's own y where the case has it, so dx is judged on TF's input.
        Layer::Softmax(layer) => match backend {
            Backend::Cpu => {
                let y = cpu::softmax_forward_f16(&case.x, &case.shape, layer.axis(), None)?;
                let y_in = case.y.as_deref().unwrap_or(&y);
                let dx =
                    cpu::softmax_backward_f16(y_in, &case.dy, &case.shape, layer.axis(), None)?;
                Ok(Outputs {
                    y,
                    dx,
                    dalpha: None,
                })
            }
            Backend::Gpu(gpu) => {
                let y = layer.forward(gpu, &upload(gpu, case, &case.x)?)?;
                let y_in = match &case.y {
                    Some(v) => upload(gpu, case, v)?,
                    None => y.clone(),
                };
                let dx = layer.backward(gpu, &y_in, &upload(gpu, case, &case.dy)?)?;
                Ok(Outputs {
                    y: y.read(gpu).await?,
                    dx: dx.read(gpu).await?,
                    dalpha: None,
                })
            }
        },
        Layer::PReLU(layer) => {
            let reference = (
                cpu::prelu_forward_f16 as PreluForward,
                cpu::prelu_backward_f16 as PreluBackward,
            );
            prelu_run(layer, case, backend, reference).await
        }
    }
}

type Verdict = std::result::Result<(), String>;

/// The first element of `actual` that `ok(i)` rejects, as a line.
fn first_bad(
    name: &str,
    actual: &[f32],
    expected: &[f32],
    against: &str,
    ok: impl Fn(usize) -> bool,
) -> Verdict {
    if actual.len() != expected.len() {
        return Err(format!(
            "{name}: {} values, expected {}",
            actual.len(),
            expected.len()
        ));
    }
    match (0..actual.len()).find(|&i| !ok(i)) {
        None => Ok(()),
        Some(i) => Err(format!(
            "{name}[{i}] = {:e}, {against} {:e} ({} half ulps)",
            actual[i],
            expected[i],
            half_ulps(actual[i], expected[i])
        )),
    }
}

fn check_params_f16(case: &Case, op: &Elementwise) -> Verdict {
    let Some(p16) = &case.params_f16 else {
        return Ok(());
    };
    let value = |k: &str| match p16.get(k) {
        Some(serde_json::Value::Number(n)) => n.as_f64().map(|v| v as f32),
        Some(serde_json::Value::String(s)) if s == "Infinity" => Some(f32::INFINITY),
        _ => None,
    };
    let names: &[&str] = match op {
        Elementwise::LeakyReLU(_) | Elementwise::ELU(_) => &["alpha"],
        Elementwise::ThresholdedReLU(_) => &["theta"],
        Elementwise::ReLU(_) => &["max_value", "negative_slope", "threshold"],
    };
    let used = op.activation_params_of(DType::F16).p;
    for (k, name) in names.iter().enumerate() {
        if let Some(want) = value(name) {
            if used[k].to_bits() != want.to_bits() {
                return Err(format!(
                    "params_f16.{name} = {want}, but the library rounds it to {}",
                    used[k]
                ));
            }
        }
    }
    Ok(())
}

pub(super) fn judge(case: &Case, layer: Layer, out: &Outputs, backend: Backend<'_>) -> Verdict {
    let exact = |name: &str, actual: &[f32], expected: &Option<Vec<f32>>| match expected {
        None => Ok(()),
        Some(e) => first_bad(name, actual, e, "TF", |i| half_ulps(actual[i], e[i]) == 0),
    };
    match layer {
        Layer::Elementwise(op) => {
            check_params_f16(case, &op)?;
            let alpha = match op {
                Elementwise::ELU(l) => f16::from_f32(l.alpha()).to_f32().abs(),
                _ => 0.0,
            };
            let excused = |i: usize, got: f32, want: f32| {
                let elu = matches!(op, Elementwise::ELU(_));
                elu && exp_near_half_midpoint(case.x[i])
                    && !got.is_nan()
                    && !want.is_nan()
                    && (got - want).abs()
                        <= 2f32.powi(-11) * alpha.max(1.0) * case.dy[i].abs().max(1.0)
                            + 2.0 * ulp16(want)
            };
            for (name, actual, expected) in [("y", &out.y, &case.y), ("dx", &out.dx, &case.dx)] {
                if let Some(e) = expected {
                    first_bad(name, actual, e, "TF", |i| {
                        half_ulps(actual[i], e[i]) == 0 || excused(i, actual[i], e[i])
                    })?;
                }
            }
            Ok(())
        }
        Layer::PReLU(mut layer) => {
            exact("y", &out.y, &case.y)?;
            exact("dx", &out.dx, &case.dx)?;
            let (Some(got), Some(tf)) = (&out.dalpha, &case.dalpha) else {
                return Ok(());
            };
            let (alpha, alpha_shape) = prelu_alpha(case, &layer).map_err(|e| e.to_string())?;
            let idx = reference::prelu::prelu_alpha_indices(&case.shape, &alpha_shape)
                .map_err(|e| e.to_string())?;
            let mut sum = vec![0f64; alpha.len()];
            let mut abs = vec![0f64; alpha.len()];
            for ((&x, &dy), &k) in case.x.iter().zip(&case.dy).zip(&idx) {
                let neg = if x.is_nan() || x < 0.0 { -x } else { 0.0 };
                let t = -(cpu::h(dy * neg) as f64);
                sum[k] += t;
                abs[k] += t.abs();
            }
            let depth = match backend {
                Backend::Cpu => 0.0,
                Backend::Gpu(gpu) => {
                    layer.build(gpu, &case.shape).map_err(|e| e.to_string())?;
                    layer
                        .dalpha_tree_depth(gpu, &case.shape)
                        .map_err(|e| e.to_string())? as f64
                }
            };
            let artefact = is_accumulation_artefact(case);
            first_bad("dalpha", got, tf, "TF", |k| {
                let (g, s) = (got[k] as f64, sum[k]);
                if !s.is_finite() || !tf[k].is_finite() {
                    return half_ulps(got[k], s as f32) == 0
                        && (artefact || half_ulps(got[k], tf[k]) == 0);
                }
                let to_exact =
                    (g - s).abs() <= depth * 2f64.powi(-24) * abs[k] + ulp16(s as f32) as f64;
                let to_tf =
                    (g - tf[k] as f64).abs() <= 2f64.powi(-10) * abs[k] + ulp16(tf[k]) as f64;
                to_exact && (artefact || to_tf)
            })
        }
        Layer::Softmax(layer) => {
            let axis = layer.axis();
            let exact_y = cpu::softmax_forward_f16(&case.x, &case.shape, axis, None)
                .map_err(|e| e.to_string())?;
            first_bad("y", &out.y, &exact_y, "exact", |i| {
                half_ulps(out.y[i], exact_y[i]) <= 1
            })?;
            let artefact = is_accumulation_artefact(case);
            if let (Some(tf), false) = (&case.y, artefact) {
                first_bad("y", &out.y, tf, "TF", |i| half_ulps(out.y[i], tf[i]) <= 20)?;
            }
            let (Some(y_in), Some(tf_dx)) = (&case.y, &case.dx) else {
                return Ok(());
            };
            let exact_dx = cpu::softmax_backward_f16(y_in, &case.dy, &case.shape, axis, None)
                .map_err(|e| e.to_string())?;
            // |y| (|dy| + Σ|dy y|) per element; the row sums from the reference gradient
            // with y = 1, which is q - Σq for dy = q.
            let q: Vec<f32> = y_in
                .iter()
                .zip(&case.dy)
                .map(|(&y, &d)| (y * d).abs())
                .collect();
            let ones = vec![1.0; q.len()];
            let g = reference::softmax_backward(&ones, &q, &case.shape, axis, None)
                .map_err(|e| e.to_string())?;
            let scale: Vec<f32> = (0..q.len())
                .map(|i| y_in[i].abs() * (case.dy[i].abs() + (q[i] - g[i])))
                .collect();
            let within = |a: f32, b: f32, ulps: f32, rel: f32, i: usize| {
                half_ulps(a, b) == 0 || (a - b).abs() <= ulps * ulp16(b) + rel * scale[i]
            };
            first_bad("dx", &out.dx, &exact_dx, "exact", |i| {
                within(out.dx[i], exact_dx[i], 1.0, 2f32.powi(-20), i)
            })?;
            if artefact {
                return Ok(());
            }
            first_bad("dx", &out.dx, tf_dx, "TF", |i| {
                within(out.dx[i], tf_dx[i], 2.0, 2f32.powi(-10), i)
            })
        }
    }
}
