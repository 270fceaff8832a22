// Softmax forward, the vec4 kernels' store (softmax_forward_rows4.wgsl has the loads): appended by
// src/softmax/kernels.rs to the kernels that write y (not the partials passes).

// Stores unit r: `yv`, the row's NaN when poisoned, 0 where masked.
fn store_y4(ln: Lane, r: u32, yv: vec4<f32>, nan_row: bool, kept: u32) {
    let k = ln.k0 / 4u + ln.j + r * LANES;
    if (ln.valid && k < ln.len / 4u) {
        store_y4_in(ln, k, r, yv, nan_row, kept);
    }
}

// store_y4 of unit r, the row's vec4 k, known to lie in the row.
fn store_y4_in(ln: Lane, k: u32, r: u32, yv: vec4<f32>, nan_row: bool, kept: u32) {
    let y = select(yv, vec4<f32>(wgact_nan1()), nan_row);
    st_y(ln.first / 4u + k, select(vec4<f32>(0.0), y, unbits4(kept >> (4u * (r % 8u)))));
}
