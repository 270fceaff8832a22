// The f16 flavour of the activations: TensorFlow's float16 ops each round their f32 result
// to half once (shaders/half.wgsl), so a chain of ops rounds once per op.
const WGACT_F16: bool = true;
fn wgact_h4(v: vec4<f32>) -> vec4<f32> { return wgact_round_half4(v); }
fn wgact_h1(v: f32) -> f32 { return wgact_round_half(v); }
