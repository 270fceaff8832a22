// PReLU: the uniform block and indexing shared by every prelu kernel. No bindings.
//
// The input shape is canonicalised on the CPU: size-1 axes dropped and adjacent axes of the
// same kind merged, where an axis is "kept" (alpha varies along it) or "reduced" (the batch
// axis and the shared axes). At most 8 canonical axes, at most 4 of each kind.
//
// Special values are decided on the bits (see common.wgsl): 0 * inf must be NaN.

struct PreluParams {
    // Elementwise kernels: elements in this chunk. Reduction: reduced terms per alpha
    // element in this chunk (or the row length of the partials being reduced).
    n: u32,
    // Elementwise kernels: flat index in x of this chunk's first element.
    // Reduction: element offset of the chunk's first element from the binding's start
    // (alpha and the output rows are bound from the chunk's first alpha element).
    first: u32,
    // Number of alpha elements.
    count_a: u32,
    // Reduction: row length of the output partials, and this chunk's first slot in a row.
    p_total: u32,
    p_offset: u32,
    // Reduction: alpha elements per workgroup (a power of two dividing WG).
    group_a: u32,
    // Reduction: workgroups per group of alpha elements in this chunk.
    blocks: u32,
    // Elementwise kernels: the first alpha element bound (alpha is bound from it when it
    // does not fit one binding; 0 otherwise).
    a_first: u32,
    // (The canonical rank and the counts of kept and reduced axes are constants of each
    // pipeline: RANK, N_KEPT, N_RED.)
    // Elementwise kernels on a CPU adapter: units per SIMD batch (prelu_forward_blocked.wgsl).
    block: u32,
    _pad2: u32,
    _pad3: u32,
    _pad4: u32,
    // Elementwise kernels: canonical sizes, outermost first, and alpha's stride along each
    // (0 along reduced axes).
    sizes: array<vec4<u32>, 2>,
    astrides: array<vec4<u32>, 2>,
    // Reduction: sizes and x strides of the kept and of the reduced axes, outermost first.
    kept_sizes: vec4<u32>,
    kept_xstrides: vec4<u32>,
    red_sizes: vec4<u32>,
    red_xstrides: vec4<u32>,
    // Element offsets of the bound arrays (appended by the dispatcher; see src/kernel.rs).
    off: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> params: PreluParams;

// Index into the bound alpha of the element at flat index g of x (g < the number of
// elements): its alpha index less params.a_first. RANK, the canonical rank, is a constant of
// the pipeline (src/prelu/kernels.rs), so the decode's loop is unrolled: rank - 1 divisions
// (one for the common [reduced, kept] shape). The vec4 kernels call it once per 4 elements.
fn alpha_index(g: u32) -> u32 {
    return wgact_mixed_radix(g, RANK, params.sizes, params.astrides) - params.a_first;
}

// a * b as IEEE computes it, 0 * inf = NaN decided on the bits.
fn mul_ieee(a: f32, b: f32) -> f32 {
    let zero_times_inf = (wgact_is_zero1(a) && wgact_is_inf1(b)) || (wgact_is_inf1(a) && wgact_is_zero1(b));
    return select(a * b, wgact_nan1(), zero_times_inf);
}

// max(v, 0) with NaN propagated (Eigen's relu).
fn relu1(v: f32) -> f32 {
    return select(0.0, v, v > 0.0 || wgact_is_nan1(v));
}

// v * f32(keep): v where keep, else 0 for finite v and NaN for inf / NaN.
fn mul_mask1(v: f32, keep: bool) -> f32 {
    return select(select(0.0, wgact_nan1(), wgact_is_inf1(v) || wgact_is_nan1(v)), v, keep);
}

// In the f16 flavour every TF op rounds to half (wgact_h1, the identity in f32), and alpha,
// kept as an f32 weight, is used rounded to half: TensorFlow's half variable.

// y = relu(x) + (-alpha) * relu(-x), Keras's formula: alpha == 0 at x == -inf gives NaN.
// In the f16 flavour TensorFlow rounds the product and the sum, h(relu(x) + h(-h(alpha) *
// relu(-x))). One term of the sum is always exact and ends it: relu(x) is +0 where x <= 0
// (the sum is then the product, or +0 for -0), and where x > 0 or NaN the product is a zero
// or NaN (relu(-x) = +0), so the sum is x or NaN. Both roundings are then the store's
// (every f16 store rounds to half, src/kernel.rs), the same bits with none here. Where x > 0
// or NaN the second factor is +0 (NaN x gives NaN through the first term); elsewhere -x,
// which at x = +0 is -0 instead of relu's +0: the product's zero changes sign, and +0 plus
// either zero is +0.
fn prelu_fwd(x: f32, alpha: f32) -> f32 {
    let pos = x > 0.0 || wgact_is_nan1(x);
    return select(0.0, x, pos) + mul_ieee(-wgact_h1(alpha), select(-x, 0.0, pos));
}

// prelu_fwd for an alpha whose half (f16 flavour) is finite and nonzero: the product's
// 0 * inf cannot arise, so it is a plain multiplication. `na` is -h(alpha).
fn prelu_fwd_plain(x: f32, na: f32) -> f32 {
    let pos = x > 0.0 || wgact_is_nan1(x);
    return select(0.0, x, pos) + na * select(-x, 0.0, pos);
}

// Whether prelu_fwd_plain serves alpha.
fn prelu_alpha_plain(alpha: f32) -> bool {
    let a = wgact_h1(alpha);
    return !(wgact_is_zero1(a) || wgact_is_inf1(a) || wgact_is_nan1(a));
}

// dx = dy * [x > 0] - ((-alpha) * dy) * [-x > 0], TensorFlow's gradient of that formula:
// 0 at x == 0 and at NaN. In the f16 flavour TensorFlow rounds the product and the sum.
// One term of the sum is always masked (a zero or NaN), so the sum is the other term (or +0
// for -0) or NaN, and both roundings are the store's (as in prelu_fwd), but for one thing:
// the masked product is NaN where its rounded value is not finite, which the bits decide
// without rounding: |q| >= 65520 (0x477ff000) rounds to inf in half; in f32, inf and NaN.
fn prelu_dx(x: f32, alpha: f32, dy: f32) -> f32 {
    let q = mul_ieee(-wgact_h1(alpha), dy);
    let limit = select(wgact_F32_EXP_MASK, 0x477ff000u, WGACT_F16);
    let nonfinite = (bitcast<u32>(q) & wgact_F32_ABS_MASK) >= limit;
    let second = select(select(0.0, wgact_nan1(), nonfinite), q, -x > 0.0);
    return mul_mask1(dy, x > 0.0) + -second;
}

// One dalpha term: -(dy * relu(-x)), i.e. dy * min(x, 0) (each term a half in f16; the sum
// is accumulated in f32 either way).
fn prelu_dalpha_term(x: f32, dy: f32) -> f32 {
    return -wgact_h1(mul_ieee(dy, relu1(-x)));
}
