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
//! - [`deviation_over_spread`]: in `(x[n, c] - M[n]) / sqrt(v[n] + eps)`
//!   with `v[n] = (sum(c) (x[n, c] - M[n])²) / D`, the quotient is at most
//!   `sqrt(D)` in magnitude (layer normalization's: the numerator squared is
//!   one of the sum's terms, all non-negative), where intervals give
//!   `|x - M| / sqrt(eps)`.
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

/// A normalized deviation `(x[..] - M[..]) / sqrt(v[..] + eps)` whose
/// `v` is a sum of the squared deviations divided by `divisor` (see
/// [`deviation_over_spread`]).
pub struct Spread {
    /// `D` in `v = S / D`.
    pub divisor: ValueId,
    /// `eps`, if the root is of `v + eps`.
    pub eps: Option<ValueId>,
    /// The sum of squares.
    pub reduce: OpId,
}

/// Whether `num / den` is `(x[ia] - M[ja]) / sqrt(V[kb] + eps)` (or
/// `sqrt(V[kb])`) with `V[..] = (sum(r..) d * d) / D`, `d = x[..] - M[..]`
/// computed alike, the sum running over elements that include the
/// numerator's (lined up as in [`at_most_its_max`]): then the numerator
/// squared is one of the sum's non-negative terms, and `|num / den| <=
/// sqrt(D)` up to rounding when `eps >= 0` — the caller checks `eps` and
/// `D`'s ranges and accounts for the roundings.
pub fn deviation_over_spread(m: &Module, num: ValueId, den: ValueId) -> Option<Spread> {
    use crate::dialects::ArithOp;
    let op_is = |v: ValueId, opcode: Opcode| {
        m.def_op(v)
            .filter(|&o| m.op(o).opcode == opcode)
            .map(|o| m.op(o).operands.clone())
    };
    let dev = op_is(num, Opcode::Arith(ArithOp::Sub))?;
    let (x, ia) = plain_read(m, dev[0])?;
    let (mean, ja) = plain_read(m, dev[1])?;
    let root = op_is(den, Opcode::Math(MathOp::Sqrt))?;
    let spread_read = |v: ValueId| {
        plain_read(m, v).filter(|(a, _)| {
            m.def_op(*a)
                .is_some_and(|o| m.op(o).opcode == Opcode::Pj(PjOp::Stage))
        })
    };
    let ((spread, kb), eps) = match op_is(root[0], Opcode::Arith(ArithOp::Add)) {
        Some(sum) => match (spread_read(sum[0]), spread_read(sum[1])) {
            (Some(r), _) => (r, Some(sum[1])),
            (None, Some(r)) => (r, Some(sum[0])),
            (None, None) => return None,
        },
        None => (spread_read(root[0])?, None),
    };
    let stage = m.def_op(spread)?;
    let quotient = op_is(yielded(m, stage)?, Opcode::Arith(ArithOp::Div))?;
    let reduce = m.def_op(quotient[0])?;
    let d = m.op(reduce);
    if d.opcode != Opcode::Pj(PjOp::Reduce) || d.attr("kind").and_then(Attr::as_str) != Some("sum")
    {
        return None;
    }
    let square = op_is(yielded(m, reduce)?, Opcode::Arith(ArithOp::Mul))?;
    if !m.same_computation(square[0], square[1]) {
        return None;
    }
    let term = op_is(square[0], Opcode::Arith(ArithOp::Sub))?;
    let (tx, it) = plain_read(m, term[0])?;
    let (tmean, jt) = plain_read(m, term[1])?;
    if tx != x || tmean != mean || it.len() != ia.len() || jt.len() != ja.len() {
        return None;
    }
    let stage_args = m.block(m.entry_block(stage, 0)).args.clone();
    let reduce_args = m.block(m.entry_block(reduce, 0)).args.clone();
    let mut assigned: HashMap<ValueId, ValueId> = HashMap::new();
    // each index of the term's read: one of V's (then the numerator's read
    // is where V is read) or the sum's (one numerator index per argument)
    let mut lines_up = |inner: &[ValueId], outer: &[ValueId]| {
        inner.iter().zip(outer).all(|(&i, &o)| {
            if let Some(j) = stage_args.iter().position(|&a| a == i) {
                kb.get(j) == Some(&o)
            } else if reduce_args.contains(&i) {
                *assigned.entry(i).or_insert(o) == o && index_bounds(m, o) == index_bounds(m, i)
            } else {
                false
            }
        })
    };
    if !(lines_up(&it, &ia) && lines_up(&jt, &ja)) {
        return None;
    }
    reduce_args
        .iter()
        .all(|r| assigned.contains_key(r))
        .then_some(Spread {
            divisor: quotient[1],
            eps,
            reduce,
        })
}
