//! The energy model's reports, as data and as text: `pj energy` and
//! `pj explain` print them, the Python package returns them
//! (`Kernel.energy()`, `Kernel.explain()`).
//!
//! [`energy`]: a kernel's estimate at given sizes on one profile,
//! unoptimized and optimized. [`explain`]: the decisions the scheduler
//! made for it and, for each, the alternatives the model weighed, each
//! estimated with every other decision kept.

use crate::Module;
use crate::codegen::{AFTER_DEFAULT_PIPELINE, Backend, UNOPTIMIZED_PIPELINE};
use crate::ir::{Dim, Type};
use crate::passes::PassManager;
use crate::passes::schedule::{AutoSchedule, COMPUTE_AT, Decision, REDUCE_ORDER, TILE_BYTES};
use crate::target::energy::{Cost, Estimate};
use crate::target::profile::Profile;
use std::collections::HashMap;
use std::fmt::Write as _;

const MB: f64 = 1e6;

/// Every size kernel `kernel` of `m` names, from `given`, else 1024; an
/// error when an array would exceed 2^48 bytes (the model's arithmetic is
/// 64-bit) or the kernel does not exist.
pub fn sizes_for(
    m: &Module,
    kernel: &str,
    given: &HashMap<String, i64>,
) -> Result<HashMap<String, i64>, String> {
    let k = m
        .kernel(kernel)
        .ok_or_else(|| format!("no kernel `{kernel}`"))?;
    let mut sizes = given.clone();
    for (pname, ty) in crate::dialects::signature(m, k).params {
        if let Type::Tensor { dims, elem } = ty {
            let mut bytes: Option<i64> = Some(elem.size_bytes() as i64);
            for d in dims {
                let n = match d {
                    Dim::Sym(s) => *sizes.entry(s).or_insert(1024),
                    Dim::Static(n) => n,
                    Dim::Dynamic => 1,
                };
                bytes = bytes.and_then(|b| b.checked_mul(n));
            }
            match bytes {
                Some(b) if b <= 1 << 48 => {}
                _ => {
                    return Err(format!(
                        "at {} the array `{pname}` would exceed 2^48 bytes: choose smaller sizes",
                        sizes_text(&sizes)
                    ));
                }
            }
        }
    }
    Ok(sizes)
}

/// The sizes of a source's `// bench: H=4096, W=4096` line (none where it
/// has none): the sizes `pj bench`, `pj energy` and `pj explain` use when
/// given none, and `--quantize=auto` weighs its choices at when compiling
/// without data. A malformed line is an error naming the item.
pub fn bench_sizes(src: &str) -> Result<HashMap<String, i64>, String> {
    let mut sizes = HashMap::new();
    if let Some(line) = src.lines().find_map(|l| l.trim().strip_prefix("// bench:")) {
        add_sizes(line, &mut sizes)?;
    }
    Ok(sizes)
}

/// Adds a list's `NAME=VALUE[,NAME=VALUE...]` bindings to `out` (a `//
/// bench:` line's, `--size`'s), refusing nonsense: an item without `=`, a
/// value that is not a whole number in `0..=2^40`, a name given twice.
pub fn add_sizes(list: &str, out: &mut HashMap<String, i64>) -> Result<(), String> {
    for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (k, v) = item
            .split_once('=')
            .ok_or_else(|| format!("`{item}`: sizes are given as NAME=VALUE"))?;
        let v: i64 = v
            .trim()
            .parse()
            .map_err(|_| format!("`{item}`: `{}` is not a whole number", v.trim()))?;
        if !(0..=1 << 40).contains(&v) {
            return Err(format!("`{item}`: a size must be between 0 and 2^40"));
        }
        if out.insert(k.trim().to_string(), v).is_some() {
            return Err(format!("`{item}`: the size `{}` is given twice", k.trim()));
        }
    }
    Ok(())
}

