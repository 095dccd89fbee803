//! The adversarial review's classes (issue 13), one test per class: each
//! input here once gave a wrong result, a crash or a wild access. Every
//! kernel runs as written in the interpreter (the oracle) and through every
//! pipeline and backend that is built; all must give the same bits or the
//! same error.

mod common;

use common::compile;
use pj_compiler::Module;
use pj_compiler::codegen::cranelift::jit::{JitModule, Tier};
use pj_compiler::codegen::{LOWERING_PIPELINE, UNOPTIMIZED_PIPELINE};
use pj_compiler::dialects::arith::Scalar;
use pj_compiler::interp::{self, Tensor, Value};
use pj_compiler::passes::PassManager;
use pj_lang::types::ScalarType;

fn array(elem: ScalarType, v: Vec<Scalar>) -> Value {
    Value::Array(Tensor::new(elem, vec![v.len()], v))
}

fn f32s(v: &[f32]) -> Value {
    array(ScalarType::F32, v.iter().map(|&x| Scalar::F32(x)).collect())
}

fn i32s(v: &[i32]) -> Value {
    array(ScalarType::I32, v.iter().map(|&x| Scalar::I32(x)).collect())
}

fn run_pipeline(m: &Module, pipeline: &str) -> Module {
    let mut l = m.clone();
    PassManager::parse(pipeline)
        .expect("known passes")
        .run(&mut l)
        .unwrap_or_else(|e| panic!("{pipeline}: {e}"));
    l
}

/// The outcome of `kernel` in every configuration, as comparable text:
/// results bit for bit (`Debug` tells NaN and -0.0 apart), or the error.
fn outcomes(src: &str, kernel: &str, args: &[Value]) -> Vec<(String, String)> {
    let m = compile("review.pj", src);
    let show = |r: Result<Vec<Tensor>, String>| match r {
        Ok(t) => format!("{t:?}"),
        Err(e) => format!("error: {e}"),
    };
    let interp_of = |m: &Module| show(interp::run(m, kernel, args).map_err(|e| e.to_string()));
    let mut out = vec![("interpreter".to_string(), interp_of(&m))];
    let optimized = run_pipeline(&m, pj_compiler::passes::DEFAULT_PIPELINE);
    out.push(("default passes".into(), interp_of(&optimized)));
    for (level, pipeline) in [("-O0", UNOPTIMIZED_PIPELINE), ("-O2", LOWERING_PIPELINE)] {
        let lowered = run_pipeline(&m, pipeline);
        out.push((format!("loop level {level}"), interp_of(&lowered)));
        for tier in [Tier::Quick, Tier::Optimizing] {
            let code = JitModule::compile_at(&lowered, tier).expect("JIT compiles");
            let k = code.kernel(kernel).expect("kernel compiled");
            let r = k.call(args).map_err(|e| e.to_string());
            out.push((format!("Cranelift {level} {tier:?}"), show(r)));
        }
    }
    out
}

/// Asserts every configuration agrees with the interpreter and returns
/// its outcome.
fn agreed(src: &str, kernel: &str, args: &[Value]) -> String {
    let all = outcomes(src, kernel, args);
    let want = all[0].1.clone();
    for (what, got) in &all[1..] {
        assert_eq!(
            &want, got,
            "{what} disagrees with the interpreter on\n{src}"
        );
    }
    want
}

/// Class 1: a float comparison of a value with itself is not a constant
/// (NaN is unequal to itself), even after CSE merges the two reads.
#[test]
fn float_self_comparisons_keep_nan() {
    let x = f32s(&[1.0, f32::NAN, f32::INFINITY, -0.0]);
    for (op, want) in [
        ("!=", "[false, true, false, false]"),
        ("==", "[true, false, true, true]"),
        ("<=", "[true, false, true, true]"),
        (">=", "[true, false, true, true]"),
        ("<", "[false, false, false, false]"),
    ] {
        let src = format!("kernel k(x: f32[N]) -> y: bool[N] {{ y[i] = x[i] {op} x[i]; }}");
        let got = agreed(&src, "k", std::slice::from_ref(&x));
        let bools = got
            .split("data: ")
            .nth(1)
            .expect("one result")
            .replace("Bool(", "")
            .replace(')', "");
        assert!(bools.starts_with(want), "{op}: {got}");
    }
}

/// Class 2: an integer division by zero is an error wherever the program
/// evaluates it, whether or not its value matters.
#[test]
fn division_by_zero_is_never_optimized_away() {
    let x = i32s(&[7, 8, 9]);
    let d = i32s(&[1, 0, 3]);
    let cases = [
        "y[i] = (x[i] / d[i]) * 0;",
        "y[i] = select(true, 1, x[i] / d[i]);",
        "y[i] = i32(false && (x[i] / d[i] > 0));",
        "y[i] = (x[i] / d[i]) - (x[i] / d[i]);",
        "y[i] = (x[i] % d[i]) * 0 + x[i];",
        "let z = 10 / e; y[i] = x[i];",
        "y[i] = x[i] + sum(k in 0..1) (x[k] / e) * 0;",
    ];
    for body in cases {
        let src = format!("kernel k(x: i32[N], d: i32[N], e: i32) -> y: i32[N] {{ {body} }}");
        let e = if body.contains("/ e") { 0 } else { 1 };
        let got = agreed(
            &src,
            "k",
            &[x.clone(), d.clone(), Value::Scalar(Scalar::I32(e))],
        );
        assert!(got.contains("division by zero"), "{body}: {got}");
    }
    // and no error appears where the program evaluates no division: an
    // empty reduction's body is never run, so nothing may hoist it out
    let src = "kernel k(x: i32[N], d: i32) -> y: i32[N] { y[i] = x[i] + sum(k in 0..0) x[k] / d; }";
    let got = agreed(src, "k", &[x.clone(), Value::Scalar(Scalar::I32(0))]);
    assert!(got.contains("I32(7)"), "{got}");
}
