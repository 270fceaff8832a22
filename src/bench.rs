//! Timing of the crate's kernels, shared by `wgact bench` and the criterion benches.
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
//! Every op also runs on f16 tensors (its rows have `dtype` `f16`, bytes at 2 per element),
//! against an f16 copy roof: the same copy kernel moving the same number of bytes.
//!
//! # Adding an op
//! One [`OpKind`] variant, its arm in `OpKind::case` (allocate inputs, say what to record
//! and what a user would call) and its presets in [`BenchOp::defaults`].

use std::time::{Duration, Instant};

use crate::batch::Batch;
use crate::check::Rng;
use crate::elementwise::{Direction, Elementwise, ReLU, ThresholdedReLU, ELU};
use crate::error::{Error, Result};
use crate::gpu::{DType, Gpu};
use crate::kernel::{Array, Arrays, KernelKey, KernelSource};
use crate::prelu::{Initializer, PReLU};
use crate::softmax::Softmax;
use crate::tensor::{chunks, Tensor};
use crate::LeakyReLU;

/// Workgroup size of the copy kernel.
const COPY_WORKGROUP_SIZE: u32 = 256;
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
    /// The dtype of its tensors.
    pub dtype: DType,
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
pub struct Case {
    pub shape: Vec<usize>,
    /// What else identifies the kernel run, e.g. the copy's grid; empty for most ops.
    pub detail: String,
    /// Bytes a perfect kernel moves.
    pub bytes: u64,
    record: Box<RecordFn>,
    call: Box<CallFn>,
}

/// Records the op's dispatches into an encoder.
type RecordFn = dyn Fn(&Gpu, &mut wgpu::CommandEncoder) -> Result<()>;
/// Makes the public call a user would make.
type CallFn = dyn Fn(&Gpu) -> Result<()>;

impl Case {
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
        let relu = |max_value, negative_slope, threshold| {
            ReLU::new(max_value, negative_slope, threshold).expect("valid preset")
        };
        let elementwise = |name, op: Elementwise| BenchOp {
            name,
            variant: "",
            kind: OpKind::Elementwise(op),
            dtype: DType::F32,
        };
        let f32_ops = vec![
            BenchOp {
                name: "copy",
                variant: "",
                kind: OpKind::Copy,
                dtype: DType::F32,
            },
            elementwise("leaky_relu", LeakyReLU::default().into()),
            elementwise("elu", ELU::default().into()),
            elementwise("thresholded_relu", ThresholdedReLU::default().into()),
            elementwise("relu", ReLU::default().into()),
            elementwise("relu_max6", relu(Some(6.0), 0.0, 0.0).into()),
            elementwise("relu_general", relu(Some(6.0), 0.1, 0.5).into()),
            BenchOp {
                name: "prelu",
                variant: "",
                kind: OpKind::PReLU,
                dtype: DType::F32,
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
                dtype: DType::F32,
            },
        ];
        let f16_ops: Vec<BenchOp> = f32_ops
            .iter()
            .map(|op| BenchOp {
                dtype: DType::F16,
                ..op.clone()
            })
            .collect();
        f32_ops.into_iter().chain(f16_ops).collect()
    }

    /// The op with its variant, e.g. `softmax_last 256 columns`: one criterion group or chart
    /// line each.
    pub fn label(&self) -> String {
        series(self.name, self.variant, self.dtype.name())
    }

    /// The inputs for `direction` at about `n` elements, or `None` when the op has no such
    /// direction or `n` does not suit it.
    ///
    /// # Errors
    /// Allocation and upload errors.
    pub fn case(
        &self,
        gpu: &Gpu,
        direction: Direction,
        n: usize,
        seed: u64,
    ) -> Result<Option<Case>> {
        self.kind.case(gpu, direction, n, seed, self.dtype)
    }
}

/// A chart line's name: op, variant, and ` f16` for f16 rows.
fn series(op: &str, variant: &str, dtype: &str) -> String {
    let mut s = op.to_string();
    if !variant.is_empty() {
        s = format!("{s} {variant}");
    }
    if dtype != DType::F32.name() {
        s = format!("{s} {dtype}");
    }
    s
}

fn softmax_last(variant: &'static str, cols: usize) -> BenchOp {
    BenchOp {
        name: "softmax_last",
        variant,
        kind: OpKind::SoftmaxLast { cols },
        dtype: DType::F32,
    }
}

