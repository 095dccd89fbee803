//! `pj explain --plot`: per decision, the alternatives the scheduler
//! weighed as bars of estimated energy, time and DRAM traffic, the chosen
//! one coloured.

use super::{CHOSEN, FONT, OTHER, bar, clip, err, render, row_label};
use anyhow::Result;
use pj_compiler::target::energy::Cost;
use pj_compiler::target::report::{Explanation, energy_unit};
use plotters::prelude::*;

/// What a panel shows of a cost.
type Metric = Box<dyn Fn(&Cost) -> f64>;

/// One bar: its label, its cost, whether it was chosen.
struct Bar<'a> {
    label: String,
    cost: &'a Cost,
    chosen: bool,
}

/// The SVG of `e`'s alternatives (one row per alternative, grouped by
/// stage; the whole kernel as chosen where no decision had any).
pub fn svg(e: &Explanation) -> Result<String> {
    let mut bars: Vec<Bar<'_>> = Vec::new();
    for d in &e.decisions {
        for a in &d.alternatives {
            bars.push(Bar {
                label: format!("{}: {}", d.decision.stage, clip(&a.label, 64)),
                cost: &a.estimate.total,
                chosen: a.chosen,
            });
        }
    }
    if bars.is_empty() {
        bars.push(Bar {
            label: "the kernel as scheduled (no alternatives)".into(),
            cost: &e.chosen.total,
            chosen: true,
        });
    }
    let (energy_scale, energy_unit) =
        energy_unit(bars.iter().map(|b| b.cost.picojoules).fold(0.0, f64::max));
    let metrics: [(String, Metric); 3] = [
        (
            format!("energy ({energy_unit})"),
            Box::new(move |c: &Cost| c.picojoules / energy_scale),
        ),
        ("time (ms)".into(), Box::new(|c: &Cost| c.seconds * 1e3)),
        ("DRAM (MB)".into(), Box::new(|c: &Cost| c.dram_bytes / 1e6)),
    ];
    let n = bars.len();
    let labels: Vec<String> = bars.iter().map(|b| b.label.clone()).collect();
    let height = 140 + 26 * n as u32;
    let title = format!(
        "{}: the schedule's alternatives on {} (estimated; chosen in blue)",
        e.kernel, e.profile.name
    );
    render((1400, height), |root| {
        let root = root.titled(&title, (FONT, 16)).map_err(err)?;
        let (left, right) = root.split_horizontally(760);
        let right = right.split_evenly((1, 2));
        let areas = [&left, &right[0], &right[1]];
        for (k, ((name, value), area)) in metrics.iter().zip(areas).enumerate() {
            let max = bars.iter().map(|b| value(b.cost)).fold(0.0, f64::max);
            let max = if max > 0.0 { max * 1.25 } else { 1.0 };
            let mut chart = ChartBuilder::on(area)
                .caption(name, (FONT, 14))
                .margin(6)
                .x_label_area_size(24)
                .y_label_area_size(if k == 0 { 470 } else { 0 })
                .build_cartesian_2d(0.0..max, (0..n.max(2) - 1).into_segmented())
                .map_err(err)?;
            chart
                .configure_mesh()
                .label_style((FONT, 12))
                .disable_y_mesh()
                .y_labels(n)
                .y_label_formatter(&|v| row_label(&labels, v))
                .x_labels(4)
                .draw()
                .map_err(err)?;
            // the first alternative on top
            chart
                .draw_series(bars.iter().enumerate().map(|(i, b)| {
                    let colour = if b.chosen { CHOSEN } else { OTHER };
                    bar((0.0, value(b.cost)), (i, n), colour, 4)
                }))
                .map_err(err)?;
            chart
                .draw_series(bars.iter().enumerate().map(|(i, b)| {
                    let v = value(b.cost);
                    Text::new(
                        format!("{v:.3}"),
                        (v, SegmentValue::CenterOf(n - 1 - i)),
                        (FONT, 11),
                    )
                }))
                .map_err(err)?;
        }
        Ok(())
    })
}
