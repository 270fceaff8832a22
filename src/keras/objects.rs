//! PReLU's nested Keras objects: initializers, regularizers, constraints, read from their
//! serialized dicts or string shorthands and written as each version writes them.

use std::hash::{BuildHasher, Hasher};

use serde_json::{json, Map, Number, Value};

use super::{f32_number, float, reject, unsupported, KerasVersion};
use crate::error::Result;
use crate::{Constraint, Initializer, Regularizer};

/// `{"module", "class_name", "config", "registered_name"}`, bare `{"class_name", "config"}`
/// or a string: `(class_name, config)` with a string's class name as written.
fn split<'v>(
    layer: &str,
    key: &str,
    v: &'v Value,
) -> Result<(String, Option<&'v Map<String, Value>>)> {
    match v {
        Value::String(s) => Ok((s.clone(), None)),
        Value::Object(o) => {
            let class = o.get("class_name").and_then(Value::as_str).ok_or_else(|| {
                reject(layer, key, v, "a serialized object needs a \"class_name\"")
            })?;
            match o.get("config") {
                None | Some(Value::Null) => Ok((class.to_string(), None)),
                Some(Value::Object(c)) => Ok((class.to_string(), Some(c))),
                Some(other) => Err(reject(
                    layer,
                    &format!("{key}.config"),
                    other,
                    "must be an object",
                )),
            }
        }
        _ => Err(reject(
            layer,
            key,
            v,
            "must be a string or a serialized object",
        )),
    }
}

/// `"he_normal"` / `"HeNormal"` → `"HeNormal"` when it is one of `classes`.
fn canonical(name: &str, classes: &[&'static str]) -> Option<&'static str> {
    let squash = |s: &str| s.replace('_', "").to_ascii_lowercase();
    classes.iter().copied().find(|c| {
        *c == name
            || (name.contains('_') || name.chars().all(|ch| !ch.is_uppercase()))
                && squash(c) == squash(name)
    })
}

/// A config's keys checked against `allowed` (name, default); values in `allowed` order.
fn fields(
    layer: &str,
    key: &str,
    class: &str,
    config: Option<&Map<String, Value>>,
    allowed: &[(&str, Value)],
) -> Result<Vec<Value>> {
    if let Some(c) = config {
        if let Some(extra) = c.keys().find(|k| !allowed.iter().any(|(a, _)| a == *k)) {
            return Err(reject(
                layer,
                &format!("{key}.config.{extra}"),
                &c[extra],
                format!("{class}.__init__() got an unexpected keyword argument '{extra}'"),
            ));
        }
    }
    Ok(allowed
        .iter()
        .map(|(k, d)| {
            config
                .and_then(|c| c.get(*k))
                .cloned()
                .unwrap_or_else(|| d.clone())
        })
        .collect())
}

fn num(layer: &str, key: &str, v: &Value) -> Result<Number> {
    match v {
        Value::Number(n) => Ok(n.clone()),
        _ => Err(reject(layer, key, v, "must be a number")),
    }
}

fn seed(layer: &str, key: &str, v: &Value) -> Result<Option<i64>> {
    match v {
        Value::Null => Ok(None),
        _ => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| reject(layer, key, v, "a seed must be an int or null")),
    }
}

fn f(n: &Number) -> f32 {
    n.as_f64().unwrap_or(0.0) as f32
}

fn envelope(module: &str, class: &str, config: Value) -> Value {
    json!({"module": module, "class_name": class, "config": config, "registered_name": null})
}

/// A seed for an unseeded Keras initializer: Keras draws new values on every build, so the
/// crate's deterministic generator gets a fresh seed from the process's hasher keys.
fn fresh_seed() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x6b65_7261_7321);
    h.finish()
}

const INITIALIZERS: [&str; 15] = [
    "Zeros",
    "Ones",
    "Constant",
    "RandomUniform",
    "RandomNormal",
    "TruncatedNormal",
    "GlorotUniform",
    "GlorotNormal",
    "HeUniform",
    "HeNormal",
    "LecunUniform",
    "LecunNormal",
    "VarianceScaling",
    "Orthogonal",
    "Identity",
];

