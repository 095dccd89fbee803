//! `pj bench`: compile a kernel once, run it on random inputs with warm-up
//! and repetitions, and report compile time, run-time statistics and how
//! close the kernel comes to this machine's memory roofline, measured in the
//! same run (a STREAM-like triad).

use anyhow::{Context, Result, anyhow, bail};
use pj_compiler::codegen::driver::{self, Options, Stage};
use pj_compiler::codegen::{JitModule, KernelArg, Tier};
use pj_compiler::dialects::arith::Scalar;
use pj_compiler::ir::{Dim, ScalarType, Type};
use pj_compiler::passes::PassManager;
use pj_compiler::target::energy::Cost;
use pj_runtime::Buffer;
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// Compiles per `pj bench`; compile times are their medians.
const COMPILES: usize = 7;

/// Options of `pj bench`.
pub struct BenchOptions<'a> {
    /// The kernel (may be omitted when the file has one).
    pub kernel: Option<&'a str>,
    /// `NAME=VALUE` size bindings; unset sizes come from the file's
    /// `// bench: H=4096, W=4096` line, else 1024.
    pub sizes: &'a [String],
    /// `NAME=PATH` data for arrays, `NAME=VALUE` for scalars (as `pj run`).
    pub args: &'a [String],
    /// Timed repetitions (at least); more run while under `min_time`.
    pub reps: usize,
    /// Worker threads for parallel loops.
    pub threads: Option<usize>,
    /// One compile and exactly one run, no warm-up: for running under a
    /// simulator (`bench/cachegrind.sh`), where every access is counted.
    pub once: bool,
    /// The backend, `-O`, fast-math and tier (the quick tier is what
    /// `pj repl` compiles first).
    pub compile: Options,
    /// Print JSON instead of a table.
    pub json: bool,
    /// Also measure the memory roofline and report the fraction reached.
    pub roofline: bool,
    /// With `roofline`: draw the kernel on it, an SVG file here.
    pub plot: Option<&'a Path>,
}

#[derive(Serialize)]
struct Report {
    kernel: String,
    backend: &'static str,
    sizes: Vec<(String, i64)>,
    /// Each scalar parameter's value, and whether it was given (`--arg`).
    scalars: Vec<(String, String, bool)>,
    threads: usize,
    compile_ms: Phases,
    runs: usize,
    median_ms: f64,
    min_ms: f64,
    max_ms: f64,
    compulsory_bytes: u64,
    gb_per_s: f64,
    roofline: Option<Roofline>,
    /// The energy model's estimate at the same sizes, threads and backend
    /// (the host profile), beside the measurement: time and energy.
    estimate_ms: Option<f64>,
    estimate_picojoules: Option<f64>,
    /// The middle half of the runs spread by more than a quarter: the
    /// machine was probably busy.
    busy: bool,
}

#[derive(Serialize)]
struct Phases {
    front_end: f64,
    passes: f64,
    lowering: f64,
    /// The backend's own time (JSON key kept from when Cranelift was the
    /// only backend, so scripts reading it keep working).
    #[serde(rename = "cranelift")]
    codegen: f64,
    total: f64,
}

#[derive(Serialize)]
struct Roofline {
    triad_gb_per_s: f64,
    bound_ms: f64,
    fraction: f64,
}

/// xorshift64*: deterministic inputs, the same every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

use pj_compiler::codegen::abi::elem_code;

/// Each parameter's declared `@range(lo, hi)`, by name: random data stays
/// in it (an image's `[0, 1]`: `pow` of a negative base takes its slow
/// path, which real data would not).
fn declared_ranges(src: &str, kernel: &str) -> HashMap<String, (f64, f64)> {
    let Ok(c) = pj_compiler::compile_source("bench", src) else {
        return HashMap::new();
    };
    let m = c.module;
    let Some(k) = m.kernel(kernel) else {
        return HashMap::new();
    };
    pj_compiler::dialects::signature(&m, k)
        .params
        .into_iter()
        .enumerate()
        .filter_map(|(i, (n, _))| pj_compiler::dialects::pj::param_range(&m, k, i).map(|r| (n, r)))
        .collect()
}

