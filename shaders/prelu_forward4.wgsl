// PReLU forward, 4 elements per step: y = relu(x) + (-alpha[broadcast]) * relu(-x),
// grid-stride over one chunk of vec4s. Used when the innermost canonical axis holds a
// multiple of 4 elements, so the 4 lanes of a vec4 lie on one row of that axis and one alpha
// index per vec4 serves all 4 (the file appended defines `alpha4`). Chunks start at
// multiples of 64 elements, so `params.first` and `params.n` are multiples of 4. Each lane
// goes through the scalar `prelu_fwd`, so the bits are those of the scalar kernel.
//
// Binding contract:
//   @binding(0) params  uniform PreluParams (prelu_common.wgsl)
//   @binding(1) x       storage, read       array<vec4<f32>>  (this chunk)
//   @binding(2) alpha   storage, read       array<AlphaElem>  (f32, or vec4<f32> when kept)
//   @binding(3) y       storage, read_write array<vec4<f32>>  (this chunk)

@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> alpha: array<AlphaElem>;
@group(0) @binding(3) var<storage, read_write> y: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let stride = groups.x * WG;
    let n4 = params.n / 4u;
    for (var i = gid.x; i < n4; i += stride) {
        let v = x[i];
        let a = alpha4(params.first + 4u * i);
        y[i] = vec4<f32>(prelu_fwd(v.x, a.x), prelu_fwd(v.y, a.y), prelu_fwd(v.z, a.z),
                         prelu_fwd(v.w, a.w));
    }
}
