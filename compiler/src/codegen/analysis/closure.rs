//! The closure of a parallel loop body (Halide's `Closure`): which values
//! an outlined body uses from the function around it, which of them are
//! constants it can make again itself, and which buffers nothing writes.
//! Every backend outlines `loop.parallel` bodies into functions the
//! runtime's pool calls, and passes these values in a context.

use crate::dialects::{ArithOp, MemOp, Opcode, VectorOp};
use crate::ir::{BlockId, Module as IrModule, OpId, ValueId};

/// The buffers some op of `func` loads from and none stores to: its
/// inputs (results may not overlap them: checked at entry).
pub fn unwritten_buffers(ir: &IrModule, func: OpId) -> std::collections::HashSet<ValueId> {
    let mut read = std::collections::HashSet::new();
    let mut written = std::collections::HashSet::new();
    ir.walk_block(ir.entry_block(func, 0), &mut |op| {
        let d = ir.op(op);
        match d.opcode {
            Opcode::Mem(MemOp::Load) | Opcode::Vector(VectorOp::Load) => {
                read.insert(d.operands[0]);
            }
            Opcode::Mem(MemOp::Store) | Opcode::Vector(VectorOp::Store) => {
                written.insert(d.operands[1]);
            }
            _ => {}
        }
    });
    read.retain(|b| !written.contains(b));
    read
}

/// Whether `v` is a constant or a vector broadcast of one.
pub fn is_constant_expr(ir: &IrModule, v: ValueId) -> bool {
    let Some(def) = ir.def_op(v) else {
        return false;
    };
    let d = ir.op(def);
    match d.opcode {
        Opcode::Arith(ArithOp::Constant) => true,
        Opcode::Vector(VectorOp::Broadcast) => is_constant_expr(ir, d.operands[0]),
        _ => false,
    }
}

/// Values used inside `block` (at any depth) but defined outside it, in
/// first-use order.
pub fn captured_values(ir: &IrModule, block: BlockId) -> Vec<ValueId> {
    let mut defined: std::collections::HashSet<ValueId> =
        ir.block(block).args.iter().copied().collect();
    let mut used = Vec::new();
    ir.walk_block(block, &mut |op| {
        let d = ir.op(op);
        for &r in &d.regions {
            for &b in &ir.region(r).blocks {
                defined.extend(ir.block(b).args.iter().copied());
            }
        }
        defined.extend(d.results.iter().copied());
        used.extend(d.operands.iter().copied());
    });
    let mut seen = std::collections::HashSet::new();
    used.into_iter()
        .filter(|v| !defined.contains(v) && seen.insert(*v))
        .collect()
}