/// A Keras initializer as configured (`seed: None` = unseeded).
#[derive(Clone, Debug, PartialEq)]
pub enum InitializerConfig {
    Zeros,
    Ones,
    Constant {
        value: Number,
    },
    RandomUniform {
        minval: Number,
        maxval: Number,
        seed: Option<i64>,
    },
    RandomNormal {
        mean: Number,
        stddev: Number,
        seed: Option<i64>,
    },
    TruncatedNormal {
        mean: Number,
        stddev: Number,
        seed: Option<i64>,
    },
    /// GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal.
    Fan {
        class: &'static str,
        seed: Option<i64>,
    },
    VarianceScaling {
        scale: Number,
        mode: String,
        distribution: String,
        seed: Option<i64>,
    },
    Orthogonal {
        gain: Number,
        seed: Option<i64>,
    },
    Identity {
        gain: Number,
    },
}

impl InitializerConfig {
    pub(super) fn read(layer: &str, v: &Value, version: KerasVersion) -> Result<Self> {
        let key = "alpha_initializer";
        let (name, config) = split(layer, key, v)?;
        let Some(class) = canonical(&name, &INITIALIZERS) else {
            let why = match version {
                KerasVersion::Keras2 => format!("Unknown initializer: '{name}'"),
                KerasVersion::Keras3 => {
                    format!("Could not interpret initializer identifier: {name}")
                }
            };
            return Err(reject(layer, key, v, why));
        };
        let k3 = version == KerasVersion::Keras3;
        let fan_axes = |mut allowed: Vec<(&'static str, Value)>| {
            if k3 {
                allowed.push(("input_axes", Value::Null));
                allowed.push(("output_axes", Value::Null));
            }
            allowed
        };
        let k = |field: &str| format!("{key}.config.{field}");
        let fl = |x: f64| Value::Number(float(x));
        let get = |allowed: &[(&str, Value)]| fields(layer, key, class, config, allowed);
        let axes_null = |vals: &[Value], from: usize| -> Result<()> {
            for (i, name) in ["input_axes", "output_axes"].iter().enumerate() {
                if let Some(v) = vals.get(from + i) {
                    if !v.is_null() {
                        return Err(unsupported(layer, &k(name), v, "only null is supported"));
                    }
                }
            }
            Ok(())
        };
        Ok(match class {
            "Zeros" => {
                get(&[])?;
                InitializerConfig::Zeros
            }
            "Ones" => {
                get(&[])?;
                InitializerConfig::Ones
            }
            "Constant" => {
                let v = get(&[("value", fl(0.0))])?;
                InitializerConfig::Constant {
                    value: num(layer, &k("value"), &v[0])?,
                }
            }
            "RandomUniform" => {
                let v = get(&[
                    ("minval", fl(-0.05)),
                    ("maxval", fl(0.05)),
                    ("seed", Value::Null),
                ])?;
                InitializerConfig::RandomUniform {
                    minval: num(layer, &k("minval"), &v[0])?,
                    maxval: num(layer, &k("maxval"), &v[1])?,
                    seed: seed(layer, &k("seed"), &v[2])?,
                }
            }
            "RandomNormal" | "TruncatedNormal" => {
                let v = get(&[
                    ("mean", fl(0.0)),
                    ("stddev", fl(0.05)),
                    ("seed", Value::Null),
                ])?;
                let (mean, stddev, seed) = (
                    num(layer, &k("mean"), &v[0])?,
                    num(layer, &k("stddev"), &v[1])?,
                    seed(layer, &k("seed"), &v[2])?,
                );
                if class == "RandomNormal" {
                    InitializerConfig::RandomNormal { mean, stddev, seed }
                } else {
                    InitializerConfig::TruncatedNormal { mean, stddev, seed }
                }
            }
            "VarianceScaling" => {
                let v = get(&fan_axes(vec![
                    ("scale", fl(1.0)),
                    ("mode", json!("fan_in")),
                    ("distribution", json!("truncated_normal")),
                    ("seed", Value::Null),
                ]))?;
                axes_null(&v, 4)?;
                let text = |i: usize, name: &str| {
                    v[i].as_str()
                        .map(str::to_string)
                        .ok_or_else(|| reject(layer, &k(name), &v[i], "must be a string"))
                };
                let mode = text(1, "mode")?;
                if !["fan_in", "fan_out", "fan_avg"].contains(&mode.as_str()) {
                    return Err(reject(layer, &k("mode"), &v[1], "Invalid `mode` argument"));
                }
                let distribution = text(2, "distribution")?;
                if ![
                    "truncated_normal",
                    "untruncated_normal",
                    "uniform",
                    "normal",
                ]
                .contains(&distribution.as_str())
                {
                    return Err(reject(
                        layer,
                        &k("distribution"),
                        &v[2],
                        "Invalid `distribution` argument",
                    ));
                }
                InitializerConfig::VarianceScaling {
                    scale: num(layer, &k("scale"), &v[0])?,
                    mode,
                    distribution,
                    seed: seed(layer, &k("seed"), &v[3])?,
                }
            }
            "Orthogonal" => {
                let v = get(&[("gain", fl(1.0)), ("seed", Value::Null)])?;
                InitializerConfig::Orthogonal {
                    gain: num(layer, &k("gain"), &v[0])?,
                    seed: seed(layer, &k("seed"), &v[1])?,
                }
            }
            "Identity" => {
                let v = get(&[("gain", fl(1.0))])?;
                InitializerConfig::Identity {
                    gain: num(layer, &k("gain"), &v[0])?,
                }
            }
            fan => {
                let v = get(&fan_axes(vec![("seed", Value::Null)]))?;
                axes_null(&v, 1)?;
                InitializerConfig::Fan {
                    class: fan,
                    seed: seed(layer, &k("seed"), &v[0])?,
                }
            }
        })
    }

