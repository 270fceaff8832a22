//! Embedding: views of the application's buffers at any element offset, recording into the
//! application's encoder, batches, outputs written into existing tensors and in place,
//! awaitable readback, and the errors for aliasing and foreign devices.

mod common;

use wgact::check::elementwise_inputs;
use wgact::compare::Comparison;
use wgact::ops::ElementwiseOps;
use wgpu_activations::reference::prelu::{prelu_backward, prelu_forward, PreluGradients};
use wgpu_activations::reference::{
    elementwise_backward, elementwise_forward, softmax_backward, softmax_forward,
};
use wgpu_activations::{
    Batch, Direction, Elementwise, Error, Gpu, Initializer, LeakyReLU, PReLU, ReLU, Softmax,
    Tensor, ThresholdedReLU, ELU,
};

/// Element offsets the issue names: aligned, odd, vec4-misaligned, one past 64.
const OFFSETS: [u64; 4] = [0, 1, 3, 65];
/// A value no kernel writes: the elements around a view must keep it.
const SENTINEL: f32 = 1234.5;

fn ops() -> Vec<Elementwise> {
    vec![
        LeakyReLU::new(0.3).unwrap().into(),
        ELU::new(1.0).unwrap().into(),
        ThresholdedReLU::new(1.0).unwrap().into(),
        ReLU::new(Some(6.0), 0.1, 0.5).unwrap().into(),
    ]
}

