// PReLU backward, the input gradient, 4 elements per step:
// dx = dy * [x > 0] + alpha * dy * [x < 0]. Used under the same conditions as
// prelu_forward4.wgsl (the file appended defines `alpha4`); each lane goes through the
// scalar `prelu_dx`, so the bits are those of the scalar kernel.
//
// Binding contract:
//   @binding(0) params  uniform PreluParams (prelu_common.wgsl)
//   @binding(1) x       storage, read       array<vec4<f32>>  (this chunk)
//   @binding(2) dy      storage, read       array<vec4<f32>>  (this chunk)
//   @binding(3) alpha   storage, read       array<AlphaElem>  (f32, or vec4<f32> when kept)
//   @binding(4) dx      storage, read_write array<vec4<f32>>  (this chunk)

@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> dy: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> alpha: array<AlphaElem>;
@group(0) @binding(4) var<storage, read_write> dx: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let stride = groups.x * WG;
    let n4 = params.n / 4u;
    for (var i = gid.x; i < n4; i += stride) {
        let v = x[i];
        let d = dy[i];
        let a = alpha4(params.first + 4u * i);
        dx[i] = vec4<f32>(prelu_dx(v.x, a.x, d.x), prelu_dx(v.y, a.y, d.y),
                          prelu_dx(v.z, a.z, d.z), prelu_dx(v.w, a.w, d.w));
    }
}
