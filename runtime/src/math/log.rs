//! `log` and `log1p` on `f32`: `u = 2^e m` with `m` in `[sqrt(1/2),
//! sqrt(2))`, `log u = e ln2 + log(1 + f)` for `f = m - 1`, the latter by
//! `f - f^2/2 + f^3 L(f)` (Cephes' `logf` arrangement, our own
//! polynomial).

use super::lanes::{Elem, Lanes};

/// `(log(1 + f) - f + f^2/2) / f^3` on `[sqrt(1/2) - 1, sqrt(2) - 1]`,
/// highest degree first (runtime/tools/fit_math.py).
const LOG_L: [f32; 9] = [
    0.067_466_41,
    -0.116_756_52,
    0.118_881_62,
    -0.124_055_89,
    0.142_195_52,
    -0.166_679_96,
    0.200_021_19,
    -0.250_000_1,
    0.333_333_13,
];

/// `ln 2 = LN2_HI + LN2_LO`; `LN2_HI` has 9 significant bits, so `e *
/// LN2_HI` is exact for every exponent.
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;

/// `(f, e)` with `u = 2^e (1 + f)`, `1 + f` in `[sqrt(1/2), sqrt(2))`, `e`
/// as a float, for normal positive `u`.
pub(super) fn split<T: LogConsts, L: Lanes<T>>(l: &mut L, u: L::F) -> (L::F, L::F) {
    let b = l.bits(u);
    let e = l.sra(b, T::MANT_BITS);
    // e - bias as a float: `ROUND`'s low mantissa bits hold it exactly
    let round = T::round_bits();
    let round_bits = l.i(T::int(T::int_to_i64(round) - T::EXP_BIAS));
    let e = l.iadd(e, round_bits);
    let e = l.float(e);
    let round = l.f(T::ROUND);
    let e = l.sub(e, round);
    let mant = l.i(T::int((1i64 << T::MANT_BITS) - 1));
    let m = l.iand(b, mant);
    let one = l.i(T::int(T::EXP_BIAS << T::MANT_BITS));
    let m = l.ior(m, one);
    let m = l.float(m);
    let sqrt2 = l.c(std::f64::consts::SQRT_2);
    let high = l.lt(sqrt2, m);
    let half = l.c(0.5);
    let mh = l.mul(m, half);
    let m = l.select(high, mh, m);
    let onef = l.c(1.0);
    let zero = l.c(0.0);
    let inc = l.select(high, onef, zero);
    let e = l.add(e, inc);
    let f = l.sub(m, onef);
    (f, e)
}

/// What the logarithms need of one float type: the kernel
/// `e ln2 + log(1 + f) + c` (an algorithm of its own per type) and the
/// thresholds around it.
pub trait LogConsts: Elem {
    /// `e ln2 + log(1 + f) + c` for `1 + f` in `[sqrt(1/2), sqrt(2))` and a
    /// small correction `c`.
    fn combine<L: Lanes<Self>>(l: &mut L, f: L::F, e: L::F, c: L::F) -> L::F;
    /// Subnormal inputs are scaled by 2^this first.
    const SUBNORMAL_SCALE: i32;
    /// From here on `1 + x` loses nothing worth correcting in `log1p`.
    const LOG1P_HUGE: Self;
    /// Below this in magnitude `log1p(x)` rounds to `x`.
    const LOG1P_TINY: Self;
}

impl LogConsts for f32 {
    fn combine<L: Lanes<f32>>(l: &mut L, f: L::F, e: L::F, c: L::F) -> L::F {
        combine(l, f, e, c)
    }
    const SUBNORMAL_SCALE: i32 = 25;
    const LOG1P_HUGE: f32 = 33_554_432.0;
    const LOG1P_TINY: f32 = 1.0 / 16_777_216.0;
}

