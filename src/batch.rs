//! Recording: ops as data, encoded into the caller's command encoder.
//!
//! A [`Batch`] collects the dispatches of any number of ops (validated when each op is
//! added), then [`Batch::encode`] writes them all into one compute pass of a
//! `wgpu::CommandEncoder` the caller owns. The uniform blocks of every dispatch live in one
//! arena buffer bound at dynamic offsets (created with its contents, never written with
//! `queue.write_buffer`, so no op of the batch can see another's parameters), and bind groups
//! are built once per distinct set of buffers. Encoding again (the next training step, say)
//! reuses both: a batch is a recorded program that can be replayed.
//!
//! Nothing here submits, waits or blocks: [`Batch::submit`] is the one convenience that
//! submits, and the caller decides when to wait ([`Gpu::wait`](crate::Gpu::wait)).

use std::collections::HashMap;
use std::num::NonZeroU64;
use std::sync::Arc;

use wgpu::util::DeviceExt;

use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::kernel::{CompiledKernel, MAX_ARRAYS, OFFSETS_BYTES};

/// One storage binding of a dispatch: an aligned byte range of a buffer and the offset of
/// the kernel's first element inside it, in units of the array's element type.
#[derive(Clone, Debug)]
pub(crate) struct Slot {
    pub buffer: wgpu::Buffer,
    pub offset: u64,
    pub size: u64,
    pub elem_offset: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct SlotKey {
    buffer: wgpu::Buffer,
    offset: u64,
    size: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct BindGroupKey {
    layout: wgpu::BindGroupLayout,
    uniform_size: u64,
    slots: Vec<SlotKey>,
}

struct Dispatch {
    kernel: Arc<CompiledKernel>,
    uniform_offset: u32,
    uniform_size: u64,
    bind_group: usize,
    groups: [u32; 3],
}

/// What the first `encode` builds and later ones reuse.
struct Encoded {
    /// The uniform arena (the bind groups refer to it).
    _uniforms: wgpu::Buffer,
    bind_groups: Vec<wgpu::BindGroup>,
}

/// A recorded sequence of ops, encoded into one compute pass of the caller's encoder.
///
/// ```
/// use wgpu_activations::{Batch, Gpu, LeakyReLU, Softmax, Tensor};
///
/// # fn main() -> Result<(), wgpu_activations::Error> {
/// # let gpu = match Gpu::new() {
/// #     Ok(gpu) => gpu,
/// #     Err(wgpu_activations::Error::NoAdapter { .. }) if std::env::var_os("REQUIRE_GPU").is_none() => return Ok(()),
/// #     Err(e) => return Err(e),
/// # };
/// let x = Tensor::from_slice(&gpu, &[-1.0, 0.0, 1.0, 2.0], &[2, 2])?;
/// let h = Tensor::zeros(&gpu, &[2, 2])?;
/// let mut batch = Batch::new(&gpu);
/// LeakyReLU::new(0.5)?.record_forward(&mut batch, &x, &h)?; // h = leaky_relu(x)
/// Softmax::new(-1)?.record_forward_in_place(&mut batch, &h, None)?; // h = softmax(h)
///
/// let mut encoder = gpu.device().create_command_encoder(&Default::default());
/// batch.encode(&mut encoder)?; // one compute pass, nothing submitted yet
/// let index = gpu.queue().submit([encoder.finish()]);
/// gpu.wait(index)?;
/// let h = h.to_vec(&gpu)?;
/// assert!((h[0] + h[1] - 1.0).abs() < 1e-6);
/// # Ok(())
/// # }
/// ```
pub struct Batch<'g> {
    gpu: &'g Gpu,
    dispatches: Vec<Dispatch>,
    uniforms: Vec<u8>,
    uniform_index: HashMap<Vec<u8>, u32>,
    bind_group_keys: Vec<BindGroupKey>,
    bind_group_index: HashMap<BindGroupKey, usize>,
    encoded: Option<Encoded>,
}

impl std::fmt::Debug for Batch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch")
            .field("dispatches", &self.dispatches.len())
            .field("uniform_bytes", &self.uniforms.len())
            .field("bind_groups", &self.bind_group_keys.len())
            .finish()
    }
}

