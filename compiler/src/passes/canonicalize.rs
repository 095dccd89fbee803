//! Canonicalization: constant folding and algebraic identities, repeated
//! until nothing changes.
//!
//! - Folds every `arith`/`math` op whose operands are all constants, with the
//!   same semantics the interpreter uses (`dialects::arith`). Integer
//!   division by a constant zero is left alone so the error surfaces at run
//!   time like any other.
//! - Moves constants to the right of commutative ops, so CSE sees
//!   `x + 1` and `1 + x` as one thing.
//! - Applies only identities that are exact in IEEE arithmetic for floats:
//!   `x * 1`, `x / 1`, `x - 0.0`, `x + (-0.0)`, `--x`, `select(c, a, a)`,
//!   `min(x, x)`, and `x / c` into `x * (1 / c)` for a power of two `c`
//!   whose reciprocal is normal (the same real number, so the same
//!   rounding). `x + 0.0` is *not* `x` (it turns -0.0 into +0.0), and
//!   `x * 0.0` is not `0.0` (NaN, infinities, signs), so neither is applied
//!   to floats; integers get `x + 0`, `x * 0`, `x - x` and friends.
//!
//! - Hoists every constant to the top of its kernel and merges equal ones,
//!   as MLIR does: a constant inside a stage region would otherwise be
//!   rebuilt for every element, and duplicates hide common subexpressions.
//!
//! Legal always. Cost: O(ops) per round; rounds are bounded.

use super::{Pass, PassError};
use crate::dialects::arith::{self, Scalar};
use crate::dialects::{ArithOp, LoopOp, MathOp, Opcode, math};
use crate::ir::{Attr, Module, OpId, OpSpec, Type, ValueId};
use std::collections::HashMap;

/// The `canonicalize` pass.
pub struct Canonicalize;

const MAX_ROUNDS: usize = 16;

impl Pass for Canonicalize {
    fn name(&self) -> &'static str {
        "canonicalize"
    }

    fn run(&mut self, m: &mut Module) -> Result<bool, PassError> {
        let mut changed = false;
        for _ in 0..MAX_ROUNDS {
            let mut round = false;
            // replaced values, applied to each op's operands as the walk
            // reaches it (definitions come before uses) and to every op at
            // the end of the round: one walk, not one per replacement
            let mut remap = Remap::default();
            for op in m.all_ops() {
                if m.op(op).parent.is_none() {
                    continue; // erased earlier in this round
                }
                remap.apply(m, op);
                round |= rewrite(m, &mut remap, op);
            }
            remap.apply_all(m);
            round |= hoist_constants(m);
            changed |= round;
            if !round {
                break;
            }
        }
        Ok(changed)
    }
}

/// Values replaced by others during a round of rewrites.
#[derive(Default)]
struct Remap(HashMap<ValueId, ValueId>);

impl Remap {
    /// What `v` stands for now (following chains of replacements).
    fn resolve(&self, mut v: ValueId) -> ValueId {
        while let Some(&n) = self.0.get(&v) {
            v = n;
        }
        v
    }

    /// Points `op`'s operands at what they stand for now.
    fn apply(&self, m: &mut Module, op: OpId) {
        if self.0.is_empty() {
            return;
        }
        for i in 0..m.op(op).operands.len() {
            let v = m.op(op).operands[i];
            let n = self.resolve(v);
            if n != v {
                m.op_mut(op).operands[i] = n;
            }
        }
    }

    /// [`Remap::apply`] to every op.
    fn apply_all(&self, m: &mut Module) {
        if self.0.is_empty() {
            return;
        }
        for op in m.all_ops() {
            self.apply(m, op);
        }
    }
}

