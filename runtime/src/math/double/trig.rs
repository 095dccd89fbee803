//! `sin`, `cos` and `tan` on `f64`: `x = k pi/2 + r + r_lo` by a six-part
//! Cody-Waite reduction (five 26-bit parts, so every `k * part` is exact for
//! `|k| < 2^27`, and a 53-bit one: 183 bits of `pi/2`), the first two
//! subtractions exact and the next two keeping what they round away, as
//! the `f32` functions do; then minimax polynomials for `sin` and `cos` on
//! `[-pi/4, pi/4]`. Beyond [`REDUCE_MAX`], musl's functions.

use super::super::lanes::{Fallback, Lanes};

/// The largest magnitude reduced here; beyond it, musl's functions.
pub const REDUCE_MAX: f64 = 67_108_864.0;

/// `pi/2` in six parts (runtime/tools/fit_math.py's split).
const PIO2: [f64; 6] = [
    1.570_796_340_703_964_2,
    -1.390_906_767_539_945_6e-8,
    6.123_233_932_053_594e-17,
    6.368_317_178_484_799e-25,
    -1.497_384_905_065_873e-33,
    2.067_032_109_826_398_8e-43,
];

/// `(sin r - r) / r^3` as a polynomial in `r^2`, highest degree first.
const SIN_S: [f64; 6] = [
    1.591_798_897_939_743_5e-10,
    -2.505_112_989_645_018_5e-8,
    2.755_731_609_319_840_4e-6,
    -1.984_126_983_674_053_2e-4,
    8.333_333_333_330_936e-3,
    -0.166_666_666_666_666_66,
];

/// `(cos r - 1 + r^2/2) / r^4` as a polynomial in `r^2`.
const COS_C: [f64; 6] = [
    -1.138_254_464_534_925e-11,
    2.087_614_504_941_318e-9,
    -2.755_731_726_587_808e-7,
    2.480_158_729_875_44e-5,
    -1.388_888_888_888_738_9e-3,
    0.041_666_666_666_666_664,
];

/// Below this, `sin x` and `tan x` round to `x`.
const TINY: f64 = 1.0 / 134_217_728.0;

/// `(s, e)` with `s = a - b` rounded and `s + e = a - b` exactly.
fn two_diff<L: Lanes<f64>>(l: &mut L, a: L::F, b: L::F) -> (L::F, L::F) {
    let s = l.sub(a, b);
    let v = l.sub(s, a);
    let sv = l.sub(s, v);
    let ea = l.sub(a, sv);
    let eb = l.add(b, v);
    let e = l.sub(ea, eb);
    (s, e)
}

/// `(r, r_lo, n)` with `x = n pi/2 + r + r_lo`.
fn reduce<L: Lanes<f64>>(l: &mut L, x: L::F) -> (L::F, L::F, L::I) {
    let c = l.f(std::f64::consts::FRAC_2_PI);
    let t = l.mul(x, c);
    let (k, n) = l.round_int(t);
    let mut kp = PIO2
        .map(|part| {
            let p = l.f(part);
            l.mul(k, p)
        })
        .into_iter();
    let mut next = || kp.next().expect("six parts");
    let r = l.sub(x, next());
    let r = l.sub(r, next());
    let (r, e3) = two_diff(l, r, next());
    let (r, e4) = two_diff(l, r, next());
    let lo = l.add(e3, e4);
    let lo = l.sub(lo, next());
    let lo = l.sub(lo, next());
    (r, lo, n)
}

/// `sin(r + lo)`: `r + (r z S(z) + lo)`.
fn sin_kernel<L: Lanes<f64>>(l: &mut L, r: L::F, lo: L::F, z: L::F) -> L::F {
    let s = l.horner(z, &SIN_S);
    let rz = l.mul(r, z);
    let s = l.mul(rz, s);
    let s = l.add(s, lo);
    l.add(r, s)
}

