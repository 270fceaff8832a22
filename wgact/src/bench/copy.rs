//! The bench's copy kernel, the roof each op is measured against. Built here with plain wgpu
//! through the library's public `Gpu::device()` / `queue()`, as any application would build
//! its own kernel next to the library's.

use wgpu::util::DeviceExt;
use wgpu_activations::{Error, Gpu, Result, Tensor};

/// Workgroup size of the copy kernel.
pub const COPY_WORKGROUP_SIZE: u32 = 256;

/// The copy kernel's WGSL source, its blocked loop's batches `lanes` wide.
pub fn copy_wgsl(lanes: u32) -> String {
    format!(
        "const WG: u32 = {COPY_WORKGROUP_SIZE}u;\nconst LANES: u32 = {lanes}u;\n{}",
        include_str!("../../shaders/copy.wgsl")
    )
}

/// The loop of the copy kernel (`wgact/shaders/copy.wgsl`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyLoop {
    /// A grid-stride loop, one vec4 a step (the library's GPU loop).
    GridStride,
    /// Batches of `lanes` invocations, each walking one contiguous block (the library's CPU
    /// loop; `lanes` is the adapter's SIMD width, its subgroup size).
    Blocked { lanes: u32 },
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct CopyParams {
    pub(crate) len_vec4: u32,
    pub(crate) block: u32,
    pub(crate) _pad: [u32; 2],
}

/// `dst = src` prepared once (pipeline, uniforms, bind groups per chunk of one storage
/// binding), so that recording it allocates nothing.
pub struct CopyPlan {
    pipeline: wgpu::ComputePipeline,
    /// One dispatch per chunk: its bind group and workgroup count.
    dispatches: Vec<(wgpu::BindGroup, u32)>,
    /// Workgroups of the first (largest) dispatch.
    pub groups: u32,
    /// The library destroys a tensor's buffer when its last clone drops: these keep the
    /// bound buffers alive as long as the plan.
    _bound: [Tensor; 2],
}

/// A bind group of `uniform` at binding 0 and `storage` at bindings 1, 2, ...: the layout
/// of the bench's copy kernel and of `wgact overhead`'s raw kernel.
pub fn uniform_bind_group<const N: usize>(
    device: &wgpu::Device,
    label: &str,
    layout: &wgpu::BindGroupLayout,
    uniform: &wgpu::Buffer,
    storage: [wgpu::BindingResource<'_>; N],
) -> wgpu::BindGroup {
    let entries: Vec<wgpu::BindGroupEntry<'_>> = std::iter::once(uniform.as_entire_binding())
        .chain(storage)
        .zip(0..)
        .map(|(resource, binding)| wgpu::BindGroupEntry { binding, resource })
        .collect();
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some(label),
        layout,
        entries: &entries,
    })
}

/// Runs `f` inside a validation and an out-of-memory error scope, naming `during`.
pub(crate) fn scoped<T>(gpu: &Gpu, during: &str, f: impl FnOnce() -> T) -> Result<T> {
    let device = gpu.device();
    let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let oom = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let value = f();
    let oom_error = pollster::block_on(oom.pop());
    let validation_error = pollster::block_on(validation.pop());
    if let Some(e) = oom_error {
        return Err(Error::OutOfMemory {
            during: format!("{during}: {e}"),
        });
    }
    if let Some(e) = validation_error {
        return Err(Error::Gpu {
            during: during.to_string(),
            message: e.to_string(),
        });
    }
    Ok(value)
}

impl CopyPlan {
    /// Plans `dst = src` (their bytes, whatever the dtype) on at most `max_groups`
    /// workgroups per dispatch, with `copy_loop`. Both tensors must be the library's own
    /// (offset 0, padded to whole vec4s) and of equal length and dtype.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for unequal lengths, GPU errors while building.
    pub fn new<'a>(
        gpu: &Gpu,
        src: &'a Tensor,
        dst: &'a Tensor,
        max_groups: u32,
        copy_loop: CopyLoop,
    ) -> Result<CopyPlan> {
        if src.dtype() != dst.dtype() {
            return Err(Error::DTypeMismatch {
                what: "dst",
                actual: dst.dtype().name(),
                expected: src.dtype().name(),
            });
        }
        if src.len() != dst.len() {
            return Err(Error::ShapeMismatch {
                what: "dst",
                actual: dst.shape().to_vec(),
                expected: src.shape().to_vec(),
            });
        }
        let device = gpu.device();
        let limits = device.limits();
        let (entry, lanes) = match copy_loop {
            CopyLoop::GridStride => ("copy", 1),
            CopyLoop::Blocked { lanes } => ("copy_blocked", lanes.clamp(1, COPY_WORKGROUP_SIZE)),
        };
        scoped(gpu, "bench/copy", || {
            let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some("bench/copy"),
                source: wgpu::ShaderSource::Wgsl(copy_wgsl(lanes).into()),
            });
            let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some("bench/copy"),
                layout: None,
                module: &module,
                entry_point: Some(entry),
                compilation_options: Default::default(),
                cache: None,
            });
            let layout = pipeline.get_bind_group_layout(0);
            let align = u64::from(limits.min_storage_buffer_offset_alignment.max(16));
            let binding = limits.max_storage_buffer_binding_size.min(1 << 32);
            let chunk_vec4s = ((binding / align * align) / 16).max(1) as usize;
            let max_groups = max_groups.min(limits.max_compute_workgroups_per_dimension);
            let total_vec4s = (src.len() * src.dtype().size_bytes()).div_ceil(16).max(1);
            let mut dispatches = Vec::new();
            let mut start = 0;
            while start < total_vec4s {
                let count = chunk_vec4s.min(total_vec4s - start);
                let groups = (count as u32).div_ceil(COPY_WORKGROUP_SIZE).min(max_groups);
                let batches = groups as usize * (COPY_WORKGROUP_SIZE / lanes) as usize;
                let params = CopyParams {
                    len_vec4: count as u32,
                    block: count.div_ceil(batches).next_multiple_of(lanes as usize) as u32,
                    _pad: [0; 2],
                };
                let uniform = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some("bench/copy/params"),
                    contents: bytemuck::bytes_of(&params),
                    usage: wgpu::BufferUsages::UNIFORM,
                });
                let range = |t: &'a Tensor| wgpu::BufferBinding {
                    buffer: t.buffer(),
                    offset: start as u64 * 16,
                    size: wgpu::BufferSize::new(count as u64 * 16),
                };
                let bind = uniform_bind_group(
                    device,
                    "bench/copy",
                    &layout,
                    &uniform,
                    [range(src), range(dst)].map(wgpu::BindingResource::Buffer),
                );
                dispatches.push((bind, groups));
                start += count;
            }
            let groups = dispatches.first().map_or(0, |d| d.1);
            CopyPlan {
                pipeline,
                dispatches,
                groups,
                _bound: [src.clone(), dst.clone()],
            }
        })
    }

    /// Records the copy into `encoder`: one compute pass, one dispatch per chunk.
    pub fn record(&self, encoder: &mut wgpu::CommandEncoder) {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("bench/copy"),
            timestamp_writes: None,
        });
        pass.set_pipeline(&self.pipeline);
        for (bind, groups) in &self.dispatches {
            pass.set_bind_group(0, bind, &[]);
            pass.dispatch_workgroups(*groups, 1, 1);
        }
    }
}