/// Moves all constants of each kernel, in order of first appearance, to the
/// top of the kernel block, keeping one op per distinct (value, type).
fn hoist_constants(m: &mut Module) -> bool {
    let mut changed = false;
    for kernel in m.kernels() {
        let body = m.entry_block(kernel, 0);
        let before = m.block(body).ops.clone();
        let mut constants = Vec::new();
        m.walk_block(body, &mut |op| {
            if m.op(op).opcode == Opcode::Arith(ArithOp::Constant) {
                constants.push(op);
            }
        });
        let mut kept: Vec<OpId> = Vec::new();
        let mut by_value: HashMap<(String, Type), ValueId> = HashMap::new();
        let mut remap = Remap::default();
        for op in constants {
            let v = m.result(op);
            let key = (format!("{:?}", m.op(op).attr("value")), m.ty(v).clone());
            match by_value.get(&key) {
                Some(&first) => {
                    remap.0.insert(v, first);
                    m.erase_op(op);
                    changed = true;
                }
                None => {
                    by_value.insert(key, v);
                    m.erase_op(op);
                    kept.push(op);
                }
            }
        }
        remap.apply_all(m);
        let rest: Vec<OpId> = m.block(body).ops.clone();
        for &op in kept.iter().rev() {
            m.prepend_op(body, op);
        }
        debug_assert_eq!(m.block(body).ops.len(), kept.len() + rest.len());
        changed |= m.block(body).ops != before;
    }
    changed
}

/// The constant value of `v`, if it is defined by `arith.constant`.
pub fn constant_value(m: &Module, v: ValueId) -> Option<Scalar> {
    let op = m.def_op(v)?;
    let d = m.op(op);
    if d.opcode != Opcode::Arith(ArithOp::Constant) {
        return None;
    }
    Scalar::from_attr(d.attr("value")?, m.ty(v).as_scalar()?)
}

fn replace(m: &mut Module, remap: &mut Remap, op: OpId, with: ValueId) -> bool {
    let old = m.result(op);
    remap.0.insert(old, with);
    m.erase_op(op);
    true
}

fn replace_with_constant(m: &mut Module, remap: &mut Remap, op: OpId, value: Scalar) -> bool {
    let loc = m.op(op).loc;
    let c = m.build_op(
        OpSpec::new(Opcode::Arith(ArithOp::Constant))
            .attr("value", value.to_attr())
            .result(crate::ir::Type::Scalar(value.ty()))
            .loc(loc),
    );
    m.insert_before(op, c);
    let v = m.result(c);
    // keep a user-given name (`let k = ...`) on the folded value
    if let Some(name) = m.value(m.result(op)).name.clone() {
        m.set_value_name(v, name);
    }
    replace(m, remap, op, v)
}

fn is_int_const(c: Option<Scalar>, k: i64) -> bool {
    c.is_some_and(|s| s.ty().is_int() && s.as_i64() == Some(k))
}

fn is_one(c: Option<Scalar>) -> bool {
    match c {
        Some(Scalar::F32(v)) => v == 1.0,
        Some(Scalar::F64(v)) => v == 1.0,
        c => is_int_const(c, 1),
    }
}

fn is_float_zero(c: Option<Scalar>, negative: bool) -> bool {
    match c {
        Some(Scalar::F32(v)) => v == 0.0 && v.is_sign_negative() == negative,
        Some(Scalar::F64(v)) => v == 0.0 && v.is_sign_negative() == negative,
        _ => false,
    }
}

