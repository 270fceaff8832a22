// Softmax backward, the vec4 kernels' store (softmax_backward_rows4.wgsl has the loads): appended by
// src/softmax/kernels.rs to the kernels that write dx (not the partials passes).

fn store_dx4(ln: Lane, r: u32, u: Unit4, total: f32, kept: u32) {
    let k = ln.k0 / 4u + ln.j + r * LANES;
    if (ln.valid && k < ln.len / 4u) {
        let g = (u.dy - vec4<f32>(total)) * u.y;
        st_dx(ln.first / 4u + k, select(vec4<f32>(0.0), g, unbits4(kept >> (4u * (r % 8u)))));
    }
}
