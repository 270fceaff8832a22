//! Shared by the Keras tests of the library (`tests/keras.rs`) and of the CLI
//! (`wgact/tests/keras_cli.rs`): the recorded Keras data and how to read it.
#![allow(dead_code)]

use serde_json::Value;
use wgpu_activations::keras::KerasVersion;

/// `tests/data/keras/` of the repository: each including test names it from its own
/// manifest directory.
pub(crate) use super::DATA;

pub fn data() -> Value {
    let text =
        std::fs::read_to_string(format!("{DATA}keras_configs.json")).expect("reference data");
    serde_json::from_str(&text).expect("valid JSON")
}

pub fn version(name: &str) -> KerasVersion {
    match name {
        "keras2" => KerasVersion::Keras2,
        "keras3" => KerasVersion::Keras3,
        other => panic!("unknown version {other}"),
    }
}

pub fn version_of_number(n: &Value) -> KerasVersion {
    if n.as_i64() == Some(2) {
        KerasVersion::Keras2
    } else {
        KerasVersion::Keras3
    }
}

/// A config without what differs per layer instance: `name`, `trainable`, and the dtype
/// policy's per-save `shared_object_id`.
pub fn comparable(config: &Value) -> Value {
    let mut c = config.as_object().expect("a config object").clone();
    c.remove("name");
    c.remove("trainable");
    if let Some(Value::Object(d)) = c.get_mut("dtype") {
        d.remove("shared_object_id");
    }
    Value::Object(c)
}

pub fn alpha_reference() -> (Vec<usize>, Vec<f64>) {
    let text = std::fs::read_to_string(format!("{DATA}prelu_alpha.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let a = &v["model_k3.keras"];
    assert_eq!(a["layer"], "prelu");
    (
        a["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as usize)
            .collect(),
        a["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect(),
    )
}

pub fn weights() -> Value {
    let text = std::fs::read_to_string(format!("{DATA}model_k3_weights.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Distance in representable f32 values (NaN == NaN, else NaN is infinitely far).
pub fn ulp_distance(a: f32, b: f32) -> u64 {
    if a.is_nan() || b.is_nan() {
        return if a.is_nan() && b.is_nan() {
            0
        } else {
            u64::MAX
        };
    }
    let ordered = |v: f32| {
        let bits = v.to_bits() as i32;
        if bits < 0 {
            -((bits & 0x7fff_ffff) as i64)
        } else {
            bits as i64
        }
    };
    ordered(a).abs_diff(ordered(b))
}
