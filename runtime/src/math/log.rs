//! `log` and `log1p` on `f32`: `u = 2^e m` with `m` in `[sqrt(1/2),
//! sqrt(2))`, `log u = e ln2 + log(1 + f)` for `f = m - 1`, the latter by
//! `f - f^2/2 + f^3 L(f)` (Cephes' `logf` arrangement, our own
//! polynomial).

use super::lanes::{Lanes, ROUND};

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
pub(super) fn split<L: Lanes<f32>>(l: &mut L, u: L::F) -> (L::F, L::F) {
    let b = l.bits(u);
    let e = l.sra(b, 23);
    // e - 127 as a float: `ROUND`'s low mantissa bits hold it exactly
    let round_bits = l.i(ROUND.to_bits() as i32 - 127);
    let e = l.iadd(e, round_bits);
    let e = l.float(e);
    let round = l.f(ROUND);
    let e = l.sub(e, round);
    let mant = l.i(0x007f_ffff);
    let m = l.iand(b, mant);
    let one = l.i(1f32.to_bits() as i32);
    let m = l.ior(m, one);
    let m = l.float(m);
    let sqrt2 = l.f(std::f32::consts::SQRT_2);
    let high = l.lt(sqrt2, m);
    let half = l.f(0.5);
    let mh = l.mul(m, half);
    let m = l.select(high, mh, m);
    let onef = l.f(1.0);
    let zero = l.f(0.0);
    let inc = l.select(high, onef, zero);
    let e = l.add(e, inc);
    let f = l.sub(m, onef);
    (f, e)
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
fn edges<L: Lanes<f32>>(l: &mut L, u: L::F, r: L::F) -> L::F {
    let zero = l.f(0.0);
    let inf = l.f(f32::INFINITY);
    let is_inf = l.eq(u, inf);
    let r = l.select(is_inf, inf, r);
    let is_zero = l.eq(u, zero);
    let ninf = l.f(f32::NEG_INFINITY);
    let r = l.select(is_zero, ninf, r);
    let nonneg = l.le(zero, u);
    let neg = l.not(nonneg);
    let nan = l.f(f32::NAN);
    l.select(neg, nan, r)
}

/// The natural logarithm on `f32`; subnormal inputs are first scaled by
/// 2^25.
pub fn log<L: Lanes<f32>>(l: &mut L, x: L::F) -> L::F {
    let (f, e) = split_any(l, x);
    let zero = l.f(0.0);
    let r = combine(l, f, e, zero);
    edges(l, x, r)
}

/// [`split`] for any finite positive `x`, subnormals first scaled by 2^25.
pub(super) fn split_any<L: Lanes<f32>>(l: &mut L, x: L::F) -> (L::F, L::F) {
    let min = l.f(f32::MIN_POSITIVE);
    let tiny = l.lt(x, min);
    let scale = l.f(2f32.powi(25));
    let xs = l.mul(x, scale);
    let u = l.select(tiny, xs, x);
    let (f, e) = split(l, u);
    let m25 = l.f(-25.0);
    let zero = l.f(0.0);
    let adj = l.select(tiny, m25, zero);
    let e = l.add(e, adj);
    (f, e)
}

/// `log(1 + x)` on `f32`: the logarithm of `u = 1 + x` plus what rounding
/// `u` lost, `c = (x - (u - 1)) / u` (musl's correction; `1 - (u - x)` for
/// `u >= 2`, where that is the exact form, and none from 2^25 on); `x`
/// itself below 2^-24 in magnitude, where it is the correctly rounded
/// result (and keeps the sign of zero).
pub fn log1p<L: Lanes<f32>>(l: &mut L, x: L::F) -> L::F {
    let one = l.f(1.0);
    let u = l.add(one, x);
    let um1 = l.sub(u, one);
    let small_c = l.sub(x, um1);
    let umx = l.sub(u, x);
    let large_c = l.sub(one, umx);
    let two = l.f(2.0);
    let large = l.le(two, u);
    let c = l.select(large, large_c, small_c);
    let huge_bound = l.f(2f32.powi(25));
    let huge = l.le(huge_bound, u);
    let zero = l.f(0.0);
    let c = l.select(huge, zero, c);
    let c = l.div(c, u);
    let (f, e) = split(l, u);
    let r = combine(l, f, e, c);
    let r = edges(l, u, r);
    let ax = l.abs(x);
    let tiny_bound = l.f(2f32.powi(-24));
    let tiny = l.lt(ax, tiny_bound);
    l.select(tiny, x, r)
}
