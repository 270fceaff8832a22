//! The reference-vector file format (`tests/data/cases.json`, TensorFlow's outputs).
//!
//! A JSON list of case objects; finite numbers are JSON numbers, non-finite ones the strings
//! `"NaN"`, `"Infinity"` and `"-Infinity"`; arrays are flat and row-major. Parsing never
//! panics: a malformed file is a [`CaseError`] naming the case and the field.
//!
//! A case with `"dtype": "float16"` (`tests/data/cases_f16.json`) holds halves: its numbers
//! are rounded straight from their decimal to the nearest half, it runs on f16 tensors, and
//! `params_f16` gives the parameters as TensorFlow rounds them (checked against the
//! library's own rounding when judged).

use serde_json::{Map, Value};
use wgpu_activations::Elementwise;

use wgpu_activations::element_count;
use wgpu_activations::DType;
use wgpu_activations::Error;

/// One reference case.
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    pub name: String,
    pub op: String,
    /// The effective Keras parameters (`null` = None).
    pub params: Map<String, Value>,
    pub shape: Vec<usize>,
    pub x: Vec<f32>,
    pub dy: Vec<f32>,
    pub y: Option<Vec<f32>>,
    pub dx: Option<Vec<f32>>,
    /// PReLU only.
    pub alpha_shape: Option<Vec<usize>>,
    pub alpha: Option<Vec<f32>>,
    pub dalpha: Option<Vec<f32>>,
    /// Results depend on denormal flushing: a flushed or unflushed denormal is accepted.
    pub ftz_dependent: bool,
    /// The library must reject this case's parameters.
    pub expect_error: bool,
    /// `"dtype"`: `float32` (the default) or `float16`.
    pub dtype: DType,
    /// float16 cases: the parameters as TensorFlow uses them, rounded to half.
    pub params_f16: Option<Map<String, Value>>,
    /// Free-text notes (float16 reduction cases name TensorFlow's half-precision
    /// accumulation artefacts there).
    pub notes: String,
}

/// What is wrong with a case file.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CaseError {
    #[error("not valid JSON: {0}")]
    Json(String),
    #[error("the file must be a JSON list of case objects")]
    NotAList,
    #[error("case {case}: field `{field}`: {problem}")]
    Field {
        case: String,
        field: String,
        problem: String,
    },
}

/// The ops a case may name: every elementwise op of the table, `prelu` and `softmax`.
pub fn ops() -> Vec<&'static str> {
    let mut ops: Vec<&'static str> = Elementwise::defaults().iter().map(|op| op.name()).collect();
    ops.extend(["prelu", "softmax"]);
    ops
}

fn field_error(case: &str, field: &str, problem: impl Into<String>) -> CaseError {
    CaseError::Field {
        case: case.to_string(),
        field: field.to_string(),
        problem: problem.into(),
    }
}

fn number(v: &Value, dtype: DType) -> Option<f32> {
    match v {
        Value::Number(n) => n.as_f64().map(|f| match dtype {
            DType::F32 => f as f32,
            // Straight from the decimal to the half (no f32 step in between).
            DType::F16 => wgpu_activations::half::f16::from_f64(f).to_f32(),
        }),
        Value::String(s) => match s.as_str() {
            "NaN" => Some(f32::NAN),
            "Infinity" => Some(f32::INFINITY),
            "-Infinity" => Some(f32::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    }
}

fn floats(
    case: &str,
    obj: &Map<String, Value>,
    field: &str,
    dtype: DType,
) -> Result<Option<Vec<f32>>, CaseError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                number(v, dtype).ok_or_else(|| {
                    field_error(case, field, format!("element {i} is not a number: {v}"))
                })
            })
            .collect::<Result<Vec<f32>, _>>()
            .map(Some),
        Some(other) => Err(field_error(
            case,
            field,
            format!("expected an array, got {other}"),
        )),
    }
}

fn dims(
    case: &str,
    obj: &Map<String, Value>,
    field: &str,
) -> Result<Option<Vec<usize>>, CaseError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_u64()
                    .and_then(|d| usize::try_from(d).ok())
                    .ok_or_else(|| field_error(case, field, format!("{v} is not a dimension")))
            })
            .collect::<Result<Vec<usize>, _>>()
            .map(Some),
        Some(other) => Err(field_error(
            case,
            field,
            format!("expected a list of dimensions, got {other}"),
        )),
    }
}

