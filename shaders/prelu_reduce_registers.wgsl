// PReLU dalpha: the first pass's tree in registers, for plans with few lanes per alpha
// element (LANES = WG / group_a, a const of 4, 8 or 16 prepended with the file). No bindings
// of its own; the file appended binds the inputs and defines `load` and `store` as for
// prelu_reduce.wgsl, whose red_offsets4 and kept_offset it uses.
//
// The same sums in the same order as prelu_reduce.wgsl's `reduce`: there, the block of 4 *
// LANES reduced indices of one alpha element is spread over LANES invocations, each adding
// its 4 terms pairwise, then a shared-memory tree adds lane l + s into lane l for
// s = LANES / 2, ..., 1. Here one invocation does all of it in that order, so the bits are
// the same, with no shared memory and no barriers. Padding terms (past n) are +0 in both.
//
// Workgroup w handles group_a consecutive alpha elements (lid % group_a, adjacent in x, so
// loads coalesce) and LANES consecutive blocks of each (lid / group_a).

@compute @workgroup_size(WG)
fn reduce_registers(@builtin(workgroup_id) wid: vec3<u32>,
                    @builtin(num_workgroups) groups: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
    let w = wid.x + wid.y * groups.x;
    let group_a = params.group_a;
    let a_groups = (params.count_a + group_a - 1u) / group_a;
    let block_groups = (params.blocks + LANES - 1u) / LANES;
    if (w >= a_groups * block_groups) {
        return;
    }
    let a = (w / block_groups) * group_a + lid % group_a;
    let block = (w % block_groups) * LANES + lid / group_a;
    if (a >= params.count_a || block >= params.blocks) {
        return;
    }
    let base = params.first + kept_offset(a);
    var p: array<f32, LANES>;
    for (var lane = 0u; lane < LANES; lane++) {
        let r0 = block * LANES * 4u + lane * 4u;
        let offs = red_offsets4(r0);
        var t = vec4<f32>(0.0);
        for (var j = 0u; j < 4u; j++) {
            if (r0 + j < params.n) {
                t[j] = load(base + offs[j], a);
            }
        }
        p[lane] = (t.x + t.y) + (t.z + t.w);
    }
    for (var s = LANES / 2u; s > 0u; s >>= 1u) {
        for (var lane = 0u; lane < s; lane++) {
            p[lane] = p[lane] + p[lane + s];
        }
    }
    store(a * params.p_total + params.p_offset + block, p[0]);
}
