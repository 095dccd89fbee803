//! `loop` dialect: structured loops.
//!
//! Produced by `passes::lower_stages`; consumed by the interpreter and the
//! native backends. Loops carry values from one iteration to the next as
//! block arguments (`iter` values, like MLIR's `scf.for`), which is how
//! reductions accumulate without touching memory.
//!
//! ```text
//! %sum = loop.for(%lo, %hi, %one, %zero) : f32 {
//! ^bb0(%k: i64, %acc: f32):
//!   %t = mem.load(%x, %k) : f32
//!   %next = arith.add(%acc, %t) : f32
//!   loop.yield(%next)
//! }
//! ```

use super::{Opcode, check, dialect_ops};
use crate::ir::{Module, OpId, Type};

/// `{unroll = n}` on a `loop.for`: a hint that the loop runs best with its
/// body `n` times per iteration (a register block's reduction, whose
/// counter, compare and branch are a sixth of its instructions). No effect
/// on results; a backend may ignore it.
pub const UNROLL: &str = "unroll";

dialect_ops!(
    /// Ops of the `loop` dialect.
    LoopOp, "loop", {
    /// `loop.for(%lb, %ub, %step, %init...)`: runs its region for
    /// `iv = lb, lb + step, ...` while `iv < ub` (`step > 0`). Block arguments:
    /// the induction variable, then the current iter values; results: the
    /// iter values after the last iteration (the inits if there is none).
        For => "for",
    /// `loop.parallel(%lb, %ub) {grain?}`: runs its region for every
    /// `iv` in `lb..ub`, in any order and possibly at once: iterations must
    /// be independent (each writes its own elements, reads no element
    /// another writes). `grain` is the fewest iterations worth a task.
    Parallel => "parallel",
    /// Ends a loop body with the next iter values (none for `parallel`).
    Yield => "yield",
    /// `loop.threads() : i64`: the threads a `loop.parallel` started here
    /// would run on (1 inside another's body; 1 in the interpreter). A
    /// hint for cutting a parallel loop's iterations: what the program
    /// computes must not depend on it.
    Threads => "threads",
});

impl LoopOp {
    /// A loop is pure exactly when its body is; that is not tracked yet, so
    /// loops are never merged or deleted.
    pub fn is_pure(self) -> bool {
        false
    }

    /// Checks the op's rules.
    pub fn verify(self, m: &Module, op: OpId, errs: &mut Vec<String>) {
        let d = m.op(op);
        match self {
            LoopOp::For => {
                check::counts(m, op, None, d.operands.len().saturating_sub(3), 1, errs);
                if d.operands.len() < 3 {
                    errs.push("needs lower bound, upper bound and step operands".into());
                    return;
                }
                for (i, &v) in d.operands[..3].iter().enumerate() {
                    if *m.ty(v) != Type::INDEX {
                        errs.push(format!("bound operand {i} must be i64, found {}", m.ty(v)));
                    }
                }
                let step = m.def_op(d.operands[2]).map(|o| m.op(o));
                if let Some(s) = step
                    && s.opcode == Opcode::Arith(crate::dialects::ArithOp::Constant)
                    && s.attr("value")
                        .and_then(crate::ir::Attr::as_int)
                        .is_some_and(|v| v <= 0)
                {
                    errs.push("the step must be positive".into());
                }
                let inits: Vec<&Type> = d.operands[3..].iter().map(|&v| m.ty(v)).collect();
                let results: Vec<&Type> = d.results.iter().map(|&v| m.ty(v)).collect();
                if inits != results {
                    errs.push("results must have the types of the initial values".into());
                }
                if d.regions.len() != 1 {
                    return;
                }
                let block = m.entry_block(op, 0);
                let args: Vec<&Type> = m.block(block).args.iter().map(|&v| m.ty(v)).collect();
                if args.first() != Some(&&Type::INDEX) || args[1..] != inits[..] {
                    errs.push("region arguments must be the i64 induction variable, then one per initial value".into());
                }
                if let Some(&last) = m.block(block).ops.last() {
                    let l = m.op(last);
                    if l.opcode == Opcode::Loop(LoopOp::Yield) {
                        let yielded: Vec<&Type> = l.operands.iter().map(|&v| m.ty(v)).collect();
                        if yielded != inits {
                            errs.push(
                                "the body must yield one value per initial value, of its type"
                                    .into(),
                            );
                        }
                    }
                }
            }
            LoopOp::Parallel => {
                // lb, ub, and optionally the grain: fewer iterations run inline
                if !(2..=3).contains(&d.operands.len()) {
                    errs.push(format!(
                        "expects 2 operands (lb, ub) or 3 (lb, ub, grain), found {}",
                        d.operands.len()
                    ));
                }
                check::counts(m, op, None, 0, 1, errs);
                for (i, &v) in d.operands.iter().enumerate() {
                    if *m.ty(v) != Type::INDEX {
                        errs.push(format!("bound operand {i} must be i64, found {}", m.ty(v)));
                    }
                }
                if d.attr("grain")
                    .is_some_and(|g| g.as_int().is_none_or(|g| g < 1))
                {
                    errs.push("`grain` must be a positive integer".into());
                }
                if d.regions.len() == 1 {
                    let block = m.entry_block(op, 0);
                    let args: Vec<&Type> = m.block(block).args.iter().map(|&v| m.ty(v)).collect();
                    if args != [&Type::INDEX] {
                        errs.push("the region takes one i64 argument, the iteration".into());
                    }
                    if let Some(&last) = m.block(block).ops.last()
                        && m.op(last).opcode == Opcode::Loop(LoopOp::Yield)
                        && !m.op(last).operands.is_empty()
                    {
                        errs.push(
                            "a parallel loop carries no values: its body yields nothing".into(),
                        );
                    }
                }
            }
            LoopOp::Threads => {
                check::counts(m, op, Some(0), 1, 0, errs);
                if let Some(&r) = d.results.first()
                    && *m.ty(r) != Type::INDEX
                {
                    errs.push(format!("the result must be i64, found {}", m.ty(r)));
                }
            }
            LoopOp::Yield => {
                check::counts(m, op, None, 0, 0, errs);
                let parent = d
                    .parent
                    .and_then(|b| m.block_owner(b))
                    .map(|o| m.op(o).opcode);
                if !matches!(parent, Some(Opcode::Loop(LoopOp::For | LoopOp::Parallel))) {
                    errs.push("must end a `loop.for` or `loop.parallel` region".into());
                }
            }
        }
    }
}
