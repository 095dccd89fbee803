//! `exp`, `expm1` and `tanh` on `f64`: the `f32` algorithms (`exp.rs`)
//! with `f64` constants, and a `tanh` of its own.

use super::super::exp::{ExpConsts, TanhConsts, exp_of, expm1_of, tanh_of};
use super::super::lanes::Lanes;

impl ExpConsts for f64 {
    const LO: f64 = -746.0;
    const HI: f64 = 710.0;
    /// The first part has 32 significant bits: `k` times it is exact for
    /// every `k` the clamped range gives.
    const LN2: (f64, f64) = (0.693_147_180_601_954_5, -4.200_915_072_681_084_6e-11);
    /// Within 2^-56 relative (runtime/tools/fit_math.py).
    const P: &'static [f64] = &[
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
    const EXPM1_LO: f64 = -40.0;
    const EXPM1_TINY: f64 = 1.0 / 18_014_398_509_481_984.0;
}

/// `e^x` on `f64` ([`exp_of`]).
pub fn exp<L: Lanes<f64>>(l: &mut L, x: L::F) -> L::F {
    exp_of::<f64, L>(l, x)
}

/// `e^x - 1` on `f64` ([`expm1_of`]).
pub fn expm1<L: Lanes<f64>>(l: &mut L, x: L::F) -> L::F {
    expm1_of::<f64, L>(l, x)
}

impl TanhConsts for f64 {
    /// On `|x| <= 0.55` (runtime/tools/fit_math.py).
    const T: &'static [f64] = &[
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
    const SMALL: f64 = 0.55;
    const TINY: f64 = 1.0 / 268_435_456.0;
    /// `expm1(y) + 2`: no rounding of `e^y` near 1 to lose.
    fn exp_plus_one<L: Lanes<f64>>(l: &mut L, y: L::F) -> L::F {
        let e = expm1(l, y);
        let two = l.c(2.0);
        l.add(e, two)
    }
}

/// `tanh x` on `f64` ([`tanh_of`]).
pub fn tanh<L: Lanes<f64>>(l: &mut L, x: L::F) -> L::F {
    tanh_of::<f64, L>(l, x)
}
