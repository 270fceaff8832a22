//! Keras constraints for PReLU's alpha, applied on the CPU (alpha is small).
//!
//! Norms are taken over `axis` of alpha's shape (Keras's `reduce_sum(square(w), axis,
//! keepdims=True)`), summed in f64 and rounded to f32; the formulas and
//! `epsilon = 1e-7` are Keras's.

use crate::error::{Error, Result};

/// Keras's `backend.epsilon()`.
pub const EPSILON: f32 = 1e-7;

/// `non_neg`, `max_norm(max_value=2, axis=0)`, `min_max_norm(min_value=0, max_value=1,
/// rate=1, axis=0)` or `unit_norm(axis=0)`. Axes may be negative (counted from the end of
/// alpha's shape) and must lie in `[-rank, rank)` of alpha's shape.
#[derive(Clone, Debug, PartialEq)]
pub enum Constraint {
    /// `w * [w >= 0]`.
    NonNeg,
    /// `w * clip(norm, 0, max_value) / (epsilon + norm)`.
    MaxNorm { max_value: f32, axis: Vec<i64> },
    /// `w * (rate * clip(norm, min_value, max_value) + (1 - rate) * norm) / (epsilon + norm)`.
    MinMaxNorm {
        min_value: f32,
        max_value: f32,
        rate: f32,
        axis: Vec<i64>,
    },
    /// `w / (epsilon + norm)`.
    UnitNorm { axis: Vec<i64> },
}

impl Constraint {
    pub fn non_neg() -> Self {
        Constraint::NonNeg
    }
    pub fn max_norm() -> Self {
        Constraint::MaxNorm {
            max_value: 2.0,
            axis: vec![0],
        }
    }
    pub fn min_max_norm() -> Self {
        Constraint::MinMaxNorm {
            min_value: 0.0,
            max_value: 1.0,
            rate: 1.0,
            axis: vec![0],
        }
    }
    pub fn unit_norm() -> Self {
        Constraint::UnitNorm { axis: vec![0] }
    }

    /// # Errors
    /// [`Error::InvalidParameter`] for NaN / infinite values.
    pub fn validate(&self) -> Result<()> {
        let values: Vec<(&'static str, f32)> = match self {
            Constraint::NonNeg | Constraint::UnitNorm { .. } => vec![],
            Constraint::MaxNorm { max_value, .. } => vec![("max_value", *max_value)],
            Constraint::MinMaxNorm {
                min_value,
                max_value,
                rate,
                ..
            } => vec![
                ("min_value", *min_value),
                ("max_value", *max_value),
                ("rate", *rate),
            ],
        };
        for (name, v) in values {
            if !v.is_finite() {
                return Err(Error::InvalidParameter {
                    layer: "PReLU alpha_constraint",
                    name,
                    value: v.to_string(),
                    reason: "must be a finite number",
                });
            }
        }
        Ok(())
    }

    /// The constrained alpha of `shape`.
    ///
    /// # Errors
    /// [`Error::AxisOutOfRange`] for an axis outside `[-rank, rank)` of `shape`.
    pub fn apply(&self, alpha: &[f32], shape: &[usize]) -> Result<Vec<f32>> {
        let norm_scale = |axis: &[i64], scale: &dyn Fn(f32) -> f32| -> Result<Vec<f32>> {
            let norms = norms(alpha, shape, axis)?;
            Ok(alpha
                .iter()
                .zip(norms)
                .map(|(&w, n)| w * scale(n))
                .collect())
        };
        match self {
            Constraint::NonNeg => Ok(alpha
                .iter()
                .map(|&w| w * if w >= 0.0 { 1.0 } else { 0.0 })
                .collect()),
            Constraint::MaxNorm { max_value, axis } => {
                norm_scale(axis, &|n| n.clamp(0.0, *max_value) / (EPSILON + n))
            }
            Constraint::MinMaxNorm {
                min_value,
                max_value,
                rate,
                axis,
            } => norm_scale(axis, &|n| {
                let desired = rate * n.max(*min_value).min(*max_value) + (1.0 - rate) * n;
                desired / (EPSILON + n)
            }),
            Constraint::UnitNorm { axis } => {
                let norms = norms(alpha, shape, axis)?;
                Ok(alpha
                    .iter()
                    .zip(norms)
                    .map(|(&w, n)| w / (EPSILON + n))
                    .collect())
            }
        }
    }
}

/// For every element, `sqrt(Σ w²)` over the elements that differ from it only along `axis`.
fn norms(alpha: &[f32], shape: &[usize], axis: &[i64]) -> Result<Vec<f32>> {
    let rank = shape.len();
    let mut reduced = vec![false; rank];
    for &a in axis {
        let r = rank as i64;
        if a < -r || a >= r {
            return Err(Error::AxisOutOfRange { axis: a, rank });
        }
        reduced[a.rem_euclid(r.max(1)) as usize] = true;
    }
    // Key of an element: its coordinates with the reduced ones set to 0.
    let key = |mut i: usize| {
        let mut k = 0;
        let mut stride = 1;
        for d in (0..rank).rev() {
            let c = i % shape[d];
            i /= shape[d];
            if !reduced[d] {
                k += c * stride;
            }
            stride *= shape[d];
        }
        k
    };
    let mut sums = vec![0f64; alpha.len()];
    for (i, &w) in alpha.iter().enumerate() {
        let w = w as f64;
        sums[key(i)] += w * w;
    }
    Ok((0..alpha.len())
        .map(|i| (sums[key(i)] as f32).sqrt())
        .collect())
}
