//! The browser entry point of wgpu-activations: the conformance runner over a cases file,
//! on the page's WebGPU adapter. `web/index.html` drives it (and `web/check.sh` drives that
//! page in headless Chromium). The cases, the run and the verdicts are the library's own
//! (`wgact::conformance::run_and_judge`, the same tolerances as `wgact check --cases`); this crate
//! only hands them to JavaScript, one case per promise so the page can draw as it goes.
#![cfg(target_arch = "wasm32")]

use std::rc::Rc;

use serde_json::json;
use wasm_bindgen::prelude::*;
use wgact::cases::{parse_cases, Case};
use wgact::conformance::{run_and_judge, Backend};
use wgpu_activations::{Error, Gpu, Tensor};

/// A parsed cases file (the format of `tests/data/cases.json`).
#[wasm_bindgen]
pub struct Cases {
    cases: Rc<Vec<Case>>,
}

#[wasm_bindgen]
impl Cases {
    /// Parses a cases file; a malformed one is an error naming the case and field.
    #[wasm_bindgen(constructor)]
    pub fn new(json: &str) -> Result<Cases, JsError> {
        let cases = parse_cases(json).map_err(|e| JsError::new(&e.to_string()))?;
        Ok(Cases {
            cases: Rc::new(cases),
        })
    }

    /// Number of cases.
    #[wasm_bindgen(getter)]
    pub fn count(&self) -> usize {
        self.cases.len()
    }
}

/// The page's WebGPU device, wrapped as the library's context.
#[wasm_bindgen]
pub struct Runner {
    gpu: Rc<Gpu>,
}

/// One check of the library's browser edge: its name, whether it held, and what happened.
fn edge_row(name: &str, passed: bool, detail: String) -> serde_json::Value {
    json!({ "name": name, "passed": passed, "detail": detail })
}

/// Uploads one value and awaits its readback: the first call after a failure that the
/// browser reports late (an error scope's promise), and the proof that the context recovered.
async fn round_trip(gpu: &Gpu, value: f32) -> wgpu_activations::Result<Vec<f32>> {
    Tensor::from_slice(gpu, &[value], &[1])?.read(gpu).await
}

/// Requests the adapter and device (the adapter's own limits): fails without WebGPU.
#[wasm_bindgen]
pub async fn connect() -> Result<Runner, JsError> {
    let gpu = Gpu::new_async()
        .await
        .map_err(|e| JsError::new(&e.to_string()))?;
    Ok(Runner { gpu: Rc::new(gpu) })
}

#[wasm_bindgen]
impl Runner {
    /// The adapter, its optional features as the library uses them, and its limits, as JSON.
    pub fn info(&self) -> String {
        let i = self.gpu.info();
        json!({
            "name": i.name,
            "backend": i.backend,
            "device_type": i.device_type,
            "driver": i.driver,
            "driver_info": i.driver_info,
            "features": {
                "shader-f16": i.shader_f16,
                "timestamp-query": i.timestamp_query,
                "subgroups": i.subgroup,
            },
            "limits": {
                "max_buffer_size": i.max_buffer_size,
                "max_storage_buffer_binding_size": i.max_storage_buffer_binding_size,
                "max_compute_invocations_per_workgroup": i.max_compute_invocations_per_workgroup,
                "max_compute_workgroups_per_dimension": i.max_compute_workgroups_per_dimension,
                "min_storage_buffer_offset_alignment": i.min_storage_buffer_offset_alignment,
            },
        })
        .to_string()
    }

    /// Checks what only a browser does differently: error scopes settle after the call that
    /// pushed them returned, so what they catch must come back, typed, from the next awaited
    /// call, and the context must work again afterwards. Resolves to a JSON list of
    /// `{name, passed, detail}`.
    pub fn edge_checks(&self) -> js_sys::Promise {
        let gpu = Rc::clone(&self.gpu);
        wasm_bindgen_futures::future_to_promise(async move {
            let mut rows = Vec::new();

            // A WGSL error (a u32 initialised with a float) is caught by the compile's
            // scopes; the browser reports it after compile_for_tests has returned.
            let kernel = "browser/invalid-wgsl";
            let wgsl = "@compute @workgroup_size(1) fn main() { let x: u32 = 1.5; }";
            let compiled = gpu.compile_for_tests(kernel, wgsl);
            let next = round_trip(&gpu, 1.0).await;
            let late = matches!(&next, Err(Error::ShaderCompile { kernel: k, .. }) if k == kernel);
            rows.push(edge_row(
                "a shader the browser rejects is ShaderCompile, from the next awaited call",
                compiled.is_ok() && late,
                format!("compile: {compiled:?}; next call: {next:?}"),
            ));
            let after = round_trip(&gpu, 2.0).await;
            rows.push(edge_row(
                "the context works again after it",
                after == Ok(vec![2.0]),
                format!("{after:?}"),
            ));

            // A view of a buffer made by another device: the device check is a bind group
            // made inside error scopes, so its verdict also arrives late, as ForeignTensor.
            let foreign = match Gpu::new_async().await {
                Ok(other) => {
                    let buffer = other.device().create_buffer(&wgpu::BufferDescriptor {
                        label: Some("browser/foreign"),
                        size: 64,
                        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
                        mapped_at_creation: false,
                    });
                    let view = Tensor::view(&gpu, &buffer, 0, &[4]).map(drop);
                    let next = round_trip(&gpu, 3.0).await;
                    let passed = view.is_ok() && matches!(next, Err(Error::ForeignTensor { .. }));
                    (passed, format!("view: {view:?}; next call: {next:?}"))
                }
                Err(e) => (false, format!("no second device: {e}")),
            };
            rows.push(edge_row(
                "a view of another device's buffer is ForeignTensor, from the next awaited call",
                foreign.0,
                foreign.1,
            ));
            let after = round_trip(&gpu, 4.0).await;
            rows.push(edge_row(
                "the context works again after it",
                after == Ok(vec![4.0]),
                format!("{after:?}"),
            ));
            Ok(JsValue::from_str(
                &serde_json::Value::from(rows).to_string(),
            ))
        })
    }

    /// Runs case `index` of `cases` and judges it; resolves to JSON: `name`, `op`, `shape`,
    /// `passed`, `line` (the CLI's report line) and `detail` (the rejection, or the
    /// failure's worst element), or rejects when the index is out of range.
    pub fn run(&self, cases: &Cases, index: usize) -> js_sys::Promise {
        let (gpu, cases) = (Rc::clone(&self.gpu), Rc::clone(&cases.cases));
        wasm_bindgen_futures::future_to_promise(async move {
            let case = cases
                .get(index)
                .ok_or_else(|| JsValue::from_str(&format!("no case {index}")))?;
            let result = run_and_judge(case, Backend::Gpu(&gpu)).await;
            let detail = match (&result.verdict, &result.outcome) {
                (Err(why), _) => Some(why.clone()),
                (Ok(()), Err(rejected)) => Some(format!("rejected: {rejected}")),
                (Ok(()), Ok(_)) => None,
            };
            Ok(JsValue::from_str(
                &json!({
                    "name": result.name,
                    "op": result.op,
                    "shape": case.shape,
                    "passed": result.passed(),
                    "line": result.line(),
                    "detail": detail,
                })
                .to_string(),
            ))
        })
    }
}
