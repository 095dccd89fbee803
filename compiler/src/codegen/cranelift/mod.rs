//! The Cranelift backend: `lower.rs` turns each `func.func` into Cranelift
//! IR for any `cranelift_module::Module`; `jit.rs` compiles a whole module
//! into this process and calls kernels safely; `object.rs` writes object
//! files for any supported target and `header.rs` their C headers.

pub mod header;
pub mod jit;
pub mod lower;
#[cfg(all(target_os = "macos", target_arch = "aarch64"))]
pub mod map_jit;
pub mod object;

pub use jit::{JitKernel, JitModule, KernelArg, RunError, Tier};

/// Why code generation failed.
#[derive(Debug, thiserror::Error)]
pub enum CodegenError {
    /// The IR uses something this backend does not support.
    #[error("unsupported by the Cranelift backend: {0}")]
    Unsupported(String),
    /// The target is not available.
    #[error("cannot target this machine: {0}")]
    Target(String),
    /// A kernel's name cannot be a global C symbol (`codegen::symbols`).
    #[error("{0}")]
    Symbol(String),
    /// Cranelift rejected the function (a compiler bug).
    #[error("Cranelift failed: {0}")]
    Cranelift(String),
}

impl From<cranelift_module::ModuleError> for CodegenError {
    fn from(e: cranelift_module::ModuleError) -> Self {
        CodegenError::Cranelift(e.to_string())
    }
}
