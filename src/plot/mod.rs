//! Pictures of what the energy model and the benchmarks say, as SVG files
//! (plotters' SVG backend: text stays text, no fonts to install): `pj
//! explain --plot`, `pj energy --plot`, `pj bench --roofline --plot`, and
//! the REPL's `:plot` and `:show` of a 1-D array (with a line plot drawn
//! in the terminal besides, in braille: `textplots`); `text.rs` draws the
//! model's reports as block-character bars in the terminal; `inline.rs`
//! shows the pictures themselves in terminals that take images (kitty,
//! iTerm2, WezTerm), rasterized by resvg.

pub mod alternatives;
pub mod energy;
pub mod inline;
pub mod line;
pub mod roofline;
pub mod text;

use anyhow::{Result, bail};
use plotters::prelude::*;
use std::path::Path;

/// The font of every label.
const FONT: &str = "sans-serif";

/// The chosen alternative's colour, and the others'.
const CHOSEN: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
const OTHER: RGBColor = RGBColor(0xaa, 0xaa, 0xaa);

/// Writes `svg` to `path`, which must name an `.svg` file (through a
/// temporary file and a rename: never a partial picture, never anything
/// but a regular file replaced).
pub fn write_svg(path: &Path, svg: &str) -> Result<()> {
    check_path(path)?;
    picojoule::write_atomic(&[(path, svg.as_bytes())])
}

/// Refuses a path that does not name an `.svg` file, before any work is
/// done for the picture.
pub fn check_path(path: &Path) -> Result<()> {
    if path.extension().and_then(|e| e.to_str()) != Some("svg") {
        bail!(
            "cannot plot to `{}`: pictures are written as SVG, name a `.svg` file",
            path.display()
        );
    }
    if path.is_dir() {
        bail!("cannot plot to `{}`: it is a directory", path.display());
    }
    Ok(())
}

/// Draws with `draw` on a `width` × `height` SVG canvas and returns the
/// text.
fn render(
    (width, height): (u32, u32),
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, plotters::coord::Shift>) -> Result<()>,
) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        draw(&root)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// plotters' errors carry the backend's type: flatten them to text.
fn err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow::anyhow!("drawing failed: {e}")
}

/// A horizontal bar from `from` to `to` in row `row` of `n`, the first
/// row on top, inset `inset` pixels from its neighbours.
fn bar(
    (from, to): (f64, f64),
    (row, n): (usize, usize),
    colour: RGBColor,
    inset: u32,
) -> Rectangle<(f64, SegmentValue<usize>)> {
    let slot = n - 1 - row;
    let mut r = Rectangle::new(
        [
            (from, SegmentValue::Exact(slot)),
            (to, SegmentValue::Exact(slot + 1)),
        ],
        colour.filled(),
    );
    r.set_margin(inset, inset, 0, 0);
    r
}

/// The label of the row a tick stands for (rows numbered as [`bar`]'s).
fn row_label(labels: &[String], tick: &SegmentValue<usize>) -> String {
    match tick {
        SegmentValue::CenterOf(i) if *i < labels.len() => labels[labels.len() - 1 - *i].clone(),
        _ => String::new(),
    }
}

/// The legend, lower right, as every picture here draws it.
fn draw_legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
) -> Result<()> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font((FONT, 12))
        .draw()
        .map_err(err)
}

/// `s` cut to `n` characters with an ellipsis.
fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}
