// Elementwise backward template: dx = bwd(x, dy), as the forward template.
//
// Arrays: x, dy (read), dx (read_write); the in-place variant (dx overwrites dy) binds x and
// dx only. `apply_bwd` is generated for the op and the unit type.

// The loop is shaders/grid_stride.wgsl (entry point `backward`).

fn grid_units() -> u32 {
    return params.n;
}

fn grid_step(i: u32) {
    st_dx(i, apply_bwd(ld_x(i), ld_dy(i)));
}
