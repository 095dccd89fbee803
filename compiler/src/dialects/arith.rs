//! `arith` dialect: scalar arithmetic on every element type, and the exact
//! semantics of each op ([`Scalar`], [`eval_binary`], ...), shared by the
//! reference interpreter and constant folding so the two can never disagree.
//!
//! Ops are type-generic: `arith.add` adds whatever its operand type is.
//! Integers wrap on overflow; integer `div`/`rem` by zero is an error
//! (`div` truncates toward zero, `rem` takes the dividend's sign);
//! `min`/`max` on floats propagate NaN and order -0.0 below +0.0; `cast`
//! from float to integer saturates (NaN becomes 0), between integers wraps.

use super::{check, dialect_ops};
use crate::ir::{Attr, Module, OpId, ScalarType, Type};

dialect_ops!(
    /// Ops of the `arith` dialect.
    ArithOp, "arith", {
    /// `{value = ...}`: a constant of the result type.
    Constant => "constant",
    /// `a + b`
    Add => "add",
    /// `a - b`
    Sub => "sub",
    /// `a * b`
    Mul => "mul",
    /// `a / b`
    Div => "div",
    /// `a % b`
    Rem => "rem",
    /// `-a`
    Neg => "neg",
    /// `a * b + c` on floats with one rounding (a fused multiply-add);
    /// introduced only by the `contract` pass.
    Fma => "fma",
    /// `min(a, b)`
    Min => "min",
    /// `max(a, b)`
    Max => "max",
    /// Comparison `{pred = "lt"}` (eq, ne, lt, le, gt, ge) giving a bool.
    Cmp => "cmp",
    /// `a && b` (both operands are always evaluated).
    And => "and",
    /// `a || b`
    Or => "or",
    /// `!a`
    Not => "not",
    /// `select(c, a, b)`
    Select => "select",
    /// Conversion to the result type.
    Cast => "cast",
    /// `a >> amount` on an integer, `{amount = k}` with `0 <= k < bits`:
    /// sign-filling for signed types, zero-filling for unsigned ones (the
    /// division by `2^k` rounding toward -inf). Not in the language; the
    /// `quantize` pass makes it for division by a constant
    /// ([`shift_amount`]).
    Shr => "shr",
    /// The high half of the double-width product of two integers, `(a *
    /// b) >> bits` (signed or unsigned by the type): with a shift, a
    /// division by a constant in the operands' own width (`pmulhuw` on
    /// 16-bit lanes). Not in the language, like `shr`.
    Mulhi => "mulhi",
    /// `a << amount` on an integer, `{amount = k}` with `0 <= k < bits`,
    /// keeping the low bits (wrapping). Not in the language; made by
    /// `lower-quant` (bf16's bits).
    Shl => "shl",
    /// The same bits as another type of the same size: `u32` <-> `f32`,
    /// `i64`/`u64`... <-> `f64`. Not in the language; made by `lower-quant`.
    Bitcast => "bitcast",
});

/// Evaluates `arith.shl` by `amount` (checked by the verifier).
pub fn eval_shl(a: Scalar, amount: u32) -> Scalar {
    let v = a
        .as_i64()
        .unwrap_or_else(|| panic!("arith.shl on {a:?} (unverified IR)"));
    Scalar::from_i64(v.wrapping_shl(amount), a.ty())
}

/// Evaluates `arith.bitcast` to `t` (of `a`'s size, checked by the
/// verifier).
pub fn eval_bitcast(a: Scalar, t: ScalarType) -> Scalar {
    let bits: u64 = match a {
        Scalar::F32(v) => v.to_bits() as u64,
        Scalar::F64(v) => v.to_bits(),
        Scalar::F16(q) | Scalar::Bf16(q) => q as u64,
        s => s.as_i64().expect("a number") as u64,
    };
    match t {
        ScalarType::F16 => Scalar::F16(bits as u16),
        ScalarType::Bf16 => Scalar::Bf16(bits as u16),
        ScalarType::F32 => Scalar::F32(f32::from_bits(bits as u32)),
        ScalarType::F64 => Scalar::F64(f64::from_bits(bits)),
        // the low bits, as the integer type reads them
        t => Scalar::from_i64(bits as i64, t),
    }
}

/// The `amount` of an `arith.shr`.
pub fn shift_amount(m: &Module, op: OpId) -> Option<u32> {
    m.op(op)
        .attr("amount")
        .and_then(Attr::as_int)
        .and_then(|k| u32::try_from(k).ok())
}

/// Evaluates `arith.shr` by `amount` (checked by the verifier).
pub fn eval_shr(a: Scalar, amount: u32) -> Scalar {
    let t = a.ty();
    let v = a
        .as_i64()
        .unwrap_or_else(|| panic!("arith.shr on {a:?} (unverified IR)"));
    // `as_i64` zero-extends unsigned types and sign-extends signed ones, so
    // an arithmetic shift of the i64 is the right shift of either
    Scalar::from_i64(v >> amount, t)
}

