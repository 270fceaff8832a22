//! Keras initializers for PReLU's alpha, deterministic given a seed.
//!
//! Random draws come from the crate's SplitMix64 generator (`crate::rng`): the same
//! seed gives the same alpha on every machine, but not the values TensorFlow would draw.
//! Fans are computed from alpha's shape as Keras's `_compute_fans` does: rank 0
//! `fan_in = fan_out = 1`; rank 1 `fan_in = fan_out = shape[0]`; rank 2 `(shape[0],
//! shape[1])`; higher ranks `receptive = prod(shape[..rank-2])`,
//! `fan_in = shape[rank-2] * receptive`, `fan_out = shape[rank-1] * receptive`.

use crate::error::{Error, Result};
use crate::rng::SplitMix64 as Rng;

/// Keras's `VarianceScaling` truncated-normal correction: the standard deviation of a unit
/// normal truncated to [-2, 2].
pub const TRUNCATED_NORMAL_STDDEV: f64 = 0.879_625_661_034_239_8;

/// How alpha is initialised (Keras names; defaults via the lowercase constructors).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Initializer {
    /// `zeros`, the Keras default for PReLU.
    #[default]
    Zeros,
    /// `ones`.
    Ones,
    /// `constant(value)`.
    Constant(f32),
    /// `random_uniform(minval=-0.05, maxval=0.05)`: uniform in `[minval, maxval)`.
    RandomUniform { minval: f32, maxval: f32, seed: u64 },
    /// `random_normal(mean=0, stddev=0.05)`.
    RandomNormal { mean: f32, stddev: f32, seed: u64 },
    /// `truncated_normal(mean=0, stddev=0.05)`: draws beyond 2 stddev are redrawn.
    TruncatedNormal { mean: f32, stddev: f32, seed: u64 },
    /// `glorot_uniform`: uniform in `±sqrt(6 / (fan_in + fan_out))`.
    GlorotUniform { seed: u64 },
    /// `glorot_normal`: truncated normal, stddev `sqrt(2 / (fan_in + fan_out)) / 0.8796…`.
    GlorotNormal { seed: u64 },
    /// `he_uniform`: uniform in `±sqrt(6 / fan_in)`.
    HeUniform { seed: u64 },
    /// `he_normal`: truncated normal, stddev `sqrt(2 / fan_in) / 0.8796…`.
    HeNormal { seed: u64 },
    /// `lecun_uniform`: uniform in `±sqrt(3 / fan_in)`.
    LecunUniform { seed: u64 },
    /// `lecun_normal`: truncated normal, stddev `sqrt(1 / fan_in) / 0.8796…`.
    LecunNormal { seed: u64 },
}

/// What a variance-scaling initializer divides `scale` by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FanMode {
    In,
    Avg,
}

impl Initializer {
    pub fn random_uniform(seed: u64) -> Self {
        Initializer::RandomUniform {
            minval: -0.05,
            maxval: 0.05,
            seed,
        }
    }
    pub fn random_normal(seed: u64) -> Self {
        Initializer::RandomNormal {
            mean: 0.0,
            stddev: 0.05,
            seed,
        }
    }
    pub fn truncated_normal(seed: u64) -> Self {
        Initializer::TruncatedNormal {
            mean: 0.0,
            stddev: 0.05,
            seed,
        }
    }

