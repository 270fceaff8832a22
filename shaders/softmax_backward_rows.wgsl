// Softmax backward, register kernel: dx = (dy - sum(dy * y)) * y per row (TensorFlow's
// SoftmaxGrad), for rows of at most LANES * REGS elements (strided rows, and contiguous ones
// that the vec4 kernel does not take), each element loaded once. Masked positions give dx = 0
// and are left out of the sum. NaN rows of y (special rows of the forward) make the sum, and
// so the whole row of dx, NaN by plain arithmetic.
//
// The entry point `backward_rows` is generated (src/softmax/kernels.rs, `rows_entry`), as the
// forward's: the helpers below once per register, and the products summed pairwise.
//
// Binding contract (declared by src/softmax/kernels.rs):
//   @binding(0) params  uniform SoftmaxParams
//   reads:  y, dy (array<f32>), then mask (array<f32>) in the masked variant
//   writes: dx (array<f32>)

// (y, dy) of register r of the lane's row: zeros where masked or past the row; its kept flag
// goes to bit r % 32 of `kept_bits`.
fn load_y_dy(ln: Lane, r: u32, kept_bits: ptr<function, u32>) -> vec2<f32> {
    let k = ln.j + r * LANES;
    if (!ln.valid || k >= ln.len) {
        return vec2<f32>(0.0);
    }
    let i = elem(ln, k);
    if (!kept(i)) {
        return vec2<f32>(0.0);
    }
    *kept_bits |= 1u << (r % 32u);
    return vec2<f32>(ld_y(i), ld_dy(i));
}

fn store_dx(ln: Lane, r: u32, u: vec2<f32>, total: f32, kept_bits: u32) {
    let k = ln.j + r * LANES;
    if (ln.valid && k < ln.len) {
        let g = (u.y - total) * u.x;
        st_dx(elem(ln, k), select(0.0, g, (kept_bits & (1u << (r % 32u))) != 0u));
    }
}
