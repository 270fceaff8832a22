// Softmax backward, the vec4 kernels' store (softmax_backward_rows4.wgsl has the loads): appended by
// src/softmax/kernels.rs to the kernels that write dx (not the partials passes).

fn store_dx4(ln: Lane, r: u32, u: Unit4, total: f32, kept: u32) {
    let k = ln.k0 / 4u + ln.j + r * LANES;
    if (ln.valid && k < ln.len / 4u) {
        store_dx4_in(ln, k, r, u, total, kept);
    }
}

// store_dx4 of unit r, the row's vec4 k, known to lie in the row.
fn store_dx4_in(ln: Lane, k: u32, r: u32, u: Unit4, total: f32, kept: u32) {
    let g = (u.dy - vec4<f32>(total)) * u.y;
    st_dx(ln.first / 4u + k, select(vec4<f32>(0.0), g, unbits4(kept >> (4u * (r % 8u)))));
}
