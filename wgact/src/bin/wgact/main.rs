//! `wgact`: inspect the adapter and check every layer on the GPU against the CPU reference.

mod bench;
mod keras;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use wgact::cases::parse_cases;
use wgact::check::{run_all, CheckRow};
use wgact::conformance::{results_json, run_cases, summary_line, Backend};
use wgpu_activations::Gpu;

#[derive(Parser)]
#[command(
    name = "wgact",
    version,
    about = "Keras activation layers on the GPU through wgpu"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the adapter, backend, driver, limits and optional features.
    Info,
    /// Run every layer forward and backward on the GPU against the CPU reference, or, with
    /// --cases, run a file of reference vectors (e.g. TensorFlow's) and compare.
    Check {
        /// Skip the large tensors (past one storage binding and 65,535 workgroups).
        #[arg(long)]
        quick: bool,
        /// Seed of the generated inputs.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// A JSON file of reference cases (the format of tests/data/cases.json).
        #[arg(long, value_name = "FILE")]
        cases: Option<PathBuf>,
        /// With --cases: run the CPU reference instead of the GPU.
        #[arg(long, requires = "cases")]
        cpu: bool,
        /// With --cases: write the computed outputs as JSON (written even when cases fail).
        #[arg(long, value_name = "OUT.json", requires = "cases")]
        out: Option<PathBuf>,
    },
    /// Time every layer's kernels and compare their bandwidth with a copy kernel.
    Bench(bench::BenchArgs),
    /// Read a Keras layer config, model JSON or .keras archive; print each activation
    /// layer's config for a Keras version, one JSON object per line.
    Keras(keras::KerasArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(command: Command) -> Result<ExitCode, wgpu_activations::Error> {
    match command {
        Command::Info => {
            print_info(&Gpu::new()?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Check {
            cases: Some(file),
            cpu,
            out,
            ..
        } => check_cases(&file, cpu, out.as_deref()),
        Command::Check { quick, seed, .. } => check(&Gpu::new()?, quick, seed),
        Command::Bench(args) => bench::run(&Gpu::new()?, &args),
        Command::Keras(args) => keras::run(&args),
    }
}

/// `wgact check --cases FILE`: exit 0 all passed, 1 some failed, 2 the file is not valid.
fn check_cases(
    file: &Path,
    cpu: bool,
    out: Option<&Path>,
) -> Result<ExitCode, wgpu_activations::Error> {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", file.display());
            return Ok(ExitCode::from(2));
        }
    };
    let cases = match parse_cases(&text) {
        Ok(cases) => cases,
        Err(e) => {
            eprintln!("error: {}: {e}", file.display());
            return Ok(ExitCode::from(2));
        }
    };
    let gpu = if cpu { None } else { Some(Gpu::new()?) };
    let backend = gpu.as_ref().map_or(Backend::Cpu, Backend::Gpu);
    match &gpu {
        Some(gpu) => println!(
            "# {} cases on {} ({}; f16 {})",
            cases.len(),
            gpu.info().name,
            gpu.info().backend,
            if gpu.info().shader_f16 {
                "native"
            } else {
                "packed in u32"
            }
        ),
        None => println!("# {} cases on the CPU reference", cases.len()),
    }
    let results = run_cases(&cases, backend);
    for r in &results {
        println!("{}", r.line());
    }
    if let Some(path) = out {
        if let Err(e) = std::fs::write(path, results_json(&results)) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return Ok(ExitCode::from(2));
        }
    }
    let failed = results.iter().filter(|r| !r.passed()).count();
    println!("{}", summary_line(&results));
    Ok(if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn print_info(gpu: &Gpu) {
    let i = gpu.info();
    println!("adapter      {}", i.name);
    println!("backend      {}", i.backend);
    println!("device type  {}", i.device_type);
    println!("driver       {} ({})", i.driver, i.driver_info);
    println!(
        "features     shader-f16={} timestamp-query={} subgroup={} (subgroup size {}..{})",
        i.shader_f16, i.timestamp_query, i.subgroup, i.min_subgroup_size, i.max_subgroup_size
    );
    println!("limits       max_buffer_size={}", i.max_buffer_size);
    println!(
        "             max_storage_buffer_binding_size={}",
        i.max_storage_buffer_binding_size
    );
    println!(
        "             max_compute_workgroups_per_dimension={}",
        i.max_compute_workgroups_per_dimension
    );
    println!(
        "             max_compute_invocations_per_workgroup={}",
        i.max_compute_invocations_per_workgroup
    );
    println!(
        "             max_compute_workgroup_storage_size={}",
        i.max_compute_workgroup_storage_size
    );
    println!(
        "             min_storage_buffer_offset_alignment={}",
        i.min_storage_buffer_offset_alignment
    );
}

fn print_row(row: &CheckRow) -> bool {
    let shape = format!("{:?}", row.shape);
    match &row.outcome {
        Ok(()) => println!("ok    {:<58} {} {shape}", row.op, row.direction.name()),
        Err(why) => println!(
            "FAIL  {:<58} {} {shape}: {why}",
            row.op,
            row.direction.name()
        ),
    }
    row.outcome.is_ok()
}

fn check(gpu: &Gpu, quick: bool, seed: u64) -> Result<ExitCode, wgpu_activations::Error> {
    println!("# {} ({})", gpu.info().name, gpu.info().backend);
    let (mut passed, mut failed) = (0usize, 0usize);
    run_all(gpu, quick, seed, &mut |row| {
        if print_row(row) {
            passed += 1
        } else {
            failed += 1
        }
    })?;
    println!("{passed} passed, {failed} failed");
    Ok(if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
