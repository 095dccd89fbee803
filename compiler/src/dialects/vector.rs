//! `vector` dialect: explicit SIMD values of a fixed lane count.
//!
//! Produced by `passes::vectorize` (and hand-written in tests); consumed by
//! the interpreter and the backends. A vector type
//! `f32x4` holds 128 bits today (what Cranelift encodes; LLVM will take
//! wider). Narrower vectors (`u8x4`, `i16x4`: 32 or 64 bits) exist as the
//! sources of widening casts, so that `i32(a[k])` over `u8` lanes keeps the
//! lane count of the `i32` arithmetic it feeds. Elementwise arithmetic is
//! `arith` on vector operands (`add`, `sub`, `mul`, `min`, `max`, `neg` for
//! every numeric lane type, `div` for floats; `cast` where
//! [`cast_supported`] says so); these ops move data between vectors,
//! scalars and buffers.
//!
//! ```text
//! %v = vector.load(%x, %i, %j) : f32x4        // x[i, j..j+4]
//! %w = arith.add(%v, %v) : f32x4
//! vector.store(%w, %y, %i, %j)
//! %s = vector.reduce(%w) {kind = "sum"} : f32  // ((w0 + w1) + w2) + w3
//! ```

use super::{check, dialect_ops};
use crate::ir::{Attr, Module, OpId, ScalarType, Type};

dialect_ops!(
    /// Ops of the `vector` dialect.
    VectorOp, "vector", {
    /// `vector.load(%buf, %i...)`: lanes `k = 0..n` read the element at the
    /// indices with the last one plus `k`. Bounds-checked like `mem.load`;
    /// with `{oob = "zero"}`, lanes outside the buffer read zero.
    Load => "load",
    /// `vector.store(%v, %buf, %i...)`: the inverse of `load`.
    Store => "store",
    /// `vector.broadcast(%s)`: every lane holds `%s`.
    Broadcast => "broadcast",
    /// `vector.reduce(%v) {kind}`: folds the lanes from the first to the
    /// last with `sum`, `prod`, `min` or `max` (the scalar semantics).
    Reduce => "reduce",
    /// `vector.extract(%v) {lane}`: one lane.
    Extract => "extract",
    /// `vector.dot4(%acc, %x, %y) : i32xL`: per lane `l`, `acc[l]` plus
    /// the four products of 8-bit lanes `x[4l + t] * y[4l + t]`, `t` in
    /// `0..4`, each operand sign- or zero-extended by its type, wrapping
    /// like `i32` addition (the sum is exact in any order). `%x` may also
    /// be four lanes, the same for every `l` (one row's four steps of a
    /// reduction against a packed block of columns). What VNNI's
    /// `vpdpbusd` and NEON's `sdot`/`usdot` compute; `lower-stages` makes
    /// it where the backend has one (`LowerStages::dot_products`). With
    /// `{pairs16 = true}` (`x` `u8`, `y` `i8`): each pair of products summed
    /// and saturated to `i16` first, then the two pairs added to `acc` —
    /// x86's `pmaddubsw` then `pmaddwd`, exact where `x`'s lanes are below
    /// 128 (what `lower-stages` proves before it asks for it).
    Dot4 => "dot4",
    /// `vector.interleave4(%r0, %r1, %r2, %r3) : T8x(4L)`: four vectors of
    /// `L` 8-bit lanes, lane `l` of `%rt` at lane `4l + t` — four rows of a
    /// block of columns, packed as `vector.dot4` reads its `y`.
    Interleave4 => "interleave4",
});

/// Whether `arith` op `a` applies lane by lane to vectors of `elem`: the
/// one rule the verifier checks and the vectorizer relies on.
pub fn elementwise(a: super::ArithOp, elem: ScalarType) -> bool {
    use super::ArithOp::*;
    matches!(a, Add | Sub | Mul | Min | Max | Neg)
        || (matches!(a, Div | Fma) && elem.is_float())
        || (matches!(a, Shr | Shl) && elem.is_int())
        || (a == Mulhi && matches!(elem, ScalarType::I16 | ScalarType::U16))
}

