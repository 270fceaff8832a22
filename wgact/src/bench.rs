//! Timing of the crate's kernels, shared by `wgact bench` and the criterion benches.
//!
//! Every op runs in each dtype of [`Options::dtypes`] (f32 and f16 by default), against the
//! copy roof of that dtype: the same copy kernel over the same bytes (an f16 tensor of n
//! elements is 2n bytes, copied as vec4 words whatever its storage).
//!
//! The figure of merit is the bandwidth a kernel reaches counting only the bytes a perfect
//! kernel must move (forward: read `x`, write `y`; backward: read `x` and `dy`, write `dx`),
//! divided by its GPU time, and the ratio of that to a vectorised copy kernel measured on the
//! same adapter, in the same run, at the same size.
//!
//! Kernel time comes from GPU timestamp queries where the device has `TIMESTAMP_QUERY`: the
//! op's recorded dispatches are bracketed, in the same encoder, by two empty compute passes
//! whose timestamps are written at the beginning of the first and at the end of the second.
//! Without timestamps it is the wall time of submit + wait. The median of repeated runs after
//! warm-up is reported. The end-to-end time is one public call as a user sees it (validation,
//! output allocation, encoding, submission and completion; no upload or download).
//!
//! # Adding an op
//! One [`OpKind`] variant, its arm in `OpKind::case` (allocate inputs, say what to record
//! and what a user would call) and its presets in [`BenchOp::defaults`].

use std::time::{Duration, Instant};

use crate::check::Rng;
use crate::ops::ElementwiseOps;
use wgpu_activations::Batch;
use wgpu_activations::Softmax;
use wgpu_activations::Tensor;
use wgpu_activations::Traffic;
use wgpu_activations::{DType, Gpu};
use wgpu_activations::{Direction, Elementwise};
use wgpu_activations::{Error, Result};
use wgpu_activations::{Initializer, PReLU};

mod copy;

pub use copy::{copy_wgsl, uniform_bind_group, CopyLoop, CopyPlan, COPY_WORKGROUP_SIZE};
/// Grid sizes (workgroups) the copy kernel tries at each tensor size; the fastest is the roof.
/// 16,896 is about 128 workgroups per SM on an H100, where such a grid reached the copy roof.
const COPY_GRIDS: [u32; 6] = [64, 256, 1024, 4096, 16_896, u32::MAX];
/// Queries per query set: far below wgpu's `QUERY_SET_MAX_QUERIES` (4096).
const REPS_PER_QUERY_SET: usize = 512;

/// How [`Measurement::kernel`] was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// GPU timestamps around the op's dispatches.
    Timestamps,
    /// Wall time of submit + wait (the adapter has no timestamp queries, or they were turned off).
    SubmitWait,
}

impl Timer {
    pub fn name(self) -> &'static str {
        match self {
            Timer::Timestamps => "timestamps",
            Timer::SubmitWait => "submit-wait",
        }
    }
}

/// How long and how often to measure each row.
#[derive(Clone, Debug)]
pub struct Options {
    /// Untimed runs before measuring (they also estimate how many runs fit `target`).
    pub warmup: usize,
    /// Timed runs per row: enough for `target` of kernel time, within these bounds.
    pub min_reps: usize,
    pub max_reps: usize,
    /// Kernel time to spend measuring each row (and again its end-to-end time).
    pub target: Duration,
    /// Use timestamp queries when the device has them (else submit + wait).
    pub timestamps: bool,
    /// Seed of the generated inputs.
    pub seed: u64,
    /// Sizes (in ascending order) stop where the copy kernel's time, extrapolated linearly
    /// from the previous size, would exceed this: how a default run fits the adapter.
    pub max_copy_time: Option<Duration>,
    /// The dtypes every op runs in, each against its own copy roof.
    pub dtypes: Vec<DType>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            warmup: 2,
            min_reps: 5,
            max_reps: 200,
            target: Duration::from_millis(100),
            timestamps: true,
            seed: 1,
            max_copy_time: None,
            dtypes: DType::ALL.to_vec(),
        }
    }
}

