//! PReLU: `y = x >= 0 ? x : alpha * x` with a learned alpha, forward and backward on the GPU.
//!
//! Keras: `PReLU(alpha_initializer='zeros', alpha_regularizer=None, alpha_constraint=None,
//! shared_axes=None)`, computed as Keras does, `y = relu(x) + (-alpha) * relu(-x)`:
//!
//! - alpha has shape `input_shape[1..]` with every shared axis set to 1, and broadcasts over
//!   the batch axis and the shared axes. Axes count the batch axis as 0.
//! - `dx = dy * [x > 0] + alpha * dy * [x < 0]`: **0 at `x == 0`** (LeakyReLU takes the left
//!   slope there) and 0 at NaN.
//! - `dalpha = Σ over batch and shared axes of dy * min(x, 0)`, reduced on the GPU in a fixed
//!   tree order (see [`PReLU::dalpha_tree_depth`] for the error bound).
//! - `alpha == 0` at `x == -inf` gives NaN (`0 * inf`), as in Keras; NaN in x gives NaN in y,
//!   0 in dx and NaN in that element's dalpha.
//!
//! Initializers, regularizers and constraints follow Keras's names and defaults; the last
//! two run on the CPU (alpha is small), see [`Regularizer`] and [`Constraint`].
//!
//! ```
//! use wgpu_activations::prelu::{Constraint, Initializer, PReLU, Regularizer};
//! use wgpu_activations::{Gpu, Tensor};
//!
//! # fn main() -> Result<(), wgpu_activations::Error> {
//! # let gpu = match Gpu::new() {
//! #     Ok(gpu) => gpu,
//! #     Err(wgpu_activations::Error::NoAdapter { .. }) if std::env::var_os("REQUIRE_GPU").is_none() => return Ok(()),
//! #     Err(e) => return Err(e),
//! # };
//! // let gpu = Gpu::new()?;
//! // NHWC input, alpha shared over height and width: one alpha per channel, shape [1, 1, 3].
//! let mut prelu = PReLU::new(
//!     Initializer::Constant(0.25),
//!     Some(Regularizer::l2()), // l2 = 0.01
//!     Some(Constraint::non_neg()),
//!     Some(vec![1, 2]),
//! )?;
//! prelu.build(&gpu, &[2, 4, 4, 3])?;
//! assert_eq!(prelu.alpha_shape()?, &[1, 1, 3]);
//!
//! let x = Tensor::from_slice(&gpu, &[-1.0; 96], &[2, 4, 4, 3])?;
//! let y = prelu.forward(&gpu, &x)?;
//! assert_eq!(y.to_vec(&gpu)?, vec![-0.25; 96]);
//!
//! let dy = Tensor::from_slice(&gpu, &[-1.0; 96], &[2, 4, 4, 3])?;
//! // dalpha = Σ dy * min(x, 0) over batch, height and width = 32, plus 2 * l2 * alpha.
//! let (dx, dalpha) = prelu.backward_with(&gpu, &x, &dy, true)?;
//! assert_eq!(dx.to_vec(&gpu)?, vec![-0.25; 96]);
//! assert_eq!(dalpha.to_vec(&gpu)?, vec![32.005; 3]);
//!
//! // An SGD step, then the constraint, as Keras applies it after an optimizer step.
//! let stepped: Vec<f32> = prelu.alpha(&gpu)?.iter()
//!     .zip(dalpha.to_vec(&gpu)?)
//!     .map(|(a, g)| a - 0.1 * g)
//!     .collect();
//! prelu.set_alpha(&gpu, &stepped)?; // about -2.95 each
//! prelu.apply_constraint(&gpu)?; // non_neg: w * [w >= 0]
//! assert_eq!(prelu.alpha(&gpu)?, vec![0.0; 3]);
//! assert_eq!(prelu.regularization_penalty(), 0.0);
//! # Ok(())
//! # }
//! ```

mod constraints;
mod initializers;
mod regularizers;

pub use constraints::{Constraint, EPSILON};
pub use initializers::{fans, Initializer, TRUNCATED_NORMAL_STDDEV};
pub use regularizers::Regularizer;

use crate::check::{CheckRow, Rng};
use crate::compare::{flush_denormal, Comparison, Tolerance};
use crate::elementwise::Direction;
use crate::error::{Error, Result};
use crate::gpu::{BindingContract, DType, Gpu, PipelineKey};
use crate::reference;
use crate::tensor::Tensor;

/// Workgroup size of every prelu kernel.
const WORKGROUP_SIZE: u32 = 256;
/// Terms each invocation of a reduction pass adds before the shared-memory tree.
const TERMS_PER_INVOCATION: usize = 4;
/// Largest number of alpha elements one reduction workgroup handles side by side.
const MAX_GROUP_A: usize = 64;
/// Binding offsets are multiples of this many elements (256 bytes, always aligned).
const ALIGN_ELEMS: usize = 64;
/// Highest input rank (8 axes: at most 4 kept and 4 reduced after canonicalisation).
const MAX_RANK: usize = 8;
/// f32 unit roundoff, 2^-24.
pub const UNIT_ROUNDOFF: f64 = 1.0 / 16_777_216.0;

const LAYER: &str = "PReLU";

/// Uniform block of every prelu kernel (`PreluParams` in `shaders/prelu_common.wgsl`).
#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct PreluParams {
    n: u32,
    first: u32,
    count_a: u32,
    p_total: u32,
    p_offset: u32,
    group_a: u32,
    blocks: u32,
    rank: u32,
    n_kept: u32,
    n_red: u32,
    _pad: [u32; 2],
    sizes: [u32; 8],
    astrides: [u32; 8],
    kept_sizes: [u32; 4],
    kept_xstrides: [u32; 4],
    red_sizes: [u32; 4],
    red_xstrides: [u32; 4],
}

/// How the elementwise kernels (y and dx) walk their chunk, chosen on the host from the
/// canonical shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lanes {
    /// One element per step, one alpha index (`rank - 1` divisions) per element.
    Scalar,
    /// vec4 loads and stores, one alpha index per vec4: the innermost canonical axis is kept
    /// and a multiple of 4 long, so the 4 lanes take 4 consecutive alpha elements.
    KeptVec4,
    /// As `KeptVec4` with the innermost canonical axis reduced: the 4 lanes share one alpha.
    ReducedVec4,
}

impl Lanes {
    const ALL: [Lanes; 3] = [Lanes::Scalar, Lanes::KeptVec4, Lanes::ReducedVec4];

