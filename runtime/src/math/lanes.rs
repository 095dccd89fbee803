//! The operations picojoule's elementary functions are written in, so that
//! one definition serves every place that computes them: the runtime's
//! scalar functions (which the interpreter calls, so they define the bits)
//! and the vector code each backend emits inline.
//!
//! Lanes hold `f32` or `f64` ([`Elem`]); an `f32` algorithm that needs the
//! extra precision (`pow`) widens to `f64` lanes ([`Wide`]). Every
//! operation is one IEEE operation, rounded once to nearest even — no fused
//! multiply-adds, no approximate reciprocals — or an exact operation on a
//! float's bits, so any correct implementation of [`Lanes`] computes the
//! same bits. Algorithms are branch-free: both sides of a choice are
//! computed and [`Lanes::select`] picks per lane. The one exception is
//! [`Lanes::slow_lanes`], for inputs (huge arguments of `sin`, `pow`'s
//! special cases) that the vector algorithm leaves to a scalar function.

/// The scalar function that computes lanes a vector algorithm leaves to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// `sin`
    Sin,
    /// `cos`
    Cos,
    /// `tan`
    Tan,
    /// `pow` (on `f32`)
    Pow,
}

/// A float type lanes hold: `f32` or `f64`.
pub trait Elem: Copy + 'static {
    /// Its bits as a signed integer.
    type Int: Copy;
    /// Bits per value.
    const BITS: u32;
    /// `1.5 * 2^m` for `m` mantissa bits: adding and subtracting it rounds
    /// a value below `2^(m-1)` in magnitude to the nearest integer, and the
    /// sum's low mantissa bits hold that integer.
    const ROUND: Self;
    /// The sign bit.
    const SIGN: Self::Int;
    /// Every bit but the sign.
    const MAGNITUDE: Self::Int;
    /// Explicit mantissa bits (23, 52).
    const MANT_BITS: u32;
    /// The exponent bias (127, 1023).
    const EXP_BIAS: i64;
    /// The smallest normal positive value.
    const MIN_POSITIVE: Self;
    /// `v` rounded to this type (exact for the small constants algorithms
    /// use: 0, 1/2, 1, 2, infinities, NaN).
    fn from_f64(v: f64) -> Self;
    /// `v` as this type's integer (wrapping).
    fn int(v: i64) -> Self::Int;
    /// The bits of `self`.
    fn to_bits_u64(self) -> u64;
    /// `i` sign-extended.
    fn int_to_i64(i: Self::Int) -> i64;
    /// `ROUND`'s bits.
    fn round_bits() -> Self::Int;
    /// The runtime symbol computing `f` on this type — for a slow lane,
    /// exactly [`Elem::fallback`].
    fn fallback_symbol(f: Fallback) -> &'static str;
    /// `f` of `args` on a lane the vector algorithm does not cover: musl's
    /// `sin`, `cos`, `tan` (the `libm` crate), with their full-range
    /// reduction; `pow` with every special case
    /// ([`super::pow::pow_everywhere`]).
    fn fallback(f: Fallback, args: &[Self]) -> Self;
}

impl Elem for f32 {
    type Int = i32;
    const BITS: u32 = 32;
    const ROUND: f32 = 12_582_912.0;
    const SIGN: i32 = i32::MIN;
    const MAGNITUDE: i32 = i32::MAX;
    const MANT_BITS: u32 = 23;
    const EXP_BIAS: i64 = 127;
    const MIN_POSITIVE: f32 = f32::MIN_POSITIVE;
    fn from_f64(v: f64) -> f32 {
        v as f32
    }
    fn int(v: i64) -> i32 {
        v as i32
    }
    fn to_bits_u64(self) -> u64 {
        u64::from(self.to_bits())
    }
    fn int_to_i64(i: i32) -> i64 {
        i64::from(i)
    }
    fn round_bits() -> i32 {
        Self::ROUND.to_bits() as i32
    }
    fn fallback_symbol(f: Fallback) -> &'static str {
        match f {
            Fallback::Sin => "pj_rt_sinf",
            Fallback::Cos => "pj_rt_cosf",
            Fallback::Tan => "pj_rt_tanf",
            Fallback::Pow => "pj_rt_powf",
        }
    }
    fn fallback(f: Fallback, args: &[f32]) -> f32 {
        match f {
            Fallback::Sin => libm::sinf(args[0]),
            Fallback::Cos => libm::cosf(args[0]),
            Fallback::Tan => libm::tanf(args[0]),
            Fallback::Pow => super::pow::pow_everywhere(&mut Scalar, args[0], args[1]),
        }
    }
}