/// Whether an `arith` op can end a call with a run-time error: integer `div`
/// and `rem` whose divisor is not proven non-zero. Every other `arith` op,
/// and float division, is total. Optimizations must not remove, or execute
/// where the program would not, an op for which this is true.
pub fn can_fail(m: &Module, op: OpId) -> bool {
    let d = m.op(op);
    matches!(d.opcode, super::Opcode::Arith(ArithOp::Div | ArithOp::Rem))
        && !d.results.iter().all(|&r| m.ty(r).elem().is_float())
        && !proven_nonzero(m, d.operands[1])
}

/// Whether `v` is a non-zero integer constant, or an index built from buffer
/// dims, positive constants, `max`, `add` and `mul` with a lower bound of 1
/// (the mirror boundary's `rem` by `2 * max(H, 1)`). A dim is taken to be
/// below 2^48 (no machine holds a larger array), which bounds the products.
pub fn proven_nonzero(m: &Module, v: crate::ir::ValueId) -> bool {
    let Some(op) = m.def_op(v) else {
        return false;
    };
    let d = m.op(op);
    match d.opcode {
        super::Opcode::Arith(ArithOp::Constant) => d
            .attr("value")
            .and_then(Attr::as_int)
            .is_some_and(|c| c != 0),
        super::Opcode::Arith(ArithOp::Neg) => proven_nonzero(m, d.operands[0]),
        _ => index_range(m, v, 8).is_some_and(|(lo, _)| lo >= 1),
    }
}

/// Bounds `[lo, hi]` of an `i64` value built from dims and constants by
/// `max`, `add` and `mul` of non-negative values, if it is one (`depth`
/// limits the walk).
fn index_range(m: &Module, v: crate::ir::ValueId, depth: u32) -> Option<(i64, i64)> {
    const DIM_MAX: i64 = 1 << 48;
    let op = m.def_op(v)?;
    let d = m.op(op);
    if depth == 0 || *m.ty(v) != Type::INDEX {
        return None;
    }
    let sub = |i: usize| index_range(m, d.operands[i], depth - 1);
    match d.opcode {
        super::Opcode::Arith(ArithOp::Constant) => {
            let c = d.attr("value").and_then(Attr::as_int)?;
            Some((c, c))
        }
        super::Opcode::Mem(super::MemOp::Dim) => Some((0, DIM_MAX)),
        super::Opcode::Arith(ArithOp::Max) => {
            let ((a, b), (c, e)) = (sub(0)?, sub(1)?);
            Some((a.max(c), b.max(e)))
        }
        super::Opcode::Arith(op @ (ArithOp::Add | ArithOp::Mul)) => {
            let ((a, b), (c, e)) = (sub(0)?, sub(1)?);
            if a < 0 || c < 0 {
                return None;
            }
            if op == ArithOp::Add {
                Some((a.checked_add(c)?, b.checked_add(e)?))
            } else {
                Some((a.checked_mul(c)?, b.checked_mul(e)?))
            }
        }
        _ => None,
    }
}

/// Predicates of `arith.cmp`.
pub const CMP_PREDICATES: [&str; 6] = ["eq", "ne", "lt", "le", "gt", "ge"];

