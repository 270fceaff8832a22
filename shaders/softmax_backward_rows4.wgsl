// Softmax backward, vec4 register kernel: the register kernel (softmax_backward_rows.wgsl)
// for contiguous rows (inner == 1) of a multiple of 4 elements, in tensors that start on whole
// vec4s: dx = (dy - sum(dy * y)) * y, each lane loading 4 vec4s of y and dy once (as
// softmax_forward_rows4.wgsl, the four units written out). Masked positions give dx = 0 and
// are left out of the sum.
//
// Binding contract (declared by src/softmax/kernels.rs):
//   @binding(0) params  uniform SoftmaxParams
//   reads:  y, dy (array<vec4<f32>>), then mask (array<vec4<f32>>) in the masked variant
//   writes: dx (array<vec4<f32>>)

// y and dy of unit r of the lane's row (zeros where masked or past the row), with its
// kept flags added to `kept_bits`.
struct Unit4 {
    y: vec4<f32>,
    dy: vec4<f32>,
}

fn load_y_dy4(ln: Lane, r: u32, kept_bits: ptr<function, u32>) -> Unit4 {
    let k = ln.j + r * LANES;
    if (!ln.valid || k >= params.len / 4u) {
        return Unit4(vec4<f32>(0.0), vec4<f32>(0.0));
    }
    let i = ln.first / 4u + k;
    let keep = kept4(i);
    *kept_bits |= bits4(keep) << (4u * r);
    return Unit4(select(vec4<f32>(0.0), ld_y(i), keep), select(vec4<f32>(0.0), ld_dy(i), keep));
}

fn store_dx4(ln: Lane, r: u32, u: Unit4, total: f32, kept_bits: u32) {
    let k = ln.j + r * LANES;
    if (ln.valid && k < params.len / 4u) {
        let g = (u.dy - vec4<f32>(total)) * u.y;
        st_dx(ln.first / 4u + k, select(vec4<f32>(0.0), g, unbits4(kept_bits >> (4u * r))));
    }
}

@compute @workgroup_size(WG)
fn backward_rows4(ids: Ids) {
    let ln = lane_of(ids);
    var kept_bits = 0u;
    let u0 = load_y_dy4(ln, 0u, &kept_bits);
    let u1 = load_y_dy4(ln, 1u, &kept_bits);
    let u2 = load_y_dy4(ln, 2u, &kept_bits);
    let u3 = load_y_dy4(ln, 3u, &kept_bits);
    // Pairwise, depth log2(16) as the scalar kernel's sum_regs.
    let s = (u0.dy * u0.y + u2.dy * u2.y) + (u1.dy * u1.y + u3.dy * u3.y);
    let total = reduce_sum(ln, (s.x + s.y) + (s.z + s.w));
    store_dx4(ln, 0u, u0, total, kept_bits);
    store_dx4(ln, 1u, u1, total, kept_bits);
    store_dx4(ln, 2u, u2, total, kept_bits);
    store_dx4(ln, 3u, u3, total, kept_bits);
}