/// `n` values uniform in [-3, 3): both sides of every default kink, ELU's exp included.
fn random_tensor(gpu: &Gpu, n: usize, seed: u64, dtype: DType) -> Result<Tensor> {
    let mut rng = Rng::new(seed);
    let data: Vec<f32> = (0..n).map(|_| rng.uniform(-3.0, 3.0)).collect();
    Tensor::from_slice_as(gpu, &data, &[n], dtype)
}

fn dtype_bytes(n: usize, tensors: u64, dtype: DType) -> u64 {
    n as u64 * dtype.size_bytes() as u64 * tensors
}

impl OpKind {
    fn case(
        &self,
        gpu: &Gpu,
        direction: Direction,
        n: usize,
        seed: u64,
        dtype: DType,
    ) -> Result<Option<Case>> {
        let f32_bytes = |n, tensors| dtype_bytes(n, tensors, dtype);
        let random_tensor = |gpu, n, seed| random_tensor(gpu, n, seed, dtype);
        match *self {
            OpKind::Copy => match direction {
                Direction::Forward => tuned_copy_case_of(gpu, n, seed, dtype).map(Some),
                Direction::Backward => Ok(None),
            },
            OpKind::Elementwise(op) => {
                let x = random_tensor(gpu, n, seed)?;
                let out = Tensor::alloc_of(gpu, &format!("bench/{}/out", op.name()), &[n], dtype)?;
                let (inputs, bytes) = match direction {
                    Direction::Forward => (vec![x], f32_bytes(n, 2)),
                    Direction::Backward => (
                        vec![x, random_tensor(gpu, n, seed ^ 0xd1)?],
                        f32_bytes(n, 3),
                    ),
                };
                let recorded = inputs.clone();
                Ok(Some(Case {
                    shape: vec![n],
                    detail: String::new(),
                    bytes,
                    record: Box::new(move |gpu, encoder| {
                        let mut batch = Batch::new(gpu);
                        match direction {
                            Direction::Forward => {
                                op.record_forward(&mut batch, &recorded[0], &out)?
                            }
                            Direction::Backward => {
                                op.record_backward(&mut batch, &recorded[0], &recorded[1], &out)?
                            }
                        }
                        batch.encode(encoder)
                    }),
                    call: Box::new(move |gpu| match direction {
                        Direction::Forward => op.forward(gpu, &inputs[0]).map(drop),
                        Direction::Backward => op.backward(gpu, &inputs[0], &inputs[1]).map(drop),
                    }),
                }))
            }
            OpKind::PReLU => prelu_case(gpu, direction, n, seed, dtype),
            OpKind::SoftmaxLast { cols } => {
                if !n.is_multiple_of(cols) {
                    return Ok(None);
                }
                softmax_case(gpu, direction, &[n / cols, cols], -1, seed, dtype).map(Some)
            }
            OpKind::SoftmaxAxis1 => {
                const PLANE: usize = 64 * 128 * 128;
                if !n.is_multiple_of(PLANE) {
                    return Ok(None);
                }
                softmax_case(gpu, direction, &[n / PLANE, 64, 128, 128], 1, seed, dtype).map(Some)
            }
        }
    }
}

/// PReLU on `(n / 4096, 8, 8, 64)` with `shared_axes=[1, 2]`; `None` when 4096 does not
/// divide `n`. Backward is dx and dalpha (bytes: x, dy and dx, plus dalpha).
fn prelu_case(
    gpu: &Gpu,
    direction: Direction,
    n: usize,
    seed: u64,
    dtype: DType,
) -> Result<Option<Case>> {
    let f32_bytes = |n, tensors| dtype_bytes(n, tensors, dtype);
    let random_tensor = |gpu, n, seed| random_tensor(gpu, n, seed, dtype);
    if !n.is_multiple_of(4096) {
        return Ok(None);
    }
    let shape = [n / 4096, 8, 8, 64];
    let mut layer = PReLU::new(Initializer::Constant(0.25), None, None, Some(vec![1, 2]))?;
    layer.build(gpu, &shape)?;
    let x = random_tensor(gpu, n, seed)?.reshape(&shape)?;
    let out = Tensor::alloc_of(gpu, "bench/prelu/out", &shape, dtype)?;
    let layer = std::rc::Rc::new(std::cell::RefCell::new(layer));
    let recorded = std::rc::Rc::clone(&layer);
    Ok(Some(match direction {
        Direction::Forward => {
            let xr = x.clone();
            Case {
                shape: shape.to_vec(),
                detail: String::new(),
                bytes: f32_bytes(n, 2),
                record: Box::new(move |gpu, encoder| {
                    let mut batch = Batch::new(gpu);
                    recorded
                        .borrow_mut()
                        .record_forward(&mut batch, &xr, &out)?;
                    batch.encode(encoder)
                }),
                call: Box::new(move |gpu| layer.borrow_mut().forward(gpu, &x).map(drop)),
            }
        }
        Direction::Backward => {
            let dy = random_tensor(gpu, n, seed ^ 0xd1)?.reshape(&shape)?;
            let alpha_shape = layer.borrow().alpha_shape()?.to_vec();
            let dalpha = Tensor::alloc_of(gpu, "bench/prelu/dalpha", &alpha_shape, dtype)?;
            let (xr, dyr) = (x.clone(), dy.clone());
            Case {
                shape: shape.to_vec(),
                detail: String::new(),
                bytes: f32_bytes(n, 3) + f32_bytes(dalpha.len(), 1),
                record: Box::new(move |gpu, encoder| {
                    let mut batch = Batch::new(gpu);
                    recorded
                        .borrow_mut()
                        .record_backward(&mut batch, &xr, &dyr, &out, &dalpha)?;
                    batch.encode(encoder)
                }),
                call: Box::new(move |gpu| layer.borrow_mut().backward(gpu, &x, &dy).map(drop)),
            }
        }
    }))
}

