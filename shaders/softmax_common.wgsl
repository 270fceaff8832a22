// Softmax helpers shared by every softmax kernel: the uniform block, the row/lane layout,
// the workgroup tree reductions and the special-value tests. Binding contract of this file:
//   @binding(0) params  uniform SoftmaxParams
// The storage bindings (1..) are declared by src/softmax/kernels.rs, in contract order, with
// the names each kernel file lists in its header; `kept(i)` comes from there too (always true
// without a mask; `mask[i] != 0` on the bits with one).
//
// Each kernel source also includes one reduction file (src/softmax/kernels.rs picks it):
// shaders/softmax_reduce_tree.wgsl (shared-memory trees, the fallback) or
// shaders/softmax_reduce_subgroup.wgsl (subgroup shuffles). It defines `Ids` (the entry
// point's builtins), `lane_of(ids)` and the reductions reduce_max_flags, reduce_sum and
// reduce_pairs, which every invocation of the workgroup must call (uniform control flow).
//
// Layout: the tensor is viewed as (outer, len, inner) around the softmax axis; a "row" is one
// (outer, inner) pair, and its elements lie `inner` apart. A workgroup of WG invocations holds
// SLOTS rows of LANES invocations each (SLOTS * LANES == WG). LANES, SLOTS, STRIDED (inner > 1),
// SIDE_BY_SIDE (a row's lanes SLOTS apart) and CHUNKED (the long kernels' grid of row groups
// times chunks) are constants of each pipeline (src/softmax/kernels.rs), so the lane layout
// costs shifts, not divisions: lavapipe scalarises an integer division by a uniform lane by
// lane. Contiguous rows (inner == 1) put the lanes of a row next to each other, so
// neighbouring invocations read neighbouring elements of one row; strided rows (inner > 1)
// on a GPU put the rows next to each other (SIDE_BY_SIDE), so neighbouring invocations read
// neighbouring inner indices: coalesced without a transpose. On a CPU adapter strided rows
// keep a row's lanes together inside a subgroup (see src/softmax/choice.rs).

struct SoftmaxParams {
    rows: u32,       // rows in this group (outers * inner_count)
    len: u32,        // axis positions in this piece (the whole axis unless a row spans bindings)
    inner: u32,      // product of the dimensions after the axis: the stride along the axis
    base: u32,       // element of (first row, first position of the piece) inside the bindings
    chunk_len: u32,  // long rows: elements of one chunk (a multiple of lanes)
    chunks: u32,     // long rows: chunks of this piece (the grid); 1 for the register kernels
    groups_x: u32,   // workgroups along x of the (possibly 2-D) grid
    inner_count: u32,  // inner indices per outer index in this group (rows = outers * this)
    chunk_base: u32,   // long rows: the row's chunk number of this piece's first chunk
    row_chunks: u32,   // long rows: chunks of a whole row (all pieces); partials per row
    _pad0: u32,
    _pad1: u32,
    off: array<vec4<u32>, 2>, // element offsets of the bound arrays (see src/kernel.rs)
}

@group(0) @binding(0) var<uniform> params: SoftmaxParams;

// Rows are poisoned (all NaN) by NaN or +inf anywhere in them (Eigen: x - max = NaN).
const FLAG_BAD: u32 = 1u;
// At least one element of the row is kept (not masked).
const FLAG_KEPT: u32 = 2u;

const NEG_INF_BITS: u32 = 0xff800000u;
const POS_INF_BITS: u32 = 0x7f800000u;

// From a private variable, so that the bitcast is not a constant (see common.wgsl's NaN).
var<private> neg_inf_bits: u32 = NEG_INF_BITS;

fn neg_inf() -> f32 {
    return bitcast<f32>(neg_inf_bits);
}

fn is_neg_inf(v: f32) -> bool {
    return bitcast<u32>(v) == NEG_INF_BITS;
}

// NaN or +inf, decided on the bits.
fn poisons_row(v: f32) -> bool {
    let b = bitcast<u32>(v);
    return (b & wgact_F32_ABS_MASK) > wgact_F32_EXP_MASK || b == POS_INF_BITS;
}

// max for non-NaN values (NaN and +inf never decide a result: they set FLAG_BAD).
fn max_keep(a: f32, b: f32) -> f32 {
    return select(a, b, b > a);
}

// exp(d) for d <= 0, with d = -inf (an -inf entry, or x - max overflowing) giving exactly 0.
// Below -104 exp is 0 in f32 anyway; the test keeps -inf away from exp on every driver.
fn exp_nonpos(d: f32) -> f32 {
    return select(exp(d), 0.0, d < -104.0);
}

// Sum of the REGS register values in a fixed pairwise order (depth log2(REGS) instead of a
// serial chain of REGS - 1 roundings: a serial f32 sum of 14 terms was 10 ulp off in y).
fn sum_regs(v: array<f32, REGS>) -> f32 {
    var s = v;
    for (var w = REGS / 2u; w > 0u; w = w / 2u) {
        for (var r = 0u; r < w; r++) {
            s[r] = s[r] + s[r + w];
        }
    }
    return s[0];
}

