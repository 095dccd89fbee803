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
