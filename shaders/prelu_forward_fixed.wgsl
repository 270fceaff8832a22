// PReLU forward, the loop of the fixed-alpha walk: invocation gid.x handles units gid.x,
// gid.x + stride, ... as the grid-stride loop does, but decodes its alpha once, for its
// first unit, and reuses it at every step. The host takes this walk only when every step
// keeps the alpha: the stride in elements (workgroups * WG * elements per unit) is a
// multiple of alpha's period along x (the product of the canonical sizes from the
// outermost kept axis inward), or the grid covers the chunk in one step
// (src/prelu/kernels.rs, `ForwardWalk`). That saves the mixed-radix decode (a division by a
// uniform, which a CPU adapter runs lane by lane) and the alpha load of every step.
//
// No bindings of its own: the kernel file before it defines Unit, grid_units, unit_alpha
// and prelu_step.

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let stride = groups.x * WG;
    let n = grid_units();
    if (gid.x >= n) {
        return;
    }
    let a = unit_alpha(gid.x);
    for (var i = gid.x; i < n; i += stride) {
        prelu_step(i, a);
    }
}