    /// The vec4 kernels need every vec4 on one row of the innermost canonical axis; chunk
    /// starts are multiples of [`ALIGN_ELEMS`], so that is all they need.
    fn for_shape(axes: &[Axis]) -> Lanes {
        match axes.last() {
            Some(inner) if inner.size.is_multiple_of(4) && inner.kept => Lanes::KeptVec4,
            Some(inner) if inner.size.is_multiple_of(4) => Lanes::ReducedVec4,
            _ => Lanes::Scalar,
        }
    }

    fn variant(self) -> u32 {
        match self {
            Lanes::Scalar => 0,
            Lanes::KeptVec4 => 1,
            Lanes::ReducedVec4 => 2,
        }
    }

    /// The elementwise kernel's body (without the common files) for this walk.
    fn wgsl(self, scalar: &str, vec4: &str) -> String {
        match self {
            Lanes::Scalar => scalar.to_string(),
            Lanes::KeptVec4 => format!(
                "{vec4}\n{}",
                include_str!("../../shaders/prelu_alpha_kept4.wgsl")
            ),
            Lanes::ReducedVec4 => format!(
                "{vec4}\n{}",
                include_str!("../../shaders/prelu_alpha_reduced4.wgsl")
            ),
        }
    }
}

/// Where the first dalpha pass adds up a block: the plan decides, from `group_a`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TermsTree {
    /// The block's `lanes` invocations, then a shared-memory tree (`prelu_reduce.wgsl`).
    Shared,
    /// One invocation per block, the same tree in registers (`prelu_reduce_registers.wgsl`),
    /// for `lanes` = 4, 8 or 16 (at least 16 alpha elements side by side keep loads
    /// coalesced). No barriers, no shared memory, the same bits.
    Registers(u32),
}

impl TermsTree {
    const ALL: [TermsTree; 4] = [
        TermsTree::Shared,
        TermsTree::Registers(4),
        TermsTree::Registers(8),
        TermsTree::Registers(16),
    ];

    fn for_group(group_a: usize) -> TermsTree {
        match WORKGROUP_SIZE as usize / group_a {
            lanes @ (4 | 8 | 16) => TermsTree::Registers(lanes as u32),
            _ => TermsTree::Shared,
        }
    }

    /// Blocks one workgroup handles per group of alpha elements.
    fn blocks_per_workgroup(self) -> usize {
        match self {
            TermsTree::Shared => 1,
            TermsTree::Registers(lanes) => lanes as usize,
        }
    }
}

/// The kernels of this family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PreluKernel {
    Forward(Lanes),
    Dx(Lanes),
    DalphaTerms(TermsTree),
    DalphaPartials,
}

impl PreluKernel {
    const ALL: [PreluKernel; 11] = [
        PreluKernel::Forward(Lanes::ALL[0]),
        PreluKernel::Forward(Lanes::ALL[1]),
        PreluKernel::Forward(Lanes::ALL[2]),
        PreluKernel::Dx(Lanes::ALL[0]),
        PreluKernel::Dx(Lanes::ALL[1]),
        PreluKernel::Dx(Lanes::ALL[2]),
        PreluKernel::DalphaTerms(TermsTree::ALL[0]),
        PreluKernel::DalphaTerms(TermsTree::ALL[1]),
        PreluKernel::DalphaTerms(TermsTree::ALL[2]),
        PreluKernel::DalphaTerms(TermsTree::ALL[3]),
        PreluKernel::DalphaPartials,
    ];

    fn name(self) -> &'static str {
        match self {
            PreluKernel::Forward(Lanes::Scalar) => "prelu/forward",
            PreluKernel::Forward(Lanes::KeptVec4) => "prelu/forward/vec4_kept",
            PreluKernel::Forward(Lanes::ReducedVec4) => "prelu/forward/vec4_reduced",
            PreluKernel::Dx(Lanes::Scalar) => "prelu/dx",
            PreluKernel::Dx(Lanes::KeptVec4) => "prelu/dx/vec4_kept",
            PreluKernel::Dx(Lanes::ReducedVec4) => "prelu/dx/vec4_reduced",
            PreluKernel::DalphaTerms(TermsTree::Shared) => "prelu/dalpha_terms",
            PreluKernel::DalphaTerms(TermsTree::Registers(4)) => "prelu/dalpha_terms/registers4",
            PreluKernel::DalphaTerms(TermsTree::Registers(8)) => "prelu/dalpha_terms/registers8",
            PreluKernel::DalphaTerms(TermsTree::Registers(_)) => "prelu/dalpha_terms/registers16",
            PreluKernel::DalphaPartials => "prelu/dalpha_partials",
        }
    }

    fn entry(self) -> &'static str {
        match self {
            PreluKernel::Forward(_) => "forward",
            PreluKernel::Dx(_) => "backward",
            PreluKernel::DalphaTerms(TermsTree::Registers(_)) => "reduce_registers",
            PreluKernel::DalphaTerms(TermsTree::Shared) | PreluKernel::DalphaPartials => "reduce",
        }
    }

    fn variant(self) -> u32 {
        match self {
            PreluKernel::Forward(lanes) | PreluKernel::Dx(lanes) => lanes.variant(),
            PreluKernel::DalphaTerms(TermsTree::Registers(lanes)) => lanes,
            PreluKernel::DalphaTerms(TermsTree::Shared) | PreluKernel::DalphaPartials => 0,
        }
    }

    fn contract(self) -> BindingContract {
        let (reads, writes) = match self {
            PreluKernel::Forward(_) => (2, 1),
            PreluKernel::Dx(_) => (3, 1),
            PreluKernel::DalphaTerms(_) => (2, 1),
            PreluKernel::DalphaPartials => (1, 1),
        };
        BindingContract { reads, writes }
    }

    fn wgsl(self) -> String {
        let body = match self {
            PreluKernel::Forward(lanes) => lanes.wgsl(
                include_str!("../../shaders/prelu_forward.wgsl"),
                include_str!("../../shaders/prelu_forward4.wgsl"),
            ),
            PreluKernel::Dx(lanes) => lanes.wgsl(
                include_str!("../../shaders/prelu_backward.wgsl"),
                include_str!("../../shaders/prelu_backward4.wgsl"),
            ),
            PreluKernel::DalphaTerms(TermsTree::Shared) => format!(
                "{}\n{}",
                include_str!("../../shaders/prelu_reduce.wgsl"),
                include_str!("../../shaders/prelu_reduce_terms.wgsl")
            ),
            PreluKernel::DalphaTerms(TermsTree::Registers(lanes)) => format!(
                "const LANES: u32 = {lanes}u;\n{}\n{}\n{}",
                include_str!("../../shaders/prelu_reduce.wgsl"),
                include_str!("../../shaders/prelu_reduce_registers.wgsl"),
                include_str!("../../shaders/prelu_reduce_terms.wgsl")
            ),
            PreluKernel::DalphaPartials => format!(
                "{}\n{}",
                include_str!("../../shaders/prelu_reduce.wgsl"),
                include_str!("../../shaders/prelu_reduce_partials.wgsl")
            ),
        };
        format!(
            "const WG: u32 = {WORKGROUP_SIZE}u;\n{}\n{}\n{body}",
            crate::COMMON_WGSL,
            include_str!("../../shaders/prelu_common.wgsl")
        )
    }

    fn load(self, gpu: &Gpu) -> Result<std::sync::Arc<crate::gpu::Kernel>> {
        let key = PipelineKey {
            kernel: self.name(),
            entry: self.entry(),
            dtype: DType::F32,
            variant: self.variant(),
            workgroup_size: WORKGROUP_SIZE,
        };
        gpu.kernel(key, self.contract(), || self.wgsl())
    }
}

