// PReLU dalpha, later passes: rows of partial sums, [count_a][n], reduced to [count_a][p_total].
//
// Binding contract:
//   @binding(0) params    uniform PreluParams (prelu_common.wgsl)
//   @binding(1) src       storage, read       array<f32>  [count_a][n]
//   @binding(2) dst       storage, read_write array<f32>  [count_a][p_total]

@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

fn load(i: u32) -> f32 {
    return src[i];
}

fn store(i: u32, v: f32) {
    dst[i] = v;
}
