// PReLU backward, the input gradient, 4 elements per step:
// dx = dy * [x > 0] + alpha * dy * [x < 0]. Used under the same conditions as
// prelu_forward4.wgsl (the file appended defines `alpha4`); each lane goes through the
// scalar `prelu_dx`, so the bits are those of the scalar kernel.
//
// Uniform: PreluParams (prelu_common.wgsl). Arrays (declared with their accessors by
// src/kernel.rs): x, dy (vec4), alpha (AlphaElem), dx (vec4, read_write; the in-place
// variant, dx over dy, binds x, alpha and dx).


@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let stride = groups.x * WG;
    let n4 = params.n / 4u;
    for (var i = gid.x; i < n4; i += stride) {
        let v = ld_x(i);
        let d = ld_dy(i);
        let a = alpha4(params.first + 4u * i);
        st_dx(i, vec4<f32>(prelu_dx(v.x, a.x, d.x), prelu_dx(v.y, a.y, d.y),
                          prelu_dx(v.z, a.z, d.z), prelu_dx(v.w, a.w, d.w)));
    }
}
