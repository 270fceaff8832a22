//! The application owns the device: it runs its own dense kernel (logits = W·x + b), the
//! library's Softmax on the logits where they lie (a view at an unaligned element offset of
//! the application's buffer), and its own consumer kernel (row sums of the probabilities),
//! all in ONE command encoder and ONE submission. The results are checked against the
//! crate's CPU reference.
//!
//! Run: `cargo run --release --example own_device`. Without an adapter it prints a note and
//! exits 0, unless `REQUIRE_GPU` is set (then it fails).

use std::process::ExitCode;

use wgpu::util::DeviceExt;
use wgpu_activations::{reference, Batch, Gpu, Softmax, Tensor};

/// Rows of the batch, classes (logits per row) and input features.
const ROWS: usize = 8;
const CLASSES: usize = 37;
const FEATURES: usize = 16;
/// The logits start at this element of the application's activation buffer: not a multiple
/// of 4, so neither 16-byte nor storage-offset aligned.
const LOGITS_AT: usize = 5;
/// Elements after the logits in the same buffer (they must not be touched).
const TAIL: usize = 3;
/// A value no kernel writes: the guard elements around the logits hold it.
const GUARD: f32 = -12345.5;

const DENSE_WGSL: &str = r#"
struct Dims { rows: u32, classes: u32, features: u32, logits_at: u32 }
@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> w: array<f32>;   // classes x features
@group(0) @binding(2) var<storage, read> b: array<f32>;   // classes
@group(0) @binding(3) var<storage, read> x: array<f32>;   // rows x features
@group(0) @binding(4) var<storage, read_write> act: array<f32>;

@compute @workgroup_size(64)
fn dense(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.x;
    if (i >= dims.rows * dims.classes) { return; }
    let r = i / dims.classes;
    let c = i % dims.classes;
    var acc = b[c];
    for (var k = 0u; k < dims.features; k++) {
        acc += w[c * dims.features + k] * x[r * dims.features + k];
    }
    act[dims.logits_at + i] = acc;
}
"#;

const ROW_SUM_WGSL: &str = r#"
struct Dims { rows: u32, classes: u32, features: u32, logits_at: u32 }
@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> act: array<f32>;
@group(0) @binding(2) var<storage, read_write> sums: array<f32>;

@compute @workgroup_size(64)
fn row_sum(@builtin(global_invocation_id) id: vec3<u32>) {
    let r = id.x;
    if (r >= dims.rows) { return; }
    var s = 0.0;
    for (var c = 0u; c < dims.classes; c++) {
        s += act[dims.logits_at + r * dims.classes + c];
    }
    sums[r] = s;
}
"#;

fn require_gpu() -> bool {
    std::env::var("REQUIRE_GPU").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// The application's own device, made as any wgpu program makes one.
fn own_device() -> Option<(wgpu::Device, wgpu::Queue)> {
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle().with_env());
    let adapter = [false, true]
        .into_iter()
        .find_map(|force_fallback_adapter| {
            pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                force_fallback_adapter,
                ..Default::default()
            }))
            .ok()
        })?;
    let device = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("own_device example"),
        required_limits: adapter.limits(),
        ..Default::default()
    }));
    match device {
        Ok(pair) => Some(pair),
        Err(e) => {
            eprintln!("own_device: the adapter refused a device: {e}");
            None
        }
    }
}

/// Deterministic pseudo-random values in [-scale, scale) (a 32-bit LCG).
fn values(seed: u32, len: usize, scale: f32) -> Vec<f32> {
    let mut s = seed;
    (0..len)
        .map(|_| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            ((s >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

fn pipeline(device: &wgpu::Device, source: &str, entry: &str) -> wgpu::ComputePipeline {
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(entry),
        source: wgpu::ShaderSource::Wgsl(source.into()),
    });
    device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(entry),
        layout: None,
        module: &module,
        entry_point: Some(entry),
        compilation_options: Default::default(),
        cache: None,
    })
}

fn bind_group(
    device: &wgpu::Device,
    pipeline: &wgpu::ComputePipeline,
    buffers: &[&wgpu::Buffer],
) -> wgpu::BindGroup {
    let entries: Vec<wgpu::BindGroupEntry> = buffers
        .iter()
        .enumerate()
        .map(|(i, b)| wgpu::BindGroupEntry {
            binding: i as u32,
            resource: b.as_entire_binding(),
        })
        .collect();
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &pipeline.get_bind_group_layout(0),
        entries: &entries,
    })
}

