//! The bench machinery produces complete rows and charts (tests never assert on speed).

mod common;

use std::time::Duration;

use wgact::bench::{self, BenchOp, Options};
use wgpu_activations::{DType, Direction, Tensor};

/// A run short enough for a test: a couple of timed runs per row.
fn tiny_options() -> Options {
    Options {
        warmup: 1,
        min_reps: 2,
        max_reps: 3,
        target: Duration::from_millis(1),
        ..Options::default()
    }
}

/// `(series, dir, elements)` of every row a run over `sizes` must give: each op and
/// direction at each size its shapes fit (PReLU needs multiples of 8x8x64, softmax of its
/// row length), in f32 and in f16 (series ending in ` f16`).
fn expected_rows(
    gpu: &wgpu_activations::Gpu,
    sizes: &[usize],
) -> Vec<(String, &'static str, usize)> {
    let mut expected = Vec::new();
    for dtype in DType::ALL {
        for &n in sizes {
            for op in BenchOp::defaults() {
                for dir in Direction::ALL {
                    if op.case(gpu, dir, n, dtype, 1).unwrap().is_some() {
                        let series = match dtype {
                            DType::F32 => op.label(),
                            DType::F16 => format!("{} f16", op.label()),
                        };
                        expected.push((series, dir.name(), n));
                    }
                }
            }
        }
    }
    expected
}

#[test]
fn every_op_and_direction_gives_a_row_with_positive_times_and_bandwidth() {
    let gpu = require_gpu!();
    let ops = BenchOp::defaults();
    // 2^20 fits every op's shapes (softmax on axis 1 needs 64x128x128); 1000 fits few.
    let sizes = [1000, 1 << 20];
    let rows = bench::run(gpu, &ops, &sizes, &tiny_options(), &mut |_| {}).unwrap();
    let expected = expected_rows(gpu, &sizes);
    for op in &ops {
        assert!(
            expected
                .iter()
                .any(|(label, _, n)| *label == op.label() && *n == 1 << 20),
            "{} must run at 2^20",
            op.label()
        );
    }
    let mut got: Vec<(String, &str, usize)> = rows
        .iter()
        .map(|r| (r.series(), r.dir, r.elements()))
        .collect();
    let mut want = expected.clone();
    got.sort();
    want.sort();
    assert_eq!(
        got, want,
        "one row per op, variant, direction and fitting size"
    );
    for r in &rows {
        let what = format!("{} {} {:?}", r.op, r.dir, r.shape);
        assert!(
            r.kernel_us > 0.0 && r.kernel_us.is_finite(),
            "{what}: kernel_us {}",
            r.kernel_us
        );
        assert!(
            r.e2e_us > 0.0 && r.e2e_us.is_finite(),
            "{what}: e2e_us {}",
            r.e2e_us
        );
        assert!(
            r.gbps > 0.0 && r.gbps.is_finite(),
            "{what}: gbps {}",
            r.gbps
        );
        assert!(
            r.ratio_to_copy > 0.0 && r.ratio_to_copy.is_finite(),
            "{what}"
        );
        assert!(!r.adapter.is_empty() && !r.backend.is_empty(), "{what}");
        // Bytes per element of the row's dtype: the ideal is a whole number of tensors of
        // n elements (plus dalpha's 64 for PReLU backward).
        let elem = match r.dtype {
            "f32" => 4,
            "f16" => 2,
            other => panic!("{what}: dtype {other}"),
        };
        let n = r.elements() as u64;
        let extra = if r.op == "prelu" && r.dir == "bwd" {
            64
        } else {
            0
        };
        let tensors = (r.ideal_bytes - extra * elem) / (n * elem);
        assert_eq!(
            r.ideal_bytes,
            (tensors * n + extra) * elem,
            "{what} {}",
            r.dtype
        );
        assert!(
            (2..=3).contains(&tensors),
            "{what} {}: {tensors} tensors",
            r.dtype
        );
        let storage = if r.dtype == "f32" {
            "f32"
        } else if gpu.info().shader_f16 {
            "f16 native"
        } else {
            "f16 packed"
        };
        assert_eq!(r.storage, storage, "{what}");
        // Design bytes never undercount the ideal; one pass ops move exactly the ideal.
        assert!(r.design_bytes >= r.ideal_bytes, "{what}: {r:?}");
        if r.op != "prelu" && r.op != "softmax_last" {
            assert_eq!(r.design_bytes, r.ideal_bytes, "{what}");
        }
    }
    // Every f16 row moves exactly half the ideal bytes of its f32 twin: 2 bytes per element
    // (f32 parameters and partial sums, counted in PReLU's and long softmax rows' design
    // bytes only, do not halve).
    let f16_rows: Vec<_> = rows.iter().filter(|r| r.dtype == "f16").collect();
    assert!(f16_rows.iter().any(|r| r.op == "copy"), "no f16 copy roof");
    assert_eq!(f16_rows.len() * 2, rows.len(), "one f16 row per f32 row");
    for h in f16_rows {
        let twin = rows
            .iter()
            .find(|r| {
                r.dtype == "f32"
                    && (&r.op, &r.variant, r.dir, &r.shape) == (&h.op, &h.variant, h.dir, &h.shape)
            })
            .unwrap_or_else(|| panic!("no f32 row for {} {}", h.series(), h.dir));
        assert_eq!(
            2 * h.ideal_bytes,
            twin.ideal_bytes,
            "{} {}",
            h.series(),
            h.dir
        );
        if twin.design_bytes == twin.ideal_bytes {
            assert_eq!(
                2 * h.design_bytes,
                twin.design_bytes,
                "{} {}",
                h.series(),
                h.dir
            );
        }
    }
}

