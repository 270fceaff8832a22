//! Running reference cases ([`crate::cases`]) on the GPU or the CPU reference and judging
//! the results under the documented tolerances: what `wgact check --cases` and the
//! conformance tests do.

pub mod f16;

use crate::cases::Case;
use crate::compare::prelu;
use crate::compare::softmax;
use crate::compare::{flush_denormal, Comparison, Tolerance};
use crate::ops::ElementwiseOps;
use wgpu_activations::reference;
use wgpu_activations::DType;
use wgpu_activations::Gpu;
use wgpu_activations::Softmax;
use wgpu_activations::Tensor;
use wgpu_activations::{Direction, Elementwise};
use wgpu_activations::{Error, Result};
use wgpu_activations::{Initializer, PReLU};

/// Where a case runs.
#[derive(Clone, Copy, Debug)]
pub enum Backend<'a> {
    Gpu(&'a Gpu),
    Cpu,
}

/// What a case computed.
#[derive(Clone, Debug, PartialEq)]
pub struct Outputs {
    pub y: Vec<f32>,
    pub dx: Vec<f32>,
    /// PReLU only.
    pub dalpha: Option<Vec<f32>>,
}

/// The layer a case names, built with Keras's validation.
enum Layer {
    Elementwise(Elementwise),
    Softmax(Softmax),
    PReLU(PReLU),
}

fn layer_of(case: &Case) -> Result<Layer> {
    if let Some(op) = Elementwise::from_case(case) {
        return op.map(Layer::Elementwise);
    }
    match case.op.as_str() {
        "softmax" => softmax_of(case).map(Layer::Softmax),
        "prelu" => prelu_of(case).map(Layer::PReLU),
        _ => Err(Error::InvalidParameter {
            layer: "case",
            name: "op",
            value: case.op.clone(),
            reason: "is not supported yet",
        }),
    }
}

/// `Softmax(axis)`: absent or `null` is the last axis (Keras treats `axis=None` so); a
/// non-integer is rejected as Keras rejects `axis=1.5`.
fn softmax_of(case: &Case) -> Result<Softmax> {
    match case.params.get("axis") {
        None | Some(serde_json::Value::Null) => Softmax::new(-1),
        Some(v) => match v.as_i64() {
            Some(axis) => Softmax::new(axis),
            None => Err(Error::InvalidParameter {
                layer: "Softmax",
                name: "axis",
                value: v.to_string(),
                reason: "must be an integer",
            }),
        },
    }
}

/// `PReLU(alpha_initializer, shared_axes)`: `shared_axes` null, an int or a list; the
/// initializer `zeros`, `ones` or `{"constant": v}` (a case's `alpha`, when given, replaces it
/// after building, as the reference file's cases do).
fn prelu_of(case: &Case) -> Result<PReLU> {
    let invalid =
        |name: &'static str, v: &serde_json::Value, reason: &'static str| Error::InvalidParameter {
            layer: "PReLU",
            name,
            value: v.to_string(),
            reason,
        };
    let shared_axes = match case.params.get("shared_axes") {
        None | Some(serde_json::Value::Null) => None,
        Some(v) => {
            let axes: Vec<&serde_json::Value> = match v {
                serde_json::Value::Array(items) => items.iter().collect(),
                single => vec![single],
            };
            let axes = axes
                .into_iter()
                .map(|a| a.as_u64().and_then(|a| usize::try_from(a).ok()))
                .collect::<Option<Vec<usize>>>()
                .ok_or_else(|| invalid("shared_axes", v, "must be axes in 1..rank"))?;
            Some(axes)
        }
    };
    let initializer = match case.params.get("alpha_initializer") {
        None | Some(serde_json::Value::Null) => Initializer::Zeros,
        Some(serde_json::Value::String(name)) if name == "zeros" => Initializer::Zeros,
        Some(serde_json::Value::String(name)) if name == "ones" => Initializer::Ones,
        Some(v) => match v.get("constant").and_then(serde_json::Value::as_f64) {
            Some(c) => Initializer::Constant(c as f32),
            None if case.alpha.is_some() => Initializer::Zeros,
            None => {
                return Err(invalid(
                    "alpha_initializer",
                    v,
                    "is not deterministic: give the case an alpha",
                ))
            }
        },
    };
    PReLU::new(initializer, None, None, shared_axes)
}

