//! The PReLU kernels: WGSL composition, the uniform block, pipeline keys, and the
//! functions that record them into an encoder.

use super::plan::{
    binding_elems, canonical, DalphaScratch, Lanes, TermsTree, ALIGN_ELEMS, TERMS_PER_INVOCATION,
    WORKGROUP_SIZE,
};
use super::PReLU;
use crate::batch::Batch;
use crate::error::Result;
use crate::gpu::Gpu;
use crate::kernel::{grid, Array, Arrays, KernelSource, SharedKernel, Store};
use crate::tensor::{chunks, Tensor};

/// Workgroup size of `prelu_reduce_partials_registers.wgsl` (`PARTIALS_WG` there).
const PARTIALS_REGISTERS_WG: usize = 64;

/// Workgroups of a blocked forward dispatch at most (as the elementwise kernels': on lavapipe
/// a fixed cost per workgroup makes fewer, longer blocks faster).
const BLOCKED_WORKGROUPS: usize = 64;

/// What a reduction grid past two dimensions reports.
const GRID_WHAT: &str = "dalpha reduction grid";

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
    a_first: u32,
    block: u32,
    _pad: [u32; 3],
    sizes: [u32; 8],
    astrides: [u32; 8],
    kept_sizes: [u32; 4],
    kept_xstrides: [u32; 4],
    red_sizes: [u32; 4],
    red_xstrides: [u32; 4],
}

impl Lanes {
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

/// The pipeline key of a PReLU kernel: the kernel, the alpha layout its index decodes walk,
/// and whether it runs in place (y over x, or dx over dy).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct PreluKernelKey {
    kernel: PreluEntry,
    layout: AlphaLayout,
    in_place: bool,
    /// Storage of x, dy, y and dx (and the rounding flavour); alpha is always f32, used
    /// rounded to half in the f16 flavour (TensorFlow's half variable).
    store: Store,
    /// Storage of the reductions' output array (dalpha may be f32 or f16; partials are f32).
    out_store: Store,
}

/// What the host knows of how x's canonical axes map to alpha, as constants of the pipeline
/// (`RANK`, `N_KEPT`, `N_RED` in the WGSL) instead of uniforms: the mixed-radix decodes then
/// run loops of a constant trip count, unrolled, with no run-time bound. The strides and
/// sizes stay uniforms (they change with the batch size; these do not).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct AlphaLayout {
    /// Canonical axes of x, 1 to 8 (the forward kernels' `alpha_index`).
    rank: u8,
    /// Kept and reduced axes of a reduction chunk, 1 to 4 each (`kept_offset`, `red_offset`).
    kept: u8,
    red: u8,
}

impl AlphaLayout {
    /// For the forward kernels over `rank` canonical axes.
    fn forward(rank: usize) -> Self {
        AlphaLayout {
            rank: rank as u8,
            kept: 1,
            red: 1,
        }
    }

    /// For a reduction over `kept` kept and `red` reduced axes.
    fn reduction(kept: usize, red: usize) -> Self {
        AlphaLayout {
            rank: 1,
            kept: kept as u8,
            red: red as u8,
        }
    }

    /// Every layout a kernel of `entry` may be compiled for.
    fn all(entry: PreluEntry) -> Vec<AlphaLayout> {
        match entry {
            PreluEntry::Forward(..) => (1..=8).map(Self::forward).collect(),
            PreluEntry::Backward(_) => (1..=4)
                .flat_map(|k| (1..=4).map(move |r| Self::reduction(k, r)))
                .collect(),
            PreluEntry::DalphaPartials(_) => vec![Self::reduction(1, 1)],
        }
    }

    fn wgsl(self) -> String {
        format!(
            "const RANK: u32 = {}u;\nconst N_KEPT: u32 = {}u;\nconst N_RED: u32 = {}u;\n",
            self.rank, self.kept, self.red
        )
    }
}

/// How a forward kernel's invocation finds the alpha of each of its steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum ForwardWalk {
    /// The grid-stride loop (`grid_stride.wgsl`), alpha decoded and loaded at every step.
    Decode,
    /// Alpha decoded and loaded once per invocation (`prelu_forward_fixed.wgsl`): the host
    /// sizes the grid so that every step of an invocation meets the same alpha.
    Fixed,
    /// CPU adapters: each SIMD batch of `lanes` invocations walks its own contiguous block,
    /// each lane with its alphas of `phases` consecutive steps loaded once
    /// (`prelu_forward_blocked.wgsl`).
    Blocked { lanes: u32, phases: u32 },
}