#[test]
fn gbps_counts_the_bytes_a_perfect_kernel_moves() {
    let gpu = require_gpu!();
    let n = 4096;
    let leaky = &BenchOp::defaults()[1];
    for (dtype, elem) in [(DType::F32, 4), (DType::F16, 2)] {
        let fwd = leaky.case(gpu, Direction::Forward, n, dtype, 1);
        let fwd = fwd.unwrap().unwrap();
        let bwd = leaky.case(gpu, Direction::Backward, n, dtype, 1);
        let bwd = bwd.unwrap().unwrap();
        assert_eq!(fwd.bytes, elem * 2 * n as u64, "read x, write y");
        assert_eq!(bwd.bytes, elem * 3 * n as u64, "read x and dy, write dx");
        assert_eq!((fwd.design_bytes, bwd.design_bytes), (fwd.bytes, bwd.bytes));
        assert_eq!((fwd.dtype, bwd.dtype), (dtype, dtype));
    }
    let copy = BenchOp::defaults()
        .into_iter()
        .find(|o| o.name == "copy")
        .unwrap();
    // The f16 roof copies the same 2n bytes an f16 op reads or writes per tensor.
    let copy16 = copy.case(gpu, Direction::Forward, n, DType::F16, 1);
    let copy16 = copy16.unwrap().unwrap();
    assert_eq!((copy16.bytes, copy16.dtype), (2 * 2 * n as u64, DType::F16));
    assert!(copy
        .case(gpu, Direction::Backward, n, DType::F32, 1)
        .unwrap()
        .is_none());
    assert_eq!(bench::gbps(8_000, Duration::from_micros(1)), 8.0);
}

#[test]
fn the_copy_kernel_copies_every_element_whatever_the_grid() {
    let gpu = require_gpu!();
    let mut rng = wgact::check::Rng::new(3);
    // Not whole vec4s, not whole workgroups, and several grid strides on a small grid.
    for n in [1, 5, 1023, 70_001] {
        let data: Vec<f32> = (0..n).map(|_| rng.uniform(-1e3, 1e3)).collect();
        let src = Tensor::from_slice(gpu, &data, &[n]).unwrap();
        let src16 = Tensor::from_slice_as(gpu, &data, &[n], DType::F16).unwrap();
        let halves = src16.to_vec_f16(gpu).unwrap();
        for grid in [1, 64, u32::MAX] {
            let dst = bench::copy(gpu, &src, grid).unwrap();
            assert_eq!(dst.shape(), &[n]);
            assert_eq!(dst.to_vec(gpu).unwrap(), data, "n = {n}, grid = {grid}");
            // f16: the same kernel over the tensor's 2n bytes (odd n: a half word).
            let dst16 = bench::copy(gpu, &src16, grid).unwrap();
            assert_eq!(dst16.dtype(), DType::F16);
            let got = dst16.to_vec_f16(gpu).unwrap();
            assert!(
                got.iter()
                    .zip(&halves)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "f16 n = {n}, grid = {grid}"
            );
        }
    }
}