/// The size names kernel `kernel` of `m` declares, in order of first use.
pub fn size_names(m: &Module, kernel: &str) -> Vec<String> {
    let mut names = Vec::new();
    let Some(k) = m.kernel(kernel) else {
        return names;
    };
    for (_, ty) in crate::dialects::signature(m, k).params {
        if let Type::Tensor { dims, .. } = ty {
            for d in dims {
                if let Dim::Sym(s) = d
                    && !names.contains(&s)
                {
                    names.push(s);
                }
            }
        }
    }
    names
}

/// `H=4096, W=4096`, sorted by name.
pub fn sizes_text(sizes: &HashMap<String, i64>) -> String {
    let mut v: Vec<_> = sizes.iter().collect();
    v.sort();
    v.iter()
        .map(|(k, n)| format!("{k}={n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `m` through `pipeline`, scheduled for `p`, as `pj run` compiles by
/// default (reassociated float reductions) with Cranelift.
pub fn lower(m: &Module, pipeline: &str, p: &Profile) -> Result<Module, String> {
    lower_for(m, pipeline, p, Backend::Cranelift)
}

/// [`lower`] for `backend`: its vector width, dot products and binary16
/// conversions, as the code it generates has them.
pub fn lower_for(
    m: &Module,
    pipeline: &str,
    p: &Profile,
    backend: Backend,
) -> Result<Module, String> {
    let mut l = m.clone();
    crate::codegen::Options::with_backend(backend)
        .configure(PassManager::parse(pipeline)?, p)
        .run(&mut l)
        .map_err(|e| e.to_string())?;
    Ok(l)
}

/// `m` (the `pj` IR after the default pipeline) as `--quantize` makes it
/// for `backend`'s code on `p`'s machine: the `quantize` pass's result
/// with its `quant` ops expanded, and its notes (what it chose per stage,
/// or why not; `auto` weighing its choices at `sizes`).
pub fn quantize(
    m: &Module,
    request: crate::quant::plan::Request,
    sizes: &HashMap<String, i64>,
    p: &Profile,
    backend: Backend,
) -> Result<(Module, Vec<String>), String> {
    let mut q = m.clone();
    let records = crate::codegen::Options {
        quantize: Some(request),
        sizes: sizes.clone(),
        ..crate::codegen::Options::with_backend(backend)
    }
    .quantize_passes_for(p)
    .run(&mut q)
    .map_err(|e| e.to_string())?;
    Ok((q, records.into_iter().flat_map(|r| r.notes).collect()))
}

/// What quantization changes in an estimate: the notes, and the
/// quantized kernel's optimized estimate.
#[derive(Clone, Debug)]
pub struct QuantizedReport {
    /// The `quantize` pass's notes.
    pub notes: Vec<String>,
    /// The quantized kernel, optimized.
    pub estimate: Estimate,
}

impl QuantizedReport {
    /// The notes, then the quantized estimate beside `float`'s.
    pub fn text(&self, float: &Estimate) -> String {
        let mut t = String::new();
        let _ = writeln!(t, "quantization:");
        for n in &self.notes {
            let _ = writeln!(t, "  {n}");
        }
        let (f, q) = (&float.total, &self.estimate.total);
        let _ = writeln!(
            t,
            "  estimated: {}, {:.3} ms, DRAM {:.1} MB quantized against {}, {:.3} ms, DRAM {:.1} MB in float ({:.2}x less energy, {:.2}x less time)",
            energy_text(q.picojoules),
            q.seconds * 1e3,
            q.dram_bytes / MB,
            energy_text(f.picojoules),
            f.seconds * 1e3,
            f.dram_bytes / MB,
            f.picojoules / q.picojoules.max(1e-9),
            f.seconds / q.seconds.max(1e-15),
        );
        t
    }
}

/// A kernel's estimate on one profile, before and after the optimizer.
#[derive(Clone, Debug)]
pub struct EnergyReport {
    /// The kernel.
    pub kernel: String,
    /// The sizes it was estimated at.
    pub sizes: HashMap<String, i64>,
    /// The profile.
    pub profile: Profile,
    /// Lowered without the optimizer (`-O0`).
    pub unoptimized: Estimate,
    /// Lowered as it is compiled.
    pub optimized: Estimate,
    /// With `--quantize`: the quantized kernel, optimized.
    pub quantized: Option<QuantizedReport>,
}

/// The estimate of lowered `m`'s kernel for `backend`'s code: LLVM on
/// x86 writes large results past the caches and divides 64-bit integers
/// that fit 32 bits with the 32-bit instruction; Cranelift casts vectors
/// step by step.
pub(crate) fn estimate_for(
    m: &Module,
    kernel: &str,
    sizes: &HashMap<String, i64>,
    p: &Profile,
    backend: Backend,
) -> Result<Estimate, String> {
    let llvm_x86 = backend == Backend::Llvm && p.arch == "x86_64";
    let code = crate::target::energy::CodeTraits {
        nontemporal_bytes: llvm_x86.then(|| p.nontemporal_bytes()),
        narrow_int_division: llvm_x86,
        cast_by_steps: backend == Backend::Cranelift,
    };
    crate::target::energy::estimate_code(m, kernel, sizes, p, code).map_err(|e| e.to_string())
}

/// [`EnergyReport`] of kernel `kernel` of `m` (the `pj` IR after the
/// default pipeline) at `sizes` (every size named: [`sizes_for`]) on `p`.
///
/// The code estimated is Cranelift's ([`energy_for`]: another backend's).
pub fn energy(
    m: &Module,
    kernel: &str,
    sizes: &HashMap<String, i64>,
    p: &Profile,
) -> Result<EnergyReport, String> {
    energy_for(m, kernel, sizes, p, Backend::Cranelift)
}

/// [`energy`] of the code `backend` generates (its vector width).
pub fn energy_for(
    m: &Module,
    kernel: &str,
    sizes: &HashMap<String, i64>,
    p: &Profile,
    backend: Backend,
) -> Result<EnergyReport, String> {
    let est = |pipeline: &str| lowered_estimate(m, pipeline, kernel, sizes, p, backend);
    Ok(EnergyReport {
        kernel: kernel.to_string(),
        sizes: sizes.clone(),
        profile: p.clone(),
        unoptimized: est(UNOPTIMIZED_PIPELINE)?,
        optimized: est(crate::codegen::LOWERING_PIPELINE)?,
        quantized: None,
    })
}

/// `m` lowered by `pipeline` for `backend` and its kernel estimated as
/// that backend's code.
fn lowered_estimate(
    m: &Module,
    pipeline: &str,
    kernel: &str,
    sizes: &HashMap<String, i64>,
    p: &Profile,
    backend: Backend,
) -> Result<Estimate, String> {
    estimate_for(
        &lower_for(m, pipeline, p, backend)?,
        kernel,
        sizes,
        p,
        backend,
    )
}

/// [`energy`], and the kernel quantized as `request` asks.
pub fn energy_quantized(
    m: &Module,
    kernel: &str,
    sizes: &HashMap<String, i64>,
    p: &Profile,
    request: crate::quant::plan::Request,
    backend: Backend,
) -> Result<EnergyReport, String> {
    let mut r = energy_for(m, kernel, sizes, p, backend)?;
    let (q, notes) = quantize(m, request, sizes, p, backend)?;
    let estimate = lowered_estimate(
        &q,
        crate::codegen::LOWERING_PIPELINE,
        kernel,
        sizes,
        p,
        backend,
    )?;
    r.quantized = Some(QuantizedReport { notes, estimate });
    Ok(r)
}

impl EnergyReport {
    /// The same report with times for `threads` worker threads
    /// ([`Estimate::at_threads`]).
    pub fn at_threads(mut self, threads: u32) -> EnergyReport {
        let p = &self.profile;
        self.unoptimized = self.unoptimized.at_threads(p, threads);
        self.optimized = self.optimized.at_threads(p, threads);
        if let Some(q) = &mut self.quantized {
            q.estimate = q.estimate.at_threads(p, threads);
        }
        self
    }

    /// The first line: what is estimated, where.
    pub fn heading(&self) -> String {
        format!(
            "energy model: `{}` at {} (estimates: docs/energy-model.md)",
            self.kernel,
            sizes_text(&self.sizes)
        )
    }

    /// What `pj energy` prints for one profile.
    pub fn text(&self) -> String {
        let (p, b, a) = (&self.profile, &self.unoptimized, &self.optimized);
        let mut t = String::new();
        let _ = writeln!(t, "{}", self.heading());
        let _ = writeln!(t, "profile: {} — {}\n", p.name, p.description);
        t += &table(&format!("unoptimized (-O0: `{UNOPTIMIZED_PIPELINE}`)"), b);
        t.push('\n');
        t += &table("optimized (the default pipeline)", a);
        let _ = writeln!(
            t,
            "\noptimized: {:.2}x less energy, {:.2}x less time; DRAM traffic {:.2}x the compulsory {:.1} MB (unoptimized {:.2}x)",
            b.total.picojoules / a.total.picojoules.max(1e-9),
            b.total.seconds / a.total.seconds.max(1e-15),
            a.total.dram_bytes / a.compulsory_bytes.max(1.0),
            a.compulsory_bytes / MB,
            b.total.dram_bytes / b.compulsory_bytes.max(1.0),
        );
        if a.total.llc_retained >= 1.0 {
            let _ = writeln!(
                t,
                "the kernel's buffers, {:.1} MB, fit in the last level's {:.1} MB: times and energies are of a repeated call, which finds them there (DRAM MB: a first call's traffic)",
                a.footprint_bytes / MB,
                a.llc_bytes / MB
            );
        } else if a.total.llc_retained >= 0.1 {
            let _ = writeln!(
                t,
                "the kernel's buffers that go through the caches, {:.1} MB, exceed the last level's {:.1} MB: times and energies are of a repeated call, which finds {:.0}% of them still there (DRAM MB: a first call's traffic)",
                a.footprint_bytes / MB,
                a.llc_bytes / MB,
                a.total.llc_retained * 100.0
            );
        }
        if let Some(q) = &self.quantized {
            t.push('\n');
            t += &table(
                "quantized (--quantize, then the default pipeline)",
                &q.estimate,
            );
            t.push('\n');
            t += &q.text(a);
        }
        t
    }
}

/// One of the alternatives to a decision, estimated.
#[derive(Clone, Debug)]
pub struct Alternative {
    /// What it is, in words.
    pub label: String,
    /// Its estimate, every other decision kept.
    pub estimate: Estimate,
    /// Whether it is what the scheduler chose.
    pub chosen: bool,
}

/// A decision of the scheduler and what it was weighed against.
#[derive(Clone, Debug)]
pub struct DecisionReport {
    /// The decision.
    pub decision: Decision,
    /// Its legal alternatives (none when the schedule block decided).
    pub alternatives: Vec<Alternative>,
}

/// The scheduler's decisions for a kernel on one profile.
#[derive(Clone, Debug)]
pub struct Explanation {
    /// The kernel.
    pub kernel: String,
    /// The sizes it was estimated at.
    pub sizes: HashMap<String, i64>,
    /// The profile.
    pub profile: Profile,
    /// Stage by stage.
    pub decisions: Vec<DecisionReport>,
    /// The whole kernel as chosen.
    pub chosen: Estimate,
}

impl Explanation {
    /// The same explanation with times for `threads` worker threads
    /// ([`Estimate::at_threads`]), the alternatives' and the choice's.
    pub fn at_threads(mut self, threads: u32) -> Explanation {
        let p = &self.profile;
        self.chosen = self.chosen.at_threads(p, threads);
        for d in &mut self.decisions {
            for a in &mut d.alternatives {
                a.estimate = a.estimate.at_threads(p, threads);
            }
        }
        self
    }
}

/// [`Explanation`] of kernel `kernel` of `m` (the `pj` IR after the
/// default pipeline) at `sizes` on `p`, for Cranelift's code.
pub fn explain(
    m: &Module,
    kernel: &str,
    sizes: &HashMap<String, i64>,
    p: &Profile,
) -> Result<Explanation, String> {
    explain_for(m, kernel, sizes, p, Backend::Cranelift)
}

/// [`explain`] for `backend`'s code: the schedule it is compiled with (its
/// vector width) and each alternative lowered and estimated as that
/// backend's code, as `pj energy --backend` estimates the chosen one.
pub fn explain_for(
    m: &Module,
    kernel: &str,
    sizes: &HashMap<String, i64>,
    p: &Profile,
    backend: Backend,
) -> Result<Explanation, String> {
    // the default pipeline up to `schedule`, then the schedule pass by hand
    // to read its decisions
    let (before_sched, after_sched) = AFTER_DEFAULT_PIPELINE
        .split_once("schedule,")
        .expect("the pipeline schedules");
    let mut pre = lower_for(m, before_sched.trim_end_matches(','), p, backend)?;
    let mut sched = AutoSchedule::for_profile(p.clone());
    sched.vector_bits = crate::codegen::Options::with_backend(backend).vector_bits();
    crate::passes::Pass::run(&mut sched, &mut pre).map_err(|e| e.to_string())?;
    crate::ir::verify::verify(&pre).map_err(|e| e.to_string())?;
    let est = |m: &Module| lowered_estimate(m, after_sched, kernel, sizes, p, backend);
    let chosen = est(&pre)?;
    // every decision's alternatives, each estimated with all other
    // decisions kept: what the model weighs
    let mut decisions = Vec::new();
    for d in sched.decisions.iter().filter(|d| d.kernel == kernel) {
        let mut alternatives = Vec::new();
        for (label, variant, is_chosen) in alternatives_to(&pre, kernel, d, p) {
            alternatives.push(Alternative {
                label,
                estimate: est(&variant)?,
                chosen: is_chosen,
            });
        }
        decisions.push(DecisionReport {
            decision: d.clone(),
            alternatives,
        });
    }
    Ok(Explanation {
        kernel: kernel.to_string(),
        sizes: sizes.clone(),
        profile: p.clone(),
        decisions,
        chosen,
    })
}

impl Explanation {
    /// What `pj explain` prints.
    pub fn text(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "schedule of `{}` for {} at {} (estimates: docs/energy-model.md)\n",
            self.kernel,
            self.profile.name,
            sizes_text(&self.sizes)
        );
        if self.decisions.is_empty() {
            let _ = writeln!(
                t,
                "no stage has a choice to make: each is computed once, in order, its innermost loop vectorized where it can be\n"
            );
        }
        for r in &self.decisions {
            let (d, alts) = (&r.decision, &r.alternatives);
            let _ = writeln!(t, "stage `{}`: {}", d.stage, d.choice);
            let _ = writeln!(t, "  why: {}", d.reason);
            if alts.len() > 1 {
                let w = alts
                    .iter()
                    .map(|a| a.label.chars().count())
                    .max()
                    .unwrap_or(0)
                    .max(42);
                let unit = energy_unit(
                    alts.iter()
                        .map(|a| a.estimate.total.picojoules)
                        .fold(0.0, f64::max),
                );
                let _ = writeln!(
                    t,
                    "  {:<w2$} {:>12} {:>10} {:>9}  bound",
                    "alternatives weighed",
                    format!("energy {}", unit.1),
                    "time ms",
                    "DRAM MB",
                    w2 = w + 2
                );
                for a in alts {
                    let c = &a.estimate.total;
                    let _ = writeln!(
                        t,
                        "  {} {:<w$} {:>12.2} {:>10.3} {:>9.1}  {}",
                        if a.chosen { "*" } else { " " },
                        a.label,
                        c.picojoules / unit.0,
                        c.seconds * 1e3,
                        c.dram_bytes / MB,
                        c.bound
                    );
                }
                let best = alts
                    .iter()
                    .min_by(|a, b| {
                        a.estimate
                            .total
                            .picojoules
                            .total_cmp(&b.estimate.total.picojoules)
                    })
                    .expect("alternatives");
                if !best.chosen {
                    let _ = writeln!(
                        t,
                        "  note: at these sizes the model estimates least energy for `{}` (the choice follows rules that do not know the sizes; the model's compute estimate is crude: docs/energy-model.md)",
                        best.label
                    );
                }
            }
            t.push('\n');
        }
        let c = &self.chosen;
        let _ = writeln!(
            t,
            "whole kernel (estimated): {}, {:.3} ms, DRAM {:.1} MB ({:.2}x the compulsory {:.1} MB)",
            energy_text(c.total.picojoules),
            c.total.seconds * 1e3,
            c.total.dram_bytes / MB,
            c.total.dram_bytes / c.compulsory_bytes.max(1.0),
            c.compulsory_bytes / MB
        );
        t
    }
}

fn row(c: &Cost, energy_per: f64) -> String {
    format!(
        "  {:<22} {:>9.1} {:>9.1} {:>9.1} {:>8.1} {:>8.1} {:>8.1} {:>10.2} {:>9.3}  {:<8} {}",
        truncate(&c.label, 22),
        c.total_ops() / MB,
        c.l1_bytes / MB,
        c.l2_bytes / MB,
        c.llc_bytes / MB,
        c.dram_bytes / MB,
        c.instructions / MB,
        c.picojoules / energy_per,
        c.seconds * 1e3,
        c.bound,
        lines_text(&c.lines)
    )
    .trim_end()
    .to_string()
}

/// `4-6, 9`: ascending lines as ranges.
pub fn lines_text(lines: &[u32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let mut j = i;
        while j + 1 < lines.len() && lines[j + 1] == lines[j] + 1 {
            j += 1;
        }
        parts.push(if j > i {
            format!("{}-{}", lines[i], lines[j])
        } else {
            lines[i].to_string()
        });
        i = j + 1;
    }
    parts.join(", ")
}

/// `s` cut to `n` characters, an ellipsis marking the cut.
pub fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

/// An estimated energy in the unit that suits it: `850 nJ`, `22.8 µJ`,
/// `11.1 mJ`, `1.23 J` (from picojoules).
pub fn energy_text(picojoules: f64) -> String {
    let (per, unit) = energy_unit(picojoules);
    let value = picojoules / per;
    let digits = if value.abs() >= 100.0 {
        0
    } else if value.abs() >= 10.0 {
        1
    } else {
        2
    };
    format!("{value:.digits$} {unit}")
}

/// The unit a column of energies up to `largest` picojoules is shown
/// in: picojoules per unit, and its name (`nJ` to `J`).
pub fn energy_unit(largest: f64) -> (f64, &'static str) {
    match largest.abs() {
        x if x >= 1e12 => (1e12, "J"),
        x if x >= 1e9 => (1e9, "mJ"),
        x if x >= 1e6 => (1e6, "µJ"),
        _ => (1e3, "nJ"),
    }
}

fn table(title: &str, e: &Estimate) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "{title}");
    let unit = energy_unit(e.total.picojoules);
    let _ = writeln!(
        t,
        "  {:<22} {:>9} {:>9} {:>9} {:>8} {:>8} {:>8} {:>10} {:>9}  {:<8} lines",
        "loop nest (stores)",
        "ops (M)",
        "L1 MB",
        "L2 MB",
        "LLC MB",
        "DRAM MB",
        "instr (M)",
        format!("energy {}", unit.1),
        "time ms",
        "bound"
    );
    for n in &e.nests {
        let _ = writeln!(t, "{}", row(n, unit.0));
    }
    let _ = writeln!(t, "{}", row(&e.total, unit.0));
    t
}

