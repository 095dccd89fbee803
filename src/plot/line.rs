//! A 1-D array as a line: an SVG picture, and a plot drawn in the
//! terminal in braille (the REPL's `:show` of a vector).

use super::{CHOSEN, FONT, err, render};
use anyhow::Result;
use plotters::prelude::*;

/// The finite values of `ys` against their index, with the range shown.
fn points(ys: &[f64]) -> (Vec<(f64, f64)>, f64, f64) {
    let pts: Vec<(f64, f64)> = ys
        .iter()
        .enumerate()
        .filter(|(_, y)| y.is_finite())
        .map(|(i, &y)| (i as f64, y))
        .collect();
    let lo = pts.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let hi = pts.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    let pad = if hi > lo { (hi - lo) * 0.05 } else { 0.5 };
    (pts, lo - pad, hi + pad)
}

/// `name`'s values as an SVG line plot.
pub fn svg(name: &str, ys: &[f64]) -> Result<String> {
    let (pts, lo, hi) = points(ys);
    let skipped = ys.len() - pts.len();
    let title = if skipped > 0 {
        format!(
            "{name}: {} values ({skipped} NaN or infinite, not drawn)",
            ys.len()
        )
    } else {
        format!("{name}: {} values", ys.len())
    };
    let x_hi = (ys.len().max(2) - 1) as f64;
    render((800, 420), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(&title, (FONT, 16))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..x_hi, lo..hi)
            .map_err(err)?;
        chart
            .configure_mesh()
            .label_style((FONT, 12))
            .x_desc("index")
            .draw()
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(pts, CHOSEN.stroke_width(2)))
            .map_err(err)?;
        Ok(())
    })
}

/// `ys` drawn in the terminal: braille dots, 2 × 4 per character cell,
/// with its range.
pub fn terminal(ys: &[f64]) -> String {
    use textplots::{Chart, Plot, Shape};
    let (pts, lo, hi) = points(ys);
    let pts: Vec<(f32, f32)> = pts.iter().map(|&(x, y)| (x as f32, y as f32)).collect();
    let x_hi = (ys.len().max(2) - 1) as f32;
    let mut chart = Chart::new_with_y_range(120, 40, 0.0, x_hi, lo as f32, hi as f32);
    let shape = Shape::Lines(&pts);
    let chart = chart.lineplot(&shape);
    chart.axis();
    chart.figures();
    format!("{chart}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_drawn_in_braille_and_as_svg() {
        let ys: Vec<f64> = (0..50).map(|i| (i as f64 / 8.0).sin()).collect();
        let t = terminal(&ys);
        assert!(
            t.chars().any(|c| ('\u{2801}'..='\u{28ff}').contains(&c)),
            "{t}"
        );
        let s = svg("wave", &ys).unwrap();
        assert!(
            s.starts_with("<svg") && s.contains("wave: 50 values") && s.contains("<polyline"),
            "{s}"
        );
        let s = svg("gaps", &[1.0, f64::NAN, 3.0]).unwrap();
        assert!(s.contains("1 NaN or infinite, not drawn"), "{s}");
        // nothing finite: still a picture, not a panic
        assert!(svg("none", &[f64::NAN]).unwrap().contains("<svg"));
        assert!(!terminal(&[f64::INFINITY]).is_empty());
    }
}
