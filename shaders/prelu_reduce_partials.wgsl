// PReLU dalpha, later passes: rows of partial sums, [count_a][n], reduced to [count_a][p_total].
//
// Uniform: PreluParams (prelu_common.wgsl). Arrays (declared with their accessors by
// src/kernel.rs): src (read, [count_a][n]), dst (read_write, [count_a][p_total]).


fn load(i: u32, a: u32) -> f32 {
    return ld_src(i);
}

fn store(i: u32, v: f32) {
    st_dst(i, v);
}
