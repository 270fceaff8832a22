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
    ///
    /// The second number is the quads (4 alpha elements) per invocation, 1 or 2. Two (64
    /// alpha elements per workgroup) on a CPU adapter: lavapipe runs 8 invocations as one
    /// SIMD coroutine to the end of its block before the next starts, so with one quad each
    /// a coroutine reads 128 of a row's 256 bytes, row after row; with two it reads whole
    /// rows, one stream the prefetcher follows (the first pass went from about 35 to about
    /// 20 ms of CPU time on the bench shape). A GPU keeps one, for twice the invocations.
    RegistersVec4(u32, u32),
}

impl TermsTree {
    pub(super) const ALL: [TermsTree; 8] = [
        TermsTree::Shared,
        TermsTree::Registers(4),
        TermsTree::Registers(8),
        TermsTree::Registers(16),
        TermsTree::RegistersVec4(4, 1),
        TermsTree::RegistersVec4(4, 2),
        TermsTree::RegistersVec4(8, 1),
        TermsTree::RegistersVec4(16, 1),
    ];

    /// The tree for `group_a` alpha elements per workgroup; `vec4` when the plan and the
    /// arrays allow vec4 loads; `cpu_adapter` for the CPU adapters' variant (see
    /// `RegistersVec4`).
    pub(super) fn for_group(group_a: usize, vec4: bool, cpu_adapter: bool) -> TermsTree {
        match WORKGROUP_SIZE as usize / group_a {
            4 if vec4 && cpu_adapter => TermsTree::RegistersVec4(4, 2),
            lanes @ (4 | 8 | 16) if vec4 => TermsTree::RegistersVec4(lanes as u32, 1),
            lanes @ (4 | 8 | 16) => TermsTree::Registers(lanes as u32),
            _ => TermsTree::Shared,
        }
    }

