//! Loop-invariant code motion: an op inside a `loop.for` or `loop.parallel`
//! whose operands are all defined outside the loop moves to just before it,
//! so it runs once instead of once per iteration. Innermost loops go first,
//! so an op can climb out of several loops.
//!
//! Legal for ops that are pure, have no regions and cannot fail: `arith`
//! (integer `div`/`rem` only by a divisor proven non-zero:
//! `dialects::arith::proven_nonzero`), `math`, `mem.dim`, and the pure
//! `vector` ops. Hoisting one out of a loop that runs zero times
//! then only computes an unused value. Loads move only when they cannot
//! fail and nothing can change what they read: `in_bounds` reads of a
//! buffer the kernel allocated (an intermediate stage, or a tile's
//! scratch) that the loop does not write. Any other load outside the loop
//! could fail where the loop would not have run.
//!
//! Requires: loop-level IR (it ignores `pj` regions). Cost: one walk per
//! loop, linear in the loop's ops.

use super::{Pass, PassError};
use crate::dialects::{LoopOp, MemOp, Opcode};
use crate::ir::{Module, OpId, ValueId};
use std::collections::HashSet;

/// The `licm` pass.
pub struct Licm;

fn hoistable(m: &Module, op: OpId) -> bool {
    let d = m.op(op);
    if !d.regions.is_empty() || !d.opcode.is_pure() || d.results.is_empty() {
        return false;
    }
    match d.opcode {
        Opcode::Arith(_) => !crate::dialects::arith::can_fail(m, op),
        Opcode::Math(_) | Opcode::Vector(_) => true,
        Opcode::Mem(MemOp::Dim) => true,
        _ => false,
    }
}

impl Pass for Licm {
    fn name(&self) -> &'static str {
        "licm"
    }

    fn run(&mut self, m: &mut Module) -> Result<bool, PassError> {
        // loops in post-order: inner loops before the loops around them
        let mut loops = Vec::new();
        let top = m.top;
        collect_loops(m, top, &mut loops);
        let mut changed = false;
        for l in loops {
            let body = m.entry_block(l, 0);
            let mut inside: HashSet<ValueId> = HashSet::new();
            m.walk_block(body, &mut |op| {
                let d = m.op(op);
                inside.extend(d.results.iter().copied());
                for &r in &d.regions {
                    for &b in &m.region(r).blocks {
                        inside.extend(m.block(b).args.iter().copied());
                    }
                }
            });
            inside.extend(m.block(body).args.iter().copied());
            // buffers the loop writes: loads from them stay
            let mut written: HashSet<ValueId> = HashSet::new();
            m.walk_block(body, &mut |op| {
                let d = m.op(op);
                if matches!(
                    d.opcode,
                    Opcode::Mem(MemOp::Store) | Opcode::Vector(crate::dialects::VectorOp::Store)
                ) {
                    written.insert(d.operands[1]);
                }
            });
            for op in m.block(body).ops.clone() {
                let movable = hoistable(m, op) || safe_load(m, op, &written);
                if movable && m.op(op).operands.iter().all(|v| !inside.contains(v)) {
                    m.erase_op(op);
                    m.insert_before(l, op);
                    for r in m.op(op).results.clone() {
                        inside.remove(&r);
                    }
                    changed = true;
                }
            }
        }
        Ok(changed)
    }
}

/// A load that cannot fail and whose value the loop cannot change: marked
/// `in_bounds` (a read of an intermediate stage, in its domain by
/// construction), from a buffer the kernel allocated itself (so no
/// parameter can alias it) and that the loop does not write.
fn safe_load(m: &Module, op: OpId, written: &HashSet<ValueId>) -> bool {
    let d = m.op(op);
    if d.opcode != Opcode::Mem(MemOp::Load)
        || d.attr("in_bounds").and_then(crate::ir::Attr::as_bool) != Some(true)
        || d.attr("oob").is_some()
    {
        return false;
    }
    let buf = d.operands[0];
    let allocated = m
        .def_op(buf)
        .is_some_and(|a| m.op(a).opcode == Opcode::Mem(MemOp::Alloc));
    allocated && !written.contains(&buf)
}

fn collect_loops(m: &Module, block: crate::ir::BlockId, out: &mut Vec<OpId>) {
    for &op in &m.block(block).ops {
        for &r in &m.op(op).regions {
            for &b in &m.region(r).blocks {
                collect_loops(m, b, out);
            }
        }
        if matches!(
            m.op(op).opcode,
            Opcode::Loop(LoopOp::For | LoopOp::Parallel)
        ) {
            out.push(op);
        }
    }
}
