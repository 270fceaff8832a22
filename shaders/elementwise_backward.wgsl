// Elementwise backward template: dx = bwd(x, dy), one vec4 per step of a grid-stride loop.
//
// Binding contract:
//   @binding(0) params  uniform ElementwiseParams (elementwise_params.wgsl)
//   @binding(1) x       storage, read       array<vec4<f32>>
//   @binding(2) dy      storage, read       array<vec4<f32>>
//   @binding(3) dx      storage, read_write array<vec4<f32>>
// As in the forward template, padding lanes compute garbage that is never read back.
// The op file appended to this one defines `fn bwd(x: vec4<f32>, dy: vec4<f32>) -> vec4<f32>`.

@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> dy: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> dx: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let stride = groups.x * WG;
    for (var i = gid.x; i < params.len_vec4; i += stride) {
        dx[i] = bwd(x[i], dy[i]);
    }
}
