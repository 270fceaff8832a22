//! Keras interop: read and write the configs of the six layers as Keras 2 (tf_keras) and
//! Keras 3 write and read them, and list a model's activation layers with PReLU's weights.
//!
//! - [`KerasLayer`] holds a layer's parameters **as Keras holds them** after deserialising
//!   (Keras 2: float32-rounded floats; Keras 3: the values as given, ints stay ints), so that
//!   writing it back reproduces what that Keras version's `get_config()` writes.
//!   [`KerasLayer::build`] turns it into one of the crate's layers ([`Activation`]).
//! - Reading follows the accept/reject rules of the version given ([`KerasVersion`]): unknown
//!   keys, negative values, unknown initializer names, ... are [`Error::KerasConfig`] naming
//!   the key and value, as Keras's message does.
//! - [`KerasModel`] reads a `.keras` archive or a `to_json()` / `config.json` file.
//!
//! Deliberate differences from Keras: configs Keras *accepts* but whose layer fails when
//! used (Keras 3 ELU `alpha: null` or `"x"`, Softmax `axis: 1.5`, PReLU `shared_axes: "1"`,
//! Keras 2 `alpha_regularizer: "l3"`) are rejected here, naming the key.

mod layers;
mod model;
mod objects;

use serde_json::{json, Map, Number, Value};

use crate::error::{Error, Result};
use crate::{LeakyReLU, PReLU, ReLU, Softmax, ThresholdedReLU, ELU};

pub use layers::{LayerParams, SoftmaxAxis};
pub use model::{Alpha, KerasModel, LayerEntry, ModelLayer};
pub use objects::{ConstraintConfig, InitializerConfig, RegularizerConfig};

/// Which Keras reads or writes a config.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KerasVersion {
    /// tf_keras 2.x (`tf.keras` in TensorFlow up to 2.15).
    Keras2,
    /// Keras 3.
    Keras3,
}

impl KerasVersion {
    /// `"keras2"` / `"keras3"`.
    pub fn name(self) -> &'static str {
        match self {
            KerasVersion::Keras2 => "keras2",
            KerasVersion::Keras3 => "keras3",
        }
    }

    /// Parses `"keras2"`, `"2"`, `"keras3"`, `"3"`.
    ///
    /// # Errors
    /// [`Error::KerasConfig`] for anything else.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "keras2" | "2" | "tf_keras" => Ok(KerasVersion::Keras2),
            "keras3" | "3" => Ok(KerasVersion::Keras3),
            _ => Err(Error::KerasConfig {
                layer: "-".into(),
                key: "version".into(),
                value: s.into(),
                reason: "expected keras2 or keras3".into(),
            }),
        }
    }

    /// The version that wrote a serialized layer or a layer config, from what only one
    /// version writes: a `DTypePolicy` dict (Keras 3) or a dtype string (Keras 2), LeakyReLU's
    /// `negative_slope` (Keras 3). `None` when nothing tells.
    pub fn detect(value: &Value) -> Option<Self> {
        let config = value.get("config").unwrap_or(value);
        match config.get("dtype") {
            Some(Value::String(_)) => return Some(KerasVersion::Keras2),
            Some(Value::Object(d)) => {
                return match d.get("class_name").and_then(Value::as_str) {
                    Some("DTypePolicy") | Some("FloatDTypePolicy") => Some(KerasVersion::Keras3),
                    Some("Policy") => Some(KerasVersion::Keras2),
                    _ => None,
                }
            }
            _ => {}
        }
        if value.get("class_name").and_then(Value::as_str) == Some("ThresholdedReLU") {
            return Some(KerasVersion::Keras2); // Keras 3 has none
        }
        if config.get("negative_slope").is_some()
            && value.get("class_name").and_then(Value::as_str) == Some("LeakyReLU")
        {
            return Some(KerasVersion::Keras3);
        }
        None
    }
}

/// One of the crate's layers, built from a Keras config.
#[derive(Clone, Debug)]
pub enum Activation {
    LeakyReLU(LeakyReLU),
    PReLU(PReLU),
    ELU(ELU),
    ThresholdedReLU(ThresholdedReLU),
    Softmax(Softmax),
    ReLU(ReLU),
}

