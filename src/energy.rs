//! `pj energy` and `pj explain`: what the energy model estimates for a
//! kernel at given sizes, unoptimized and optimized, on one target profile
//! or all of them; and which schedule the optimizer chose, with the
//! estimated energy and time of the alternatives it weighed. The reports
//! themselves are `pj_compiler::target::report`'s; this is the command
//! line around them (files, sizes, JSON, the comparison of profiles).

use crate::bench::{choose_kernel, file_sizes, parse_sizes, warn_unknown_sizes};
use anyhow::{Context, Result, anyhow, bail};
use pj_compiler::Module;
use pj_compiler::passes::{DEFAULT_PIPELINE, PassManager};
use pj_compiler::target::energy::Cost;
use pj_compiler::target::profile::Profile;
use pj_compiler::target::report;
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
    /// Real data, as `pj run` takes it: `NAME=PATH.npy` (or a picture),
    /// whose shape binds the sizes it names (scalars are accepted and
    /// checked; the model does not depend on their values).
    #[arg(long = "arg", value_name = "NAME=VALUE")]
    pub args: Vec<String>,
    /// A profile: `host`, a built-in name (x86_64-avx512, x86_64-avx2, aarch64, apple-m1) or a TOML file.
    #[arg(long)]
    pub target: Option<String>,
    /// The code estimated: `cranelift` (its 128-bit vectors) or `llvm` (the
    /// target's widest).
    #[arg(long, value_enum, default_value = "cranelift")]
    pub backend: crate::commands::Backend,
    /// Worker threads the time is estimated for (default: 1; energy does
    /// not depend on them).
    #[arg(long, default_value_t = 1)]
    pub threads: u32,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
    /// Also draw the report as an SVG picture (`pj energy`: the energy by
    /// where it goes, -O0 against optimized; `pj explain`: the
    /// alternatives weighed per stage).
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// Draw the report in the terminal as bars of block characters instead
    /// of tables.
    #[arg(long, conflicts_with = "json")]
    pub bars: bool,
    /// Also estimate the kernel quantized (`int8` or `auto`, as `pj run
    /// --quantize` compiles it), and say what was chosen per stage.
    #[arg(long, value_parser = pj_compiler::quant::plan::Mode::parse)]
    pub quantize: Option<pj_compiler::quant::plan::Mode>,
    /// The tolerance of results that declare none, for `--quantize`.
    #[arg(long, value_parser = pj_compiler::quant::plan::parse_tolerance, requires = "quantize")]
    pub tolerance: Option<pj_compiler::dialects::pj::Tolerance>,
}

impl ModelArgs {
    /// `--backend` as a code generator (the interpreter has no code to
    /// estimate).
    fn code_generator(&self) -> Result<pj_compiler::codegen::Backend> {
        if self.threads == 0 {
            bail!("--threads must be at least 1");
        }
        self.backend.native().ok_or_else(|| {
            anyhow!(
                "--backend interp: the interpreter has no code to estimate; use cranelift or llvm"
            )
        })
    }

    /// `--quantize`, or for a kernel whose schedule block asks for schemes
    /// (`s.quantize(...)`), those alone: its estimate beside the float one.
    fn request(&self, m: &pj_compiler::Module) -> Option<pj_compiler::quant::plan::Request> {
        use pj_compiler::quant::plan::{Mode, Request, has_stage_requests};
        match self.quantize {
            Some(mode) => Some(Request {
                mode,
                tolerance: self.tolerance,
            }),
            None => has_stage_requests(m).then(|| Request::new(Mode::Off)),
        }
    }
}

fn profile(name: Option<&str>) -> Result<Profile> {
    match name {
        None | Some("host") => Ok(crate::machine::host_for_estimates()),
        Some(n) => Profile::load(n).map_err(|e| anyhow!(e)),
    }
}