/// Whether `arith.cast` converts vectors of `from` lanes to `to` lanes:
/// integer widening (sign- or zero-extension by the source's signedness,
/// which is what the scalar cast's wrapping means when the target is
/// wider); between integers of one size (the same bits); integer
/// narrowing from at most 32 bits (keeping the low bits:
/// the scalar cast's wrapping); integers of up to 16 bits or `i32` to
/// `f32`; and `f32` to integers of at most 32 bits, saturating with NaN
/// to 0 as the scalar cast does — the conversions backends have vector
/// instructions for (the quantizing stages' `f32` to `u8`).
pub fn cast_supported(from: ScalarType, to: ScalarType) -> bool {
    let int = |t: ScalarType| t.is_numeric() && !t.is_float();
    if from == ScalarType::F32 {
        return int(to) && to.size_bytes() <= 4;
    }
    if !int(from) {
        return false;
    }
    if int(to) {
        // the same size: the same bits (`i8` lanes read as `u8`)
        return to.size_bytes() >= from.size_bytes() || from.size_bytes() <= 4;
    } // exact for up to 16 bits; i32 rounds to nearest like the scalar cast
    to == ScalarType::F32 && (from.size_bytes() <= 2 || from == ScalarType::I32)
}

/// `vector.dot4`'s lanes: `acc[l]` plus the four products of group `l`
/// (`x` of four lanes is every group), wrapping. The one definition the
/// interpreter and the tests use.
pub fn dot4(acc: &[i64], x: &[i64], y: &[i64]) -> Vec<i64> {
    dot4_with(acc, x, y, false)
}

/// [`dot4`], or with `pairs16` its saturating form (`vector.dot4 {pairs16}`).
pub fn dot4_with(acc: &[i64], x: &[i64], y: &[i64], pairs16: bool) -> Vec<i64> {
    let pair = |p: i64| {
        if pairs16 {
            p.clamp(i16::MIN as i64, i16::MAX as i64)
        } else {
            p
        }
    };
    acc.iter()
        .enumerate()
        .map(|(l, &a)| {
            let xg = if x.len() == 4 { 0 } else { 4 * l };
            let product = |t: usize| x[xg + t] * y[4 * l + t];
            let sum = pair(product(0) + product(1)) + pair(product(2) + product(3));
            (a + sum) as i32 as i64
        })
        .collect()
}

/// Whether `t` is a vector type today's backends support.
pub fn valid_vector(t: &Type) -> Result<(), String> {
    match t {
        Type::Vector { elem, lanes } => {
            if !elem.is_numeric() {
                return Err(format!("vectors of {elem} are not supported"));
            }
            if !matches!(
                (*lanes as usize) * elem.size_bytes() * 8,
                32 | 64 | 128 | 256 | 512
            ) {
                return Err(format!(
                    "{t} is not 32, 64, 128, 256 or 512 bits wide (the widths backends encode)"
                ));
            }
            Ok(())
        }
        t => Err(format!("expected a vector, found {t}")),
    }
}

impl VectorOp {
    /// `load` and `store` touch memory.
    pub fn is_pure(self) -> bool {
        !matches!(self, VectorOp::Load | VectorOp::Store)
    }

