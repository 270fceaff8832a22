//! `wgact check --cases`: the command users run to see that their adapter computes what Keras
//! computes. Exercised through the built binary.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

fn wgact(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wgact"))
        .args(args)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .expect("wgact runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const CASES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/cases.json");

fn temp_file(name: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("wgact-{}-{name}", std::process::id()));
    std::fs::write(&path, text).expect("temp file written");
    path
}

#[test]
fn all_143_tensorflow_cases_pass_on_the_gpu() {
    let Some(_) = common::gpu() else { return };
    let out = wgact(&["check", "--cases", CASES]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(stdout(&out).lines().last(), Some("143 passed, 0 failed"));
}

#[test]
fn all_143_tensorflow_cases_pass_on_the_cpu_reference() {
    let out = wgact(&["check", "--cases", CASES, "--cpu"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(stdout(&out).lines().last(), Some("143 passed, 0 failed"));
}

const RELU: &str =
    r#""shape": [3], "x": [-1, 0.5, 9], "dy": [1, 1, 1], "y": [0, 0.5, 9], "dx": [0, 1, 1]"#;

#[test]
fn a_rejected_case_passes_only_when_it_expects_the_error() {
    let text = format!(
        "[{{\"name\": \"neg_max\", \"op\": \"relu\", \"params\": {{\"max_value\": -1}}, \"expect_error\": true, {RELU}}},\n\
          {{\"name\": \"neg_max_unexpected\", \"op\": \"relu\", \"params\": {{\"max_value\": -1}}, {RELU}}},\n\
          {{\"name\": \"fine\", \"op\": \"relu\", \"params\": {{\"max_value\": null}}, {RELU}}},\n\
          {{\"name\": \"fine_but_expects_error\", \"op\": \"relu\", \"params\": {{}}, \"expect_error\": true, {RELU}}}]"
    );
    let file = temp_file("reject.json", &text);
    let out = wgact(&["check", "--cases", file.to_str().unwrap(), "--cpu"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let line = |name: &str| {
        text.lines()
            .find(|l| l.split_whitespace().nth(1) == Some(name))
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        line("neg_max").starts_with("ok") && line("neg_max").contains("rejected: "),
        "{text}"
    );
    assert!(
        line("neg_max").contains("max_value") && line("neg_max").contains("-1"),
        "{text}"
    );
    assert!(
        line("neg_max_unexpected").starts_with("FAIL")
            && line("neg_max_unexpected").contains("rejected: "),
        "{text}"
    );
    assert!(line("fine").starts_with("ok"), "{text}");
    assert!(line("fine_but_expects_error").starts_with("FAIL"), "{text}");
    assert_eq!(text.lines().last(), Some("2 passed, 2 failed"));
}

#[test]
fn a_failing_case_prints_its_worst_element_and_the_run_exits_1() {
    let text = format!(
        "[{{\"name\": \"wrong_y\", \"op\": \"relu\", \"params\": {{}}, {}}}]",
        RELU.replace("\"y\": [0, 0.5, 9]", "\"y\": [0, 0.5, 8]")
    );
    let file = temp_file("wrong.json", &text);
    let out = wgact(&["check", "--cases", file.to_str().unwrap(), "--cpu"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let fail = text
        .lines()
        .find(|l| l.starts_with("FAIL"))
        .expect("a FAIL line");
    for part in ["wrong_y", "y:", "index 2", "9e0", "8e0", "ulp"] {
        assert!(fail.contains(part), "{part} missing from {fail}");
    }
}

#[test]
fn malformed_files_exit_2_with_the_case_and_field_and_never_panic() {
    let bad = [
        ("not json", "[{"),
        (
            "wrong length",
            &*format!(
                "[{{\"name\": \"short_x\", \"op\": \"relu\", {}}}]",
                RELU.replace("[-1, 0.5, 9]", "[-1, 0.5]")
            ),
        ),
        (
            "unknown op",
            &*format!("[{{\"name\": \"gelu_case\", \"op\": \"gelu\", {RELU}}}]"),
        ),
        (
            "missing field",
            "[{\"name\": \"no_shape\", \"op\": \"relu\", \"x\": [1], \"dy\": [1]}]",
        ),
    ];
    for (what, text) in bad {
        let file = temp_file("bad.json", text);
        let out = wgact(&["check", "--cases", file.to_str().unwrap(), "--cpu"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{what}: {err}");
        assert!(!err.contains("panicked"), "{what}: {err}");
        assert!(err.starts_with("error:"), "{what}: {err}");
    }
    let out = wgact(&["check", "--cases", "/nonexistent/cases.json", "--cpu"]);
    assert_eq!(out.status.code(), Some(2));
    let file = temp_file(
        "bad2.json",
        &format!(
            "[{{\"name\": \"short_x\", \"op\": \"relu\", {}}}]",
            RELU.replace("[-1, 0.5, 9]", "[-1, 0.5]")
        ),
    );
    let err = stderr(&wgact(&[
        "check",
        "--cases",
        file.to_str().unwrap(),
        "--cpu",
    ]));
    assert!(err.contains("short_x") && err.contains("`x`"), "{err}");
}

#[test]
fn out_writes_every_case_in_the_file_format_even_when_cases_fail() {
    let text = format!(
        "[{{\"name\": \"specials\", \"op\": \"leaky_relu\", \"params\": {{\"alpha\": 0.3}}, \"shape\": [4], \
          \"x\": [\"NaN\", \"-Infinity\", -0.0, 1e-7], \"dy\": [1, 1, 1, 1], \"y\": [0, 0, 0, 0]}},\n\
          {{\"name\": \"rejected\", \"op\": \"thresholded_relu\", \"params\": {{\"theta\": -1}}, {RELU}}}]"
    );
    let file = temp_file("out-in.json", &text);
    let out_path = std::env::temp_dir().join(format!("wgact-{}-out.json", std::process::id()));
    let out = wgact(&[
        "check",
        "--cases",
        file.to_str().unwrap(),
        "--cpu",
        "--out",
        out_path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "both cases fail");
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out_path).unwrap()).unwrap();
    let list = written.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["name"], "specials");
    assert_eq!(list[0]["op"], "leaky_relu");
    assert_eq!(list[0]["y"][0], "NaN");
    assert_eq!(list[0]["y"][1], "-Infinity");
    let y3 = list[0]["y"][3].as_f64().unwrap() as f32;
    assert_eq!(
        y3.to_bits(),
        (1e-7f32).to_bits(),
        "shortest decimal round-trips the f32"
    );
    assert_eq!(list[0]["dx"].as_array().unwrap().len(), 4);
    assert!(
        list[1]["error"].as_str().unwrap().contains("theta"),
        "{}",
        list[1]
    );
    assert!(list[1].get("y").is_none());
}

const CASES_F16: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/cases_f16.json");

/// The float16 cases pass on the GPU with native f16 (where the adapter has `shader-f16`),
/// with the feature masked (halves packed in u32), and on the CPU reference.
#[test]
fn all_89_float16_cases_pass_natively_packed_and_on_the_cpu_reference() {
    let runs: Vec<(Vec<&str>, Option<&str>, &str)> = match common::gpu() {
        Some(gpu) => vec![
            (
                vec!["check", "--cases", CASES_F16],
                None,
                if gpu.info().shader_f16 {
                    "f16 native"
                } else {
                    "f16 packed in u32"
                },
            ),
            (
                vec!["check", "--cases", CASES_F16],
                Some("shader-f16"),
                "f16 packed in u32",
            ),
            (
                vec!["check", "--cases", CASES_F16, "--cpu"],
                None,
                "CPU reference",
            ),
        ],
        None => vec![(
            vec!["check", "--cases", CASES_F16, "--cpu"],
            None,
            "CPU reference",
        )],
    };
    for (args, mask, header) in runs {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_wgact"));
        cmd.args(&args).env("XDG_RUNTIME_DIR", std::env::temp_dir());
        match mask {
            Some(m) => cmd.env("WGACT_DISABLE_FEATURES", m),
            None => cmd.env_remove("WGACT_DISABLE_FEATURES"),
        };
        let out = cmd.output().expect("wgact runs");
        assert!(
            out.status.success(),
            "{args:?} {mask:?}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        assert!(
            stdout(&out).lines().next().unwrap_or("").contains(header),
            "{}",
            stdout(&out)
        );
        assert_eq!(stdout(&out).lines().last(), Some("89 passed, 0 failed"));
    }
}

#[test]
fn an_unknown_feature_in_the_mask_is_refused_by_name() {
    let out = Command::new(env!("CARGO_BIN_EXE_wgact"))
        .args(["check", "--cases", CASES])
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .env("WGACT_DISABLE_FEATURES", "shader-f16,warp-drive")
        .output()
        .expect("wgact runs");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("warp-drive"), "{}", stderr(&out));
}

/// A float16 result one half ulp off TF fails, naming the element in half ulps.
#[test]
fn a_float16_case_one_half_ulp_off_fails_in_half_ulps() {
    let case = r#"[{"name": "f16_off", "op": "leaky_relu", "dtype": "float16", "params": {"alpha": 0.3},
        "params_f16": {"alpha": 0.300048828125}, "shape": [2], "x": [-1.0, 2.0], "dy": [1.0, 1.0],
        "y": [-0.30029296875, 2.0], "dx": [0.300048828125, 1.0]}]"#;
    let path = temp_file("f16_off.json", case);
    let out = wgact(&["check", "--cases", path.to_str().unwrap(), "--cpu"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("y[0]") && stdout(&out).contains("1 half ulps"),
        "{}",
        stdout(&out)
    );
}

/// `WGACT_DISABLE_FEATURES` leaves each named feature off (what `wgact info` reports), on
/// an adapter that has them or not.
#[test]
fn the_feature_mask_turns_off_f16_subgroups_and_timestamps() {
    let Some(_) = common::gpu() else { return };
    let out = Command::new(env!("CARGO_BIN_EXE_wgact"))
        .arg("info")
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .env(
            "WGACT_DISABLE_FEATURES",
            "shader-f16,subgroup,timestamp-query",
        )
        .output()
        .expect("wgact runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for off in [
        "shader-f16=false",
        "timestamp-query=false",
        "subgroup=false",
    ] {
        assert!(text.contains(off), "{off}: {text}");
    }
}
