// Elementwise forward template: y = fwd(x), one vec4 per step of a grid-stride loop.
//
// Binding contract:
//   @binding(0) params  uniform ElementwiseParams (elementwise_params.wgsl)
//   @binding(1) x       storage, read       array<vec4<f32>>
//   @binding(2) y       storage, read_write array<vec4<f32>>
// Buffers are padded to whole vec4s, so there is no scalar tail: the padding lanes compute
// garbage that is never read back. The op file appended to this one defines
// `fn fwd(x: vec4<f32>) -> vec4<f32>` and reads its parameters from `params.p`/`params.flags`.

@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let stride = groups.x * WG;
    for (var i = gid.x; i < params.len_vec4; i += stride) {
        y[i] = fwd(x[i]);
    }
}
