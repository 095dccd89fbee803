//! Analyses every backend uses the same way (naga's `proc/`): what a
//! backend decides here, it decides alike, so two backends differ only in
//! the instructions they pick.

pub mod closure;
pub mod copies;
pub mod versioning;

use crate::codegen::{Backend, CodegenError};
use crate::dialects::{FuncOp, Opcode, signature};
use crate::ir::Module as IrModule;

/// Refuses a module whose kernels are not lowered to `func.func` (they
/// are `pj.kernel`s: `lower-stages` has not run).
pub fn require_lowered(ir: &IrModule, backend: Backend) -> Result<(), CodegenError> {
    match ir
        .kernels()
        .into_iter()
        .find(|&k| ir.op(k).opcode != Opcode::Func(FuncOp::Func))
    {
        Some(k) => Err(CodegenError::Unsupported {
            backend,
            what: format!(
                "`{}` is not lowered: run `lower-stages` first",
                signature(ir, k).name
            ),
        }),
        None => Ok(()),
    }
}

/// Whether every kernel of `ir` is lowered already.
pub fn is_lowered(ir: &IrModule) -> bool {
    ir.kernels()
        .iter()
        .all(|&k| ir.op(k).opcode == Opcode::Func(FuncOp::Func))
}
