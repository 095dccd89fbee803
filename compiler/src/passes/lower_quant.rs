//! Expansion of the `quant` dialect: each `quant.quantize` and
//! `quant.dequantize` becomes the `arith` ops that compute the same bits
//! (`dialects::quant::expand`: a division, a clamp, a rounding by adding
//! and subtracting 1.5 · 2^23, a conversion), so that the scheduler, the
//! vectorizer and both backends handle quantized kernels with what they
//! already know.
//!
//! When legal: always; the interpreter gives the same results before and
//! after (`tests/quantize.rs` checks it bit for bit). Runs right after
//! `quantize`. Cost: linear in the ops.

use super::{Pass, PassError};
use crate::dialects::Opcode;
use crate::ir::Module;

/// The `lower-quant` pass.
pub struct LowerQuant;

impl Pass for LowerQuant {
    fn name(&self) -> &'static str {
        "lower-quant"
    }

    fn run(&mut self, m: &mut Module) -> Result<bool, PassError> {
        let mut changed = false;
        for op in m.all_ops() {
            if matches!(m.op(op).opcode, Opcode::Quant(_)) {
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
