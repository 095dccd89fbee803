//! The accuracy each `f32` elementary function promises (docs/language.md), in
//! units in the last place of the `f32` result, against the same function
//! computed in `f64` — whose own error, under one `f64` ulp, is 2^-29 of an
//! `f32` ulp: a reference exact for this purpose. Inputs: every 1009th `f32`
//! bit pattern of the function's domain, plus the points where the
//! functions are hardest (near zeros, multiples of pi/2, the ends of the
//! ranges). The `f64` versions are checked against mpmath by the Python
//! tests (`python/tests/test_math.py`).

use pj_runtime::math::*;

/// `got`'s distance from `want` in ulps of `want` rounded to `f32`
/// (subnormal spacing below the normal range).
fn ulps(got: f32, want: f64) -> f64 {
    if got.is_nan() && want.is_nan() {
        return 0.0;
    }
    if got.is_infinite() || want.is_infinite() {
        return if f64::from(got) == want {
            0.0
        } else {
            f64::INFINITY
        };
    }
    let w = want as f32;
    let exp = if w == 0.0 || w.is_subnormal() {
        -126
    } else {
        ((w.to_bits() >> 23) & 0xff) as i32 - 127
    };
    let ulp = 2f64.powi(exp - 23);
    (f64::from(got) - want).abs() / ulp
}

/// How far apart the `f32` bit patterns tried are: 1009, or
/// `PJ_ACCURACY_STRIDE` (1 tries every `f32`; the bounds in
/// docs/language.md were measured with 7).
fn stride() -> u32 {
    std::env::var("PJ_ACCURACY_STRIDE")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&s| s > 0)
        .unwrap_or(1009)
}

/// Every [`stride`]th `f32` in `[lo, hi]`, both signs' bit patterns walked,
/// and `extra`.
fn inputs(lo: f32, hi: f32, extra: &[f32]) -> Vec<f32> {
    let step = stride();
    let mut v: Vec<f32> = (0..=u32::MAX / step)
        .map(|i| f32::from_bits(i * step))
        .filter(|x| x.is_finite() && *x >= lo && *x <= hi)
        .collect();
    v.extend(extra.iter().copied().filter(|x| *x >= lo && *x <= hi));
    v
}

/// The worst error of `f` against `reference` over `xs`, and where.
fn worst(
    f: extern "C" fn(f32) -> f32,
    reference: extern "C" fn(f64) -> f64,
    xs: &[f32],
) -> (f64, f32) {
    xs.iter()
        .map(|&x| (ulps(f(x), reference(f64::from(x))), x))
        .fold((0.0, 0.0), |a, b| if b.0 > a.0 { b } else { a })
}

fn hard_points() -> Vec<f32> {
    let mut v = vec![0.0, -0.0, 1e-30, -1e-30, 1e-7, f32::MIN_POSITIVE, 1e-45];
    for k in 1..2000 {
        let x = k as f64 * std::f64::consts::FRAC_PI_2;
        for d in [-2i32, -1, 0, 1, 2] {
            let y = f32::from_bits((x as f32).to_bits().wrapping_add_signed(d));
            v.push(y);
            v.push(-y);
        }
    }
    v
}

/// (name, function, reference, domain, promised ulps)
type Case = (
    &'static str,
    extern "C" fn(f32) -> f32,
    extern "C" fn(f64) -> f64,
    (f32, f32),
    f64,
);

#[test]
fn every_f32_function_is_within_its_stated_ulps() {
    let hard = hard_points();
    let cases: [Case; 8] = [
        ("sin", pj_rt_sinf, pj_rt_sin, (-1e30, 1e30), 1.5),
        ("cos", pj_rt_cosf, pj_rt_cos, (-1e30, 1e30), 1.5),
        ("tan", pj_rt_tanf, pj_rt_tan, (-1e30, 1e30), 3.0),
        ("erf", pj_rt_erff, pj_rt_erf, (-10.0, 10.0), 1.5),
        (
            "log1p",
            pj_rt_log1pf,
            pj_rt_log1p,
            (-0.99999994, f32::MAX),
            1.0,
        ),
        ("expm1", pj_rt_expm1f, pj_rt_expm1, (-104.0, 88.7), 2.0),
        ("log", pj_rt_logf, pj_rt_log, (0.0, f32::MAX), 1.0),
        ("tanh", pj_rt_tanhf, pj_rt_tanh, (-20.0, 20.0), 1.5),
    ];
    let mut report = Vec::new();
    for (name, f, reference, (lo, hi), promised) in cases {
        let xs = inputs(lo, hi, &hard);
        let (err, at) = worst(f, reference, &xs);
        report.push(format!(
            "{name}: {err:.3} ulp at {at:e} over {} inputs",
            xs.len()
        ));
        assert!(
            err <= promised,
            "{name}: {err} ulp at {at:e}, promised {promised}"
        );
    }
    eprintln!("{}", report.join("\n"));
}