    pub fn class_name(&self) -> &'static str {
        match self {
            InitializerConfig::Zeros => "Zeros",
            InitializerConfig::Ones => "Ones",
            InitializerConfig::Constant { .. } => "Constant",
            InitializerConfig::RandomUniform { .. } => "RandomUniform",
            InitializerConfig::RandomNormal { .. } => "RandomNormal",
            InitializerConfig::TruncatedNormal { .. } => "TruncatedNormal",
            InitializerConfig::Fan { class, .. } => class,
            InitializerConfig::VarianceScaling { .. } => "VarianceScaling",
            InitializerConfig::Orthogonal { .. } => "Orthogonal",
            InitializerConfig::Identity { .. } => "Identity",
        }
    }

    /// The serialized dict `version` writes.
    pub fn serialize(&self, version: KerasVersion) -> Value {
        let k3 = version == KerasVersion::Keras3;
        let s = |seed: &Option<i64>| seed.map_or(Value::Null, Value::from);
        let mut config = match self {
            InitializerConfig::Zeros | InitializerConfig::Ones => json!({}),
            InitializerConfig::Constant { value } => json!({ "value": value }),
            InitializerConfig::RandomUniform {
                minval,
                maxval,
                seed,
            } => {
                json!({"minval": minval, "maxval": maxval, "seed": s(seed)})
            }
            InitializerConfig::RandomNormal { mean, stddev, seed }
            | InitializerConfig::TruncatedNormal { mean, stddev, seed } => {
                json!({"mean": mean, "stddev": stddev, "seed": s(seed)})
            }
            InitializerConfig::Fan { seed, .. } => json!({ "seed": s(seed) }),
            InitializerConfig::VarianceScaling {
                scale,
                mode,
                distribution,
                seed,
            } => {
                json!({"scale": scale, "mode": mode, "distribution": distribution, "seed": s(seed)})
            }
            InitializerConfig::Orthogonal { gain, seed } => json!({"gain": gain, "seed": s(seed)}),
            // Keras 3's Identity writes no gain.
            InitializerConfig::Identity { gain } if k3 && gain.as_f64() == Some(1.0) => json!({}),
            InitializerConfig::Identity { gain } => json!({ "gain": gain }),
        };
        if k3
            && matches!(
                self,
                InitializerConfig::Fan { .. } | InitializerConfig::VarianceScaling { .. }
            )
        {
            if let Value::Object(m) = &mut config {
                m.insert("input_axes".into(), Value::Null);
                m.insert("output_axes".into(), Value::Null);
            }
        }
        envelope("keras.initializers", self.class_name(), config)
    }

    /// The crate's initializer; an unseeded random one gets a fresh seed.
    ///
    /// # Errors
    /// [`crate::Error::KerasUnsupported`] for Orthogonal, Identity and VarianceScaling
    /// other than the Glorot / He / Lecun presets.
    pub fn to_crate(&self) -> Result<Initializer> {
        let sd = |s: &Option<i64>| s.map_or_else(fresh_seed, |s| s as u64);
        Ok(match self {
            InitializerConfig::Zeros => Initializer::Zeros,
            InitializerConfig::Ones => Initializer::Ones,
            InitializerConfig::Constant { value } => Initializer::Constant(f(value)),
            InitializerConfig::RandomUniform {
                minval,
                maxval,
                seed,
            } => Initializer::RandomUniform {
                minval: f(minval),
                maxval: f(maxval),
                seed: sd(seed),
            },
            InitializerConfig::RandomNormal { mean, stddev, seed } => Initializer::RandomNormal {
                mean: f(mean),
                stddev: f(stddev),
                seed: sd(seed),
            },
            InitializerConfig::TruncatedNormal { mean, stddev, seed } => {
                Initializer::TruncatedNormal {
                    mean: f(mean),
                    stddev: f(stddev),
                    seed: sd(seed),
                }
            }
            InitializerConfig::Fan { class, seed } => fan(class, sd(seed)),
            InitializerConfig::VarianceScaling {
                scale,
                mode,
                distribution,
                seed,
            } => {
                let preset = match (scale.as_f64(), mode.as_str(), distribution.as_str()) {
                    (Some(1.0), "fan_avg", "uniform") => Some("GlorotUniform"),
                    (Some(1.0), "fan_avg", "truncated_normal") => Some("GlorotNormal"),
                    (Some(2.0), "fan_in", "uniform") => Some("HeUniform"),
                    (Some(2.0), "fan_in", "truncated_normal") => Some("HeNormal"),
                    (Some(1.0), "fan_in", "uniform") => Some("LecunUniform"),
                    (Some(1.0), "fan_in", "truncated_normal") => Some("LecunNormal"),
                    _ => None,
                };
                match preset {
                    Some(p) => fan(p, sd(seed)),
                    None => return Err(unsupported(
                        "PReLU",
                        "alpha_initializer",
                        &self.serialize(KerasVersion::Keras3),
                        "VarianceScaling is implemented for the Glorot, He and Lecun presets only",
                    )),
                }
            }
            InitializerConfig::Orthogonal { .. } | InitializerConfig::Identity { .. } => {
                return Err(unsupported(
                    "PReLU",
                    "alpha_initializer",
                    &self.serialize(KerasVersion::Keras3),
                    "the crate has no such initializer",
                ))
            }
        })
    }

    pub(super) fn from_crate(i: &Initializer) -> Self {
        let n = |v: f32| float(v as f64);
        let s = |seed: u64| Some(seed as i64);
        match *i {
            Initializer::Zeros => InitializerConfig::Zeros,
            Initializer::Ones => InitializerConfig::Ones,
            Initializer::Constant(v) => InitializerConfig::Constant { value: n(v) },
            Initializer::RandomUniform {
                minval,
                maxval,
                seed,
            } => InitializerConfig::RandomUniform {
                minval: n(minval),
                maxval: n(maxval),
                seed: s(seed),
            },
            Initializer::RandomNormal { mean, stddev, seed } => InitializerConfig::RandomNormal {
                mean: n(mean),
                stddev: n(stddev),
                seed: s(seed),
            },
            Initializer::TruncatedNormal { mean, stddev, seed } => {
                InitializerConfig::TruncatedNormal {
                    mean: n(mean),
                    stddev: n(stddev),
                    seed: s(seed),
                }
            }
            Initializer::GlorotUniform { seed } => InitializerConfig::Fan {
                class: "GlorotUniform",
                seed: s(seed),
            },
            Initializer::GlorotNormal { seed } => InitializerConfig::Fan {
                class: "GlorotNormal",
                seed: s(seed),
            },
            Initializer::HeUniform { seed } => InitializerConfig::Fan {
                class: "HeUniform",
                seed: s(seed),
            },
            Initializer::HeNormal { seed } => InitializerConfig::Fan {
                class: "HeNormal",
                seed: s(seed),
            },
            Initializer::LecunUniform { seed } => InitializerConfig::Fan {
                class: "LecunUniform",
                seed: s(seed),
            },
            Initializer::LecunNormal { seed } => InitializerConfig::Fan {
                class: "LecunNormal",
                seed: s(seed),
            },
        }
    }
}