/// One benchmarked operation: the name its rows carry and what it runs.
#[derive(Clone, Debug)]
pub struct BenchOp {
    /// The `op` field of its rows, named as `torch_baseline.py` names the same op.
    pub name: &'static str,
    /// Tells apart presets of one op that share a size, e.g. softmax's row lengths
    /// (`"256 columns"`); each is its own line in the chart. Empty for most.
    pub variant: &'static str,
    pub kind: OpKind,
}

/// What a [`BenchOp`] runs.
#[derive(Clone, Copy, Debug)]
pub enum OpKind {
    /// The copy kernel (forward only): the bandwidth roof, measured at every size anyway.
    Copy,
    /// An elementwise layer.
    Elementwise(Elementwise),
    /// PReLU with one alpha per channel on NHWC input (`shared_axes=[1, 2]`), 64 channels of
    /// 8x8, as `torch_baseline.py` runs it. Backward computes dx and dalpha.
    PReLU,
    /// Softmax along the last axis of rows of `cols` elements.
    SoftmaxLast { cols: usize },
    /// Softmax along axis 1 of `(N, 64, 128, 128)`: the strided kernel, no transpose.
    SoftmaxAxis1,
}

/// A prepared measurement: inputs allocated, ready to record or call.
pub struct Workload {
    pub shape: Vec<usize>,
    /// The dtype of its tensors.
    pub dtype: DType,
    /// What else identifies the kernel run, e.g. the copy's grid; empty for most ops.
    pub detail: String,
    /// Bytes a perfect kernel moves.
    pub bytes: u64,
    /// Bytes the library's kernels move by design (`Traffic::design_bytes`: passes,
    /// re-reads, partial sums), from the same plan the call records.
    pub design_bytes: u64,
    record: Box<RecordFn>,
    call: Box<CallFn>,
}

/// Records the op's dispatches into an encoder.
type RecordFn = dyn Fn(&Gpu, &mut wgpu::CommandEncoder) -> Result<()>;
/// Makes the public call a user would make.
type CallFn = dyn Fn(&Gpu) -> Result<()>;

impl Workload {
    /// Records the op's dispatches (what the kernel time covers).
    pub fn record(&self, gpu: &Gpu, encoder: &mut wgpu::CommandEncoder) -> Result<()> {
        (self.record)(gpu, encoder)
    }
    /// One public call as a user makes it; returns after submitting (the output is dropped).
    pub fn call(&self, gpu: &Gpu) -> Result<()> {
        (self.call)(gpu)
    }
}

impl BenchOp {
    /// What `wgact bench` runs by default: copy and every layer's presets.
    pub fn defaults() -> Vec<BenchOp> {
        let mut ops = vec![BenchOp {
            name: "copy",
            variant: "",
            kind: OpKind::Copy,
        }];
        ops.extend(
            Elementwise::defaults()
                .iter()
                .flat_map(ElementwiseOps::bench_presets)
                .map(|(name, op)| BenchOp {
                    name,
                    variant: "",
                    kind: OpKind::Elementwise(op),
                }),
        );
        ops.extend([
            BenchOp {
                name: "prelu",
                variant: "",
                kind: OpKind::PReLU,
            },
            softmax_last("32 columns", 32),
            softmax_last("256 columns", 256),
            softmax_last("1024 columns", 1024),
            softmax_last("4096 columns", 4096),
            softmax_last("32768 columns", 32768),
            BenchOp {
                name: "softmax_axis1",
                variant: "",
                kind: OpKind::SoftmaxAxis1,
            },
        ]);
        ops
    }

    /// The op with its variant, e.g. `softmax_last 256 columns`: one criterion group or chart
    /// line each.
    pub fn label(&self) -> String {
        if self.variant.is_empty() {
            self.name.to_string()
        } else {
            format!("{} {}", self.name, self.variant)
        }
    }

    /// The inputs for `direction` at about `n` elements of `dtype`, or `None` when the op
    /// has no such direction or `n` does not suit it.
    ///
    /// # Errors
    /// Allocation and upload errors.
    pub fn case(
        &self,
        gpu: &Gpu,
        direction: Direction,
        n: usize,
        dtype: DType,
        seed: u64,
    ) -> Result<Option<Workload>> {
        self.kind.case(gpu, direction, n, dtype, seed)
    }
}

