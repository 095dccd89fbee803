//! `pj bench --roofline --plot`: the kernel as a point on this machine's
//! roofline — operations per byte of compulsory traffic against
//! operations per second, under the memory roof (the triad's bandwidth)
//! and the compute roof (the host profile's sustained rate).

use super::{CHOSEN, FONT, draw_legend, err, render};
use anyhow::Result;
use plotters::prelude::*;

/// What one measured kernel puts on the plot.
pub struct Point<'a> {
    /// The kernel's name.
    pub kernel: &'a str,
    /// Its operations (the energy model's count).
    pub ops: f64,
    /// Bytes it must read and write at least.
    pub bytes: f64,
    /// Its measured median, seconds.
    pub seconds: f64,
    /// The memory roof: the triad's bandwidth, GB/s.
    pub bandwidth_gbs: f64,
    /// The compute roof, billions of operations per second.
    pub peak_gops: f64,
    /// What the compute roof is, in words.
    pub peak_note: String,
}

/// The SVG of `p` on its roofline.
pub fn svg(p: &Point<'_>) -> Result<String> {
    let intensity = (p.ops / p.bytes.max(1.0)).max(1e-3);
    let achieved = p.ops / p.seconds.max(1e-12) / 1e9;
    let ridge = p.peak_gops / p.bandwidth_gbs;
    let x_lo = (intensity.min(ridge) / 10.0).max(1e-3);
    let x_hi = intensity.max(ridge) * 10.0;
    let y_hi = p.peak_gops.max(achieved) * 3.0;
    let y_lo = (p.bandwidth_gbs * x_lo).min(achieved) / 3.0;
    let roof = |x: f64| (p.bandwidth_gbs * x).min(p.peak_gops);
    let fraction = achieved / roof(intensity);
    let title = format!(
        "{}: {:.2} Gop/s at {:.3} op/B, {:.0}% of this machine's roofline",
        p.kernel,
        achieved,
        intensity,
        100.0 * fraction
    );
    render((900, 560), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(&title, (FONT, 16))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((x_lo..x_hi).log_scale(), (y_lo..y_hi).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .label_style((FONT, 12))
            .x_desc("operations per byte of compulsory traffic")
            .y_desc("billions of operations per second")
            .draw()
            .map_err(err)?;
        let steps = 200;
        let xs = (0..=steps).map(|i| x_lo * (x_hi / x_lo).powf(i as f64 / steps as f64));
        chart
            .draw_series(LineSeries::new(
                xs.map(|x| (x, roof(x))),
                BLACK.stroke_width(2),
            ))
            .map_err(err)?
            .label(format!(
                "roofline: memory {:.1} GB/s (triad), compute {:.0} Gop/s ({})",
                p.bandwidth_gbs, p.peak_gops, p.peak_note
            ))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLACK.stroke_width(2)));
        chart
            .draw_series(std::iter::once(Circle::new(
                (intensity, achieved),
                6,
                CHOSEN.filled(),
            )))
            .map_err(err)?
            .label(format!("{} (measured)", p.kernel))
            .legend(|(x, y)| Circle::new((x + 8, y), 5, CHOSEN.filled()));
        draw_legend(&mut chart)
    })
}
