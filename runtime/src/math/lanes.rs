//! The operations picojoule's `f32` elementary functions are written in,
//! so that one definition serves every place that computes them: the
//! runtime's scalar functions (which the interpreter calls, so they define
//! the bits) and the vector code each backend emits inline.
//!
//! Lanes are `f32`, with `f64` lanes for the one algorithm that needs the
//! extra precision (`pow`). Every operation is one IEEE operation, rounded
//! once to nearest even —
//! no fused multiply-adds, no approximate reciprocals — or an exact
//! operation on a float's bits, so any correct implementation of
//! [`Lanes`] computes the same bits. Algorithms are branch-free: both sides
//! of a choice are computed and [`Lanes::select`] picks per lane. The one
//! exception is [`Lanes::slow_lanes`], for inputs (huge arguments of `sin`)
//! that the vector algorithm does not cover and a scalar function does.

/// The scalar function that computes lanes a vector algorithm leaves to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// `sin` on `f32`.
    Sin,
    /// `cos` on `f32`.
    Cos,
    /// `tan` on `f32`.
    Tan,
    /// `pow` on `f32`.
    Pow,
}

impl Fallback {
    /// The runtime symbol computing the whole function on one `f32` (two
    /// for `pow`) — for a slow lane, exactly [`Fallback::eval`].
    pub fn symbol(self) -> &'static str {
        match self {
            Fallback::Sin => "pj_rt_sinf",
            Fallback::Cos => "pj_rt_cosf",
            Fallback::Tan => "pj_rt_tanf",
            Fallback::Pow => "pj_rt_powf",
        }
    }

    /// The function on a lane the vector algorithm does not cover (`args`:
    /// its operands): musl's `sin`, `cos`, `tan` (the `libm` crate), with
    /// their full-range reduction; `pow` with every special case
    /// ([`super::pow::pow_everywhere`]).
    pub fn eval(self, args: &[f32]) -> f32 {
        match self {
            Fallback::Sin => libm::sinf(args[0]),
            Fallback::Cos => libm::cosf(args[0]),
            Fallback::Tan => libm::tanf(args[0]),
            Fallback::Pow => super::pow::pow_everywhere(&mut Scalar, args[0], args[1]),
        }
    }
}

/// A machine for `f32` lanes: floats `F`, their bits as 32-bit integers
/// `I`, and per-lane truths `M`.
pub trait Lanes {
    /// `f32` lanes.
    type F: Copy;
    /// `i32` lanes.
    type I: Copy;
    /// Per-lane truth values.
    type M: Copy;

    /// `v` in every lane.
    fn f(&mut self, v: f32) -> Self::F;
    /// `v` in every lane.
    fn i(&mut self, v: i32) -> Self::I;
    /// `a + b`
    fn add(&mut self, a: Self::F, b: Self::F) -> Self::F;
    /// `a - b`
    fn sub(&mut self, a: Self::F, b: Self::F) -> Self::F;
    /// `a * b`
    fn mul(&mut self, a: Self::F, b: Self::F) -> Self::F;
    /// `a / b`
    fn div(&mut self, a: Self::F, b: Self::F) -> Self::F;
    /// `a < b` (false if either is NaN).
    fn lt(&mut self, a: Self::F, b: Self::F) -> Self::M;
    /// `a <= b` (false if either is NaN).
    fn le(&mut self, a: Self::F, b: Self::F) -> Self::M;
    /// `a == b` (false if either is NaN).
    fn eq(&mut self, a: Self::F, b: Self::F) -> Self::M;
    /// `a && b`
    fn and(&mut self, a: Self::M, b: Self::M) -> Self::M;
    /// `!a`
    fn not(&mut self, a: Self::M) -> Self::M;
    /// `if m { a } else { b }`, per lane.
    fn select(&mut self, m: Self::M, a: Self::F, b: Self::F) -> Self::F;
    /// The bits of `a`.
    fn bits(&mut self, a: Self::F) -> Self::I;
    /// The float with bits `a`.
    fn float(&mut self, a: Self::I) -> Self::F;
    /// `a + b`, wrapping.
    fn iadd(&mut self, a: Self::I, b: Self::I) -> Self::I;
    /// `a - b`, wrapping.
    fn isub(&mut self, a: Self::I, b: Self::I) -> Self::I;
    /// `a & b`
    fn iand(&mut self, a: Self::I, b: Self::I) -> Self::I;
    /// `a | b`
    fn ior(&mut self, a: Self::I, b: Self::I) -> Self::I;
    /// `a ^ b`
    fn ixor(&mut self, a: Self::I, b: Self::I) -> Self::I;
    /// `a << n`
    fn shl(&mut self, a: Self::I, n: u32) -> Self::I;
    /// `a >> n`, arithmetic.
    fn sra(&mut self, a: Self::I, n: u32) -> Self::I;
    /// `a || b`
    fn or(&mut self, a: Self::M, b: Self::M) -> Self::M;

