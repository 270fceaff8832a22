// The elementwise loop of CPU adapters, in place of shaders/grid_stride.wgsl (same contract:
// the kernel file defines grid_units() and grid_step(i); src/elementwise.rs appends this file,
// renames the entry point and defines LANES, the adapter's SIMD width).
//
// A CPU adapter such as lavapipe runs a workgroup as LANES-wide SIMD batches of invocations,
// one batch after another, each through the whole loop. Under a grid-stride loop a batch
// jumps a grid's width between steps, so the memory it touches is scattered over as many
// streams as it takes steps; here each batch walks one contiguous block of params.block
// units (a multiple of LANES, chosen on the host), LANES units a step, so every batch is one
// stream.
//
// The uniforms the steps use are read once, before the loop: the offsets (kernel.rs,
// `hoisted_offsets`) and the activation's parameters, which the generated apply_fwd /
// apply_bwd take from `elementwise_act`. lavapipe's compiler cannot prove that a store into
// a storage array leaves the uniform block alone, so it reloads every uniform a step reads
// after each store.

var<private> elementwise_act: WgactActivation;

@compute @workgroup_size(WG)
fn elementwise_blocked_entry(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    wgact_load_offsets();
    elementwise_act = params.act;
    let n = grid_units();
    let block = params.block;
    let first = (wid.x * (WG / LANES) + lid / LANES) * block;
    let end = min(first + block, n);
    for (var i = first + lid % LANES; i < end; i += LANES) {
        grid_step(i);
    }
}
