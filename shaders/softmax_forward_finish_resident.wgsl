// Softmax forward, long rows, pass 2 of 2, resident variant: one workgroup per `slots` rows
// (never per chunk). Pass 1 reduced only the row's first `row_chunks` chunks; this pass reads
// the rest of the row (the tail, at most TAIL_REGS elements per lane) once into registers,
// combines its online pair with pass 1's partials, writes the tail from registers and the
// first `row_chunks` chunks from a second read. So the tail is read once and the row
// 2 - tail/len times, instead of twice (src/softmax/plan.rs decides when: enough rows to keep
// the device busy with one workgroup per row).
//
// Binding contract (declared by src/softmax/kernels.rs):
//   @binding(0) params  uniform SoftmaxParams
//   reads:  x (array<f32>), then mask (array<f32>) in the masked variant, then
//           partials (array<vec4<f32>>)
//   writes: y (array<f32>)

const TAIL_REGS: u32 = 16u;

@compute @workgroup_size(WG)
fn forward_finish_resident(ids: Ids) {
    let ln = lane_of(ids);
    let tail = params.row_chunks * params.chunk_len;
    var v: array<f32, TAIL_REGS>;
    var kept_r: array<bool, TAIL_REGS>;
    var m = neg_inf();
    var flags = 0u;
    for (var r = 0u; r < TAIL_REGS; r++) {
        let k = tail + ln.j + r * LANES;
        v[r] = neg_inf();
        kept_r[r] = false;
        if (ln.valid && k < ln.len) {
            let i = elem(ln, k);
            if (kept(i)) {
                let xv = ld_x(i);
                kept_r[r] = true;
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
    var pair = vec2<f32>(m, 0.0);
    if (!is_neg_inf(m)) {
        pair.y = sum_exp_blocks(v, m);
    }
    if (ln.valid) {
        for (var c = ln.j; c < params.row_chunks; c += LANES) {
            let p = ld_partials(ln.row * params.row_chunks + c);
            pair = combine_pairs(pair, p.xy);
            flags |= bitcast<u32>(p.z);
        }
    }
    let red = reduce_pairs(ln, pair, flags);
    let row_max = red.pair.x;
    let inv = 1.0 / red.pair.y;
    let nan_row = row_is_nan(row_max, red.flags);
    if (ln.valid) {
        for (var r = 0u; r < TAIL_REGS; r++) {
            let k = tail + ln.j + r * LANES;
            if (k < ln.len) {
                var yv = 0.0;
                if (kept_r[r]) {
                    yv = exp_nonpos(v[r] - row_max) * inv;
                    if (nan_row) {
                        yv = wgact_nan1();
                    }
                }
                st_y(elem(ln, k), yv);
            }
        }
        for (var k = ln.j; k < tail; k += LANES) {
            let i = elem(ln, k);
            var yv = 0.0;
            if (kept(i)) {
                yv = exp_nonpos(ld_x(i) - row_max) * inv;
                if (nan_row) {
                    yv = wgact_nan1();
                }
            }
            st_y(i, yv);
        }
    }
}

// Sum of exp(v - m) over the registers, pairwise in blocks of REGS (as sum_regs), blocks in order.
fn sum_exp_blocks(v: array<f32, TAIL_REGS>, m: f32) -> f32 {
    var s = 0.0;
    for (var b = 0u; b < TAIL_REGS; b += REGS) {
        var blk: array<f32, REGS>;
        for (var r = 0u; r < REGS; r++) {
            blk[r] = exp_nonpos(v[b + r] - m);
        }
        s += sum_regs(blk);
    }
    return s;
}
