//! What `wgact check` and the tests run: parameter presets, kink points, deterministic
//! inputs with special values, the boundary sizes, and one GPU-vs-CPU check.

#[cfg(not(target_arch = "wasm32"))]
pub mod f16;
#[cfg_attr(target_arch = "wasm32", allow(unused_imports))]
pub mod prelu;
#[cfg_attr(target_arch = "wasm32", allow(unused_imports))]
pub mod softmax;

use crate::compare::{flush_denormal, Comparison, Mismatch};
use crate::ops::ElementwiseOps;
pub use crate::ops::{ELU_ABS_ULPS_OF_ONE, ELU_ULPS};
use wgpu_activations::reference;
use wgpu_activations::Gpu;
use wgpu_activations::Result;
use wgpu_activations::Tensor;
use wgpu_activations::{Direction, Elementwise};

/// Element counts around every boundary of the elementwise kernels: vec4 packing (1, 3, 4,
/// 5), the 64- and 256-wide workgroups, and a multi-workgroup grid.
pub const SIZES: &[usize] = &[1, 3, 4, 5, 63, 64, 65, 255, 256, 257, 1023, 65537];

/// One past 65,535 workgroups of 256 invocations, one vec4 each: past the dispatch limit of
/// a one-vec4-per-invocation grid, and (at 256 MiB) past a 128 MiB storage binding, so the
/// chunked path and the grid-stride loop both run.
pub const LARGE_SIZE: usize = 65_535 * 256 * 4 + 5;

/// A small deterministic generator (SplitMix64): the same seed gives the same inputs on
/// every machine.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        let unit = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        lo + (hi - lo) * unit
    }
    /// Uniform in `[0, n)`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Values every op must handle: signed zeros, NaN, infinities, the largest finite values,
/// huge and tiny magnitudes, and the smallest normal and denormal values.
pub fn special_values() -> Vec<f32> {
    vec![
        0.0,
        -0.0,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::MAX,
        f32::MIN,
        3.4e38,
        -3.4e38,
        1e30,
        -1e30,
        1e-7,
        -1e-7,
        f32::MIN_POSITIVE,
        -f32::MIN_POSITIVE,
        1e-45,
        -1e-45,
        88.0,
        89.0,
        -88.0,
        -104.0,
        -1e4,
    ]
}

/// `v` with its two float neighbours.
pub fn with_neighbours(v: f32) -> [f32; 3] {
    [next_down(v), v, next_up(v)]
}

fn next_up(v: f32) -> f32 {
    if v.is_nan() || v == f32::INFINITY {
        return v;
    }
    if v == 0.0 {
        return f32::from_bits(1);
    }
    let bits = v.to_bits();
    f32::from_bits(if v > 0.0 { bits + 1 } else { bits - 1 })
}

fn next_down(v: f32) -> f32 {
    -next_up(-v)
}

/// Deterministic `(x, dy)` of length `n` for `op`: random values in `[-8, 8)` and over
/// a wide log range, with every special value and each kink with its float neighbours at
/// the start, the end and spread through the middle (so vec4 lanes and tails all see them).
pub fn elementwise_inputs(op: &Elementwise, n: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut rng = Rng::new(seed ^ (n as u64).wrapping_mul(0x2545_f491_4f6c_dd1d));
    let mut x: Vec<f32> = (0..n)
        .map(|i| {
            if i % 3 == 0 {
                let mag = 10f32.powf(rng.uniform(-8.0, 8.0));
                if rng.below(2) == 0 {
                    mag
                } else {
                    -mag
                }
            } else {
                rng.uniform(-8.0, 8.0)
            }
        })
        .collect();
    let mut specials = special_values();
    for k in op.kinks() {
        specials.extend(with_neighbours(k));
    }
    let m = specials.len();
    for (j, &s) in specials.iter().enumerate() {
        if n == 0 {
            break;
        }
        x[j % n] = s;
        x[(n - 1 - j % n) % n] = s;
        if n > 4 * m {
            x[(j * 2 + 1) * n / (2 * m)] = s;
        }
    }
    let dy = (0..n)
        .map(|_| {
            let v = rng.uniform(-1.0, 1.0);
            if v == 0.0 {
                0.5
            } else {
                v
            }
        })
        .collect();
    (x, dy)
}