    /// Blocks one workgroup handles per group of alpha elements (in runs of one block).
    pub(super) fn blocks_per_workgroup(self) -> usize {
        match self {
            TermsTree::Shared => 1,
            TermsTree::Registers(lanes) => lanes as usize,
            // group_a / (4 * quads) invocations per block.
            TermsTree::RegistersVec4(lanes, quads) => (4 * lanes * quads) as usize,
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

/// One chunk of x: a contiguous range that is a box of the canonical shape (the indices of
/// the axes before some level `k` fixed, a range along axis `k`, every axis after it whole),
/// so the alpha elements it touches are one contiguous range too.
#[derive(Clone, Debug)]
pub(super) struct ReduceChunk {
    /// Element offset of the chunk's first element in x, and the aligned binding around it.
    pub(super) elem_start: usize,
    pub(super) bind_start: usize,
    pub(super) bind_len: usize,
    pub(super) skew: usize,
    /// The alpha elements the chunk touches: `[a_first, a_first + count_a)`.
    pub(super) a_first: usize,
    pub(super) count_a: usize,
    /// (size, x stride) of the chunk's kept and reduced axes, outermost first (a size-1
    /// axis of stride 0 when there are none).
    pub(super) kept: Vec<(usize, usize)>,
    pub(super) red: Vec<(usize, usize)>,
    /// Reduced terms per alpha element in the chunk.
    pub(super) n: usize,
    pub(super) blocks: usize,
    pub(super) p_offset: usize,
}

/// A later dalpha pass: rows of `p` partial sums reduced by 1024 into rows of `p.div_ceil(1024)`,
/// `rows` rows per dispatch (so that one dispatch's rows fit a binding).
#[derive(Clone, Copy, Debug)]
pub(super) struct PartialsPass {
    pub(super) p: usize,
    pub(super) rows: usize,
}

/// Everything the dalpha reduction of one input shape needs, computed before recording.
#[derive(Clone, Debug)]
pub(super) struct ReducePlan {
    pub(super) count_a: usize,
    pub(super) group_a: usize,
    pub(super) chunks: Vec<ReduceChunk>,
    pub(super) p_total: usize,
    /// The later passes, in order.
    pub(super) passes: Vec<PartialsPass>,
    pub(super) depth: u32,
    /// The innermost canonical axis is kept and a multiple of 4 long and every chunk starts
    /// on a multiple of 4 elements and 4 alpha elements: 4 consecutive alpha elements are 4
    /// consecutive elements of x (for `TermsTree::RegistersVec4`).
    pub(super) inner_kept4: bool,
}

/// The chunks of x at level `k` (see [`ReduceChunk`]), each at most `limit` elements from its
/// aligned start, with the partial sums' slots they write (blocks of `block` terms). `None`
/// when a unit of axis `k` does not fit, or when a chunk's rows of partial sums
/// (`count_a * p_total`) would not fit `limit`.
///
/// At level 0 (whole slices of the outermost axis, as many as fit) a chunk's length follows
/// its own start's skew; below it every range along axis `k` has the same length, so every
/// alpha element meets the same sequence of chunk shapes and so has the same partial slots.
/// `block: None` (the forward kernel) writes no partial sums, so nothing bounds them.
fn chunks_at(
    axes: &[Axis],
    k: usize,
    limit: usize,
    block: Option<usize>,
) -> Option<(Vec<ReduceChunk>, usize)> {
    let partials = block.is_some();
    let block = block.unwrap_or(usize::MAX);
    let rank = axes.len();
    let mut xstrides = vec![0; rank];
    let mut astrides = vec![0; rank];
    let (mut s, mut a) = (1, 1);
    for j in (0..rank).rev() {
        xstrides[j] = s;
        s *= axes[j].size;
        if axes[j].kept {
            astrides[j] = a;
            a *= axes[j].size;
        }
    }
    let sub: usize = axes[k + 1..].iter().map(|a| a.size).product();
    if sub + ALIGN_ELEMS > limit {
        return None;
    }
    let inner = |len: usize, kept: bool| -> Vec<(usize, usize)> {
        let mut v: Vec<(usize, usize)> = std::iter::once((len, k))
            .chain((k + 1..rank).map(|j| (axes[j].size, j)))
            .filter(|&(_, j)| axes[j].kept == kept)
            .map(|(size, j)| (size, xstrides[j]))
            .collect();
        if v.is_empty() {
            v.push((1, 0));
        }
        v
    };
    let inner_kept: usize = inner(1, true).iter().map(|a| a.0).product();
    let inner_red: usize = axes[k + 1..]
        .iter()
        .filter(|a| !a.kept)
        .map(|a| a.size)
        .product();
    let prefix: usize = axes[..k].iter().map(|a| a.size).product();
    let size_k = axes[k].size;
    // Ranges along axis k below level 0: one length for all, leaving room for any skew.
    let uniform = (limit - (ALIGN_ELEMS - 1)) / sub;
    let (uniform, p_per_prefix) = if axes[k].kept {
        // Every range of a kept axis k shares the partial slots of its reduced prefix.
        let p = inner_red.div_ceil(block).max(1);
        let red_prefix: usize = axes[..k]
            .iter()
            .filter(|a| !a.kept)
            .map(|a| a.size)
            .product();
        match partials {
            true => (uniform.min(limit / (inner_kept * p * red_prefix).max(1)), p),
            false => (uniform, p),
        }
    } else {
        let mut p = 0;
        let mut start = 0;
        while start < size_k {
            let len = uniform.min(size_k - start);
            p += (len * inner_red).div_ceil(block).max(1);
            start += len;
        }
        (uniform, p)
    };
    if uniform == 0 {
        return None;
    }
    let mut chunks = Vec::new();
    let mut p_total = 0;
    for t in 0..prefix {
        // The prefix tuple's digits, innermost last.
        let (mut rest, mut x_off, mut a_off, mut red_index, mut red_scale) = (t, 0, 0, 0, 1);
        for j in (0..k).rev() {
            let d = rest % axes[j].size;
            rest /= axes[j].size;
            x_off += d * xstrides[j];
            if axes[j].kept {
                a_off += d * astrides[j];
            } else {
                red_index += d * red_scale;
                red_scale *= axes[j].size;
            }
        }
        let mut start = 0;
        let mut p_cum = 0;
        while start < size_k {
            let elem_start = x_off + start * xstrides[k];
            let bind_start = elem_start / ALIGN_ELEMS * ALIGN_ELEMS;
            let skew = elem_start - bind_start;
            let len = match k {
                0 => ((limit - skew) / sub).max(1),
                _ => uniform,
            }
            .min(size_k - start);
            let kept = inner(len, true);
            let red = inner(len, false);
            let n: usize = red.iter().map(|r| r.0).product();
            let blocks = n.div_ceil(block).max(1);
            let p_offset = red_index * p_per_prefix + if axes[k].kept { 0 } else { p_cum };
            let count_a = kept.iter().map(|a| a.0).product::<usize>();
            chunks.push(ReduceChunk {
                elem_start,
                bind_start,
                bind_len: skew + len * sub,
                skew,
                a_first: a_off + if axes[k].kept { start * astrides[k] } else { 0 },
                count_a,
                kept,
                red,
                n,
                blocks,
                p_offset,
            });
            if !axes[k].kept {
                p_cum += blocks;
            }
            start += len;
        }
        if k == 0 {
            p_total = p_cum;
        }
    }
    if k > 0 {
        p_total = red_scale_total(axes, k) * p_per_prefix;
    }
    if partials && chunks.iter().any(|c| c.count_a * p_total > limit) {
        return None;
    }
    Some((chunks, p_total))
}

/// Index tuples of the reduced axes before level `k`.
fn red_scale_total(axes: &[Axis], k: usize) -> usize {
    axes[..k]
        .iter()
        .filter(|a| !a.kept)
        .map(|a| a.size)
        .product()
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
    ///
    /// x is cut at the outermost level whose chunks fit a binding (whole slices of the
    /// outermost axis while one fits, else ranges inside a slice, see [`chunks_at`]); the
    /// first pass writes `[count_a][p_total]` partial sums, each chunk its own slots, and the
    /// later passes reduce rows of them by 1024, as many rows per dispatch as fit a binding.
    pub(super) fn reduce_plan(&self, gpu: &Gpu, x_shape: &[usize]) -> Result<ReducePlan> {
        let built = self.built()?;
        let n: usize = x_shape.iter().product();
        Self::check_u32("x", n)?;
        let axes = canonical(x_shape, &built.alpha_shape);
        let count_a = built.alpha.len();
        let group_a = match axes.last() {
            Some(a) if a.kept => {
                let g = a.size.min(MAX_GROUP_A);
                1usize << (usize::BITS - 1 - g.leading_zeros())
            }
            _ => 1,
        };
        let lanes = WORKGROUP_SIZE as usize / group_a;
        let block = lanes * TERMS_PER_INVOCATION;
        let limit = binding_elems(gpu);
        let (chunks, p_total) = (0..axes.len())
            .find_map(|k| chunks_at(&axes, k, limit, Some(block)))
            .ok_or(Error::TooLarge {
                what: "dalpha partial sums (one chunk's rows must fit a storage binding)",
                bytes: n as u64 * 4,
                max: limit as u64 * 4,
            })?;
        let depth1 = chunks
            .iter()
            .map(|c| pass_depth(c.n.min(block), lanes))
            .max()
            .unwrap_or(0);
        let mut passes = Vec::new();
        let mut depth = depth1;
        let mut p = p_total;
        let full_block = WORKGROUP_SIZE as usize * TERMS_PER_INVOCATION;
        while p > 1 {
            // p <= limit: one chunk's rows of the first pass's output fit.
            passes.push(PartialsPass {
                p,
                rows: (limit / p).clamp(1, count_a.max(1)),
            });
            depth += pass_depth(p.min(full_block), WORKGROUP_SIZE as usize);
            p = p.div_ceil(full_block);
        }
        Self::check_u32("dalpha partials", count_a * p_total)?;
        let inner_kept4 = Lanes::for_shape(&axes) == Lanes::KeptVec4
            && chunks
                .iter()
                .all(|c| c.skew % 4 == 0 && c.a_first % 4 == 0 && c.count_a % 4 == 0);
        Ok(ReducePlan {
            count_a,
            group_a,
            chunks,
            p_total,
            passes,
            depth,
            inner_kept4,
        })
    }

    /// Chunks of x for the forward kernel when alpha does not fit one binding: the first
    /// level of [`chunks_at`] that fits (each chunk's alpha range is at most its length).
    pub(super) fn forward_chunks(&self, gpu: &Gpu, x_shape: &[usize]) -> Result<Vec<ReduceChunk>> {
        let built = self.built()?;
        let axes = canonical(x_shape, &built.alpha_shape);
        let limit = binding_elems(gpu);
        (0..axes.len())
            .find_map(|k| chunks_at(&axes, k, limit, None))
            .map(|(chunks, _)| chunks)
            .ok_or(Error::TooLarge {
                what: "x (one element's chunk must fit a storage binding)",
                bytes: x_shape.iter().product::<usize>() as u64 * 4,
                max: limit as u64 * 4,
            })
    }

    /// The plan and partial-sum buffers of the dalpha reduction for inputs of `x_shape`.
    pub(crate) fn dalpha_scratch(&self, gpu: &Gpu, x_shape: &[usize]) -> Result<DalphaScratch> {
        self.check_input(x_shape)?;
        let plan = self.reduce_plan(gpu, x_shape)?;
        // Pass i reads slot i - 1 and writes slot i: distinct buffers, shared with other ops.
        let mut partials = Vec::new();
        for (slot, pass) in plan.passes.iter().enumerate() {
            let p = pass.p;
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
                    .map(|pass| pass.p as u64 + (pass.p as u64).div_ceil(full_block))
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

    /// Canonical axes of `x_shape` with alpha kept where `kept` says (the batch axis never).
    fn axes_of(x_shape: &[usize], kept: &[bool]) -> Vec<Axis> {
        let alpha: Vec<usize> = x_shape[1..]
            .iter()
            .zip(kept)
            .map(|(&s, &k)| if k { s } else { 1 })
            .collect();
        canonical(x_shape, &alpha)
    }

    #[test]
    fn chunks_inside_slices_cover_x_once_and_give_every_alpha_element_every_slot_once() {
        let limit = 192;
        let block = 16;
        for (shape, kept) in [
            (vec![2, 700], vec![true]),
            (vec![2, 3, 500], vec![true, false]),
            (vec![3, 2, 130, 4], vec![true, true, true]),
            (vec![2, 2, 3, 97], vec![false, true, true]),
            (vec![3, 50, 13], vec![true, false]),
            (vec![40, 7, 13], vec![true, true]),
        ] {
            let axes = axes_of(&shape, &kept);
            let k = (0..axes.len())
                .find(|&k| chunks_at(&axes, k, limit, Some(block)).is_some())
                .unwrap();
            let (chunks, p_total) = chunks_at(&axes, k, limit, Some(block)).unwrap();
            let n: usize = shape.iter().product();
            let count_a: usize = axes.iter().filter(|a| a.kept).map(|a| a.size).product();
            let mut seen_x = vec![0u8; n];
            let mut slots = vec![0u32; count_a * p_total];
            for c in &chunks {
                assert!(c.bind_len <= limit && c.bind_start + c.skew == c.elem_start);
                for x in &mut seen_x[c.elem_start..c.elem_start + c.bind_len - c.skew] {
                    *x += 1;
                }
                assert_eq!(c.n * c.count_a, c.bind_len - c.skew, "{shape:?}");
                assert!(c.count_a * p_total <= limit);
                for a in c.a_first..c.a_first + c.count_a {
                    for b in 0..c.blocks {
                        slots[a * p_total + c.p_offset + b] += 1;
                    }
                }
            }
            assert!(seen_x.iter().all(|&v| v == 1), "{shape:?}: x covered once");
            // Every slot of every alpha element's row written exactly once (the later passes
            // read them all).
            assert!(slots.iter().all(|&v| v == 1), "{shape:?}: slots {slots:?}");
            if shape != [40, 7, 13] {
                assert!(k > 0, "{shape:?} needs a chunk inside a slice");
            }
        }
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
