//! Bytes a call moves: what a perfect kernel must move, and what the library's plan moves
//! by design (passes, re-reads, partial sums), so a re-read shows even on an adapter whose
//! bandwidth roof cannot be measured. `wgact bench` prints both beside every row.

use crate::elementwise::Elementwise;
use crate::error::Result;
use crate::softmax::choice::{choose, Adapter, Kernels};
use crate::softmax::plan::{axis_view, plan, resident_tail, Strategy};
use crate::softmax::Softmax;
use crate::{DType, Direction, Gpu};

/// Bytes of one call on tensors of one dtype: `dtype.size_bytes()` per tensor element (4 for
/// f32, 2 for f16 whether stored natively or packed two to a word); parameters and partial
/// sums are f32 whatever the dtype.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Traffic {
    /// The dtype of the call's tensors.
    pub dtype: DType,
    /// What a perfect kernel moves: every input read once, every output written once
    /// (parameters such as PReLU's alpha not counted; dalpha's write counted).
    pub ideal_bytes: u64,
    /// What the recorded kernels move by design: every pass's reads and writes of the
    /// tensors, parameters and partial sums, assuming no cache serves a re-read.
    pub design_bytes: u64,
}

impl Traffic {
    /// `design_bytes / ideal_bytes` (1.0 when nothing is re-read).
    pub fn ratio(&self) -> f64 {
        self.design_bytes as f64 / self.ideal_bytes.max(1) as f64
    }
}

/// Bytes of an f32 parameter or partial sum.
pub(crate) const F32: u64 = 4;

/// Bytes of one tensor element of `dtype`.
pub(crate) fn elem(dtype: DType) -> u64 {
    dtype.size_bytes() as u64
}

impl Elementwise {
    /// The traffic of one direction over `n` elements of `dtype`: one pass, forward 2n
    /// elements (8n bytes in f32, 4n in f16), backward 3n.
    pub fn traffic(&self, n: usize, direction: Direction, dtype: DType) -> Traffic {
        let tensors = match direction {
            Direction::Forward => 2,
            Direction::Backward => 3,
        };
        let bytes = n as u64 * elem(dtype) * tensors;
        Traffic {
            dtype,
            ideal_bytes: bytes,
            design_bytes: bytes,
        }
    }
}

impl Softmax {
    /// The traffic of one direction on a tensor of `shape` and `dtype` (plus a mask of the
    /// same dtype read when `masked`; partial sums are f32 whatever the dtype), from the plan a call makes with WebGPU's default 128 MiB bindings (256-byte aligned).
    /// Rows up to 4096: one pass, x (y and dy) read once. Longer rows, and rows spanning
    /// bindings: a partials pass reads the row (one 16-byte partial written per chunk), the
    /// finishing pass reads it again, each of its workgroups reading all partials of its row,
    /// and writes; where the finish is resident (many rows: see `plan::resident_tail`) the
    /// row's tail is read only by the finish, once, and each row's partials once.
    ///
    /// # Errors
    /// [`crate::Error::InvalidRank`], [`crate::Error::AxisOutOfRange`],
    /// [`crate::Error::TooLarge`] as a call would.
    pub fn traffic(
        &self,
        shape: &[usize],
        direction: Direction,
        masked: bool,
        dtype: DType,
    ) -> Result<Traffic> {
        self.traffic_of(None, shape, direction, masked, dtype)
    }

    /// As [`Softmax::traffic`], for a call on `gpu`: a CPU adapter with subgroups takes long
    /// contiguous rows without the resident tail (each chunk held by one subgroup, see
    /// `src/softmax/kernels.rs`), so they are read twice there.
    ///
    /// # Errors
    /// As [`Softmax::traffic`].
    pub fn traffic_on(
        &self,
        gpu: &Gpu,
        shape: &[usize],
        direction: Direction,
        masked: bool,
        dtype: DType,
    ) -> Result<Traffic> {
        self.traffic_of(Some(gpu), shape, direction, masked, dtype)
    }

    fn traffic_of(
        &self,
        gpu: Option<&Gpu>,
        shape: &[usize],
        direction: Direction,
        masked: bool,
        dtype: DType,
    ) -> Result<Traffic> {
        const BINDING: usize = 128 << 20;
        const ALIGN: usize = 256 / F32 as usize;
        let view = axis_view(shape, self.axis())?;
        let n = shape.iter().product::<usize>() as u64;
        let reads = match direction {
            Direction::Forward => 1,
            Direction::Backward => 2,
        } + masked as u64;
        let e = elem(dtype);
        let ideal_bytes = (reads + 1) * n * e;
        let plan = plan(view, BINDING / 4 - ALIGN, ALIGN, BINDING / 16)?;
        // The library's own tensors start on whole vec4s.
        let resident = gpu.is_none_or(|gpu| {
            choose(Adapter::of(gpu), view, &plan, true).kernels != Kernels::Long4
        });
        let chunk_len = plan.strategy.chunk_len() as u64;
        let mut design_bytes = 0;
        for group in &plan.groups {
            let rows = group.rows() as u64;
            let elems = rows * view.len as u64;
            let Strategy::Long { .. } = plan.strategy else {
                design_bytes += (reads + 1) * elems * e;
                continue;
            };
            let tail = match resident {
                true => resident_tail(plan.strategy, group, direction) as u64,
                false => 0,
            };
            let chunks = group.row_chunks as u64;
            if tail == 0 {
                // Each chunk's workgroup of the finishing pass reads all partials of its row.
                let partials = rows * chunks * 16 * (1 + chunks);
                design_bytes += (2 * reads + 1) * elems * e + partials;
            } else {
                let reduced = (chunks - tail) * chunk_len;
                let twice = rows * reduced;
                design_bytes += (reads * (elems + twice) + elems) * e + rows * (chunks - tail) * 32;
            }
        }
        Ok(Traffic {
            dtype,
            ideal_bytes,
            design_bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_long_rows_move_at_most_one_and_a_half_times_the_ideal_bytes() {
        let layer = Softmax::default();
        for dir in [Direction::Forward, Direction::Backward] {
            let t = layer
                .traffic(&[128, 32768], dir, false, DType::F32)
                .unwrap();
            assert!(t.ratio() <= 1.5, "{dir:?} {}", t.ratio());
            // A few rows finish per chunk: every chunk read twice.
            let few = layer.traffic(&[2, 32768], dir, false, DType::F32).unwrap();
            let reads = if dir == Direction::Forward { 1 } else { 2 };
            assert!(few.ratio() > (2.0 * reads as f64 + 1.0) / (reads as f64 + 1.0));
            // Rows up to 4096: one pass.
            assert_eq!(
                layer
                    .traffic(&[128, 4096], dir, true, DType::F32)
                    .unwrap()
                    .ratio(),
                1.0
            );
        }
    }
}
