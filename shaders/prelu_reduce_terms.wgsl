// PReLU backward in one pass over x and dy: the first dalpha pass (the terms
// dy * min(x, 0), summed by prelu_reduce.wgsl or prelu_reduce_registers.wgsl) also writes
// dx = dy * [x > 0] + alpha * dy * [x < 0] from the same loads. That pass loads every
// element of the chunk exactly once (padding terms are never loaded), so every dx is
// written once, by the invocation that read its x and dy; the dalpha sums are the same
// sums in the same order as a terms-only pass.
//
// Uniform: PreluParams (prelu_common.wgsl). Arrays (declared with their accessors by
// src/kernel.rs): x, dy, alpha (read; x and dy this chunk from an aligned start),
// partials ([count_a][p_total]) and dx (this chunk, as x) read_write. The in-place variant
// (dx over dy) binds x, alpha, partials and dx: dy[i] is read before dx[i] is written, by
// the same invocation.

// The term of element i (offset in the bound chunk) of alpha element a; writes dx there.
fn load(i: u32, a: u32) -> f32 {
    let v = ld_x(i);
    let d = ld_dy(i);
    st_dx(i, prelu_dx(v, ld_alpha(a), d));
    return prelu_dalpha_term(v, d);
}

fn store(i: u32, v: f32) {
    st_partials(i, v);
}
