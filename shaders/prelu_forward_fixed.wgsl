// PReLU forward, the loop of the fixed-alpha walk: invocation gid.x handles units gid.x,
// gid.x + stride, ... as the grid-stride loop does, but decodes its alpha once, for its
// first unit, and reuses it at every step. The host takes this walk only when every step
// keeps the alpha: the stride in elements (workgroups * WG * elements per unit) is a
// multiple of alpha's period along x (the product of the canonical sizes from the
// outermost kept axis inward), or the grid covers the chunk in one step
// (src/prelu/kernels.rs, `ForwardWalk`). That saves the mixed-radix decode (a division by a
// uniform, which a CPU adapter runs lane by lane) and the alpha load of every step.
//
// Where the invocation's alpha is plain (its half finite and nonzero, the usual case), the
// loop takes prelu_fwd_plain: with alpha fixed, the 0 * inf checks of prelu_fwd cannot fire,
// and leaving them out took about 3% off the f32 forward and 10% off the f16 one on
// lavapipe (CPU time). The condition is per invocation: lanes of one SIMD group may take
// either loop.
//
// No bindings of its own: the kernel file before it defines Unit, grid_units, unit_alpha,
// unit_plain, h_unit, prelu_step and prelu_step_plain.

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    wgact_load_offsets();
    let stride = groups.x * WG;
    let n = grid_units();
    if (gid.x >= n) {
        return;
    }
    let a = unit_alpha(gid.x);
    if (unit_plain(a)) {
        let na = -h_unit(a);
        for (var i = gid.x; i < n; i += stride) {
            prelu_step_plain(i, na);
        }
    } else {
        for (var i = gid.x; i < n; i += stride) {
            prelu_step(i, a);
        }
    }
}
