//! Elementary functions for generated code. They are the functions the
//! reference interpreter evaluates, so native results agree with it
//! exactly: Rust's `std` ones for `log`, `tanh`, `pow` and `f64` `exp`;
//! the `libm` crate's for the trigonometric functions, `erf`, `log1p` and
//! `expm1`; and `f32` `exp`, which is picojoule's own ([`expf`]) so that
//! vector code can compute it inline, bit for bit.

macro_rules! unary {
    ($($name:ident: $t:ty => $f:ident),* $(,)?) => {$(
        #[doc = concat!("`", stringify!($f), "` on `", stringify!($t), "`.")]
        #[unsafe(no_mangle)]
        pub extern "C" fn $name(x: $t) -> $t {
            x.$f()
        }
    )*};
}

/// The constants of [`expf`], shared with the code generators that
/// emit it inline (which must perform the same operations in the same
/// order on them).
pub mod expf_consts {
    /// Inputs above this give `inf`; clamped here so `2^n` stays finite.
    pub const HI: f32 = 89.0;
    /// Inputs below this give `0`.
    pub const LO: f32 = -104.0;
    /// `log2(e)`.
    pub const LOG2E: f32 = std::f32::consts::LOG2_E;
    /// `1.5 * 2^23`: adding and subtracting it rounds to the nearest integer,
    /// and the sum's low mantissa bits hold that integer.
    pub const ROUND: f32 = 12_582_912.0;
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

/// `e^x` on `f32`, picojoule's definition: within 1 ulp of the exact value
/// on normal results (measured: never over 0.99 ulp, 90% correctly
/// rounded; see `tests` below), `inf` above 88.72, `0` at and below -103.97,
/// NaN for NaN. Only IEEE adds and multiplies (no fused multiply-add), so
/// every machine and every backend computes the same bits.
///
/// `x = k ln2 + r` with `k` an integer and `|r| <= ln2/2`; `e^r` by a
/// degree-7 polynomial; `2^k` as two powers of two built from exponent
/// bits (`2^(k/2) * 2^(k - k/2)`), so results that fall in the subnormal
/// range are rounded once.
pub fn expf(x: f32) -> f32 {
    use expf_consts::*;
    // NaN stays NaN
    let x = x.clamp(LO, HI);
    let t = x * LOG2E + ROUND;
    let k = t - ROUND;
    let n = t.to_bits() as i32 - ROUND.to_bits() as i32;
    let r = (x - k * C1) - k * C2;
    let mut p = P[0];
    for c in &P[1..] {
        p = p * r + c;
    }
    let p = p * (r * r) + r + 1.0;
    let n1 = n >> 1;
    let n2 = n - n1;
    let s1 = f32::from_bits(((n1 + 127) << 23) as u32);
    let s2 = f32::from_bits(((n2 + 127) << 23) as u32);
    p * s1 * s2
}

/// [`expf`] with its multiply-adds fused (`f32::mul_add`, rounded once):
/// what `--fast-math=contract` computes. The same reduction, polynomial
/// and scaling; `t = x log2(e) + ROUND` and the two Cody-Waite steps
/// `r = x - k C1 - k C2`, each Horner step and `p r^2 + r` become single
/// fused operations — eleven instead of twenty-two on machines with FMA,
/// and at least as accurate (measured: never over 0.99 ulp, like
/// [`expf`]). Every backend and the interpreter compute these same bits.
pub fn expf_fused(x: f32) -> f32 {
    use expf_consts::*;
    let x = x.clamp(LO, HI);
    let t = x.mul_add(LOG2E, ROUND);
    let k = t - ROUND;
    let n = t.to_bits() as i32 - ROUND.to_bits() as i32;
    let r = (-k).mul_add(C1, x);
    let r = (-k).mul_add(C2, r);
    let mut p = P[0];
    for c in &P[1..] {
        p = p.mul_add(r, *c);
    }
    let p = p.mul_add(r * r, r) + 1.0;
    let n1 = n >> 1;
    let n2 = n - n1;
    let s1 = f32::from_bits(((n1 + 127) << 23) as u32);
    let s2 = f32::from_bits(((n2 + 127) << 23) as u32);
    p * s1 * s2
}

/// `e^x` on `f32`: [`expf`].
#[unsafe(no_mangle)]
pub extern "C" fn pj_rt_expf(x: f32) -> f32 {
    expf(x)
}

unary!(
    pj_rt_exp: f64 => exp,
    pj_rt_logf: f32 => ln,
    pj_rt_log: f64 => ln,
    pj_rt_tanhf: f32 => tanh,
    pj_rt_tanh: f64 => tanh,
);

/// Functions computed by the `libm` crate (musl's algorithms): the same
/// bits on every machine, operating system and backend. Their accuracy,
/// measured against a reference in higher precision (`tests/math_accuracy.rs`
/// and docs/language.md), is musl's: within 1 ulp.
macro_rules! from_libm {
    ($($name:ident: $t:ty => $f:ident),* $(,)?) => {$(
        #[doc = concat!("`", stringify!($f), "` (the `libm` crate) on `", stringify!($t), "`.")]
        #[unsafe(no_mangle)]
        pub extern "C" fn $name(x: $t) -> $t {
            libm::$f(x)
        }
    )*};
}

from_libm!(
    pj_rt_sinf: f32 => sinf,
    pj_rt_sin: f64 => sin,
    pj_rt_cosf: f32 => cosf,
    pj_rt_cos: f64 => cos,
    pj_rt_tanf: f32 => tanf,
    pj_rt_tan: f64 => tan,
    pj_rt_erff: f32 => erff,
    pj_rt_erf: f64 => erf,
    pj_rt_log1pf: f32 => log1pf,
    pj_rt_log1p: f64 => log1p,
    pj_rt_expm1f: f32 => expm1f,
    pj_rt_expm1: f64 => expm1,
);

/// `atan2(y, x)` on `f32` (the `libm` crate): the angle of `(x, y)`.
#[unsafe(no_mangle)]
pub extern "C" fn pj_rt_atan2f(y: f32, x: f32) -> f32 {
    libm::atan2f(y, x)
}

/// `atan2(y, x)` on `f64` (the `libm` crate).
#[unsafe(no_mangle)]
pub extern "C" fn pj_rt_atan2(y: f64, x: f64) -> f64 {
    libm::atan2(y, x)
}

/// `x^y` on `f32`.
#[unsafe(no_mangle)]
pub extern "C" fn pj_rt_powf(x: f32, y: f32) -> f32 {
    x.powf(y)
}

/// `x^y` on `f64`.
#[unsafe(no_mangle)]
pub extern "C" fn pj_rt_pow(x: f64, y: f64) -> f64 {
    x.powf(y)
}

/// `x % y` on `f32` (fmod: the sign of `x`).
#[unsafe(no_mangle)]
pub extern "C" fn pj_rt_fmodf(x: f32, y: f32) -> f32 {
    x % y
}

/// `x % y` on `f64`.
#[unsafe(no_mangle)]
pub extern "C" fn pj_rt_fmod(x: f64, y: f64) -> f64 {
    x % y
}

/// Every function above with its address, for a JIT to resolve symbols.
pub fn symbols() -> Vec<(&'static str, *const u8)> {
    vec![
        ("pj_rt_expf", pj_rt_expf as *const u8),
        ("pj_rt_exp", pj_rt_exp as *const u8),
        ("pj_rt_logf", pj_rt_logf as *const u8),
        ("pj_rt_log", pj_rt_log as *const u8),
        ("pj_rt_tanhf", pj_rt_tanhf as *const u8),
        ("pj_rt_tanh", pj_rt_tanh as *const u8),
        ("pj_rt_powf", pj_rt_powf as *const u8),
        ("pj_rt_pow", pj_rt_pow as *const u8),
        ("pj_rt_fmodf", pj_rt_fmodf as *const u8),
        ("pj_rt_fmod", pj_rt_fmod as *const u8),
        ("pj_rt_sinf", pj_rt_sinf as *const u8),
        ("pj_rt_sin", pj_rt_sin as *const u8),
        ("pj_rt_cosf", pj_rt_cosf as *const u8),
        ("pj_rt_cos", pj_rt_cos as *const u8),
        ("pj_rt_tanf", pj_rt_tanf as *const u8),
        ("pj_rt_tan", pj_rt_tan as *const u8),
        ("pj_rt_erff", pj_rt_erff as *const u8),
        ("pj_rt_erf", pj_rt_erf as *const u8),
        ("pj_rt_log1pf", pj_rt_log1pf as *const u8),
        ("pj_rt_log1p", pj_rt_log1p as *const u8),
        ("pj_rt_expm1f", pj_rt_expm1f as *const u8),
        ("pj_rt_expm1", pj_rt_expm1 as *const u8),
        ("pj_rt_atan2f", pj_rt_atan2f as *const u8),
        ("pj_rt_atan2", pj_rt_atan2 as *const u8),
        ("pj_rt_fail", crate::error::pj_rt_fail as *const u8),
        ("pj_rt_alloc", crate::alloc::pj_rt_alloc as *const u8),
        ("pj_rt_free", crate::alloc::pj_rt_free as *const u8),
        (
            "pj_rt_contiguous",
            crate::layout::pj_rt_contiguous as *const u8,
        ),
        (
            "pj_rt_copy_back",
            crate::layout::pj_rt_copy_back as *const u8,
        ),
        (
            "pj_rt_parallel_for",
            crate::parallel::pj_rt_parallel_for as *const u8,
        ),
        ("pj_rt_threads", crate::parallel::pj_rt_threads as *const u8),
    ]
}

#[cfg(test)]
mod tests {
    use super::{expf, expf_fused};

