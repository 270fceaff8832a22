// PReLU dalpha: the index helpers of every reduction pass (kept_offset, red_offset,
// red_offsets4). No bindings. The tree itself is prelu_reduce_shared.wgsl (shared memory),
// prelu_reduce_registers.wgsl or prelu_reduce_registers4.wgsl (registers).

// Offset in the bound input of alpha element a (< count_a). The outermost axis's digit is
// what is left, so it takes no division (division by a uniform is slow on GPUs).
fn kept_offset(a: u32) -> u32 {
    var rest = a;
    var off = 0u;
    for (var k = i32(params.n_kept) - 1; k >= 1; k--) {
        let size = params.kept_sizes[k];
        let q = rest / size;
        off += (rest - q * size) * params.kept_xstrides[k];
        rest = q;
    }
    return off + rest * params.kept_xstrides[0];
}

// Offset in the bound input of reduced index r (< n), as kept_offset.
fn red_offset(r: u32) -> u32 {
    var rest = r;
    var off = 0u;
    for (var k = i32(params.n_red) - 1; k >= 1; k--) {
        let size = params.red_sizes[k];
        let q = rest / size;
        off += (rest - q * size) * params.red_xstrides[k];
        rest = q;
    }
    return off + rest * params.red_xstrides[0];
}

// Offsets of the reduced indices r0 to r0 + 3 (only those < n are used): one red_offset,
// then steps along the innermost reduced axis while they stay on its row (the usual case);
// only an index past the row's end pays for its own red_offset.
fn red_offsets4(r0: u32) -> vec4<u32> {
    let inner = params.n_red - 1u;
    let size = params.red_sizes[inner];
    let step = params.red_xstrides[inner];
    // r0's digit along the innermost reduced axis (r0 itself when that axis is the only one).
    let digit = select(r0 % size, r0, inner == 0u);
    let off = red_offset(r0);
    var offs = vec4<u32>(off, off + step, off + 2u * step, off + 3u * step);
    for (var j = 1u; j < 4u; j++) {
        if (digit + j >= size) {
            offs[j] = red_offset(r0 + j);
        }
    }
    return offs;
}
