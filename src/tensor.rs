//! GPU tensors: a buffer (the library's own, or a view of the caller's), an element offset,
//! a shape and a dtype.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::batch::Slot;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::gpu::Gpu;

/// The buffer usage a caller-owned buffer needs for [`Tensor::view`]. Add
/// [`VIEW_READBACK_USAGE`] to read it back through the library and [`VIEW_UPLOAD_USAGE`] to
/// write it through [`Tensor::write`].
pub const VIEW_USAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE;
/// The usage [`Tensor::to_vec`] and [`Tensor::read`] need (a copy into a staging buffer).
pub const VIEW_READBACK_USAGE: wgpu::BufferUsages = wgpu::BufferUsages::COPY_SRC;
/// The usage [`Tensor::write`] needs.
pub const VIEW_UPLOAD_USAGE: wgpu::BufferUsages = wgpu::BufferUsages::COPY_DST;

/// A tensor in GPU memory. Cheap to clone (the buffer is shared).
///
/// Two kinds, used alike by every layer and API level:
/// - **the library's own** ([`Tensor::zeros`], [`Tensor::from_slice`], layer outputs): its
///   buffer is padded to 16 bytes and destroyed (its memory freed at once) when the last clone
///   drops, even if the application still holds a clone of [`Tensor::buffer`];
/// - **a view** ([`Tensor::view`]) of a buffer the application owns, at any element offset;
///   the library never destroys it, and reads or writes only the view's elements.
#[derive(Clone, Debug)]
pub struct Tensor {
    storage: Arc<Storage>,
    /// Offset of element 0 in the buffer, in elements.
    offset: u64,
    shape: Vec<usize>,
}

#[derive(Debug)]
struct Storage {
    buffer: wgpu::Buffer,
    device: wgpu::Device,
    dtype: DType,
    /// Set for the library's own buffers: bytes counted in the context's live total.
    owned: Option<(u64, Arc<AtomicU64>)>,
}

