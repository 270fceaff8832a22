// ThresholdedReLU(theta). a.p.x = theta.
// Keras computes x * cast(x > theta): strict >, and -inf * 0 = NaN below the threshold.

fn wgact_thresholded_relu_fwd(x: vec4<f32>, a: WgactActivation) -> vec4<f32> {
    return wgact_mul_mask4(x, x > vec4<f32>(a.p.x));
}

fn wgact_thresholded_relu_bwd(x: vec4<f32>, dy: vec4<f32>, a: WgactActivation) -> vec4<f32> {
    return wgact_mul_mask4(dy, x > vec4<f32>(a.p.x));
}
