//! The six layers' own config keys, per Keras version.

use serde_json::{Map, Number, Value};

use super::objects::{ConstraintConfig, InitializerConfig, RegularizerConfig};
use super::{f32_number, reject, unsupported, Activation, KerasVersion, Keys};
use crate::error::Result;
use crate::{LeakyReLU, PReLU, ReLU, Softmax, ThresholdedReLU, ELU};

/// Softmax's `axis`: `null` (the last axis), one axis, or a list of axes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SoftmaxAxis {
    Last,
    One(i64),
    Many(Vec<i64>),
}

/// A layer's own parameters, numbers as that Keras version holds them.
#[derive(Clone, Debug, PartialEq)]
pub enum LayerParams {
    /// Keras 2 `alpha`, Keras 3 `negative_slope` (default 0.3).
    LeakyReLU {
        negative_slope: Number,
    },
    ELU {
        alpha: Number,
    },
    ThresholdedReLU {
        theta: Number,
    },
    /// `robust_masking` exists in Keras 2 only.
    Softmax {
        axis: SoftmaxAxis,
        robust_masking: bool,
    },
    ReLU {
        max_value: Option<Number>,
        negative_slope: Number,
        threshold: Number,
    },
    PReLU {
        alpha_initializer: InitializerConfig,
        alpha_regularizer: Option<RegularizerConfig>,
        alpha_constraint: Option<ConstraintConfig>,
        /// An int in the config becomes a one-element list, as in both versions.
        shared_axes: Option<Vec<i64>>,
    },
}

/// A number as `version` stores it: Keras 2 casts to float32, Keras 3 keeps it.
fn stored(n: Number, version: KerasVersion) -> Number {
    match version {
        KerasVersion::Keras2 => f32_number(&n),
        KerasVersion::Keras3 => n,
    }
}

/// A required number (not null, not a string).
fn number(layer: &str, key: &str, v: Value, reason: &str) -> Result<Number> {
    match v {
        Value::Number(n) => Ok(n),
        other => Err(reject(layer, key, &other, reason)),
    }
}

fn is_negative(n: &Number) -> bool {
    n.as_f64().is_some_and(|v| v < 0.0)
}

fn axis_int(layer: &str, key: &str, v: &Value) -> Result<i64> {
    v.as_i64().ok_or_else(|| {
        reject(
            layer,
            key,
            v,
            "must be an int; Keras accepts other values here but the layer fails when called",
        )
    })
}

