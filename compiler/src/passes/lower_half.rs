//! Lowering of the 16-bit float types `f16` and `bf16` to `f32` arithmetic
//! on their bits, so that every later pass and both backends know them
//! only as 16-bit values that are loaded, stored and converted.
//!
//! The language computes with a 16-bit float as the `f32` operation
//! rounded to its type (docs/language.md, "Types"); reductions over them
//! accumulate in `f32` and round once. So: every value of a 16-bit type is
//! held as the `f32` it stands for (its *wide* form) and, where memory
//! needs it, as its bits (its *packed* form, still typed `f16`/`bf16`):
//!
//! - reads, `pj.prior`s and scalar parameters give bits; a
//!   `quant.unpack_f16`/`unpack_bf16` widens them (exactly) where a wide
//!   value is used;
//! - an `arith` or `math` op (or a reduction) computing a 16-bit value
//!   computes in `f32`, and its result is packed (`quant.pack_f16`/
//!   `pack_bf16`: rounded to nearest even) — then unpacked where used wide,
//!   which is what makes the next operation see the rounded value;
//! - a constant becomes the `f32` constant of the same value (exact); a
//!   `select` chooses between wide values and rounds nothing;
//! - a conversion to a 16-bit type becomes the pack itself, one from it a
//!   conversion from the wide value;
//! - a stage's `pj.yield`, an update's value and a recurrence's initial
//!   value take bits (`lower-stages` combines an update in `f32` and
//!   rounds it: each combination rounds, as in the interpreter).
//!
//! Both forms are made lazily, next to the definition, so an op whose
//! result is only stored is packed and never unpacked.
//!
//! When legal: always at the `pj` level (before `lower-stages`, which runs
//! it itself); the interpreter gives the same results before and after,
//! NaN payloads aside (a NaN is packed as the type's quiet NaN with its
//! sign). Idempotent. Cost: linear in the ops, plus at most two
//! conversion ops per 16-bit value.

use super::{Pass, PassError};
use crate::dialects::{ArithOp, FuncOp, Opcode, PjOp, QuantOp};
use crate::ir::{Module, OpId, OpSpec, ScalarType, Type, ValueDef, ValueId};
use std::collections::HashMap;

/// The `lower-half` pass.
pub struct LowerHalf;

impl Pass for LowerHalf {
    fn name(&self) -> &'static str {
        "lower-half"
    }

    fn run(&mut self, m: &mut Module) -> Result<bool, PassError> {
        let mut changed = false;
        for k in m.kernels() {
            if m.op(k).opcode == Opcode::Func(FuncOp::Func) {
                continue;
            }
            changed |= lower_kernel(m, k).map_err(|message| PassError::Failed {
                pass: "lower-half".into(),
                message,
            })?;
        }
        Ok(changed)
    }
}

/// The pack and unpack ops of a 16-bit float type.
pub(crate) fn conversions(t: ScalarType) -> (QuantOp, QuantOp) {
    match t {
        ScalarType::F16 => (QuantOp::PackF16, QuantOp::UnpackF16),
        ScalarType::Bf16 => (QuantOp::PackBf16, QuantOp::UnpackBf16),
        t => unreachable!("{t} is not a 16-bit float"),
    }
}

/// The two forms of every 16-bit value of one kernel met so far.
#[derive(Default)]
struct Forms {
    /// The 16-bit type each value stands for.
    half: HashMap<ValueId, ScalarType>,
    /// Its bits, typed `f16`/`bf16`.
    packed: HashMap<ValueId, ValueId>,
    /// The `f32` it stands for.
    wide: HashMap<ValueId, ValueId>,
}

impl Forms {
    /// The bits of 16-bit value `v`: packed right after its wide form.
    fn packed(&mut self, m: &mut Module, v: ValueId) -> ValueId {
        if let Some(&p) = self.packed.get(&v) {
            return p;
        }
        let w = self.wide[&v];
        let t = self.half[&v];
        let p = convert_after(m, w, conversions(t).0, Type::Scalar(t));
        self.packed.insert(v, p);
        p
    }

    /// The `f32` value of 16-bit value `v`: unpacked right after its bits.
    fn wide(&mut self, m: &mut Module, v: ValueId) -> ValueId {
        if let Some(&w) = self.wide.get(&v) {
            return w;
        }
        let p = self.packed[&v];
        let t = self.half[&v];
        let w = convert_after(m, p, conversions(t).1, Type::Scalar(ScalarType::F32));
        self.wide.insert(v, w);
        w
    }
}

