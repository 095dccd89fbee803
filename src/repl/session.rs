//! The state of a `pj repl` session and what each statement does to it:
//! kernels (typed or loaded from files), variables, settings, and a cache
//! of compiled kernels keyed by source, backend and options.
//!
//! Output goes to two writers: what the user asked to see (values, IR,
//! tables) to `out`, errors and diagnostics to `err`. Nothing here reads
//! from a terminal, so scripts and tests drive a [`Session`] directly.

use super::show;
use super::syntax::{self, Expr, Stmt};
use super::tiering::Tiering;
use crate::commands::Backend;
use anyhow::{Context, Result, anyhow, bail};
use picojoule::{image_io, npy};
use pj_compiler::Module;
use pj_compiler::codegen::driver::{self, FastMath, Options, Stage};
use pj_compiler::codegen::{
    Backend as NativeBackend, JitModule, KernelArg, Tier, kernel::to_buffer,
};
use pj_compiler::dialects::arith::Scalar;
use pj_compiler::dialects::signature;
use pj_compiler::interp::{self, Tensor, Value};
use pj_compiler::ir::print::{PrintOptions, print_kernel};
use pj_compiler::ir::{Dim, ScalarType, Type};
use pj_compiler::passes::{DEFAULT_PIPELINE, PassManager, REGISTRY};
use pj_lang::Diagnostic;
use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// What `:backend`, `:target`, `:threads`, `:opt` and `:fast-math` set.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Who runs calls.
    pub backend: Backend,
    /// The target of `:asm`, `:explain` and `:energy` (calls run on the host).
    pub target: String,
    /// Worker threads of parallel loops (`None`: the runtime's default).
    pub threads: Option<usize>,
    /// 0: no optimization; 2: the optimizer.
    pub opt: u8,
    /// What float arithmetic may do (as `pj run --fast-math`).
    pub fast_math: FastMath,
    /// `:quantize` (as `pj run --quantize`; `None`: float as written).
    pub quantize: Option<pj_compiler::quant::plan::Mode>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            backend: Backend::Cranelift,
            target: "host".into(),
            threads: None,
            opt: 2,
            fast_math: FastMath::default(),
            quantize: None,
        }
    }
}

/// A source of kernels: a file (`:load`) or text typed at the prompt.
struct Unit {
    /// Shown in diagnostics: the path, or `<input N>`.
    name: String,
    /// The file, for `:reload`.
    path: Option<PathBuf>,
    text: String,
}

/// A unit compiled for one backend and set of options.
struct Compiled {
    /// The `pj` IR after the default pipeline (what the interpreter runs).
    module: Module,
    /// Native code (not for the interpreter).
    jit: Option<JitModule>,
    /// Time per phase.
    phases: Vec<(String, Duration)>,
}

/// One REPL session.
pub struct Session {
    units: Vec<Unit>,
    /// Kernel name -> the unit that defines it now.
    kernels: BTreeMap<String, usize>,
    vars: BTreeMap<String, Value>,
    settings: Settings,
    cache: HashMap<(u64, Tier), Rc<Compiled>>,
    /// Units (by [`Session::unit_key`]) with a call that ran long enough
    /// to deserve the optimizing tier.
    hot: std::collections::HashSet<u64>,
    /// When kernels tier up, and LLVM's compiles in the background.
    tiering: Tiering,
    /// Units whose background compile finished: calls run this code.
    upgraded: HashMap<u64, Rc<Compiled>>,
    /// Units LLVM could not compile (not tried again).
    not_upgradable: std::collections::HashSet<u64>,
    /// Sizes of each kernel's last call, for `:explain` and `:energy`.
    last_sizes: HashMap<String, Vec<(String, i64)>>,
    pool: Option<std::sync::Arc<pj_runtime::pool::Pool>>,
    rng: u64,
    inputs: usize,
    out: Box<dyn Write>,
    err: Box<dyn Write>,
    color: bool,
    /// Set by `:quit`.
    pub quit: bool,
    /// Where the input being executed comes from, for a script: its
    /// name and the line the input starts on (messages then say
    /// `script.pjs:12:5`, not `<input 3>:2:5`).
    pub origin: Option<(String, usize)>,
}

/// The one-line help of every command, in `:help` order.
pub const COMMANDS: &[(&str, &str)] = &[
    (":help", "this list"),
    (":load FILE", "define every kernel of a .pj file"),
    (":reload", "read the loaded files again"),
    (":kernels", "the kernels defined, with their signatures"),
    (":vars", "the variables, with their types and shapes"),
    (
        ":stats NAME",
        "min, max, mean, standard deviation and NaN count of an array",
    ),
    (
        ":save NAME FILE",
        "write an array to FILE (.npy, or .png for 2-D and HxWx3 arrays)",
    ),
    (
        ":show NAME",
        "a 1-D array: a line plot here (braille) and as SVG; 2-D or HxWx3: a PNG (inline in kitty and iTerm2)",
    ),
    (
        ":ir KERNEL [after PASS | --stage loops]",
        "the kernel's IR: high level, after a pass of the lowering (`fuse`: inline-pointwise), or lowered",
    ),
    (":passes", "the passes, with what each does"),
    (
        ":asm KERNEL [--target T] [--hot]",
        "the machine code the backend makes of the kernel (--hot: its innermost loops, with their source lines)",
    ),
    (
        ":explain KERNEL",
        "the optimizer's choices at the sizes of the kernel's last call",
    ),
    (
        ":energy KERNEL",
        "the energy model's estimate at the sizes of the kernel's last call",
    ),
    (
        ":plot energy|explain KERNEL [FILE.svg]",
        "draw :energy (energy by where it goes) or :explain (the alternatives weighed): as bars here, or as SVG",
    ),
    (
        ":time CALL",
        "compile time, then the median run time over repetitions",
    ),
    (":backend cranelift|llvm|interp", "who runs calls"),
    (
        ":tiering [on|off|wait|after MS]",
        "when long calls recompile: LLVM in the background (on at the prompt), the threshold",
    ),
    (
        ":target T",
        "the target of :asm, :explain and :energy (calls run on this machine)",
    ),
    (":threads N", "worker threads for parallel loops"),
    (":opt 0|2", "optimization level"),
    (
        ":fast-math off|reassoc|contract",
        "what float arithmetic may do (as `pj run --fast-math`)",
    ),
    (
        ":quantize off|int8|int16|bf16|auto",
        "narrow types where a proven bound meets each result's @tolerance (as `pj run --quantize`)",
    ),
    (":quit", "leave (also Ctrl-D)"),
];

