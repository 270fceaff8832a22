// Softmax backward, long rows, pass 2 of 2, resident variant: one workgroup per `slots` rows.
// Pass 1 summed dy * y over the row's first `row_chunks` chunks only; this pass reads the rest
// of the row (the tail, at most TAIL_REGS elements of y and of dy per lane) once into
// registers, adds its sum to pass 1's partials, writes dx = (dy - sum) * y for the tail from
// registers and for the first `row_chunks` chunks from a second read (0 at masked positions).
// Three chunks of tail keep a row of 32768 at 1.42x the ideal bytes (one chunk: 1.58x).
//
// Binding contract (declared by src/softmax/kernels.rs):
//   @binding(0) params  uniform SoftmaxParams
//   reads:  y, dy (array<f32>), then mask (array<f32>) in the masked variant, then
//           partials (array<vec4<f32>>)
//   writes: dx (array<f32>)

const TAIL_REGS: u32 = 48u;

@compute @workgroup_size(WG)
fn backward_finish_resident(ids: Ids) {
    let ln = lane_of(ids);
    let tail = params.row_chunks * params.chunk_len;
    var vy: array<f32, TAIL_REGS>;
    var vdy: array<f32, TAIL_REGS>;
    var kept_r: array<bool, TAIL_REGS>;
    var sum = 0.0;
    for (var b = 0u; b < TAIL_REGS; b += REGS) {
        var prod: array<f32, REGS>;
        for (var q = 0u; q < REGS; q++) {
            let r = b + q;
            let k = tail + ln.j + r * LANES;
            vy[r] = 0.0;
            vdy[r] = 0.0;
            kept_r[r] = false;
            prod[q] = 0.0;
            if (ln.valid && k < ln.len) {
                let i = elem(ln, k);
                if (kept(i)) {
                    kept_r[r] = true;
                    vy[r] = ld_y(i);
                    vdy[r] = ld_dy(i);
                    prod[q] = vdy[r] * vy[r];
                }
            }
        }
        sum += sum_regs(prod);
    }
    if (ln.valid) {
        for (var c = ln.j; c < params.row_chunks; c += LANES) {
            sum += ld_partials(ln.row * params.row_chunks + c).x;
        }
    }
    let total = reduce_sum(ln, sum);
    if (ln.valid) {
        for (var r = 0u; r < TAIL_REGS; r++) {
            let k = tail + ln.j + r * LANES;
            if (k < ln.len) {
                var g = 0.0;
                if (kept_r[r]) {
                    g = (vdy[r] - total) * vy[r];
                }
                st_dx(elem(ln, k), g);
            }
        }
        for (var k = ln.j; k < tail; k += LANES) {
            let i = elem(ln, k);
            var g = 0.0;
            if (kept(i)) {
                g = (ld_dy(i) - total) * ld_y(i);
            }
            st_dx(i, g);
        }
    }
}
