//! Facts about values that interval arithmetic cannot see, because they
//! relate two values instead of bounding each: the ones a numerically
//! stable softmax rests on, and the one a scale computed per channel rests
//! on.
//!
//! - [`at_most_its_max`]: in `x[n, c] - m[n]` with `m[n] = max(c) x[n, c]`,
//!   the difference is never positive (intervals give `[lo - hi, hi - lo]`).
//! - [`includes_its_max_term`]: `sum(c) exp(x[n, c] - m[n])` is at least 1,
//!   its largest element's term being `exp(0)` (intervals give `[0, ..]`,
//!   and a division by the sum is then unbounded).
//!
//! - [`within_its_scale`]: in `quant.quantize(X[..], S[..])` with `S[j] =
//!   quant.scale_for(max(k) |X[k, j]|)`, the quantized value never
//!   reaches the clamp (the scale covers its channel's largest magnitude).
//!
//! All are recognized by shape on the `pj` level: plain reads (no
//! boundary mode) whose indices are the enclosing regions' own index
//! arguments, matched argument by argument — a sound but narrow test (an
//! index computed by arithmetic is not followed).
//!
//! When legal: any checked `pj`-level module; used by `quant::ranges`.

use crate::dialects::{MathOp, Opcode, PjOp};
use crate::ir::{Attr, Module, OpId, ValueDef, ValueId};
use std::collections::HashMap;

/// `(lo, ub)` of index argument `v` of a `pj.stage` or `pj.reduce` region
/// (the operands its loop runs over), if it is one.
fn index_bounds(m: &Module, v: ValueId) -> Option<(ValueId, ValueId)> {
    let ValueDef::BlockArg(block, i) = m.value(v).def else {
        return None;
    };
    let owner = m.block_owner(block)?;
    let d = m.op(owner);
    if !matches!(d.opcode, Opcode::Pj(PjOp::Stage) | Opcode::Pj(PjOp::Reduce)) {
        return None;
    }
    let i = i as usize;
    Some((*d.operands.get(2 * i)?, *d.operands.get(2 * i + 1)?))
}

/// A plain read (no boundary mode): the array and the indices.
fn plain_read(m: &Module, v: ValueId) -> Option<(ValueId, Vec<ValueId>)> {
    let op = m.def_op(v)?;
    let d = m.op(op);
    (d.opcode == Opcode::Pj(PjOp::Read) && d.attr("boundary").is_none())
        .then(|| (d.operands[0], d.operands[1..].to_vec()))
}

/// `v` without the 16-bit packing around it: what a stage stored as
/// bfloat16 or binary16 holds stands for its `f32` value, rounded — and
/// rounding keeps a value in `(0, 1]` there and `1` exactly.
fn unpacked(m: &Module, v: ValueId) -> ValueId {
    use crate::dialects::QuantOp;
    match m.def_op(v).map(|o| (o, m.op(o).opcode)) {
        Some((
            o,
            Opcode::Quant(
                QuantOp::UnpackBf16 | QuantOp::UnpackF16 | QuantOp::PackBf16 | QuantOp::PackF16,
            ),
        )) => unpacked(m, m.op(o).operands[0]),
        _ => v,
    }
}

/// The value a region yields (its terminator's one operand).
fn yielded(m: &Module, op: OpId) -> Option<ValueId> {
    let block = m.entry_block(op, 0);
    let last = *m.block(block).ops.last()?;
    let d = m.op(last);
    (d.opcode == Opcode::Pj(PjOp::Yield) && d.operands.len() == 1).then(|| d.operands[0])
}

/// A stage computing `M[v..] = max(r..) X[..]` over a plain read of `X`
/// whose indices are `M`'s and the reduction's arguments: `X`, the read's
/// indices, `M`'s arguments and the reduction.
struct MaxStage {
    array: ValueId,
    indices: Vec<ValueId>,
    stage_args: Vec<ValueId>,
    reduce: OpId,
}

