// Softmax forward, vec4 register kernel: the register kernel (softmax_forward_rows.wgsl) for
// contiguous rows (inner == 1) of a multiple of 4 elements, in tensors that start on whole
// vec4s. Each lane loads 4 vec4s of its row once (lane j takes vec4s j, j + LANES, j + 2 LANES,
// j + 3 LANES, so neighbouring lanes read neighbouring 16-byte units); the max and the sum
// are the same lane reductions as the scalar kernel's. Per element the rules are the scalar
// kernel's: a NaN or +inf poisons the row, masked positions are left out and give 0, every
// result is exp(x - max) * (1 / sum), rounded once by its store. The four units are written
// out, not looped over: private arrays indexed in a loop cost lavapipe memory traffic.
//
// Binding contract (declared by src/softmax/kernels.rs):
//   @binding(0) params  uniform SoftmaxParams
//   reads:  x (array<vec4<f32>>), then mask (array<vec4<f32>>) in the masked variant
//   writes: y (array<vec4<f32>>)

struct Acc4 {
    m: f32,
    flags: u32,
    kept_bits: u32,
}

// Unit r of the lane's row: its kept, non-poisoning values (-inf elsewhere), folded into acc.
fn load_x4(ln: Lane, r: u32, acc: ptr<function, Acc4>) -> vec4<f32> {
    let k = ln.j + r * LANES;
    if (!ln.valid || k >= params.len / 4u) {
        return vec4<f32>(neg_inf());
    }
    let i = ln.first / 4u + k;
    let xv = ld_x(i);
    let keep = kept4(i);
    let bad = poisons_row4(xv);
    (*acc).kept_bits |= bits4(keep) << (4u * r);
    (*acc).flags |= select(0u, FLAG_KEPT, any(keep)) | select(0u, FLAG_BAD, any(keep & bad));
    let v = select(vec4<f32>(neg_inf()), xv, keep & !bad);
    (*acc).m = max_keep((*acc).m, max_keep(max_keep(v.x, v.y), max_keep(v.z, v.w)));
    return v;
}

// Stores unit r: `yv`, the row's NaN when poisoned, 0 where masked.
fn store_y4(ln: Lane, r: u32, yv: vec4<f32>, nan_row: bool, kept_bits: u32) {
    let k = ln.j + r * LANES;
    if (ln.valid && k < params.len / 4u) {
        let y = select(yv, vec4<f32>(wgact_nan1()), nan_row);
        st_y(ln.first / 4u + k, select(vec4<f32>(0.0), y, unbits4(kept_bits >> (4u * r))));
    }
}

@compute @workgroup_size(WG)
fn forward_rows4(ids: Ids) {
    let ln = lane_of(ids);
    var acc = Acc4(neg_inf(), 0u, 0u);
    let x0 = load_x4(ln, 0u, &acc);
    let x1 = load_x4(ln, 1u, &acc);
    let x2 = load_x4(ln, 2u, &acc);
    let x3 = load_x4(ln, 3u, &acc);
    let mf = reduce_max_flags(ln, acc.m, acc.flags);
    let m4 = vec4<f32>(mf.m);
    let e0 = exp_nonpos4(x0 - m4);
    let e1 = exp_nonpos4(x1 - m4);
    let e2 = exp_nonpos4(x2 - m4);
    let e3 = exp_nonpos4(x3 - m4);
    // Pairwise, depth log2(16) as the scalar kernel's sum_regs.
    let s = (e0 + e2) + (e1 + e3);
    let total = reduce_sum(ln, (s.x + s.y) + (s.z + s.w));
    let inv = 1.0 / total;
    let nan = row_is_nan(mf.m, mf.flags);
    store_y4(ln, 0u, e0 * inv, nan, acc.kept_bits);
    store_y4(ln, 1u, e1 * inv, nan, acc.kept_bits);
    store_y4(ln, 2u, e2 * inv, nan, acc.kept_bits);
    store_y4(ln, 3u, e3 * inv, nan, acc.kept_bits);
}
