// The one grid-stride loop of the elementwise-shaped kernels (elementwise forward and
// backward, fill, PReLU forward): invocation gid.x handles units gid.x, gid.x + stride, ...
// below grid_units(), calling grid_step(i) for each. The kernel file defines both functions;
// src/kernel.rs appends this file and renames the entry point to the kernel's.

@compute @workgroup_size(WG)
fn grid_stride_entry(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let stride = groups.x * WG;
    let n = grid_units();
    for (var i = gid.x; i < n; i += stride) {
        grid_step(i);
    }
}