    /// `f64` lanes: a widened `F` is one or two of them ([`Lanes::f64_parts`]).
    type D: Copy;
    /// How many `D`s hold the lanes of one `F`: 1 or 2 (a 128-bit `f32x4`
    /// widens to two `f64x2`).
    fn f64_parts(&self) -> usize;
    /// `a`'s lanes as `f64`s (exact): the first [`Lanes::f64_parts`] entries.
    fn widen(&mut self, a: Self::F) -> [Self::D; 2];
    /// The lanes of `d`'s first [`Lanes::f64_parts`] entries rounded to
    /// `f32` (to nearest even, once).
    fn narrow(&mut self, d: [Self::D; 2]) -> Self::F;
    /// `v` in every `f64` lane.
    fn d(&mut self, v: f64) -> Self::D;
    /// `a + b` on `f64`.
    fn dadd(&mut self, a: Self::D, b: Self::D) -> Self::D;
    /// `a - b` on `f64`.
    fn dsub(&mut self, a: Self::D, b: Self::D) -> Self::D;
    /// `a * b` on `f64`.
    fn dmul(&mut self, a: Self::D, b: Self::D) -> Self::D;
    /// `a / b` on `f64`.
    fn ddiv(&mut self, a: Self::D, b: Self::D) -> Self::D;

    /// `f` applied, in `f64`, to the widened lanes of `args`; its results
    /// rounded back to `f32`.
    fn in_f64<const N: usize, const M: usize>(
        &mut self,
        args: [Self::F; N],
        mut f: impl FnMut(&mut Self, [Self::D; N]) -> [Self::D; M],
    ) -> [Self::F; M] {
        let wide = args.map(|a| self.widen(a));
        let mut outs = [wide[0]; M];
        for part in 0..self.f64_parts() {
            let results = f(self, wide.map(|w| w[part]));
            for (o, r) in outs.iter_mut().zip(results) {
                o[part] = r;
            }
        }
        outs.map(|o| self.narrow(o))
    }

    /// `fast`, except in lanes where `slow` holds: `f` of those lanes of
    /// `args`, computed by the scalar function (rarely taken: a vector
    /// implementation branches around it when no lane needs it).
    fn slow_lanes(
        &mut self,
        slow: Self::M,
        fast: Self::F,
        f: Fallback,
        args: &[Self::F],
    ) -> Self::F;

    /// `p(x)` for `p = c[0] x^(n-1) + ... + c[n-1]`, by Horner's rule: `c`
    /// highest degree first.
    fn horner(&mut self, x: Self::F, c: &[f32]) -> Self::F {
        let mut p = self.f(c[0]);
        for &k in &c[1..] {
            let px = self.mul(p, x);
            let k = self.f(k);
            p = self.add(px, k);
        }
        p
    }

    /// `|a|`
    fn abs(&mut self, a: Self::F) -> Self::F {
        let b = self.bits(a);
        let m = self.i(0x7fff_ffff);
        let b = self.iand(b, m);
        self.float(b)
    }

