// ThresholdedReLU(theta). params.p.x = theta.
// Keras computes x * cast(x > theta): strict >, and -inf * 0 = NaN below the threshold.

fn fwd(x: vec4<f32>) -> vec4<f32> {
    return mul_mask4(x, x > vec4<f32>(params.p.x));
}

fn bwd(x: vec4<f32>, dy: vec4<f32>) -> vec4<f32> {
    return mul_mask4(dy, x > vec4<f32>(params.p.x));
}
