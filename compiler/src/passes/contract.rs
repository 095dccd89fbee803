//! Contraction: `a * b + c` on floats, where the product has no other use,
//! becomes one `arith.fma` — a fused multiply-add, rounded once instead of
//! twice. On every target with FMA instructions that halves the
//! arithmetic of dot products and matrix products (one instruction per
//! term instead of two, on the same ports), and each such instruction
//! costs about the energy of the multiply alone (Horowitz's tables: the
//! add of a fused unit is nearly free).
//!
//! Legal only when the user allows results to differ in their last bits
//! from the reference order: `--fast-math=contract` (C compilers call it
//! `-ffp-contract=fast`, GCC's default for GNU C). The fused result is the
//! exactly rounded `a * b + c`, so it is at least as accurate as the
//! unfused one, but not equal to it. Only for targets that have FMA
//! instructions (every aarch64; x86_64 with FMA3, which `host` detects):
//! elsewhere Cranelift would call a library routine per operation.
//!
//! `exp` on `f32` is picojoule's own polynomial of eleven multiply-adds;
//! the pass marks it `{fused = true}` (`pj_runtime::math::expf_fused`:
//! those fused, still within 1 ulp): softmax's dominant cost.
//!
//! Runs after `vectorize`, so vector multiply-adds fuse too. Cost: one walk
//! over the ops with a use count.

use super::{Pass, PassError};
use crate::dialects::{ArithOp, MathOp, Opcode};
use crate::ir::{Attr, Module, ScalarType};

/// The `contract` pass.
pub struct Contract;

impl Pass for Contract {
    fn name(&self) -> &'static str {
        "contract"
    }

    fn run(&mut self, m: &mut Module) -> Result<bool, PassError> {
        let uses = m.use_counts();
        let mut changed = false;
        for op in m.all_ops() {
            let d = m.op(op);
            if d.opcode == Opcode::Math(MathOp::Exp)
                && m.ty(d.results[0]).elem() == ScalarType::F32
                && d.attr("fused").is_none()
            {
                m.op_mut(op).set_attr("fused", Attr::Bool(true));
                changed = true;
                continue;
            }
            if d.opcode != Opcode::Arith(ArithOp::Add) || !m.ty(d.results[0]).elem().is_float() {
                continue;
            }
            let (x, y) = (d.operands[0], d.operands[1]);
            // a product used only here: `acc + a * b` (the accumulator
            // first, as reductions are lowered) or `a * b + c`
            let product = |v| {
                let def = m.def_op(v)?;
                let p = m.op(def);
                (p.opcode == Opcode::Arith(ArithOp::Mul) && uses[v.index()] == 1)
                    .then(|| (p.operands[0], p.operands[1]))
            };
            let fused = match (product(y), product(x)) {
                (Some((a, b)), _) => [a, b, x],
                (None, Some((a, b))) => [a, b, y],
                (None, None) => continue,
            };
            let o = m.op_mut(op);
            o.opcode = Opcode::Arith(ArithOp::Fma);
            o.operands = fused.to_vec();
            changed = true;
        }
        // the products are dead now; `dce` removes them
        Ok(changed)
    }
}