impl ForwardWalk {
    /// The walk and grid for `units` units of `per_step` elements, from the adapter's grid
    /// (`gpu.grid_stride_groups`), where alpha repeats every `period` elements of x.
    ///
    /// Fixed when the grid covers the chunk in one step, or when a grid of at least half the
    /// adapter's has a stride (in elements) that is a multiple of the period; on lavapipe
    /// this took the bench's NHWC forward from about 0.37 to about 0.55 of copy, and on a GPU
    /// it saves one division and one alpha load per step as well. Otherwise (an alpha period
    /// with an odd factor the grid cannot take, alpha per element of a large slice) the
    /// decode at every step.
    /// The blocked loop where the adapter is a CPU that reports one subgroup size (its SIMD
    /// width, as for the elementwise kernels' blocked loop in src/elementwise.rs) and a lane's
    /// alpha repeats within 1, 2, 4 or 8 steps of that width. On lavapipe, where a SIMD batch
    /// of a grid-stride loop touches as many scattered streams as it takes steps, this took
    /// the bench's forward from about 9.4 to 7.2 ms of CPU time per call in f32 and from 11.9
    /// to 8.0 in f16 (LeakyReLU's blocked forward: 6.0 in f32).
    fn blocked(gpu: &Gpu, per_step: usize, period: usize) -> Option<ForwardWalk> {
        let info = gpu.info();
        let lanes = info.min_subgroup_size;
        let simd = gpu.cpu_prelu()
            && lanes == info.max_subgroup_size
            && lanes.is_power_of_two()
            && lanes <= WORKGROUP_SIZE;
        if !simd || !period.max(1).is_multiple_of(per_step) {
            return None;
        }
        // Steps until a lane's alpha repeats: the period in units over its gcd with LANES.
        let units = (period.max(1) / per_step).max(1);
        let (mut a, mut b) = (units, lanes as usize);
        while b != 0 {
            (a, b) = (b, a % b);
        }
        let phases = units / a;
        (phases.is_power_of_two() && phases <= 8).then_some(ForwardWalk::Blocked {
            lanes,
            phases: phases as u32,
        })
    }

    fn choose(gpu: &Gpu, units: usize, per_step: usize, period: usize) -> (ForwardWalk, u32) {
        if let Some(walk) = Self::blocked(gpu, per_step, period) {
            let groups = units
                .div_ceil(WORKGROUP_SIZE as usize)
                .min(BLOCKED_WORKGROUPS)
                .min(gpu.max_groups_per_dim() as usize)
                .max(1);
            return (walk, groups as u32);
        }
        let groups = gpu.grid_stride_groups(units);
        let wg = crate::kernel::GRID_STRIDE_WG as usize;
        if groups as usize * wg >= units {
            return (ForwardWalk::Fixed, groups);
        }
        let step = wg * per_step;
        // Workgroups per whole number of periods: period / gcd(period, step).
        let (mut a, mut b) = (period.max(1), step);
        while b != 0 {
            (a, b) = (b, a % b);
        }
        let multiple = period.max(1) / a;
        let fixed = groups as usize / multiple * multiple;
        match fixed >= (groups as usize / 2).max(1) {
            true => (ForwardWalk::Fixed, fixed as u32),
            false => (ForwardWalk::Decode, groups),
        }
    }
}

/// The kernels of this family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum PreluEntry {
    Forward(Lanes, ForwardWalk),
    /// dx and the first dalpha pass in one pass over x and dy (`prelu_reduce_terms.wgsl`).
    Backward(TermsTree),
    /// A later pass over rows of partial sums: the shared-memory tree, or (`true`) the same
    /// tree in one invocation's registers (`prelu_reduce_partials_registers.wgsl`).
    DalphaPartials(bool),
}

