// Softmax reductions, subgroup variant (used where the device has SUBGROUP): butterflies of
// subgroupShuffleXor over the lanes of a row inside each subgroup, then, only in the
// SG_CROSS variant (rows spanning several subgroups), one workgroup barrier and a
// reduction of the row's per-subgroup partials from workgroup memory. Included after
// shaders/softmax_common.wgsl by src/softmax/kernels.rs, which prepends `const SG_CROSS: bool`
// (naga 30 rejects `enable subgroups;` as not yet implemented and takes the builtins without it); no bindings of its own (uses `params` from the common file).
//
// Positions: an invocation's position is subgroup_id * subgroup_size + subgroup_invocation_id
// (a bijection onto 0..WG when the subgroups are full, WG being a multiple of every subgroup
// size), so each subgroup is an aligned block of positions by construction, whatever the
// driver's mapping of local_invocation_index to subgroups. A row's lanes sit at positions
// head + j * step (step = 1 for contiguous rows, `slots` for strided ones), so xor offsets
// step * 2^k below the subgroup size pair lanes of the same row inside the same subgroup.
//
// SG_CROSS = false is only chosen on the host when lanes * step <= the device's minimum
// subgroup size: the whole row is then inside one subgroup and no barrier is needed.
//
// Determinism: a butterfly step combines (a, b) on one lane and (b, a) on its partner with a
// commutative operation (so every lane of a butterfly ends with the same bits), and the
// strided cross step reads the partials in the same order on every lane.
//
// Workgroup memory: reduce_max_flags uses red_a/red_u, reduce_sum red_b, reduce_pairs all
// three; a kernel calls each array's reduction at most once, so no trailing barrier is needed.

struct Ids {
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(subgroup_id) sg_id: u32,
    @builtin(subgroup_size) sg_size: u32,
    @builtin(subgroup_invocation_id) sg_lane: u32,
}

fn lane_of(ids: Ids) -> Lane {
    return lane_layout(ids.sg_id * ids.sg_size + ids.sg_lane, ids.wid, ids.sg_lane, ids.sg_size);
}

var<workgroup> red_a: array<f32, WG>;
var<workgroup> red_b: array<f32, WG>;
var<workgroup> red_u: array<u32, WG>;

// Contiguous rows of more lanes than a subgroup: each subgroup lies inside one row, so the
// row's nb = lanes / subgroup_size partials (at head + b * subgroup_size) are reduced by the
// subgroup itself: lane l combines partials l % nb, l % nb + subgroup_size, ..., then a second
// butterfly over min(nb, subgroup_size) lanes. Uniform: params and subgroup_size only.
fn wide_contiguous(ln: Lane) -> bool {
    return ln.step == 1u && LANES > ln.sg_size;
}

// Otherwise (strided rows, or rows inside one subgroup of this size), every lane reads the
// row's partials in order. Lanes of a row per partial after the butterfly: the j-block a
// partial covers.
fn block(ln: Lane) -> u32 {
    return max(ln.sg_size / ln.step, 1u);
}

fn reduce_max_flags(ln: Lane, m0: f32, flags0: u32) -> MaxFlags {
    var m = m0;
    var flags = flags0;
    let span = LANES * ln.step;
    for (var off = ln.step; off < span && off < ln.sg_size; off = off * 2u) {
        m = max_keep(m, subgroupShuffleXor(m, off));
        flags = flags | subgroupShuffleXor(flags, off);
    }
    if (SG_CROSS) {
        red_a[ln.local] = m;
        red_u[ln.local] = flags;
        workgroupBarrier();
        if (wide_contiguous(ln)) {
            let nb = LANES / ln.sg_size;
            m = neg_inf();
            flags = 0u;
            for (var b = ln.sg_lane % nb; b < nb; b += ln.sg_size) {
                let q = ln.head + b * ln.sg_size;
                m = max_keep(m, red_a[q]);
                flags = flags | red_u[q];
            }
            for (var off = 1u; off < nb && off < ln.sg_size; off = off * 2u) {
                m = max_keep(m, subgroupShuffleXor(m, off));
                flags = flags | subgroupShuffleXor(flags, off);
            }
        } else {
            let c = block(ln);
            m = red_a[ln.head];
            flags = red_u[ln.head];
            for (var t = c; t < LANES; t += c) {
                let q = ln.head + t * ln.step;
                m = max_keep(m, red_a[q]);
                flags = flags | red_u[q];
            }
        }
    }
    return MaxFlags(m, flags);
}

fn reduce_sum(ln: Lane, v0: f32) -> f32 {
    var v = v0;
    let span = LANES * ln.step;
    for (var off = ln.step; off < span && off < ln.sg_size; off = off * 2u) {
        v = v + subgroupShuffleXor(v, off);
    }
    if (SG_CROSS) {
        red_b[ln.local] = v;
        workgroupBarrier();
        if (wide_contiguous(ln)) {
            let nb = LANES / ln.sg_size;
            v = 0.0;
            for (var b = ln.sg_lane % nb; b < nb; b += ln.sg_size) {
                v = v + red_b[ln.head + b * ln.sg_size];
            }
            for (var off = 1u; off < nb && off < ln.sg_size; off = off * 2u) {
                v = v + subgroupShuffleXor(v, off);
            }
        } else {
            let c = block(ln);
            v = red_b[ln.head];
            for (var t = c; t < LANES; t += c) {
                v = v + red_b[ln.head + t * ln.step];
            }
        }
    }
    return v;
}

fn reduce_pairs(ln: Lane, pair0: vec2<f32>, flags0: u32) -> PairFlags {
    var pair = pair0;
    var flags = flags0;
    let span = LANES * ln.step;
    for (var off = ln.step; off < span && off < ln.sg_size; off = off * 2u) {
        pair = combine_pairs(pair, subgroupShuffleXor(pair, off));
        flags = flags | subgroupShuffleXor(flags, off);
    }
    if (SG_CROSS) {
        red_a[ln.local] = pair.x;
        red_b[ln.local] = pair.y;
        red_u[ln.local] = flags;
        workgroupBarrier();
        if (wide_contiguous(ln)) {
            let nb = LANES / ln.sg_size;
            pair = vec2<f32>(neg_inf(), 0.0);
            flags = 0u;
            for (var b = ln.sg_lane % nb; b < nb; b += ln.sg_size) {
                let q = ln.head + b * ln.sg_size;
                pair = combine_pairs(pair, vec2<f32>(red_a[q], red_b[q]));
                flags = flags | red_u[q];
            }
            for (var off = 1u; off < nb && off < ln.sg_size; off = off * 2u) {
                pair = combine_pairs(pair, subgroupShuffleXor(pair, off));
                flags = flags | subgroupShuffleXor(flags, off);
            }
        } else {
            let c = block(ln);
            pair = vec2<f32>(red_a[ln.head], red_b[ln.head]);
            flags = red_u[ln.head];
            for (var t = c; t < LANES; t += c) {
                let q = ln.head + t * ln.step;
                pair = combine_pairs(pair, vec2<f32>(red_a[q], red_b[q]));
                flags = flags | red_u[q];
            }
        }
    }
    return PairFlags(pair, flags);
}
