//! Layer normalization's bound: the range analysis knows that a deviation
//! divided by the root of the mean of the squared deviations it is one of
//! is at most `sqrt(C)` in magnitude (`quant::facts::deviation_over_spread`:
//! the numerator squared is one of the sum's non-negative terms), where
//! intervals divide the largest deviation by `sqrt(eps)`. The bound holds
//! on rows built to reach it and refuses shapes where it does not hold.

mod common;

use common::*;
use pj_compiler::dialects::arith::Scalar;
use pj_compiler::interp::{self, Tensor, Value};
use pj_compiler::ir::ScalarType;
use pj_compiler::passes::PassManager;
use pj_compiler::quant::ranges::{Inputs, Interval, analyze, no_sizes};
use std::collections::HashMap;

const LAYERNORM: &str = "
kernel ln(x: f32[N, C], eps: f32) -> y: f32[N, C] {
    mean[n] = (sum(c) x[n, c]) / f32(C);
    var[n] = (sum(c) (x[n, c] - mean[n]) * (x[n, c] - mean[n])) / f32(C);
    y[n, c] = (x[n, c] - mean[n]) / sqrt(var[n] + eps);
}";

/// The proven range of `src`'s first result: `x` (and any other array) in
/// [-4, 4], `eps` in `eps`, rows of `c` elements.
fn proven(src: &str, c: i64, eps: (f64, f64)) -> Interval {
    let mut m = compile("k", src);
    PassManager::default_pipeline().run(&mut m).unwrap();
    let k = m.kernels()[0];
    let sizes: HashMap<String, i64> = [("N".to_string(), 4), ("C".to_string(), c)].into();
    let params: Vec<Option<(f64, f64)>> = pj_compiler::dialects::signature(&m, k)
        .params
        .iter()
        .map(|(name, _)| Some(if name == "eps" { eps } else { (-4.0, 4.0) }))
        .collect();
    analyze(
        &m,
        k,
        &Inputs {
            params: &params,
            sizes: &sizes,
            limits: no_sizes(),
        },
    )
    .1[0]
}

#[test]
fn a_normalized_deviation_is_at_most_the_root_of_the_row_length() {
    for c in [1i64, 24, 1024] {
        let r = proven(LAYERNORM, c, (1e-5, 1e-5));
        let root = (c as f64).sqrt();
        assert!(
            r.hi <= root * 1.001 && r.lo >= -root * 1.001,
            "C = {c}: {r:?}"
        );
        // what a row of one outlier reaches: sqrt(C - 1)
        assert!(r.hi >= ((c - 1) as f64).sqrt(), "C = {c}: {r:?}");
    }
    // the example with its learned scale and shift: the bound times them
    let r = proven(
        &std::fs::read_to_string(root().join("examples/layernorm.pj")).unwrap(),
        1024,
        (1e-5, 1e-5),
    );
    assert!(r.hi <= 32.1 * 4.0 + 4.0, "{r:?}");
}

#[test]
fn the_bound_does_not_hold_where_its_shape_does_not() {
    let unbounded = |src: &str, eps: (f64, f64)| proven(src, 64, eps).hi > 100.0;
    // eps may be 0: a row of equal values divides by 0
    assert!(unbounded(LAYERNORM, (0.0, 1.0)));
    // each of these changes to the source, with eps > 0, breaks the shape
    for (what, changes) in [
        (
            "no eps",
            &[("sqrt(var[n] + eps)", "sqrt(var[n]) + eps * 0.0")][..],
        ),
        (
            "the squares summed over half of the row",
            &[(
                "(sum(c) (x[n, c] - mean[n])",
                "(sum(c in 0..C / 2) (x[n, c] - mean[n])",
            )],
        ),
        (
            "another row's mean in the numerator",
            &[(
                "y[n, c] = (x[n, c] - mean[n])",
                "y[n, c] = (x[n, c] - mean[0])",
            )],
        ),
        (
            "another array's deviation",
            &[
                ("eps: f32)", "eps: f32, z: f32[N, C])"),
                ("y[n, c] = (x[n, c]", "y[n, c] = (z[n, c]"),
            ],
        ),
        (
            "a product of two different deviations summed",
            &[(
                "(x[n, c] - mean[n]) * (x[n, c] - mean[n])) / f32(C)",
                "(x[n, c] - mean[n]) * (x[n, c] - mean[0])) / f32(C)",
            )],
        ),
    ] {
        let src = changes
            .iter()
            .fold(LAYERNORM.to_string(), |s, (from, to)| s.replace(from, to));
        assert!(unbounded(&src, (1e-5, 1e-5)), "{what}");
    }
}

/// Rows built to reach the bound or to test its roundings: one outlier
/// (|y| = sqrt(C - 1)), all equal (variance 0: y = 0), deviations near the
/// subnormals (their squares underflow), uniform.
fn rows(c: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng(seed);
    let mut v = Vec::new();
    v.extend((0..c).map(|i| if i == c / 3 { 4.0 } else { -4.0 }));
    v.extend((0..c).map(|_| 1.25));
    v.extend((0..c).map(|i| if i == 0 { 1e-39 } else { 0.0 }));
    v.extend((0..c).map(|_| rng.uniform(-4.0, 4.0)));
    v
}

#[test]
fn every_backend_stays_within_the_bound_on_hard_rows() {
    let m = compile("ln", LAYERNORM);
    let codes = jit_all(&m);
    for c in [1usize, 7, 300, 1024] {
        let bound = proven(LAYERNORM, c as i64, (1e-5, 1e-5));
        let data = rows(c, c as u64);
        let args = [
            Value::Array(Tensor::new(
                ScalarType::F32,
                vec![data.len() / c, c],
                data.iter().map(|&x| Scalar::F32(x)).collect(),
            )),
            Value::Scalar(Scalar::F32(1e-5)),
        ];
        let mut results = vec![interp::run(&m, "ln", &args).unwrap()];
        for code in &codes {
            results.push(code.kernel("ln").unwrap().call(&args).unwrap());
        }
        for got in results {
            let most = got[0]
                .data
                .iter()
                .map(|v| v.as_f64().abs())
                .fold(0.0, f64::max);
            assert!(most <= bound.hi, "C = {c}: {most} beyond {bound:?}");
            // the outlier row reaches sqrt(C - 1) (less eps's share)
            assert!(
                most >= ((c - 1) as f64).sqrt() * 0.999,
                "C = {c}: the largest is {most}"
            );
        }
    }
}
