// PReLU forward: y = relu(x) + (-alpha[broadcast]) * relu(-x), one chunk.
//
// Uniform: PreluParams (prelu_common.wgsl). Arrays (declared with their accessors by
// src/kernel.rs): x, alpha (read), y (read_write; the in-place variant binds y only).


// The loop is shaders/grid_stride.wgsl (entry point `forward`).

fn grid_units() -> u32 {
    return params.n;
}

fn grid_step(i: u32) {
    st_y(i, prelu_fwd(ld_x(i), ld_alpha(alpha_index(params.first + i))));
}