/// `cos(r + lo)`: `w = 1 - z/2` plus what rounding `w` lost, plus `z^2
/// C(z) - r lo`.
fn cos_kernel<L: Lanes<f64>>(l: &mut L, r: L::F, lo: L::F, z: L::F) -> L::F {
    let half = l.f(0.5);
    let hz = l.mul(z, half);
    let one = l.f(1.0);
    let w = l.sub(one, hz);
    let lost = l.sub(one, w);
    let lost = l.sub(lost, hz);
    let c = l.horner(z, &COS_C);
    let zz = l.mul(z, z);
    let c = l.mul(zz, c);
    let rlo = l.mul(r, lo);
    let c = l.sub(c, rlo);
    let tail = l.add(lost, c);
    l.add(w, tail)
}

/// Bit `bit` of `n` as a mask, and moved to the sign position.
fn quadrant_bit<L: Lanes<f64>>(l: &mut L, n: L::I, bit: u32) -> (L::M, L::I) {
    let one = l.i(1 << bit);
    let b = l.iand(n, one);
    let sign = l.shl(b, 63 - bit);
    let onef = l.f(1.0);
    let ob = l.bits(onef);
    let s = l.ior(ob, sign);
    let s = l.float(s);
    let zero = l.f(0.0);
    (l.lt(s, zero), sign)
}

/// `v`, but `x` where `x` is tiny, and `f(x)` beyond the reduction's range.
fn finish<L: Lanes<f64>>(l: &mut L, x: L::F, v: L::F, f: Fallback, tiny: bool) -> L::F {
    let ax = l.abs(x);
    let v = if tiny {
        let t = l.f(TINY);
        let is_tiny = l.lt(ax, t);
        l.select(is_tiny, x, v)
    } else {
        v
    };
    let max = l.f(REDUCE_MAX);
    let slow = l.lt(max, ax);
    l.slow_lanes(slow, v, f, &[x])
}

fn sin_or_cos<L: Lanes<f64>>(l: &mut L, x: L::F, cos: bool) -> L::F {
    let (r, lo, n) = reduce(l, x);
    let n = if cos {
        let one = l.i(1);
        l.iadd(n, one)
    } else {
        n
    };
    let z = l.mul(r, r);
    let s = sin_kernel(l, r, lo, z);
    let c = cos_kernel(l, r, lo, z);
    let (odd, _) = quadrant_bit(l, n, 0);
    let v = l.select(odd, c, s);
    let (_, negate) = quadrant_bit(l, n, 1);
    let v = l.flip(v, negate);
    let f = if cos { Fallback::Cos } else { Fallback::Sin };
    finish(l, x, v, f, !cos)
}

/// `sin x` on `f64` (radians).
pub fn sin<L: Lanes<f64>>(l: &mut L, x: L::F) -> L::F {
    sin_or_cos(l, x, false)
}

/// `cos x` on `f64` (radians).
pub fn cos<L: Lanes<f64>>(l: &mut L, x: L::F) -> L::F {
    sin_or_cos(l, x, true)
}

/// `tan x` on `f64`: `sin r / cos r`, or `-cos r / sin r` in odd quadrants.
pub fn tan<L: Lanes<f64>>(l: &mut L, x: L::F) -> L::F {
    let (r, lo, n) = reduce(l, x);
    let z = l.mul(r, r);
    let s = sin_kernel(l, r, lo, z);
    let c = cos_kernel(l, r, lo, z);
    let (odd, sign) = quadrant_bit(l, n, 0);
    let num = l.select(odd, c, s);
    let den = l.select(odd, s, c);
    let t = l.div(num, den);
    let t = l.flip(t, sign);
    finish(l, x, t, Fallback::Tan, true)
}

/// `(atan u - u) / u^3` as a polynomial in `u^2` on `|u| <= 7/16`, highest
/// degree first (runtime/tools/fit_math.py).
const ATAN_A: [f64; 11] = [
    -0.017_532_295_994_972_764,
    0.037_811_600_484_616_9,
    -0.050_334_165_154_982_353,
    0.058_476_124_445_213_65,
    -0.066_632_248_690_844_83,
    0.076_920_862_049_750_24,
    -0.090_909_001_405_855_5,
    0.111_111_108_990_496_64,
    -0.142_857_142_831_276_62,
    0.199_999_999_999_876_55,
    -0.333_333_333_333_333_26,
];