/// An application buffer holding `data` at element `offset`, sentinels before it, and
/// ending exactly at its last element (no padding a vec4 store could spill into).
fn app_buffer(gpu: &Gpu, offset: u64, data: &[f32]) -> wgpu::Buffer {
    let mut contents = vec![SENTINEL; offset as usize];
    contents.extend_from_slice(data);
    let buffer = gpu.device().create_buffer(&wgpu::BufferDescriptor {
        label: Some("test/app-buffer"),
        size: (contents.len().max(1) * 4) as u64,
        usage: wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_SRC
            | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    gpu.queue()
        .write_buffer(&buffer, 0, bytemuck::cast_slice(&contents));
    buffer
}

fn view(gpu: &Gpu, offset: u64, data: &[f32], shape: &[usize]) -> Tensor {
    Tensor::view(gpu, &app_buffer(gpu, offset, data), offset, shape).expect("view fits")
}

/// The whole buffer behind `t`, to check that nothing outside the view was written.
fn whole(gpu: &Gpu, t: &Tensor) -> Vec<f32> {
    let n = (t.buffer().size() / 4) as usize;
    Tensor::view(gpu, t.buffer(), 0, &[n])
        .unwrap()
        .to_vec(gpu)
        .unwrap()
}

fn assert_untouched_around(gpu: &Gpu, t: &Tensor, what: &str) {
    let all = whole(gpu, t);
    let (a, b) = (t.offset() as usize, t.offset() as usize + t.len());
    for (i, v) in all.iter().enumerate() {
        if i < a || i >= b {
            assert_eq!(
                *v, SENTINEL,
                "{what}: element {i} outside the view was written"
            );
        }
    }
}

fn check(actual: &[f32], expected: &[f32], op: &Elementwise, dir: Direction, what: &str) {
    if let Err(m) = Comparison::new(actual, expected, op.tolerance(dir)).check() {
        panic!("{} {what}: {m:?}", op.describe());
    }
}

#[test]
fn every_elementwise_op_matches_the_reference_on_views_at_any_offset_and_length() {
    let gpu = require_gpu!();
    for op in ops() {
        for offset in OFFSETS {
            // One batch per (op, offset): lengths 1..=17, forward and backward, into a second
            // view and in place.
            let mut batch = Batch::new(gpu);
            let mut cases = Vec::new();
            for len in 1..=17usize {
                let (x, dy) = elementwise_inputs(&op, len, len as u64);
                let xv = view(gpu, offset, &x, &[len]);
                let yv = view(gpu, offset + 2, &vec![0.0; len], &[len]);
                let x_in_place = view(gpu, offset, &x, &[len]);
                let dyv = view(gpu, offset, &dy, &[len]);
                let dxv = view(gpu, offset + 1, &vec![0.0; len], &[len]);
                let dy_in_place = view(gpu, offset, &dy, &[len]);
                op.record_forward(&mut batch, &xv, &yv).unwrap();
                op.record_forward_in_place(&mut batch, &x_in_place).unwrap();
                op.record_backward(&mut batch, &xv, &dyv, &dxv).unwrap();
                op.record_backward_in_place(&mut batch, &xv, &dy_in_place)
                    .unwrap();
                cases.push((x, dy, yv, x_in_place, dxv, dy_in_place));
            }
            let index = batch.submit().unwrap();
            gpu.wait(index).unwrap();
            for (x, dy, yv, x_in_place, dxv, dy_in_place) in cases {
                let what = format!("offset {offset} len {}", x.len());
                let y = elementwise_forward(&op, &x);
                let dx = elementwise_backward(&op, &x, &dy).unwrap();
                check(&yv.to_vec(gpu).unwrap(), &y, &op, Direction::Forward, &what);
                check(
                    &x_in_place.to_vec(gpu).unwrap(),
                    &y,
                    &op,
                    Direction::Forward,
                    &what,
                );
                check(
                    &dxv.to_vec(gpu).unwrap(),
                    &dx,
                    &op,
                    Direction::Backward,
                    &what,
                );
                check(
                    &dy_in_place.to_vec(gpu).unwrap(),
                    &dx,
                    &op,
                    Direction::Backward,
                    &what,
                );
                for t in [&yv, &x_in_place, &dxv, &dy_in_place] {
                    assert_untouched_around(gpu, t, &what);
                }
            }
        }
    }
}

#[test]
fn views_sharing_a_misalignment_take_vec4s_between_a_scalar_head_and_tail_and_match_the_reference()
{
    // Views at offsets 1, 2, 3 (mod 4) of long lengths: a scalar head up to the first
    // 4-element boundary, vec4s, a scalar tail; under 1024-byte bindings too (many chunks,
    // each with its head).
    let gpu = require_gpu!();
    let small = gpu.with_limits_override(wgpu_activations::LimitsOverride {
        max_binding_bytes: Some(1024),
        ..Default::default()
    });
    let op: Elementwise = ELU::new(1.0).unwrap().into();
    for (gpu, chunked) in [(gpu, false), (&small, true)] {
        for offset in [1u64, 2, 3, 65] {
            for len in [4099usize, 4100, 4101] {
                let (x, dy) = elementwise_inputs(&op, len, len as u64 + offset);
                let xv = view(gpu, offset, &x, &[len]);
                let yv = view(gpu, offset, &vec![0.0; len], &[len]);
                let dyv = view(gpu, offset + 4, &dy, &[len]);
                let dxv = view(gpu, offset + 8, &vec![0.0; len], &[len]);
                let mut batch = Batch::new(gpu);
                op.record_forward(&mut batch, &xv, &yv).unwrap();
                let head = (4 - offset as usize % 4) % 4;
                let tail = usize::from(!(len - head).is_multiple_of(4));
                if !chunked {
                    assert_eq!(
                        batch.dispatch_count(),
                        2 + tail,
                        "offset {offset} len {len}"
                    );
                }
                op.record_backward(&mut batch, &xv, &dyv, &dxv).unwrap();
                let index = batch.submit().unwrap();
                gpu.wait(index).unwrap();
                let what = format!("offset {offset} len {len} chunked {chunked}");
                let y = elementwise_forward(&op, &x);
                let dx = elementwise_backward(&op, &x, &dy).unwrap();
                check(&yv.to_vec(gpu).unwrap(), &y, &op, Direction::Forward, &what);
                check(
                    &dxv.to_vec(gpu).unwrap(),
                    &dx,
                    &op,
                    Direction::Backward,
                    &what,
                );
                for t in [&yv, &dxv] {
                    assert_untouched_around(gpu, t, &what);
                }
            }
        }
    }
}

fn bits(v: Vec<f32>) -> Vec<u32> {
    v.into_iter().map(f32::to_bits).collect()
}

#[test]
fn the_call_level_into_and_in_place_calls_match_forward() {
    let gpu = require_gpu!();
    let op: Elementwise = ReLU::new(None, 0.2, 0.0).unwrap().into();
    let (x, dy) = elementwise_inputs(&op, 1000, 7);
    let xt = Tensor::from_slice(gpu, &x, &[10, 100]).unwrap();
    let dyt = Tensor::from_slice(gpu, &dy, &[10, 100]).unwrap();
    let y = op.forward(gpu, &xt).unwrap().to_vec(gpu).unwrap();
    let dx = op.backward(gpu, &xt, &dyt).unwrap().to_vec(gpu).unwrap();
    let into = view(gpu, 3, &vec![0.0; 1000], &[10, 100]);
    op.forward_into(gpu, &xt, &into).unwrap();
    assert!(bits(into.to_vec(gpu).unwrap()) == bits(y.clone()), "into");
    let in_place = Tensor::from_slice(gpu, &x, &[10, 100]).unwrap();
    op.forward_in_place(gpu, &in_place).unwrap();
    assert!(bits(in_place.to_vec(gpu).unwrap()) == bits(y), "in place");
    op.backward_in_place(gpu, &xt, &dyt).unwrap();
    assert!(
        bits(dyt.to_vec(gpu).unwrap()) == bits(dx),
        "backward in place"
    );
}

#[test]
fn softmax_matches_the_reference_on_views_into_and_in_place_on_every_axis() {
    let gpu = require_gpu!();
    // Rows of every length 1..=17 (both axes), a strided axis, long rows, the batch axis.
    let mut shapes: Vec<(Vec<usize>, i64)> = (1..=17).map(|len| (vec![3, len], -1)).collect();
    shapes.extend((1..=17).map(|len| (vec![len, 2], 0)));
    shapes.extend([(vec![5, 7, 3], 1), (vec![4, 5000], 1), (vec![2, 9], 0)]);
    for (shape, axis) in &shapes {
        let (shape, axis) = (shape.as_slice(), *axis);
        let n: usize = shape.iter().product();
        let layer = Softmax::new(axis).unwrap();
        let x: Vec<f32> = (0..n)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
            .collect();
        let dy: Vec<f32> = (0..n)
            .map(|i| ((i * 13 % 29) as f32 - 14.0) / 9.0)
            .collect();
        let mask: Vec<f32> = (0..n).map(|i| (i % 5 != 2) as u8 as f32).collect();
        for offset in OFFSETS {
            for masked in [false, true] {
                let m = masked.then(|| view(gpu, offset + 7, &mask, shape));
                let mr = masked.then_some(mask.as_slice());
                let y_ref = softmax_forward(&x, shape, axis, mr).unwrap();
                let dx_ref = softmax_backward(&y_ref, &dy, shape, axis, mr).unwrap();
                let what = format!("{shape:?} axis {axis} offset {offset} masked {masked}");

                let mut batch = Batch::new(gpu);
                let xv = view(gpu, offset, &x, shape);
                let yv = view(gpu, offset + 1, &vec![0.0; n], shape);
                let in_place = view(gpu, offset, &x, shape);
                let yt = view(gpu, offset + 2, &y_ref, shape);
                let dyv = view(gpu, offset, &dy, shape);
                let dxv = view(gpu, offset + 3, &vec![0.0; n], shape);
                let dy_in_place = view(gpu, offset, &dy, shape);
                layer
                    .record_forward(&mut batch, &xv, m.as_ref(), &yv)
                    .unwrap();
                layer
                    .record_forward_in_place(&mut batch, &in_place, m.as_ref())
                    .unwrap();
                layer
                    .record_backward(&mut batch, &yt, &dyv, m.as_ref(), &dxv)
                    .unwrap();
                layer
                    .record_backward_in_place(&mut batch, &yt, &dy_in_place, m.as_ref())
                    .unwrap();
                gpu.wait(batch.submit().unwrap()).unwrap();

                for (t, reference) in [(&yv, &y_ref), (&in_place, &y_ref)] {
                    let got = t.to_vec(gpu).unwrap();
                    wgact::check::softmax::compare_y(&got, reference)
                        .unwrap_or_else(|e| panic!("{what} y: {e:?}"));
                    assert_untouched_around(gpu, t, &what);
                }
                for t in [&dxv, &dy_in_place] {
                    let got = t.to_vec(gpu).unwrap();
                    wgact::check::softmax::compare_dx(&got, &dx_ref, &dy, shape, axis)
                        .unwrap_or_else(|e| panic!("{what} dx: {e:?}"));
                    assert_untouched_around(gpu, t, &what);
                }
            }
        }
    }
}

#[test]
fn prelu_matches_the_reference_on_views_into_and_in_place() {
    let gpu = require_gpu!();
    // NHWC with one alpha per channel (vec4 kernels when aligned) and an odd channel count
    // (scalar kernels).
    // ...and one alpha per feature for every feature count 1..=17.
    let mut shapes: Vec<(Vec<usize>, Option<Vec<usize>>)> = vec![
        (vec![2, 3, 3, 8], Some(vec![1, 2])),
        (vec![2, 3, 3, 5], Some(vec![1, 2])),
    ];
    shapes.extend((1..=17).map(|len| (vec![3, len], None)));
    for (shape, shared) in shapes {
        let n: usize = shape.iter().product();
        let mut layer = PReLU::new(Initializer::Constant(0.25), None, None, shared).unwrap();
        layer.build(gpu, &shape).unwrap();
        let features = *shape.last().unwrap();
        let alpha: Vec<f32> = (0..features).map(|c| 0.1 * c as f32 - 0.2).collect();
        layer.set_alpha(gpu, &alpha).unwrap();
        let alpha_shape = layer.alpha_shape().unwrap().to_vec();
        let x: Vec<f32> = (0..n).map(|i| ((i * 7 % 23) as f32 - 11.0) / 4.0).collect();
        let dy: Vec<f32> = (0..n).map(|i| ((i * 5 % 17) as f32 - 8.0) / 3.0).collect();
        prelu_matches_on_views(
            gpu,
            &mut layer,
            (&x, &dy, &shape),
            (&alpha, &alpha_shape),
            |got, g, what| {
                for (k, (a, e)) in got.iter().zip(&g.dalpha).enumerate() {
                    let bound = 1e-5 * g.dalpha_abs_sum[k] as f32 + f32::MIN_POSITIVE;
                    assert!((a - e).abs() <= bound, "{what} dalpha[{k}]: {a} vs {e}");
                }
            },
        );
    }
}

#[test]
fn prelu_chunked_inside_slices_matches_the_reference_on_views_and_in_place() {
    let gpu = require_gpu!();
    // A 1024-byte binding: every slice below (and alpha, for [2, 300] and [2, 130, 4]) is
    // cut into several chunks, each bound from its own aligned start around a view's offset.
    let gpu = &gpu.with_limits_override(wgpu_activations::LimitsOverride {
        max_binding_bytes: Some(1024),
        ..Default::default()
    });
    for (shape, shared) in [
        (vec![2, 300], None),
        (vec![2, 130, 4], None),
        (vec![2, 3, 301], Some(vec![2])),
        (vec![2, 5, 7, 12], Some(vec![1, 2])),
    ] {
        let n: usize = shape.iter().product();
        let mut layer = PReLU::new(Initializer::Constant(0.25), None, None, shared).unwrap();
        layer.build(gpu, &shape).unwrap();
        let alpha_shape = layer.alpha_shape().unwrap().to_vec();
        let count_a: usize = alpha_shape.iter().product();
        let alpha: Vec<f32> = (0..count_a).map(|c| 0.01 * (c % 50) as f32 - 0.2).collect();
        layer.set_alpha(gpu, &alpha).unwrap();
        let x: Vec<f32> = (0..n).map(|i| ((i * 7 % 23) as f32 - 11.0) / 4.0).collect();
        let dy: Vec<f32> = (0..n).map(|i| ((i * 5 % 17) as f32 - 8.0) / 3.0).collect();
        let depth = layer.dalpha_tree_depth(gpu, &shape).unwrap();
        prelu_matches_on_views(
            gpu,
            &mut layer,
            (&x, &dy, &shape),
            (&alpha, &alpha_shape),
            |got, g, what| {
                let bounds = wgact::check::prelu::dalpha_bounds(depth, &g.dalpha_abs_sum, n);
                wgact::check::prelu::check_dalpha(got, &g.dalpha, &bounds)
                    .unwrap_or_else(|m| panic!("{what} dalpha: {m}"));
            },
        );
    }
}

/// PReLU (built, its alpha set) forward and backward, into views and in place, recorded
/// into one batch per offset of [`OFFSETS`] (outputs at other offsets): y and dx equal the
/// reference's, both dalphas pass `dalpha_ok(got, reference, what)`, and no kernel writes
/// outside its view.
fn prelu_matches_on_views(
    gpu: &Gpu,
    layer: &mut PReLU,
    (x, dy, shape): (&[f32], &[f32], &[usize]),
    (alpha, alpha_shape): (&[f32], &[usize]),
    dalpha_ok: impl Fn(&[f32], &PreluGradients, &str),
) {
    let n = x.len();
    let y_ref = prelu_forward(x, shape, alpha, alpha_shape).unwrap();
    let g = prelu_backward(x, dy, shape, alpha, alpha_shape).unwrap();
    for offset in OFFSETS {
        let what = format!("{shape:?} offset {offset}");
        let mut batch = Batch::new(gpu);
        let xv = view(gpu, offset, x, shape);
        let yv = view(gpu, offset + 1, &vec![0.0; n], shape);
        let in_place = view(gpu, offset, x, shape);
        let dyv = view(gpu, offset, dy, shape);
        let dxv = view(gpu, offset + 2, &vec![0.0; n], shape);
        let dalpha = view(gpu, offset + 3, &vec![SENTINEL; alpha.len()], alpha_shape);
        let dy_in_place = view(gpu, offset, dy, shape);
        let dalpha2 = view(gpu, offset, &vec![SENTINEL; alpha.len()], alpha_shape);
        layer.record_forward(&mut batch, &xv, &yv).unwrap();
        layer
            .record_forward_in_place(&mut batch, &in_place)
            .unwrap();
        layer
            .record_backward(&mut batch, &xv, &dyv, &dxv, &dalpha)
            .unwrap();
        layer
            .record_backward_in_place(&mut batch, &xv, &dy_in_place, &dalpha2)
            .unwrap();
        gpu.wait(batch.submit().unwrap()).unwrap();
        assert_eq!(yv.to_vec(gpu).unwrap(), y_ref, "{what} y");
        assert_eq!(in_place.to_vec(gpu).unwrap(), y_ref, "{what} y in place");
        assert_eq!(dxv.to_vec(gpu).unwrap(), g.dx, "{what} dx");
        assert_eq!(dy_in_place.to_vec(gpu).unwrap(), g.dx, "{what} dx in place");
        for d in [&dalpha, &dalpha2] {
            dalpha_ok(&d.to_vec(gpu).unwrap(), &g, &what);
        }
        for t in [&yv, &in_place, &dxv, &dy_in_place, &dalpha, &dalpha2] {
            assert_untouched_around(gpu, t, &what);
        }
    }
}

#[test]
fn a_batch_encoded_twice_runs_its_ops_twice() {
    let gpu = require_gpu!();
    let layer = LeakyReLU::new(0.5).unwrap();
    let x = Tensor::from_slice(gpu, &[-8.0, 8.0, -1.0, 0.0, 3.0], &[5]).unwrap();
    let mut batch = Batch::new(gpu);
    layer.record_forward_in_place(&mut batch, &x).unwrap();
    layer.record_forward_in_place(&mut batch, &x).unwrap();
    for _ in 0..2 {
        let mut encoder = gpu.device().create_command_encoder(&Default::default());
        batch.encode(&mut encoder).unwrap();
        gpu.wait(gpu.queue().submit([encoder.finish()])).unwrap();
    }
    // Four applications: negatives scaled by 0.5^4.
    assert_eq!(x.to_vec(gpu).unwrap(), vec![-0.5, 8.0, -0.0625, 0.0, 3.0]);
}

#[test]
fn an_output_sharing_a_buffer_with_an_input_is_refused_with_a_typed_error() {
    let gpu = require_gpu!();
    let data = vec![1.0f32; 64];
    let buffer = app_buffer(gpu, 0, &data);
    let a = Tensor::view(gpu, &buffer, 0, &[16]).unwrap();
    let b = Tensor::view(gpu, &buffer, 32, &[16]).unwrap();
    let overlapping = Tensor::view(gpu, &buffer, 8, &[16]).unwrap();
    let op = LeakyReLU::default();
    let mut batch = Batch::new(gpu);
    for (what, result) in [
        ("y is x", op.record_forward(&mut batch, &a, &a)),
        ("y in x's buffer", op.record_forward(&mut batch, &a, &b)),
        (
            "dx in dy's buffer",
            op.record_backward(&mut batch, &b, &a, &overlapping),
        ),
        (
            "dy in place over x's buffer",
            op.record_backward_in_place(&mut batch, &a, &b),
        ),
    ] {
        assert!(
            matches!(result, Err(Error::Aliasing { .. })),
            "{what}: {result:?}"
        );
    }
    let softmax = Softmax::new(-1).unwrap();
    let (x2, y2) = (a.reshape(&[4, 4]).unwrap(), b.reshape(&[4, 4]).unwrap());
    let r = softmax.record_forward(&mut batch, &x2, None, &y2);
    assert!(matches!(r, Err(Error::Aliasing { .. })), "{r:?}");
    let other = Tensor::zeros(gpu, &[4, 4]).unwrap();
    let r = softmax.record_forward_in_place(&mut batch, &other, Some(&other));
    assert!(matches!(r, Err(Error::Aliasing { .. })), "mask is x: {r:?}");
    let mut prelu = PReLU::default();
    let x = Tensor::zeros(gpu, &[2, 8]).unwrap();
    let dy = Tensor::zeros(gpu, &[2, 8]).unwrap();
    let dx = Tensor::view(gpu, &buffer, 0, &[2, 8]).unwrap();
    let dalpha = Tensor::view(gpu, &buffer, 4, &[8]).unwrap();
    let r = prelu.record_backward(&mut batch, &x, &dy, &dx, &dalpha);
    assert!(
        matches!(r, Err(Error::Aliasing { .. })),
        "dx and dalpha overlap: {r:?}"
    );
    assert!(batch.is_empty(), "nothing is recorded for a refused op");
    // The message tells what to do instead.
    let msg = op
        .record_forward(&mut batch, &a, &a)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("in-place"), "{msg}");
}

#[test]
fn views_are_validated_for_usage_bounds_and_device() {
    let gpu = require_gpu!();
    let uniform = gpu.device().create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: 64,
        usage: wgpu::BufferUsages::UNIFORM,
        mapped_at_creation: false,
    });
    let r = Tensor::view(gpu, &uniform, 0, &[4]);
    assert!(
        matches!(
            r,
            Err(Error::BufferUsage {
                missing: "STORAGE",
                ..
            })
        ),
        "{r:?}"
    );
    let buffer = app_buffer(gpu, 0, &[0.0; 10]);
    assert!(Tensor::view(gpu, &buffer, 0, &[10]).is_ok());
    let r = Tensor::view(gpu, &buffer, 1, &[10]);
    assert!(
        matches!(
            r,
            Err(Error::OutOfBounds {
                offset: 1,
                len: 10,
                capacity: 10
            })
        ),
        "{r:?}"
    );
    let r = Tensor::view(gpu, &buffer, u64::MAX, &[2]);
    assert!(matches!(r, Err(Error::OutOfBounds { .. })), "{r:?}");
    // A buffer of another device.
    let other = Gpu::new().unwrap();
    let foreign = app_buffer(&other, 0, &[1.0; 8]);
    let r = Tensor::view(gpu, &foreign, 0, &[8]);
    assert!(matches!(r, Err(Error::ForeignTensor { .. })), "{r:?}");
    // A view without COPY_SRC cannot be read back, with a typed error.
    let storage_only = gpu.device().create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: 64,
        usage: wgpu::BufferUsages::STORAGE,
        mapped_at_creation: false,
    });
    let t = Tensor::view(gpu, &storage_only, 0, &[16]).unwrap();
    let r = t.to_vec(gpu);
    assert!(
        matches!(
            r,
            Err(Error::BufferUsage {
                missing: "COPY_SRC",
                ..
            })
        ),
        "{r:?}"
    );
}

