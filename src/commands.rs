//! The subcommands, as plain functions over the libraries.

use crate::Stage;
use crate::kernel_args::{choose_kernel, load_args, split_kv};
use anyhow::{Context, Result, anyhow, bail};
use picojoule::npy;
use pj_compiler::Module;
use pj_compiler::codegen::KernelArg;
use pj_compiler::codegen::abi;
use pj_compiler::codegen::driver::{self, Emit, Options};
use pj_compiler::dialects::arith::Scalar;
use pj_compiler::dialects::{KernelSignature, signature};
use pj_compiler::interp::{self, Tensor, Value};
use pj_compiler::ir::ScalarType;
use pj_compiler::ir::print::{PrintOptions, print_module};
use pj_compiler::passes::{PassManager, REGISTRY};
use pj_compiler::target::Target;
use pj_lang::Diagnostic;
use std::path::Path;
use std::time::Instant;

/// Diagnostics were already printed; exit with status 1.
#[derive(Debug)]
pub struct Reported;

impl std::fmt::Display for Reported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("errors were reported")
    }
}

impl std::error::Error for Reported {}

fn read_source(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    String::from_utf8(bytes).map_err(|e| {
        anyhow!(
            "`{}` is not UTF-8 text (byte {} is invalid)",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })
}

fn print_diags(diags: &[Diagnostic], name: &str, src: &str) {
    use std::io::IsTerminal;
    if !diags.is_empty() {
        // Colour only for a person at a terminal who has not opted out.
        let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        eprint!(
            "{}",
            pj_lang::diagnostic::render_all_with(diags, name, src, color)
        );
    }
}

/// Loads a .pj (compiling it) or a .pjir (parsing and verifying it).
pub fn load(path: &Path) -> Result<Module> {
    let src = read_source(path)?;
    let name = path.display().to_string();
    if path.extension().is_some_and(|e| e == "pjir") {
        let m = pj_compiler::ir::parse::parse_module(&src).map_err(|d| {
            print_diags(&[*d], &name, &src);
            anyhow!(Reported)
        })?;
        pj_compiler::ir::verify::verify(&m)
            .map_err(|e| anyhow!("`{name}` is not valid IR:\n{e}"))?;
        // IR text is an input like any other: what it claims is checked
        let mut m = m;
        pj_compiler::dialects::drop_promises(&mut m);
        return Ok(m);
    }
    match pj_compiler::compile_source(&name, &src) {
        Ok(c) => {
            print_diags(&c.warnings, &name, &src);
            Ok(c.module)
        }
        Err(diags) => {
            print_diags(&diags, &name, &src);
            let n = diags.iter().filter(|d| d.is_error()).count();
            eprintln!(
                "error: {n} error{} in `{name}`",
                if n == 1 { "" } else { "s" }
            );
            Err(anyhow!(Reported))
        }
    }
}

fn pipeline(passes: Option<&str>) -> Result<PassManager> {
    PassManager::parse(passes.unwrap_or(pj_compiler::passes::DEFAULT_PIPELINE))
        .map_err(|e| anyhow!(e))
}

pub fn check(path: &Path) -> Result<()> {
    let m = load(path)?;
    eprintln!(
        "{}: ok ({} kernel{})",
        path.display(),
        m.kernels().len(),
        if m.kernels().len() == 1 { "" } else { "s" }
    );
    Ok(())
}

pub fn emit(path: &Path, stage: Stage, passes: Option<&str>, locs: bool) -> Result<()> {
    match stage {
        Stage::Ast => {
            let src = read_source(path)?;
            let (file, diags) = pj_lang::parse::parse_file(&src);
            print_diags(&diags, &path.display().to_string(), &src);
            if diags.iter().any(Diagnostic::is_error) {
                return Err(anyhow!(Reported));
            }
            print!("{}", pj_lang::unparse::file(&file));
        }
        Stage::Ir => {
            let mut m = load(path)?;
            if let Some(p) = passes {
                pipeline(Some(p))?.run(&mut m)?;
            }
            print!("{}", print_module(&m, PrintOptions { locs }));
        }
    }
    Ok(())
}

pub fn opt(
    path: &Path,
    passes: Option<&str>,
    print_after_all: bool,
    time: bool,
    locs: bool,
    fast_math: FastMath,
) -> Result<()> {
    let mut m = load(path)?;
    let mut pm = pipeline(passes)?
        .fast_math(fast_math != FastMath::Off)
        .contract(fast_math == FastMath::Contract);
    pm.print_after_all = print_after_all;
    let records = pm.run(&mut m)?;
    if print_after_all {
        for r in &records {
            println!("// ----- IR after {} -----", r.name);
            print!("{}", r.ir_after.as_deref().unwrap_or(""));
        }
    } else {
        print!("{}", print_module(&m, PrintOptions { locs }));
    }
    if time {
        eprintln!("pass timings:");
        for r in &records {
            eprintln!(
                "  {:<14} {:>10.3} ms{}",
                r.name,
                r.elapsed.as_secs_f64() * 1e3,
                if r.changed { "" } else { "  (no change)" }
            );
        }
    }
    Ok(())
}

pub fn passes() -> Result<()> {
    for p in REGISTRY {
        println!("{:<14} {}", p.name, p.description);
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)] // one per flag of `pj run`
pub fn run(
    path: &Path,
    kernel: Option<&str>,
    args: &[String],
    outs: &[String],
    backend: Backend,
    passes: Option<&str>,
    time: bool,
    codegen: CodegenFlags,
) -> Result<()> {
    let opt_level = codegen.opt_level;
    let t0 = Instant::now();
    let mut m = load(path)?;
    let t_front = t0.elapsed();
    let passes = match (passes, opt_level) {
        (None, 0) => Some(""),
        (p, _) => p,
    };
    let records = pipeline(passes)?.run(&mut m)?;
    let name = choose_kernel(&m, path, kernel)?;
    let kop = m.kernel(&name).expect("a kernel the module has");
    let KernelSignature {
        params, results, ..
    } = signature(&m, kop);
    // arrays stay in their own element type from the file to native code
    // and back; the interpreter gets its values
    let native = backend.native().is_some();
    let t_load = Instant::now();
    let (values, mut buffers) = load_args(&name, &params, args, native)?;
    let t_load = t_load.elapsed();
    // `auto` weighs its choices at the sizes this call runs at
    let sizes = crate::kernel_args::bound_sizes(&params, &values, &buffers);
    let mut targets: Vec<(usize, &str)> = Vec::new();
    for o in outs {
        let (k, v) = split_kv(o, "--out")?;
        let Some(i) = results.iter().position(|r| r == k) else {
            bail!(
                "kernel `{name}` has no result `{k}`; its results are: {}",
                results.join(", ")
            );
        };
        // told before the kernel runs, not after
        OutputFormat::of(Path::new(v))?;
        targets.push((i, v));
    }

    let mut phases: Vec<(String, std::time::Duration)> = vec![
        ("front end".into(), t_front),
        ("read arguments".into(), t_load),
    ];
    phases.extend(records.iter().map(|r| (r.name.to_string(), r.elapsed)));
    let out: Vec<Output> = match backend {
        Backend::Interp => {
            // chosen as for this machine's native code, run exactly
            let options = Options {
                sizes: sizes.clone(),
                ..codegen.options(pj_compiler::codegen::Backend::Cranelift, Target::host())
            }
            .for_module(&m);
            if options.quantize.is_some() {
                let records = options.quantize_passes().run(&mut m)?;
                print_notes(&records);
            }
            let t = Instant::now();
            let out = interp::run(&m, &name, &values)?;
            phases.push(("interpret".into(), t.elapsed()));
            out.into_iter().map(Output::Tensor).collect()
        }
        Backend::Cranelift | Backend::Llvm => {
            let options = Options {
                sizes,
                ..codegen.options(backend.native().expect("native"), Target::host())
            };
            let (lowered, lowering) = driver::lower(&m, &options, driver::Stage::Optimized)?;
            print_notes(&lowering);
            phases.extend(
                lowering
                    .iter()
                    .map(|r| (format!("{} (lowering)", r.name), r.elapsed)),
            );
            let t = Instant::now();
            let code = driver::jit(&lowered, &options)?;
            phases.push((options.backend.name().into(), t.elapsed()));
            let kernel = code
                .kernel(&name)
                .ok_or_else(|| anyhow!("kernel `{name}` was not compiled"))?;
            let mut kargs: Vec<KernelArg<'_>> = buffers
                .iter_mut()
                .zip(&values)
                .map(|(b, v)| match (b, v) {
                    (Some(b), _) => KernelArg::Array(b),
                    (None, Value::Scalar(s)) => KernelArg::Scalar(*s),
                    (None, Value::Array(_)) => unreachable!("arrays are buffers natively"),
                })
                .collect();
            let t = Instant::now();
            let out = kernel.call_owned(&mut kargs)?;
            phases.push(("run (the kernel)".into(), t.elapsed()));
            out.into_iter().map(Output::Buffer).collect()
        }
    };

    if targets.is_empty() {
        for (r, o) in results.iter().zip(&out) {
            println!("{r}: {}", o.summary());
        }
    }
    let t_write = Instant::now();
    for (i, p) in targets.iter().copied() {
        let path = Path::new(p);
        let (elem, shape) = match (&out[i], OutputFormat::of(path)?) {
            (Output::Tensor(t), OutputFormat::Npy) => {
                npy::write(path, t)?;
                (t.elem, t.shape.clone())
            }
            (Output::Buffer(b), OutputFormat::Npy) => {
                npy::write_buffer(path, b)?;
                (abi::scalar_type(b.elem()), b.shape())
            }
            (o, OutputFormat::Png) => {
                let t = match o {
                    Output::Tensor(t) => t.clone(),
                    Output::Buffer(b) => npy::tensor_of(b)?,
                };
                picojoule::image_io::write_png(path, &t)
                    .with_context(|| format!("result `{}`", results[i]))?;
                (t.elem, t.shape.clone())
            }
        };
        eprintln!("wrote {} ({elem}{shape:?}) to {p}", results[i]);
    }
    if !targets.is_empty() {
        phases.push(("write results".into(), t_write.elapsed()));
    }
    if time {
        eprintln!("timings:");
        for (phase, d) in &phases {
            eprintln!("  {phase:<26} {:>10.3} ms", d.as_secs_f64() * 1e3);
        }
    }
    Ok(())
}

/// What `--out NAME=FILE` writes, by the file's extension.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OutputFormat {
    /// `.npy`: the array as it is.
    Npy,
    /// `.png`: an 8-bit picture of a 2-D or `H x W x 3` array (floats
    /// taken as [0, 1]), as the REPL's `:save` writes.
    Png,
}