fn fan(class: &str, seed: u64) -> Initializer {
    match class {
        "GlorotUniform" => Initializer::GlorotUniform { seed },
        "GlorotNormal" => Initializer::GlorotNormal { seed },
        "HeUniform" => Initializer::HeUniform { seed },
        "HeNormal" => Initializer::HeNormal { seed },
        "LecunUniform" => Initializer::LecunUniform { seed },
        _ => Initializer::LecunNormal { seed },
    }
}

/// A Keras regularizer as configured.
#[derive(Clone, Debug, PartialEq)]
pub enum RegularizerConfig {
    L1 { l1: Number },
    L2 { l2: Number },
    L1L2 { l1: Number, l2: Number },
    Orthogonal { factor: Number, mode: String },
}

impl RegularizerConfig {
    pub(super) fn read(layer: &str, v: &Value, version: KerasVersion) -> Result<Self> {
        let key = "alpha_regularizer";
        let (name, config) = split(layer, key, v)?;
        let mut classes = vec!["L1", "L2", "L1L2", "OrthogonalRegularizer"];
        let known = match (name.as_str(), version) {
            ("l1", _) => Some("L1"),
            ("l2", _) => Some("L2"),
            ("l1_l2", KerasVersion::Keras2) => Some("L1L2"),
            ("orthogonal_regularizer", _) => Some("OrthogonalRegularizer"),
            (n, _) => classes.drain(..).find(|c| *c == n),
        };
        let Some(class) = known else {
            let why = match version {
                KerasVersion::Keras2 => format!(
                    "Keras 2 keeps the unknown string '{name}' as the regularizer and fails \
                     when it is applied"
                ),
                KerasVersion::Keras3 => {
                    format!("Could not interpret regularizer identifier: {name}")
                }
            };
            return Err(reject(layer, key, v, why));
        };
        let k = |field: &str| format!("{key}.config.{field}");
        let d = |x: f64| Value::Number(float(x));
        // A shorthand string means the defaults; Keras 2's `"l1_l2"` means 0.01 for both.
        let default = if v.is_string() { 0.01 } else { 0.0 };
        let get = |allowed: &[(&str, Value)]| fields(layer, key, class, config, allowed);
        let r = match class {
            "L1" => RegularizerConfig::L1 {
                l1: num(layer, &k("l1"), &get(&[("l1", d(0.01))])?[0])?,
            },
            "L2" => RegularizerConfig::L2 {
                l2: num(layer, &k("l2"), &get(&[("l2", d(0.01))])?[0])?,
            },
            "L1L2" => {
                let v = get(&[("l1", d(default)), ("l2", d(default))])?;
                RegularizerConfig::L1L2 {
                    l1: num(layer, &k("l1"), &v[0])?,
                    l2: num(layer, &k("l2"), &v[1])?,
                }
            }
            _ => {
                let v = get(&[("factor", d(0.01)), ("mode", json!("rows"))])?;
                let mode = v[1]
                    .as_str()
                    .filter(|m| *m == "rows" || *m == "columns")
                    .ok_or_else(|| {
                        reject(layer, &k("mode"), &v[1], "must be \"rows\" or \"columns\"")
                    })?;
                RegularizerConfig::Orthogonal {
                    factor: num(layer, &k("factor"), &v[0])?,
                    mode: mode.to_string(),
                }
            }
        };
        // Negative factors are rejected by both versions' regularizer validation.
        let (a, b) = r.factors();
        for (field, n) in [("l1", a), ("l2", b)] {
            if n.and_then(Number::as_f64).is_some_and(|x| x < 0.0) {
                return Err(reject(
                    layer,
                    &k(field),
                    &Value::Number(n.cloned().unwrap_or_else(|| float(0.0))),
                    "a regularization factor cannot be negative",
                ));
            }
        }
        Ok(r)
    }