/// What a [`MaxStage`] yields: the maximum itself, or `quant.scale_for`
/// of the maximum of the magnitudes.
#[derive(Clone, Copy, PartialEq)]
enum Of {
    Values,
    ScaleOfMagnitudes,
}

fn max_stage(m: &Module, stage_value: ValueId, of: Of) -> Option<MaxStage> {
    let stage = m.def_op(stage_value)?;
    if m.op(stage).opcode != Opcode::Pj(PjOp::Stage) {
        return None;
    }
    let result = yielded(m, stage)?;
    if of == Of::Values {
        return maximum(m, stage, result, false);
    }
    let scale = m.def_op(result)?;
    if m.op(scale).opcode != Opcode::Quant(crate::dialects::QuantOp::ScaleFor) {
        return None;
    }
    let most = m.op(scale).operands[0];
    // the maximum computed in place, or read from a stage of its own at
    // the same indices
    match plain_read(m, most) {
        Some((inner, at)) if at == m.block(m.entry_block(stage, 0)).args => {
            let inner = m.def_op(inner)?;
            if m.op(inner).opcode != Opcode::Pj(PjOp::Stage) {
                return None;
            }
            maximum(m, inner, yielded(m, inner)?, true)
        }
        _ => maximum(m, stage, most, true),
    }
}

/// `result`, yielded by `stage`, as the maximum of a plain read (of its
/// magnitude, `math.abs`, with `magnitudes`).
fn maximum(m: &Module, stage: OpId, result: ValueId, magnitudes: bool) -> Option<MaxStage> {
    let reduce = m.def_op(result)?;
    let d = m.op(reduce);
    if d.opcode != Opcode::Pj(PjOp::Reduce) || d.attr("kind").and_then(Attr::as_str) != Some("max")
    {
        return None;
    }
    let mut term = yielded(m, reduce)?;
    if magnitudes {
        let abs = m.def_op(term)?;
        if m.op(abs).opcode != Opcode::Math(MathOp::Abs) {
            return None;
        }
        term = m.op(abs).operands[0];
    }
    let (array, indices) = plain_read(m, term)?;
    Some(MaxStage {
        array,
        indices,
        stage_args: m.block(m.entry_block(stage, 0)).args.clone(),
        reduce,
    })
}

/// How `x[ia] - M[jb]` lines up with `M`'s maximum: for each of the
/// reduction's arguments, the index of `x` standing in its place (`None`
/// if `x[ia]` is not shown to be one of the elements `M[jb]` is the
/// maximum of).
fn line_up(
    m: &Module,
    a: ValueId,
    b: ValueId,
    of: Of,
    rename: &dyn Fn(ValueId) -> ValueId,
) -> Option<(MaxStage, HashMap<ValueId, ValueId>)> {
    let (x, ia) = plain_read(m, a)?;
    let (stage_value, jb) = plain_read(m, b)?;
    let s = max_stage(m, stage_value, of)?;
    if s.array != x || s.indices.len() != ia.len() {
        return None;
    }
    let red = m.entry_block(s.reduce, 0);
    let reduce_args = m.block(red).args.clone();
    let mut assigned: HashMap<ValueId, ValueId> = HashMap::new();
    for (&idx, &at) in s.indices.iter().zip(&ia) {
        let at = rename(at);
        if let Some(j) = s.stage_args.iter().position(|&v| v == idx) {
            // a stage index of `M`: `x` must be read where `M` is
            if rename(*jb.get(j)?) != at {
                return None;
            }
        } else if reduce_args.contains(&idx) {
            match assigned.get(&idx) {
                Some(&prev) if prev != at => return None,
                _ => {
                    assigned.insert(idx, at);
                }
            }
        } else {
            return None;
        }
    }
    // every reduction argument in place, each within the reduction's bounds
    for &r in &reduce_args {
        let at = *assigned.get(&r)?;
        if index_bounds(m, at) != index_bounds(m, r) {
            return None;
        }
    }
    Some((s, assigned))
}

