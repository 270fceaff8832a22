// The parameter block of the fusable elementwise activations (Rust: `ActivationParams`).
//   flags  op-specific switches chosen on the host (ReLU's Keras path)
//   p      op parameters: alpha, theta, (max_value, negative_slope, threshold)
// Every activation is a pair of functions over vec4<f32> (call them with vec4(x) and take
// .x for a scalar):
//   fn wgact_<op>_fwd(x: vec4<f32>, a: WgactActivation) -> vec4<f32>
//   fn wgact_<op>_bwd(x: vec4<f32>, dy: vec4<f32>, a: WgactActivation) -> vec4<f32>
// These are the very functions the library's own kernels compile.

struct WgactActivation {
    flags: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
    p: vec4<f32>,
}
