// PReLU backward, one pass, vec4 form of prelu_reduce_registers.wgsl + prelu_reduce_terms.wgsl
// (LANES, a const of 4, 8 or 16, its LOG2_LANES, and QUADS, 1 or 2, prepended with the
// file; kept_offset and red_offsets4 from prelu_reduce.wgsl). Used when the innermost canonical axis is kept and a
// multiple of 4 long and every array is 16-byte aligned: then alpha elements 4q..4q+3 are 4
// consecutive elements of x at every reduced index, at an offset that is a multiple of 4 (the
// chunk's skew is a multiple of the innermost size), so one invocation takes them as one vec4.
//
// The sums are those of reduce_registers, one per vec4 component: each component goes
// through the same additions in the same order (vec4 + is componentwise), so dalpha has the
// same bits, and dx the same bits as prelu_dx per element.
//
// The tree of a block, in registers without an array: the shared-memory tree adds lane
// l + s into lane l for s = LANES / 2, ..., 1, which is the adjacent pairwise tree over the
// lanes taken in bit-reversed order (lane rev(k) is the k-th leaf). So the block's lanes are
// summed leaf by leaf in that order, each finished subtree kept on a stack of named
// registers, s0 (1 leaf) to s3 (8 leaves): leaf k is merged into the subtrees its trailing 1
// bits name, the earlier subtree always on the left, as in the shared tree. The loop counter
// k is the same in every invocation, so the branches are uniform. Padding lanes (past n) sum
// +0 terms, as in the shared tree.
//
// Uniform: PreluParams (prelu_common.wgsl). Arrays (declared with their accessors by
// src/kernel.rs): x, dy, alpha (read, vec4), partials (read_write, f32, [count_a][p_total]),
// dx (read_write, vec4). The in-place variant (dx over dy) binds x, alpha, partials and dx.
//
// Workgroup w handles group_a consecutive alpha elements as group_a / 4 quads and
// 4 * LANES * QUADS consecutive blocks of each. Each invocation takes QUADS quads of one
// block: quad lid % slots and, with QUADS = 2, quad lid % slots + slots, where slots =
// group_a / (4 * QUADS) invocations lie side by side along a row (adjacent in x), and block
// lid / slots. A GPU takes one quad per invocation; a CPU adapter two when group_a is 64, so
// that lavapipe's SIMD coroutine of 8 invocations, which runs its whole block before the
// next starts, reads each 256-byte row whole rather than 128 bytes of it
// (src/prelu/plan.rs, TermsTree::RegistersVec4).

// The 4 terms of element offset i (a multiple of 4) with alphas `al`; writes dx there.
fn load4(i: u32, al: vec4<f32>) -> vec4<f32> {
    let v = ld_x(i / 4u);
    let d = ld_dy(i / 4u);
    st_dx(i / 4u, vec4<f32>(prelu_dx(v.x, al.x, d.x), prelu_dx(v.y, al.y, d.y),
                            prelu_dx(v.z, al.z, d.z), prelu_dx(v.w, al.w, d.w)));
    return vec4<f32>(prelu_dalpha_term(v.x, d.x), prelu_dalpha_term(v.y, d.y),
                     prelu_dalpha_term(v.z, d.z), prelu_dalpha_term(v.w, d.w));
}

// The sums of an invocation's quads: `lo` for its first quad, `hi` for its second (QUADS = 2;
// zero and never loaded when QUADS = 1).
struct Sums {
    lo: vec4<f32>,
    hi: vec4<f32>,
}

fn add(p: Sums, q: Sums) -> Sums {
    return Sums(p.lo + q.lo, p.hi + q.hi);
}

// Where an invocation's quads start in the bound input, and their alphas.
struct Quads {
    base_lo: u32,
    base_hi: u32,
    al_lo: vec4<f32>,
    al_hi: vec4<f32>,
    // Whether the second quad is one (QUADS = 2 and inside the chunk's alpha elements).
    has_hi: bool,
}

