//! Native code generation. A backend takes verified, fully lowered IR
//! (`func`, `loop`, `mem`, `vector`, `arith`, `math`; see
//! `passes::lower_stages`) and produces machine code with the ABI of
//! `pj_runtime::abi`.
//!
//! The backend-neutral layer (naga's `back/` + `proc/` split):
//! - [`driver`]: the one compile driver: [`driver::Options`] to a pass
//!   pipeline, then a JIT module or an object file and its header;
//! - [`kernel`]: calling compiled kernels from Rust ([`JitModule`],
//!   [`JitKernel`], [`KernelArg`], [`RunError`]), whatever made them;
//! - [`abi`]: element codes; [`checks`]: the checks every backend emits
//!   and their messages, word for word; [`runtime`]: the runtime functions
//!   generated code calls; [`symbols`]: C names; [`header`]: the C header;
//! - [`analysis`]: what backends decide alike (loop versioning, the
//!   closure of a parallel loop body).
//!
//! The backends, each holding only what is its own (types, one lowering
//! per op, ISA setup, JIT and object writing):
//! - [`cranelift`]: fast compilation, pure Rust, the default;
//! - `llvm` (Cargo feature `llvm`): LLVM through inkwell, the best code.

pub mod abi;
pub mod analysis;
pub mod checks;
pub mod cranelift;
pub mod driver;
pub mod header;
pub mod kernel;
#[cfg(feature = "llvm")]
pub mod llvm;
pub mod runtime;
pub mod symbols;

pub use driver::{FastMath, Options};
pub use kernel::{JitKernel, JitModule, KernelArg, RawArg, RunError, Tier};

/// What follows the default pipeline on the way to a backend: fusion, then
/// lowering to loops and the loop-level clean-ups.
pub const AFTER_DEFAULT_PIPELINE: &str = "lower-half,split-epilogue,inline-pointwise,canonicalize,cse,dce,schedule,lower-stages,canonicalize,licm,vectorize,licm,cse,dce";

/// `-O0`: lowering only, no optimization: every stage materialized in
/// program order, reductions innermost, scalar loops.
pub const UNOPTIMIZED_PIPELINE: &str = "lower-half,lower-stages";

/// The whole pipeline from `pj` IR to a backend: the default pipeline, then
/// [`AFTER_DEFAULT_PIPELINE`].
pub const LOWERING_PIPELINE: &str = "canonicalize,cse,dce,lower-half,split-epilogue,inline-pointwise,canonicalize,cse,dce,schedule,lower-stages,canonicalize,licm,vectorize,licm,cse,dce";

/// A code generator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// Cranelift: compiles in milliseconds, 128-bit vectors.
    Cranelift,
    /// LLVM through inkwell (Cargo feature `llvm`): the best code.
    Llvm,
}

impl Backend {
    /// Every backend, built or not.
    pub const ALL: [Backend; 2] = [Backend::Cranelift, Backend::Llvm];

    /// Its name on command lines (`--backend llvm`).
    pub fn name(self) -> &'static str {
        match self {
            Backend::Cranelift => "cranelift",
            Backend::Llvm => "llvm",
        }
    }

    /// Whether this build of picojoule contains it.
    pub fn is_built(self) -> bool {
        match self {
            Backend::Cranelift => true,
            Backend::Llvm => cfg!(feature = "llvm"),
        }
    }

    /// The backends this build contains: what differential tests loop over.
    pub fn built() -> Vec<Backend> {
        Backend::ALL.into_iter().filter(|b| b.is_built()).collect()
    }

    /// By name.
    pub fn parse(name: &str) -> Option<Backend> {
        Backend::ALL.into_iter().find(|b| b.name() == name)
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why code generation failed.
#[derive(Debug, thiserror::Error)]
pub enum CodegenError {
    /// The IR uses something code generation does not support.
    #[error("unsupported by the {backend} backend: {what}")]
    Unsupported {
        /// Which backend.
        backend: Backend,
        /// What.
        what: String,
    },
    /// The target is not available.
    #[error("cannot target this machine: {0}")]
    Target(String),
    /// A kernel's name cannot be a global C symbol (`codegen::symbols`).
    #[error("{0}")]
    Symbol(String),
    /// The backend rejected what it was given (a compiler bug).
    #[error("{backend} failed: {message}")]
    Internal {
        /// Which backend.
        backend: Backend,
        /// Its message.
        message: String,
    },
    /// This build of picojoule does not contain the backend.
    #[error(
        "this picojoule was built without the `{0}` backend; rebuild with `cargo build --release --features {0}`"
    )]
    NotBuilt(Backend),
    /// The lowering pipeline failed.
    #[error(transparent)]
    Pass(#[from] crate::passes::PassError),
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_lowering_pipeline_is_the_default_one_then_the_rest() {
        let whole = format!(
            "{},{}",
            crate::passes::DEFAULT_PIPELINE,
            super::AFTER_DEFAULT_PIPELINE
        );
        assert_eq!(super::LOWERING_PIPELINE, whole);
    }

    #[test]
    fn backends_are_named_both_ways() {
        for b in super::Backend::ALL {
            assert_eq!(super::Backend::parse(b.name()), Some(b));
        }
        assert!(super::Backend::built().contains(&super::Backend::Cranelift));
    }
}
