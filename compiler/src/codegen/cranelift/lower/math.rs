//! picojoule's elementary functions (`pj_runtime::math`) on `f32x4` and
//! `f64x2`, inline: Cranelift's implementation of the runtime's
//! [`Lanes`], one instruction per operation, so the vector code performs
//! the interpreter's operations in its order and gives its bits. A lane
//! the vector algorithm leaves to a scalar function (`sin` of a huge
//! argument) is computed by calling the runtime's function on each lane and
//! keeping the lanes that need it, behind a branch taken only when some
//! lane does: the call clobbers the vector registers, which the common
//! path never pays for.

use super::FnLower;
use crate::dialects::MathOp;
use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{BlockArg, Endianness, InstBuilder, MemFlagsData, Value, types};
use cranelift_module::Module;
use pj_lang::types::ScalarType;
use pj_runtime::math::lanes::{Elem, Fallback, Lanes, Wide};
use std::collections::HashMap;

/// 128-bit vectors of `f32` or `f64` in the function being built.
struct VectorLanes<'l, 'a, 'b, M: Module> {
    l: &'l mut FnLower<'a, 'b, M>,
    /// `f32x4` or `f64x2`, and the integer vector of the same lanes.
    ft: types::Type,
    it: types::Type,
    /// Constants already materialized, by type and bits (all in the block
    /// the expansion starts in, which dominates the rest of it).
    consts: HashMap<(types::Type, u64), Value>,
}

impl<M: Module> VectorLanes<'_, '_, '_, M> {
    /// Bytes of `a` and `b` (16 and up: `b`'s) picked by `mask`, in the
    /// vectors' own type.
    fn shuffle_bytes(&mut self, a: Value, b: Value, mask: Vec<u8>) -> Value {
        let b_ = &mut self.l.b;
        let t = b_.func.dfg.value_type(a);
        // a bitcast that changes the lane count names its byte order
        let flags = MemFlagsData::new().with_endianness(Endianness::Little);
        let a8 = b_.ins().bitcast(types::I8X16, flags, a);
        let b8 = b_.ins().bitcast(types::I8X16, flags, b);
        let mask = b_
            .func
            .dfg
            .immediates
            .push(cranelift_codegen::ir::ConstantData::from(mask));
        let r = b_.ins().shuffle(a8, b8, mask);
        b_.ins().bitcast(t, flags, r)
    }

    /// A vector of type `t` with every lane's low `width` bits `bits`.
    fn splat_bits(&mut self, t: types::Type, bits: u64, width: u32) -> Value {
        if let Some(&c) = self.consts.get(&(t, bits)) {
            return c;
        }
        let lane = &bits.to_le_bytes()[..width as usize / 8];
        let bytes: Vec<u8> = (0..128 / width)
            .flat_map(|_| lane.iter().copied())
            .collect();
        let b = &mut self.l.b;
        let c = b.func.dfg.constants.insert(bytes.into());
        let c = b.ins().vconst(t, c);
        self.consts.insert((t, bits), c);
        c
    }
}

impl<M: Module> FnLower<'_, '_, M> {
    /// `mo` on `f32x4` or `f64x2` operands inline, when picojoule defines it
    /// over lanes of `elem`; `None` for the ops lowered otherwise.
    pub(super) fn vector_math(
        &mut self,
        mo: MathOp,
        elem: ScalarType,
        args: &[Value],
    ) -> Option<Value> {
        let (ft, it) = match elem {
            ScalarType::F32 => (types::F32X4, types::I32X4),
            _ => (types::F64X2, types::I64X2),
        };
        let mut v = VectorLanes {
            l: self,
            ft,
            it,
            consts: HashMap::new(),
        };
        match elem {
            ScalarType::F32 => crate::dialects::math::on_lanes(&mut v, mo, args),
            _ => crate::dialects::math::on_f64_lanes(&mut v, mo, args),
        }
    }
}

