// Softmax forward, register kernel: y = exp(x - max) * (1 / sum(exp(x - max))) per row, for
// rows of at most LANES * REGS elements (strided rows, and contiguous ones that the vec4
// kernel does not take). Each invocation loads its REGS elements of the row once into
// registers (element r of lane j is the row's position j + r * LANES); the max and the sum
// are reductions over the row's lanes (the reduction file).
//
// The entry point `forward_rows` is generated (src/softmax/kernels.rs, `rows_entry`): it calls
// the helpers below once per register, written out rather than looped over (lavapipe keeps a
// private array indexed in a loop in memory, which made this kernel about twice as slow), and
// sums the registers pairwise in `sum_regs`' order.
//
// Binding contract (declared by src/softmax/kernels.rs):
//   @binding(0) params  uniform SoftmaxParams
//   reads:  x (array<f32>), then mask (array<f32>) in the masked variant
//   writes: y (array<f32>)

struct Acc {
    m: f32,
    flags: u32,
}

// Register r of the lane's row: its value if kept and not poisoning (-inf otherwise), folded
// into acc; its kept flag goes to bit r % 32 of `kept`.
fn load_x(ln: Lane, r: u32, acc: ptr<function, Acc>, kept_bits: ptr<function, u32>) -> f32 {
    let k = ln.j + r * LANES;
    if (!ln.valid || k >= ln.len) {
        return neg_inf();
    }
    let i = elem(ln, k);
    if (!kept(i)) {
        return neg_inf();
    }
    let xv = ld_x(i);
    *kept_bits |= 1u << (r % 32u);
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
    if (ln.valid && k < ln.len) {
        let y = select(yv, wgact_nan1(), nan_row);
        st_y(elem(ln, k), select(0.0, y, (kept_bits & (1u << (r % 32u))) != 0u));
    }
}
