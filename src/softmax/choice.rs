//! Which softmax kernels a call takes, and in which layout, from the plan (row length, strides,
//! bindings), whether every tensor starts on a whole vec4, and what the adapter is. Pure
//! arithmetic, unit-tested without a GPU; `kernels::record` dispatches what it decides and
//! `Softmax::traffic_on` counts its bytes.
//!
//! A GPU takes the plan's layout: a row's lanes across subgroups, strided rows side by side,
//! long rows in workgroup chunks with the resident finish. A CPU adapter (lavapipe,
//! SwiftShader) takes layouts that keep every reduction inside one subgroup, because a
//! workgroup barrier is what costs there: lavapipe runs a workgroup as SIMD coroutines and
//! suspends and resumes each, with its live registers, at every barrier (backward rows of 4096
//! ran at 0.30 of the copy roof with their one barrier and at 0.83 with it removed).

use super::plan::{AxisView, Plan, Strategy, LONG_CHUNK_CONTIGUOUS, REGS, WORKGROUP_SIZE};

/// vec4 units per lane of the vec4 register kernels where a row may span subgroups: REGS
/// elements, as the scalar kernels.
pub(crate) const UNITS: u32 = REGS / 4;
/// The most vec4 units a lane holds in a CPU adapter's one-subgroup rows and chunks.
pub(crate) const MAX_CPU_UNITS: u32 = 128;
/// The vec4 units a lane of the strided vec4 kernels (`Cols4`) aims at; it holds at most
/// 16 (rows that take the kernel are at most 16 a lane on a subgroup).
pub(crate) const COLS_UNITS: u32 = 4;
/// The most registers a lane holds in the one-lane strided rows of CPU adapters without
/// subgroups.
pub(crate) const MAX_CPU_REGS: u32 = 128;

/// What the choice needs to know about the adapter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Adapter {
    /// A CPU adapter taking softmax's CPU kernels (`Gpu::cpu_softmax`).
    pub cpu: bool,
    /// A CPU adapter's subgroup size, where it has subgroups of one size
    /// (`Gpu::cpu_subgroup_size`).
    pub cpu_subgroup: Option<u32>,
}

impl Adapter {
    /// What `gpu` is, for softmax.
    pub(crate) fn of(gpu: &crate::Gpu) -> Adapter {
        Adapter {
            cpu: gpu.cpu_softmax(),
            cpu_subgroup: gpu.cpu_subgroup_size(),
        }
    }
}

/// The kernels of a call (forward or backward alike).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kernels {
    /// One pass, registers, one element at a time.
    Rows,
    /// One pass, registers, contiguous rows in vec4s.
    Rows4,
    /// One pass, registers, four strided rows a lane in vec4s (CPU adapters).
    Cols4,
    /// Partials, then finish (resident where the plan says so).
    Long,
    /// Partials, then a finish folding the row's partials per lane, each chunk held by one
    /// subgroup in vec4s (CPU adapters); no resident tail.
    Long4,
}

/// The choice for one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Choice {
    pub kernels: Kernels,
    /// The plan's strategy with this choice's lanes and slots.
    pub strategy: Strategy,
    /// Registers (scalar kernels) or vec4 units (vec4 kernels) a lane; 0 for `Long`.
    pub per_lane: u32,
    /// A strided row's lanes lie `slots` apart (see `SoftmaxKernelKey::side_by_side`).
    pub side_by_side: bool,
    /// 4 where four rows share a lane (`Cols4`): rows, inner indices and elements are then
    /// counted in vec4s.
    pub quad: usize,
}

impl Choice {
    /// Whether the tensors are bound as vec4s.
    pub(crate) fn vec4(&self) -> bool {
        matches!(
            self.kernels,
            Kernels::Rows4 | Kernels::Cols4 | Kernels::Long4
        )
    }
}

