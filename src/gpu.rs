//! The GPU context: adapter, device, queue, pipeline cache, error scopes and readback.
//!
//! One [`Gpu`] is built once and shared (it is `Send + Sync`). Every kernel in the crate
//! follows one binding contract, so one helper builds every bind-group layout:
//! `@binding(0)` is a uniform block of parameters, then come the read-only storage
//! buffers, then the read-write ones.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use wgpu::util::DeviceExt;

use crate::error::{Error, Result};

/// Element type of a tensor. Only `F32` today; the dtype is part of every tensor and of
/// every pipeline key so that `F16` can be added without changing either.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    F32,
}

impl DType {
    pub fn size_bytes(self) -> usize {
        match self {
            DType::F32 => 4,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
        }
    }
}

/// What identifies a compiled pipeline: only what changes the generated code.
/// Parameters (alpha, theta, ...) and sizes live in uniforms and are never part of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct PipelineKey {
    /// Shader family and op, e.g. `"elementwise/elu"`.
    pub kernel: &'static str,
    /// WGSL entry point, e.g. `"forward"`.
    pub entry: &'static str,
    pub dtype: DType,
    /// Free for a family to distinguish code variants (e.g. subgroup vs shared memory).
    pub variant: u32,
    pub workgroup_size: u32,
}

/// How a kernel's bindings look: uniform at 0, `reads` read-only buffers, then `writes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct BindingContract {
    pub reads: u32,
    pub writes: u32,
}

/// A compiled pipeline with the layout its bind groups need.
pub(crate) struct Kernel {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
    pub contract: BindingContract,
    pub label: String,
}

/// Facts about the adapter and device, as `wgact info` prints them.
#[derive(Clone, Debug)]
pub struct GpuInfo {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    pub driver_info: String,
    pub shader_f16: bool,
    pub timestamp_query: bool,
    pub subgroup: bool,
    pub min_subgroup_size: u32,
    pub max_subgroup_size: u32,
    pub max_buffer_size: u64,
    pub max_storage_buffer_binding_size: u64,
    pub max_compute_workgroups_per_dimension: u32,
    pub max_compute_invocations_per_workgroup: u32,
    pub max_compute_workgroup_storage_size: u32,
    pub min_storage_buffer_offset_alignment: u32,
}

static NEXT_GPU_ID: AtomicU64 = AtomicU64::new(1);

/// Optional features we use when the adapter has them.
const WANTED_FEATURES: wgpu::Features = wgpu::Features::SHADER_F16
    .union(wgpu::Features::TIMESTAMP_QUERY)
    .union(wgpu::Features::SUBGROUP);

/// The GPU context. Build it once; it owns the device, queue and compiled pipelines.
pub struct Gpu {
    id: u64,
    device: wgpu::Device,
    queue: wgpu::Queue,
    info: GpuInfo,
    limits: wgpu::Limits,
    /// Workgroups a grid-stride loop runs on: see [`Gpu::grid_stride_workgroups`].
    grid_stride_workgroups: u32,
    kernels: Mutex<HashMap<PipelineKey, Arc<Kernel>>>,
    layouts: Mutex<HashMap<BindingContract, wgpu::BindGroupLayout>>,
    lost: Arc<Mutex<Option<String>>>,
    uncaptured: Arc<Mutex<Option<String>>>,
    live_bytes: Arc<AtomicU64>,
    dispatches: AtomicU64,
}

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gpu")
            .field("id", &self.id)
            .field("adapter", &self.info.name)
            .field("backend", &self.info.backend)
            .finish()
    }
}

impl Gpu {
    /// Picks the high-performance adapter on the primary backends (Vulkan, Metal, DX12),
    /// honouring `WGPU_BACKEND` and `WGPU_ADAPTER_NAME`, falling back to a software adapter.
    ///
    /// # Errors
    /// [`Error::NoAdapter`] when no adapter exists, [`Error::RequestDevice`] when the adapter
    /// refuses a device.
    pub fn new() -> Result<Self> {
        pollster::block_on(Self::new_async())
    }

