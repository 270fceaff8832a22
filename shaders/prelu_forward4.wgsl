// PReLU forward, 4 elements per step: y = relu(x) + (-alpha[broadcast]) * relu(-x),
// one chunk of vec4s. Used when the innermost canonical axis holds a
// multiple of 4 elements, so the 4 lanes of a vec4 lie on one row of that axis and one alpha
// index per vec4 serves all 4 (the file appended defines `alpha4`). Chunks start at
// multiples of 64 elements, so `params.first` and `params.n` are multiples of 4. Each lane
// goes through the scalar `prelu_fwd`, so the bits are those of the scalar kernel.
//
// Uniform: PreluParams (prelu_common.wgsl). Arrays (declared with their accessors by
// src/kernel.rs): x (vec4), alpha (AlphaElem: f32, or vec4<f32> when kept), y (vec4,
// read_write; the in-place variant binds y only).


// The loop is shaders/grid_stride.wgsl (entry point `forward`), over vec4s.

fn grid_units() -> u32 {
    return params.n / 4u;
}

fn grid_step(i: u32) {
    let v = ld_x(i);
    let a = alpha4(params.first + 4u * i);
    st_y(i, vec4<f32>(prelu_fwd(v.x, a.x), prelu_fwd(v.y, a.y), prelu_fwd(v.z, a.z),
                     prelu_fwd(v.w, a.w)));
}
