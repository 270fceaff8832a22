// Softmax forward, vec4 register kernel: the register kernel (softmax_forward_rows.wgsl) for
// contiguous rows (inner == 1) of a multiple of 4 elements, in tensors that start on whole
// vec4s. Each lane loads UNITS vec4s of its row once (unit r of lane j is the row's vec4
// j + r * LANES, so neighbouring lanes read neighbouring 16-byte units); the max and the sum
// are the same lane reductions as the scalar kernel's. Per element the rules are the scalar
// kernel's: a NaN or +inf poisons the row, masked positions are left out and give 0, every
// result is exp(x - max) * (1 / sum), rounded once by its store.
//
// The entry point `forward_rows4` is generated (src/softmax/kernels.rs, `rows4_entry`): it
// calls the helpers below once per unit, written out rather than looped over (lavapipe keeps
// a private array indexed in a loop in memory), and sums the units pairwise.
//
// Binding contract (declared by src/softmax/kernels.rs):
//   @binding(0) params  uniform SoftmaxParams
//   reads:  x (array<vec4<f32>>), then mask (array<vec4<f32>>) in the masked variant
//   writes: y (array<vec4<f32>>)

struct Acc4 {
    m: f32,
    flags: u32,
}

// Unit r of the lane's row: its kept, non-poisoning values (-inf elsewhere), folded into acc;
// its four kept flags go to bits 4 (r % 8) of `kept`.
fn load_x4(ln: Lane, r: u32, acc: ptr<function, Acc4>, kept: ptr<function, u32>) -> vec4<f32> {
    let k = ln.k0 / 4u + ln.j + r * LANES;
    if (!ln.valid || k >= ln.len / 4u) {
        return vec4<f32>(neg_inf());
    }
    return load_x4_in(ln, k, r, acc, kept);
}

// load_x4 of unit r, the row's vec4 k, known to lie in the row.
fn load_x4_in(ln: Lane, k: u32, r: u32, acc: ptr<function, Acc4>, kept: ptr<function, u32>) -> vec4<f32> {
    let i = ln.first / 4u + k;
    let xv = ld_x(i);
    let keep = kept4(i);
    let bad = poisons_row4(xv);
    *kept |= bits4(keep) << (4u * (r % 8u));
    (*acc).flags |= select(0u, FLAG_KEPT, any(keep)) | select(0u, FLAG_BAD, any(keep & bad));
    let v = select(vec4<f32>(neg_inf()), xv, keep & !bad);
    (*acc).m = max_keep((*acc).m, max_keep(max_keep(v.x, v.y), max_keep(v.z, v.w)));
    return v;
}
