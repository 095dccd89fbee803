//! `log` and `log1p` on `f64`: `u = 2^e (1 + f)` with `1 + f` in
//! `[sqrt(1/2), sqrt(2))`, `s = f / (2 + f)`, and `log(1 + f) = f - f^2/2 +
//! s (f^2/2 + R(s^2))` — the arrangement of fdlibm's `log`, whose error is
//! mostly the last addition's — with our own `R`.

use super::super::lanes::Lanes;

/// `R(z) / z = (2 atanh(sqrt z) / sqrt z - 2) / z` on `[0, 0.0295]`,
/// highest degree first (runtime/tools/fit_math.py).
const R: [f64; 7] = [
    0.146_210_617_142_277_43,
    0.153_313_478_389_239_45,
    0.181_829_003_887_341_36,
    0.222_222_109_799_393_97,
    0.285_714_286_269_257_4,
    0.399_999_999_998_974_07,
    0.666_666_666_666_667,
];

/// `ln 2` in two parts: `LN2_HI` has 32 significant bits, so `e LN2_HI`
/// is exact for every exponent.
const LN2_HI: f64 = 0.693_147_180_601_954_5;
const LN2_LO: f64 = -4.200_915_072_681_084_6e-11;

/// `(f, e)` with `u = 2^e (1 + f)`, `1 + f` in `[sqrt(1/2), sqrt(2))`, `e`
/// as a float, for normal positive `u`.
fn split<L: Lanes<f64>>(l: &mut L, u: L::F) -> (L::F, L::F) {
    let b = l.bits(u);
    let e = l.sra(b, 52);
    // e - 1023 as a float: `ROUND`'s low mantissa bits hold it exactly
    let round_bits = l.i(6_755_399_441_055_744f64.to_bits() as i64 - 1023);
    let e = l.iadd(e, round_bits);
    let e = l.float(e);
    let round = l.f(6_755_399_441_055_744.0);
    let e = l.sub(e, round);
    let mant = l.i(0x000f_ffff_ffff_ffff);
    let m = l.iand(b, mant);
    let one = l.i(1f64.to_bits() as i64);
    let m = l.ior(m, one);
    let m = l.float(m);
    let sqrt2 = l.f(std::f64::consts::SQRT_2);
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

/// `e ln2 + log(1 + f) + c`, `c` a small correction.
fn combine<L: Lanes<f64>>(l: &mut L, f: L::F, e: L::F, c: L::F) -> L::F {
    let two = l.f(2.0);
    let den = l.add(f, two);
    let s = l.div(f, den);
    let z = l.mul(s, s);
    let r = l.horner(z, &R);
    let r = l.mul(r, z);
    let half = l.f(0.5);
    let hf = l.mul(half, f);
    let hfsq = l.mul(hf, f);
    let t = l.add(hfsq, r);
    let t = l.mul(s, t);
    let lo = l.f(LN2_LO);
    let elo = l.mul(e, lo);
    let elo = l.add(elo, c);
    let t = l.add(t, elo);
    let t = l.sub(t, hfsq);
    let t = l.add(t, f);
    let hi = l.f(LN2_HI);
    let ehi = l.mul(e, hi);
    l.add(t, ehi)
}

/// `-inf` at 0, `inf` at `inf`, NaN below 0 and for NaN.
fn edges<L: Lanes<f64>>(l: &mut L, u: L::F, r: L::F) -> L::F {
    let zero = l.f(0.0);
    let inf = l.f(f64::INFINITY);
    let is_inf = l.eq(u, inf);
    let r = l.select(is_inf, inf, r);
    let is_zero = l.eq(u, zero);
    let ninf = l.f(f64::NEG_INFINITY);
    let r = l.select(is_zero, ninf, r);
    let nonneg = l.le(zero, u);
    let neg = l.not(nonneg);
    let nan = l.f(f64::NAN);
    l.select(neg, nan, r)
}

/// The natural logarithm on `f64`; subnormal inputs first scaled by 2^54.
pub fn log<L: Lanes<f64>>(l: &mut L, x: L::F) -> L::F {
    let min = l.f(f64::MIN_POSITIVE);
    let tiny = l.lt(x, min);
    let scale = l.f(2f64.powi(54));
    let xs = l.mul(x, scale);
    let u = l.select(tiny, xs, x);
    let (f, e) = split(l, u);
    let m54 = l.f(-54.0);
    let zero = l.f(0.0);
    let adj = l.select(tiny, m54, zero);
    let e = l.add(e, adj);
    let r = combine(l, f, e, zero);
    edges(l, x, r)
}

/// `log(1 + x)` on `f64`: the logarithm of `u = 1 + x` plus what rounding
/// `u` lost, `c = (x - (u - 1)) / u` (`1 - (u - x)` for `u >= 2`, none from
/// 2^54 on); `x` itself below 2^-54 in magnitude.
pub fn log1p<L: Lanes<f64>>(l: &mut L, x: L::F) -> L::F {
    let one = l.f(1.0);
    let u = l.add(one, x);
    let um1 = l.sub(u, one);
    let small_c = l.sub(x, um1);
    let umx = l.sub(u, x);
    let large_c = l.sub(one, umx);
    let two = l.f(2.0);
    let large = l.le(two, u);
    let c = l.select(large, large_c, small_c);
    let huge_bound = l.f(2f64.powi(54));
    let huge = l.le(huge_bound, u);
    let zero = l.f(0.0);
    let c = l.select(huge, zero, c);
    let c = l.div(c, u);
    let (f, e) = split(l, u);
    let r = combine(l, f, e, c);
    let r = edges(l, u, r);
    let ax = l.abs(x);
    let tiny_bound = l.f(2f64.powi(-54));
    let tiny = l.lt(ax, tiny_bound);
    l.select(tiny, x, r)
}