fn softmax_last(variant: &'static str, cols: usize) -> BenchOp {
    BenchOp {
        name: "softmax_last",
        variant,
        kind: OpKind::SoftmaxLast { cols },
    }
}

/// `n` values uniform in [-3, 3) (rounded to `dtype`): both sides of every default kink,
/// ELU's exp included.
fn random_tensor(gpu: &Gpu, n: usize, dtype: DType, seed: u64) -> Result<Tensor> {
    let mut rng = Rng::new(seed);
    let data: Vec<f32> = (0..n).map(|_| rng.uniform(-3.0, 3.0)).collect();
    Tensor::from_slice_as(gpu, &data, &[n], dtype)
}

/// How `gpu` stores `dtype`: `f32`, `f16 native` (`array<f16>`, the device has
/// `SHADER_F16`) or `f16 packed` (two halves per `u32`).
pub fn storage(gpu: &Gpu, dtype: DType) -> &'static str {
    match dtype {
        DType::F32 => "f32",
        DType::F16 if gpu.info().shader_f16 => "f16 native",
        DType::F16 => "f16 packed",
    }
}

impl OpKind {
    fn case(
        &self,
        gpu: &Gpu,
        direction: Direction,
        n: usize,
        dtype: DType,
        seed: u64,
    ) -> Result<Option<Workload>> {
        match *self {
            OpKind::Copy => match direction {
                Direction::Forward => tuned_copy_case(gpu, n, dtype, seed).map(Some),
                Direction::Backward => Ok(None),
            },
            OpKind::Elementwise(op) => {
                let x = random_tensor(gpu, n, dtype, seed)?;
                let out = Tensor::zeros_of(gpu, &[n], dtype)?;
                let inputs = match direction {
                    Direction::Forward => vec![x],
                    Direction::Backward => vec![x, random_tensor(gpu, n, dtype, seed ^ 0xd1)?],
                };
                let traffic = op.traffic(n, direction, dtype);
                let recorded = inputs.clone();
                Ok(Some(layer_workload(
                    &[n],
                    dtype,
                    &traffic,
                    move |batch| match direction {
                        Direction::Forward => op.record_forward(batch, &recorded[0], &out),
                        Direction::Backward => {
                            op.record_backward(batch, &recorded[0], &recorded[1], &out)
                        }
                    },
                    move |gpu| match direction {
                        Direction::Forward => op.forward(gpu, &inputs[0]).map(drop),
                        Direction::Backward => op.backward(gpu, &inputs[0], &inputs[1]).map(drop),
                    },
                )))
            }
            OpKind::PReLU => prelu_case(gpu, direction, n, dtype, seed),
            OpKind::SoftmaxLast { cols } => {
                if !n.is_multiple_of(cols) {
                    return Ok(None);
                }
                softmax_case(gpu, direction, &[n / cols, cols], -1, dtype, seed).map(Some)
            }
            OpKind::SoftmaxAxis1 => {
                const PLANE: usize = 64 * 128 * 128;
                if !n.is_multiple_of(PLANE) {
                    return Ok(None);
                }
                let shape = [n / PLANE, 64, 128, 128];
                softmax_case(gpu, direction, &shape, 1, dtype, seed).map(Some)
            }
        }
    }
}