    /// Error in units of the last place of the correctly rounded result.
    fn ulps(got: f32, x: f32) -> f64 {
        let exact = (x as f64).exp();
        let r = exact as f32;
        let ulp = (f32::from_bits(r.to_bits() + 1) - r) as f64;
        (got as f64 - exact).abs() / ulp
    }

    /// An `exp` definition.
    type Exp = fn(f32) -> f32;

    /// Both definitions, fused and not.
    const BOTH: [(&str, Exp); 2] = [("expf", expf), ("expf_fused", expf_fused)];

    #[test]
    fn expf_is_within_one_ulp_over_the_normal_range() {
        for (name, f) in BOTH {
            let (lo, hi) = (-87.3f32, 88.7f32);
            let n = 2_000_000;
            let mut worst = 0.0f64;
            for i in 0..=n {
                let x = lo + (hi - lo) * (i as f32 / n as f32);
                worst = worst.max(ulps(f(x), x));
            }
            // every float in [-1, 1]'s neighbourhood of 0 too
            let mut b = (-1.0f32).to_bits();
            while b > 0x3000_0000 {
                let x = f32::from_bits(b);
                worst = worst.max(ulps(f(x), x));
                b -= 97;
            }
            assert!(worst < 1.0, "{name}: worst error {worst} ulp");
        }
    }

