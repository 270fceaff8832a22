//! The PReLU plan: canonical shape, how the elementwise kernels walk it, the dalpha
//! reduction plan and the limits it works within.

use super::PReLU;
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::tensor::Tensor;

/// Workgroup size of every prelu kernel.
pub(super) const WORKGROUP_SIZE: u32 = 256;
/// Terms each invocation of a reduction pass adds before the shared-memory tree.
pub(super) const TERMS_PER_INVOCATION: usize = 4;
/// Largest number of alpha elements one reduction workgroup handles side by side.
pub(super) const MAX_GROUP_A: usize = 64;
/// Binding offsets are multiples of this many elements (256 bytes, always aligned).
pub(super) const ALIGN_ELEMS: usize = 64;

/// How the elementwise kernels (y and dx) walk their chunk, chosen on the host from the
/// canonical shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Lanes {
    /// One element per step, one alpha index (`rank - 1` divisions) per element.
    Scalar,
    /// vec4 loads and stores, one alpha index per vec4: the innermost canonical axis is kept
    /// and a multiple of 4 long, so the 4 lanes take 4 consecutive alpha elements.
    KeptVec4,
    /// As `KeptVec4` with the innermost canonical axis reduced: the 4 lanes share one alpha.
    ReducedVec4,
}

impl Lanes {
    pub(super) const ALL: [Lanes; 3] = [Lanes::Scalar, Lanes::KeptVec4, Lanes::ReducedVec4];

    /// The vec4 kernels need every vec4 on one row of the innermost canonical axis; chunk
    /// starts are multiples of [`ALIGN_ELEMS`], so that is all they need.
    pub(super) fn for_shape(axes: &[Axis]) -> Lanes {
        match axes.last() {
            Some(inner) if inner.size.is_multiple_of(4) && inner.kept => Lanes::KeptVec4,
            Some(inner) if inner.size.is_multiple_of(4) => Lanes::ReducedVec4,
            _ => Lanes::Scalar,
        }
    }
}

/// Where the first dalpha pass adds up a block: the plan decides, from `group_a`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum TermsTree {
    /// The block's `lanes` invocations, then a shared-memory tree (`prelu_reduce.wgsl`).
    Shared,
    /// One invocation per block, the same tree in registers (`prelu_reduce_registers.wgsl`),
    /// for `lanes` = 4, 8 or 16 (at least 16 alpha elements side by side keep loads
    /// coalesced). No barriers, no shared memory, the same bits.
    Registers(u32),
    /// As `Registers`, one invocation per 4 consecutive alpha elements with vec4 loads of
    /// x, dy, alpha and stores of dx (`prelu_reduce_registers4.wgsl`): the innermost
    /// canonical axis is kept and a multiple of 4 long and every array is 16-byte aligned.
    /// The 4 sums are the 4 components of the same vec4 additions: the same bits.
    RegistersVec4(u32),
}

impl TermsTree {
    pub(super) const ALL: [TermsTree; 7] = [
        TermsTree::Shared,
        TermsTree::Registers(4),
        TermsTree::Registers(8),
        TermsTree::Registers(16),
        TermsTree::RegistersVec4(4),
        TermsTree::RegistersVec4(8),
        TermsTree::RegistersVec4(16),
    ];

    /// The tree for `group_a` alpha elements per workgroup; `vec4` when the plan and the
    /// arrays allow vec4 loads.
    pub(super) fn for_group(group_a: usize, vec4: bool) -> TermsTree {
        match WORKGROUP_SIZE as usize / group_a {
            lanes @ (4 | 8 | 16) if vec4 => TermsTree::RegistersVec4(lanes as u32),
            lanes @ (4 | 8 | 16) => TermsTree::Registers(lanes as u32),
            _ => TermsTree::Shared,
        }
    }

    /// Blocks one workgroup handles per group of alpha elements.
    pub(super) fn blocks_per_workgroup(self) -> usize {
        match self {
            TermsTree::Shared => 1,
            TermsTree::Registers(lanes) => lanes as usize,
            // group_a / 4 invocations per block.
            TermsTree::RegistersVec4(lanes) => 4 * lanes as usize,
        }
    }
}

/// One axis of the canonical shape: adjacent axes of the same kind merged, size-1 axes
/// (other than the batch axis) dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Axis {
    pub(super) size: usize,
    /// alpha varies along it (not the batch axis, not shared).
    pub(super) kept: bool,
}