/// Whether `v`, what `opcode` computes from the constants `args`, is the
/// exact real result: a float operation is folded only then (`1.0 + 2.0`,
/// not `1.0 / 3.0` or `exp(1.0)`), so that every constant of a kernel is
/// a value its source states, never a rounded intermediate — what the
/// error analysis (`quant::error`) takes constants to be. The rounded
/// ones are computed at run time, with the same bits, once per use (`licm`
/// takes them out of loops).
fn exact_fold(opcode: Opcode, args: &[Scalar], v: Scalar) -> bool {
    let wide = |s: Scalar| s.as_f64();
    let exact_f64 = |want: f64| -> bool {
        match v {
            Scalar::F32(x) => f64::from(x) == want || (x.is_nan() && want.is_nan()),
            Scalar::F64(x) => x == want || (x.is_nan() && want.is_nan()),
            _ => true,
        }
    };
    if !v.ty().is_float() {
        return true;
    }
    let f32_operands = args.iter().all(|a| matches!(a, Scalar::F32(_)));
    match opcode {
        Opcode::Arith(a) => match (a, args) {
            (ArithOp::Min | ArithOp::Max | ArithOp::Neg | ArithOp::Select | ArithOp::Rem, _) => {
                true
            }
            // f32 sums and products are exact in f64
            (ArithOp::Add, [x, y]) if f32_operands => exact_f64(wide(*x) + wide(*y)),
            (ArithOp::Sub, [x, y]) if f32_operands => exact_f64(wide(*x) - wide(*y)),
            (ArithOp::Mul, [x, y]) if f32_operands => exact_f64(wide(*x) * wide(*y)),
            (ArithOp::Fma, [x, y, z]) if f32_operands => {
                exact_f64(wide(*x).mul_add(wide(*y), wide(*z)))
            }
            // f64: the rounding error is itself a float (error-free transformations)
            (ArithOp::Add | ArithOp::Sub, [Scalar::F64(x), Scalar::F64(y)]) => {
                let (x, y) = (*x, if a == ArithOp::Sub { -*y } else { *y });
                let s = x + y;
                let yy = s - x;
                s.is_finite() && (x - (s - yy)) + (y - yy) == 0.0
            }
            (ArithOp::Mul, [Scalar::F64(x), Scalar::F64(y)]) => {
                let p = x * y;
                p.is_finite() && x.mul_add(*y, -p) == 0.0
            }
            (ArithOp::Div, [x, y]) => {
                let q = wide(v);
                q.is_finite() && wide(*y) != 0.0 && q.mul_add(wide(*y), -wide(*x)) == 0.0
            }
            // a conversion that keeps the value
            (ArithOp::Cast, [x]) => {
                let w = match x {
                    Scalar::F32(_) | Scalar::F64(_) => wide(*x),
                    s => s.as_i64().map_or(f64::NAN, |i| i as f64),
                };
                let back_exact = match x {
                    Scalar::F32(_) | Scalar::F64(_) => true,
                    s => s
                        .as_i64()
                        .is_some_and(|i| (w as i64) == i && w.abs() < 9.0e15),
                };
                back_exact && exact_f64(w)
            }
            _ => false,
        },
        Opcode::Math(mo) => match mo {
            MathOp::Abs | MathOp::Floor | MathOp::Ceil => true,
            MathOp::Sqrt => {
                let q = wide(v);
                q.is_finite() && q.mul_add(q, -wide(args[0])) == 0.0
            }
            _ => false,
        },
        _ => false,
    }
}

