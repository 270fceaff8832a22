// Softmax forward, long rows, pass 1 of 2: each workgroup reduces one chunk of
// `chunk_len` elements of `slots` rows to an online-softmax pair (max, sum of exp(x - max))
// plus the row flags, written to partials[partial_index] = (max, sum, flags bits, 0).
// Every element is read once; lanes loop over the chunk with stride `lanes`.
//
// Binding contract (declared by src/softmax/kernels.rs):
//   @binding(0) params  uniform SoftmaxParams
//   reads:  x (array<f32>), then mask (array<f32>) in the masked variant
//   writes: partials (array<vec4<f32>>)

@compute @workgroup_size(WG)
fn forward_partials(ids: Ids) {
    let ln = lane_of(ids);
    var pair = vec2<f32>(neg_inf(), 0.0);
    var flags = 0u;
    let end = min(ln.k0 + params.chunk_len, ln.len);
    if (ln.valid) {
        for (var k = ln.k0 + ln.j; k < end; k += LANES) {
            let i = elem(ln, k);
            if (kept(i)) {
                let xv = ld_x(i);
                flags |= FLAG_KEPT;
                if (poisons_row(xv)) {
                    flags |= FLAG_BAD;
                } else {
                    pair = combine_pairs(pair, vec2<f32>(xv, 1.0));
                }
            }
        }
    }
    let r = reduce_pairs(ln, pair, flags);
    if (ln.valid && ln.j == 0u) {
        st_partials(partial_index(ln),
            vec4<f32>(r.pair.x, r.pair.y, bitcast<f32>(r.flags), 0.0));
    }
}
