//! The LLVM backend (Cargo feature `llvm`, LLVM 22 through inkwell):
//! `lower.rs` turns each `func.func` into LLVM IR (through `emit.rs`, a thin
//! layer over LLVM's C API), LLVM's `default<O3>` pipeline optimizes it,
//! then `jit.rs` runs it in this process (MCJIT) or `object.rs` writes an
//! object file, assembly or LLVM IR for any supported target. picojoule's
//! own passes have already decided fusion, tiling, blocking and vector
//! width; LLVM cleans up, schedules and allocates registers.

pub(crate) mod emit;
pub mod jit;
pub(crate) mod lower;
pub mod object;

use crate::codegen::kernel::Tier;
use crate::codegen::{Backend, CodegenError};
use crate::ir::{Attr, Module as IrModule, OpId};
use crate::target::Target;
use emit::{Emitter, V};
use inkwell::OptimizationLevel;
use inkwell::context::Context;
use inkwell::llvm_sys::LLVMLinkage;
use inkwell::module::Module;
use inkwell::passes::PassBuilderOptions;
use inkwell::targets::{
    CodeModel, InitializationConfig, RelocMode, Target as LlvmTarget, TargetMachine, TargetTriple,
};
use lower::{FnAttrs, Shared};

/// LLVM rejected what it was given (a compiler bug).
pub(crate) fn internal(message: String) -> CodegenError {
    CodegenError::Internal {
        backend: Backend::Llvm,
        message,
    }
}

/// The IR uses something this backend does not support.
pub(crate) fn unsupported(what: String) -> CodegenError {
    CodegenError::Unsupported {
        backend: Backend::Llvm,
        what,
    }
}

/// Registers LLVM's x86 and AArch64 targets (once per process).
fn init() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let config = InitializationConfig::default();
        LlvmTarget::initialize_x86(&config);
        LlvmTarget::initialize_aarch64(&config);
        // Loop strength reduction off: picojoule's loops index with the
        // induction variable times constant strides, which x86 and aarch64
        // addressing modes take as they are, and LSR's extra induction
        // variables made the register allocator's work twice as large.
        // Measured on every example: LLVM's compile 10-30% shorter
        // (conv2d 261 -> 182 ms, matmul 215 -> 179 ms), run times within
        // noise (docs/performance.md). LLVM has this only as a
        // process-wide option.
        //
        // `PJ_LLVM_ARGS="-time-passes ..."`: more of LLVM's options, to
        // measure one of its settings against ours (a developer's aid,
        // like `PJ_LLVM_TIME`); naming `disable-lsr` there replaces ours.
        // Parsed apart from ours: LLVM ignores a whole parse that has a
        // mistake in it (silently: its C API sends the message nowhere).
        let extra = std::env::var("PJ_LLVM_ARGS").unwrap_or_default();
        if !extra.contains("disable-lsr") {
            parse_llvm_options("-disable-lsr");
        }
        if !extra.trim().is_empty() {
            parse_llvm_options(&extra);
        }
    });
}

/// Hands `args` (space-separated) to LLVM's command-line parser, which
/// sets its process-wide options.
fn parse_llvm_options(args: &str) {
    let argv: Vec<std::ffi::CString> = std::iter::once("picojoule")
        .chain(args.split_whitespace())
        .filter_map(|a| std::ffi::CString::new(a).ok())
        .collect();
    let ptrs: Vec<*const std::ffi::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    // SAFETY: `ptrs` point into `argv`, alive for the call; LLVM copies
    // what it keeps
    unsafe {
        inkwell::llvm_sys::support::LLVMParseCommandLineOptions(
            ptrs.len() as i32,
            ptrs.as_ptr(),
            std::ptr::null(),
        )
    };
}

/// LLVM's triple, CPU and features for `target`: this machine's own for
/// `host`; for a triple, the architecture's baseline (`x86-64`; `generic`
/// aarch64; `apple-m1` for Apple silicon, the first of its kind).
fn describe(target: &Target) -> (String, String, String) {
    use target_lexicon::Architecture;
    if target.is_host {
        return (
            TargetMachine::get_default_triple()
                .as_str()
                .to_string_lossy()
                .into_owned(),
            TargetMachine::get_host_cpu_name().to_string(),
            TargetMachine::get_host_cpu_features().to_string(),
        );
    }
    let (triple, baseline) = match (target.triple.architecture, target.is_apple()) {
        (Architecture::Aarch64(_), true) => ("arm64-apple-macosx11.0.0", "apple-m1"),
        (Architecture::Aarch64(_), false) => ("aarch64-unknown-linux-gnu", "generic"),
        (_, true) => ("x86_64-apple-macosx10.15.0", "x86-64"),
        (_, false) => ("x86_64-unknown-linux-gnu", "x86-64"),
    };
    let cpu = target.cpu.map_or(baseline, |c| c.name);
    (triple.into(), cpu.into(), String::new())
}