/// The built-in functions (for completion and `:help`).
pub const BUILTINS: &[(&str, &str)] = &[
    (
        "load",
        "load(\"FILE\"): a .npy array, or a PNG/JPEG as f32[H, W] or f32[H, W, 3] in [0, 1]",
    ),
    (
        "zeros",
        "zeros(T, D0, D1, ...): an array of zeros of element type T",
    ),
    ("ones", "ones(T, D0, D1, ...): an array of ones"),
    (
        "rand",
        "rand(T, D0, D1, ...): uniform in [0, 1) (floats), over the whole type (integers), or true/false",
    ),
    ("arange", "arange(T, N): 0, 1, ..., N - 1"),
    (
        "T",
        "f32(x), u8(x), ... (any element type): x converted as the language converts, element by element",
    ),
];

/// The largest array the built-ins make (elements): REPL values take 16
/// bytes per element, so 4 GiB; larger arrays belong in `.npy` files run
/// with `pj run`, which keeps each element in its own type.
const MAX_ELEMENTS: usize = 1 << 28;

impl Session {
    /// A session printing to `out` and `err`; `color` for diagnostics.
    pub fn new(out: Box<dyn Write>, err: Box<dyn Write>, color: bool) -> Session {
        Session {
            units: Vec::new(),
            kernels: BTreeMap::new(),
            vars: BTreeMap::new(),
            settings: Settings::default(),
            cache: HashMap::new(),
            hot: Default::default(),
            tiering: Tiering::new(false),
            upgraded: HashMap::new(),
            not_upgradable: Default::default(),
            last_sizes: HashMap::new(),
            pool: None,
            rng: 0x9E37_79B9_7F4A_7C15,
            inputs: 0,
            out,
            err,
            color,
            quit: false,
            origin: None,
        }
    }

    /// The name an input's diagnostics give and the text they point into:
    /// the script and the input preceded by as many empty lines as come
    /// before it there (so spans shifted by that many bytes), or `<input
    /// N>` and the input.
    fn located(&self, input: &str) -> (String, String, usize) {
        match &self.origin {
            Some((name, line)) => {
                let pad = line.saturating_sub(1);
                (name.clone(), "\n".repeat(pad) + input, pad)
            }
            None => (format!("<input {}>", self.inputs), input.to_string(), 0),
        }
    }

    /// Background compiles with LLVM for kernels whose calls run long
    /// (on in interactive sessions: `super::tiering` says why not in
    /// scripts).
    pub fn set_background_tiering(&mut self, on: bool) {
        self.tiering.background = on;
    }

    /// Takes in the background compiles that have finished (all of them,
    /// waiting, with `wait`) and says which kernels run new code.
    fn collect_upgrades(&mut self, wait: bool) {
        let finished = if wait {
            self.tiering.wait()
        } else {
            self.tiering.poll()
        };
        for f in finished {
            // the kernel may have been redefined (or the settings changed)
            // since: then the code serves an old key and says nothing
            let current = self.kernels.get(&f.kernel).map(|&u| self.unit_key(u)) == Some(f.key);
            match f.code {
                Ok(code) => {
                    let compiled = Compiled {
                        module: f.module,
                        jit: Some(code),
                        phases: vec![("llvm (background)".to_string(), f.took)],
                    };
                    self.upgraded.insert(f.key, Rc::new(compiled));
                    if current {
                        let _ = writeln!(
                            self.err,
                            "note: `{}` runs LLVM's optimized code from now on (compiled in the background in {:.2} s)",
                            f.kernel,
                            f.took.as_secs_f64()
                        );
                    }
                }
                Err(message) => {
                    self.not_upgradable.insert(f.key);
                    if current {
                        let _ = writeln!(
                            self.err,
                            "note: LLVM could not compile `{}` in the background ({message}); it keeps the code it has",
                            f.kernel
                        );
                    }
                }
            }
        }
    }

    /// Names for completion: kernels, variables.
    pub fn names(&self) -> Vec<String> {
        self.kernels
            .keys()
            .chain(self.vars.keys())
            .cloned()
            .collect()
    }

    /// Runs one complete input (see [`syntax::balanced`]); returns whether
    /// it succeeded. Errors have been printed.
    pub fn execute(&mut self, input: &str) -> bool {
        self.inputs += 1;
        self.collect_upgrades(false);
        let result = match syntax::parse(input) {
            Err(d) => {
                let (name, src, shift) = self.located(input);
                let mut d = *d;
                d.span.start += shift;
                d.span.end += shift;
                for (s, _) in &mut d.secondary {
                    s.start += shift;
                    s.end += shift;
                }
                self.diagnostics(&[d], &name, &src);
                return false;
            }
            Ok(stmt) => self.statement(stmt, input),
        };
        match result {
            Ok(()) => true,
            Err(e) => {
                if e.downcast_ref::<Reported>().is_none() {
                    let at = match &self.origin {
                        Some((name, line)) => format!("{name}:{line}: "),
                        None => String::new(),
                    };
                    let _ = writeln!(self.err, "error: {at}{e:#}");
                }
                false
            }
        }
    }

    fn diagnostics(&mut self, diags: &[Diagnostic], name: &str, src: &str) {
        let text = pj_lang::diagnostic::render_all_with(diags, name, src, self.color);
        let _ = write!(self.err, "{text}");
    }

    fn statement(&mut self, stmt: Stmt, input: &str) -> Result<()> {
        match stmt {
            Stmt::Empty => Ok(()),
            Stmt::Kernels => {
                let (name, text, _) = self.located(input);
                self.define(name, None, text)
            }
            Stmt::Command { name, args, rest } => self.command(&name, &args, &input[rest..]),
            Stmt::Let { names, value } => {
                let values = self.eval(&value, input)?;
                if values.len() != names.len() {
                    bail!(
                        "`let` binds {} name{} but the value has {} result{}",
                        names.len(),
                        plural(names.len()),
                        values.len(),
                        plural(values.len())
                    );
                }
                for ((n, _), (_, v)) in names.into_iter().zip(values) {
                    let _ = writeln!(self.out, "{n}: {}", type_text(&v));
                    self.vars.insert(n, v);
                }
                Ok(())
            }
            Stmt::Expr(e) => {
                for (name, v) in self.eval(&e, input)? {
                    let text = show::value(&name, &v);
                    let _ = write!(self.out, "{text}");
                }
                Ok(())
            }
        }
    }

    /// Checks a unit and makes its kernels the current definitions.
    fn define(&mut self, name: String, path: Option<PathBuf>, text: String) -> Result<()> {
        let compiled = match pj_compiler::compile_source(&name, &text) {
            Ok(c) => c,
            Err(diags) => {
                self.diagnostics(&diags, &name, &text);
                bail!(Reported);
            }
        };
        self.diagnostics(&compiled.warnings, &name, &text);
        let kernels = compiled.module.kernel_names();
        if kernels.is_empty() {
            bail!("`{name}` defines no kernel");
        }
        self.units.push(Unit { name, path, text });
        let unit = self.units.len() - 1;
        for k in &kernels {
            let verb = if self.kernels.insert(k.clone(), unit).is_some() {
                "redefined"
            } else {
                "defined"
            };
            let sig = signature_text(&compiled.module, k);
            let _ = writeln!(self.out, "{verb} {sig}");
        }
        Ok(())
    }

