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

@compute @workgroup_size(WG)
fn fill(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let stride = groups.x * WG;
    for (var i = gid.x; i < params.n; i += stride) {
        st_out(i, params.value);
    }
}