/// The kernel's `pj` IR after the default pipeline, its name, and its sizes.
fn prepare(opts: &ModelArgs) -> Result<(Module, String, HashMap<String, i64>)> {
    if let Some(path) = &opts.plot {
        crate::plot::check_path(path)?;
    }
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
    // data: each array's shape binds its sizes (over --size)
    let sig = pj_compiler::dialects::signature(&m, m.kernel(&kernel).expect("chosen"));
    for (p, text) in crate::kernel_args::given_args(&kernel, &sig.params, &opts.args)? {
        let ty = &sig.params.iter().find(|(n, _)| n == p).expect("checked").1;
        match ty.dims() {
            Some(dims) => {
                let b = crate::kernel_args::array_buffer(p, ty, text)?;
                if b.shape().len() != dims.len() {
                    bail!(
                        "argument `{p}` is {ty}, but `{text}` holds an array of shape {:?}",
                        b.shape()
                    );
                }
                for (d, &n) in dims.iter().zip(&b.shape()) {
                    if let pj_compiler::ir::Dim::Sym(s) = d {
                        sizes.insert(s.clone(), n as i64);
                    }
                }
            }
            None => {
                let t = ty.elem();
                crate::kernel_args::parse_scalar(text, t)
                    .ok_or_else(|| anyhow!("argument `{p}`: `{text}` is not a valid {t}"))?;
            }
        }
    }
    let known = report::size_names(&m, &kernel);
    warn_unknown_sizes(&given, &known, &kernel);
    let sizes = report::sizes_for(&m, &kernel, &sizes).map_err(|e| anyhow!(e))?;
    Ok((m, kernel, sizes))
}

const MB: f64 = 1e6;

fn cost_json(c: &Cost) -> serde_json::Value {
    json!({
        "label": c.label, "ops": c.total_ops(), "instructions": c.instructions,
        "l1_bytes": c.l1_bytes, "l2_bytes": c.l2_bytes, "llc_bytes": c.llc_bytes,
        "dram_bytes": c.dram_bytes, "microjoules": c.picojoules / 1e6,
        "dram_fill_bytes": c.dram_fill_bytes, "fp_instructions": c.fp_instructions,
        "divider_vectors": c.divider_vectors,
        "int_divisions": c.int_divisions,
        "lines": c.lines, "parallel_chunks": c.parallel_chunks,
        "seconds": c.seconds, "bound": c.bound, "llc_retained": c.llc_retained,
        "streamed_bytes": c.streamed_bytes,
    })
}