/// `atan(1/2)`, `pi/4`, `pi/2` and `pi` as `f64` plus the `f64` nearest the
/// rest.
const ATAN_HALF: (f64, f64) = (0.463_647_609_000_806_1, 2.269_877_745_296_168_7e-17);
const PIO4: (f64, f64) = (std::f64::consts::FRAC_PI_4, 3.061_616_997_868_383e-17);
const HALF_PI: (f64, f64) = (std::f64::consts::FRAC_PI_2, 6.123_233_995_736_766e-17);
const PI: (f64, f64) = (std::f64::consts::PI, 1.224_646_799_147_353_2e-16);

/// `hi - a + lo` for the constant `hi + lo`.
fn minus<L: Lanes<f64>>(l: &mut L, c: (f64, f64), a: L::F) -> L::F {
    let hi = l.f(c.0);
    let d = l.sub(hi, a);
    let lo = l.f(c.1);
    l.add(d, lo)
}

/// `atan2(y, x)` on `f64`: `t = min(|x|, |y|) / max(|x|, |y|)` in `[0, 1]`,
/// then `atan t` as `atan(c) + atan(u)` with `c` = 0, 1/2 or 1 by the band
/// `t` is in (below 7/16, below 11/16, above) and `u = (t - c) / (1 + c t)`
/// within 7/16 (fdlibm's bands), `atan u` by an odd polynomial; then the
/// quadrant, as the `f32` function does.
pub fn atan2<L: Lanes<f64>>(l: &mut L, y: L::F, x: L::F) -> L::F {
    let ax = l.abs(x);
    let ay = l.abs(y);
    let swap = l.lt(ax, ay);
    let num = l.select(swap, ax, ay);
    let den = l.select(swap, ay, ax);
    let t = l.div(num, den);
    let zero = l.f(0.0);
    let both_zero = l.eq(den, zero);
    let t = l.select(both_zero, zero, t);
    let inf = l.f(f64::INFINITY);
    let x_inf = l.eq(ax, inf);
    let y_inf = l.eq(ay, inf);
    let both_inf = l.and(x_inf, y_inf);
    let one = l.f(1.0);
    let t = l.select(both_inf, one, t);
    // u for c = 1/2: (2t - 1) / (2 + t); for c = 1: (t - 1) / (t + 1)
    let two = l.f(2.0);
    let t2 = l.add(t, t);
    let n_half = l.sub(t2, one);
    let d_half = l.add(two, t);
    let u_half = l.div(n_half, d_half);
    let n_one = l.sub(t, one);
    let d_one = l.add(t, one);
    let u_one = l.div(n_one, d_one);
    let b1 = l.f(7.0 / 16.0);
    let in_half = l.le(b1, t);
    let b2 = l.f(11.0 / 16.0);
    let in_one = l.le(b2, t);
    let u = l.select(in_half, u_half, t);
    let u = l.select(in_one, u_one, u);
    let half_hi = l.f(ATAN_HALF.0);
    let pio4_hi = l.f(PIO4.0);
    let base_hi = l.select(in_half, half_hi, zero);
    let base_hi = l.select(in_one, pio4_hi, base_hi);
    let half_lo = l.f(ATAN_HALF.1);
    let pio4_lo = l.f(PIO4.1);
    let base_lo = l.select(in_half, half_lo, zero);
    let base_lo = l.select(in_one, pio4_lo, base_lo);
    let z = l.mul(u, u);
    let p = l.horner(z, &ATAN_A);
    let uz = l.mul(u, z);
    let p = l.mul(uz, p);
    let p = l.add(p, base_lo);
    let a = l.add(u, p);
    let a = l.add(base_hi, a);
    let from_y = minus(l, HALF_PI, a);
    let a = l.select(swap, from_y, a);
    let sx = l.copysign(one, x);
    let x_neg = l.lt(sx, zero);
    let from_left = minus(l, PI, a);
    let a = l.select(x_neg, from_left, a);
    l.copysign(a, y)
}
