//! Softmax: GPU against the CPU reference and TensorFlow's vectors, for every strategy
//! (short rows sharing a workgroup, register rows, long chunked rows), every axis (strided
//! kernels), masks, chunked bindings and 2-D grids, plus errors and finite differences.

mod common;

use wgact::cases::{parse_cases, Case};
use wgact::check::softmax as sm;
use wgact::check::CheckRow;
use wgact::compare::{Comparison, Tolerance};
use wgpu_activations::reference::{softmax_backward, softmax_forward, softmax_row_f64};
use wgpu_activations::Softmax;
use wgpu_activations::{Error, Gpu, LimitsOverride, Tensor};

fn assert_rows(rows: [CheckRow; 2]) {
    for row in rows {
        if let Err(e) = &row.outcome {
            panic!("{} {:?} shape {:?}: {e}", row.op, row.direction, row.shape);
        }
    }
}

fn check(gpu: &Gpu, layer: Softmax, shape: &[usize], spread: f32, mask: Option<&[f32]>) {
    let n: usize = shape.iter().product();
    let x = sm::logits(n, spread, 7);
    assert_rows(sm::check_case(gpu, &layer, &x, mask, shape, 7).unwrap());
}

#[test]
fn every_preset_row_length_matches_the_reference_along_the_last_axis() {
    let gpu = require_gpu!();
    for &len in sm::ROW_LENGTHS {
        let rows = if len > 10_000 { 2 } else { 3 };
        check(gpu, Softmax::default(), &[rows, len], 8.0, None);
    }
}

#[test]
fn many_short_rows_share_workgroups() {
    let gpu = require_gpu!();
    for len in [1, 2, 3, 4, 5, 8, 9, 17] {
        check(gpu, Softmax::default(), &[1001, len], 8.0, None);
    }
}

#[test]
fn a_row_of_a_million_elements_matches_the_reference() {
    let gpu = require_gpu!();
    check(gpu, Softmax::default(), &[1, 1_000_003], 20.0, None);
}

#[test]
fn every_axis_of_3d_and_4d_shapes_matches_the_reference() {
    let gpu = require_gpu!();
    for shape in [
        vec![5usize, 33, 7],
        vec![3, 4, 65, 6],
        vec![2, 3, 4, 5, 2, 3],
    ] {
        let rank = shape.len() as i64;
        for axis in -rank..rank {
            check(gpu, Softmax::new(axis).unwrap(), &shape, 8.0, None);
        }
    }
}

#[test]
fn strided_rows_of_every_strategy_match_the_reference() {
    let gpu = require_gpu!();
    // Register kernel with 1, 4 and 64 lanes per row; the long kernel with 16 rows side by side.
    for shape in [
        vec![2usize, 5, 300],
        vec![2, 64, 3],
        vec![2, 1000, 2],
        vec![1, 4097, 3],
        vec![2, 5000, 40],
        vec![1000, 3],
    ] {
        check(gpu, Softmax::new(-2).unwrap(), &shape, 8.0, None);
    }
    check(gpu, Softmax::new(1).unwrap(), &[2, 257, 5, 3], 8.0, None);
}

#[test]
fn row_sums_are_one_within_tolerance() {
    let gpu = require_gpu!();
    for (shape, axis) in [
        (vec![4usize, 1000], -1i64),
        (vec![2, 9000], -1),
        (vec![3, 700, 5], 1),
        (vec![64, 3], -1),
    ] {
        let n: usize = shape.iter().product();
        let x = sm::logits(n, 30.0, 3);
        let xt = Tensor::from_slice(gpu, &x, &shape).unwrap();
        let y = Softmax::new(axis)
            .unwrap()
            .forward(gpu, &xt)
            .unwrap()
            .to_vec(gpu)
            .unwrap();
        let len = shape[(axis + shape.len() as i64) as usize % shape.len()];
        let inner: usize = shape[(axis + shape.len() as i64) as usize % shape.len() + 1..]
            .iter()
            .product();
        for o in 0..n / (len * inner) {
            for i in 0..inner {
                let s: f64 = (0..len).map(|k| y[(o * len + k) * inner + i] as f64).sum();
                // Each y is within 8 ulp (relative 1e-6) or 1e-7 of the exact quotient.
                let bound = 1e-6 + len as f64 * 1e-7;
                assert!(
                    (s - 1.0).abs() < bound,
                    "{shape:?} row ({o},{i}) sums to {s}"
                );
            }
        }
    }
}

#[test]
fn special_rows_behave_as_in_tensorflow() {
    let gpu = require_gpu!();
    let rows = sm::special_rows();
    let x: Vec<f32> = rows.iter().flatten().copied().collect();
    let shape = [rows.len(), 8];
    assert_rows(sm::check_case(gpu, &Softmax::default(), &x, None, &shape, 1).unwrap());
    // And the stated semantics, independently of the reference.
    let y = Softmax::default()
        .forward(gpu, &Tensor::from_slice(gpu, &x, &shape).unwrap())
        .unwrap()
        .to_vec(gpu)
        .unwrap();
    let row = |r: usize| &y[r * 8..r * 8 + 8];
    for (r, xs) in rows.iter().enumerate() {
        let poisoned = xs.iter().any(|v| v.is_nan() || *v == f32::INFINITY)
            || xs.iter().all(|v| *v == f32::NEG_INFINITY);
        if poisoned {
            assert!(row(r).iter().all(|v| v.is_nan()), "row {r} {:?}", row(r));
        } else {
            assert!(row(r).iter().all(|v| v.is_finite()), "row {r} {:?}", row(r));
            for (k, v) in xs.iter().enumerate() {
                if *v == f32::NEG_INFINITY {
                    assert_eq!(row(r)[k], 0.0, "row {r}");
                }
            }
        }
        if xs.iter().all(|v| *v == xs[0]) && xs[0].is_finite() {
            for v in row(r) {
                assert!(
                    (v - 0.125).abs() <= 2.0 * f32::EPSILON * 0.125,
                    "row {r}: {v}"
                );
            }
        }
    }
}

