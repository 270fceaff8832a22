//! `wgact bench`: kernel time, GB/s and ratio to the copy roof for every op, direction and
//! size, as a Markdown table, optionally JSON rows and an SVG chart.

mod chart;
#[path = "overhead.rs"]
mod overhead;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use wgact::bench::{self, BenchOp, Options, Row};
use wgpu_activations::{DType, Gpu};

/// Sizes (elements) a default run tries, in order, while the copy kernel's time extrapolated
/// to the next size stays within [`DEFAULT_MAX_COPY`]: on lavapipe (software Vulkan) that
/// stops after 2^22, on an H100 it reaches 2^26 as `torch_baseline.py` does.
const DEFAULT_SIZES: [usize; 6] = [1 << 12, 1 << 16, 1 << 20, 1 << 22, 1 << 24, 1 << 26];
const DEFAULT_MAX_COPY: Duration = Duration::from_millis(8);

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Comma-separated ops to run (copy always runs: it is the roof); default: all.
    #[arg(long, value_delimiter = ',')]
    ops: Vec<String>,
    /// Comma-separated tensor sizes in elements: 65536, 2^16, 64k, 16M. Default: 2^12, 2^16,
    /// 2^20, 2^22, 2^24, 2^26, stopping before a size where one copy would take over 8 ms.
    #[arg(long, value_delimiter = ',', value_parser = parse_size)]
    sizes: Vec<usize>,
    /// Write the rows as a JSON array to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Draw GB/s against tensor size per op, with the copy roof, into this SVG file.
    #[arg(long)]
    svg: Option<PathBuf>,
    /// Milliseconds of kernel time to spend measuring each row (bounded by 5..200 runs).
    #[arg(long, default_value_t = 100)]
    target_ms: u64,
    /// Time with submit + wait even when the adapter has timestamp queries.
    #[arg(long)]
    no_timestamps: bool,
    /// Seed of the generated inputs.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Comma-separated dtypes every op runs in, each against its own copy roof: f32, f16.
    #[arg(long, value_delimiter = ',', value_parser = parse_dtype, default_value = "f32,f16")]
    dtypes: Vec<DType>,
    /// Instead of the kernel table: the cost per op of each API level (call, recorded
    /// batch) against a minimal hand-written wgpu program, on chained LeakyReLU ops at
    /// n = 1024, 4096, 16384 (or --sizes). Rows have `"op": "overhead"`.
    #[arg(long)]
    overhead: bool,
    /// With --overhead: chained ops per timed run.
    #[arg(long, default_value_t = 1000, requires = "overhead")]
    overhead_ops: usize,
    /// With --overhead: timed runs per variant and size (the median is reported).
    #[arg(long, default_value_t = 7, requires = "overhead")]
    overhead_reps: usize,
}

/// `f32` or `f16`.
fn parse_dtype(s: &str) -> Result<DType, String> {
    DType::ALL
        .into_iter()
        .find(|d| d.name() == s.trim())
        .ok_or_else(|| format!("{s:?} is not a dtype: write f32 or f16"))
}

/// `65536`, `2^16`, `64k` (x1024) or `16M` (x2^20).
fn parse_size(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let bad = || format!("{s:?} is not a size: write 65536, 2^16, 64k or 16M");
    let n = if let Some(exp) = s.strip_prefix("2^") {
        let exp: u32 = exp.parse().map_err(|_| bad())?;
        1usize
            .checked_shl(exp)
            .filter(|_| exp < 48)
            .ok_or_else(bad)?
    } else if let Some(k) = s.strip_suffix(['k', 'K']) {
        k.parse::<usize>().map_err(|_| bad())? * 1024
    } else if let Some(m) = s.strip_suffix('M') {
        m.parse::<usize>().map_err(|_| bad())? << 20
    } else {
        s.parse().map_err(|_| bad())?
    };
    if n == 0 {
        return Err(format!("{s:?}: a size must be at least 1 element"));
    }
    Ok(n)
}

