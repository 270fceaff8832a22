// ELU(alpha). a.p.x = alpha.
// TensorFlow computes elu as exp(x) - 1 (not expm1) and its gradient from that output
// (EluGrad), so both directions recompute y1 = elu(x) at alpha 1 the same way.

fn wgact_elu1(x: vec4<f32>) -> vec4<f32> {
    return select(x, exp(x) - vec4<f32>(1.0), x < vec4<f32>(0.0));
}

fn wgact_elu_fwd(x: vec4<f32>, a: WgactActivation) -> vec4<f32> {
    let y1 = wgact_elu1(x);
    return select(a.p.x * y1, y1, x > vec4<f32>(0.0));
}

fn wgact_elu_bwd(x: vec4<f32>, dy: vec4<f32>, a: WgactActivation) -> vec4<f32> {
    let y1 = wgact_elu1(x);
    let elu_grad = select(dy, (y1 + vec4<f32>(1.0)) * dy, y1 < vec4<f32>(0.0));
    return select(a.p.x * elu_grad, dy, x > vec4<f32>(0.0));
}
