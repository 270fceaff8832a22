// Elementwise forward template: y = fwd(x), one element (scalar variant) or one vec4 (vec4
// variant) per step of a grid-stride loop over `params.n` units.
//
// Arrays (declared with their accessors by src/kernel.rs): x (read), y (read_write); the
// in-place variant binds only y. `apply_fwd` is generated for the op and the unit type.

// The loop is shaders/grid_stride.wgsl (entry point `forward`).

fn grid_units() -> u32 {
    return params.n;
}

fn grid_step(i: u32) {
    st_y(i, apply_fwd(ld_x(i)));
}