    fn command(&mut self, name: &str, args: &[String], rest: &str) -> Result<()> {
        let arity = |n: usize, usage: &str| -> Result<()> {
            if args.len() != n {
                bail!("usage: {usage}");
            }
            Ok(())
        };
        match name {
            "help" | "h" | "?" => {
                let mut text = String::from("commands:\n");
                for (c, h) in COMMANDS {
                    text += &format!("  {c:<42} {h}\n");
                }
                text += "statements:\n";
                text += "  kernel NAME(...) -> ... { ... }            define a kernel (several lines until the braces balance)\n";
                text += "  let x = KERNEL(args)                       run a kernel, bind its result (let (a, b) = ... for several)\n";
                text += "  KERNEL(args)  or  x                        run and show, or show a variable\n";
                text += "built-ins:\n";
                for (_, h) in BUILTINS {
                    text += &format!("  {h}\n");
                }
                let _ = write!(self.out, "{text}");
                Ok(())
            }
            "quit" | "q" | "exit" => {
                self.quit = true;
                Ok(())
            }
            "load" | "l" => {
                arity(1, ":load FILE")?;
                let path = PathBuf::from(&args[0]);
                let text = read_text(&path)?;
                self.define(path.display().to_string(), Some(path), text)
            }
            "reload" | "r" => {
                let files: Vec<(String, PathBuf)> = self
                    .units
                    .iter()
                    .filter(|u| {
                        u.path.is_some()
                            && self.kernels.values().any(|&i| self.units[i].name == u.name)
                    })
                    .map(|u| (u.name.clone(), u.path.clone().expect("filtered")))
                    .collect();
                let mut seen = std::collections::HashSet::new();
                if files.is_empty() {
                    bail!("no file is loaded; use :load FILE");
                }
                let mut failed = false;
                for (name, path) in files {
                    if seen.insert(name.clone()) {
                        let text = read_text(&path)?;
                        failed |= self.define(name, Some(path), text).is_err();
                    }
                }
                if failed {
                    bail!(Reported);
                }
                Ok(())
            }
            "kernels" => {
                let mut text = String::new();
                for (k, &u) in &self.kernels {
                    let m = pj_compiler::compile_source(&self.units[u].name, &self.units[u].text)
                        .map_err(|_| anyhow!("`{k}` no longer compiles"))?
                        .module;
                    text += &format!("{}   ({})\n", signature_text(&m, k), self.units[u].name);
                }
                let _ = write!(self.out, "{text}");
                Ok(())
            }
            "vars" => {
                let text: String = self
                    .vars
                    .iter()
                    .map(|(n, v)| format!("{n}: {}\n", type_text(v)))
                    .collect();
                let _ = write!(self.out, "{text}");
                Ok(())
            }
            "stats" => {
                arity(1, ":stats NAME")?;
                let text = show::stats(&args[0], self.var(&args[0])?);
                let _ = write!(self.out, "{text}");
                Ok(())
            }
            "save" => {
                arity(2, ":save NAME FILE")?;
                let path = Path::new(&args[1]);
                let v = self.var(&args[0])?;
                let Value::Array(t) = v else {
                    bail!("`{}` is a scalar; :save writes arrays", args[0]);
                };
                if image_io::is_image(path) {
                    image_io::write_png(path, t)?;
                } else if path.extension().is_some_and(|e| e == "npy") {
                    npy::write(path, t)?;
                } else {
                    bail!("`{}`: :save writes .npy or .png files", path.display());
                }
                let _ = writeln!(self.out, "wrote {} to {}", args[0], path.display());
                Ok(())
            }
            "show" => {
                arity(1, ":show NAME")?;
                self.show_image(&args[0])
            }
            "ir" => self.ir(args),
            "passes" => {
                let text: String = REGISTRY
                    .iter()
                    .map(|p| format!("{:<16} {}\n", p.name, p.description))
                    .collect();
                let _ = write!(self.out, "{text}");
                Ok(())
            }
            "asm" => self.asm(args),
            "explain" | "energy" => {
                arity(1, &format!(":{name} KERNEL"))?;
                self.model_with(name == "explain", &args[0], None, false)
            }
            "plot" => {
                let usage = ":plot energy|explain KERNEL [FILE.svg]";
                if !(2..=3).contains(&args.len()) {
                    bail!("usage: {usage}");
                }
                let explain = match args[0].as_str() {
                    "energy" => false,
                    "explain" => true,
                    other => bail!("`{other}`: usage: {usage}"),
                };
                // without a file: bars here, in the terminal
                self.model_with(
                    explain,
                    &args[1],
                    args.get(2).map(PathBuf::from),
                    args.len() == 2,
                )
            }
            "time" | "t" => {
                if rest.trim().is_empty() {
                    bail!("usage: :time KERNEL(args)");
                }
                self.time(rest)
            }
            "backend" => {
                arity(1, ":backend cranelift|llvm|interp")?;
                let backend = match args[0].as_str() {
                    "cranelift" => Backend::Cranelift,
                    "llvm" => Backend::Llvm,
                    "interp" => Backend::Interp,
                    b => bail!("no backend `{b}`; the backends are cranelift, llvm and interp"),
                };
                if let Some(native) = backend.native()
                    && !native.is_built()
                {
                    bail!("{}", pj_compiler::codegen::CodegenError::NotBuilt(native));
                }
                self.settings.backend = backend;
                let _ = writeln!(self.out, "backend: {}", args[0]);
                Ok(())
            }
            "tiering" => self.tiering_command(args),
            "fast-math" => {
                arity(1, ":fast-math off|reassoc|contract")?;
                self.settings.fast_math = FastMath::parse(&args[0]).ok_or_else(|| {
                    anyhow!("`{}`: fast-math is one of off, reassoc, contract", args[0])
                })?;
                let _ = writeln!(self.out, "fast-math: {}", args[0]);
                Ok(())
            }
            "quantize" => {
                arity(1, ":quantize off|int8|int16|bf16|auto")?;
                self.settings.quantize = match args[0].as_str() {
                    "off" => None,
                    m => Some(pj_compiler::quant::plan::Mode::parse(m).map_err(|e| anyhow!(e))?),
                };
                let said = if self.settings.quantize.is_some() {
                    " (kernels compile afresh; what each stage gets is said at its first call)"
                } else {
                    ""
                };
                let _ = writeln!(self.out, "quantize: {}{said}", args[0]);
                Ok(())
            }
            "target" => {
                arity(1, ":target T")?;
                let t = &args[0];
                if t != "host" && pj_compiler::target::Target::parse(t).is_err() {
                    pj_compiler::target::profile::Profile::load(t).map_err(|e| anyhow!(e))?;
                }
                self.settings.target = t.clone();
                let _ = writeln!(
                    self.out,
                    "target: {t} (for :asm, :explain, :energy; calls run on this machine)"
                );
                Ok(())
            }
            "threads" => {
                arity(1, ":threads N")?;
                let n: usize = args[0]
                    .parse()
                    .ok()
                    .filter(|&n| (1..=pj_runtime::parallel::MAX_THREADS).contains(&n))
                    .ok_or_else(|| {
                        anyhow!(
                            "`{}`: threads must be a whole number from 1 to {}",
                            args[0],
                            pj_runtime::parallel::MAX_THREADS
                        )
                    })?;
                self.pool = Some(pj_runtime::parallel::pool(n).map_err(|e| anyhow!(e))?);
                self.settings.threads = Some(n);
                let _ = writeln!(self.out, "threads: {n}");
                Ok(())
            }
            "opt" | "O" => {
                arity(1, ":opt 0|2")?;
                self.settings.opt = match args[0].as_str() {
                    "0" => 0,
                    "2" => 2,
                    o => bail!("`{o}`: the optimization levels are 0 and 2"),
                };
                let _ = writeln!(self.out, "opt: {}", args[0]);
                Ok(())
            }
            other => bail!("no command `:{other}`; :help lists them"),
        }
    }