#[test]
fn a_prelu_built_on_one_device_refuses_another_instead_of_panicking() {
    let gpu = require_gpu!();
    let other = Gpu::new().unwrap();
    let mut layer = PReLU::default();
    layer.build(gpu, &[2, 4]).unwrap();
    let x_other = Tensor::zeros(&other, &[2, 4]).unwrap();
    let r = layer.forward(&other, &x_other);
    assert!(matches!(r, Err(Error::ForeignTensor { .. })), "{r:?}");
    let r = layer.backward(&other, &x_other, &x_other);
    assert!(matches!(r, Err(Error::ForeignTensor { .. })), "{r:?}");
    let r = layer.set_alpha(&other, &[1.0; 4]);
    assert!(matches!(r, Err(Error::ForeignTensor { .. })), "{r:?}");
    assert_eq!(
        layer.alpha(gpu).unwrap(),
        vec![0.0; 4],
        "alpha did not move"
    );
    let x = Tensor::zeros(gpu, &[2, 4]).unwrap();
    let r = LeakyReLU::default().forward(&other, &x);
    assert!(matches!(r, Err(Error::ForeignTensor { .. })), "{r:?}");
}

#[test]
fn two_contexts_over_one_device_share_tensors_and_views() {
    let gpu = require_gpu!();
    let twin = Gpu::from_device(gpu.device().clone(), gpu.queue().clone());
    let x = Tensor::from_slice(gpu, &[-2.0, 2.0], &[2]).unwrap();
    let y = LeakyReLU::new(0.5).unwrap().forward(&twin, &x).unwrap();
    assert_eq!(y.to_vec(gpu).unwrap(), vec![-1.0, 2.0]);
    let v = view(&twin, 1, &[-4.0, 4.0], &[2]);
    LeakyReLU::new(0.5)
        .unwrap()
        .forward_in_place(gpu, &v)
        .unwrap();
    assert_eq!(v.to_vec(&twin).unwrap(), vec![-2.0, 4.0]);
}

