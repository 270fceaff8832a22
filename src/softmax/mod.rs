//! `Softmax(axis=-1)`: forward and backward along any axis, with an optional mask.
//!
//! The tensor is viewed as `(outer, len, inner)` around the axis; each of the `outer * inner`
//! rows is reduced inside a workgroup, with a strategy picked by row
//! length (see [`plan::strategy`]): short rows share a workgroup, rows up to 4096 elements are
//! read once into registers, longer rows go through a two-pass chunked scheme. Tensors past one
//! storage binding are cut by [`plan::plan`]: whole outer indices, else inner ranges, else
//! (a row longer than a binding) pieces of the row through the chunked scheme. Non-last axes
//! are reduced in place by a strided layout in which neighbouring invocations handle
//! neighbouring inner indices, so no transpose is ever made.
//!
//! The lanes of a row are reduced with subgroup shuffles where the device has
//! `Features::SUBGROUP` (no barrier when a row fits the smallest subgroup, one barrier
//! otherwise), or with shared-memory trees (the fallback); the choice is a pipeline variant
//! made on the host per call (see `kernels::Reduction::pick`), never a branch on data.

pub(crate) mod choice;
mod kernels;
#[cfg(test)]
pub(crate) use kernels::uniform_layouts;
pub(crate) mod plan;

use crate::batch::{check_aliasing, Batch};
use crate::error::Result;
use crate::gpu::Gpu;
use crate::tensor::Tensor;

pub(crate) use plan::axis_view;

use crate::direction::Direction;
pub(crate) use kernels::SoftmaxKernelKey;

/// Keras `Softmax(axis=-1)`: `y = exp(x - max) / sum(exp(x - max))` along `axis`, computed as
/// TensorFlow does (`exp(x - max) * (1 / sum)`), and its gradient
/// `dx = (dy - sum(dy * y)) * y` from `y` and `dy`.
///
/// - `axis` is any integer in `[-rank, rank)`, the batch axis 0 included; it is checked when
///   the layer is called, as in TensorFlow. Inputs of rank 1 (or 0) are rejected, as Keras
///   rejects them.
/// - Special rows (TensorFlow's Eigen path): a row containing NaN or +inf, or made only of
///   -inf, gives a row of NaN in `y` and in `dx`; -inf entries of other rows give `y = 0` and
///   `dx = 0`; huge finite values (±1e30, ±FLT_MAX) stay finite because the max is subtracted
///   first; a row of equal values gives `1/n`.
/// - Masked variants ([`Softmax::forward_masked`], [`Softmax::backward_masked`]) take a mask
///   tensor of the same shape: `0.0` (either sign) masks a position, any other value (NaN
///   included) keeps it. Masked positions are ignored entirely (their `x` is never looked at,
///   so a NaN there does not poison the row), get `y = 0` exactly and `dx = 0`; the kept
///   positions get the softmax of the kept values alone. A fully masked row gives all zeros,
///   not NaN: this deliberately differs from the usual additive `-1e9` mask, which would give
///   `1/n` there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Softmax {
    axis: i64,
}

impl Default for Softmax {
    fn default() -> Self {
        Self { axis: -1 }
    }
}

impl Softmax {
    /// A softmax over `axis`. Any axis is accepted here; it is checked against the input's
    /// rank when the layer is called (as in TensorFlow).
    ///
    /// # Errors
    /// None today; the `Result` keeps the constructor uniform with the other layers.
    pub fn new(axis: i64) -> Result<Self> {
        Ok(Self { axis })
    }

    pub fn axis(&self) -> i64 {
        self.axis
    }

    /// `y = softmax(x)` along the axis.
    ///
    /// # Errors
    /// [`Error::InvalidRank`](crate::Error::InvalidRank) below rank 2,
    /// [`Error::AxisOutOfRange`](crate::Error::AxisOutOfRange) for an axis outside
    /// `[-rank, rank)`, [`Error::ForeignTensor`](crate::Error::ForeignTensor),
    /// [`Error::TooLarge`](crate::Error::TooLarge) past the adapter's `max_buffer_size` (rows
    /// longer than one storage binding are cut into pieces); GPU errors.
    pub fn forward(&self, gpu: &Gpu, x: &Tensor) -> Result<Tensor> {
        self.forward_impl(gpu, x, None)
    }