/// Every WGSL source of this family, labelled `prelu/...`.
pub(crate) fn shader_sources() -> Vec<(String, String)> {
    PreluKernel::ALL
        .iter()
        .map(|k| (k.name().to_string(), k.wgsl()))
        .collect()
}

/// One axis of the canonical shape: adjacent axes of the same kind merged, size-1 axes
/// (other than the batch axis) dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Axis {
    size: usize,
    /// alpha varies along it (not the batch axis, not shared).
    kept: bool,
}

fn canonical(x_shape: &[usize], alpha_shape: &[usize]) -> Vec<Axis> {
    let mut axes = vec![Axis {
        size: x_shape[0],
        kept: false,
    }];
    for d in 1..x_shape.len() {
        if x_shape[d] == 1 {
            continue;
        }
        let kept = alpha_shape[d - 1] != 1;
        let last = axes.last_mut().expect("the batch axis is always there");
        if last.kept == kept {
            last.size *= x_shape[d];
        } else {
            axes.push(Axis {
                size: x_shape[d],
                kept,
            });
        }
    }
    axes
}

/// `ceil(log2(n))` for `n >= 1`.
fn ceil_log2(n: usize) -> u32 {
    n.max(1).next_power_of_two().trailing_zeros()
}

/// Rounding depth of one reduction pass whose fullest block holds `m` terms on `lanes`
/// invocations: the pairwise sum of each invocation's 4 terms, then the tree over the
/// invocations that hold data. Adding an exact zero (padding) does not round.
fn pass_depth(m: usize, lanes: usize) -> u32 {
    ceil_log2(m.min(TERMS_PER_INVOCATION)) + ceil_log2(lanes.min(m.div_ceil(TERMS_PER_INVOCATION)))
}

/// One chunk of x for the first reduction pass: a range of the outermost canonical axis.
#[derive(Clone, Debug)]
struct ReduceChunk {
    outer_len: usize,
    bind_start: usize,
    bind_len: usize,
    skew: usize,
    blocks: usize,
    p_offset: usize,
}

/// Everything the dalpha reduction of one input shape needs, computed before recording.
#[derive(Clone, Debug)]
struct ReducePlan {
    count_a: usize,
    kept: Vec<(usize, usize)>,
    red: Vec<(usize, usize)>,
    group_a: usize,
    chunks: Vec<ReduceChunk>,
    p_total: usize,
    /// Row lengths of the later passes' inputs.
    passes: Vec<usize>,
    depth: u32,
}

/// What one dalpha reduction needs besides its inputs: the plan and the partial-sum
/// buffers, allocated before recording so that they outlive the submission. Build it once
/// per input shape with [`PReLU::dalpha_scratch`] and reuse it (the benchmarks do).
#[derive(Clone, Debug)]
pub(crate) struct DalphaScratch {
    plan: ReducePlan,
    partials: Vec<Tensor>,
    x_shape: Vec<usize>,
}

/// Crate-internal limits, lowered by tests to exercise chunking and 2-D grids at modest
/// sizes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Limits {
    /// u32, not usize, keeps `PReLU` small (clippy's large_enum_variant in conformance.rs).
    binding_elems: Option<u32>,
    groups_per_dim: Option<u32>,
    /// Always the shared-memory tree in the first dalpha pass (tests compare the bits).
    shared_tree_only: bool,
}

impl Limits {
    fn binding_elems(&self, gpu: &Gpu) -> usize {
        let real = (gpu.max_binding_bytes() / 4) as usize;
        self.binding_elems
            .map_or(real, |l| (l as usize).min(real))
            .max(ALIGN_ELEMS)
    }
    fn groups_per_dim(&self, gpu: &Gpu) -> u32 {
        let real = gpu.limits().max_compute_workgroups_per_dimension;
        self.groups_per_dim.map_or(real, |l| l.min(real)).max(1)
    }
}

/// A 2-D grid of at least `total` workgroups (the kernels skip the excess).
fn grid(total: usize, per_dim: u32) -> Result<[u32; 3]> {
    let gx = total.min(per_dim as usize).max(1);
    let gy = total.div_ceil(gx).max(1);
    if gy > per_dim as usize {
        return Err(Error::TooLarge {
            what: "dalpha reduction grid",
            bytes: total as u64,
            max: per_dim as u64 * per_dim as u64,
        });
    }
    Ok([gx as u32, gy as u32, 1])
}

/// The built state: the input shape it was built for and alpha on both sides.
#[derive(Clone, Debug)]
struct Built {
    input_shape: Vec<usize>,
    alpha_shape: Vec<usize>,
    /// The authoritative copy; the tensor mirrors it.
    alpha: Vec<f32>,
    alpha_tensor: Tensor,
}

/// `PReLU(alpha_initializer='zeros', alpha_regularizer=None, alpha_constraint=None,
/// shared_axes=None)`. See the [module docs](self) for the formulas.
///
/// `shared_axes` lists axes of the input (the batch axis is 0) along which alpha is shared.
/// **Unlike Keras**, an axis outside `1..rank` is an error: Keras silently wraps `[0]` to the
/// last axis (index -1), which is never what was meant. Duplicates are accepted, as in Keras.
#[derive(Clone, Debug)]
pub struct PReLU {
    initializer: Initializer,
    regularizer: Option<Regularizer>,
    constraint: Option<Constraint>,
    shared_axes: Option<Vec<usize>>,
    built: Option<Built>,
    limits: Limits,
}

impl Default for PReLU {
    fn default() -> Self {
        PReLU {
            initializer: Initializer::Zeros,
            regularizer: None,
            constraint: None,
            shared_axes: None,
            built: None,
            limits: Limits::default(),
        }
    }
}

