// Elementwise forward template: y = fwd(x), one element (scalar variant) or one vec4 (vec4
// variant) per step of a grid-stride loop over `params.n` units.
//
// Arrays (declared with their accessors by src/kernel.rs): x (read), y (read_write); the
// in-place variant binds only y. `apply_fwd` is generated for the op and the unit type.

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let stride = groups.x * WG;
    for (var i = gid.x; i < params.n; i += stride) {
        st_y(i, apply_fwd(ld_x(i)));
    }
}