impl PreluEntry {
    const ALL: [PreluEntry; 28] = [
        PreluEntry::Forward(Lanes::ALL[0], ForwardWalk::Decode),
        PreluEntry::Forward(Lanes::ALL[1], ForwardWalk::Decode),
        PreluEntry::Forward(Lanes::ALL[2], ForwardWalk::Decode),
        PreluEntry::Forward(Lanes::ALL[0], ForwardWalk::Fixed),
        PreluEntry::Forward(Lanes::ALL[1], ForwardWalk::Fixed),
        PreluEntry::Forward(Lanes::ALL[2], ForwardWalk::Fixed),
        PreluEntry::Forward(
            Lanes::ALL[0],
            ForwardWalk::Blocked {
                lanes: 8,
                phases: 1,
            },
        ),
        PreluEntry::Forward(
            Lanes::ALL[0],
            ForwardWalk::Blocked {
                lanes: 8,
                phases: 2,
            },
        ),
        PreluEntry::Forward(
            Lanes::ALL[0],
            ForwardWalk::Blocked {
                lanes: 8,
                phases: 4,
            },
        ),
        PreluEntry::Forward(
            Lanes::ALL[0],
            ForwardWalk::Blocked {
                lanes: 8,
                phases: 8,
            },
        ),
        PreluEntry::Forward(
            Lanes::ALL[1],
            ForwardWalk::Blocked {
                lanes: 8,
                phases: 1,
            },
        ),
        PreluEntry::Forward(
            Lanes::ALL[1],
            ForwardWalk::Blocked {
                lanes: 8,
                phases: 2,
            },
        ),
        PreluEntry::Forward(
            Lanes::ALL[1],
            ForwardWalk::Blocked {
                lanes: 8,
                phases: 4,
            },
        ),
        PreluEntry::Forward(
            Lanes::ALL[1],
            ForwardWalk::Blocked {
                lanes: 8,
                phases: 8,
            },
        ),
        PreluEntry::Forward(
            Lanes::ALL[2],
            ForwardWalk::Blocked {
                lanes: 8,
                phases: 1,
            },
        ),
        PreluEntry::Forward(
            Lanes::ALL[2],
            ForwardWalk::Blocked {
                lanes: 8,
                phases: 2,
            },
        ),
        PreluEntry::Forward(
            Lanes::ALL[2],
            ForwardWalk::Blocked {
                lanes: 8,
                phases: 4,
            },
        ),
        PreluEntry::Forward(
            Lanes::ALL[2],
            ForwardWalk::Blocked {
                lanes: 8,
                phases: 8,
            },
        ),
        PreluEntry::Backward(TermsTree::ALL[0]),
        PreluEntry::Backward(TermsTree::ALL[1]),
        PreluEntry::Backward(TermsTree::ALL[2]),
        PreluEntry::Backward(TermsTree::ALL[3]),
        PreluEntry::Backward(TermsTree::ALL[4]),
        PreluEntry::Backward(TermsTree::ALL[5]),
        PreluEntry::Backward(TermsTree::ALL[6]),
        PreluEntry::Backward(TermsTree::ALL[7]),
        PreluEntry::DalphaPartials(false),
        PreluEntry::DalphaPartials(true),
    ];