impl Elem for f64 {
    type Int = i64;
    const BITS: u32 = 64;
    const ROUND: f64 = 6_755_399_441_055_744.0;
    const SIGN: i64 = i64::MIN;
    const MAGNITUDE: i64 = i64::MAX;
    const MANT_BITS: u32 = 52;
    const EXP_BIAS: i64 = 1023;
    const MIN_POSITIVE: f64 = f64::MIN_POSITIVE;
    fn from_f64(v: f64) -> f64 {
        v
    }
    fn int(v: i64) -> i64 {
        v
    }
    fn to_bits_u64(self) -> u64 {
        self.to_bits()
    }
    fn int_to_i64(i: i64) -> i64 {
        i
    }
    fn round_bits() -> i64 {
        Self::ROUND.to_bits() as i64
    }
    fn fallback_symbol(f: Fallback) -> &'static str {
        match f {
            Fallback::Sin => "pj_rt_sin",
            Fallback::Cos => "pj_rt_cos",
            Fallback::Tan => "pj_rt_tan",
            Fallback::Pow => "pj_rt_pow",
        }
    }
    fn fallback(f: Fallback, args: &[f64]) -> f64 {
        match f {
            Fallback::Sin => libm::sin(args[0]),
            Fallback::Cos => libm::cos(args[0]),
            Fallback::Tan => libm::tan(args[0]),
            Fallback::Pow => args[0].powf(args[1]),
        }
    }
}

/// `1.5 * 2^23` ([`Elem::ROUND`] of `f32`).
pub const ROUND: f32 = <f32 as Elem>::ROUND;

/// A machine for lanes of `T`: floats `F`, their bits as integers `I` of
/// the same width, and per-lane truths `M`.
pub trait Lanes<T: Elem> {
    /// Float lanes.
    type F: Copy;
    /// Integer lanes of the same width.
    type I: Copy;
    /// Per-lane truth values.
    type M: Copy;

    /// `v` in every lane.
    fn f(&mut self, v: T) -> Self::F;
    /// `v` in every lane.
    fn i(&mut self, v: T::Int) -> Self::I;
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
    /// `a || b`
    fn or(&mut self, a: Self::M, b: Self::M) -> Self::M;
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
    fn horner(&mut self, x: Self::F, c: &[T]) -> Self::F {
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
        let m = self.i(T::MAGNITUDE);
        let b = self.iand(b, m);
        self.float(b)
    }

    /// `|a|` with the sign of `s`.
    fn copysign(&mut self, a: Self::F, s: Self::F) -> Self::F {
        let a = self.abs(a);
        let a = self.bits(a);
        let s = self.bits(s);
        let sign = self.i(T::SIGN);
        let s = self.iand(s, sign);
        let b = self.ior(a, s);
        self.float(b)
    }

    /// `a` negated where `sign` (a sign bit or 0) is set.
    fn flip(&mut self, a: Self::F, sign: Self::I) -> Self::F {
        let b = self.bits(a);
        let b = self.ixor(b, sign);
        self.float(b)
    }

    /// `if x < lo { lo } else if hi < x { hi } else { x }`: NaN stays NaN.
    fn clamp(&mut self, x: Self::F, lo: T, hi: T) -> Self::F {
        let h = self.f(hi);
        let above = self.lt(h, x);
        let x = self.select(above, h, x);
        let l = self.f(lo);
        let below = self.lt(x, l);
        self.select(below, l, x)
    }

    /// `v` (a small exact constant: 0, 1/2, 1, 2, infinity, NaN) in every
    /// lane.
    fn c(&mut self, v: f64) -> Self::F {
        self.f(T::from_f64(v))
    }

