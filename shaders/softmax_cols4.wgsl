// Softmax, the strided vec4 kernels' shared part (CPU adapters with subgroups): four
// neighbouring rows a lane as the components of vec4s, a row quad's LANES lanes next to each
// other inside one subgroup. src/softmax/kernels.rs includes this file before
// softmax_forward_cols4.wgsl or softmax_backward_cols4.wgsl; it declares no bindings.

// The four rows' running max and flags.
struct AccCols4 {
    m: vec4<f32>,
    flags: vec4<u32>,
}

// The row quad's max and flags over its lanes, per component (exact in any order).
fn reduce_max_flags_cols4(acc: AccCols4) -> AccCols4 {
    var r = acc;
    for (var off = 1u; off < LANES; off = off * 2u) {
        let m = subgroupShuffleXor(r.m, off);
        r.m = select(r.m, m, m > r.m);
        r.flags = r.flags | subgroupShuffleXor(r.flags, off);
    }
    return r;
}

// The row quad's sums over its lanes, per component, by the butterfly of reduce_sum.
fn reduce_sum_cols4(v: vec4<f32>) -> vec4<f32> {
    var s = v;
    for (var off = 1u; off < LANES; off = off * 2u) {
        s = s + subgroupShuffleXor(s, off);
    }
    return s;
}

// row_is_nan per component.
fn rows_are_nan4(m: vec4<f32>, flags: vec4<u32>) -> vec4<bool> {
    let kept_inf = ((flags & vec4<u32>(FLAG_KEPT)) != vec4<u32>(0u)) &
        (bitcast<vec4<u32>>(m) == vec4<u32>(NEG_INF_BITS));
    return ((flags & vec4<u32>(FLAG_BAD)) != vec4<u32>(0u)) | kept_inf;
}
