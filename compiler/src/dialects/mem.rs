//! `mem` dialect: buffers — memory holding arrays — and the loads and
//! stores that move elements in and out.
//!
//! Produced by `passes::lower_stages`; consumed by the interpreter and the
//! native backends. A buffer has a run-time shape and strides (parameters
//! come from the caller's descriptors; `mem.alloc` makes dense row-major
//! buffers). Every load and store is bounds-checked by definition: an index
//! outside the buffer ends the call with status `OUT_OF_BOUNDS`, or, for a
//! load with `{oob = "zero"}`, reads zero. Backends may drop a check they
//! can prove redundant, never one they cannot.

use super::{check, dialect_ops};
use crate::ir::{Attr, Module, OpId, ScalarType, Type};

/// `mem.alloc {zeroed = true}`: the buffer starts as zeros. Set on IR read
/// from text (`dialects::drop_promises`); the compiler's own lowering
/// writes every element before reading it and leaves scratch uncleared.
pub const ZEROED: &str = "zeroed";

/// `{in_bounds_nonempty = true}` on a `mem.load` or `vector.load`: the
/// producer has proven the indices inside the buffer whenever no array
/// argument of the kernel has a zero extent (what the front end's proofs
/// assume). A backend may omit the check on calls it knows have no zero
/// extent; the interpreter still checks.
pub const IN_BOUNDS_NONEMPTY: &str = "in_bounds_nonempty";

/// `{prefetch = d}` on a `mem.load` or `vector.load` of a buffer of rank
/// 2 or more: a hint that the same elements `d` rows further on will be
/// read soon (rows streamed one after another, each a new page the
/// hardware's prefetchers start cold on). A backend may fetch them early;
/// no effect on results, and never a fault, wherever that row is.
pub const PREFETCH: &str = "prefetch";

dialect_ops!(
    /// Ops of the `mem` dialect.
    MemOp, "mem", {
    /// `mem.alloc(%e0, ...)`: a new dense buffer with these extents (`i64`,
    /// negative counts as zero). Freed by `mem.dealloc`.
    Alloc => "alloc",
    /// Frees a buffer made by `mem.alloc`.
    Dealloc => "dealloc",
    /// `{dim = d}`: the extent of dim `d`, `i64`.
    Dim => "dim",
    /// `mem.load(%buf, %i...)`: the element at the indices; `{oob = "zero"}`
    /// reads zero outside the buffer instead of failing.
    Load => "load",
        /// `mem.store(%value, %buf, %i...)`: writes the element. With
    /// `{in_bounds = true}` the producer has proven the indices inside the
    /// buffer and backends may omit the check (the interpreter still checks).
    Store => "store",
});

impl MemOp {
    /// Only `mem.dim` is free of effects.
    pub fn is_pure(self) -> bool {
        self == MemOp::Dim
    }