    fn name(self) -> &'static str {
        match self {
            PreluEntry::Forward(Lanes::Scalar, ForwardWalk::Decode) => "prelu/forward",
            PreluEntry::Forward(Lanes::KeptVec4, ForwardWalk::Decode) => "prelu/forward/vec4_kept",
            PreluEntry::Forward(Lanes::ReducedVec4, ForwardWalk::Decode) => {
                "prelu/forward/vec4_reduced"
            }
            PreluEntry::Forward(Lanes::Scalar, ForwardWalk::Fixed) => "prelu/forward/fixed",
            PreluEntry::Forward(Lanes::KeptVec4, ForwardWalk::Fixed) => {
                "prelu/forward/vec4_kept/fixed"
            }
            PreluEntry::Forward(Lanes::ReducedVec4, ForwardWalk::Fixed) => {
                "prelu/forward/vec4_reduced/fixed"
            }
            PreluEntry::Forward(Lanes::Scalar, ForwardWalk::Blocked { .. }) => {
                "prelu/forward/blocked"
            }
            PreluEntry::Forward(Lanes::KeptVec4, ForwardWalk::Blocked { .. }) => {
                "prelu/forward/vec4_kept/blocked"
            }
            PreluEntry::Forward(Lanes::ReducedVec4, ForwardWalk::Blocked { .. }) => {
                "prelu/forward/vec4_reduced/blocked"
            }
            PreluEntry::Backward(TermsTree::Shared) => "prelu/backward",
            PreluEntry::Backward(TermsTree::Registers(4)) => "prelu/backward/registers4",
            PreluEntry::Backward(TermsTree::Registers(8)) => "prelu/backward/registers8",
            PreluEntry::Backward(TermsTree::Registers(_)) => "prelu/backward/registers16",
            PreluEntry::Backward(TermsTree::RegistersVec4(4, 1)) => {
                "prelu/backward/vec4_registers4"
            }
            PreluEntry::Backward(TermsTree::RegistersVec4(4, _)) => {
                "prelu/backward/vec4_registers4/two_quads"
            }
            PreluEntry::Backward(TermsTree::RegistersVec4(8, _)) => {
                "prelu/backward/vec4_registers8"
            }
            PreluEntry::Backward(TermsTree::RegistersVec4(..)) => "prelu/backward/vec4_registers16",
            PreluEntry::DalphaPartials(false) => "prelu/dalpha_partials",
            PreluEntry::DalphaPartials(true) => "prelu/dalpha_partials/registers",
        }
    }

    fn entry(self) -> &'static str {
        match self {
            PreluEntry::Forward(..) => "forward",
            PreluEntry::Backward(TermsTree::Registers(_)) => "reduce_registers",
            PreluEntry::Backward(TermsTree::RegistersVec4(..)) => "reduce_registers4",
            PreluEntry::Backward(TermsTree::Shared) | PreluEntry::DalphaPartials(false) => "reduce",
            PreluEntry::DalphaPartials(true) => "reduce_partials",
        }
    }

    fn arrays(self, in_place: bool, store: Store, out_store: Store) -> Arrays {
        let (unit, alpha) = match self {
            PreluEntry::Forward(Lanes::Scalar, _) => ("f32", "f32"),
            PreluEntry::Forward(..) => ("vec4<f32>", "AlphaElem"),
            _ => ("f32", "f32"),
        };
        let arrays = match self {
            PreluEntry::Forward(..) => Arrays::new(vec![
                Array::read("x", unit).stored(store),
                Array::read("alpha", alpha),
                Array::write("y", unit).stored(store),
            ]),
            PreluEntry::Backward(TermsTree::RegistersVec4(..)) => Arrays::new(vec![
                Array::read("x", "vec4<f32>").stored(store),
                Array::read("dy", "vec4<f32>").stored(store),
                Array::read("alpha", "vec4<f32>"),
                Array::write("partials", "f32").stored(out_store),
                Array::write("dx", "vec4<f32>").stored(store),
            ]),
            PreluEntry::Backward(_) => Arrays::new(vec![
                Array::read("x", "f32").stored(store),
                Array::read("dy", "f32").stored(store),
                Array::read("alpha", "f32"),
                Array::write("partials", "f32").stored(out_store),
                Array::write("dx", "f32").stored(store),
            ]),
            PreluEntry::DalphaPartials(_) => Arrays::new(vec![
                Array::read("src", "f32"),
                Array::write("dst", "f32").stored(out_store),
            ]),
        };
        let arrays = match (self, in_place) {
            (PreluEntry::Forward(..), true) => arrays.in_place("x", "y"),
            (PreluEntry::Backward(_), true) => arrays.in_place("dy", "dx"),
            _ => arrays,
        };
        // The kernels whose entry points loop over their arrays read the offsets once
        // (`wgact_load_offsets()` at the entry): lavapipe reloads the uniform block after
        // every store into a storage array otherwise (see `Arrays::hoisted_offsets`).
        match self {
            PreluEntry::Forward(_, ForwardWalk::Fixed | ForwardWalk::Blocked { .. })
            | PreluEntry::Backward(TermsTree::RegistersVec4(..))
            | PreluEntry::DalphaPartials(true) => arrays.hoisted_offsets(),
            _ => arrays,
        }
    }

    fn wgsl(self, f16: bool) -> String {
        let body = match self {
            PreluEntry::Forward(lanes, walk) => format!(
                "{}\n{}",
                lanes.wgsl(
                    include_str!("../../shaders/prelu_forward.wgsl"),
                    include_str!("../../shaders/prelu_forward4.wgsl"),
                ),
                match walk {
                    ForwardWalk::Decode => crate::kernel::grid_stride("forward"),
                    ForwardWalk::Fixed => {
                        include_str!("../../shaders/prelu_forward_fixed.wgsl").to_string()
                    }
                    ForwardWalk::Blocked { lanes, phases } => format!(
                        "const LANES: u32 = {lanes}u;\nconst PHASES: u32 = {phases}u;\n{}",
                        include_str!("../../shaders/prelu_forward_blocked.wgsl")
                    ),
                }
            ),
            PreluEntry::Backward(TermsTree::Shared) => format!(
                "{}\n{}\n{}",
                include_str!("../../shaders/prelu_reduce.wgsl"),
                include_str!("../../shaders/prelu_reduce_shared.wgsl"),
                include_str!("../../shaders/prelu_reduce_terms.wgsl")
            ),
            PreluEntry::Backward(TermsTree::RegistersVec4(lanes, quads)) => format!(
                "const LANES: u32 = {lanes}u;\nconst LOG2_LANES: u32 = {}u;\n\
                 const QUADS: u32 = {quads}u;\n{}\n{}",
                lanes.trailing_zeros(),
                include_str!("../../shaders/prelu_reduce.wgsl"),
                include_str!("../../shaders/prelu_reduce_registers4.wgsl"),
            ),
            PreluEntry::Backward(TermsTree::Registers(lanes)) => format!(
                "const LANES: u32 = {lanes}u;\n{}\n{}\n{}",
                include_str!("../../shaders/prelu_reduce.wgsl"),
                include_str!("../../shaders/prelu_reduce_registers.wgsl"),
                include_str!("../../shaders/prelu_reduce_terms.wgsl")
            ),
            PreluEntry::DalphaPartials(true) => format!(
                "const LOG2_WG: u32 = {}u;\n{}",
                WORKGROUP_SIZE.trailing_zeros(),
                include_str!("../../shaders/prelu_reduce_partials_registers.wgsl")
            ),
            PreluEntry::DalphaPartials(false) => format!(
                "{}\n{}\n{}",
                include_str!("../../shaders/prelu_reduce.wgsl"),
                include_str!("../../shaders/prelu_reduce_shared.wgsl"),
                include_str!("../../shaders/prelu_reduce_partials.wgsl")
            ),
        };
        format!(
            "const WG: u32 = {WORKGROUP_SIZE}u;\n{}\n{}\n{}\n{body}",
            crate::COMMON_WGSL,
            crate::round_wgsl(f16),
            include_str!("../../shaders/prelu_common.wgsl")
        )
    }

    fn source(
        self,
        layout: AlphaLayout,
        in_place: bool,
        store: Store,
        out_store: Store,
    ) -> KernelSource {
        let suffix = |s: Store| match s {
            Store::F32 => String::new(),
            s => format!("/{}", s.name()),
        };
        let AlphaLayout { rank, kept, red } = layout;
        let name = match self {
            PreluEntry::Forward(_, ForwardWalk::Blocked { lanes, phases }) => {
                format!("{}/lanes{lanes}_phases{phases}", self.name())
            }
            _ => self.name().to_string(),
        };
        KernelSource {
            label: format!(
                "{name}/rank{rank}_kept{kept}_red{red}{}{}{}",
                if in_place { "/in_place" } else { "" },
                suffix(store),
                match out_store == store {
                    true => String::new(),
                    false => format!("/out{}", suffix(out_store)),
                }
            ),
            entry: self.entry(),
            arrays: self.arrays(in_place, store, out_store),
            body: format!("{}{}", layout.wgsl(), self.wgsl(store.is_f16())),
        }
    }

    fn load(
        self,
        gpu: &Gpu,
        layout: AlphaLayout,
        in_place: bool,
        store: Store,
        out_store: Store,
    ) -> Result<SharedKernel> {
        let key = PreluKernelKey {
            kernel: self,
            layout,
            in_place,
            store,
            out_store,
        };
        gpu.kernel(key, || self.source(layout, in_place, store, out_store))
    }
}

