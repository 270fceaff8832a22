//! The tooling's side of the elementwise op table: for every [`Elementwise`] op, the
//! parameter presets `wgact check` and the tests run, the kink points inputs cluster around,
//! the documented tolerance, and how a reference case names it. Every method is an exhaustive
//! `match`, so a new op does not compile until each is written (the library's side, WGSL and
//! CPU reference, lives in `wgpu_activations::elementwise` and `reference`).

use serde_json::Value;
use wgpu_activations::{Direction, Elementwise, Error, LeakyReLU, ReLU, ThresholdedReLU, ELU};

use crate::cases::{param, Case};
use crate::compare::Tolerance;

/// What the tooling knows about each elementwise op; `use wgact::ops::ElementwiseOps` to call
/// these as `Elementwise::presets()`, `op.kinks()`, ...
pub trait ElementwiseOps: Sized {
    /// The parameter presets `wgact check` and the tests run: Keras defaults, zero, the
    /// values of the reference file, negative alphas Keras accepts, and every ReLU path.
    fn presets() -> Vec<Self>;
    /// The points where this op's value or gradient changes rule.
    fn kinks(&self) -> Vec<f32>;
    /// The documented tolerance of one direction.
    fn tolerance(&self, direction: Direction) -> Tolerance;
    /// Whether the backward tolerance scales with `|dy|`.
    fn tolerance_scales_with_dy(&self) -> bool;
    /// Builds the op a reference case names, with Keras's defaults and validation; `None`
    /// when the case's op is not elementwise.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for parameters Keras rejects.
    fn from_case(case: &Case) -> Option<Result<Self, Error>>;
    /// The rows `wgact bench` measures for this op (called on [`Elementwise::defaults`]):
    /// `(label, op)`, the default parameters first.
    fn bench_presets(&self) -> Vec<(&'static str, Self)>;
}

impl ElementwiseOps for Elementwise {
    fn presets() -> Vec<Elementwise> {
        let relu = |mv, ns, th| ReLU::new(mv, ns, th).map(Elementwise::from);
        let mut all = Vec::new();
        for op in Elementwise::defaults() {
            all.push(Ok(op));
            match op {
                Elementwise::LeakyReLU(_) => all.extend([
                    LeakyReLU::new(0.0).map(Elementwise::from),
                    LeakyReLU::new(0.01).map(Elementwise::from),
                    LeakyReLU::new(1.5).map(Elementwise::from),
                    LeakyReLU::new(-1.0).map(Elementwise::from),
                ]),
                Elementwise::ELU(_) => all.extend([
                    ELU::new(0.5).map(Elementwise::from),
                    ELU::new(2.0).map(Elementwise::from),
                    ELU::new(0.0).map(Elementwise::from),
                    ELU::new(-1.0).map(Elementwise::from),
                ]),
                Elementwise::ThresholdedReLU(_) => all.extend([
                    ThresholdedReLU::new(0.0).map(Elementwise::from),
                    ThresholdedReLU::new(2.5).map(Elementwise::from),
                ]),
                Elementwise::ReLU(_) => all.extend([
                    relu(Some(6.0), 0.0, 0.0),
                    relu(None, 0.1, 0.0),
                    relu(None, 0.0, 0.5),
                    relu(Some(6.0), 0.1, 0.5),
                    relu(Some(0.0), 0.0, 0.0),
                    relu(Some(2.5), 0.0, 0.0),
                    relu(Some(6.0), 0.1, 0.0),
                    relu(Some(2.5), 0.1, 0.5),
                    relu(None, 1.5, 0.0),
                    relu(Some(0.25), 0.0, 0.5),
                    relu(Some(6.0), 0.0, 0.5),
                ]),
            }
        }
        all.into_iter()
            .map(|p| p.expect("presets are valid parameters"))
            .collect()
    }

    /// The points where this op's value or gradient changes rule.
    fn kinks(&self) -> Vec<f32> {
        match self {
            Elementwise::LeakyReLU(_) => vec![0.0],
            Elementwise::ELU(_) => vec![0.0, -17.328_68, -87.336_54],
            Elementwise::ThresholdedReLU(l) => vec![0.0, l.theta()],
            Elementwise::ReLU(r) => {
                let mut k = vec![0.0, 6.0, r.threshold()];
                k.extend(r.max_value());
                k
            }
        }
    }

