//! The compile driver: from checked `pj` IR to code, with one set of
//! [`Options`]. Every surface compiles through here — `pj run`, `pj build`,
//! `pj bench`, `pj energy`, the REPL, the bench crate, the Rust AOT example
//! and the tests — so that a flag means the same thing everywhere (the
//! pipeline for `-O`, the fast-math passes, the schedule's target profile,
//! the backend and its tier).
//!
//! ```text
//! checked IR ──lower──▶ loop-level IR ──jit──▶ JitModule (this process)
//!                                     └─emit─▶ object / assembly / LLVM IR
//! ```

use super::kernel::{JitModule, Tier};
use super::{
    AFTER_DEFAULT_PIPELINE, Backend, CodegenError, LOWERING_PIPELINE, UNOPTIMIZED_PIPELINE,
};
use crate::ir::Module;
use crate::passes::{PassManager, PassRecord};
use crate::target::Target;
use crate::target::profile::Profile;

/// What float arithmetic may do besides the reference order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FastMath {
    /// Nothing: every operation in the interpreter's order, bit for bit
    /// (`--strict-fp`, `--fast-math=off`).
    Off,
    /// Float sums and products may be reassociated into vector partial
    /// sums, which changes their last bits (the default).
    #[default]
    Reassoc,
    /// That, and `a * b + c` fused into one multiply-add rounded once,
    /// where the target has FMA instructions.
    Contract,
}

impl FastMath {
    /// `off`, `reassoc`, `contract`.
    pub fn parse(s: &str) -> Option<FastMath> {
        match s {
            "off" => Some(FastMath::Off),
            "reassoc" => Some(FastMath::Reassoc),
            "contract" => Some(FastMath::Contract),
            _ => None,
        }
    }

    /// Its name on command lines.
    pub fn name(self) -> &'static str {
        match self {
            FastMath::Off => "off",
            FastMath::Reassoc => "reassoc",
            FastMath::Contract => "contract",
        }
    }
}

/// Where the IR handed to [`lower`] stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// As the front end made it (`pj` dialect, checked).
    Checked,
    /// After `passes::DEFAULT_PIPELINE` (the REPL and `pj run` run it
    /// first, to show or time it).
    Optimized,
}

/// How to compile.
#[derive(Clone, Debug)]
pub struct Options {
    /// Who generates the code.
    pub backend: Backend,
    /// 0: lowering only (every stage materialized, scalar loops); 1 and 2:
    /// the optimizer.
    pub opt_level: u8,
    /// What float arithmetic may do.
    pub fast_math: FastMath,
    /// How hard the backend works (the JIT; objects are always optimized).
    pub tier: Tier,
    /// The machine the code runs on: `host` for the JIT.
    pub target: Target,
    /// `--quantize`: narrow types where a proven error bound meets the
    /// results' tolerances (none: float as written).
    pub quantize: Option<crate::quant::plan::Request>,
    /// The sizes the kernels are expected to run at (`H` → 4096), for the
    /// estimates `--quantize=auto` weighs its choices with; a size not
    /// named is taken as 1024.
    pub sizes: std::collections::HashMap<String, i64>,
}

impl Default for Options {
    /// Cranelift, `-O2`, `reassoc`, the optimizing tier, this machine: what
    /// `pj run` and `pj build` do without flags.
    fn default() -> Options {
        Options {
            backend: Backend::Cranelift,
            opt_level: 2,
            fast_math: FastMath::Reassoc,
            tier: Tier::Optimizing,
            target: Target::host(),
            quantize: None,
            sizes: std::collections::HashMap::new(),
        }
    }
}

impl Options {
    /// The defaults with another backend.
    pub fn with_backend(backend: Backend) -> Options {
        Options {
            backend,
            ..Options::default()
        }
    }

    /// Whether float reductions may be reassociated.
    pub fn reassoc(&self) -> bool {
        self.fast_math != FastMath::Off
    }

    /// Whether multiply-adds fuse: asked for, and the target has FMA.
    pub fn contract(&self) -> bool {
        self.fast_math == FastMath::Contract && self.target.has_fma()
    }

    /// Bits per vector the code is generated with: what the backend
    /// encodes on the target (Cranelift: 128 bits everywhere; LLVM: the
    /// target profile's vector registers — 512 with AVX-512, 256 with
    /// AVX2, 128 on NEON).
    pub fn vector_bits(&self) -> u32 {
        match self.backend {
            Backend::Cranelift => 128,
            Backend::Llvm => Profile::for_target(&self.target)
                .vector_bits
                .clamp(128, 512),
        }
    }