impl OutputFormat {
    fn of(path: &Path) -> Result<OutputFormat> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("npy") => Ok(OutputFormat::Npy),
            Some("png") => Ok(OutputFormat::Png),
            _ => bail!(
                "`--out` writes .npy files (the array) or .png files (a picture of it), not `{}`",
                path.display()
            ),
        }
    }
}

/// A result of `pj run`: interpreter values, or a native buffer (its
/// elements in their own type).
enum Output {
    Tensor(Tensor),
    Buffer(pj_runtime::Buffer),
}

impl Output {
    /// `f32[4, 5]  min -1 max 3 mean 0.25  [0.1, 0.2, ...]`, in one pass
    /// over the elements.
    fn summary(&self) -> String {
        match self {
            Output::Tensor(t) => summary(t.elem, &t.shape, t.data.iter().copied()),
            Output::Buffer(b) => {
                let elem = abi::scalar_type(b.elem());
                let each = b
                    .bytes()
                    .chunks_exact(elem.size_bytes())
                    .map(|c| interp::scalar_from_le_bytes(elem, c));
                summary(elem, &b.shape(), each)
            }
        }
    }
}

fn summary(elem: ScalarType, shape: &[usize], elements: impl Iterator<Item = Scalar>) -> String {
    let mut s = format!("{elem}{shape:?}");
    let (mut min, mut max, mut sum, mut n) = (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0usize);
    let mut shown = Vec::new();
    for x in elements {
        if shown.len() < 6 {
            shown.push(fmt_scalar(&x));
        }
        let v = x.as_f64();
        min = min.min(v);
        max = max.max(v);
        sum += v;
        n += 1;
    }
    if n == 0 {
        return s + " (empty)";
    }
    let mean = sum / n as f64;
    let more = if n > 6 { ", ..." } else { "" };
    s += &format!(
        "  min {min:.6} max {max:.6} mean {mean:.6}  [{}{more}]",
        shown.join(", ")
    );
    s
}