    /// The Keras name: `zeros`, `glorot_uniform`, ...
    pub fn name(&self) -> &'static str {
        match self {
            Initializer::Zeros => "zeros",
            Initializer::Ones => "ones",
            Initializer::Constant(_) => "constant",
            Initializer::RandomUniform { .. } => "random_uniform",
            Initializer::RandomNormal { .. } => "random_normal",
            Initializer::TruncatedNormal { .. } => "truncated_normal",
            Initializer::GlorotUniform { .. } => "glorot_uniform",
            Initializer::GlorotNormal { .. } => "glorot_normal",
            Initializer::HeUniform { .. } => "he_uniform",
            Initializer::HeNormal { .. } => "he_normal",
            Initializer::LecunUniform { .. } => "lecun_uniform",
            Initializer::LecunNormal { .. } => "lecun_normal",
        }
    }

    /// Rejects NaN / infinite parameters, `minval > maxval` and negative stddevs.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the parameter.
    pub fn validate(&self) -> Result<()> {
        let bad = |name: &'static str, value: f32, reason: &'static str| {
            Err(Error::InvalidParameter {
                layer: "PReLU alpha_initializer",
                name,
                value: value.to_string(),
                reason,
            })
        };
        let finite = |name, v: f32| {
            if v.is_finite() {
                Ok(())
            } else {
                bad(name, v, "must be a finite number")
            }
        };
        match *self {
            Initializer::Constant(v) => finite("value", v),
            Initializer::RandomUniform { minval, maxval, .. } => {
                finite("minval", minval)?;
                finite("maxval", maxval)?;
                if minval > maxval {
                    return bad("minval", minval, "must not exceed maxval");
                }
                Ok(())
            }
            Initializer::RandomNormal { mean, stddev, .. }
            | Initializer::TruncatedNormal { mean, stddev, .. } => {
                finite("mean", mean)?;
                finite("stddev", stddev)?;
                if stddev < 0.0 {
                    return bad("stddev", stddev, "cannot be negative");
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The values of an alpha of `shape` (row-major).
    pub fn values(&self, shape: &[usize]) -> Vec<f32> {
        let n: usize = shape.iter().product();
        let (fan_in, fan_out) = fans(shape);
        let scaled = |scale: f64, mode: FanMode| {
            let fan = match mode {
                FanMode::In => fan_in,
                FanMode::Avg => (fan_in + fan_out) / 2.0,
            };
            scale / fan.max(1.0)
        };
        let uniform = |limit: f64, seed: u64| {
            let mut rng = Rng::new(seed);
            (0..n)
                .map(|_| (-limit + 2.0 * limit * unit(&mut rng)) as f32)
                .collect::<Vec<f32>>()
        };
        let truncated = |mean: f64, stddev: f64, seed: u64| {
            let mut rng = Rng::new(seed);
            (0..n)
                .map(|_| loop {
                    let z = standard_normal(&mut rng);
                    if z.abs() <= 2.0 {
                        break (mean + stddev * z) as f32;
                    }
                })
                .collect::<Vec<f32>>()
        };
        match *self {
            Initializer::Zeros => vec![0.0; n],
            Initializer::Ones => vec![1.0; n],
            Initializer::Constant(v) => vec![v; n],
            Initializer::RandomUniform {
                minval,
                maxval,
                seed,
            } => {
                let mut rng = Rng::new(seed);
                (0..n)
                    .map(|_| {
                        let v = minval as f64 + (maxval as f64 - minval as f64) * unit(&mut rng);
                        // Rounding to f32 may reach maxval; keep the interval half-open.
                        let v = v as f32;
                        if v >= maxval && minval < maxval {
                            minval.max(next_below(maxval))
                        } else {
                            v
                        }
                    })
                    .collect()
            }
            Initializer::RandomNormal { mean, stddev, seed } => {
                let mut rng = Rng::new(seed);
                (0..n)
                    .map(|_| (mean as f64 + stddev as f64 * standard_normal(&mut rng)) as f32)
                    .collect()
            }
            Initializer::TruncatedNormal { mean, stddev, seed } => {
                truncated(mean as f64, stddev as f64, seed)
            }
            Initializer::GlorotUniform { seed } => {
                uniform((3.0 * scaled(1.0, FanMode::Avg)).sqrt(), seed)
            }
            Initializer::HeUniform { seed } => {
                uniform((3.0 * scaled(2.0, FanMode::In)).sqrt(), seed)
            }
            Initializer::LecunUniform { seed } => {
                uniform((3.0 * scaled(1.0, FanMode::In)).sqrt(), seed)
            }
            Initializer::GlorotNormal { seed } => truncated(
                0.0,
                scaled(1.0, FanMode::Avg).sqrt() / TRUNCATED_NORMAL_STDDEV,
                seed,
            ),
            Initializer::HeNormal { seed } => truncated(
                0.0,
                scaled(2.0, FanMode::In).sqrt() / TRUNCATED_NORMAL_STDDEV,
                seed,
            ),
            Initializer::LecunNormal { seed } => truncated(
                0.0,
                scaled(1.0, FanMode::In).sqrt() / TRUNCATED_NORMAL_STDDEV,
                seed,
            ),
        }
    }
}

/// `(fan_in, fan_out)` of a weight of `shape`, as Keras's `_compute_fans`.
pub fn fans(shape: &[usize]) -> (f64, f64) {
    match shape.len() {
        0 => (1.0, 1.0),
        1 => (shape[0] as f64, shape[0] as f64),
        2 => (shape[0] as f64, shape[1] as f64),
        r => {
            let receptive: usize = shape[..r - 2].iter().product();
            (
                (shape[r - 2] * receptive) as f64,
                (shape[r - 1] * receptive) as f64,
            )
        }
    }
}

/// Uniform in `[0, 1)` with 53 random bits.
fn unit(rng: &mut Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// A standard normal draw (Box–Muller, one value per pair of uniforms).
fn standard_normal(rng: &mut Rng) -> f64 {
    let u1 = 1.0 - unit(rng); // (0, 1]
    let u2 = unit(rng);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn next_below(v: f32) -> f32 {
    if v > 0.0 {
        f32::from_bits(v.to_bits() - 1)
    } else if v == 0.0 {
        -f32::from_bits(1)
    } else {
        f32::from_bits(v.to_bits() + 1)
    }
}
