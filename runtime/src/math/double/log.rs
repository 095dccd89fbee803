//! `log` and `log1p` on `f64`: `u = 2^e (1 + f)` with `1 + f` in
//! `[sqrt(1/2), sqrt(2))`, `s = f / (2 + f)`, and `log(1 + f) = f - f^2/2 +
//! s (f^2/2 + R(s^2))` — the arrangement of fdlibm's `log`, whose error is
//! mostly the last addition's — with our own `R`.

use super::super::lanes::Lanes;
use super::super::log::{LogConsts, log_of, log1p_of};

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

impl LogConsts for f64 {
    fn combine<L: Lanes<f64>>(l: &mut L, f: L::F, e: L::F, c: L::F) -> L::F {
        combine(l, f, e, c)
    }
    const SUBNORMAL_SCALE: i32 = 54;
    const LOG1P_HUGE: f64 = 18_014_398_509_481_984.0;
    const LOG1P_TINY: f64 = 1.0 / 18_014_398_509_481_984.0;
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

/// The natural logarithm on `f64` ([`log_of`]; subnormals scaled by
/// 2^54).
pub fn log<L: Lanes<f64>>(l: &mut L, x: L::F) -> L::F {
    log_of::<f64, L>(l, x)
}

/// `log(1 + x)` on `f64` ([`log1p_of`]).
pub fn log1p<L: Lanes<f64>>(l: &mut L, x: L::F) -> L::F {
    log1p_of::<f64, L>(l, x)
}
