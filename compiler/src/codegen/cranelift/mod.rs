//! The Cranelift backend: `lower.rs` turns each `func.func` into Cranelift
//! IR for any `cranelift_module::Module` (JIT or object file); `jit.rs`
//! compiles a whole module into this process; `object.rs` writes object
//! files for any supported target. What every backend shares (calling
//! kernels, the header, the analyses) is in `codegen/`.

pub mod jit;
pub mod lower;
#[cfg(all(target_os = "macos", target_arch = "aarch64"))]
pub mod map_jit;
pub mod object;

use crate::codegen::{Backend, CodegenError};

/// Cranelift rejected what it was given (a compiler bug).
pub(crate) fn internal(message: String) -> CodegenError {
    CodegenError::Internal {
        backend: Backend::Cranelift,
        message,
    }
}

/// The IR uses something this backend does not support.
pub(crate) fn unsupported(what: String) -> CodegenError {
    CodegenError::Unsupported {
        backend: Backend::Cranelift,
        what,
    }
}

impl From<cranelift_module::ModuleError> for CodegenError {
    fn from(e: cranelift_module::ModuleError) -> Self {
        internal(e.to_string())
    }
}