    fn factors(&self) -> (Option<&Number>, Option<&Number>) {
        match self {
            RegularizerConfig::L1 { l1 } => (Some(l1), None),
            RegularizerConfig::L2 { l2 } => (None, Some(l2)),
            RegularizerConfig::L1L2 { l1, l2 } => (Some(l1), Some(l2)),
            RegularizerConfig::Orthogonal { factor, .. } => (Some(factor), None),
        }
    }

    pub fn class_name(&self) -> &'static str {
        match self {
            RegularizerConfig::L1 { .. } => "L1",
            RegularizerConfig::L2 { .. } => "L2",
            RegularizerConfig::L1L2 { .. } => "L1L2",
            RegularizerConfig::Orthogonal { .. } => "OrthogonalRegularizer",
        }
    }

    /// The serialized dict `version` writes: Keras 2 casts every factor to float32, Keras 3
    /// only L1's and the orthogonal one's.
    pub fn serialize(&self, version: KerasVersion) -> Value {
        let k2 = version == KerasVersion::Keras2;
        let cast = |n: &Number, always: bool| {
            if k2 || always {
                f32_number(n)
            } else {
                n.clone()
            }
        };
        let config = match self {
            RegularizerConfig::L1 { l1 } => json!({ "l1": cast(l1, true) }),
            RegularizerConfig::L2 { l2 } => json!({ "l2": cast(l2, false) }),
            RegularizerConfig::L1L2 { l1, l2 } => {
                json!({"l1": cast(l1, false), "l2": cast(l2, false)})
            }
            RegularizerConfig::Orthogonal { factor, mode } => {
                json!({"factor": cast(factor, true), "mode": mode})
            }
        };
        envelope("keras.regularizers", self.class_name(), config)
    }

    /// # Errors
    /// [`crate::Error::KerasUnsupported`] for the orthogonal regularizer.
    pub fn to_crate(&self) -> Result<Regularizer> {
        Ok(match self {
            RegularizerConfig::L1 { l1 } => Regularizer::L1 { l1: f(l1) },
            RegularizerConfig::L2 { l2 } => Regularizer::L2 { l2: f(l2) },
            RegularizerConfig::L1L2 { l1, l2 } => Regularizer::L1L2 {
                l1: f(l1),
                l2: f(l2),
            },
            RegularizerConfig::Orthogonal { .. } => {
                return Err(unsupported(
                    "PReLU",
                    "alpha_regularizer",
                    &self.serialize(KerasVersion::Keras3),
                    "the crate has no orthogonal regularizer",
                ))
            }
        })
    }

    pub(super) fn from_crate(r: &Regularizer) -> Self {
        let n = |v: f32| float(v as f64);
        match *r {
            Regularizer::L1 { l1 } => RegularizerConfig::L1 { l1: n(l1) },
            Regularizer::L2 { l2 } => RegularizerConfig::L2 { l2: n(l2) },
            Regularizer::L1L2 { l1, l2 } => RegularizerConfig::L1L2 {
                l1: n(l1),
                l2: n(l2),
            },
        }
    }
}