/// A layer's workload over `shape`: `record` adds its dispatches to a fresh [`Batch`], which
/// is encoded into the timed encoder; `call` is the public call a user makes.
fn layer_workload(
    shape: &[usize],
    dtype: DType,
    traffic: &Traffic,
    record: impl Fn(&mut Batch<'_>) -> Result<()> + 'static,
    call: impl Fn(&Gpu) -> Result<()> + 'static,
) -> Workload {
    Workload {
        shape: shape.to_vec(),
        dtype,
        detail: String::new(),
        bytes: traffic.ideal_bytes,
        design_bytes: traffic.design_bytes,
        record: Box::new(move |gpu, encoder| {
            let mut batch = Batch::new(gpu);
            record(&mut batch)?;
            batch.encode(encoder)
        }),
        call: Box::new(call),
    }
}

/// PReLU on `(n / 4096, 8, 8, 64)` with `shared_axes=[1, 2]`; `None` when 4096 does not
/// divide `n`. Backward is dx and dalpha (bytes: x, dy and dx, plus dalpha).
fn prelu_case(
    gpu: &Gpu,
    direction: Direction,
    n: usize,
    dtype: DType,
    seed: u64,
) -> Result<Option<Workload>> {
    if !n.is_multiple_of(4096) {
        return Ok(None);
    }
    let shape = [n / 4096, 8, 8, 64];
    let mut layer = PReLU::new(Initializer::Constant(0.25), None, None, Some(vec![1, 2]))?;
    layer.build(gpu, &shape)?;
    let traffic = layer.traffic(gpu, &shape, direction, dtype)?;
    let x = random_tensor(gpu, n, dtype, seed)?.reshape(&shape)?;
    let out = Tensor::zeros_of(gpu, &shape, dtype)?;
    let layer = std::rc::Rc::new(std::cell::RefCell::new(layer));
    let recorded = std::rc::Rc::clone(&layer);
    Ok(Some(match direction {
        Direction::Forward => {
            let xr = x.clone();
            layer_workload(
                &shape,
                dtype,
                &traffic,
                move |batch| recorded.borrow_mut().record_forward(batch, &xr, &out),
                move |gpu| layer.borrow_mut().forward(gpu, &x).map(drop),
            )
        }
        Direction::Backward => {
            let dy = random_tensor(gpu, n, dtype, seed ^ 0xd1)?.reshape(&shape)?;
            let alpha_shape = layer.borrow().alpha_shape()?.to_vec();
            let dalpha = Tensor::zeros_of(gpu, &alpha_shape, dtype)?;
            let (xr, dyr) = (x.clone(), dy.clone());
            layer_workload(
                &shape,
                dtype,
                &traffic,
                move |batch| {
                    recorded
                        .borrow_mut()
                        .record_backward(batch, &xr, &dyr, &out, &dalpha)
                },
                move |gpu| layer.borrow_mut().backward(gpu, &x, &dy).map(drop),
            )
        }
    }))
}

/// Softmax along `axis` of `shape`. Backward works from a real forward output `y`.
fn softmax_case(
    gpu: &Gpu,
    direction: Direction,
    shape: &[usize],
    axis: i64,
    dtype: DType,
    seed: u64,
) -> Result<Workload> {
    let n = wgpu_activations::element_count(shape).unwrap_or(0);
    let layer = Softmax::new(axis)?;
    let traffic = layer.traffic_on(gpu, shape, direction, false, dtype)?;
    let x = random_tensor(gpu, n, dtype, seed)?.reshape(shape)?;
    let out = Tensor::zeros_of(gpu, shape, dtype)?;
    Ok(match direction {
        Direction::Forward => {
            let xr = x.clone();
            layer_workload(
                shape,
                dtype,
                &traffic,
                move |batch| layer.record_forward(batch, &xr, None, &out),
                move |gpu| layer.forward(gpu, &x).map(drop),
            )
        }
        Direction::Backward => {
            let y = layer.forward(gpu, &x)?;
            let dy = random_tensor(gpu, n, dtype, seed ^ 0xd1)?.reshape(shape)?;
            let (yr, dyr) = (y.clone(), dy.clone());
            layer_workload(
                shape,
                dtype,
                &traffic,
                move |batch| layer.record_backward(batch, &yr, &dyr, None, &out),
                move |gpu| layer.backward(gpu, &y, &dy).map(drop),
            )
        }
    })
}

/// Every WGSL source of the bench (its copy kernel), labelled `bench/...`, for validation.
pub fn shader_sources() -> Vec<(String, String)> {
    vec![("bench/copy".to_string(), copy::copy_wgsl(8))]
}

/// Records with `record` into a fresh encoder and submits it, inside error scopes.
fn submit(gpu: &Gpu, record: impl FnOnce(&mut wgpu::CommandEncoder) -> Result<()>) -> Result<()> {
    copy::scoped(gpu, "bench", || {
        let mut encoder = gpu
            .device()
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("bench"),
            });
        record(&mut encoder)?;
        gpu.queue().submit([encoder.finish()]);
        Ok::<(), Error>(())
    })?
}

