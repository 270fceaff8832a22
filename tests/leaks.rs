//! Memory stays bounded over many calls. Its own test binary: it reads the process's
//! resident memory, which tests running beside it would disturb.

mod common;

use wgpu_activations::{Elementwise, Gpu, PReLU, Softmax, Tensor, ELU};

fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = status.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[test]
fn ten_thousand_forward_and_backward_calls_keep_memory_bounded() {
    let Some(_) = common::gpu() else { return };
    // A context of its own: other tests allocate on the shared one concurrently.
    let gpu = &Gpu::new().unwrap();
    let shape = [16, 1024];
    let n = shape[0] * shape[1];
    let x = Tensor::from_slice(gpu, &vec![0.5; n], &shape).unwrap();
    let elu = Elementwise::from(ELU::default());
    let softmax = Softmax::default();
    let mut prelu = PReLU::default();
    prelu.build(gpu, &shape).unwrap();
    let baseline = gpu.live_tensor_bytes();
    let mut rss_after_warmup = None;
    // 10,000 calls and more: forward and backward of each family in turn.
    for i in 0..5_000 {
        let outputs = match i % 3 {
            0 => vec![
                elu.forward(gpu, &x).unwrap(),
                elu.backward(gpu, &x, &x).unwrap(),
            ],
            1 => vec![
                softmax.forward(gpu, &x).unwrap(),
                softmax.backward(gpu, &x, &x).unwrap(),
            ],
            _ => {
                let (dx, dalpha) = prelu.backward(gpu, &x, &x).unwrap();
                vec![prelu.forward(gpu, &x).unwrap(), dx, dalpha]
            }
        };
        assert!(gpu.live_tensor_bytes() >= baseline + 2 * (n as u64) * 4);
        drop(outputs);
        if i == 1_000 {
            outputs_are_freed(gpu, baseline);
            rss_after_warmup = resident_bytes();
        }
    }
    outputs_are_freed(gpu, baseline);
    if let (Some(before), Some(after)) = (rss_after_warmup, resident_bytes()) {
        // 4,000 more iterations each allocate at least 128 KiB of outputs: a leak would add
        // about 500 MiB.
        let growth = after.saturating_sub(before);
        assert!(
            growth < 64 << 20,
            "resident memory grew by {growth} bytes over 8,000 calls"
        );
    }
    gpu.health().unwrap();
}

fn outputs_are_freed(gpu: &Gpu, baseline: u64) {
    assert_eq!(
        gpu.live_tensor_bytes(),
        baseline,
        "every dropped tensor's buffer is released"
    );
}