impl PReLU {
    /// A layer, not yet built.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for invalid initializer, regularizer or constraint
    /// parameters, or a shared axis 0 (the batch axis cannot be shared).
    pub fn new(
        initializer: Initializer,
        regularizer: Option<Regularizer>,
        constraint: Option<Constraint>,
        shared_axes: Option<Vec<usize>>,
    ) -> Result<Self> {
        initializer.validate()?;
        if let Some(r) = &regularizer {
            r.validate()?;
        }
        if let Some(c) = &constraint {
            c.validate()?;
        }
        if let Some(axes) = &shared_axes {
            if axes.contains(&0) {
                return Err(bad_shared_axes(axes, None));
            }
        }
        Ok(PReLU {
            initializer,
            regularizer,
            constraint,
            shared_axes,
            built: None,
            limits: Limits::default(),
        })
    }

    pub fn initializer(&self) -> Initializer {
        self.initializer
    }
    pub fn regularizer(&self) -> Option<Regularizer> {
        self.regularizer
    }
    pub fn constraint(&self) -> Option<&Constraint> {
        self.constraint.as_ref()
    }
    pub fn shared_axes(&self) -> Option<&[usize]> {
        self.shared_axes.as_deref()
    }
    pub fn is_built(&self) -> bool {
        self.built.is_some()
    }

    /// alpha's shape for an input of `input_shape`: `input_shape[1..]` with each shared axis
    /// set to 1.
    ///
    /// # Errors
    /// [`Error::InvalidRank`] outside ranks 1 to 8; [`Error::InvalidParameter`] for a shared
    /// axis outside `1..rank`.
    pub fn alpha_shape_for(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        let rank = input_shape.len();
        if rank == 0 || rank > MAX_RANK {
            return Err(Error::InvalidRank {
                op: LAYER,
                rank,
                shape: input_shape.to_vec(),
                allowed: "1 to 8",
            });
        }
        let mut shape = input_shape[1..].to_vec();
        if let Some(axes) = &self.shared_axes {
            for &a in axes {
                if a == 0 || a >= rank {
                    return Err(bad_shared_axes(axes, Some(rank)));
                }
                shape[a - 1] = 1;
            }
        }
        Ok(shape)
    }

    /// The shape alpha was built with.
    ///
    /// # Errors
    /// [`Error::NotBuilt`].
    pub fn alpha_shape(&self) -> Result<&[usize]> {
        Ok(&self.built()?.alpha_shape)
    }

    /// The input shape the layer was built for.
    ///
    /// # Errors
    /// [`Error::NotBuilt`].
    pub fn input_shape(&self) -> Result<&[usize]> {
        Ok(&self.built()?.input_shape)
    }

    fn built(&self) -> Result<&Built> {
        self.built.as_ref().ok_or(Error::NotBuilt { layer: LAYER })
    }

    /// Creates alpha for `input_shape` with the initializer and uploads it. Building an
    /// already built layer only checks that `input_shape` is compatible.
    ///
    /// # Errors
    /// As [`Self::alpha_shape_for`]; [`Error::ShapeMismatch`] when already built for an
    /// incompatible shape; GPU errors.
    pub fn build(&mut self, gpu: &Gpu, input_shape: &[usize]) -> Result<()> {
        if self.built.is_some() {
            return self.check_input(input_shape);
        }
        let alpha_shape = self.alpha_shape_for(input_shape)?;
        let alpha = self.initializer.values(&alpha_shape);
        let alpha_tensor = Tensor::from_slice(gpu, &alpha, &alpha_shape)?;
        self.built = Some(Built {
            input_shape: input_shape.to_vec(),
            alpha_shape,
            alpha,
            alpha_tensor,
        });
        Ok(())
    }

    /// Checks that an input of `shape` fits the built alpha: same rank, same size along
    /// every axis that is neither the batch axis nor shared.
    fn check_input(&self, shape: &[usize]) -> Result<()> {
        let built = self.built()?;
        let fits = shape.len() == built.input_shape.len()
            && (1..shape.len()).all(|d| {
                built.alpha_shape[d - 1] == shape[d]
                    || (built.alpha_shape[d - 1] == 1 && self.is_shared(d))
            });
        if !fits {
            let mut expected = built.input_shape.clone();
            if let Some(b) = shape.first() {
                expected[0] = *b;
            }
            return Err(Error::ShapeMismatch {
                what: "x (PReLU input; only the batch axis and shared axes may change size)",
                actual: shape.to_vec(),
                expected,
            });
        }
        Ok(())
    }

    fn is_shared(&self, axis: usize) -> bool {
        self.shared_axes
            .as_ref()
            .is_some_and(|axes| axes.contains(&axis))
    }

    fn ensure_built(&mut self, gpu: &Gpu, shape: &[usize]) -> Result<()> {
        if self.built.is_none() {
            self.build(gpu, shape)?;
        }
        self.check_input(shape)
    }

    /// alpha, downloaded (row-major, shape [`Self::alpha_shape`]).
    ///
    /// # Errors
    /// [`Error::NotBuilt`]; [`Error::ForeignTensor`] for another `Gpu`; readback errors.
    pub fn alpha(&self, gpu: &Gpu) -> Result<Vec<f32>> {
        self.built()?.alpha_tensor.to_vec(gpu)
    }

    /// alpha as a GPU tensor, for reading (write through [`Self::set_alpha`]).
    ///
    /// # Errors
    /// [`Error::NotBuilt`].
    pub fn alpha_tensor(&self) -> Result<&Tensor> {
        Ok(&self.built()?.alpha_tensor)
    }

    /// Uploads new alpha values (row-major, shape [`Self::alpha_shape`]).
    ///
    /// # Errors
    /// [`Error::NotBuilt`]; [`Error::LengthMismatch`] for the wrong number of values.
    pub fn set_alpha(&mut self, gpu: &Gpu, values: &[f32]) -> Result<()> {
        let built = self
            .built
            .as_mut()
            .ok_or(Error::NotBuilt { layer: LAYER })?;
        let tensor = Tensor::from_slice(gpu, values, &built.alpha_shape)?;
        built.alpha = values.to_vec();
        built.alpha_tensor = tensor;
        Ok(())
    }

    /// `y = prelu(x)` on the GPU, building the layer for `x.shape()` on first use.
    ///
    /// # Errors
    /// As [`Self::build`]; [`Error::ShapeMismatch`] for an input that does not fit alpha;
    /// [`Error::ForeignTensor`]; GPU errors.
    pub fn forward(&mut self, gpu: &Gpu, x: &Tensor) -> Result<Tensor> {
        x.check_gpu(gpu, "x")?;
        self.ensure_built(gpu, x.shape())?;
        let y = Tensor::alloc(gpu, "prelu/y", x.shape())?;
        gpu.run("prelu/fwd", |encoder| {
            self.record_forward(gpu, encoder, x, &y)
        })?;
        Ok(y)
    }

