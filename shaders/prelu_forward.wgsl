// PReLU forward: y = relu(x) + (-alpha[broadcast]) * relu(-x), grid-stride over one chunk.
//
// Binding contract:
//   @binding(0) params  uniform PreluParams (prelu_common.wgsl)
//   @binding(1) x       storage, read       array<f32>  (this chunk)
//   @binding(2) alpha   storage, read       array<f32>
//   @binding(3) y       storage, read_write array<f32>  (this chunk)

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> alpha: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let stride = groups.x * WG;
    for (var i = gid.x; i < params.n; i += stride) {
        y[i] = prelu_fwd(x[i], alpha[alpha_index(params.first + i)]);
    }
}