/// `src` copied by the bench's copy kernel on at most `max_workgroups` workgroups (its
/// bytes, whatever its dtype).
///
/// # Errors
/// Allocation and GPU errors.
pub fn copy(gpu: &Gpu, src: &Tensor, max_workgroups: u32) -> Result<Tensor> {
    let dst = Tensor::zeros_of(gpu, src.shape(), src.dtype())?;
    let plan = CopyPlan::new(gpu, src, &dst, max_workgroups, CopyLoop::GridStride)?;
    submit(gpu, |encoder| {
        plan.record(encoder);
        Ok(())
    })?;
    Ok(dst)
}

fn copy_case(gpu: &Gpu, src: Tensor, max_groups: u32, copy_loop: CopyLoop) -> Result<Workload> {
    let (n, dtype) = (src.len(), src.dtype());
    let bytes = 2 * n as u64 * dtype.size_bytes() as u64;
    let dst = Tensor::zeros_of(gpu, &[n], dtype)?;
    let plan = std::sync::Arc::new(CopyPlan::new(gpu, &src, &dst, max_groups, copy_loop)?);
    let for_call = std::sync::Arc::clone(&plan);
    let groups = plan.groups;
    let looped = match copy_loop {
        CopyLoop::GridStride => "grid-stride".to_string(),
        CopyLoop::Blocked { lanes } => format!("blocked, batches of {lanes}"),
    };
    Ok(Workload {
        shape: vec![n],
        dtype,
        detail: format!("{looped} loop on a grid of {groups} workgroups of {COPY_WORKGROUP_SIZE}"),
        bytes,
        design_bytes: bytes,
        record: Box::new(move |_gpu, encoder| {
            plan.record(encoder);
            Ok(())
        }),
        call: Box::new(move |gpu| {
            submit(gpu, |encoder| {
                for_call.record(encoder);
                Ok(())
            })
        }),
    })
}

/// Blocks until the GPU has finished everything submitted.
pub fn wait(gpu: &Gpu) -> Result<()> {
    gpu.device()
        .poll(wgpu::PollType::wait_indefinitely())
        .map(drop)
        .map_err(|e| Error::Gpu {
            during: "waiting for the GPU".into(),
            message: e.to_string(),
        })
}

/// Which timer [`gpu_times`] uses on this device.
pub fn timer(gpu: &Gpu, timestamps: bool) -> Timer {
    if timestamps && gpu.info().timestamp_query {
        Timer::Timestamps
    } else {
        Timer::SubmitWait
    }
}

/// GPU time of `reps` runs of what `record` records, one submission each, with `timer`.
///
/// # Errors
/// Errors of `record`, submission and readback.
pub fn gpu_times(
    gpu: &Gpu,
    reps: usize,
    timer: Timer,
    record: &dyn Fn(&mut wgpu::CommandEncoder) -> Result<()>,
) -> Result<Vec<Duration>> {
    let mut times = Vec::with_capacity(reps);
    match timer {
        Timer::SubmitWait => {
            for _ in 0..reps {
                let start = Instant::now();
                submit(gpu, record)?;
                wait(gpu)?;
                times.push(start.elapsed());
            }
        }
        Timer::Timestamps => {
            let mut left = reps;
            while left > 0 {
                let batch = left.min(REPS_PER_QUERY_SET);
                times.extend(timestamped(gpu, batch, record)?);
                left -= batch;
            }
        }
    }
    Ok(times)
}

