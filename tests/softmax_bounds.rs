//! A softmax's bounds: the range analysis knows `x[n, c] - max(c) x[n, c]`
//! is never positive and that the sum of its exponentials is at least 1
//! (`quant::facts`), and the error analysis carries relative errors through
//! the exponentials, their sum and the quotient — so `y` is proven in
//! [0, 1] and its error bound does not grow with the row length as an
//! absolute bound over the smallest sum would. With that, storing `e` in
//! 16 bits is proven within a tolerance at real sizes, and the proof holds
//! on data built to be hard (one dominant element, all equal, random).

mod common;

use common::*;
use pj_compiler::dialects::arith::Scalar;
use pj_compiler::interp::{self, Tensor, Value};
use pj_compiler::ir::ScalarType;
use pj_compiler::passes::PassManager;
use pj_compiler::passes::quantize::Quantize;
use pj_compiler::quant::plan::{Mode, Request};
use pj_compiler::quant::ranges::{Inputs, Interval, analyze, no_sizes};
use std::collections::HashMap;

const SOFTMAX: &str = "
kernel softmax(x: f32[N, C] @range(-4.0, 4.0)) -> y: f32[N, C] @tolerance(abs = 0.01) {
    m[n] = max(c) x[n, c];
    e[n, c] = exp(x[n, c] - m[n]);
    s[n] = sum(c) e[n, c];
    y[n, c] = e[n, c] / s[n];
    schedule { e.compute_root(); }
}";

/// The proven range of the first result of kernel `k` in `src`, its
/// first parameter in `range`, every size unbounded.
fn proven(src: &str, range: (f64, f64)) -> Interval {
    let mut m = compile("k", src);
    PassManager::default_pipeline().run(&mut m).unwrap();
    let k = m.kernels()[0];
    analyze(
        &m,
        k,
        &Inputs {
            params: &[Some(range), Some(range)],
            sizes: no_sizes(),
            limits: no_sizes(),
        },
    )
    .1[0]
}

#[test]
fn a_value_minus_its_rows_maximum_is_never_positive() {
    let r = proven(
        "kernel k(x: f32[N, C]) -> d: f32[N, C] {
            m[n] = max(c) x[n, c];
            d[n, c] = x[n, c] - m[n];
        }",
        (-4.0, 4.0),
    );
    assert!(r.hi <= 0.0 && r.lo >= -8.01, "{r:?}");
    // the softmax: in [0, 1] at any size, where intervals say unbounded
    let r = proven(SOFTMAX, (-4.0, 4.0));
    assert!(r.lo >= 0.0 && r.hi <= 1.0001, "{r:?}");
}

#[test]
fn the_facts_do_not_hold_where_their_shape_does_not() {
    let positive = |src: &str| proven(src, (-4.0, 4.0)).hi > 0.0;
    // another array's maximum
    assert!(positive(
        "kernel k(x: f32[N, C], z: f32[N, C]) -> d: f32[N, C] {
            m[n] = max(c) z[n, c];
            d[n, c] = x[n, c] - m[n];
        }"
    ));
    // a minimum
    assert!(positive(
        "kernel k(x: f32[N, C]) -> d: f32[N, C] {
            m[n] = min(c) x[n, c];
            d[n, c] = x[n, c] - m[n];
        }"
    ));
    // another row's maximum
    assert!(positive(
        "kernel k(x: f32[N, C]) -> d: f32[N, C] {
            m[n] = max(c) x[n, c];
            d[n, c] = x[n, c] - m[0];
        }"
    ));
    // an element past the maximum's reach (a maximum over the first half)
    assert!(positive(
        "kernel k(x: f32[N, C]) -> d: f32[N, C] {
            m[n] = max(c in 0..C / 2) x[n, c];
            d[n, c] = x[n, c] - m[n];
        }"
    ));
    // the maximum subtracted the other way round
    assert!(positive(
        "kernel k(x: f32[N, C]) -> d: f32[N, C] {
            m[n] = max(c) x[n, c];
            d[n, c] = m[n] - x[n, c];
        }"
    ));
    // a sum of exponentials of something else may be below 1: its
    // quotient stays unbounded
    let r = proven(
        "kernel k(x: f32[N, C]) -> y: f32[N, C] {
            m[n] = max(c) x[n, c];
            s[n] = sum(c) exp(x[n, c] - m[n] - 1.0);
            y[n, c] = exp(x[n, c] - m[n]) / s[n];
        }",
        (-4.0, 4.0),
    );
    assert!(r.hi > 1.0, "{r:?}");
}