/// Random bytes for `n` elements of `t`: within `range` where one is
/// declared, else floats in [-1, 1) and small integers.
fn random_bytes(
    t: ScalarType,
    n: usize,
    range: Option<(f64, f64)>,
    rng: &mut Rng,
) -> Result<Vec<u8>> {
    // sizes come from the command line: a failed allocation is an error,
    // not an abort
    let bytes = n
        .checked_mul(t.size_bytes())
        .ok_or_else(|| anyhow!("{n} elements of {t} overflow the address space"))?;
    let mut out = Vec::new();
    out.try_reserve_exact(bytes)
        .map_err(|_| anyhow!("cannot allocate {bytes} bytes for {n} elements of {t}"))?;
    for _ in 0..n {
        let r = rng.next();
        let unit = (r >> 11) as f64 / (1u64 << 53) as f64;
        let s = if let Some((lo, hi)) = range {
            let v = lo + unit * (hi - lo);
            if t.is_float() {
                Scalar::F64(v).cast(t)
            } else {
                Scalar::I64(v.round() as i64).cast(t)
            }
        } else if t.is_float() {
            Scalar::F64(unit * 2.0 - 1.0).cast(t)
        } else {
            Scalar::I64((r % 64) as i64 - 16).cast(t)
        };
        match s {
            Scalar::F32(v) => out.extend(v.to_le_bytes()),
            Scalar::F64(v) => out.extend(v.to_le_bytes()),
            Scalar::F16(q) | Scalar::Bf16(q) => out.extend(q.to_le_bytes()),
            s => {
                let v = s.as_i64().unwrap_or(0).to_le_bytes();
                out.extend(&v[..t.size_bytes()]);
            }
        }
    }
    Ok(out)
}

/// Adds `NAME=VALUE[,NAME=VALUE...]` bindings to `out`, refusing nonsense.
pub fn parse_sizes(list: &[String], out: &mut HashMap<String, i64>) -> Result<()> {
    for l in list {
        pj_compiler::target::report::add_sizes(l, out).map_err(|e| anyhow!(e))?;
    }
    Ok(())
}

/// Warns about `--size` names the kernel does not have (`known`): a typo
/// would otherwise leave the size at its default without a word. Only a
/// warning: one list of sizes may serve several kernels.
pub fn warn_unknown_sizes(given: &HashMap<String, i64>, known: &[String], kernel: &str) {
    let mut unknown: Vec<&String> = given.keys().filter(|g| !known.contains(g)).collect();
    unknown.sort();
    if !unknown.is_empty() {
        let names = if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        };
        let list: Vec<&str> = unknown.iter().map(|s| s.as_str()).collect();
        eprintln!(
            "warning: `--size {}`: kernel `{kernel}` has no size of that name (its sizes are {names}); ignored",
            list.join(", ")
        );
    }
}

/// The kernel `--kernel` names, or the file's only one.
pub fn choose_kernel(kernels: &[String], wanted: Option<&str>) -> Result<String> {
    Ok(match wanted {
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
    })
}

