//! The GPU context: adapter, device, queue, pipeline cache, error scopes and readback.
//!
//! One [`Gpu`] is built once and shared (it is `Send + Sync`). Every kernel in the crate
//! follows one binding contract, so one helper builds every bind-group layout:
//! `@binding(0)` is a uniform block of parameters, then come the read-only storage
//! buffers, then the read-write ones.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::kernel::{CompiledKernel, KernelKey, KernelSource, SharedKernel};

/// The features [`Gpu::new`] leaves off even where the adapter has them, from the
/// comma-separated `WGACT_DISABLE_FEATURES` (`shader-f16`, `subgroup`, `timestamp-query`):
/// how tests and the CLI exercise the paths of adapters without them (packed f16, the
/// shared-memory reductions, untimed benches).
///
/// # Errors
/// [`Error::InvalidParameter`] naming an unknown feature.
pub fn disabled_features() -> Result<wgpu::Features> {
    match std::env::var("WGACT_DISABLE_FEATURES") {
        Ok(list) => parse_feature_list(&list),
        Err(_) => Ok(wgpu::Features::empty()),
    }
}

fn parse_feature_list(list: &str) -> Result<wgpu::Features> {
    let mut out = wgpu::Features::empty();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        out |= match name.to_ascii_lowercase().replace('_', "-").as_str() {
            "shader-f16" | "f16" => wgpu::Features::SHADER_F16,
            "subgroup" | "subgroups" => wgpu::Features::SUBGROUP,
            "timestamp-query" | "timestamps" => wgpu::Features::TIMESTAMP_QUERY,
            _ => {
                return Err(Error::InvalidParameter {
                    layer: "Gpu",
                    name: "WGACT_DISABLE_FEATURES",
                    value: name.to_string(),
                    reason: "names no maskable feature (shader-f16, subgroup, timestamp-query)",
                })
            }
        };
    }
    Ok(out)
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

/// The one instance every [`Gpu::new`] uses. wgpu compares devices and buffers by their ids
/// inside one instance, so keeping every device of the process in one instance is what makes
/// "this tensor belongs to another device" decidable (and cheap: a comparison).
fn shared_instance(backends: wgpu::Backends) -> &'static wgpu::Instance {
    static INSTANCE: std::sync::OnceLock<wgpu::Instance> = std::sync::OnceLock::new();
    INSTANCE.get_or_init(|| {
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle().with_env();
        desc.backends = backends;
        wgpu::Instance::new(desc)
    })
}

/// Optional features we use when the adapter has them.
#[cfg(not(target_arch = "wasm32"))]
const WANTED_FEATURES: wgpu::Features = wgpu::Features::SHADER_F16
    .union(wgpu::Features::TIMESTAMP_QUERY)
    .union(wgpu::Features::SUBGROUP);
/// In a browser, no subgroups: the subgroup softmax kernels are written in naga's dialect
/// (builtins without `enable subgroups;`, which naga 30 rejects and a browser's WGSL
/// requires, and `subgroup_id`, which WebGPU lacks), so softmax takes its tree reductions.
#[cfg(target_arch = "wasm32")]
const WANTED_FEATURES: wgpu::Features =
    wgpu::Features::SHADER_F16.union(wgpu::Features::TIMESTAMP_QUERY);

/// Limits and paths a [`Gpu`] runs under below its device's own: the one knob tests use to
/// exercise chunking, 2-D grids and fallback paths at small sizes (results must not change).
/// Every family reads its limits from the `Gpu`, in bytes and workgroups, so one override
/// reaches all of them.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LimitsOverride {
    /// Largest storage binding in bytes (never above the device's).
    pub max_binding_bytes: Option<u64>,
    /// Workgroups per grid dimension (never above the device's).
    pub max_groups_per_dim: Option<u32>,
    /// No subgroup operations: softmax reduces with its shared-memory trees.
    pub no_subgroups: bool,
    /// No register trees: PReLU's first dalpha pass always takes the shared-memory tree.
    pub shared_memory_trees: bool,
    /// Elementwise kernels take the GPU's grid-stride loop even on a CPU adapter.
    pub grid_stride_loops: bool,
    /// Softmax takes the kernels it takes on a GPU even on a CPU adapter.
    pub gpu_softmax: bool,
    /// PReLU takes the kernels it takes on a GPU even on a CPU adapter.
    pub gpu_prelu: bool,
}

