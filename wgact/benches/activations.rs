//! Criterion benches: every op of `wgact bench` forward and backward at 2^16, 2^20 and 2^24
//! elements, GPU kernel time (the same timing code: timestamp queries where the adapter has
//! them, else submit + wait) against the CPU reference as the baseline. Throughput counts the
//! bytes a perfect kernel moves, so criterion's GB/s compare with `wgact bench`'s.
//!
//! `cargo bench -- --quick` for a short run; `cargo bench -- leaky_relu/fwd` for one group.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use wgact::bench::{self, BenchOp, OpKind};
use wgact::check::Rng;
use wgpu_activations::reference::{
    elementwise_backward, elementwise_forward, prelu, softmax_backward, softmax_forward,
};
use wgpu_activations::{Direction, Gpu};

const SIZES: [usize; 3] = [1 << 16, 1 << 20, 1 << 24];
const SEED: u64 = 1;

fn host_data(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| rng.uniform(-3.0, 3.0)).collect()
}

/// The CPU reference of `op` in `direction` on `n` elements, with its inputs built here.
fn cpu_reference(op: &BenchOp, direction: Direction, n: usize) -> Option<Box<dyn Fn()>> {
    let x = host_data(n, SEED);
    let dy = host_data(n, SEED ^ 0xd1);
    match (op.kind, direction) {
        (OpKind::Copy, Direction::Forward) => Some(Box::new(move || {
            black_box(black_box(&x).to_vec());
        })),
        (OpKind::Copy, Direction::Backward) => None,
        (OpKind::Elementwise(e), Direction::Forward) => Some(Box::new(move || {
            black_box(elementwise_forward(&e, black_box(&x)));
        })),
        (OpKind::Elementwise(e), Direction::Backward) => Some(Box::new(move || {
            black_box(elementwise_backward(&e, black_box(&x), black_box(&dy)).unwrap());
        })),
        (OpKind::PReLU, direction) => {
            let shape = [n / 4096, 8, 8, 64];
            let (alpha, alpha_shape) = (vec![0.25f32; 64], [1, 1, 64]);
            Some(match direction {
                Direction::Forward => Box::new(move || {
                    black_box(
                        prelu::prelu_forward(black_box(&x), &shape, &alpha, &alpha_shape).unwrap(),
                    );
                }),
                Direction::Backward => Box::new(move || {
                    black_box(
                        prelu::prelu_backward(black_box(&x), &dy, &shape, &alpha, &alpha_shape)
                            .unwrap(),
                    );
                }),
            })
        }
        (OpKind::SoftmaxLast { .. } | OpKind::SoftmaxAxis1, direction) => {
            let (shape, axis) = match op.kind {
                OpKind::SoftmaxLast { cols } => (vec![n / cols, cols], -1),
                _ => (vec![n / (64 * 128 * 128), 64, 128, 128], 1),
            };
            Some(match direction {
                Direction::Forward => Box::new(move || {
                    black_box(softmax_forward(black_box(&x), &shape, axis, None).unwrap());
                }),
                Direction::Backward => Box::new(move || {
                    black_box(softmax_backward(black_box(&x), &dy, &shape, axis, None).unwrap());
                }),
            })
        }
    }
}

fn activations(c: &mut Criterion) {
    let gpu = match Gpu::new() {
        Ok(gpu) => gpu,
        Err(e) => {
            eprintln!("no GPU, nothing to bench: {e}");
            return;
        }
    };
    let timer = bench::timer(&gpu, true);
    eprintln!(
        "benching on {} ({}), GPU time by {}",
        gpu.info().name,
        gpu.info().backend,
        timer.name()
    );
    for op in BenchOp::defaults() {
        for direction in Direction::ALL {
            let mut group = c.benchmark_group(format!(
                "{}/{}",
                op.label().replace(' ', "_"),
                direction.name()
            ));
            for n in SIZES {
                let Some(case) = op
                    .case(&gpu, direction, n, wgpu_activations::DType::F32, SEED)
                    .expect("bench inputs")
                else {
                    continue;
                };
                // Software adapters take tens of milliseconds at 2^24: keep runs short.
                group
                    .sample_size(10)
                    .nresamples(10_000)
                    .warm_up_time(Duration::from_millis(300))
                    .measurement_time(Duration::from_millis(if n >= 1 << 24 { 1000 } else { 500 }))
                    .throughput(Throughput::BytesDecimal(case.bytes));
                group.bench_with_input(BenchmarkId::new("gpu", n), &case, |b, case| {
                    b.iter_custom(|iters| {
                        let record = |encoder: &mut _| case.record(&gpu, encoder);
                        bench::gpu_times(&gpu, iters as usize, timer, &record)
                            .expect("GPU timing")
                            .into_iter()
                            .sum::<Duration>()
                    })
                });
                drop(case);
                if let Some(reference) = cpu_reference(&op, direction, n) {
                    group.bench_function(BenchmarkId::new("cpu_reference", n), |b| {
                        b.iter(&reference)
                    });
                }
            }
            group.finish();
        }
    }
}

criterion_group!(benches, activations);
criterion_main!(benches);