/// Every WGSL source of this family, labelled `prelu/...`.
pub(crate) fn shader_sources() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for k in PreluEntry::ALL {
        for layout in AlphaLayout::all(k) {
            for in_place in [false, true] {
                if in_place && matches!(k, PreluEntry::DalphaPartials(_)) {
                    continue;
                }
                for store in [Store::F32, Store::F16Native, Store::F16Packed] {
                    // dalpha in the inputs' dtype or in f32; the partials passes read f32.
                    let outs: Vec<Store> = match k {
                        PreluEntry::Forward(..) => vec![store],
                        PreluEntry::Backward(_) if store == Store::F32 => vec![store],
                        PreluEntry::Backward(_) => vec![store, Store::F32],
                        PreluEntry::DalphaPartials(_) if store == Store::F32 => {
                            vec![Store::F32, Store::F16Native, Store::F16Packed]
                        }
                        PreluEntry::DalphaPartials(_) => continue,
                    };
                    for out_store in outs {
                        let source = k.source(layout, in_place, store, out_store);
                        out.push((source.label.clone(), source.wgsl()));
                    }
                }
            }
        }
    }
    out
}

impl PReLU {
    /// Uniforms describing the canonical shape for the elementwise kernels, how those
    /// kernels walk it, and alpha's period along x: the elements from the outermost kept
    /// canonical axis inward (1 when alpha is one shared value), after which the alpha
    /// indices repeat.
    fn elementwise_params(
        &self,
        x_shape: &[usize],
    ) -> Result<(PreluParams, Lanes, AlphaLayout, usize)> {
        let built = self.built()?;
        let axes = canonical(x_shape, &built.alpha_shape);
        let mut p = PreluParams {
            count_a: built.alpha.len() as u32,
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
        let period = match axes.iter().position(|a| a.kept) {
            Some(k) => axes[k..].iter().map(|a| a.size).product(),
            None => 1,
        };
        Ok((
            p,
            Lanes::for_shape(&axes),
            AlphaLayout::forward(axes.len()),
            period,
        ))
    }

    /// Records `y = prelu(x)` (x chunked by the binding limit); in place when `y` is `x`.
    pub(crate) fn record_forward_kernel(
        &self,
        batch: &mut Batch<'_>,
        x: &Tensor,
        y: &Tensor,
        in_place: bool,
    ) -> Result<()> {
        let reads: &[&Tensor] = if in_place { &[] } else { &[x] };
        self.record_elementwise(batch, reads, y, in_place)
    }

    /// `reads` are the bound inputs before alpha (the in-place input left out), validated by
    /// the caller.
    fn record_elementwise(
        &self,
        batch: &mut Batch<'_>,
        reads: &[&Tensor],
        out: &Tensor,
        in_place: bool,
    ) -> Result<()> {
        let gpu = batch.gpu();
        let n = out.len();
        if n == 0 {
            return Ok(());
        }
        Self::check_u32("x", n)?;
        let built = self.built()?;
        let (mut params, lanes, layout, period) = self.elementwise_params(out.shape())?;
        let mut tensors: Vec<&Tensor> = reads.to_vec();
        tensors.push(out);
        let store = gpu.store(crate::tensor::common_dtype(
            &tensors,
            &["x", "dy", "output"],
        )?);
        let alpha_len = built.alpha.len().max(1);
        let limit = binding_elems(gpu);
        if alpha_len > limit {
            // alpha past one binding: boxes of x whose alpha elements are one range each,
            // bound from that range's start (`params.a_first`), one element per step.
            let compiled = PreluEntry::Forward(Lanes::Scalar, ForwardWalk::Decode)
                .load(gpu, layout, in_place, store, store)?;
            for c in self.forward_chunks(gpu, out.shape())? {
                let count = c.bind_len - c.skew;
                params.n = count as u32;
                params.first = c.elem_start as u32;
                params.a_first = c.a_first as u32;
                let mut slots: Vec<_> = reads
                    .iter()
                    .map(|t| t.slot(gpu, c.elem_start, count, 4))
                    .collect();
                slots.push(built.alpha_tensor.slot(gpu, c.a_first, c.count_a, 4));
                slots.push(out.slot(gpu, c.elem_start, count, 4));
                let groups = gpu.grid_stride_groups(count);
                batch.push(
                    &compiled,
                    bytemuck::bytes_of(&params),
                    slots,
                    [groups, 1, 1],
                );
            }
            return Ok(());
        }
        // The vec4 kernels need every array on a 16-byte boundary (views may not be).
        let lanes = match reads.iter().chain([&out]).all(|t| t.vec4_aligned(0)) {
            true => lanes,
            false => Lanes::Scalar,
        };
        // Elements per invocation and step of the grid-stride loop.
        let (per_step, alpha_elem) = match lanes {
            Lanes::Scalar => (1, 4),
            Lanes::KeptVec4 => (4, 16),
            Lanes::ReducedVec4 => (4, 4),
        };
        let chunk = limit / ALIGN_ELEMS * ALIGN_ELEMS;
        let elem = if per_step == 4 { 16 } else { 4 };
        for (start, count) in chunks(n, chunk) {
            params.n = count as u32;
            params.first = start as u32;
            let units = count.div_ceil(per_step);
            let (walk, groups) = ForwardWalk::choose(gpu, units, per_step, period);
            // Units per SIMD batch of the blocked loop, a multiple of its width.
            params.block = match walk {
                ForwardWalk::Blocked { lanes, .. } => {
                    let batches = groups as usize * (WORKGROUP_SIZE / lanes) as usize;
                    units.div_ceil(batches).next_multiple_of(lanes as usize) as u32
                }
                _ => 0,
            };
            let compiled =
                PreluEntry::Forward(lanes, walk).load(gpu, layout, in_place, store, store)?;
            let mut slots: Vec<_> = reads
                .iter()
                .map(|t| t.slot(gpu, start, count, elem))
                .collect();
            slots.push(built.alpha_tensor.slot(gpu, 0, alpha_len, alpha_elem));
            slots.push(out.slot(gpu, start, count, elem));
            batch.push(
                &compiled,
                bytemuck::bytes_of(&params),
                slots,
                [groups, 1, 1],
            );
        }
        Ok(())
    }

    /// Records the backward pass: pass 1 reads x and dy chunk by chunk once, writes dx and
    /// `[count_a][p_total]` partial sums of dalpha (or dalpha itself when one block per
    /// alpha element suffices); each later pass reduces rows of partials by 1024. In place
    /// (dx over dy) when `dx` is `dy`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn record_backward_passes(
        &self,
        batch: &mut Batch<'_>,
        scratch: &DalphaScratch,
        x: &Tensor,
        dy: &Tensor,
        dx: &Tensor,
        dalpha: &Tensor,
        in_place: bool,
    ) -> Result<()> {
        let gpu = batch.gpu();
        let plan = &scratch.plan;
        let scratch = &scratch.partials;
        let count_a = plan.count_a;
        if count_a == 0 {
            return Ok(());
        }
        let per_dim = gpu.max_groups_per_dim();
        // Where pass i writes: the next pass's input, or dalpha after the last pass.
        let target = |i: usize| scratch.get(i).unwrap_or(dalpha);
        if x.is_empty() {
            // No terms: dalpha is zero.
            return crate::fill::record_zeros(batch, dalpha);
        }
        let tree = match gpu.register_trees() {
            false => TermsTree::Shared,
            true => TermsTree::for_group(
                plan.group_a,
                plan.inner_kept4 && [x, dy, dx].iter().all(|t| t.vec4_aligned(0)),
                gpu.cpu_prelu(),
            ),
        };
        let store = gpu.store(crate::tensor::common_dtype(
            &[x, dy, dx],
            &["x", "dy", "dx"],
        )?);
        // Partials are f32 scratch; dalpha (its own dtype) only as the last pass's output.
        let out_store = |t: &Tensor| gpu.store(t.dtype());
        // Every chunk of a plan is cut at one level: the same counts of axes.
        let layout = AlphaLayout::reduction(plan.chunks[0].kept.len(), plan.chunks[0].red.len());
        let terms =
            PreluEntry::Backward(tree).load(gpu, layout, in_place, store, out_store(target(0)))?;
        let (unit, alpha_unit) = match tree {
            TermsTree::RegistersVec4(..) => (16, 16),
            _ => (4, 4),
        };
        let built = self.built()?;
        // Each chunk binds its own range of alpha and its own rows of the first pass's
        // output (`[count_a][p_total]`), so neither need fit one binding whole; the kernel
        // indexes both from the chunk's first alpha element.
        let out = target(0);
        let p_total = plan.p_total;
        for chunk in &plan.chunks {
            let mut params = PreluParams {
                n: chunk.n as u32,
                first: chunk.skew as u32,
                count_a: chunk.count_a as u32,
                p_total: p_total as u32,
                p_offset: chunk.p_offset as u32,
                group_a: plan.group_a as u32,
                blocks: chunk.blocks as u32,
                ..Default::default()
            };
            for (k, &(size, stride)) in chunk.kept.iter().enumerate() {
                params.kept_sizes[k] = size as u32;
                params.kept_xstrides[k] = stride as u32;
            }
            for (k, &(size, stride)) in chunk.red.iter().enumerate() {
                params.red_sizes[k] = size as u32;
                params.red_xstrides[k] = stride as u32;
            }
            let a_groups = chunk.count_a.div_ceil(plan.group_a);
            let rows = (chunk.a_first * p_total, chunk.count_a * p_total);
            batch.push(
                &terms,
                bytemuck::bytes_of(&params),
                [
                    Some(x.slot(gpu, chunk.bind_start, chunk.bind_len, unit)),
                    (!in_place).then(|| dy.slot(gpu, chunk.bind_start, chunk.bind_len, unit)),
                    Some(
                        built
                            .alpha_tensor
                            .slot(gpu, chunk.a_first, chunk.count_a, alpha_unit),
                    ),
                    Some(out.slot(gpu, rows.0, rows.1, 4)),
                    Some(dx.slot(gpu, chunk.bind_start, chunk.bind_len, unit)),
                ]
                .into_iter()
                .flatten()
                .collect(),
                grid(
                    (a_groups * chunk.blocks.div_ceil(tree.blocks_per_workgroup())) as u64,
                    per_dim,
                    GRID_WHAT,
                )?,
            );
        }
        if plan.passes.is_empty() {
            return Ok(());
        }
        let full_block = WORKGROUP_SIZE as usize * TERMS_PER_INVOCATION;
        for (i, pass) in plan.passes.iter().enumerate() {
            let p = pass.p;
            let src = &scratch[i];
            let dst = target(i + 1);
            // A CPU adapter sums the tree in registers: the shared-memory tree's 8 barriers
            // are 8 switches of every SIMD coroutine on lavapipe (see the shader); a GPU
            // keeps the tree over a workgroup's invocations.
            let registers = gpu.cpu_prelu();
            let partials = PreluEntry::DalphaPartials(registers).load(
                gpu,
                AlphaLayout::reduction(1, 1),
                false,
                Store::F32,
                out_store(dst),
            )?;
            let p_next = p.div_ceil(full_block);
            // `pass.rows` rows of partials per dispatch, so that they fit a binding.
            for (a0, rows) in chunks(count_a, pass.rows) {
                let mut params = PreluParams {
                    n: p as u32,
                    count_a: rows as u32,
                    p_total: p_next as u32,
                    group_a: 1,
                    blocks: p_next as u32,
                    ..Default::default()
                };
                params.kept_sizes[0] = rows as u32;
                params.kept_xstrides[0] = p as u32;
                params.red_sizes[0] = p as u32;
                params.red_xstrides[0] = 1;
                batch.push(
                    &partials,
                    bytemuck::bytes_of(&params),
                    vec![
                        src.slot(gpu, a0 * p, rows * p, 4),
                        dst.slot(gpu, a0 * p_next, rows * p_next, 4),
                    ],
                    match registers {
                        true => grid(
                            (rows * p_next).div_ceil(PARTIALS_REGISTERS_WG) as u64,
                            per_dim,
                            GRID_WHAT,
                        )?,
                        false => grid((rows * p_next) as u64, per_dim, GRID_WHAT)?,
                    },
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) fn uniform_layouts() -> Vec<crate::kernel::UniformLayout> {
    vec![crate::kernel::uniform_layout!(
        "PreluParams",
        PreluParams {
            n,
            first,
            count_a,
            p_total,
            p_offset,
            group_a,
            blocks,
            a_first,
            block,
            sizes,
            astrides,
            kept_sizes,
            kept_xstrides,
            red_sizes,
            red_xstrides,
        },
        true
    )]
}