impl ArithOp {
    /// Checks the op's rules.
    pub fn verify(self, m: &Module, op: OpId, errs: &mut Vec<String>) {
        let d = m.op(op);
        let result = d.results.first().map(|&r| m.ty(r).clone());
        if let (Some(t @ Type::Vector { .. }), ArithOp::Bitcast) = (&result, self) {
            check::counts(m, op, Some(1), 1, 0, errs);
            if let Err(e) = super::vector::valid_vector(t) {
                errs.push(e);
            }
            match d.operands.first().map(|&v| m.ty(v).clone()) {
                Some(f)
                    if f.lanes() != t.lanes()
                        || f.elem().size_bytes() != t.elem().size_bytes()
                        || f.elem() == t.elem() =>
                {
                    errs.push(format!("casts the bits of {f} to {t}: needs as many lanes of another type of the size"))
                }
                _ => {}
            }
            return;
        }
        if let (Some(t @ Type::Vector { .. }), ArithOp::Cast) = (&result, self) {
            check::counts(m, op, Some(1), 1, 0, errs);
            if let Err(e) = super::vector::valid_vector(t) {
                errs.push(e);
            }
            let from = d.operands.first().map(|&v| m.ty(v).clone());
            match from {
                Some(f) if f.lanes().is_none() || f.lanes() != t.lanes() => {
                    errs.push(format!("casts {f} to {t}: needs a vector of as many lanes"))
                }
                Some(f) if !super::vector::cast_supported(f.elem(), t.elem()) => {
                    errs.push(format!("casts from {f} to {t} are not vector operations"))
                }
                _ => {}
            }
            return;
        }
        if let Some(t @ Type::Vector { .. }) = &result {
            // elementwise arithmetic on vectors: one vector type throughout
            if !super::vector::elementwise(self, t.elem()) {
                errs.push(format!(
                    "does not apply to vectors ({t}): extract lanes or use scalars"
                ));
            }
            if let Err(e) = super::vector::valid_vector(t) {
                errs.push(e);
            }
            if d.operands.iter().any(|&v| m.ty(v) != t) {
                errs.push(format!("every operand must be {t}"));
            }
            if matches!(self, ArithOp::Shr | ArithOp::Shl) {
                verify_shift(m, op, Some(t.elem()), errs);
            }
            let n = match self {
                ArithOp::Neg | ArithOp::Shr | ArithOp::Shl => 1,
                ArithOp::Fma => 3,
                _ => 2,
            };
            check::counts(m, op, Some(n), 1, 0, errs);
            return;
        }
        let res_scalar = result.as_ref().and_then(Type::as_scalar);
        if result.is_some() && res_scalar.is_none() {
            errs.push("result must be a scalar".into());
        }
        match self {
            ArithOp::Constant => {
                check::counts(m, op, Some(0), 1, 0, errs);
                if let Some(t) = res_scalar {
                    match d.attr("value") {
                        Some(a) => {
                            if Scalar::from_attr(a, t).is_none() {
                                errs.push(format!("value {a} is not a {t}"));
                            }
                        }
                        None => errs.push("needs a `value` attribute".into()),
                    }
                }
            }
            ArithOp::Add
            | ArithOp::Sub
            | ArithOp::Mul
            | ArithOp::Div
            | ArithOp::Rem
            | ArithOp::Min
            | ArithOp::Max
            | ArithOp::Mulhi => {
                check::counts(m, op, Some(2), 1, 0, errs);
                let a = check::scalar_operand(m, op, 0, errs);
                let b = check::scalar_operand(m, op, 1, errs);
                if a.is_some() && (a != b || a != res_scalar) {
                    errs.push("operands and result must have one type".into());
                }
                if a == Some(ScalarType::Bool) {
                    errs.push("needs numbers, not bool".into());
                }
                if self == ArithOp::Mulhi && a.is_some_and(|t| !t.is_int()) {
                    errs.push("needs integers".into());
                }
            }
            ArithOp::Fma => {
                check::counts(m, op, Some(3), 1, 0, errs);
                let t: Vec<_> = (0..3)
                    .map(|i| check::scalar_operand(m, op, i, errs))
                    .collect();
                if t.iter().all(Option::is_some)
                    && (t.iter().any(|&x| x != t[0]) || t[0] != res_scalar)
                {
                    errs.push("operands and result must have one type".into());
                }
                if t[0].is_some_and(|x| !x.is_float()) {
                    errs.push("needs floats".into());
                }
            }
            ArithOp::Neg => {
                check::counts(m, op, Some(1), 1, 0, errs);
                let a = check::scalar_operand(m, op, 0, errs);
                if a.is_some() && a != res_scalar {
                    errs.push("operand and result must have one type".into());
                }
                if a == Some(ScalarType::Bool) {
                    errs.push("needs a number, not bool".into());
                }
            }
            ArithOp::Cmp => {
                check::counts(m, op, Some(2), 1, 0, errs);
                let a = check::scalar_operand(m, op, 0, errs);
                let b = check::scalar_operand(m, op, 1, errs);
                if a != b {
                    errs.push("operands must have one type".into());
                }
                if res_scalar.is_some() && res_scalar != Some(ScalarType::Bool) {
                    errs.push("result must be bool".into());
                }
                match d.attr("pred").and_then(Attr::as_str) {
                    Some(p) if CMP_PREDICATES.contains(&p) => {}
                    _ => errs.push(format!(
                        "needs `pred`, one of {}",
                        CMP_PREDICATES.join(", ")
                    )),
                }
            }
            ArithOp::And | ArithOp::Or | ArithOp::Not => {
                let n = if self == ArithOp::Not { 1 } else { 2 };
                check::counts(m, op, Some(n), 1, 0, errs);
                for i in 0..n {
                    if check::scalar_operand(m, op, i, errs).is_some_and(|t| t != ScalarType::Bool)
                    {
                        errs.push(format!("operand {i} must be bool"));
                    }
                }
                if res_scalar.is_some() && res_scalar != Some(ScalarType::Bool) {
                    errs.push("result must be bool".into());
                }
            }
            ArithOp::Select => {
                check::counts(m, op, Some(3), 1, 0, errs);
                if check::scalar_operand(m, op, 0, errs).is_some_and(|t| t != ScalarType::Bool) {
                    errs.push("the condition must be bool".into());
                }
                let a = check::scalar_operand(m, op, 1, errs);
                let b = check::scalar_operand(m, op, 2, errs);
                if a != b || a != res_scalar {
                    errs.push("both choices and the result must have one type".into());
                }
            }
            ArithOp::Cast => {
                check::counts(m, op, Some(1), 1, 0, errs);
                let a = check::scalar_operand(m, op, 0, errs);
                if let (Some(a), Some(r)) = (a, res_scalar)
                    && r.is_half()
                    && !matches!(a, ScalarType::F32 | ScalarType::F16 | ScalarType::Bf16)
                {
                    errs.push(format!(
                        "converts to {r} from f32, f16 or bf16 only (rounding once), not from {a}"
                    ));
                }
            }
            ArithOp::Bitcast => {
                check::counts(m, op, Some(1), 1, 0, errs);
                let a = check::scalar_operand(m, op, 0, errs);
                if let (Some(a), Some(r)) = (a, res_scalar)
                    && (a.size_bytes() != r.size_bytes() || a == ScalarType::Bool || a == r)
                {
                    errs.push(format!(
                        "casts the bits of {a} to {r}: needs another type of its size"
                    ));
                }
            }
            ArithOp::Shr | ArithOp::Shl => {
                check::counts(m, op, Some(1), 1, 0, errs);
                let a = check::scalar_operand(m, op, 0, errs);
                if a.is_some() && a != res_scalar {
                    errs.push("operand and result must have one type".into());
                }
                verify_shift(m, op, a, errs);
            }
        }
    }
}

