//! `wgact keras FILE [--to keras2|keras3] [--weights]`: the activation layers of a Keras file,
//! one JSON object per line, their configs re-written for the requested Keras version.
//!
//! Exit status: 0 every activation layer accepted, 1 some rejected, 2 the file is not a layer
//! config, serialized layer, list of them, model JSON or `.keras` archive.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde_json::{json, Value};
use wgpu_activations::keras::{KerasLayer, KerasModel, KerasVersion, LayerEntry};
use wgpu_activations::Error;

#[derive(Args)]
pub struct KerasArgs {
    /// A serialized layer ({"class_name", "config"}), a JSON list of them, a `to_json()` /
    /// `config.json` model, or a `.keras` archive.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Write the configs for this Keras version (default: the file's own).
    #[arg(long, value_name = "keras2|keras3", value_parser = parse_version)]
    to: Option<KerasVersion>,
    /// Add PReLU's alpha (shape and values) from a `.keras` archive's weights.
    #[arg(long)]
    weights: bool,
}

fn parse_version(s: &str) -> Result<KerasVersion, String> {
    KerasVersion::parse(s).map_err(|e| e.to_string())
}

/// One activation layer: its name, and its Keras reading or why it was rejected.
struct Row {
    name: String,
    layer: Result<KerasLayer, Error>,
}

/// The layers of a file, and the model when it is one.
fn read(file: &std::path::Path) -> Result<(KerasVersion, Vec<Row>, Option<KerasModel>), Error> {
    let bytes = std::fs::read(file).map_err(|e| Error::KerasFile {
        what: file.display().to_string(),
        message: e.to_string(),
    })?;
    if bytes.starts_with(b"PK") {
        let model = KerasModel::from_keras_archive(&bytes)?;
        return Ok((model.version, model_rows(&model), Some(model)));
    }
    let not_keras = |message: String| Error::KerasFile {
        what: file.display().to_string(),
        message,
    };
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| not_keras(e.to_string()))?;
    if value.get("config").and_then(|c| c.get("layers")).is_some() {
        let model = KerasModel::from_value(&value)?;
        return Ok((model.version, model_rows(&model), Some(model)));
    }
    let items: Vec<&Value> = match &value {
        Value::Array(items) => items.iter().collect(),
        single => vec![single],
    };
    if items.is_empty()
        || !items
            .iter()
            .all(|v| v.get("class_name").is_some_and(Value::is_string) && v.get("config").is_some())
    {
        return Err(not_keras(
            "not a serialized layer ({\"class_name\", \"config\"}), a list of them, a model \
             JSON or a .keras archive"
                .into(),
        ));
    }
    let version = items
        .iter()
        .find_map(|v| KerasVersion::detect(v))
        .unwrap_or(KerasVersion::Keras3);
    let rows = items
        .iter()
        .enumerate()
        .map(|(i, v)| Row {
            name: v["config"]
                .get("name")
                .and_then(Value::as_str)
                .map_or_else(|| format!("layer_{i}"), str::to_string),
            layer: KerasLayer::deserialize(v, version),
        })
        .collect();
    Ok((version, rows, None))
}

fn model_rows(model: &KerasModel) -> Vec<Row> {
    let mut rows = Vec::new();
    for l in &model.layers {
        let layer = match &l.entry {
            LayerEntry::Accepted(k) => Ok(k.clone()),
            LayerEntry::Rejected(e) => Err(e.clone()),
            LayerEntry::Skipped => {
                eprintln!(
                    "# skipped {} ({}): not an advanced activation",
                    l.name, l.class_name
                );
                continue;
            }
        };
        rows.push(Row {
            name: l.name.clone(),
            layer,
        });
    }
    rows
}

pub fn run(args: &KerasArgs) -> Result<ExitCode, Error> {
    let (version, rows, model) = read(&args.file)?;
    let target = args.to.unwrap_or(version);
    let mut rejected = 0;
    for row in rows {
        let line =
            row.layer.and_then(|layer| {
                let mut out = json!({
                    "name": row.name,
                    "class_name": layer.class_name(),
                    "config": layer.to_config(target)?,
                });
                if args.weights && layer.class_name() == "PReLU" {
                    let model = model.as_ref().filter(|m| m.has_weights()).ok_or_else(|| {
                        Error::KerasFile {
                            what: args.file.display().to_string(),
                            message: "--weights needs a .keras archive with model.weights.h5"
                                .into(),
                        }
                    })?;
                    let alpha = model.prelu_alpha(&row.name)?;
                    out["alpha"] = json!({"shape": alpha.shape, "values": alpha.values});
                }
                Ok(out)
            });
        match line {
            Ok(out) => println!("{out}"),
            Err(e) => {
                rejected += 1;
                println!("{}", json!({"name": row.name, "error": e.to_string()}));
            }
        }
    }
    Ok(if rejected > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
