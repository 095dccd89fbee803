//! `pow` on `f32`: `2^(y log2|x|)`, with `log2|x|`, the product and `2^t`
//! computed in `f64` lanes so that the one rounding to `f32` at the end is
//! nearly the only error, then the cases C99 defines (zeros, infinities,
//! NaN, negative bases) chosen per lane.

use super::lanes::{Fallback, Wide};
use super::log::split_any;

/// `1.5 * 2^52`: adding and subtracting it rounds an `f64` below 2^51 in
/// magnitude to the nearest integer.
const ROUND_F64: f64 = 6_755_399_441_055_744.0;

/// `1 / ln 2`
const LOG2_E: f64 = std::f64::consts::LOG2_E;

/// `2^r` for `|r| <= 1/2`, within 2^-29 relative: the minimax polynomial,
/// highest degree first (runtime/tools/fit_math.py).
const EXP2: [f64; 7] = [
    0.000_153_458_118_810_161_5,
    0.001_339_993_121_821_239_1,
    0.009_618_488_957_563_062,
    0.055_503_287_769_680_73,
    0.240_226_468_906_300_76,
    0.693_147_205_737_263_8,
    1.000_000_000_554_166,
];

/// `log m` for `m = 1 + f` in `[sqrt(1/2), sqrt(2))`: `2 atanh(s)`,
/// `s = f / (2 + f)` (below 0.172), as `s (2 + z (2/3 + z (2/5 + ...)))`,
/// `z = s^2`, to `z^6`: the next term is below 2^-39 of the sum, and `t =
/// y log2|x|` needs 2^-35 where it is in range (`|y log m| <= |t| <= 151`
/// for 2^-28 absolute).
fn log_mantissa<L: Wide>(l: &mut L, f: L::D) -> L::D {
    let two = l.d(2.0);
    let den = l.dadd(f, two);
    let s = l.ddiv(f, den);
    let z = l.dmul(s, s);
    let mut p = l.d(2.0 / 13.0);
    for k in (0..6).rev() {
        let pz = l.dmul(p, z);
        let c = l.d(2.0 / (2 * k + 1) as f64);
        p = l.dadd(pz, c);
    }
    l.dmul(s, p)
}

/// `r` rounded to the nearest integer (ties to even), for `|r| < 2^51`.
fn round_f64<L: Wide>(l: &mut L, r: L::D) -> L::D {
    let m = l.d(ROUND_F64);
    let t = l.dadd(r, m);
    l.dsub(t, m)
}

/// `x^y` on `f32`: within 1 ulp (the `f64` part is good to about 2^-28,
/// so nearly all of the error is the final rounding). Vector code takes
/// the short path — a normal positive base, a result in the exponent range
/// — and leaves other lanes to [`pow_everywhere`], the same computation
/// with every special case, behind a branch taken only when some lane
/// needs it.
pub fn pow<L: Wide>(l: &mut L, x: L::F, y: L::F) -> L::F {
    let (r, t) = core(l, x, y);
    let min = l.f(f32::MIN_POSITIVE);
    let inf = l.f(f32::INFINITY);
    let x_normal = l.le(min, x);
    let x_finite = l.lt(x, inf);
    let bottom = l.f(-151.0);
    let top = l.f(128.0);
    let above = l.lt(bottom, t);
    let below = l.lt(t, top);
    let ok = l.and(x_normal, x_finite);
    let ok = l.and(ok, above);
    let ok = l.and(ok, below);
    let slow = l.not(ok);
    l.slow_lanes(slow, r, Fallback::Pow, &[x, y])
}

