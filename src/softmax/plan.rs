//! How a softmax call is cut into dispatches: the (outer, len, inner) view of the tensor, the
//! strategy for the row length, the slices that fit one storage binding, and the grid.
//! Pure arithmetic, unit-tested without a GPU.

use crate::direction::Direction;
use crate::error::{Error, Result};

/// Invocations per workgroup of every softmax kernel.
pub(crate) const WORKGROUP_SIZE: u32 = 256;
/// Elements each invocation holds in registers in the register kernels.
pub(crate) const REGS: u32 = 16;
/// Longest row the register kernels take: one workgroup of 256 lanes holding 16 each.
pub(crate) const MAX_REGISTER_ROW: usize = (WORKGROUP_SIZE * REGS) as usize;
/// Elements per lane per chunk in the long-row kernels.
const LONG_PER_LANE: u32 = 16;
/// A contiguous long row's chunk: the whole workgroup's lanes, 16 elements each.
pub(crate) const LONG_CHUNK_CONTIGUOUS: u32 = WORKGROUP_SIZE * LONG_PER_LANE;
/// Long strided rows put at most this many rows side by side in a workgroup.
const LONG_STRIDED_MAX_SLOTS: u32 = 16;

/// The tensor seen around the softmax axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AxisView {
    /// Product of the dimensions before the axis.
    pub outer: usize,
    /// Length of the axis.
    pub len: usize,
    /// Product of the dimensions after the axis (1 for the last axis).
    pub inner: usize,
}

/// Validates rank (>= 2, as Keras) and axis (in `[-rank, rank)`), and returns the view.
pub(crate) fn axis_view(shape: &[usize], axis: i64) -> Result<AxisView> {
    let rank = shape.len();
    if rank < 2 {
        return Err(Error::InvalidRank {
            op: "Softmax",
            rank,
            shape: shape.to_vec(),
            allowed: "2 or more (Keras cannot apply softmax to a 1-D tensor)",
        });
    }
    let r = rank as i64;
    if axis < -r || axis >= r {
        return Err(Error::AxisOutOfRange { axis, rank });
    }
    let a = if axis < 0 { axis + r } else { axis } as usize;
    Ok(AxisView {
        outer: shape[..a].iter().product(),
        len: shape[a],
        inner: shape[a + 1..].iter().product(),
    })
}

/// Which kernels serve a row length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Strategy {
    /// One dispatch; rows of at most `lanes * REGS` elements held in registers,
    /// `slots = 256 / lanes` rows per workgroup.
    Registers { lanes: u32, slots: u32 },
    /// Two dispatches (partials, finish); each row is cut into `chunks` chunks of
    /// `chunk_len` elements, one workgroup per (group of `slots` rows, chunk).
    Long {
        lanes: u32,
        slots: u32,
        chunk_len: u32,
        chunks: u32,
    },
}

impl Strategy {
    pub(crate) fn lanes(&self) -> u32 {
        match *self {
            Strategy::Registers { lanes, .. } | Strategy::Long { lanes, .. } => lanes,
        }
    }
    pub(crate) fn slots(&self) -> u32 {
        match *self {
            Strategy::Registers { slots, .. } | Strategy::Long { slots, .. } => slots,
        }
    }
    pub(crate) fn chunks(&self) -> u32 {
        match *self {
            Strategy::Registers { .. } => 1,
            Strategy::Long { chunks, .. } => chunks,
        }
    }
    pub(crate) fn chunk_len(&self) -> u32 {
        match *self {
            Strategy::Registers { lanes, .. } => lanes * REGS,
            Strategy::Long { chunk_len, .. } => chunk_len,
        }
    }
}