    /// The 8-bit dot products the backend makes one instruction of on the
    /// target (`vector.dot4`): LLVM's on AVX-512 VNNI at 512 bits and on
    /// aarch64 DotProd/I8MM; Cranelift's on this machine's VNNI (the
    /// `u8 x i8` tree its x64 rules fold into `vpdpbusd`); without VNNI,
    /// both backends' `pmaddubsw` + `pmaddwd` pairs on x86.
    pub fn dot_products(&self) -> crate::target::DotProducts {
        use crate::target::DotProducts;
        let dot = self.target.dot_products();
        let x86 = self.target.arch() == "x86_64";
        match self.backend {
            Backend::Cranelift if self.target.is_host && x86 => DotProducts {
                same_sign: false,
                ..dot
            },
            Backend::Cranelift => DotProducts::NONE,
            // VNNI's intrinsic at 512 bits only; pmaddubsw at every width
            Backend::Llvm if x86 && self.vector_bits() < 512 => DotProducts {
                pairs16: dot.pairs16,
                ..DotProducts::NONE
            },
            Backend::Llvm => dot,
        }
    }

    /// These options for compiling `m`: its schedule block's
    /// `s.quantize(...)` requests are honoured without `--quantize` too
    /// (the pass then applies those alone).
    pub fn for_module(&self, m: &Module) -> Options {
        let mut o = self.clone();
        if o.quantize.is_none() && crate::quant::plan::has_stage_requests(m) {
            o.quantize = Some(crate::quant::plan::Request::new(
                crate::quant::plan::Mode::Off,
            ));
        }
        o
    }

    /// The `quantize` and `lower-quant` passes alone, as these options
    /// configure them (the request, the backend's dot products): for the
    /// interpreter, the REPL and the energy model, which quantize the `pj`
    /// level themselves.
    pub fn quantize_passes(&self) -> PassManager {
        self.quantize_passes_for(&Profile::for_target(&self.target))
    }

    /// [`Options::quantize_passes`], `auto` pricing its choices on
    /// `profile` (the energy model's, which may name no target).
    pub fn quantize_passes_for(&self, profile: &Profile) -> PassManager {
        PassManager::new()
            .quantize(self.quantize)
            .pricer(self.quantize.is_some().then(|| self.pricer(profile)))
            .vector_bits(self.vector_bits())
            .dot_products(self.dot_products())
            .native_f16(self.native_f16())
    }

    /// The pass pipeline from `from` to what the backend takes.
    pub fn pipeline(&self, from: Stage) -> &'static str {
        match (self.opt_level, from) {
            (0, _) => UNOPTIMIZED_PIPELINE,
            (_, Stage::Checked) => LOWERING_PIPELINE,
            (_, Stage::Optimized) => AFTER_DEFAULT_PIPELINE,
        }
    }

    /// [`Options::pipeline`] as a pass manager, configured for the target's
    /// profile and the fast-math options.
    pub fn pass_manager(&self, from: Stage) -> PassManager {
        self.configure(
            PassManager::parse(self.pipeline(from))
                .expect("the lowering pipelines name registered passes"),
            &Profile::for_target(&self.target),
        )
    }

    /// `pm` configured as these options say, scheduling for `profile`: for
    /// the energy model, which lowers part of the pipeline at a time and
    /// for profiles that name no target.
    pub fn configure(&self, pm: PassManager, profile: &Profile) -> PassManager {
        // any stage may ask for `auto` in the schedule block
        let pricer = self.quantize.is_some().then(|| self.pricer(profile));
        pm.quantize(self.quantize)
            .pricer(pricer)
            .for_profile(profile)
            .fast_math(self.reassoc())
            .vector_bits(self.vector_bits())
            .dot_products(self.dot_products())
            .contract(self.contract())
            .native_f16(self.native_f16())
    }

    /// How `--quantize=auto` prices a scheme: the `pj`-level module
    /// (with its `quant` ops) lowered as these options compile it, then
    /// estimated by the energy model for `profile` at [`Options::sizes`].
    pub fn pricer(&self, profile: &Profile) -> crate::quant::price::Pricer {
        let mut options = self.clone();
        // the trial's `quant` ops expanded, nothing more quantized (a
        // stage's own request is stripped below)
        options.quantize = Some(crate::quant::plan::Request::new(
            crate::quant::plan::Mode::Off,
        ));
        let profile = profile.clone();
        std::sync::Arc::new(move |m: &Module, kernel: &str| {
            let mut lowered = m.clone();
            for op in lowered.all_ops() {
                lowered
                    .op_mut(op)
                    .remove_attr(crate::quant::plan::STAGE_REQUEST);
            }
            let sizes = crate::target::report::sizes_for(m, kernel, &options.sizes)?;
            options
                .configure(
                    PassManager::parse(LOWERING_PIPELINE).expect("registered passes"),
                    &profile,
                )
                .run(&mut lowered)
                .map_err(|e| e.to_string())?;
            let e = crate::target::report::estimate_for(
                &lowered,
                kernel,
                &sizes,
                &profile,
                options.backend,
            )?;
            Ok(crate::quant::price::Price {
                picojoules: e.total.picojoules,
                seconds: e.total.seconds,
            })
        })
    }

    /// Whether the backend converts between `f32` and binary16 with one
    /// instruction on the target: LLVM, on x86_64 with F16C or on aarch64.
    /// Cranelift (no such conversion) gets the integer expansion.
    pub fn native_f16(&self) -> bool {
        self.backend == Backend::Llvm && self.target.has_f16c()
    }
}