    /// `(dx, dalpha)` on the GPU; see the [module docs](self).
    ///
    /// # Errors
    /// As [`Self::forward`]; [`Error::ShapeMismatch`] when `dy` differs from `x` in shape.
    pub fn backward(&mut self, gpu: &Gpu, x: &Tensor, dy: &Tensor) -> Result<(Tensor, Tensor)> {
        self.backward_with(gpu, x, dy, false)
    }

    /// As [`Self::backward`]; with `add_regularizer_gradient`, the regularizer's gradient
    /// (computed on the CPU) is added to dalpha.
    ///
    /// # Errors
    /// As [`Self::backward`].
    pub fn backward_with(
        &mut self,
        gpu: &Gpu,
        x: &Tensor,
        dy: &Tensor,
        add_regularizer_gradient: bool,
    ) -> Result<(Tensor, Tensor)> {
        x.check_gpu(gpu, "x")?;
        dy.expect(gpu, "dy", x.shape())?;
        self.ensure_built(gpu, x.shape())?;
        let alpha_shape = self.built()?.alpha_shape.clone();
        let dx = Tensor::alloc(gpu, "prelu/dx", x.shape())?;
        let dalpha = Tensor::alloc(gpu, "prelu/dalpha", &alpha_shape)?;
        let scratch = self.dalpha_scratch(gpu, x.shape())?;
        gpu.run("prelu/bwd", |encoder| {
            self.record_dx(gpu, encoder, x, dy, &dx)?;
            self.record_dalpha(gpu, encoder, &scratch, x, dy, &dalpha)
        })?;
        drop(scratch);
        match (&self.regularizer, add_regularizer_gradient) {
            (Some(r), true) => {
                let built = self.built()?;
                let mut values = dalpha.to_vec(gpu)?;
                for (v, g) in values.iter_mut().zip(r.gradient(&built.alpha)) {
                    *v += g;
                }
                Ok((dx, Tensor::from_slice(gpu, &values, &alpha_shape)?))
            }
            _ => Ok((dx, dalpha)),
        }
    }

    /// The regularizer's penalty on the current alpha (what Keras adds to the loss); 0
    /// without a regularizer or before the layer is built.
    pub fn regularization_penalty(&self) -> f32 {
        match (&self.regularizer, &self.built) {
            (Some(r), Some(b)) => r.penalty(&b.alpha),
            _ => 0.0,
        }
    }

    /// The regularizer's gradient on the current alpha (zeros without a regularizer).
    ///
    /// # Errors
    /// [`Error::NotBuilt`].
    pub fn regularization_gradient(&self) -> Result<Vec<f32>> {
        let built = self.built()?;
        Ok(match &self.regularizer {
            Some(r) => r.gradient(&built.alpha),
            None => vec![0.0; built.alpha.len()],
        })
    }

    /// Applies the constraint to alpha (on the CPU) and uploads the result, as Keras does
    /// after an optimizer step. Without a constraint it does nothing.
    ///
    /// # Errors
    /// [`Error::NotBuilt`]; [`Error::AxisOutOfRange`] for a constraint axis outside alpha's
    /// rank; GPU errors.
    pub fn apply_constraint(&mut self, gpu: &Gpu) -> Result<()> {
        let Some(constraint) = self.constraint.clone() else {
            return Ok(());
        };
        let built = self.built()?;
        let values = constraint.apply(&built.alpha, &built.alpha_shape)?;
        self.set_alpha(gpu, &values)
    }

    /// The rounding depth `D` of the dalpha reduction for an input of `x_shape`: no term
    /// passes through more than `D` rounded additions, so
    /// `|dalpha_gpu - Σ terms| <= D * u / (1 - D * u) * Σ |terms|` with `u = 2^-24`, as long as
    /// no partial sum overflows (plus `2^-126` per term where the GPU flushes denormals).
    /// `D` is about `ceil(log2(terms per alpha element))`, plus at most 1 per pass.
    ///
    /// # Errors
    /// [`Error::NotBuilt`]; as [`Self::forward`] for an input that does not fit.
    pub fn dalpha_tree_depth(&self, gpu: &Gpu, x_shape: &[usize]) -> Result<u32> {
        self.check_input(x_shape)?;
        Ok(self.reduce_plan(gpu, x_shape)?.depth)
    }

    /// Lowers the largest storage binding (in elements) and workgroups per grid dimension
    /// the layer uses, so tests can exercise chunking and 2-D grids at modest sizes.
    #[doc(hidden)]
    pub fn set_limits_for_tests(
        &mut self,
        binding_elems: Option<usize>,
        groups_per_dim: Option<u32>,
    ) {
        self.limits = Limits {
            binding_elems: binding_elems.map(|b| b.min(u32::MAX as usize) as u32),
            groups_per_dim,
            ..self.limits
        };
    }

    /// Makes the first dalpha pass always use the shared-memory tree, so tests can check
    /// that the register tree gives the same bits.
    #[doc(hidden)]
    pub fn use_shared_memory_tree_for_tests(&mut self, on: bool) {
        self.limits.shared_tree_only = on;
    }

    /// Uniforms describing the canonical shape for the elementwise kernels, and how those
    /// kernels walk it.
    fn elementwise_params(&self, x_shape: &[usize]) -> Result<(PreluParams, Lanes)> {
        let built = self.built()?;
        let axes = canonical(x_shape, &built.alpha_shape);
        let mut p = PreluParams {
            count_a: built.alpha.len() as u32,
            rank: axes.len() as u32,
            ..Default::default()
        };
        let mut astride = 1usize;
        for (k, axis) in axes.iter().enumerate().rev() {
            p.sizes[k] = axis.size as u32;
            if axis.kept {
                p.astrides[k] = astride as u32;
                astride *= axis.size;
            }
        }
        Ok((p, Lanes::for_shape(&axes)))
    }

    fn check_u32(what: &'static str, n: usize) -> Result<()> {
        if n > u32::MAX as usize / 2 {
            return Err(Error::TooLarge {
                what,
                bytes: n as u64 * 4,
                max: u32::MAX as u64 * 2,
            });
        }
        Ok(())
    }

    /// Records `y = prelu(x)` into `encoder` (x chunked by the binding limit).
    pub(crate) fn record_forward(
        &self,
        gpu: &Gpu,
        encoder: &mut wgpu::CommandEncoder,
        x: &Tensor,
        y: &Tensor,
    ) -> Result<()> {
        self.record_elementwise(gpu, encoder, PreluKernel::Forward, &[x], y)
    }

