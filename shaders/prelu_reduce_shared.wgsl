// PReLU dalpha: one pass of the deterministic tree reduction (index helpers from
// prelu_reduce.wgsl). No bindings of its own; the file appended to it binds the inputs and
// defines `fn load(i: u32, a: u32) -> f32` (the term at element i of the bound input, of
// alpha element a) and `fn store(i: u32, v: f32)`.
//
// Workgroup w handles `group_a` consecutive alpha elements and one block of
// 4 * (WG / group_a) consecutive reduced indices of each. Each invocation adds 4 terms
// pairwise, ((t0 + t1) + (t2 + t3)), then a shared-memory tree of fixed shape adds the
// invocations' sums. The order depends only on the shape and the plan: the same input gives
// the same bits on every run. No atomics. With 4, 8 or 16 lanes per alpha element, the
// first pass runs prelu_reduce_registers.wgsl instead: the same tree, in one invocation.
//
// Grid: (groups_x, groups_y) with w = x + y * groups_x; the workgroups past the last one
// return at once (a whole workgroup at a time, so barriers stay uniform).

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn reduce(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let w = wid.x + wid.y * groups.x;
    let group_a = params.group_a;
    let a_groups = (params.count_a + group_a - 1u) / group_a;
    if (w >= a_groups * params.blocks) {
        return;
    }
    let lanes = WG / group_a;
    let a = (w / params.blocks) * group_a + lid % group_a;
    let block = w % params.blocks;
    let lane = lid / group_a;

    var t = vec4<f32>(0.0);
    if (a < params.count_a) {
        let base = params.first + kept_offset(a);
        let r0 = block * lanes * 4u + lane * 4u;
        let offs = red_offsets4(r0);
        for (var j = 0u; j < 4u; j++) {
            if (r0 + j < params.n) {
                t[j] = load(base + offs[j], a);
            }
        }
    }
    partial[lid] = (t.x + t.y) + (t.z + t.w);
    for (var s = lanes / 2u; s > 0u; s >>= 1u) {
        workgroupBarrier();
        if (lane < s) {
            partial[lid] = partial[lid] + partial[lid + s * group_a];
        }
    }
    workgroupBarrier();
    if (lane == 0u && a < params.count_a) {
        store(a * params.p_total + params.p_offset + block, partial[lid]);
    }
}
