//! Shared by the GPU test binaries: one `Gpu` per binary, and the REQUIRE_GPU rule.
#![allow(dead_code)]

use std::sync::OnceLock;

use wgpu_activations::{Error, Gpu};

/// The shared GPU context, or `None` (with a note on stderr) when there is no adapter.
/// With `REQUIRE_GPU=1` (CI) a missing adapter fails the test instead of skipping it.
pub fn gpu() -> Option<&'static Gpu> {
    static GPU: OnceLock<Option<Gpu>> = OnceLock::new();
    GPU.get_or_init(|| match Gpu::new() {
        Ok(gpu) => Some(gpu),
        Err(e @ Error::NoAdapter { .. }) => {
            if std::env::var("REQUIRE_GPU").is_ok_and(|v| v == "1") {
                panic!("REQUIRE_GPU=1 but {e}");
            }
            eprintln!("skipping GPU test: {e}");
            None
        }
        Err(e) => panic!("creating the GPU context failed: {e}"),
    })
    .as_ref()
}

/// `let gpu = require_gpu!();` returns from the test when there is no GPU (and REQUIRE_GPU is unset).
#[macro_export]
macro_rules! require_gpu {
    () => {
        match common::gpu() {
            Some(gpu) => gpu,
            None => return,
        }
    };
}

/// A compute pipeline of `source` (entry point `main`, layout from the shader), as an
/// application builds its own kernel beside the library's.
pub fn raw_pipeline(device: &wgpu::Device, label: &str, source: String) -> wgpu::ComputePipeline {
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(label),
        source: wgpu::ShaderSource::Wgsl(source.into()),
    });
    device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: None,
        layout: None,
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    })
}

/// Binds `buffers` whole to bindings 0, 1, .. of group 0 of `pipeline`, dispatches `groups`
/// workgroups in one pass and submits it.
pub fn dispatch(
    gpu: &Gpu,
    pipeline: &wgpu::ComputePipeline,
    buffers: &[&wgpu::Buffer],
    groups: [u32; 3],
) {
    let device = gpu.device();
    let entries: Vec<wgpu::BindGroupEntry> = buffers
        .iter()
        .enumerate()
        .map(|(binding, buffer)| wgpu::BindGroupEntry {
            binding: binding as u32,
            resource: buffer.as_entire_binding(),
        })
        .collect();
    let bind = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &pipeline.get_bind_group_layout(0),
        entries: &entries,
    });
    let mut encoder = device.create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, &bind, &[]);
        pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
    }
    gpu.queue().submit([encoder.finish()]);
}