/// `reps` submissions, each bracketed by a beginning and an end timestamp, resolved at once.
fn timestamped(
    gpu: &Gpu,
    reps: usize,
    record: &dyn Fn(&mut wgpu::CommandEncoder) -> Result<()>,
) -> Result<Vec<Duration>> {
    let device = gpu.device();
    let queries = 2 * reps as u32;
    let set = device.create_query_set(&wgpu::QuerySetDescriptor {
        label: Some("bench/timestamps"),
        ty: wgpu::QueryType::Timestamp,
        count: queries,
    });
    let stamp = |encoder: &mut wgpu::CommandEncoder, begin: Option<u32>, end: Option<u32>| {
        drop(encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("bench/timestamp"),
            timestamp_writes: Some(wgpu::ComputePassTimestampWrites {
                query_set: &set,
                beginning_of_pass_write_index: begin,
                end_of_pass_write_index: end,
            }),
        }));
    };
    for i in 0..reps as u32 {
        submit(gpu, |encoder| {
            stamp(encoder, Some(2 * i), None);
            record(encoder)?;
            stamp(encoder, None, Some(2 * i + 1));
            Ok(())
        })?;
    }
    let bytes = queries as u64 * 8;
    let resolved = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("bench/timestamps/resolved"),
        size: bytes,
        usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    });
    submit(gpu, |encoder| {
        encoder.resolve_query_set(&set, 0..queries, &resolved, 0);
        Ok(())
    })?;
    let ticks: Vec<u64> = bytemuck::pod_collect_to_vec(&read_back(gpu, &resolved, bytes)?);
    let period_ns = gpu.queue().get_timestamp_period() as f64;
    Ok(ticks
        .chunks_exact(2)
        .map(|t| Duration::from_nanos((t[1].saturating_sub(t[0]) as f64 * period_ns) as u64))
        .collect())
}

/// The first `bytes` of `buffer` (which has `COPY_SRC`), through a mapped staging buffer.
fn read_back(gpu: &Gpu, buffer: &wgpu::Buffer, bytes: u64) -> Result<Vec<u8>> {
    let staging = gpu.device().create_buffer(&wgpu::BufferDescriptor {
        label: Some("bench/readback"),
        size: bytes,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    submit(gpu, |encoder| {
        encoder.copy_buffer_to_buffer(buffer, 0, &staging, 0, bytes);
        Ok(())
    })?;
    let (tx, rx) = std::sync::mpsc::channel();
    staging
        .slice(..)
        .map_async(wgpu::MapMode::Read, move |r| drop(tx.send(r)));
    wait(gpu)?;
    let mapped = rx
        .recv()
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()));
    mapped.map_err(|message| Error::Gpu {
        during: "reading the bench's timestamps".into(),
        message,
    })?;
    let data = staging
        .slice(..)
        .get_mapped_range()
        .map_err(|e| Error::Gpu {
            during: "reading the bench's timestamps".into(),
            message: e.to_string(),
        })?
        .to_vec();
    staging.unmap();
    Ok(data)
}

/// The median (upper median for an even count); zero for none.
pub fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

/// What one row measured.
#[derive(Clone, Copy, Debug)]
pub struct Measurement {
    /// Median kernel time.
    pub kernel: Duration,
    /// Median end-to-end time of one public call.
    pub e2e: Duration,
    pub timer: Timer,
}

fn reps_for(estimate: Duration, opts: &Options) -> usize {
    let per_rep = estimate.as_secs_f64().max(1e-6);
    ((opts.target.as_secs_f64() / per_rep) as usize)
        .clamp(opts.min_reps.max(1), opts.max_reps.max(1))
}

/// Median kernel time of `case` after warm-up.
///
/// # Errors
/// As [`gpu_times`].
pub fn kernel_time(gpu: &Gpu, case: &Workload, opts: &Options) -> Result<(Duration, Timer)> {
    let timer = timer(gpu, opts.timestamps);
    let record = |encoder: &mut wgpu::CommandEncoder| case.record(gpu, encoder);
    let warm = gpu_times(gpu, opts.warmup.max(1), timer, &record)?;
    let reps = reps_for(median(&warm), opts);
    Ok((median(&gpu_times(gpu, reps, timer, &record)?), timer))
}

