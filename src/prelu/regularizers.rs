//! Keras regularizers for PReLU's alpha, computed on the CPU (alpha is small).

use crate::error::{Error, Result};

/// `l1(l1=0.01)`, `l2(l2=0.01)` or `l1_l2(l1=0.01, l2=0.01)`.
///
/// Penalty `l1 * Σ|alpha| + l2 * Σ alpha²` (what Keras adds to the loss), gradient
/// `l1 * sign(alpha) + 2 * l2 * alpha` with `sign(0) = 0`, as TensorFlow differentiates `abs`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Regularizer {
    L1 { l1: f32 },
    L2 { l2: f32 },
    L1L2 { l1: f32, l2: f32 },
}

impl Regularizer {
    pub fn l1() -> Self {
        Regularizer::L1 { l1: 0.01 }
    }
    pub fn l2() -> Self {
        Regularizer::L2 { l2: 0.01 }
    }
    pub fn l1_l2() -> Self {
        Regularizer::L1L2 { l1: 0.01, l2: 0.01 }
    }

    /// `(l1, l2)` factors, 0 for the absent one.
    pub fn factors(&self) -> (f32, f32) {
        match *self {
            Regularizer::L1 { l1 } => (l1, 0.0),
            Regularizer::L2 { l2 } => (0.0, l2),
            Regularizer::L1L2 { l1, l2 } => (l1, l2),
        }
    }

    /// # Errors
    /// [`Error::InvalidParameter`] for a NaN, infinite or negative factor.
    pub fn validate(&self) -> Result<()> {
        let (l1, l2) = self.factors();
        for (name, v) in [("l1", l1), ("l2", l2)] {
            if !v.is_finite() || v < 0.0 {
                return Err(Error::InvalidParameter {
                    layer: "PReLU alpha_regularizer",
                    name,
                    value: v.to_string(),
                    reason: "must be a finite, non-negative number",
                });
            }
        }
        Ok(())
    }

    /// The loss term, summed in f64 and rounded once.
    pub fn penalty(&self, alpha: &[f32]) -> f32 {
        let (l1, l2) = self.factors();
        let abs: f64 = alpha.iter().map(|&a| (a as f64).abs()).sum();
        let sq: f64 = alpha.iter().map(|&a| (a as f64) * (a as f64)).sum();
        (l1 as f64 * abs + l2 as f64 * sq) as f32
    }

    /// `d penalty / d alpha`, element by element.
    pub fn gradient(&self, alpha: &[f32]) -> Vec<f32> {
        let (l1, l2) = self.factors();
        alpha
            .iter()
            .map(|&a| {
                let sign = if a > 0.0 {
                    1.0
                } else if a < 0.0 {
                    -1.0
                } else {
                    a * 0.0 // 0, or NaN for NaN
                };
                l1 * sign + 2.0 * l2 * a
            })
            .collect()
    }
}