/// A copy of `m` lowered to what the backend takes, and what each pass did.
pub fn lower(
    m: &Module,
    options: &Options,
    from: Stage,
) -> Result<(Module, Vec<PassRecord>), CodegenError> {
    let mut lowered = m.clone();
    let records = options.for_module(m).pass_manager(from).run(&mut lowered)?;
    Ok((lowered, records))
}

/// JIT-compiles lowered IR into this process.
pub fn jit(lowered: &Module, options: &Options) -> Result<JitModule, CodegenError> {
    if !options.target.is_host {
        return Err(CodegenError::Target(format!(
            "code for `{}` cannot run in this process; the JIT compiles for `host`",
            options.target.triple
        )));
    }
    match options.backend {
        Backend::Cranelift => super::cranelift::jit::compile(lowered, options.tier),
        Backend::Llvm => jit_llvm(lowered, options),
    }
}

#[cfg(feature = "llvm")]
fn jit_llvm(lowered: &Module, options: &Options) -> Result<JitModule, CodegenError> {
    super::llvm::jit::compile(lowered, options)
}

#[cfg(not(feature = "llvm"))]
fn jit_llvm(_: &Module, _: &Options) -> Result<JitModule, CodegenError> {
    Err(CodegenError::NotBuilt(Backend::Llvm))
}

/// Lowers `m` (checked, or lowered already) and JIT-compiles it.
pub fn compile(m: &Module, options: &Options) -> Result<JitModule, CodegenError> {
    if super::analysis::is_lowered(m) {
        return jit(m, options);
    }
    let (lowered, _) = lower(m, options, Stage::Checked)?;
    jit(&lowered, options)
}

/// What [`emit`] writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Emit {
    /// A relocatable object file (ELF or Mach-O).
    Object,
    /// The machine code as text.
    Asm,
    /// LLVM's IR as text (the LLVM backend only).
    LlvmIr,
}

/// Compiles the kernels of lowered `ir` named in `only` (all if empty) for
/// `options.target`: an object file's bytes, or text.
pub fn emit(
    lowered: &Module,
    options: &Options,
    only: &[String],
    what: Emit,
) -> Result<Vec<u8>, CodegenError> {
    match (options.backend, what) {
        (Backend::Cranelift, Emit::Object) => {
            super::cranelift::object::emit_object(lowered, &options.target, only)
        }
        (Backend::Cranelift, Emit::Asm) => {
            super::cranelift::object::disassemble(lowered, &options.target, only)
                .map(String::into_bytes)
        }
        (Backend::Cranelift, Emit::LlvmIr) => Err(CodegenError::Unsupported {
            backend: Backend::Cranelift,
            what: "`--emit llvm-ir` (use `--backend llvm`)".into(),
        }),
        (Backend::Llvm, what) => emit_llvm(lowered, options, only, what),
    }
}

#[cfg(feature = "llvm")]
fn emit_llvm(
    lowered: &Module,
    options: &Options,
    only: &[String],
    what: Emit,
) -> Result<Vec<u8>, CodegenError> {
    super::llvm::object::emit(lowered, options, only, what)
}

#[cfg(not(feature = "llvm"))]
fn emit_llvm(_: &Module, _: &Options, _: &[String], _: Emit) -> Result<Vec<u8>, CodegenError> {
    Err(CodegenError::NotBuilt(Backend::Llvm))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn o0_lowers_without_optimizing_from_anywhere() {
        let o = Options {
            opt_level: 0,
            ..Options::default()
        };
        assert_eq!(o.pipeline(Stage::Checked), UNOPTIMIZED_PIPELINE);
        assert_eq!(o.pipeline(Stage::Optimized), UNOPTIMIZED_PIPELINE);
        let o = Options::default();
        assert_eq!(o.pipeline(Stage::Checked), LOWERING_PIPELINE);
        assert_eq!(o.pipeline(Stage::Optimized), AFTER_DEFAULT_PIPELINE);
    }

    #[test]
    fn contract_needs_fma_on_the_target() {
        let o = Options {
            fast_math: FastMath::Contract,
            target: Target::parse("x86_64-unknown-linux-gnu").expect("supported"),
            ..Options::default()
        };
        // the x86_64 baseline has no FMA
        assert!(!o.contract());
        assert!(o.reassoc());
        let o = Options {
            target: Target::parse("aarch64-unknown-linux-gnu").expect("supported"),
            ..o
        };
        assert!(o.contract());
    }

    #[test]
    fn fast_math_names_round_trip() {
        for f in [FastMath::Off, FastMath::Reassoc, FastMath::Contract] {
            assert_eq!(FastMath::parse(f.name()), Some(f));
        }
    }
}
