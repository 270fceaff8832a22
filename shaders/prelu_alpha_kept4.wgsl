// PReLU vec4 kernels, innermost canonical axis kept (alpha varies along it, stride 1) and a
// multiple of 4 long: the 4 elements from flat index g (a multiple of 4) take alpha[a] to
// alpha[a + 3], where a = alpha_index(g) is a multiple of 4 (every alpha stride is a multiple
// of the innermost size, and so is g's digit along it), so alpha is read as vec4s (its
// length, a multiple of the innermost size, is one too). No bindings; the kernel file binds
// `alpha` as array<AlphaElem>.

alias AlphaElem = vec4<f32>;

fn alpha4(g: u32) -> vec4<f32> {
    return ld_alpha(alpha_index(g) / 4u);
}