    /// Records `dx` into `encoder`.
    pub(crate) fn record_dx(
        &self,
        gpu: &Gpu,
        encoder: &mut wgpu::CommandEncoder,
        x: &Tensor,
        dy: &Tensor,
        dx: &Tensor,
    ) -> Result<()> {
        self.record_elementwise(gpu, encoder, PreluKernel::Dx, &[x, dy], dx)
    }

    fn record_elementwise(
        &self,
        gpu: &Gpu,
        encoder: &mut wgpu::CommandEncoder,
        kernel: fn(Lanes) -> PreluKernel,
        inputs: &[&Tensor],
        out: &Tensor,
    ) -> Result<()> {
        for t in inputs {
            t.expect(gpu, "x", out.shape())?;
        }
        out.check_gpu(gpu, "out")?;
        self.check_input(out.shape())?;
        let n = out.len();
        if n == 0 {
            return Ok(());
        }
        Self::check_u32("x", n)?;
        let built = self.built()?;
        let (mut params, lanes) = self.elementwise_params(out.shape())?;
        let compiled = kernel(lanes).load(gpu)?;
        // Elements per invocation and step of the grid-stride loop.
        let per_step = match lanes {
            Lanes::Scalar => 1,
            Lanes::KeptVec4 | Lanes::ReducedVec4 => 4,
        };
        let chunk = self.limits.binding_elems(gpu) / ALIGN_ELEMS * ALIGN_ELEMS;
        let max_groups = gpu
            .grid_stride_workgroups()
            .min(self.limits.groups_per_dim(gpu));
        let alpha_len = built.alpha.len().max(1);
        if alpha_len * 4 > gpu.max_binding_bytes() as usize {
            return Err(Error::TooLarge {
                what: "alpha (must fit one storage binding)",
                bytes: alpha_len as u64 * 4,
                max: gpu.max_binding_bytes(),
            });
        }
        let mut start = 0;
        while start < n {
            let count = chunk.min(n - start);
            params.n = count as u32;
            params.first = start as u32;
            let groups =
                (count.div_ceil(per_step * WORKGROUP_SIZE as usize) as u32).min(max_groups);
            let mut bindings: Vec<_> = inputs.iter().map(|t| t.binding(start, count)).collect();
            bindings.push(built.alpha_tensor.binding(0, alpha_len));
            bindings.push(out.binding(start, count));
            gpu.record(
                encoder,
                &compiled,
                bytemuck::bytes_of(&params),
                &bindings,
                [groups, 1, 1],
            );
            start += count;
        }
        Ok(())
    }

    /// The reduction plan for `x_shape`: canonical axes, chunks, passes and depth.
    fn reduce_plan(&self, gpu: &Gpu, x_shape: &[usize]) -> Result<ReducePlan> {
        let built = self.built()?;
        let n: usize = x_shape.iter().product();
        Self::check_u32("x", n)?;
        let axes = canonical(x_shape, &built.alpha_shape);
        let count_a = built.alpha.len();
        // x strides of the canonical axes.
        let mut strides = vec![0; axes.len()];
        let mut s = 1;
        for k in (0..axes.len()).rev() {
            strides[k] = s;
            s *= axes[k].size;
        }
        let kept: Vec<(usize, usize)> = (0..axes.len())
            .filter(|&k| axes[k].kept)
            .map(|k| (axes[k].size, strides[k]))
            .collect();
        let red: Vec<(usize, usize)> = (0..axes.len())
            .filter(|&k| !axes[k].kept)
            .map(|k| (axes[k].size, strides[k]))
            .collect();
        debug_assert!(kept.len() <= 4 && red.len() <= 4);
        let group_a = match axes.last() {
            Some(a) if a.kept => {
                let g = a.size.min(MAX_GROUP_A);
                1usize << (usize::BITS - 1 - g.leading_zeros())
            }
            _ => 1,
        };
        let lanes = WORKGROUP_SIZE as usize / group_a;
        let block = lanes * TERMS_PER_INVOCATION;
        let outer = axes[0].size;
        let slice = n.checked_div(outer).unwrap_or(0);
        let inner_red: usize = red[1..].iter().map(|r| r.0).product();
        let limit = self.limits.binding_elems(gpu);
        if slice + ALIGN_ELEMS > limit {
            return Err(Error::TooLarge {
                what: "x (one slice of the outermost reduced axes must fit a storage binding)",
                bytes: slice as u64 * 4,
                max: limit as u64 * 4,
            });
        }
        let mut chunks = Vec::new();
        let mut p_total = 0;
        let mut start = 0;
        let mut depth1 = 0;
        while start < outer {
            let elem_start = start * slice;
            let bind_start = elem_start / ALIGN_ELEMS * ALIGN_ELEMS;
            let skew = elem_start - bind_start;
            let outer_len = ((limit - skew) / slice.max(1)).min(outer - start).max(1);
            let r_chunk = outer_len * inner_red;
            let blocks = r_chunk.div_ceil(block).max(1);
            depth1 = depth1.max(pass_depth(r_chunk.min(block), lanes));
            chunks.push(ReduceChunk {
                outer_len,
                bind_start,
                bind_len: skew + outer_len * slice,
                skew,
                blocks,
                p_offset: p_total,
            });
            p_total += blocks;
            start += outer_len;
        }
        let mut passes = Vec::new();
        let mut depth = depth1;
        let mut p = p_total;
        let full_block = WORKGROUP_SIZE as usize * TERMS_PER_INVOCATION;
        while p > 1 {
            passes.push(p);
            depth += pass_depth(p.min(full_block), WORKGROUP_SIZE as usize);
            p = p.div_ceil(full_block);
        }
        Self::check_u32("dalpha partials", count_a * p_total)?;
        Ok(ReducePlan {
            count_a,
            kept,
            red,
            group_a,
            chunks,
            p_total,
            passes,
            depth,
        })
    }

    /// The plan and partial-sum buffers of the dalpha reduction for inputs of `x_shape`.
    pub(crate) fn dalpha_scratch(&self, gpu: &Gpu, x_shape: &[usize]) -> Result<DalphaScratch> {
        self.check_input(x_shape)?;
        let plan = self.reduce_plan(gpu, x_shape)?;
        let mut partials = Vec::new();
        for &p in &plan.passes {
            partials.push(Tensor::alloc(
                gpu,
                "prelu/dalpha_partials",
                &[plan.count_a, p],
            )?);
        }
        Ok(DalphaScratch {
            plan,
            partials,
            x_shape: x_shape.to_vec(),
        })
    }

