// Copy: dst = src, the bandwidth reference of `wgact bench` (what a perfect elementwise kernel
// could reach on this adapter). Built by wgact from the public `Gpu::device()`, not by the
// library.
//
// Bindings: 0 params (uniform CopyParams), 1 src (read), 2 dst (read_write), both vec4s of one
// chunk of at most one storage binding. Two loops, the two the library's elementwise kernels
// use, and the bench keeps the faster with the fastest grid:
// - `copy`: one vec4 per step of a grid-stride loop over a fixed 1-D grid (the GPU loop);
// - `copy_blocked`: each LANES-wide batch of invocations walks one contiguous block of
//   `block` vec4s (the CPU loop of shaders/elementwise_blocked.wgsl; LANES is prepended).
// The grid size is the dispatch's, so one pipeline serves every size. Tensors are padded to
// whole vec4s, so there is no scalar tail.

struct CopyParams {
    len_vec4: u32,
    block: u32,  // copy_blocked: vec4s per batch, a multiple of LANES
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: CopyParams;
@group(0) @binding(1) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn copy(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let stride = groups.x * WG;
    for (var i = gid.x; i < params.len_vec4; i += stride) {
        dst[i] = src[i];
    }
}

@compute @workgroup_size(WG)
fn copy_blocked(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    let n = params.len_vec4;
    let block = params.block;
    let first = (wid.x * (WG / LANES) + lid / LANES) * block;
    let end = min(first + block, n);
    for (var i = first + lid % LANES; i < end; i += LANES) {
        dst[i] = src[i];
    }
}
