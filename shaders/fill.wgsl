// Fill: out[i] = params.value for i < params.n (zeroing an output that no op term reaches,
// e.g. PReLU's dalpha of an empty batch, which a caller's buffer may not hold zeroed).
//
// Arrays (declared by src/kernel.rs): out (read_write, f32).

struct FillParams {
    n: u32,
    value: f32,
    _pad0: u32,
    _pad1: u32,
    off: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> params: FillParams;

// The loop is shaders/grid_stride.wgsl (entry point `fill`).

fn grid_units() -> u32 {
    return params.n;
}

fn grid_step(i: u32) {
    st_out(i, params.value);
}
