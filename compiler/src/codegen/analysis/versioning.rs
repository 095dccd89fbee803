//! Loop versioning, decided alike by every backend: a loop whose accesses
//! all have indices affine in its induction variable (or invariant) gets
//! one precheck at entry covering every iteration, and a copy of its body
//! without per-access checks, taken when the precheck passes (Halide's
//! `PartitionLoops` has the same aim; LLVM's loop versioning for LICM the
//! same shape). This module finds the accesses and their index forms, and
//! says which loops are worth a precheck; each backend emits the precheck,
//! the two copies and the fast addresses. The Cranelift backend versions
//! every such loop; the LLVM backend only in a kernel's dense copy, and
//! only for accesses the lowering did not promise inside (`copies`).

use crate::dialects::{ArithOp, LoopOp, MemOp, Opcode, VectorOp};
use crate::ir::{Attr, BlockId, Module as IrModule, OpId, ValueId};

/// How an access index depends on the loop's induction variable.
#[derive(Clone, Debug, PartialEq)]
pub enum IndexForm {
    /// Defined outside the loop.
    Invariant(ValueId),
    /// `iv * scale` plus a sum of values from outside the loop, each added
    /// or (`true`) subtracted, with `scale` a positive constant (a
    /// vectorized parallel loop's chunk index times its lanes); conv2d's
    /// `(x + s) - S / 2` is `s * 1 + x - S / 2`.
    Shifted(Vec<(ValueId, bool)>, i64),
}

/// The loads of a loop body (its direct ops) whose every index is
/// loop-invariant or the induction variable plus or minus an invariant:
/// one check at loop entry covers all their iterations.
pub fn versionable_loads(
    ir: &IrModule,
    region: BlockId,
    available: &dyn Fn(ValueId) -> bool,
) -> Vec<(OpId, Vec<IndexForm>)> {
    let iv = ir.block(region).args[0];
    let inside: std::collections::HashSet<ValueId> = {
        let mut s = std::collections::HashSet::from([iv]);
        ir.walk_block(region, &mut |op| {
            s.extend(ir.op(op).results.iter().copied())
        });
        s
    };
    // `iv * k` for a positive constant `k` (`iv` itself: 1)
    let scaled = |v: ValueId| -> Option<i64> {
        if v == iv {
            return Some(1);
        }
        let o = ir.op(ir.def_op(v)?);
        let constant = |x: ValueId| {
            ir.def_op(x)
                .and_then(|c| ir.op(c).attr("value"))
                .and_then(Attr::as_int)
                .filter(|&k| k > 0)
        };
        match (o.opcode, o.operands.as_slice()) {
            (Opcode::Arith(ArithOp::Mul), &[a, b]) if a == iv => constant(b),
            (Opcode::Arith(ArithOp::Mul), &[a, b]) if b == iv => constant(a),
            _ => None,
        }
    };
    // `v` as `iv * scale + Σ ±term` (scale 0 when `iv` is absent), over
    // adds and subtracts of at most a few levels
    fn affine(
        ir: &IrModule,
        inside: &std::collections::HashSet<ValueId>,
        available: &dyn Fn(ValueId) -> bool,
        scaled: &dyn Fn(ValueId) -> Option<i64>,
        v: ValueId,
        depth: u32,
    ) -> Option<(i64, Vec<(ValueId, bool)>)> {
        if let Some(k) = scaled(v) {
            return Some((k, Vec::new()));
        }
        if !inside.contains(&v) {
            // `a ± constant` from outside: the constant apart, so that
            // it becomes the access's displacement (conv2d's second
            // vector of a row, at `x + 4`, shares the first's base)
            let split = ir.def_op(v).and_then(|d| {
                let o = ir.op(d);
                let neg = match o.opcode {
                    Opcode::Arith(ArithOp::Add) => false,
                    Opcode::Arith(ArithOp::Sub) => true,
                    _ => return None,
                };
                let (a, b) = (*o.operands.first()?, *o.operands.get(1)?);
                let is_const = |x: ValueId| {
                    ir.def_op(x)
                        .is_some_and(|c| ir.op(c).opcode == Opcode::Arith(ArithOp::Constant))
                };
                // only into values lowered here: an outlined loop
                // body has `v` (captured), not what `v` was made of
                if !(available(a) && available(b)) {
                    return None;
                }
                match (is_const(a), is_const(b)) {
                    (false, true) => Some(vec![(a, false), (b, neg)]),
                    (true, false) if !neg => Some(vec![(b, false), (a, false)]),
                    _ => None,
                }
            });
            return Some((0, split.unwrap_or_else(|| vec![(v, false)])));
        }
        let o = ir.op(ir.def_op(v)?);
        let (a, b) = (*o.operands.first()?, *o.operands.get(1)?);
        let neg = match o.opcode {
            Opcode::Arith(ArithOp::Add) => false,
            Opcode::Arith(ArithOp::Sub) => true,
            _ => return None,
        };
        if depth == 0 {
            return None;
        }
        let (ka, mut ta) = affine(ir, inside, available, scaled, a, depth - 1)?;
        let (kb, tb) = affine(ir, inside, available, scaled, b, depth - 1)?;
        ta.extend(tb.into_iter().map(|(t, n)| (t, n != neg)));
        Some((if neg { ka - kb } else { ka + kb }, ta))
    }
    let form = |v: ValueId| -> Option<IndexForm> {
        if !inside.contains(&v) {
            return Some(IndexForm::Invariant(v));
        }
        match affine(ir, &inside, available, &scaled, v, 3)? {
            (k, terms) if k > 0 => Some(IndexForm::Shifted(terms, k)),
            _ => None,
        }
    };
    let mut out = Vec::new();
    for &op in &ir.block(region).ops {
        let d = ir.op(op);
        // a load reading zero outside (`oob`) is versioned too: where
        // the precheck finds every iteration inside, it is a plain load
        // (conv2d's image rows away from the top and bottom edges)
        let first = match d.opcode {
            Opcode::Mem(MemOp::Load) | Opcode::Vector(VectorOp::Load) => 1,
            Opcode::Mem(MemOp::Store) | Opcode::Vector(VectorOp::Store) => 2,
            _ => continue,
        };
        if inside.contains(&d.operands[first - 1]) {
            continue;
        }
        let forms: Option<Vec<IndexForm>> = d.operands[first..].iter().map(|&v| form(v)).collect();
        if let Some(f) = forms {
            out.push((op, f));
        }
    }
    out
}

