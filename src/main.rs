//! `pj`: the picojoule command line. Argument parsing and wiring only; the
//! work happens in `pj-lang` and `pj-compiler`.

mod bench;
mod calibrate;
mod commands;
mod energy;
mod hot;
mod kernel_args;
mod machine;
mod plot;
mod progress;
mod repl;
mod shared_library;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "pj",
    version,
    about = "picojoule: compile array pipeline kernels for the most work per joule"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// What `pj emit` prints.
#[derive(Clone, Copy, ValueEnum)]
pub enum Stage {
    /// The syntax tree, printed back as fully parenthesized source.
    Ast,
    /// The IR (`pj` dialect), after `--passes` if given.
    Ir,
}

/// `pj bench --tier`.
#[derive(Clone, Copy, ValueEnum)]
pub enum CompileTier {
    /// The single-pass register allocator: fast compiles.
    Quick,
    /// The backtracking register allocator: the best code.
    Optimizing,
}

#[derive(Subcommand)]
enum Command {
    /// Check a .pj file and report diagnostics.
    Check {
        /// The .pj file.
        file: PathBuf,
    },
    /// Print the AST or the IR of a .pj file.
    Emit {
        /// The .pj file.
        file: PathBuf,
        /// What to print.
        #[arg(long, value_enum, default_value = "ir")]
        stage: Stage,
        /// Passes to run before printing the IR (comma-separated).
        #[arg(long)]
        passes: Option<String>,
        /// Print source locations (`loc(...)`) after ops.
        #[arg(long)]
        locs: bool,
    },
    /// Run passes over a .pj or .pjir file and print the resulting IR.
    Opt {
        /// A .pj source file or a .pjir IR file.
        file: PathBuf,
        /// Comma-separated pipeline; default: canonicalize,cse,dce.
        #[arg(long)]
        passes: Option<String>,
        /// Print the IR after every pass.
        #[arg(long)]
        print_ir_after_all: bool,
        /// Report how long each pass took (on stderr).
        #[arg(long)]
        time_passes: bool,
        /// Print source locations (`loc(...)`) after ops.
        #[arg(long)]
        locs: bool,
        /// What `vectorize` (and `contract`) may change: `off` (the
        /// default here: the passes as named, in the reference order);
        /// `reassoc`: float reductions into vector partial sums, as
        /// `pj run` compiles; `contract`: that, and `contract` inserted
        /// after `vectorize` (fused multiply-adds, for a machine with FMA).
        #[arg(long, value_enum, default_value = "off")]
        fast_math: commands::FastMath,
    },
    /// Run a kernel on .npy inputs.
    Run {
        /// A .pj source file or a .pjir IR file.
        file: PathBuf,
        /// The kernel to run (may be omitted when the file has one).
        #[arg(long)]
        kernel: Option<String>,
        /// `NAME=PATH.npy` (or a .png/.jpg picture: f32 in [0, 1]) for arrays, `NAME=VALUE` (or a 0-d .npy) for scalars.
        #[arg(long = "arg", value_name = "NAME=VALUE")]
        args: Vec<String>,
        /// `NAME=PATH.npy` (or `.png`, a picture: floats taken as [0, 1]): write a result; without any, a summary is printed.
        #[arg(long = "out", value_name = "NAME=PATH")]
        outs: Vec<String>,
        /// Who executes the kernel.
        #[arg(long, value_enum, default_value = "cranelift")]
        backend: commands::Backend,
        /// Passes to run first; default: canonicalize,cse,dce.
        #[arg(long)]
        passes: Option<String>,
        /// Report how long each phase took (on stderr): front end, each
        /// pass, lowering, code generation, the run.
        #[arg(long)]
        time_passes: bool,
        /// Worker threads for parallel loops, 1 to 1024 (default: `PJ_THREADS`, else all cores).
        #[arg(long)]
        threads: Option<usize>,
        #[command(flatten)]
        codegen: commands::CodegenFlags,
    },
    /// Compile kernels ahead of time: an object file and a C header.
    Build {
        /// A .pj source file or a .pjir IR file.
        file: PathBuf,
        /// Only this kernel (default: all of the file's kernels).
        #[arg(long)]
        kernel: Option<String>,
        /// `host` or a triple from `pj targets`.
        #[arg(long, default_value = "host")]
        target: String,
        /// The file to write; with `--emit obj`, the header goes next to it with `.h`.
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
        /// Who generates the code: `cranelift` or `llvm`.
        #[arg(long, value_enum, default_value = "cranelift")]
        backend: commands::Backend,
        /// A processor to select instructions for (with `--backend llvm`):
        /// e.g. `znver4`, `skylake-avx512`, `x86-64-v3`, `neoverse-v2`,
        /// `apple-m2`; the code then runs on that processor and its successors.
        #[arg(long, value_name = "NAME")]
        cpu: Option<String>,
        /// What to write: an object file and its C header, or text.
        #[arg(long, value_enum, default_value = "obj")]
        emit: commands::EmitKind,
        /// With `--emit asm`: only the innermost loops of each function,
        /// each with the source lines of the stages it computes.
        #[arg(long)]
        hot: bool,
        #[command(flatten)]
        codegen: commands::CodegenFlags,
    },
    /// List the targets `pj build --target` accepts, with their features.
    Targets,
    /// Differential testing: generate kernels from seeds and check that
    /// every pass and backend agrees with the interpreter (docs/reliability.md).
    Difftest {
        /// The first seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// How many programs (seeds `seed..seed + count`).
        #[arg(long, default_value_t = 1000)]
        count: u64,
        /// Print one program's source and arguments instead (with `--seed`).
        #[arg(long)]
        show: bool,
        /// Also print why each rejected program was rejected.
        #[arg(long)]
        rejects: bool,
    },
    /// Benchmark a kernel: compile time, run time, traffic, roofline.
    Bench {
        /// A .pj source file.
        file: PathBuf,
        /// The kernel (may be omitted when the file has one).
        #[arg(long)]
        kernel: Option<String>,
        /// Sizes, e.g. `--size H=4096,W=4096` (default: the file's `// bench:` line, else 1024).
        #[arg(long = "size", value_name = "NAME=VALUE,...")]
        sizes: Vec<String>,
        /// Real data or a scalar's value, as `pj run` takes them: `NAME=PATH.npy`
        /// (or a picture) for an array, whose shape then binds its sizes;
        /// `NAME=VALUE` for a scalar (default: 0.5, or 1 for an integer).
        #[arg(long = "arg", value_name = "NAME=VALUE")]
        args: Vec<String>,
        /// Timed runs, at least (more run while under half a second).
        #[arg(long, default_value_t = 5)]
        reps: usize,
        /// Worker threads for parallel loops (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// Measure the memory roofline (a STREAM-like triad) and report the fraction reached.
        #[arg(long)]
        roofline: bool,
        /// With --roofline: draw the kernel as a point on this machine's
        /// roofline, an SVG picture.
        #[arg(long, value_name = "FILE.svg", requires = "roofline")]
        plot: Option<PathBuf>,
        /// One compile and exactly one run, no warm-up (for cache simulators).
        #[arg(long)]
        once: bool,
        /// The backend's effort: `quick` (the REPL's first compile) or `optimizing`.
        #[arg(long, value_enum, default_value = "optimizing")]
        tier: CompileTier,
        /// Who generates the code: `cranelift` or `llvm`.
        #[arg(long, value_enum, default_value = "cranelift")]
        backend: commands::Backend,
        #[command(flatten)]
        codegen: commands::CodegenFlags,
    },
    /// Estimate a kernel's energy and time per loop nest, unoptimized and
    /// optimized, from a target profile (`--compare`: every profile).
    Energy {
        #[command(flatten)]
        model: energy::ModelArgs,
        /// The same kernel on every built-in profile.
        #[arg(long)]
        compare: bool,
    },
    /// Show the schedule the optimizer chose for each stage, why, and the
    /// estimated energy and time of every alternative it weighed.
    Explain {
        #[command(flatten)]
        model: energy::ModelArgs,
    },
    /// Without a file: measure this machine for the host profile the
    /// energy model and the scheduler use (a few seconds; kept per machine
    /// in the user's data directory, or $PJ_DATA_DIR). With a file:
    /// measure the value ranges of a kernel's inputs in sample data and of
    /// its results (the interpreter), what `@range` declares for
    /// quantization; `--write` puts the observed input ranges into the
    /// source as `@range(lo, hi)`.
    Calibrate {
        /// A .pj source file (or a .pjir IR file, without --write). Without
        /// one: measure this machine (clock, FMA throughput, bandwidth from
        /// L1 to DRAM) for the host profile, and keep the result.
        file: Option<PathBuf>,
        /// The kernel (may be omitted when the file has one).
        #[arg(long)]
        kernel: Option<String>,
        /// `NAME=PATH.npy` (or a .png/.jpg picture: f32 in [0, 1]) for arrays, `NAME=VALUE` (or a 0-d .npy) for scalars.
        #[arg(long = "arg", value_name = "NAME=VALUE")]
        args: Vec<String>,
        /// Write each parameter's observed range into the source file.
        #[arg(long)]
        write: bool,
        /// Measure this machine but do not keep the result.
        #[arg(long)]
        dry_run: bool,
    },
    /// List the passes `--passes` accepts.
    Passes,
    /// Define, JIT, run and inspect kernels interactively (docs/repl.md).
    /// Without a terminal (or with --script) it runs the statements of a
    /// script and exits non-zero if any failed.
    Repl {
        /// Run the statements of this file instead of reading a terminal.
        #[arg(long)]
        script: Option<std::path::PathBuf>,
    },
}