#[test]
fn softmax_of_a_row_of_minus_infinity_is_nan_in_every_strategy() {
    let gpu = require_gpu!();
    for len in [1usize, 7, 300, 5000] {
        let mut x = sm::logits(2 * len, 4.0, 2);
        x[..len].iter_mut().for_each(|v| *v = f32::NEG_INFINITY);
        x[len] = f32::NEG_INFINITY;
        let shape = [2, len];
        let y = Softmax::default()
            .forward(gpu, &Tensor::from_slice(gpu, &x, &shape).unwrap())
            .unwrap()
            .to_vec(gpu)
            .unwrap();
        assert!(y[..len].iter().all(|v| v.is_nan()), "len {len}");
        if len > 1 {
            assert_eq!(y[len], 0.0, "len {len}");
            assert!(y[len + 1..].iter().all(|v| v.is_finite()), "len {len}");
        }
    }
}

#[test]
fn nan_or_plus_infinity_anywhere_poisons_the_row_in_every_strategy() {
    let gpu = require_gpu!();
    for len in [2usize, 64, 4096, 9000] {
        for (pos, bad) in [(0, f32::NAN), (len - 1, f32::INFINITY), (len / 2, f32::NAN)] {
            let mut x = sm::logits(2 * len, 4.0, 5);
            x[len + pos] = bad;
            let shape = [2, len];
            let layer = Softmax::default();
            let y = layer
                .forward(gpu, &Tensor::from_slice(gpu, &x, &shape).unwrap())
                .unwrap();
            let dy = Tensor::from_slice(gpu, &sm::upstream(2 * len, 1), &shape).unwrap();
            let dx = layer.backward(gpu, &y, &dy).unwrap().to_vec(gpu).unwrap();
            let y = y.to_vec(gpu).unwrap();
            assert!(y[..len].iter().all(|v| v.is_finite()), "len {len}");
            assert!(y[len..].iter().all(|v| v.is_nan()), "len {len} pos {pos}");
            assert!(dx[len..].iter().all(|v| v.is_nan()), "len {len} pos {pos}");
            assert!(dx[..len].iter().all(|v| v.is_finite()), "len {len}");
        }
    }
}

#[test]
fn huge_finite_logits_stay_finite() {
    let gpu = require_gpu!();
    for len in [8usize, 300, 5000] {
        let mut x = sm::logits(len, 1e30, 9);
        x[0] = f32::MAX;
        x[len - 1] = f32::MIN;
        check_x(gpu, &x, &[1, len]);
        let y = Softmax::default()
            .forward(gpu, &Tensor::from_slice(gpu, &x, &[1, len]).unwrap())
            .unwrap()
            .to_vec(gpu)
            .unwrap();
        assert!(y.iter().all(|v| v.is_finite()));
        assert_eq!(y[0], 1.0);
    }
}

fn check_x(gpu: &Gpu, x: &[f32], shape: &[usize]) {
    assert_rows(sm::check_case(gpu, &Softmax::default(), x, None, shape, 4).unwrap());
}

// ---- TensorFlow's vectors ----
// tests/golden.rs runs every case through the conformance runner, where dx comes from our own
// forward output. Here dx is computed from TensorFlow's y, so the backward kernel is checked
// on its own.

/// The reference file's softmax cases, read with the crate's own reader.
fn softmax_cases() -> Vec<(Case, i64)> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/data/cases.json"
    ))
    .expect("tests/data/cases.json");
    let cases: Vec<(Case, i64)> = parse_cases(&text)
        .expect("cases.json parses")
        .into_iter()
        .filter(|c| c.op == "softmax")
        .map(|c| {
            let axis = c.params["axis"].as_i64().expect("an integer axis");
            (c, axis)
        })
        .collect();
    assert!(cases.len() >= 30, "only {} softmax cases", cases.len());
    cases
}

/// TensorFlow's own results: within [`sm::Y_TOLERANCE`] / [`sm::DX_TOLERANCE`] (TF is 1-2 ulp
/// from the correctly rounded quotient; see SEMANTICS.md), denormals flushed on both sides
/// (TF returns 0 for results below 1.18e-38; `ftz_dependent` cases accept either).
fn against_tensorflow(case: &Case, axis: i64, y: &[f32], dx: &[f32]) {
    let name = &case.name;
    sm::compare_y(y, case.y.as_ref().unwrap()).unwrap_or_else(|e| panic!("{name} y: {e}"));
    sm::compare_dx(dx, case.dx.as_ref().unwrap(), &case.dy, &case.shape, axis)
        .unwrap_or_else(|e| panic!("{name} dx: {e}"));
}

#[test]
fn every_tensorflow_softmax_case_matches_on_the_gpu() {
    let gpu = require_gpu!();
    for (case, axis) in softmax_cases() {
        let layer = Softmax::new(axis).unwrap();
        let x = Tensor::from_slice(gpu, &case.x, &case.shape).unwrap();
        let y = layer.forward(gpu, &x).unwrap();
        let y_tf = Tensor::from_slice(gpu, case.y.as_ref().unwrap(), &case.shape).unwrap();
        let dy = Tensor::from_slice(gpu, &case.dy, &case.shape).unwrap();
        let dx = layer.backward(gpu, &y_tf, &dy).unwrap();
        against_tensorflow(
            &case,
            axis,
            &y.to_vec(gpu).unwrap(),
            &dx.to_vec(gpu).unwrap(),
        );
    }
}

#[test]
fn every_tensorflow_softmax_case_matches_on_the_cpu_reference() {
    for (case, axis) in softmax_cases() {
        let y = softmax_forward(&case.x, &case.shape, axis, None).unwrap();
        let dx =
            softmax_backward(case.y.as_ref().unwrap(), &case.dy, &case.shape, axis, None).unwrap();
        against_tensorflow(&case, axis, &y, &dx);
    }
}

// ---- gradient by finite differences ----

