//! Softmax WGSL composition and recording: which kernels a call needs, their sources, their
//! bindings, their uniforms, slices and grids.
//!
//! A source is (`const SG_CROSS` for the subgroup variants; no `enable subgroups;`: naga 30
//! rejects that directive as not yet implemented and accepts the subgroup builtins without it)
//! `const WG/REGS` + `shaders/common.wgsl` + `shaders/softmax_common.wgsl` + the reduction
//! file of its [`Reduction`] + the storage bindings of the kernel (generated here in
//! binding-contract order, because the masked variant adds a read) + `kept()` + the kernel
//! file.

use crate::batch::Batch;
use crate::direction::Direction;
use crate::error::Result;
use crate::kernel::{Array, Arrays, KernelSource, Store};
use crate::tensor::Tensor;

use super::choice::{self, Adapter, Choice, Kernels, MAX_CPU_REGS, MAX_CPU_UNITS, UNITS};
use super::plan::{self, Strategy, REGS, WORKGROUP_SIZE};

const SOFTMAX_COMMON: &str = include_str!("../../shaders/softmax_common.wgsl");
const REDUCE_TREE: &str = include_str!("../../shaders/softmax_reduce_tree.wgsl");
const REDUCE_SUBGROUP: &str = include_str!("../../shaders/softmax_reduce_subgroup.wgsl");

/// The most per-subgroup partials a lane reads in the cross step; past it the log-depth tree is
/// cheaper (measured on lavapipe with strided-style reads: 32 reads per lane made 1024-column
/// rows 25% slower than the tree, 8 made 256-column rows 30% faster).
const MAX_CROSS_READS: u32 = 8;

/// How the lanes of a row are reduced: a pipeline variant picked on the host per call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Reduction {
    /// Shared-memory trees (`shaders/softmax_reduce_tree.wgsl`): log2(lanes) + 2 barriers per
    /// reduction. The fallback: no subgroups, or subgroup sizes that cannot be relied on.
    Tree,
    /// Subgroup butterflies only, no barrier: every row lies inside one subgroup
    /// (`lanes * step <= min_subgroup_size`, or one lane per row).
    SubgroupWithin,
    /// Subgroup butterflies, then one barrier and a read of the per-subgroup partials (at most
    /// [`MAX_CROSS_READS`] of them per lane; wider rows take the tree).
    SubgroupCross,
}

impl Reduction {
    pub(crate) const ALL: [Reduction; 3] = [
        Reduction::Tree,
        Reduction::SubgroupWithin,
        Reduction::SubgroupCross,
    ];

    fn label(self) -> &'static str {
        match self {
            Reduction::Tree => "",
            Reduction::SubgroupWithin => "/subgroup",
            Reduction::SubgroupCross => "/subgroup_cross",
        }
    }

    /// The reduction for rows of `strategy` (`side_by_side`: a row's lanes lie `slots` apart,
    /// see [`SoftmaxKernelKey::side_by_side`]) on a device with
    /// `subgroup` support of sizes `min..=max`. Subgroups are used only when their sizes are
    /// powers of two dividing the workgroup (so the subgroups tile it as aligned blocks), and
    /// only where the cross step reads at most [`MAX_CROSS_READS`] partials per lane.
    pub(crate) fn pick(
        strategy: Strategy,
        side_by_side: bool,
        subgroup: Option<(u32, u32)>,
    ) -> Self {
        let Some((min, max)) = subgroup else {
            return Reduction::Tree;
        };
        let usable = min >= 1
            && min <= max
            && min.is_power_of_two()
            && max.is_power_of_two()
            && WORKGROUP_SIZE.is_multiple_of(max);
        if !usable {
            return Reduction::Tree;
        }
        let step = if side_by_side { strategy.slots() } else { 1 };
        let span = strategy.lanes() * step;
        // Partials each lane reads in the cross step, at the smallest subgroup size. Contiguous
        // rows wider than a subgroup reduce theirs with a second butterfly (`lanes / min / min`
        // reads, at most 4); rows side by side read them all.
        let reads = if !side_by_side {
            (span / min).div_ceil(min)
        } else if step >= min {
            strategy.lanes()
        } else {
            span / min
        };
        if span <= min || strategy.lanes() == 1 {
            Reduction::SubgroupWithin
        } else if reads <= MAX_CROSS_READS {
            Reduction::SubgroupCross
        } else {
            Reduction::Tree
        }
    }
}

/// The pipeline key of a softmax kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct SoftmaxKernelKey {
    pub kernel: SoftmaxEntry,
    pub masked: bool,
    pub reduction: Reduction,
    /// y over x (forward) or dx over dy (backward); only the kernels that write a tensor.
    pub in_place: bool,
    /// Invocations per row (`Strategy::lanes`): a power of two up to the workgroup.
    pub lanes: u32,
    /// Rows lie `inner > 1` apart.
    pub strided: bool,
    /// A row's lanes lie `slots` apart, the rows side by side (strided rows on a GPU: its
    /// neighbouring invocations then read neighbouring inner indices); else a row's lanes are
    /// neighbours (contiguous rows, and strided ones on CPU adapters: inside one subgroup).
    pub side_by_side: bool,
    /// Registers (scalar register kernels) or vec4 units (vec4 register kernels) per lane,
    /// 0 for the long kernels.
    pub per_lane: u32,
    /// Storage of the tensors (x, y, dy, dx, mask); the partials are f32. Everything is
    /// computed in f32 and each output rounded to half once, by its store.
    pub store: Store,
}

impl SoftmaxKernelKey {
    /// Every kernel the family can compile.
    pub(crate) fn all() -> Vec<SoftmaxKernelKey> {
        let mut all = Vec::new();
        for kernel in SoftmaxEntry::ALL {
            for masked in [false, true] {
                for reduction in Reduction::ALL {
                    for in_place in [false, true] {
                        if in_place && !kernel.writes_tensor() {
                            continue;
                        }
                        for store in [Store::F32, Store::F16Native, Store::F16Packed] {
                            for (lanes, strided, side_by_side, per_lane) in kernel.layouts() {
                                all.push(SoftmaxKernelKey {
                                    kernel,
                                    masked,
                                    reduction,
                                    in_place,
                                    lanes,
                                    strided,
                                    side_by_side,
                                    per_lane,
                                    store,
                                });
                            }
                        }
                    }
                }
            }
        }
        all
    }

