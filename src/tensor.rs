//! GPU tensors: a buffer, a shape and a dtype.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::gpu::{DType, Gpu};

/// A tensor living in GPU memory. Cheap to clone (the buffer is shared).
///
/// Buffers are padded to a multiple of 16 bytes (zero-filled), so kernels can load and
/// store whole `vec4`s without a scalar tail; the padding is never read back.
#[derive(Clone, Debug)]
pub struct Tensor {
    storage: Arc<Storage>,
    shape: Vec<usize>,
}

#[derive(Debug)]
struct Storage {
    buffer: wgpu::Buffer,
    bytes: u64,
    dtype: DType,
    gpu_id: u64,
    live_bytes: Arc<AtomicU64>,
}

impl Drop for Storage {
    fn drop(&mut self) {
        self.live_bytes.fetch_sub(self.bytes, Ordering::Relaxed);
        self.buffer.destroy();
    }
}

/// Number of elements of a shape (1 for rank 0), or `None` on overflow.
pub fn element_count(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

/// Element ranges `(start, count)` covering `0..n` in pieces of at most `chunk` (a multiple of
/// the binding-offset alignment): how a tensor larger than one storage binding is dispatched.
pub(crate) fn chunks(n: usize, chunk: usize) -> impl Iterator<Item = (usize, usize)> {
    let chunk = chunk.max(1);
    (0..n)
        .step_by(chunk)
        .map(move |start| (start, chunk.min(n - start)))
}

impl Tensor {
    /// A zero-filled tensor of `shape`.
    ///
    /// # Errors
    /// [`Error::TooLarge`] past the adapter's `max_buffer_size`, [`Error::OutOfMemory`].
    pub fn zeros(gpu: &Gpu, shape: &[usize]) -> Result<Tensor> {
        Self::alloc(gpu, "tensor", shape)
    }

    pub(crate) fn alloc(gpu: &Gpu, label: &str, shape: &[usize]) -> Result<Tensor> {
        let dtype = DType::F32;
        let too_large = || Error::TooLarge {
            what: "shape",
            bytes: u64::MAX,
            max: gpu.limits().max_buffer_size,
        };
        let len = element_count(shape).ok_or_else(too_large)?;
        let bytes = (len as u64)
            .checked_mul(dtype.size_bytes() as u64)
            .ok_or_else(too_large)?;
        let padded = bytes.div_ceil(16).max(1) * 16;
        if padded > gpu.limits().max_buffer_size {
            return Err(Error::TooLarge {
                what: "tensor",
                bytes,
                max: gpu.limits().max_buffer_size,
            });
        }
        let buffer = gpu.storage_buffer(label, bytes)?;
        let live_bytes = gpu.live_bytes_counter();
        live_bytes.fetch_add(padded, Ordering::Relaxed);
        Ok(Tensor {
            storage: Arc::new(Storage {
                buffer,
                bytes: padded,
                dtype,
                gpu_id: gpu.id(),
                live_bytes,
            }),
            shape: shape.to_vec(),
        })
    }

    /// Uploads `data` (row-major) as a tensor of `shape`.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when `data.len()` is not the product of `shape`;
    /// [`Error::TooLarge`], [`Error::OutOfMemory`].
    pub fn from_slice(gpu: &Gpu, data: &[f32], shape: &[usize]) -> Result<Tensor> {
        let expected = element_count(shape).ok_or(Error::LengthMismatch {
            len: data.len(),
            shape: shape.to_vec(),
            expected: usize::MAX,
        })?;
        if expected != data.len() {
            return Err(Error::LengthMismatch {
                len: data.len(),
                shape: shape.to_vec(),
                expected,
            });
        }
        let t = Self::alloc(gpu, "tensor", shape)?;
        gpu.write_bytes(&t.storage.buffer, bytemuck::cast_slice(data))?;
        Ok(t)
    }

    /// Downloads the tensor's elements (row-major).
    ///
    /// # Errors
    /// [`Error::ForeignTensor`] if `gpu` did not create it; readback or device errors.
    pub fn to_vec(&self, gpu: &Gpu) -> Result<Vec<f32>> {
        self.check_gpu(gpu, "tensor")?;
        let bytes = (self.len() * self.dtype().size_bytes()) as u64;
        let raw = gpu.read_bytes("tensor", &self.storage.buffer, 0, bytes)?;
        Ok(bytemuck::pod_collect_to_vec(&raw))
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    pub fn len(&self) -> usize {
        element_count(&self.shape).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    pub fn dtype(&self) -> DType {
        self.storage.dtype
    }

    /// The underlying buffer (padded to 16 bytes), for recording your own work.
    pub fn buffer(&self) -> &wgpu::Buffer {
        &self.storage.buffer
    }

    /// A view of the same buffer with another shape of the same element count.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when the element counts differ.
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        if element_count(shape) != Some(self.len()) {
            return Err(Error::LengthMismatch {
                len: self.len(),
                shape: shape.to_vec(),
                expected: element_count(shape).unwrap_or(usize::MAX),
            });
        }
        Ok(Tensor {
            storage: Arc::clone(&self.storage),
            shape: shape.to_vec(),
        })
    }

    pub(crate) fn check_gpu(&self, gpu: &Gpu, what: &'static str) -> Result<()> {
        if self.storage.gpu_id != gpu.id() {
            return Err(Error::ForeignTensor { what });
        }
        Ok(())
    }

    /// Checks that `self` was made by `gpu` and has `shape`.
    pub(crate) fn expect(&self, gpu: &Gpu, what: &'static str, shape: &[usize]) -> Result<()> {
        self.check_gpu(gpu, what)?;
        if self.shape != shape {
            return Err(Error::ShapeMismatch {
                what,
                actual: self.shape.clone(),
                expected: shape.to_vec(),
            });
        }
        Ok(())
    }

    /// Binding of elements `[start, start + count)` (start a multiple of the offset alignment
    /// in elements); the last chunk's binding extends over the 16-byte padding.
    pub(crate) fn binding(&self, start: usize, count: usize) -> wgpu::BufferBinding<'_> {
        let esize = self.dtype().size_bytes() as u64;
        let offset = start as u64 * esize;
        let size = ((count as u64 * esize).div_ceil(16) * 16).min(self.storage.bytes - offset);
        wgpu::BufferBinding {
            buffer: &self.storage.buffer,
            offset,
            size: std::num::NonZeroU64::new(size.max(16)),
        }
    }
}
