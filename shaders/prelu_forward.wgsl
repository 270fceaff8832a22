// PReLU forward: y = relu(x) + (-alpha[broadcast]) * relu(-x), one chunk, one element per
// unit.
//
// Uniform: PreluParams (prelu_common.wgsl). Arrays (declared with their accessors by
// src/kernel.rs): x, alpha (read), y (read_write; the in-place variant binds y only).
//
// The loop is appended: shaders/grid_stride.wgsl (entry point `forward`, alpha decoded at
// every step) or prelu_forward_fixed.wgsl (alpha decoded once per invocation).

alias Unit = f32;

fn grid_units() -> u32 {
    return params.n;
}

// The alpha of unit i.
fn unit_alpha(i: u32) -> Unit {
    return ld_alpha(alpha_index(params.first + i));
}

fn prelu_step(i: u32, a: Unit) {
    st_y(i, prelu_fwd(ld_x(i), a));
}

fn h_unit(a: Unit) -> Unit {
    return wgact_h1(a);
}

fn unit_plain(a: Unit) -> bool {
    return prelu_alpha_plain(a);
}

fn prelu_step_plain(i: u32, na: Unit) {
    st_y(i, prelu_fwd_plain(ld_x(i), na));
}

fn grid_step(i: u32) {
    prelu_step(i, unit_alpha(i));
}
