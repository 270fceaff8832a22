// Softmax forward, register kernel: y = exp(x - max) * (1 / sum(exp(x - max))) per row, for
// rows of at most lanes * REGS elements. Each invocation loads its REGS elements of the row
// once into registers; the max and the sum are shared-memory trees over the row's lanes.
//
// Binding contract (declared by src/softmax/kernels.rs):
//   @binding(0) params  uniform SoftmaxParams
//   reads:  x (array<f32>), then mask (array<f32>) in the masked variant
//   writes: y (array<f32>)

@compute @workgroup_size(WG)
fn forward_rows(ids: Ids) {
    let ln = lane_of(ids);
    var v: array<f32, REGS>;
    var kept_bits = 0u;
    var m = neg_inf();
    var flags = 0u;
    for (var r = 0u; r < REGS; r++) {
        let k = ln.j + r * LANES;
        v[r] = neg_inf();
        if (ln.valid && k < params.len) {
            let i = elem(ln, k);
            if (kept(i)) {
                let xv = ld_x(i);
                kept_bits |= 1u << r;
                flags |= FLAG_KEPT;
                if (poisons_row(xv)) {
                    flags |= FLAG_BAD;
                } else {
                    v[r] = xv;
                    m = max_keep(m, xv);
                }
            }
        }
    }
    let mf = reduce_max_flags(ln, m, flags);
    let row_max = mf.m;
    for (var r = 0u; r < REGS; r++) {
        v[r] = exp_nonpos(v[r] - row_max);
    }
    let total = reduce_sum(ln, sum_regs(v));
    let inv = 1.0 / total;
    let nan_row = row_is_nan(row_max, mf.flags);
    for (var r = 0u; r < REGS; r++) {
        let k = ln.j + r * LANES;
        if (ln.valid && k < params.len) {
            var yv = v[r] * inv;
            if (nan_row) {
                yv = wgact_nan1();
            }
            if ((kept_bits & (1u << r)) == 0u) {
                yv = 0.0;
            }
            st_y(elem(ln, k), yv);
        }
    }
}