    fn tiering_command(&mut self, args: &[String]) -> Result<()> {
        let usage = ":tiering [on|off|wait|after MS]";
        match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
            [] => {}
            ["on"] => {
                if !Tiering::available() {
                    bail!(
                        "{}; without it there is nothing to compile in the background",
                        pj_compiler::codegen::CodegenError::NotBuilt(NativeBackend::Llvm)
                    );
                }
                self.tiering.background = true;
            }
            ["off"] => self.tiering.background = false,
            ["wait"] => {
                let n = self.tiering.running();
                self.collect_upgrades(true);
                let _ = writeln!(
                    self.out,
                    "tiering: {n} background compile{} finished",
                    plural(n)
                );
                return Ok(());
            }
            ["after", ms] => {
                let ms: u64 = ms.trim_end_matches("ms").parse().map_err(|_| {
                    anyhow!("`{ms}`: the threshold is a whole number of milliseconds")
                })?;
                self.tiering.after = Duration::from_millis(ms);
            }
            _ => bail!("usage: {usage}"),
        }
        let after = self.tiering.after.as_millis();
        let background = match (Tiering::available(), self.tiering.background) {
            (false, _) => "LLVM is not built in, so nothing compiles in the background".to_string(),
            (true, false) => "background compiles with LLVM: off".to_string(),
            (true, true) => format!(
                "then LLVM's optimizing tier in the background, swapped in when ready ({} under way; {} running LLVM's code)",
                self.tiering.running(),
                self.kernels_upgraded()
            ),
        };
        let _ = writeln!(
            self.out,
            "tiering: a call over {after} ms recompiles its kernel at the optimizing tier; {background}"
        );
        Ok(())
    }

    /// How many kernels run code from a background compile now.
    fn kernels_upgraded(&self) -> usize {
        self.kernels
            .values()
            .filter(|&&u| self.upgraded.contains_key(&self.unit_key(u)))
            .count()
    }

    fn var(&self, name: &str) -> Result<&Value> {
        self.vars.get(name).ok_or_else(|| {
            if self.kernels.contains_key(name) {
                anyhow!("`{name}` is a kernel, not a variable")
            } else {
                anyhow!("no variable `{name}`{}", suggest(name, self.vars.keys()))
            }
        })
    }

    fn unit_of(&self, kernel: &str) -> Result<usize> {
        self.kernels.get(kernel).copied().ok_or_else(|| {
            anyhow!(
                "no kernel `{kernel}`{}",
                suggest(kernel, self.kernels.keys())
            )
        })
    }

    /// What a compiled unit depends on: its source, the backend, `:opt`,
    /// `:fast-math`, `:quantize` — and with `:quantize auto`, the sizes of
    /// its kernels' last calls, which it weighs its choices at (so the call
    /// after the first, at sizes it now knows, compiles once more).
    fn unit_key(&self, unit: usize) -> u64 {
        let mut h = DefaultHasher::new();
        self.units[unit].text.hash(&mut h);
        self.settings.backend.hash(&mut h);
        self.settings.opt.hash(&mut h);
        self.settings.fast_math.hash(&mut h);
        self.settings.quantize.hash(&mut h);
        if self.settings.quantize == Some(pj_compiler::quant::plan::Mode::Auto) {
            for (k, _) in self.kernels.iter().filter(|&(_, &u)| u == unit) {
                self.last_sizes.get(k).hash(&mut h);
            }
        }
        h.finish()
    }

    /// The compile driver's options for calls (on this machine) at `tier`;
    /// `None` for the interpreter.
    fn options(&self, tier: Tier) -> Option<Options> {
        Some(Options {
            backend: self.settings.backend.native()?,
            opt_level: self.settings.opt,
            fast_math: self.settings.fast_math,
            tier,
            target: pj_compiler::target::Target::host(),
            quantize: None,
            sizes: std::collections::HashMap::new(),
        })
    }

    /// The options of `:ir` and `:asm`: as calls compile, for `target`
    /// (Cranelift when calls run in the interpreter).
    fn view_options(&self, target: pj_compiler::target::Target) -> Options {
        let mut o = self.options(Tier::Optimizing).unwrap_or_else(|| Options {
            opt_level: self.settings.opt,
            fast_math: self.settings.fast_math,
            ..Options::default()
        });
        o.target = target;
        o
    }

    /// The kernel's unit compiled with the current settings (cached): at
    /// the backend's quick tier until a call runs longer than
    /// `:tiering after`, at the optimizing tier from then on — or LLVM's
    /// code from the background, once it is ready.
    fn compiled(&mut self, kernel: &str) -> Result<(Rc<Compiled>, u64, Tier)> {
        let unit = self.unit_of(kernel)?;
        let key = self.unit_key(unit);
        if let Some(c) = self.upgraded.get(&key) {
            return Ok((c.clone(), key, Tier::Optimizing));
        }
        let tier = if self.hot.contains(&key) {
            Tier::Optimizing
        } else {
            Tier::Quick
        };
        if let Some(c) = self.cache.get(&(key, tier)) {
            return Ok((c.clone(), key, tier));
        }
        let c = Rc::new(self.compile_unit(unit, tier)?);
        self.cache.insert((key, tier), c.clone());
        Ok((c, key, tier))
    }

    fn compile_unit(&mut self, unit: usize, tier: Tier) -> Result<Compiled> {
        let (name, text) = (self.units[unit].name.clone(), self.units[unit].text.clone());
        let mut phases = Vec::new();
        let t = Instant::now();
        let mut module = match pj_compiler::compile_source(&name, &text) {
            Ok(c) => c.module,
            Err(diags) => {
                self.diagnostics(&diags, &name, &text);
                bail!(Reported);
            }
        };
        phases.push(("front end".to_string(), t.elapsed()));
        let opt = self.settings.opt;
        let t = Instant::now();
        if opt > 0 {
            PassManager::parse(DEFAULT_PIPELINE)
                .map_err(|e| anyhow!(e))?
                .run(&mut module)?;
        }
        // quantized once, here: every backend, the interpreter and the
        // background tier then run the same fixed-point kernel
        // chosen for the backend's dot products (Cranelift's for the
        // interpreter); stages' own requests (`s.quantize(...)`) without it
        // `auto` weighs its choices at the sizes of the unit's kernels'
        // last calls (a recompile when a kernel turns hot, or after
        // `:quantize`), else the unit's `// bench:` line, else 1024
        let mut sizes = pj_compiler::target::report::bench_sizes(&text).unwrap_or_default();
        for k in module.kernel_names() {
            if let Some(last) = self.last_sizes.get(&k) {
                sizes.extend(last.iter().cloned());
            }
        }
        let options = Options {
            quantize: self
                .settings
                .quantize
                .map(pj_compiler::quant::plan::Request::new),
            sizes,
            ..self.options(tier).unwrap_or_default()
        }
        .for_module(&module);
        if options.quantize.is_some() {
            let records = options.quantize_passes().run(&mut module)?;
            for n in records.iter().flat_map(|r| &r.notes) {
                let _ = writeln!(self.out, "quantize: {n}");
            }
        }
        phases.push(("passes".to_string(), t.elapsed()));
        let jit = match self.options(tier) {
            Some(options) => {
                let t = Instant::now();
                let (lowered, _) = driver::lower(&module, &options, Stage::Optimized)?;
                phases.push(("lowering".to_string(), t.elapsed()));
                let t = Instant::now();
                let code = driver::jit(&lowered, &options)?;
                phases.push((options.backend.name().to_string(), t.elapsed()));
                Some(code)
            }
            None => None,
        };
        Ok(Compiled {
            module,
            jit,
            phases,
        })
    }

    /// Evaluates an expression to its named values (a call may have several).
    fn eval(&mut self, e: &Expr, src: &str) -> Result<Vec<(String, Value)>> {
        match e {
            Expr::Name(n, _) => Ok(vec![(n.clone(), self.var(n)?.clone())]),
            Expr::Number(text, _) => {
                let s =
                    if text.contains(['.', 'e', 'E'])
                        || text.contains("inf")
                        || text.contains("nan")
                    {
                        Scalar::F64(
                            text.parse()
                                .map_err(|_| anyhow!("`{text}` is not a number"))?,
                        )
                    } else {
                        Scalar::I64(text.parse().map_err(|_| {
                            anyhow!("`{text}` is not a whole number (or is too large)")
                        })?)
                    };
                Ok(vec![("_".into(), Value::Scalar(s))])
            }
            Expr::Str(..) => bail!("a string is only an argument of load(...)"),
            Expr::Call { name, args, .. } => {
                if BUILTINS.iter().any(|(b, _)| b == name) && !self.kernels.contains_key(name) {
                    return Ok(vec![(name.clone(), self.builtin(name, args, src)?)]);
                }
                if let Some(t) = ScalarType::from_name(name)
                    && !self.kernels.contains_key(name)
                {
                    return Ok(vec![(name.clone(), self.convert(t, args, src)?)]);
                }
                self.call(name, args, src)
            }
        }
    }

    fn single(&mut self, e: &Expr, src: &str) -> Result<Value> {
        let mut v = self.eval(e, src)?;
        if v.len() != 1 {
            bail!(
                "`{}` has {} results where one value is needed; bind them with let (a, b) = ...",
                &src[e.span().start..e.span().end.min(src.len())],
                v.len()
            );
        }
        Ok(v.remove(0).1)
    }

    /// `f32(a)`: `a` (an array or a number) converted to `t` element by
    /// element, as the language's conversion does (`Scalar::cast`: floats
    /// to integers saturate, NaN to 0; integers wrap).
    fn convert(&mut self, t: ScalarType, args: &[Expr], src: &str) -> Result<Value> {
        let [arg] = args else {
            bail!("`{t}(x)` converts one value, {} given", args.len());
        };
        Ok(match self.single(arg, src)? {
            Value::Scalar(s) => Value::Scalar(s.cast(t)),
            Value::Array(a) => Value::Array(Tensor::new(
                t,
                a.shape.clone(),
                a.data.iter().map(|s| s.cast(t)).collect(),
            )),
        })
    }

    fn builtin(&mut self, name: &str, args: &[Expr], src: &str) -> Result<Value> {
        let usage = BUILTINS
            .iter()
            .find(|(b, _)| *b == name)
            .map_or("", |(_, h)| *h);
        if name == "load" {
            let [Expr::Str(path, _)] = args else {
                bail!("usage: {usage}");
            };
            let path = Path::new(path);
            let t = if image_io::is_image(path) {
                image_io::read(path)?
            } else {
                npy::read(path)?
            };
            return Ok(Value::Array(t));
        }
        let Some((Expr::Name(tname, _), dims)) = args.split_first() else {
            bail!("usage: {usage}");
        };
        let elem = parse_elem(tname)?;
        let mut shape = Vec::new();
        for d in dims {
            let v = self.single(d, src)?;
            let n = match v {
                Value::Scalar(s) if !s.ty().is_float() => s.as_i64().unwrap_or(-1),
                _ => bail!("usage: {usage} (dims are whole numbers)"),
            };
            if n < 0 {
                bail!("a dim cannot be negative ({n})");
            }
            shape.push(n as usize);
        }
        if name == "arange" && shape.len() != 1 {
            bail!("usage: {usage}");
        }
        let count = shape
            .iter()
            .try_fold(1usize, |a, &n| a.checked_mul(n))
            .filter(|&n| n <= MAX_ELEMENTS)
            .ok_or_else(|| {
                anyhow!("{shape:?} is more than 2^28 elements, the most a REPL array holds (16 bytes each); run larger arrays from .npy files with `pj run`")
            })?;
        // what is left of memory decides, not an abort
        let mut data: Vec<Scalar> = Vec::new();
        data.try_reserve_exact(count).map_err(|_| {
            anyhow!(
                "cannot allocate {shape:?}: {count} elements take {} bytes as REPL values (16 bytes each)",
                count.saturating_mul(16)
            )
        })?;
        data.extend((0..count).map(|i| match name {
            "zeros" => Scalar::F64(0.0).cast(elem),
            "ones" => Scalar::F64(1.0).cast(elem),
            "arange" => Scalar::I64(i as i64).cast(elem),
            _ => {
                self.rng ^= self.rng << 13;
                self.rng ^= self.rng >> 7;
                self.rng ^= self.rng << 17;
                if elem.is_float() {
                    Scalar::F64((self.rng >> 11) as f64 / (1u64 << 53) as f64).cast(elem)
                } else if elem == ScalarType::Bool {
                    Scalar::Bool(self.rng >> 63 == 1)
                } else {
                    // every value of the type alike: the low bits, wrapped
                    Scalar::I64(self.rng as i64).cast(elem)
                }
            }
        }));
        Ok(Value::Array(Tensor::new(elem, shape, data)))
    }

    /// The arguments of a kernel call as its parameters' values.
    fn arguments(
        &mut self,
        kernel: &str,
        m: &Module,
        args: &[Expr],
        src: &str,
    ) -> Result<Vec<Value>> {
        let sig = signature(m, m.kernel(kernel).expect("defined"));
        if args.len() != sig.params.len() {
            bail!(
                "`{}` takes {} argument{} ({}), {} given",
                kernel,
                sig.params.len(),
                plural(sig.params.len()),
                sig.params
                    .iter()
                    .map(|(n, t)| format!("{n}: {t}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                args.len()
            );
        }
        let mut values = Vec::new();
        for (a, (pname, ty)) in args.iter().zip(&sig.params) {
            let v = self.single(a, src)?;
            values.push(match (ty, v) {
                (Type::Scalar(t), Value::Scalar(s)) => {
                    Value::Scalar(convert(s, *t).ok_or_else(|| {
                        anyhow!(
                            "argument `{pname}` is {t}; {} does not fit",
                            show::scalar(&s)
                        )
                    })?)
                }
                (Type::Scalar(t), Value::Array(a)) => bail!(
                    "argument `{pname}` is a {t} scalar, given an array {}{:?}",
                    a.elem,
                    a.shape
                ),
                (t, Value::Scalar(s)) => bail!(
                    "argument `{pname}` is an array {t}, given the scalar {}",
                    show::scalar(&s)
                ),
                (_, v @ Value::Array(_)) => v,
            });
        }
        Ok(values)
    }

    fn call(&mut self, kernel: &str, args: &[Expr], src: &str) -> Result<Vec<(String, Value)>> {
        let (c, key, tier) = self.compiled(kernel)?;
        let values = self.arguments(kernel, &c.module, args, src)?;
        self.remember_sizes(kernel, &c.module, &values);
        let results = signature(&c.module, c.module.kernel(kernel).expect("compiled")).results;
        pj_runtime::interrupt::clear();
        let started = Instant::now();
        let out = self.in_pool(|| -> Result<Vec<Tensor>> {
            Ok(match &c.jit {
                Some(code) => code
                    .kernel(kernel)
                    .ok_or_else(|| anyhow!("`{kernel}` was not compiled"))?
                    .call(&values)?,
                None => interp::run(&c.module, kernel, &values)?,
            })
        });
        let took = started.elapsed();
        let native = c.jit.as_ref().map(|j| j.backend());
        let llvm_done = native == Some(NativeBackend::Llvm) && tier == Tier::Optimizing;
        if native.is_some()
            && !llvm_done
            && !self.not_upgradable.contains(&key)
            && self.tiering.wants(key, took)
            && let Some(options) = self.options(Tier::Optimizing)
        {
            self.tiering.start(key, kernel, c.module.clone(), options);
        }
        // long enough that the optimizing compile pays off: Cranelift's
        // (milliseconds) now; LLVM's comes from the background when one
        // runs (the session never waits for LLVM)
        let in_background = native == Some(NativeBackend::Llvm) && self.tiering.is_running(key);
        if tier == Tier::Quick && native.is_some() && took > self.tiering.after && !in_background {
            self.hot.insert(key);
        }
        if pj_runtime::interrupt::take() && out.is_ok() {
            let _ = writeln!(
                self.err,
                "note: Ctrl-C came while `{kernel}` ran, but it has no point where it can stop (it finished)"
            );
        }
        Ok(results
            .into_iter()
            .zip(out?)
            .map(|(n, t)| (n, Value::Array(t)))
            .collect())
    }

    fn in_pool<R>(&self, f: impl FnOnce() -> R) -> R {
        pj_runtime::parallel::with_pool(self.pool.clone(), f)
    }

    fn remember_sizes(&mut self, kernel: &str, m: &Module, values: &[Value]) {
        let sig = signature(m, m.kernel(kernel).expect("compiled"));
        let mut sizes = Vec::new();
        for ((_, ty), v) in sig.params.iter().zip(values) {
            if let (Type::Tensor { dims, .. } | Type::Buffer { dims, .. }, Value::Array(t)) =
                (ty, v)
            {
                for (d, &n) in dims.iter().zip(&t.shape) {
                    if let Dim::Sym(s) = d
                        && !sizes.iter().any(|(k, _)| k == s)
                    {
                        sizes.push((s.clone(), n as i64));
                    }
                }
            }
        }
        self.last_sizes.insert(kernel.to_string(), sizes);
    }

    fn show_image(&mut self, name: &str) -> Result<()> {
        let Value::Array(t) = self.var(name)? else {
            bail!(
                "`{name}` is a scalar; :show draws arrays (a line for 1-D, a picture for 2-D or HxWx3)"
            );
        };
        if t.shape.len() == 1 {
            let ys: Vec<f64> = t.data.iter().map(|v| v.as_f64()).collect();
            if ys.is_empty() {
                bail!("`{name}` is empty: nothing to draw");
            }
            let path =
                std::env::temp_dir().join(format!("pj-show-{}-{name}.svg", std::process::id()));
            let svg = crate::plot::line::svg(name, &ys)?;
            crate::plot::write_svg(&path, &svg)?;
            // the picture itself where the terminal shows images, else braille
            match crate::plot::inline::svg_sequence(&svg) {
                Some(seq) => {
                    let _ = write!(self.out, "{seq}");
                }
                None => {
                    let _ = writeln!(self.out, "{}", crate::plot::line::terminal(&ys));
                }
            }
            let _ = writeln!(self.out, "{}", path.display());
            return Ok(());
        }
        let png = image_io::encode_png(t)?;
        let path = std::env::temp_dir().join(format!("pj-show-{}-{name}.png", std::process::id()));
        picojoule::write_atomic(&[(&path, &png)])?;
        let _ = writeln!(self.out, "{}", path.display());
        if let Some(protocol) = crate::plot::inline::detect() {
            let _ = write!(
                self.out,
                "{}",
                crate::plot::inline::sequence(protocol, &png)
            );
        }
        Ok(())
    }

    /// The kernel's unit at the `pj` level, after the default passes
    /// (unless `:opt 0`): what `:ir` shows and `:asm` lowers.
    fn high_level(&self, kernel: &str) -> Result<Module> {
        let unit = self.unit_of(kernel)?;
        let mut m = pj_compiler::compile_source(&self.units[unit].name, &self.units[unit].text)
            .map_err(|_| anyhow!("`{kernel}` no longer compiles; :reload shows why"))?
            .module;
        if self.settings.opt > 0 {
            PassManager::parse(DEFAULT_PIPELINE)
                .map_err(|e| anyhow!(e))?
                .run(&mut m)?;
        }
        Ok(m)
    }

    fn ir(&mut self, args: &[String]) -> Result<()> {
        let usage = ":ir KERNEL [after PASS | --stage loops]";
        let Some(kernel) = args.first() else {
            bail!("usage: {usage}");
        };
        let mut m = self.high_level(kernel)?;
        let options = self.view_options(pj_compiler::target::Target::host());
        let text = match &args[1..] {
            [] => kernel_ir(&m, kernel),
            [flag, stage] if flag == "--stage" && stage == "loops" => {
                kernel_ir(&driver::lower(&m, &options, Stage::Optimized)?.0, kernel)
            }
            [after, pass] if after == "after" => {
                // the issue's and Halide's words for two of the passes
                let pass = &match pass.as_str() {
                    "fuse" | "fusion" => "inline-pointwise".to_string(),
                    "lower" | "lowering" => "lower-stages".to_string(),
                    p => p.to_string(),
                };
                let mut pm = options.pass_manager(Stage::Optimized);
                if !pm.names().iter().any(|p| p == pass) {
                    bail!(
                        "the lowering pipeline has no pass `{pass}`; it runs: {}",
                        pm.names().join(", ")
                    );
                }
                pm.print_after_all = true;
                let records = pm.run(&mut m)?;
                let r = records
                    .iter()
                    .rev()
                    .find(|r| r.name == pass)
                    .expect("checked");
                let ir = pj_compiler::ir::parse::parse_module(r.ir_after.as_deref().unwrap_or(""))
                    .map_err(|d| anyhow!("{}", d.message))?;
                kernel_ir(&ir, kernel)
            }
            _ => bail!("usage: {usage}"),
        };
        let _ = write!(self.out, "{text}");
        Ok(())
    }

    fn asm(&mut self, args: &[String]) -> Result<()> {
        let hot = args.iter().any(|a| a == "--hot");
        let args: Vec<String> = args.iter().filter(|a| *a != "--hot").cloned().collect();
        let (kernel, target) = match args.as_slice() {
            [k] => (k, self.settings.target.clone()),
            [k, flag, t] if flag == "--target" => (k, t.clone()),
            _ => bail!("usage: :asm KERNEL [--target T] [--hot]"),
        };
        let m = self.high_level(kernel)?;
        let options = self.view_options(machine_target(&target)?);
        let (lowered, _) = driver::lower(&m, &options, Stage::Optimized)?;
        let text = driver::emit(
            &lowered,
            &options,
            std::slice::from_ref(kernel),
            driver::Emit::Asm,
        )?;
        let mut text = String::from_utf8_lossy(&text).into_owned();
        if hot {
            let unit = &self.units[self.unit_of(kernel)?];
            let file = unit
                .path
                .as_ref()
                .map_or_else(|| unit.name.clone(), |p| p.display().to_string());
            text = crate::hot::hot(
                &text,
                &lowered,
                std::slice::from_ref(kernel),
                &file,
                &unit.text,
            );
        }
        let _ = write!(self.out, "{text}");
        Ok(())
    }

    /// `:energy`/`:explain`; `:plot` with a file (`plot`), or drawn here
    /// as bars (`bars`).
    fn model_with(
        &mut self,
        explain: bool,
        kernel: &str,
        plot: Option<PathBuf>,
        bars: bool,
    ) -> Result<()> {
        let unit = self.unit_of(kernel)?;
        let Some(sizes) = self.last_sizes.get(kernel).cloned() else {
            bail!("`{kernel}` has not been called yet: the model needs the sizes of a call");
        };
        // the model reads a file; typed kernels get a temporary one
        let dir = tempfile::tempdir()?;
        let file = match &self.units[unit].path {
            Some(p) => p.clone(),
            None => {
                let f = dir.path().join(format!("{kernel}.pj"));
                std::fs::write(&f, &self.units[unit].text)?;
                f
            }
        };
        let opts = crate::energy::ModelArgs {
            file,
            kernel: Some(kernel.to_string()),
            sizes: vec![
                sizes
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(","),
            ],
            args: Vec::new(),
            target: Some(profile_name(&self.settings.target)).filter(|t| t != "host"),
            // the session's backend (the interpreter's calls: Cranelift's code)
            backend: match self.settings.backend {
                Backend::Interp => Backend::Cranelift,
                b => b,
            },
            threads: self.settings.threads.unwrap_or(1).max(1) as u32,
            json: false,
            bars,
            plot,
            quantize: self.settings.quantize,
            tolerance: None,
        };
        // without a file, in a terminal that shows images: the picture too
        // (kept, as `:show`'s are: "drew PATH" names a file that stays)
        let which = if explain { "explain" } else { "energy" };
        let shown = (opts.plot.is_none() && crate::plot::inline::detect().is_some()).then(|| {
            std::env::temp_dir().join(format!(
                "pj-plot-{}-{which}-{kernel}.svg",
                std::process::id()
            ))
        });
        let opts = crate::energy::ModelArgs {
            plot: opts.plot.clone().or_else(|| shown.clone()),
            ..opts
        };
        self.out.flush()?;
        if explain {
            crate::energy::explain(&opts)?;
        } else {
            crate::energy::energy(&opts, false)?;
        }
        if let Some(svg) = shown
            && let Ok(svg) = std::fs::read_to_string(svg)
            && let Some(seq) = crate::plot::inline::svg_sequence(&svg)
        {
            let _ = write!(self.out, "{seq}");
        }
        Ok(())
    }

    fn time(&mut self, call_text: &str) -> Result<()> {
        let Stmt::Expr(Expr::Call { name, args, .. }) =
            syntax::parse(call_text).map_err(|d| anyhow!("{}", d.message))?
        else {
            bail!("usage: :time KERNEL(args)");
        };
        if !self.kernels.contains_key(&name) {
            bail!("no kernel `{name}`{}", suggest(&name, self.kernels.keys()));
        }
        // compile afresh (not from the cache) at both tiers; run the
        // optimizing tier's code
        let unit = self.unit_of(&name)?;
        let t = Instant::now();
        self.compile_unit(unit, Tier::Quick)?;
        let quick = t.elapsed();
        let t = Instant::now();
        let c = self.compile_unit(unit, Tier::Optimizing)?;
        let compile = t.elapsed();
        let values = self.arguments(&name, &c.module, &args, call_text)?;
        self.remember_sizes(&name, &c.module, &values);
        let mut times = Vec::new();
        let budget = Duration::from_millis(500);
        let start = Instant::now();
        match &c.jit {
            Some(code) => {
                let k = code
                    .kernel(&name)
                    .ok_or_else(|| anyhow!("`{name}` was not compiled"))?;
                let mut owned: Vec<Option<pj_runtime::Buffer>> = Vec::new();
                for v in &values {
                    owned.push(match v {
                        Value::Array(t) => Some(to_buffer(t)?),
                        Value::Scalar(_) => None,
                    });
                }
                let mut kargs: Vec<KernelArg<'_>> = owned
                    .iter_mut()
                    .zip(&values)
                    .map(|(b, v)| match (b, v) {
                        (Some(b), _) => KernelArg::Array(b),
                        (None, Value::Scalar(s)) => KernelArg::Scalar(*s),
                        (None, Value::Array(_)) => unreachable!("converted above"),
                    })
                    .collect();
                let shapes = k.result_shapes(&mut kargs)?;
                let mut outs = Vec::new();
                for (shape, elem) in shapes.iter().zip(k.result_elems()) {
                    let elem = pj_compiler::codegen::abi::elem_code(elem);
                    outs.push(pj_runtime::Buffer::zeros(elem, shape).map_err(|e| {
                        anyhow!("cannot allocate a result of shape {shape:?}: {e}")
                    })?);
                }
                let pool = self.pool.clone();
                pj_runtime::interrupt::clear();
                while times.len() < 5 || (start.elapsed() < budget && times.len() < 1000) {
                    let mut refs: Vec<&mut pj_runtime::Buffer> = outs.iter_mut().collect();
                    let t = Instant::now();
                    pj_runtime::parallel::with_pool(pool.clone(), || {
                        k.call_buffers(&mut kargs, &mut refs)
                    })?;
                    times.push(t.elapsed());
                    if pj_runtime::interrupt::take() {
                        break;
                    }
                }
            }
            None => {
                while times.len() < 3 || (start.elapsed() < budget && times.len() < 100) {
                    let t = Instant::now();
                    self.in_pool(|| interp::run(&c.module, &name, &values))?;
                    times.push(t.elapsed());
                }
            }
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let phases: Vec<String> = c
            .phases
            .iter()
            .map(|(p, d)| format!("{p} {:.2}", ms(*d)))
            .collect();
        let quick = match self.settings.backend {
            Backend::Interp => String::new(),
            _ => format!("; quick tier {:.2} ms", ms(quick)),
        };
        let _ = writeln!(
            self.out,
            "compile  {:.2} ms ({}{quick})\nrun      median {:.3} ms, min {:.3}, max {:.3} over {} runs ({})",
            ms(compile),
            phases.join(", "),
            ms(times[times.len() / 2]),
            ms(times[0]),
            ms(*times.last().expect("at least one run")),
            times.len(),
            match self.settings.backend {
                Backend::Interp => "interpreter",
                b => b.name(),
            }
        );
        Ok(())
    }
}

/// Errors already printed as diagnostics.
#[derive(Debug)]
struct Reported;

impl std::fmt::Display for Reported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("errors were reported")
    }
}