    /// `|a|` with the sign of `s`.
    fn copysign(&mut self, a: Self::F, s: Self::F) -> Self::F {
        let a = self.abs(a);
        let a = self.bits(a);
        let s = self.bits(s);
        let sign = self.i(i32::MIN);
        let s = self.iand(s, sign);
        let b = self.ior(a, s);
        self.float(b)
    }

    /// `if x < lo { lo } else if hi < x { hi } else { x }`: NaN stays NaN.
    fn clamp(&mut self, x: Self::F, lo: f32, hi: f32) -> Self::F {
        let h = self.f(hi);
        let above = self.lt(h, x);
        let x = self.select(above, h, x);
        let l = self.f(lo);
        let below = self.lt(x, l);
        self.select(below, l, x)
    }

    /// The integer `n` held in `t = n + 1.5 * 2^23` (an `f32` whose low
    /// mantissa bits are `n`, for `|n| < 2^22`).
    fn rounded_int(&mut self, t: Self::F) -> Self::I {
        let tb = self.bits(t);
        let r = self.i(ROUND.to_bits() as i32);
        self.isub(tb, r)
    }
}

/// `1.5 * 2^23`: adding and subtracting it rounds an `f32` below 2^22 in
/// magnitude to the nearest integer, and the sum's low mantissa bits hold
/// that integer.
pub const ROUND: f32 = 12_582_912.0;

/// One `f32`: the runtime's scalar functions, and so the interpreter's.
pub struct Scalar;

impl Lanes for Scalar {
    type F = f32;
    type I = i32;
    type M = bool;

    #[inline(always)]
    fn f(&mut self, v: f32) -> f32 {
        v
    }
    #[inline(always)]
    fn i(&mut self, v: i32) -> i32 {
        v
    }
    #[inline(always)]
    fn add(&mut self, a: f32, b: f32) -> f32 {
        a + b
    }
    #[inline(always)]
    fn sub(&mut self, a: f32, b: f32) -> f32 {
        a - b
    }
    #[inline(always)]
    fn mul(&mut self, a: f32, b: f32) -> f32 {
        a * b
    }
    #[inline(always)]
    fn div(&mut self, a: f32, b: f32) -> f32 {
        a / b
    }
    #[inline(always)]
    fn lt(&mut self, a: f32, b: f32) -> bool {
        a < b
    }
    #[inline(always)]
    fn le(&mut self, a: f32, b: f32) -> bool {
        a <= b
    }
    #[inline(always)]
    fn eq(&mut self, a: f32, b: f32) -> bool {
        a == b
    }
    #[inline(always)]
    fn and(&mut self, a: bool, b: bool) -> bool {
        a && b
    }
    #[inline(always)]
    fn not(&mut self, a: bool) -> bool {
        !a
    }
    #[inline(always)]
    fn select(&mut self, m: bool, a: f32, b: f32) -> f32 {
        if m { a } else { b }
    }
    #[inline(always)]
    fn bits(&mut self, a: f32) -> i32 {
        a.to_bits() as i32
    }
    #[inline(always)]
    fn float(&mut self, a: i32) -> f32 {
        f32::from_bits(a as u32)
    }
    #[inline(always)]
    fn iadd(&mut self, a: i32, b: i32) -> i32 {
        a.wrapping_add(b)
    }
    #[inline(always)]
    fn isub(&mut self, a: i32, b: i32) -> i32 {
        a.wrapping_sub(b)
    }
    #[inline(always)]
    fn iand(&mut self, a: i32, b: i32) -> i32 {
        a & b
    }
    #[inline(always)]
    fn ior(&mut self, a: i32, b: i32) -> i32 {
        a | b
    }
    #[inline(always)]
    fn ixor(&mut self, a: i32, b: i32) -> i32 {
        a ^ b
    }
    #[inline(always)]
    fn shl(&mut self, a: i32, n: u32) -> i32 {
        a.wrapping_shl(n)
    }
    #[inline(always)]
    fn sra(&mut self, a: i32, n: u32) -> i32 {
        a >> n
    }
    #[inline(always)]
    fn slow_lanes(&mut self, slow: bool, fast: f32, f: Fallback, args: &[f32]) -> f32 {
        if slow { f.eval(args) } else { fast }
    }
    #[inline(always)]
    fn or(&mut self, a: bool, b: bool) -> bool {
        a || b
    }
    type D = f64;
    #[inline(always)]
    fn f64_parts(&self) -> usize {
        1
    }
    #[inline(always)]
    fn widen(&mut self, a: f32) -> [f64; 2] {
        [f64::from(a); 2]
    }
    #[inline(always)]
    fn narrow(&mut self, d: [f64; 2]) -> f32 {
        d[0] as f32
    }
    #[inline(always)]
    fn d(&mut self, v: f64) -> f64 {
        v
    }
    #[inline(always)]
    fn dadd(&mut self, a: f64, b: f64) -> f64 {
        a + b
    }
    #[inline(always)]
    fn dsub(&mut self, a: f64, b: f64) -> f64 {
        a - b
    }
    #[inline(always)]
    fn dmul(&mut self, a: f64, b: f64) -> f64 {
        a * b
    }
    #[inline(always)]
    fn ddiv(&mut self, a: f64, b: f64) -> f64 {
        a / b
    }
}

