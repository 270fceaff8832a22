// ELU(alpha). a.p.x = alpha.
// TensorFlow computes elu as exp(x) - 1 (not expm1) and its gradient from that output
// (EluGrad), so both directions recompute y1 = elu(x) at alpha 1 the same way. In float16
// each op rounds to half: y1 = h(h(exp(x)) - 1), y = x > 0 ? y1 : h(alpha * y1), and the
// gradient is TF's chain g = h(where(x > 0, dy, 0) + h(where(x > 0, 0, dy) * alpha)),
// dx = y1 < 0 ? h(h(y1 + 1) * g) : g.

fn wgact_elu1(x: vec4<f32>) -> vec4<f32> {
    return select(x, wgact_h4(wgact_h4(exp(x)) - vec4<f32>(1.0)), x < vec4<f32>(0.0));
}

fn wgact_elu_fwd(x: vec4<f32>, a: WgactActivation) -> vec4<f32> {
    let y1 = wgact_elu1(x);
    return select(wgact_h4(a.p.x * y1), y1, x > vec4<f32>(0.0));
}

fn wgact_elu_bwd(x: vec4<f32>, dy: vec4<f32>, a: WgactActivation) -> vec4<f32> {
    let y1 = wgact_elu1(x);
    let pos = x > vec4<f32>(0.0);
    if WGACT_F16 {
        // TF's g rounds the sum once more, but one of its terms is always +-0 and the other
        // a half (dy, or the rounded product), so the sum is a half already: no rounding.
        let zero = vec4<f32>(0.0);
        let g = select(zero, dy, pos) + wgact_h4(select(dy, zero, pos) * a.p.x);
        return select(g, wgact_h4(wgact_h4(y1 + vec4<f32>(1.0)) * g), y1 < zero);
    }
    let elu_grad = select(dy, (y1 + vec4<f32>(1.0)) * dy, y1 < vec4<f32>(0.0));
    return select(a.p.x * elu_grad, dy, pos);
}
