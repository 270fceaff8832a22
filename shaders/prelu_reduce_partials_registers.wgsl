// PReLU dalpha, later passes on a CPU adapter: the same sums as prelu_reduce_partials.wgsl
// over prelu_reduce_shared.wgsl, one invocation per block of 4 * WG partials of one row, with
// no shared memory and no barriers (each barrier is a switch of every SIMD coroutine of the
// workgroup on lavapipe; src/prelu/kernels.rs chooses this kernel there).
//
// The shared tree with one alpha element per workgroup gives lane l (< WG) the pairwise sum
// of partials 4l..4l+3 (+0 past n) and adds lane l + s into lane l for s = WG / 2, ..., 1:
// the adjacent pairwise tree over the lanes in bit-reversed order (see
// prelu_reduce_registers4.wgsl). Here the lanes are summed leaf by leaf in that order, the
// finished subtrees on a stack of named registers s0 (1 leaf) to s7 (128 leaves), the
// earlier subtree on the left: the same additions in the same order, the same bits.
//
// Uniform: PreluParams (prelu_common.wgsl): n (the rows' length), count_a (rows),
// p_total (= blocks, the output rows' length). Arrays (declared with their accessors by
// src/kernel.rs): src (read, [count_a][n]), dst (read_write, [count_a][p_total]).
// The tree is the shared one's, over WG = 256 lanes (LOG2_WG = 8, prepended by
// src/prelu/kernels.rs), so 8 registers hold the stack. The workgroups are smaller,
// PARTIALS_WG invocations, so that a few rows of partials still spread over several
// workgroups (threads). Grid: (groups_x, groups_y), invocation
// (x + y * groups_x) * PARTIALS_WG + lid.

const PARTIALS_WG: u32 = 64u;

fn lane_sum(base: u32, r0: u32) -> f32 {
    var t = vec4<f32>(0.0);
    for (var j = 0u; j < 4u; j++) {
        if (r0 + j < params.n) {
            t[j] = ld_src(base + r0 + j);
        }
    }
    return (t.x + t.y) + (t.z + t.w);
}

@compute @workgroup_size(PARTIALS_WG)
fn reduce_partials(@builtin(workgroup_id) wid: vec3<u32>,
                   @builtin(num_workgroups) groups: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
    wgact_load_offsets();
    let id = (wid.x + wid.y * groups.x) * PARTIALS_WG + lid;
    let row = id / params.p_total;
    let block = id % params.p_total;
    if (row >= params.count_a) {
        return;
    }
    let base = row * params.n;
    var s0 = 0.0;
    var s1 = 0.0;
    var s2 = 0.0;
    var s3 = 0.0;
    var s4 = 0.0;
    var s5 = 0.0;
    var s6 = 0.0;
    var s7 = 0.0;
    var v = 0.0;
    for (var k = 0u; k < WG; k++) {
        let lane = reverseBits(k) >> (32u - LOG2_WG);
        v = lane_sum(base, block * WG * 4u + lane * 4u);
        // Merge the subtrees that k's trailing 1 bits close, innermost first.
        let closed = countTrailingZeros(~k);
        if (closed >= 1u) { v = s0 + v; }
        if (closed >= 2u) { v = s1 + v; }
        if (closed >= 3u) { v = s2 + v; }
        if (closed >= 4u) { v = s3 + v; }
        if (closed >= 5u) { v = s4 + v; }
        if (closed >= 6u) { v = s5 + v; }
        if (closed >= 7u) { v = s6 + v; }
        if (closed >= 8u) { v = s7 + v; }
        switch (closed) {
            case 0u: { s0 = v; }
            case 1u: { s1 = v; }
            case 2u: { s2 = v; }
            case 3u: { s3 = v; }
            case 4u: { s4 = v; }
            case 5u: { s5 = v; }
            case 6u: { s6 = v; }
            case 7u: { s7 = v; }
            default: {}
        }
    }
    // k = WG - 1 (all ones) closed every subtree: v is the root.
    st_dst(row * params.p_total + block, v);
}