impl Activation {
    /// The Keras class name.
    pub fn class_name(&self) -> &'static str {
        match self {
            Activation::LeakyReLU(_) => "LeakyReLU",
            Activation::PReLU(_) => "PReLU",
            Activation::ELU(_) => "ELU",
            Activation::ThresholdedReLU(_) => "ThresholdedReLU",
            Activation::Softmax(_) => "Softmax",
            Activation::ReLU(_) => "ReLU",
        }
    }

    /// The Keras parameters of this layer (f32 parameters written as floats), to write with
    /// [`KerasLayer::to_config`].
    pub fn to_keras(&self) -> KerasLayer {
        let f = |v: f32| float(v as f64);
        let params = match self {
            Activation::LeakyReLU(l) => LayerParams::LeakyReLU {
                negative_slope: f(l.alpha()),
            },
            Activation::ELU(l) => LayerParams::ELU {
                alpha: f(l.alpha()),
            },
            Activation::ThresholdedReLU(l) => LayerParams::ThresholdedReLU {
                theta: f(l.theta()),
            },
            Activation::Softmax(l) => LayerParams::Softmax {
                axis: SoftmaxAxis::One(l.axis()),
                robust_masking: false,
            },
            Activation::ReLU(l) => LayerParams::ReLU {
                max_value: l.max_value().map(f),
                negative_slope: f(l.negative_slope()),
                threshold: f(l.threshold()),
            },
            Activation::PReLU(l) => LayerParams::PReLU {
                alpha_initializer: InitializerConfig::from_crate(&l.initializer()),
                alpha_regularizer: l.regularizer().map(|r| RegularizerConfig::from_crate(&r)),
                alpha_constraint: l.constraint().map(ConstraintConfig::from_crate),
                shared_axes: l
                    .shared_axes()
                    .map(|a| a.iter().map(|&x| x as i64).collect()),
            },
        };
        KerasLayer {
            name: None,
            trainable: true,
            dtype: "float32".into(),
            params,
        }
    }
}

/// A Keras layer's config as Keras holds it after deserialising.
#[derive(Clone, Debug, PartialEq)]
pub struct KerasLayer {
    /// `name`, when the config gives one.
    pub name: Option<String>,
    /// `trainable` (default true).
    pub trainable: bool,
    /// The dtype policy's name: `"float32"`, `"mixed_float16"`, ...
    pub dtype: String,
    /// The layer's own parameters.
    pub params: LayerParams,
}

/// The six layers' Keras class names.
pub const CLASS_NAMES: [&str; 6] = [
    "LeakyReLU",
    "PReLU",
    "ELU",
    "ThresholdedReLU",
    "Softmax",
    "ReLU",
];

impl KerasLayer {
    /// Reads a layer config (what `get_config()` returns, or what `from_config` is handed)
    /// of class `class_name` with the rules of `version`.
    ///
    /// # Errors
    /// [`Error::KerasConfig`] naming the key and value Keras rejects (unknown keys included),
    /// or `class_name` for a class this crate does not implement (and ThresholdedReLU in
    /// Keras 3, which has no such layer).
    pub fn from_config(class_name: &str, config: &Value, version: KerasVersion) -> Result<Self> {
        let class = short_class_name(class_name);
        if !CLASS_NAMES.contains(&class) {
            return Err(reject(
                class,
                "class_name",
                &Value::String(class_name.into()),
                "not one of the advanced-activation layers this crate implements",
            ));
        }
        if class == "ThresholdedReLU" && version == KerasVersion::Keras3 {
            return Err(reject(
                class,
                "class_name",
                &Value::String(class_name.into()),
                "Keras 3 has no ThresholdedReLU layer (its ReLU(threshold=theta) computes the same)",
            ));
        }
        let Value::Object(map) = config else {
            return Err(reject(
                class,
                "config",
                config,
                "a layer config must be a JSON object",
            ));
        };
        let mut keys = Keys::new(class, map);
        let common = read_common(&mut keys, version)?;
        let params = LayerParams::read(class, &mut keys, version)?;
        keys.finish(version)?;
        Ok(KerasLayer {
            name: common.0,
            trainable: common.1,
            dtype: common.2,
            params,
        })
    }