/// `e ln2 + log(1 + f) + c`, for `c` a small correction.
fn combine<L: Lanes<f32>>(l: &mut L, f: L::F, e: L::F, c: L::F) -> L::F {
    let z = l.mul(f, f);
    let p = l.horner(f, &LOG_L);
    let fz = l.mul(f, z);
    let y = l.mul(fz, p);
    let lo = l.f(LN2_LO);
    let elo = l.mul(e, lo);
    let y = l.add(y, elo);
    let y = l.add(y, c);
    let half = l.f(0.5);
    let hz = l.mul(z, half);
    let y = l.sub(y, hz);
    let r = l.add(f, y);
    let hi = l.f(LN2_HI);
    let ehi = l.mul(e, hi);
    l.add(r, ehi)
}

/// `-inf` at `u == 0`, `inf` at `u == inf`, NaN below 0 (and for NaN).
fn edges<T: LogConsts, L: Lanes<T>>(l: &mut L, u: L::F, r: L::F) -> L::F {
    let zero = l.c(0.0);
    let inf = l.c(f64::INFINITY);
    let is_inf = l.eq(u, inf);
    let r = l.select(is_inf, inf, r);
    let is_zero = l.eq(u, zero);
    let ninf = l.c(f64::NEG_INFINITY);
    let r = l.select(is_zero, ninf, r);
    let nonneg = l.le(zero, u);
    let neg = l.not(nonneg);
    let nan = l.c(f64::NAN);
    l.select(neg, nan, r)
}

/// The natural logarithm, in either type; subnormal inputs are first
/// scaled.
pub fn log_of<T: LogConsts, L: Lanes<T>>(l: &mut L, x: L::F) -> L::F {
    let (f, e) = split_any(l, x);
    let zero = l.c(0.0);
    let r = T::combine(l, f, e, zero);
    edges(l, x, r)
}

/// The natural logarithm on `f32` ([`log_of`]).
pub fn log<L: Lanes<f32>>(l: &mut L, x: L::F) -> L::F {
    log_of::<f32, L>(l, x)
}

/// [`split`] for any finite positive `x`, subnormals first scaled.
pub(super) fn split_any<T: LogConsts, L: Lanes<T>>(l: &mut L, x: L::F) -> (L::F, L::F) {
    let min = l.f(T::MIN_POSITIVE);
    let tiny = l.lt(x, min);
    let scale = l.c(2f64.powi(T::SUBNORMAL_SCALE));
    let xs = l.mul(x, scale);
    let u = l.select(tiny, xs, x);
    let (f, e) = split(l, u);
    let adj = l.c(-f64::from(T::SUBNORMAL_SCALE));
    let zero = l.c(0.0);
    let adj = l.select(tiny, adj, zero);
    let e = l.add(e, adj);
    (f, e)
}

/// `log(1 + x)`, in either type: the logarithm of `u = 1 + x` plus what
/// rounding `u` lost, `c = (x - (u - 1)) / u` (musl's correction, or
/// `1 - (u - x)` for `u >= 2`, where that is the exact form, and none from
/// `LOG1P_HUGE` on); `x` itself where tiny, the correctly rounded result,
/// which keeps the sign of zero.
pub fn log1p_of<T: LogConsts, L: Lanes<T>>(l: &mut L, x: L::F) -> L::F {
    let one = l.c(1.0);
    let u = l.add(one, x);
    let um1 = l.sub(u, one);
    let small_c = l.sub(x, um1);
    let umx = l.sub(u, x);
    let large_c = l.sub(one, umx);
    let two = l.c(2.0);
    let large = l.le(two, u);
    let c = l.select(large, large_c, small_c);
    let huge_bound = l.f(T::LOG1P_HUGE);
    let huge = l.le(huge_bound, u);
    let zero = l.c(0.0);
    let c = l.select(huge, zero, c);
    let c = l.div(c, u);
    let (f, e) = split(l, u);
    let r = T::combine(l, f, e, c);
    let r = edges(l, u, r);
    let ax = l.abs(x);
    let tiny_bound = l.f(T::LOG1P_TINY);
    let tiny = l.lt(ax, tiny_bound);
    l.select(tiny, x, r)
}

/// `log(1 + x)` on `f32` ([`log1p_of`]).
pub fn log1p<L: Lanes<f32>>(l: &mut L, x: L::F) -> L::F {
    log1p_of::<f32, L>(l, x)
}
