// PReLU forward, the loop of CPU adapters (the kernel file before it defines Unit,
// grid_units, unit_alpha and prelu_step; src/prelu/kernels.rs prepends LANES, the adapter's
// SIMD width, and PHASES, 1, 2, 4 or 8).
//
// As elementwise_blocked.wgsl: a CPU adapter such as lavapipe runs a workgroup as LANES-wide
// SIMD batches of invocations, one after another, each through its whole loop, so each batch
// walks one contiguous block of params.block units (a multiple of LANES), LANES units a step:
// one stream per batch. A lane's unit advances by LANES a step, so its alpha repeats every
// PHASES steps (alpha's period in units over its gcd with LANES; the host takes this loop
// only when that is at most 8): the lane decodes and loads its PHASES alphas once, before
// the loop, and the loop takes PHASES steps an iteration, step k with alpha k. The offsets
// are read once too (`hoisted_offsets`).

@compute @workgroup_size(WG)
fn forward(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    wgact_load_offsets();
    let n = grid_units();
    let first = (wid.x * (WG / LANES) + lid / LANES) * params.block;
    let end = min(first + params.block, n);
    let start = first + lid % LANES;
    if (start >= end) {
        return;
    }
    // Any unit index has an alpha (the decode wraps every kept axis), so the alphas of steps
    // past the end are loaded harmlessly.
    let a0 = unit_alpha(start);
    var a1 = a0;
    var a2 = a0;
    var a3 = a0;
    var a4 = a0;
    var a5 = a0;
    var a6 = a0;
    var a7 = a0;
    if (PHASES > 1u) {
        a1 = unit_alpha(start + LANES);
    }
    if (PHASES > 2u) {
        a2 = unit_alpha(start + 2u * LANES);
        a3 = unit_alpha(start + 3u * LANES);
    }
    if (PHASES > 4u) {
        a4 = unit_alpha(start + 4u * LANES);
        a5 = unit_alpha(start + 5u * LANES);
        a6 = unit_alpha(start + 6u * LANES);
        a7 = unit_alpha(start + 7u * LANES);
    }
    for (var i = start; i < end; i += PHASES * LANES) {
        prelu_step(i, a0);
        if (PHASES > 1u && i + LANES < end) {
            prelu_step(i + LANES, a1);
        }
        if (PHASES > 2u) {
            if (i + 2u * LANES < end) {
                prelu_step(i + 2u * LANES, a2);
            }
            if (i + 3u * LANES < end) {
                prelu_step(i + 3u * LANES, a3);
            }
        }
        if (PHASES > 4u) {
            if (i + 4u * LANES < end) {
                prelu_step(i + 4u * LANES, a4);
            }
            if (i + 5u * LANES < end) {
                prelu_step(i + 5u * LANES, a5);
            }
            if (i + 6u * LANES < end) {
                prelu_step(i + 6u * LANES, a6);
            }
            if (i + 7u * LANES < end) {
                prelu_step(i + 7u * LANES, a7);
            }
        }
    }
}