impl Drop for Storage {
    fn drop(&mut self) {
        if let Some((bytes, live)) = &self.owned {
            live.fetch_sub(*bytes, Ordering::Relaxed);
            self.buffer.destroy();
        }
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

    /// A zero-filled tensor of `shape` and `dtype`.
    ///
    /// # Errors
    /// As [`Tensor::zeros`].
    pub fn zeros_of(gpu: &Gpu, shape: &[usize], dtype: DType) -> Result<Tensor> {
        Self::alloc_of(gpu, "tensor", shape, dtype)
    }

    pub(crate) fn alloc(gpu: &Gpu, label: &str, shape: &[usize]) -> Result<Tensor> {
        Self::alloc_of(gpu, label, shape, DType::F32)
    }

    /// A new tensor of `shape` with the dtype of `like` (a layer's output).
    pub(crate) fn alloc_like(gpu: &Gpu, label: &str, like: &Tensor) -> Result<Tensor> {
        Self::alloc_of(gpu, label, like.shape(), like.dtype())
    }

    pub(crate) fn alloc_of(
        gpu: &Gpu,
        label: &str,
        shape: &[usize],
        dtype: DType,
    ) -> Result<Tensor> {
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
                device: gpu.device().clone(),
                dtype,
                owned: Some((padded, live_bytes)),
            }),
            offset: 0,
            shape: shape.to_vec(),
        })
    }

    /// Uploads `data` (row-major) as a tensor of `shape`.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when `data.len()` is not the product of `shape`;
    /// [`Error::TooLarge`], [`Error::OutOfMemory`].
    pub fn from_slice(gpu: &Gpu, data: &[f32], shape: &[usize]) -> Result<Tensor> {
        check_len(data.len(), shape)?;
        let t = Self::alloc(gpu, "tensor", shape)?;
        gpu.write_bytes(&t.storage.buffer, 0, bytemuck::cast_slice(data))?;
        Ok(t)
    }

    /// Uploads `data` (row-major) as a tensor of `shape` and `dtype`; to [`DType::F16`]
    /// each value is rounded to the nearest half (ties to even, overflow to inf).
    ///
    /// # Errors
    /// As [`Tensor::from_slice`].
    pub fn from_slice_as(gpu: &Gpu, data: &[f32], shape: &[usize], dtype: DType) -> Result<Tensor> {
        match dtype {
            DType::F32 => Self::from_slice(gpu, data, shape),
            DType::F16 => {
                let halves: Vec<half::f16> = data.iter().map(|&v| half::f16::from_f32(v)).collect();
                Self::from_f16(gpu, &halves, shape)
            }
        }
    }

    /// Uploads halves (row-major) as a [`DType::F16`] tensor of `shape`.
    ///
    /// ```
    /// use wgpu_activations::{half::f16, DType, Tensor, ELU};
    /// # fn main() -> Result<(), wgpu_activations::Error> {
    /// # let gpu = match wgpu_activations::Gpu::new() {
    /// #     Ok(gpu) => gpu,
    /// #     Err(wgpu_activations::Error::NoAdapter { .. }) if std::env::var_os("REQUIRE_GPU").is_none() => return Ok(()),
    /// #     Err(e) => return Err(e),
    /// # };
    /// let x = Tensor::from_slice_as(&gpu, &[-1.0, 0.5, 3.0], &[3], DType::F16)?; // rounded
    /// let h = Tensor::from_f16(&gpu, &[f16::from_f32(-1.0); 3], &[3])?; // halves as given
    /// let y = ELU::default().forward(&gpu, &x)?; // outputs take x's dtype
    /// assert_eq!(y.dtype(), DType::F16);
    /// // TensorFlow's float16 ELU: h(h(exp(-1)) - 1) = h(0.367919921875 - 1) = -0.6318359375.
    /// assert_eq!(y.to_vec(&gpu)?, vec![-0.6318359375, 0.5, 3.0]); // exact upcast
    /// assert_eq!(y.to_vec_f16(&gpu)?[0], f16::from_f32(-0.6318359375)); // the stored bits
    /// assert_eq!(h.to_vec_f16(&gpu)?, vec![f16::from_f32(-1.0); 3]);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`Tensor::from_slice`].
    pub fn from_f16(gpu: &Gpu, data: &[half::f16], shape: &[usize]) -> Result<Tensor> {
        check_len(data.len(), shape)?;
        let t = Self::alloc_of(gpu, "tensor", shape, DType::F16)?;
        // The buffer is padded to 16 bytes: upload whole words.
        let mut bits: Vec<u16> = data.iter().map(|h| h.to_bits()).collect();
        bits.resize(data.len().div_ceil(2) * 2, 0);
        gpu.write_bytes(&t.storage.buffer, 0, bytemuck::cast_slice(&bits))?;
        Ok(t)
    }

    /// A tensor of `shape` over `buffer`, an application's buffer, starting at element
    /// `offset` (any offset: kernels bind from the aligned start below it). The buffer must
    /// belong to `gpu`'s device, have [`VIEW_USAGE`] (plus [`VIEW_READBACK_USAGE`] /
    /// [`VIEW_UPLOAD_USAGE`] to read or write it through the library) and hold the view's
    /// elements; it may end exactly at the last one. The library never destroys it.
    ///
    /// # Errors
    /// [`Error::BufferUsage`] without `STORAGE`; [`Error::OutOfBounds`] when the view does not
    /// fit the buffer; [`Error::ForeignTensor`] for a buffer of another device.
    pub fn view(gpu: &Gpu, buffer: &wgpu::Buffer, offset: u64, shape: &[usize]) -> Result<Tensor> {
        Self::view_of(gpu, buffer, offset, shape, DType::F32)
    }

    /// A view as [`Tensor::view`] whose elements are `dtype` (`offset` counts elements of
    /// that type: halves for [`DType::F16`], at any offset, odd ones included). An f16 view
    /// must lie within the buffer's whole 4-byte words.
    ///
    /// # Errors
    /// As [`Tensor::view`].
    pub fn view_of(
        gpu: &Gpu,
        buffer: &wgpu::Buffer,
        offset: u64,
        shape: &[usize],
        dtype: DType,
    ) -> Result<Tensor> {
        if !buffer.usage().contains(VIEW_USAGE) {
            return Err(Error::BufferUsage {
                what: "view buffer",
                missing: "STORAGE",
            });
        }
        let len = element_count(shape).unwrap_or(usize::MAX) as u64;
        let capacity = buffer.size() / 4 * (4 / dtype.size_bytes() as u64);
        if offset.checked_add(len).is_none_or(|end| end > capacity) {
            return Err(Error::OutOfBounds {
                offset,
                len,
                capacity,
            });
        }
        gpu.check_buffer_device(buffer)?;
        Ok(Self::over(gpu, buffer.clone(), offset, shape, dtype))
    }

    /// A tensor over a buffer the library does not own (never destroyed), unchecked.
    fn over(gpu: &Gpu, buffer: wgpu::Buffer, offset: u64, shape: &[usize], dtype: DType) -> Tensor {
        Tensor {
            storage: Arc::new(Storage {
                buffer,
                device: gpu.device().clone(),
                dtype,
                owned: None,
            }),
            offset,
            shape: shape.to_vec(),
        }
    }

    /// A tensor over one of the context's scratch buffers (no checks: the library sized it).
    pub(crate) fn scratch(gpu: &Gpu, buffer: wgpu::Buffer, shape: &[usize]) -> Tensor {
        Self::over(gpu, buffer, 0, shape, DType::F32)
    }

    /// Downloads the tensor's elements (row-major), waiting for the GPU. Native only: in a
    /// browser await [`Tensor::read`].
    ///
    /// # Errors
    /// [`Error::ForeignTensor`] if `gpu` is on another device; [`Error::BufferUsage`] for a
    /// view without `COPY_SRC`; readback or device errors.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn to_vec(&self, gpu: &Gpu) -> Result<Vec<f32>> {
        let mut out = vec![0.0; self.len()];
        self.read_into(gpu, &mut out)?;
        Ok(out)
    }

    /// Downloads into `out` (of exactly [`Tensor::len`] elements), waiting for the GPU.
    ///
    /// # Errors
    /// As [`Tensor::to_vec`]; [`Error::LengthMismatch`] for an `out` of another length.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn read_into(&self, gpu: &Gpu, out: &mut [f32]) -> Result<()> {
        let (offset, size, skip) = self.readback_range(gpu, out.len())?;
        let bytes = crate::readback::read(gpu, &self.storage.buffer, offset, size)?;
        decode_f32(self.dtype(), &bytes, skip, out);
        gpu.ensure_usable()
    }

    /// Downloads the elements as halves: an f16 tensor's bits as stored, an f32 tensor's
    /// values rounded to the nearest half.
    ///
    /// # Errors
    /// As [`Tensor::to_vec`].
    #[cfg(not(target_arch = "wasm32"))]
    pub fn to_vec_f16(&self, gpu: &Gpu) -> Result<Vec<half::f16>> {
        let (offset, size, skip) = self.readback_range(gpu, self.len())?;
        let bytes = crate::readback::read(gpu, &self.storage.buffer, offset, size)?;
        gpu.ensure_usable()?;
        Ok(match self.dtype() {
            DType::F16 => bytes[skip..]
                .chunks_exact(2)
                .take(self.len())
                .map(|b| half::f16::from_bits(u16::from_ne_bytes([b[0], b[1]])))
                .collect(),
            DType::F32 => {
                let mut out = vec![0.0; self.len()];
                decode_f32(DType::F32, &bytes, 0, &mut out);
                out.into_iter().map(half::f16::from_f32).collect()
            }
        })
    }

    /// An awaitable download: records and submits the copy now, and resolves once the GPU
    /// has finished it. Never blocks: on the web the browser resolves it; natively the
    /// future drives the device with non-blocking polls whenever it is polled.
    ///
    /// # Errors
    /// [`Error::ForeignTensor`] if `gpu` is on another device; [`Error::BufferUsage`] for a
    /// view without `COPY_SRC`; readback or device errors; in a browser also an error that
    /// the context's error scopes caught after an earlier call returned. All are reported
    /// when the future resolves.
    pub fn read(&self, gpu: &Gpu) -> impl Future<Output = Result<Vec<f32>>> + 'static {
        let (dtype, len) = (self.dtype(), self.len());
        let started = self
            .readback_range(gpu, self.len())
            .and_then(|(offset, size, skip)| match size {
                0 => Ok(None),
                _ => crate::readback::start(gpu, &self.storage.buffer, offset, size)
                    .map(|p| Some((p, skip))),
            });
        async move {
            let Some((pending, skip)) = started? else {
                return Ok(Vec::new());
            };
            let bytes = pending.finish().await?;
            let mut out = vec![0.0; len];
            decode_f32(dtype, &bytes, skip, &mut out);
            Ok(out)
        }
    }

    /// Uploads `data` into this tensor (a view's buffer needs [`VIEW_UPLOAD_USAGE`]), through
    /// the queue: ordered before the next submission.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`], [`Error::ForeignTensor`], [`Error::BufferUsage`].
    pub fn write(&self, gpu: &Gpu, data: &[f32]) -> Result<()> {
        if self.dtype() == DType::F16 {
            let halves: Vec<half::f16> = data.iter().map(|&v| half::f16::from_f32(v)).collect();
            return self.write_f16(gpu, &halves);
        }
        self.check_gpu(gpu, "tensor")?;
        self.check_writable(data.len())?;
        gpu.write_bytes(
            &self.storage.buffer,
            self.byte_offset(),
            bytemuck::cast_slice(data),
        )
    }

    /// What [`Tensor::write`] and [`Tensor::write_f16`] need of `len` values and the buffer:
    /// one value per element and an uploadable buffer.
    fn check_writable(&self, len: usize) -> Result<()> {
        if len != self.len() {
            return Err(Error::LengthMismatch {
                len,
                shape: self.shape.clone(),
                expected: self.len(),
            });
        }
        if !self.storage.buffer.usage().contains(VIEW_UPLOAD_USAGE) {
            return Err(Error::BufferUsage {
                what: "tensor",
                missing: "COPY_DST",
            });
        }
        Ok(())
    }

    /// Uploads halves into this f16 tensor, as [`Tensor::write`]. An f16 view whose first or
    /// last half shares a 4-byte word with elements outside it (an odd offset or end) has
    /// those words read back first (its buffer then also needs [`VIEW_READBACK_USAGE`]), as
    /// the queue writes whole words only.
    ///
    /// # Errors
    /// As [`Tensor::write`]; [`Error::DTypeMismatch`] for an f32 tensor.
    pub fn write_f16(&self, gpu: &Gpu, data: &[half::f16]) -> Result<()> {
        self.check_gpu(gpu, "tensor")?;
        if self.dtype() != DType::F16 {
            return Err(Error::DTypeMismatch {
                what: "tensor written with halves",
                actual: self.dtype().name(),
                expected: DType::F16.name(),
            });
        }
        self.check_writable(data.len())?;
        if data.is_empty() {
            return Ok(());
        }
        let first = self.offset;
        let end = self.offset + data.len() as u64;
        let (w0, w1) = (first / 2, end.div_ceil(2));
        let mut bits = vec![0u16; ((w1 - w0) * 2) as usize];
        let edges_foreign = first % 2 == 1 || (end % 2 == 1 && self.padding_elems() == 0);
        if edges_foreign {
            if !self.storage.buffer.usage().contains(VIEW_READBACK_USAGE) {
                return Err(Error::BufferUsage {
                    what: "f16 view at an odd offset or end (written through its words)",
                    missing: "COPY_SRC",
                });
            }
            #[cfg(not(target_arch = "wasm32"))]
            {
                let old = crate::readback::read(gpu, &self.storage.buffer, w0 * 4, (w1 - w0) * 4)?;
                for (b, o) in bits.iter_mut().zip(old.chunks_exact(2)) {
                    *b = u16::from_ne_bytes([o[0], o[1]]);
                }
            }
            #[cfg(target_arch = "wasm32")]
            return Err(Error::InvalidParameter {
                layer: "Tensor",
                name: "f16 view",
                value: format!("offset {first}, {} halves", data.len()),
                reason: "writing it needs a blocking read of its boundary words, which a \
                         browser cannot do: write through a view with an even offset and end",
            });
        }
        let skip = (first - w0 * 2) as usize;
        for (b, h) in bits[skip..].iter_mut().zip(data) {
            *b = h.to_bits();
        }
        gpu.write_bytes(&self.storage.buffer, w0 * 4, bytemuck::cast_slice(&bits))
    }

    /// Checks a download of the tensor into `out_len` elements: the byte range to copy
    /// (whole words) and the bytes to skip at its start.
    fn readback_range(&self, gpu: &Gpu, out_len: usize) -> Result<(u64, u64, usize)> {
        let bytes = self.readback_bytes(gpu, out_len)?;
        let first = self.byte_offset();
        let start = first / 4 * 4;
        let end = (first + bytes).div_ceil(4) * 4;
        let size = if bytes == 0 { 0 } else { end - start };
        Ok((start, size, (first - start) as usize))
    }

    /// Checks a download of the tensor into `out_len` elements; its size in bytes.
    fn readback_bytes(&self, gpu: &Gpu, out_len: usize) -> Result<u64> {
        self.check_gpu(gpu, "tensor")?;
        if out_len != self.len() {
            return Err(Error::LengthMismatch {
                len: out_len,
                shape: self.shape.clone(),
                expected: self.len(),
            });
        }
        if !self.storage.buffer.usage().contains(VIEW_READBACK_USAGE) {
            return Err(Error::BufferUsage {
                what: "tensor",
                missing: "COPY_SRC",
            });
        }
        Ok((self.len() * self.dtype().size_bytes()) as u64)
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

    /// Offset of element 0 in [`Tensor::buffer`], in elements (0 for the library's tensors).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Whether this is a view of an application's buffer.
    pub fn is_view(&self) -> bool {
        self.storage.owned.is_none()
    }

    /// The underlying buffer, for recording your own work. A library tensor's buffer is
    /// padded to 16 bytes and destroyed when the tensor's last clone drops: a clone of this
    /// handle does not keep its memory alive (use a [`Tensor::view`] of your own buffer for
    /// that).
    pub fn buffer(&self) -> &wgpu::Buffer {
        &self.storage.buffer
    }

    /// A tensor over the same elements with another shape of the same element count.
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
            offset: self.offset,
            shape: shape.to_vec(),
        })
    }

    fn byte_offset(&self) -> u64 {
        self.offset * self.dtype().size_bytes() as u64
    }

    /// Checks that `self` lives on `gpu`'s device (two contexts over one device share
    /// tensors).
    pub(crate) fn check_gpu(&self, gpu: &Gpu, what: &'static str) -> Result<()> {
        if &self.storage.device != gpu.device() {
            return Err(Error::ForeignTensor { what });
        }
        Ok(())
    }

    /// Checks that `self` lives on `gpu`'s device and has `shape`.
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

    /// Whether element `start` lies on a boundary of 4 elements of the buffer (vec4 kernels:
    /// 16 bytes in f32, 8 in f16).
    pub(crate) fn vec4_aligned(&self, start: usize) -> bool {
        (self.offset + start as u64).is_multiple_of(4)
    }

    /// Whether the buffer holds at least `extra` elements past the tensor's end that a kernel
    /// may overwrite: only the library's own tensors (their 16-byte padding).
    pub(crate) fn padding_elems(&self) -> u64 {
        match self.storage.owned {
            Some(_) => {
                self.storage.buffer.size() / self.dtype().size_bytes() as u64
                    - self.offset
                    - self.len() as u64
            }
            None => 0,
        }
    }

    /// The binding of elements `[start, start + count)` for an array of units of one
    /// element (`unit` 4, the f32 size) or four (`unit` 16): bound from the aligned start
    /// below the first element, which then sits at `elem_offset` units into the binding.
    /// An f16 tensor's units are half as wide (2 or 8 bytes), whatever its storage.
    pub(crate) fn slot(&self, gpu: &Gpu, start: usize, count: usize, unit: u64) -> Slot {
        let size = self.dtype().size_bytes() as u64;
        let unit_bytes = unit / 4 * size;
        let first = (self.offset + start as u64) * size;
        let align = gpu.limits().min_storage_buffer_offset_alignment as u64;
        let offset = first / align * align;
        let rem = first - offset;
        debug_assert!(rem.is_multiple_of(unit_bytes));
        // Storage binding sizes are multiples of 4 bytes.
        let available = (self.storage.buffer.size() - offset) / 4 * 4;
        Slot {
            buffer: self.storage.buffer.clone(),
            offset,
            size: (rem + count as u64 * size)
                .div_ceil(4)
                .saturating_mul(4)
                .max(unit_bytes.max(4))
                .min(available),
            elem_offset: (rem / unit_bytes) as u32,
        }
    }

    /// Whether both tensors use the same buffer.
    pub(crate) fn same_buffer(&self, other: &Tensor) -> bool {
        self.storage.buffer == other.storage.buffer
    }

    /// Whether both tensors are the very same elements of the same buffer.
    pub(crate) fn same_elements(&self, other: &Tensor) -> bool {
        self.same_buffer(other) && self.byte_range() == other.byte_range()
    }

    /// Whether the byte ranges of the two tensors intersect (views of one buffer may differ
    /// in dtype).
    pub(crate) fn overlaps(&self, other: &Tensor) -> bool {
        let (a, b) = self.byte_range();
        let (c, d) = other.byte_range();
        self.same_buffer(other) && a < d && c < b
    }

    fn byte_range(&self) -> (u64, u64) {
        let first = self.byte_offset();
        (
            first,
            first + (self.len() * self.dtype().size_bytes()) as u64,
        )
    }
}

