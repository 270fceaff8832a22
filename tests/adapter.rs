//! Adapter selection honours wgpu's environment overrides. Its own test binary, because it
//! sets environment variables for the whole process.

mod common;

use wgpu_activations::{Error, Gpu, Tensor, ThresholdedReLU};

#[test]
fn wgpu_adapter_name_selects_an_adapter_and_a_name_matching_none_is_a_clear_error() {
    let Some(default) = common::gpu() else { return };
    let name = default.info().name.clone();
    std::env::set_var("WGPU_ADAPTER_NAME", name.to_uppercase());
    let chosen = Gpu::new().expect("the default adapter's own name selects it");
    assert_eq!(chosen.info().name, name);

    std::env::set_var("WGPU_ADAPTER_NAME", "no such adapter 7f3a");
    let err = Gpu::new().unwrap_err();
    std::env::remove_var("WGPU_ADAPTER_NAME");
    match &err {
        Error::NoAdapter { detail } => assert!(detail.contains("no such adapter 7f3a"), "{detail}"),
        other => panic!("expected NoAdapter, got {other}"),
    }
    let message = err.to_string();
    assert!(
        message.contains("mesa-vulkan-drivers"),
        "the error says how to get a software GPU: {message}"
    );
}

#[test]
fn a_gpu_wraps_a_device_the_application_already_has() {
    let Some(_) = common::gpu() else { return };
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle());
    let adapter =
        pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default()))
            .expect("an adapter");
    let (device, queue) =
        pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor::default()))
            .expect("a device with default limits");
    let gpu = Gpu::from_device(device, queue);
    assert!(
        !gpu.info().subgroup,
        "features not enabled on the device are not used"
    );
    let x = Tensor::from_slice(&gpu, &[0.5, 1.5, 1.0], &[3]).unwrap();
    let y = ThresholdedReLU::default()
        .forward(&gpu, &x)
        .unwrap()
        .to_vec(&gpu)
        .unwrap();
    assert_eq!(y, vec![0.0, 1.5, 0.0]);
}
