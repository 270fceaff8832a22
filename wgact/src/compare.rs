//! Comparing GPU results with references: ulp distances and the documented tolerances.
//!
//! Rules: zeros of either sign are equal, NaN equals NaN, infinities equal same-signed
//! infinities; otherwise `|actual - expected| <= max(abs, ulps * ulp(expected))`.
//! Where an input is denormal, a result computed as if it had been flushed to zero is
//! accepted too ([`Comparison::alternative`]): GPUs and TensorFlow's SIMD loops flush.

pub mod f16;
pub mod prelu;
pub mod softmax;

/// A tolerance: exact is `Tolerance::EXACT`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    /// Units in the last place of the expected value.
    pub ulps: u32,
    /// Absolute floor.
    pub abs: f32,
}

impl Tolerance {
    pub const EXACT: Tolerance = Tolerance { ulps: 0, abs: 0.0 };

    /// Whether `actual` is acceptable for `expected`.
    pub fn accepts(&self, actual: f32, expected: f32) -> bool {
        if actual.is_nan() || expected.is_nan() {
            return actual.is_nan() && expected.is_nan();
        }
        if actual == expected {
            return true; // covers +-0 and same-signed infinities
        }
        if actual.is_infinite() || expected.is_infinite() {
            return false;
        }
        let diff = (actual as f64 - expected as f64).abs();
        diff <= self.abs as f64 || ulp_distance(actual, expected) <= self.ulps as u64
    }
}

/// Distance in representable f32 values between `a` and `b` (0 for +0 and -0; `u64::MAX`
/// when exactly one of them is NaN).
pub fn ulp_distance(a: f32, b: f32) -> u64 {
    if a.is_nan() || b.is_nan() {
        return if a.is_nan() && b.is_nan() {
            0
        } else {
            u64::MAX
        };
    }
    fn ordered(v: f32) -> i64 {
        let bits = v.to_bits() as i32;
        if bits < 0 {
            -((bits & 0x7fff_ffff) as i64)
        } else {
            bits as i64
        }
    }
    ordered(a).abs_diff(ordered(b))
}

/// Flushes a denormal to a zero of the same sign, as FTZ/DAZ hardware does.
pub fn flush_denormal(v: f32) -> f32 {
    if v.is_subnormal() {
        0.0f32.copysign(v)
    } else {
        v
    }
}

/// The worst element of a failed comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct Mismatch {
    pub index: usize,
    pub actual: f32,
    pub expected: f32,
    pub ulps: u64,
    /// How many elements failed.
    pub count: usize,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} element(s) off; worst at index {}: actual {:e} ({:#010x}), expected {:e} ({:#010x}), {} ulp",
            self.count,
            self.index,
            self.actual,
            self.actual.to_bits(),
            self.expected,
            self.expected.to_bits(),
            if self.ulps == u64::MAX { "inf".to_string() } else { self.ulps.to_string() }
        )
    }
}

/// A comparison of `actual` against `expected` under `tolerance`.
pub struct Comparison<'a> {
    pub actual: &'a [f32],
    pub expected: &'a [f32],
    pub tolerance: Tolerance,
    /// Per-element tolerance scale (e.g. `|alpha * dy|`), multiplying `tolerance.abs`.
    pub abs_scale: Option<&'a [f32]>,
    /// A second acceptable result (e.g. with denormal inputs flushed), element by element.
    pub alternative: Option<&'a [f32]>,
    /// Compare with denormals flushed to zero on both sides (FTZ hardware).
    pub flush_denormals: bool,
}

impl<'a> Comparison<'a> {
    pub fn new(actual: &'a [f32], expected: &'a [f32], tolerance: Tolerance) -> Self {
        Self {
            actual,
            expected,
            tolerance,
            abs_scale: None,
            alternative: None,
            flush_denormals: false,
        }
    }

    /// `Ok` when every element is acceptable, else the worst mismatch. A length difference
    /// is reported at the first index past the shorter slice.
    pub fn check(&self) -> Result<(), Mismatch> {
        if self.actual.len() != self.expected.len() {
            let index = self.actual.len().min(self.expected.len());
            return Err(Mismatch {
                index,
                actual: self.actual.get(index).copied().unwrap_or(f32::NAN),
                expected: self.expected.get(index).copied().unwrap_or(f32::NAN),
                ulps: u64::MAX,
                count: self.actual.len().abs_diff(self.expected.len()),
            });
        }
        let mut worst: Option<Mismatch> = None;
        let mut count = 0;
        for (i, (&a, &e)) in self.actual.iter().zip(self.expected).enumerate() {
            let mut tol = self.tolerance;
            if let Some(scale) = self.abs_scale {
                tol.abs *= scale[i].abs();
            }
            let f = |v: f32| {
                if self.flush_denormals {
                    flush_denormal(v)
                } else {
                    v
                }
            };
            let ok = tol.accepts(f(a), f(e))
                || self
                    .alternative
                    .is_some_and(|alt| tol.accepts(f(a), f(alt[i])));
            if !ok {
                count += 1;
                let ulps = ulp_distance(a, e);
                if worst.as_ref().is_none_or(|w| ulps > w.ulps) {
                    worst = Some(Mismatch {
                        index: i,
                        actual: a,
                        expected: e,
                        ulps,
                        count: 0,
                    });
                }
            }
        }
        match worst {
            None => Ok(()),
            Some(mut w) => {
                w.count = count;
                Err(w)
            }
        }
    }
}