/// `arith.shr`'s rules on its type and `amount`.
fn verify_shift(m: &Module, op: OpId, t: Option<ScalarType>, errs: &mut Vec<String>) {
    let Some(t) = t else { return };
    if !t.is_int() {
        errs.push(format!("shifts integers, not {t}"));
        return;
    }
    let bits = 8 * t.size_bytes() as u32;
    match shift_amount(m, op) {
        Some(k) if k < bits => {}
        _ => errs.push(format!("needs `amount`, from 0 to {} for {t}", bits - 1)),
    }
}

/// A scalar value of some element type.
#[derive(Clone, Copy, PartialEq)]
#[allow(missing_docs)]
pub enum Scalar {
    Bool(bool),
    I8(i8),
    I16(i16),
    I32(i32),
    I64(i64),
    U8(u8),
    U16(u16),
    U32(u32),
    F32(f32),
    F64(f64),
    /// An `f16`, as its bits.
    F16(u16),
    /// A `bf16`, as its bits.
    Bf16(u16),
}

/// As derived, but a 16-bit float shows the value its bits stand for
/// (`F16(0.5)`, `F16(NaN)`: as `f32` and `f64` show, which NaN it is
/// aside — the hardware's choice).
impl std::fmt::Debug for Scalar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scalar::Bool(v) => write!(f, "Bool({v:?})"),
            Scalar::I8(v) => write!(f, "I8({v:?})"),
            Scalar::I16(v) => write!(f, "I16({v:?})"),
            Scalar::I32(v) => write!(f, "I32({v:?})"),
            Scalar::I64(v) => write!(f, "I64({v:?})"),
            Scalar::U8(v) => write!(f, "U8({v:?})"),
            Scalar::U16(v) => write!(f, "U16({v:?})"),
            Scalar::U32(v) => write!(f, "U32({v:?})"),
            Scalar::F32(v) => write!(f, "F32({v:?})"),
            Scalar::F64(v) => write!(f, "F64({v:?})"),
            Scalar::F16(q) => write!(f, "F16({:?})", super::quant::f16_value(*q)),
            Scalar::Bf16(q) => write!(f, "Bf16({:?})", super::quant::bf16_value(*q)),
        }
    }
}

/// Why an operation has no value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EvalError {
    /// Integer division or remainder by zero.
    DivisionByZero,
}

macro_rules! int_arms {
    ($a:expr, $b:expr, |$x:ident, $y:ident| $e:expr) => {
        match ($a, $b) {
            (Scalar::I8($x), Scalar::I8($y)) => Some(Scalar::I8($e)),
            (Scalar::I16($x), Scalar::I16($y)) => Some(Scalar::I16($e)),
            (Scalar::I32($x), Scalar::I32($y)) => Some(Scalar::I32($e)),
            (Scalar::I64($x), Scalar::I64($y)) => Some(Scalar::I64($e)),
            (Scalar::U8($x), Scalar::U8($y)) => Some(Scalar::U8($e)),
            (Scalar::U16($x), Scalar::U16($y)) => Some(Scalar::U16($e)),
            (Scalar::U32($x), Scalar::U32($y)) => Some(Scalar::U32($e)),
            _ => None,
        }
    };
}

macro_rules! float_arms {
    ($a:expr, $b:expr, |$x:ident, $y:ident| $e:expr) => {
        match ($a, $b) {
            (Scalar::F32($x), Scalar::F32($y)) => Some(Scalar::F32($e)),
            (Scalar::F64($x), Scalar::F64($y)) => Some(Scalar::F64($e)),
            _ => None,
        }
    };
}

