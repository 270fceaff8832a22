//! Keras interop against what tf_keras 2.21 and Keras 3.15 did with every config in
//! `tests/data/keras/keras_configs.json` (see KERAS_CONFIGS.md there) and the two model files.
#![cfg(feature = "keras")]

mod common;
const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/keras/");
#[path = "common/keras_data.rs"]
mod keras_data;

use keras_data::*;

use serde_json::{Map, Value};
use wgpu_activations::keras::{
    Activation, KerasLayer, KerasModel, KerasVersion, LayerEntry, LayerParams,
};
use wgpu_activations::{Error, Initializer, Tensor};

/// The recorded effective parameters as plain JSON values (`{"value", "type"}` → value);
/// the alpha drawn at build time is checked separately.
fn recorded_effective(effective: &Value) -> Map<String, Value> {
    effective
        .as_object()
        .expect("effective parameters")
        .iter()
        .filter(|(k, _)| k.as_str() != "alpha_after_build_on_input_2x3x4")
        .map(|(k, v)| {
            let plain = match v {
                Value::Object(o) if o.contains_key("value") && o.contains_key("type") => {
                    o["value"].clone()
                }
                other => other.clone(),
            };
            (k.clone(), plain)
        })
        .collect()
}

/// The value at a dotted key path (`alpha_initializer.config.bogus`) of a config.
fn at_path<'v>(config: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(config, |v, k| v.get(k))
}

/// Asserts `err` is a KerasConfig error naming a key of `config` and that key's value, or
/// the class name.
fn assert_names_key_and_value(err: &Error, config: &Value, class: &str, what: &str) {
    let Error::KerasConfig { key, value, .. } = err else {
        panic!("{what}: expected Error::KerasConfig, got {err:?}");
    };
    if key == "class_name" {
        assert_eq!(value, &Value::String(class.into()).to_string(), "{what}");
        return;
    }
    let recorded = at_path(config, key)
        .unwrap_or_else(|| panic!("{what}: error key {key} is not in the config {config}"));
    assert_eq!(value, &recorded.to_string(), "{what}: value of {key}");
}

fn check_accepted(
    layer: &KerasLayer,
    v: KerasVersion,
    effective: &Value,
    get_config: &Value,
    what: &str,
) {
    assert_eq!(
        layer.effective(v).expect("effective parameters"),
        recorded_effective(effective),
        "{what}: effective parameters"
    );
    let written = layer.to_config(v).expect("config written");
    assert_eq!(
        comparable(&written),
        comparable(get_config),
        "{what}: written config"
    );
}

/// Where Keras records the alpha a deterministic initializer draws, the crate draws the same.
fn check_deterministic_alpha(layer: &KerasLayer, effective: &Value, what: &str) {
    let Some(after) = effective.get("alpha_after_build_on_input_2x3x4") else {
        return;
    };
    let Some(values) = after.get("values").and_then(Value::as_array) else {
        return;
    };
    let Ok(Activation::PReLU(prelu)) = layer.build() else {
        return;
    };
    if !matches!(
        prelu.initializer(),
        Initializer::Zeros | Initializer::Ones | Initializer::Constant(_)
    ) {
        return; // random draws: the crate's generator is not TensorFlow's
    }
    let shape = prelu.alpha_shape_for(&[2, 3, 4]).expect("alpha shape");
    assert_eq!(
        Some(&Value::from(shape.clone())),
        after.get("shape"),
        "{what}: alpha shape"
    );
    let ours = prelu.initializer().values(&shape);
    let theirs: Vec<f32> = values.iter().map(|x| x.as_f64().unwrap() as f32).collect();
    assert_eq!(
        ours.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        theirs.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        "{what}: alpha after build"
    );
}

