// Softmax backward, strided vec4 kernel (CPU adapters with subgroups): dx = (dy - sum(dy * y))
// * y for four neighbouring strided rows a lane, as softmax_forward_cols4.wgsl (components are
// rows, a quad's lanes inside one subgroup, indices in vec4 units; the reductions are in
// shaders/softmax_cols4.wgsl). Masked positions give dx = 0 and are left out of the sum.
//
// The entry point `backward_cols4` is generated (src/softmax/kernels.rs, `rows_entry`).
//
// Binding contract (declared by src/softmax/kernels.rs):
//   @binding(0) params  uniform SoftmaxParams
//   reads:  y, dy (array<vec4<f32>>), then mask (array<vec4<f32>>) in the masked variant
//   writes: dx (array<vec4<f32>>)

struct UnitCols4 {
    y: vec4<f32>,
    dy: vec4<f32>,
}

fn load_y_dy_cols4(ln: Lane, r: u32, kept: ptr<function, u32>) -> UnitCols4 {
    let k = ln.j + r * LANES;
    if (!ln.valid || k >= ln.len) {
        return UnitCols4(vec4<f32>(0.0), vec4<f32>(0.0));
    }
    let i = elem(ln, k);
    let keep = kept4(i);
    *kept |= bits4(keep) << (4u * (r % 8u));
    return UnitCols4(select(vec4<f32>(0.0), ld_y(i), keep), select(vec4<f32>(0.0), ld_dy(i), keep));
}

fn store_dx_cols4(ln: Lane, r: u32, u: UnitCols4, total: vec4<f32>, kept: u32) {
    let k = ln.j + r * LANES;
    if (ln.valid && k < ln.len) {
        let g = (u.dy - total) * u.y;
        st_dx(elem(ln, k), select(vec4<f32>(0.0), g, unbits4(kept >> (4u * (r % 8u)))));
    }
}