/// The GPU context. Build it once; it owns the device, queue and compiled pipelines.
pub struct Gpu {
    id: u64,
    device: wgpu::Device,
    queue: wgpu::Queue,
    info: GpuInfo,
    limits: wgpu::Limits,
    /// Workgroups a grid-stride loop runs on: see [`Gpu::grid_stride_workgroups`].
    grid_stride_workgroups: u32,
    /// The adapter is a CPU (lavapipe, SwiftShader): kernels may pick CPU-shaped loops.
    cpu: bool,
    /// The pipeline cache: per key type (`TypeId` of a family's `KernelKey`), a
    /// `HashMap<Key, SharedKernel>`.
    kernels: Mutex<HashMap<TypeId, Box<dyn Any + Send + Sync>>>,
    layouts: Mutex<HashMap<(u32, u32), wgpu::BindGroupLayout>>,
    /// Grow-only scratch buffers (softmax and dalpha partials), by slot. Every op uses its
    /// scratch within its own dispatches and all work runs in queue order, so ops may share
    /// them; a grown slot's old buffer lives on in the commands that recorded it.
    scratch: Mutex<Vec<Option<wgpu::Buffer>>>,
    health: Health,
    live_bytes: Arc<AtomicU64>,
    dispatches: AtomicU64,
    overrides: LimitsOverride,
}

/// What the device reported out of band: a loss, an error that escaped every scope, and (in
/// a browser, where error scopes resolve later as promises) the first error a scope caught
/// after its call had returned. Shared with pending readbacks, which report it on resolving.
#[derive(Clone, Default)]
pub(crate) struct Health {
    lost: Arc<Mutex<Option<String>>>,
    uncaptured: Arc<Mutex<Option<String>>>,
    deferred: Arc<Mutex<Option<Error>>>,
}

impl Health {
    /// Fails when the device was lost or an error escaped a scope or was caught late.
    pub(crate) fn check(&self) -> Result<()> {
        if let Some(reason) = self.lost.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return Err(Error::DeviceLost(reason));
        }
        if let Some(e) = self
            .deferred
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            return Err(e);
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
    ///
    /// Native only: a browser cannot block, so a web application awaits [`Gpu::new_async`].
    #[cfg(not(target_arch = "wasm32"))]
    pub fn new() -> Result<Self> {
        pollster::block_on(Self::new_async())
    }

    /// Async twin of [`Gpu::new`], and the way to get a context in a browser (WebGPU's
    /// adapter there, with the adapter's own limits, e.g. its storage-binding size, requested).
    ///
    /// # Errors
    /// [`Error::NoAdapter`] when no adapter exists (in a browser: no WebGPU, or it is
    /// disabled), [`Error::RequestDevice`] when the adapter refuses a device.
    pub async fn new_async() -> Result<Self> {
        Self::new_masked(disabled_features()?).await
    }

    /// As [`Gpu::new`], leaving `features` off even where the adapter has them (on top of
    /// `WGACT_DISABLE_FEATURES`): `wgpu::Features::SHADER_F16` gives the packed-f16 path,
    /// `SUBGROUP` the shared-memory reductions, as on adapters without them.
    ///
    /// # Errors
    /// As [`Gpu::new`].
    #[cfg(not(target_arch = "wasm32"))]
    pub fn new_without(features: wgpu::Features) -> Result<Self> {
        pollster::block_on(Self::new_without_async(features))
    }

    /// Async twin of [`Gpu::new_without`].
    ///
    /// # Errors
    /// As [`Gpu::new_async`].
    pub async fn new_without_async(features: wgpu::Features) -> Result<Self> {
        Self::new_masked(features | disabled_features()?).await
    }

