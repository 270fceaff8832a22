//! The browser entry point of wgpu-activations: the conformance runner over a cases file,
//! on the page's WebGPU adapter. `web/index.html` drives it (and `web/check.sh` drives that
//! page in headless Chromium). The cases, the run and the verdicts are the library's own
//! (`conformance::run_and_judge`, the same tolerances as `wgact check --cases`); this crate
//! only hands them to JavaScript, one case per promise so the page can draw as it goes.
#![cfg(target_arch = "wasm32")]

use std::rc::Rc;

use serde_json::json;
use wasm_bindgen::prelude::*;
use wgpu_activations::cases::{parse_cases, Case};
use wgpu_activations::conformance::{run_and_judge, Backend};
use wgpu_activations::Gpu;

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
