// PReLU backward, the input gradient: dx = dy * [x > 0] + alpha * dy * [x < 0].
//
// Binding contract:
//   @binding(0) params  uniform PreluParams (prelu_common.wgsl)
//   @binding(1) x       storage, read       array<f32>  (this chunk)
//   @binding(2) dy      storage, read       array<f32>  (this chunk)
//   @binding(3) alpha   storage, read       array<f32>
//   @binding(4) dx      storage, read_write array<f32>  (this chunk)

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> alpha: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let stride = groups.x * WG;
    for (var i = gid.x; i < params.n; i += stride) {
        dx[i] = prelu_dx(x[i], alpha[alpha_index(params.first + i)], dy[i]);
    }
}