    /// `y = softmax(x)` over the kept positions (`mask != 0`); 0 at masked positions.
    ///
    /// # Errors
    /// As [`Softmax::forward`], and [`Error::ShapeMismatch`](crate::Error::ShapeMismatch)
    /// when `mask` has another shape.
    pub fn forward_masked(&self, gpu: &Gpu, x: &Tensor, mask: &Tensor) -> Result<Tensor> {
        self.forward_impl(gpu, x, Some(mask))
    }

    /// `dx = (dy - sum(dy * y)) * y` along the axis, from the forward output `y`.
    ///
    /// # Errors
    /// As [`Softmax::forward`], and [`Error::ShapeMismatch`](crate::Error::ShapeMismatch)
    /// when `dy` has another shape than `y`.
    pub fn backward(&self, gpu: &Gpu, y: &Tensor, dy: &Tensor) -> Result<Tensor> {
        self.backward_impl(gpu, y, dy, None)
    }

    /// The gradient of [`Softmax::forward_masked`]: the sum runs over kept positions only and
    /// masked positions get `dx = 0`.
    ///
    /// # Errors
    /// As [`Softmax::backward`], and a shape mismatch of `mask`.
    pub fn backward_masked(
        &self,
        gpu: &Gpu,
        y: &Tensor,
        dy: &Tensor,
        mask: &Tensor,
    ) -> Result<Tensor> {
        self.backward_impl(gpu, y, dy, Some(mask))
    }

    fn forward_impl(&self, gpu: &Gpu, x: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
        x.check_gpu(gpu, "x")?;
        axis_view(x.shape(), self.axis)?;
        let y = Tensor::alloc_like(gpu, "softmax/y", x)?;
        self.forward_into(gpu, x, mask, &y)?;
        Ok(y)
    }

    fn backward_impl(
        &self,
        gpu: &Gpu,
        y: &Tensor,
        dy: &Tensor,
        mask: Option<&Tensor>,
    ) -> Result<Tensor> {
        y.check_gpu(gpu, "y")?;
        axis_view(y.shape(), self.axis)?;
        let dx = Tensor::alloc_like(gpu, "softmax/dx", y)?;
        self.backward_into(gpu, y, dy, mask, &dx)?;
        Ok(dx)
    }

    /// `y = softmax(x)` (over the kept positions with a `mask`) into an existing tensor or
    /// view.
    ///
    /// # Errors
    /// As [`Softmax::record_forward`]; GPU errors.
    pub fn forward_into(
        &self,
        gpu: &Gpu,
        x: &Tensor,
        mask: Option<&Tensor>,
        y: &Tensor,
    ) -> Result<()> {
        let mut batch = Batch::new(gpu);
        self.record_forward(&mut batch, x, mask, y)?;
        batch.submit().map(drop)
    }

    /// `x = softmax(x)` in place.
    ///
    /// # Errors
    /// As [`Softmax::record_forward_in_place`]; GPU errors.
    pub fn forward_in_place(&self, gpu: &Gpu, x: &Tensor, mask: Option<&Tensor>) -> Result<()> {
        let mut batch = Batch::new(gpu);
        self.record_forward_in_place(&mut batch, x, mask)?;
        batch.submit().map(drop)
    }

    /// `dx` into an existing tensor or view.
    ///
    /// # Errors
    /// As [`Softmax::record_backward`]; GPU errors.
    pub fn backward_into(
        &self,
        gpu: &Gpu,
        y: &Tensor,
        dy: &Tensor,
        mask: Option<&Tensor>,
        dx: &Tensor,
    ) -> Result<()> {
        let mut batch = Batch::new(gpu);
        self.record_backward(&mut batch, y, dy, mask, dx)?;
        batch.submit().map(drop)
    }

    /// `dy = dx` in place.
    ///
    /// # Errors
    /// As [`Softmax::record_backward_in_place`]; GPU errors.
    pub fn backward_in_place(
        &self,
        gpu: &Gpu,
        y: &Tensor,
        dy: &Tensor,
        mask: Option<&Tensor>,
    ) -> Result<()> {
        let mut batch = Batch::new(gpu);
        self.record_backward_in_place(&mut batch, y, dy, mask)?;
        batch.submit().map(drop)
    }

