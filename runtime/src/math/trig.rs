//! `sin`, `cos`, `tan` on `f32` and `f64` (their constants per type:
//! [`TrigConsts`], `f64`'s in `double/trig.rs`), and `atan2` on `f32`.
//!
//! `sin`, `cos`, `tan`: `x = k pi/2 + r` with `|r| <= pi/4` by a six-part
//! Cody-Waite reduction (79 bits of `pi/2` in `f32`, 183 in `f64`), then
//! minimax polynomials for `sin r` and `cos r` chosen and signed by `k mod
//! 4`. Above `REDUCE_MAX` in magnitude the reduction would lose bits, and
//! those lanes go to musl's functions with their full-range (Payne-Hanek)
//! reduction — a branch the vector code takes only when some lane needs
//! it.

use super::lanes::{Elem, Fallback, Lanes};

/// The constants `sin`, `cos` and `tan` are computed with in one float
/// type; the algorithm below is the same for both.
pub trait TrigConsts: Elem {
    /// The largest magnitude reduced here; beyond it, musl's functions.
    const REDUCE_MAX: Self;
    /// `pi/2` in six parts: the first five short enough that `k * part` is
    /// exact for every `k` up to `REDUCE_MAX / (pi/2)`, the last the rest.
    const PIO2: [Self; 6];
    /// `2/pi`
    const TWO_OVER_PI: Self;
    /// `(sin r - r) / r^3` as a polynomial in `r^2` on `|r| <= pi/4`,
    /// highest degree first.
    const SIN_S: &'static [Self];
    /// `(cos r - 1 + r^2/2) / r^4` as a polynomial in `r^2`.
    const COS_C: &'static [Self];
    /// Below this in magnitude `sin x` and `tan x` round to `x` (their
    /// next terms, `x^3/6` and `x^3/3`, are under a quarter ulp of `x`).
    const TINY: Self;
}

impl TrigConsts for f32 {
    const REDUCE_MAX: f32 = 8192.0;
    /// The first five with 11 significant bits (runtime/tools/fit_math.py's
    /// split, `|k| < 2^13`), together within 2^-91 of `pi/2`.
    const PIO2: [f32; 6] = [
        1.570_312_5,
        4.837_513e-4,
        7.549_533_6e-8,
        2.563_283e-12,
        6.125_742e-17,
        -2.508_278_8e-20,
    ];
    const TWO_OVER_PI: f32 = std::f32::consts::FRAC_2_PI;
    const SIN_S: &'static [f32] = &[-1.951_528_4e-4, 8.332_16e-3, -0.166_666_55];
    const COS_C: &'static [f32] = &[2.443_315_7e-5, -1.388_731_6e-3, 0.041_666_646];
    const TINY: f32 = 1.0 / 4096.0;
}

/// `(r, r_lo, n)`: `x = n pi/2 + r + r_lo` with `r_lo` below half an ulp
/// of `r`, `n` as an integer (only its low bits are used), for `|x| <=
/// REDUCE_MAX`. `x - k P1 - k P2` is exact (every term a multiple of the
/// last one's lowest bit, the sum below 2^(mantissa bits) of them);
/// subtracting `k P3` and `k P4` keeps what each rounding loses (two-sum),
/// so a result near a multiple of `pi/2`, where the subtractions cancel,
/// and one far from it, where they round, are both kept to about twice the
/// precision of `r`.
fn reduce<T: TrigConsts, L: Lanes<T>>(l: &mut L, x: L::F) -> (L::F, L::F, L::I) {
    let c = l.f(T::TWO_OVER_PI);
    let t = l.mul(x, c);
    let (k, n) = l.round_int(t);
    let mut kp = T::PIO2
        .map(|part| {
            let p = l.f(part);
            l.mul(k, p)
        })
        .into_iter();
    let mut next = || kp.next().expect("six parts");
    let r = l.sub(x, next());
    let r = l.sub(r, next());
    let (r, e3) = l.two_diff(r, next());
    let (r, e4) = l.two_diff(r, next());
    let lo = l.add(e3, e4);
    let lo = l.sub(lo, next());
    let lo = l.sub(lo, next());
    (r, lo, n)
}

