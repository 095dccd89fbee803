//! Reductions apart from the float work on their value: a stage computing
//! `h[b, j] = max(sum(d) x[b, d] * w[d, j], 0.0)` becomes `h_sum[b, j] =
//! sum(d) x[b, d] * w[d, j]` and `h[b, j] = max(h_sum[b, j], 0.0)`. The
//! scheduler's register-blocked order (`reduce(vector)`: blocks of rows
//! times vectors of columns, accumulators in registers, the shared operand
//! packed in cache blocks) takes a stage whose value *is* its reduction;
//! with an epilogue the reduction stayed innermost, one scalar dot product
//! per element walking the column operand across rows — a matrix product
//! followed by a ReLU ran 350 times slower than without it. Split, the
//! reduction runs as any matrix product does, and the epilogue is a
//! pointwise stage the scheduler fuses with its readers.
//!
//! When legal: always — the same operations on the same values in the
//! same order (the reduction's value goes through memory exactly), so the
//! same bits and the same errors. Applied only where it pays: the stage
//! has one reduction, directly in its body, that the split stage could
//! accumulate in registers (`schedule::vector_accumulable`), nothing in the
//! reduction uses a value computed in the stage's body, and no schedule
//! block names the stage. Runs after `quantize` (which takes the epilogue
//! form whole) and before `inline-pointwise`. Cost: linear in the ops.

use super::{Pass, PassError, schedule};
use crate::dialects::{Opcode, PjOp};
use crate::ir::{Attr, Module, OpId, OpSpec, Type};

/// The `split-epilogue` pass.
pub struct SplitEpilogue;

impl Pass for SplitEpilogue {
    fn name(&self) -> &'static str {
        "split-epilogue"
    }

    fn run(&mut self, m: &mut Module) -> Result<bool, PassError> {
        let mut changed = false;
        for k in crate::dialects::pj::pj_kernels(m) {
            for s in schedule::stages(m, k) {
                if let Some(split) = split(m, k, s) {
                    *m = split;
                    changed = true;
                }
            }
        }
        Ok(changed)
    }
}

/// The stage's one reduction, directly in its body, if its value is not
/// the stage's and the reduction may move to a stage of its own.
fn epilogue_reduction(m: &Module, s: OpId) -> Option<OpId> {
    let block = m.entry_block(s, 0);
    let mut regions = m
        .block(block)
        .ops
        .iter()
        .copied()
        .filter(|&o| !m.op(o).regions.is_empty());
    let red = regions.next()?;
    let yielded = m.op(*m.block(block).ops.last()?).operands.first().copied();
    if regions.next().is_some()
        || m.op(red).opcode != Opcode::Pj(PjOp::Reduce)
        || yielded == Some(m.result(red))
        || schedule::user_scheduled(m, s)
        || schedule::recurrence_note(m, s).is_some()
    {
        return None;
    }
    // every value the reduction uses from outside it: the stage's
    // arguments or the kernel's values, none computed in the stage's body
    let computed_here = |v| {
        m.def_op(v)
            .is_some_and(|o| o != red && m.op(o).parent == Some(block))
    };
    let mut uses_ok = !m.op(red).operands.iter().any(|&v| computed_here(v));
    m.walk_block(m.entry_block(red, 0), &mut |o| {
        uses_ok &= !m.op(o).operands.iter().any(|&v| computed_here(v));
    });
    uses_ok.then_some(red)
}

/// `s` split at its reduction (a new module), where the reduction's stage
/// would be accumulated in registers.
fn split(m: &Module, k: OpId, s: OpId) -> Option<Module> {
    let red = epilogue_reduction(m, s)?;
    let mut t = m.clone();
    let sblock = t.entry_block(s, 0);
    let sargs = t.block(sblock).args.clone();
    let base = schedule::stage_name(&t, s);
    let name = super::quantize::fresh_name(&t, k, &format!("{base}_sum"));
    let elem = t.ty(t.result(red)).elem();
    let domain = t.op(s).operands.clone();
    let stage = t.build_op(
        OpSpec::new(Opcode::Pj(PjOp::Stage))
            .operands(domain)
            .attr("name", Attr::Str(name.clone()))
            .result(Type::dynamic_tensor(elem, sargs.len()))
            .regions(1)
            .loc(t.op(red).loc),
    );
    let block = t.entry_block(stage, 0);
    let args: Vec<_> = sargs
        .iter()
        .map(|&a| {
            let n = t.value(a).name.clone();
            t.add_block_arg(block, Type::INDEX, n)
        })
        .collect();
    // the reduction moves, its uses of `s`'s arguments become the new ones'
    t.erase_op(red);
    t.append_op(block, red);
    for (&old, &new) in sargs.iter().zip(&args) {
        t.replace_uses_in_block(block, old, new);
    }
    let sum = t.result(red);
    t.push(block, OpSpec::new(Opcode::Pj(PjOp::Yield)).operands([sum]));
    t.insert_before(s, stage);
    let value = t.result(stage);
    t.set_value_name(value, name);
    // `s` reads it where the reduction was
    let read = t.build_op(
        OpSpec::new(Opcode::Pj(PjOp::Read))
            .operands(std::iter::once(value).chain(sargs.iter().copied()))
            .result(Type::Scalar(elem)),
    );
    let first = t.block(sblock).ops[0];
    t.insert_before(first, read);
    let r = t.result(read);
    t.replace_uses_in_block(sblock, sum, r);
    let accumulable = schedule::hoistable_reduction(&t, stage)
        .is_ok_and(|red| schedule::vector_accumulable(&t, stage, red).is_ok());
    (accumulable && crate::ir::verify::verify(&t).is_ok()).then_some(t)
}