#[cfg(feature = "cli")]
#[test]
fn wgact_bench_writes_json_rows_with_every_field_and_an_svg_naming_every_op() {
    let _ = require_gpu!();
    let dir = std::env::temp_dir().join(format!("wgact-bench-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (json, svg) = (dir.join("rows.json"), dir.join("chart.svg"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wgact"))
        .args([
            "bench",
            "--sizes",
            "4096,2^20",
            "--target-ms",
            "1",
            "--json",
        ])
        .arg(&json)
        .arg("--svg")
        .arg(&svg)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "wgact bench failed: {stderr}");
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let ops = BenchOp::defaults();
    let gpu = common::gpu().unwrap();
    // 2^20 fits every op's shapes.
    assert_eq!(rows.len(), expected_rows(gpu, &[4096, 1 << 20]).len());
    let fields = [
        "op",
        "dir",
        "dtype",
        "storage",
        "shape",
        "kernel_us",
        "gbps",
        "ratio_to_copy",
        "e2e_us",
        "ideal_bytes",
        "design_bytes",
        "adapter",
        "backend",
        "driver",
    ];
    for row in &rows {
        for field in fields {
            assert!(row.get(field).is_some(), "{field} missing from {row}");
        }
        for field in ["kernel_us", "gbps", "ratio_to_copy", "e2e_us"] {
            assert!(row[field].as_f64().unwrap() > 0.0, "{field} of {row}");
        }
    }
    for dtype in ["f32", "f16"] {
        assert_eq!(
            rows.iter().filter(|r| r["dtype"] == dtype).count() * 2,
            rows.len(),
            "half the rows are {dtype}"
        );
    }
    assert!(
        rows.iter()
            .all(|r| r["dtype"] != "f16" || r["storage"].as_str().unwrap().starts_with("f16 ")),
        "f16 rows say how f16 is stored"
    );
    let chart = std::fs::read_to_string(&svg).unwrap();
    assert!(
        chart.starts_with("<svg") || chart.contains("<svg"),
        "not an SVG"
    );
    for op in &ops {
        assert!(
            chart.contains(op.name),
            "the chart does not mention {}",
            op.name
        );
        assert!(stderr.contains(op.name), "no progress line for {}", op.name);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_copy_shader_is_valid_wgsl_without_a_gpu() {
    let sources = wgact::bench::shader_sources();
    let copy: Vec<_> = sources
        .iter()
        .filter(|(l, _)| l.starts_with("bench/"))
        .collect();
    assert!(
        !copy.is_empty(),
        "the copy kernel is missing from wgact::bench::shader_sources()"
    );
    for (label, source) in copy {
        let module = naga::front::wgsl::parse_str(source)
            .unwrap_or_else(|e| panic!("{label}: {}", e.emit_to_string(source)));
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::empty(),
        )
        .validate(&module)
        .unwrap_or_else(|e| panic!("{label}: {e:?}"));
    }
}

#[cfg(feature = "cli")]
#[test]
fn wgact_bench_refuses_an_unknown_op_and_names_the_known_ones() {
    let _ = require_gpu!();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wgact"))
        .args(["bench", "--ops", "leaky_relu,swish", "--sizes", "64"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "accepted an unknown op: {stderr}");
    assert!(
        stderr.contains("\"swish\"") && stderr.contains("relu_general"),
        "{stderr}"
    );
}
