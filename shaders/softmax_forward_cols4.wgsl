// Softmax forward, strided vec4 kernel (CPU adapters with subgroups): strided rows whose inner
// indices come in fours, four neighbouring rows to a lane: component c of a vec4 belongs to row
// 4q + c, so each load is one 16-byte unit for four rows. A row quad's LANES lanes are next to
// each other inside one subgroup and reduce by butterflies, per component
// (shaders/softmax_cols4.wgsl, included beside this file). The dispatcher gives rows, inner,
// inner_count and base in vec4 units, so lane_layout's `first` and `elem` are vec4 indices.
// Per element the rules, and per row the order of the sum, are the scalar kernel's.
//
// The entry point `forward_cols4` is generated (src/softmax/kernels.rs, `rows_entry`): the
// helpers below once per register, written out, and the registers summed pairwise.
//
// Binding contract (declared by src/softmax/kernels.rs):
//   @binding(0) params  uniform SoftmaxParams
//   reads:  x (array<vec4<f32>>), then mask (array<vec4<f32>>) in the masked variant
//   writes: y (array<vec4<f32>>)

// Position j + r * LANES of the lane's four rows: kept, non-poisoning values (-inf elsewhere),
// folded into acc per row; the four kept flags go to bits 4 (r % 8) of `kept`.
fn load_cols4(ln: Lane, r: u32, acc: ptr<function, AccCols4>, kept: ptr<function, u32>) -> vec4<f32> {
    let k = ln.j + r * LANES;
    if (!ln.valid || k >= ln.len) {
        return vec4<f32>(neg_inf());
    }
    let i = elem(ln, k);
    let xv = ld_x(i);
    let keep = kept4(i);
    let bad = keep & poisons_row4(xv);
    *kept |= bits4(keep) << (4u * (r % 8u));
    (*acc).flags |= select(vec4<u32>(0u), vec4<u32>(FLAG_KEPT), keep) |
        select(vec4<u32>(0u), vec4<u32>(FLAG_BAD), bad);
    let v = select(vec4<f32>(neg_inf()), xv, keep & !bad);
    (*acc).m = select((*acc).m, v, v > (*acc).m);
    return v;
}

// Stores position j + r * LANES of the four rows: `yv`, NaN in poisoned rows, 0 where masked.
fn store_cols4(ln: Lane, r: u32, yv: vec4<f32>, nan_rows: vec4<bool>, kept: u32) {
    let k = ln.j + r * LANES;
    if (ln.valid && k < ln.len) {
        let y = select(yv, vec4<f32>(wgact_nan1()), nan_rows);
        st_y(elem(ln, k), select(vec4<f32>(0.0), y, unbits4(kept >> (4u * (r % 8u)))));
    }
}
