//! Distances between halves, for judging float16 results in half ulps.

use wgpu_activations::half::f16;

/// Half ulps between two halves: 0 for NaN vs NaN and +0 vs -0, `u32::MAX` for NaN vs a
/// number.
pub fn half_ulps(a: f32, b: f32) -> u32 {
    if a.is_nan() || b.is_nan() {
        return if a.is_nan() && b.is_nan() {
            0
        } else {
            u32::MAX
        };
    }
    let ordered = |v: f32| {
        let bits = f16::from_f32(v).to_bits() as i32;
        if bits & 0x8000 != 0 {
            -(bits & 0x7fff)
        } else {
            bits
        }
    };
    (ordered(a) - ordered(b)).unsigned_abs()
}

/// The spacing of halves at |v| (2^-24 among denormals).
pub fn ulp16(v: f32) -> f32 {
    let v = f16::from_f32(v.abs()).to_f32();
    if !v.is_finite() {
        return f32::INFINITY;
    }
    if v < 2f32.powi(-14) {
        2f32.powi(-24)
    } else {
        2f32.powi(v.log2().floor() as i32 - 10)
    }
}

/// Whether x's exp lies within 4 f32 ulps of a midpoint between two halves.
pub fn exp_near_half_midpoint(x: f32) -> bool {
    if x.is_nan() || x >= 0.0 || !x.is_finite() {
        return false;
    }
    let e = (x as f64).exp();
    let lo = f16::from_f64(e);
    let up = f16::from_bits(lo.to_bits() + 1).to_f64();
    let down = f16::from_bits(lo.to_bits().saturating_sub(1)).to_f64();
    let other = if up - e < e - down { up } else { down };
    let mid = (lo.to_f64() + other) / 2.0;
    (e - mid).abs() <= 4.0 * e * f32::EPSILON as f64
}