    /// Validates the axis and the shapes and devices of `tensors` (all of `shape`).
    fn check(
        &self,
        gpu: &Gpu,
        shape: &[usize],
        tensors: &[(&'static str, Option<&Tensor>)],
    ) -> Result<()> {
        axis_view(shape, self.axis)?;
        for (what, t) in tensors {
            if let Some(t) = t {
                t.expect(gpu, what, shape)?;
            }
        }
        Ok(())
    }

    /// Records `y = softmax(x)` into `batch` (over the kept positions with a `mask`).
    ///
    /// # Errors
    /// [`Error::InvalidRank`](crate::Error::InvalidRank) below rank 2,
    /// [`Error::AxisOutOfRange`](crate::Error::AxisOutOfRange),
    /// [`Error::ForeignTensor`](crate::Error::ForeignTensor),
    /// [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) for a `y` or `mask` of another
    /// shape, [`Error::Aliasing`](crate::Error::Aliasing) when `y` shares a buffer with `x`
    /// or `mask` (use the in-place call), [`Error::TooLarge`](crate::Error::TooLarge) only when
    /// one row's partial sums (16 bytes per chunk of 256 to 4096 elements) exceed one storage
    /// binding, which no tensor within `max_buffer_size` reaches with WebGPU's default limits.
    pub fn record_forward(
        &self,
        batch: &mut Batch<'_>,
        x: &Tensor,
        mask: Option<&Tensor>,
        y: &Tensor,
    ) -> Result<()> {
        x.check_gpu(batch.gpu(), "x")?;
        self.check(batch.gpu(), x.shape(), &[("y", Some(y)), ("mask", mask)])?;
        let mut reads = vec![("x", x)];
        reads.extend(mask.map(|m| ("mask", m)));
        check_aliasing(&reads, &[("y", y)])?;
        kernels::record(batch, Direction::Forward, self.axis, &[x], mask, y, false)
    }

    /// Records `x = softmax(x)` in place into `batch`.
    ///
    /// # Errors
    /// As [`Softmax::record_forward`].
    pub fn record_forward_in_place(
        &self,
        batch: &mut Batch<'_>,
        x: &Tensor,
        mask: Option<&Tensor>,
    ) -> Result<()> {
        x.check_gpu(batch.gpu(), "x")?;
        self.check(batch.gpu(), x.shape(), &[("mask", mask)])?;
        if let Some(m) = mask {
            check_aliasing(&[("mask", m)], &[("x (overwritten with y)", x)])?;
        }
        kernels::record(batch, Direction::Forward, self.axis, &[x], mask, x, true)
    }

    /// Records `dx = (dy - sum(dy * y)) * y` into `batch`.
    ///
    /// # Errors
    /// As [`Softmax::record_forward`], for `dy`, `dx` and `mask` of `y`'s shape.
    pub fn record_backward(
        &self,
        batch: &mut Batch<'_>,
        y: &Tensor,
        dy: &Tensor,
        mask: Option<&Tensor>,
        dx: &Tensor,
    ) -> Result<()> {
        y.check_gpu(batch.gpu(), "y")?;
        self.check(
            batch.gpu(),
            y.shape(),
            &[("dy", Some(dy)), ("dx", Some(dx)), ("mask", mask)],
        )?;
        let mut reads = vec![("y", y), ("dy", dy)];
        reads.extend(mask.map(|m| ("mask", m)));
        check_aliasing(&reads, &[("dx", dx)])?;
        kernels::record(
            batch,
            Direction::Backward,
            self.axis,
            &[y, dy],
            mask,
            dx,
            false,
        )
    }

    /// Records `dy = dx` in place into `batch`: each row's sum is complete before any of its
    /// elements is overwritten.
    ///
    /// # Errors
    /// As [`Softmax::record_backward`].
    pub fn record_backward_in_place(
        &self,
        batch: &mut Batch<'_>,
        y: &Tensor,
        dy: &Tensor,
        mask: Option<&Tensor>,
    ) -> Result<()> {
        y.check_gpu(batch.gpu(), "y")?;
        self.check(batch.gpu(), y.shape(), &[("dy", Some(dy)), ("mask", mask)])?;
        let mut reads = vec![("y", y)];
        reads.extend(mask.map(|m| ("mask", m)));
        check_aliasing(&reads, &[("dy (overwritten with dx)", dy)])?;
        kernels::record(
            batch,
            Direction::Backward,
            self.axis,
            &[y, dy],
            mask,
            dy,
            true,
        )
    }
}

/// Every WGSL source of this family, labelled
/// `softmax/<entry>[/masked][/subgroup|/subgroup_cross][/in_place]`.
pub(crate) fn shader_sources() -> Vec<(String, String)> {
    SoftmaxKernelKey::all()
        .into_iter()
        .map(|k| {
            let s = k.source();
            (s.label.clone(), s.wgsl())
        })
        .collect()
}