fn parse_case(index: usize, value: &Value) -> Result<Case, CaseError> {
    let obj = value
        .as_object()
        .ok_or_else(|| field_error(&format!("#{index}"), "", "a case must be a JSON object"))?;
    let name = match obj.get("name") {
        Some(Value::String(s)) => s.clone(),
        _ => {
            return Err(field_error(
                &format!("#{index}"),
                "name",
                "missing or not a string",
            ))
        }
    };
    let op = match obj.get("op") {
        Some(Value::String(s)) if ops().contains(&s.as_str()) => s.clone(),
        Some(other) => {
            return Err(field_error(
                &name,
                "op",
                format!("unknown op {other}; expected one of {:?}", ops()),
            ))
        }
        None => return Err(field_error(&name, "op", "missing")),
    };
    let params = match obj.get("params") {
        Some(Value::Object(m)) => m.clone(),
        None | Some(Value::Null) => Map::new(),
        Some(other) => {
            return Err(field_error(
                &name,
                "params",
                format!("expected an object, got {other}"),
            ))
        }
    };
    let dtype = match obj.get("dtype") {
        None | Some(Value::Null) => DType::F32,
        Some(Value::String(s)) if s == "float32" => DType::F32,
        Some(Value::String(s)) if s == "float16" => DType::F16,
        Some(other) => {
            return Err(field_error(
                &name,
                "dtype",
                format!("expected \"float32\" or \"float16\", got {other}"),
            ))
        }
    };
    let params_f16 = match obj.get("params_f16") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m.clone()),
        Some(other) => {
            return Err(field_error(
                &name,
                "params_f16",
                format!("expected an object, got {other}"),
            ))
        }
    };
    let notes = match obj.get("notes") {
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    };
    let shape = dims(&name, obj, "shape")?.ok_or_else(|| field_error(&name, "shape", "missing"))?;
    let len =
        element_count(&shape).ok_or_else(|| field_error(&name, "shape", "too many elements"))?;
    let sized =
        |field: &str, required: bool, expected: usize| -> Result<Option<Vec<f32>>, CaseError> {
            let v = floats(&name, obj, field, dtype)?;
            match &v {
                None if required => Err(field_error(&name, field, "missing")),
                Some(a) if a.len() != expected => Err(field_error(
                    &name,
                    field,
                    format!("has {} elements, but the shape holds {expected}", a.len()),
                )),
                _ => Ok(v),
            }
        };
    let flag = |field: &str| -> Result<bool, CaseError> {
        match obj.get(field) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(field_error(
                &name,
                field,
                format!("expected true or false, got {other}"),
            )),
        }
    };
    let expect_error = flag("expect_error")?;
    let x = sized("x", true, len)?.unwrap_or_default();
    let dy = sized("dy", !expect_error, len)?.unwrap_or_default();
    let alpha_shape = dims(&name, obj, "alpha_shape")?;
    let alpha_len = alpha_shape.as_deref().and_then(element_count).unwrap_or(0);
    let case = Case {
        y: sized("y", false, len)?,
        dx: sized("dx", false, len)?,
        alpha: sized("alpha", false, alpha_len)?,
        dalpha: sized("dalpha", false, alpha_len)?,
        alpha_shape,
        ftz_dependent: flag("ftz_dependent")?,
        expect_error,
        dtype,
        params_f16,
        notes,
        name,
        op,
        params,
        shape,
        x,
        dy,
    };
    if case.op == "prelu" && case.alpha.is_some() != case.alpha_shape.is_some() {
        return Err(field_error(
            &case.name,
            "alpha",
            "alpha and alpha_shape come together",
        ));
    }
    Ok(case)
}

/// Parses a case file.
///
/// # Errors
/// [`CaseError`] naming the case and field for anything malformed.
pub fn parse_cases(text: &str) -> Result<Vec<Case>, CaseError> {
    let value: Value = serde_json::from_str(text).map_err(|e| CaseError::Json(e.to_string()))?;
    let list = value.as_array().ok_or(CaseError::NotAList)?;
    list.iter()
        .enumerate()
        .map(|(i, v)| parse_case(i, v))
        .collect()
}

/// A float parameter: absent means the Keras default; `null` means None, which Keras
/// rejects for every parameter below but ReLU's max_value.
pub(crate) fn param(
    case: &Case,
    layer: &'static str,
    name: &'static str,
    default: f32,
) -> Result<f32, Error> {
    match case.params.get(name) {
        None => Ok(default),
        Some(v) => number(v, DType::F32).ok_or_else(|| Error::InvalidParameter {
            layer,
            name,
            value: v.to_string(),
            reason: "cannot be None, expecting a float",
        }),
    }
}