/// `sin(r + lo)` for `|r| <= pi/4`, `z = r^2`: `r + (r z S(z) + lo)`.
fn sin_kernel<T: TrigConsts, L: Lanes<T>>(l: &mut L, r: L::F, lo: L::F, z: L::F) -> L::F {
    let s = l.horner(z, T::SIN_S);
    let rz = l.mul(r, z);
    let s = l.mul(rz, s);
    let s = l.add(s, lo);
    l.add(r, s)
}

/// `cos(r + lo)` for `|r| <= pi/4`, `z = r^2`: `w = 1 - z/2` plus what
/// rounding `w` lost, plus `z^2 C(z) - r lo` (musl's `__cosdf`
/// arrangement).
fn cos_kernel<T: TrigConsts, L: Lanes<T>>(l: &mut L, r: L::F, lo: L::F, z: L::F) -> L::F {
    let half = l.c(0.5);
    let hz = l.mul(z, half);
    let one = l.c(1.0);
    let w = l.sub(one, hz);
    let lost = l.sub(one, w);
    let lost = l.sub(lost, hz);
    let c = l.horner(z, T::COS_C);
    let zz = l.mul(z, z);
    let c = l.mul(zz, c);
    let rlo = l.mul(r, lo);
    let c = l.sub(c, rlo);
    let tail = l.add(lost, c);
    l.add(w, tail)
}

/// Whether bit `bit` of `n` is set, as a mask, and that bit moved to the
/// sign position.
fn quadrant_bit<T: TrigConsts, L: Lanes<T>>(l: &mut L, n: L::I, bit: u32) -> (L::M, L::I) {
    let one = l.i(T::int(1 << bit));
    let b = l.iand(n, one);
    let sign = l.shl(b, T::BITS - 1 - bit);
    // a float whose sign is that bit: below zero exactly when it is set
    let onef = l.c(1.0);
    let ob = l.bits(onef);
    let s = l.ior(ob, sign);
    let s = l.float(s);
    let zero = l.c(0.0);
    (l.lt(s, zero), sign)
}

/// `v`, but `x` itself where `x` is tiny (`tiny`: for `sin` and `tan`;
/// this also keeps the sign of zero), and lanes beyond [`TrigConsts::REDUCE_MAX`]
/// (and infinities) to `f`.
fn finish<T: TrigConsts, L: Lanes<T>>(
    l: &mut L,
    x: L::F,
    v: L::F,
    f: Fallback,
    tiny: bool,
) -> L::F {
    let ax = l.abs(x);
    let v = if tiny {
        let t = l.f(T::TINY);
        let is_tiny = l.lt(ax, t);
        l.select(is_tiny, x, v)
    } else {
        v
    };
    let max = l.f(T::REDUCE_MAX);
    let slow = l.lt(max, ax);
    l.slow_lanes(slow, v, f, &[x])
}

