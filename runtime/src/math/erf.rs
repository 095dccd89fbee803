//! The error function on `f32`: `x + x E(x^2)` below 0.875 in magnitude, and
//! `1 - e^Q(|x|)` (with `x`'s sign) above, `Q` a fit to `log(erfc)` on
//! `[0.875, 4]`; from 4 on, `erf` is 1 in `f32`.

use super::exp::exp;
use super::lanes::Lanes;

/// Below this, the odd polynomial.
const SMALL: f32 = 0.875;

/// `erf(x) / x - 1` as a polynomial in `x^2` on `[0, 0.875]`, highest
/// degree first (runtime/tools/fit_math.py): `erf x = x + x E(x^2)`, whose
/// last operation adds a term an eighth the size of `x`.
const ERF_E: [f32; 7] = [
    8.675_411e-5,
    -8.211_108_5e-4,
    5.206_748e-3,
    -0.026_861_586,
    0.112_837_33,
    -0.376_126_35,
    0.128_379_17,
];

/// `log(erfc(x))` as a polynomial in `x` on `[0.875, 4]`, highest degree
/// first.
const ERF_Q: [f32; 9] = [
    -1.025_898_5e-6,
    -7.338_537e-6,
    3.554_613_2e-4,
    -3.917_216e-3,
    0.024_620_1,
    -0.107_664_12,
    -0.633_812_5,
    -1.129_317_6,
    1.387_883e-4,
];

/// `erf x` on `f32`.
pub fn erf<L: Lanes<f32>>(l: &mut L, x: L::F) -> L::F {
    let z = l.mul(x, x);
    let e = l.horner(z, &ERF_E);
    let xe = l.mul(x, e);
    let small = l.add(x, xe);
    let ax = l.abs(x);
    let a = l.clamp(ax, 0.0, 4.0);
    let q = l.horner(a, &ERF_Q);
    let erfc = exp(l, q);
    let one = l.f(1.0);
    let big = l.sub(one, erfc);
    let big = l.copysign(big, x);
    let bound = l.f(SMALL);
    let is_small = l.lt(ax, bound);
    l.select(is_small, small, big)
}
