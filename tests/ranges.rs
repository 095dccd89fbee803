//! The interval analysis quantization stands on (`quant::ranges`) is
//! sound: on every example, given its inputs' observed ranges and sizes,
//! every value the interpreter computes for a result lies in the range the
//! analysis proves for it. And it is tight where it can be: a sum is its
//! term times its trip count, a square is never negative.

mod common;

use common::*;
use pj_compiler::interp;
use pj_compiler::passes::PassManager;
use pj_compiler::quant::ranges::{Inputs, Interval, Sample, analyze};
use std::collections::HashMap;

#[test]
fn every_result_value_of_every_example_lies_in_its_proven_range() {
    for &name in EXAMPLES {
        let mut m = compile(name, &read(&root().join(format!("examples/{name}.pj"))));
        PassManager::default_pipeline().run(&mut m).unwrap();
        let args = example_args(&m, name);
        let k = m.kernel(name).unwrap();
        let sample = Sample::of(&m, k, &args);
        let (_, proven) = analyze(
            &m,
            k,
            &Inputs {
                params: &sample.observed,
                sizes: &sample.sizes,
                limits: pj_compiler::quant::ranges::no_sizes(),
            },
        );
        let got = interp::run(&m, name, &args).unwrap();
        for ((r, t), range) in pj_compiler::dialects::signature(&m, k)
            .results
            .iter()
            .zip(&got)
            .zip(&proven)
        {
            for s in &t.data {
                assert!(
                    range.contains(s.as_f64()),
                    "{name}.{r}: {s:?} is outside the proven {range:?}"
                );
            }
        }
    }
}

/// The analysis on a one-result kernel, with `x` in `range` and `N = n`.
fn prove(src: &str, range: (f64, f64), n: i64) -> Interval {
    let mut m = compile("k.pj", src);
    PassManager::default_pipeline().run(&mut m).unwrap();
    let k = m.kernel("k").unwrap();
    let sizes = HashMap::from([("N".to_string(), n)]);
    analyze(
        &m,
        k,
        &Inputs {
            params: &[Some(range)],
            sizes: &sizes,
            limits: pj_compiler::quant::ranges::no_sizes(),
        },
    )
    .1[0]
}

#[test]
fn sums_scale_by_their_trip_count_and_squares_are_not_negative() {
    let sum = prove(
        "kernel k(x: f32[N]) -> s: f32 { s = sum(i) x[i]; }",
        (-1.0, 2.0),
        100,
    );
    assert!(
        sum.covers(Interval::new(-100.0, 200.0)) && sum.hi < 200.01 && sum.lo > -100.01,
        "{sum:?}"
    );
    let sq = prove(
        "kernel k(x: f32[N]) -> s: f32[N] { s[i] = (x[i] - 1.0) * (x[i] - 1.0); }",
        (-1.0, 2.0),
        8,
    );
    assert!(sq.lo >= 0.0 && sq.hi < 4.01 && !sq.nan, "{sq:?}");
    let hist = prove(
        "kernel k(x: u8[N]) -> h: i32[256] { h[b] = 0; h[i32(x[i])] += 1 for i; }",
        (0.0, 255.0),
        1000,
    );
    assert_eq!((hist.lo, hist.hi), (0.0, 1000.0));
    let unsafe_log = prove(
        "kernel k(x: f32[N]) -> y: f32[N] { y[i] = log(x[i]); }",
        (-1.0, 1.0),
        4,
    );
    assert!(
        unsafe_log.nan,
        "the log of a possibly negative value may be NaN"
    );
}

/// Linear combinations in which a value appears more than once: its
/// coefficients add up before its range is taken (affine forms), where
/// intervals count it once per appearance. Sound on every input: checked
/// against the interpreter on random and extreme data.
#[test]
fn a_value_that_appears_twice_is_counted_once() {
    let high_pass = "kernel k(x: f32[N] @boundary(clamp)) -> y: f32[N] {
        y[i] = x[i] - (x[i - 1] + x[i] + x[i + 1]) / 3.0;
    }";
    let r = prove(high_pass, (0.0, 1.0), 64);
    // 2/3 x[i] - 1/3 x[i - 1] - 1/3 x[i + 1]: within ±2/3 (intervals: ±1)
    assert!(r.hi <= 0.6667 && r.lo >= -0.6667 && r.hi >= 0.6666, "{r:?}");
    let cancels = prove(
        "kernel k(x: f32[N]) -> y: f32[N] { y[i] = (x[i] + 2.0) * 3.0 - x[i] * 3.0 - -x[i] * 0.5; }",
        (-1.0, 1.0),
        8,
    );
    // 6 + 0.5 x: [5.5, 6.5] (intervals: [2.5, 9.5])
    assert!(cancels.lo >= 5.49 && cancels.hi <= 6.51, "{cancels:?}");
    // a product of two values stays an interval's (x·x is a square, x·y
    // an atom): not linear
    let product = prove(
        "kernel k(x: f32[N] @boundary(clamp)) -> y: f32[N] { y[i] = x[i] * x[i + 1] - x[i]; }",
        (-1.0, 1.0),
        8,
    );
    assert!(product.lo <= -2.0 && product.hi >= 2.0, "{product:?}");
    // the values the interpreter computes lie in the proven ranges
    for (src, range) in [(high_pass, (0.0, 1.0)), (high_pass, (-3.0, 1e30))] {
        let m = compile("k.pj", src);
        let r = prove(src, range, 64);
        let mut rng = Rng(7);
        for case in 0..4 {
            let data: Vec<pj_compiler::dialects::arith::Scalar> = (0..64)
                .map(|i| {
                    let v = match case {
                        0 => rng.uniform(range.0, range.1.min(1e3)) as f64,
                        1 => {
                            if i % 2 == 0 {
                                range.0
                            } else {
                                range.1
                            }
                        }
                        2 => {
                            if i == 31 {
                                range.1
                            } else {
                                range.0
                            }
                        }
                        _ => {
                            if i == 31 {
                                range.0
                            } else {
                                range.1
                            }
                        }
                    };
                    pj_compiler::dialects::arith::Scalar::F32(v as f32)
                })
                .collect();
            let args = [interp::Value::Array(interp::Tensor::new(
                pj_compiler::ir::ScalarType::F32,
                vec![64],
                data,
            ))];
            let got = interp::run(&m, "k", &args).unwrap();
            for v in &got[0].data {
                assert!(r.contains(v.as_f64()), "{v:?} outside {r:?}");
            }
        }
    }
}
