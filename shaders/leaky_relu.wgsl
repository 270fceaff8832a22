// LeakyReLU(alpha). a.p.x = alpha.
// alpha == 0 takes tf.nn.relu's rules (dx = dy * [x > 0]); any other alpha, negative or
// above 1 included, takes the LeakyRelu op's: the left slope applies at x <= 0 and at NaN.

fn wgact_leaky_relu_fwd(x: vec4<f32>, a: WgactActivation) -> vec4<f32> {
    let alpha = a.p.x;
    if alpha == 0.0 {
        return wgact_relu4(x);
    }
    return select(x * alpha, x, x > vec4<f32>(0.0));
}

fn wgact_leaky_relu_bwd(x: vec4<f32>, dy: vec4<f32>, a: WgactActivation) -> vec4<f32> {
    let alpha = a.p.x;
    if alpha == 0.0 {
        return wgact_mul_mask4(dy, x > vec4<f32>(0.0));
    }
    return select(dy * alpha, dy, x > vec4<f32>(0.0));
}