impl std::error::Error for Reported {}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))
}

/// The machine code target of `:target T`: a triple, `host`, or the
/// triple a built-in profile describes (`apple-m1`: aarch64-apple-darwin).
fn machine_target(t: &str) -> Result<pj_compiler::target::Target> {
    let triple = match t {
        "apple-m1" => "aarch64-apple-darwin",
        "aarch64" => "aarch64-unknown-linux-gnu",
        "x86_64-avx2" | "x86_64-avx512" => "x86_64-unknown-linux-gnu",
        t => t,
    };
    pj_compiler::target::Target::parse(triple).map_err(|e| {
        anyhow!("{e} (a profile file names no machine code target: give :asm --target a triple)")
    })
}

/// The energy-model profile of `:target T`: a profile name or file, or the
/// profile of a triple.
fn profile_name(t: &str) -> String {
    match pj_compiler::target::Target::parse(t) {
        Ok(target) if t != "host" => {
            pj_compiler::target::profile::Profile::for_target(&target).name
        }
        _ => t.to_string(),
    }
}

/// The IR of one kernel and its shape companion.
fn kernel_ir(m: &Module, kernel: &str) -> String {
    let mut text = String::new();
    for k in m.kernels() {
        let sig = signature(m, k);
        let owner = m
            .op(k)
            .attr("shape_of")
            .and_then(pj_compiler::ir::Attr::as_str)
            .map_or(sig.name.clone(), str::to_string);
        if owner == kernel {
            text += &print_kernel(m, k, PrintOptions::default());
            text.push('\n');
        }
    }
    text
}

