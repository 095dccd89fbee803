//! `exp`, `expm1` and `tanh` on `f32`: one Cody-Waite reduction and one
//! polynomial (Cephes' `expf`, S. L. Moshier) shared by all three.

use super::lanes::{Elem, Lanes, ROUND};

/// The constants of [`exp`], shared with the code generators that emit it
/// inline (which must perform the same operations in the same order on
/// them).
pub mod expf_consts {
    /// Inputs above this give `inf`; clamped here so `2^n` stays finite.
    pub const HI: f32 = 89.0;
    /// Inputs below this give `0`.
    pub const LO: f32 = -104.0;
    /// `log2(e)`.
    pub const LOG2E: f32 = std::f32::consts::LOG2_E;
    /// `1.5 * 2^23`: adding and subtracting it rounds to the nearest integer,
    /// and the sum's low mantissa bits hold that integer.
    pub const ROUND: f32 = super::ROUND;
    /// `ln 2` in two parts (Cody-Waite): `C1` has 9 significant bits, so
    /// `k * C1` is exact for `|k| < 2^15`.
    pub const C1: f32 = 0.693_359_4;
    /// The rest of `ln 2`: `ln 2 = C1 + C2` to about 2^-35.
    pub const C2: f32 = -2.121_944_4e-4;
    /// The minimax polynomial for `(e^r - 1 - r) / r^2` on `|r| <= ln2/2`,
    /// highest degree first (Cephes `expf`, S. L. Moshier).
    pub const P: [f32; 6] = [
        1.987_569_1e-4,
        1.398_199_9e-3,
        8.333_452e-3,
        4.166_579_6e-2,
        1.666_666_5e-1,
        // Cephes' 5.0000001201e-1, which rounds to 0.5 in f32
        0.5,
    ];
}

use expf_consts::*;

/// The constants `exp` and `expm1` are computed with in one float type;
/// the algorithm below is the same for both (`f64`'s in `double/exp.rs`).
pub trait ExpConsts: Elem {
    /// Inputs are clamped to `[LO, HI]`: below, `e^x` is 0; above, `inf`.
    const LO: Self;
    /// See [`ExpConsts::LO`].
    const HI: Self;
    /// `ln 2 = LN2.0 + LN2.1`, the first part short enough that `k` times
    /// it is exact for every `k` the clamped range gives.
    const LN2: (Self, Self);
    /// `(e^r - 1 - r) / r^2` on `|r| <= ln2/2`, highest degree first.
    const P: &'static [Self];
    /// Below this `expm1` is `-1` (`e^x` under a quarter ulp of 1).
    const EXPM1_LO: Self;
    /// Below this in magnitude `expm1(x)` rounds to `x`.
    const EXPM1_TINY: Self;
}

impl ExpConsts for f32 {
    const LO: f32 = LO;
    const HI: f32 = HI;
    const LN2: (f32, f32) = (C1, C2);
    const P: &'static [f32] = &P;
    const EXPM1_LO: f32 = -26.0;
    const EXPM1_TINY: f32 = 1.0 / 33_554_432.0;
}

/// `x = k ln2 + r`: `(k's integer, r)`, `|r| <= ln2/2`.
fn reduce<T: ExpConsts, L: Lanes<T>>(l: &mut L, x: L::F) -> (L::I, L::F) {
    let log2e = l.c(std::f64::consts::LOG2_E);
    let t = l.mul(x, log2e);
    let (k, n) = l.round_int(t);
    let c1 = l.f(T::LN2.0);
    let kc1 = l.mul(k, c1);
    let r = l.sub(x, kc1);
    let c2 = l.f(T::LN2.1);
    let kc2 = l.mul(k, c2);
    (n, l.sub(r, kc2))
}

/// `e^r - 1` for the reduced `r`: `r + r^2 P(r)`.
fn expm1_reduced<T: ExpConsts, L: Lanes<T>>(l: &mut L, r: L::F) -> L::F {
    let p = l.horner(r, T::P);
    let rr = l.mul(r, r);
    let p = l.mul(p, rr);
    l.add(p, r)
}

/// `e^x`, in either type: `x = k ln2 + r` with `k` an integer and `|r| <=
/// ln2/2`; `e^r` by the polynomial; `2^k` as two powers of two built from
/// exponent bits (`2^(k/2) * 2^(k - k/2)`), so results that fall in the
/// subnormal range are rounded once.
pub fn exp_of<T: ExpConsts, L: Lanes<T>>(l: &mut L, x: L::F) -> L::F {
    let x = l.clamp(x, T::LO, T::HI);
    let (n, r) = reduce(l, x);
    let em1 = expm1_reduced(l, r);
    let one = l.c(1.0);
    let p = l.add(em1, one);
    let n1 = l.sra(n, 1);
    let n2 = l.isub(n, n1);
    let s1 = l.pow2(n1);
    let s2 = l.pow2(n2);
    let p = l.mul(p, s1);
    l.mul(p, s2)
}