#[test]
fn from_device_leaves_the_applications_error_handler_alone() {
    let gpu = require_gpu!();
    // An application device with its own uncaptured-error handler.
    let adapter_device = pollster::block_on(async {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle());
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions::default())
            .await
            .ok()?;
        adapter.request_device(&Default::default()).await.ok()
    });
    let Some((device, queue)) = adapter_device else {
        assert!(
            gpu.info().name.is_empty(),
            "an adapter exists, so must a device"
        );
        return;
    };
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = std::sync::Arc::clone(&seen);
    device.on_uncaptured_error(std::sync::Arc::new(move |e: wgpu::Error| {
        sink.lock().unwrap().push(e.to_string());
    }));
    let app = Gpu::from_device(device.clone(), queue);
    let x = Tensor::from_slice(&app, &[-1.0, 1.0], &[2]).unwrap();
    let y = LeakyReLU::default().forward(&app, &x).unwrap();
    assert_eq!(y.to_vec(&app).unwrap(), vec![-0.3, 1.0]);
    assert!(seen.lock().unwrap().is_empty());
    // The application's own mistake: MAP_READ cannot be combined with STORAGE.
    let _bad = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("app/invalid"),
        size: 16,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::STORAGE,
        mapped_at_creation: false,
    });
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "the application's handler saw its error"
    );
    // ...and the library does not report it as its own.
    assert!(app.health().is_ok());
    assert_eq!(
        LeakyReLU::default()
            .forward(&app, &x)
            .unwrap()
            .to_vec(&app)
            .unwrap(),
        vec![-0.3, 1.0]
    );
}