#[test]
fn every_recorded_config_of_each_version_reads_to_the_recorded_effective_parameters() {
    let d = data();
    let mut checked = 0;
    for vname in ["keras2", "keras3"] {
        let v = version(vname);
        for (class, entries) in d[vname].as_object().unwrap() {
            for e in entries.as_array().unwrap() {
                let what = format!("{vname} {class} {}", e["label"]);
                if e.get("construct_error").is_some() {
                    continue; // covered by the construction-rejection test
                }
                let from_config = KerasLayer::from_config(class, &e["get_config"], v)
                    .unwrap_or_else(|err| panic!("{what}: get_config rejected: {err}"));
                check_accepted(
                    &from_config,
                    v,
                    &e["from_config"]["effective"],
                    &e["get_config"],
                    &what,
                );
                check_deterministic_alpha(&from_config, &e["from_config"]["effective"], &what);
                let deserialized = KerasLayer::deserialize(&e["serialize"], v)
                    .unwrap_or_else(|err| panic!("{what}: serialize rejected: {err}"));
                check_accepted(
                    &deserialized,
                    v,
                    &e["deserialize"]["effective"],
                    &e["get_config"],
                    &what,
                );
                // The constructor arguments (string shorthands, bare dicts) give the same.
                let from_kwargs = KerasLayer::from_config(class, &e["kwargs"], v)
                    .unwrap_or_else(|err| panic!("{what}: kwargs rejected: {err}"));
                assert_eq!(
                    comparable(&from_kwargs.to_config(v).unwrap()),
                    comparable(&e["get_config"]),
                    "{what}: config written from the kwargs"
                );
                assert_eq!(from_config.class_name(), class.as_str());
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 136 - 10, "configs checked");
}

#[test]
fn every_constructor_call_keras_refused_is_rejected_naming_the_key() {
    let d = data();
    let mut checked = 0;
    for vname in ["keras2", "keras3"] {
        let v = version(vname);
        for (class, entries) in d[vname].as_object().unwrap() {
            for e in entries.as_array().unwrap() {
                if e.get("construct_error").is_none() {
                    continue;
                }
                let what = format!("{vname} {class} {}", e["label"]);
                let kwargs = e
                    .get("kwargs")
                    .cloned()
                    .unwrap_or(Value::Object(Map::new()));
                let kwargs = if kwargs.is_null() {
                    Value::Object(Map::new())
                } else {
                    kwargs
                };
                let err = KerasLayer::from_config(class, &kwargs, v)
                    .expect_err(&format!("{what}: accepted"));
                assert_names_key_and_value(&err, &kwargs, class, &what);
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 10);
}

/// Configs Keras accepts although the layer then fails (or holds a value no layer can use):
/// rejected here on purpose, naming the key (see the keras module docs).
const DELIBERATELY_REJECTED: [(i64, &str, &str); 6] = [
    (3, "ELU", "alpha"),
    (2, "Softmax", "axis"),
    (3, "Softmax", "axis"),
    (2, "PReLU", "alpha_regularizer"),
    (2, "PReLU", "shared_axes"),
    (3, "PReLU", "shared_axes"),
];

#[test]
fn every_recorded_rejection_is_rejected_and_every_acceptance_accepted() {
    let d = data();
    let mut rejected = 0;
    for e in d["rejections"].as_array().unwrap() {
        let v = version_of_number(&e["keras"]);
        let class = e["layer"].as_str().unwrap();
        let what = format!("keras{} {class} {}", e["keras"], e["config"]);
        let result = KerasLayer::from_config(class, &e["config"], v);
        if e.get("rejected").is_some() {
            let err = result.expect_err(&format!("{what}: accepted"));
            assert_names_key_and_value(&err, &e["config"], class, &what);
            rejected += 1;
            continue;
        }
        let accepted = &e["accepted"];
        let deviation = DELIBERATELY_REJECTED.iter().find(|(k, l, key)| {
            Some(*k) == e["keras"].as_i64()
                && *l == class
                && e["config"].get(key).is_some()
                && result.is_err()
        });
        match (result, deviation) {
            (Ok(layer), _) => check_accepted(
                &layer,
                v,
                &accepted["effective"],
                &accepted["get_config"],
                &what,
            ),
            (Err(err), Some(_)) => assert_names_key_and_value(&err, &e["config"], class, &what),
            (Err(err), None) => panic!("{what}: Keras accepts it, rejected: {err}"),
        }
    }
    assert_eq!(rejected, 37);
}

#[test]
fn what_each_version_makes_of_the_others_configs_is_honoured() {
    let d = data();
    for e in d["cross_version"].as_array().unwrap() {
        let (from, to) = (e["from"].as_str().unwrap(), e["to"].as_str().unwrap());
        let class = e["layer"].as_str().unwrap();
        let label = &e["label"];
        let what = format!("{from} -> {to} {class} {label}");
        let source = d[from][class]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| &s["label"] == label)
            .expect("source entry");
        let mut serialized = source["serialize"].clone();
        if e.get("edited").is_some() {
            // The recorded edit: the dtype policy dict replaced by its name.
            let name = serialized["config"]["dtype"]["config"]["name"].clone();
            serialized["config"]["dtype"] = name;
        }
        let read = KerasLayer::deserialize(&serialized, version(to));
        match e.get("rejected") {
            Some(_) => {
                read.expect_err(&format!("{what}: accepted"));
            }
            None => {
                let layer = read.unwrap_or_else(|err| panic!("{what}: rejected: {err}"));
                check_accepted(
                    &layer,
                    version(to),
                    &e["effective"],
                    &e["get_config"],
                    &what,
                );
            }
        }
        // Converting: read with the writer's rules, write for the other version.
        let own = KerasLayer::deserialize(&source["serialize"], version(from)).expect("own config");
        let converted = own.to_config(version(to));
        if from == "keras2" {
            match e.get("rejected") {
                Some(_) => {
                    converted.expect_err(&format!(
                        "{what}: converted although Keras 3 cannot hold it"
                    ));
                }
                None => assert_eq!(
                    comparable(&converted.unwrap()),
                    comparable(&e["get_config"]),
                    "{what}: converted config"
                ),
            }
        } else {
            // Keras 2 reads no Keras 3 config as written; the converted one it reads.
            let target = d[to][class]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| &s["label"] == label);
            match (converted, target.and_then(|t| t.get("get_config"))) {
                (Ok(c), Some(k2))
                    if k2.is_object() && source["kwargs"] == target.unwrap()["kwargs"] =>
                {
                    assert_eq!(comparable(&c), comparable(k2), "{what}: converted config")
                }
                (Ok(c), _) => {
                    KerasLayer::from_config(class, &c, KerasVersion::Keras2)
                        .unwrap_or_else(|err| panic!("{what}: converted config rejected: {err}"));
                }
                (Err(err), _) => panic!("{what}: conversion failed: {err}"),
            }
        }
    }
}

#[test]
fn thresholded_relu_cannot_be_written_for_keras_3() {
    let layer = KerasLayer::from_config(
        "ThresholdedReLU",
        &serde_json::json!({"theta": 0.5}),
        KerasVersion::Keras2,
    )
    .unwrap();
    let err = layer.to_config(KerasVersion::Keras3).unwrap_err();
    assert!(
        matches!(&err, Error::KerasConfig { key, .. } if key == "class_name"),
        "{err}"
    );
    assert!(
        err.to_string().contains("Keras 3 has no ThresholdedReLU"),
        "{err}"
    );
}

/// Name, class and accepted-or-skipped of each layer of the recorded model config.
fn recorded_layers(file: &str) -> Vec<(String, String, bool)> {
    let text = std::fs::read_to_string(format!("{DATA}{file}")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["config"]["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let class = l["class_name"].as_str().unwrap().to_string();
            let ours = [
                "LeakyReLU",
                "PReLU",
                "ELU",
                "ThresholdedReLU",
                "Softmax",
                "ReLU",
            ]
            .contains(&class.as_str());
            (l["name"].as_str().unwrap().to_string(), class, ours)
        })
        .collect()
}

fn listed(model: &KerasModel) -> Vec<(String, String, bool)> {
    model
        .layers
        .iter()
        .map(|l| {
            assert!(
                !matches!(l.entry, LayerEntry::Rejected(_)),
                "{} rejected",
                l.name
            );
            (
                l.name.clone(),
                l.class_name.clone(),
                matches!(l.entry, LayerEntry::Accepted(_)),
            )
        })
        .collect()
}

#[test]
fn the_keras_archive_lists_its_layers_and_gives_alpha_bit_exact() {
    let model = KerasModel::open(std::path::Path::new(&format!("{DATA}model_k3.keras"))).unwrap();
    assert_eq!(model.version, KerasVersion::Keras3);
    assert_eq!(listed(&model), recorded_layers("model_k3.config.json"));
    let prelu = model.layer("prelu").unwrap();
    assert_eq!(prelu.input_shape, Some(vec![None, Some(16)]));
    assert_eq!(prelu.weights_path, "layers/p_re_lu");
    let alpha = model.prelu_alpha("prelu").unwrap();
    let (shape, values) = alpha_reference();
    let recorded_shape: Vec<usize> = data()["models"]["keras3"]["alpha_shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(alpha.shape, shape);
    assert_eq!(alpha.shape, recorded_shape);
    assert_eq!(alpha.values.len(), values.len());
    for (i, (&ours, &theirs)) in alpha.values.iter().zip(&values).enumerate() {
        assert_eq!(ours as f64, theirs, "alpha[{i}]");
    }
    assert!(matches!(
        model.prelu_alpha("dense"),
        Err(Error::KerasFile { .. })
    ));
}

#[test]
fn the_tf_keras_json_lists_the_same_activation_layers_with_the_same_parameters() {
    let json =
        KerasModel::open(std::path::Path::new(&format!("{DATA}model_tf_keras.json"))).unwrap();
    assert_eq!(json.version, KerasVersion::Keras2);
    assert_eq!(listed(&json), recorded_layers("model_tf_keras.json"));
    let archive = KerasModel::open(std::path::Path::new(&format!("{DATA}model_k3.keras"))).unwrap();
    for name in ["prelu", "softmax"] {
        let (LayerEntry::Accepted(a), LayerEntry::Accepted(b)) = (
            &json.layer(name).unwrap().entry,
            &archive.layer(name).unwrap().entry,
        ) else {
            panic!("{name} not accepted");
        };
        assert_eq!(a.params, b.params, "{name}");
    }
    // Keras 3 records no build_config for the Softmax; both record PReLU's input.
    assert_eq!(
        json.layer("prelu").unwrap().input_shape,
        Some(vec![None, Some(16)])
    );
    assert_eq!(
        json.layer("softmax").unwrap().input_shape,
        Some(vec![None, Some(4)])
    );
    // to_json() holds no weights.
    assert!(matches!(
        json.prelu_alpha("prelu"),
        Err(Error::KerasFile { .. })
    ));
}

#[test]
fn a_prelu_read_from_the_archive_builds_with_its_seeded_initializer() {
    let archive = KerasModel::open(std::path::Path::new(&format!("{DATA}model_k3.keras"))).unwrap();
    let LayerEntry::Accepted(layer) = &archive.layer("prelu").unwrap().entry else {
        panic!()
    };
    let Activation::PReLU(prelu) = layer.build().unwrap() else {
        panic!("not a PReLU")
    };
    assert_eq!(
        prelu.initializer(),
        Initializer::RandomUniform {
            minval: -0.5,
            maxval: 1.5,
            seed: 7
        }
    );
    assert!(matches!(
        layer.params,
        LayerParams::PReLU {
            shared_axes: None,
            ..
        }
    ));
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

/// `x @ kernel + bias` on the CPU, summed in f64 and rounded once.
fn dense(x: &[f32], rows: usize, kernel: &[f32], bias: &[f32]) -> Vec<f32> {
    let (n_in, n_out) = (x.len() / rows, bias.len());
    let mut y = vec![0f32; rows * n_out];
    for r in 0..rows {
        for o in 0..n_out {
            let s: f64 = (0..n_in)
                .map(|i| x[r * n_in + i] as f64 * kernel[i * n_out + o] as f64)
                .sum();
            y[r * n_out + o] = (s + bias[o] as f64) as f32;
        }
    }
    y
}

#[test]
fn the_keras_archive_runs_forward_on_the_gpu_to_keras_output() {
    let gpu = require_gpu!();
    let model = KerasModel::open(std::path::Path::new(&format!("{DATA}model_k3.keras"))).unwrap();
    let w = weights();
    let x = floats(&w["sample_input"]["values"]);
    let h = dense(
        &x,
        2,
        &floats(&w["weights"]["dense"]["dense/kernel"]["values"]),
        &floats(&w["weights"]["dense"]["dense/bias"]["values"]),
    );

    let LayerEntry::Accepted(prelu_cfg) = &model.layer("prelu").unwrap().entry else {
        panic!()
    };
    let Activation::PReLU(mut prelu) = prelu_cfg.build().unwrap() else {
        panic!()
    };
    prelu.build(gpu, &[2, 16]).unwrap();
    let alpha = model.prelu_alpha("prelu").unwrap();
    prelu.set_alpha(gpu, &alpha.values).unwrap();
    let h_gpu = Tensor::from_slice(gpu, &h, &[2, 16]).unwrap();
    let a = prelu.forward(gpu, &h_gpu).unwrap().to_vec(gpu).unwrap();
    // PReLU is exact: max(x, 0) + alpha * min(x, 0).
    for (i, (&y, &x)) in a.iter().zip(&h).enumerate() {
        let expected = if x > 0.0 { x } else { alpha.values[i % 16] * x };
        assert_eq!(y.to_bits(), expected.to_bits(), "prelu[{i}]");
    }

    let z = dense(
        &a,
        2,
        &floats(&w["weights"]["dense_1"]["dense_1/kernel"]["values"]),
        &floats(&w["weights"]["dense_1"]["dense_1/bias"]["values"]),
    );
    let LayerEntry::Accepted(softmax_cfg) = &model.layer("softmax").unwrap().entry else {
        panic!()
    };
    let Activation::Softmax(softmax) = softmax_cfg.build().unwrap() else {
        panic!()
    };
    let y = softmax
        .forward(gpu, &Tensor::from_slice(gpu, &z, &[2, 4]).unwrap())
        .unwrap()
        .to_vec(gpu)
        .unwrap();
    let expected = floats(&w["sample_output"]["values"]);
    // TensorFlow sums the Dense products in f32 in its own order; the logits may differ by a
    // few ulps, which softmax carries through. 8 ulps bounds it.
    for (i, (&a, &b)) in y.iter().zip(&expected).enumerate() {
        let ulps = keras_data::ulp_distance(a, b);
        assert!(ulps <= 8, "y[{i}] = {a}, Keras {b}: {ulps} ulps");
    }
}