fn rewrite(m: &mut Module, remap: &mut Remap, op: OpId) -> bool {
    let d = m.op(op);
    let opcode = d.opcode;
    let operands = d.operands.clone();
    if !matches!(
        opcode,
        Opcode::Arith(_) | Opcode::Math(_) | Opcode::Quant(_)
    ) || opcode == Opcode::Arith(ArithOp::Constant)
    {
        return false;
    }
    let consts: Vec<Option<Scalar>> = operands.iter().map(|&v| constant_value(m, v)).collect();
    let result_ty = d.results.first().and_then(|&r| m.ty(r).as_scalar());
    // 1. constant folding
    if consts.iter().all(Option::is_some) {
        let args: Vec<Scalar> = consts.iter().map(|c| c.expect("checked")).collect();
        let folded = match opcode {
            Opcode::Arith(a) => match a {
                ArithOp::Add
                | ArithOp::Sub
                | ArithOp::Mul
                | ArithOp::Div
                | ArithOp::Rem
                | ArithOp::Min
                | ArithOp::Max
                | ArithOp::Mulhi
                | ArithOp::And
                | ArithOp::Or => arith::eval_binary(a, args[0], args[1]).ok(),
                ArithOp::Neg | ArithOp::Not => Some(arith::eval_unary(a, args[0])),
                ArithOp::Fma => Some(arith::eval_fma(args[0], args[1], args[2])),
                ArithOp::Cmp => d
                    .attr("pred")
                    .and_then(Attr::as_str)
                    .map(|p| arith::eval_cmp(p, args[0], args[1])),
                ArithOp::Select => Some(if args[0].as_bool() == Some(true) {
                    args[1]
                } else {
                    args[2]
                }),
                ArithOp::Cast => result_ty.map(|t| args[0].cast(t)),
                ArithOp::Shr => arith::shift_amount(m, op).map(|k| arith::eval_shr(args[0], k)),
                ArithOp::Shl => arith::shift_amount(m, op).map(|k| arith::eval_shl(args[0], k)),
                ArithOp::Bitcast => result_ty.map(|t| arith::eval_bitcast(args[0], t)),
                ArithOp::Constant => None,
            },
            Opcode::Math(mo) => Some(math::eval(mo, &args, math::is_fused(m, op))),
            Opcode::Quant(q) => result_ty.map(|t| {
                crate::dialects::quant::eval_op(
                    q,
                    crate::dialects::quant::Params::of(m, op),
                    &args,
                    t,
                )
            }),
            Opcode::Pj(_)
            | Opcode::Func(_)
            | Opcode::Loop(_)
            | Opcode::Mem(_)
            | Opcode::Vector(_) => None,
        };
        if let Some(v) = folded.filter(|&v| exact_fold(opcode, &args, v)) {
            return replace_with_constant(m, remap, op, v);
        }
        return false;
    }
    let Opcode::Arith(a) = opcode else {
        return false;
    };
    if result_ty.is_none() {
        return false; // vector arithmetic: no identities yet
    }
    let is_float = result_ty.is_some_and(|t| t.is_float());
    // a comparison's result is `bool`: whether NaN can occur is its operands'
    // type (x == x is false for NaN)
    let operands_float = m.ty(operands[0]).elem().is_float();
    // 2. constants to the right of commutative ops
    let commutative = matches!(
        a,
        ArithOp::Add | ArithOp::Mul | ArithOp::Min | ArithOp::Max | ArithOp::And | ArithOp::Or
    );
    if commutative && consts[0].is_some() && consts[1].is_none() {
        m.op_mut(op).operands.swap(0, 1);
        return true;
    }
    // 3. identities
    let (x, c1) = (operands[0], consts.get(1).copied().flatten());
    match a {
        ArithOp::Add if is_int_const(c1, 0) || is_float_zero(c1, true) => replace(m, remap, op, x),
        ArithOp::Sub if is_int_const(c1, 0) || is_float_zero(c1, false) => replace(m, remap, op, x),
        ArithOp::Sub if !is_float && operands[0] == operands[1] => {
            replace_with_constant(m, remap, op, Scalar::zero(result_ty.expect("typed")))
        }
        ArithOp::Mul | ArithOp::Div if is_one(c1) => replace(m, remap, op, x),
        ArithOp::Div if is_float && let Some(r) = c1.and_then(exact_reciprocal) => {
            // x / 2^k is x * 2^-k exactly: the same real number, rounded once
            let ty = m.ty(operands[1]).clone();
            let c = m.build_op(
                OpSpec::new(Opcode::Arith(ArithOp::Constant))
                    .attr("value", r.to_attr())
                    .result(ty),
            );
            m.insert_before(op, c);
            let cv = m.result(c);
            let o = m.op_mut(op);
            o.opcode = Opcode::Arith(ArithOp::Mul);
            o.operands[1] = cv;
            true
        }
        ArithOp::Mul if is_int_const(c1, 0) => {
            replace_with_constant(m, remap, op, c1.expect("checked"))
        }
        ArithOp::Min | ArithOp::Max if operands[0] == operands[1] => replace(m, remap, op, x),
        ArithOp::And if c1 == Some(Scalar::Bool(true)) => replace(m, remap, op, x),
        ArithOp::Or if c1 == Some(Scalar::Bool(false)) => replace(m, remap, op, x),
        ArithOp::And if c1 == Some(Scalar::Bool(false)) => {
            replace_with_constant(m, remap, op, Scalar::Bool(false))
        }
        ArithOp::Or if c1 == Some(Scalar::Bool(true)) => {
            replace_with_constant(m, remap, op, Scalar::Bool(true))
        }
        ArithOp::Select if operands[1] == operands[2] => replace(m, remap, op, operands[1]),
        ArithOp::Select if consts[0].is_some() => {
            let pick = if consts[0].and_then(Scalar::as_bool) == Some(true) {
                operands[1]
            } else {
                operands[2]
            };
            replace(m, remap, op, pick)
        }
        ArithOp::Cast if m.ty(x).as_scalar() == result_ty => replace(m, remap, op, x),
        ArithOp::Neg | ArithOp::Not => {
            // --x and !!x
            match m.def_op(x) {
                Some(inner) if m.op(inner).opcode == Opcode::Arith(a) => {
                    let y = m.op(inner).operands[0];
                    replace(m, remap, op, y)
                }
                _ => false,
            }
        }
        ArithOp::Cmp if !operands_float && operands[0] == operands[1] => {
            let p = d_pred(m, op);
            let v = matches!(p.as_deref(), Some("eq" | "le" | "ge"));
            replace_with_constant(m, remap, op, Scalar::Bool(v))
        }
        ArithOp::Cmp
            if let (Some(lb), Some(Scalar::I64(c))) = (induction_start(m, x), c1)
                && let Some(v) = d_pred(m, op).and_then(|p| compare_from(&p, lb, c)) =>
        {
            replace_with_constant(m, remap, op, Scalar::Bool(v))
        }
        _ => false,
    }
}