#[test]
fn atan2_is_within_its_stated_ulps_over_every_quadrant() {
    let mut worst_err: f64 = 0.0;
    let mut at = (0.0, 0.0);
    let xs = inputs(-1e6, 1e6, &[0.0, -0.0, 1.0, -1.0]);
    // pairs from the walk, one a stride of the other so ratios vary
    for (i, &y) in xs.iter().enumerate().step_by(7) {
        let x = xs[(i * 7919) % xs.len()];
        let e = ulps(pj_rt_atan2f(y, x), pj_rt_atan2(f64::from(y), f64::from(x)));
        if e > worst_err {
            worst_err = e;
            at = (y, x);
        }
    }
    eprintln!("atan2: {worst_err:.3} ulp at {at:?}");
    assert!(worst_err <= 2.0, "atan2: {worst_err} ulp at {at:?}");
}

#[test]
fn pow_is_within_its_stated_ulps_over_bases_and_exponents() {
    let mut worst_err: f64 = 0.0;
    let mut at = (0.0, 0.0);
    let xs = inputs(0.0, f32::MAX, &[1.0, 2.0, 0.5, 10.0]);
    let ys = inputs(
        -200.0,
        200.0,
        &[0.5, 2.0, -1.0, 3.0, 1.0 / 3.0, 2.4, 1.0 / 2.4],
    );
    for (i, &x) in xs.iter().enumerate().step_by(3) {
        let y = ys[(i * 7919) % ys.len()];
        // the f64 reference: within 2^-29 ulp where the result is normal
        let want = f64::from(x).powf(f64::from(y));
        if want.abs() < f64::from(f32::MIN_POSITIVE) || want.abs() > f64::from(f32::MAX) {
            continue;
        }
        let e = ulps(pj_rt_powf(x, y), want);
        if e > worst_err {
            worst_err = e;
            at = (x, y);
        }
        // negative bases with integer exponents
        let yi = y.round();
        let want = f64::from(-x).powf(f64::from(yi));
        if want.abs() >= f64::from(f32::MIN_POSITIVE) && want.abs() <= f64::from(f32::MAX) {
            let e = ulps(pj_rt_powf(-x, yi), want);
            if e > worst_err {
                worst_err = e;
                at = (-x, yi);
            }
        }
    }
    eprintln!("pow: {worst_err:.3} ulp at {at:?}");
    assert!(worst_err <= 1.0, "pow: {worst_err} ulp at {at:?}");
}

#[test]
fn pow_follows_c99_at_zeros_infinities_nan_and_negative_bases() {
    let (inf, nan) = (f32::INFINITY, f32::NAN);
    let same = |got: f32, want: f32, what: &str| {
        assert!(
            got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
            "pow{what} = {got:?}, want {want:?}"
        )
    };
    let cases: &[(f32, f32, f32)] = &[
        (nan, 0.0, 1.0),
        (nan, -0.0, 1.0),
        (1.0, nan, 1.0),
        (-1.0, inf, 1.0),
        (-1.0, -inf, 1.0),
        (0.0, -3.0, inf),
        (-0.0, -3.0, -inf),
        (-0.0, -2.0, inf),
        (-0.0, -0.5, inf),
        (0.0, 3.0, 0.0),
        (-0.0, 3.0, -0.0),
        (-0.0, 2.0, 0.0),
        (-0.0, 0.5, 0.0),
        (0.5, inf, 0.0),
        (0.5, -inf, inf),
        (2.0, inf, inf),
        (2.0, -inf, 0.0),
        (-inf, -3.0, -0.0),
        (-inf, -2.0, 0.0),
        (-inf, 3.0, -inf),
        (-inf, 2.0, inf),
        (-inf, 0.5, inf),
        (inf, -1.0, 0.0),
        (inf, 1.0, inf),
        (-2.0, 3.0, -8.0),
        (-2.0, 2.0, 4.0),
        (-2.0, 0.5, nan),
        (nan, 1.0, nan),
        (2.0, nan, nan),
        (2.0, 0.5, std::f32::consts::SQRT_2),
        (10.0, 3.0, 1000.0),
        (2.0, 127.0, 2f32.powi(127)),
        (2.0, 128.0, inf),
        (2.0, -149.0, 1e-45),
        (2.0, -150.0, 0.0),
        (-3.0, 16_777_215.0, -inf),
        (-3.0, 16_777_216.0, inf),
    ];
    for &(x, y, want) in cases {
        same(pj_rt_powf(x, y), want, &format!("({x:?}, {y:?})"));
    }
}

