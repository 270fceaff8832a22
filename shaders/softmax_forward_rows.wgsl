// Softmax forward, register kernel: y = exp(x - max) * (1 / sum(exp(x - max))) per row, for
// rows of at most LANES * REGS elements (strided rows, and contiguous ones that the vec4
// kernel does not take). Each invocation loads its REGS = 16 elements of the row once into
// registers; the max and the sum are reductions over the row's lanes (the reduction file).
// The sixteen registers are written out, not looped over: lavapipe keeps a private array
// indexed in a loop in memory, which made this kernel about twice as slow.
//
// Binding contract (declared by src/softmax/kernels.rs):
//   @binding(0) params  uniform SoftmaxParams
//   reads:  x (array<f32>), then mask (array<f32>) in the masked variant
//   writes: y (array<f32>)

struct Acc {
    m: f32,
    flags: u32,
    kept_bits: u32,
}

// Register r of the lane's row: its value if kept and not poisoning (-inf otherwise), folded
// into acc.
fn load_x(ln: Lane, r: u32, acc: ptr<function, Acc>) -> f32 {
    let k = ln.j + r * LANES;
    if (!ln.valid || k >= params.len) {
        return neg_inf();
    }
    let i = elem(ln, k);
    if (!kept(i)) {
        return neg_inf();
    }
    let xv = ld_x(i);
    (*acc).kept_bits |= 1u << r;
    (*acc).flags |= FLAG_KEPT;
    if (poisons_row(xv)) {
        (*acc).flags |= FLAG_BAD;
        return neg_inf();
    }
    (*acc).m = max_keep((*acc).m, xv);
    return xv;
}

// Stores register r: `yv`, the row's NaN when poisoned, 0 where masked.
fn store_y(ln: Lane, r: u32, yv: f32, nan_row: bool, kept_bits: u32) {
    let k = ln.j + r * LANES;
    if (ln.valid && k < params.len) {
        let y = select(yv, wgact_nan1(), nan_row);
        st_y(elem(ln, k), select(0.0, y, (kept_bits & (1u << r)) != 0u));
    }
}

@compute @workgroup_size(WG)
fn forward_rows(ids: Ids) {
    let ln = lane_of(ids);
    var acc = Acc(neg_inf(), 0u, 0u);
    let x0 = load_x(ln, 0u, &acc);
    let x1 = load_x(ln, 1u, &acc);
    let x2 = load_x(ln, 2u, &acc);
    let x3 = load_x(ln, 3u, &acc);
    let x4 = load_x(ln, 4u, &acc);
    let x5 = load_x(ln, 5u, &acc);
    let x6 = load_x(ln, 6u, &acc);
    let x7 = load_x(ln, 7u, &acc);
    let x8 = load_x(ln, 8u, &acc);
    let x9 = load_x(ln, 9u, &acc);
    let x10 = load_x(ln, 10u, &acc);
    let x11 = load_x(ln, 11u, &acc);
    let x12 = load_x(ln, 12u, &acc);
    let x13 = load_x(ln, 13u, &acc);
    let x14 = load_x(ln, 14u, &acc);
    let x15 = load_x(ln, 15u, &acc);
    let mf = reduce_max_flags(ln, acc.m, acc.flags);
    let m = mf.m;
    // Registers r and r + 8 side by side, so the pairwise sum below is sum_regs' order.
    let e0 = exp_nonpos4(vec4<f32>(x0, x1, x2, x3) - m);
    let e1 = exp_nonpos4(vec4<f32>(x4, x5, x6, x7) - m);
    let e2 = exp_nonpos4(vec4<f32>(x8, x9, x10, x11) - m);
    let e3 = exp_nonpos4(vec4<f32>(x12, x13, x14, x15) - m);
    let s = (e0 + e2) + (e1 + e3);
    let total = reduce_sum(ln, (s.x + s.z) + (s.y + s.w));
    let inv = 1.0 / total;
    let nan = row_is_nan(m, mf.flags);
    let b = acc.kept_bits;
    store_y(ln, 0u, e0.x * inv, nan, b);
    store_y(ln, 1u, e0.y * inv, nan, b);
    store_y(ln, 2u, e0.z * inv, nan, b);
    store_y(ln, 3u, e0.w * inv, nan, b);
    store_y(ln, 4u, e1.x * inv, nan, b);
    store_y(ln, 5u, e1.y * inv, nan, b);
    store_y(ln, 6u, e1.z * inv, nan, b);
    store_y(ln, 7u, e1.w * inv, nan, b);
    store_y(ln, 8u, e2.x * inv, nan, b);
    store_y(ln, 9u, e2.y * inv, nan, b);
    store_y(ln, 10u, e2.z * inv, nan, b);
    store_y(ln, 11u, e2.w * inv, nan, b);
    store_y(ln, 12u, e3.x * inv, nan, b);
    store_y(ln, 13u, e3.y * inv, nan, b);
    store_y(ln, 14u, e3.z * inv, nan, b);
    store_y(ln, 15u, e3.w * inv, nan, b);
}
