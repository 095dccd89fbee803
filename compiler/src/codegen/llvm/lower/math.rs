//! picojoule's elementary functions (`pj_runtime::math`) on vectors of
//! `f32` and `f64`, inline: LLVM's implementation of the runtime's
//! [`Lanes`](pj_runtime::math::lanes::Lanes), one instruction per
//! operation and no fast-math flags, so the vector code performs the
//! interpreter's operations in its order and gives its bits at any vector
//! width. A lane the vector algorithm leaves to a scalar function (`sin`
//! of a huge argument) is computed by calling the runtime's function on
//! each lane and keeping the lanes that need it, in a block entered only
//! when some lane does.

use super::super::emit::{FloatPred, T, V};
use super::FnLower;
use crate::dialects::MathOp;
use pj_lang::types::ScalarType;
use pj_runtime::math::lanes::{Elem, Fallback, Lanes, Wide};

/// Vectors of `lanes` `f32`s or `f64`s in the function being built.
struct VectorLanes<'l, 'a> {
    l: &'l FnLower<'a>,
    lanes: u32,
    /// `<lanes x float|double>`, `<lanes x i32|i64>`
    ft: T,
    it: T,
}

impl FnLower<'_> {
    /// `mo` on vectors of `elem` inline, when picojoule defines it over
    /// lanes of `elem`; `None` for the ops lowered otherwise.
    pub(super) fn vector_math(&self, mo: MathOp, elem: ScalarType, args: &[V]) -> Option<V> {
        let e = self.e;
        let ft = e.type_of(args[0]);
        let lanes = e.lanes_of(ft)?;
        let int = if elem == ScalarType::F32 {
            e.i32()
        } else {
            e.i64()
        };
        let mut v = VectorLanes {
            l: self,
            lanes,
            ft,
            it: e.vec_ty(int, lanes),
        };
        match elem {
            ScalarType::F32 => crate::dialects::math::on_lanes(&mut v, mo, args),
            _ => crate::dialects::math::on_f64_lanes(&mut v, mo, args),
        }
    }
}

impl<E: Elem> Lanes<E> for VectorLanes<'_, '_> {
    type F = V;
    type I = V;
    type M = V;

    fn f(&mut self, v: E) -> V {
        let e = self.l.e;
        e.bitcast(e.int(self.it, v.to_bits_u64() as i64), self.ft)
    }
    fn i(&mut self, v: E::Int) -> V {
        self.l.e.int(self.it, E::int_to_i64(v))
    }
    fn add(&mut self, a: V, b: V) -> V {
        self.l.e.fadd(a, b)
    }
    fn sub(&mut self, a: V, b: V) -> V {
        self.l.e.fsub(a, b)
    }
    fn mul(&mut self, a: V, b: V) -> V {
        self.l.e.fmul(a, b)
    }
    fn div(&mut self, a: V, b: V) -> V {
        self.l.e.fdiv(a, b)
    }
    fn lt(&mut self, a: V, b: V) -> V {
        self.l.e.fcmp(FloatPred::LLVMRealOLT, a, b)
    }
    fn le(&mut self, a: V, b: V) -> V {
        self.l.e.fcmp(FloatPred::LLVMRealOLE, a, b)
    }
    fn eq(&mut self, a: V, b: V) -> V {
        self.l.e.fcmp(FloatPred::LLVMRealOEQ, a, b)
    }
    fn and(&mut self, a: V, b: V) -> V {
        self.l.e.and(a, b)
    }
    fn not(&mut self, a: V) -> V {
        let e = self.l.e;
        let ones = e.int(e.vec_ty(e.i1(), self.lanes), 1);
        e.xor(a, ones)
    }
    fn select(&mut self, m: V, a: V, b: V) -> V {
        self.l.e.select(m, a, b)
    }
    fn bits(&mut self, a: V) -> V {
        self.l.e.bitcast(a, self.it)
    }
    fn float(&mut self, a: V) -> V {
        self.l.e.bitcast(a, self.ft)
    }
    fn iadd(&mut self, a: V, b: V) -> V {
        self.l.e.add(a, b)
    }
    fn isub(&mut self, a: V, b: V) -> V {
        self.l.e.sub(a, b)
    }
    fn iand(&mut self, a: V, b: V) -> V {
        self.l.e.and(a, b)
    }
    fn ior(&mut self, a: V, b: V) -> V {
        self.l.e.or(a, b)
    }
    fn ixor(&mut self, a: V, b: V) -> V {
        self.l.e.xor(a, b)
    }
    fn shl(&mut self, a: V, n: u32) -> V {
        let e = self.l.e;
        e.shl(a, e.int(self.it, i64::from(n)))
    }
    fn sra(&mut self, a: V, n: u32) -> V {
        let e = self.l.e;
        e.ashr(a, e.int(self.it, i64::from(n)))
    }
    fn or(&mut self, a: V, b: V) -> V {
        self.l.e.or(a, b)
    }
    fn slow_lanes(&mut self, slow: V, fast: V, f: Fallback, args: &[V]) -> V {
        let l = self.l;
        let e = l.e;
        let mask_ty = e.type_of(slow);
        let any = e.intrinsic("llvm.vector.reduce.or", &[mask_ty], &[slow]);
        let from_fast = e.current();
        let slow_block = e.block(l.f, "math.slow");
        let done = e.block(l.f, "math.done");
        e.cond_br(any, slow_block, done);
        e.at_end(slow_block);
        let (callee, ty) = l.s.rt.get(E::fallback_symbol(f));
        let mut acc = fast;
        for lane in 0..self.lanes {
            let lanes: Vec<V> = args.iter().map(|&a| e.extract(a, lane)).collect();
            let y = e.call(ty, callee, &lanes);
            acc = e.insert(acc, y, lane);
        }
        // only the slow lanes: the others keep the vector algorithm's bits
        let acc = e.select(slow, acc, fast);
        e.br(done);
        e.at_end(done);
        let r = e.phi(self.ft);
        e.incoming(r, fast, from_fast);
        e.incoming(r, acc, slow_block);
        r
    }
}

/// `f32` lanes widened to `f64` lanes of the same count (`pow`).
impl Wide for VectorLanes<'_, '_> {
    type D = V;
    fn f64_parts(&self) -> usize {
        1
    }
    fn widen(&mut self, a: V) -> [V; 2] {
        let e = self.l.e;
        let w = e.fpext(a, e.vec_ty(e.f64(), self.lanes));
        [w, w]
    }
    fn narrow(&mut self, d: [V; 2]) -> V {
        self.l.e.fptrunc(d[0], self.ft)
    }
    fn d(&mut self, v: f64) -> V {
        let e = self.l.e;
        let bits = e.int(e.vec_ty(e.i64(), self.lanes), v.to_bits() as i64);
        e.bitcast(bits, e.vec_ty(e.f64(), self.lanes))
    }
    fn dadd(&mut self, a: V, b: V) -> V {
        self.l.e.fadd(a, b)
    }
    fn dsub(&mut self, a: V, b: V) -> V {
        self.l.e.fsub(a, b)
    }
    fn dmul(&mut self, a: V, b: V) -> V {
        self.l.e.fmul(a, b)
    }
    fn ddiv(&mut self, a: V, b: V) -> V {
        self.l.e.fdiv(a, b)
    }
}
