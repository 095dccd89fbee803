//! `sin`, `cos` and `tan` on `f64`: the `f32` algorithm (`trig.rs`) with
//! `f64` constants — five 26-bit parts of `pi/2` and a 53-bit one, so every
//! `k * part` is exact for `|k| < 2^27`, and `f64` minimax polynomials;
//! beyond 2^26 in magnitude, musl's functions. And `atan2` on `f64`.

use super::super::lanes::Lanes;
use super::super::trig::{TrigConsts, atan2_quadrant, atan2_ratio};

impl TrigConsts for f64 {
    const REDUCE_MAX: f64 = 67_108_864.0;
    /// Five 26-bit parts (`|k| < 2^27`) and a 53-bit one
    /// (runtime/tools/fit_math.py's split).
    const PIO2: [f64; 6] = [
        1.570_796_340_703_964_2,
        -1.390_906_767_539_945_6e-8,
        6.123_233_932_053_594e-17,
        6.368_317_178_484_799e-25,
        -1.497_384_905_065_873e-33,
        2.067_032_109_826_398_8e-43,
    ];
    const TWO_OVER_PI: f64 = std::f64::consts::FRAC_2_PI;
    const SIN_S: &'static [f64] = &[
        1.591_798_897_939_743_5e-10,
        -2.505_112_989_645_018_5e-8,
        2.755_731_609_319_840_4e-6,
        -1.984_126_983_674_053_2e-4,
        8.333_333_333_330_936e-3,
        -0.166_666_666_666_666_66,
    ];
    const COS_C: &'static [f64] = &[
        -1.138_254_464_534_925e-11,
        2.087_614_504_941_318e-9,
        -2.755_731_726_587_808e-7,
        2.480_158_729_875_44e-5,
        -1.388_888_888_888_738_9e-3,
        0.041_666_666_666_666_664,
    ];
    const TINY: f64 = 1.0 / 134_217_728.0;
}

/// `sin x` on `f64` (radians).
pub fn sin<L: Lanes<f64>>(l: &mut L, x: L::F) -> L::F {
    super::super::trig::sin_of::<f64, L>(l, x)
}

/// `cos x` on `f64` (radians).
pub fn cos<L: Lanes<f64>>(l: &mut L, x: L::F) -> L::F {
    super::super::trig::cos_of::<f64, L>(l, x)
}

/// `tan x` on `f64`.
pub fn tan<L: Lanes<f64>>(l: &mut L, x: L::F) -> L::F {
    super::super::trig::tan_of::<f64, L>(l, x)
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

/// `atan2(y, x)` on `f64`: `t = min(|x|, |y|) / max(|x|, |y|)` in `[0, 1]`,
/// then `atan t` as `atan(c) + atan(u)` with `c` = 0, 1/2 or 1 by the band
/// `t` is in (below 7/16, below 11/16, above) and `u = (t - c) / (1 + c t)`
/// within 7/16 (fdlibm's bands), `atan u` by an odd polynomial; then the
/// quadrant, as the `f32` function does.
pub fn atan2<L: Lanes<f64>>(l: &mut L, y: L::F, x: L::F) -> L::F {
    let (t, swap) = atan2_ratio(l, y, x);
    let zero = l.c(0.0);
    let one = l.c(1.0);
    // u for c = 1/2: (2t - 1) / (2 + t); for c = 1: (t - 1) / (t + 1)
    let two = l.c(2.0);
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
    atan2_quadrant(l, a, swap, y, x, HALF_PI, PI)
}
