// ReLU(max_value, negative_slope, threshold), following Keras's backend.relu step by step.
// a.p = (max_value, negative_slope, threshold, unused): in float16, each rounded to half,
// the path still chosen on the float32 values. Each TF op rounds once (wgact_h4): below the
// threshold y = h(u - h(ns * relu(h(threshold - x)))).
// a.flags: bits 0-1 the path the host chose (as Keras chooses it), bit 2 clip to
// max_value, bit 3 subtract negative_slope * relu(threshold - x).
//
// `wgact_relu_fwd` / `wgact_relu_bwd` read the flags from `a` (for fused kernels, one
// pipeline for every ReLU). The library's own kernels call the `_as` forms with the flags as
// a `const` of the generated source (the pipeline key holds them), so the compiler drops
// the paths not taken: the same functions, the same bits, no branch per element.

const WGACT_RELU_PATH_LEAKY: u32 = 0u;     // tf.nn.leaky_relu (negative_slope only)
const WGACT_RELU_PATH_RELU6: u32 = 1u;     // tf.nn.relu6 (max_value == 6, threshold == 0)
const WGACT_RELU_PATH_THRESHOLD: u32 = 2u; // x * cast(x > threshold)
const WGACT_RELU_PATH_RELU: u32 = 3u;      // tf.nn.relu
const WGACT_RELU_CLIP: u32 = 4u;
const WGACT_RELU_NEGATIVE_PART: u32 = 8u;

// The positive part before clipping.
fn wgact_relu_positive(x: vec4<f32>, a: WgactActivation, flags: u32) -> vec4<f32> {
    let path = flags & 3u;
    if path == WGACT_RELU_PATH_THRESHOLD {
        return wgact_mul_mask4(x, x > vec4<f32>(a.p.z));
    }
    if path == WGACT_RELU_PATH_RELU6 {
        return wgact_min_nan4(wgact_relu4(x), vec4<f32>(6.0));
    }
    return wgact_relu4(x);
}

// The positive part t is +0, positive, +inf or NaN (max_value, negative_slope and threshold
// are never negative), which spares the steps below some work without changing a bit:
// - clip_by_value(t, 0, max_value) = maximum(minimum(t, max_value), 0): the maximum with 0
//   returns what it is given (NaN included), so it is left out;
// - below the threshold, y = t - ns * relu(threshold - x): where x is NaN, t is NaN too, so
//   relu need not propagate NaN; and t - ns * (+-0) = t, so neither the sign of a zero.
fn wgact_relu_fwd_as(x: vec4<f32>, a: WgactActivation, flags: u32) -> vec4<f32> {
    let ns = a.p.y;
    if (flags & 3u) == WGACT_RELU_PATH_LEAKY {
        return select(wgact_h4(x * ns), x, x > vec4<f32>(0.0));
    }
    var t = wgact_relu_positive(x, a, flags);
    if (flags & WGACT_RELU_CLIP) != 0u {
        t = wgact_min_nan4(t, vec4<f32>(a.p.x));
    }
    if (flags & WGACT_RELU_NEGATIVE_PART) != 0u {
        let below = wgact_h4(vec4<f32>(a.p.z) - x);
        let relu_below = select(vec4<f32>(0.0), below, below > vec4<f32>(0.0));
        t = wgact_h4(t - wgact_h4(ns * relu_below));
    }
    return t;
}

fn wgact_relu_bwd_as(x: vec4<f32>, dy: vec4<f32>, a: WgactActivation, flags: u32) -> vec4<f32> {
    let ns = a.p.y;
    let path = flags & 3u;
    if path == WGACT_RELU_PATH_LEAKY {
        return select(wgact_h4(dy * ns), dy, x > vec4<f32>(0.0));
    }
    var g = dy;
    if (flags & WGACT_RELU_CLIP) != 0u {
        // clip_by_value = maximum(minimum(t, max_value), 0); ties pass the gradient. The
        // maximum's gate, minimum(t, max_value) >= 0, closes only where t is NaN, where
        // the minimum's gate t <= max_value is closed too: one gate does.
        g = select(vec4<f32>(0.0), g, wgact_relu_positive(x, a, flags) <= vec4<f32>(a.p.x));
    }
    var keep = x > vec4<f32>(0.0);
    if path == WGACT_RELU_PATH_THRESHOLD {
        keep = x > vec4<f32>(a.p.z);
    } else if path == WGACT_RELU_PATH_RELU6 {
        keep = keep & (x < vec4<f32>(6.0));
    }
    var dx = wgact_mul_mask4(g, keep);
    if (flags & WGACT_RELU_NEGATIVE_PART) != 0u {
        // TF rounds this sum too, but where one term is kept (x above the threshold, or 0)
        // the other is masked to +-0 or NaN: the sum is a half already, no rounding.
        dx = dx + wgact_mul_mask4(wgact_h4(dy * ns), (vec4<f32>(a.p.z) - x) > vec4<f32>(0.0));
    }
    return dx;
}

fn wgact_relu_fwd(x: vec4<f32>, a: WgactActivation) -> vec4<f32> {
    return wgact_relu_fwd_as(x, a, a.flags);
}

fn wgact_relu_bwd(x: vec4<f32>, dy: vec4<f32>, a: WgactActivation) -> vec4<f32> {
    return wgact_relu_bwd_as(x, dy, a, a.flags);
}
