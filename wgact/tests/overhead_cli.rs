//! `wgact bench --overhead` gives every variant at every default size with a usable time
//! (a short run; no assertion on speed).

mod common;

use std::process::Command;

const VARIANTS: [&str; 5] = [
    "call",
    "record_batch",
    "record_batch_build",
    "raw_per_submit",
    "raw_single_pass",
];
const SIZES: [u64; 3] = [1024, 4096, 16384];

#[test]
fn overhead_rows_exist_for_every_variant_and_size() {
    let _gpu = require_gpu!();
    let json = std::env::temp_dir().join(format!("wgact-overhead-{}.json", std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_wgact"))
        .args([
            "bench",
            "--overhead",
            "--overhead-ops",
            "20",
            "--overhead-reps",
            "2",
            "--json",
        ])
        .arg(&json)
        .output()
        .expect("running wgact");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "wgact bench --overhead failed: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(&json).expect("the JSON file");
    let _ = std::fs::remove_file(&json);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&text).expect("a JSON array");
    assert_eq!(rows.len(), VARIANTS.len() * SIZES.len(), "{text}");
    for row in &rows {
        assert_eq!(row["op"], "overhead", "{row}");
        assert_eq!(row["ops"], 20, "{row}");
        let us = row["us_per_op"].as_f64().expect("us_per_op is a number");
        assert!(us.is_finite() && us > 0.0, "{row}");
    }
    for variant in VARIANTS {
        for n in SIZES {
            assert!(
                rows.iter().any(|r| r["variant"] == variant && r["n"] == n),
                "no row for {variant} at n = {n}: {text}"
            );
        }
        // The printed table has a line per variant.
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(&format!("| {variant} |"))),
            "{stdout}"
        );
    }
}

#[test]
fn overhead_ops_needs_overhead() {
    // clap refuses it before any GPU work, so this runs without an adapter too.
    let output = Command::new(env!("CARGO_BIN_EXE_wgact"))
        .args(["bench", "--overhead-ops", "5"])
        .output()
        .expect("running wgact");
    assert!(
        !output.status.success(),
        "--overhead-ops without --overhead"
    );
}
