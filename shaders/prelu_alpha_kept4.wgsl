// PReLU vec4 kernels, innermost canonical axis kept (alpha varies along it, stride 1) and a
// multiple of 4 long: the 4 elements from flat index g (a multiple of 4) take alpha[a] to
// alpha[a + 3]. No bindings; uses the kernel file's `alpha`.

fn alpha4(g: u32) -> vec4<f32> {
    let a = alpha_index(g);
    return vec4<f32>(alpha[a], alpha[a + 1u], alpha[a + 2u], alpha[a + 3u]);
}
