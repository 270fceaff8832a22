//! `wgact bench --overhead`: what each API level costs per op, against a hand-written
//! minimal wgpu program on the same device.
//!
//! At each size, a chain of `ops` LeakyReLU forward ops in place, timed by the wall clock
//! from the first recording to the end of the wait (median over `reps` runs after one warm-up
//! run), in these variants:
//! - `call`: the public `forward_in_place` per op (each records and submits), one wait at the
//!   end;
//! - `record_batch`: the ops recorded into one `Batch` once, in setup; timed: encode into one
//!   encoder, one submit, wait (the replay of a recorded step);
//! - `record_batch_build`: as `record_batch` with the batch built in each run too;
//! - `raw_per_submit`: a minimal wgpu program (its own WGSL leaky relu over `vec4`s,
//!   pipeline and bind group made in setup), one encoder, pass, dispatch and submit per op,
//!   one wait at the end;
//! - `raw_single_pass`: the same program, all dispatches in one pass, one submit, wait.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use wgpu::util::DeviceExt;
use wgpu_activations::{Batch, Gpu, LeakyReLU, Tensor};

/// The sizes a run uses unless `--sizes` says otherwise.
pub const DEFAULT_SIZES: [usize; 3] = [1024, 4096, 16384];

/// The variants, in the order of the table.
pub const VARIANTS: [&str; 5] = [
    "call",
    "record_batch",
    "record_batch_build",
    "raw_per_submit",
    "raw_single_pass",
];

/// Below 1 so that `ops` chained applications keep negative inputs well above the
/// subnormals (which run slowly on some CPUs, lavapipe's included); the input is uploaded
/// again before every run.
const ALPHA: f32 = 0.999;
const WORKGROUP: u32 = 256;

const RAW_WGSL: &str = r#"
struct Params { alpha: f32, n4: u32, _pad0: u32, _pad1: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<vec4<f32>>;

@compute @workgroup_size(256)
fn leaky_relu(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.x;
    if (i >= params.n4) { return; }
    let v = x[i];
    x[i] = select(v * params.alpha, v, v > vec4<f32>(0.0));
}
"#;

pub struct Config {
    pub ops: usize,
    pub reps: usize,
    pub sizes: Vec<usize>,
}

pub struct Row {
    pub variant: &'static str,
    pub n: usize,
    pub us_per_op: f64,
}

type Result<T> = std::result::Result<T, wgpu_activations::Error>;

/// The median of `reps` timed runs of `body` (seconds), after one warm-up run; `setup` runs
/// before each, untimed.
fn median_secs(
    reps: usize,
    mut setup: impl FnMut() -> Result<()>,
    mut body: impl FnMut() -> Result<()>,
) -> Result<f64> {
    let mut times = Vec::with_capacity(reps);
    for rep in 0..=reps {
        setup()?;
        let start = Instant::now();
        body()?;
        let secs = start.elapsed().as_secs_f64();
        if rep > 0 {
            times.push(secs);
        }
    }
    times.sort_by(f64::total_cmp);
    let mid = times.len() / 2;
    Ok(if times.len() % 2 == 1 {
        times[mid]
    } else {
        (times[mid - 1] + times[mid]) / 2.0
    })
}

/// The hand-written program: one pipeline, one uniform, one buffer, one bind group.
struct Raw {
    pipeline: wgpu::ComputePipeline,
    bind_group: wgpu::BindGroup,
    buffer: wgpu::Buffer,
    groups: u32,
}

impl Raw {
    fn new(device: &wgpu::Device, n: usize) -> Raw {
        let n4 = n.div_ceil(4);
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("overhead/raw"),
            source: wgpu::ShaderSource::Wgsl(RAW_WGSL.into()),
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("overhead/raw"),
            layout: None,
            module: &module,
            entry_point: Some("leaky_relu"),
            compilation_options: Default::default(),
            cache: None,
        });
        let params: [u32; 4] = [ALPHA.to_bits(), n4 as u32, 0, 0];
        let uniform = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("overhead/raw params"),
            contents: bytemuck::cast_slice(&params),
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let buffer = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("overhead/raw x"),
            size: (n4 * 16) as u64,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let bind_group = wgact::bench::uniform_bind_group(
            device,
            "overhead/raw",
            &pipeline.get_bind_group_layout(0),
            &uniform,
            [buffer.as_entire_binding()],
        );
        Raw {
            pipeline,
            bind_group,
            buffer,
            groups: (n4 as u32).div_ceil(WORKGROUP),
        }
    }

    fn dispatch(&self, pass: &mut wgpu::ComputePass<'_>) {
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        pass.dispatch_workgroups(self.groups, 1, 1);
    }
}

/// Deterministic inputs in [-4, 4), padded with zeros to whole `vec4`s.
fn input(n: usize) -> Vec<f32> {
    let mut s = 0x1234_5678u32;
    (0..n.div_ceil(4) * 4)
        .map(|i| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            if i < n {
                (s >> 8) as f32 / (1u32 << 24) as f32 * 8.0 - 4.0
            } else {
                0.0
            }
        })
        .collect()
}