    async fn new_masked(disabled: wgpu::Features) -> Result<Self> {
        let backends = wgpu::Backends::from_env().unwrap_or(wgpu::Backends::PRIMARY);
        let adapter = Self::pick_adapter(shared_instance(backends), backends).await?;
        let wanted = adapter.features() & WANTED_FEATURES & !disabled;
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
        let gpu = Self::from_device(device, queue);
        gpu.install_handlers();
        Ok(gpu)
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
    ///
    /// Nothing is installed on the device: the application's uncaptured-error handler and
    /// device-lost callback stay as they are, and every library call that creates resources
    /// or submits runs inside its own error scopes. Several contexts may wrap one device
    /// (clones of the same `Device` and `Queue`) and share tensors and views. Use
    /// [`Gpu::install_handlers`] to have the library take both callbacks over, as
    /// [`Gpu::new`] does for the device it creates itself.
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
            // A browser's device may have subgroups (an application's own device), but the
            // subgroup kernels do not compile there (see WANTED_FEATURES): trees instead.
            subgroup: features.contains(wgpu::Features::SUBGROUP) && !cfg!(target_arch = "wasm32"),
            min_subgroup_size: adapter.subgroup_min_size,
            max_subgroup_size: adapter.subgroup_max_size,
            max_buffer_size: limits.max_buffer_size,
            max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
            max_compute_workgroups_per_dimension: limits.max_compute_workgroups_per_dimension,
            max_compute_invocations_per_workgroup: limits.max_compute_invocations_per_workgroup,
            max_compute_workgroup_storage_size: limits.max_compute_workgroup_storage_size,
            min_storage_buffer_offset_alignment: limits.min_storage_buffer_offset_alignment,
        };
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
            cpu: adapter.device_type == wgpu::DeviceType::Cpu,
            kernels: Mutex::new(HashMap::new()),
            layouts: Mutex::new(HashMap::new()),
            scratch: Mutex::new(Vec::new()),
            health: Health::default(),
            live_bytes: Arc::new(AtomicU64::new(0)),
            dispatches: AtomicU64::new(0),
            overrides: LimitsOverride::default(),
        }
    }

    /// Takes over the device's device-lost callback and uncaptured-error handler: errors that
    /// escape every scope are kept and reported by the library's next call as
    /// [`Error::Gpu`], instead of wgpu's default panic. [`Gpu::new`] does this for the device
    /// it creates; a wrapped device keeps the application's callbacks unless it calls this.
    pub fn install_handlers(&self) {
        let lost_cb = Arc::clone(&self.health.lost);
        self.device
            .set_device_lost_callback(move |reason, message| {
                *lost_cb.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some(format!("{reason:?}: {message}"));
            });
        let uncaptured_cb = Arc::clone(&self.health.uncaptured);
        self.device
            .on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
                *uncaptured_cb.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
            }));
    }

    /// How this device stores a tensor of `dtype` (native f16 with `SHADER_F16`, packed
    /// halves without).
    pub(crate) fn store(&self, dtype: DType) -> crate::kernel::Store {
        crate::kernel::Store::of(dtype, self.info.shader_f16)
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

    pub(crate) fn limits(&self) -> &wgpu::Limits {
        &self.limits
    }

    /// How many workgroups a grid-stride loop should run on for this adapter.
    /// Workgroups of a grid-stride dispatch (`shaders/grid_stride.wgsl`) over `units` units,
    /// one unit per invocation: capped at the grid-stride size and the workgroups per
    /// dimension (the loop covers the rest).
    pub(crate) fn grid_stride_groups(&self, units: usize) -> u32 {
        let max = self.grid_stride_workgroups().min(self.max_groups_per_dim());
        units
            .div_ceil(crate::kernel::GRID_STRIDE_WG as usize)
            .min(max as usize) as u32
    }

    pub(crate) fn grid_stride_workgroups(&self) -> u32 {
        self.grid_stride_workgroups
    }

    pub(crate) fn live_bytes_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.live_bytes)
    }

    /// Fails when the device was lost or an error escaped a scope.
    pub(crate) fn ensure_usable(&self) -> Result<()> {
        self.health.check()
    }

    /// Runs `f` inside validation and out-of-memory error scopes and turns what they catch
    /// into typed errors naming `during`.
    pub(crate) fn scoped<T>(
        &self,
        during: &dyn Fn() -> String,
        f: impl FnOnce() -> T,
    ) -> Result<T> {
        self.scoped_as(during, |e| e, f)
    }

    /// [`Gpu::scoped`], with what a scope catches passed through `classify` (a caller's
    /// more precise error). The scopes are popped at once either way; only how their
    /// promises are settled differs. Natively wgpu settles them during the pop, so the
    /// error comes back from this call. A browser settles them later on its event loop and
    /// nothing here may wait for it: the error is kept and returned by the context's next
    /// call (or by the readback being awaited), as an error that escaped a scope is.
    pub(crate) fn scoped_as<T>(
        &self,
        during: &dyn Fn() -> String,
        classify: impl Fn(Error) -> Error + 'static,
        f: impl FnOnce() -> T,
    ) -> Result<T> {
        self.ensure_usable()?;
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let value = f();
        let (oom, validation) = (oom.pop(), validation.pop());
        let typed =
            move |during: String, oom: Option<wgpu::Error>, validation: Option<wgpu::Error>| {
                if let Some(e) = oom {
                    return Some(classify(Error::OutOfMemory {
                        during: format!("{during}: {e}"),
                    }));
                }
                validation.map(|e| {
                    classify(Error::Gpu {
                        during,
                        message: e.to_string(),
                    })
                })
            };
        #[cfg(not(target_arch = "wasm32"))]
        {
            let (oom, validation) = (pollster::block_on(oom), pollster::block_on(validation));
            if oom.is_some() || validation.is_some() {
                if let Some(e) = typed(during(), oom, validation) {
                    return Err(e);
                }
            }
        }
        #[cfg(target_arch = "wasm32")]
        {
            let (during, deferred) = (during(), Arc::clone(&self.health.deferred));
            wasm_bindgen_futures::spawn_local(async move {
                let (oom, validation) = (oom.await, validation.await);
                if let Some(e) = typed(during, oom, validation) {
                    deferred
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .get_or_insert(e);
                }
            });
        }
        self.ensure_usable()?;
        Ok(value)
    }

    /// The bind-group layout of `reads` read-only then `writes` read-write storage arrays
    /// after the uniform block (bound at a dynamic offset), built once.
    fn layout(&self, reads: u32, writes: u32) -> wgpu::BindGroupLayout {
        let mut layouts = self.layouts.lock().unwrap_or_else(|p| p.into_inner());
        layouts
            .entry((reads, writes))
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
                        has_dynamic_offset: true,
                        min_binding_size: None,
                    },
                    count: None,
                }];
                entries.extend((0..reads).map(|i| storage(1 + i, true)));
                entries.extend((0..writes).map(|i| storage(1 + reads + i, false)));
                self.device
                    .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                        label: Some(&format!("layout/{reads}r{writes}w")),
                        entries: &entries,
                    })
            })
            .clone()
    }

    /// The pipeline for `key`, compiled from `source()` on first use.
    ///
    /// # Errors
    /// [`Error::ShaderCompile`] naming the kernel when WGSL or pipeline creation fails.
    pub(crate) fn kernel<K: KernelKey>(
        &self,
        key: K,
        source: impl FnOnce() -> KernelSource,
    ) -> Result<SharedKernel> {
        let cached = self
            .kernels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&TypeId::of::<K>())
            .and_then(|family| family.downcast_ref::<HashMap<K, SharedKernel>>())
            .and_then(|family| family.get(&key).cloned());
        if let Some(k) = cached {
            return Ok(k);
        }
        let source = source();
        let label = source.label.clone();
        let (reads, writes) = source.arrays.counts();
        let layout = self.layout(reads, writes);
        let wgsl = source.wgsl();
        let kernel_name = label.clone();
        let as_compile_error = move |e: Error| Error::ShaderCompile {
            kernel: kernel_name.clone(),
            message: e.to_string(),
        };
        let compiled = self.scoped_as(&|| label.clone(), as_compile_error, || {
            let module = self
                .device
                .create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(&label),
                    source: wgpu::ShaderSource::Wgsl(wgsl.as_str().into()),
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
                    entry_point: Some(source.entry),
                    compilation_options: Default::default(),
                    cache: None,
                })
        });
        let pipeline = compiled?;
        let kernel = Arc::new(CompiledKernel {
            pipeline,
            layout,
            label,
            arrays: source.arrays.bound(),
        });
        let mut kernels = self.kernels.lock().unwrap_or_else(|p| p.into_inner());
        let family = kernels
            .entry(TypeId::of::<K>())
            .or_insert_with(|| Box::new(HashMap::<K, SharedKernel>::new()));
        Ok(match family.downcast_mut::<HashMap<K, SharedKernel>>() {
            Some(family) => Arc::clone(family.entry(key).or_insert(kernel)),
            // Unreachable: the entry of `TypeId::of::<K>()` is always a map keyed by `K`.
            None => kernel,
        })
    }

    pub(crate) fn count_dispatch(&self) {
        self.dispatches.fetch_add(1, Ordering::Relaxed);
    }

    /// The device's out-of-band state, for work (readbacks) that reports it later.
    pub(crate) fn health_handle(&self) -> Health {
        self.health.clone()
    }

    pub(crate) fn encoder(&self, label: &str) -> wgpu::CommandEncoder {
        self.device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(label) })
    }

    /// Blocks until the GPU has finished `submission` (and earlier work), not the whole
    /// device's later work. Native only: a browser cannot block (await a readback there).
    ///
    /// # Errors
    /// [`Error::Gpu`] when the wait fails; [`Error::DeviceLost`].
    #[cfg(not(target_arch = "wasm32"))]
    pub fn wait(&self, submission: wgpu::SubmissionIndex) -> Result<()> {
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(submission),
                timeout: None,
            })
            .map_err(|e| Error::Gpu {
                during: "waiting for a submission".into(),
                message: e.to_string(),
            })?;
        self.ensure_usable()
    }

    /// Blocks until everything submitted so far has finished. Native only.
    ///
    /// # Errors
    /// As [`Gpu::wait`].
    #[cfg(not(target_arch = "wasm32"))]
    pub fn wait_idle(&self) -> Result<()> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Gpu {
                during: "waiting for the GPU".into(),
                message: e.to_string(),
            })?;
        self.ensure_usable()
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

    /// Scratch buffer `slot` of at least `bytes`, grown (never shrunk) on demand.
    pub(crate) fn scratch(&self, slot: usize, bytes: u64) -> Result<wgpu::Buffer> {
        let mut scratch = self.scratch.lock().unwrap_or_else(|p| p.into_inner());
        if scratch.len() <= slot {
            scratch.resize(slot + 1, None);
        }
        if let Some(b) = &scratch[slot] {
            if b.size() >= bytes {
                return Ok(b.clone());
            }
        }
        let size = bytes
            .max(256)
            .next_power_of_two()
            .min(self.max_binding_bytes().max(bytes));
        let buffer = self.storage_buffer("wgpu-activations/scratch", size)?;
        scratch[slot] = Some(buffer.clone());
        Ok(buffer)
    }

    /// Fails unless `buffer` belongs to this context's device: a storage binding of it is
    /// made inside an error scope (views are made once, not on the recording path). In a
    /// browser the verdict arrives later: the context's next call reports it.
    pub(crate) fn check_buffer_device(&self, buffer: &wgpu::Buffer) -> Result<()> {
        if buffer.size() < 4 {
            return Ok(());
        }
        let layout = self.layout(1, 0);
        let uniform = self.uniform_probe();
        let foreign = |e: Error| match e {
            Error::Gpu { .. } => Error::ForeignTensor {
                what: "view buffer (made by another device)",
            },
            e => e,
        };
        self.scoped_as(&|| "checking a view's buffer".into(), foreign, || {
            self.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("wgpu-activations/view-check"),
                layout: &layout,
                entries: &[
                    wgpu::BindGroupEntry {
                        binding: 0,
                        resource: uniform.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 1,
                        resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                            buffer,
                            offset: 0,
                            size: std::num::NonZeroU64::new(4),
                        }),
                    },
                ],
            })
        })
        .map(|_| ())
    }

    fn uniform_probe(&self) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("wgpu-activations/view-check"),
            size: 16,
            usage: wgpu::BufferUsages::UNIFORM,
            mapped_at_creation: false,
        })
    }

    /// Uploads `data` into `buffer` at byte `offset` through the queue.
    pub(crate) fn write_bytes(
        &self,
        buffer: &wgpu::Buffer,
        offset: u64,
        data: &[u8],
    ) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        self.scoped(&|| "upload".into(), || {
            self.queue.write_buffer(buffer, offset, data)
        })
    }

    /// Largest number of bytes one storage binding may cover, rounded down so that chunk
    /// offsets stay aligned.
    /// Also at most 4 GiB, so that element and vec4 indices inside one binding fit in u32.
    /// Under a [`LimitsOverride`], its `max_binding_bytes` if smaller (at least one alignment).
    pub(crate) fn max_binding_bytes(&self) -> u64 {
        let align = self.limits.min_storage_buffer_offset_alignment.max(16) as u64;
        let max = self
            .limits
            .max_storage_buffer_binding_size
            .min(1 << 32)
            .min(self.overrides.max_binding_bytes.unwrap_or(u64::MAX));
        (max / align * align).max(align)
    }

    /// Elements one dispatch may cover of a tensor at any element offset: one binding less
    /// the alignment a view's remainder may need, a multiple of the alignment.
    pub(crate) fn chunk_elems(&self) -> usize {
        let align = self.limits.min_storage_buffer_offset_alignment.max(16) as u64;
        let max = self.max_binding_bytes();
        (max.saturating_sub(align) / align * align / 4).max(align / 4) as usize
    }

    /// Workgroups per grid dimension (the device's, or a [`LimitsOverride`]'s if smaller).
    pub(crate) fn max_groups_per_dim(&self) -> u32 {
        self.limits
            .max_compute_workgroups_per_dimension
            .min(self.overrides.max_groups_per_dim.unwrap_or(u32::MAX))
            .max(1)
    }

    /// Whether kernels may use subgroup operations.
    pub(crate) fn subgroups(&self) -> bool {
        self.info.subgroup && !self.overrides.no_subgroups
    }

    /// A CPU adapter on which PReLU takes its CPU kernels (not overridden).
    pub(crate) fn cpu_prelu(&self) -> bool {
        self.cpu && !self.overrides.gpu_prelu
    }

    /// A CPU adapter on which softmax takes its CPU kernels (not overridden).
    pub(crate) fn cpu_softmax(&self) -> bool {
        self.cpu && !self.overrides.gpu_softmax
    }

    /// On a CPU adapter with subgroups of one known size (min == max, a power of two up to 64):
    /// that size, the lanes of softmax's one-subgroup rows (src/softmax/choice.rs).
    pub(crate) fn cpu_subgroup_size(&self) -> Option<u32> {
        let size = self.info.min_subgroup_size;
        (self.cpu_softmax()
            && self.subgroups()
            && size == self.info.max_subgroup_size
            && size.is_power_of_two()
            && size <= 64)
            .then_some(size)
    }

    /// Whether PReLU's first dalpha pass may sum in registers.
    pub(crate) fn register_trees(&self) -> bool {
        !self.overrides.shared_memory_trees
    }

    /// Whether the adapter is a CPU whose kernels may take CPU-shaped loops (not under a
    /// [`LimitsOverride`] asking for the GPU's grid-stride loops).
    pub(crate) fn cpu_loops(&self) -> bool {
        self.cpu && !self.overrides.grid_stride_loops
    }

    /// A second context on the same device and queue that runs every call under `limits`
    /// (smaller bindings and grids, fallback paths): for tests of the chunked, 2-D grid and
    /// fallback paths at small sizes. Tensors of either context work with the other.
    #[doc(hidden)]
    pub fn with_limits_override(&self, limits: LimitsOverride) -> Gpu {
        let mut gpu = Gpu::from_device(self.device.clone(), self.queue.clone());
        gpu.overrides = limits;
        gpu.grid_stride_workgroups = self.grid_stride_workgroups.min(gpu.max_groups_per_dim());
        gpu
    }
}

