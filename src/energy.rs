//! `pj energy` and `pj explain`: what the energy model estimates for a
//! kernel at given sizes, unoptimized and optimized, on one target profile
//! or all of them; and which schedule the optimizer chose, with the
//! estimated energy and time of the alternatives it weighed.

use crate::bench::{file_sizes, parse_sizes};
use anyhow::{Context, Result, anyhow, bail};
use pj_compiler::Module;
use pj_compiler::codegen::{AFTER_DEFAULT_PIPELINE, UNOPTIMIZED_PIPELINE};
use pj_compiler::passes::schedule::{AutoSchedule, COMPUTE_AT, Decision, REDUCE_ORDER, TILE_BYTES};
use pj_compiler::passes::{DEFAULT_PIPELINE, PassManager};
use pj_compiler::target::energy::{Cost, Estimate, estimate};
use pj_compiler::target::profile::Profile;
use serde_json::json;
use std::collections::HashMap;
use std::path::Path;

/// Options shared by `pj energy` and `pj explain`.
pub struct ModelOptions<'a> {
    /// The kernel (may be omitted when the file has one).
    pub kernel: Option<&'a str>,
    /// `NAME=VALUE` bindings; the rest from the file's `// bench:` line, else 1024.
    pub sizes: &'a [String],
    /// A built-in profile name or a TOML path; `host` by default.
    pub target: Option<&'a str>,
    /// Machine-readable output.
    pub json: bool,
}

fn profile(name: Option<&str>) -> Result<Profile> {
    match name {
        None | Some("host") => Ok(Profile::host()),
        Some(n) => Profile::load(n).map_err(|e| anyhow!(e)),
    }
}

/// The kernel's `pj` IR after the default pipeline, its name, and its sizes.
fn prepare(path: &Path, opts: &ModelOptions<'_>) -> Result<(Module, String, HashMap<String, i64>)> {
    let src = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    let name = path.display().to_string();
    let mut m = pj_compiler::compile_source(&name, &src)
        .map_err(|d| {
            eprint!("{}", pj_lang::diagnostic::render_all(&d, &name, &src));
            anyhow!("`{name}` has errors")
        })?
        .module;
    PassManager::parse(DEFAULT_PIPELINE)
        .map_err(|e| anyhow!(e))?
        .run(&mut m)?;
    let kernels = m.kernel_names();
    let kernel = match opts.kernel {
        Some(k) if kernels.iter().any(|n| n == k) => k.to_string(),
        Some(k) => bail!(
            "no kernel named `{k}`; the file has: {}",
            kernels.join(", ")
        ),
        None if kernels.len() == 1 => kernels[0].clone(),
        None => bail!(
            "the file has {} kernels ({}); choose one with --kernel",
            kernels.len(),
            kernels.join(", ")
        ),
    };
    let mut sizes =
        file_sizes(&src).with_context(|| format!("the `// bench:` line of `{name}`"))?;
    parse_sizes(opts.sizes, &mut sizes)?;
    // every size the kernel names gets a value
    let k = m.kernel(&kernel).expect("listed");
    for (_, ty) in pj_compiler::dialects::signature(&m, k).params {
        if let pj_compiler::ir::Type::Tensor { dims, .. } = ty {
            for d in dims {
                if let pj_compiler::ir::Dim::Sym(s) = d {
                    sizes.entry(s).or_insert(1024);
                }
            }
        }
    }
    Ok((m, kernel, sizes))
}

fn lower(m: &Module, pipeline: &str, p: &Profile) -> Result<Module> {
    let mut l = m.clone();
    // as `pj run` compiles by default: reassociated float reductions
    PassManager::parse(pipeline)
        .map_err(|e| anyhow!(e))?
        .for_profile(p)
        .fast_math(true)
        .run(&mut l)?;
    Ok(l)
}

