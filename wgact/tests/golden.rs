//! TensorFlow's reference vectors (tests/data/cases.json, copied from shared/golden):
//! every case runs on the GPU and on the CPU reference and must match under the documented
//! tolerances.

mod common;

use wgact::cases::{parse_cases, Case};
use wgact::conformance::{judge, run_case, Backend};

fn cases(ops: &[&str]) -> Vec<Case> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/data/cases.json"
    ))
    .expect("tests/data/cases.json is in the repository");
    let all = parse_cases(&text).expect("the reference file parses");
    assert_eq!(all.len(), 143, "the reference file has 143 cases");
    all.into_iter()
        .filter(|c| ops.contains(&c.op.as_str()))
        .collect()
}

fn assert_all_pass(cases: &[Case], backend: Backend<'_>) {
    let mut failures = Vec::new();
    for case in cases {
        let verdict = run_case(case, backend)
            .map_err(|e| format!("rejected: {e}"))
            .and_then(|out| judge(case, &out, backend));
        if let Err(why) = verdict {
            failures.push(format!("{}: {why}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

const ELEMENTWISE: [&str; 4] = ["leaky_relu", "elu", "thresholded_relu", "relu"];

#[test]
fn every_elementwise_tensorflow_case_passes_on_the_gpu() {
    let gpu = require_gpu!();
    let cases = cases(&ELEMENTWISE);
    assert_eq!(cases.len(), 20 + 16 + 15 + 38);
    assert_all_pass(&cases, Backend::Gpu(gpu));
}

#[test]
fn every_elementwise_tensorflow_case_passes_on_the_cpu_reference() {
    assert_all_pass(&cases(&ELEMENTWISE), Backend::Cpu);
}

#[test]
fn every_softmax_tensorflow_case_passes_through_the_conformance_runner_on_the_gpu() {
    let gpu = require_gpu!();
    let cases = cases(&["softmax"]);
    assert_eq!(cases.len(), 33);
    assert_all_pass(&cases, Backend::Gpu(gpu));
}

#[test]
fn every_softmax_tensorflow_case_passes_through_the_conformance_runner_on_the_cpu() {
    assert_all_pass(&cases(&["softmax"]), Backend::Cpu);
}

#[test]
fn every_prelu_tensorflow_case_passes_through_the_conformance_runner_on_the_gpu() {
    let gpu = require_gpu!();
    let cases = cases(&["prelu"]);
    assert_eq!(cases.len(), 21);
    assert_all_pass(&cases, Backend::Gpu(gpu));
}

#[test]
fn every_prelu_tensorflow_case_passes_through_the_conformance_runner_on_the_cpu() {
    assert_all_pass(&cases(&["prelu"]), Backend::Cpu);
}
