// Uniform block of the elementwise templates, at @binding(0) of both.
//   n      units (elements or vec4s) in this dispatch
//   block  units per SIMD batch of the CPU loop (elementwise_blocked.wgsl); 0 otherwise
//   act    the activation's parameters (activation.wgsl)
//   off    element offsets of the bound arrays, in units (appended by the dispatcher)

struct ElementwiseParams {
    n: u32,
    block: u32,
    _pad1: u32,
    _pad2: u32,
    act: WgactActivation,
    off: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> params: ElementwiseParams;
