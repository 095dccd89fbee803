//! `pj energy --plot`: the estimated energy of the kernel unoptimized,
//! optimized (and quantized), stacked by where it goes — arithmetic,
//! instruction issue, and each memory level.

use super::{FONT, bar, draw_legend, err, render, row_label};
use anyhow::Result;
use pj_compiler::target::energy::Cost;
use pj_compiler::target::profile::Profile;
use pj_compiler::target::report::{EnergyReport, energy_unit};
use plotters::prelude::*;

/// Where a cost's picojoules go, in the order stacked.
pub fn breakdown(c: &Cost, p: &Profile) -> [(&'static str, f64); 6] {
    let e = &p.energy;
    let issue = c.instructions * e.instruction;
    let l1 = c.l1_bytes * e.l1_byte;
    let l2 = c.l2_bytes * e.l2_byte;
    let llc = c.llc_bytes * e.llc_byte;
    let dram = c.dram_bytes * e.dram_byte;
    let arithmetic = (c.picojoules - issue - l1 - l2 - llc - dram).max(0.0);
    [
        ("arithmetic", arithmetic),
        ("instruction issue", issue),
        ("L1", l1),
        ("L2", l2),
        ("last level", llc),
        ("DRAM", dram),
    ]
}

const COLOURS: [RGBColor; 6] = [
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0x98, 0xdf, 0x8a),
    RGBColor(0xae, 0xc7, 0xe8),
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xff, 0xbb, 0x78),
    RGBColor(0xd6, 0x27, 0x28),
];

/// The SVG of `r`: one stacked bar per version of the kernel.
pub fn svg(r: &EnergyReport) -> Result<String> {
    let mut rows: Vec<(&str, &Cost)> = vec![
        ("-O0", &r.unoptimized.total),
        ("optimized", &r.optimized.total),
    ];
    if let Some(q) = &r.quantized {
        rows.push(("quantized", &q.estimate.total));
    }
    let (scale, unit) = energy_unit(rows.iter().map(|r| r.1.picojoules).fold(0.0, f64::max));
    let max = rows
        .iter()
        .map(|r| r.1.picojoules / scale)
        .fold(0.0, f64::max);
    // room on the right for the legend
    let max = if max > 0.0 { max * 1.45 } else { 1.0 };
    let n = rows.len();
    let labels: Vec<String> = rows.iter().map(|r| r.0.to_string()).collect();
    let title = format!(
        "{} at {}: estimated energy by where it goes ({})",
        r.kernel,
        pj_compiler::target::report::sizes_text(&r.sizes),
        r.profile.name
    );
    render((900, 150 + 60 * n as u32), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(&title, (FONT, 15))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(90)
            .build_cartesian_2d(0.0..max, (0..n.max(2) - 1).into_segmented())
            .map_err(err)?;
        chart
            .configure_mesh()
            .label_style((FONT, 12))
            .disable_y_mesh()
            .y_labels(n)
            .y_label_formatter(&|v| row_label(&labels, v))
            .x_desc(format!("energy ({unit}, estimated)"))
            .draw()
            .map_err(err)?;
        for (part, colour) in COLOURS.iter().enumerate() {
            let series = rows.iter().enumerate().map(|(i, (_, c))| {
                let parts = breakdown(c, &r.profile);
                let start: f64 = parts[..part].iter().map(|p| p.1).sum::<f64>() / scale;
                bar((start, start + parts[part].1 / scale), (i, n), *colour, 8)
            });
            let label = breakdown(rows[0].1, &r.profile)[part].0;
            chart
                .draw_series(series)
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.filled())
                });
        }
        draw_legend(&mut chart)
    })
}