fn sizes_text(sizes: &HashMap<String, i64>) -> String {
    let mut v: Vec<_> = sizes.iter().collect();
    v.sort();
    v.iter()
        .map(|(k, n)| format!("{k}={n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

const MB: f64 = 1e6;

fn row(c: &Cost) -> String {
    format!(
        "  {:<22} {:>9.1} {:>9.1} {:>9.1} {:>8.1} {:>8.1} {:>8.1} {:>10.1} {:>9.3}  {}",
        truncate(&c.label, 22),
        c.total_ops() / MB,
        c.l1_bytes / MB,
        c.l2_bytes / MB,
        c.llc_bytes / MB,
        c.dram_bytes / MB,
        c.instructions / MB,
        c.picojoules / 1e6,
        c.seconds * 1e3,
        c.bound
    )
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

fn table(title: &str, e: &Estimate) {
    println!("{title}");
    println!(
        "  {:<22} {:>9} {:>9} {:>9} {:>8} {:>8} {:>8} {:>10} {:>9}  bound",
        "loop nest (stores)",
        "ops (M)",
        "L1 MB",
        "L2 MB",
        "LLC MB",
        "DRAM MB",
        "instr (M)",
        "energy µJ",
        "time ms"
    );
    for n in &e.nests {
        println!("{}", row(n));
    }
    println!("{}", row(&e.total));
}

fn cost_json(c: &Cost) -> serde_json::Value {
    json!({
        "label": c.label, "ops": c.total_ops(), "instructions": c.instructions,
        "l1_bytes": c.l1_bytes, "l2_bytes": c.l2_bytes, "llc_bytes": c.llc_bytes,
        "dram_bytes": c.dram_bytes, "microjoules": c.picojoules / 1e6,
        "seconds": c.seconds, "bound": c.bound,
    })
}

/// Runs `pj energy`.
pub fn energy(path: &Path, opts: &ModelOptions<'_>, compare: bool) -> Result<()> {
    let (m, kernel, sizes) = prepare(path, opts)?;
    let optimized = format!("{DEFAULT_PIPELINE},{AFTER_DEFAULT_PIPELINE}");
    let profiles = if compare {
        let mut v = vec![Profile::host()];
        v.extend(Profile::all_builtin());
        v
    } else {
        vec![profile(opts.target)?]
    };
    let mut out = Vec::new();
    for p in &profiles {
        let before = estimate(&lower(&m, UNOPTIMIZED_PIPELINE, p)?, &kernel, &sizes, p)?;
        let after = estimate(&lower(&m, &optimized, p)?, &kernel, &sizes, p)?;
        out.push((p, before, after));
    }
    if opts.json {
        let v: Vec<_> = out
            .iter()
            .map(|(p, b, a)| {
                json!({
                    "profile": p.name, "kernel": kernel, "sizes": sizes,
                    "compulsory_bytes": a.compulsory_bytes,
                    "unoptimized": {"nests": b.nests.iter().map(cost_json).collect::<Vec<_>>(), "total": cost_json(&b.total)},
                    "optimized": {"nests": a.nests.iter().map(cost_json).collect::<Vec<_>>(), "total": cost_json(&a.total)},
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!(
        "energy model: `{kernel}` at {} (estimates: docs/energy-model.md)",
        sizes_text(&sizes)
    );
    if compare {
        println!(
            "\n  {:<26} {:>12} {:>10} {:>9} {:>9}  bound",
            "profile (one core)", "energy µJ", "time ms", "DRAM MB", "µJ -O0"
        );
        for (p, b, a) in &out {
            println!(
                "  {:<26} {:>12.1} {:>10.3} {:>9.1} {:>9.1}  {}",
                truncate(&p.name, 26),
                a.total.picojoules / 1e6,
                a.total.seconds * 1e3,
                a.total.dram_bytes / MB,
                b.total.picojoules / 1e6,
                a.total.bound
            );
        }
        let best = out
            .iter()
            .skip(1)
            .min_by(|x, y| x.2.total.picojoules.total_cmp(&y.2.total.picojoules))
            .expect("profiles");
        println!(
            "\nleast energy per run: {} ({:.1} µJ); fastest: {}",
            best.0.name,
            best.2.total.picojoules / 1e6,
            out.iter()
                .skip(1)
                .min_by(|x, y| x.2.total.seconds.total_cmp(&y.2.total.seconds))
                .map(|x| x.0.name.clone())
                .unwrap_or_default()
        );
        return Ok(());
    }
    let (p, b, a) = &out[0];
    println!("profile: {} — {}\n", p.name, p.description);
    table(&format!("unoptimized (-O0: `{UNOPTIMIZED_PIPELINE}`)"), b);
    println!();
    table("optimized (the default pipeline)", a);
    println!(
        "\noptimized: {:.2}x less energy, {:.2}x less time; DRAM traffic {:.2}x the compulsory {:.1} MB (unoptimized {:.2}x)",
        b.total.picojoules / a.total.picojoules.max(1e-9),
        b.total.seconds / a.total.seconds.max(1e-15),
        a.total.dram_bytes / a.compulsory_bytes.max(1.0),
        a.compulsory_bytes / MB,
        b.total.dram_bytes / b.compulsory_bytes.max(1.0),
    );
    Ok(())
}

/// Runs `pj explain`.
pub fn explain(path: &Path, opts: &ModelOptions<'_>) -> Result<()> {
    let (m, kernel, sizes) = prepare(path, opts)?;
    let p = profile(opts.target)?;
    // the default pipeline up to `schedule`, then the schedule pass by hand
    // to read its decisions
    let (before_sched, after_sched) = AFTER_DEFAULT_PIPELINE
        .split_once("schedule,")
        .expect("the pipeline schedules");
    let mut pre = lower(&m, before_sched.trim_end_matches(','), &p)?;
    let mut sched = AutoSchedule::for_profile(p.clone());
    pj_compiler::passes::Pass::run(&mut sched, &mut pre)?;
    pj_compiler::ir::verify::verify(&pre).map_err(|e| anyhow!("{e}"))?;
    let decisions: Vec<Decision> = sched
        .decisions
        .iter()
        .filter(|d| d.kernel == kernel)
        .cloned()
        .collect();
    let chosen = estimate(&lower(&pre, after_sched, &p)?, &kernel, &sizes, &p)?;
    let mut report = Vec::new();
    for d in &decisions {
        // the alternative: this decision undone, every other one kept
        let mut alt = pre.clone();
        let k = alt.kernel(&kernel).expect("kernel");
        let stages = pj_compiler::passes::schedule::stages(&alt, k);
        let mut undone = false;
        for s in stages {
            let name = pj_compiler::passes::schedule::stage_name(&alt, s);
            let op = alt.op_mut(s);
            if name == d.stage && op.attr(REDUCE_ORDER).is_some() && d.choice.contains("outside") {
                op.remove_attr(REDUCE_ORDER);
                undone = true;
            }
            if d.choice.starts_with("tiles") {
                if name == d.stage {
                    op.remove_attr(TILE_BYTES);
                    undone = true;
                }
                if op.attr(COMPUTE_AT).and_then(|a| a.as_str()) == Some(d.stage.as_str()) {
                    op.remove_attr(COMPUTE_AT);
                }
            }
        }
        let other = if undone {
            Some(estimate(
                &lower(&alt, after_sched, &p)?,
                &kernel,
                &sizes,
                &p,
            )?)
        } else {
            None
        };
        report.push((d, other));
    }
    if opts.json {
        let v: Vec<_> = report
            .iter()
            .map(|(d, other)| {
                json!({
                    "stage": d.stage, "chosen": d.choice, "reason": d.reason,
                    "chosen_estimate": cost_json(&chosen.total),
                    "alternative_estimate": other.as_ref().map(|o| cost_json(&o.total)),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"kernel": kernel, "profile": p.name, "decisions": v})
            )?
        );
        return Ok(());
    }
    println!(
        "schedule of `{kernel}` for {} at {} (estimates: docs/energy-model.md)\n",
        p.name,
        sizes_text(&sizes)
    );
    if report.is_empty() {
        println!(
            "no stage has a choice to make: each is computed once, in order, its innermost loop vectorized where it can be"
        );
    }
    for (d, other) in &report {
        println!("stage `{}`: {}", d.stage, d.choice);
        println!("  why: {}", d.reason);
        let c = &chosen.total;
        println!(
            "  chosen:      {:>10.1} µJ {:>9.3} ms  DRAM {:>8.1} MB  ({}-bound)",
            c.picojoules / 1e6,
            c.seconds * 1e3,
            c.dram_bytes / MB,
            c.bound
        );
        if let Some(o) = other {
            let o = &o.total;
            println!(
                "  without it:  {:>10.1} µJ {:>9.3} ms  DRAM {:>8.1} MB  ({}-bound)",
                o.picojoules / 1e6,
                o.seconds * 1e3,
                o.dram_bytes / MB,
                o.bound
            );
            if o.picojoules < c.picojoules {
                println!(
                    "  note: the model estimates less energy without this choice at these sizes"
                );
            }
        }
        println!();
    }
    println!(
        "whole kernel: {:.1} µJ, {:.3} ms, DRAM {:.1} MB ({:.2}x the compulsory {:.1} MB)",
        chosen.total.picojoules / 1e6,
        chosen.total.seconds * 1e3,
        chosen.total.dram_bytes / MB,
        chosen.total.dram_bytes / chosen.compulsory_bytes.max(1.0),
        chosen.compulsory_bytes / MB
    );
    Ok(())
}