#[test]
fn special_values_are_ieee_and_c99() {
    assert_eq!(pj_rt_sinf(0.0).to_bits(), 0f32.to_bits());
    assert_eq!(pj_rt_sinf(-0.0).to_bits(), (-0f32).to_bits());
    assert!(pj_rt_sinf(f32::INFINITY).is_nan());
    assert!(pj_rt_cosf(f32::NAN).is_nan());
    assert_eq!(pj_rt_sinf(1e-30), 1e-30);
    assert_eq!(pj_rt_tanf(-0.0).to_bits(), (-0f32).to_bits());
    assert!(pj_rt_tanf(f32::NEG_INFINITY).is_nan());
    assert_eq!(pj_rt_logf(0.0), f32::NEG_INFINITY);
    assert_eq!(pj_rt_logf(-0.0), f32::NEG_INFINITY);
    assert!(pj_rt_logf(-1.0).is_nan());
    assert_eq!(pj_rt_logf(f32::INFINITY), f32::INFINITY);
    assert_eq!(pj_rt_logf(1.0).to_bits(), 0);
    assert_eq!(pj_rt_logf(1e-45), -103.27893);
    assert_eq!(pj_rt_tanhf(f32::INFINITY), 1.0);
    assert_eq!(pj_rt_tanhf(f32::NEG_INFINITY), -1.0);
    assert_eq!(pj_rt_tanhf(-0.0).to_bits(), (-0f32).to_bits());
    assert!(pj_rt_tanhf(f32::NAN).is_nan());
    assert_eq!(pj_rt_expm1f(-0.0).to_bits(), (-0f32).to_bits());
    assert_eq!(pj_rt_log1pf(-0.0).to_bits(), (-0f32).to_bits());
    assert_eq!(pj_rt_log1pf(f32::INFINITY), f32::INFINITY);
    assert_eq!(pj_rt_erff(-0.0).to_bits(), (-0f32).to_bits());
    assert!(pj_rt_erff(f32::NAN).is_nan());
    assert!(pj_rt_atan2f(f32::NAN, 1.0).is_nan());
    assert_eq!(
        pj_rt_atan2f(f32::INFINITY, f32::INFINITY),
        std::f32::consts::FRAC_PI_4
    );
    assert_eq!(pj_rt_atan2f(-0.0, 0.0).to_bits(), (-0f32).to_bits());
    assert_eq!(pj_rt_atan2f(0.0, -0.0), std::f32::consts::PI);
    assert_eq!(pj_rt_erff(f32::INFINITY), 1.0);
    assert_eq!(pj_rt_erff(f32::NEG_INFINITY), -1.0);
    assert_eq!(pj_rt_log1pf(-1.0), f32::NEG_INFINITY);
    assert!(pj_rt_log1pf(-2.0).is_nan());
    assert_eq!(pj_rt_expm1f(f32::NEG_INFINITY), -1.0);
    assert_eq!(pj_rt_expm1f(100.0), f32::INFINITY);
    assert_eq!(pj_rt_atan2f(0.0, -1.0), std::f32::consts::PI);
    assert_eq!(pj_rt_atan2f(-0.0, -1.0), -std::f32::consts::PI);
    assert_eq!(pj_rt_atan2f(1.0, 0.0), std::f32::consts::FRAC_PI_2);
}

#[test]
fn f64_special_values_are_ieee_and_c99() {
    let neg0 = (-0f64).to_bits();
    assert_eq!(pj_rt_exp(f64::NEG_INFINITY), 0.0);
    assert_eq!(pj_rt_exp(f64::INFINITY), f64::INFINITY);
    assert_eq!(pj_rt_exp(710.0), f64::INFINITY);
    assert_eq!(pj_rt_exp(0.0), 1.0);
    assert!(pj_rt_exp(f64::NAN).is_nan());
    assert!(pj_rt_exp(-745.0) > 0.0 && pj_rt_exp(-746.0) == 0.0);
    assert_eq!(pj_rt_expm1(-0.0).to_bits(), neg0);
    assert_eq!(pj_rt_expm1(f64::NEG_INFINITY), -1.0);
    assert_eq!(pj_rt_expm1(1000.0), f64::INFINITY);
    assert_eq!(pj_rt_log(0.0), f64::NEG_INFINITY);
    assert!(pj_rt_log(-1.0).is_nan());
    assert_eq!(pj_rt_log(1.0).to_bits(), 0);
    assert_eq!(pj_rt_log(f64::INFINITY), f64::INFINITY);
    assert!((pj_rt_log(5e-324) - -744.440_071_921_381_3).abs() < 1e-12);
    assert_eq!(pj_rt_log1p(-1.0), f64::NEG_INFINITY);
    assert_eq!(pj_rt_log1p(-0.0).to_bits(), neg0);
    assert!(pj_rt_log1p(-2.0).is_nan());
    assert_eq!(pj_rt_tanh(f64::INFINITY), 1.0);
    assert_eq!(pj_rt_tanh(f64::NEG_INFINITY), -1.0);
    assert_eq!(pj_rt_tanh(-0.0).to_bits(), neg0);
    assert_eq!(pj_rt_sin(-0.0).to_bits(), neg0);
    assert_eq!(pj_rt_tan(-0.0).to_bits(), neg0);
    assert_eq!(pj_rt_cos(0.0), 1.0);
    assert!(pj_rt_sin(f64::INFINITY).is_nan());
    assert!(pj_rt_cos(f64::NAN).is_nan());
    // beyond the reduction's range: musl's full-range reduction
    assert_eq!(pj_rt_sin(1e22), libm::sin(1e22));
}