macro_rules! num_cmp {
    ($a:expr, $b:expr, |$x:ident, $y:ident| $e:expr) => {
        match ($a, $b) {
            (Scalar::Bool($x), Scalar::Bool($y)) => $e,
            (Scalar::I8($x), Scalar::I8($y)) => $e,
            (Scalar::I16($x), Scalar::I16($y)) => $e,
            (Scalar::I32($x), Scalar::I32($y)) => $e,
            (Scalar::I64($x), Scalar::I64($y)) => $e,
            (Scalar::U8($x), Scalar::U8($y)) => $e,
            (Scalar::U16($x), Scalar::U16($y)) => $e,
            (Scalar::U32($x), Scalar::U32($y)) => $e,
            (Scalar::F32($x), Scalar::F32($y)) => $e,
            (Scalar::F64($x), Scalar::F64($y)) => $e,
            (a, b) => panic!("comparison of mismatched scalars {a:?} and {b:?} (unverified IR)"),
        }
    };
}

/// IEEE-754 `minimum`: NaN if either is NaN, and -0.0 < +0.0.
fn fmin<T: num_like::Float>(a: T, b: T) -> T {
    if a.is_nan() || b.is_nan() {
        T::NAN
    } else if a == b {
        if a.is_sign_negative() { a } else { b }
    } else if a < b {
        a
    } else {
        b
    }
}

/// IEEE-754 `maximum`: NaN if either is NaN, and +0.0 > -0.0.
fn fmax<T: num_like::Float>(a: T, b: T) -> T {
    if a.is_nan() || b.is_nan() {
        T::NAN
    } else if a == b {
        if a.is_sign_negative() { b } else { a }
    } else if a > b {
        a
    } else {
        b
    }
}

mod num_like {
    pub trait Float: Copy + PartialOrd {
        const NAN: Self;
        fn is_nan(self) -> bool;
        fn is_sign_negative(self) -> bool;
    }
    impl Float for f32 {
        const NAN: f32 = f32::NAN;
        fn is_nan(self) -> bool {
            f32::is_nan(self)
        }
        fn is_sign_negative(self) -> bool {
            f32::is_sign_negative(self)
        }
    }
    impl Float for f64 {
        const NAN: f64 = f64::NAN;
        fn is_nan(self) -> bool {
            f64::is_nan(self)
        }
        fn is_sign_negative(self) -> bool {
            f64::is_sign_negative(self)
        }
    }
}

impl Scalar {
    /// The type of the value.
    pub fn ty(self) -> ScalarType {
        match self {
            Scalar::Bool(_) => ScalarType::Bool,
            Scalar::I8(_) => ScalarType::I8,
            Scalar::I16(_) => ScalarType::I16,
            Scalar::I32(_) => ScalarType::I32,
            Scalar::I64(_) => ScalarType::I64,
            Scalar::U8(_) => ScalarType::U8,
            Scalar::U16(_) => ScalarType::U16,
            Scalar::U32(_) => ScalarType::U32,
            Scalar::F32(_) => ScalarType::F32,
            Scalar::F64(_) => ScalarType::F64,
            Scalar::F16(_) => ScalarType::F16,
            Scalar::Bf16(_) => ScalarType::Bf16,
        }
    }

    /// A 16-bit float's value as the `f32` it is exactly; `None` for other
    /// types.
    pub fn widen_half(self) -> Option<f32> {
        match self {
            Scalar::F16(q) => Some(super::quant::f16_value(q)),
            Scalar::Bf16(q) => Some(super::quant::bf16_value(q)),
            _ => None,
        }
    }

    /// `x` rounded to the 16-bit float type `t` (to nearest, ties to even;
    /// a NaN keeps its sign and becomes the type's quiet NaN).
    pub fn narrow_half(x: f32, t: ScalarType) -> Scalar {
        match t {
            ScalarType::F16 => Scalar::F16(super::quant::f16_bits(x)),
            ScalarType::Bf16 => Scalar::Bf16(super::quant::bf16_bits(x)),
            t => panic!("{t} is not a 16-bit float"),
        }
    }

    /// A 16-bit float widened to `f32`; any other value as it is.
    fn widened(self) -> Scalar {
        self.widen_half().map_or(self, Scalar::F32)
    }

    /// Zero (or `false`) of a type.
    pub fn zero(t: ScalarType) -> Scalar {
        Scalar::I64(0).cast(t)
    }

    /// An integer value converted (wrapping) to `t`.
    pub fn from_i64(v: i64, t: ScalarType) -> Scalar {
        Scalar::I64(v).cast(t)
    }

    /// The value widened to `i64` (integers and bools), `None` for floats.
    pub fn as_i64(self) -> Option<i64> {
        Some(match self {
            Scalar::Bool(b) => b as i64,
            Scalar::I8(v) => v as i64,
            Scalar::I16(v) => v as i64,
            Scalar::I32(v) => v as i64,
            Scalar::I64(v) => v,
            Scalar::U8(v) => v as i64,
            Scalar::U16(v) => v as i64,
            Scalar::U32(v) => v as i64,
            Scalar::F32(_) | Scalar::F64(_) | Scalar::F16(_) | Scalar::Bf16(_) => return None,
        })
    }

