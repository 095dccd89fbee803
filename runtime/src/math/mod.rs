//! Elementary functions for generated code. They are the functions the
//! reference interpreter evaluates, so native results agree with it
//! exactly.
//!
//! On `f32`, every function is picojoule's own, written once over
//! [`lanes::Lanes`] — IEEE adds, multiplies, divides, comparisons and bit
//! operations, no fused multiply-add — and instantiated here on one `f32`
//! ([`lanes::Scalar`]) and by each backend on vectors, inline: the same
//! operations in the same order, so the same bits on every machine, in
//! every backend, scalar or vector. Their accuracy is measured in
//! `runtime/tests/accuracy.rs` and stated in docs/language.md.
//!
//! On `f64` likewise ([`double`]) but `erf`, the `libm` crate's (musl's),
//! and `pow`, Rust's `std` (the host's libm).

pub mod double;
pub mod erf;
pub mod exp;
pub mod lanes;
pub mod log;
pub mod pow;
pub mod trig;

pub use exp::expf_consts;
use lanes::Scalar;

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
    exp::exp(&mut Scalar, x)
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

/// picojoule's `f64` functions (over [`lanes::Lanes`]), as C symbols.
macro_rules! own_f64 {
    ($($name:ident => $f:path),* $(,)?) => {$(
        #[doc = concat!("`", stringify!($f), "` on one `f64`.")]
        #[unsafe(no_mangle)]
        pub extern "C" fn $name(x: f64) -> f64 {
            $f(&mut Scalar, x)
        }
    )*};
}

own_f64!(
    pj_rt_exp => double::exp::exp,
    pj_rt_expm1 => double::exp::expm1,
    pj_rt_tanh => double::exp::tanh,
    pj_rt_log => double::log::log,
    pj_rt_log1p => double::log::log1p,
    pj_rt_sin => double::trig::sin,
    pj_rt_cos => double::trig::cos,
    pj_rt_tan => double::trig::tan,
);

/// `erf` on `f64`: the `libm` crate's (musl's algorithm), the same bits on
/// every machine.
#[unsafe(no_mangle)]
pub extern "C" fn pj_rt_erf(x: f64) -> f64 {
    libm::erf(x)
}

/// picojoule's `f32` functions (over [`lanes::Lanes`]), as C symbols.
macro_rules! own_f32 {
    ($($name:ident => $f:path),* $(,)?) => {$(
        #[doc = concat!("`", stringify!($f), "` on one `f32`.")]
        #[unsafe(no_mangle)]
        pub extern "C" fn $name(x: f32) -> f32 {
            $f(&mut Scalar, x)
        }
    )*};
}

own_f32!(
    pj_rt_logf => log::log,
    pj_rt_log1pf => log::log1p,
    pj_rt_tanhf => exp::tanh,
    pj_rt_expm1f => exp::expm1,
    pj_rt_sinf => trig::sin,
    pj_rt_cosf => trig::cos,
    pj_rt_tanf => trig::tan,
    pj_rt_erff => erf::erf,
);

/// `atan2(y, x)` on `f32` ([`trig::atan2`]): the angle of `(x, y)`.
#[unsafe(no_mangle)]
pub extern "C" fn pj_rt_atan2f(y: f32, x: f32) -> f32 {
    trig::atan2(&mut Scalar, y, x)
}

/// `atan2(y, x)` on `f64` ([`double::trig::atan2`]).
#[unsafe(no_mangle)]
pub extern "C" fn pj_rt_atan2(y: f64, x: f64) -> f64 {
    double::trig::atan2(&mut Scalar, y, x)
}

/// `x^y` on `f32` ([`pow::pow`]).
#[unsafe(no_mangle)]
pub extern "C" fn pj_rt_powf(x: f32, y: f32) -> f32 {
    pow::pow(&mut Scalar, x, y)
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
