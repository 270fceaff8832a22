// Uniform block of the elementwise templates, at @binding(0) of both.
//   len_vec4  number of vec4s in this dispatch's chunk (the tensor padded to whole vec4s)
//   flags     op-specific switches (ReLU's path)
//   p         op parameters (alpha, theta, max_value, ...)

struct ElementwiseParams {
    len_vec4: u32,
    flags: u32,
    _pad0: u32,
    _pad1: u32,
    p: vec4<f32>,
}

@group(0) @binding(0) var<uniform> params: ElementwiseParams;
