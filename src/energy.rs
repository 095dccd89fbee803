//! `pj energy` and `pj explain`: what the energy model estimates for a
//! kernel at given sizes, unoptimized and optimized, on one target profile
//! or all of them; and which schedule the optimizer chose, with the
//! estimated energy and time of the alternatives it weighed.

use crate::bench::{choose_kernel, file_sizes, parse_sizes, warn_unknown_sizes};
use anyhow::{Context, Result, anyhow, bail};
use pj_compiler::Module;
use pj_compiler::codegen::{AFTER_DEFAULT_PIPELINE, UNOPTIMIZED_PIPELINE};
use pj_compiler::passes::schedule::{AutoSchedule, COMPUTE_AT, Decision, REDUCE_ORDER, TILE_BYTES};
use pj_compiler::passes::{DEFAULT_PIPELINE, PassManager};
use pj_compiler::target::energy::{Cost, Estimate, estimate};
use pj_compiler::target::profile::Profile;
use serde_json::json;
use std::collections::HashMap;
use std::path::PathBuf;

/// The arguments `pj energy` and `pj explain` share.
#[derive(clap::Args, Debug)]
pub struct ModelArgs {
    /// A .pj source file.
    pub file: PathBuf,
    /// The kernel (may be omitted when the file has one).
    #[arg(long)]
    pub kernel: Option<String>,
    /// Sizes, e.g. `--size H=4096,W=4096` (default: the file's `// bench:` line, else 1024).
    #[arg(long = "size", value_name = "NAME=VALUE,...")]
    pub sizes: Vec<String>,
    /// A profile: `host`, a built-in name (x86_64-avx512, x86_64-avx2, aarch64, apple-m1) or a TOML file.
    #[arg(long)]
    pub target: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

fn profile(name: Option<&str>) -> Result<Profile> {
    match name {
        None | Some("host") => Ok(Profile::host()),
        Some(n) => Profile::load(n).map_err(|e| anyhow!(e)),
    }
}

/// The kernel's `pj` IR after the default pipeline, its name, and its sizes.
fn prepare(opts: &ModelArgs) -> Result<(Module, String, HashMap<String, i64>)> {
    let path = &opts.file;
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
    let kernel = choose_kernel(&m.kernel_names(), opts.kernel.as_deref())?;
    let mut sizes =
        file_sizes(&src).with_context(|| format!("the `// bench:` line of `{name}`"))?;
    let mut given = HashMap::new();
    parse_sizes(&opts.sizes, &mut given)?;
    sizes.extend(given.clone());
    let known: Vec<String> = {
        let k = m.kernel(&kernel).expect("listed");
        let mut names = Vec::new();
        for (_, ty) in pj_compiler::dialects::signature(&m, k).params {
            if let pj_compiler::ir::Type::Tensor { dims, .. } = ty {
                for d in dims {
                    if let pj_compiler::ir::Dim::Sym(s) = d
                        && !names.contains(&s)
                    {
                        names.push(s);
                    }
                }
            }
        }
        names
    };
    warn_unknown_sizes(&given, &known, &kernel);
    // every size the kernel names gets a value; no array may be larger
    // than a machine's address space (the model's arithmetic is 64-bit)
    let k = m.kernel(&kernel).expect("listed");
    for (pname, ty) in pj_compiler::dialects::signature(&m, k).params {
        if let pj_compiler::ir::Type::Tensor { dims, elem } = ty {
            let mut bytes: Option<i64> = Some(elem.size_bytes() as i64);
            for d in dims {
                let n = match d {
                    pj_compiler::ir::Dim::Sym(s) => *sizes.entry(s).or_insert(1024),
                    pj_compiler::ir::Dim::Static(n) => n,
                    pj_compiler::ir::Dim::Dynamic => 1,
                };
                bytes = bytes.and_then(|b| b.checked_mul(n));
            }
            match bytes {
                Some(b) if b <= 1 << 48 => {}
                _ => bail!(
                    "at {} the array `{pname}` would exceed 2^48 bytes: choose smaller sizes",
                    sizes_text(&sizes)
                ),
            }
        }
    }
    Ok((m, kernel, sizes))
}

fn lower(m: &Module, pipeline: &str, p: &Profile) -> Result<Module> {
    let mut l = m.clone();
    // as `pj run` compiles by default (reassociated float reductions)
    pj_compiler::codegen::Options::default()
        .configure(PassManager::parse(pipeline).map_err(|e| anyhow!(e))?, p)
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
pub fn energy(opts: &ModelArgs, compare: bool) -> Result<()> {
    let (m, kernel, sizes) = prepare(opts)?;
    let optimized = pj_compiler::codegen::LOWERING_PIPELINE;
    let profiles = if compare {
        let mut v = vec![Profile::host()];
        v.extend(Profile::all_builtin());
        v
    } else {
        vec![profile(opts.target.as_deref())?]
    };
    let mut out = Vec::new();
    for p in &profiles {
        let before = estimate(&lower(&m, UNOPTIMIZED_PIPELINE, p)?, &kernel, &sizes, p)?;
        let after = estimate(&lower(&m, optimized, p)?, &kernel, &sizes, p)?;
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
pub fn explain(opts: &ModelArgs) -> Result<()> {
    let (m, kernel, sizes) = prepare(opts)?;
    let p = profile(opts.target.as_deref())?;
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
    // every decision's alternatives, each estimated with all other
    // decisions kept: what the model weighs
    let mut report = Vec::new();
    for d in &decisions {
        let mut alts: Vec<(String, Estimate, bool)> = Vec::new();
        for (label, variant, is_chosen) in alternatives(&pre, &kernel, d, &p) {
            let e = estimate(&lower(&variant, after_sched, &p)?, &kernel, &sizes, &p)?;
            alts.push((label, e, is_chosen));
        }
        report.push((d, alts));
    }
    if opts.json {
        let v: Vec<_> = report
            .iter()
            .map(|(d, alts)| {
                json!({
                    "stage": d.stage, "chosen": d.choice, "reason": d.reason,
                    "alternatives": alts.iter().map(|(l, e, c)| json!({
                        "alternative": l, "chosen": c, "estimate": cost_json(&e.total),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "kernel": kernel, "profile": p.name, "decisions": v,
                "total": cost_json(&chosen.total),
            }))?
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
            "no stage has a choice to make: each is computed once, in order, its innermost loop vectorized where it can be\n"
        );
    }
    for (d, alts) in &report {
        println!("stage `{}`: {}", d.stage, d.choice);
        println!("  why: {}", d.reason);
        if alts.len() > 1 {
            let w = alts
                .iter()
                .map(|a| a.0.chars().count())
                .max()
                .unwrap_or(0)
                .max(42);
            println!(
                "  {:<w2$} {:>12} {:>10} {:>9}  bound",
                "alternatives weighed",
                "energy µJ",
                "time ms",
                "DRAM MB",
                w2 = w + 2
            );
            for (label, e, is_chosen) in alts {
                let t = &e.total;
                println!(
                    "  {} {:<w$} {:>12.1} {:>10.3} {:>9.1}  {}",
                    if *is_chosen { "*" } else { " " },
                    label,
                    t.picojoules / 1e6,
                    t.seconds * 1e3,
                    t.dram_bytes / MB,
                    t.bound
                );
            }
            let best = alts
                .iter()
                .min_by(|a, b| a.1.total.picojoules.total_cmp(&b.1.total.picojoules))
                .expect("alternatives");
            if !best.2 {
                println!(
                    "  note: at these sizes the model estimates least energy for `{}` (the choice follows rules that do not know the sizes; the model's compute estimate is crude: docs/energy-model.md)",
                    best.0
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

/// The legal alternatives to one decision, as modules to lower: label,
/// module, whether it is what was chosen. A decision the schedule block
/// made has none.
fn alternatives(
    pre: &Module,
    kernel: &str,
    d: &Decision,
    p: &Profile,
) -> Vec<(String, Module, bool)> {
    use pj_compiler::ir::Attr;
    use pj_compiler::passes::schedule as sch;
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
