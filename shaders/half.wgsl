// IEEE binary16 in f32 arithmetic, exactly, in software: every kernel with half storage, and
// every f16-flavour activation, uses these instead of `pack2x16float` / `unpack2x16float` /
// `f16(v)`, whose rounding, overflow and denormal handling WGSL leaves to the implementation.
// TensorFlow rounds to nearest even, overflows to inf and never flushes denormal halves.

// v rounded to the nearest half (ties to even; |v| >= 65520 gives inf), as an f32. NaN and
// inf pass through. Decided on the bits, so no driver float mode can change it; the one
// float step, for the denormal halves, is exact under any rounding or flushing mode: |v|
// scaled by 2^24 (a power of two, below 2^10: exact), `round` (ties to even, an integer:
// exact), scaled back. An input small enough for a driver to flush is zero in half anyway.
fn wgact_round_half4(v: vec4<f32>) -> vec4<f32> {
    let u = bitcast<vec4<u32>>(v);
    let s = u & vec4<u32>(0x80000000u);
    let a = u & vec4<u32>(0x7fffffffu);
    // Normal halves (|v| >= 2^-14): keep 10 of the 23 mantissa bits, ties to even; a carry
    // into the exponent is the right result.
    let normal = (a + vec4<u32>(0xfffu) + ((a >> vec4<u32>(13u)) & vec4<u32>(1u))) & vec4<u32>(0xffffe000u);
    // Denormal halves: the nearest multiple of 2^-24, ties to even.
    let q = round(bitcast<vec4<f32>>(a) * 16777216.0);
    let denormal = bitcast<vec4<u32>>(q * 5.9604644775390625e-8);
    var r = select(denormal, normal, a >= vec4<u32>(0x38800000u));
    r = select(r, vec4<u32>(0x7f800000u), a >= vec4<u32>(0x477ff000u));
    r = select(r, a, a >= vec4<u32>(0x7f800000u));
    return bitcast<vec4<f32>>(s | r);
}

fn wgact_round_half(v: f32) -> f32 {
    return wgact_round_half4(vec4<f32>(v)).x;
}

// The f32 value of the half with bits h (low 16 bits), exactly; denormals kept.
fn wgact_half_to_f32(h: u32) -> f32 {
    let s = (h & 0x8000u) << 16u;
    let e = (h >> 10u) & 0x1fu;
    let m = h & 0x3ffu;
    if e == 0u {
        return bitcast<f32>(s | bitcast<u32>(f32(m) * 5.9604644775390625e-8));
    }
    if e == 31u {
        return bitcast<f32>(s | 0x7f800000u | (m << 13u));
    }
    return bitcast<f32>(s | ((e + 112u) << 23u) | (m << 13u));
}

// The bits of v rounded to the nearest half (low 16 bits).
fn wgact_f32_to_half(v: f32) -> u32 {
    let u = bitcast<u32>(wgact_round_half(v));
    let s = (u >> 16u) & 0x8000u;
    let a = u & 0x7fffffffu;
    if a > 0x7f800000u {
        return s | 0x7e00u;
    }
    if a == 0x7f800000u {
        return s | 0x7c00u;
    }
    if a >= 0x38800000u {
        return s | (((a >> 23u) - 112u) << 10u) | ((a >> 13u) & 0x3ffu);
    }
    // A denormal half or zero: an exact multiple of 2^-24.
    return s | u32(bitcast<f32>(a) * 16777216.0);
}

// The f32 values of four halves (low 16 bits of each lane), exactly, as `wgact_half_to_f32`
// lane by lane, but without branches: a CPU adapter such as lavapipe runs the lanes of a
// workgroup as SIMD and pays for every side of a divergent branch.
fn wgact_halves_to_f32x4(h: vec4<u32>) -> vec4<f32> {
    let s = (h & vec4<u32>(0x8000u)) << vec4<u32>(16u);
    let em = h & vec4<u32>(0x7fffu);
    // Normal: exponent and mantissa shifted into place and rebiased (15 -> 127); inf and
    // NaN (exponent 31) rebias once more to 255. Denormal: m * 2^-24, exact.
    let normal = (em << vec4<u32>(13u)) + vec4<u32>(112u << 23u);
    let denormal = bitcast<vec4<u32>>(vec4<f32>(em) * 5.9604644775390625e-8);
    var r = select(normal, denormal, em < vec4<u32>(0x400u));
    r = select(r, normal + vec4<u32>(112u << 23u), em >= vec4<u32>(0x7c00u));
    return bitcast<vec4<f32>>(s | r);
}

// The bits of four values rounded to the nearest halves (low 16 bits of each lane), as
// `wgact_f32_to_half` lane by lane, without branches: the rounding of `wgact_round_half4`
// done straight into half bits.
fn wgact_f32x4_to_halves(v: vec4<f32>) -> vec4<u32> {
    let u = bitcast<vec4<u32>>(v);
    let s = (u >> vec4<u32>(16u)) & vec4<u32>(0x8000u);
    let a = u & vec4<u32>(0x7fffffffu);
    // Normal halves: rebias (127 -> 15: minus 112 << 23) and drop 13 mantissa bits, ties to
    // even (plus 0xfff and the lowest kept bit); a carry into the exponent is right.
    let normal = (a - vec4<u32>(0x37fff001u) + ((a >> vec4<u32>(13u)) & vec4<u32>(1u))) >> vec4<u32>(13u);
    // Denormal halves or zero: the nearest multiple q of 2^-24, ties to even, is the half's
    // bits (as in `wgact_round_half4`; clamped so that the lanes this select discards
    // convert in range too).
    let denormal = vec4<u32>(round(bitcast<vec4<f32>>(min(a, vec4<u32>(0x38800000u))) * 16777216.0));
    var r = select(denormal, normal, a >= vec4<u32>(0x38800000u));
    r = select(r, vec4<u32>(0x7c00u), a >= vec4<u32>(0x477ff000u));
    r = select(r, vec4<u32>(0x7e00u), a > vec4<u32>(0x7f800000u));
    return s | r;
}

fn wgact_unpack_halves4(w: vec2<u32>) -> vec4<f32> {
    return wgact_halves_to_f32x4(vec4<u32>(w.x, w.x >> 16u, w.y, w.y >> 16u) & vec4<u32>(0xffffu));
}

fn wgact_pack_halves4(v: vec4<f32>) -> vec2<u32> {
    let h = wgact_f32x4_to_halves(v);
    return vec2<u32>(h.x | (h.y << 16u), h.z | (h.w << 16u));
}