/// Whether `a - b` is never positive: `a` reads `x` at an element of the
/// maximum `b` reads (`e[n, c] = x[n, c] - m[n]`, `m[n] = max(c) x[n, c]`).
/// A NaN in `x` makes the difference NaN, never positive.
pub fn at_most_its_max(m: &Module, a: ValueId, b: ValueId) -> bool {
    line_up(m, a, b, Of::Values, &|v| v).is_some()
}

/// Whether `quant.quantize` op `q`, whose scale is its second operand,
/// quantizes a plain read `X[ia]` by a read `S[jb]` of a stage computing
/// `quant.scale_for(max(k..) |X[..]|)` over elements that include `X[ia]`
/// (lined up as in [`at_most_its_max`]): then `|X[ia]| <= levels · S[jb]`
/// unless the scale was capped at its largest, `S`. Gives `(levels,
/// largest)`: the quantized value is within `levels` (up to rounding) of
/// the zero point wherever `|X[ia]| <= levels · largest` too.
pub fn within_its_scale(m: &Module, q: OpId) -> Option<(i64, f64)> {
    let d = m.op(q);
    let (&x, &s) = (d.operands.first()?, d.operands.get(1)?);
    line_up(m, x, s, Of::ScaleOfMagnitudes, &|v| v)?;
    let scale = m.def_op(yielded(m, m.def_op(plain_read(m, s)?.0)?)?)?;
    let p = crate::dialects::quant::Params::of(m, scale);
    Some((p.levels, p.scale))
}

/// Whether `sum` reduction `reduce`'s terms are each `exp(x[..] - M[..])`
/// as in [`at_most_its_max`] — so in `(0, 1]` — over every element of the
/// maximum, each once: one term is then `exp(0) = 1`, and the sum at least
/// 1 (when the reduction is not empty). The term may be computed in place
/// or read from a stage that computes it (stored in 16 bits or not).
pub fn includes_its_max_term(m: &Module, reduce: OpId) -> bool {
    let d = m.op(reduce);
    if d.opcode != Opcode::Pj(PjOp::Reduce) || d.attr("kind").and_then(Attr::as_str) != Some("sum")
    {
        return false;
    }
    let sum_args = m.block(m.entry_block(reduce, 0)).args.clone();
    let Some(term) = yielded(m, reduce).map(|t| unpacked(m, t)) else {
        return false;
    };
    // the term in place, or a read of a stage yielding it: the stage's
    // arguments stand for the read's indices
    let (exp, rename): (ValueId, HashMap<ValueId, ValueId>) = match plain_read(m, term) {
        Some((stage_value, at)) => {
            let Some(stage) = m.def_op(stage_value) else {
                return false;
            };
            if m.op(stage).opcode != Opcode::Pj(PjOp::Stage) {
                return false;
            }
            let args = m.block(m.entry_block(stage, 0)).args.clone();
            if args.len() != at.len() {
                return false;
            }
            let Some(e) = yielded(m, stage).map(|e| unpacked(m, e)) else {
                return false;
            };
            (e, args.into_iter().zip(at).collect())
        }
        None => (term, HashMap::new()),
    };
    let Some(op) = m.def_op(exp) else {
        return false;
    };
    if m.op(op).opcode != Opcode::Math(MathOp::Exp) {
        return false;
    }
    let Some(sub) = m.def_op(m.op(op).operands[0]) else {
        return false;
    };
    let s = m.op(sub);
    if s.opcode != Opcode::Arith(crate::dialects::ArithOp::Sub) {
        return false;
    }
    let rename = |v: ValueId| *rename.get(&v).unwrap_or(&v);
    let Some((_, assigned)) = line_up(m, s.operands[0], s.operands[1], Of::Values, &rename) else {
        return false;
    };
    // the sum runs over exactly the maximum's elements: its arguments are
    // the ones standing for the maximum's, one each
    let mut covered: Vec<ValueId> = assigned.values().copied().collect();
    covered.sort();
    covered.dedup();
    covered.len() == assigned.len()
        && covered.len() == sum_args.len()
        && sum_args.iter().all(|a| covered.contains(a))
}