/// A Keras constraint as configured; `axis` is an int or a list of ints, as written.
#[derive(Clone, Debug, PartialEq)]
pub enum ConstraintConfig {
    NonNeg,
    MaxNorm {
        max_value: Number,
        axis: Value,
    },
    MinMaxNorm {
        min_value: Number,
        max_value: Number,
        rate: Number,
        axis: Value,
    },
    UnitNorm {
        axis: Value,
    },
    /// Keras 2 only.
    RadialConstraint,
}

fn axes(layer: &str, key: &str, v: &Value) -> Result<Vec<i64>> {
    let bad = || reject(layer, key, v, "an axis must be an int or a list of ints");
    match v {
        Value::Array(items) => items.iter().map(|a| a.as_i64().ok_or_else(bad)).collect(),
        _ => v.as_i64().map(|a| vec![a]).ok_or_else(bad),
    }
}

impl ConstraintConfig {
    pub(super) fn read(layer: &str, v: &Value, version: KerasVersion) -> Result<Self> {
        let key = "alpha_constraint";
        let (name, config) = split(layer, key, v)?;
        let mut classes = vec!["NonNeg", "MaxNorm", "MinMaxNorm", "UnitNorm"];
        if version == KerasVersion::Keras2 {
            classes.push("RadialConstraint");
        }
        let Some(class) = canonical(&name, &classes) else {
            let why = match version {
                KerasVersion::Keras2 => format!("Unknown constraint: '{name}'"),
                KerasVersion::Keras3 => {
                    format!("Could not interpret constraint identifier: {name}")
                }
            };
            return Err(reject(layer, key, v, why));
        };
        let k = |field: &str| format!("{key}.config.{field}");
        let get = |allowed: &[(&str, Value)]| fields(layer, key, class, config, allowed);
        let axis = |v: &Value| -> Result<Value> {
            axes(layer, &k("axis"), v)?;
            Ok(v.clone())
        };
        Ok(match class {
            "NonNeg" => {
                get(&[])?;
                ConstraintConfig::NonNeg
            }
            "RadialConstraint" => {
                get(&[])?;
                ConstraintConfig::RadialConstraint
            }
            "MaxNorm" => {
                let v = get(&[("max_value", json!(2)), ("axis", json!(0))])?;
                ConstraintConfig::MaxNorm {
                    max_value: num(layer, &k("max_value"), &v[0])?,
                    axis: axis(&v[1])?,
                }
            }
            "MinMaxNorm" => {
                let v = get(&[
                    ("min_value", json!(0.0)),
                    ("max_value", json!(1.0)),
                    ("rate", json!(1.0)),
                    ("axis", json!(0)),
                ])?;
                ConstraintConfig::MinMaxNorm {
                    min_value: num(layer, &k("min_value"), &v[0])?,
                    max_value: num(layer, &k("max_value"), &v[1])?,
                    rate: num(layer, &k("rate"), &v[2])?,
                    axis: axis(&v[3])?,
                }
            }
            _ => {
                let v = get(&[("axis", json!(0))])?;
                ConstraintConfig::UnitNorm { axis: axis(&v[0])? }
            }
        })
    }

