//! 16-bit float storage of `f32` stages (`--quantize=bf16` or `f16`, or
//! `auto`): a stage stored to memory keeps computing in `f32` but stores
//! each element as bfloat16 or binary16 bits in a `u16`
//! (`quant.pack_bf16`/`pack_f16`, rounding to nearest even), and each read
//! widens them back (`quant.unpack_bf16`/`unpack_f16`, exact) — half the
//! bytes written and read for that stage, at a relative error of at most
//! 2^-8 (bf16) or 2^-11 (f16, below its 65520 overflow, which the ranges
//! must exclude) per stored value, which the error analysis carries to the
//! results. Worth it only where the stage travels to memory:
//! [`stored_whole`] asks the scheduler which do.

use crate::dialects::{Opcode, PjOp, QuantOp};
use crate::ir::{Module, OpId, OpSpec, ScalarType, Type, ValueId};
use std::collections::HashSet;

/// The names of kernel `k`'s `f32` stages that are not results and that
/// the host's schedule stores whole (group roots: not fused into a
/// reader, not inlined), as the default pipeline would schedule them.
pub fn stored_whole(m: &Module, k: OpId) -> HashSet<String> {
    let mut scheduled = m.clone();
    let mut pipeline = crate::passes::PassManager::parse(
        "split-epilogue,inline-pointwise,canonicalize,cse,dce,schedule",
    )
    .expect("registered passes");
    if pipeline.run(&mut scheduled).is_err() {
        return HashSet::new();
    }
    let Some(k2) = scheduled.kernel(&crate::dialects::signature(m, k).name) else {
        return HashSet::new();
    };
    let body = scheduled.entry_block(k2, 0);
    scheduled
        .block(body)
        .ops
        .iter()
        .filter(|&&s| {
            let d = scheduled.op(s);
            d.opcode == Opcode::Pj(PjOp::Stage)
                && d.attr("result").is_none()
                && d.attr(crate::passes::schedule::COMPUTE_AT).is_none()
                && scheduled.ty(scheduled.result(s)).elem() == ScalarType::F32
        })
        .map(|&s| crate::passes::schedule::stage_name(&scheduled, s))
        .collect()
}

/// A 16-bit storage format of `f32` stages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// bfloat16: `f32`'s range, 8 significant bits.
    Bf16,
    /// IEEE binary16: to 65504, 11 significant bits.
    F16,
}

impl Format {
    /// As `--quantize` names it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Bf16 => "bf16",
            Format::F16 => "f16",
        }
    }

    /// Its pack and unpack ops.
    fn ops(self) -> (QuantOp, QuantOp) {
        match self {
            Format::Bf16 => (QuantOp::PackBf16, QuantOp::UnpackBf16),
            Format::F16 => (QuantOp::PackF16, QuantOp::UnpackF16),
        }
    }
}

/// Stores `f32` stage `s` as 16-bit float bits: its yield packed, every
/// read of it unpacked. Refused (the module unchanged) where the stage is
/// used otherwise than read.
pub fn store_as(m: &mut Module, k: OpId, s: OpId, format: Format) -> Result<(), String> {
    let (pack, unpack) = format.ops();
    let t = m.result(s);
    let mut reads = Vec::new();
    let body = m.entry_block(k, 0);
    let mut other = false;
    m.walk_block(body, &mut |op| {
        let d = m.op(op);
        if d.operands.contains(&t) {
            if d.opcode == Opcode::Pj(PjOp::Read)
                && d.operands[0] == t
                && !d.operands[1..].contains(&t)
            {
                reads.push(op);
            } else {
                other = true;
            }
        }
    });
    if other {
        return Err("it is used otherwise than read (updated or returned)".into());
    }
    let u16t = Type::Scalar(ScalarType::U16);
    // the stored value, packed before its yield
    let block = m.entry_block(s, 0);
    let yield_op = *m.block(block).ops.last().expect("a stage ends in pj.yield");
    let v = m.op(yield_op).operands[0];
    let packed = emit_before(
        m,
        yield_op,
        OpSpec::new(Opcode::Quant(pack))
            .operands([v])
            .result(u16t.clone()),
    );
    m.op_mut(yield_op).operands[0] = packed;
    if let Type::Tensor { dims, .. } = m.ty(t).clone() {
        m.set_ty(
            t,
            Type::Tensor {
                elem: ScalarType::U16,
                dims,
            },
        );
    }
    // each read: the bits, unpacked
    for r in reads {
        let d = m.op(r).clone();
        let mut spec = OpSpec::new(d.opcode)
            .operands(d.operands.clone())
            .result(u16t.clone())
            .loc(d.loc);
        spec.attrs = d.attrs.clone();
        let bits = emit_before(m, r, spec);
        let value = emit_before(
            m,
            r,
            OpSpec::new(Opcode::Quant(unpack))
                .operands([bits])
                .result(Type::Scalar(ScalarType::F32))
                .loc(d.loc),
        );
        m.replace_all_uses(d.results[0], value);
        m.erase_op(r);
    }
    Ok(())
}

fn emit_before(m: &mut Module, at: OpId, spec: OpSpec) -> ValueId {
    let o = m.build_op(spec);
    m.insert_before(at, o);
    m.result(o)
}
