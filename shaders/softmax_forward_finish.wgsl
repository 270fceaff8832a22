// Softmax forward, long rows, pass 2 of 2: each workgroup combines all `row_chunks` partial pairs
// of its rows (lanes loop over them, then a tree), then writes y for its own chunk:
// y = exp(x - max) * (1 / sum), or the special-row values.
//
// Binding contract (declared by src/softmax/kernels.rs):
//   @binding(0) params  uniform SoftmaxParams
//   reads:  x (array<f32>), then mask (array<f32>) in the masked variant, then
//           partials (array<vec4<f32>>)
//   writes: y (array<f32>)

@compute @workgroup_size(WG)
fn forward_finish(ids: Ids) {
    let ln = lane_of(ids);
    var pair = vec2<f32>(neg_inf(), 0.0);
    var flags = 0u;
    if (ln.valid) {
        for (var c = ln.j; c < params.row_chunks; c += LANES) {
            let p = ld_partials(ln.row * params.row_chunks + c);
            pair = combine_pairs(pair, p.xy);
            flags |= bitcast<u32>(p.z);
        }
    }
    let r = reduce_pairs(ln, pair, flags);
    let row_max = r.pair.x;
    let inv = 1.0 / r.pair.y;
    let nan_row = row_is_nan(row_max, r.flags);
    let end = min(ln.k0 + params.chunk_len, ln.len);
    if (ln.valid) {
        for (var k = ln.k0 + ln.j; k < end; k += LANES) {
            let i = elem(ln, k);
            var yv = 0.0;
            if (kept(i)) {
                let xv = ld_x(i);
                yv = exp_nonpos(xv - row_max) * inv;
                if (nan_row) {
                    yv = wgact_nan1();
                }
            }
            st_y(i, yv);
        }
    }
}
