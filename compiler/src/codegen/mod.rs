//! Native code generation. A backend takes verified, fully lowered IR
//! (`func`, `loop`, `mem`, `arith`, `math`; see `passes::lower_stages`) and
//! produces machine code with the ABI of `pj_runtime::abi`.
//!
//! - [`cranelift`]: fast compilation; JIT in-process (the default of
//!   `pj run`) and, next, object files.

pub mod cranelift;

/// The pipeline that prepares `pj` IR for a backend.
pub const LOWERING_PIPELINE: &str = "canonicalize,cse,dce,lower-stages,canonicalize,licm,cse,dce";