/// The strategy for rows of `len` elements lying `inner` apart.
///
/// - Rows up to 4096: `lanes = nextpow2(ceil(len / 16))` (at most 256), each lane holding up to
///   16 elements, so rows of 1..16 share a workgroup 256 to a workgroup, rows of 17..32 take 2
///   lanes, ..., rows of 2049..4096 take the whole workgroup. A contiguous row's lanes read
///   neighbouring elements; strided rows (neighbouring inner indices) sit side by side.
///   Sixteen elements a lane rather than four made rows of 32 to 1024 columns 2.5-3x faster
///   on lavapipe (fewer, cheaper reductions; the register loop is unrolled to 16 anyway).
/// - Longer rows: chunks of `lanes * 16` elements; 256 lanes for contiguous rows
///   (chunks of 4096), 16 rows side by side for strided ones.
pub(crate) fn strategy(len: usize, inner: usize) -> Strategy {
    let len = len.max(1);
    if len <= MAX_REGISTER_ROW {
        let lanes = (len.div_ceil(REGS as usize).next_power_of_two() as u32).min(WORKGROUP_SIZE);
        return Strategy::Registers {
            lanes,
            slots: WORKGROUP_SIZE / lanes,
        };
    }
    long_strategy(len, inner)
}

/// The strategy of rows too long for one binding (or whose strided span is): always the
/// two-pass chunked kernels, whatever the length, since the row is read piece by piece.
pub(crate) fn long_strategy(len: usize, inner: usize) -> Strategy {
    let slots = if inner == 1 {
        1
    } else {
        (inner.next_power_of_two() as u32).min(LONG_STRIDED_MAX_SLOTS)
    };
    let lanes = WORKGROUP_SIZE / slots;
    let chunk_len = lanes * LONG_PER_LANE;
    Strategy::Long {
        lanes,
        slots,
        chunk_len,
        chunks: len.max(1).div_ceil(chunk_len as usize) as u32,
    }
}

/// A set of rows reduced together: outer indices `[outer_start, outer_start + outers)` times
/// inner indices `[inner_start, inner_start + inner_count)`, row `r` being
/// `(outer_start + r / inner_count, inner_start + r % inner_count)`. Its rows are cut along the
/// axis into `pieces`, each bound on its own; the long kernels' partials of the group
/// (`rows * row_chunks` of them, piece after piece along each row) live in one scratch binding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RowGroup {
    pub outer_start: usize,
    /// More than one only for a group of whole outer indices (one piece of the whole axis):
    /// the kernels step between outer indices by the piece's `len * inner`.
    pub outers: usize,
    pub inner_start: usize,
    pub inner_count: usize,
    /// Chunks of a whole row, over all pieces (1 for the register kernels).
    pub row_chunks: u32,
    pub pieces: Vec<Piece>,
}

impl RowGroup {
    pub(crate) fn rows(&self) -> usize {
        self.outers * self.inner_count
    }
}

/// Axis positions `[k_start, k_start + k_len)` of a group's rows, bound from the aligned element
/// `bind_start` for `bind_len` elements; `base` is the element of (first row, `k_start`) inside
/// the binding. Its chunks are `chunk_base .. chunk_base + chunks` of the row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Piece {
    pub k_start: usize,
    pub k_len: usize,
    pub chunk_base: u32,
    pub chunks: u32,
    pub bind_start: usize,
    pub bind_len: usize,
    pub base: usize,
}

/// Chunks at the end of a long row that the resident finishing kernels hold in registers
/// (`TAIL_REGS / 16` in `shaders/softmax_{forward,backward}_finish_resident.wgsl`): one
/// forward (x), three backward (y and dy), so that a row of 32768 moves at most 1.5x the ideal
/// bytes in both directions.
const RESIDENT_TAIL_CHUNKS: [u32; 2] = [1, 3];
/// The resident finish runs one workgroup per `slots` rows instead of one per chunk: worth it
/// only where that still gives the device enough workgroups. 64 keeps both lavapipe's threads
/// and a GPU's SMs busy (the bench's 128 rows of 32768 qualify).
const RESIDENT_MIN_ROW_GROUPS: usize = 64;

/// The chunks of tail a group's long rows keep resident in the finishing pass (0: finish per
/// chunk, every chunk read twice). Only groups whose rows lie in one piece, with enough rows.
pub(crate) fn resident_tail(strategy: Strategy, group: &RowGroup, direction: Direction) -> u32 {
    let Strategy::Long { slots, .. } = strategy else {
        return 0;
    };
    let want = match direction {
        Direction::Forward => RESIDENT_TAIL_CHUNKS[0],
        Direction::Backward => RESIDENT_TAIL_CHUNKS[1],
    };
    if group.pieces.len() == 1
        && group.row_chunks >= 2
        && group.rows().div_ceil(slots as usize) >= RESIDENT_MIN_ROW_GROUPS
    {
        want.min(group.row_chunks - 1)
    } else {
        0
    }
}