/// A new one-operand op `q` of `x`, placed right after `x`'s definition
/// (first in its block, for a block argument).
fn convert_after(m: &mut Module, x: ValueId, q: QuantOp, to: Type) -> ValueId {
    let op = m.build_op(OpSpec::new(Opcode::Quant(q)).operands([x]).result(to));
    match m.value(x).def {
        ValueDef::OpResult(d, _) => {
            let block = m.op(d).parent.expect("a live op");
            let ops = &m.block(block).ops;
            let next = ops[ops.iter().position(|&o| o == d).expect("in its block") + 1];
            m.insert_before(next, op);
        }
        ValueDef::BlockArg(block, _) => {
            let first = m.block(block).ops[0];
            m.insert_before(first, op);
        }
    }
    m.op_mut(op).loc = m.def_op(x).and_then(|d| m.op(d).loc);
    m.result(op)
}

/// Whether operand `i` of `op` must be a 16-bit value's bits rather than
/// its `f32` value.
fn takes_bits(m: &Module, op: OpId, i: usize) -> bool {
    let d = m.op(op);
    match d.opcode {
        Opcode::Pj(PjOp::Prior) => true,
        Opcode::Quant(QuantOp::UnpackF16 | QuantOp::UnpackBf16) => true,
        // the expansion of an unpack (`lower-quant`)
        Opcode::Arith(ArithOp::Bitcast) => true,
        // what a stage stores, and what an update combines into one
        // (`lower-stages` widens it there)
        Opcode::Pj(PjOp::Yield) => match d.parent.and_then(|b| m.block_owner(b)) {
            Some(o) if m.op(o).opcode == Opcode::Pj(PjOp::Stage) => i == 0,
            Some(o) if m.op(o).opcode == Opcode::Pj(PjOp::Update) => i + 1 == d.operands.len(),
            _ => false,
        },
        _ => false,
    }
}

fn half_scalar(m: &Module, v: ValueId) -> Option<ScalarType> {
    m.ty(v).as_scalar().filter(|t| t.is_half())
}

fn lower_kernel(m: &mut Module, k: OpId) -> Result<bool, String> {
    let body = m.entry_block(k, 0);
    let mut ops = Vec::new();
    m.walk_block(body, &mut |o| ops.push(o));
    let mut forms = Forms::default();
    let args = m.block(body).args.clone();
    for a in args {
        if let Some(t) = half_scalar(m, a) {
            forms.half.insert(a, t);
            forms.packed.insert(a, a);
        }
    }
    let mut changed = false;
    for op in ops {
        let d = m.op(op).clone();
        for (i, &v) in d.operands.iter().enumerate() {
            if !forms.half.contains_key(&v) {
                continue;
            }
            let new = if takes_bits(m, op, i) {
                forms.packed(m, v)
            } else {
                forms.wide(m, v)
            };
            if new != v {
                m.op_mut(op).operands[i] = new;
                changed = true;
            }
        }
        let Some(&r) = d.results.first() else {
            continue;
        };
        let Some(t) = half_scalar(m, r) else {
            continue;
        };
        forms.half.insert(r, t);
        let f32t = Type::Scalar(ScalarType::F32);
        match d.opcode {
            // bits already (a bit cast: the expansion of a pack)
            Opcode::Pj(PjOp::Read | PjOp::Prior)
            | Opcode::Quant(_)
            | Opcode::Arith(ArithOp::Bitcast) => {
                forms.packed.insert(r, r);
            }
            // a value of the type, exactly
            Opcode::Arith(ArithOp::Constant | ArithOp::Select) => {
                m.set_ty(r, f32t);
                forms.wide.insert(r, r);
                changed = true;
            }
            // rounding from f32 (verified: the operand was f32, f16 or
            // bf16, now wide)
            Opcode::Arith(ArithOp::Cast) => {
                m.op_mut(op).opcode = Opcode::Quant(conversions(t).0);
                forms.packed.insert(r, r);
                changed = true;
            }
            // computed in f32, rounded
            _ => {
                m.set_ty(r, f32t);
                forms.wide.insert(r, r);
                let p = forms.packed(m, r);
                forms.packed.insert(r, p);
                // the rounded value, not the f32 result, is the op's value
                forms.wide.remove(&r);
                changed = true;
            }
        }
    }
    // conversions from a 16-bit type now convert its wide value: from f32
    for op in all_casts(m, body) {
        let d = m.op(op);
        let (x, r) = (d.operands[0], d.results[0]);
        if m.ty(x).elem() == ScalarType::F32 && m.ty(r).elem() == ScalarType::F32 {
            m.replace_all_uses(r, x);
            m.erase_op(op);
        }
    }
    Ok(changed)
}

fn all_casts(m: &Module, body: crate::ir::BlockId) -> Vec<OpId> {
    let mut out = Vec::new();
    m.walk_block(body, &mut |o| {
        if m.op(o).opcode == Opcode::Arith(ArithOp::Cast) {
            out.push(o)
        }
    });
    out
}