pub fn fmt_scalar(s: &Scalar) -> String {
    match s {
        Scalar::F32(v) => format!("{v}"),
        Scalar::F64(v) => format!("{v}"),
        Scalar::F16(_) | Scalar::Bf16(_) => format!("{}", s.as_f64() as f32),
        Scalar::Bool(b) => b.to_string(),
        other => other.as_i64().unwrap_or(0).to_string(),
    }
}

/// How code is generated: `-O`, `--fast-math`, `--strict-fp` (shared by
/// `pj run`, `pj build` and `pj bench`).
#[derive(clap::Args, Clone, Copy, Debug)]
pub struct CodegenFlags {
    /// Optimization level: 0 lowers without optimizing, 2 (the default) optimizes.
    #[arg(short = 'O', long = "opt-level", default_value_t = 2, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub opt_level: u8,
    /// `reassoc` (the default): float sums and products may be reassociated
    /// into vector partial sums, which changes their last bits; `contract`:
    /// that, and `a * b + c` fused into one multiply-add rounded once
    /// (where the target has FMA); `off`: the reference order.
    #[arg(long, value_enum, default_value = "reassoc")]
    pub fast_math: FastMath,
    /// Every float operation in the reference interpreter's order, bit for
    /// bit (the same as `--fast-math=off`).
    #[arg(long, conflicts_with = "fast_math")]
    pub strict_fp: bool,
    /// Narrow types where a proven error bound meets each result's
    /// tolerance (`@tolerance`, or `--tolerance`): `int8` fixed point for
    /// sums of products; `int16`, float arithmetic over integers as exact
    /// integer arithmetic; `bf16`, `f32` stages stored to memory as
    /// bfloat16; `auto`, each where it pays. What was
    /// chosen, and why not elsewhere, is printed (docs/quantization.md).
    #[arg(long, value_parser = pj_compiler::quant::plan::Mode::parse)]
    pub quantize: Option<pj_compiler::quant::plan::Mode>,
    /// The tolerance of every float result that declares none, for
    /// `--quantize`: `abs=1e-2`, `rel=1e-3`, or both (`abs=1e-2,rel=1e-3`).
    #[arg(long, value_parser = pj_compiler::quant::plan::parse_tolerance, requires = "quantize")]
    pub tolerance: Option<pj_compiler::dialects::pj::Tolerance>,
}