/// How a call is cut: the strategy (the register kernels unless a row is long, or does not
/// fit one binding) and the row groups in dispatch order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    pub strategy: Strategy,
    pub groups: Vec<RowGroup>,
}

/// Cuts the tensor so that every dispatch's binding holds at most `max_elems` elements, each
/// binding starting on a multiple of `align_elems`, and every group's partials (16 bytes each)
/// fit `max_partials` of them. Three cases, the cheapest that fits:
/// - whole outer indices (`len * inner` elements each) per group, as many as fit;
/// - else (strided rows) one outer index and as many inner indices as fit beside the row's
///   span `(len - 1) * inner`;
/// - else the rows do not fit one binding: they go through the long kernels, cut along the
///   axis into pieces of at most one binding each (a row may span any number of bindings),
///   `slots` rows side by side at least when strided.
///
/// # Errors
/// [`Error::TooLarge`] only when one row's partials (16 bytes per chunk) exceed one binding,
/// which no tensor up to 2^32 elements reaches with the default bindings.
pub(crate) fn plan(
    view: AxisView,
    max_elems: usize,
    align_elems: usize,
    max_partials: usize,
) -> Result<Plan> {
    let mut strategy = strategy(view.len, view.inner);
    let per_outer = view.len * view.inner;
    if per_outer == 0 || view.outer == 0 {
        return Ok(Plan {
            strategy,
            groups: Vec::new(),
        });
    }
    let align = align_elems.max(1);
    let room = max_elems.saturating_sub(align - 1).max(1);
    let row_span = (view.len - 1) * view.inner + 1;
    // Rows a group may hold given the partials' binding (long kernels only).
    let partial_rows = |s: Strategy| match s {
        Strategy::Registers { .. } => usize::MAX,
        Strategy::Long { chunks, .. } => max_partials / chunks as usize,
    };
    let mut groups = Vec::new();
    let whole = |s: Strategy, outers: usize, inner_count: usize| {
        let row_chunks = s.chunks();
        RowGroup {
            outer_start: 0,
            outers,
            inner_start: 0,
            inner_count,
            row_chunks,
            pieces: vec![Piece {
                k_start: 0,
                k_len: view.len,
                chunk_base: 0,
                chunks: row_chunks,
                bind_start: 0,
                bind_len: 0,
                base: 0,
            }],
        }
    };
    if per_outer <= room && partial_rows(strategy) >= view.inner {
        let per_group = (room / per_outer).min(partial_rows(strategy) / view.inner);
        let mut o = 0;
        while o < view.outer {
            let outers = per_group.min(view.outer - o);
            groups.push(RowGroup {
                outer_start: o,
                ..whole(strategy, outers, view.inner)
            });
            o += outers;
        }
    } else if row_span <= room && partial_rows(strategy) >= 1 {
        let per_group = (room - row_span + 1)
            .min(view.inner)
            .min(partial_rows(strategy));
        for o in 0..view.outer {
            let mut i = 0;
            while i < view.inner {
                let count = per_group.min(view.inner - i);
                groups.push(RowGroup {
                    outer_start: o,
                    inner_start: i,
                    ..whole(strategy, 1, count)
                });
                i += count;
            }
        }
    } else {
        strategy = long_strategy(view.len, view.inner);
        let chunk_len = strategy.chunk_len() as usize;
        // Rows side by side: a workgroup's worth where strided, as long as a piece of at least
        // one chunk (or one position) still fits beside them.
        let want = view.inner.min(strategy.slots() as usize);
        let per_piece = if view.inner == 1 {
            room
        } else {
            (room.saturating_sub(want) / view.inner + 1).min(view.len)
        };
        let per_piece = if per_piece >= chunk_len {
            per_piece / chunk_len * chunk_len
        } else {
            per_piece
        };
        let inner_count = if view.inner == 1 {
            1
        } else {
            (room - (per_piece - 1) * view.inner).min(view.inner)
        };
        let mut pieces = Vec::new();
        let mut k = 0;
        let mut chunk_base = 0u32;
        while k < view.len {
            let k_len = per_piece.min(view.len - k);
            let chunks = k_len.div_ceil(chunk_len) as u32;
            pieces.push(Piece {
                k_start: k,
                k_len,
                chunk_base,
                chunks,
                bind_start: 0,
                bind_len: 0,
                base: 0,
            });
            chunk_base += chunks;
            k += k_len;
        }
        let row_chunks = chunk_base;
        let inner_count = inner_count.min(max_partials / row_chunks as usize);
        if inner_count == 0 {
            return Err(Error::TooLarge {
                what: "softmax partials (16 bytes per chunk of one row)",
                bytes: row_chunks as u64 * 16,
                max: max_partials as u64 * 16,
            });
        }
        for o in 0..view.outer {
            let mut i = 0;
            while i < view.inner {
                let count = inner_count.min(view.inner - i);
                groups.push(RowGroup {
                    outer_start: o,
                    outers: 1,
                    inner_start: i,
                    inner_count: count,
                    row_chunks,
                    pieces: pieces.clone(),
                });
                i += count;
            }
        }
    }
    for g in &mut groups {
        let first_row = g.outer_start * per_outer + g.inner_start;
        let last_row = (g.outer_start + g.outers - 1) * per_outer + g.inner_start + g.inner_count;
        for p in &mut g.pieces {
            let start = first_row + p.k_start * view.inner;
            let end = last_row + (p.k_start + p.k_len - 1) * view.inner;
            p.bind_start = start / align * align;
            p.bind_len = end - p.bind_start;
            p.base = start - p.bind_start;
            debug_assert!(p.bind_len <= max_elems, "{view:?} {p:?}");
        }
    }
    Ok(Plan { strategy, groups })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_axis_view_of_nchw_along_channels() {
        let v = axis_view(&[2, 3, 4, 5], 1).unwrap();
        assert_eq!(
            v,
            AxisView {
                outer: 2,
                len: 3,
                inner: 20
            }
        );
        assert_eq!(axis_view(&[2, 3, 4, 5], -1).unwrap().inner, 1);
        assert_eq!(axis_view(&[2, 3, 4, 5], -4).unwrap().outer, 1);
    }

    #[test]
    fn rank_one_and_axes_out_of_range_are_errors() {
        assert!(matches!(
            axis_view(&[5], -1),
            Err(Error::InvalidRank { rank: 1, .. })
        ));
        assert!(matches!(
            axis_view(&[], 0),
            Err(Error::InvalidRank { rank: 0, .. })
        ));
        assert!(matches!(
            axis_view(&[2, 3, 4], 3),
            Err(Error::AxisOutOfRange { axis: 3, rank: 3 })
        ));
        assert!(matches!(
            axis_view(&[2, 3, 4], -4),
            Err(Error::AxisOutOfRange { axis: -4, rank: 3 })
        ));
    }

    #[test]
    fn strategies_by_row_length() {
        assert_eq!(
            strategy(1, 1),
            Strategy::Registers {
                lanes: 1,
                slots: 256
            }
        );
        assert_eq!(
            strategy(7, 1),
            Strategy::Registers {
                lanes: 1,
                slots: 256
            }
        );
        assert_eq!(
            strategy(17, 1),
            Strategy::Registers {
                lanes: 2,
                slots: 128
            }
        );
        assert_eq!(
            strategy(64, 1),
            Strategy::Registers {
                lanes: 4,
                slots: 64
            }
        );
        assert_eq!(
            strategy(4096, 1),
            Strategy::Registers {
                lanes: 256,
                slots: 1
            }
        );
        assert_eq!(
            strategy(5, 20),
            Strategy::Registers {
                lanes: 1,
                slots: 256
            }
        );
        assert_eq!(
            strategy(1000, 3),
            Strategy::Registers {
                lanes: 64,
                slots: 4
            }
        );
        assert_eq!(
            strategy(4097, 1),
            Strategy::Long {
                lanes: 256,
                slots: 1,
                chunk_len: 4096,
                chunks: 2
            }
        );
        assert_eq!(
            strategy(5000, 3),
            Strategy::Long {
                lanes: 64,
                slots: 4,
                chunk_len: 1024,
                chunks: 5
            }
        );
        for len in 1..=MAX_REGISTER_ROW {
            for inner in [1, 2, 300] {
                let s = strategy(len, inner);
                assert_eq!(s.lanes() * s.slots(), WORKGROUP_SIZE);
                assert!(
                    len <= (s.lanes() * REGS) as usize,
                    "len {len} inner {inner}"
                );
            }
        }
    }

    /// Every element of every row is covered exactly once by the pieces, inside its piece's
    /// binding, and every binding is aligned and within the limit.
    fn assert_covers(view: AxisView, max: usize, align: usize, max_partials: usize) -> Plan {
        let plan = plan(view, max, align, max_partials).unwrap();
        let n = view.outer * view.len * view.inner;
        let mut seen = vec![0u8; n];
        for g in &plan.groups {
            let mut chunk = 0;
            for p in &g.pieces {
                assert_eq!(p.bind_start % align, 0, "{view:?} {p:?}");
                assert!(p.bind_len <= max, "{view:?} {p:?}");
                assert_eq!(p.chunk_base, chunk);
                assert_eq!(
                    p.chunks as usize,
                    p.k_len.div_ceil(plan.strategy.chunk_len() as usize)
                );
                chunk += p.chunks;
                for r in 0..g.rows() {
                    let (o, i) = (r / g.inner_count, r % g.inner_count);
                    for k in 0..p.k_len {
                        // As the shader computes it: outer indices `k_len * inner` apart
                        // (the piece's length, right because only whole-axis groups have
                        // more than one outer index).
                        let local = p.base + o * p.k_len * view.inner + i + k * view.inner;
                        assert!(local < p.bind_len, "{view:?} {p:?}");
                        seen[p.bind_start + local] += 1;
                        let global = (g.outer_start + o) * view.len * view.inner
                            + (g.inner_start + i)
                            + (p.k_start + k) * view.inner;
                        assert_eq!(p.bind_start + local, global);
                    }
                }
            }
            assert_eq!(chunk, g.row_chunks);
            assert!(g.rows() * g.row_chunks as usize <= max_partials || g.row_chunks == 1);
        }
        assert!(seen.iter().all(|&c| c == 1), "{view:?}");
        plan
    }

    #[test]
    fn plans_cover_every_element_once_within_aligned_bindings() {
        let v = |outer, len, inner| AxisView { outer, len, inner };
        // Whole outer indices per group.
        let p = assert_covers(v(10, 7, 3), 100, 8, 1 << 20);
        assert!(p.groups.len() > 1 && p.groups.iter().all(|g| g.pieces.len() == 1));
        // One outer index does not fit, one strided row does: inner ranges.
        let p = assert_covers(v(3, 7, 45), 300, 8, 1 << 20);
        assert!(matches!(p.strategy, Strategy::Registers { .. }));
        assert!(p.groups.iter().all(|g| g.outers == 1 && g.inner_count < 45));
        // axis 0 of a tensor past one binding: one row of 2 spans 2 * inner.
        assert_covers(v(1, 2, 1000), 600, 16, 1 << 20);
        // Rows longer than a binding: long kernels, pieces along the axis.
        for (view, max) in [
            (v(2, 9000, 1), 4096),
            (v(3, 10_007, 1), 4000),
            (v(1, 20_000, 1), 4096),
            (v(2, 300, 40), 4096),
            (v(2, 5000, 3), 4096),
            (v(1, 70, 5000), 4096),
            (v(2, 3, 3000), 1024),
        ] {
            let p = assert_covers(view, max, 16, 1 << 20);
            assert!(matches!(p.strategy, Strategy::Long { .. }), "{view:?}");
            assert!(p.groups[0].pieces.len() > 1, "{view:?}");
        }
        // Few partials: fewer rows per group.
        let p = assert_covers(v(64, 5000, 1), 1 << 20, 16, 4);
        assert!(p.groups.iter().all(|g| g.rows() * 2 <= 4));
    }

    #[test]
    fn only_a_row_whose_partials_exceed_a_binding_is_too_large() {
        let view = AxisView {
            outer: 1,
            len: 100_000,
            inner: 1,
        };
        assert!(matches!(
            plan(view, 4096, 16, 8),
            Err(Error::TooLarge { .. })
        ));
        assert!(plan(view, 4096, 16, 25).is_ok());
    }
}