/// The alpha a PReLU case runs with, and its shape: the case's own, or the initializer's.
/// `values` (the case's `x` or `dy`) on the GPU as a tensor of the case's shape and dtype.
fn upload(gpu: &Gpu, case: &Case, values: &[f32]) -> Result<Tensor> {
    Tensor::from_slice_as(gpu, values, &case.shape, case.dtype)
}

/// `op` forward on the case's `x` and backward with its `dy` on the GPU, in the case's
/// dtype, read back.
async fn elementwise_gpu(op: &Elementwise, case: &Case, gpu: &Gpu) -> Result<Outputs> {
    let (x, dy) = (upload(gpu, case, &case.x)?, upload(gpu, case, &case.dy)?);
    let y = op.forward(gpu, &x)?;
    let dx = op.backward(gpu, &x, &dy)?;
    Ok(Outputs {
        y: y.read(gpu).await?,
        dx: dx.read(gpu).await?,
        dalpha: None,
    })
}

/// A CPU reference PReLU forward (`x, x_shape, alpha, alpha_shape`) of one dtype.
type PreluForward = fn(&[f32], &[usize], &[f32], &[usize]) -> Result<Vec<f32>>;
/// A CPU reference PReLU backward (`x, dy, x_shape, alpha, alpha_shape`) of one dtype.
type PreluBackward =
    fn(&[f32], &[f32], &[usize], &[f32], &[usize]) -> Result<reference::prelu::PreluGradients>;

/// PReLU with the case's alpha forward on its `x` and backward with its `dy`: on the GPU in
/// the case's dtype (read back), or on the CPU through `cpu`, the reference of that dtype.
async fn prelu_run(
    mut layer: PReLU,
    case: &Case,
    backend: Backend<'_>,
    (forward, backward): (PreluForward, PreluBackward),
) -> Result<Outputs> {
    let (alpha, alpha_shape) = prelu_alpha(case, &layer)?;
    let Backend::Gpu(gpu) = backend else {
        let y = forward(&case.x, &case.shape, &alpha, &alpha_shape)?;
        let g = backward(&case.x, &case.dy, &case.shape, &alpha, &alpha_shape)?;
        return Ok(Outputs {
            y,
            dx: g.dx,
            dalpha: Some(g.dalpha),
        });
    };
    layer.build(gpu, &case.shape)?;
    layer.set_alpha(gpu, &alpha)?;
    let (x, dy) = (upload(gpu, case, &case.x)?, upload(gpu, case, &case.dy)?);
    let y = layer.forward(gpu, &x)?;
    let (dx, dalpha) = layer.backward(gpu, &x, &dy)?;
    Ok(Outputs {
        y: y.read(gpu).await?,
        dx: dx.read(gpu).await?,
        dalpha: Some(dalpha.read(gpu).await?),
    })
}

fn prelu_alpha(case: &Case, layer: &PReLU) -> Result<(Vec<f32>, Vec<usize>)> {
    let alpha_shape = layer.alpha_shape_for(&case.shape)?;
    if let Some(given) = &case.alpha_shape {
        if *given != alpha_shape {
            return Err(Error::ShapeMismatch {
                what: "alpha",
                actual: given.clone(),
                expected: alpha_shape,
            });
        }
    }
    let alpha = match &case.alpha {
        Some(alpha) => alpha.clone(),
        None => layer.initializer().values(&alpha_shape),
    };
    Ok((alpha, alpha_shape))
}

/// Builds the case's layer and runs it forward on `x` and backward with `dy`, waiting for
/// the GPU. Native only: [`run_case_async`] is the one implementation, on every target.
///
/// # Errors
/// The library's error when it rejects the case (parameters, shapes) or the GPU fails.
#[cfg(not(target_arch = "wasm32"))]
pub fn run_case(case: &Case, backend: Backend<'_>) -> Result<Outputs> {
    pollster::block_on(run_case_async(case, backend))
}