fn main() -> ExitCode {
    // Rust ignores SIGPIPE, so printing to a closed pipe (`pj explain --json
    // | head`) would be an error at every print; a command-line tool ends
    // quietly instead, as `cat` does.
    #[cfg(unix)]
    // SAFETY: restoring a signal's default disposition before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // A bug must not greet the user with a Rust backtrace.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let at = info
            .location()
            .map(|l| format!(" ({}:{})", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "internal compiler error: {msg}{at}\nthis is a bug in picojoule; please report it with the input that caused it"
        );
        // for whoever fixes it
        if std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0") {
            eprintln!("{}", std::backtrace::Backtrace::force_capture());
        }
    }));
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check { file } => commands::check(&file),
        Command::Emit {
            file,
            stage,
            passes,
            locs,
        } => commands::emit(&file, stage, passes.as_deref(), locs),
        Command::Opt {
            file,
            passes,
            print_ir_after_all,
            time_passes,
            locs,
            fast_math,
        } => commands::opt(
            &file,
            passes.as_deref(),
            print_ir_after_all,
            time_passes,
            locs,
            fast_math,
        ),
        Command::Run {
            file,
            kernel,
            args,
            outs,
            backend,
            passes,
            time_passes,
            threads,
            codegen,
        } => threads
            .map_or(Ok(()), |n| {
                pj_runtime::parallel::set_threads(n).map_err(|e| anyhow::anyhow!("--threads {e}"))
            })
            .and_then(|()| {
                commands::run(
                    &file,
                    kernel.as_deref(),
                    &args,
                    &outs,
                    backend,
                    passes.as_deref(),
                    time_passes,
                    codegen,
                )
            }),
        Command::Passes => commands::passes(),
        Command::Repl { script } => match repl::run(script.as_deref()) {
            Ok(true) => Ok(()),
            Ok(false) => Err(anyhow::anyhow!(commands::Reported)),
            Err(e) => Err(e),
        },
        Command::Energy { model, compare } => energy::energy(&model, compare),
        Command::Explain { model } => energy::explain(&model),
        Command::Calibrate {
            file: None,
            kernel,
            args,
            write,
            dry_run,
        } => {
            if kernel.is_some() || !args.is_empty() || write {
                Err(anyhow::anyhow!(
                    "--kernel, --arg and --write calibrate a kernel's ranges: give its file"
                ))
            } else {
                machine::calibrate_machine(!dry_run)
            }
        }
        Command::Calibrate {
            file: Some(file),
            kernel,
            args,
            write,
            dry_run,
        } => {
            if dry_run {
                Err(anyhow::anyhow!(
                    "--dry-run belongs to the machine's calibration (no file)"
                ))
            } else {
                calibrate::calibrate(&file, kernel.as_deref(), &args, write)
            }
        }
        Command::Build {
            file,
            kernel,
            target,
            output,
            backend,
            cpu,
            emit,
            hot,
            codegen,
        } => commands::build(
            &file,
            kernel.as_deref(),
            (&target, cpu.as_deref()),
            &output,
            backend,
            (emit, hot),
            codegen,
        ),
        Command::Targets => commands::targets(),
        Command::Difftest {
            seed,
            count,
            show,
            rejects,
        } => commands::difftest(seed, count, show, rejects),
        Command::Bench {
            file,
            kernel,
            sizes,
            args,
            reps,
            threads,
            json,
            roofline,
            plot,
            once,
            tier,
            backend,
            codegen,
        } => backend
            .native()
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "`pj bench` times native code: `--backend cranelift` or `--backend llvm`"
                )
            })
            .and_then(|native| {
                bench::bench(
                    &file,
                    &bench::BenchOptions {
                        kernel: kernel.as_deref(),
                        sizes: &sizes,
                        args: &args,
                        reps,
                        threads,
                        json,
                        roofline,
                        plot: plot.as_deref(),
                        once,
                        compile: pj_compiler::codegen::Options {
                            tier: match tier {
                                CompileTier::Quick => pj_compiler::codegen::Tier::Quick,
                                CompileTier::Optimizing => pj_compiler::codegen::Tier::Optimizing,
                            },
                            ..codegen.options(native, pj_compiler::target::Target::host())
                        },
                    },
                )
            }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if !e.is::<commands::Reported>() {
                eprintln!("error: {e:#}");
            }
            ExitCode::from(1)
        }
    }
}