// The terms of reduced index r (< n) of the invocation's quads, row by row: with two quads,
// both halves of the row are read together.
fn row_terms(qs: Quads, off: u32) -> Sums {
    var t = Sums(load4(qs.base_lo + off, qs.al_lo), vec4<f32>(0.0));
    if (QUADS == 2u && qs.has_hi) {
        t.hi = load4(qs.base_hi + off, qs.al_hi);
    }
    return t;
}

// One lane's sum: its 4 terms from reduced index r0 (those < n; +0 past it), added
// pairwise, (t0 + t1) + (t2 + t3), as a loop of one load site (small code on a CPU adapter,
// where every load is a loop over the SIMD lanes); j is the same in every invocation.
fn lane_sum(qs: Quads, r0: u32) -> Sums {
    let offs = red_offsets4(r0);
    let zero = Sums(vec4<f32>(0.0), vec4<f32>(0.0));
    var first = zero;
    var second = zero;
    for (var j = 0u; j < 4u; j++) {
        var t = zero;
        if (r0 + j < params.n) {
            t = row_terms(qs, offs[j]);
        }
        switch (j) {
            case 0u: { first = t; }
            case 1u: { first = add(first, t); }
            case 2u: { second = t; }
            default: { second = add(second, t); }
        }
    }
    return add(first, second);
}

// The block's sums: LANES lanes of 4 terms, the shared tree's order (see the top).
fn block_sum(qs: Quads, block: u32) -> Sums {
    let zero = Sums(vec4<f32>(0.0), vec4<f32>(0.0));
    var s0 = zero;
    var s1 = zero;
    var s2 = zero;
    var s3 = zero;
    var v = zero;
    for (var k = 0u; k < LANES; k++) {
        let lane = reverseBits(k) >> (32u - LOG2_LANES);
        v = lane_sum(qs, block * LANES * 4u + lane * 4u);
        if ((k & 1u) != 0u) {
            v = add(s0, v);
            if ((k & 2u) != 0u) {
                v = add(s1, v);
                if ((k & 4u) != 0u) {
                    v = add(s2, v);
                    if ((k & 8u) != 0u) {
                        v = add(s3, v);
                    }
                }
            }
        }
        switch (countTrailingZeros(~k)) {
            case 0u: { s0 = v; }
            case 1u: { s1 = v; }
            case 2u: { s2 = v; }
            default: { s3 = v; }
        }
    }
    // k = LANES - 1 (all ones) merged every subtree: v is the root.
    return v;
}

fn store4(a: u32, block: u32, sum: vec4<f32>) {
    let at = a * params.p_total + params.p_offset + block;
    st_partials(at, sum.x);
    st_partials(at + params.p_total, sum.y);
    st_partials(at + 2u * params.p_total, sum.z);
    st_partials(at + 3u * params.p_total, sum.w);
}

@compute @workgroup_size(WG)
fn reduce_registers4(@builtin(workgroup_id) wid: vec3<u32>,
                     @builtin(num_workgroups) groups: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
    wgact_load_offsets();
    let w = wid.x + wid.y * groups.x;
    let group_a = params.group_a;
    // Invocations side by side along a row of the group's alpha elements.
    let slots = group_a / (4u * QUADS);
    let per_group = WG / slots;
    let a_groups = (params.count_a + group_a - 1u) / group_a;
    let block_groups = (params.blocks + per_group - 1u) / per_group;
    if (w >= a_groups * block_groups) {
        return;
    }
    let a = (w / block_groups) * group_a + 4u * (lid % slots);
    let a_hi = a + 4u * slots;
    let block = (w % block_groups) * per_group + lid / slots;
    if (a >= params.count_a || block >= params.blocks) {
        return;
    }
    let has_hi = QUADS == 2u && a_hi < params.count_a;
    var qs = Quads(params.first + kept_offset(a), 0u, ld_alpha(a / 4u), vec4<f32>(0.0), has_hi);
    if (has_hi) {
        qs.base_hi = params.first + kept_offset(a_hi);
        qs.al_hi = ld_alpha(a_hi / 4u);
    }
    let sums = block_sum(qs, block);
    store4(a, block, sums.lo);
    if (has_hi) {
        store4(a_hi, block, sums.hi);
    }
}
