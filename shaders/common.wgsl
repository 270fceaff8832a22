// Helpers shared by every kernel. No bindings.
//
// Special values are decided on the bits, not with float comparisons: drivers may assume
// "no NaN, no infinity" and fold `x != x` or `x * 0.0` away, and the layers' Keras semantics
// depend on exactly those values (-inf * 0 = NaN, NaN propagates through max/min).

const wgact_F32_EXP_MASK: u32 = 0x7f800000u;
const wgact_F32_ABS_MASK: u32 = 0x7fffffffu;

fn wgact_is_nan4(v: vec4<f32>) -> vec4<bool> {
    return (bitcast<vec4<u32>>(v) & vec4<u32>(wgact_F32_ABS_MASK)) > vec4<u32>(wgact_F32_EXP_MASK);
}

fn wgact_is_nonfinite4(v: vec4<f32>) -> vec4<bool> {
    return (bitcast<vec4<u32>>(v) & vec4<u32>(wgact_F32_EXP_MASK)) == vec4<u32>(wgact_F32_EXP_MASK);
}

// A quiet NaN built at run time from its bits. The bits sit in a private variable: a bitcast
// of a constant is itself a constant expression, and WGSL (a browser's compiler, unlike
// naga) rejects a constant that is NaN or infinite.
var<private> wgact_NAN_BITS: u32 = 0x7fc00000u;

fn wgact_nan4() -> vec4<f32> {
    return bitcast<vec4<f32>>(vec4<u32>(wgact_NAN_BITS));
}

// Scalar forms, for kernels that work element by element (PReLU's, softmax's).
fn wgact_nan1() -> f32 {
    return wgact_nan4().x;
}

fn wgact_is_nan1(v: f32) -> bool {
    return (bitcast<u32>(v) & wgact_F32_ABS_MASK) > wgact_F32_EXP_MASK;
}

fn wgact_is_inf1(v: f32) -> bool {
    return (bitcast<u32>(v) & wgact_F32_ABS_MASK) == wgact_F32_EXP_MASK;
}

fn wgact_is_zero1(v: f32) -> bool {
    return (bitcast<u32>(v) & wgact_F32_ABS_MASK) == 0u;
}

// Mixed-radix decode, the one index walk of every kernel that maps a flat index to an offset:
// the sum of digit_k(i) * strides[k] over the first `count` (>= 1) axes of `sizes`, outermost
// first, eight at most (element k is [k / 4][k % 4]). The outermost digit is what is left of
// i, so it takes no division (division by a uniform costs some 20 instructions on a GPU) and
// i must be below the product of the sizes. Kernels pass `count` as a constant of their
// pipeline, so the loop has a constant trip count.
fn wgact_mixed_radix(i: u32, count: u32, sizes: array<vec4<u32>, 2>,
                     strides: array<vec4<u32>, 2>) -> u32 {
    var sz = sizes;
    var st = strides;
    var rest = i;
    var off = 0u;
    for (var k = count - 1u; k >= 1u; k--) {
        let size = sz[k / 4u][k % 4u];
        let q = rest / size;
        off += (rest - q * size) * st[k / 4u][k % 4u];
        rest = q;
    }
    return off + rest * st[0][0];
}

// v * f32(keep) as IEEE computes it: v where keep, else 0 for finite v and NaN for inf/NaN.
fn wgact_mul_mask4(v: vec4<f32>, keep: vec4<bool>) -> vec4<f32> {
    return select(select(vec4<f32>(0.0), wgact_nan4(), wgact_is_nonfinite4(v)), v, keep);
}

// max(v, 0) with NaN propagated (Eigen's relu).
fn wgact_relu4(v: vec4<f32>) -> vec4<f32> {
    return select(vec4<f32>(0.0), v, (v > vec4<f32>(0.0)) | wgact_is_nan4(v));
}

// min(v, m) with NaN in v propagated; m is never NaN (parameters are validated).
fn wgact_min_nan4(v: vec4<f32>, m: vec4<f32>) -> vec4<f32> {
    return select(m, v, (v <= m) | wgact_is_nan4(v));
}

// max(v, m) with NaN in v propagated.
fn wgact_max_nan4(v: vec4<f32>, m: vec4<f32>) -> vec4<f32> {
    return select(m, v, (v >= m) | wgact_is_nan4(v));
}