impl<'g> Batch<'g> {
    /// An empty batch recording for `gpu`.
    pub fn new(gpu: &'g Gpu) -> Self {
        Batch {
            gpu,
            dispatches: Vec::new(),
            uniforms: Vec::new(),
            uniform_index: HashMap::new(),
            bind_group_keys: Vec::new(),
            bind_group_index: HashMap::new(),
            encoded: None,
        }
    }

    /// The context this batch records for.
    pub fn gpu(&self) -> &'g Gpu {
        self.gpu
    }

    /// Number of compute dispatches recorded (an op may need several, or none for an empty
    /// tensor).
    pub fn dispatch_count(&self) -> usize {
        self.dispatches.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.dispatches.is_empty()
    }

    /// Forgets every recorded op, keeping the allocations of the maps.
    pub fn clear(&mut self) {
        self.dispatches.clear();
        self.uniforms.clear();
        self.uniform_index.clear();
        self.bind_group_keys.clear();
        self.bind_group_index.clear();
        self.encoded = None;
    }

    /// Appends one dispatch of `kernel`: `params` is the family's uniform block without the
    /// element offsets, which are appended here from `slots` (one per bound array, in
    /// binding order).
    pub(crate) fn push(
        &mut self,
        kernel: &Arc<CompiledKernel>,
        params: &[u8],
        slots: Vec<Slot>,
        groups: [u32; 3],
    ) {
        debug_assert_eq!(slots.len(), kernel.arrays.len(), "{}", kernel.label);
        debug_assert!(slots.len() <= MAX_ARRAYS && params.len().is_multiple_of(16));
        if groups.contains(&0) {
            return;
        }
        let mut block = Vec::with_capacity(params.len() + OFFSETS_BYTES);
        block.extend_from_slice(params);
        let mut offsets = [0u32; MAX_ARRAYS];
        for (o, s) in offsets.iter_mut().zip(&slots) {
            *o = s.elem_offset;
        }
        block.extend_from_slice(bytemuck::cast_slice(&offsets));
        let uniform_size = block.len() as u64;
        let align = self
            .gpu
            .limits()
            .min_uniform_buffer_offset_alignment
            .max(16) as usize;
        let uniforms = &mut self.uniforms;
        let uniform_offset = *self.uniform_index.entry(block).or_insert_with_key(|block| {
            let at = uniforms.len().div_ceil(align) * align;
            uniforms.resize(at, 0);
            uniforms.extend_from_slice(block);
            at as u32
        });
        let key = BindGroupKey {
            layout: kernel.layout.clone(),
            uniform_size,
            slots: slots
                .into_iter()
                .map(|s| SlotKey {
                    buffer: s.buffer,
                    offset: s.offset,
                    size: s.size,
                })
                .collect(),
        };
        let keys = &mut self.bind_group_keys;
        let bind_group = *self.bind_group_index.entry(key).or_insert_with_key(|key| {
            keys.push(key.clone());
            keys.len() - 1
        });
        self.dispatches.push(Dispatch {
            kernel: Arc::clone(kernel),
            uniform_offset,
            uniform_size,
            bind_group,
            groups,
        });
        self.encoded = None;
        self.gpu.count_dispatch();
    }

    /// Records every op of the batch into `encoder`, in order, in one compute pass. Builds
    /// the uniform arena and bind groups on the first call (and after new ops were added);
    /// later calls only record. Never submits, never waits.
    ///
    /// # Errors
    /// [`Error::DeviceLost`] when the context can no longer be used.
    pub fn encode(&mut self, encoder: &mut wgpu::CommandEncoder) -> Result<()> {
        self.encode_with_timestamps(encoder, None)
    }

    /// As [`Batch::encode`], with the pass's timestamp writes (for timing the batch).
    ///
    /// # Errors
    /// As [`Batch::encode`].
    pub fn encode_with_timestamps(
        &mut self,
        encoder: &mut wgpu::CommandEncoder,
        timestamp_writes: Option<wgpu::ComputePassTimestampWrites<'_>>,
    ) -> Result<()> {
        self.gpu.ensure_usable()?;
        if self.dispatches.is_empty() && timestamp_writes.is_none() {
            return Ok(());
        }
        if self.encoded.is_none() {
            self.encoded = Some(self.build());
        }
        let encoded = self.encoded.as_ref().expect("built above");
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("wgpu-activations/batch"),
            timestamp_writes,
        });
        let mut current: Option<&wgpu::ComputePipeline> = None;
        for d in &self.dispatches {
            if current != Some(&d.kernel.pipeline) {
                pass.set_pipeline(&d.kernel.pipeline);
                current = Some(&d.kernel.pipeline);
            }
            pass.set_bind_group(0, &encoded.bind_groups[d.bind_group], &[d.uniform_offset]);
            pass.dispatch_workgroups(d.groups[0], d.groups[1], d.groups[2]);
        }
        Ok(())
    }

    /// Encodes into a fresh encoder and submits it, inside error scopes: what the
    /// `forward`/`backward` calls do. Returns the submission to wait on.
    ///
    /// # Errors
    /// [`Error::Gpu`] / [`Error::OutOfMemory`] if wgpu rejected anything (a bug);
    /// [`Error::DeviceLost`].
    pub fn submit(&mut self) -> Result<wgpu::SubmissionIndex> {
        let gpu = self.gpu;
        gpu.scoped(&|| "submitting a batch".to_string(), || {
            let mut encoder = gpu.encoder("wgpu-activations/batch");
            self.encode(&mut encoder)?;
            Ok(gpu.queue().submit([encoder.finish()]))
        })?
    }

    fn build(&self) -> Encoded {
        let device = self.gpu.device();
        let mut contents = self.uniforms.clone();
        // Every dynamic offset plus its block size must lie inside the buffer.
        let end = self
            .dispatches
            .iter()
            .map(|d| d.uniform_offset as u64 + d.uniform_size)
            .max()
            .unwrap_or(0)
            .max(16);
        contents.resize(end as usize, 0);
        let uniforms = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("wgpu-activations/uniforms"),
            contents: &contents,
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let bind_groups =
            self.bind_group_keys
                .iter()
                .map(|key| {
                    let mut entries = vec![wgpu::BindGroupEntry {
                        binding: 0,
                        resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                            buffer: &uniforms,
                            offset: 0,
                            size: NonZeroU64::new(key.uniform_size),
                        }),
                    }];
                    entries.extend(key.slots.iter().enumerate().map(|(i, s)| {
                        wgpu::BindGroupEntry {
                            binding: 1 + i as u32,
                            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                                buffer: &s.buffer,
                                offset: s.offset,
                                size: NonZeroU64::new(s.size),
                            }),
                        }
                    }));
                    device.create_bind_group(&wgpu::BindGroupDescriptor {
                        label: Some("wgpu-activations/batch"),
                        layout: &key.layout,
                        entries: &entries,
                    })
                })
                .collect();
        Encoded {
            _uniforms: uniforms,
            bind_groups,
        }
    }
}

/// Fails with [`Error::Aliasing`] when an output shares a buffer with an input of the same
/// op, or two outputs overlap. `reads` and `writes` are `(name, tensor)` pairs.
pub(crate) fn check_aliasing(
    reads: &[(&'static str, &crate::Tensor)],
    writes: &[(&'static str, &crate::Tensor)],
) -> Result<()> {
    for (i, (wn, w)) in writes.iter().enumerate() {
        for (rn, r) in reads {
            if w.same_buffer(r) {
                return Err(Error::Aliasing {
                    what: format!(
                        "{wn} (written) and {rn} (read) share one buffer: wgpu cannot bind a \
                         buffer as read-only and read-write storage in one dispatch{}",
                        if w.same_elements(r) {
                            "; use the in-place variant to overwrite it"
                        } else {
                            ""
                        }
                    ),
                });
            }
        }
        for (on, o) in &writes[i + 1..] {
            if w.overlaps(o) {
                return Err(Error::Aliasing {
                    what: format!("{wn} and {on} are both written and overlap"),
                });
            }
        }
    }
    Ok(())
}