impl Gpu {
    /// Compiles `source` as a kernel with entry `main` and no storage arrays, as every
    /// kernel is compiled: for testing that a WGSL error becomes [`Error::ShaderCompile`].
    #[doc(hidden)]
    pub fn compile_for_tests(&self, kernel: &'static str, source: &str) -> Result<()> {
        self.kernel(RawKernel(kernel), || KernelSource {
            label: kernel.to_string(),
            entry: "main",
            arrays: crate::kernel::Arrays::new(Vec::new()),
            body: source.to_string(),
        })
        .map(|_| ())
    }
}

/// Marks a device as lost for tests of the lost-device path.
#[doc(hidden)]
pub fn destroy_device_for_tests(gpu: &Gpu) {
    gpu.device.destroy();
    let _ = gpu.device.poll(wgpu::PollType::Poll);
}

// wgpu's WebGPU handles are JavaScript objects, neither `Send` nor `Sync`: only native.
#[cfg(not(target_arch = "wasm32"))]
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Gpu>();
};

/// Key of a kernel compiled from a given source (`Gpu::compile_for_tests`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct RawKernel(&'static str);

#[cfg(test)]
mod feature_mask_tests {
    use super::*;

    #[test]
    fn the_feature_mask_names_features_as_the_cli_does_and_refuses_others() {
        assert_eq!(parse_feature_list("").unwrap(), wgpu::Features::empty());
        assert_eq!(
            parse_feature_list("shader-f16, subgroup,timestamp-query").unwrap(),
            wgpu::Features::SHADER_F16 | wgpu::Features::SUBGROUP | wgpu::Features::TIMESTAMP_QUERY
        );
        assert_eq!(
            parse_feature_list("SHADER_F16").unwrap(),
            wgpu::Features::SHADER_F16
        );
        let err = parse_feature_list("shader-f16,warp").unwrap_err();
        assert!(err.to_string().contains("warp"), "{err}");
    }
}