fn main() -> ExitCode {
    let Some((device, queue)) = own_device() else {
        if require_gpu() {
            eprintln!("own_device: REQUIRE_GPU is set but there is no adapter");
            return ExitCode::FAILURE;
        }
        println!("own_device: skipped, no adapter");
        return ExitCode::SUCCESS;
    };
    match run(device, queue) {
        Ok(()) => {
            println!("own_device: ok, 1 submission");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("own_device: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(device: wgpu::Device, queue: wgpu::Queue) -> Result<(), Box<dyn std::error::Error>> {
    // --- The application's data and buffers.
    let w = values(1, CLASSES * FEATURES, 1.0);
    let b = values(2, CLASSES, 0.5);
    let x = values(3, ROWS * FEATURES, 2.0);
    let storage = |label: &str, data: &[f32]| {
        device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: bytemuck::cast_slice(data),
            usage: wgpu::BufferUsages::STORAGE,
        })
    };
    let (w_buf, b_buf, x_buf) = (storage("w", &w), storage("b", &b), storage("x", &x));
    let dims = [
        ROWS as u32,
        CLASSES as u32,
        FEATURES as u32,
        LOGITS_AT as u32,
    ];
    let dims_buf = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("dims"),
        contents: bytemuck::cast_slice(&dims),
        usage: wgpu::BufferUsages::UNIFORM,
    });
    // The activation buffer: guards, the logits at element LOGITS_AT, guards.
    let logits_len = ROWS * CLASSES;
    let act_len = LOGITS_AT + logits_len + TAIL;
    let act = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("activations"),
        contents: bytemuck::cast_slice(&vec![GUARD; act_len]),
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
    });
    let sums = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("row sums"),
        size: (ROWS * 4) as u64,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    });
    // Readback: [logits before softmax | the whole activation buffer after | row sums].
    let logits_bytes = (logits_len * 4) as u64;
    let act_bytes = (act_len * 4) as u64;
    let staging = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("staging"),
        size: logits_bytes + act_bytes + (ROWS * 4) as u64,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });

    let dense = pipeline(&device, DENSE_WGSL, "dense");
    let dense_bg = bind_group(&device, &dense, &[&dims_buf, &w_buf, &b_buf, &x_buf, &act]);
    let row_sum = pipeline(&device, ROW_SUM_WGSL, "row_sum");
    let row_sum_bg = bind_group(&device, &row_sum, &[&dims_buf, &act, &sums]);

    // --- The library on the application's device: a view of the logits where they lie.
    let gpu = Gpu::from_device(device.clone(), queue.clone());
    let logits = Tensor::view(&gpu, &act, LOGITS_AT as u64, &[ROWS, CLASSES])?;
    let mut batch = Batch::new(&gpu);
    Softmax::new(-1)?.record_forward_in_place(&mut batch, &logits, None)?;
    if batch.dispatch_count() == 0 {
        return Err("Softmax recorded no dispatch".into());
    }

    // --- One encoder: dense, (copy of the logits), softmax, row sums, readback copies.
    let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
        label: Some("own_device step"),
    });
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        pass.set_pipeline(&dense);
        pass.set_bind_group(0, &dense_bg, &[]);
        pass.dispatch_workgroups(logits_len.div_ceil(64) as u32, 1, 1);
    }
    encoder.copy_buffer_to_buffer(&act, (LOGITS_AT * 4) as u64, &staging, 0, logits_bytes);
    batch.encode(&mut encoder)?;
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        pass.set_pipeline(&row_sum);
        pass.set_bind_group(0, &row_sum_bg, &[]);
        pass.dispatch_workgroups(ROWS.div_ceil(64) as u32, 1, 1);
    }
    encoder.copy_buffer_to_buffer(&act, 0, &staging, logits_bytes, act_bytes);
    encoder.copy_buffer_to_buffer(
        &sums,
        0,
        &staging,
        logits_bytes + act_bytes,
        (ROWS * 4) as u64,
    );
    let submission = queue.submit([encoder.finish()]);

    // --- Read back (mapping is not a submission).
    let (tx, rx) = std::sync::mpsc::channel();
    staging
        .slice(..)
        .map_async(wgpu::MapMode::Read, move |r| drop(tx.send(r)));
    gpu.wait(submission)?;
    rx.recv()??;
    let data: Vec<f32> = bytemuck::pod_collect_to_vec(&staging.slice(..).get_mapped_range()?);
    staging.unmap();
    let gpu_logits = &data[..logits_len];
    let after = &data[logits_len..logits_len + act_len];
    let probs = &after[LOGITS_AT..LOGITS_AT + logits_len];
    let row_sums = &data[logits_len + act_len..];

    // The dense kernel did what the application meant (loose: summation order may differ).
    for r in 0..ROWS {
        for c in 0..CLASSES {
            let expected = b[c]
                + (0..FEATURES)
                    .map(|k| w[c * FEATURES + k] * x[r * FEATURES + k])
                    .sum::<f32>();
            let got = gpu_logits[r * CLASSES + c];
            if (got - expected).abs() > 1e-4 {
                return Err(format!("logit [{r},{c}] = {got}, expected {expected}").into());
            }
        }
    }
    // Softmax of exactly the logits the GPU produced, against the CPU reference.
    let expected = reference::softmax_forward(gpu_logits, &[ROWS, CLASSES], -1, None)?;
    for (i, (&got, &want)) in probs.iter().zip(&expected).enumerate() {
        // NaN fails too.
        if (got - want).abs().is_nan() || (got - want).abs() > 1e-6 {
            return Err(format!(
                "probability [{},{}] = {got}, reference {want}",
                i / CLASSES,
                i % CLASSES
            )
            .into());
        }
    }
    // The consumer kernel saw the probabilities (so it ran after softmax in the encoder).
    for (r, &s) in row_sums.iter().enumerate() {
        if s.is_nan() || (s - 1.0).abs() > 1e-5 {
            return Err(format!("row {r} of the probabilities sums to {s}").into());
        }
    }
    // Softmax touched only the view's elements.
    for (i, &v) in after[..LOGITS_AT]
        .iter()
        .chain(&after[LOGITS_AT + logits_len..])
        .enumerate()
    {
        if v.to_bits() != GUARD.to_bits() {
            return Err(format!("guard element {i} outside the view became {v}").into());
        }
    }
    Ok(())
}
