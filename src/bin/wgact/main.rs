//! `wgact`: inspect the adapter and check every layer on the GPU against the CPU reference.

mod bench;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use wgpu_activations::check::{run_all, CheckRow};
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
    /// Run every layer forward and backward on the GPU against the CPU reference.
    Check {
        /// Skip the large tensor (past one storage binding and 65,535 workgroups).
        #[arg(long)]
        quick: bool,
        /// Seed of the generated inputs.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Time every layer's kernels and compare their bandwidth with a copy kernel.
    Bench(bench::BenchArgs),
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
    let gpu = Gpu::new()?;
    match command {
        Command::Info => {
            print_info(&gpu);
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { quick, seed } => check(&gpu, quick, seed),
        Command::Bench(args) => bench::run(&gpu, &args),
    }
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