/// The legal alternatives to one decision, as modules to lower: label,
/// module, whether it is what was chosen. A decision the schedule block
/// made has none.
fn alternatives_to(
    pre: &Module,
    kernel: &str,
    d: &Decision,
    p: &Profile,
) -> Vec<(String, Module, bool)> {
    use crate::ir::Attr;
    use crate::passes::schedule as sch;
    let mut out = Vec::new();
    let Some(k) = pre.kernel(kernel) else {
        return out;
    };
    let stages = sch::stages(pre, k);
    let Some(&stage) = stages.iter().find(|&&s| sch::stage_name(pre, s) == d.stage) else {
        return out;
    };
    if d.reason.starts_with("as the kernel's schedule block") {
        return out;
    }
    if d.choice.starts_with("reduction") {
        let current = pre
            .op(stage)
            .attr(REDUCE_ORDER)
            .and_then(Attr::as_str)
            .unwrap_or("inner")
            .to_string();
        let red = sch::hoistable_reduction(pre, stage);
        for order in ["inner", "outer", "vector"] {
            let legal = match order {
                "inner" => true,
                "outer" => red.is_ok(),
                _ => red
                    .as_ref()
                    .is_ok_and(|&r| sch::vector_accumulable(pre, stage, r).is_ok()),
            };
            if !legal {
                continue;
            }
            let mut v = pre.clone();
            v.op_mut(stage)
                .set_attr(REDUCE_ORDER, Attr::Str(order.into()));
            out.push((format!("reduce_order = {order}"), v, order == current));
        }
    } else if d.choice.starts_with("cache blocks") {
        let current = sch::StageSchedule::of(pre, stage).cache_block;
        let mut none = pre.clone();
        none.op_mut(stage).remove_attr(sch::BLOCK_K);
        none.op_mut(stage).remove_attr(sch::BLOCK_COLS);
        out.push(("no cache blocks".to_string(), none, current.is_none()));
        let esize = pre.ty(pre.result(stage)).elem().size_bytes().max(1) as i64;
        for (level, bytes) in [
            ("half of L1", p.cache.l1_bytes / 2),
            ("an eighth of L2", p.cache.l2_bytes / 8),
            ("three eighths of L2", p.cache.l2_bytes * 3 / 8),
            ("half of L2", p.cache.l2_bytes / 2),
        ] {
            let b = sch::cache_block_for(
                bytes as i64,
                esize,
                current.map_or(sch::CACHE_BLOCK_K, |c| c.k),
            );
            let mut v = pre.clone();
            v.op_mut(stage).set_attr(sch::BLOCK_K, Attr::Int(b.k));
            v.op_mut(stage).set_attr(sch::BLOCK_COLS, Attr::Int(b.cols));
            out.push((
                format!("{} x {} fitting {level} ({bytes} B)", b.k, b.cols),
                v,
                current == Some(b),
            ));
        }
    } else if d.choice.starts_with("tiles of rows") {
        let current = pre.op(stage).attr(TILE_BYTES).and_then(Attr::as_int);
        let sliding = d.choice.contains("sliding window");
        // every stage stored whole
        let mut whole = pre.clone();
        for &s in &stages {
            let op = whole.op_mut(s);
            if s == stage {
                op.remove_attr(TILE_BYTES);
            }
            if op.attr(COMPUTE_AT).and_then(Attr::as_str) == Some(d.stage.as_str()) {
                op.remove_attr(COMPUTE_AT);
                op.set_attr(sch::COMPUTE_ROOT, Attr::Bool(true));
            }
        }
        out.push(("every stage stored whole".to_string(), whole, false));
        if sliding {
            // what was chosen, against tiles recomputing their halo rows
            out.push(("a sliding window".to_string(), pre.clone(), true));
        }
        for (level, bytes) in [
            ("L1", p.cache.l1_bytes / 2),
            ("L2", p.cache.l2_bytes / 2),
            ("the LLC", p.cache.llc_bytes / 2),
        ] {
            let mut v = pre.clone();
            v.op_mut(stage)
                .set_attr(TILE_BYTES, Attr::Int(bytes as i64));
            if sliding {
                v.op_mut(stage).set_attr(sch::SLIDING, Attr::Bool(false));
            }
            let label = if sliding {
                format!("halo rows recomputed, tiles fitting half of {level} ({bytes} B)")
            } else {
                format!("tiles fitting half of {level} ({bytes} B)")
            };
            out.push((label, v, !sliding && current == Some(bytes as i64)));
        }
    }
    out
}
