// PReLU vec4 kernels, innermost canonical axis reduced (alpha constant along it) and a
// multiple of 4 long: the 4 elements from flat index g (a multiple of 4) share one alpha.
// No bindings; the kernel file binds `alpha` as array<AlphaElem>.

alias AlphaElem = f32;

fn alpha4(g: u32) -> vec4<f32> {
    return vec4<f32>(ld_alpha(alpha_index(g)));
}