    /// The value as an `f64` (exact for every type but `i64` beyond 2^53).
    pub fn as_f64(self) -> f64 {
        match self {
            Scalar::F32(v) => v as f64,
            Scalar::F64(v) => v,
            s @ (Scalar::F16(_) | Scalar::Bf16(_)) => s.widened().as_f64(),
            s => s.as_i64().unwrap_or(0) as f64,
        }
    }

    /// The boolean, for `bool` values.
    pub fn as_bool(self) -> Option<bool> {
        match self {
            Scalar::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// The constant attribute for a value.
    pub fn to_attr(self) -> Attr {
        match self {
            Scalar::Bool(b) => Attr::Bool(b),
            Scalar::F32(v) => Attr::Float(v as f64),
            Scalar::F64(v) => Attr::Float(v),
            s @ (Scalar::F16(_) | Scalar::Bf16(_)) => Attr::Float(s.as_f64()),
            s => Attr::Int(s.as_i64().unwrap_or(0)),
        }
    }

    /// Reads a constant attribute as a value of type `t`; `None` if it does
    /// not fit (a float for an integer type, an out-of-range integer, ...).
    pub fn from_attr(a: &Attr, t: ScalarType) -> Option<Scalar> {
        match (a, t) {
            (Attr::Bool(b), ScalarType::Bool) => Some(Scalar::Bool(*b)),
            (Attr::Int(v), t) if t.is_int() => {
                let (lo, hi) = t.int_range()?;
                (lo..=hi).contains(v).then(|| Scalar::from_i64(*v, t))
            }
            (Attr::Int(v), ScalarType::F32) => Some(Scalar::F32(*v as f32)),
            (Attr::Int(v), ScalarType::F64) => Some(Scalar::F64(*v as f64)),
            (Attr::Float(v), ScalarType::F32) => Some(Scalar::F32(*v as f32)),
            (Attr::Float(v), ScalarType::F64) => Some(Scalar::F64(*v)),
            // a constant of a 16-bit type is one of its values exactly
            (Attr::Float(v), t) if t.is_half() => {
                let s = Scalar::narrow_half(*v as f32, t);
                (s.as_f64() == *v || v.is_nan()).then_some(s)
            }
            (Attr::Int(v), t) if t.is_half() => Scalar::from_attr(&Attr::Float(*v as f64), t),
            _ => None,
        }
    }

    /// Conversion (`f32(x)`, `i32(x)`, ...): float to integer saturates with
    /// NaN going to 0; integer to integer wraps; to `bool` is `x != 0`.
    pub fn cast(self, t: ScalarType) -> Scalar {
        // 16-bit floats: through `f32`, which holds each of their values
        // exactly and rounds once into them
        if let Some(x) = self.widen_half() {
            return Scalar::F32(x).cast(t);
        }
        if t.is_half() {
            return match self.cast(ScalarType::F32) {
                Scalar::F32(x) => Scalar::narrow_half(x, t),
                _ => unreachable!("a cast to f32 gives an f32"),
            };
        }
        if t == ScalarType::Bool {
            return Scalar::Bool(match self {
                Scalar::F32(v) => v != 0.0,
                Scalar::F64(v) => v != 0.0,
                s => s.as_i64() != Some(0),
            });
        }
        macro_rules! conv {
            ($x:expr) => {
                match t {
                    ScalarType::I8 => Scalar::I8($x as i8),
                    ScalarType::I16 => Scalar::I16($x as i16),
                    ScalarType::I32 => Scalar::I32($x as i32),
                    ScalarType::I64 => Scalar::I64($x as i64),
                    ScalarType::U8 => Scalar::U8($x as u8),
                    ScalarType::U16 => Scalar::U16($x as u16),
                    ScalarType::U32 => Scalar::U32($x as u32),
                    ScalarType::F32 => Scalar::F32($x as f32),
                    ScalarType::F64 => Scalar::F64($x as f64),
                    ScalarType::Bool | ScalarType::F16 | ScalarType::Bf16 => unreachable!(),
                }
            };
        }
        // Rust's `as` is exactly the documented semantics: saturating
        // float->int (NaN -> 0), wrapping int->int, nearest int->float.
        match self {
            Scalar::Bool(b) => conv!(b as u8),
            Scalar::I8(v) => conv!(v),
            Scalar::I16(v) => conv!(v),
            Scalar::I32(v) => conv!(v),
            Scalar::I64(v) => conv!(v),
            Scalar::U8(v) => conv!(v),
            Scalar::U16(v) => conv!(v),
            Scalar::U32(v) => conv!(v),
            Scalar::F32(v) => conv!(v),
            Scalar::F64(v) => conv!(v),
            Scalar::F16(_) | Scalar::Bf16(_) => unreachable!("widened above"),
        }
    }

    /// Identity of a reduction: 0 for sum, 1 for prod, the largest value for
    /// min (+inf for floats), the smallest for max (-inf).
    pub fn reduce_identity(kind: &str, t: ScalarType) -> Scalar {
        match (kind, t) {
            ("sum", t) => Scalar::zero(t),
            ("prod", t) => Scalar::from_i64(1, t),
            ("min", ScalarType::F32) => Scalar::F32(f32::INFINITY),
            ("min", ScalarType::F64) => Scalar::F64(f64::INFINITY),
            ("min", t) if t.is_half() => Scalar::narrow_half(f32::INFINITY, t),
            ("max", t) if t.is_half() => Scalar::narrow_half(f32::NEG_INFINITY, t),
            ("max", ScalarType::F32) => Scalar::F32(f32::NEG_INFINITY),
            ("max", ScalarType::F64) => Scalar::F64(f64::NEG_INFINITY),
            ("min", t) => Scalar::from_i64(t.int_range().map_or(0, |r| r.1), t),
            ("max", t) => Scalar::from_i64(t.int_range().map_or(0, |r| r.0), t),
            (k, _) => panic!("unknown reduction kind {k}"),
        }
    }
}

/// The combining op of a reduction kind.
pub fn reduce_combiner(kind: &str) -> ArithOp {
    match kind {
        "sum" => ArithOp::Add,
        "prod" => ArithOp::Mul,
        "min" => ArithOp::Min,
        "max" => ArithOp::Max,
        k => panic!("unknown reduction kind {k}"),
    }
}

/// Whether an `argmax` (`kind` `"argmax"`) or `argmin` takes `term` over
/// the best term so far, as NumPy's do: strictly greater (less) by IEEE
/// comparison, so the first of equal terms is kept (`-0.0` equals `0.0`);
/// the first NaN is taken and then kept, as NaN is never greater.
pub fn arg_takes(kind: &str, term: Scalar, best: Scalar) -> bool {
    let nan = |x: Scalar| eval_cmp("ne", x, x) == Scalar::Bool(true);
    let pred = if kind == "argmax" { "gt" } else { "lt" };
    eval_cmp(pred, term, best) == Scalar::Bool(true) || (nan(term) && !nan(best))
}

/// What an `argmax` or `argmin` over no terms gives.
pub const ARG_OF_NOTHING: i64 = -1;

/// Evaluates a binary arith op (add, sub, mul, div, rem, min, max, and, or).
pub fn eval_binary(op: ArithOp, a: Scalar, b: Scalar) -> Result<Scalar, EvalError> {
    // 16-bit floats compute in f32, rounded to their type
    if a.ty().is_half() {
        return match eval_binary(op, a.widened(), b.widened())? {
            Scalar::F32(r) => Ok(Scalar::narrow_half(r, a.ty())),
            r => Ok(r),
        };
    }
    let r =
        match op {
            ArithOp::Add => int_arms!(a, b, |x, y| x.wrapping_add(y))
                .or_else(|| float_arms!(a, b, |x, y| x + y)),
            ArithOp::Sub => int_arms!(a, b, |x, y| x.wrapping_sub(y))
                .or_else(|| float_arms!(a, b, |x, y| x - y)),
            ArithOp::Mul => int_arms!(a, b, |x, y| x.wrapping_mul(y))
                .or_else(|| float_arms!(a, b, |x, y| x * y)),
            ArithOp::Mulhi => {
                let t = a.ty();
                let (x, y) = (a.as_i64(), b.as_i64());
                x.zip(y).filter(|_| t.is_int()).map(|(x, y)| {
                    let bits = 8 * t.size_bytes() as u32;
                    // exact in i128 for every type up to 64 bits
                    Scalar::from_i64(((x as i128 * y as i128) >> bits) as i64, t)
                })
            }
            ArithOp::Div | ArithOp::Rem => {
                if b.ty().is_int() && b.as_i64() == Some(0) {
                    return Err(EvalError::DivisionByZero);
                }
                if op == ArithOp::Div {
                    int_arms!(a, b, |x, y| x.wrapping_div(y))
                        .or_else(|| float_arms!(a, b, |x, y| x / y))
                } else {
                    int_arms!(a, b, |x, y| x.wrapping_rem(y))
                        .or_else(|| float_arms!(a, b, |x, y| x % y))
                }
            }
            ArithOp::Min => {
                int_arms!(a, b, |x, y| x.min(y)).or_else(|| float_arms!(a, b, |x, y| fmin(x, y)))
            }
            ArithOp::Max => {
                int_arms!(a, b, |x, y| x.max(y)).or_else(|| float_arms!(a, b, |x, y| fmax(x, y)))
            }
            ArithOp::And => match (a, b) {
                (Scalar::Bool(x), Scalar::Bool(y)) => Some(Scalar::Bool(x && y)),
                _ => None,
            },
            ArithOp::Or => match (a, b) {
                (Scalar::Bool(x), Scalar::Bool(y)) => Some(Scalar::Bool(x || y)),
                _ => None,
            },
            _ => None,
        };
    Ok(r.unwrap_or_else(|| panic!("arith.{} on {a:?}, {b:?} (unverified IR)", op.mnemonic())))
}

/// Evaluates `arith.cmp` with predicate `pred`.
// One macro serves every type; for bools `false < true`, as in Rust.
#[allow(clippy::bool_comparison)]
pub fn eval_cmp(pred: &str, a: Scalar, b: Scalar) -> Scalar {
    let (a, b) = (a.widened(), b.widened());
    Scalar::Bool(match pred {
        "eq" => num_cmp!(a, b, |x, y| x == y),
        "ne" => num_cmp!(a, b, |x, y| x != y),
        "lt" => num_cmp!(a, b, |x, y| x < y),
        "le" => num_cmp!(a, b, |x, y| x <= y),
        "gt" => num_cmp!(a, b, |x, y| x > y),
        "ge" => num_cmp!(a, b, |x, y| x >= y),
        p => panic!("unknown predicate {p} (unverified IR)"),
    })
}

/// Evaluates `arith.fma`: `a * b + c` rounded once.
pub fn eval_fma(a: Scalar, b: Scalar, c: Scalar) -> Scalar {
    if a.ty().is_half() {
        return match eval_fma(a.widened(), b.widened(), c.widened()) {
            Scalar::F32(r) => Scalar::narrow_half(r, a.ty()),
            r => r,
        };
    }
    match (a, b, c) {
        (Scalar::F32(x), Scalar::F32(y), Scalar::F32(z)) => Scalar::F32(x.mul_add(y, z)),
        (Scalar::F64(x), Scalar::F64(y), Scalar::F64(z)) => Scalar::F64(x.mul_add(y, z)),
        _ => panic!("arith.fma on {a:?}, {b:?}, {c:?} (unverified IR)"),
    }
}

/// Evaluates `arith.neg` and `arith.not`.
pub fn eval_unary(op: ArithOp, a: Scalar) -> Scalar {
    if a.ty().is_half() {
        return match eval_unary(op, a.widened()) {
            Scalar::F32(r) => Scalar::narrow_half(r, a.ty()),
            r => r,
        };
    }
    match (op, a) {
        (ArithOp::Not, Scalar::Bool(b)) => Scalar::Bool(!b),
        (ArithOp::Neg, Scalar::F32(v)) => Scalar::F32(-v),
        (ArithOp::Neg, Scalar::F64(v)) => Scalar::F64(-v),
        (ArithOp::Neg, s) if s.ty().is_int() => {
            Scalar::from_i64(s.as_i64().unwrap_or(0).wrapping_neg(), s.ty())
        }
        _ => panic!("arith.{} on {a:?} (unverified IR)", op.mnemonic()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_semantics_wrap_and_truncate() {
        assert_eq!(
            eval_binary(ArithOp::Add, Scalar::U8(250), Scalar::U8(10)),
            Ok(Scalar::U8(4))
        );
        assert_eq!(
            eval_binary(ArithOp::Div, Scalar::I32(-7), Scalar::I32(2)),
            Ok(Scalar::I32(-3))
        );
        assert_eq!(
            eval_binary(ArithOp::Rem, Scalar::I32(-7), Scalar::I32(2)),
            Ok(Scalar::I32(-1))
        );
        assert_eq!(
            eval_binary(ArithOp::Div, Scalar::I32(i32::MIN), Scalar::I32(-1)),
            Ok(Scalar::I32(i32::MIN))
        );
        assert_eq!(
            eval_binary(ArithOp::Rem, Scalar::I8(1), Scalar::I8(0)),
            Err(EvalError::DivisionByZero)
        );
    }

    #[test]
    fn casts_saturate_from_float_and_wrap_between_ints() {
        assert_eq!(Scalar::F32(300.7).cast(ScalarType::U8), Scalar::U8(255));
        assert_eq!(Scalar::F32(-3.9).cast(ScalarType::I32), Scalar::I32(-3));
        assert_eq!(Scalar::F32(f32::NAN).cast(ScalarType::I32), Scalar::I32(0));
        assert_eq!(Scalar::I32(300).cast(ScalarType::U8), Scalar::U8(44));
        assert_eq!(Scalar::I8(-1).cast(ScalarType::U32), Scalar::U32(u32::MAX));
    }

    #[test]
    fn float_min_max_propagate_nan_and_order_zeros() {
        let r = eval_binary(ArithOp::Min, Scalar::F32(1.0), Scalar::F32(f32::NAN)).unwrap();
        assert!(matches!(r, Scalar::F32(v) if v.is_nan()));
        let r = eval_binary(ArithOp::Min, Scalar::F32(0.0), Scalar::F32(-0.0)).unwrap();
        assert!(matches!(r, Scalar::F32(v) if v == 0.0 && v.is_sign_negative()));
        let r = eval_binary(ArithOp::Max, Scalar::F64(-0.0), Scalar::F64(0.0)).unwrap();
        assert!(matches!(r, Scalar::F64(v) if v == 0.0 && v.is_sign_positive()));
    }
}