// The vec4 kernels' forms of the helpers above, per component.
fn poisons_row4(v: vec4<f32>) -> vec4<bool> {
    let b = bitcast<vec4<u32>>(v);
    return ((b & vec4<u32>(wgact_F32_ABS_MASK)) > vec4<u32>(wgact_F32_EXP_MASK)) |
        (b == vec4<u32>(POS_INF_BITS));
}

fn exp_nonpos4(d: vec4<f32>) -> vec4<f32> {
    return select(exp(d), vec4<f32>(0.0), d < vec4<f32>(-104.0));
}

// Four flags as the low four bits, and back.
fn bits4(b: vec4<bool>) -> u32 {
    return dot(select(vec4<u32>(0u), vec4<u32>(1u, 2u, 4u, 8u), b), vec4<u32>(1u));
}

fn unbits4(bits: u32) -> vec4<bool> {
    return (vec4<u32>(bits) & vec4<u32>(1u, 2u, 4u, 8u)) != vec4<u32>(0u);
}

// Online softmax pairs (max, sum of exp(x - max)); an empty pair is (-inf, 0).
fn combine_pairs(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
    let m = max_keep(a.x, b.x);
    if (is_neg_inf(m)) {
        return vec2<f32>(m, 0.0);
    }
    return vec2<f32>(m, a.y * exp_nonpos(a.x - m) + b.y * exp_nonpos(b.x - m));
}

struct Lane {
    local: u32,  // position in the workgroup, 0..WG (see the reduction file)
    j: u32,      // lane within its row
    head: u32,   // local index of lane 0 of this row
    step: u32,   // local-index distance between neighbouring lanes of a row
    row: u32,    // row within the slice (may be >= params.rows: padding)
    chunk: u32,  // chunk of this piece (long rows), else 0
    k0: u32,     // its first position along the axis: chunk * chunk_len (0 unchunked)
    valid: bool, // row < params.rows
    first: u32,  // element index of the row's first element
    len: u32,    // params.len and params.inner, read once (see lane_layout)
    inner: u32,
    sg_lane: u32, // subgroup_invocation_id (subgroup reductions; 0 in the tree variant)
    sg_size: u32, // subgroup_size (subgroup reductions; 1 in the tree variant)
}

// Called first by every kernel. It also reads the uniforms the kernels use after their first
// store (the arrays' offsets, len, inner) into private copies: lavapipe's compiler cannot prove
// that a store into a storage array leaves the uniform block alone, and reloads them per store.
fn lane_layout(local: u32, wid: vec3<u32>, sg_lane: u32, sg_size: u32) -> Lane {
    wgact_load_offsets();
    let group = wid.x + wid.y * params.groups_x;
    var row_group = group;
    var chunk = 0u;
    if (CHUNKED) {
        row_group = group / params.chunks;
        chunk = group % params.chunks;
    }
    var ln: Lane;
    ln.local = local;
    if (SIDE_BY_SIDE) {
        let slot = local % SLOTS;
        ln.j = local / SLOTS;
        ln.head = slot;
        ln.step = SLOTS;
        ln.row = row_group * SLOTS + slot;
    } else {
        let slot = local / LANES;
        ln.j = local % LANES;
        ln.head = slot * LANES;
        ln.step = 1u;
        ln.row = row_group * SLOTS + slot;
    }
    ln.chunk = chunk;
    ln.k0 = chunk * params.chunk_len;
    ln.valid = ln.row < params.rows;
    // Outer indices lie len * inner apart. `len` is the piece's, not the axis's, but only a
    // group of whole outer indices (one piece, the whole axis) has more than one (plan::plan),
    // so the product is the tensor's stride wherever outer > 0. Written as len * inner rather
    // than read from a uniform of its own: with a separate `outer_stride` field lavapipe ran the
    // register kernels 15-30% slower (the same arithmetic; measured, not understood).
    // Contiguous rows have one inner index (inner_count == 1).
    var outer = ln.row;
    var inner = 0u;
    if (STRIDED) {
        outer = ln.row / params.inner_count;
        inner = ln.row % params.inner_count;
    }
    ln.len = params.len;
    ln.inner = params.inner;
    ln.first = params.base + outer * ln.len * ln.inner + inner;
    ln.sg_lane = sg_lane;
    ln.sg_size = sg_size;
    return ln;
}

// Element index of position k (counted from the piece's first) along the axis.
fn elem(ln: Lane, k: u32) -> u32 {
    return ln.first + k * ln.inner;
}

// Index of this lane's chunk among the partials: rows after rows, a row's chunks in order.
fn partial_index(ln: Lane) -> u32 {
    return ln.row * params.row_chunks + params.chunk_base + ln.chunk;
}

// Results of the reductions.
struct MaxFlags {
    m: f32,
    flags: u32,
}

struct PairFlags {
    pair: vec2<f32>,
    flags: u32,
}

// The row's verdict: NaN when poisoned or when every kept entry is -inf (-inf - -inf).
fn row_is_nan(m: f32, flags: u32) -> bool {
    return (flags & FLAG_BAD) != 0u || ((flags & FLAG_KEPT) != 0u && is_neg_inf(m));
}