/// Rows of length `c` built to be hard: one element dominant (the sum
/// near 1), all equal (the sum `c`), uniform, and near the range's ends.
fn rows(c: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng(seed);
    let mut v = Vec::new();
    v.extend((0..c).map(|i| if i == c / 2 { 4.0 } else { -4.0 }));
    v.extend((0..c).map(|_| 1.25));
    v.extend((0..c).map(|_| rng.uniform(-4.0, 4.0)));
    v.extend((0..c).map(|i| if i % 2 == 0 { 3.999 } else { -3.999 }));
    v
}

/// The largest distance of `got` from the exact softmax of `data`
/// (`f64`).
fn error_against_exact(got: &Tensor, data: &[f32], c: usize) -> f64 {
    let mut worst: f64 = 0.0;
    for (row, out) in data.chunks(c).zip(got.data.chunks(c)) {
        let max = row
            .iter()
            .fold(f64::NEG_INFINITY, |a, &b| a.max(f64::from(b)));
        let sum: f64 = row.iter().map(|&x| (f64::from(x) - max).exp()).sum();
        for (&x, y) in row.iter().zip(out) {
            let exact = (f64::from(x) - max).exp() / sum;
            worst = worst.max((y.as_f64() - exact).abs());
        }
    }
    worst
}

#[test]
fn e_stored_in_16_bits_is_proven_and_holds_on_hard_rows() {
    for (mode, chosen, at_least) in [
        (Mode::F16, "f16 — stored as binary16", 100_000),
        (Mode::Bf16, "bf16 — stored as bfloat16", 10_000),
    ] {
        let mut pass = Quantize::new(Request::new(mode));
        pass.vector_bits = 512;
        let (_, q, notes) = quantized_with("softmax", SOFTMAX, pass);
        let text = notes.join("\n");
        assert!(
            text.contains(&format!("stage `e` of `softmax`: {chosen}")),
            "{text}"
        );
        // the bound stays within tolerance for rows far longer than the
        // absolute analysis allowed (C <= 19 for f16)
        let limit: i64 = text
            .split("holds for C <= ")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no limit in {text}"));
        assert!(limit >= at_least, "{mode:?}: {text}");
        let bound = proven_bound(&text);
        assert!(bound <= 0.01, "{text}");
        let codes = jit_all(&q);
        for (c, seed) in [(1usize, 1u64), (7, 2), (300, 3), (1024, 4)] {
            let data = rows(c, seed);
            let args = [Value::Array(Tensor::new(
                ScalarType::F32,
                vec![data.len() / c, c],
                data.iter().map(|&x| Scalar::F32(x)).collect(),
            ))];
            let got = interp::run(&q, "softmax", &args).unwrap();
            let err = error_against_exact(&got[0], &data, c);
            assert!(
                err <= bound,
                "{mode:?}, C = {c}: error {err} beyond the bound {bound}"
            );
            for code in &codes {
                let native = code.kernel("softmax").unwrap().call(&args).unwrap();
                let err = error_against_exact(&native[0], &data, c);
                assert!(
                    err <= bound,
                    "{mode:?}, C = {c}, {}: error {err} beyond the bound {bound}",
                    code.backend()
                );
            }
        }
    }
}

#[test]
fn the_float_softmax_is_proven_within_its_rounding() {
    // no quantization: the bound on the float code itself
    let mut m = compile("softmax", SOFTMAX);
    PassManager::default_pipeline().run(&mut m).unwrap();
    let k = m.kernel("softmax").unwrap();
    for c in [1i64, 64, 1024] {
        let limits = HashMap::from([("C".to_string(), c), ("N".to_string(), 4)]);
        let (ranges, _) = analyze(
            &m,
            k,
            &Inputs {
                params: &[Some((-4.0, 4.0))],
                sizes: no_sizes(),
                limits: &limits,
            },
        );
        let (_, bounds) = pj_compiler::quant::error::analyze(&m, k, &ranges);
        // relative errors: a few units of f32 rounding per operation and
        // the sum's γ_C, not C times the smallest sum's absolute error
        let expected = 3.0 * (c as f64 + 20.0) * 2f64.powi(-24);
        assert!(bounds[0] <= expected, "C = {c}: {}", bounds[0]);
        let data = rows(c as usize, 9);
        let args = [Value::Array(Tensor::new(
            ScalarType::F32,
            vec![data.len() / c as usize, c as usize],
            data.iter().map(|&x| Scalar::F32(x)).collect(),
        ))];
        let got = interp::run(&m, "softmax", &args).unwrap();
        let err = error_against_exact(&got[0], &data, c as usize);
        assert!(err <= bounds[0], "C = {c}: {err} > {}", bounds[0]);
    }
}