/// Softmax along `axis` of `shape`. Backward works from a real forward output `y`.
fn softmax_case(
    gpu: &Gpu,
    direction: Direction,
    shape: &[usize],
    axis: i64,
    seed: u64,
    dtype: DType,
) -> Result<Case> {
    let f32_bytes = |n, tensors| dtype_bytes(n, tensors, dtype);
    let random_tensor = |gpu, n, seed| random_tensor(gpu, n, seed, dtype);
    let n = crate::tensor::element_count(shape).unwrap_or(0);
    let layer = Softmax::new(axis)?;
    let x = random_tensor(gpu, n, seed)?.reshape(shape)?;
    let out = Tensor::alloc_of(gpu, "bench/softmax/out", shape, dtype)?;
    Ok(match direction {
        Direction::Forward => {
            let xr = x.clone();
            Case {
                shape: shape.to_vec(),
                detail: String::new(),
                bytes: f32_bytes(n, 2),
                record: Box::new(move |gpu, encoder| {
                    let mut batch = Batch::new(gpu);
                    layer.record_forward(&mut batch, &xr, None, &out)?;
                    batch.encode(encoder)
                }),
                call: Box::new(move |gpu| layer.forward(gpu, &x).map(drop)),
            }
        }
        Direction::Backward => {
            let y = layer.forward(gpu, &x)?;
            let dy = random_tensor(gpu, n, seed ^ 0xd1)?.reshape(shape)?;
            let (yr, dyr) = (y.clone(), dy.clone());
            Case {
                shape: shape.to_vec(),
                detail: String::new(),
                bytes: f32_bytes(n, 3),
                record: Box::new(move |gpu, encoder| {
                    let mut batch = Batch::new(gpu);
                    layer.record_backward(&mut batch, &yr, &dyr, None, &out)?;
                    batch.encode(encoder)
                }),
                call: Box::new(move |gpu| layer.backward(gpu, &y, &dy).map(drop)),
            }
        }
    })
}

/// The copy kernel's WGSL source.
fn copy_wgsl() -> String {
    format!(
        "const WG: u32 = {COPY_WORKGROUP_SIZE}u;\n{}",
        include_str!("../shaders/copy.wgsl")
    )
}

