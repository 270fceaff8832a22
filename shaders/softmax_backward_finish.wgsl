// Softmax backward, long rows, pass 2 of 2: each workgroup adds up the `row_chunks` partial sums
// of its rows, then writes dx = (dy - sum) * y for its own chunk (0 at masked positions).
//
// Binding contract (declared by src/softmax/kernels.rs):
//   @binding(0) params  uniform SoftmaxParams
//   reads:  y, dy (array<f32>), then mask (array<f32>) in the masked variant, then
//           partials (array<vec4<f32>>)
//   writes: dx (array<f32>)

@compute @workgroup_size(WG)
fn backward_finish(ids: Ids) {
    let ln = lane_of(ids);
    var sum = 0.0;
    if (ln.valid) {
        for (var c = ln.j; c < params.row_chunks; c += LANES) {
            sum += ld_partials(ln.row * params.row_chunks + c).x;
        }
    }
    let total = reduce_sum(ln, sum);
    let end = min(ln.k0 + params.chunk_len, ln.len);
    if (ln.valid) {
        for (var k = ln.k0 + ln.j; k < end; k += LANES) {
            let i = elem(ln, k);
            var g = 0.0;
            if (kept(i)) {
                g = (ld_dy(i) - total) * ld_y(i);
            }
            st_dx(i, g);
        }
    }
}