#[test]
fn the_gradient_matches_finite_differences_of_the_forward() {
    let gpu = require_gpu!();
    for len in [2usize, 3, 7, 33] {
        let x = sm::logits(len, 3.0, len as u64);
        let dy = sm::upstream(len, len as u64);
        // d/dx_k of sum_i dy_i * softmax(x)_i, central differences in f64.
        let loss = |xs: &[f64]| -> f64 {
            softmax_row_f64(xs)
                .iter()
                .zip(&dy)
                .map(|(y, d)| y * *d as f64)
                .sum()
        };
        let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        let h = 1e-6;
        let numeric: Vec<f32> = (0..len)
            .map(|k| {
                let mut p = x64.clone();
                let mut m = x64.clone();
                p[k] += h;
                m[k] -= h;
                ((loss(&p) - loss(&m)) / (2.0 * h)) as f32
            })
            .collect();
        let shape = [1, len];
        let layer = Softmax::default();
        let y = layer
            .forward(gpu, &Tensor::from_slice(gpu, &x, &shape).unwrap())
            .unwrap();
        let dyt = Tensor::from_slice(gpu, &dy, &shape).unwrap();
        let dx = layer.backward(gpu, &y, &dyt).unwrap().to_vec(gpu).unwrap();
        let reference = softmax_backward(&y.to_vec(gpu).unwrap(), &dy, &shape, -1, None).unwrap();
        // f32 y and dy - sum cancellation: a few 1e-7 absolute; h^2 truncation ~1e-12.
        let tol = Tolerance { ulps: 0, abs: 1e-6 };
        for (what, got) in [("gpu", &dx), ("reference", &reference)] {
            Comparison::new(got, &numeric, tol)
                .check()
                .unwrap_or_else(|m| panic!("len {len} {what}: {m}"));
        }
    }
}

// ---- masks ----

#[test]
fn masks_with_none_some_and_all_positions_kept_match_the_reference() {
    let gpu = require_gpu!();
    for (shape, axis) in [
        (vec![6usize, 33], -1i64),
        (vec![3, 5000], -1),
        (vec![4, 300, 3], 1),
        (vec![2, 4500, 2], 1),
    ] {
        let n: usize = shape.iter().product();
        for keep in [0usize, 3, 50, 100] {
            let mask = sm::random_mask(n, keep, keep as u64);
            check(gpu, Softmax::new(axis).unwrap(), &shape, 8.0, Some(&mask));
        }
    }
}

#[test]
fn a_fully_masked_row_is_zero_and_masked_positions_are_exactly_zero() {
    let gpu = require_gpu!();
    for len in [5usize, 300, 5000] {
        let shape = [2, len];
        let mut x = sm::logits(2 * len, 8.0, 3);
        let mut mask = vec![1.0f32; 2 * len];
        mask[..len].iter_mut().for_each(|m| *m = 0.0);
        // A masked NaN / +inf does not poison its row.
        x[len] = f32::NAN;
        x[len + 1] = f32::INFINITY;
        mask[len] = 0.0;
        mask[len + 1] = -0.0;
        let layer = Softmax::default();
        let xt = Tensor::from_slice(gpu, &x, &shape).unwrap();
        let mt = Tensor::from_slice(gpu, &mask, &shape).unwrap();
        let y = layer.forward_masked(gpu, &xt, &mt).unwrap();
        let dy = Tensor::from_slice(gpu, &vec![f32::NAN; 2 * len], &shape).unwrap();
        let dx = layer
            .backward_masked(gpu, &y, &dy, &mt)
            .unwrap()
            .to_vec(gpu)
            .unwrap();
        let y = y.to_vec(gpu).unwrap();
        assert!(y[..len].iter().all(|v| *v == 0.0), "len {len}");
        assert_eq!(&y[len..len + 2], &[0.0, 0.0]);
        let s: f64 = y[len..].iter().map(|&v| v as f64).sum();
        assert!((s - 1.0).abs() < 1e-5, "len {len}: {s}");
        assert!(dx[..len + 2].iter().all(|v| *v == 0.0), "len {len}");
    }
}

#[test]
fn a_mask_of_ones_changes_nothing() {
    let gpu = require_gpu!();
    let shape = [3, 257];
    let x = sm::logits(3 * 257, 8.0, 1);
    let xt = Tensor::from_slice(gpu, &x, &shape).unwrap();
    let ones = Tensor::from_slice(gpu, &vec![1.0; 3 * 257], &shape).unwrap();
    let layer = Softmax::default();
    let plain = layer.forward(gpu, &xt).unwrap().to_vec(gpu).unwrap();
    let masked = layer
        .forward_masked(gpu, &xt, &ones)
        .unwrap()
        .to_vec(gpu)
        .unwrap();
    assert_eq!(plain, masked);
}

// ---- chunked bindings and 2-D grids ----

#[test]
fn small_binding_limits_and_grids_give_the_same_results() {
    let gpu = require_gpu!();
    // (shape, axis, grid): with at most 4 workgroups per dimension, each `grid` case needs
    // 5..=16 workgroups (see plan::strategy), so it runs on a 2-D grid.
    for (shape, axis, grid) in [
        (vec![300usize, 9], -1i64, true),
        (vec![40, 33, 7], 1, true),
        (vec![9, 300], -1, true),
        (vec![3, 5000], -1, true),
        (vec![5, 4500, 2], 1, true),
        (vec![37, 9], -1, false),
        (vec![5, 33, 7], 0, false),
    ] {
        let n: usize = shape.iter().product();
        let x = sm::logits(n, 8.0, 11);
        let mask = sm::random_mask(n, 70, 2);
        let plain = Softmax::new(axis).unwrap();
        let run = |gpu: &Gpu| {
            let y = plain
                .forward(gpu, &Tensor::from_slice(gpu, &x, &shape).unwrap())
                .unwrap();
            let dy = Tensor::from_slice(gpu, &sm::upstream(n, 1), &shape).unwrap();
            let dx = plain.backward(gpu, &y, &dy).unwrap();
            (y.to_vec(gpu).unwrap(), dx.to_vec(gpu).unwrap())
        };
        let expected = run(gpu);
        let a = axis.rem_euclid(shape.len() as i64) as usize;
        let per_outer: usize = shape[a..].iter().product();
        let limits = |binding: Option<usize>, groups: Option<u32>| LimitsOverride {
            max_binding_bytes: binding.map(|b| b as u64),
            max_groups_per_dim: groups,
            ..LimitsOverride::default()
        };
        let mut overrides = Vec::new();
        // Bindings of a few outer indices: many slices, most starting unaligned.
        for binding in [per_outer * 4 + 256, per_outer * 12 + 1024] {
            overrides.push(limits(Some(binding), None));
        }
        if grid {
            overrides.push(limits(None, Some(4)));
            overrides.push(limits(Some(per_outer * 4 + 256), Some(4)));
        }
        for o in overrides {
            let small = gpu.with_limits_override(o);
            assert_rows(sm::check_case(&small, &plain, &x, Some(&mask), &shape, 3).unwrap());
            assert_rows(sm::check_case(&small, &plain, &x, None, &shape, 3).unwrap());
            // Same kernels, same rows, other dispatches: bit-identical.
            assert!(run(&small) == expected, "{shape:?} axis {axis} {o:?}");
        }
    }
}

