// PReLU dalpha: the index helpers of every reduction pass (kept_offset, red_offset,
// red_offsets4). No bindings. The tree itself is prelu_reduce_shared.wgsl (shared memory),
// prelu_reduce_registers.wgsl or prelu_reduce_registers4.wgsl (registers).

// Offset in the bound input of alpha element a (< count_a). N_KEPT and N_RED, the counts of
// kept and reduced axes of the chunk, are constants of the pipeline (src/prelu/kernels.rs).
fn kept_offset(a: u32) -> u32 {
    return wgact_mixed_radix(a, N_KEPT, array(params.kept_sizes, vec4<u32>(0u)),
                             array(params.kept_xstrides, vec4<u32>(0u)));
}

// Offset in the bound input of reduced index r (< n), as kept_offset.
fn red_offset(r: u32) -> u32 {
    return wgact_mixed_radix(r, N_RED, array(params.red_sizes, vec4<u32>(0u)),
                             array(params.red_xstrides, vec4<u32>(0u)));
}

// Offsets of the reduced indices r0 to r0 + 3 (only those < n are used): one red_offset,
// then steps along the innermost reduced axis while they stay on its row (the usual case);
// only an index past the row's end pays for its own red_offset.
fn red_offsets4(r0: u32) -> vec4<u32> {
    let inner = N_RED - 1u;
    let size = params.red_sizes[inner];
    let step = params.red_xstrides[inner];
    // r0's digit along the innermost reduced axis (r0 itself when that axis is the only one).
    let digit = select(r0 % size, r0, N_RED == 1u);
    let off = red_offset(r0);
    var offs = vec4<u32>(off, off + step, off + 2u * step, off + 3u * step);
    for (var j = 1u; j < 4u; j++) {
        if (digit + j >= size) {
            offs[j] = red_offset(r0 + j);
        }
    }
    return offs;
}
