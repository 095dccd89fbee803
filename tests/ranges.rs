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