/// Builds the case's layer and runs it forward on `x` and backward with `dy`; the GPU's
/// results are awaited ([`Tensor::read`]), so this runs in a browser as it does natively.
///
/// # Errors
/// The library's error when it rejects the case (parameters, shapes) or the GPU fails.
pub async fn run_case_async(case: &Case, backend: Backend<'_>) -> Result<Outputs> {
    if case.dtype == DType::F16 {
        return f16::run(case, layer_of(case)?, backend).await;
    }
    match layer_of(case)? {
        Layer::Elementwise(op) => match backend {
            Backend::Cpu => Ok(Outputs {
                y: reference::elementwise_forward(&op, &case.x),
                dx: reference::elementwise_backward(&op, &case.x, &case.dy)?,
                dalpha: None,
            }),
            Backend::Gpu(gpu) => elementwise_gpu(&op, case, gpu).await,
        },
        // TensorFlow's SoftmaxGrad works from its own forward output: so do both paths.
        Layer::Softmax(layer) => match backend {
            Backend::Cpu => {
                let y = reference::softmax_forward(&case.x, &case.shape, layer.axis(), None)?;
                let dx =
                    reference::softmax_backward(&y, &case.dy, &case.shape, layer.axis(), None)?;
                Ok(Outputs {
                    y,
                    dx,
                    dalpha: None,
                })
            }
            Backend::Gpu(gpu) => {
                let x = Tensor::from_slice(gpu, &case.x, &case.shape)?;
                let dy = Tensor::from_slice(gpu, &case.dy, &case.shape)?;
                let y = layer.forward(gpu, &x)?;
                let dx = layer.backward(gpu, &y, &dy)?;
                Ok(Outputs {
                    y: y.read(gpu).await?,
                    dx: dx.read(gpu).await?,
                    dalpha: None,
                })
            }
        },
        Layer::PReLU(layer) => {
            let cpu = (
                reference::prelu::prelu_forward as PreluForward,
                reference::prelu::prelu_backward as PreluBackward,
            );
            prelu_run(layer, case, backend, cpu).await
        }
    }
}

/// Checks computed outputs against the case's expected ones. On the GPU a denormal may
/// always be flushed (WGSL allows it); on the CPU only in cases flagged `ftz_dependent`.
/// In those cases TensorFlow flushed denormal inputs in some positions (its SIMD body) and
/// not in others (its scalar tail), so an element also passes when TensorFlow's value and
/// ours are each one of the two legitimate results: the reference on `x`, and on `x` with
/// denormals flushed.
///
/// # Errors
/// A line naming the failing output and its worst element.
pub fn judge(
    case: &Case,
    outputs: &Outputs,
    backend: Backend<'_>,
) -> std::result::Result<(), String> {
    let layer = layer_of(case).map_err(|e| format!("rejected: {e}"))?;
    if case.dtype == DType::F16 {
        return f16::judge(case, layer, outputs, backend);
    }
    match layer {
        Layer::Elementwise(op) => judge_elementwise(case, &op, outputs, backend),
        Layer::Softmax(layer) => {
            if let Some(y) = &case.y {
                softmax::compare_y(&outputs.y, y).map_err(|m| format!("y: {m}"))?;
            }
            if let Some(dx) = &case.dx {
                softmax::compare_dx(&outputs.dx, dx, &case.dy, &case.shape, layer.axis())
                    .map_err(|m| format!("dx: {m}"))?;
            }
            Ok(())
        }
        Layer::PReLU(layer) => {
            judge_prelu(case, layer, outputs, backend).unwrap_or_else(|e| Err(e.to_string()))
        }
    }
}

/// PReLU: `y` and `dx` exact (denormals as for the elementwise ops); `dalpha` within the
/// documented reduction bound, widened by a tree of depth `ceil(log2 n) + 1` for the
/// expected side's own rounding (TensorFlow's sum rounds too).
fn judge_prelu(
    case: &Case,
    mut layer: PReLU,
    outputs: &Outputs,
    backend: Backend<'_>,
) -> Result<std::result::Result<(), String>> {
    let flush = case.ftz_dependent || matches!(backend, Backend::Gpu(_));
    let exact = |name: &str,
                 actual: &[f32],
                 expected: &Option<Vec<f32>>|
     -> std::result::Result<(), String> {
        let Some(expected) = expected else {
            return Ok(());
        };
        let mut c = Comparison::new(actual, expected, Tolerance::EXACT);
        c.flush_denormals = flush;
        c.check().map_err(|m| format!("{name}: {m}"))
    };
    let (alpha, alpha_shape) = prelu_alpha(case, &layer)?;
    let reference =
        reference::prelu::prelu_backward(&case.x, &case.dy, &case.shape, &alpha, &alpha_shape)?;
    let depth = match backend {
        Backend::Cpu => 0,
        Backend::Gpu(gpu) => {
            layer.build(gpu, &case.shape)?;
            layer.dalpha_tree_depth(gpu, &case.shape)?
        }
    };
    let bounds = prelu::dalpha_bounds_against(depth, &reference);
    Ok((|| {
        exact("y", &outputs.y, &case.y)?;
        exact("dx", &outputs.dx, &case.dx)?;
        if let (Some(actual), Some(expected)) = (&outputs.dalpha, &case.dalpha) {
            prelu::check_dalpha(actual, expected, &bounds).map_err(|m| format!("dalpha: {m}"))?;
        }
        Ok(())
    })())
}

