// HardTanh(limit) (demo op). a.p.x = limit > 0.
// y = -limit below -limit, limit above limit, else x; NaN passes (no comparison is true).
// dx = dy where -limit <= x <= limit (ties pass, as clip's gradient), else 0; NaN x passes dy.

fn wgact_hard_tanh_fwd(x: vec4<f32>, a: WgactActivation) -> vec4<f32> {
    let l = vec4<f32>(a.p.x);
    return select(select(x, l, x > l), -l, x < -l);
}

fn wgact_hard_tanh_bwd(x: vec4<f32>, dy: vec4<f32>, a: WgactActivation) -> vec4<f32> {
    let l = vec4<f32>(a.p.x);
    return select(dy, vec4<f32>(0.0), (x < -l) | (x > l));
}
