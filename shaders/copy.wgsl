// Copy: dst = src, the bandwidth reference of `wgact bench` (what a perfect elementwise kernel
// could reach on this adapter).
//
// Uniform: CopyParams. Arrays (declared by src/kernel.rs): src (read), dst (read_write), vec4s.
// One vec4 per step of a grid-stride loop over a fixed 1-D grid: the grid size is the dispatch's
// (the bench tries a few and keeps the fastest), so one pipeline serves every size. Buffers are
// padded to whole vec4s, so there is no scalar tail.

struct CopyParams {
    len_vec4: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
    off: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> params: CopyParams;

@compute @workgroup_size(WG)
fn copy(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let stride = groups.x * WG;
    for (var i = gid.x; i < params.len_vec4; i += stride) {
        st_dst(i, ld_src(i));
    }
}