fn signature_text(m: &Module, kernel: &str) -> String {
    let sig = signature(m, m.kernel(kernel).expect("defined"));
    let params: Vec<String> = sig
        .params
        .iter()
        .map(|(n, t)| format!("{n}: {t}"))
        .collect();
    format!(
        "{kernel}({}) -> {}",
        params.join(", "),
        sig.results.join(", ")
    )
}

fn type_text(v: &Value) -> String {
    match v {
        Value::Scalar(s) => format!("{} = {}", s.ty(), show::scalar(s)),
        Value::Array(t) => format!("{}{:?}", t.elem, t.shape),
    }
}

fn parse_elem(name: &str) -> Result<ScalarType> {
    ScalarType::from_name(name).ok_or_else(|| {
        anyhow!("`{name}` is not an element type (bool, i8, i16, i32, i64, u8, u16, u32, f32, f64)")
    })
}

/// A number typed at the prompt as a parameter's type, if it fits: whole
/// numbers in range for integers, any number for floats.
fn convert(s: Scalar, t: ScalarType) -> Option<Scalar> {
    match s {
        Scalar::I64(v) if t.is_float() => Some(Scalar::I64(v).cast(t)),
        Scalar::I64(v) => {
            let (lo, hi) = t.int_range()?;
            (lo..=hi).contains(&v).then(|| Scalar::from_i64(v, t))
        }
        Scalar::F64(_) if t.is_float() => Some(s.cast(t)),
        s if s.ty() == t => Some(s),
        _ => None,
    }
}

/// ` (did you mean `x`?)` when a name is one edit away.
fn suggest<'a>(name: &str, names: impl Iterator<Item = &'a String>) -> String {
    names
        .filter(|n| close(n, name))
        .map(|n| format!(" (did you mean `{n}`?)"))
        .next()
        .unwrap_or_default()
}

fn close(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    // one substitution, insertion or deletion
    let (mut i, mut j, mut edits) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            i += 1;
            j += 1;
            continue;
        }
        edits += 1;
        match a.len().cmp(&b.len()) {
            std::cmp::Ordering::Greater => i += 1,
            std::cmp::Ordering::Less => j += 1,
            std::cmp::Ordering::Equal => {
                i += 1;
                j += 1;
            }
        }
    }
    edits + (a.len() - i) + (b.len() - j) <= 1
}

#[cfg(test)]
mod tests {
    use super::close;

    #[test]
    fn near_names() {
        assert!(close("blur", "blurr"));
        assert!(close("blur", "bler"));
        assert!(close("blur", "blu"));
        assert!(!close("blur", "bx"));
    }
}