/// Counts the operations an algorithm performs per lane (constants aside):
/// what the energy model charges a vector of it.
#[derive(Default)]
pub struct OpCount {
    /// Operations so far.
    pub ops: u32,
}

impl OpCount {
    fn one(&mut self) {
        self.ops += 1;
    }
}

impl Lanes for OpCount {
    type F = ();
    type I = ();
    type M = ();

    fn f(&mut self, _: f32) {}
    fn i(&mut self, _: i32) {}
    fn add(&mut self, _: (), _: ()) {
        self.one()
    }
    fn sub(&mut self, _: (), _: ()) {
        self.one()
    }
    fn mul(&mut self, _: (), _: ()) {
        self.one()
    }
    fn div(&mut self, _: (), _: ()) {
        self.one()
    }
    fn lt(&mut self, _: (), _: ()) {
        self.one()
    }
    fn le(&mut self, _: (), _: ()) {
        self.one()
    }
    fn eq(&mut self, _: (), _: ()) {
        self.one()
    }
    fn and(&mut self, _: (), _: ()) {
        self.one()
    }
    fn not(&mut self, _: ()) {
        self.one()
    }
    fn select(&mut self, _: (), _: (), _: ()) {
        self.one()
    }
    // a reinterpretation: no instruction
    fn bits(&mut self, _: ()) {}
    fn float(&mut self, _: ()) {}
    fn iadd(&mut self, _: (), _: ()) {
        self.one()
    }
    fn isub(&mut self, _: (), _: ()) {
        self.one()
    }
    fn iand(&mut self, _: (), _: ()) {
        self.one()
    }
    fn ior(&mut self, _: (), _: ()) {
        self.one()
    }
    fn ixor(&mut self, _: (), _: ()) {
        self.one()
    }
    fn shl(&mut self, _: (), _: u32) {
        self.one()
    }
    fn sra(&mut self, _: (), _: u32) {
        self.one()
    }
    // the test and branch; the calls are the rare path
    fn slow_lanes(&mut self, _: (), _: (), _: Fallback, _: &[()]) {
        self.ops += 2;
    }
    fn or(&mut self, _: (), _: ()) {
        self.one()
    }
    // counted as one vector's worth: a 128-bit target does each `f64`
    // operation twice, a wider one once on twice the registers
    type D = ();
    fn f64_parts(&self) -> usize {
        1
    }
    fn widen(&mut self, _: ()) -> [(); 2] {
        self.one();
        [(); 2]
    }
    fn narrow(&mut self, _: [(); 2]) {
        self.one()
    }
    fn d(&mut self, _: f64) {}
    fn dadd(&mut self, _: (), _: ()) {
        self.ops += 2
    }
    fn dsub(&mut self, _: (), _: ()) {
        self.ops += 2
    }
    fn dmul(&mut self, _: (), _: ()) {
        self.ops += 2
    }
    fn ddiv(&mut self, _: (), _: ()) {
        self.ops += 2
    }
}
