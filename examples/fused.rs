//! Fusing: the application's own kernel pastes the library's activation WGSL
//! (`fused_wgsl`) and applies LeakyReLU and ReLU in its epilogue (`y = act(x * scale)`),
//! with the parameters filled from `activation_params()` into its own uniform block. The
//! outputs must be the same bits as the library's own kernels give on the same
//! pre-activation values, special values included (±0, ±inf, NaN, the kinks and one ulp
//! either side of them).
//!
//! Run: `cargo run --release --example fused`. Without an adapter it prints a note and
//! exits 0, unless `REQUIRE_GPU` is set (then it fails).

use std::process::ExitCode;

use wgpu::util::DeviceExt;
use wgpu_activations::{
    fused_wgsl, ActivationParams, Direction, Elementwise, Error, Gpu, LeakyReLU, ReLU, Tensor,
};

/// The application's uniform block: its own field, then one activation block per op.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct UserParams {
    scale: f32,
    n4: u32,
    _pad: [u32; 2],
    leaky: ActivationParams,
    relu: ActivationParams,
}

/// The application's kernel; `{LIB}` is replaced by `fused_wgsl(...)` and `{LEAKY}` /
/// `{RELU}` by the functions `wgsl_function` names.
const USER_WGSL: &str = r#"
{LIB}

struct UserParams {
    scale: f32,
    n4: u32,
    _pad0: u32,
    _pad1: u32,
    leaky: WgactActivation,
    relu: WgactActivation,
}
@group(0) @binding(0) var<uniform> params: UserParams;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> pre: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> y_leaky: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> y_relu: array<vec4<f32>>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.x;
    if (i >= params.n4) { return; }
    // The application's own work ...
    let h = x[i] * params.scale;
    pre[i] = h;
    // ... and the library's activations in its epilogue.
    y_leaky[i] = {LEAKY}(h, params.leaky);
    y_relu[i] = {RELU}(h, params.relu);
}
"#;

const SCALE: f32 = 2.0;

fn require_gpu() -> bool {
    std::env::var("REQUIRE_GPU").is_ok_and(|v| !v.is_empty() && v != "0")
}

fn main() -> ExitCode {
    let gpu = match Gpu::new() {
        Ok(gpu) => gpu,
        Err(e @ Error::NoAdapter { .. }) if !require_gpu() => {
            println!("fused: skipped, no adapter ({e})");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("fused: FAILED: {e}");
            return ExitCode::FAILURE;
        }
    };
    match run(&gpu) {
        Ok(()) => {
            println!("fused: ok");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("fused: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `v` and its neighbours one ulp below and above.
fn around(v: f32, out: &mut Vec<f32>) {
    out.extend([v.next_down(), v, v.next_up()]);
}

/// Pre-activation values worth checking for the two ops, then ordinary ones.
fn pre_activations() -> Vec<f32> {
    let mut t = vec![
        0.0,
        -0.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        -f32::NAN,
        f32::from_bits(0x7fc0_1234), // NaN with a payload
        f32::MIN_POSITIVE,
        -f32::MIN_POSITIVE,
        f32::MAX,
        f32::MIN,
        1e-40, // subnormal
        -1e-40,
    ];
    // Kinks: 0 for both ops; ReLU's threshold and max_value.
    for kink in [0.0, -0.0, 0.5, -0.5, 6.0, -6.0, 1.0, -1.0] {
        around(kink, &mut t);
    }
    let mut s = 0x2545_f491u32;
    while t.len() % 4 != 0 || t.len() < 256 {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        t.push((s as f32 / u32::MAX as f32 - 0.5) * 20.0);
    }
    t
}

fn same_bits(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn run(gpu: &Gpu) -> Result<(), Box<dyn std::error::Error>> {
    let leaky = Elementwise::from(LeakyReLU::new(0.3)?);
    let relu = Elementwise::from(ReLU::new(Some(6.0), 0.1, 0.5)?);

    // The user's kernel with the library's WGSL pasted in.
    let source = USER_WGSL
        .replace("{LIB}", &fused_wgsl(&[leaky, relu]))
        .replace("{LEAKY}", &leaky.wgsl_function(Direction::Forward))
        .replace("{RELU}", &relu.wgsl_function(Direction::Forward));

    // Inputs whose product with SCALE gives the wanted pre-activations (exactly for normal
    // values; the kernel writes the pre-activations it really computed, and the library
    // runs on those).
    let x: Vec<f32> = pre_activations().iter().map(|v| v / SCALE).collect();
    let n = x.len();
    let device = gpu.device();
    let params = UserParams {
        scale: SCALE,
        n4: (n / 4) as u32,
        _pad: [0; 2],
        leaky: leaky.activation_params(),
        relu: relu.activation_params(),
    };
    let uniform = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("user params"),
        contents: bytemuck::bytes_of(&params),
        usage: wgpu::BufferUsages::UNIFORM,
    });
    let x_buf = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("x"),
        contents: bytemuck::cast_slice(&x),
        usage: wgpu::BufferUsages::STORAGE,
    });
    let out = |label: &str| {
        device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: (n * 4) as u64,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        })
    };
    let (pre, y_leaky, y_relu) = (out("pre"), out("y_leaky"), out("y_relu"));
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("user kernel"),
        source: wgpu::ShaderSource::Wgsl(source.into()),
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some("user kernel"),
        layout: None,
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    });
    let entries: Vec<wgpu::BindGroupEntry> = [&uniform, &x_buf, &pre, &y_leaky, &y_relu]
        .iter()
        .enumerate()
        .map(|(i, b)| wgpu::BindGroupEntry {
            binding: i as u32,
            resource: b.as_entire_binding(),
        })
        .collect();
    let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("user kernel"),
        layout: &pipeline.get_bind_group_layout(0),
        entries: &entries,
    });
    let mut encoder = device.create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        pass.dispatch_workgroups((n / 4).div_ceil(64) as u32, 1, 1);
    }
    gpu.wait(gpu.queue().submit([encoder.finish()]))?;

    // Views of the user's buffers, read back through the library.
    let view = |b: &wgpu::Buffer, at: usize| Tensor::view(gpu, b, at as u64, &[n - at]);
    let pre_values = view(&pre, 0)?.to_vec(gpu)?;
    let mut changed = 0;
    for (op, fused_out) in [(leaky, &y_leaky), (relu, &y_relu)] {
        let fused = view(fused_out, 0)?.to_vec(gpu)?;
        // The library's own kernel on the same pre-activations: at offset 0 (its vec4
        // kernel) and at offset 1 (its scalar kernel).
        for at in [0, 1] {
            let library = op.forward(gpu, &view(&pre, at)?)?.to_vec(gpu)?;
            for (i, (&f, &l)) in fused[at..].iter().zip(&library).enumerate() {
                if !same_bits(f, l) {
                    return Err(format!(
                        "{}: pre-activation {:e} ({:#010x}): fused {:e} ({:#010x}), library \
                         (view at {at}) {:e} ({:#010x})",
                        op.describe(),
                        pre_values[at + i],
                        pre_values[at + i].to_bits(),
                        f,
                        f.to_bits(),
                        l,
                        l.to_bits()
                    )
                    .into());
                }
            }
        }
        changed += fused
            .iter()
            .zip(&pre_values)
            .filter(|(y, p)| !same_bits(**y, **p))
            .count();
    }
    // Guard against a vacuous pass (the activation must have done something).
    if changed < n / 4 {
        return Err(format!("the activations changed only {changed} values").into());
    }
    Ok(())
}
