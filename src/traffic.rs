//! Bytes a call moves: what a perfect kernel must move, and what the library's plan moves
//! by design (passes, re-reads, partial sums), so a re-read shows even on an adapter whose
//! bandwidth roof cannot be measured. `wgact bench` prints both beside every row.

use crate::elementwise::Elementwise;
use crate::error::Result;
use crate::softmax::plan::{axis_view, strategy, Strategy};
use crate::softmax::Softmax;
use crate::{DType, Direction};

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
    /// same dtype read when `masked`). Rows up to 4096: one pass, x (y and dy) read once. Longer rows: a partials
    /// pass reads the row, the finishing pass reads it again with every partial of its row
    /// (one 16-byte f32 partial per chunk of the row), then writes.
    ///
    /// # Errors
    /// [`crate::Error::InvalidRank`], [`crate::Error::AxisOutOfRange`].
    pub fn traffic(
        &self,
        shape: &[usize],
        direction: Direction,
        masked: bool,
        dtype: DType,
    ) -> Result<Traffic> {
        let view = axis_view(shape, self.axis())?;
        let n = shape.iter().product::<usize>() as u64;
        let reads = match direction {
            Direction::Forward => 1,
            Direction::Backward => 2,
        } + masked as u64;
        let e = elem(dtype);
        let ideal_bytes = (reads + 1) * n * e;
        let design_bytes = match strategy(view.len, view.inner) {
            Strategy::Registers { .. } => ideal_bytes,
            Strategy::Long { chunks, .. } => {
                let rows = (view.outer * view.inner) as u64;
                let chunks = chunks as u64;
                // Each chunk's workgroup of the finishing pass reads all partials of its row.
                let partials = rows * chunks * 16 * (1 + chunks);
                (2 * reads + 1) * n * e + partials
            }
        };
        Ok(Traffic {
            dtype,
            ideal_bytes,
            design_bytes,
        })
    }
}
