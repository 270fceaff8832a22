//! `wgact keras` through the built binary, against the recorded Keras data.
#![cfg(feature = "cli")]

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/keras/");
#[path = "../../tests/common/keras_data.rs"]
mod keras_data;

use keras_data::*;
use serde_json::Value;
use std::process::{Command, Output};

fn wgact(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wgact"))
        .arg("keras")
        .args(args)
        .output()
        .expect("wgact runs")
}

fn lines(o: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

/// A temporary JSON file; `name` must be unique per test, as tests run in parallel.
fn temp_json(name: &str, v: &Value) -> String {
    let path = std::env::temp_dir().join(format!("wgact-keras-{}-{name}.json", std::process::id()));
    std::fs::write(&path, v.to_string()).expect("temp file written");
    path.display().to_string()
}

/// Every layer Keras `vname` serialized, as one JSON list, with its recorded entry.
fn serialized_list(d: &Value, vname: &str) -> (Value, Vec<Value>) {
    let mut list = Vec::new();
    let mut entries = Vec::new();
    for (_, es) in d[vname].as_object().unwrap() {
        for e in es.as_array().unwrap() {
            if e.get("serialize").is_some() {
                list.push(e["serialize"].clone());
                entries.push(e.clone());
            }
        }
    }
    (Value::Array(list), entries)
}

#[test]
fn each_versions_serialized_layers_come_back_as_that_versions_get_config() {
    let d = data();
    for vname in ["keras2", "keras3"] {
        let (list, entries) = serialized_list(&d, vname);
        let out = wgact(&[&temp_json(&format!("{vname}-serialized"), &list)]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{vname}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines = lines(&out);
        assert_eq!(lines.len(), entries.len());
        for (line, e) in lines.iter().zip(&entries) {
            assert_eq!(line["name"], e["get_config"]["name"]);
            assert_eq!(line["class_name"], e["serialize"]["class_name"]);
            assert_eq!(
                comparable(&line["config"]),
                comparable(&e["get_config"]),
                "{vname} {}",
                e["label"]
            );
        }
    }
}

#[test]
fn keras2_layers_written_for_keras3_follow_the_cross_version_table() {
    let d = data();
    let (list, entries) = serialized_list(&d, "keras2");
    let out = wgact(&[&temp_json("k2to3", &list), "--to", "keras3"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "ThresholdedReLU and others cannot be written"
    );
    let lines = lines(&out);
    assert_eq!(lines.len(), entries.len());
    for (line, e) in lines.iter().zip(&entries) {
        let class = e["serialize"]["class_name"].as_str().unwrap();
        let cross = d["cross_version"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["from"] == "keras2" && c["layer"] == class && c["label"] == e["label"])
            .expect("cross-version entry");
        match cross.get("rejected") {
            Some(_) => assert!(
                line.get("error").is_some(),
                "{class} {}: {line}",
                e["label"]
            ),
            None => assert_eq!(
                comparable(&line["config"]),
                comparable(&cross["get_config"])
            ),
        }
    }
}

#[test]
fn recorded_rejections_print_errors_and_exit_1() {
    let d = data();
    for (n, vname) in [(2, "keras2"), (3, "keras3")] {
        let mut list = Vec::new();
        let mut rejected = Vec::new();
        for e in d["rejections"].as_array().unwrap() {
            if e["keras"].as_i64() != Some(n) {
                continue;
            }
            let mut config = e["config"].clone();
            // The dtype form tells the file's version.
            if config.get("dtype").is_none() {
                config["dtype"] = match n {
                    2 => Value::from("float32"),
                    _ => {
                        serde_json::json!({"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null})
                    }
                };
            }
            list.push(serde_json::json!({"class_name": e["layer"], "config": config}));
            rejected.push(e.get("rejected").is_some());
        }
        let out = wgact(&[&temp_json(
            &format!("{vname}-rejections"),
            &Value::Array(list),
        )]);
        assert_eq!(out.status.code(), Some(1), "{vname}");
        let lines = lines(&out);
        assert_eq!(lines.len(), rejected.len());
        for (line, r) in lines.iter().zip(&rejected) {
            if *r {
                assert!(line.get("error").is_some(), "{vname}: {line} accepted");
            }
        }
    }
}

#[test]
fn the_archive_with_weights_prints_alpha_bit_exact() {
    let out = wgact(&[&format!("{DATA}model_k3.keras"), "--weights"]);
    assert_eq!(out.status.code(), Some(0));
    let lines = lines(&out);
    let names: Vec<&str> = lines.iter().map(|l| l["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["prelu", "softmax"]);
    let (shape, values) = alpha_reference();
    assert_eq!(lines[0]["alpha"]["shape"], Value::from(shape));
    assert_eq!(lines[0]["alpha"]["values"], Value::from(values));
}

#[test]
fn the_tf_keras_json_reads_as_keras2_and_converts_to_keras3() {
    let out = wgact(&[&format!("{DATA}model_tf_keras.json"), "--to", "keras3"]);
    assert_eq!(out.status.code(), Some(0));
    let lines = lines(&out);
    let archive = wgact(&[&format!("{DATA}model_k3.keras")]);
    let expected = self::lines(&archive);
    assert_eq!(lines.len(), 2);
    for (a, b) in lines.iter().zip(&expected) {
        assert_eq!(comparable(&a["config"]), comparable(&b["config"]));
    }
}

#[test]
fn a_file_that_is_no_keras_form_exits_2() {
    let path = temp_json("not-keras", &serde_json::json!({"hello": 1}));
    assert_eq!(wgact(&[&path]).status.code(), Some(2));
    assert_eq!(wgact(&["/nonexistent/model.keras"]).status.code(), Some(2));
}