    /// Records the dalpha reduction into `encoder`: pass 1 reads x and dy chunk by chunk
    /// and writes `[count_a][p_total]` partial sums (or dalpha itself when one block per
    /// alpha element suffices); each later pass reduces rows of partials by 1024.
    pub(crate) fn record_dalpha(
        &self,
        gpu: &Gpu,
        encoder: &mut wgpu::CommandEncoder,
        scratch: &DalphaScratch,
        x: &Tensor,
        dy: &Tensor,
        dalpha: &Tensor,
    ) -> Result<()> {
        if scratch.x_shape != x.shape() {
            return Err(Error::ShapeMismatch {
                what: "x (the dalpha scratch was planned for another shape)",
                actual: x.shape().to_vec(),
                expected: scratch.x_shape.clone(),
            });
        }
        dy.expect(gpu, "dy", x.shape())?;
        dalpha.expect(gpu, "dalpha", &self.built()?.alpha_shape)?;
        let plan = &scratch.plan;
        let scratch = &scratch.partials;
        let count_a = plan.count_a;
        if count_a == 0 {
            return Ok(());
        }
        let per_dim = self.limits.groups_per_dim(gpu);
        let max_binding = (gpu.max_binding_bytes() / 4) as usize;
        // Where pass i writes: the next pass's input, or dalpha after the last pass.
        let target = |i: usize| scratch.get(i).unwrap_or(dalpha);
        if x.is_empty() {
            // No terms: dalpha stays zero (Tensor::alloc zero-fills).
            return Ok(());
        }
        let tree = match self.limits.shared_tree_only {
            true => TermsTree::Shared,
            false => TermsTree::for_group(plan.group_a),
        };
        let terms = PreluKernel::DalphaTerms(tree).load(gpu)?;
        let mut base = PreluParams {
            count_a: count_a as u32,
            p_total: plan.p_total as u32,
            group_a: plan.group_a as u32,
            n_kept: plan.kept.len() as u32,
            n_red: plan.red.len() as u32,
            ..Default::default()
        };
        for (k, &(size, stride)) in plan.kept.iter().enumerate() {
            base.kept_sizes[k] = size as u32;
            base.kept_xstrides[k] = stride as u32;
        }
        for (k, &(size, stride)) in plan.red.iter().enumerate() {
            base.red_sizes[k] = size as u32;
            base.red_xstrides[k] = stride as u32;
        }
        let inner_red: usize = plan.red[1..].iter().map(|r| r.0).product();
        let a_groups = count_a.div_ceil(plan.group_a);
        let out = target(0);
        if out.len() > max_binding {
            return Err(Error::TooLarge {
                what: "dalpha partials",
                bytes: out.len() as u64 * 4,
                max: max_binding as u64 * 4,
            });
        }
        for chunk in &plan.chunks {
            let mut params = base;
            params.n = (chunk.outer_len * inner_red) as u32;
            params.first = chunk.skew as u32;
            params.p_offset = chunk.p_offset as u32;
            params.blocks = chunk.blocks as u32;
            params.red_sizes[0] = chunk.outer_len as u32;
            gpu.record(
                encoder,
                &terms,
                bytemuck::bytes_of(&params),
                &[
                    x.binding(chunk.bind_start, chunk.bind_len),
                    dy.binding(chunk.bind_start, chunk.bind_len),
                    out.binding(0, out.len()),
                ],
                grid(
                    a_groups * chunk.blocks.div_ceil(tree.blocks_per_workgroup()),
                    per_dim,
                )?,
            );
        }
        if plan.passes.is_empty() {
            return Ok(());
        }
        let partials = PreluKernel::DalphaPartials.load(gpu)?;
        let full_block = WORKGROUP_SIZE as usize * TERMS_PER_INVOCATION;
        for (i, &p) in plan.passes.iter().enumerate() {
            let src = &scratch[i];
            let dst = target(i + 1);
            let p_next = p.div_ceil(full_block);
            let mut params = PreluParams {
                n: p as u32,
                count_a: count_a as u32,
                p_total: p_next as u32,
                group_a: 1,
                blocks: p_next as u32,
                n_kept: 1,
                n_red: 1,
                ..Default::default()
            };
            params.kept_sizes[0] = count_a as u32;
            params.kept_xstrides[0] = p as u32;
            params.red_sizes[0] = p as u32;
            params.red_xstrides[0] = 1;
            gpu.record(
                encoder,
                &partials,
                bytemuck::bytes_of(&params),
                &[src.binding(0, src.len()), dst.binding(0, dst.len())],
                grid(count_a * p_next, per_dim)?,
            );
        }
        Ok(())
    }
}

fn bad_shared_axes(axes: &[usize], rank: Option<usize>) -> Error {
    Error::InvalidParameter {
        layer: LAYER,
        name: "shared_axes",
        value: match rank {
            Some(r) => format!("{axes:?} for an input of rank {r}"),
            None => format!("{axes:?}"),
        },
        reason: "every shared axis must lie in 1..rank (0 is the batch axis); unlike Keras, \
                 [0] is not wrapped to the last axis",
    }
}

/// The `wgact check` presets: `(input shape, shared_axes)`.
pub fn check_presets() -> Vec<(Vec<usize>, Option<Vec<usize>>)> {
    let nhwc = vec![2, 6, 5, 8];
    vec![
        (vec![4, 7], None),
        (vec![4, 7], Some(vec![1])),
        (vec![2, 5, 6], None),
        (vec![2, 5, 6], Some(vec![1])),
        (vec![2, 5, 6], Some(vec![2])),
        (nhwc.clone(), None),
        (nhwc.clone(), Some(vec![1])),
        (nhwc.clone(), Some(vec![1, 2])),
        (nhwc.clone(), Some(vec![2, 3])),
        (nhwc, Some(vec![1, 2, 3])),
        (vec![3, 33, 65, 130], Some(vec![1, 2])),
        // Reduced counts around one 1024-term block, and many blocks with alpha per element.
        (vec![1023, 1], None),
        (vec![4, 256], Some(vec![1])),
        (vec![1025, 1], None),
        (vec![300, 5, 7], None),
    ]
}

/// The large preset: one alpha element per channel sums `2 * 1024 * 520 = 1,064,960` terms.
pub const LARGE_PRESET: ([usize; 4], [usize; 2]) = ([2, 1024, 520, 2], [1, 2]);

