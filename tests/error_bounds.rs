//! The error analysis (`quant::error`) is sound: on generated programs
//! (`picojoule::difftest`: every element type, casts, math functions,
//! selects, reductions, stages at offsets), with their float inputs made
//! finite and their ranges taken as promises, every result the
//! interpreter computes lies within the proven bound of the same program
//! computed in `f64` (the exact result, to within 2^-29 of the `f32`
//! rounding; programs with a literal `f32` cannot hold exactly are left
//! out, since the two programs' constants would differ). A bound may be infinite — the analysis gives up on
//! comparisons of inexact values, integer wrap-around, recurrences — but
//! a finite bound must hold.

use pj_compiler::dialects::arith::Scalar;
use pj_compiler::interp::{self, Tensor, Value};
use pj_compiler::ir::ScalarType;
use pj_compiler::passes::PassManager;
use pj_compiler::quant::ranges::{Inputs, Sample};

/// `v` with every non-finite float replaced by a value in [-10, 10].
fn finite(v: &Value, seed: &mut u64) -> Value {
    let mut fix = |s: &Scalar| match s {
        Scalar::F32(x) if !x.is_finite() => {
            *seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            Scalar::F32(((*seed >> 40) % 2001) as f32 / 100.0 - 10.0)
        }
        Scalar::F64(x) if !x.is_finite() => {
            *seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            Scalar::F64(((*seed >> 40) % 2001) as f64 / 100.0 - 10.0)
        }
        s @ (Scalar::F16(_) | Scalar::Bf16(_)) if !s.as_f64().is_finite() => {
            *seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            Scalar::F64(((*seed >> 40) % 2001) as f64 / 100.0 - 10.0).cast(s.ty())
        }
        s => *s,
    };
    match v {
        Value::Array(t) => Value::Array(Tensor::new(
            t.elem,
            t.shape.clone(),
            t.data.iter().map(&mut fix).collect(),
        )),
        Value::Scalar(s) => Value::Scalar(fix(s)),
    }
}

/// `v` with `f32`, `f16` and `bf16` made `f64` (exactly).
fn widened(v: &Value) -> Value {
    let wide = |s: &Scalar| match s {
        Scalar::F32(_) | Scalar::F16(_) | Scalar::Bf16(_) => Scalar::F64(s.as_f64()),
        s => *s,
    };
    match v {
        Value::Array(t)
            if matches!(t.elem, ScalarType::F32 | ScalarType::F16 | ScalarType::Bf16) =>
        {
            Value::Array(Tensor::new(
                ScalarType::F64,
                t.shape.clone(),
                t.data.iter().map(wide).collect(),
            ))
        }
        Value::Scalar(s) => Value::Scalar(wide(s)),
        v => v.clone(),
    }
}

#[test]
fn proven_error_bounds_hold_on_generated_programs() {
    let (mut checked, mut finite_bounds) = (0, 0);
    let seeds: u64 = std::env::var("PJ_ERROR_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(400);
    for seed in 0..seeds {
        let p = picojoule::difftest::generate(seed);
        // the bound is against the program with its literals as its types
        // hold them; `1e-5` is not an f32, and the f64 program's differs
        if p.source.contains("1e-5") {
            continue;
        }
        // the exact program: every f32, f16 and bf16 an f64 (f64 values
        // are exact enough)
        let wide_src = p
            .source
            .replace("bf16", "f64")
            .replace("f16", "f64")
            .replace("f32", "f64");
        let Ok(checked_module) = pj_compiler::compile_source("k", &p.source) else {
            continue;
        };
        let Ok(wide_module) = pj_compiler::compile_source("k", &wide_src) else {
            continue;
        };
        let (mut m, mut w) = (checked_module.module, wide_module.module);
        PassManager::default_pipeline().run(&mut m).unwrap();
        PassManager::default_pipeline().run(&mut w).unwrap();
        let mut s = seed;
        let args: Vec<Value> = p.args.iter().map(|a| finite(a, &mut s)).collect();
        let wide_args: Vec<Value> = args.iter().map(widened).collect();
        let (Ok(got), Ok(exact)) = (
            interp::run(&m, "k", &args),
            interp::run(&w, "k", &wide_args),
        ) else {
            continue;
        };
        let k = m.kernel("k").unwrap();
        let sample = Sample::of(&m, k, &args);
        let (ranges, _) = pj_compiler::quant::ranges::analyze(
            &m,
            k,
            &Inputs {
                params: &sample.observed,
                sizes: &sample.sizes,
                limits: pj_compiler::quant::ranges::no_sizes(),
            },
        );
        let (_, bounds) = pj_compiler::quant::error::analyze(&m, k, &ranges);
        checked += 1;
        for (r, ((g, e), b)) in got.iter().zip(&exact).zip(&bounds).enumerate() {
            if !b.is_finite() {
                continue;
            }
            finite_bounds += 1;
            for (i, (x, y)) in g.data.iter().zip(&e.data).enumerate() {
                let (x, y) = (x.as_f64(), y.as_f64());
                if x.is_nan() && y.is_nan() || x == y {
                    continue;
                }
                assert!(
                    (x - y).abs() <= *b,
                    "seed {seed}, result {r}, element {i}: {x} against exact {y}, beyond the proven {b}\n{}",
                    p.source
                );
            }
        }
    }
    // the check must see programs, and bounds that are not all infinite
    assert!(checked >= 200, "only {checked} programs ran");
    assert!(finite_bounds >= 50, "only {finite_bounds} finite bounds");
}
