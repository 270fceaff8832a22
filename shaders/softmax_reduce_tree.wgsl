// Softmax reductions, shared-memory variant (the fallback, used where the device has no
// SUBGROUP feature or a subgroup layout cannot be established): trees over the lanes of each
// row in workgroup memory, log2(lanes) + 2 barriers per reduction. Positions are
// local_invocation_index. Included after shaders/softmax_common.wgsl by
// src/softmax/kernels.rs; no bindings of its own (uses `params` from the common file).

struct Ids {
    @builtin(local_invocation_index) local: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
}

fn lane_of(ids: Ids) -> Lane {
    return lane_layout(ids.local, ids.wid, 0u, 1u);
}

var<workgroup> red_a: array<f32, WG>;
var<workgroup> red_b: array<f32, WG>;
var<workgroup> red_u: array<u32, WG>;

// Shared-memory trees over the lanes of each row (log2(lanes) barriers). Every invocation of
// the workgroup must call them (they hold barriers); the loop bound is a uniform.

fn reduce_max_flags(ln: Lane, m: f32, flags: u32) -> MaxFlags {
    red_a[ln.local] = m;
    red_u[ln.local] = flags;
    workgroupBarrier();
    for (var s = LANES / 2u; s > 0u; s = s / 2u) {
        if (ln.j < s) {
            let p = ln.local + s * ln.step;
            red_a[ln.local] = max_keep(red_a[ln.local], red_a[p]);
            red_u[ln.local] = red_u[ln.local] | red_u[p];
        }
        workgroupBarrier();
    }
    let r = MaxFlags(red_a[ln.head], red_u[ln.head]);
    workgroupBarrier();
    return r;
}

fn reduce_sum(ln: Lane, v: f32) -> f32 {
    red_a[ln.local] = v;
    workgroupBarrier();
    for (var s = LANES / 2u; s > 0u; s = s / 2u) {
        if (ln.j < s) {
            red_a[ln.local] = red_a[ln.local] + red_a[ln.local + s * ln.step];
        }
        workgroupBarrier();
    }
    let r = red_a[ln.head];
    workgroupBarrier();
    return r;
}

fn reduce_pairs(ln: Lane, pair: vec2<f32>, flags: u32) -> PairFlags {
    red_a[ln.local] = pair.x;
    red_b[ln.local] = pair.y;
    red_u[ln.local] = flags;
    workgroupBarrier();
    for (var s = LANES / 2u; s > 0u; s = s / 2u) {
        if (ln.j < s) {
            let p = ln.local + s * ln.step;
            let c = combine_pairs(
                vec2<f32>(red_a[ln.local], red_b[ln.local]),
                vec2<f32>(red_a[p], red_b[p]),
            );
            red_a[ln.local] = c.x;
            red_b[ln.local] = c.y;
            red_u[ln.local] = red_u[ln.local] | red_u[p];
        }
        workgroupBarrier();
    }
    let r = PairFlags(vec2<f32>(red_a[ln.head], red_b[ln.head]), red_u[ln.head]);
    workgroupBarrier();
    return r;
}

