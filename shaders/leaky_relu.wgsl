// LeakyReLU(alpha). a.p.x = alpha; a.flags bit 0: alpha == 0 (decided on the host on the
// float32 alpha, as Keras decides it: a float16 layer with alpha 1e-9 runs with alpha 0 in
// half but keeps the LeakyRelu op's rules).
// alpha == 0 takes tf.nn.relu's rules (dx = dy * [x > 0]); any other alpha, negative or
// above 1 included, takes the LeakyRelu op's: the left slope applies at x <= 0 and at NaN.
// The library's kernels call the `_as` forms with `zero` (alpha == 0) a `const` of the
// generated source; fused kernels call `wgact_leaky_relu_fwd` / `_bwd`, which read the flag.

const WGACT_LEAKY_RELU_ALPHA_ZERO: u32 = 1u;

fn wgact_leaky_relu_fwd_as(x: vec4<f32>, a: WgactActivation, zero: bool) -> vec4<f32> {
    if zero {
        return wgact_relu4(x);
    }
    return select(wgact_h4(x * a.p.x), x, x > vec4<f32>(0.0));
}

fn wgact_leaky_relu_bwd_as(x: vec4<f32>, dy: vec4<f32>, a: WgactActivation, zero: bool) -> vec4<f32> {
    if zero {
        return wgact_mul_mask4(dy, x > vec4<f32>(0.0));
    }
    return select(wgact_h4(dy * a.p.x), dy, x > vec4<f32>(0.0));
}

fn wgact_leaky_relu_fwd(x: vec4<f32>, a: WgactActivation) -> vec4<f32> {
    return wgact_leaky_relu_fwd_as(x, a, (a.flags & WGACT_LEAKY_RELU_ALPHA_ZERO) != 0u);
}

fn wgact_leaky_relu_bwd(x: vec4<f32>, dy: vec4<f32>, a: WgactActivation) -> vec4<f32> {
    return wgact_leaky_relu_bwd_as(x, dy, a, (a.flags & WGACT_LEAKY_RELU_ALPHA_ZERO) != 0u);
}