    pub(crate) fn source(self) -> KernelSource {
        let mut arrays = Arrays::new(self.kernel.arrays(self.masked, self.store)).hoisted_offsets();
        if self.in_place {
            arrays = match self.kernel {
                SoftmaxEntry::ForwardRows
                | SoftmaxEntry::ForwardRows4
                | SoftmaxEntry::ForwardFinish
                | SoftmaxEntry::ForwardFinish4
                | SoftmaxEntry::ForwardCols4
                | SoftmaxEntry::ForwardFinishResident => arrays.in_place("x", "y"),
                _ => arrays.in_place("dy", "dx"),
            };
        }
        KernelSource {
            label: format!(
                "{}/lanes{}{}{}{}{}",
                self.kernel.label(self.masked, self.reduction),
                self.lanes,
                match (self.strided, self.side_by_side) {
                    (false, _) => "",
                    (true, true) => "/strided",
                    (true, false) => "/strided_neighbours",
                },
                if self.per_lane > 0 {
                    format!("/regs{}", self.per_lane)
                } else {
                    String::new()
                },
                if self.in_place { "/in_place" } else { "" },
                match self.store {
                    Store::F32 => String::new(),
                    s => format!("/{}", s.name()),
                }
            ),
            entry: self.kernel.entry(),
            arrays,
            body: self.kernel.wgsl(&self),
        }
    }
}

/// The softmax kernels; each is one WGSL file with one entry point of the same name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum SoftmaxEntry {
    ForwardRows,
    /// [`SoftmaxEntry::ForwardRows`] on vec4s: contiguous rows of a multiple of 4 elements
    /// in tensors that start on whole vec4s.
    ForwardRows4,
    ForwardPartials,
    ForwardFinish,
    ForwardFinishResident,
    /// Long rows on CPU adapters: [`SoftmaxEntry::ForwardPartials`] on vec4s, one chunk per
    /// subgroup held in registers (see `record`).
    ForwardPartials4,
    /// Long rows on CPU adapters: each lane combines its row's partials itself, then writes
    /// its chunk from registers.
    ForwardFinish4,
    BackwardRows,
    /// [`SoftmaxEntry::BackwardRows`] on vec4s, as [`SoftmaxEntry::ForwardRows4`].
    BackwardRows4,
    BackwardPartials,
    BackwardFinish,
    BackwardFinishResident,
    /// As [`SoftmaxEntry::ForwardPartials4`]: each chunk's sum of dy * y.
    BackwardPartials4,
    /// As [`SoftmaxEntry::ForwardFinish4`]: the row's sum from its partials, then dx.
    BackwardFinish4,
    /// Strided rows on CPU adapters: four neighbouring rows a lane in vec4s (see `record`).
    ForwardCols4,
    /// As [`SoftmaxEntry::ForwardCols4`].
    BackwardCols4,
}

impl SoftmaxEntry {
    pub(crate) const ALL: [SoftmaxEntry; 16] = [
        SoftmaxEntry::ForwardRows,
        SoftmaxEntry::ForwardRows4,
        SoftmaxEntry::ForwardPartials,
        SoftmaxEntry::ForwardFinish,
        SoftmaxEntry::ForwardFinishResident,
        SoftmaxEntry::BackwardRows,
        SoftmaxEntry::BackwardRows4,
        SoftmaxEntry::BackwardPartials,
        SoftmaxEntry::BackwardFinish,
        SoftmaxEntry::BackwardFinishResident,
        SoftmaxEntry::ForwardPartials4,
        SoftmaxEntry::ForwardFinish4,
        SoftmaxEntry::BackwardPartials4,
        SoftmaxEntry::BackwardFinish4,
        SoftmaxEntry::ForwardCols4,
        SoftmaxEntry::BackwardCols4,
    ];

