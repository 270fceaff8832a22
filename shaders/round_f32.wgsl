// The f32 flavour of the activations: every TensorFlow op's result is kept as computed.
const WGACT_F16: bool = false;
fn wgact_h4(v: vec4<f32>) -> vec4<f32> { return v; }
fn wgact_h1(v: f32) -> f32 { return v; }