/// Every variant at every size.
pub fn measure(gpu: &Gpu, config: &Config, progress: &mut dyn FnMut(&Row)) -> Result<Vec<Row>> {
    let device = gpu.device();
    let queue = gpu.queue();
    let leaky = LeakyReLU::new(ALPHA)?;
    let ops = config.ops;
    let mut rows = Vec::new();
    for &n in &config.sizes {
        let data = input(n);
        let x = Tensor::from_slice(gpu, &data[..n], &[n])?;
        let reset_x = || {
            x.write(gpu, &data[..n])?;
            gpu.wait(queue.submit([]))
        };
        let raw = Raw::new(device, n);
        let reset_raw = || {
            queue.write_buffer(&raw.buffer, 0, bytemuck::cast_slice(&data));
            gpu.wait(queue.submit([]))
        };
        let mut push = |variant: &'static str, secs: f64| {
            let row = Row {
                variant,
                n,
                us_per_op: secs * 1e6 / ops as f64,
            };
            progress(&row);
            rows.push(row);
        };

        let secs = median_secs(config.reps, reset_x, || {
            for _ in 0..ops {
                leaky.forward_in_place(gpu, &x)?;
            }
            gpu.wait_idle()
        })?;
        push("call", secs);

        let mut batch = Batch::new(gpu);
        for _ in 0..ops {
            leaky.record_forward_in_place(&mut batch, &x)?;
        }
        let secs = median_secs(config.reps, reset_x, || {
            let mut encoder = device.create_command_encoder(&Default::default());
            batch.encode(&mut encoder)?;
            gpu.wait(queue.submit([encoder.finish()]))
        })?;
        push("record_batch", secs);
        drop(batch);

        let secs = median_secs(config.reps, reset_x, || {
            let mut batch = Batch::new(gpu);
            for _ in 0..ops {
                leaky.record_forward_in_place(&mut batch, &x)?;
            }
            let mut encoder = device.create_command_encoder(&Default::default());
            batch.encode(&mut encoder)?;
            gpu.wait(queue.submit([encoder.finish()]))
        })?;
        push("record_batch_build", secs);

        let secs = median_secs(config.reps, reset_raw, || {
            for _ in 0..ops {
                let mut encoder = device.create_command_encoder(&Default::default());
                raw.dispatch(&mut encoder.begin_compute_pass(&Default::default()));
                queue.submit([encoder.finish()]);
            }
            gpu.wait_idle()
        })?;
        push("raw_per_submit", secs);

        let secs = median_secs(config.reps, reset_raw, || {
            let mut encoder = device.create_command_encoder(&Default::default());
            {
                let mut pass = encoder.begin_compute_pass(&Default::default());
                for _ in 0..ops {
                    raw.dispatch(&mut pass);
                }
            }
            gpu.wait(queue.submit([encoder.finish()]))
        })?;
        push("raw_single_pass", secs);
    }
    Ok(rows)
}

fn us(rows: &[Row], variant: &str, n: usize) -> Option<f64> {
    rows.iter()
        .find(|r| r.variant == variant && r.n == n)
        .map(|r| r.us_per_op)
}

fn print_table(gpu: &Gpu, config: &Config, rows: &[Row]) {
    let info = gpu.info();
    println!(
        "{} ({}, {} {}), {} chained LeakyReLU forward ops, wall clock, median of {} runs, µs per op",
        info.name, info.backend, info.driver, info.driver_info, config.ops, config.reps
    );
    println!();
    let head: Vec<String> = config.sizes.iter().map(|n| format!("n = {n}")).collect();
    println!("| variant | {} |", head.join(" | "));
    println!("|---|{}", "---:|".repeat(config.sizes.len()));
    let cell = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
    for variant in VARIANTS {
        let cells: Vec<String> = config
            .sizes
            .iter()
            .map(|&n| cell(us(rows, variant, n)))
            .collect();
        println!("| {variant} | {} |", cells.join(" | "));
    }
    for (a, b, goal) in [
        ("record_batch", "raw_single_pass", 1.3),
        ("call", "raw_per_submit", 1.2),
    ] {
        let cells: Vec<String> = config
            .sizes
            .iter()
            .map(|&n| match (us(rows, a, n), us(rows, b, n)) {
                (Some(a), Some(b)) => format!("{:.2}", a / b),
                _ => "-".into(),
            })
            .collect();
        println!("| {a} / {b} (goal ≤ {goal}) | {} |", cells.join(" | "));
    }
}

fn write_json(gpu: &Gpu, config: &Config, path: &Path, rows: &[Row]) -> std::io::Result<()> {
    let info = gpu.info();
    let rows: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "op": "overhead",
                "variant": r.variant,
                "n": r.n,
                "us_per_op": r.us_per_op,
                "ops": config.ops,
                "reps": config.reps,
                "adapter": info.name,
                "backend": info.backend,
                "driver": info.driver,
                "timer": "wall clock",
            })
        })
        .collect();
    let text = serde_json::to_string_pretty(&rows).map_err(std::io::Error::other)?;
    std::fs::write(path, text + "\n")
}

/// The `--overhead` run: progress on stderr, the table on stdout, JSON rows to `json`.
pub fn run(gpu: &Gpu, config: &Config, json: Option<&Path>) -> Result<ExitCode> {
    if config.ops == 0 || config.reps == 0 || config.sizes.is_empty() {
        eprintln!("error: --overhead needs at least one op, one rep and one size");
        return Ok(ExitCode::FAILURE);
    }
    let info = gpu.info();
    eprintln!(
        "# overhead on {} ({}, {} {}): {} ops, {} reps",
        info.name, info.backend, info.driver, info.driver_info, config.ops, config.reps
    );
    let started = Instant::now();
    let rows = measure(gpu, config, &mut |r| {
        eprintln!(
            "[{:6.1} s] {:<20} n = {:>6}: {:>9.2} µs/op",
            started.elapsed().as_secs_f64(),
            r.variant,
            r.n,
            r.us_per_op
        );
    })?;
    print_table(gpu, config, &rows);
    if let Some(path) = json {
        if let Err(e) = write_json(gpu, config, path, &rows) {
            eprintln!("error: writing {}: {e}", path.display());
            return Ok(ExitCode::FAILURE);
        }
    }
    Ok(ExitCode::SUCCESS)
}