    /// Reads a serialized layer: `{"module", "class_name", "config", "registered_name"}`
    /// (keys a saved model adds, such as `build_config` and `inbound_nodes`, are ignored) or
    /// the legacy `{"class_name", "config"}`.
    ///
    /// # Errors
    /// [`Error::KerasConfig`] as [`Self::from_config`], or for a value that is not a
    /// serialized layer.
    pub fn deserialize(value: &Value, version: KerasVersion) -> Result<Self> {
        let class = value.get("class_name").and_then(Value::as_str);
        let config = value.get("config");
        match (class, config) {
            (Some(class), Some(config)) => Self::from_config(class, config, version),
            _ => Err(reject(
                "layer",
                "class_name",
                value,
                "a serialized layer needs \"class_name\" and \"config\"",
            )),
        }
    }

    /// The Keras class name.
    pub fn class_name(&self) -> &'static str {
        self.params.class_name()
    }

    /// The config `version`'s `get_config()` writes for these parameters (`name` only when
    /// known), such that that version's `from_config` loads the same effective parameters.
    ///
    /// # Errors
    /// [`Error::KerasConfig`] when `version` cannot hold the layer: ThresholdedReLU, a
    /// negative LeakyReLU slope, Softmax `robust_masking` or a `RadialConstraint` in Keras 3.
    pub fn to_config(&self, version: KerasVersion) -> Result<Value> {
        let mut map = Map::new();
        if let Some(name) = &self.name {
            map.insert("name".into(), Value::String(name.clone()));
        }
        map.insert("trainable".into(), Value::Bool(self.trainable));
        map.insert("dtype".into(), write_dtype(&self.dtype, version));
        self.params.write(&mut map, version)?;
        Ok(Value::Object(map))
    }

    /// `{"module": "keras.layers", "class_name", "config", "registered_name": null}`, what
    /// both versions' `serialize` write.
    ///
    /// # Errors
    /// As [`Self::to_config`].
    pub fn serialize(&self, version: KerasVersion) -> Result<Value> {
        Ok(json!({
            "module": "keras.layers",
            "class_name": self.class_name(),
            "config": self.to_config(version)?,
            "registered_name": null,
        }))
    }

    /// The effective parameters under their `version` names (LeakyReLU's slope is `alpha` in
    /// Keras 2, `negative_slope` in Keras 3; Keras 2's Softmax also reports
    /// `robust_masking`), nested objects in their serialized form.
    ///
    /// # Errors
    /// As [`Self::to_config`].
    pub fn effective(&self, version: KerasVersion) -> Result<Map<String, Value>> {
        self.params.effective(version)
    }

    /// The crate's layer for these parameters (a PReLU is not built yet: its alpha shape
    /// comes from the input).
    ///
    /// # Errors
    /// [`Error::KerasUnsupported`] for valid Keras this crate does not compute (a Softmax over
    /// several axes; Orthogonal, Identity and other VarianceScaling initializers; the
    /// Orthogonal regularizer; RadialConstraint; non-null `input_axes`); the layers' own
    /// [`Error::InvalidParameter`].
    pub fn build(&self) -> Result<Activation> {
        self.params.build()
    }
}

/// `keras.layers.PReLU` or `PReLU` → `PReLU`.
fn short_class_name(class_name: &str) -> &str {
    class_name.rsplit('.').next().unwrap_or(class_name)
}

/// A JSON float (`1.0`, not `1`); 0 for the non-finite values JSON cannot hold.
pub(crate) fn float(v: f64) -> Number {
    Number::from_f64(v).unwrap_or_else(|| Number::from(0))
}

/// What Keras 2 stores for a number it casts to float32.
pub(crate) fn f32_number(n: &Number) -> Number {
    float(n.as_f64().unwrap_or(0.0) as f32 as f64)
}

pub(crate) fn reject(layer: &str, key: &str, value: &Value, reason: impl Into<String>) -> Error {
    Error::KerasConfig {
        layer: layer.into(),
        key: key.into(),
        value: value.to_string(),
        reason: reason.into(),
    }
}