/// Runs `pj energy`.
pub fn energy(opts: &ModelArgs, compare: bool) -> Result<()> {
    let (m, kernel, sizes) = prepare(opts)?;
    let profiles = if compare {
        let mut v = vec![crate::machine::host_for_estimates()];
        v.extend(Profile::all_builtin());
        v
    } else {
        vec![profile(opts.target.as_deref())?]
    };
    let mut out = Vec::new();
    for p in &profiles {
        let backend = opts.code_generator()?;
        let r = match opts.request(&m) {
            Some(req) => report::energy_quantized(&m, &kernel, &sizes, p, req, backend),
            None => report::energy_for(&m, &kernel, &sizes, p, backend),
        };
        out.push(r.map_err(|e| anyhow!(e))?.at_threads(opts.threads));
    }
    if let Some(path) = &opts.plot {
        if out.len() > 1 {
            bail!("--plot draws one profile's report: leave out --compare");
        }
        crate::plot::write_svg(path, &crate::plot::energy::svg(&out[0])?)?;
        eprintln!("drew {}", path.display());
    }
    if opts.bars {
        for r in &out {
            print!("{}", crate::plot::text::energy(r));
        }
        return Ok(());
    }
    if opts.json {
        let v: Vec<_> = out
            .iter()
            .map(|r| {
                let (p, b, a) = (&r.profile, &r.unoptimized, &r.optimized);
                let mut v = json!({
                    "profile": p.name, "kernel": kernel, "sizes": sizes,
                    "compulsory_bytes": a.compulsory_bytes,
                    "footprint_bytes": a.footprint_bytes,
                    "unoptimized": {"nests": b.nests.iter().map(cost_json).collect::<Vec<_>>(), "total": cost_json(&b.total)},
                    "optimized": {"nests": a.nests.iter().map(cost_json).collect::<Vec<_>>(), "total": cost_json(&a.total)},
                });
                if let Some(q) = &r.quantized {
                    v["quantized"] = json!({
                        "notes": q.notes,
                        "nests": q.estimate.nests.iter().map(cost_json).collect::<Vec<_>>(),
                        "total": cost_json(&q.estimate.total),
                    });
                }
                v
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    if !compare {
        print!("{}", out[0].text());
        return Ok(());
    }
    println!("{}", out[0].heading());
    {
        let (per, unit) = report::energy_unit(
            out.iter()
                .map(|r| r.unoptimized.total.picojoules)
                .fold(0.0, f64::max),
        );
        println!(
            "\n  {:<26} {:>12} {:>10} {:>9} {:>9}  bound, at",
            if opts.threads == 1 {
                "profile (one core)".to_string()
            } else {
                format!("profile ({} threads)", opts.threads)
            },
            format!("energy {unit}"),
            "time ms",
            "DRAM MB",
            format!("{unit} -O0")
        );
        for r in &out {
            let (p, b, a) = (&r.profile, &r.unoptimized, &r.optimized);
            println!(
                "  {:<26} {:>12.2} {:>10.3} {:>9.1} {:>9.2}  {}, {}",
                report::truncate(&p.name, 26),
                a.total.picojoules / per,
                a.total.seconds * 1e3,
                a.total.dram_bytes / MB,
                b.total.picojoules / per,
                a.total.bound,
                bound_rate(p, a.total.bound)
            );
        }
        let best = out
            .iter()
            .skip(1)
            .min_by(|x, y| {
                x.optimized
                    .total
                    .picojoules
                    .total_cmp(&y.optimized.total.picojoules)
            })
            .expect("profiles");
        println!(
            "\nleast energy per run: {} ({}, estimated); fastest: {}",
            best.profile.name,
            pj_compiler::target::report::energy_text(best.optimized.total.picojoules),
            out.iter()
                .skip(1)
                .min_by(|x, y| x
                    .optimized
                    .total
                    .seconds
                    .total_cmp(&y.optimized.total.seconds))
                .map(|x| x.profile.name.clone())
                .unwrap_or_default()
        );
    }
    Ok(())
}

/// What the profile says of the level that bounds a time: why one
/// profile's estimate is faster than another's (`x86_64-avx2`'s Zen 3
/// streams from DRAM faster per core than the written Sapphire Rapids).
fn bound_rate(p: &Profile, bound: &str) -> String {
    let b = &p.bandwidth;
    match bound {
        "L1" => format!("{:.0} GB/s", b.l1_gbs),
        "L2" => format!("{:.0} GB/s", b.l2_gbs),
        "LLC" => format!("{:.0} GB/s", b.llc_gbs),
        "DRAM" => format!("{:.0} GB/s", b.dram_gbs),
        _ => format!(
            "{:.2} GHz x {:.2} FP/cycle",
            p.ghz, p.throughput.vector_fp_per_cycle
        ),
    }
}

/// Runs `pj explain`.
pub fn explain(opts: &ModelArgs) -> Result<()> {
    let (m, kernel, sizes) = prepare(opts)?;
    let p = profile(opts.target.as_deref())?;
    // quantized: the notes and the float kernel's estimate beside the
    // quantized one, then the schedule of the quantized kernel
    let (m, quantized) = match opts.request(&m) {
        Some(req) => {
            let backend = opts.code_generator()?;
            let (q, notes) =
                report::quantize(&m, req, &sizes, &p, backend).map_err(|e| anyhow!(e))?;
            let float =
                report::energy_for(&m, &kernel, &sizes, &p, backend).map_err(|e| anyhow!(e))?;
            // both estimated for the backend's code, as `pj energy` does
            let narrow =
                report::energy_for(&q, &kernel, &sizes, &p, backend).map_err(|e| anyhow!(e))?;
            (q, Some((notes, float.optimized, narrow.optimized)))
        }
        None => (m, None),
    };
    let e = report::explain_for(&m, &kernel, &sizes, &p, opts.code_generator()?)
        .map_err(|e| anyhow!(e))?
        .at_threads(opts.threads);
    if let Some(path) = &opts.plot {
        crate::plot::write_svg(path, &crate::plot::alternatives::svg(&e)?)?;
        eprintln!("drew {}", path.display());
    }
    if opts.bars {
        print!("{}", crate::plot::text::alternatives(&e));
        return Ok(());
    }
    let quantized = quantized
        .map(|(notes, float, estimate)| (report::QuantizedReport { notes, estimate }, float));
    if opts.json {
        let v: Vec<_> = e
            .decisions
            .iter()
            .map(|r| {
                let d = &r.decision;
                json!({
                    "stage": d.stage, "chosen": d.choice, "reason": d.reason,
                    "alternatives": r.alternatives.iter().map(|a| json!({
                        "alternative": a.label, "chosen": a.chosen, "estimate": cost_json(&a.estimate.total),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let mut out = json!({
            "kernel": kernel, "profile": p.name, "decisions": v,
            "total": cost_json(&e.chosen.total),
        });
        if let Some((q, float)) = &quantized {
            out["quantization"] = json!({"notes": q.notes, "float_total": cost_json(&float.total)});
        }
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    if let Some((q, float)) = &quantized {
        println!("{}", q.text(float));
    }
    print!("{}", e.text());
    Ok(())
}