    /// Checks the op's rules.
    pub fn verify(self, m: &Module, op: OpId, errs: &mut Vec<String>) {
        let d = m.op(op);
        let buffer_at = |i: usize, errs: &mut Vec<String>| -> Option<(ScalarType, usize)> {
            let &v = d.operands.get(i)?;
            match m.ty(v) {
                Type::Buffer { elem, dims } => Some((*elem, dims.len())),
                t => {
                    errs.push(format!("operand {i} must be a buffer, found {t}"));
                    None
                }
            }
        };
        let indices_from = |start: usize, rank: usize, errs: &mut Vec<String>| {
            let idx = &d.operands[start.min(d.operands.len())..];
            if idx.len() != rank {
                errs.push(format!(
                    "a rank-{rank} buffer needs {rank} indices, {} given",
                    idx.len()
                ));
            }
            for &v in idx {
                if *m.ty(v) != Type::INDEX {
                    errs.push(format!("indices must be i64, found {}", m.ty(v)));
                }
            }
        };
        match self {
            MemOp::Alloc => {
                check::counts(m, op, None, 1, 0, errs);
                for &v in &d.operands {
                    if *m.ty(v) != Type::INDEX {
                        errs.push(format!("extents must be i64, found {}", m.ty(v)));
                    }
                }
                if let Some(&r) = d.results.first() {
                    match m.ty(r) {
                        Type::Buffer { dims, .. } if dims.len() == d.operands.len() => {}
                        t => errs.push(format!(
                            "result must be a buffer with one dim per extent, found {t}"
                        )),
                    }
                }
            }
            MemOp::Dealloc => {
                check::counts(m, op, Some(1), 0, 0, errs);
                buffer_at(0, errs);
                if let Some(&buf) = d.operands.first() {
                    verify_dealloc(m, op, buf, errs);
                }
            }
            MemOp::Dim => {
                check::counts(m, op, Some(1), 1, 0, errs);
                if let Some((_, rank)) = buffer_at(0, errs) {
                    match d.attr("dim").and_then(Attr::as_int) {
                        Some(k) if k >= 0 && (k as usize) < rank => {}
                        _ => errs.push(format!("needs `dim` in 0..{rank}")),
                    }
                }
                if d.results.first().is_some_and(|&r| *m.ty(r) != Type::INDEX) {
                    errs.push("result must be i64".into());
                }
            }
            MemOp::Load => {
                check::counts(m, op, None, 1, 0, errs);
                if let Some((elem, rank)) = buffer_at(0, errs) {
                    indices_from(1, rank, errs);
                    if d.results
                        .first()
                        .is_some_and(|&r| *m.ty(r) != Type::Scalar(elem))
                    {
                        errs.push(format!("result must be {elem}"));
                    }
                }
                if d.attr(IN_BOUNDS_NONEMPTY)
                    .is_some_and(|a| *a != Attr::Bool(true))
                {
                    errs.push(format!("`{IN_BOUNDS_NONEMPTY}` may only be true"));
                }
                if let Some(o) = d.attr("oob")
                    && o.as_str() != Some("zero")
                {
                    errs.push(format!("`oob` may only be \"zero\", found {o}"));
                }
            }
            MemOp::Store => {
                check::counts(m, op, None, 0, 0, errs);
                if d.attr("in_bounds").is_some_and(|a| *a != Attr::Bool(true)) {
                    errs.push("`in_bounds` may only be true".into());
                }
                if let Some((elem, rank)) = buffer_at(1, errs) {
                    indices_from(2, rank, errs);
                    if d.operands
                        .first()
                        .is_some_and(|&v| *m.ty(v) != Type::Scalar(elem))
                    {
                        errs.push(format!("the stored value must be {elem}"));
                    }
                }
            }
        }
    }
}

/// A `mem.dealloc` frees what a `mem.alloc` of its own block made, and
/// nothing after it in that block touches the buffer again (no use after
/// free, no second free): native code frees at once and trusts both.
fn verify_dealloc(m: &Module, op: OpId, buf: crate::ir::ValueId, errs: &mut Vec<String>) {
    let d = m.op(op);
    let Some(alloc) = m
        .def_op(buf)
        .filter(|&a| m.op(a).opcode == super::Opcode::Mem(MemOp::Alloc))
    else {
        errs.push("may only free a buffer made by `mem.alloc`, not a parameter".into());
        return;
    };
    let Some(block) = d.parent.filter(|&b| Some(b) == m.op(alloc).parent) else {
        errs.push("must be in the block of the `mem.alloc` it frees".into());
        return;
    };
    let ops = &m.block(block).ops;
    let after = ops
        .iter()
        .position(|&o| o == op)
        .map_or(ops.len(), |i| i + 1);
    for &later in &ops[after..] {
        let mut used = m.op(later).operands.contains(&buf);
        for &r in &m.op(later).regions {
            for &b in &m.region(r).blocks {
                m.walk_block(b, &mut |o| used |= m.op(o).operands.contains(&buf));
            }
        }
        if used {
            errs.push(format!(
                "the buffer is used after it is freed, by `{}`",
                m.op(later).opcode.name()
            ));
            return;
        }
    }
}