    /// `(s, e)` with `s = a - b` rounded and `s + e = a - b` exactly
    /// (Knuth's two-sum, no fused multiply-add).
    fn two_diff(&mut self, a: Self::F, b: Self::F) -> (Self::F, Self::F) {
        let s = self.sub(a, b);
        let v = self.sub(s, a);
        let sv = self.sub(s, v);
        let ea = self.sub(a, sv);
        let eb = self.add(b, v);
        let e = self.sub(ea, eb);
        (s, e)
    }

    /// `hi - a + lo`, for a constant `hi + lo` held in two parts.
    fn minus_from(&mut self, (hi, lo): (T, T), a: Self::F) -> Self::F {
        let hi = self.f(hi);
        let d = self.sub(hi, a);
        let lo = self.f(lo);
        self.add(d, lo)
    }

    /// `2^n` for `n` within the normal exponents, from exponent bits.
    fn pow2(&mut self, n: Self::I) -> Self::F {
        let bias = self.i(T::int(T::EXP_BIAS));
        let e = self.iadd(n, bias);
        let e = self.shl(e, T::MANT_BITS);
        self.float(e)
    }

    /// `x` rounded to the nearest integer, as a float and as the integer
    /// `n` (for `|x| < 2^22` in `f32`, `2^51` in `f64`).
    fn round_int(&mut self, x: Self::F) -> (Self::F, Self::I) {
        let round = self.f(T::ROUND);
        let t = self.add(x, round);
        let k = self.sub(t, round);
        let tb = self.bits(t);
        let r = self.i(T::round_bits());
        (k, self.isub(tb, r))
    }
}

/// `f32` lanes that can widen to `f64` lanes (`pow`'s logarithm and
/// exponential).
pub trait Wide: Lanes<f32> {
    /// `f64` lanes: a widened `F` is one or two of them ([`Wide::f64_parts`]).
    type D: Copy;
    /// How many `D`s hold the lanes of one `F`: 1 or 2 (a 128-bit `f32x4`
    /// widens to two `f64x2`).
    fn f64_parts(&self) -> usize;
    /// `a`'s lanes as `f64`s (exact): the first [`Wide::f64_parts`] entries.
    fn widen(&mut self, a: Self::F) -> [Self::D; 2];
    /// The lanes of `d`'s first [`Wide::f64_parts`] entries rounded to
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
}

/// One value: the runtime's scalar functions, and so the interpreter's.
pub struct Scalar;

/// [`Lanes`] on one `$t` with bits `$i`.
macro_rules! scalar_lanes {
    ($t:ty, $i:ty) => {
        impl Lanes<$t> for Scalar {
            type F = $t;
            type I = $i;
            type M = bool;

            #[inline(always)]
            fn f(&mut self, v: $t) -> $t {
                v
            }
            #[inline(always)]
            fn i(&mut self, v: $i) -> $i {
                v
            }
            #[inline(always)]
            fn add(&mut self, a: $t, b: $t) -> $t {
                a + b
            }
            #[inline(always)]
            fn sub(&mut self, a: $t, b: $t) -> $t {
                a - b
            }
            #[inline(always)]
            fn mul(&mut self, a: $t, b: $t) -> $t {
                a * b
            }
            #[inline(always)]
            fn div(&mut self, a: $t, b: $t) -> $t {
                a / b
            }
            #[inline(always)]
            fn lt(&mut self, a: $t, b: $t) -> bool {
                a < b
            }
            #[inline(always)]
            fn le(&mut self, a: $t, b: $t) -> bool {
                a <= b
            }
            #[inline(always)]
            fn eq(&mut self, a: $t, b: $t) -> bool {
                a == b
            }
            #[inline(always)]
            fn and(&mut self, a: bool, b: bool) -> bool {
                a && b
            }
            #[inline(always)]
            fn or(&mut self, a: bool, b: bool) -> bool {
                a || b
            }
            #[inline(always)]
            fn not(&mut self, a: bool) -> bool {
                !a
            }
            #[inline(always)]
            fn select(&mut self, m: bool, a: $t, b: $t) -> $t {
                if m { a } else { b }
            }
            #[inline(always)]
            fn bits(&mut self, a: $t) -> $i {
                a.to_bits() as $i
            }
            #[inline(always)]
            fn float(&mut self, a: $i) -> $t {
                <$t>::from_bits(a as _)
            }
            #[inline(always)]
            fn iadd(&mut self, a: $i, b: $i) -> $i {
                a.wrapping_add(b)
            }
            #[inline(always)]
            fn isub(&mut self, a: $i, b: $i) -> $i {
                a.wrapping_sub(b)
            }
            #[inline(always)]
            fn iand(&mut self, a: $i, b: $i) -> $i {
                a & b
            }
            #[inline(always)]
            fn ior(&mut self, a: $i, b: $i) -> $i {
                a | b
            }
            #[inline(always)]
            fn ixor(&mut self, a: $i, b: $i) -> $i {
                a ^ b
            }
            #[inline(always)]
            fn shl(&mut self, a: $i, n: u32) -> $i {
                a.wrapping_shl(n)
            }
            #[inline(always)]
            fn sra(&mut self, a: $i, n: u32) -> $i {
                a >> n
            }
            #[inline(always)]
            fn slow_lanes(&mut self, slow: bool, fast: $t, f: Fallback, args: &[$t]) -> $t {
                if slow { <$t>::fallback(f, args) } else { fast }
            }
        }
    };
}

