// PReLU forward: y = relu(x) + (-alpha[broadcast]) * relu(-x), grid-stride over one chunk.
//
// Uniform: PreluParams (prelu_common.wgsl). Arrays (declared with their accessors by
// src/kernel.rs): x, alpha (read), y (read_write; the in-place variant binds y only).


@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let stride = groups.x * WG;
    for (var i = gid.x; i < params.n; i += stride) {
        st_y(i, prelu_fwd(ld_x(i), ld_alpha(alpha_index(params.first + i))));
    }
}
