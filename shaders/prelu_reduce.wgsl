// PReLU dalpha: one pass of the deterministic tree reduction. No bindings of its own; the
// file appended to it binds the inputs and defines `fn load(i: u32, a: u32) -> f32` (the term
// at element i of the bound input, of alpha element a) and `fn store(i: u32, v: f32)`.
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

// Offset in the bound input of alpha element a (< count_a). The outermost axis's digit is
// what is left, so it takes no division (division by a uniform is slow on GPUs).
fn kept_offset(a: u32) -> u32 {
    var rest = a;
    var off = 0u;
    for (var k = i32(params.n_kept) - 1; k >= 1; k--) {
        let size = params.kept_sizes[k];
        let q = rest / size;
        off += (rest - q * size) * params.kept_xstrides[k];
        rest = q;
    }
    return off + rest * params.kept_xstrides[0];
}

// Offset in the bound input of reduced index r (< n), as kept_offset.
fn red_offset(r: u32) -> u32 {
    var rest = r;
    var off = 0u;
    for (var k = i32(params.n_red) - 1; k >= 1; k--) {
        let size = params.red_sizes[k];
        let q = rest / size;
        off += (rest - q * size) * params.red_xstrides[k];
        rest = q;
    }
    return off + rest * params.red_xstrides[0];
}

// Offsets of the reduced indices r0 to r0 + 3 (only those < n are used): one red_offset,
// then steps along the innermost reduced axis while they stay on its row (the usual case);
// only an index past the row's end pays for its own red_offset.
fn red_offsets4(r0: u32) -> vec4<u32> {
    let inner = params.n_red - 1u;
    let size = params.red_sizes[inner];
    let step = params.red_xstrides[inner];
    // r0's digit along the innermost reduced axis (r0 itself when that axis is the only one).
    let digit = select(r0 % size, r0, inner == 0u);
    let off = red_offset(r0);
    var offs = vec4<u32>(off, off + step, off + 2u * step, off + 3u * step);
    for (var j = 1u; j < 4u; j++) {
        if (digit + j >= size) {
            offs[j] = red_offset(r0 + j);
        }
    }
    return offs;
}

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