    pub(crate) fn entry(self) -> &'static str {
        match self {
            SoftmaxEntry::ForwardRows => "forward_rows",
            SoftmaxEntry::ForwardRows4 => "forward_rows4",
            SoftmaxEntry::ForwardPartials => "forward_partials",
            SoftmaxEntry::ForwardFinish => "forward_finish",
            SoftmaxEntry::ForwardFinishResident => "forward_finish_resident",
            SoftmaxEntry::BackwardRows => "backward_rows",
            SoftmaxEntry::BackwardRows4 => "backward_rows4",
            SoftmaxEntry::BackwardPartials => "backward_partials",
            SoftmaxEntry::BackwardFinish => "backward_finish",
            SoftmaxEntry::BackwardFinishResident => "backward_finish_resident",
            SoftmaxEntry::ForwardPartials4 => "forward_partials4",
            SoftmaxEntry::ForwardFinish4 => "forward_finish4",
            SoftmaxEntry::BackwardPartials4 => "backward_partials4",
            SoftmaxEntry::BackwardFinish4 => "backward_finish4",
            SoftmaxEntry::ForwardCols4 => "forward_cols4",
            SoftmaxEntry::BackwardCols4 => "backward_cols4",
        }
    }

    fn file(self) -> &'static str {
        match self {
            SoftmaxEntry::ForwardRows => include_str!("../../shaders/softmax_forward_rows.wgsl"),
            SoftmaxEntry::ForwardRows4
            | SoftmaxEntry::ForwardPartials4
            | SoftmaxEntry::ForwardFinish4 => {
                include_str!("../../shaders/softmax_forward_rows4.wgsl")
            }
            SoftmaxEntry::ForwardPartials => {
                include_str!("../../shaders/softmax_forward_partials.wgsl")
            }
            SoftmaxEntry::ForwardFinish => {
                include_str!("../../shaders/softmax_forward_finish.wgsl")
            }
            SoftmaxEntry::ForwardFinishResident => {
                include_str!("../../shaders/softmax_forward_finish_resident.wgsl")
            }
            SoftmaxEntry::BackwardRows => include_str!("../../shaders/softmax_backward_rows.wgsl"),
            SoftmaxEntry::ForwardCols4 => include_str!("../../shaders/softmax_forward_cols4.wgsl"),
            SoftmaxEntry::BackwardCols4 => {
                include_str!("../../shaders/softmax_backward_cols4.wgsl")
            }
            SoftmaxEntry::BackwardRows4
            | SoftmaxEntry::BackwardPartials4
            | SoftmaxEntry::BackwardFinish4 => {
                include_str!("../../shaders/softmax_backward_rows4.wgsl")
            }
            SoftmaxEntry::BackwardPartials => {
                include_str!("../../shaders/softmax_backward_partials.wgsl")
            }
            SoftmaxEntry::BackwardFinish => {
                include_str!("../../shaders/softmax_backward_finish.wgsl")
            }
            SoftmaxEntry::BackwardFinishResident => {
                include_str!("../../shaders/softmax_backward_finish_resident.wgsl")
            }
        }
    }

    /// The (lanes, strided, side_by_side, per_lane) layouts `record` can give this kernel:
    /// every power of two of lanes. The scalar register kernels: REGS registers a lane, rows
    /// contiguous, strided side by side, or strided with neighbouring lanes (CPU adapters), or
    /// (CPU adapters without usable subgroups) strided rows of one lane with up to
    /// MAX_CPU_REGS. The vec4 ones: contiguous rows, UNITS a lane, or (CPU adapters) more on
    /// up to 64 lanes; strided (CPU adapters), 1 to REGS a lane. The long kernels:
    /// no registers.
    fn layouts(self) -> Vec<(u32, bool, bool, u32)> {
        let powers = |max: u32| (0..=max.trailing_zeros()).map(|b| 1u32 << b);
        let mut layouts = Vec::new();
        match self {
            SoftmaxEntry::ForwardRows | SoftmaxEntry::BackwardRows => {
                for lanes in powers(WORKGROUP_SIZE) {
                    layouts.extend([
                        (lanes, false, false, REGS),
                        (lanes, true, true, REGS),
                        (lanes, true, false, REGS),
                    ]);
                }
                for regs in powers(MAX_CPU_REGS).filter(|&r| r > REGS) {
                    layouts.push((1, true, true, regs));
                }
            }
            SoftmaxEntry::ForwardCols4 | SoftmaxEntry::BackwardCols4 => {
                for lanes in powers(64) {
                    layouts.extend(powers(REGS).map(|units| (lanes, true, false, units)));
                }
            }
            SoftmaxEntry::ForwardPartials4
            | SoftmaxEntry::ForwardFinish4
            | SoftmaxEntry::BackwardPartials4
            | SoftmaxEntry::BackwardFinish4 => {
                for lanes in powers(64) {
                    let units = plan::LONG_CHUNK_CONTIGUOUS / 4 / lanes;
                    if units <= MAX_CPU_UNITS {
                        layouts.push((lanes, false, false, units));
                    }
                }
            }
            SoftmaxEntry::ForwardRows4 | SoftmaxEntry::BackwardRows4 => {
                layouts.extend(powers(WORKGROUP_SIZE).map(|l| (l, false, false, UNITS)));
                for lanes in powers(64) {
                    for units in powers(MAX_CPU_UNITS).filter(|&u| u > UNITS) {
                        layouts.push((lanes, false, false, units));
                    }
                }
            }
            _ => {
                for lanes in powers(WORKGROUP_SIZE) {
                    layouts.extend([(lanes, false, false, 0), (lanes, true, true, 0)]);
                }
            }
        }
        layouts
    }

    /// The register kernels: their entry point is generated (`rows_entry`) for the registers
    /// a lane holds.
    fn registers(self) -> bool {
        matches!(
            self,
            SoftmaxEntry::ForwardRows
                | SoftmaxEntry::ForwardRows4
                | SoftmaxEntry::BackwardRows
                | SoftmaxEntry::BackwardRows4
                | SoftmaxEntry::ForwardPartials4
                | SoftmaxEntry::ForwardFinish4
                | SoftmaxEntry::BackwardPartials4
                | SoftmaxEntry::BackwardFinish4
                | SoftmaxEntry::ForwardCols4
                | SoftmaxEntry::BackwardCols4
        )
    }

    /// A second file of helpers: the vec4 row kernels' store, for those that write the tensor
    /// (the partials passes write none); the strided vec4 kernels' shared reductions.
    fn helpers(self) -> &'static str {
        match self {
            SoftmaxEntry::ForwardRows4 | SoftmaxEntry::ForwardFinish4 => {
                include_str!("../../shaders/softmax_forward_store4.wgsl")
            }
            SoftmaxEntry::BackwardRows4 | SoftmaxEntry::BackwardFinish4 => {
                include_str!("../../shaders/softmax_backward_store4.wgsl")
            }
            SoftmaxEntry::ForwardCols4 | SoftmaxEntry::BackwardCols4 => {
                include_str!("../../shaders/softmax_cols4.wgsl")
            }
            _ => "",
        }
    }

    /// Whether the grid is row groups times chunks (the long kernels' first pass and
    /// per-chunk finish); the others run one workgroup per row group.
    fn chunked(self) -> bool {
        matches!(
            self,
            SoftmaxEntry::ForwardPartials
                | SoftmaxEntry::ForwardFinish
                | SoftmaxEntry::BackwardPartials
                | SoftmaxEntry::BackwardFinish
                | SoftmaxEntry::ForwardPartials4
                | SoftmaxEntry::ForwardFinish4
                | SoftmaxEntry::BackwardPartials4
                | SoftmaxEntry::BackwardFinish4
        )
    }

    /// The unit of its tensor arrays (x, y, dy, dx, mask): `vec4<f32>` for the vec4 kernels.
    pub(crate) fn unit(self) -> &'static str {
        match self {
            SoftmaxEntry::ForwardRows4
            | SoftmaxEntry::BackwardRows4
            | SoftmaxEntry::ForwardPartials4
            | SoftmaxEntry::ForwardFinish4
            | SoftmaxEntry::BackwardPartials4
            | SoftmaxEntry::BackwardFinish4
            | SoftmaxEntry::ForwardCols4
            | SoftmaxEntry::BackwardCols4 => "vec4<f32>",
            _ => "f32",
        }
    }

    /// Whether the kernel writes the output tensor (and so has an in-place variant).
    fn writes_tensor(self) -> bool {
        !matches!(
            self,
            SoftmaxEntry::ForwardPartials
                | SoftmaxEntry::BackwardPartials
                | SoftmaxEntry::ForwardPartials4
                | SoftmaxEntry::BackwardPartials4
        )
    }

    /// The storage arrays, reads before writes.
    fn arrays(self, masked: bool, store: Store) -> Vec<Array> {
        const V: &str = "vec4<f32>";
        let unit = self.unit();
        let read = |name| Array::read(name, unit).stored(store);
        let write = |name| Array::write(name, unit).stored(store);
        let mut arrays = match self {
            SoftmaxEntry::ForwardRows
            | SoftmaxEntry::ForwardRows4
            | SoftmaxEntry::ForwardPartials
            | SoftmaxEntry::ForwardFinish
            | SoftmaxEntry::ForwardFinishResident
            | SoftmaxEntry::ForwardPartials4
            | SoftmaxEntry::ForwardFinish4
            | SoftmaxEntry::ForwardCols4 => {
                vec![read("x")]
            }
            _ => vec![read("y"), read("dy")],
        };
        if masked {
            arrays.push(read("mask"));
        }
        if matches!(
            self,
            SoftmaxEntry::ForwardFinish
                | SoftmaxEntry::BackwardFinish
                | SoftmaxEntry::ForwardFinishResident
                | SoftmaxEntry::BackwardFinishResident
                | SoftmaxEntry::ForwardFinish4
                | SoftmaxEntry::BackwardFinish4
        ) {
            arrays.push(Array::read("partials", V));
        }
        arrays.push(match self {
            SoftmaxEntry::ForwardRows
            | SoftmaxEntry::ForwardRows4
            | SoftmaxEntry::ForwardFinish
            | SoftmaxEntry::ForwardFinish4
            | SoftmaxEntry::ForwardCols4
            | SoftmaxEntry::ForwardFinishResident => write("y"),
            SoftmaxEntry::BackwardRows
            | SoftmaxEntry::BackwardRows4
            | SoftmaxEntry::BackwardFinish
            | SoftmaxEntry::BackwardFinish4
            | SoftmaxEntry::BackwardCols4
            | SoftmaxEntry::BackwardFinishResident => write("dx"),
            SoftmaxEntry::ForwardPartials
            | SoftmaxEntry::BackwardPartials
            | SoftmaxEntry::ForwardPartials4
            | SoftmaxEntry::BackwardPartials4 => Array::write("partials", V),
        });
        arrays
    }

    /// The WGSL of this kernel, less its storage arrays.
    pub(crate) fn wgsl(self, key: &SoftmaxKernelKey) -> String {
        let SoftmaxKernelKey {
            masked,
            reduction,
            lanes,
            strided,
            side_by_side,
            per_lane,
            ..
        } = *key;
        let kept = match (masked, self.unit()) {
            (true, "f32") => "// Masked: 0.0 (either sign) drops a position; any other value, NaN included, keeps it.\n\
             fn kept(i: u32) -> bool { return (bitcast<u32>(ld_mask(i)) & wgact_F32_ABS_MASK) != 0u; }\n",
            (false, "f32") => "fn kept(i: u32) -> bool { return true; }\n",
            (true, _) => "// Masked: 0.0 (either sign) drops a position; any other value, NaN included, keeps it.\n\
             fn kept4(i: u32) -> vec4<bool> { return (bitcast<vec4<u32>>(ld_mask(i)) & vec4<u32>(wgact_F32_ABS_MASK)) != vec4<u32>(0u); }\n",
            (false, _) => "fn kept4(i: u32) -> vec4<bool> { return vec4<bool>(true); }\n",
        };
        let (prelude, reduce) = match reduction {
            Reduction::Tree => (String::new(), REDUCE_TREE),
            Reduction::SubgroupWithin | Reduction::SubgroupCross => (
                format!(
                    "const SG_CROSS: bool = {};\n",
                    reduction == Reduction::SubgroupCross
                ),
                REDUCE_SUBGROUP,
            ),
        };
        format!(
            "{prelude}const WG: u32 = {WORKGROUP_SIZE}u;\nconst REGS: u32 = {REGS}u;\n\
             const LANES: u32 = {lanes}u;\nconst SLOTS: u32 = {}u;\n\
             const STRIDED: bool = {strided};\nconst SIDE_BY_SIDE: bool = {side_by_side};\n\
             const CHUNKED: bool = {};\n\
             {}\n{SOFTMAX_COMMON}\n{reduce}\n{kept}\n{}\n{}\n{}",
            WORKGROUP_SIZE / lanes,
            self.chunked(),
            crate::COMMON_WGSL,
            self.file(),
            self.helpers(),
            if self.registers() {
                rows_entry(self, per_lane)
            } else {
                String::new()
            }
        )
    }

    /// `softmax/<entry>[/masked][/subgroup|/subgroup_cross]`.
    pub(crate) fn label(self, masked: bool, reduction: Reduction) -> String {
        format!(
            "softmax/{}{}{}",
            self.entry(),
            if masked { "/masked" } else { "" },
            reduction.label()
        )
    }
}

