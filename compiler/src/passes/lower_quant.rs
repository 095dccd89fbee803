//! Expansion of the `quant` dialect: each `quant.quantize` and
//! `quant.dequantize` becomes the `arith` ops that compute the same bits
//! (`dialects::quant::expand`: a division, a clamp, a rounding by adding
//! and subtracting 1.5 · 2^23, a conversion), so that the scheduler, the
//! vectorizer and both backends handle quantized kernels with what they
//! already know.
//!
//! With `keep_f16` (a backend with binary16 conversion instructions:
//! LLVM on F16C or aarch64), `quant.pack_f16` and `quant.unpack_f16` stay,
//! for the vectorizer to widen and the backend to emit as one instruction
//! each; every other backend gets their integer expansion.
//!
//! When legal: always; the interpreter gives the same results before and
//! after (`tests/quantize.rs` checks it bit for bit). Runs right after
//! `quantize`. Cost: linear in the ops.

use super::{Pass, PassError};
use crate::dialects::{Opcode, QuantOp};
use crate::ir::Module;

/// The `lower-quant` pass.
#[derive(Clone, Copy, Debug, Default)]
pub struct LowerQuant {
    /// Leave the binary16 conversions to the backend.
    pub keep_f16: bool,
}

impl Pass for LowerQuant {
    fn name(&self) -> &'static str {
        "lower-quant"
    }

    fn run(&mut self, m: &mut Module) -> Result<bool, PassError> {
        let mut changed = false;
        for op in m.all_ops() {
            let keep =
                |q: QuantOp| self.keep_f16 && matches!(q, QuantOp::PackF16 | QuantOp::UnpackF16);
            if matches!(m.op(op).opcode, Opcode::Quant(q) if !keep(q)) {
                let old = m.result(op);
                let new = crate::dialects::quant::expand(m, op);
                m.replace_all_uses(old, new);
                m.erase_op(op);
                changed = true;
            }
        }
        Ok(changed)
    }
}
