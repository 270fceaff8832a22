// PReLU dalpha, first pass: the terms dy * min(x, 0) read from x and dy (one chunk).
//
// Binding contract:
//   @binding(0) params    uniform PreluParams (prelu_common.wgsl)
//   @binding(1) x         storage, read       array<f32>  (this chunk, from an aligned start)
//   @binding(2) dy        storage, read       array<f32>  (same range)
//   @binding(3) partials  storage, read_write array<f32>  [count_a][p_total]

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> partials: array<f32>;

fn load(i: u32) -> f32 {
    return prelu_dalpha_term(x[i], dy[i]);
}

fn store(i: u32, v: f32) {
    partials[i] = v;
}
