//! The SVG chart of `wgact bench`: GB/s against tensor size, one line per op, one panel per
//! direction, the copy kernel drawn as the roof in both.

use std::path::Path;

use plotters::prelude::*;
use wgact::bench::Row;

/// Draws `rows` into an SVG file at `path`.
pub fn draw(path: &Path, title: &str, rows: &[Row]) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    // The x axis is log2 of the element count, labelled 2^k at whole k only.
    let exps: Vec<f64> = rows
        .iter()
        .map(|r| (r.elements().max(1) as f64).log2())
        .collect();
    let lo = exps
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min)
        .floor()
        .min(60.0);
    let hi = exps
        .iter()
        .copied()
        .fold(0.0, f64::max)
        .ceil()
        .max(lo + 1.0);
    let top = rows.iter().map(|r| r.gbps).fold(0.0, f64::max).max(1e-3) * 1.15;
    // Series (op, variant, dtype) in order of first appearance; the f32 copy is the roof,
    // the f16 copy one of the lines.
    let mut ops: Vec<String> = Vec::new();
    for r in rows {
        if r.series() != "copy" && !ops.contains(&r.series()) {
            ops.push(r.series());
        }
    }
    let copy: Vec<(f64, f64)> = series(rows, "copy", "fwd");

    let root = SVGBackend::new(path, (1400, 620)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let root = root
        .titled(title, ("sans-serif", 20))
        .map_err(|e| err(&e))?;
    let panels = root.split_evenly((1, 2));
    for (panel, dir) in panels.iter().zip(["fwd", "bwd"]) {
        let mut chart = ChartBuilder::on(panel)
            .caption(
                format!("{dir}: GB/s (bytes a perfect kernel moves / kernel time)"),
                ("sans-serif", 16),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(lo - 0.5..hi + 0.5, 0.0..top)
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc("tensor size (elements)")
            .y_desc("GB/s")
            .x_labels((hi - lo) as usize + 2)
            .x_label_formatter(&|v| {
                if (v - v.round()).abs() < 1e-6 {
                    format!("2^{}", v.round())
                } else {
                    String::new()
                }
            })
            .draw()
            .map_err(|e| err(&e))?;
        let roof = BLACK.stroke_width(3);
        chart
            .draw_series(LineSeries::new(copy.iter().copied(), roof))
            .map_err(|e| err(&e))?
            .label("copy (roof)")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], roof));
        for (i, op) in ops.iter().enumerate() {
            let points = series(rows, op, dir);
            if points.is_empty() {
                continue;
            }
            let color = Palette99::pick(i).to_rgba();
            let style = color.stroke_width(2);
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(|e| err(&e))?;
            chart
                .draw_series(LineSeries::new(points, style))
                .map_err(|e| err(&e))?
                .label(op.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))
}

/// `(log2 elements, GB/s)` of one series (op and variant) and direction, by size.
fn series(rows: &[Row], series: &str, dir: &str) -> Vec<(f64, f64)> {
    let mut points: Vec<(f64, f64)> = rows
        .iter()
        .filter(|r| r.series() == series && r.dir == dir)
        .map(|r| ((r.elements().max(1) as f64).log2(), r.gbps))
        .collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    points
}