fn judge_elementwise(
    case: &Case,
    op: &Elementwise,
    outputs: &Outputs,
    backend: Backend<'_>,
) -> std::result::Result<(), String> {
    let flush = case.ftz_dependent || matches!(backend, Backend::Gpu(_));
    let (unflushed, flushed) = if case.ftz_dependent {
        let x_flushed: Vec<f32> = case.x.iter().map(|&v| flush_denormal(v)).collect();
        let dy_flushed: Vec<f32> = case.dy.iter().map(|&v| flush_denormal(v)).collect();
        let on = |x: &[f32], dy: &[f32]| -> std::result::Result<Outputs, String> {
            Ok(Outputs {
                y: reference::elementwise_forward(op, x),
                dx: reference::elementwise_backward(op, x, dy).map_err(|e| e.to_string())?,
                dalpha: None,
            })
        };
        (
            Some(on(&case.x, &case.dy)?),
            Some(on(&x_flushed, &dy_flushed)?),
        )
    } else {
        (None, None)
    };
    let mut checks: Vec<Check<'_>> = Vec::new();
    if let Some(y) = &case.y {
        checks.push(("y", &outputs.y, y, op.tolerance(Direction::Forward), None));
    }
    if let Some(dx) = &case.dx {
        let scale = op.tolerance_scales_with_dy().then_some(case.dy.as_slice());
        checks.push((
            "dx",
            &outputs.dx,
            dx,
            op.tolerance(Direction::Backward),
            scale,
        ));
    }
    for (name, actual, expected, tolerance, abs_scale) in checks {
        let pick = |o: &Option<Outputs>| {
            o.as_ref().map(|o| {
                if name == "y" {
                    o.y.clone()
                } else {
                    o.dx.clone()
                }
            })
        };
        let alternative = match (pick(&unflushed), pick(&flushed)) {
            (Some(a), Some(b)) => Some(other_legitimate_result(expected, &a, &b, tolerance)),
            _ => None,
        };
        let mut comparison = Comparison::new(actual, expected, tolerance);
        comparison.flush_denormals = flush;
        comparison.abs_scale = abs_scale;
        comparison.alternative = alternative.as_deref();
        comparison.check().map_err(|m| format!("{name}: {m}"))?;
    }
    Ok(())
}

/// One output to compare: name, actual, expected, tolerance, per-element scale of `abs`.
type Check<'a> = (
    &'static str,
    &'a [f32],
    &'a [f32],
    Tolerance,
    Option<&'a [f32]>,
);

/// Element by element: where `expected` is one of the two legitimate results `a` and `b`,
/// the other one; elsewhere `expected` itself (nothing else is accepted there).
fn other_legitimate_result(
    expected: &[f32],
    a: &[f32],
    b: &[f32],
    tolerance: Tolerance,
) -> Vec<f32> {
    let same = |u: f32, v: f32| tolerance.accepts(flush_denormal(u), flush_denormal(v));
    expected
        .iter()
        .zip(a.iter().zip(b))
        .map(|(&e, (&a, &b))| {
            if same(e, a) {
                b
            } else if same(e, b) {
                a
            } else {
                e
            }
        })
        .collect()
}

/// One case's run: what was computed (or why the library rejected it) and the verdict.
#[derive(Clone, Debug)]
pub struct CaseResult {
    pub name: String,
    pub op: String,
    pub outcome: Result<Outputs>,
    /// `Ok` when the case passed; else a line saying why (worst element, or the rejection).
    pub verdict: std::result::Result<(), String>,
}

impl CaseResult {
    /// Whether the case passed.
    pub fn passed(&self) -> bool {
        self.verdict.is_ok()
    }