/// What `--fast-math` allows.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FastMath {
    /// Reassociate float reductions.
    Reassoc,
    /// Reassociate float reductions and fuse multiply-adds.
    Contract,
    /// Nothing: the reference order.
    Off,
}

impl CodegenFlags {
    /// What `--fast-math`/`--strict-fp` allow.
    pub fn fast_math(&self) -> pj_compiler::codegen::FastMath {
        use pj_compiler::codegen::FastMath as F;
        match (self.strict_fp, self.fast_math) {
            (true, _) | (_, FastMath::Off) => F::Off,
            (_, FastMath::Reassoc) => F::Reassoc,
            (_, FastMath::Contract) => F::Contract,
        }
    }

    /// What `--quantize` and `--tolerance` ask for.
    pub fn quantize(&self) -> Option<pj_compiler::quant::plan::Request> {
        self.quantize.map(|mode| pj_compiler::quant::plan::Request {
            mode,
            tolerance: self.tolerance,
        })
    }

    /// The compile driver's options for `backend` on `target`.
    pub fn options(&self, backend: pj_compiler::codegen::Backend, target: Target) -> Options {
        Options {
            backend,
            opt_level: self.opt_level,
            fast_math: self.fast_math(),
            tier: pj_compiler::codegen::Tier::Optimizing,
            target,
            quantize: self.quantize(),
            sizes: std::collections::HashMap::new(),
        }
    }
}

/// Prints what the passes report (`quantize`'s choices), to stderr.
pub fn print_notes(records: &[pj_compiler::passes::PassRecord]) {
    for r in records {
        for n in &r.notes {
            eprintln!("{}: {n}", r.name);
        }
    }
}

/// Who executes or compiles kernels: `--backend`, `:backend`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// Native code from Cranelift: compiles in milliseconds.
    Cranelift,
    /// Native code from LLVM (a build with `--features llvm`): the best code.
    Llvm,
    /// The reference interpreter.
    Interp,
}

