// PReLU dalpha, first pass: the terms dy * min(x, 0) read from x and dy (one chunk).
//
// Uniform: PreluParams (prelu_common.wgsl). Arrays (declared with their accessors by
// src/kernel.rs): x, dy (read, this chunk from an aligned start), partials (read_write,
// [count_a][p_total]).


fn load(i: u32) -> f32 {
    return prelu_dalpha_term(ld_x(i), ld_dy(i));
}

fn store(i: u32, v: f32) {
    st_partials(i, v);
}