/// `(p 2^k, t)` for `t = y log2|x|`: `x^y` where `|x|` is finite and
/// positive and `t` in the exponent range.
fn core<L: Wide>(l: &mut L, x: L::F, y: L::F) -> (L::F, L::F) {
    let ax = l.abs(x);
    let (f, e) = split_any(l, ax);
    let [p, k, t] = l.in_f64([f, e, y], |l, [f, e, y]| {
        // t = y log2|x|, k = round(t), p = 2^(t - k)
        let lm = log_mantissa(l, f);
        let c = l.d(LOG2_E);
        let lm = l.dmul(lm, c);
        let log2x = l.dadd(e, lm);
        let t = l.dmul(y, log2x);
        let k = round_f64(l, t);
        let r = l.dsub(t, k);
        let mut p = l.d(EXP2[0]);
        for &c in &EXP2[1..] {
            let pr = l.dmul(p, r);
            let c = l.d(c);
            p = l.dadd(pr, c);
        }
        [p, k, t]
    });
    // p 2^k, in two factors so that 2^k may be subnormal or 2^128
    let (_, n) = l.round_int(k);
    let n1 = l.sra(n, 1);
    let n2 = l.isub(n, n1);
    let mut r = p;
    for half in [n1, n2] {
        let bias = l.i(127);
        let b = l.iadd(half, bias);
        let b = l.shl(b, 23);
        let s = l.float(b);
        r = l.mul(r, s);
    }
    (r, t)
}

/// `x^y` on `f32` for every `x` and `y`: [`pow`]'s computation, then the
/// cases C99 defines (zeros, infinities, NaN, negative bases) chosen per
/// lane.
pub fn pow_everywhere<L: Wide>(l: &mut L, x: L::F, y: L::F) -> L::F {
    let (r, t) = core(l, x, y);
    let ax = l.abs(x);
    // y and y/2 rounded to integers: whether y is an integer, and odd
    let [ky, kh] = l.in_f64([y], |l, [y]| {
        let ky = round_f64(l, y);
        let half = l.d(0.5);
        let h = l.dmul(y, half);
        let kh = round_f64(l, h);
        [ky, kh]
    });
    // beyond the exponent range (and where `k` is not meaningful)
    let zero = l.f(0.0);
    let one = l.f(1.0);
    let inf = l.f(f32::INFINITY);
    let nan = l.f(f32::NAN);
    let top = l.f(128.0);
    let over = l.lt(top, t);
    let r = l.select(over, inf, r);
    let bottom = l.f(-151.0);
    let under = l.lt(t, bottom);
    let r = l.select(under, zero, r);
    // y an integer (every f32 from 2^24 on is an even one), and odd
    let ay = l.abs(y);
    let big = l.f(16_777_216.0);
    let y_big = l.le(big, ay);
    let y_round = l.eq(ky, y);
    let y_int = l.or(y_big, y_round);
    let half = l.f(0.5);
    let halfy = l.mul(y, half);
    let y_even = l.eq(kh, halfy);
    let y_not_even = l.not(y_even);
    let y_odd = l.and(y_int, y_not_even);
    let y_small = l.not(y_big);
    let y_odd = l.and(y_odd, y_small);
    // a negative finite base needs an integer exponent
    let x_neg = l.lt(x, zero);
    let ninf = l.f(f32::NEG_INFINITY);
    let x_finite = l.lt(ninf, x);
    let y_frac = l.not(y_int);
    let bad = l.and(x_neg, x_finite);
    let bad = l.and(bad, y_frac);
    let r = l.select(bad, nan, r);
    // |x| = 0 or inf: 0, 1 or inf by the sign of y
    let y_neg = l.lt(y, zero);
    let y_zero = l.eq(y, zero);
    let small_case = l.select(y_neg, inf, zero);
    let x_zero = l.eq(ax, zero);
    let r = l.select(x_zero, small_case, r);
    let large_case = l.select(y_neg, zero, inf);
    let x_inf = l.eq(ax, inf);
    let r = l.select(x_inf, large_case, r);
    // the sign: a negative base (-0 too) to an odd power
    let sx = l.copysign(one, x);
    let x_signed = l.lt(sx, zero);
    let flip = l.and(x_signed, y_odd);
    let rb = l.bits(r);
    let sign = l.i(i32::MIN);
    let nb = l.ixor(rb, sign);
    let neg = l.float(nb);
    let r = l.select(flip, neg, r);
    // NaN base: NaN (unless y is 0, below)
    let x_num = l.eq(x, x);
    let x_nan = l.not(x_num);
    let r = l.select(x_nan, x, r);
    // 1 whatever the other operand: x = 1, y = 0, and x = -1 with y = ±inf
    let ay_inf = l.eq(ay, inf);
    let unit = l.eq(ax, one);
    let unit_inf = l.and(unit, ay_inf);
    let x_one = l.eq(x, one);
    let ones = l.or(unit_inf, x_one);
    let ones = l.or(ones, y_zero);
    l.select(ones, one, r)
}