impl Backend {
    /// The code generator, `None` for the interpreter.
    pub fn native(self) -> Option<pj_compiler::codegen::Backend> {
        match self {
            Backend::Cranelift => Some(pj_compiler::codegen::Backend::Cranelift),
            Backend::Llvm => Some(pj_compiler::codegen::Backend::Llvm),
            Backend::Interp => None,
        }
    }

    /// Its name in messages and on command lines.
    pub fn name(self) -> &'static str {
        match self.native() {
            Some(b) => b.name(),
            None => "interp",
        }
    }
}

/// What `pj build --emit` writes.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmitKind {
    /// An object file, and its C header beside it.
    Obj,
    /// A shared library (`.so`; `.dylib` on macOS) of the kernels with only
    /// the parts of the runtime they use, and its C header beside it (this
    /// machine's target; links with `cc` and the runtime archive).
    Shared,
    /// The machine code as text.
    Asm,
    /// LLVM IR as text (`--backend llvm`).
    LlvmIr,
}

#[allow(clippy::too_many_arguments)] // one per flag of `pj build`
pub fn build(
    path: &Path,
    kernel: Option<&str>,
    (target, cpu): (&str, Option<&str>),
    output: &Path,
    backend: Backend,
    (emit, hot): (EmitKind, bool),
    codegen: CodegenFlags,
) -> Result<()> {
    if hot && emit != EmitKind::Asm {
        bail!("`--hot` selects from a listing: use it with `--emit asm`");
    }
    let Some(native) = backend.native() else {
        bail!("`pj build` compiles to machine code: `--backend cranelift` or `--backend llvm`");
    };
    let mut target = Target::parse(target)?;
    if let Some(cpu) = cpu {
        if native != pj_compiler::codegen::Backend::Llvm {
            bail!(
                "`--cpu` chooses a processor for LLVM (`--backend llvm`); Cranelift builds for the target's baseline, or this machine's features with `--target host`"
            );
        }
        target = target.with_cpu(cpu)?;
    }
    // `auto` weighs its choices at the file's `// bench:` sizes (else 1024)
    let sizes = std::fs::read_to_string(path)
        .ok()
        .and_then(|src| crate::bench::file_sizes(&src).ok())
        .unwrap_or_default();
    let options = Options {
        sizes,
        ..codegen.options(native, target)
    };
    if options.fast_math == pj_compiler::codegen::FastMath::Contract && !options.contract() {
        let cpu = options
            .target
            .cpu
            .map(|c| format!(" with `--cpu {}`", c.name))
            .unwrap_or_default();
        eprintln!(
            "warning: `{}`{cpu} has no fused multiply-add instructions: `--fast-math=contract` fuses nothing (`--target host`, a `--cpu` with AVX2 such as `x86-64-v3`, or an aarch64 triple do)",
            options.target.triple
        );
    }
    // the object and its header are two files, neither of them the source
    let header_path = output.with_extension("h");
    let object = matches!(emit, EmitKind::Obj | EmitKind::Shared);
    if emit == EmitKind::Shared && !options.target.is_host {
        bail!(
            "`--emit shared` links for this machine; for `{}`, write an object (`--emit obj`) and link it with that target's toolchain and runtime archive",
            options.target.triple
        );
    }
    if object && header_path == output {
        bail!(
            "`-o {}` names the header `pj build` writes beside the object; name the object, e.g. `-o {}`",
            output.display(),
            output.with_extension("o").display()
        );
    }
    let written: &[&Path] = if object {
        &[output, header_path.as_path()]
    } else {
        &[output]
    };
    for &w in written {
        if same_file(w, path) {
            bail!(
                "`pj build` would overwrite its input `{}` with `{}`; choose another output name",
                path.display(),
                w.display()
            );
        }
    }
    let m = load(path)?;
    let names = m.kernel_names();
    let only: Vec<String> = match kernel {
        Some(k) if names.iter().any(|n| n == k) => vec![k.to_string()],
        Some(k) => bail!(
            "no kernel named `{k}` in `{}`; it has: {}",
            path.display(),
            names.join(", ")
        ),
        None => vec![],
    };
    pj_compiler::codegen::symbols::check_c_names(&m, &only).map_err(|e| anyhow!(e))?;
    // the schedule is chosen for the machine the object will run on
    let (lowered, records) = driver::lower(&m, &options, driver::Stage::Checked)?;
    print_notes(&records);
    let what = match emit {
        EmitKind::Obj | EmitKind::Shared => Emit::Object,
        EmitKind::Asm => Emit::Asm,
        EmitKind::LlvmIr => Emit::LlvmIr,
    };
    let mut bytes = driver::emit(&lowered, &options, &only, what)?;
    if hot {
        let source = std::fs::read_to_string(path).unwrap_or_default();
        let kernels = if only.is_empty() {
            names.clone()
        } else {
            only.clone()
        };
        let listing = String::from_utf8_lossy(&bytes).into_owned();
        bytes = crate::hot::hot(
            &listing,
            &lowered,
            &kernels,
            &path.display().to_string(),
            &source,
        )
        .into_bytes();
    }
    if !object {
        picojoule::write_atomic(&[(output, &bytes)])?;
        eprintln!(
            "wrote {} ({} bytes, {}, {})",
            output.display(),
            bytes.len(),
            options.target.triple,
            options.backend
        );
        return Ok(());
    }
    let guard = output
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "kernels".into());
    let header = pj_compiler::codegen::header::c_header(&lowered, &guard, &only);
    if emit == EmitKind::Shared {
        let kernels = if only.is_empty() {
            names.clone()
        } else {
            only.clone()
        };
        let library = crate::shared_library::link(&bytes, &kernels)?;
        picojoule::write_atomic(&[(output, &library), (&header_path, header.as_bytes())])?;
        eprintln!(
            "wrote {} ({} bytes: the kernels and the runtime they use, {}) and {}",
            output.display(),
            library.len(),
            options.target.triple,
            header_path.display()
        );
        return Ok(());
    }
    picojoule::write_atomic(&[(output, &bytes), (&header_path, header.as_bytes())])?;
    eprintln!(
        "wrote {} ({} bytes, {}) and {}",
        output.display(),
        bytes.len(),
        options.target.triple,
        header_path.display()
    );
    Ok(())
}

