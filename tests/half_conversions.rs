//! The shaders' software half conversions (`shaders/half.wgsl`: `wgact_round_half4`,
//! `wgact_f32x4_to_halves`, `wgact_halves_to_f32x4`), run on the GPU through the fused f16
//! snippet, against the `half` crate: ties to even, overflow to inf, denormal halves kept,
//! signs of zeros and NaNs. Inputs: a stride through all 2^32 f32 bit patterns, every
//! pattern around the denormal/normal and overflow boundaries, every denormal-half tie and
//! the ties of every normal exponent, both signs; and all 65,536 halves back to f32.

mod common;

use wgpu::util::DeviceExt;
use wgpu_activations::half::f16;
use wgpu_activations::{DType, Tensor};

fn inputs() -> Vec<u32> {
    let mut bits: Vec<u32> = (0..=u32::MAX).step_by(65_521).collect();
    for edge in [0x3300_0000u32, 0x3880_0000, 0x477f_f000, 0x7f80_0000] {
        bits.extend(edge - 4096..edge + 4096);
    }
    // Denormal halves: k * 2^-24 and the ties (k + 1/2) * 2^-24, with their neighbours.
    for k in 0..1025u32 {
        for v in [k as f32 * 2f32.powi(-24), (k as f32 + 0.5) * 2f32.powi(-24)] {
            bits.extend([v.to_bits().saturating_sub(1), v.to_bits(), v.to_bits() + 1]);
        }
    }
    // Normal halves: for every exponent, the ties (13 dropped bits = 0x1000) on odd and even
    // kept mantissas, with their neighbours.
    for exponent in 113u32..=143 {
        for mantissa in [0u32, 1, 2, 3, 0x3fe, 0x3ff] {
            let tie = exponent << 23 | mantissa << 13 | 0x1000;
            bits.extend([tie - 1, tie, tie + 1]);
        }
    }
    let negative: Vec<u32> = bits.iter().map(|b| b ^ 0x8000_0000).collect();
    bits.extend(negative);
    bits
}

/// Runs `body` (WGSL statements over `i`, `v: vec4<f32>` and `w: vec4<u32>`, the input
/// words as floats and as bits, writing `out[i]`) over `words`, 4 to an invocation.
fn run(body: &str, words: &[u32]) -> Vec<u32> {
    let gpu = common::gpu().expect("a GPU (REQUIRE_GPU)");
    let device = gpu.device();
    let src = format!(
        "{}
@group(0) @binding(0) var<storage, read> input: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> out: array<vec4<u32>>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) n: vec3<u32>) {{
    let i = g.x + g.y * n.x * 64u;
    if i >= arrayLength(&input) {{ return; }}
    let w = input[i];
    let v = bitcast<vec4<f32>>(w);
    {body}
}}",
        wgpu_activations::fused_wgsl_of(&[], DType::F16)
    );
    let pipeline = common::raw_pipeline(device, "half conversions", src);
    let mut padded = words.to_vec();
    padded.resize(words.len().next_multiple_of(4), 0);
    let input = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: None,
        contents: bytemuck::cast_slice(&padded),
        usage: wgpu::BufferUsages::STORAGE,
    });
    let out = device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: padded.len() as u64 * 4,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    });
    let groups = (padded.len() as u32 / 4).div_ceil(64);
    common::dispatch(
        gpu,
        &pipeline,
        &[&input, &out],
        [groups.min(65_535), groups.div_ceil(65_535), 1],
    );
    let got = Tensor::view_of(gpu, &out, 0, &[padded.len()], DType::F32)
        .unwrap()
        .to_vec(gpu)
        .unwrap();
    got[..words.len()].iter().map(|v| v.to_bits()).collect()
}

fn is_nan_half(h: u32) -> bool {
    h & 0x7c00 == 0x7c00 && h & 0x3ff != 0
}

#[test]
fn f32_to_half_bits_round_to_nearest_even_overflow_to_inf_and_keep_denormals() {
    if common::gpu().is_none() {
        return;
    }
    let words = inputs();
    let got = run("out[i] = wgact_f32x4_to_halves(v);", &words);
    for (&w, &h) in words.iter().zip(&got) {
        let v = f32::from_bits(w);
        let want = f16::from_f32(v).to_bits() as u32;
        let ok = if v.is_nan() {
            h == (w >> 16 & 0x8000) | 0x7e00
        } else {
            h == want
        };
        assert!(ok, "{v:e} ({w:#010x}): got {h:#06x}, want {want:#06x}");
        assert!(!is_nan_half(h) || v.is_nan());
    }
}

#[test]
fn rounding_to_half_in_f32_matches_the_half_crate_and_passes_nan_and_inf_through() {
    if common::gpu().is_none() {
        return;
    }
    let words = inputs();
    let got = run("out[i] = bitcast<vec4<u32>>(wgact_round_half4(v));", &words);
    for (&w, &r) in words.iter().zip(&got) {
        let v = f32::from_bits(w);
        let want = if v.is_nan() {
            w
        } else {
            f16::from_f32(v).to_f32().to_bits()
        };
        assert_eq!(r, want, "{v:e} ({w:#010x}): got {:e}", f32::from_bits(r));
    }
}

#[test]
fn every_half_converts_to_its_exact_f32() {
    if common::gpu().is_none() {
        return;
    }
    let words: Vec<u32> = (0..=0xffffu32).collect();
    let got = run(
        "out[i] = bitcast<vec4<u32>>(wgact_halves_to_f32x4(w));",
        &words,
    );
    for (&h, &f) in words.iter().zip(&got) {
        let want = f16::from_bits(h as u16).to_f32();
        let ok = if want.is_nan() {
            f == want.to_bits() || (f32::from_bits(f).is_nan() && f >> 31 == h >> 15)
        } else {
            f == want.to_bits()
        };
        assert!(
            ok,
            "half {h:#06x}: got {f:#010x}, want {:#010x}",
            want.to_bits()
        );
    }
}