pub(super) fn canonical(x_shape: &[usize], alpha_shape: &[usize]) -> Vec<Axis> {
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
pub(super) struct ReduceChunk {
    pub(super) outer_len: usize,
    pub(super) bind_start: usize,
    pub(super) bind_len: usize,
    pub(super) skew: usize,
    pub(super) blocks: usize,
    pub(super) p_offset: usize,
}

/// Everything the dalpha reduction of one input shape needs, computed before recording.
#[derive(Clone, Debug)]
pub(super) struct ReducePlan {
    pub(super) count_a: usize,
    pub(super) kept: Vec<(usize, usize)>,
    pub(super) red: Vec<(usize, usize)>,
    pub(super) group_a: usize,
    pub(super) chunks: Vec<ReduceChunk>,
    pub(super) p_total: usize,
    /// Row lengths of the later passes' inputs.
    pub(super) passes: Vec<usize>,
    pub(super) depth: u32,
    /// The innermost canonical axis is kept and a multiple of 4 long: 4 consecutive alpha
    /// elements are 4 consecutive elements of x (for `TermsTree::RegistersVec4`).
    pub(super) inner_kept4: bool,
}

/// What one dalpha reduction needs besides its inputs: the plan and the partial-sum
/// buffers (the context's scratch slots, grown once and shared by every call).
#[derive(Clone, Debug)]
pub(crate) struct DalphaScratch {
    pub(super) plan: ReducePlan,
    pub(super) partials: Vec<Tensor>,
}

/// Elements one chunk of x may span: one binding of `gpu` (under any limits override) less
/// the room a view's offset remainder needs below its first element.
pub(super) fn binding_elems(gpu: &Gpu) -> usize {
    gpu.chunk_elems().max(ALIGN_ELEMS)
}

impl PReLU {
    pub(super) fn check_u32(what: &'static str, n: usize) -> Result<()> {
        if n > u32::MAX as usize / 2 {
            return Err(Error::TooLarge {
                what,
                bytes: n as u64 * 4,
                max: u32::MAX as u64 * 2,
            });
        }
        Ok(())
    }

    /// The reduction plan for `x_shape`: canonical axes, chunks, passes and depth.
    pub(super) fn reduce_plan(&self, gpu: &Gpu, x_shape: &[usize]) -> Result<ReducePlan> {
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
        let limit = binding_elems(gpu);
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
            inner_kept4: Lanes::for_shape(&axes) == Lanes::KeptVec4,
        })
    }

    /// The plan and partial-sum buffers of the dalpha reduction for inputs of `x_shape`.
    pub(crate) fn dalpha_scratch(&self, gpu: &Gpu, x_shape: &[usize]) -> Result<DalphaScratch> {
        self.check_input(x_shape)?;
        let plan = self.reduce_plan(gpu, x_shape)?;
        // Pass i reads slot i - 1 and writes slot i: distinct buffers, shared with other ops.
        let mut partials = Vec::new();
        for (slot, &p) in plan.passes.iter().enumerate() {
            let shape = [plan.count_a, p];
            let buffer = gpu.scratch(slot, (plan.count_a * p) as u64 * 4)?;
            partials.push(Tensor::scratch(gpu, buffer, &shape));
        }
        Ok(DalphaScratch { plan, partials })
    }
}

impl PReLU {
    /// The traffic of one direction on input of `x_shape` and `dtype` with this built layer
    /// and `gpu`'s limits. Forward: one pass, x read, y written, alpha (f32) read once.
    /// Backward: one pass reading x and dy and writing dx and the first dalpha partials
    /// (f32; alpha read once), then the passes reducing the partials by 1024 to dalpha
    /// (written in `dtype`).
    ///
    /// # Errors
    /// [`crate::Error::NotBuilt`], shape errors, and the limits [`Self::backward`] has.
    pub fn traffic(
        &self,
        gpu: &Gpu,
        x_shape: &[usize],
        direction: crate::Direction,
        dtype: crate::DType,
    ) -> Result<crate::Traffic> {
        use crate::traffic::{elem, F32};
        self.check_input(x_shape)?;
        let plan = self.reduce_plan(gpu, x_shape)?;
        let n = x_shape.iter().product::<usize>() as u64;
        let count_a = plan.count_a as u64;
        let e = elem(dtype);
        Ok(match direction {
            crate::Direction::Forward => crate::Traffic {
                dtype,
                ideal_bytes: 2 * n * e,
                design_bytes: 2 * n * e + count_a * F32,
            },
            crate::Direction::Backward => {
                // Pass 1 writes [count_a][p_total]; each later pass reads its rows of p and
                // writes rows of ceil(p / 1024); the last write is dalpha (count_a elements
                // of `dtype`), every other one f32 partials.
                let full_block = (WORKGROUP_SIZE as usize * TERMS_PER_INVOCATION) as u64;
                let later: u64 = plan
                    .passes
                    .iter()
                    .map(|&p| p as u64 + (p as u64).div_ceil(full_block))
                    .sum();
                let reductions = count_a * (plan.p_total as u64 + later - 1) * F32 + count_a * e;
                crate::Traffic {
                    dtype,
                    ideal_bytes: (3 * n + count_a) * e,
                    design_bytes: 3 * n * e + count_a * F32 + reductions,
                }
            }
        })
    }
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