#[test]
fn readback_can_be_awaited_or_written_into_an_existing_slice() {
    let gpu = require_gpu!();
    let data: Vec<f32> = (0..1000).map(|i| i as f32 - 500.0).collect();
    let t = view(gpu, 3, &data, &[1000]);
    let y = ELU::default().forward(gpu, &t).unwrap();
    let expected = y.to_vec(gpu).unwrap();
    assert_eq!(pollster::block_on(y.read(gpu)).unwrap(), expected);
    assert_eq!(pollster::block_on(t.read(gpu)).unwrap(), data);
    let mut out = vec![0.0; 1000];
    y.read_into(gpu, &mut out).unwrap();
    assert_eq!(out, expected);
    let mut short = vec![0.0; 999];
    let r = y.read_into(gpu, &mut short);
    assert!(matches!(r, Err(Error::LengthMismatch { .. })), "{r:?}");
}

#[test]
fn a_view_one_past_a_storage_binding_is_processed_in_chunks() {
    let gpu = require_gpu!();
    let binding = gpu.info().max_storage_buffer_binding_size as usize / 4;
    let n = binding + 1;
    let offset = 3;
    let x: Vec<f32> = (0..n)
        .map(|i| if i % 2 == 0 { -(i as f32) } else { i as f32 })
        .collect();
    let xv = view(gpu, offset, &x, &[n]);
    LeakyReLU::new(0.5)
        .unwrap()
        .forward_in_place(gpu, &xv)
        .unwrap();
    let y = xv.to_vec(gpu).unwrap();
    for i in [0, 1, 2, n / 2, binding - 1, binding, n - 1] {
        let e = if i % 2 == 0 {
            -(i as f32) * 0.5
        } else {
            i as f32
        };
        assert_eq!(y[i], e, "element {i}");
    }
    assert!(y
        .iter()
        .zip(&x)
        .all(|(a, b)| *a == if *b > 0.0 { *b } else { *b * 0.5 }));
}

#[test]
fn the_fusable_snippets_of_every_op_compile_together() {
    let all: Vec<Elementwise> = ops();
    let src = wgpu_activations::fused_wgsl(&all);
    let mut user = src.clone();
    for op in &all {
        let a = op.wgsl_function(Direction::Forward);
        let b = op.wgsl_function(Direction::Backward);
        user += &format!(
            "fn use_{}(x: vec4<f32>, a: WgactActivation) -> vec4<f32> {{ return {a}(x, a) + {b}(x, x, a); }}\n",
            op.name()
        );
    }
    let module = naga::front::wgsl::parse_str(&user).expect("the snippets parse");
    naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::all(),
    )
    .validate(&module)
    .expect("the snippets validate");
    // Every name is prefixed, so a user kernel's own names cannot collide.
    for f in module.functions.iter() {
        let name = f.1.name.as_deref().unwrap_or("");
        assert!(
            name.starts_with("wgact_") || name.starts_with("use_"),
            "{name}"
        );
    }
    assert_eq!(
        std::mem::size_of::<wgpu_activations::ActivationParams>(),
        32
    );
}
