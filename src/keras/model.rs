//! A Keras model's activation layers: from a `.keras` archive (Keras 3: `config.json` and
//! `model.weights.h5`) or a `to_json()` / `config.json` file.

use std::io::{Cursor, Read};
use std::path::Path;

use serde_json::Value;

use super::{KerasLayer, KerasVersion, CLASS_NAMES};
use crate::error::{Error, Result};

/// What became of one layer of a model.
#[derive(Clone, Debug)]
pub enum LayerEntry {
    /// One of the six, accepted by the model's Keras version.
    Accepted(KerasLayer),
    /// One of the six, but its config is rejected (the error names key and value).
    Rejected(Error),
    /// A layer this crate does not implement (Dense, InputLayer, ...).
    Skipped,
}

/// One layer of a model, in the model's order.
#[derive(Clone, Debug)]
pub struct ModelLayer {
    pub name: String,
    pub class_name: String,
    /// The input shape the model records (`build_config.input_shape`), batch axis `None`.
    pub input_shape: Option<Vec<Option<usize>>>,
    pub entry: LayerEntry,
    /// Where this layer's variables sit in `model.weights.h5`: `layers/<snake_case
    /// class>[_N]`.
    pub weights_path: String,
}

/// PReLU's alpha as stored: shape (without the batch axis) and row-major values.
#[derive(Clone, Debug, PartialEq)]
pub struct Alpha {
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// A model's layers, and its weights file when it came from a `.keras` archive.
#[derive(Clone, Debug)]
pub struct KerasModel {
    /// The Keras version that wrote the model (and whose rules read it).
    pub version: KerasVersion,
    pub layers: Vec<ModelLayer>,
    weights: Option<Vec<u8>>,
}

fn file_error(what: &str, message: impl std::fmt::Display) -> Error {
    Error::KerasFile {
        what: what.into(),
        message: message.to_string(),
    }
}

/// Keras's `to_snake_case`: `PReLU` → `p_re_lu`, `InputLayer` → `input_layer`.
pub fn snake_case(name: &str) -> String {
    let c: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &ch) in c.iter().enumerate() {
        if i > 0 && ch.is_ascii_uppercase() {
            let prev = c[i - 1];
            let next_lower = c.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            // `(.)([A-Z][a-z]+)` then `([a-z])([A-Z])`.
            if (next_lower || prev.is_ascii_lowercase() || prev.is_ascii_digit())
                && !out.ends_with('_')
            {
                out.push('_');
            }
        }
        out.push(ch.to_ascii_lowercase());
    }
    out
}