    /// The documented tolerance of one direction: exact for the piecewise-linear ops;
    /// for ELU, [`ELU_ULPS`] ulp with an absolute floor of [`ELU_ABS_ULPS_OF_ONE`] ulp of 1
    /// times `|alpha|` (forward) or `|alpha * dy|` (backward: scale by `|dy|`).
    fn tolerance(&self, _direction: Direction) -> Tolerance {
        match self {
            Elementwise::LeakyReLU(_) | Elementwise::ThresholdedReLU(_) | Elementwise::ReLU(_) => {
                Tolerance::EXACT
            }
            Elementwise::ELU(l) => Tolerance {
                ulps: ELU_ULPS,
                abs: ELU_ABS_ULPS_OF_ONE as f32 * f32::EPSILON / 2.0 * l.alpha().abs(),
            },
        }
    }

    /// Whether the backward tolerance scales with `|dy|`.
    fn tolerance_scales_with_dy(&self) -> bool {
        matches!(self, Elementwise::ELU(_))
    }

    /// Builds the elementwise layer a case names, with Keras's defaults and validation.
    /// `None` when the case's op is not elementwise.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for parameters Keras rejects.
    fn from_case(case: &Case) -> Option<Result<Elementwise, Error>> {
        let default = Elementwise::defaults()
            .into_iter()
            .find(|op| op.name() == case.op)?;
        Some(match default {
            Elementwise::LeakyReLU(d) => param(case, "LeakyReLU", "alpha", d.alpha())
                .and_then(LeakyReLU::new)
                .map(Into::into),
            Elementwise::ELU(d) => param(case, "ELU", "alpha", d.alpha())
                .and_then(ELU::new)
                .map(Into::into),
            Elementwise::ThresholdedReLU(d) => param(case, "ThresholdedReLU", "theta", d.theta())
                .and_then(ThresholdedReLU::new)
                .map(Into::into),
            Elementwise::ReLU(d) => (|| {
                let max_value = match case.params.get("max_value") {
                    None | Some(Value::Null) => d.max_value(),
                    Some(_) => Some(param(case, "ReLU", "max_value", 0.0)?),
                };
                let negative_slope = param(case, "ReLU", "negative_slope", d.negative_slope())?;
                let threshold = param(case, "ReLU", "threshold", d.threshold())?;
                ReLU::new(max_value, negative_slope, threshold).map(Elementwise::from)
            })(),
        })
    }

    fn bench_presets(&self) -> Vec<(&'static str, Elementwise)> {
        match self {
            Elementwise::LeakyReLU(_) | Elementwise::ELU(_) | Elementwise::ThresholdedReLU(_) => {
                vec![(self.name(), *self)]
            }
            Elementwise::ReLU(_) => {
                let relu =
                    |mv, ns, th| ReLU::new(mv, ns, th).expect("bench presets are valid parameters");
                vec![
                    ("relu", *self),
                    ("relu_max6", relu(Some(6.0), 0.0, 0.0).into()),
                    ("relu_general", relu(Some(6.0), 0.1, 0.5).into()),
                ]
            }
        }
    }
}

/// ELU's bound in ulp of the expected value.
///
/// Derived from WGSL's accuracy of `exp`, `3 + 2|x|` ulp (the GPU may use all of it): where
/// `e = exp(x)` is in `[0.5, 1)` (`x` in `[-0.69, 0)`), `exp(x) - 1` and `y1 + 1` are exact,
/// so the backward `alpha * (y1 + 1) * dy` carries at most 4.4 ulp of `e` plus two roundings:
/// under 8 ulp. Where `e < 0.5` the absolute floor covers it (below).
pub const ELU_ULPS: u32 = 8;

/// ELU's absolute floor in units of 2^-24 (half an ulp of 1), times `|alpha|` (and `|dy|`
/// backward): `exp(x)` near 1 carries its error (at most 4.4 ulp of numbers below 1, i.e.
/// 4.4 * 2^-24) into `exp(x) - 1` undivided, plus the rounding of `alpha * y1`; for `e < 0.5`
/// the error of `exp` and the rounding of `e - 1` stay below 2.7 * 2^-24.
pub const ELU_ABS_ULPS_OF_ONE: u32 = 6;