impl<T: Elem, M: Module> Lanes<T> for VectorLanes<'_, '_, '_, M> {
    type F = Value;
    type I = Value;
    type M = Value;

    fn f(&mut self, v: T) -> Value {
        self.splat_bits(self.ft, v.to_bits_u64(), T::BITS)
    }
    fn i(&mut self, v: T::Int) -> Value {
        self.splat_bits(self.it, T::int_to_i64(v) as u64, T::BITS)
    }
    fn add(&mut self, a: Value, b: Value) -> Value {
        self.l.b.ins().fadd(a, b)
    }
    fn sub(&mut self, a: Value, b: Value) -> Value {
        self.l.b.ins().fsub(a, b)
    }
    fn mul(&mut self, a: Value, b: Value) -> Value {
        self.l.b.ins().fmul(a, b)
    }
    fn div(&mut self, a: Value, b: Value) -> Value {
        self.l.b.ins().fdiv(a, b)
    }
    fn lt(&mut self, a: Value, b: Value) -> Value {
        self.l.b.ins().fcmp(FloatCC::LessThan, a, b)
    }
    fn le(&mut self, a: Value, b: Value) -> Value {
        self.l.b.ins().fcmp(FloatCC::LessThanOrEqual, a, b)
    }
    fn eq(&mut self, a: Value, b: Value) -> Value {
        self.l.b.ins().fcmp(FloatCC::Equal, a, b)
    }
    fn and(&mut self, a: Value, b: Value) -> Value {
        self.l.b.ins().band(a, b)
    }
    fn not(&mut self, a: Value) -> Value {
        self.l.b.ins().bnot(a)
    }
    fn select(&mut self, m: Value, a: Value, b: Value) -> Value {
        let ins = self.l.b.ins();
        let mask = ins.bitcast(self.ft, MemFlagsData::new(), m);
        self.l.b.ins().bitselect(mask, a, b)
    }
    fn bits(&mut self, a: Value) -> Value {
        self.l.b.ins().bitcast(self.it, MemFlagsData::new(), a)
    }
    fn float(&mut self, a: Value) -> Value {
        self.l.b.ins().bitcast(self.ft, MemFlagsData::new(), a)
    }
    fn iadd(&mut self, a: Value, b: Value) -> Value {
        self.l.b.ins().iadd(a, b)
    }
    fn isub(&mut self, a: Value, b: Value) -> Value {
        self.l.b.ins().isub(a, b)
    }
    fn iand(&mut self, a: Value, b: Value) -> Value {
        self.l.b.ins().band(a, b)
    }
    fn ior(&mut self, a: Value, b: Value) -> Value {
        self.l.b.ins().bor(a, b)
    }
    fn ixor(&mut self, a: Value, b: Value) -> Value {
        self.l.b.ins().bxor(a, b)
    }
    fn shl(&mut self, a: Value, n: u32) -> Value {
        self.l.b.ins().ishl_imm_u(a, i64::from(n))
    }
    fn sra(&mut self, a: Value, n: u32) -> Value {
        self.l.b.ins().sshr_imm_u(a, i64::from(n))
    }
    fn or(&mut self, a: Value, b: Value) -> Value {
        self.l.b.ins().bor(a, b)
    }
    fn slow_lanes(&mut self, slow: Value, fast: Value, f: Fallback, args: &[Value]) -> Value {
        let l = &mut *self.l;
        let any = l.b.ins().vany_true(slow);
        let slow_block = l.b.create_block();
        let done = l.b.create_block();
        let (ft, lanes) = (self.ft, self.ft.lane_count() as u8);
        let r = l.b.append_block_param(done, ft);
        l.b.ins()
            .brif(any, slow_block, &[], done, &[BlockArg::Value(fast)]);
        l.b.set_cold_block(slow_block);
        l.b.switch_to_block(slow_block);
        let callee = l.rt.math[T::fallback_symbol(f)];
        let mut acc = fast;
        for lane in 0..lanes {
            let lanes: Vec<Value> = args
                .iter()
                .map(|&a| l.b.ins().extractlane(a, lane))
                .collect();
            let y = l
                .call(callee, &lanes)
                .expect("math functions return a value");
            acc = l.b.ins().insertlane(acc, y, lane);
        }
        // only the slow lanes: the others keep the vector algorithm's bits
        // (the same as the call's, but not under another variant of it)
        let mask = l.b.ins().bitcast(ft, MemFlagsData::new(), slow);
        let acc = l.b.ins().bitselect(mask, acc, fast);
        l.b.ins().jump(done, &[BlockArg::Value(acc)]);
        l.b.switch_to_block(done);
        r
    }
}

/// `f32x4` widened to two `f64x2` (`pow`).
impl<M: Module> Wide for VectorLanes<'_, '_, '_, M> {
    type D = Value;
    fn f64_parts(&self) -> usize {
        2
    }
    fn widen(&mut self, a: Value) -> [Value; 2] {
        // lanes 2-3 moved down for the second promotion
        let high = self.shuffle_bytes(a, a, (8..16).chain(8..16).collect());
        let ins = self.l.b.ins();
        let lo = ins.fvpromote_low(a);
        let hi = self.l.b.ins().fvpromote_low(high);
        [lo, hi]
    }
    fn narrow(&mut self, d: [Value; 2]) -> Value {
        let lo = self.l.b.ins().fvdemote(d[0]);
        let hi = self.l.b.ins().fvdemote(d[1]);
        // each demotion fills lanes 0-1: the low halves side by side
        self.shuffle_bytes(lo, hi, (0..8).chain(16..24).collect())
    }
    fn d(&mut self, v: f64) -> Value {
        self.splat_bits(types::F64X2, v.to_bits(), 64)
    }
    fn dadd(&mut self, a: Value, b: Value) -> Value {
        self.l.b.ins().fadd(a, b)
    }
    fn dsub(&mut self, a: Value, b: Value) -> Value {
        self.l.b.ins().fsub(a, b)
    }
    fn dmul(&mut self, a: Value, b: Value) -> Value {
        self.l.b.ins().fmul(a, b)
    }
    fn ddiv(&mut self, a: Value, b: Value) -> Value {
        self.l.b.ins().fdiv(a, b)
    }
}