/// One row of a check: which op, direction and size, and how it went.
#[derive(Clone, Debug)]
pub struct CheckRow {
    pub op: String,
    pub direction: Direction,
    pub shape: Vec<usize>,
    pub outcome: std::result::Result<(), String>,
}

#[cfg(not(target_arch = "wasm32"))]
/// Runs `op` in `direction` on the GPU over deterministic inputs of `n` elements and
/// compares with the CPU reference: see [`check_elementwise_on`].
///
/// # Errors
/// GPU errors (the comparison itself goes in the row).
pub fn check_elementwise(
    gpu: &Gpu,
    op: &Elementwise,
    direction: Direction,
    n: usize,
    seed: u64,
) -> Result<CheckRow> {
    let (x, dy) = elementwise_inputs(op, n, seed);
    check_elementwise_on(gpu, op, direction, &x, &dy, &[n])
}

#[cfg(not(target_arch = "wasm32"))]
/// Runs `op` in `direction` on the GPU over `x` (and `dy`) of `shape` and compares with the
/// CPU reference under the op's tolerance. A denormal input or output may be flushed to zero.
///
/// # Errors
/// Upload, shape and GPU errors (the comparison itself goes in the row).
pub fn check_elementwise_on(
    gpu: &Gpu,
    op: &Elementwise,
    direction: Direction,
    x: &[f32],
    dy: &[f32],
    shape: &[usize],
) -> Result<CheckRow> {
    let xt = Tensor::from_slice(gpu, x, shape)?;
    let xf: Vec<f32> = x.iter().map(|&v| flush_denormal(v)).collect();
    let (actual, expected, alternative) = match direction {
        Direction::Forward => (
            op.forward(gpu, &xt)?.to_vec(gpu)?,
            reference::elementwise_forward(op, x),
            reference::elementwise_forward(op, &xf),
        ),
        Direction::Backward => {
            let dyt = Tensor::from_slice(gpu, dy, shape)?;
            (
                op.backward(gpu, &xt, &dyt)?.to_vec(gpu)?,
                reference::elementwise_backward(op, x, dy)?,
                reference::elementwise_backward(op, &xf, dy)?,
            )
        }
    };
    let mut comparison = Comparison::new(&actual, &expected, op.tolerance(direction));
    comparison.alternative = Some(&alternative);
    comparison.flush_denormals = true;
    if direction == Direction::Backward && op.tolerance_scales_with_dy() {
        comparison.abs_scale = Some(dy);
    }
    Ok(CheckRow {
        op: op.describe(),
        direction,
        shape: shape.to_vec(),
        outcome: comparison.check().map_err(|m: Mismatch| m.to_string()),
    })
}

#[cfg(not(target_arch = "wasm32"))]
/// Every row of `wgact check`: each family's presets, directions and sizes, GPU against the
/// CPU reference. `quick` skips the tensors past one storage binding.
///
/// # Errors
/// GPU errors; failed comparisons are rows, not errors.
pub fn run_all(gpu: &Gpu, quick: bool, seed: u64, emit: &mut dyn FnMut(&CheckRow)) -> Result<()> {
    for op in Elementwise::presets() {
        for direction in Direction::ALL {
            for &n in SIZES {
                emit(&check_elementwise(gpu, &op, direction, n, seed)?);
            }
        }
    }
    if !quick {
        // Every op once with its Keras defaults on the large tensor.
        let mut seen = Vec::new();
        for op in Elementwise::presets() {
            if seen.contains(&op.name()) {
                continue;
            }
            seen.push(op.name());
            for direction in Direction::ALL {
                emit(&check_elementwise(gpu, &op, direction, LARGE_SIZE, seed)?);
            }
        }
    }
    crate::check::prelu::check_rows(gpu, quick, seed, emit)?;
    crate::check::softmax::check_rows(gpu, quick, seed, emit)?;
    crate::check::f16::check_f16_rows(gpu, seed, emit)?;
    Ok(())
}
