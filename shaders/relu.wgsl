// ReLU(max_value, negative_slope, threshold), following Keras's backend.relu step by step.
// params.p = (max_value, negative_slope, threshold, unused).
// params.flags: bits 0-1 the path the host chose (as Keras chooses it), bit 2 clip to
// max_value, bit 3 subtract negative_slope * relu(threshold - x).

const RELU_PATH_LEAKY: u32 = 0u;     // tf.nn.leaky_relu (negative_slope only)
const RELU_PATH_RELU6: u32 = 1u;     // tf.nn.relu6 (max_value == 6, threshold == 0)
const RELU_PATH_THRESHOLD: u32 = 2u; // x * cast(x > threshold)
const RELU_PATH_RELU: u32 = 3u;      // tf.nn.relu
const RELU_CLIP: u32 = 4u;
const RELU_NEGATIVE_PART: u32 = 8u;

// The positive part before clipping.
fn relu_positive(x: vec4<f32>) -> vec4<f32> {
    let path = params.flags & 3u;
    if path == RELU_PATH_THRESHOLD {
        return mul_mask4(x, x > vec4<f32>(params.p.z));
    }
    if path == RELU_PATH_RELU6 {
        return min_nan4(relu4(x), vec4<f32>(6.0));
    }
    return relu4(x);
}

fn fwd(x: vec4<f32>) -> vec4<f32> {
    let ns = params.p.y;
    if (params.flags & 3u) == RELU_PATH_LEAKY {
        return select(x * ns, x, x > vec4<f32>(0.0));
    }
    var t = relu_positive(x);
    if (params.flags & RELU_CLIP) != 0u {
        t = max_nan4(min_nan4(t, vec4<f32>(params.p.x)), vec4<f32>(0.0));
    }
    if (params.flags & RELU_NEGATIVE_PART) != 0u {
        t = t - ns * relu4(vec4<f32>(params.p.z) - x);
    }
    return t;
}

fn bwd(x: vec4<f32>, dy: vec4<f32>) -> vec4<f32> {
    let ns = params.p.y;
    let path = params.flags & 3u;
    if path == RELU_PATH_LEAKY {
        return select(dy * ns, dy, x > vec4<f32>(0.0));
    }
    var g = dy;
    if (params.flags & RELU_CLIP) != 0u {
        // clip_by_value = maximum(minimum(t, max_value), 0); ties pass the gradient.
        let t = relu_positive(x);
        let mv = vec4<f32>(params.p.x);
        g = select(vec4<f32>(0.0), g, min_nan4(t, mv) >= vec4<f32>(0.0));
        g = select(vec4<f32>(0.0), g, t <= mv);
    }
    var keep = x > vec4<f32>(0.0);
    if path == RELU_PATH_THRESHOLD {
        keep = x > vec4<f32>(params.p.z);
    } else if path == RELU_PATH_RELU6 {
        keep = keep & (x < vec4<f32>(6.0));
    }
    var dx = mul_mask4(g, keep);
    if (params.flags & RELU_NEGATIVE_PART) != 0u {
        dx = dx + mul_mask4(dy * ns, (vec4<f32>(params.p.z) - x) > vec4<f32>(0.0));
    }
    return dx;
}