/// The dtype all of an op's `tensors` share (`names` label them in order, for the error).
pub(crate) fn common_dtype(tensors: &[&Tensor], names: &[&'static str]) -> Result<DType> {
    let dtype = tensors.first().map_or(DType::F32, |t| t.dtype());
    for (i, t) in tensors.iter().enumerate() {
        if t.dtype() != dtype {
            return Err(Error::DTypeMismatch {
                what: names.get(i).copied().unwrap_or("tensor"),
                actual: t.dtype().name(),
                expected: dtype.name(),
            });
        }
    }
    Ok(dtype)
}

/// Decodes downloaded bytes (from byte `skip`) into `out`: f32 as stored, halves exactly.
fn decode_f32(dtype: DType, bytes: &[u8], skip: usize, out: &mut [f32]) {
    let bytes = &bytes[skip.min(bytes.len())..];
    // Element by element: the bytes of a Vec<u8> need not be aligned for f32.
    match dtype {
        DType::F32 => {
            for (o, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                *o = f32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
            }
        }
        DType::F16 => {
            for (o, b) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                *o = half::f16::from_bits(u16::from_ne_bytes([b[0], b[1]])).to_f32();
            }
        }
    }
}

fn check_len(len: usize, shape: &[usize]) -> Result<()> {
    let expected = element_count(shape).ok_or(Error::LengthMismatch {
        len,
        shape: shape.to_vec(),
        expected: usize::MAX,
    })?;
    if expected != len {
        return Err(Error::LengthMismatch {
            len,
            shape: shape.to_vec(),
            expected,
        });
    }
    Ok(())
}