/// Median kernel time and median end-to-end time of `case`.
///
/// # Errors
/// As [`gpu_times`], and errors of the public call.
pub fn measure(gpu: &Gpu, case: &Workload, opts: &Options) -> Result<Measurement> {
    let (kernel, timer) = kernel_time(gpu, case, opts)?;
    let call = || -> Result<Duration> {
        let start = Instant::now();
        case.call(gpu)?;
        wait(gpu)?;
        Ok(start.elapsed())
    };
    let first = call()?;
    let reps = reps_for(first.max(kernel), opts);
    let e2e = (0..reps).map(|_| call()).collect::<Result<Vec<_>>>()?;
    Ok(Measurement {
        kernel,
        e2e: median(&e2e),
        timer,
    })
}

/// The copy kernel at `n` elements of `dtype` with the fastest of its loops ([`CopyLoop`]:
/// the library's GPU and CPU loops) on the fastest grid of [`COPY_GRIDS`] (a few quick timed
/// runs each), so that the roof is the best copy this adapter does.
///
/// # Errors
/// As [`gpu_times`].
pub fn tuned_copy_case(gpu: &Gpu, n: usize, dtype: DType, seed: u64) -> Result<Workload> {
    let quick = Options {
        warmup: 1,
        min_reps: 5,
        max_reps: 5,
        ..Options::default()
    };
    let src = random_tensor(gpu, n, dtype, seed)?;
    let vec4s = (n * dtype.size_bytes()).div_ceil(16);
    let needed = (vec4s as u32).div_ceil(COPY_WORKGROUP_SIZE);
    let mut best: Option<(Workload, Duration)> = None;
    let mut tried = Vec::new();
    let info = gpu.info();
    // The SIMD width of a CPU adapter is its subgroup size; 8 where it reports none.
    let lanes = if info.subgroup && info.max_subgroup_size > 0 {
        info.max_subgroup_size
    } else {
        8
    };
    let loops = [CopyLoop::GridStride, CopyLoop::Blocked { lanes }];
    for (grid, copy_loop) in COPY_GRIDS.into_iter().flat_map(|g| loops.map(|l| (g, l))) {
        if grid != u32::MAX && grid >= needed {
            continue; // the same dispatch as one workgroup per 256 vec4s
        }
        let case = copy_case(gpu, src.clone(), grid, copy_loop)?;
        let (t, _) = kernel_time(gpu, &case, &quick)?;
        tried.push(format!(
            "{}{}: {:.1} us",
            grid.min(needed),
            match copy_loop {
                CopyLoop::GridStride => "",
                CopyLoop::Blocked { .. } => " blocked",
            },
            t.as_secs_f64() * 1e6
        ));
        if best.as_ref().is_none_or(|(_, b)| t < *b) {
            best = Some((case, t));
        }
    }
    let (mut case, _) = best.expect("one workgroup per 256 vec4s is always tried");
    case.detail = format!("{} (tried {})", case.detail, tried.join(", "));
    Ok(case)
}

/// One line of `wgact bench`.
#[derive(Clone, Debug)]
pub struct Row {
    pub op: String,
    /// [`BenchOp::variant`].
    pub variant: String,
    pub dir: &'static str,
    pub dtype: &'static str,
    /// How the adapter stores the dtype ([`storage`]): `f32`, `f16 native`, `f16 packed`.
    pub storage: &'static str,
    pub shape: Vec<usize>,
    pub kernel_us: f64,
    /// Bytes a perfect kernel moves (what `gbps` counts).
    pub ideal_bytes: u64,
    /// Bytes the kernels move by design ([`Workload::design_bytes`]).
    pub design_bytes: u64,
    pub gbps: f64,
    pub ratio_to_copy: f64,
    pub e2e_us: f64,
    pub adapter: String,
    pub backend: String,
    pub driver: String,
    pub timer: &'static str,
    /// [`Workload::detail`].
    pub detail: String,
}