    pub fn class_name(&self) -> &'static str {
        match self {
            ConstraintConfig::NonNeg => "NonNeg",
            ConstraintConfig::MaxNorm { .. } => "MaxNorm",
            ConstraintConfig::MinMaxNorm { .. } => "MinMaxNorm",
            ConstraintConfig::UnitNorm { .. } => "UnitNorm",
            ConstraintConfig::RadialConstraint => "RadialConstraint",
        }
    }

    /// The serialized dict `version` writes.
    ///
    /// # Errors
    /// [`crate::Error::KerasConfig`] for a RadialConstraint in Keras 3, which has none.
    pub fn serialize(&self, layer: &str, version: KerasVersion) -> Result<Value> {
        let config = match self {
            ConstraintConfig::NonNeg => json!({}),
            ConstraintConfig::RadialConstraint if version == KerasVersion::Keras3 => {
                return Err(reject(
                    layer,
                    "alpha_constraint",
                    &json!("RadialConstraint"),
                    "Keras 3 has no RadialConstraint",
                ))
            }
            ConstraintConfig::RadialConstraint => json!({}),
            ConstraintConfig::MaxNorm { max_value, axis } => {
                json!({"max_value": max_value, "axis": axis})
            }
            ConstraintConfig::MinMaxNorm {
                min_value,
                max_value,
                rate,
                axis,
            } => {
                json!({"min_value": min_value, "max_value": max_value, "rate": rate, "axis": axis})
            }
            ConstraintConfig::UnitNorm { axis } => json!({ "axis": axis }),
        };
        Ok(envelope("keras.constraints", self.class_name(), config))
    }

    /// # Errors
    /// [`crate::Error::KerasUnsupported`] for RadialConstraint.
    pub fn to_crate(&self) -> Result<Constraint> {
        let ax = |a: &Value| axes("PReLU", "alpha_constraint.config.axis", a);
        Ok(match self {
            ConstraintConfig::NonNeg => Constraint::NonNeg,
            ConstraintConfig::MaxNorm { max_value, axis } => Constraint::MaxNorm {
                max_value: f(max_value),
                axis: ax(axis)?,
            },
            ConstraintConfig::MinMaxNorm {
                min_value,
                max_value,
                rate,
                axis,
            } => Constraint::MinMaxNorm {
                min_value: f(min_value),
                max_value: f(max_value),
                rate: f(rate),
                axis: ax(axis)?,
            },
            ConstraintConfig::UnitNorm { axis } => Constraint::UnitNorm { axis: ax(axis)? },
            ConstraintConfig::RadialConstraint => {
                return Err(unsupported(
                    "PReLU",
                    "alpha_constraint",
                    &json!("RadialConstraint"),
                    "the crate has no radial constraint",
                ))
            }
        })
    }

    pub(super) fn from_crate(c: &Constraint) -> Self {
        let n = |v: f32| float(v as f64);
        let a = |axis: &[i64]| match axis {
            [one] => Value::from(*one),
            _ => Value::from(axis.to_vec()),
        };
        match c {
            Constraint::NonNeg => ConstraintConfig::NonNeg,
            Constraint::MaxNorm { max_value, axis } => ConstraintConfig::MaxNorm {
                max_value: n(*max_value),
                axis: a(axis),
            },
            Constraint::MinMaxNorm {
                min_value,
                max_value,
                rate,
                axis,
            } => ConstraintConfig::MinMaxNorm {
                min_value: n(*min_value),
                max_value: n(*max_value),
                rate: n(*rate),
                axis: a(axis),
            },
            Constraint::UnitNorm { axis } => ConstraintConfig::UnitNorm { axis: a(axis) },
        }
    }
}
