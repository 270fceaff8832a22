// Softmax backward, long rows, pass 1 of 2: each workgroup sums dy * y over one chunk of
// `slots` rows (kept positions only) into partials[partial_index].x.
//
// Binding contract (declared by src/softmax/kernels.rs):
//   @binding(0) params  uniform SoftmaxParams
//   reads:  y, dy (array<f32>), then mask (array<f32>) in the masked variant
//   writes: partials (array<vec4<f32>>)

@compute @workgroup_size(WG)
fn backward_partials(ids: Ids) {
    let ln = lane_of(ids);
    var sum = 0.0;
    let end = min(ln.k0 + params.chunk_len, ln.len);
    if (ln.valid) {
        for (var k = ln.k0 + ln.j; k < end; k += LANES) {
            let i = elem(ln, k);
            if (kept(i)) {
                sum += ld_dy(i) * ld_y(i);
            }
        }
    }
    let total = reduce_sum(ln, sum);
    if (ln.valid && ln.j == 0u) {
        st_partials(partial_index(ln), vec4<f32>(total, 0.0, 0.0, 0.0));
    }
}
