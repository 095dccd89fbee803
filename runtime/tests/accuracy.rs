//! The accuracy each elementary function promises (docs/language.md), in
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

/// Every 1009th `f32` in `[lo, hi]`, both signs' bit patterns walked, and
/// `extra`.
fn inputs(lo: f32, hi: f32, extra: &[f32]) -> Vec<f32> {
    let mut v: Vec<f32> = (0..=u32::MAX / 1009)
        .map(|i| f32::from_bits(i * 1009))
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
    let cases: [Case; 6] = [
        ("sin", pj_rt_sinf, pj_rt_sin, (-1e30, 1e30), 1.0),
        ("cos", pj_rt_cosf, pj_rt_cos, (-1e30, 1e30), 1.0),
        ("tan", pj_rt_tanf, pj_rt_tan, (-1e30, 1e30), 1.0),
        ("erf", pj_rt_erff, pj_rt_erf, (-10.0, 10.0), 1.0),
        (
            "log1p",
            pj_rt_log1pf,
            pj_rt_log1p,
            (-0.99999994, f32::MAX),
            1.0,
        ),
        ("expm1", pj_rt_expm1f, pj_rt_expm1, (-104.0, 88.7), 1.0),
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
    assert!(worst_err <= 1.5, "atan2: {worst_err} ulp at {at:?}");
}

#[test]
fn special_values_are_ieee_and_c99() {
    assert_eq!(pj_rt_sinf(0.0).to_bits(), 0f32.to_bits());
    assert_eq!(pj_rt_sinf(-0.0).to_bits(), (-0f32).to_bits());
    assert!(pj_rt_sinf(f32::INFINITY).is_nan());
    assert!(pj_rt_cosf(f32::NAN).is_nan());
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
