//! The pictures drawn in the terminal, with block characters: the REPL's
//! `:plot energy|explain KERNEL` without a file, `--bars` on the command
//! line. Where the SVG files need a viewer, these show in place.

use pj_compiler::target::report::{EnergyReport, Explanation, energy_unit};

/// Columns of the longest bar.
const WIDTH: usize = 36;

/// A bar of `value` out of `max`, in eighths of a cell.
fn bar(value: f64, max: f64, width: usize) -> String {
    const PARTS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    let eighths = if max > 0.0 && value.is_finite() && value > 0.0 {
        ((value / max).min(1.0) * (width * 8) as f64).round() as usize
    } else {
        0
    };
    let mut s = "█".repeat(eighths / 8);
    if eighths % 8 > 0 {
        s.push(PARTS[eighths % 8]);
    }
    s
}

/// `s` padded or cut to `n` characters.
fn fit(s: &str, n: usize) -> String {
    let cut: String = s.chars().take(n).collect();
    format!("{cut:<n$}")
}

/// Per stage, each alternative's estimated time and energy as bars, the
/// chosen one starred.
pub fn alternatives(e: &Explanation) -> String {
    let mut out = format!(
        "{}: the alternatives weighed (estimated; * chosen)\n",
        e.kernel
    );
    let all: Vec<_> = e.decisions.iter().flat_map(|d| &d.alternatives).collect();
    if all.is_empty() {
        out += "no stage has a choice to make\n";
        return out;
    }
    let max_t = all
        .iter()
        .map(|a| a.estimate.total.seconds)
        .fold(0.0, f64::max);
    let max_e = all
        .iter()
        .map(|a| a.estimate.total.picojoules)
        .fold(0.0, f64::max);
    let (scale, unit) = energy_unit(max_e);
    const LABEL: usize = 64;
    const HALF: usize = WIDTH / 3;
    for d in &e.decisions {
        if d.alternatives.is_empty() {
            continue;
        }
        out += &format!(
            "  {} {} {:>8}  {} {:>9}\n",
            fit(&format!("stage `{}`", d.decision.stage), LABEL),
            fit("", HALF),
            "time ms",
            fit("", HALF),
            format!("energy {unit}")
        );
        for a in &d.alternatives {
            let t = &a.estimate.total;
            out += &format!(
                "{} {} {} {:>8.3}  {} {:>9.2}\n",
                if a.chosen { '*' } else { ' ' },
                fit(&a.label, LABEL),
                fit(&bar(t.seconds, max_t, HALF), HALF),
                t.seconds * 1e3,
                fit(&bar(t.picojoules, max_e, HALF), HALF),
                t.picojoules / scale
            );
        }
    }
    out
}

/// The characters of each part of the energy, in `super::energy::breakdown`'s order.
const SHADES: [char; 6] = ['#', '=', '░', '▒', '▓', '█'];

/// -O0, optimized (and quantized) energy as stacked bars by where it goes.
pub fn energy(r: &EnergyReport) -> String {
    let mut rows = vec![
        ("-O0", &r.unoptimized.total),
        ("optimized", &r.optimized.total),
    ];
    if let Some(q) = &r.quantized {
        rows.push(("quantized", &q.estimate.total));
    }
    let max = rows.iter().map(|r| r.1.picojoules).fold(0.0, f64::max);
    let (scale, unit) = energy_unit(max);
    let mut out = format!("{}: estimated energy by where it goes\n", r.kernel);
    for (name, c) in &rows {
        let parts = super::energy::breakdown(c, &r.profile);
        let mut line = String::new();
        let mut drawn = 0usize;
        let mut sum = 0.0;
        for (k, (_, pj)) in parts.iter().enumerate() {
            sum += pj;
            // cells up to the running sum: rounding never loses a cell
            let upto = if max > 0.0 {
                (sum / max * (2 * WIDTH) as f64).round() as usize
            } else {
                0
            };
            line.extend(std::iter::repeat_n(SHADES[k], upto.saturating_sub(drawn)));
            drawn = drawn.max(upto);
        }
        out += &format!(
            "  {:<10} {} {:.2} {unit}\n",
            name,
            fit(&line, 2 * WIDTH),
            c.picojoules / scale
        );
    }
    let legend: Vec<String> = super::energy::breakdown(rows[0].1, &r.profile)
        .iter()
        .zip(SHADES)
        .map(|((name, _), ch)| format!("{ch} {name}"))
        .collect();
    out += &format!("  {}\n", legend.join("  "));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_proportional_in_eighths() {
        assert_eq!(bar(1.0, 1.0, 4), "████");
        assert_eq!(bar(0.5, 1.0, 4), "██");
        assert_eq!(bar(1.0 / 32.0, 1.0, 4), "▏");
        assert_eq!(bar(0.0, 1.0, 4), "");
        assert_eq!(bar(f64::NAN, 1.0, 4), "");
        assert_eq!(fit("abcdef", 3), "abc");
        assert_eq!(fit("ab", 3), "ab ");
    }
}