/// A target machine for `target`, and the attributes its functions carry.
fn machine(target: &Target, reloc: RelocMode) -> Result<(TargetMachine, FnAttrs), CodegenError> {
    init();
    let (triple, cpu, features) = describe(target);
    let triple = TargetTriple::create(&triple);
    let t =
        LlvmTarget::from_triple(&triple).map_err(|e| CodegenError::Target(format!("LLVM: {e}")))?;
    let tm = t
        .create_target_machine(
            &triple,
            &cpu,
            &features,
            OptimizationLevel::Aggressive,
            reloc,
            CodeModel::Default,
        )
        .ok_or_else(|| CodegenError::Target(format!("LLVM has no machine for {triple}")))?;
    let attrs = FnAttrs {
        cpu,
        features,
        dot: target.dot_products(),
        aarch64: target.arch() == "aarch64",
        avx512: target.has_avx512(),
        // x86 only: an aarch64 `stnp` orders nothing, and the barrier it
        // would need is not worth it before measuring on such a machine.
        // `PJ_NONTEMPORAL_BYTES=N`: another threshold (the tests take the
        // non-temporal path at their small sizes with 0)
        nontemporal_bytes: (target.arch() == "x86_64").then(|| {
            std::env::var("PJ_NONTEMPORAL_BYTES")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| {
                    crate::target::profile::Profile::for_target(target).nontemporal_bytes()
                })
        }),
    };
    Ok((tm, attrs))
}

/// How a kernel's functions are named and linked in the module.
struct Naming<'a> {
    /// The symbol of a `func.func` (kernel or shape companion).
    symbol: &'a dyn Fn(&str) -> String,
    linkage: LLVMLinkage,
}

/// Declares and defines every `func.func` of `ir` whose owning kernel is
/// in `only` (all if empty), kernels' checked copies in `checked` when
/// given; returns each one's name, op and function.
#[allow(clippy::too_many_arguments)]
fn define_all<'ctx>(
    ctx: &'ctx Context,
    module: &Module<'ctx>,
    checked: Option<&Module<'ctx>>,
    ir: &IrModule,
    attrs: &FnAttrs,
    tier: Tier,
    only: &[String],
    naming: &Naming<'_>,
) -> Result<Vec<(String, OpId, V)>, CodegenError> {
    let builder = ctx.create_builder();
    let e = Emitter::new(ctx, module, &builder);
    let rt = lower::declare_runtime(&e);
    let shared = Shared {
        e: &e,
        ir,
        rt: &rt,
        attrs,
        tier,
    };
    let checked_builder = ctx.create_builder();
    let checked_e = checked.map(|m| Emitter::new(ctx, m, &checked_builder));
    let checked_rt = checked_e.as_ref().map(lower::declare_runtime);
    let checked_shared = checked_e
        .as_ref()
        .zip(checked_rt.as_ref())
        .map(|(e, rt)| Shared {
            e,
            ir,
            rt,
            attrs,
            tier,
        });
    let funcs: Vec<(OpId, String)> = ir
        .kernels()
        .into_iter()
        .map(|f| (f, crate::dialects::signature(ir, f).name))
        .filter(|(f, name)| {
            let owner = ir
                .op(*f)
                .attr("shape_of")
                .and_then(Attr::as_str)
                .unwrap_or(name);
            only.is_empty() || only.iter().any(|o| o == owner)
        })
        .collect();
    let mut defined = Vec::new();
    for (f, name) in &funcs {
        let ty = lower::kernel_fn_ty(&e, ir, *f);
        let v = e.add_function(&(naming.symbol)(name), ty, naming.linkage);
        defined.push((name.clone(), *f, v));
    }
    for (_, f, v) in &defined {
        lower::define_kernel(&shared, checked_shared.as_ref(), *f, *v)?;
    }
    Ok(defined)
}

/// Verifies `module`, then runs LLVM's pipeline for `tier` on it.
/// The optimizing tier's LLVM passes: what picojoule's own passes leave
/// to LLVM — promoting the lowering's stack slots (`sroa`), redundancy
/// (`early-cse`, `newgvn`), peepholes (`instcombine`), control flow
/// (`simplifycfg`) and loop-invariant code (`licm`: the addresses of a
/// register block's loads). picojoule has already fused, tiled, blocked,
/// vectorized and versioned the loops, so `default<O3>`'s other passes
/// found little: on every example this pipeline compiles 1.3-2.7x faster
/// (matmul 554 -> 201 ms, conv2d 422 -> 161 ms) with run times within
/// this machine's noise of O3's (docs/performance.md). NewGVN, not GVN:
/// the same run times, where GVN alone took 240 of matmul's ms (qdot
/// without either runs 1.4x slower). `instcombine` without its fixpoint
/// check, which aborts the process when it fires.
const OPTIMIZING_PIPELINE: &str = "function(sroa,early-cse<memssa>,instcombine<no-verify-fixpoint>,\
    simplifycfg,loop-mssa(licm),newgvn,instcombine<no-verify-fixpoint>,simplifycfg)";

fn optimize(module: &Module<'_>, tm: &TargetMachine, tier: Tier) -> Result<(), CodegenError> {
    lower::verify(module)?;
    module.set_triple(&tm.get_triple());
    module.set_data_layout(&tm.get_target_data().get_data_layout());
    let pipeline = match tier {
        Tier::Quick => "default<O1>",
        Tier::Optimizing => OPTIMIZING_PIPELINE,
    };
    // `PJ_LLVM_PIPELINE`: another pipeline, to measure one against this
    // (a developer's aid, like `PJ_LLVM_TIME`)
    let custom = std::env::var("PJ_LLVM_PIPELINE").ok();
    let pipeline = custom.as_deref().unwrap_or(pipeline);
    // picojoule's passes decide vectorization (the width is the backend's
    // and target's: `Options::vector_bits`); LLVM's vectorizers would only
    // add remainder loops and compile time
    let options = PassBuilderOptions::create();
    options.set_loop_vectorization(false);
    options.set_loop_slp_vectorization(false);
    module
        .run_passes(pipeline, tm, options)
        .map_err(|e| internal(format!("{pipeline}: {e}")))
}