/// `e^x` on `f32`, picojoule's definition: within 1 ulp of the exact value
/// on normal results (measured: never over 0.99 ulp, 90% correctly
/// rounded), `inf` above 88.72, `0` at and below -103.97, NaN for NaN.
pub fn exp<L: Lanes<f32>>(l: &mut L, x: L::F) -> L::F {
    exp_of::<f32, L>(l, x)
}

/// `e^x - 1`, in either type: `2^k (e^r - 1) + (2^k - 1)` with `e^r - 1`
/// from [`exp_of`]'s polynomial, computed as `2 (2^(k-1) (e^r - 1) +
/// (2^(k-1) - 1/2))` so that `2^(k-1)` is finite up to the largest `k`;
/// `x` itself where tiny (the correctly rounded result; this also keeps the
/// sign of zero), `-1` far below 0, `inf` above `ln(max)`.
pub fn expm1_of<T: ExpConsts, L: Lanes<T>>(l: &mut L, x: L::F) -> L::F {
    let xc = l.clamp(x, T::EXPM1_LO, T::HI);
    let (n, r) = reduce(l, xc);
    let em1 = expm1_reduced(l, r);
    let one = l.i(T::int(1));
    let n1 = l.isub(n, one);
    let s = l.pow2(n1);
    let half = l.c(0.5);
    let sm = l.sub(s, half);
    let y = l.mul(em1, s);
    let y = l.add(y, sm);
    let y = l.add(y, y);
    let ax = l.abs(x);
    let tiny = l.f(T::EXPM1_TINY);
    let is_tiny = l.lt(ax, tiny);
    l.select(is_tiny, x, y)
}

/// `e^x - 1` on `f32` ([`expm1_of`]).
pub fn expm1<L: Lanes<f32>>(l: &mut L, x: L::F) -> L::F {
    expm1_of::<f32, L>(l, x)
}

/// What `tanh` needs of one float type; the algorithm is
/// [`tanh_of`] for both.
pub trait TanhConsts: ExpConsts {
    /// `(tanh x - x) / x^3` as a polynomial in `x^2` below
    /// [`TanhConsts::SMALL`], highest degree first.
    const T: &'static [Self];
    /// Below this in magnitude, the odd polynomial; above, `1 - 2 /
    /// (e^(2|x|) + 1)`, where the result is over one half and the
    /// subtraction loses nothing.
    const SMALL: Self;
    /// Below this in magnitude `tanh x` rounds to `x` (`x^3/3` is under a
    /// quarter ulp); taking `x` also keeps the sign of zero.
    const TINY: Self;
    /// `e^y + 1`, the way this type computes it best.
    fn exp_plus_one<L: Lanes<Self>>(l: &mut L, y: L::F) -> L::F;
}

impl TanhConsts for f32 {
    /// On `|x| <= 0.625` (runtime/tools/fit_math.py).
    const T: &'static [f32] = &[
        0.002_142_962,
        -0.008_177_399,
        0.021_700_703,
        -0.053_946_763,
        0.133_332_06,
        -0.333_333_3,
    ];
    const SMALL: f32 = 0.625;
    const TINY: f32 = 1.0 / 4096.0;
    fn exp_plus_one<L: Lanes<f32>>(l: &mut L, y: L::F) -> L::F {
        let e = exp(l, y);
        let one = l.c(1.0);
        l.add(e, one)
    }
}

/// `tanh x`, in either type: `x` where tiny, `x + x^3 T(x^2)` below
/// `SMALL`, else `1 - 2 / (e^(2|x|) + 1)` with the sign of `x`.
pub fn tanh_of<T: TanhConsts, L: Lanes<T>>(l: &mut L, x: L::F) -> L::F {
    let z = l.mul(x, x);
    let t = l.horner(z, T::T);
    let xz = l.mul(x, z);
    let t = l.mul(xz, t);
    let small = l.add(x, t);
    let ax = l.abs(x);
    let ax2 = l.add(ax, ax);
    let e1 = T::exp_plus_one(l, ax2);
    let two = l.c(2.0);
    let q = l.div(two, e1);
    let one = l.c(1.0);
    let big = l.sub(one, q);
    let big = l.copysign(big, x);
    let bound = l.f(T::SMALL);
    let is_small = l.lt(ax, bound);
    let r = l.select(is_small, small, big);
    let tiny = l.f(T::TINY);
    let is_tiny = l.lt(ax, tiny);
    l.select(is_tiny, x, r)
}

/// `tanh x` on `f32` ([`tanh_of`]).
pub fn tanh<L: Lanes<f32>>(l: &mut L, x: L::F) -> L::F {
    tanh_of::<f32, L>(l, x)
}
