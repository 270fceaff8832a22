// LeakyReLU(alpha). a.p.x = alpha.
// alpha == 0 takes tf.nn.relu's rules (dx = dy * [x > 0]); any other alpha, negative or
// above 1 included, takes the LeakyRelu op's: the left slope applies at x <= 0 and at NaN.
// The library's kernels call the `_as` forms with `zero` (alpha == 0) a `const` of the
// generated source; fused kernels call `wgact_leaky_relu_fwd` / `_bwd`, which test alpha.

fn wgact_leaky_relu_fwd_as(x: vec4<f32>, a: WgactActivation, zero: bool) -> vec4<f32> {
    if zero {
        return wgact_relu4(x);
    }
    return select(x * a.p.x, x, x > vec4<f32>(0.0));
}

fn wgact_leaky_relu_bwd_as(x: vec4<f32>, dy: vec4<f32>, a: WgactActivation, zero: bool) -> vec4<f32> {
    if zero {
        return wgact_mul_mask4(dy, x > vec4<f32>(0.0));
    }
    return select(dy * a.p.x, dy, x > vec4<f32>(0.0));
}

fn wgact_leaky_relu_fwd(x: vec4<f32>, a: WgactActivation) -> vec4<f32> {
    return wgact_leaky_relu_fwd_as(x, a, a.p.x == 0.0);
}

fn wgact_leaky_relu_bwd(x: vec4<f32>, dy: vec4<f32>, a: WgactActivation) -> vec4<f32> {
    return wgact_leaky_relu_bwd_as(x, dy, a, a.p.x == 0.0);
}
