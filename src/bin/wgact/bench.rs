//! `wgact bench`: not yet implemented.

use std::process::ExitCode;

use clap::Args;
use wgpu_activations::Gpu;

#[derive(Args, Debug)]
pub struct BenchArgs {}

pub fn run(_gpu: &Gpu, _args: &BenchArgs) -> Result<ExitCode, wgpu_activations::Error> {
    eprintln!("wgact bench is not implemented yet");
    Ok(ExitCode::FAILURE)
}
