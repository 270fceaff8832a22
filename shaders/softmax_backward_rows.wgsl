// Softmax backward, register kernel: dx = (dy - sum(dy * y)) * y per row (TensorFlow's
// SoftmaxGrad), for rows of at most lanes * REGS elements, each element loaded once.
// Masked positions give dx = 0 and are left out of the sum. NaN rows of y (special rows of
// the forward) make the sum, and so the whole row of dx, NaN by plain arithmetic.
//
// Binding contract (declared by src/softmax/kernels.rs):
//   @binding(0) params  uniform SoftmaxParams
//   reads:  y, dy (array<f32>), then mask (array<f32>) in the masked variant
//   writes: dx (array<f32>)

@compute @workgroup_size(WG)
fn backward_rows(ids: Ids) {
    let ln = lane_of(ids);
    var vy: array<f32, REGS>;
    var vdy: array<f32, REGS>;
    var kept_bits = 0u;
    var prod: array<f32, REGS>;
    for (var r = 0u; r < REGS; r++) {
        let k = ln.j + r * LANES;
        vy[r] = 0.0;
        vdy[r] = 0.0;
        prod[r] = 0.0;
        if (ln.valid && k < params.len) {
            let i = elem(ln, k);
            if (kept(i)) {
                kept_bits |= 1u << r;
                vy[r] = ld_y(i);
                vdy[r] = ld_dy(i);
                prod[r] = vdy[r] * vy[r];
            }
        }
    }
    let total = reduce_sum(ln, sum_regs(prod));
    for (var r = 0u; r < REGS; r++) {
        let k = ln.j + r * LANES;
        if (ln.valid && k < params.len) {
            var g = (vdy[r] - total) * vy[r];
            if ((kept_bits & (1u << r)) == 0u) {
                g = 0.0;
            }
            st_dx(elem(ln, k), g);
        }
    }
}
