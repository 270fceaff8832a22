// Elementwise backward template: dx = bwd(x, dy), as the forward template.
//
// Arrays: x, dy (read), dx (read_write); the in-place variant (dx overwrites dy) binds x and
// dx only. `apply_bwd` is generated for the op and the unit type.

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let stride = groups.x * WG;
    for (var i = gid.x; i < params.n; i += stride) {
        st_dx(i, apply_bwd(ld_x(i), ld_dy(i)));
    }
}
