// PReLU backward, one pass, vec4 form of prelu_reduce_registers.wgsl + prelu_reduce_terms.wgsl
// (LANES, a const of 4, 8 or 16, prepended with the file; kept_offset and red_offsets4 from
// prelu_reduce.wgsl). Used when the innermost canonical axis is kept and a multiple of 4
// long and every array is 16-byte aligned: then alpha elements 4q..4q+3 are 4 consecutive
// elements of x at every reduced index, at an offset that is a multiple of 4 (the chunk's
// skew is a multiple of the innermost size), so one invocation takes them as one vec4.
//
// The sums are those of reduce_registers, one per vec4 component: each component goes
// through the same additions in the same order (vec4 + is componentwise), so dalpha has the
// same bits, and dx the same bits as prelu_dx per element.
//
// Uniform: PreluParams (prelu_common.wgsl). Arrays (declared with their accessors by
// src/kernel.rs): x, dy, alpha (read, vec4), partials (read_write, f32, [count_a][p_total]),
// dx (read_write, vec4). The in-place variant (dx over dy) binds x, alpha, partials and dx.
//
// Workgroup w handles group_a consecutive alpha elements as group_a / 4 quads (lid % quads,
// adjacent in x) and 4 * LANES consecutive blocks of each (lid / quads).

// The 4 terms of element offset i (a multiple of 4) of alpha quad q; writes dx there.
fn load4(i: u32, q: u32) -> vec4<f32> {
    let v = ld_x(i / 4u);
    let d = ld_dy(i / 4u);
    let al = ld_alpha(q);
    st_dx(i / 4u, vec4<f32>(prelu_dx(v.x, al.x, d.x), prelu_dx(v.y, al.y, d.y),
                            prelu_dx(v.z, al.z, d.z), prelu_dx(v.w, al.w, d.w)));
    return vec4<f32>(prelu_dalpha_term(v.x, d.x), prelu_dalpha_term(v.y, d.y),
                     prelu_dalpha_term(v.z, d.z), prelu_dalpha_term(v.w, d.w));
}

fn store(i: u32, v: f32) {
    st_partials(i, v);
}

@compute @workgroup_size(WG)
fn reduce_registers4(@builtin(workgroup_id) wid: vec3<u32>,
                     @builtin(num_workgroups) groups: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
    let w = wid.x + wid.y * groups.x;
    let group_a = params.group_a;
    let quads = group_a / 4u;
    let per_group = WG / quads;
    let a_groups = (params.count_a + group_a - 1u) / group_a;
    let block_groups = (params.blocks + per_group - 1u) / per_group;
    if (w >= a_groups * block_groups) {
        return;
    }
    let a = (w / block_groups) * group_a + 4u * (lid % quads);
    let block = (w % block_groups) * per_group + lid / quads;
    if (a >= params.count_a || block >= params.blocks) {
        return;
    }
    let base = params.first + kept_offset(a);
    var p: array<vec4<f32>, LANES>;
    for (var lane = 0u; lane < LANES; lane++) {
        let r0 = block * LANES * 4u + lane * 4u;
        let offs = red_offsets4(r0);
        var t: array<vec4<f32>, 4>;
        for (var j = 0u; j < 4u; j++) {
            t[j] = vec4<f32>(0.0);
            if (r0 + j < params.n) {
                t[j] = load4(base + offs[j], a / 4u);
            }
        }
        p[lane] = (t[0] + t[1]) + (t[2] + t[3]);
    }
    for (var s = LANES / 2u; s > 0u; s >>= 1u) {
        for (var lane = 0u; lane < s; lane++) {
            p[lane] = p[lane] + p[lane + s];
        }
    }
    for (var k = 0u; k < 4u; k++) {
        store((a + k) * params.p_total + params.p_offset + block, p[0][k]);
    }
}