impl Row {
    /// The op and its variant (and ` f16` for f16 rows), as the chart labels its line.
    pub fn series(&self) -> String {
        let mut series = self.op.clone();
        if !self.variant.is_empty() {
            series = format!("{series} {}", self.variant);
        }
        if self.dtype != DType::F32.name() {
            series = format!("{series} {}", self.dtype);
        }
        series
    }
    pub fn elements(&self) -> usize {
        wgpu_activations::element_count(&self.shape).unwrap_or(0)
    }
}

/// GB/s (10^9 bytes per second) of `bytes` moved in `time`.
pub fn gbps(bytes: u64, time: Duration) -> f64 {
    bytes as f64 / time.as_secs_f64().max(1e-12) / 1e9
}

fn row(
    gpu: &Gpu,
    op: &BenchOp,
    dir: Direction,
    case: &Workload,
    m: &Measurement,
    copy_gbps: f64,
) -> Row {
    let info = gpu.info();
    let gbps = gbps(case.bytes, m.kernel);
    Row {
        op: op.name.to_string(),
        variant: op.variant.to_string(),
        dir: dir.name(),
        dtype: case.dtype.name(),
        storage: storage(gpu, case.dtype),
        shape: case.shape.clone(),
        kernel_us: m.kernel.as_secs_f64() * 1e6,
        ideal_bytes: case.bytes,
        design_bytes: case.design_bytes,
        gbps,
        ratio_to_copy: gbps / copy_gbps,
        e2e_us: m.e2e.as_secs_f64() * 1e6,
        adapter: info.name.clone(),
        backend: info.backend.clone(),
        driver: format!("{} {}", info.driver, info.driver_info)
            .trim()
            .to_string(),
        timer: m.timer.name(),
        detail: case.detail.clone(),
    }
}

/// Measures `ops` (copy always) forward and backward at every size of `sizes` (elements)
/// in every dtype of [`Options::dtypes`], calling `progress` with each row as it is done.
/// Copy is measured first at each size and dtype, and every other row's `ratio_to_copy` is
/// against the copy of its size and dtype. With [`Options::max_copy_time`], the sizes past
/// that budget (judged on the f32 copy, the larger) are left out.
///
/// # Errors
/// The first allocation, GPU or readback error.
pub fn run(
    gpu: &Gpu,
    ops: &[BenchOp],
    sizes: &[usize],
    opts: &Options,
    progress: &mut dyn FnMut(&Row),
) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    // (dtype, n, copy GB/s) of every roof measured.
    let mut roof: Vec<(DType, usize, f64)> = Vec::new();
    let mut measured: Vec<(usize, Duration)> = Vec::new();
    let copy_op = BenchOp {
        name: "copy",
        variant: "",
        kind: OpKind::Copy,
    };
    for &n in sizes {
        if let (Some(limit), Some(&(prev_n, prev_t))) = (opts.max_copy_time, measured.last()) {
            let predicted = prev_t.mul_f64(n as f64 / prev_n as f64);
            if n > prev_n && predicted > limit {
                break;
            }
        }
        let mut largest = Duration::ZERO;
        for &dtype in &opts.dtypes {
            let case = tuned_copy_case(gpu, n, dtype, opts.seed)?;
            let m = measure(gpu, &case, opts)?;
            let copy = row(gpu, &copy_op, Direction::Forward, &case, &m, 1.0);
            roof.push((dtype, n, copy.gbps));
            let copy = Row {
                ratio_to_copy: 1.0,
                ..copy
            };
            progress(&copy);
            rows.push(copy);
            largest = largest.max(m.kernel);
        }
        measured.push((n, largest));
    }
    for &dtype in &opts.dtypes {
        for op in ops.iter().filter(|op| !matches!(op.kind, OpKind::Copy)) {
            for direction in Direction::ALL {
                for &(_, n, copy_gbps) in roof.iter().filter(|r| r.0 == dtype) {
                    let Some(case) = op.case(gpu, direction, n, dtype, opts.seed)? else {
                        continue;
                    };
                    let m = measure(gpu, &case, opts)?;
                    let r = row(gpu, op, direction, &case, &m, copy_gbps);
                    progress(&r);
                    rows.push(r);
                }
            }
        }
    }
    Ok(rows)
}
