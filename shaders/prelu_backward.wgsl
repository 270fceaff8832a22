// PReLU backward, the input gradient: dx = dy * [x > 0] + alpha * dy * [x < 0].
//
// Uniform: PreluParams (prelu_common.wgsl). Arrays (declared with their accessors by
// src/kernel.rs): x, dy, alpha (read), dx (read_write; the in-place variant, dx over dy,
// binds x, alpha and dx).


@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let stride = groups.x * WG;
    for (var i = gid.x; i < params.n; i += stride) {
        st_dx(i, prelu_dx(ld_x(i), ld_alpha(alpha_index(params.first + i)), ld_dy(i)));
    }
}
