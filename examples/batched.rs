//! Batching: 1000 small ops (chained LeakyReLU in place on 4096 elements, with a few ELU
//! among them, and every 250th op a Softmax of the chain so far into its own tensor)
//! recorded into one `Batch` and sent in ONE submission, then checked against the crate's
//! CPU reference applied in the same order.
//!
//! Run: `cargo run --release --example batched`. Without an adapter it prints a note and
//! exits 0, unless `REQUIRE_GPU` is set (then it fails).

use std::process::ExitCode;

use wgpu_activations::{
    reference, Batch, Elementwise, Error, Gpu, LeakyReLU, Softmax, Tensor, ELU,
};

const OPS: usize = 1000;
const N: usize = 4096;
/// Softmax runs over rows of this length (the chain's elements, reshaped).
const ROW: usize = 64;

/// The op at position `i` of the chain.
enum Op {
    Elementwise(Elementwise),
    /// Softmax of the chain so far into output number `k`.
    Softmax(usize),
}

fn op(i: usize) -> Result<Op, Error> {
    Ok(if i % 250 == 249 {
        Op::Softmax(i / 250)
    } else if i % 100 == 50 {
        Op::Elementwise(ELU::new(1.0)?.into())
    } else {
        // Slightly below 1 so that 1000 of them keep negative values representable.
        Op::Elementwise(LeakyReLU::new(0.995)?.into())
    })
}

fn require_gpu() -> bool {
    std::env::var("REQUIRE_GPU").is_ok_and(|v| !v.is_empty() && v != "0")
}

fn main() -> ExitCode {
    let gpu = match Gpu::new() {
        Ok(gpu) => gpu,
        Err(e @ Error::NoAdapter { .. }) if !require_gpu() => {
            println!("batched: skipped, no adapter ({e})");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("batched: FAILED: {e}");
            return ExitCode::FAILURE;
        }
    };
    match run(&gpu) {
        Ok(()) => {
            println!("batched: ok, {OPS} ops, 1 submission");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("batched: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(gpu: &Gpu) -> Result<(), Box<dyn std::error::Error>> {
    let mut s = 0x9e37_79b9u32;
    let input: Vec<f32> = (0..N)
        .map(|_| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (s >> 8) as f32 / (1u32 << 24) as f32 * 8.0 - 4.0
        })
        .collect();
    let x = Tensor::from_slice(gpu, &input, &[N])?;
    let rows = x.reshape(&[N / ROW, ROW])?; // the same elements, for Softmax
    let softmax = Softmax::new(-1)?;
    let probs = (0..OPS / 250)
        .map(|_| Tensor::zeros(gpu, &[N / ROW, ROW]))
        .collect::<Result<Vec<_>, _>>()?;

    // Record everything; nothing runs yet.
    let mut batch = Batch::new(gpu);
    for i in 0..OPS {
        match op(i)? {
            Op::Elementwise(e) => e.record_forward_in_place(&mut batch, &x)?,
            Op::Softmax(k) => softmax.record_forward(&mut batch, &rows, None, &probs[k])?,
        }
    }
    if batch.dispatch_count() < OPS {
        return Err(format!(
            "{OPS} ops recorded only {} dispatches",
            batch.dispatch_count()
        )
        .into());
    }
    // One submission for all of them.
    let submission = batch.submit()?;
    gpu.wait(submission)?;
    let got = x.to_vec(gpu)?;

    // The CPU reference, op by op in the same order.
    let mut want = input.clone();
    for i in 0..OPS {
        match op(i)? {
            Op::Elementwise(e) => want = reference::elementwise_forward(&e, &want),
            Op::Softmax(k) => {
                let p = reference::softmax_forward(&want, &[N / ROW, ROW], -1, None)?;
                compare(&format!("softmax after op {i}"), &probs[k].to_vec(gpu)?, &p)?;
            }
        }
    }
    compare("the chain", &got, &want)?;
    if !got.iter().any(|&v| v < 0.0) {
        return Err("no negative value survived the chain: LeakyReLU went untested".into());
    }
    // The chain did something: the input and the output differ.
    if got.iter().zip(&input).all(|(a, b)| a == b) {
        return Err("the output equals the input".into());
    }
    Ok(())
}

fn compare(what: &str, got: &[f32], want: &[f32]) -> Result<(), String> {
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let err = (g - w).abs();
        if err.is_nan() || err > 1e-5 + 1e-4 * w.abs() {
            return Err(format!("{what}, element {i}: GPU {g}, reference {w}"));
        }
    }
    Ok(())
}