/// An application buffer holding `data` at element `offset` after sentinels, so a view of it
/// starts unaligned and anything written outside the view shows.
fn view_at(gpu: &Gpu, offset: usize, data: &[f32], shape: &[usize]) -> Tensor {
    let mut contents = vec![-7.5f32; offset];
    contents.extend_from_slice(data);
    contents.extend_from_slice(&[-7.5; 5]);
    let buffer = gpu.device().create_buffer(&wgpu::BufferDescriptor {
        label: Some("test/app-buffer"),
        size: (contents.len() * 4) as u64,
        usage: wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_SRC
            | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    gpu.queue()
        .write_buffer(&buffer, 0, bytemuck::cast_slice(&contents));
    Tensor::view(gpu, &buffer, offset as u64, shape).unwrap()
}

fn whole(gpu: &Gpu, t: &Tensor) -> Vec<f32> {
    let n = (t.buffer().size() / 4) as usize;
    Tensor::view(gpu, t.buffer(), 0, &[n])
        .unwrap()
        .to_vec(gpu)
        .unwrap()
}

#[test]
fn rows_spanning_several_bindings_match_the_reference_on_every_axis_masked_in_place_and_in_views() {
    let gpu = require_gpu!();
    // 4 KiB bindings: under a thousand floats each. Each shape has rows (or, on axis 0, the
    // span of one row across the inner indices) of 2 to 5 bindings.
    let small = gpu.with_limits_override(LimitsOverride {
        max_binding_bytes: Some(4096),
        ..LimitsOverride::default()
    });
    for (shape, axis) in [
        (vec![2usize, 1500], -1i64),
        (vec![3, 3001], -1),
        (vec![1, 4500], 1),
        (vec![700, 7], 0),
        (vec![2, 1001], 0),
        (vec![2, 700], 0),
        (vec![3, 301, 5], 1),
        (vec![2, 5000, 3], 1),
        (vec![301, 4, 3], 0),
    ] {
        let n: usize = shape.iter().product();
        let layer = Softmax::new(axis).unwrap();
        let x = sm::logits(n, 8.0, 13);
        let mask = sm::random_mask(n, 70, 3);
        assert_rows(sm::check_case(&small, &layer, &x, None, &shape, 3).unwrap());
        assert_rows(sm::check_case(&small, &layer, &x, Some(&mask), &shape, 3).unwrap());

        // In place, in views at unaligned offsets, masked: the same bits as the plain calls
        // under the same limits, and nothing outside the views written.
        let dy = sm::upstream(n, 5);
        let xt = Tensor::from_slice(&small, &x, &shape).unwrap();
        let mt = Tensor::from_slice(&small, &mask, &shape).unwrap();
        let y = layer.forward_masked(&small, &xt, &mt).unwrap();
        let dyt = Tensor::from_slice(&small, &dy, &shape).unwrap();
        let dx = layer.backward_masked(&small, &y, &dyt, &mt).unwrap();
        let (y, dx) = (y.to_vec(&small).unwrap(), dx.to_vec(&small).unwrap());
        for offset in [1usize, 3, 65] {
            let xv = view_at(&small, offset, &x, &shape);
            let mv = view_at(&small, offset + 2, &mask, &shape);
            layer.forward_in_place(&small, &xv, Some(&mv)).unwrap();
            let yv = view_at(&small, offset + 1, &y, &shape);
            let dyv = view_at(&small, offset, &dy, &shape);
            layer
                .backward_in_place(&small, &yv, &dyv, Some(&mv))
                .unwrap();
            for (t, want) in [(&xv, &y), (&dyv, &dx)] {
                let all = whole(&small, t);
                assert!(all[..offset].iter().all(|&v| v == -7.5), "{shape:?}");
                assert!(all[offset + n..].iter().all(|&v| v == -7.5), "{shape:?}");
                let got = &all[offset..offset + n];
                assert!(
                    got.iter()
                        .zip(want.iter())
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{shape:?} axis {axis} offset {offset}"
                );
            }
        }
    }
}

#[test]
fn axis_zero_of_a_tensor_past_128_mib_matches_the_reference() {
    let gpu = require_gpu!();
    // 2 x 17M floats = 136 MB: one index of axis 0's inner dimensions is a whole row of 17M, so
    // the tensor is bound in inner ranges, each row of 2 spanning 17M elements.
    let shape = [2usize, 17_000_000];
    let n = shape[0] * shape[1];
    let binding = gpu.info().max_storage_buffer_binding_size;
    if (n * 4) as u64 <= binding {
        eprintln!("note: this adapter binds {n} floats at once; the cut is not exercised");
    }
    let layer = Softmax::new(0).unwrap();
    let x = sm::logits(n, 8.0, 21);
    let dy = sm::upstream(n, 21);
    let xt = Tensor::from_slice(gpu, &x, &shape).unwrap();
    let y = layer.forward(gpu, &xt).unwrap();
    drop(xt);
    let dyt = Tensor::from_slice(gpu, &dy, &shape).unwrap();
    let dx = layer.backward(gpu, &y, &dyt).unwrap().to_vec(gpu).unwrap();
    let y = y.to_vec(gpu).unwrap();
    let y_ref = softmax_forward(&x, &shape, 0, None).unwrap();
    sm::compare_y(&y, &y_ref).unwrap();
    let dx_ref = softmax_backward(&y_ref, &dy, &shape, 0, None).unwrap();
    sm::compare_dx(&dx, &dx_ref, &dy, &shape, 0).unwrap();
}

#[test]
fn a_row_past_one_128_mib_binding_matches_the_reference() {
    let gpu = require_gpu!();
    // One row of 2^25 + 1000 floats (134 MB): the row itself is cut into pieces of one binding.
    let shape = [1usize, (1 << 25) + 1000];
    let n = shape[1];
    let layer = Softmax::default();
    let x = sm::logits(n, 8.0, 22);
    let xt = Tensor::from_slice(gpu, &x, &shape).unwrap();
    let y = layer.forward(gpu, &xt).unwrap().to_vec(gpu).unwrap();
    let y_ref = softmax_forward(&x, &shape, -1, None).unwrap();
    sm::compare_y(&y, &y_ref).unwrap();
}

// ---- errors ----

#[test]
fn rank_one_inputs_are_rejected() {
    let gpu = require_gpu!();
    let x = Tensor::from_slice(gpu, &[1.0, 2.0, 3.0], &[3]).unwrap();
    let err = Softmax::default().forward(gpu, &x).unwrap_err();
    assert!(matches!(err, Error::InvalidRank { rank: 1, .. }), "{err}");
    let err = Softmax::default().backward(gpu, &x, &x).unwrap_err();
    assert!(matches!(err, Error::InvalidRank { rank: 1, .. }), "{err}");
    assert!(matches!(
        softmax_forward(&[1.0], &[1], -1, None),
        Err(Error::InvalidRank { .. })
    ));
}

#[test]
fn axes_outside_minus_rank_to_rank_are_rejected_at_call_time() {
    let gpu = require_gpu!();
    let x = Tensor::from_slice(gpu, &[0.0; 24], &[2, 3, 4]).unwrap();
    for axis in [3i64, 5, -4] {
        let layer = Softmax::new(axis).expect("constructing never checks the axis");
        let err = layer.forward(gpu, &x).unwrap_err();
        assert_eq!(err, Error::AxisOutOfRange { axis, rank: 3 });
        assert!(err.to_string().contains("[-3, 3)"), "{err}");
        assert!(layer.backward(gpu, &x, &x).is_err());
    }
}

#[test]
fn shape_mismatches_are_rejected() {
    let gpu = require_gpu!();
    let a = Tensor::from_slice(gpu, &[0.0; 6], &[2, 3]).unwrap();
    let b = Tensor::from_slice(gpu, &[0.0; 6], &[3, 2]).unwrap();
    let layer = Softmax::default();
    assert!(matches!(
        layer.backward(gpu, &a, &b),
        Err(Error::ShapeMismatch { what: "dy", .. })
    ));
    assert!(matches!(
        layer.forward_masked(gpu, &a, &b),
        Err(Error::ShapeMismatch { what: "mask", .. })
    ));
    assert!(matches!(
        layer.backward_masked(gpu, &a, &a, &b),
        Err(Error::ShapeMismatch { what: "mask", .. })
    ));
}

#[test]
fn empty_tensors_give_empty_results() {
    let gpu = require_gpu!();
    let x = Tensor::from_slice(gpu, &[], &[0, 5]).unwrap();
    let y = Softmax::default().forward(gpu, &x).unwrap();
    assert_eq!(y.shape(), &[0, 5]);
    assert!(y.to_vec(gpu).unwrap().is_empty());
}

#[test]
fn a_tensor_past_one_storage_binding_with_more_than_65535_workgroups_matches_the_reference() {
    let gpu = require_gpu!();
    // 2^24 + 1 rows of 2: rows this short take 256 per workgroup, so one slice of up to
    // 128 MiB (2^24 rows) already needs 65,536 workgroups: a 2-D grid in each of two slices.
    let shape = [(1usize << 24) + 1, 2];
    let n = shape[0] * shape[1];
    if (n * 4) as u64 <= gpu.info().max_storage_buffer_binding_size {
        eprintln!("note: this adapter binds {n} floats at once; the slices are not exercised");
    }
    let x = sm::logits(n, 8.0, 5);
    let xt = Tensor::from_slice(gpu, &x, &shape).unwrap();
    let y = Softmax::default()
        .forward(gpu, &xt)
        .unwrap()
        .to_vec(gpu)
        .unwrap();
    let expected = softmax_forward(&x, &shape, -1, None).unwrap();
    sm::compare_y(&y, &expected).unwrap();
}

/// Runs `layer` on the default path (subgroups where the device has them) and on the forced
/// shared-memory fallback: both must match the CPU reference, and each other within the
/// softmax tolerances.
fn check_both_reductions(
    gpu: &Gpu,
    layer: Softmax,
    x: &[f32],
    mask: Option<&[f32]>,
    shape: &[usize],
) {
    let fallback = gpu.with_limits_override(LimitsOverride {
        no_subgroups: true,
        ..LimitsOverride::default()
    });
    assert_rows(sm::check_case(gpu, &layer, x, mask, shape, 3).unwrap());
    assert_rows(sm::check_case(&fallback, &layer, x, mask, shape, 3).unwrap());
    let dy = sm::upstream(x.len(), 11);
    let run = |gpu: &Gpu| {
        let l = layer;
        let xt = Tensor::from_slice(gpu, x, shape).unwrap();
        let dyt = Tensor::from_slice(gpu, &dy, shape).unwrap();
        let (y, dx) = match mask {
            Some(m) => {
                let mt = Tensor::from_slice(gpu, m, shape).unwrap();
                let y = l.forward_masked(gpu, &xt, &mt).unwrap();
                let dx = l.backward_masked(gpu, &y, &dyt, &mt).unwrap();
                (y, dx)
            }
            None => {
                let y = l.forward(gpu, &xt).unwrap();
                let dx = l.backward(gpu, &y, &dyt).unwrap();
                (y, dx)
            }
        };
        (y.to_vec(gpu).unwrap(), dx.to_vec(gpu).unwrap())
    };
    let (y_sg, dx_sg) = run(gpu);
    let (y_tree, dx_tree) = run(&fallback);
    let what = format!(
        "axis {} shape {shape:?} masked {}",
        layer.axis(),
        mask.is_some()
    );
    if let Err(e) = sm::compare_y(&y_sg, &y_tree) {
        panic!("y, subgroup against shared memory, {what}: {e}");
    }
    if let Err(e) = sm::compare_dx(&dx_sg, &dx_tree, &dy, shape, layer.axis()) {
        panic!("dx, subgroup against shared memory, {what}: {e}");
    }
}

/// Forward and backward of `x` (masked or not), out of place and in place, which must agree
/// bit for bit (the same kernel over the same rows).
fn run_both_ways(
    gpu: &Gpu,
    layer: Softmax,
    x: &[f32],
    dy: &[f32],
    mask: Option<&[f32]>,
    shape: &[usize],
) -> (Vec<f32>, Vec<f32>) {
    let xt = Tensor::from_slice(gpu, x, shape).unwrap();
    let dyt = Tensor::from_slice(gpu, dy, shape).unwrap();
    let mt = mask.map(|m| Tensor::from_slice(gpu, m, shape).unwrap());
    let (y, dx) = match &mt {
        Some(m) => {
            let y = layer.forward_masked(gpu, &xt, m).unwrap();
            let dx = layer.backward_masked(gpu, &y, &dyt, m).unwrap();
            (y, dx)
        }
        None => {
            let y = layer.forward(gpu, &xt).unwrap();
            let dx = layer.backward(gpu, &y, &dyt).unwrap();
            (y, dx)
        }
    };
    let (y, dx) = (y.to_vec(gpu).unwrap(), dx.to_vec(gpu).unwrap());
    layer.forward_in_place(gpu, &xt, mt.as_ref()).unwrap();
    layer
        .backward_in_place(gpu, &xt, &dyt, mt.as_ref())
        .unwrap();
    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
    assert_eq!(
        bits(&xt.to_vec(gpu).unwrap()),
        bits(&y),
        "y in place, {shape:?}"
    );
    assert_eq!(
        bits(&dyt.to_vec(gpu).unwrap()),
        bits(&dx),
        "dx in place, {shape:?}"
    );
    (y, dx)
}

#[test]
fn cpu_adapter_kernels_and_gpu_kernels_agree() {
    // On a CPU adapter with subgroups (lavapipe), contiguous rows of whole vec4s longer than
    // 16 elements a lane take one subgroup each with more vec4s a lane (rows past 4096: each
    // chunk), and strided rows keep a row's lanes inside one subgroup; `gpu_softmax` gives
    // the kernels a GPU takes (16 elements a lane, rows across subgroups). Both against the
    // reference and against each other, masked or not, out of place and in place; rows not
    // of whole vec4s (130, 8190) take the scalar kernels on both.
    let gpu = require_gpu!();
    let as_gpu = gpu.with_limits_override(LimitsOverride {
        gpu_softmax: true,
        ..LimitsOverride::default()
    });
    // Rows past 4096 (two passes): on a CPU adapter each chunk of 4096 in one subgroup's
    // registers and a finish that folds the row's partials per lane; on a GPU the workgroup
    // chunks (and the resident finish where there are enough rows).
    for len in [132usize, 260, 1028, 4096, 130, 8192, 12292, 8190] {
        let rows = 19;
        let n = rows * len;
        let x = sm::logits(n, 8.0, len as u64);
        let dy = sm::upstream(n, 3);
        let mut mask = sm::random_mask(n, 70, len as u64);
        mask[len..2 * len].iter_mut().for_each(|m| *m = 0.0);
        for mask in [None, Some(mask.as_slice())] {
            let shape = [rows, len];
            for g in [gpu, &as_gpu] {
                assert_rows(sm::check_case(g, &Softmax::default(), &x, mask, &shape, 3).unwrap());
            }
            let (y_cpu, dx_cpu) = run_both_ways(gpu, Softmax::default(), &x, &dy, mask, &shape);
            let (y_gpu, dx_gpu) = run_both_ways(&as_gpu, Softmax::default(), &x, &dy, mask, &shape);
            let what = format!("len {len} masked {}", mask.is_some());
            if let Err(e) = sm::compare_y(&y_cpu, &y_gpu) {
                panic!("y, CPU rows against GPU rows, {what}: {e}");
            }
            if let Err(e) = sm::compare_dx(&dx_cpu, &dx_gpu, &dy, &shape, -1) {
                panic!("dx, CPU rows against GPU rows, {what}: {e}");
            }
        }
    }
    // Strided rows on a CPU adapter: a row's lanes inside one subgroup, four rows a lane in
    // vec4s where the inner indices come in fours, about four vec4s a lane (lanes x vec4s:
    // [5, 7, 8] 2 x 4, [2, 16, 12] 4 x 4, [2, 37, 24] 8 x 8, [3, 64, 40] 8 x 8, [4, 100, 8]
    // 8 x 16); 16 registers a lane, rows side by side, on a GPU.
    for (shape, axis) in [
        (vec![3usize, 64, 40], 1i64),
        (vec![2, 37, 24], 1),
        (vec![2, 16, 12], 1),
        (vec![5, 7, 8], 1),
        (vec![4, 100, 8], 1),
        (vec![20, 12], 0),
        (vec![2, 5, 4], 1),
        (vec![100, 7], 0),
        (vec![2, 17, 3, 5], 1),
        (vec![128, 33], 0),
    ] {
        let n: usize = shape.iter().product();
        let x = sm::logits(n, 8.0, n as u64);
        let dy = sm::upstream(n, 4);
        let mut mask = sm::random_mask(n, 70, 9);
        mask[0] = 0.0;
        let layer = Softmax::new(axis).unwrap();
        for mask in [None, Some(mask.as_slice())] {
            for g in [gpu, &as_gpu] {
                assert_rows(sm::check_case(g, &layer, &x, mask, &shape, 4).unwrap());
            }
            let (y_cpu, dx_cpu) = run_both_ways(gpu, layer, &x, &dy, mask, &shape);
            let (y_gpu, dx_gpu) = run_both_ways(&as_gpu, layer, &x, &dy, mask, &shape);
            let what = format!("shape {shape:?} axis {axis} masked {}", mask.is_some());
            if let Err(e) = sm::compare_y(&y_cpu, &y_gpu) {
                panic!("y, CPU rows against GPU rows, {what}: {e}");
            }
            if let Err(e) = sm::compare_dx(&dx_cpu, &dx_gpu, &dy, &shape, axis) {
                panic!("dx, CPU rows against GPU rows, {what}: {e}");
            }
        }
    }
    // Special rows (NaN, +inf, all -inf, ...) padded with -inf to lengths of both kinds.
    let special = sm::special_rows();
    for len in [260usize, 4096] {
        let x: Vec<f32> = special
            .iter()
            .flat_map(|r| {
                r.iter()
                    .copied()
                    .chain(std::iter::repeat_n(f32::NEG_INFINITY, len - r.len()))
            })
            .collect();
        let shape = [special.len(), len];
        let dy = sm::upstream(x.len(), 5);
        let (y_cpu, dx_cpu) = run_both_ways(gpu, Softmax::default(), &x, &dy, None, &shape);
        let (y_gpu, dx_gpu) = run_both_ways(&as_gpu, Softmax::default(), &x, &dy, None, &shape);
        if let Err(e) = sm::compare_y(&y_cpu, &y_gpu) {
            panic!("y of special rows, CPU rows against GPU rows, len {len}: {e}");
        }
        if let Err(e) = sm::compare_dx(&dx_cpu, &dx_gpu, &dy, &shape, -1) {
            panic!("dx of special rows, CPU rows against GPU rows, len {len}: {e}");
        }
        // -inf entries of rows that are not NaN are exactly 0 on both paths.
        for (i, (a, b)) in y_cpu.iter().zip(&y_gpu).enumerate() {
            if x[i] == f32::NEG_INFINITY && !a.is_nan() {
                assert_eq!((a.to_bits(), b.to_bits()), (0, 0), "y[{i}], len {len}");
            }
        }
    }
}

#[test]
fn subgroup_and_shared_memory_reductions_agree_in_every_strategy() {
    let gpu = require_gpu!();
    // Contiguous rows inside one subgroup (<= 8 lanes on lavapipe), across 2..8 subgroups,
    // rows of the whole workgroup, and long chunked rows.
    for len in [1usize, 5, 17, 32, 33, 64, 200, 256, 1000, 4096, 4097, 9000] {
        let rows = if len > 4096 { 2 } else { 37 };
        let x = sm::logits(rows * len, 8.0, len as u64);
        check_both_reductions(gpu, Softmax::default(), &x, None, &[rows, len]);
    }
    // Strided rows of 1, 4, 8 and 64 lanes, and long strided rows.
    for shape in [
        vec![2usize, 5, 300],
        vec![2, 64, 300],
        vec![2, 128, 33],
        vec![2, 1000, 3],
        vec![1, 5000, 40],
    ] {
        let x = sm::logits(shape.iter().product(), 8.0, 21);
        check_both_reductions(gpu, Softmax::new(1).unwrap(), &x, None, &shape);
    }
}

#[test]
fn subgroup_and_shared_memory_reductions_agree_with_masks() {
    let gpu = require_gpu!();
    for (shape, axis) in [
        (vec![9usize, 24], -1),
        (vec![9, 120], -1),
        (vec![3, 5000], -1),
        (vec![64, 20], 0),
        (vec![3, 2000, 7], 1),
    ] {
        let n: usize = shape.iter().product();
        let x = sm::logits(n, 8.0, 5);
        let mut mask = sm::random_mask(n, 60, 5);
        // One fully masked row: the row of outer index 0, inner index 0.
        let a = if axis < 0 {
            shape.len() - 1
        } else {
            axis as usize
        };
        let inner: usize = shape[a + 1..].iter().product();
        (0..shape[a]).for_each(|k| mask[k * inner] = 0.0);
        check_both_reductions(gpu, Softmax::new(axis).unwrap(), &x, Some(&mask), &shape);
    }
}

#[test]
fn special_rows_are_the_same_on_the_subgroup_and_shared_memory_paths() {
    let gpu = require_gpu!();
    let special = sm::special_rows();
    let rows = special.len();
    // Each special row padded with -inf (which keeps its verdict) to 8 (one subgroup), 48
    // (six subgroups of 8) and 300 (the whole workgroup) elements.
    for len in [8usize, 48, 300] {
        let x: Vec<f32> = special
            .iter()
            .flat_map(|r| {
                r.iter()
                    .copied()
                    .chain(std::iter::repeat_n(f32::NEG_INFINITY, len - 8))
            })
            .collect();
        check_both_reductions(gpu, Softmax::default(), &x, None, &[rows, len]);
        // The same rows along axis 0: strided rows side by side.
        let transposed: Vec<f32> = (0..len)
            .flat_map(|k| (0..rows).map(move |r| (r, k)))
            .map(|(r, k)| x[r * len + k])
            .collect();
        check_both_reductions(
            gpu,
            Softmax::new(0).unwrap(),
            &transposed,
            None,
            &[len, rows],
        );
    }
}

#[test]
fn one_large_logit_among_many_equal_small_ones_stays_within_tolerance_along_rows_and_columns() {
    let gpu = require_gpu!();
    // The property test found this column 10 ulp off in y when each lane summed its
    // registers serially: eleven terms of 4.4e-4 added one by one onto 1 lose their low bits.
    // Registers are now summed pairwise.
    let mut values = vec![0.0f32, -5.257_934_6, -5.282_634_3, 7.733_493];
    values.extend([0.0; 10]);
    let n = values.len();
    for (shape, axis) in [([1, n], -1), ([n, 1], 0)] {
        let layer = Softmax::new(axis).unwrap();
        for row in sm::check_case(gpu, &layer, &values, None, &shape, 5).unwrap() {
            assert!(
                row.outcome.is_ok(),
                "{} {} {:?}: {}",
                row.op,
                row.direction.name(),
                shape,
                row.outcome.unwrap_err()
            );
        }
    }
}

#[test]
fn many_long_rows_take_the_resident_finish_and_match_the_reference_with_special_rows_and_masks() {
    let gpu = require_gpu!();
    // At least 64 row groups of long rows: the finishing pass holds the rows' tails (1 chunk
    // forward, up to 3 backward) in registers. Rows of 2, 3 and 5 chunks, and strided rows.
    for (shape, axis) in [
        (vec![64usize, 4097], -1i64),
        (vec![65, 9000], -1),
        (vec![64, 20_000], -1),
        (vec![2, 4200, 520], 1),
    ] {
        let n: usize = shape.iter().product();
        let layer = Softmax::new(axis).unwrap();
        let mut x = sm::logits(n, 8.0, 17);
        let a = axis.rem_euclid(shape.len() as i64) as usize;
        let (len, inner): (usize, usize) = (shape[a], shape[a + 1..].iter().product());
        let at = |row: usize, k: usize| (row / inner) * len * inner + row % inner + k * inner;
        // NaN in a row's head and in another's tail, +inf, a row of -inf, -inf entries.
        x[at(3, 5)] = f32::NAN;
        x[at(4, len - 2)] = f32::NAN;
        x[at(5, len - 1)] = f32::INFINITY;
        for k in 0..len {
            x[at(7, k)] = f32::NEG_INFINITY;
        }
        x[at(8, 0)] = f32::NEG_INFINITY;
        x[at(8, len - 1)] = f32::NEG_INFINITY;
        let mut mask = sm::random_mask(n, 70, 4);
        for k in 0..len {
            mask[at(9, k)] = 0.0;
        }
        check_both_reductions(gpu, layer, &x, None, &shape);
        check_both_reductions(gpu, layer, &x, Some(&mask), &shape);
    }
}

/// Distance in f16 ulps of two values that are halves (NaN equal to NaN).
fn half_ulps(a: f32, b: f32) -> u32 {
    if a.is_nan() || b.is_nan() {
        return if a.is_nan() && b.is_nan() {
            0
        } else {
            u32::MAX
        };
    }
    let o = |v: f32| {
        let b = wgpu_activations::half::f16::from_f32(v).to_bits() as i32;
        if b & 0x8000 != 0 {
            -(b & 0x7fff)
        } else {
            b
        }
    };
    (o(a) - o(b)).unsigned_abs()
}

#[test]
fn f16_rows_spanning_bindings_and_resident_long_rows_are_within_one_half_ulp_in_both_storages() {
    use wgpu_activations::reference::f16 as cpu;
    use wgpu_activations::DType;
    let gpu = require_gpu!();
    let packed = Gpu::new_without(wgpu::Features::SHADER_F16).unwrap();
    let small = LimitsOverride {
        max_binding_bytes: Some(4096),
        ..LimitsOverride::default()
    };
    let contexts = [
        gpu.with_limits_override(small),
        packed.with_limits_override(small),
        gpu.with_limits_override(LimitsOverride::default()),
        packed.with_limits_override(LimitsOverride::default()),
    ];
    // (shape, axis, contexts): rows of 2-5 small bindings (and pieces of odd lengths), then
    // many long rows (the resident finish) at the device's own limits.
    for (shape, axis, on) in [
        (vec![2usize, 3001], -1i64, 0..2),
        (vec![700, 7], 0, 0..2),
        (vec![3, 301, 5], 1, 0..2),
        (vec![64, 9000], -1, 2..4),
    ] {
        let n: usize = shape.iter().product();
        let layer = Softmax::new(axis).unwrap();
        let half = |v: Vec<f32>| -> Vec<f32> {
            v.into_iter()
                .map(|v| wgpu_activations::half::f16::from_f32(v).to_f32())
                .collect()
        };
        let x = half(sm::logits(n, 8.0, 31));
        let dy = half(sm::upstream(n, 31));
        let want_y = cpu::softmax_forward_f16(&x, &shape, axis, None).unwrap();
        for g in &contexts[on] {
            let xt = Tensor::from_slice_as(g, &x, &shape, DType::F16).unwrap();
            let y = layer.forward(g, &xt).unwrap();
            let yv = y.to_vec(g).unwrap();
            for i in 0..n {
                assert!(
                    half_ulps(yv[i], want_y[i]) <= 1,
                    "{shape:?} y[{i}] got {} want {}",
                    yv[i],
                    want_y[i]
                );
            }
            let dyt = Tensor::from_slice_as(g, &dy, &shape, DType::F16).unwrap();
            layer.backward_in_place(g, &y, &dyt, None).unwrap();
            let dx = dyt.to_vec(g).unwrap();
            let want_dx = cpu::softmax_backward_f16(&yv, &dy, &shape, axis, None).unwrap();
            for i in 0..n {
                let tol =
                    2.0 * (want_dx[i].abs() * 2f32.powi(-10)).max(2f32.powi(-24)) + 2f32.powi(-20);
                assert!(
                    dx[i] == want_dx[i] || (dx[i] - want_dx[i]).abs() <= tol,
                    "{shape:?} dx[{i}] got {} want {}",
                    dx[i],
                    want_dx[i]
                );
            }
        }
    }
}