/// The kernels and layout of a call on `adapter` along `view`, cut as `plan`; `aligned`: every
/// tensor starts on a whole vec4.
pub(crate) fn choose(adapter: Adapter, view: AxisView, plan: &Plan, aligned: bool) -> Choice {
    let strided = view.inner > 1;
    let whole_vec4s = aligned && view.len.is_multiple_of(4);
    let registers = |lanes: u32| Strategy::Registers {
        lanes,
        slots: WORKGROUP_SIZE / lanes,
    };
    let mut choice = Choice {
        kernels: Kernels::Rows,
        strategy: plan.strategy,
        per_lane: REGS,
        side_by_side: strided,
        quad: 1,
    };
    match plan.strategy {
        Strategy::Registers { lanes, .. } => {
            if !strided && whole_vec4s {
                // Contiguous rows of whole vec4s: one index and one bounds check per vec4, and
                // neighbouring lanes read neighbouring 16-byte units (good on every adapter).
                choice.kernels = Kernels::Rows4;
                choice.per_lane = UNITS;
                // CPU: rows the lanes would spread over several subgroups take one subgroup,
                // each lane holding more units.
                if let Some(size) = adapter.cpu_subgroup {
                    let want = ((view.len / 4) as u32).div_ceil(size).next_power_of_two();
                    if want > UNITS && want <= MAX_CPU_UNITS {
                        choice.per_lane = want;
                        choice.strategy = registers(size);
                    }
                }
            } else if strided {
                match adapter.cpu_subgroup {
                    // CPU with subgroups: a row's lanes next to each other inside one subgroup
                    // (lavapipe loads each lane's element on its own, so rows side by side buy
                    // nothing there), and four neighbouring rows to a lane in vec4s where the
                    // inner indices come in fours (every group's too).
                    Some(size) if lanes <= size => {
                        choice.side_by_side = false;
                        let fours = plan.groups.iter().all(|g| {
                            g.inner_start.is_multiple_of(4)
                                && g.inner_count.is_multiple_of(4)
                                && g.pieces.iter().all(|p| p.base.is_multiple_of(4))
                        });
                        if aligned && view.inner.is_multiple_of(4) && fours {
                            choice.kernels = Kernels::Cols4;
                            choice.quad = 4;
                            // About COLS_UNITS vec4s a lane: more lanes a quad (up to the
                            // subgroup) than the plan's 16 elements a lane give. Axis 1 of
                            // 4x64x128x128 on lavapipe (subgroups of 8), one process, tensors on
                            // and off 64-byte lines, forward / backward ms: two lanes of 32 vec4s
                            // 5.5 – 9.5 / 13 – 22, four of 16: 7.4 – 8.2 / 9 – 13, eight of 8:
                            // 5.5 – 6.1 / 7.6 – 8.7. Rows of 16: four lanes of 4 (5.6 / 6.3)
                            // against one of 16 (5.2 / 14 – 17); rows of 32: four or eight
                            // lanes (about 5.8 / 6.5) against two (5.5 – 9 / 7 – 15). A lane
                            // holding y and dy spills them, and the more it holds the more the
                            // time depends on where the buffers lie.
                            let len = view.len as u32;
                            let lanes = len.div_ceil(COLS_UNITS).next_power_of_two().min(size);
                            choice.strategy = registers(lanes);
                            choice.per_lane = len.div_ceil(lanes).next_power_of_two();
                        }
                    }
                    // CPU without subgroups: rows of up to MAX_CPU_REGS one lane each, with
                    // nothing to reduce across lanes.
                    None if adapter.cpu => {
                        let want = (view.len as u32).next_power_of_two();
                        if want > REGS && want <= MAX_CPU_REGS {
                            choice.per_lane = want;
                            choice.strategy = registers(1);
                        }
                    }
                    _ => {}
                }
            }
        }
        Strategy::Long {
            chunk_len, chunks, ..
        } => {
            choice.kernels = Kernels::Long;
            choice.per_lane = 0;
            // CPU with subgroups: contiguous rows of whole vec4s, each in one binding, keep the
            // chunks of LONG_CHUNK_CONTIGUOUS, each held by one subgroup.
            if let Some(size) = adapter.cpu_subgroup {
                let units = chunk_len / 4 / size;
                if !strided
                    && whole_vec4s
                    && chunk_len == LONG_CHUNK_CONTIGUOUS
                    && units.is_power_of_two()
                    && units <= MAX_CPU_UNITS
                    && plan.groups.iter().all(|g| g.pieces.len() == 1)
                {
                    choice.kernels = Kernels::Long4;
                    choice.per_lane = units;
                    choice.strategy = Strategy::Long {
                        lanes: size,
                        slots: WORKGROUP_SIZE / size,
                        chunk_len,
                        chunks,
                    };
                }
            }
        }
    }
    choice
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::softmax::plan::plan;

    const GPU: Adapter = Adapter {
        cpu: false,
        cpu_subgroup: None,
    };
    const LAVAPIPE: Adapter = Adapter {
        cpu: true,
        cpu_subgroup: Some(8),
    };
    const CPU_NO_SUBGROUPS: Adapter = Adapter {
        cpu: true,
        cpu_subgroup: None,
    };

    fn pick(adapter: Adapter, outer: usize, len: usize, inner: usize, aligned: bool) -> Choice {
        let view = AxisView { outer, len, inner };
        let p = plan(view, 1 << 25, 64, 1 << 23).unwrap();
        choose(adapter, view, &p, aligned)
    }

    #[test]
    fn a_gpu_takes_the_plans_layout() {
        let c = pick(GPU, 64, 1024, 1, true);
        assert_eq!(
            (c.kernels, c.per_lane, c.strategy.lanes()),
            (Kernels::Rows4, 4, 64)
        );
        assert_eq!(pick(GPU, 64, 1022, 1, true).kernels, Kernels::Rows);
        assert_eq!(pick(GPU, 64, 1024, 1, false).kernels, Kernels::Rows);
        let c = pick(GPU, 4, 64, 16384, true);
        assert_eq!(
            (c.kernels, c.side_by_side, c.quad),
            (Kernels::Rows, true, 1)
        );
        assert_eq!(pick(GPU, 128, 32768, 1, true).kernels, Kernels::Long);
    }

    #[test]
    fn lavapipe_keeps_every_reduction_inside_a_subgroup() {
        // Rows of 32: 2 lanes of 4 units already fit a subgroup.
        let c = pick(LAVAPIPE, 64, 32, 1, true);
        assert_eq!(
            (c.kernels, c.per_lane, c.strategy.lanes()),
            (Kernels::Rows4, 4, 2)
        );
        // Rows of 1024 and 4096: 8 lanes of 32 and 128 units.
        for (len, units) in [(1024, 32), (4096, 128)] {
            let c = pick(LAVAPIPE, 64, len, 1, true);
            assert_eq!(
                (c.kernels, c.per_lane, c.strategy.lanes()),
                (Kernels::Rows4, units, 8)
            );
        }
        // Strided rows: neighbouring lanes, four rows a lane where the inner indices allow.
        let c = pick(LAVAPIPE, 4, 64, 16384, true);
        assert_eq!(
            (c.kernels, c.side_by_side, c.quad),
            (Kernels::Cols4, false, 4)
        );
        // Strided vec4 rows: about four vec4s a lane, at most a subgroup of lanes.
        for (len, lanes, units) in [(3, 1, 4), (16, 4, 4), (20, 8, 4), (64, 8, 8), (128, 8, 16)] {
            let c = pick(LAVAPIPE, 4, len, 16384, true);
            assert_eq!(
                (c.kernels, c.strategy.lanes(), c.per_lane),
                (Kernels::Cols4, lanes, units),
                "rows of {len}"
            );
        }
        let c = pick(LAVAPIPE, 4, 64, 16383, true);
        assert_eq!(
            (c.kernels, c.side_by_side, c.quad),
            (Kernels::Rows, false, 1)
        );
        // Strided rows wider than a subgroup of lanes stay side by side.
        let c = pick(LAVAPIPE, 4, 1000, 300, true);
        assert_eq!((c.kernels, c.side_by_side), (Kernels::Rows, true));
        // Long rows: chunks of 4096 held by one subgroup of 128 units a lane.
        let c = pick(LAVAPIPE, 128, 32768, 1, true);
        assert_eq!(
            (c.kernels, c.per_lane, c.strategy.lanes()),
            (Kernels::Long4, 128, 8)
        );
        assert_eq!(c.strategy.chunk_len(), 4096);
        assert_eq!(pick(LAVAPIPE, 128, 32766, 1, true).kernels, Kernels::Long);
    }

    #[test]
    fn a_cpu_adapter_without_subgroups_takes_one_lane_per_strided_row_up_to_128() {
        let c = pick(CPU_NO_SUBGROUPS, 4, 64, 16384, true);
        assert_eq!(
            (c.kernels, c.per_lane, c.strategy.lanes()),
            (Kernels::Rows, 64, 1)
        );
        let c = pick(CPU_NO_SUBGROUPS, 4, 200, 300, true);
        assert_eq!((c.per_lane, c.side_by_side), (REGS, true));
        assert_eq!(pick(CPU_NO_SUBGROUPS, 64, 1024, 1, true).per_lane, UNITS);
    }
}