/// The sizes of a file's `// bench: H=4096, W=4096` line (none if it has none).
pub fn file_sizes(src: &str) -> Result<HashMap<String, i64>> {
    pj_compiler::target::report::bench_sizes(src).map_err(|e| anyhow!(e))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Runs `pj bench`.
pub fn bench(path: &Path, opts: &BenchOptions<'_>) -> Result<()> {
    if let Some(n) = opts.threads {
        pj_runtime::parallel::set_threads(n).map_err(|e| anyhow!("--threads {e}"))?;
    }
    let src = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    let name_for_diags = path.display().to_string();
    // sizes: command line, then the file's `// bench:` line, then 1024
    let mut sizes = file_sizes(&src)
        .with_context(|| format!("the `// bench:` line of `{}`", path.display()))?;
    let mut given = HashMap::new();
    parse_sizes(opts.sizes, &mut given)?;
    sizes.extend(given.clone());
    // `auto` weighs its choices at them
    let compile = Options {
        sizes: sizes.clone(),
        ..opts.compile.clone()
    };
    // Compile several times: a single compile is at the mercy of cold
    // caches; the median is what a user iterating in a REPL sees.
    let said = std::cell::Cell::new(false);
    let compile_once = || -> Result<(JitModule, String, [Duration; 4])> {
        let t0 = Instant::now();
        let compiled = pj_compiler::compile_source(&name_for_diags, &src).map_err(|diags| {
            eprint!(
                "{}",
                pj_lang::diagnostic::render_all(&diags, &name_for_diags, &src)
            );
            anyhow!("`{}` has errors", path.display())
        })?;
        let front = t0.elapsed();
        let mut m = compiled.module;
        let t1 = Instant::now();
        if opts.compile.opt_level > 0 {
            PassManager::default_pipeline().run(&mut m)?;
        }
        let passes = t1.elapsed();
        let name = choose_kernel(&m.kernel_names(), opts.kernel)?;
        let t2 = Instant::now();
        let (lowered, records) = driver::lower(&m, &compile, Stage::Optimized)?;
        let lowering = t2.elapsed();
        // what `--quantize` chose, said once
        if !said.replace(true) {
            crate::commands::print_notes(&records);
        }
        let t3 = Instant::now();
        let code = driver::jit(&lowered, &compile)?;
        let codegen = t3.elapsed();
        Ok((code, name, [front, passes, lowering, codegen]))
    };
    let mut samples: Vec<[Duration; 4]> = Vec::new();
    let mut progress = crate::progress::Progress::new("bench");
    let (code, name) = loop {
        let (code, name, phases) = compile_once()?;
        samples.push(phases);
        progress.tick(|| format!("compile {} of {COMPILES}", samples.len()));
        if samples.len() == COMPILES || opts.once {
            break (code, name);
        }
    };
    let median_of = |k: usize| {
        let mut v: Vec<Duration> = samples.iter().map(|p| p[k]).collect();
        v.sort();
        v[v.len() / 2]
    };
    let mut totals: Vec<Duration> = samples.iter().map(|p| p.iter().sum()).collect();
    totals.sort();
    let (front, passes, lowering, codegen) =
        (median_of(0), median_of(1), median_of(2), median_of(3));
    let kernel = code
        .kernel(&name)
        .ok_or_else(|| anyhow!("kernel `{name}` was not compiled"))?;

    if let Some(path) = opts.plot {
        crate::plot::check_path(path)?;
    }
    let ranges = declared_ranges(&src, &name);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut owned: Vec<Option<Buffer>> = Vec::new();
    let mut scalars: Vec<Scalar> = Vec::new();
    let mut bytes_in = 0u64;
    let mut used: Vec<(String, i64)> = Vec::new();
    let given_args = crate::kernel_args::given_args(&name, &kernel.params, opts.args)?;
    let mut scalar_report: Vec<(String, String, bool)> = Vec::new();
    for (pname, ty) in &kernel.params {
        if let Some(text) = given_args.get(pname.as_str()) {
            match ty {
                Type::Buffer { .. } => {
                    let b = crate::kernel_args::array_buffer(pname, ty, text)?;
                    // its shape binds the sizes it names
                    if let Type::Buffer { dims, .. } = ty {
                        for (d, &n) in dims.iter().zip(&b.shape()) {
                            if let Dim::Sym(s) = d {
                                sizes.insert(s.clone(), n as i64);
                                if !used.iter().any(|(u, _)| u == s) {
                                    used.push((s.clone(), n as i64));
                                }
                            }
                        }
                    }
                    bytes_in += b.bytes().len() as u64;
                    owned.push(Some(b));
                    scalars.push(Scalar::Bool(false));
                }
                Type::Scalar(t) => {
                    let s = crate::kernel_args::parse_scalar(text, *t).ok_or_else(|| {
                        anyhow!("argument `{pname}`: `{text}` is not a valid {t}")
                    })?;
                    scalar_report.push((pname.clone(), text.to_string(), true));
                    owned.push(None);
                    scalars.push(s);
                }
                other => bail!("cannot benchmark a kernel taking {other}"),
            }
            continue;
        }
        match ty {
            Type::Buffer { elem, dims } => {
                let shape: Vec<usize> = dims
                    .iter()
                    .map(|d| match d {
                        Dim::Static(n) => *n as usize,
                        Dim::Sym(s) => {
                            let v = *sizes.entry(s.clone()).or_insert(1024);
                            if !used.iter().any(|(n, _)| n == s) {
                                used.push((s.clone(), v));
                            }
                            v as usize
                        }
                        Dim::Dynamic => 1024,
                    })
                    .collect();
                let n = shape
                    .iter()
                    .try_fold(1usize, |a, &d| a.checked_mul(d))
                    .ok_or_else(|| anyhow!("sizes overflow"))?;
                let range = ranges.get(pname.as_str()).copied();
                let data = random_bytes(*elem, n, range, &mut rng)
                    .with_context(|| format!("argument `{pname}`"))?;
                bytes_in += data.len() as u64;
                owned.push(Some(
                    Buffer::from_bytes(elem_code(*elem), &shape, &data)
                        .map_err(|e| anyhow!("{e}"))?,
                ));
                scalars.push(Scalar::Bool(false));
            }
            Type::Scalar(t) => {
                // 0.5 would be 0 for an integer (a window of nothing)
                let s = if t.is_float() {
                    Scalar::F64(0.5).cast(*t)
                } else {
                    Scalar::I64(1).cast(*t)
                };
                scalar_report.push((pname.clone(), crate::commands::fmt_scalar(&s), false));
                owned.push(None);
                scalars.push(s);
            }
            other => bail!("cannot benchmark a kernel taking {other}"),
        }
    }
    let known: Vec<String> = used.iter().map(|(n, _)| n.clone()).collect();
    warn_unknown_sizes(&given, &known, &name);
    let mut args: Vec<KernelArg<'_>> = owned
        .iter_mut()
        .zip(&scalars)
        .map(|(b, s)| match b {
            Some(b) => KernelArg::Array(b),
            None => KernelArg::Scalar(*s),
        })
        .collect();
    let shapes = kernel.result_shapes(&mut args)?;
    let mut outputs: Vec<Buffer> = kernel
        .results
        .iter()
        .zip(&shapes)
        .map(|((_, e, _), s)| Buffer::zeros(elem_code(*e), s).map_err(|e| anyhow!("{e}")))
        .collect::<Result<_>>()?;
    let bytes_out: u64 = outputs.iter().map(|b| b.bytes().len() as u64).sum();
    let mut run = |args: &mut [KernelArg<'_>]| -> Result<Duration> {
        let mut refs: Vec<&mut Buffer> = outputs.iter_mut().collect();
        let t = Instant::now();
        kernel.call_buffers(args, &mut refs)?;
        Ok(t.elapsed())
    };
    // warm-up, then at least `reps` runs and at least half a second
    let mut times = Vec::new();
    if opts.once {
        // start cold, as a simulator should see it: the inputs just written
        // would otherwise sit in its last-level cache
        let mut sweep = vec![0u8; 64 << 20];
        for (i, b) in sweep.iter_mut().enumerate().step_by(64) {
            *b = i as u8;
        }
        std::hint::black_box(&sweep);
        drop(sweep);
        times.push(run(&mut args)?);
    } else {
        let mut progress = crate::progress::Progress::new("bench");
        run(&mut args)?;
        let start = Instant::now();
        while times.len() < opts.reps.max(1)
            || (start.elapsed() < Duration::from_millis(500) && times.len() < 1000)
        {
            times.push(run(&mut args)?);
            progress.tick(|| format!("run {} of at least {}", times.len(), opts.reps.max(1)));
        }
    }
    times.sort();
    let median = times[times.len() / 2];
    let n = times.len();
    let busy = n >= 8 && times[3 * n / 4].as_secs_f64() > 1.25 * times[n / 4].as_secs_f64();
    let estimate = model_estimate(
        &src,
        &name,
        &used,
        opts,
        pj_runtime::parallel::threads() as u32,
    );
    let compulsory = bytes_in + bytes_out;
    let roofline = opts.roofline.then(|| {
        let bw = picojoule::roofline::triad_bandwidth();
        let bound = compulsory as f64 / (bw * 1e9);
        Roofline {
            triad_gb_per_s: bw,
            bound_ms: bound * 1e3,
            fraction: bound / median.as_secs_f64(),
        }
    });
    if let (Some(path), Some(r), Some(est)) = (opts.plot, &roofline, &estimate) {
        let p = pj_compiler::target::profile::Profile::host();
        let threads = pj_runtime::parallel::threads() as f64;
        let lanes = match opts.compile.backend {
            pj_compiler::codegen::Backend::Llvm => f64::from(p.vector_bits / 32),
            pj_compiler::codegen::Backend::Cranelift => 4.0,
        };
        // the roofs of the threads that ran: DRAM's as measured for all
        // cores where it was, else one core's times the threads
        let memory_scale = p.bandwidth.dram_all_cores_gbs.map_or(threads, |all| {
            (all / p.bandwidth.dram_gbs).clamp(1.0, threads)
        });
        let point = crate::plot::roofline::Point {
            kernel: &name,
            ops: est.total_ops(),
            bytes: compulsory as f64,
            seconds: median.as_secs_f64(),
            bandwidth_gbs: r.triad_gb_per_s * if threads > 1.0 { memory_scale } else { 1.0 },
            peak_gops: p.ghz * p.throughput.vector_fp_per_cycle * 2.0 * lanes * threads,
            peak_note: format!(
                "{} thread{}, {}-lane FMAs at the sustained rate",
                threads,
                if threads == 1.0 { "" } else { "s" },
                lanes
            ),
        };
        crate::plot::write_svg(path, &crate::plot::roofline::svg(&point)?)?;
        eprintln!("drew {}", path.display());
    }
    let report = Report {
        kernel: name,
        backend: opts.compile.backend.name(),
        sizes: used,
        scalars: scalar_report,
        threads: pj_runtime::parallel::threads(),
        compile_ms: Phases {
            front_end: ms(front),
            passes: ms(passes),
            lowering: ms(lowering),
            codegen: ms(codegen),
            total: ms(totals[totals.len() / 2]),
        },
        runs: times.len(),
        median_ms: ms(median),
        min_ms: ms(times[0]),
        max_ms: ms(*times.last().expect("at least one run")),
        compulsory_bytes: compulsory,
        gb_per_s: compulsory as f64 / median.as_secs_f64() / 1e9,
        roofline,
        estimate_ms: estimate.as_ref().map(|c| c.seconds * 1e3),
        estimate_picojoules: estimate.as_ref().map(|c| c.picojoules),
        busy,
    };
    if opts.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let sizes: Vec<String> = report
        .sizes
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    println!(
        "{} ({}), {} thread{}",
        report.kernel,
        sizes.join(", "),
        report.threads,
        if report.threads == 1 { "" } else { "s" }
    );
    if !report.scalars.is_empty() {
        let shown: Vec<String> = report
            .scalars
            .iter()
            .map(|(n, v, given)| {
                if *given {
                    format!("{n}={v}")
                } else {
                    format!("{n}={v} (default; --arg {n}=VALUE)")
                }
            })
            .collect();
        println!("  scalars    {}", shown.join(", "));
    }
    let c = &report.compile_ms;
    println!(
        "  compile    {:.2} ms median of {COMPILES} (front end {:.2}, passes {:.2}, lowering {:.2}, {} {:.2}; {} tier)",
        c.total,
        c.front_end,
        c.passes,
        c.lowering,
        report.backend,
        c.codegen,
        match opts.compile.tier {
            Tier::Quick => "quick",
            Tier::Optimizing => "optimizing",
        }
    );
    println!(
        "  run        median {:.3} ms, min {:.3}, max {:.3} over {} runs",
        report.median_ms, report.min_ms, report.max_ms, report.runs
    );
    if let (Some(ms), Some(pj)) = (report.estimate_ms, report.estimate_picojoules) {
        let profile = pj_compiler::target::profile::Profile::host();
        println!(
            "  estimate   {ms:.3} ms, {} with {} thread{} (the energy model's on {}: docs/energy-model.md; energy is never measured)",
            pj_compiler::target::report::energy_text(pj),
            report.threads,
            if report.threads == 1 { "" } else { "s" },
            if profile.is_measured() {
                "this machine as `pj calibrate` measured it".to_string()
            } else {
                format!(
                    "the {} class's constants; `pj calibrate` measures this machine",
                    profile.name
                )
            }
        );
    }
    if report.busy {
        println!(
            "  warning    the middle half of the runs spread from {:.3} to {:.3} ms: the machine was probably busy, and these figures mean little",
            ms(times[n / 4]),
            ms(times[3 * n / 4])
        );
    }
    println!(
        "  traffic    {:.1} MB compulsory, {:.2} GB/s",
        compulsory as f64 / 1e6,
        report.gb_per_s
    );
    if let Some(r) = &report.roofline {
        println!(
            "  roofline   triad {:.2} GB/s -> memory bound {:.3} ms; reached {:.0}%",
            r.triad_gb_per_s,
            r.bound_ms,
            r.fraction * 100.0
        );
    }
    Ok(())
}

/// The energy model's estimate for kernel `name` of `src` at `sizes`, on
/// `threads` cores of the host profile, as the options compile it
/// (backend, quantized too); `None` where the model cannot say.
fn model_estimate(
    src: &str,
    name: &str,
    sizes: &[(String, i64)],
    opts: &BenchOptions<'_>,
    threads: u32,
) -> Option<Cost> {
    use pj_compiler::target::report;
    let mut m = pj_compiler::compile_source("bench", src).ok()?.module;
    PassManager::default_pipeline().run(&mut m).ok()?;
    let sizes: HashMap<String, i64> = sizes.iter().cloned().collect();
    let p = crate::machine::host_for_estimates();
    let request = opts.compile.for_module(&m).quantize;
    let backend = opts.compile.backend;
    let r = match request {
        Some(req) => report::energy_quantized(&m, name, &sizes, &p, req, backend).ok()?,
        None => report::energy_for(&m, name, &sizes, &p, backend).ok()?,
    };
    let est = r.quantized.map_or(r.optimized, |q| q.estimate);
    Some(est.at_threads(&p, threads).total)
}