impl KerasModel {
    /// Reads a `.keras` archive (detected by its zip signature) or a JSON model file.
    ///
    /// # Errors
    /// [`Error::KerasFile`] for an unreadable file or one that is neither form.
    pub fn open(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| file_error(&path.display().to_string(), e))?;
        if bytes.starts_with(b"PK") {
            Self::from_keras_archive(&bytes)
        } else {
            let text = std::str::from_utf8(&bytes)
                .map_err(|e| file_error(&path.display().to_string(), e))?;
            Self::from_json(text)
        }
    }

    /// Reads a `.keras` archive: `config.json` for the layers, `model.weights.h5` kept for
    /// [`Self::prelu_alpha`].
    ///
    /// # Errors
    /// [`Error::KerasFile`] for a broken archive or a missing `config.json`.
    pub fn from_keras_archive(bytes: &[u8]) -> Result<Self> {
        let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
            .map_err(|e| file_error(".keras archive", e))?;
        let mut member = |name: &str| -> Result<Option<Vec<u8>>> {
            let mut f = match zip.by_name(name) {
                Ok(f) => f,
                Err(zip::result::ZipError::FileNotFound) => return Ok(None),
                Err(e) => return Err(file_error(name, e)),
            };
            let mut out = Vec::new();
            f.read_to_end(&mut out).map_err(|e| file_error(name, e))?;
            Ok(Some(out))
        };
        let config = member("config.json")?
            .ok_or_else(|| file_error(".keras archive", "no config.json member"))?;
        let weights = member("model.weights.h5")?;
        let text = std::str::from_utf8(&config).map_err(|e| file_error("config.json", e))?;
        let mut model = Self::from_json(text)?;
        model.weights = weights;
        Ok(model)
    }

    /// Reads a model's JSON: Keras 3's `config.json` or tf_keras's `to_json()` (told apart by
    /// `keras_version`, else by the layers' dtype form).
    ///
    /// # Errors
    /// [`Error::KerasFile`] for invalid JSON or JSON without `config.layers`.
    pub fn from_json(text: &str) -> Result<Self> {
        let value: Value = serde_json::from_str(text).map_err(|e| file_error("model JSON", e))?;
        Self::from_value(&value)
    }

    /// As [`Self::from_json`], from parsed JSON.
    ///
    /// # Errors
    /// [`Error::KerasFile`] for JSON without `config.layers`.
    pub fn from_value(value: &Value) -> Result<Self> {
        let layers = value
            .get("config")
            .and_then(|c| c.get("layers"))
            .and_then(Value::as_array)
            .ok_or_else(|| file_error("model JSON", "no config.layers list"))?;
        let version = match value.get("keras_version").and_then(Value::as_str) {
            Some(v) if v.starts_with('2') => KerasVersion::Keras2,
            Some(_) => KerasVersion::Keras3,
            // Keras 3's config.json is a serialized object: it has a module.
            None if value.get("module").is_some() => KerasVersion::Keras3,
            None => layers
                .iter()
                .filter(|l| {
                    let class = l.get("class_name").and_then(Value::as_str).unwrap_or("");
                    CLASS_NAMES.contains(&class.rsplit('.').next().unwrap_or(""))
                })
                .find_map(KerasVersion::detect)
                .unwrap_or(KerasVersion::Keras3),
        };
        let mut seen: Vec<String> = Vec::new();
        let mut out = Vec::new();
        for (i, layer) in layers.iter().enumerate() {
            let class_name = layer
                .get("class_name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let name = layer
                .get("name")
                .or_else(|| layer.get("config").and_then(|c| c.get("name")))
                .and_then(Value::as_str)
                .map_or_else(|| format!("layer_{i}"), str::to_string);
            let snake = snake_case(class_name.rsplit('.').next().unwrap_or(""));
            let n = seen.iter().filter(|s| **s == snake).count();
            seen.push(snake.clone());
            let weights_path = if n == 0 {
                format!("layers/{snake}")
            } else {
                format!("layers/{snake}_{n}")
            };
            let input_shape = layer
                .get("build_config")
                .and_then(|b| b.get("input_shape"))
                .or_else(|| layer.get("config").and_then(|c| c.get("batch_input_shape")))
                .and_then(Value::as_array)
                .map(|dims| {
                    dims.iter()
                        .map(|d| d.as_u64().map(|d| d as usize))
                        .collect()
                });
            let short = class_name.rsplit('.').next().unwrap_or("");
            let entry = if CLASS_NAMES.contains(&short) {
                match KerasLayer::deserialize(layer, version) {
                    Ok(l) => LayerEntry::Accepted(l),
                    Err(e) => LayerEntry::Rejected(e),
                }
            } else {
                LayerEntry::Skipped
            };
            out.push(ModelLayer {
                name,
                class_name,
                input_shape,
                entry,
                weights_path,
            });
        }
        Ok(KerasModel {
            version,
            layers: out,
            weights: None,
        })
    }

    /// Whether the model came with `model.weights.h5`.
    pub fn has_weights(&self) -> bool {
        self.weights.is_some()
    }

    /// The layer named `name`.
    pub fn layer(&self, name: &str) -> Option<&ModelLayer> {
        self.layers.iter().find(|l| l.name == name)
    }

    /// PReLU `name`'s alpha from `model.weights.h5` (`<weights_path>/vars/0`), its shape
    /// checked against the layer's input shape and shared axes.
    ///
    /// # Errors
    /// [`Error::KerasFile`] when the model has no weights, the layer is not an accepted
    /// PReLU, the dataset is missing or not float32, or its shape does not fit.
    pub fn prelu_alpha(&self, name: &str) -> Result<Alpha> {
        let weights = self
            .weights
            .as_deref()
            .ok_or_else(|| file_error(name, "the model has no model.weights.h5"))?;
        let layer = self
            .layer(name)
            .ok_or_else(|| file_error(name, "no layer of that name"))?;
        let LayerEntry::Accepted(keras) = &layer.entry else {
            return Err(file_error(name, "not an accepted layer"));
        };
        let super::LayerParams::PReLU { shared_axes, .. } = &keras.params else {
            return Err(file_error(name, "not a PReLU layer"));
        };
        let path = format!("{}/vars/0", layer.weights_path);
        let file = hdf5_reader::Hdf5File::from_bytes(weights)
            .map_err(|e| file_error("model.weights.h5", e))?;
        let dataset = file.dataset(&path).map_err(|e| file_error(&path, e))?;
        let shape: Vec<usize> = dataset.shape().iter().map(|&d| d as usize).collect();
        if let Some(input) = &layer.input_shape {
            let mut expected: Vec<Option<usize>> = input.iter().skip(1).copied().collect();
            for &a in shared_axes.iter().flatten() {
                if a >= 1 && (a as usize) <= expected.len() {
                    expected[a as usize - 1] = Some(1);
                }
            }
            let fits = expected.len() == shape.len()
                && expected
                    .iter()
                    .zip(&shape)
                    .all(|(e, s)| e.is_none_or(|e| e == *s));
            if !fits {
                return Err(file_error(
                    &path,
                    format!(
                        "alpha has shape {shape:?}, the layer's input {input:?} needs {expected:?}"
                    ),
                ));
            }
        }
        let n: usize = shape.iter().product();
        let mut values = vec![0f32; n];
        dataset
            .read_into::<f32>(&mut values)
            .map_err(|e| file_error(&path, e))?;
        Ok(Alpha { shape, values })
    }
}