/// The constant first value of `v` when it is a loop's induction variable:
/// inside the body it is at least that (a recurrence's steady loop starts
/// after its first elements, where `i == 0` is false).
fn induction_start(m: &Module, v: ValueId) -> Option<i64> {
    let crate::ir::ValueDef::BlockArg(block, 0) = m.value(v).def else {
        return None;
    };
    let owner = m.op(m.block_owner(block)?);
    if !matches!(owner.opcode, Opcode::Loop(LoopOp::For | LoopOp::Parallel)) {
        return None;
    }
    match constant_value(m, owner.operands[0])? {
        Scalar::I64(lb) => Some(lb),
        _ => None,
    }
}

/// `iv pred c` for every `iv >= lb`, when that is one answer.
fn compare_from(pred: &str, lb: i64, c: i64) -> Option<bool> {
    match pred {
        "eq" if c < lb => Some(false),
        "ne" if c < lb => Some(true),
        "lt" if c <= lb => Some(false),
        "le" if c < lb => Some(false),
        "gt" if c < lb => Some(true),
        "ge" if c <= lb => Some(true),
        _ => None,
    }
}

/// `1 / c` when `c` is a power of two whose reciprocal is a normal number
/// of the same type: then `x / c` and `x * (1 / c)` are the same real
/// number for every `x`, so they round to the same result (NaN, infinities
/// and signed zeros included). Multiplication is several times cheaper.
fn exact_reciprocal(c: Scalar) -> Option<Scalar> {
    match c {
        Scalar::F32(v) => {
            let (bits, exp) = (v.to_bits(), (v.to_bits() >> 23) & 0xff);
            (bits & 0x7f_ffff == 0 && (1..=253).contains(&exp)).then(|| Scalar::F32(1.0 / v))
        }
        Scalar::F64(v) => {
            let (bits, exp) = (v.to_bits(), (v.to_bits() >> 52) & 0x7ff);
            (bits & 0xf_ffff_ffff_ffff == 0 && (1..=2045).contains(&exp))
                .then(|| Scalar::F64(1.0 / v))
        }
        _ => None,
    }
}

fn d_pred(m: &Module, op: OpId) -> Option<String> {
    m.op(op)
        .attr("pred")
        .and_then(Attr::as_str)
        .map(str::to_string)
}
