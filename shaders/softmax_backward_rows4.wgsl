// Softmax backward, vec4 register kernel: the register kernel (softmax_backward_rows.wgsl)
// for contiguous rows (inner == 1) of a multiple of 4 elements, in tensors that start on whole
// vec4s: dx = (dy - sum(dy * y)) * y, each lane loading UNITS vec4s of y and dy once.
// Masked positions give dx = 0 and are left out of the sum.
//
// The entry point `backward_rows4` is generated (src/softmax/kernels.rs, `rows4_entry`), as
// the forward's: the helpers below once per unit, and a pairwise sum of the units.
//
// Binding contract (declared by src/softmax/kernels.rs):
//   @binding(0) params  uniform SoftmaxParams
//   reads:  y, dy (array<vec4<f32>>), then mask (array<vec4<f32>>) in the masked variant
//   writes: dx (array<vec4<f32>>)

struct Unit4 {
    y: vec4<f32>,
    dy: vec4<f32>,
}

// y and dy of unit r of the lane's row (zeros where masked or past the row); its four kept
// flags go to bits 4 (r % 8) of `kept`.
fn load_y_dy4(ln: Lane, r: u32, kept: ptr<function, u32>) -> Unit4 {
    let k = ln.k0 / 4u + ln.j + r * LANES;
    if (!ln.valid || k >= ln.len / 4u) {
        return Unit4(vec4<f32>(0.0), vec4<f32>(0.0));
    }
    return load_y_dy4_in(ln, k, r, kept);
}

// load_y_dy4 of unit r, the row's vec4 k, known to lie in the row.
fn load_y_dy4_in(ln: Lane, k: u32, r: u32, kept: ptr<function, u32>) -> Unit4 {
    let i = ln.first / 4u + k;
    let keep = kept4(i);
    *kept |= bits4(keep) << (4u * (r % 8u));
    return Unit4(select(vec4<f32>(0.0), ld_y(i), keep), select(vec4<f32>(0.0), ld_dy(i), keep));
}