scalar_lanes!(f32, i32);
scalar_lanes!(f64, i64);

impl Wide for Scalar {
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

/// Counts the operations an algorithm performs per vector (constants
/// aside): what the energy model charges for one.
#[derive(Default)]
pub struct OpCount {
    /// Operations so far.
    pub ops: u32,
}

impl<T: Elem> Lanes<T> for OpCount {
    type F = ();
    type I = ();
    type M = ();

    fn f(&mut self, _: T) {}
    fn i(&mut self, _: T::Int) {}
    fn add(&mut self, _: (), _: ()) {
        self.ops += 1
    }
    fn sub(&mut self, _: (), _: ()) {
        self.ops += 1
    }
    fn mul(&mut self, _: (), _: ()) {
        self.ops += 1
    }
    fn div(&mut self, _: (), _: ()) {
        self.ops += 1
    }
    fn lt(&mut self, _: (), _: ()) {
        self.ops += 1
    }
    fn le(&mut self, _: (), _: ()) {
        self.ops += 1
    }
    fn eq(&mut self, _: (), _: ()) {
        self.ops += 1
    }
    fn and(&mut self, _: (), _: ()) {
        self.ops += 1
    }
    fn or(&mut self, _: (), _: ()) {
        self.ops += 1
    }
    fn not(&mut self, _: ()) {
        self.ops += 1
    }
    fn select(&mut self, _: (), _: (), _: ()) {
        self.ops += 1
    }
    // a reinterpretation: no instruction
    fn bits(&mut self, _: ()) {}
    fn float(&mut self, _: ()) {}
    fn iadd(&mut self, _: (), _: ()) {
        self.ops += 1
    }
    fn isub(&mut self, _: (), _: ()) {
        self.ops += 1
    }
    fn iand(&mut self, _: (), _: ()) {
        self.ops += 1
    }
    fn ior(&mut self, _: (), _: ()) {
        self.ops += 1
    }
    fn ixor(&mut self, _: (), _: ()) {
        self.ops += 1
    }
    fn shl(&mut self, _: (), _: u32) {
        self.ops += 1
    }
    fn sra(&mut self, _: (), _: u32) {
        self.ops += 1
    }
    // the test and branch; the calls are the rare path
    fn slow_lanes(&mut self, _: (), _: (), _: Fallback, _: &[()]) {
        self.ops += 2;
    }
}

impl Wide for OpCount {
    // counted as one vector's worth: a 128-bit target does each `f64`
    // operation twice, a wider one once on twice the registers
    type D = ();
    fn f64_parts(&self) -> usize {
        1
    }
    fn widen(&mut self, _: ()) -> [(); 2] {
        self.ops += 1;
        [(); 2]
    }
    fn narrow(&mut self, _: [(); 2]) {
        self.ops += 1
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
