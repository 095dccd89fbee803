//! `exp`, `expm1` and `tanh` on `f64`: `x = k ln2 + r`, `|r| <= ln2/2`, and
//! `e^r - 1 = r + r^2 P(r)`.

use super::super::lanes::Lanes;

/// Above this `e^x` overflows; clamped here so `2^k` stays meaningful.
const HI: f64 = 710.0;
/// Below this `e^x` is 0.
const LO: f64 = -746.0;
/// `ln 2` in two parts: `LN2_HI` has 32 significant bits, so `k LN2_HI` is
/// exact for every `k` the clamped range gives.
const LN2_HI: f64 = 0.693_147_180_601_954_5;
const LN2_LO: f64 = -4.200_915_072_681_084_6e-11;

/// `(e^r - 1 - r) / r^2` on `|r| <= ln2/2`, highest degree first
/// (runtime/tools/fit_math.py; within 2^-56 relative).
const P: [f64; 12] = [
    1.608_678_194_861_306_6e-10,
    2.091_836_877_654_225e-9,
    2.505_207_067_688_416_2e-8,
    2.755_726_265_283_68e-7,
    2.755_731_924_760_984e-6,
    2.480_158_733_702_903e-5,
    1.984_126_984_126_315_2e-4,
    1.388_888_888_887_885_4e-3,
    8.333_333_333_333_333e-3,
    4.166_666_666_666_668e-2,
    1.666_666_666_666_666_6e-1,
    0.5,
];

/// `(k's integer, r)` with `x = k ln2 + r`.
fn reduce<L: Lanes<f64>>(l: &mut L, x: L::F) -> (L::I, L::F) {
    let c = l.f(std::f64::consts::LOG2_E);
    let t = l.mul(x, c);
    let (k, n) = l.round_int(t);
    let hi = l.f(LN2_HI);
    let khi = l.mul(k, hi);
    let r = l.sub(x, khi);
    let lo = l.f(LN2_LO);
    let klo = l.mul(k, lo);
    (n, l.sub(r, klo))
}

/// `e^r - 1` for the reduced `r`.
fn expm1_reduced<L: Lanes<f64>>(l: &mut L, r: L::F) -> L::F {
    let p = l.horner(r, &P);
    let rr = l.mul(r, r);
    let p = l.mul(p, rr);
    l.add(p, r)
}

/// `2^n` for `-1022 <= n <= 1023`, from exponent bits.
fn pow2<L: Lanes<f64>>(l: &mut L, n: L::I) -> L::F {
    let bias = l.i(1023);
    let e = l.iadd(n, bias);
    let e = l.shl(e, 52);
    l.float(e)
}

/// `e^x` on `f64`: `(1 + (e^r - 1)) 2^k`, `2^k` as two powers of two so
/// that subnormal results are rounded once.
pub fn exp<L: Lanes<f64>>(l: &mut L, x: L::F) -> L::F {
    let x = l.clamp(x, LO, HI);
    let (n, r) = reduce(l, x);
    let em1 = expm1_reduced(l, r);
    let one = l.f(1.0);
    let p = l.add(em1, one);
    let n1 = l.sra(n, 1);
    let n2 = l.isub(n, n1);
    let s1 = pow2(l, n1);
    let s2 = pow2(l, n2);
    let p = l.mul(p, s1);
    l.mul(p, s2)
}

/// `e^x - 1` on `f64`: `2 (2^(k-1) (e^r - 1) + (2^(k-1) - 1/2))`; `x`
/// itself below 2^-54 in magnitude, `-1` below -40.
pub fn expm1<L: Lanes<f64>>(l: &mut L, x: L::F) -> L::F {
    let xc = l.clamp(x, -40.0, HI);
    let (n, r) = reduce(l, xc);
    let em1 = expm1_reduced(l, r);
    let one = l.i(1);
    let n1 = l.isub(n, one);
    let s = pow2(l, n1);
    let half = l.f(0.5);
    let sm = l.sub(s, half);
    let y = l.mul(em1, s);
    let y = l.add(y, sm);
    let y = l.add(y, y);
    let ax = l.abs(x);
    let tiny = l.f(2f64.powi(-54));
    let is_tiny = l.lt(ax, tiny);
    l.select(is_tiny, x, y)
}

/// `(tanh x - x) / x^3` as a polynomial in `x^2` on `|x| <= 0.55`,
/// highest degree first (runtime/tools/fit_math.py).
const TANH_T: [f64; 11] = [
    -2.059_003_703_476_760_8e-5,
    8.509_481_082_749_288e-5,
    -2.346_235_564_045_879e-4,
    5.889_322_836_960_864e-4,
    -1.455_661_065_350_347_3e-3,
    3.592_110_282_982_748_3e-3,
    -8.863_234_390_552_772e-3,
    2.186_948_849_335_196_6e-2,
    -5.396_825_396_742_711e-2,
    0.133_333_333_333_327_1,
    -0.333_333_333_333_333_3,
];

/// `tanh x` on `f64`: `x + x^3 T(x^2)` below 0.55 in magnitude, `1 - 2 /
/// (expm1(2|x|) + 2)` with the sign of `x` above (where the result is over
/// one half, so the subtraction loses nothing); `x` itself below 2^-28.
pub fn tanh<L: Lanes<f64>>(l: &mut L, x: L::F) -> L::F {
    let z = l.mul(x, x);
    let t = l.horner(z, &TANH_T);
    let xz = l.mul(x, z);
    let t = l.mul(xz, t);
    let small = l.add(x, t);
    let ax = l.abs(x);
    let ax2 = l.add(ax, ax);
    let e = expm1(l, ax2);
    let two = l.f(2.0);
    let e2 = l.add(e, two);
    let q = l.div(two, e2);
    let one = l.f(1.0);
    let big = l.sub(one, q);
    let big = l.copysign(big, x);
    let bound = l.f(0.55);
    let is_small = l.lt(ax, bound);
    let r = l.select(is_small, small, big);
    let tiny = l.f(2f64.powi(-28));
    let is_tiny = l.lt(ax, tiny);
    l.select(is_tiny, x, r)
}