pub fn run(gpu: &Gpu, args: &BenchArgs) -> Result<ExitCode, wgpu_activations::Error> {
    if args.overhead {
        let config = overhead::Config {
            ops: args.overhead_ops,
            reps: args.overhead_reps,
            sizes: if args.sizes.is_empty() {
                overhead::DEFAULT_SIZES.to_vec()
            } else {
                args.sizes.clone()
            },
        };
        return overhead::run(gpu, &config, args.json.as_deref());
    }
    let all = BenchOp::defaults();
    let ops: Vec<BenchOp> = if args.ops.is_empty() {
        all
    } else {
        let names: Vec<&str> = all.iter().map(|op| op.name).collect();
        if let Some(unknown) = args.ops.iter().find(|o| !names.contains(&o.as_str())) {
            eprintln!("unknown op {unknown:?}: choose from {}", names.join(", "));
            return Ok(ExitCode::FAILURE);
        }
        all.into_iter()
            .filter(|op| args.ops.iter().any(|o| o == op.name))
            .collect()
    };
    let opts = Options {
        target: Duration::from_millis(args.target_ms),
        timestamps: !args.no_timestamps,
        seed: args.seed,
        max_copy_time: args.sizes.is_empty().then_some(DEFAULT_MAX_COPY),
        dtypes: args.dtypes.clone(),
        ..Options::default()
    };
    let sizes = if args.sizes.is_empty() {
        DEFAULT_SIZES.to_vec()
    } else {
        args.sizes.clone()
    };
    let info = gpu.info();
    let timer = bench::timer(gpu, opts.timestamps);
    eprintln!(
        "# bench on {} ({}, {} {}), kernel time by {}",
        info.name,
        info.backend,
        info.driver,
        info.driver_info,
        timer.name()
    );
    let started = Instant::now();
    let rows = bench::run(gpu, &ops, &sizes, &opts, &mut |r: &Row| {
        eprintln!(
            "[{:6.1} s] {:<16} {} {:>10} elements: {:>10.1} us {:>8.2} GB/s  x{:.2} of copy  e2e {:.1} us  {}",
            started.elapsed().as_secs_f64(),
            r.series(),
            r.dir,
            r.elements(),
            r.kernel_us,
            r.gbps,
            r.ratio_to_copy,
            r.e2e_us,
            r.detail
        );
    })?;
    print_table(gpu, &rows, timer.name(), &args.dtypes);
    if let Some(path) = &args.json {
        if let Err(e) = write_json(path, &rows) {
            eprintln!("error: writing {}: {e}", path.display());
            return Ok(ExitCode::FAILURE);
        }
    }
    if let Some(path) = &args.svg {
        let title = format!(
            "{} ({}), {}, kernel time by {}",
            info.name,
            info.backend,
            dtypes_stored(gpu, &args.dtypes),
            timer.name()
        );
        if let Err(e) = chart::draw(path, &title, &rows) {
            eprintln!("error: drawing {}: {e}", path.display());
            return Ok(ExitCode::FAILURE);
        }
    }
    eprintln!("# done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}

/// `f32, f16 (native f16)`: the dtypes run and how this adapter stores f16.
fn dtypes_stored(gpu: &Gpu, dtypes: &[DType]) -> String {
    dtypes
        .iter()
        .map(|&d| match bench::storage(gpu, d) {
            "f16 native" => "f16 (native storage: shader-f16)".to_string(),
            "f16 packed" => "f16 (packed storage: two halves per u32)".to_string(),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_table(gpu: &Gpu, rows: &[Row], timer: &str, dtypes: &[DType]) {
    let info = gpu.info();
    println!(
        "{} ({}, {} {}), {}, kernel time by {timer}, GB/s = bytes a perfect kernel moves / kernel time, ratio against the copy of the same dtype and size",
        info.name, info.backend, info.driver, info.driver_info, dtypes_stored(gpu, dtypes)
    );
    println!();
    println!("| op | dtype | dir | shape | kernel µs | GB/s | ratio to copy | end-to-end µs | ideal bytes | design bytes | design / ideal |");
    println!("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let op = if r.variant.is_empty() {
            r.op.clone()
        } else {
            format!("{} {}", r.op, r.variant)
        };
        println!(
            "| {} | {} | {} | {} | {:.1} | {:.2} | {:.2} | {:.1} | {} | {} | {:.3} |",
            op,
            r.storage,
            r.dir,
            r.shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("×"),
            r.kernel_us,
            r.gbps,
            r.ratio_to_copy,
            r.e2e_us,
            r.ideal_bytes,
            r.design_bytes,
            r.design_bytes as f64 / r.ideal_bytes.max(1) as f64
        );
    }
}

fn write_json(path: &PathBuf, rows: &[Row]) -> std::io::Result<()> {
    let rows: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "op": r.op,
                "variant": r.variant,
                "dir": r.dir,
                "dtype": r.dtype,
                "storage": r.storage,
                "shape": r.shape,
                "kernel_us": r.kernel_us,
                "gbps": r.gbps,
                "ratio_to_copy": r.ratio_to_copy,
                "e2e_us": r.e2e_us,
                "ideal_bytes": r.ideal_bytes,
                "design_bytes": r.design_bytes,
                "adapter": r.adapter,
                "backend": r.backend,
                "driver": r.driver,
                "timer": r.timer,
                "detail": r.detail,
            })
        })
        .collect();
    let text = serde_json::to_string_pretty(&rows).map_err(std::io::Error::other)?;
    std::fs::write(path, text + "\n")
}
