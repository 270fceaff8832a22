// PReLU forward, 4 elements per unit: y = relu(x) + (-alpha[broadcast]) * relu(-x),
// one chunk of vec4s. Used when the innermost canonical axis holds a
// multiple of 4 elements, so the 4 lanes of a vec4 lie on one row of that axis and one alpha
// index per vec4 serves all 4 (the file appended defines `alpha4`). Chunks start at
// multiples of 64 elements, so `params.first` and `params.n` are multiples of 4. Each lane
// goes through the scalar `prelu_fwd`, so the bits are those of the scalar kernel.
//
// Uniform: PreluParams (prelu_common.wgsl). Arrays (declared with their accessors by
// src/kernel.rs): x (vec4), alpha (AlphaElem: f32, or vec4<f32> when kept), y (vec4,
// read_write; the in-place variant binds y only).
//
// The loop is appended: shaders/grid_stride.wgsl (entry point `forward`, alpha decoded at
// every step) or prelu_forward_fixed.wgsl (alpha decoded once per invocation).

alias Unit = vec4<f32>;

fn grid_units() -> u32 {
    return params.n / 4u;
}

// The 4 alphas of unit i.
fn unit_alpha(i: u32) -> Unit {
    return alpha4(params.first + 4u * i);
}

fn prelu_step(i: u32, a: Unit) {
    let v = ld_x(i);
    st_y(i, vec4<f32>(prelu_fwd(v.x, a.x), prelu_fwd(v.y, a.y), prelu_fwd(v.z, a.z),
                     prelu_fwd(v.w, a.w)));
}

fn h_unit(a: Unit) -> Unit {
    return wgact_h4(a);
}

fn unit_plain(a: Unit) -> bool {
    return prelu_alpha_plain(a.x) && prelu_alpha_plain(a.y) && prelu_alpha_plain(a.z) && prelu_alpha_plain(a.w);
}

fn prelu_step_plain(i: u32, na: Unit) {
    let v = ld_x(i);
    st_y(i, vec4<f32>(prelu_fwd_plain(v.x, na.x), prelu_fwd_plain(v.y, na.y),
                      prelu_fwd_plain(v.z, na.z), prelu_fwd_plain(v.w, na.w)));
}

fn grid_step(i: u32) {
    prelu_step(i, unit_alpha(i));
}