impl LayerParams {
    pub fn class_name(&self) -> &'static str {
        match self {
            LayerParams::LeakyReLU { .. } => "LeakyReLU",
            LayerParams::ELU { .. } => "ELU",
            LayerParams::ThresholdedReLU { .. } => "ThresholdedReLU",
            LayerParams::Softmax { .. } => "Softmax",
            LayerParams::ReLU { .. } => "ReLU",
            LayerParams::PReLU { .. } => "PReLU",
        }
    }

    pub(super) fn read(class: &str, keys: &mut Keys, version: KerasVersion) -> Result<Self> {
        use KerasVersion::{Keras2, Keras3};
        let l = keys.layer;
        Ok(match class {
            "LeakyReLU" => {
                // Keras 3 still takes `alpha`, deprecated, for `negative_slope`.
                let (key, v) = match version {
                    Keras2 => ("alpha", keys.take("alpha")),
                    Keras3 => match keys.take("negative_slope") {
                        Some(v) => ("negative_slope", Some(v)),
                        None => ("alpha", keys.take("alpha")),
                    },
                };
                let n = match v {
                    None => Number::from_f64(0.3).unwrap_or_else(|| Number::from(0)),
                    Some(v) => {
                        let why = match version {
                            Keras2 => "The alpha value of a Leaky ReLU layer cannot be None, Expecting a float",
                            Keras3 => "The negative_slope value of a Leaky ReLU layer cannot be None or negative value. Expected a float",
                        };
                        let n = number(l, key, v, why)?;
                        if version == Keras3 && is_negative(&n) {
                            return Err(reject(l, key, &Value::Number(n), why));
                        }
                        n
                    }
                };
                LayerParams::LeakyReLU {
                    negative_slope: stored(n, version),
                }
            }
            "ELU" => {
                let alpha = match keys.take("alpha") {
                    None => Number::from_f64(1.0).unwrap_or_else(|| Number::from(1)),
                    Some(v) => number(
                        l,
                        "alpha",
                        v,
                        match version {
                            Keras2 => "Alpha of an ELU layer cannot be None, expecting a float",
                            Keras3 => "must be a number: Keras 3 does not check it, but the layer fails when called",
                        },
                    )?,
                };
                LayerParams::ELU {
                    alpha: stored(alpha, version),
                }
            }
            "ThresholdedReLU" => {
                let theta = match keys.take("theta") {
                    None => Number::from_f64(1.0).unwrap_or_else(|| Number::from(1)),
                    Some(v) => {
                        let why = "Theta of a Thresholded ReLU layer cannot be None or negative, expecting a float >= 0";
                        let n = number(l, "theta", v, why)?;
                        if is_negative(&n) {
                            return Err(reject(l, "theta", &Value::Number(n), why));
                        }
                        n
                    }
                };
                LayerParams::ThresholdedReLU {
                    theta: stored(theta, version),
                }
            }
            "Softmax" => {
                let axis = match keys.take("axis") {
                    None => SoftmaxAxis::One(-1),
                    Some(Value::Null) => SoftmaxAxis::Last,
                    Some(Value::Array(items)) => SoftmaxAxis::Many(
                        items
                            .iter()
                            .map(|a| axis_int(l, "axis", a))
                            .collect::<Result<_>>()?,
                    ),
                    Some(v) => SoftmaxAxis::One(axis_int(l, "axis", &v)?),
                };
                // Keras 3 has no robust_masking: it stays in `keys` and is rejected as unknown.
                let robust_masking = match version {
                    Keras3 => false,
                    Keras2 => match keys.take("robust_masking") {
                        None => false,
                        Some(Value::Bool(b)) => b,
                        Some(v) => {
                            return Err(reject(l, "robust_masking", &v, "must be true or false"))
                        }
                    },
                };
                LayerParams::Softmax {
                    axis,
                    robust_masking,
                }
            }
            "ReLU" => {
                let mut non_negative =
                    |key: &str, default: Option<f64>| -> Result<Option<Number>> {
                        let why = match version {
                            Keras2 => format!("{key} of a ReLU layer cannot be a negative value"),
                            Keras3 => {
                                format!("{key} of a ReLU layer cannot be None or a negative value")
                            }
                        };
                        match keys.take(key) {
                            None => Ok(default.map(super::float)),
                            Some(Value::Null) if key == "max_value" => Ok(None),
                            Some(v) => {
                                let n = number(l, key, v, &why)?;
                                if is_negative(&n) {
                                    return Err(reject(l, key, &Value::Number(n), why));
                                }
                                Ok(Some(stored(n, version)))
                            }
                        }
                    };
                let max_value = non_negative("max_value", None)?;
                let negative_slope = non_negative("negative_slope", Some(0.0))?;
                let threshold = non_negative("threshold", Some(0.0))?;
                LayerParams::ReLU {
                    max_value,
                    negative_slope: negative_slope.unwrap_or_else(|| super::float(0.0)),
                    threshold: threshold.unwrap_or_else(|| super::float(0.0)),
                }
            }
            _ => {
                let alpha_initializer = match keys.take("alpha_initializer") {
                    None => InitializerConfig::Zeros,
                    Some(v) => InitializerConfig::read(l, &v, version)?,
                };
                let alpha_regularizer = match keys.take("alpha_regularizer") {
                    None | Some(Value::Null) => None,
                    Some(v) => Some(RegularizerConfig::read(l, &v, version)?),
                };
                let alpha_constraint = match keys.take("alpha_constraint") {
                    None | Some(Value::Null) => None,
                    Some(v) => Some(ConstraintConfig::read(l, &v, version)?),
                };
                let shared_axes = match keys.take("shared_axes") {
                    None | Some(Value::Null) => None,
                    Some(Value::Array(items)) => Some(
                        items
                            .iter()
                            .map(|a| axis_int(l, "shared_axes", a))
                            .collect::<Result<_>>()?,
                    ),
                    Some(v) => Some(vec![axis_int(l, "shared_axes", &v)?]),
                };
                LayerParams::PReLU {
                    alpha_initializer,
                    alpha_regularizer,
                    alpha_constraint,
                    shared_axes,
                }
            }
        })
    }

    /// The effective parameters, under `version`'s names.
    pub(super) fn effective(&self, version: KerasVersion) -> Result<Map<String, Value>> {
        let mut map = Map::new();
        self.write(&mut map, version)?;
        if let (LayerParams::Softmax { robust_masking, .. }, KerasVersion::Keras2) = (self, version)
        {
            map.insert("robust_masking".into(), Value::Bool(*robust_masking));
        }
        Ok(map)
    }

    /// Adds this layer's keys as `version`'s `get_config()` writes them.
    pub(super) fn write(&self, map: &mut Map<String, Value>, version: KerasVersion) -> Result<()> {
        use KerasVersion::{Keras2, Keras3};
        let num = |n: &Number| Value::Number(stored(n.clone(), version));
        let class = self.class_name();
        match self {
            LayerParams::LeakyReLU { negative_slope } => match version {
                Keras2 => {
                    map.insert("alpha".into(), num(negative_slope));
                }
                Keras3 => {
                    if is_negative(negative_slope) {
                        return Err(reject(
                            class,
                            "negative_slope",
                            &Value::Number(negative_slope.clone()),
                            "Keras 3 rejects a negative LeakyReLU slope",
                        ));
                    }
                    map.insert("negative_slope".into(), num(negative_slope));
                }
            },
            LayerParams::ELU { alpha } => {
                map.insert("alpha".into(), num(alpha));
            }
            LayerParams::ThresholdedReLU { theta } => {
                match version {
                    Keras2 => {
                        map.insert("theta".into(), num(theta));
                    }
                    Keras3 => return Err(reject(
                        class,
                        "class_name",
                        &Value::String(class.into()),
                        "Keras 3 has no ThresholdedReLU layer (its ReLU(threshold=theta) computes \
                         the same; convert explicitly if that is what you want)",
                    )),
                }
            }
            LayerParams::Softmax {
                axis,
                robust_masking,
            } => {
                let axis = match axis {
                    SoftmaxAxis::Last => Value::Null,
                    SoftmaxAxis::One(a) => Value::from(*a),
                    SoftmaxAxis::Many(a) => Value::from(a.clone()),
                };
                map.insert("axis".into(), axis);
                if *robust_masking {
                    if version == Keras3 {
                        return Err(reject(
                            class,
                            "robust_masking",
                            &Value::Bool(true),
                            "Keras 3's Softmax has no robust_masking",
                        ));
                    }
                    map.insert("robust_masking".into(), Value::Bool(true));
                }
            }
            LayerParams::ReLU {
                max_value,
                negative_slope,
                threshold,
            } => {
                map.insert(
                    "max_value".into(),
                    max_value.as_ref().map_or(Value::Null, num),
                );
                map.insert("negative_slope".into(), num(negative_slope));
                map.insert("threshold".into(), num(threshold));
            }
            LayerParams::PReLU {
                alpha_initializer,
                alpha_regularizer,
                alpha_constraint,
                shared_axes,
            } => {
                map.insert(
                    "alpha_initializer".into(),
                    alpha_initializer.serialize(version),
                );
                map.insert(
                    "alpha_regularizer".into(),
                    alpha_regularizer
                        .as_ref()
                        .map_or(Value::Null, |r| r.serialize(version)),
                );
                map.insert(
                    "alpha_constraint".into(),
                    match alpha_constraint {
                        None => Value::Null,
                        Some(c) => c.serialize(class, version)?,
                    },
                );
                map.insert(
                    "shared_axes".into(),
                    shared_axes
                        .as_ref()
                        .map_or(Value::Null, |a| Value::from(a.clone())),
                );
            }
        }
        Ok(())
    }

    pub(super) fn build(&self) -> Result<Activation> {
        let f = |n: &Number| n.as_f64().unwrap_or(0.0) as f32;
        let class = self.class_name();
        Ok(match self {
            LayerParams::LeakyReLU { negative_slope } => {
                Activation::LeakyReLU(LeakyReLU::new(f(negative_slope))?)
            }
            LayerParams::ELU { alpha } => Activation::ELU(ELU::new(f(alpha))?),
            LayerParams::ThresholdedReLU { theta } => {
                Activation::ThresholdedReLU(ThresholdedReLU::new(f(theta))?)
            }
            // robust_masking only changes masked calls, where the crate's masked softmax
            // ignores masked positions entirely, which is what robust masking approximates.
            LayerParams::Softmax { axis, .. } => Activation::Softmax(Softmax::new(match axis {
                SoftmaxAxis::Last => -1,
                SoftmaxAxis::One(a) => *a,
                SoftmaxAxis::Many(a) if a.len() == 1 => a[0],
                SoftmaxAxis::Many(a) => {
                    return Err(unsupported(
                        class,
                        "axis",
                        &Value::from(a.clone()),
                        "the crate's Softmax reduces over one axis",
                    ))
                }
            })?),
            LayerParams::ReLU {
                max_value,
                negative_slope,
                threshold,
            } => Activation::ReLU(ReLU::new(
                max_value.as_ref().map(f),
                f(negative_slope),
                f(threshold),
            )?),
            LayerParams::PReLU {
                alpha_initializer,
                alpha_regularizer,
                alpha_constraint,
                shared_axes,
            } => {
                let axes = match shared_axes {
                    None => None,
                    Some(a) => Some(
                        a.iter()
                            .map(|&x| {
                                usize::try_from(x).map_err(|_| {
                                    unsupported(
                                        class,
                                        "shared_axes",
                                        &Value::from(a.clone()),
                                        "negative shared axes are not supported",
                                    )
                                })
                            })
                            .collect::<Result<Vec<usize>>>()?,
                    ),
                };
                Activation::PReLU(PReLU::new(
                    alpha_initializer.to_crate()?,
                    alpha_regularizer
                        .as_ref()
                        .map(|r| r.to_crate())
                        .transpose()?,
                    alpha_constraint
                        .as_ref()
                        .map(|c| c.to_crate())
                        .transpose()?,
                    axes,
                )?)
            }
        })
    }
}
