// Softmax backward, register kernel: dx = (dy - sum(dy * y)) * y per row (TensorFlow's
// SoftmaxGrad), for rows of at most LANES * REGS elements (strided rows, and contiguous ones
// that the vec4 kernel does not take), each element loaded once. The sixteen registers are
// written out, as in softmax_forward_rows.wgsl. Masked positions give dx = 0 and are left out
// of the sum. NaN rows of y (special rows of the forward) make the sum, and so the whole row
// of dx, NaN by plain arithmetic.
//
// Binding contract (declared by src/softmax/kernels.rs):
//   @binding(0) params  uniform SoftmaxParams
//   reads:  y, dy (array<f32>), then mask (array<f32>) in the masked variant
//   writes: dx (array<f32>)

// (y, dy) of register r of the lane's row: zeros where masked or past the row; its kept flag
// is added to `kept_bits`.
fn load_y_dy(ln: Lane, r: u32, kept_bits: ptr<function, u32>) -> vec2<f32> {
    let k = ln.j + r * LANES;
    if (!ln.valid || k >= params.len) {
        return vec2<f32>(0.0);
    }
    let i = elem(ln, k);
    if (!kept(i)) {
        return vec2<f32>(0.0);
    }
    *kept_bits |= 1u << r;
    return vec2<f32>(ld_y(i), ld_dy(i));
}

fn store_dx(ln: Lane, r: u32, u: vec2<f32>, total: f32, kept_bits: u32) {
    let k = ln.j + r * LANES;
    if (ln.valid && k < params.len) {
        let g = (u.y - total) * u.x;
        st_dx(elem(ln, k), select(0.0, g, (kept_bits & (1u << r)) != 0u));
    }
}

@compute @workgroup_size(WG)
fn backward_rows(ids: Ids) {
    let ln = lane_of(ids);
    var b = 0u;
    let u0 = load_y_dy(ln, 0u, &b);
    let u1 = load_y_dy(ln, 1u, &b);
    let u2 = load_y_dy(ln, 2u, &b);
    let u3 = load_y_dy(ln, 3u, &b);
    let u4 = load_y_dy(ln, 4u, &b);
    let u5 = load_y_dy(ln, 5u, &b);
    let u6 = load_y_dy(ln, 6u, &b);
    let u7 = load_y_dy(ln, 7u, &b);
    let u8 = load_y_dy(ln, 8u, &b);
    let u9 = load_y_dy(ln, 9u, &b);
    let u10 = load_y_dy(ln, 10u, &b);
    let u11 = load_y_dy(ln, 11u, &b);
    let u12 = load_y_dy(ln, 12u, &b);
    let u13 = load_y_dy(ln, 13u, &b);
    let u14 = load_y_dy(ln, 14u, &b);
    let u15 = load_y_dy(ln, 15u, &b);
    // dy * y of registers r and r + 8 side by side: the pairwise sum below is sum_regs' order.
    let p0 = vec4<f32>(u0.x, u1.x, u2.x, u3.x) * vec4<f32>(u0.y, u1.y, u2.y, u3.y);
    let p1 = vec4<f32>(u4.x, u5.x, u6.x, u7.x) * vec4<f32>(u4.y, u5.y, u6.y, u7.y);
    let p2 = vec4<f32>(u8.x, u9.x, u10.x, u11.x) * vec4<f32>(u8.y, u9.y, u10.y, u11.y);
    let p3 = vec4<f32>(u12.x, u13.x, u14.x, u15.x) * vec4<f32>(u12.y, u13.y, u14.y, u15.y);
    let s = (p0 + p2) + (p1 + p3);
    let total = reduce_sum(ln, (s.x + s.z) + (s.y + s.w));
    store_dx(ln, 0u, u0, total, b);
    store_dx(ln, 1u, u1, total, b);
    store_dx(ln, 2u, u2, total, b);
    store_dx(ln, 3u, u3, total, b);
    store_dx(ln, 4u, u4, total, b);
    store_dx(ln, 5u, u5, total, b);
    store_dx(ln, 6u, u6, total, b);
    store_dx(ln, 7u, u7, total, b);
    store_dx(ln, 8u, u8, total, b);
    store_dx(ln, 9u, u9, total, b);
    store_dx(ln, 10u, u10, total, b);
    store_dx(ln, 11u, u11, total, b);
    store_dx(ln, 12u, u12, total, b);
    store_dx(ln, 13u, u13, total, b);
    store_dx(ln, 14u, u14, total, b);
    store_dx(ln, 15u, u15, total, b);
}