/// `sin x`, and `cos x` as `sin` a quadrant on.
fn sin_or_cos<T: TrigConsts, L: Lanes<T>>(l: &mut L, x: L::F, cos: bool) -> L::F {
    let (r, lo, n) = reduce(l, x);
    let n = if cos {
        let one = l.i(T::int(1));
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

/// `sin x` (radians), in either type.
pub fn sin_of<T: TrigConsts, L: Lanes<T>>(l: &mut L, x: L::F) -> L::F {
    sin_or_cos(l, x, false)
}

/// `sin x` on `f32` (radians).
pub fn sin<L: Lanes<f32>>(l: &mut L, x: L::F) -> L::F {
    sin_of::<f32, L>(l, x)
}

/// `cos x` (radians), in either type.
pub fn cos_of<T: TrigConsts, L: Lanes<T>>(l: &mut L, x: L::F) -> L::F {
    sin_or_cos(l, x, true)
}

/// `cos x` on `f32` (radians).
pub fn cos<L: Lanes<f32>>(l: &mut L, x: L::F) -> L::F {
    cos_of::<f32, L>(l, x)
}

/// `tan x` on `f32`.
pub fn tan<L: Lanes<f32>>(l: &mut L, x: L::F) -> L::F {
    tan_of::<f32, L>(l, x)
}

/// `tan x`, in either type: `sin r / cos r`, or `-cos r / sin r` in odd
/// quadrants.
pub fn tan_of<T: TrigConsts, L: Lanes<T>>(l: &mut L, x: L::F) -> L::F {
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

/// `atan t` on `[0, 1]`: `(atan t - t) / t^3` as a polynomial in `t^2`,
/// highest degree first (runtime/tools/fit_math.py).
const ATAN_A: [f32; 9] = [
    -0.001_793_622_7,
    0.010_914_611,
    -0.031_177_856,
    0.057_957_605,
    -0.084_034_51,
    0.109_521_86,
    -0.142_642_42,
    0.199_985_49,
    -0.333_333,
];

/// `pi/2` and `pi` as `f32` plus the `f32` nearest the rest.
const PIO2_HI_LO: (f32, f32) = (1.570_796_4, -4.371_139e-8);
const PI: (f32, f32) = (std::f32::consts::PI, -8.742_278e-8);

/// `atan2(y, x)` on `f32`: the angle of the point `(x, y)` in `[-pi, pi]`.
/// `t = min(|x|, |y|) / max(|x|, |y|)` in `[0, 1]`; `atan t` by an odd
/// polynomial; then `pi/2 - a` where
/// `|y| > |x|`, `pi - a` where `x` is negative (its sign bit: `-0` too),
/// and the sign of `y`. Both zero: `0` or `pi`; both infinite: `pi/4` or
/// `3pi/4`, as C99.
pub fn atan2<L: Lanes<f32>>(l: &mut L, y: L::F, x: L::F) -> L::F {
    let (t, swap) = atan2_ratio(l, y, x);
    let z = l.mul(t, t);
    let p = l.horner(z, &ATAN_A);
    let tz = l.mul(t, z);
    let p = l.mul(tz, p);
    let a = l.add(t, p);
    // `|x| == |y|` (both infinite too): `pi/4` rounded, which the
    // polynomial misses by an ulp at its end
    let one = l.c(1.0);
    let diagonal = l.eq(t, one);
    let pio4 = l.f(std::f32::consts::FRAC_PI_4);
    let a = l.select(diagonal, pio4, a);
    atan2_quadrant(l, a, swap, y, x, PIO2_HI_LO, PI)
}

/// `atan2`'s reduction, in either type: `(t, swap)` with `t = min(|x|,
/// |y|) / max(|x|, |y|)` in `[0, 1]` (0 where both are zero, 1 where both
/// are infinite) and `swap` where `|y| > |x|`.
pub(super) fn atan2_ratio<T: Elem, L: Lanes<T>>(l: &mut L, y: L::F, x: L::F) -> (L::F, L::M) {
    let ax = l.abs(x);
    let ay = l.abs(y);
    let swap = l.lt(ax, ay);
    let num = l.select(swap, ax, ay);
    let den = l.select(swap, ay, ax);
    let t = l.div(num, den);
    let zero = l.c(0.0);
    let both_zero = l.eq(den, zero);
    let t = l.select(both_zero, zero, t);
    let inf = l.c(f64::INFINITY);
    let x_inf = l.eq(ax, inf);
    let y_inf = l.eq(ay, inf);
    let both_inf = l.and(x_inf, y_inf);
    let one = l.c(1.0);
    (l.select(both_inf, one, t), swap)
}

/// `atan2` from `a = atan t` of [`atan2_ratio`], in either type: `pi/2 -
/// a` where it swapped, `pi - a` where `x` is negative (its sign bit: `-0`
/// too), and the sign of `y`; `pio2` and `pi` in two parts.
pub(super) fn atan2_quadrant<T: Elem, L: Lanes<T>>(
    l: &mut L,
    a: L::F,
    swap: L::M,
    y: L::F,
    x: L::F,
    pio2: (T, T),
    pi: (T, T),
) -> L::F {
    let from_y = l.minus_from(pio2, a);
    let a = l.select(swap, from_y, a);
    // `x`'s sign bit as a comparison: `copysign(1, x) < 0`
    let one = l.c(1.0);
    let sx = l.copysign(one, x);
    let zero = l.c(0.0);
    let x_neg = l.lt(sx, zero);
    let from_left = l.minus_from(pi, a);
    let a = l.select(x_neg, from_left, a);
    l.copysign(a, y)
}
