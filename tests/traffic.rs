//! The traffic a call moves by design against what a perfect kernel moves (`Traffic`),
//! computed from the same plans the kernels are recorded from.

mod common;

use wgpu_activations::{
    DType, Direction, Elementwise, Initializer, LeakyReLU, LimitsOverride, PReLU, Softmax,
};

#[test]
fn elementwise_layers_move_exactly_the_ideal_bytes() {
    let op = Elementwise::from(LeakyReLU::default());
    let fwd = op.traffic(1000, Direction::Forward, DType::F32);
    assert_eq!((fwd.ideal_bytes, fwd.design_bytes), (8000, 8000));
    let bwd = op.traffic(1000, Direction::Backward, DType::F32);
    assert_eq!((bwd.ideal_bytes, bwd.design_bytes), (12000, 12000));
    // f16 moves two bytes per element.
    let fwd = op.traffic(1001, Direction::Forward, DType::F16);
    assert_eq!((fwd.ideal_bytes, fwd.design_bytes), (4004, 4004));
    assert_eq!(fwd.dtype, DType::F16);
    let bwd = op.traffic(1001, Direction::Backward, DType::F16);
    assert_eq!((bwd.ideal_bytes, bwd.design_bytes), (6006, 6006));
}

#[test]
fn softmax_rows_up_to_4096_are_read_once_and_longer_rows_twice() {
    let sm = Softmax::new(-1).unwrap();
    for cols in [1, 32, 256, 4096] {
        for dir in Direction::ALL {
            let t = sm.traffic(&[64, cols], dir, false, DType::F32).unwrap();
            assert_eq!(t.design_bytes, t.ideal_bytes, "{cols} columns {dir:?}");
        }
    }
    // 32768 columns: 8 chunks of 4096; x read twice forward, y and dy twice backward.
    let rows = 4u64;
    let n = rows * 32768;
    let partials = rows * 8 * 16 * 9;
    let fwd = sm
        .traffic(&[4, 32768], Direction::Forward, false, DType::F32)
        .unwrap();
    assert_eq!(fwd.ideal_bytes, 8 * n);
    assert_eq!(fwd.design_bytes, 12 * n + partials);
    let bwd = sm
        .traffic(&[4, 32768], Direction::Backward, false, DType::F32)
        .unwrap();
    assert_eq!(bwd.ideal_bytes, 12 * n);
    assert_eq!(bwd.design_bytes, 20 * n + partials);
    // f16: half the tensor bytes, the same f32 partials.
    let fwd = sm
        .traffic(&[4, 32768], Direction::Forward, false, DType::F16)
        .unwrap();
    assert_eq!(fwd.ideal_bytes, 4 * n);
    assert_eq!(fwd.design_bytes, 6 * n + partials);
    let bwd = sm
        .traffic(&[4, 32768], Direction::Backward, false, DType::F16)
        .unwrap();
    assert_eq!(
        (bwd.ideal_bytes, bwd.design_bytes),
        (6 * n, 10 * n + partials)
    );
    // A mask is one more read per pass.
    let masked = sm
        .traffic(&[64, 32], Direction::Forward, true, DType::F32)
        .unwrap();
    assert_eq!(masked.ideal_bytes, 12 * 64 * 32);
    let masked = sm
        .traffic(&[64, 32], Direction::Forward, true, DType::F16)
        .unwrap();
    assert_eq!(masked.ideal_bytes, 6 * 64 * 32);
    assert!(sm
        .traffic(&[5], Direction::Forward, false, DType::F32)
        .is_err());
}

#[test]
fn prelu_backward_reads_x_and_dy_once_and_adds_only_partial_sums() {
    let gpu = require_gpu!();
    let shape = [256, 8, 8, 64];
    let n = 256 * 8 * 8 * 64u64;
    let mut layer = PReLU::new(Initializer::Constant(0.25), None, None, Some(vec![1, 2])).unwrap();
    assert!(
        layer
            .traffic(gpu, &shape, Direction::Forward, DType::F32)
            .is_err(),
        "not built"
    );
    layer.build(gpu, &shape).unwrap();
    let fwd = layer
        .traffic(gpu, &shape, Direction::Forward, DType::F32)
        .unwrap();
    assert_eq!(fwd.ideal_bytes, 8 * n);
    assert_eq!(fwd.design_bytes, 8 * n + 64 * 4);
    let bwd = layer
        .traffic(gpu, &shape, Direction::Backward, DType::F32)
        .unwrap();
    assert_eq!(bwd.ideal_bytes, 12 * n + 64 * 4);
    // x, dy and dx once (12n), alpha once, then the partial sums: far under 1.1.
    assert!(bwd.design_bytes > bwd.ideal_bytes);
    assert!(bwd.ratio() <= 1.1, "{bwd:?}");
    // f16: two bytes per element of x, dy, dx and dalpha; alpha and the partials stay f32.
    let fwd16 = layer
        .traffic(gpu, &shape, Direction::Forward, DType::F16)
        .unwrap();
    assert_eq!(fwd16.ideal_bytes, 4 * n);
    assert_eq!(fwd16.design_bytes, 4 * n + 64 * 4);
    let bwd16 = layer
        .traffic(gpu, &shape, Direction::Backward, DType::F16)
        .unwrap();
    assert_eq!(bwd16.ideal_bytes, 6 * n + 64 * 2);
    assert_eq!(
        bwd.design_bytes - bwd16.design_bytes,
        6 * n + 64 * 2,
        "only the tensors' and dalpha's bytes halve"
    );
    assert!(layer
        .traffic(gpu, &[256, 8, 8, 32], Direction::Backward, DType::F32)
        .is_err());
}

#[test]
fn softmax_traffic_on_a_gpu_context_follows_the_kernels_it_takes() {
    let gpu = require_gpu!();
    let as_gpu = gpu.with_limits_override(LimitsOverride {
        gpu_softmax: true,
        ..LimitsOverride::default()
    });
    let sm = Softmax::new(-1).unwrap();
    let info = gpu.info();
    let cpu_kernels = info.device_type == "Cpu"
        && info.subgroup
        && info.min_subgroup_size == info.max_subgroup_size
        && (8..=64).contains(&info.min_subgroup_size);
    let (rows, n) = (128u64, 128 * 32768u64);
    for dir in Direction::ALL {
        let plain = sm.traffic(&[128, 32768], dir, false, DType::F32).unwrap();
        // The GPU's kernels: the plan's resident finish, as `traffic` says.
        let on_gpu = sm
            .traffic_on(&as_gpu, &[128, 32768], dir, false, DType::F32)
            .unwrap();
        assert_eq!(on_gpu, plain, "{dir:?}");
        // A CPU adapter's: no resident tail, every chunk read twice, each finishing chunk
        // reading its row's 8 partials.
        let on = sm
            .traffic_on(gpu, &[128, 32768], dir, false, DType::F32)
            .unwrap();
        let reads = if dir == Direction::Forward { 1 } else { 2 };
        if cpu_kernels {
            let partials = rows * 8 * 16 * 9;
            assert_eq!(
                on.design_bytes,
                (2 * reads + 1) * 4 * n + partials,
                "{dir:?}"
            );
            assert!(on.ratio() > plain.ratio(), "{dir:?}");
        } else {
            assert_eq!(on, plain, "{dir:?}");
        }
        // Rows up to 4096 are read once on both.
        let short = sm
            .traffic_on(gpu, &[128, 4096], dir, false, DType::F32)
            .unwrap();
        assert_eq!(short.ratio(), 1.0);
    }
}