pub(crate) fn unsupported(
    layer: &str,
    key: &str,
    value: &Value,
    reason: impl Into<String>,
) -> Error {
    Error::KerasUnsupported {
        layer: layer.into(),
        key: key.into(),
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// The keys of a config, taken one by one; what is left at the end is unknown to Keras.
pub(crate) struct Keys<'a> {
    pub(crate) layer: &'a str,
    map: Map<String, Value>,
}

impl<'a> Keys<'a> {
    pub(crate) fn new(layer: &'a str, map: &Map<String, Value>) -> Self {
        Keys {
            layer,
            map: map.clone(),
        }
    }
    pub(crate) fn take(&mut self, key: &str) -> Option<Value> {
        self.map.remove(key)
    }
    fn finish(self, version: KerasVersion) -> Result<()> {
        match self.map.into_iter().next() {
            None => Ok(()),
            Some((key, value)) => {
                let reason = match version {
                    KerasVersion::Keras2 => {
                        format!("('Keyword argument not understood:', '{key}') (Keras 2)")
                    }
                    KerasVersion::Keras3 => {
                        format!(
                            "Unrecognized keyword arguments passed to {} (Keras 3)",
                            self.layer
                        )
                    }
                };
                Err(reject(self.layer, &key, &value, reason))
            }
        }
    }
}

/// `(name, trainable, dtype)`, and the base-layer keys both versions accept and ignore here.
fn read_common(keys: &mut Keys, version: KerasVersion) -> Result<(Option<String>, bool, String)> {
    let layer = keys.layer;
    let name = match keys.take("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(v) => return Err(reject(layer, "name", &v, "a layer name must be a string")),
    };
    let trainable = match keys.take("trainable") {
        None => true,
        Some(Value::Bool(b)) => b,
        Some(v) => return Err(reject(layer, "trainable", &v, "must be true or false")),
    };
    let dtype = match keys.take("dtype") {
        None | Some(Value::Null) => "float32".to_string(),
        Some(v) => read_dtype(layer, &v, version)?,
    };
    // Keys Keras's base Layer takes: the input shape of a model's first layer, autocast and
    // an absent activity regularizer.
    for key in [
        "input_shape",
        "batch_input_shape",
        "batch_size",
        "input_dim",
        "autocast",
    ] {
        keys.take(key);
    }
    match keys.take("activity_regularizer") {
        None | Some(Value::Null) => {}
        Some(v) => {
            return Err(unsupported(
                layer,
                "activity_regularizer",
                &v,
                "activity regularizers are not implemented",
            ))
        }
    }
    Ok((name, trainable, dtype))
}

fn read_dtype(layer: &str, v: &Value, version: KerasVersion) -> Result<String> {
    let bad = |reason: &str| Err(reject(layer, "dtype", v, reason));
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Object(d) => {
            let class = d.get("class_name").and_then(Value::as_str).unwrap_or("");
            let name = d
                .get("config")
                .and_then(|c| c.get("name"))
                .and_then(Value::as_str);
            let known = match version {
                KerasVersion::Keras2 => class == "Policy",
                KerasVersion::Keras3 => class == "DTypePolicy" || class == "FloatDTypePolicy",
            };
            match (known, name) {
                (true, Some(name)) => Ok(name.to_string()),
                (false, _) if version == KerasVersion::Keras2 => bad(
                    "Keras 2 reads a dtype string or a mixed_precision Policy, not a Keras 3 \
                     DTypePolicy ('str' object has no attribute 'name')",
                ),
                _ => bad("not a dtype policy this Keras version reads"),
            }
        }
        _ => bad("a dtype must be a string or a dtype policy"),
    }
}

fn write_dtype(name: &str, version: KerasVersion) -> Value {
    match version {
        KerasVersion::Keras2 if name.starts_with("mixed_") => json!({
            "module": "keras.mixed_precision",
            "class_name": "Policy",
            "config": {"name": name},
            "registered_name": null,
        }),
        KerasVersion::Keras2 => Value::String(name.into()),
        KerasVersion::Keras3 => json!({
            "module": "keras",
            "class_name": "DTypePolicy",
            "config": {"name": name},
            "registered_name": null,
        }),
    }
}