/// Every WGSL source of the bench, labelled `bench/...`.
pub(crate) fn shader_sources() -> Vec<(String, String)> {
    vec![("bench/copy".to_string(), copy_source().wgsl())]
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct CopyParams {
    len_vec4: u32,
    _pad: [u32; 3],
}

/// The copy kernel: vec4 `src` and `dst` arrays.
fn copy_source() -> KernelSource {
    KernelSource {
        label: "bench/copy".into(),
        entry: "copy",
        arrays: Arrays::new(vec![
            Array::read("src", "vec4<f32>"),
            Array::write("dst", "vec4<f32>"),
        ]),
        body: copy_wgsl(),
    }
}

/// Records `dst = src` on at most `max_groups` workgroups per dispatch, in chunks of one
/// storage binding.
fn record_copy(
    gpu: &Gpu,
    encoder: &mut wgpu::CommandEncoder,
    src: &Tensor,
    dst: &Tensor,
    max_groups: u32,
) -> Result<()> {
    let kernel = gpu.kernel(KernelKey::Raw("bench/copy"), copy_source)?;
    let n = dst.len();
    let chunk = gpu.chunk_elems(None);
    let max_groups = max_groups.min(gpu.limits().max_compute_workgroups_per_dimension);
    let mut batch = Batch::new(gpu);
    for (start, count) in chunks(n, chunk) {
        let len_vec4 = count.div_ceil(4) as u32;
        let params = CopyParams {
            len_vec4,
            _pad: [0; 3],
        };
        let groups = len_vec4.div_ceil(COPY_WORKGROUP_SIZE).min(max_groups);
        batch.push(
            &kernel,
            bytemuck::bytes_of(&params),
            vec![
                src.slot(gpu, start, len_vec4 as usize * 4, 16),
                dst.slot(gpu, start, len_vec4 as usize * 4, 16),
            ],
            [groups, 1, 1],
        );
    }
    batch.encode(encoder)
}

/// Records with `record` into a fresh encoder and submits it, inside error scopes.
fn submit(gpu: &Gpu, record: impl FnOnce(&mut wgpu::CommandEncoder) -> Result<()>) -> Result<()> {
    gpu.scoped(&|| "bench".to_string(), || {
        let mut encoder = gpu.encoder("bench");
        record(&mut encoder)?;
        gpu.queue().submit([encoder.finish()]);
        Ok::<(), Error>(())
    })?
}

/// `src` copied by the bench's copy kernel on at most `max_workgroups` workgroups.
///
/// # Errors
/// [`Error::ForeignTensor`], allocation and GPU errors.
pub fn copy(gpu: &Gpu, src: &Tensor, max_workgroups: u32) -> Result<Tensor> {
    src.check_gpu(gpu, "src")?;
    let dst = Tensor::alloc(gpu, "bench/copy/dst", src.shape())?;
    submit(gpu, |encoder| {
        record_copy(gpu, encoder, src, &dst, max_workgroups)
    })?;
    Ok(dst)
}

fn copy_case(gpu: &Gpu, src: Tensor, max_groups: u32) -> Result<Case> {
    let n = src.len();
    let dst = Tensor::alloc(gpu, "bench/copy/dst", &[n])?;
    let record = move |gpu: &Gpu, encoder: &mut wgpu::CommandEncoder| {
        record_copy(gpu, encoder, &src, &dst, max_groups)
    };
    let record = std::sync::Arc::new(record);
    let for_call = std::sync::Arc::clone(&record);
    let groups = (n.div_ceil(4) as u32)
        .div_ceil(COPY_WORKGROUP_SIZE)
        .min(max_groups)
        .min(gpu.limits().max_compute_workgroups_per_dimension);
    Ok(Case {
        shape: vec![n],
        detail: format!("grid of {groups} workgroups of {COPY_WORKGROUP_SIZE}"),
        bytes: dtype_bytes(n, 2, DType::F32),
        record: Box::new(move |gpu, encoder| record(gpu, encoder)),
        call: Box::new(move |gpu| submit(gpu, |encoder| for_call(gpu, encoder))),
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
    let ticks: Vec<u64> = bytemuck::pod_collect_to_vec(&gpu.read_buffer(&resolved, 0, bytes)?);
    let period_ns = gpu.queue().get_timestamp_period() as f64;
    Ok(ticks
        .chunks_exact(2)
        .map(|t| Duration::from_nanos((t[1].saturating_sub(t[0]) as f64 * period_ns) as u64))
        .collect())
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
pub fn kernel_time(gpu: &Gpu, case: &Case, opts: &Options) -> Result<(Duration, Timer)> {
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
pub fn measure(gpu: &Gpu, case: &Case, opts: &Options) -> Result<Measurement> {
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

/// The copy kernel at `n` elements on the fastest grid of [`COPY_GRIDS`] (a few quick timed
/// runs each), so that the roof is the best copy this adapter does.
///
/// # Errors
/// As [`gpu_times`].
pub fn tuned_copy_case(gpu: &Gpu, n: usize, seed: u64) -> Result<Case> {
    tuned_copy_case_of(gpu, n, seed, DType::F32)
}

/// The copy roof of `n` elements of `dtype`: the f32 copy kernel over the same bytes (for
/// f16, `n / 2` f32 words), reported as `n` elements.
pub fn tuned_copy_case_of(gpu: &Gpu, n: usize, seed: u64, dtype: DType) -> Result<Case> {
    if dtype == DType::F32 {
        return tuned_copy_case_f32(gpu, n, seed);
    }
    let mut case = tuned_copy_case_f32(gpu, (n * dtype.size_bytes()).div_ceil(4), seed)?;
    case.shape = vec![n];
    case.bytes = dtype_bytes(n, 2, dtype);
    Ok(case)
}

fn tuned_copy_case_f32(gpu: &Gpu, n: usize, seed: u64) -> Result<Case> {
    let quick = Options {
        warmup: 1,
        min_reps: 5,
        max_reps: 5,
        ..Options::default()
    };
    let src = random_tensor(gpu, n, seed, DType::F32)?;
    let needed = (n.div_ceil(4) as u32).div_ceil(COPY_WORKGROUP_SIZE);
    let mut best: Option<(Case, Duration)> = None;
    let mut tried = Vec::new();
    for grid in COPY_GRIDS {
        if grid != u32::MAX && grid >= needed {
            continue; // the same dispatch as one workgroup per 256 vec4s
        }
        let case = copy_case(gpu, src.clone(), grid)?;
        let (t, _) = kernel_time(gpu, &case, &quick)?;
        tried.push(format!(
            "{}: {:.1} us",
            grid.min(needed),
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
    pub shape: Vec<usize>,
    pub kernel_us: f64,
    pub gbps: f64,
    pub ratio_to_copy: f64,
    pub e2e_us: f64,
    pub adapter: String,
    pub backend: String,
    pub driver: String,
    pub timer: &'static str,
    /// [`Case::detail`].
    pub detail: String,
}

impl Row {
    /// The op and its variant, as the chart labels its line.
    pub fn series(&self) -> String {
        series(&self.op, &self.variant, self.dtype)
    }
    pub fn elements(&self) -> usize {
        crate::tensor::element_count(&self.shape).unwrap_or(0)
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
    case: &Case,
    m: &Measurement,
    copy_gbps: f64,
) -> Row {
    let info = gpu.info();
    let gbps = gbps(case.bytes, m.kernel);
    Row {
        op: op.name.to_string(),
        variant: op.variant.to_string(),
        dir: dir.name(),
        dtype: op.dtype.name(),
        shape: case.shape.clone(),
        kernel_us: m.kernel.as_secs_f64() * 1e6,
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

/// Measures `ops` (copy always) forward and backward at every size of `sizes` (elements),
/// calling `progress` with each row as it is done. Copy is measured first at each size, and
/// every other row's `ratio_to_copy` is against it. With [`Options::max_copy_time`], the
/// sizes past that budget are left out.
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
    let mut roof = Vec::new();
    let mut roof_f16 = Vec::new();
    let want_f16 = ops.iter().any(|op| op.dtype == DType::F16);
    let mut measured: Vec<(usize, Duration)> = Vec::new();
    for &n in sizes {
        if let (Some(limit), Some(&(prev_n, prev_t))) = (opts.max_copy_time, measured.last()) {
            let predicted = prev_t.mul_f64(n as f64 / prev_n as f64);
            if n > prev_n && predicted > limit {
                break;
            }
        }
        let case = tuned_copy_case(gpu, n, opts.seed)?;
        let m = measure(gpu, &case, opts)?;
        let copy_op = BenchOp {
            name: "copy",
            variant: "",
            kind: OpKind::Copy,
            dtype: DType::F32,
        };
        let copy = row(gpu, &copy_op, Direction::Forward, &case, &m, 1.0);
        let copy_gbps = copy.gbps;
        let copy = Row {
            ratio_to_copy: 1.0,
            ..copy
        };
        progress(&copy);
        rows.push(copy);
        roof.push(copy_gbps);
        measured.push((n, m.kernel));
        if want_f16 {
            let case = tuned_copy_case_of(gpu, n, opts.seed, DType::F16)?;
            let m = measure(gpu, &case, opts)?;
            let op = BenchOp {
                dtype: DType::F16,
                ..copy_op
            };
            let copy = row(gpu, &op, Direction::Forward, &case, &m, 1.0);
            roof_f16.push(copy.gbps);
            let copy = Row {
                ratio_to_copy: 1.0,
                ..copy
            };
            progress(&copy);
            rows.push(copy);
        }
    }
    for op in ops.iter().filter(|op| !matches!(op.kind, OpKind::Copy)) {
        let roof = match op.dtype {
            DType::F32 => &roof,
            DType::F16 => &roof_f16,
        };
        for direction in Direction::ALL {
            for (&(n, _), &copy_gbps) in measured.iter().zip(roof) {
                let Some(case) = op.case(gpu, direction, n, opts.seed)? else {
                    continue;
                };
                let m = measure(gpu, &case, opts)?;
                let r = row(gpu, op, direction, &case, &m, copy_gbps);
                progress(&r);
                rows.push(r);
            }
        }
    }
    Ok(rows)
}
