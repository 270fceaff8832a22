// LeakyReLU(alpha). a.p.x = alpha; a.flags bit 0: alpha == 0 (decided on the host on the
// float32 alpha, as Keras decides it: a float16 layer with alpha 1e-9 runs with alpha 0 in
// half but keeps the LeakyRelu op's rules).
// alpha == 0 takes tf.nn.relu's rules (dx = dy * [x > 0]); any other alpha, negative or
// above 1 included, takes the LeakyRelu op's: the left slope applies at x <= 0 and at NaN.

const WGACT_LEAKY_RELU_ALPHA_ZERO: u32 = 1u;

fn wgact_leaky_relu_fwd(x: vec4<f32>, a: WgactActivation) -> vec4<f32> {
    let alpha = a.p.x;
    if (a.flags & WGACT_LEAKY_RELU_ALPHA_ZERO) != 0u {
        return wgact_relu4(x);
    }
    return select(wgact_h4(x * alpha), x, x > vec4<f32>(0.0));
}

fn wgact_leaky_relu_bwd(x: vec4<f32>, dy: vec4<f32>, a: WgactActivation) -> vec4<f32> {
    let alpha = a.p.x;
    if (a.flags & WGACT_LEAKY_RELU_ALPHA_ZERO) != 0u {
        return wgact_mul_mask4(dy, x > vec4<f32>(0.0));
    }
    return select(wgact_h4(dy * alpha), dy, x > vec4<f32>(0.0));
}