/// The long CPU finishes' first lines: every lane folds its row's partials itself, in chunk
/// order (the same result on every lane, and no reduction across lanes). Forward: the row's
/// (max, sum of exp) pair and flags.
const FOLD_PAIRS: &str = "    var pair = vec2<f32>(neg_inf(), 0.0);
    var flags = 0u;
    if (ln.valid) {
        for (var c = 0u; c < params.row_chunks; c++) {
            let p = ld_partials(ln.row * params.row_chunks + c);
            pair = combine_pairs(pair, p.xy);
            flags |= bitcast<u32>(p.z);
        }
    }
    let mf = MaxFlags(pair.x, flags);
    let total = pair.y;
";
/// Backward: the row's Σ dy·y.
const FOLD_SUMS: &str = "    var total = 0.0;
    if (ln.valid) {
        for (var c = 0u; c < params.row_chunks; c++) {
            total += ld_partials(ln.row * params.row_chunks + c).x;
        }
    }
";

/// The long CPU finishes' loop over the (at most `per_lane`) units of the lane that lie in the
/// row, opened: one bounds test before the loop instead of one per unit per load and store.
/// The body uses `r` (the unit), `k` (its vec4 in the row) and `kept`; the caller closes it.
fn finish_loop(per_lane: u32) -> String {
    format!(
        "    let k_first = ln.k0 / 4u + ln.j;
    let len4 = ln.len / 4u;
    var end = 0u;
    if (ln.valid && k_first < len4) {{
        end = min({per_lane}u, (len4 - k_first + LANES - 1u) / LANES);
    }}
    for (var r = 0u; r < end; r++) {{
        let k = k_first + r * LANES;
        var kept = 0u;
"
    )
}

/// Units written out per block of the backward CPU partials' loop.
const PARTIAL_BLOCK: u32 = 16;

/// The entry point of a register kernel holding `per_lane` registers (scalar kernels) or vec4
/// units (vec4 kernels) a lane, a power of two: the helpers of the kernel's file called once
/// per register, written out, and the registers summed pairwise (r with r + per_lane/2, and
/// so on down, as `sum_regs`; then a vec4's four components), so that a lane's sum has depth
/// log2 of its elements. The long CPU kernels stream instead where they can: the finishes
/// hold nothing (a loop over the units), and the backward partials sum adjacent units first
/// (the same depth).
fn rows_entry(kernel: SoftmaxEntry, per_lane: u32) -> String {
    use std::fmt::Write;
    let vec4 = kernel.unit() != "f32";
    // Kept flags: one bit per element, 32 to a word.
    let per_word = if vec4 { 8 } else { 32 };
    let sfx = if vec4 { "4" } else { "" };
    let mut w = String::new();
    writeln!(
        w,
        "@compute @workgroup_size(WG)\nfn {}(ids: Ids) {{",
        kernel.entry()
    )
    .unwrap();
    w.push_str("    let ln = lane_of(ids);\n");
    // The loops (the finishes, the backward partials) keep their flags per unit.
    let looped = matches!(
        kernel,
        SoftmaxEntry::ForwardFinish4
            | SoftmaxEntry::BackwardFinish4
            | SoftmaxEntry::BackwardPartials4
    );
    if !looped {
        for k in 0..per_lane.div_ceil(per_word) {
            writeln!(w, "    var kept{k} = 0u;").unwrap();
        }
    }
    // `let {p}{level}_{r}` lines summing `{p}0_0 ..` pairwise; returns the total's name
    // (a vec4 of four rows' sums in the strided vec4 kernels).
    let pairwise_rows = |w: &mut String, p: &str| -> String {
        let (mut level, mut n) = (0, per_lane);
        while n > 1 {
            n /= 2;
            for r in 0..n {
                let (next, far) = (level + 1, r + n);
                writeln!(
                    w,
                    "    let {p}{next}_{r} = {p}{level}_{r} + {p}{level}_{far};"
                )
                .unwrap();
            }
            level += 1;
        }
        format!("{p}{level}_0")
    };
    // The total of one row: a vec4's four components pairwise in the vec4 row kernels.
    let pairwise = |w: &mut String, p: &str| -> String {
        let t = pairwise_rows(w, p);
        if vec4 {
            format!("({t}.x + {t}.y) + ({t}.z + {t}.w)")
        } else {
            t
        }
    };
    let words = |r: u32| r / per_word;
    // Every register's line of one kind.
    let each = |w: &mut String, line: &dyn Fn(u32, u32) -> String| {
        for r in 0..per_lane {
            w.push_str(&line(r, words(r)));
        }
    };
    let (exp, y, dy) = if vec4 {
        ("exp_nonpos4", "y", "dy")
    } else {
        // Scalar units are vec2(y, dy).
        ("exp_nonpos", "x", "y")
    };
    let write_partial = |w: &mut String, value: &str| {
        writeln!(
            w,
            "    if (ln.valid && ln.j == 0u) {{\n        st_partials(partial_index(ln), {value});\n    }}"
        )
        .unwrap();
    };
    match kernel {
        // The finishes know the row's max and sum (or Σ dy·y) from the partials before they
        // load anything, so each unit is loaded, finished and stored in turn and nothing is
        // held: the same arithmetic as holding the chunk (same bits). And since nothing is
        // held, the units are a loop rather than written out: 128 units of straight-line
        // gathers and scatters overflow the instruction cache. The finish alone, rows of
        // 32768 on lavapipe, minimum of 4 runs: written out 5.36 / 6.86 ms (forward /
        // backward), looped 4.16 / 4.70; the whole call 8.85 / 12.84 ms held, 7.16 / 9.24
        // looped (with the backward partials below).
        SoftmaxEntry::ForwardFinish4 => {
            writeln!(w, "    var acc = Acc4(neg_inf(), 0u);").unwrap();
            w.push_str(FOLD_PAIRS);
            w.push_str(
                "    let m = vec4<f32>(mf.m);\n    let inv = 1.0 / total;\n    let nan = row_is_nan(mf.m, mf.flags);\n",
            );
            writeln!(
                w,
                "{}        let x = load_x4_in(ln, k, r, &acc, &kept);\n        store_y4_in(ln, k, r, {exp}(x - m) * inv, nan, kept);\n    }}",
                finish_loop(per_lane)
            )
            .unwrap();
        }
        SoftmaxEntry::BackwardFinish4 => {
            w.push_str(FOLD_SUMS);
            writeln!(
                w,
                "{}        let u = load_y_dy4_in(ln, k, r, &kept);\n        store_dx4_in(ln, k, r, u, total, kept);\n    }}",
                finish_loop(per_lane)
            )
            .unwrap();
        }
        // Σ dy·y of a chunk, summed as the units arrive: adjacent units pairwise, then pairs
        // of pairs (a binary counter of partial sums), so at most log2(per_lane) + 1 sums are
        // live instead of every product (the same depth, and so the same bound, as the
        // register kernels' halves-first order; rows of 32768 backward on lavapipe 12.84 ->
        // 11.73 ms, minimum of 6 interleaved runs, then 8.99 -> 8.16 ms as blocks in a loop).
        SoftmaxEntry::BackwardPartials4 => {
            // Blocks of PARTIAL_BLOCK units written out, in a loop over the blocks; inside a
            // block the stack below, across blocks the same carries as a binary counter, so
            // the tree is the one a stack over all the units would build.
            let block = per_lane.min(PARTIAL_BLOCK);
            let blocks = per_lane / block;
            let levels = blocks.trailing_zeros();
            w.push_str("    var kept = 0u;\n");
            for l in 0..levels {
                writeln!(w, "    var c{l} = vec4<f32>(0.0);").unwrap();
            }
            writeln!(w, "    var t = vec4<f32>(0.0);").unwrap();
            writeln!(w, "    for (var b = 0u; b < {blocks}u; b++) {{").unwrap();
            let mut stack: Vec<(u32, String)> = Vec::new();
            for r in 0..block {
                writeln!(
                    w,
                    "        let u{r} = load_y_dy4(ln, b * {block}u + {r}u, &kept);\n        let p{r} = u{r}.{dy} * u{r}.{y};"
                )
                .unwrap();
                stack.push((0, format!("p{r}")));
                while stack.len() >= 2 && stack[stack.len() - 1].0 == stack[stack.len() - 2].0 {
                    let (level, b) = stack.pop().unwrap();
                    let (_, a) = stack.pop().unwrap();
                    let sum = format!("s{}_{r}", level + 1);
                    writeln!(w, "        let {sum} = {a} + {b};").unwrap();
                    stack.push((level + 1, sum));
                }
            }
            writeln!(w, "        var s = {};", stack[0].1).unwrap();
            // Carry: block b's sum pairs with the pending sum of each level whose bit b has.
            let mut close = String::new();
            for l in 0..levels {
                writeln!(
                    w,
                    "        if ((b & {}u) == 0u) {{ c{l} = s; }} else {{ s = c{l} + s;",
                    1u32 << l
                )
                .unwrap();
                close.push('}');
            }
            writeln!(w, "        t = s; {close}\n    }}").unwrap();
            writeln!(
                w,
                "    let total = reduce_sum(ln, (t.x + t.y) + (t.z + t.w));"
            )
            .unwrap();
            write_partial(&mut w, "vec4<f32>(total, 0.0, 0.0, 0.0)");
        }
        SoftmaxEntry::ForwardRows | SoftmaxEntry::ForwardRows4 | SoftmaxEntry::ForwardPartials4 => {
            writeln!(w, "    var acc = Acc{sfx}(neg_inf(), 0u);").unwrap();
            each(&mut w, &|r, k| {
                format!("    let x{r} = load_x{sfx}(ln, {r}u, &acc, &kept{k});\n")
            });
            w.push_str("    let mf = reduce_max_flags(ln, acc.m, acc.flags);\n");
            let m = if vec4 { "vec4<f32>(mf.m)" } else { "mf.m" };
            writeln!(w, "    let m = {m};").unwrap();
            each(&mut w, &|r, _| {
                format!("    let e0_{r} = {exp}(x{r} - m);\n")
            });
            let total = pairwise(&mut w, "e");
            writeln!(w, "    let total = reduce_sum(ln, {total});").unwrap();
            if kernel == SoftmaxEntry::ForwardPartials4 {
                // The chunk's (max, sum of exp(x - max)) pair and flags: (-inf, 0) when no
                // kept value is finite.
                write_partial(
                    &mut w,
                    "vec4<f32>(mf.m, select(total, 0.0, is_neg_inf(mf.m)), bitcast<f32>(mf.flags), 0.0)",
                );
            } else {
                w.push_str("    let inv = 1.0 / total;\n");
                w.push_str("    let nan = row_is_nan(mf.m, mf.flags);\n");
                each(&mut w, &|r, k| {
                    format!("    store_y{sfx}(ln, {r}u, e0_{r} * inv, nan, kept{k});\n")
                });
            }
        }
        SoftmaxEntry::BackwardRows | SoftmaxEntry::BackwardRows4 => {
            each(&mut w, &|r, k| {
                format!("    let u{r} = load_y_dy{sfx}(ln, {r}u, &kept{k});\n")
            });
            each(&mut w, &|r, _| {
                format!("    let p0_{r} = u{r}.{dy} * u{r}.{y};\n")
            });
            let total = pairwise(&mut w, "p");
            writeln!(w, "    let total = reduce_sum(ln, {total});").unwrap();
            each(&mut w, &|r, k| {
                format!("    store_dx{sfx}(ln, {r}u, u{r}, total, kept{k});\n")
            });
        }
        SoftmaxEntry::ForwardCols4 => {
            w.push_str("    var acc = AccCols4(vec4<f32>(neg_inf()), vec4<u32>(0u));\n");
            each(&mut w, &|r, k| {
                format!("    let x{r} = load_cols4(ln, {r}u, &acc, &kept{k});\n")
            });
            w.push_str("    let mf = reduce_max_flags_cols4(acc);\n");
            each(&mut w, &|r, _| {
                format!("    let e0_{r} = exp_nonpos4(x{r} - mf.m);\n")
            });
            let total = pairwise_rows(&mut w, "e");
            writeln!(w, "    let inv = 1.0 / reduce_sum_cols4({total});").unwrap();
            w.push_str("    let nan = rows_are_nan4(mf.m, mf.flags);\n");
            each(&mut w, &|r, k| {
                format!("    store_cols4(ln, {r}u, e0_{r} * inv, nan, kept{k});\n")
            });
        }
        SoftmaxEntry::BackwardCols4 => {
            each(&mut w, &|r, k| {
                format!("    let u{r} = load_y_dy_cols4(ln, {r}u, &kept{k});\n    let p0_{r} = u{r}.dy * u{r}.y;\n")
            });
            let total = pairwise_rows(&mut w, "p");
            writeln!(w, "    let total = reduce_sum_cols4({total});").unwrap();
            each(&mut w, &|r, k| {
                format!("    store_dx_cols4(ln, {r}u, u{r}, total, kept{k});\n")
            });
        }
        _ => unreachable!("only the register kernels are generated"),
    }
    w.push_str("}\n");
    w
}
/// `SoftmaxParams` in `shaders/softmax_common.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct SoftmaxParams {
    rows: u32,
    len: u32,
    inner: u32,
    base: u32,
    chunk_len: u32,
    chunks: u32,
    groups_x: u32,
    inner_count: u32,
    chunk_base: u32,
    row_chunks: u32,
    _pad: [u32; 2],
}

/// Records one pass along `axis`. `inputs` are `[x]` (forward) or `[y, dy]` (backward),
/// all of `out`'s shape, as is `mask`; with `in_place`, `out` is the overwritten input, the
/// last of `inputs` (`x` forward, `dy` backward). Shapes, devices and aliasing are validated by the caller.
#[allow(clippy::too_many_arguments)]
pub(crate) fn record(
    batch: &mut Batch<'_>,
    pass: Direction,
    axis: i64,
    inputs: &[&Tensor],
    mask: Option<&Tensor>,
    out: &Tensor,
    in_place: bool,
) -> Result<()> {
    let gpu = batch.gpu();
    let view = plan::axis_view(out.shape(), axis)?;
    if out.is_empty() {
        return Ok(());
    }
    let masked = mask.is_some();
    let mut tensors: Vec<&Tensor> = inputs.to_vec();
    tensors.extend(mask);
    tensors.push(out);
    let align_elems = (gpu.limits().min_storage_buffer_offset_alignment as usize / 4).max(4);
    // Room below each binding for a view's offset remainder.
    let max_elems = gpu.chunk_elems();
    let max_groups = gpu.max_groups_per_dim();
    let max_partials = (gpu.max_binding_bytes() / 16) as usize;
    let plan = plan::plan(view, max_elems, align_elems, max_partials)?;
    let aligned = tensors.iter().all(|t| t.vec4_aligned(0));
    let choice = choice::choose(Adapter::of(gpu), view, &plan, aligned);
    let Choice {
        strategy,
        per_lane,
        side_by_side,
        quad,
        ..
    } = choice;
    let vec4 = choice.vec4();
    let (forward, backward) = match choice.kernels {
        Kernels::Rows => (
            (SoftmaxEntry::ForwardRows, None),
            (SoftmaxEntry::BackwardRows, None),
        ),
        Kernels::Rows4 => (
            (SoftmaxEntry::ForwardRows4, None),
            (SoftmaxEntry::BackwardRows4, None),
        ),
        Kernels::Cols4 => (
            (SoftmaxEntry::ForwardCols4, None),
            (SoftmaxEntry::BackwardCols4, None),
        ),
        Kernels::Long => (
            (
                SoftmaxEntry::ForwardPartials,
                Some(SoftmaxEntry::ForwardFinish),
            ),
            (
                SoftmaxEntry::BackwardPartials,
                Some(SoftmaxEntry::BackwardFinish),
            ),
        ),
        Kernels::Long4 => (
            (
                SoftmaxEntry::ForwardPartials4,
                Some(SoftmaxEntry::ForwardFinish4),
            ),
            (
                SoftmaxEntry::BackwardPartials4,
                Some(SoftmaxEntry::BackwardFinish4),
            ),
        ),
    };
    let (first, second) = match pass {
        Direction::Forward => forward,
        Direction::Backward => backward,
    };
    let info = gpu.info();
    let subgroup = gpu
        .subgroups()
        .then_some((info.min_subgroup_size, info.max_subgroup_size));
    let reduction = Reduction::pick(strategy, side_by_side, subgroup);
    let store = gpu.store(crate::tensor::common_dtype(
        &tensors,
        &["softmax input", "softmax input", "mask", "output"],
    )?);
    let load = |kernel: SoftmaxEntry| {
        let key = SoftmaxKernelKey {
            kernel,
            masked,
            reduction,
            in_place: in_place && kernel.writes_tensor(),
            lanes: strategy.lanes(),
            strided: view.inner > 1,
            side_by_side,
            per_lane: if kernel.registers() { per_lane } else { 0 },
            store,
        };
        gpu.kernel(key, || key.source())
    };
    let first_kernel = load(first)?;
    let second_kernel = second.map(load).transpose()?;
    let resident_kernel = match pass {
        Direction::Forward => SoftmaxEntry::ForwardFinishResident,
        Direction::Backward => SoftmaxEntry::BackwardFinishResident,
    };
    let resident_tail = |g: &plan::RowGroup| match choice.kernels {
        Kernels::Long => plan::resident_tail(strategy, g, pass),
        _ => 0,
    };
    let resident_kernel = if plan.groups.iter().any(|g| resident_tail(g) > 0) {
        Some(load(resident_kernel)?)
    } else {
        None
    };

    // One scratch binding of partials, reused group after group (the plan keeps each group's
    // within one binding).
    let partials = match strategy {
        Strategy::Long { .. } => {
            let count = plan
                .groups
                .iter()
                .map(|g| g.rows() * g.row_chunks as usize)
                .max()
                .unwrap_or(0);
            let buffer = gpu.scratch(0, count as u64 * 16)?;
            Some(Tensor::scratch(gpu, buffer, &[count * 4]))
        }
        Strategy::Registers { .. } => None,
    };

    for group in &plan.groups {
        let rows = group.rows() / quad;
        let row_groups = rows.div_ceil(strategy.slots() as usize) as u64;
        // Resident: pass 1 reduces all but the tail's chunks; the finish is one dispatch of one
        // workgroup per row group (its params differ only in `chunks`).
        let tail = resident_tail(group);
        let mut dispatches = Vec::with_capacity(group.pieces.len());
        for piece in &group.pieces {
            let piece_chunks = piece.chunks - tail;
            let total = row_groups * piece_chunks as u64;
            let groups = crate::kernel::grid(total, max_groups, "softmax grid (workgroups)")?;
            let params = SoftmaxParams {
                rows: rows as u32,
                len: piece.k_len as u32,
                inner: (view.inner / quad) as u32,
                base: (piece.base / quad) as u32,
                chunk_len: strategy.chunk_len(),
                chunks: piece_chunks,
                groups_x: groups[0],
                inner_count: (group.inner_count / quad) as u32,
                chunk_base: piece.chunk_base,
                row_chunks: group.row_chunks - tail,
                _pad: [0; 2],
            };
            let unit = if vec4 { 16 } else { 4 };
            let slot = |t: &Tensor| t.slot(gpu, piece.bind_start, piece.bind_len, unit);
            // Bound arrays in order: the inputs, mask, [partials], the output. In place, the
            // overwritten input (the last of `inputs`: x forward, dy backward) is bound only
            // as the output, except by the partials pass, which only reads.
            let reads: Vec<_> = inputs.iter().copied().chain(mask).map(slot).collect();
            let mut reads_in_place = reads.clone();
            if in_place {
                reads_in_place.remove(inputs.len() - 1);
            }
            dispatches.push((params, groups, reads, reads_in_place, slot(out)));
        }
        match (&partials, &second_kernel) {
            // Long rows: every piece's partials, then every piece's finish (which reads the
            // partials of the whole row).
            (Some(partials), Some(second_kernel)) => {
                let p = partials.slot(gpu, 0, partials.len(), 16);
                for (params, groups, reads, _, _) in &dispatches {
                    let mut a = reads.clone();
                    a.push(p.clone());
                    batch.push(&first_kernel, bytemuck::bytes_of(params), a, *groups);
                }
                for (mut params, mut groups, _, reads_in_place, out) in dispatches {
                    let mut b = reads_in_place;
                    b.push(p.clone());
                    b.push(out);
                    let kernel = match &resident_kernel {
                        Some(resident) if tail > 0 => {
                            groups = crate::kernel::grid(row_groups, max_groups, "softmax grid")?;
                            params.chunks = 1;
                            params.groups_x = groups[0];
                            resident
                        }
                        _ => second_kernel,
                    };
                    batch.push(kernel, bytemuck::bytes_of(&params), b, groups);
                }
            }
            _ => {
                for (params, groups, _, reads_in_place, out) in dispatches {
                    let mut a = reads_in_place;
                    a.push(out);
                    batch.push(&first_kernel, bytemuck::bytes_of(&params), a, groups);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) fn uniform_layouts() -> Vec<crate::kernel::UniformLayout> {
    vec![crate::kernel::uniform_layout!(
        "SoftmaxParams",
        SoftmaxParams {
            rows,
            len,
            inner,
            base,
            chunk_len,
            chunks,
            groups_x,
            inner_count,
            chunk_base,
            row_chunks,
        },
        true
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::softmax::plan::strategy;

    fn pick(len: usize, inner: usize, sizes: Option<(u32, u32)>) -> Reduction {
        Reduction::pick(strategy(len, inner), inner > 1, sizes)
    }

    #[test]
    fn rows_inside_the_smallest_subgroup_need_no_barrier() {
        let lavapipe = Some((8, 8));
        // Contiguous rows of up to 128 elements take at most 8 lanes of 16.
        for len in [1, 4, 5, 31, 32, 128] {
            assert_eq!(pick(len, 1, lavapipe), Reduction::SubgroupWithin, "{len}");
        }
        // Strided rows of one lane need no reduction at all.
        assert_eq!(pick(16, 300, lavapipe), Reduction::SubgroupWithin);
        // A subgroup size range only counts its minimum.
        assert_eq!(pick(128, 1, Some((4, 64))), Reduction::SubgroupCross);
        assert_eq!(pick(512, 1, Some((32, 32))), Reduction::SubgroupWithin);
    }

    #[test]
    fn wider_rows_cross_subgroups_and_strided_rows_past_eight_reads_take_the_tree() {
        let lavapipe = Some((8, 8));
        let h100 = Some((32, 32));
        // Contiguous: 16..64 lanes are 2..8 subgroups of 8.
        for len in [129, 256, 1024] {
            assert_eq!(pick(len, 1, lavapipe), Reduction::SubgroupCross, "{len}");
        }
        // Rows of 64 lanes and more: up to 32 subgroup partials, reduced by a second butterfly.
        for len in [1000, 4096, 5000] {
            assert_eq!(pick(len, 1, lavapipe), Reduction::SubgroupCross, "{len}");
            assert_eq!(pick(len, 1, h100), Reduction::SubgroupCross, "{len}");
        }
        // 257..512 elements are 32 lanes: one H100 subgroup, four of lavapipe's.
        assert_eq!(pick(257, 1, lavapipe), Reduction::SubgroupCross);
        assert_eq!(pick(257, 1, h100), Reduction::SubgroupWithin);
        // Strided: one partial per lane when the rows side by side fill a subgroup.
        assert_eq!(pick(64, 300, lavapipe), Reduction::SubgroupCross);
        assert_eq!(pick(128, 300, lavapipe), Reduction::SubgroupCross);
        assert_eq!(pick(256, 300, lavapipe), Reduction::Tree);
        assert_eq!(pick(5000, 40, lavapipe), Reduction::Tree);
    }

    #[test]
    fn no_subgroups_or_unusable_sizes_fall_back_to_the_tree() {
        for sizes in [
            None,
            Some((0, 8)),
            Some((8, 4)),
            Some((6, 6)),
            Some((8, 512)),
        ] {
            for len in [1, 32, 64, 5000] {
                assert_eq!(pick(len, 1, sizes), Reduction::Tree, "{sizes:?} {len}");
            }
        }
    }
}