/// Whether two paths name one file (the second may not exist yet).
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// `pj difftest`: runs generated programs through every configuration;
/// fails (exit 1) when any disagrees with the interpreter.
pub fn difftest(seed: u64, count: u64, show: bool, rejects: bool) -> Result<()> {
    use picojoule::difftest;
    if show {
        let p = difftest::generate(seed);
        println!("{}\narguments: {:?}", p.source, p.args);
        return Ok(());
    }
    let started = std::time::Instant::now();
    let mut progress = crate::progress::Progress::new("difftest");
    let tally = difftest::campaign(seed, count, |s, verdict| {
        // the line goes before anything printed about this program
        progress.clear();
        match verdict {
            difftest::Verdict::Mismatch(report) => println!("MISMATCH at seed {s}:\n{report}"),
            difftest::Verdict::Rejected(d) if rejects => {
                let first = d.lines().find(|l| l.starts_with("error")).unwrap_or("");
                println!("rejected seed {s}: {first}")
            }
            _ => {}
        }
        progress.tick(|| format!("{} of {count} programs", s - seed + 1));
    });
    drop(progress);
    println!(
        "{} programs from seed {seed} in {:.1} s: {} agreed on results, {} agreed on an error, {} rejected by the front end, {} mismatches",
        tally.programs,
        started.elapsed().as_secs_f64(),
        tally.agreed,
        tally.agreed_on_error,
        tally.rejected,
        tally.mismatches
    );
    if tally.mismatches > 0 {
        bail!(
            "{} programs disagree with the interpreter",
            tally.mismatches
        );
    }
    Ok(())
}

pub fn targets() -> Result<()> {
    let mut names = vec!["host"];
    names.extend(pj_compiler::target::SUPPORTED);
    for name in names {
        let t = pj_compiler::target::Target::parse(name)?;
        let format = if t.is_apple() { "Mach-O" } else { "ELF" };
        let label = if name == "host" {
            format!("host ({})", t.triple)
        } else {
            name.to_string()
        };
        println!("{label}\n  objects: {format}; SIMD: 128-bit (Cranelift)");
        let features = t.features();
        if !features.is_empty() {
            println!("  features: {}", features.join(" "));
        }
    }
    Ok(())
}