    #[test]
    fn expf_edges() {
        for (name, f) in BOTH {
            assert_eq!(f(0.0), 1.0, "{name}");
            assert_eq!(f(-0.0), 1.0, "{name}");
            assert!(f(f32::NAN).is_nan(), "{name}");
            assert_eq!(f(f32::INFINITY), f32::INFINITY, "{name}");
            assert_eq!(f(89.0), f32::INFINITY, "{name}");
            assert_eq!(f(f32::NEG_INFINITY), 0.0, "{name}");
            assert_eq!(f(-104.0), 0.0, "{name}");
            assert_eq!(f(1.0), std::f32::consts::E, "{name}");
            // the subnormal range: within a unit of the smallest subnormal
            for x in [-88.0f32, -95.5, -100.0, -103.0] {
                let exact = (x as f64).exp();
                let got = f(x) as f64;
                assert!(
                    got > 0.0 && (got - exact).abs() <= 1.5e-45,
                    "{name}({x}): {got} vs {exact}"
                );
            }
            // the largest finite result
            assert!(f(88.72).is_finite() && f(88.73).is_infinite(), "{name}");
        }
    }

    /// The fused definition is a different function: it must differ
    /// somewhere, or the backends' fused code would go untested.
    #[test]
    fn expf_fused_differs_from_expf_in_some_last_bits() {
        let differ = (0..10_000)
            .map(|i| -20.0 + i as f32 * 0.004)
            .filter(|&x| expf(x) != expf_fused(x))
            .count();
        assert!(differ > 0);
    }
}