    /// The case's report line, as `wgact check --cases` and the browser page print it:
    /// `ok` or `FAIL`, the name, and a rejection or the failure's worst element.
    pub fn line(&self) -> String {
        match (&self.verdict, &self.outcome) {
            (Ok(()), Err(e)) => format!("ok    {:<44} rejected: {e}", self.name),
            (Ok(()), Ok(_)) => format!("ok    {}", self.name),
            (Err(why), _) => format!("FAIL  {:<44} {why}", self.name),
        }
    }
}

/// The closing line of a run: `N passed, M failed`.
pub fn summary_line(results: &[CaseResult]) -> String {
    let failed = results.iter().filter(|r| !r.passed()).count();
    format!("{} passed, {failed} failed", results.len() - failed)
}

/// Runs every case and judges it, waiting for the GPU. Native only: see
/// [`run_cases_async`].
#[cfg(not(target_arch = "wasm32"))]
pub fn run_cases(cases: &[Case], backend: Backend<'_>) -> Vec<CaseResult> {
    pollster::block_on(run_cases_async(cases, backend))
}

/// Runs every case and judges it, awaiting the GPU's results (natively and in a browser).
pub async fn run_cases_async(cases: &[Case], backend: Backend<'_>) -> Vec<CaseResult> {
    let mut results = Vec::with_capacity(cases.len());
    for case in cases {
        results.push(run_and_judge(case, backend).await);
    }
    results
}

/// Runs one case and judges it. A case flagged `expect_error` passes only when the library
/// rejects it; any other case fails when rejected.
pub async fn run_and_judge(case: &Case, backend: Backend<'_>) -> CaseResult {
    let outcome = run_case_async(case, backend).await;
    let verdict = match (&outcome, case.expect_error) {
        (Err(e), true) => {
            if is_rejection(e) {
                Ok(())
            } else {
                Err(format!("expected a rejection, got: {e}"))
            }
        }
        (Err(e), false) => Err(format!("rejected: {e}")),
        (Ok(_), true) => Err("expected the library to reject this case, but it ran".into()),
        (Ok(out), false) => judge(case, out, backend),
    };
    CaseResult {
        name: case.name.clone(),
        op: case.op.clone(),
        outcome,
        verdict,
    }
}

/// Whether an error is the library refusing bad input (as opposed to a GPU failure).
pub fn is_rejection(e: &Error) -> bool {
    matches!(
        e,
        Error::InvalidParameter { .. }
            | Error::ShapeMismatch { .. }
            | Error::LengthMismatch { .. }
            | Error::InvalidRank { .. }
            | Error::AxisOutOfRange { .. }
            | Error::TooLarge { .. }
    )
}

/// A float in the case-file format: shortest round-trip decimal, or "NaN" / "Infinity" /
/// "-Infinity".
fn json_float(v: f32) -> String {
    if v.is_nan() {
        "\"NaN\"".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "\"Infinity\""
        } else {
            "\"-Infinity\""
        }
        .into()
    } else {
        format!("{v:?}")
    }
}

fn json_floats(values: &[f32]) -> String {
    let items: Vec<String> = values.iter().map(|&v| json_float(v)).collect();
    format!("[{}]", items.join(", "))
}

/// The results as a JSON list in the case-file number format: per case `name`, `op`, and
/// the computed `y`, `dx` (and `dalpha`), or `error` with the message of a rejected case.
pub fn results_json(results: &[CaseResult]) -> String {
    let quote = |s: &str| serde_json::Value::String(s.to_string()).to_string();
    let lines: Vec<String> = results
        .iter()
        .map(|r| {
            let head = format!("{{\"name\": {}, \"op\": {}", quote(&r.name), quote(&r.op));
            match &r.outcome {
                Ok(out) => {
                    let mut line = format!(
                        "{head}, \"y\": {}, \"dx\": {}",
                        json_floats(&out.y),
                        json_floats(&out.dx)
                    );
                    if let Some(dalpha) = &out.dalpha {
                        line += &format!(", \"dalpha\": {}", json_floats(dalpha));
                    }
                    line + "}"
                }
                Err(e) => format!("{head}, \"error\": {}}}", quote(&e.to_string())),
            }
        })
        .collect();
    format!("[\n{}\n]\n", lines.join(",\n"))
}