    /// Checks the op's rules.
    pub fn verify(self, m: &Module, op: OpId, errs: &mut Vec<String>) {
        let d = m.op(op);
        let result = d.results.first().map(|&r| m.ty(r).clone());
        let buffer_rank = |i: usize| -> Option<(ScalarType, usize)> {
            match m.ty(*d.operands.get(i)?) {
                Type::Buffer { elem, dims } => Some((*elem, dims.len())),
                _ => None,
            }
        };
        match self {
            VectorOp::Load | VectorOp::Store => {
                let store = self == VectorOp::Store;
                check::counts(m, op, None, usize::from(!store), 0, errs);
                let buf_at = usize::from(store);
                let Some((elem, rank)) = buffer_rank(buf_at) else {
                    errs.push(format!("operand {buf_at} must be a buffer"));
                    return;
                };
                if rank == 0 {
                    errs.push("needs a buffer of rank 1 or more".into());
                }
                let idx = &d.operands[(buf_at + 1).min(d.operands.len())..];
                if idx.len() != rank || idx.iter().any(|&v| *m.ty(v) != Type::INDEX) {
                    errs.push(format!("needs {rank} i64 indices"));
                }
                let vt = if store {
                    d.operands.first().map(|&v| m.ty(v).clone())
                } else {
                    result
                };
                match vt {
                    Some(t) => {
                        if let Err(e) = valid_vector(&t) {
                            errs.push(e);
                        } else if t.elem() != elem {
                            errs.push(format!("{t} does not hold the buffer's {elem} elements"));
                        }
                    }
                    None => errs.push("needs a vector".into()),
                }
                match d.attr("oob") {
                    None => {}
                    Some(o) if o.as_str() == Some("zero") && !store => {}
                    Some(o) => {
                        errs.push(format!("`oob` may only be \"zero\", on loads; found {o}"))
                    }
                }
            }
            VectorOp::Broadcast => {
                check::counts(m, op, Some(1), 1, 0, errs);
                if let (Some(t), Some(&s)) = (&result, d.operands.first()) {
                    if let Err(e) = valid_vector(t) {
                        errs.push(e);
                    } else if *m.ty(s) != Type::Scalar(t.elem()) {
                        errs.push(format!("broadcasts a {} into {t}", m.ty(s)));
                    }
                }
            }
            VectorOp::Dot4 => {
                check::counts(m, op, Some(3), 1, 0, errs);
                if d.operands.len() != 3 {
                    return;
                }
                let [acc, x, y] = [0, 1, 2].map(|i| m.ty(d.operands[i]).clone());
                let lanes = acc.lanes().unwrap_or(0);
                if acc.elem() != ScalarType::I32
                    || acc.lanes().is_none()
                    || valid_vector(&acc).is_err()
                {
                    errs.push(format!(
                        "the accumulator must be an i32 vector, found {acc}"
                    ));
                    return;
                }
                if result.as_ref() != Some(&acc) {
                    errs.push(format!("the result must be {acc}, the accumulator's type"));
                }
                let byte = |t: &Type| {
                    matches!(t.elem(), ScalarType::U8 | ScalarType::I8) && t.lanes().is_some()
                };
                if !byte(&y) || y.lanes() != Some(4 * lanes) {
                    errs.push(format!(
                        "`y` must be u8 or i8 with {} lanes, found {y}",
                        4 * lanes
                    ));
                }
                if !byte(&x) || !matches!(x.lanes(), Some(n) if n == 4 || n == 4 * lanes) {
                    errs.push(format!(
                        "`x` must be u8 or i8 with 4 or {} lanes, found {x}",
                        4 * lanes
                    ));
                }
                if d.attr("pairs16").is_some()
                    && (x.elem() != ScalarType::U8 || y.elem() != ScalarType::I8)
                {
                    errs.push(format!(
                        "`pairs16` multiplies u8 `x` by i8 `y`, found {x} and {y}"
                    ));
                }
            }
            VectorOp::Interleave4 => {
                check::counts(m, op, Some(4), 1, 0, errs);
                let Some(&first) = d.operands.first() else {
                    return;
                };
                let rt = m.ty(first).clone();
                let byte = matches!(rt.elem(), ScalarType::U8 | ScalarType::I8);
                if !byte || rt.lanes().is_none() {
                    errs.push(format!("the rows must be u8 or i8 vectors, found {rt}"));
                    return;
                }
                if d.operands.iter().any(|&v| *m.ty(v) != rt) {
                    errs.push(format!("the four rows must have one type, {rt}"));
                }
                let want = Type::Vector {
                    elem: rt.elem(),
                    lanes: 4 * rt.lanes().unwrap_or(0),
                };
                if result.as_ref() != Some(&want) {
                    errs.push(format!("the result must be {want}"));
                } else if let Err(e) = valid_vector(&want) {
                    errs.push(e);
                }
            }
            VectorOp::Reduce | VectorOp::Extract => {
                check::counts(m, op, Some(1), 1, 0, errs);
                let Some(&v) = d.operands.first() else { return };
                let vt = m.ty(v).clone();
                if let Err(e) = valid_vector(&vt) {
                    errs.push(e);
                    return;
                }
                if result.as_ref() != Some(&Type::Scalar(vt.elem())) {
                    errs.push(format!("result must be {}", vt.elem()));
                }
                if self == VectorOp::Reduce {
                    match d.attr("kind").and_then(Attr::as_str) {
                        Some(k) if super::pj::REDUCE_KINDS.contains(&k) => {}
                        _ => {
                            errs.push("needs `kind` = \"sum\", \"prod\", \"min\" or \"max\"".into())
                        }
                    }
                } else {
                    match d.attr("lane").and_then(Attr::as_int) {
                        Some(l) if l >= 0 && (l as u32) < vt.lanes().unwrap_or(0) => {}
                        _ => errs.push(format!("needs `lane` in 0..{}", vt.lanes().unwrap_or(0))),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot4_pairs16_saturates_each_pair_at_16_bits() {
        // 255·127 + 255·127 = 64770: saturated to 32767 per pair
        let (x, y) = ([255, 255, 255, 255], [127, 127, -128, -128]);
        assert_eq!(dot4(&[1], &x, &y), vec![1 + 64770 - 65280]);
        assert_eq!(dot4_with(&[1], &x, &y, true), vec![1 + 32767 - 32768]);
        // below 128 the pairs never saturate: the exact dot product
        let (x, y) = ([127, 127, 127, 127], [127, -128, -128, -128]);
        assert_eq!(dot4_with(&[5], &x, &y, true), dot4(&[5], &x, &y));
        let (x, y) = ([127, 127, 127, 127], [-128; 4]);
        assert_eq!(dot4_with(&[0], &x, &y, true), vec![-4 * 127 * 128]);
    }
}