    /// Async twin of [`Gpu::new`].
    ///
    /// # Errors
    /// As [`Gpu::new`].
    pub async fn new_async() -> Result<Self> {
        let backends = wgpu::Backends::from_env().unwrap_or(wgpu::Backends::PRIMARY);
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle().with_env();
        desc.backends = backends;
        let instance = wgpu::Instance::new(desc);
        let adapter = Self::pick_adapter(&instance, backends).await?;
        let wanted = adapter.features() & WANTED_FEATURES;
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("wgpu-activations"),
                required_features: wanted,
                required_limits: adapter.limits(),
                memory_hints: wgpu::MemoryHints::Performance,
                ..Default::default()
            })
            .await
            .map_err(|e| Error::RequestDevice(e.to_string()))?;
        Ok(Self::from_device(device, queue))
    }

    async fn pick_adapter(
        instance: &wgpu::Instance,
        backends: wgpu::Backends,
    ) -> Result<wgpu::Adapter> {
        if let Ok(wanted) = std::env::var("WGPU_ADAPTER_NAME") {
            let wanted = wanted.to_lowercase();
            let adapters = instance.enumerate_adapters(backends).await;
            let names: Vec<String> = adapters.iter().map(|a| a.get_info().name).collect();
            return adapters
                .into_iter()
                .find(|a| a.get_info().name.to_lowercase().contains(&wanted))
                .ok_or_else(|| Error::NoAdapter {
                    detail: format!("WGPU_ADAPTER_NAME={wanted:?} matches none of {names:?}"),
                });
        }
        let power_preference =
            wgpu::PowerPreference::from_env().unwrap_or(wgpu::PowerPreference::HighPerformance);
        let mut last_error = String::new();
        for force_fallback_adapter in [false, true] {
            match instance
                .request_adapter(&wgpu::RequestAdapterOptions {
                    power_preference,
                    force_fallback_adapter,
                    ..Default::default()
                })
                .await
            {
                Ok(adapter) => return Ok(adapter),
                Err(e) => last_error = e.to_string(),
            }
        }
        Err(Error::NoAdapter {
            detail: format!("backends {backends:?}: {last_error}"),
        })
    }

    /// Wraps a device the application already has. The crate uses whatever features and
    /// limits that device was created with (f16, subgroups and timestamps only if enabled).
    pub fn from_device(device: wgpu::Device, queue: wgpu::Queue) -> Self {
        let adapter = device.adapter_info();
        let limits = device.limits();
        let features = device.features();
        let info = GpuInfo {
            name: adapter.name.clone(),
            backend: format!("{:?}", adapter.backend),
            device_type: format!("{:?}", adapter.device_type),
            driver: adapter.driver.clone(),
            driver_info: adapter.driver_info.clone(),
            shader_f16: features.contains(wgpu::Features::SHADER_F16),
            timestamp_query: features.contains(wgpu::Features::TIMESTAMP_QUERY),
            subgroup: features.contains(wgpu::Features::SUBGROUP),
            min_subgroup_size: adapter.subgroup_min_size,
            max_subgroup_size: adapter.subgroup_max_size,
            max_buffer_size: limits.max_buffer_size,
            max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
            max_compute_workgroups_per_dimension: limits.max_compute_workgroups_per_dimension,
            max_compute_invocations_per_workgroup: limits.max_compute_invocations_per_workgroup,
            max_compute_workgroup_storage_size: limits.max_compute_workgroup_storage_size,
            min_storage_buffer_offset_alignment: limits.min_storage_buffer_offset_alignment,
        };
        let lost = Arc::new(Mutex::new(None));
        let lost_cb = Arc::clone(&lost);
        device.set_device_lost_callback(move |reason, message| {
            *lost_cb.lock().unwrap_or_else(|p| p.into_inner()) =
                Some(format!("{reason:?}: {message}"));
        });
        // Every call runs inside error scopes; anything that still escapes is kept and
        // reported by the next call instead of panicking in wgpu's default handler.
        let uncaptured = Arc::new(Mutex::new(None));
        let uncaptured_cb = Arc::clone(&uncaptured);
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            *uncaptured_cb.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
        }));
        // About 128 per SM on an H100 reached the copy roof (shared/device/README.md); a CPU
        // adapter (lavapipe) runs each workgroup as a task and copies fastest on ~1024.
        let grid_stride_workgroups = match adapter.device_type {
            wgpu::DeviceType::Cpu => 1_024,
            _ => 16_384,
        }
        .min(limits.max_compute_workgroups_per_dimension);
        Gpu {
            id: NEXT_GPU_ID.fetch_add(1, Ordering::Relaxed),
            device,
            queue,
            info,
            limits,
            grid_stride_workgroups,
            kernels: Mutex::new(HashMap::new()),
            layouts: Mutex::new(HashMap::new()),
            lost,
            uncaptured,
            live_bytes: Arc::new(AtomicU64::new(0)),
            dispatches: AtomicU64::new(0),
        }
    }

    /// Adapter, driver, limits and optional features.
    pub fn info(&self) -> &GpuInfo {
        &self.info
    }

    /// The underlying device, for applications that record their own work.
    pub fn device(&self) -> &wgpu::Device {
        &self.device
    }

    /// The underlying queue.
    pub fn queue(&self) -> &wgpu::Queue {
        &self.queue
    }

    /// `Ok` while the context is usable: the device is not lost and no GPU error escaped.
    ///
    /// # Errors
    /// [`Error::DeviceLost`], or [`Error::Gpu`] with an error that escaped every scope.
    pub fn health(&self) -> Result<()> {
        self.ensure_usable()
    }

    /// Bytes held by live tensors of this context (their buffers are freed on drop).
    pub fn live_tensor_bytes(&self) -> u64 {
        self.live_bytes.load(Ordering::Relaxed)
    }

    /// Number of compute dispatches recorded so far (zero-size tensors record none).
    pub fn dispatch_count(&self) -> u64 {
        self.dispatches.load(Ordering::Relaxed)
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn limits(&self) -> &wgpu::Limits {
        &self.limits
    }

    /// How many workgroups a grid-stride loop should run on for this adapter.
    pub(crate) fn grid_stride_workgroups(&self) -> u32 {
        self.grid_stride_workgroups
    }

    pub(crate) fn live_bytes_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.live_bytes)
    }

    /// Fails when the device was lost or an error escaped a scope.
    pub(crate) fn ensure_usable(&self) -> Result<()> {
        if let Some(reason) = self.lost.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return Err(Error::DeviceLost(reason));
        }
        if let Some(message) = self
            .uncaptured
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            return Err(Error::Gpu {
                during: "an earlier call".into(),
                message,
            });
        }
        Ok(())
    }

    /// Runs `f` inside validation and out-of-memory error scopes and turns what they catch
    /// into typed errors naming `during`.
    pub(crate) fn scoped<T>(
        &self,
        during: &dyn Fn() -> String,
        f: impl FnOnce() -> T,
    ) -> Result<T> {
        self.ensure_usable()?;
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let value = f();
        let oom_error = pollster::block_on(oom.pop());
        let validation_error = pollster::block_on(validation.pop());
        if let Some(e) = oom_error {
            return Err(Error::OutOfMemory {
                during: format!("{}: {e}", during()),
            });
        }
        if let Some(e) = validation_error {
            return Err(Error::Gpu {
                during: during(),
                message: e.to_string(),
            });
        }
        self.ensure_usable()?;
        Ok(value)
    }

    /// The bind-group layout of a binding contract, built once.
    fn layout(&self, contract: BindingContract) -> wgpu::BindGroupLayout {
        let mut layouts = self.layouts.lock().unwrap_or_else(|p| p.into_inner());
        layouts
            .entry(contract)
            .or_insert_with(|| {
                let storage = |binding, read_only| wgpu::BindGroupLayoutEntry {
                    binding,
                    visibility: wgpu::ShaderStages::COMPUTE,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Storage { read_only },
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                };
                let mut entries = vec![wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::COMPUTE,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                }];
                entries.extend((0..contract.reads).map(|i| storage(1 + i, true)));
                entries
                    .extend((0..contract.writes).map(|i| storage(1 + contract.reads + i, false)));
                self.device
                    .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                        label: Some(&format!("layout/{}r{}w", contract.reads, contract.writes)),
                        entries: &entries,
                    })
            })
            .clone()
    }

    /// The pipeline for `key`, compiled from `source()` on first use.
    ///
    /// # Errors
    /// [`Error::ShaderCompile`] naming the kernel when WGSL or pipeline creation fails.
    pub(crate) fn kernel(
        &self,
        key: PipelineKey,
        contract: BindingContract,
        source: impl FnOnce() -> String,
    ) -> Result<Arc<Kernel>> {
        if let Some(k) = self
            .kernels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(Arc::clone(k));
        }
        let label = format!("{}/{}/{}", key.kernel, key.entry, key.dtype.name());
        let layout = self.layout(contract);
        let source = source();
        let compiled = self.scoped(&|| label.clone(), || {
            let module = self
                .device
                .create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(&label),
                    source: wgpu::ShaderSource::Wgsl(source.as_str().into()),
                });
            let pipeline_layout =
                self.device
                    .create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                        label: Some(&label),
                        bind_group_layouts: &[Some(&layout)],
                        immediate_size: 0,
                    });
            self.device
                .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(&label),
                    layout: Some(&pipeline_layout),
                    module: &module,
                    entry_point: Some(key.entry),
                    compilation_options: Default::default(),
                    cache: None,
                })
        });
        let pipeline = compiled.map_err(|e| Error::ShaderCompile {
            kernel: label.clone(),
            message: e.to_string(),
        })?;
        let kernel = Arc::new(Kernel {
            pipeline,
            layout,
            contract,
            label,
        });
        let mut kernels = self.kernels.lock().unwrap_or_else(|p| p.into_inner());
        Ok(Arc::clone(kernels.entry(key).or_insert(kernel)))
    }

    /// Records one dispatch of `kernel` into `encoder`: uploads `params` as the uniform
    /// block and binds `buffers` (reads then writes, as the contract says).
    pub(crate) fn record(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        kernel: &Kernel,
        params: &[u8],
        buffers: &[wgpu::BufferBinding<'_>],
        workgroups: [u32; 3],
    ) {
        debug_assert_eq!(
            buffers.len() as u32,
            kernel.contract.reads + kernel.contract.writes,
            "{}",
            kernel.label
        );
        let uniform = self
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(&kernel.label),
                contents: params,
                usage: wgpu::BufferUsages::UNIFORM,
            });
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: uniform.as_entire_binding(),
        }];
        entries.extend(
            buffers
                .iter()
                .enumerate()
                .map(|(i, b)| wgpu::BindGroupEntry {
                    binding: 1 + i as u32,
                    resource: wgpu::BindingResource::Buffer(b.clone()),
                }),
        );
        let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(&kernel.label),
            layout: &kernel.layout,
            entries: &entries,
        });
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some(&kernel.label),
            timestamp_writes: None,
        });
        pass.set_pipeline(&kernel.pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        pass.dispatch_workgroups(workgroups[0], workgroups[1], workgroups[2]);
        self.dispatches.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn encoder(&self, label: &str) -> wgpu::CommandEncoder {
        self.device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(label) })
    }

    /// Records with `record` into a fresh encoder and submits it, all inside error scopes.
    pub(crate) fn run(
        &self,
        label: &str,
        record: impl FnOnce(&mut wgpu::CommandEncoder) -> Result<()>,
    ) -> Result<()> {
        self.scoped(&|| label.to_string(), || {
            let mut encoder = self.encoder(label);
            record(&mut encoder)?;
            self.queue.submit([encoder.finish()]);
            Ok::<(), Error>(())
        })?
    }

    /// Allocates a storage buffer of `bytes` (rounded up to 16, at least 16), zero-filled.
    pub(crate) fn storage_buffer(&self, label: &str, bytes: u64) -> Result<wgpu::Buffer> {
        let size = bytes.div_ceil(16).max(1) * 16;
        if size > self.limits.max_buffer_size {
            return Err(Error::TooLarge {
                what: "buffer",
                bytes,
                max: self.limits.max_buffer_size,
            });
        }
        self.scoped(&|| format!("allocating {label} ({size} bytes)"), || {
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        })
    }

    /// Copies `size` bytes of `buffer` from `offset` to the host and waits for them.
    pub(crate) fn read_bytes(
        &self,
        what: &'static str,
        buffer: &wgpu::Buffer,
        offset: u64,
        size: u64,
    ) -> Result<Vec<u8>> {
        if size == 0 {
            return Ok(Vec::new());
        }
        let staging = self.scoped(&|| format!("allocating readback of {what}"), || {
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("readback"),
                size,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        })?;
        self.run("readback", |encoder| {
            encoder.copy_buffer_to_buffer(buffer, offset, &staging, 0, size);
            Ok(())
        })?;
        let (sender, receiver) = futures_intrusive::channel::shared::oneshot_channel();
        staging.slice(..).map_async(wgpu::MapMode::Read, move |r| {
            let _ = sender.send(r);
        });
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Readback {
                what,
                message: e.to_string(),
            })?;
        let mapped = pollster::block_on(receiver.receive()).ok_or_else(|| Error::Readback {
            what,
            message: "the map callback never ran".into(),
        })?;
        mapped.map_err(|e| Error::Readback {
            what,
            message: e.to_string(),
        })?;
        let bytes = staging
            .slice(..)
            .get_mapped_range()
            .map_err(|e| Error::Readback {
                what,
                message: e.to_string(),
            })?
            .to_vec();
        staging.unmap();
        self.ensure_usable()?;
        Ok(bytes)
    }

    /// Uploads `data` into a buffer, after creating it.
    pub(crate) fn write_bytes(&self, buffer: &wgpu::Buffer, data: &[u8]) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        self.scoped(&|| "upload".into(), || {
            self.queue.write_buffer(buffer, 0, data)
        })
    }

    /// Largest number of bytes one storage binding may cover, rounded down so that chunk
    /// offsets stay aligned.
    /// Also at most 4 GiB, so that element and vec4 indices inside one binding fit in u32.
    pub(crate) fn max_binding_bytes(&self) -> u64 {
        let align = self.limits.min_storage_buffer_offset_alignment.max(16) as u64;
        (self.limits.max_storage_buffer_binding_size.min(1 << 32) / align) * align
    }
}

impl Gpu {
    /// Compiles `source` as a one-uniform kernel with entry `main`, as every kernel is
    /// compiled: for testing that a WGSL error becomes [`Error::ShaderCompile`].
    #[doc(hidden)]
    pub fn compile_for_tests(&self, kernel: &'static str, source: &str) -> Result<()> {
        let key = PipelineKey {
            kernel,
            entry: "main",
            dtype: DType::F32,
            variant: 0,
            workgroup_size: 1,
        };
        let contract = BindingContract {
            reads: 0,
            writes: 0,
        };
        self.kernel(key, contract, || source.to_string())
            .map(|_| ())
    }
}

/// Marks a device as lost for tests of the lost-device path.
#[doc(hidden)]
pub fn destroy_device_for_tests(gpu: &Gpu) {
    gpu.device.destroy();
    let _ = gpu.device.poll(wgpu::PollType::Poll);
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Gpu>();
};