/// Whether a precheck at entry could pay for `loop.for` op `op` (before
/// looking at its accesses). A loop nested directly in a reduction loop is
/// usually short (a filter's width): a precheck per entry costs more than
/// checking each load, unless a load reads zero outside its array, whose
/// checked form is a branch per lane (and lane by lane when the stride may
/// not be 1): conv2d's taps, 33-35 -> 16-19 ms. `short` loops (a vector
/// remainder, a boundary edge) run a few iterations.
pub fn worth_a_precheck(ir: &IrModule, op: OpId) -> bool {
    let d = ir.op(op);
    let in_reduction = d.parent.and_then(|b| ir.block_owner(b)).is_some_and(|o| {
        ir.op(o).opcode == Opcode::Loop(LoopOp::For) && ir.op(o).operands.len() > 3
    });
    let reads_zero_outside = ir
        .block(ir.entry_block(op, 0))
        .ops
        .iter()
        .any(|&o| ir.op(o).attr("oob").is_some());
    let short = d.attr("short").and_then(Attr::as_bool) == Some(true);
    !((in_reduction && !reads_zero_outside) || short)
}

/// Whether `loop.for` op `op` is a kernel's edge (`edge`), where nothing
/// nested is versioned either: edges run a few iterations each.
pub fn is_edge(ir: &IrModule, op: OpId) -> bool {
    ir.op(op).attr("edge").and_then(Attr::as_bool) == Some(true)
}

/// Whether `region` (a loop body) holds no loop.
pub fn is_innermost(ir: &IrModule, region: BlockId) -> bool {
    !ir.block(region).ops.iter().any(|&o| {
        matches!(
            ir.op(o).opcode,
            Opcode::Loop(LoopOp::For | LoopOp::Parallel)
        )
    })
}