/// Deterministic `(x, dy, alpha)` for a check: x uniform in `[-4, 4)` with every special
/// value spread through it, dy in `[-1, 1)`, alpha uniform in `[-0.5, 1.5)` with its first
/// element 0 (so `-inf` meets `alpha == 0`).
pub fn check_inputs(n: usize, alpha_len: usize, seed: u64) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let mut rng = Rng::new(seed ^ (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut x: Vec<f32> = (0..n).map(|_| rng.uniform(-4.0, 4.0)).collect();
    let specials = crate::check::special_values();
    for (j, &s) in specials.iter().enumerate() {
        if n > 0 {
            x[(j * 7919) % n] = s;
        }
    }
    let dy = (0..n).map(|_| rng.uniform(-1.0, 1.0)).collect();
    let mut alpha: Vec<f32> = (0..alpha_len).map(|_| rng.uniform(-0.5, 1.5)).collect();
    if let Some(a) = alpha.first_mut() {
        *a = 0.0;
    }
    (x, dy, alpha)
}

/// Per alpha element, the documented bound on `|dalpha_gpu - dalpha_reference|`:
/// `(D + 1) * u / (1 - (D + 1) * u) * Σ|terms|` (the GPU's tree plus the reference's final
/// rounding) plus `2^-126` per term and addition for flushed denormals.
pub fn dalpha_bounds(depth: u32, abs_sums: &[f64], terms: usize) -> Vec<f32> {
    let d = (depth + 1) as f64;
    let gamma = d * UNIT_ROUNDOFF / (1.0 - d * UNIT_ROUNDOFF);
    let ftz = 2.0 * terms as f64 * f32::MIN_POSITIVE as f64;
    abs_sums.iter().map(|&s| (gamma * s + ftz) as f32).collect()
}

/// Compares dalpha with the reference under [`dalpha_bounds`].
pub fn check_dalpha(
    actual: &[f32],
    expected: &[f32],
    bounds: &[f32],
) -> std::result::Result<(), crate::compare::Mismatch> {
    let mut c = Comparison::new(actual, expected, Tolerance { ulps: 0, abs: 1.0 });
    c.abs_scale = Some(bounds);
    c.check()
}

/// Runs one preset on the GPU and against the CPU reference: forward (exact), and backward
/// (dx exact, dalpha within [`dalpha_bounds`]).
///
/// # Errors
/// GPU errors (failed comparisons go in the rows).
pub fn check_preset(
    gpu: &Gpu,
    shape: &[usize],
    shared_axes: Option<Vec<usize>>,
    seed: u64,
) -> Result<[CheckRow; 2]> {
    let mut layer = PReLU::new(Initializer::Zeros, None, None, shared_axes.clone())?;
    layer.build(gpu, shape)?;
    let alpha_shape = layer.alpha_shape()?.to_vec();
    let n: usize = shape.iter().product();
    let (x, dy, alpha) = check_inputs(n, alpha_shape.iter().product(), seed);
    layer.set_alpha(gpu, &alpha)?;
    let xt = Tensor::from_slice(gpu, &x, shape)?;
    let dyt = Tensor::from_slice(gpu, &dy, shape)?;
    let xf: Vec<f32> = x.iter().map(|&v| flush_denormal(v)).collect();
    let name = format!("prelu(shared_axes={shared_axes:?})");

    let y = layer.forward(gpu, &xt)?.to_vec(gpu)?;
    let y_ref = reference::prelu::prelu_forward(&x, shape, &alpha, &alpha_shape)?;
    let y_alt = reference::prelu::prelu_forward(&xf, shape, &alpha, &alpha_shape)?;
    let mut c = Comparison::new(&y, &y_ref, Tolerance::EXACT);
    c.alternative = Some(&y_alt);
    c.flush_denormals = true;
    let forward = CheckRow {
        op: name.clone(),
        direction: Direction::Forward,
        shape: shape.to_vec(),
        outcome: c.check().map_err(|m| format!("y: {m}")),
    };

    let (dx, dalpha) = layer.backward(gpu, &xt, &dyt)?;
    let (dx, dalpha) = (dx.to_vec(gpu)?, dalpha.to_vec(gpu)?);
    let g = reference::prelu::prelu_backward(&x, &dy, shape, &alpha, &alpha_shape)?;
    let g_alt = reference::prelu::prelu_backward(&xf, &dy, shape, &alpha, &alpha_shape)?;
    let mut c = Comparison::new(&dx, &g.dx, Tolerance::EXACT);
    c.alternative = Some(&g_alt.dx);
    c.flush_denormals = true;
    let depth = layer.dalpha_tree_depth(gpu, shape)?;
    let bounds = dalpha_bounds(depth, &g.dalpha_abs_sum, g.dalpha_terms);
    let outcome = c.check().map_err(|m| format!("dx: {m}")).and_then(|_| {
        check_dalpha(&dalpha, &g.dalpha, &bounds)
            .map_err(|m| format!("dalpha (tree depth {depth}): {m}"))
    });
    let backward = CheckRow {
        op: name,
        direction: Direction::Backward,
        shape: shape.to_vec(),
        outcome,
    };
    Ok([forward, backward])
}

/// The `wgact check` rows of this family. The preset with more than 10^6 terms per alpha
/// element takes well under a second on lavapipe, so `quick` keeps it.
pub(crate) fn check_rows(
    gpu: &Gpu,
    _quick: bool,
    seed: u64,
    emit: &mut dyn FnMut(&CheckRow),
) -> Result<()> {
    let mut presets = check_presets();
    presets.push((LARGE_PRESET.0.to_vec(), Some(LARGE_PRESET.1.to_vec())));
    for (shape, shared_axes) in presets {
        for row in check_preset(gpu, &shape, shared_axes, seed)? {
            emit(&row);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lanes(x_shape: &[usize], alpha_shape: &[usize]) -> Lanes {
        Lanes::for_shape(&canonical(x_shape, alpha_shape))
    }

    #[test]
    fn the_vec4_kernels_are_chosen_only_for_an_innermost_axis_of_a_multiple_of_4() {
        // NHWC, one alpha per channel: [N * H * W reduced, C kept].
        assert_eq!(lanes(&[2, 8, 8, 64], &[1, 1, 64]), Lanes::KeptVec4);
        assert_eq!(lanes(&[2, 8, 8, 66], &[1, 1, 66]), Lanes::Scalar);
        // NCHW, one alpha per channel: [N reduced, C kept, H * W reduced].
        assert_eq!(lanes(&[2, 3, 4, 5], &[3, 1, 1]), Lanes::ReducedVec4);
        assert_eq!(lanes(&[2, 3, 7, 7], &[3, 1, 1]), Lanes::Scalar);
        // Size-1 axes are dropped, so the innermost canonical axis may lie further out.
        assert_eq!(lanes(&[2, 8, 1], &[8, 1]), Lanes::KeptVec4);
        // One shared alpha: a single reduced axis.
        assert_eq!(lanes(&[12, 5, 4], &[1, 1]), Lanes::ReducedVec4);
        assert_eq!(lanes(&[7], &[]), Lanes::Scalar);
    }
}
