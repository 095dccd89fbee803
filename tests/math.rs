//! picojoule's elementary functions in vector code: every backend computes
//! them inline, two to sixteen lanes at a time, and must give the
//! interpreter's bits (the runtime's scalar definition) on every input —
//! specials, subnormals, both signs of zero and NaN, huge arguments whose
//! lanes go to the scalar fallback mixed with lanes that do not — in `f32`
//! and, for the functions defined over `f64` lanes, in `f64`.

mod common;

use common::*;
use pj_compiler::codegen::driver::{self, FastMath, Options, Stage};
use pj_compiler::dialects::arith::Scalar;
use pj_compiler::interp::{self, Value};
use pj_compiler::ir::print::{PrintOptions, print_module};
use pj_lang::types::ScalarType;

/// `f32` values spread over every bit pattern (NaNs, infinities,
/// subnormals and both signs included), then the points where the
/// functions change method, and lanes mixing huge and small arguments.
fn inputs() -> Vec<f32> {
    let mut v: Vec<f32> = (0..=u32::MAX / 65_521)
        .map(|i| f32::from_bits(i.wrapping_mul(65_521)))
        .collect();
    for x in [
        0.0f32,
        -0.0,
        1e-45,
        -1e-45,
        1e-40,
        1.0 / 4096.0,
        0.625,
        0.875,
        4.0,
        8192.0,
        8192.001,
        -8192.001,
        1e30,
        88.72,
        89.0,
        -26.0,
        -1.0,
        1.0,
        0.41421357,
        3.0e-8,
        -3.0e-8,
    ] {
        v.extend([x, -x, f32::from_bits(x.to_bits() + 1)]);
    }
    // a vector whose lanes take both paths of `sin`'s reduction
    v.extend([1e5, 0.5, -3e9, 2.0, 7.0, f32::INFINITY, -0.25, 9000.0]);
    // sweep [-20, 20] finely, where most work happens
    v.extend((0..40_000).map(|i| -20.0 + i as f32 * 1e-3));
    v
}

/// [`inputs`] for `f64`: the same kinds of values, spread over `f64`'s
/// bit patterns, ranges and edges.
fn f64_inputs() -> Vec<f64> {
    let mut v: Vec<f64> = (0..65_536u64)
        .map(|i| f64::from_bits(i.wrapping_mul(0x0001_0000_0000_0001).wrapping_mul(0x9e37)))
        .collect();
    v.extend(inputs().into_iter().map(f64::from));
    for x in [
        5e-324f64,
        1e-310,
        2.2e-308,
        1e-17,
        0.55,
        709.7,
        710.0,
        -745.0,
        -746.0,
        -40.0,
        67_108_864.0,
        67_108_865.0,
        1e17,
        1e300,
    ] {
        v.extend([x, -x, f64::from_bits(x.to_bits() + 1)]);
    }
    v.extend([1e9, 0.5, -3e20, 2.0, 7.0, f64::INFINITY, -0.25, 9000.0]);
    v
}

/// A one-dimensional array of `values` as `elem` (`f32` or `f64`).
fn array(elem: ScalarType, values: &[f64]) -> Value {
    Value::Array(pj_compiler::interp::Tensor::new(
        elem,
        vec![values.len()],
        values
            .iter()
            .map(|&x| match elem {
                ScalarType::F32 => Scalar::F32(x as f32),
                _ => Scalar::F64(x),
            })
            .collect(),
    ))
}

fn bits(s: &Scalar) -> u64 {
    match s {
        Scalar::F32(v) => u64::from(v.to_bits()),
        Scalar::F64(v) => v.to_bits(),
        other => unreachable!("float results, not {other:?}"),
    }
}

/// `call` (in `x`, and `y` for two-argument functions) on `f32` through
/// every backend against the interpreter, bit for bit, after checking the
/// loop computes it on vectors.
fn assert_vector_code_matches_the_interpreter(name: &str, call: &str, binary: bool) {
    let xs: Vec<f64> = inputs().into_iter().map(f64::from).collect();
    assert_vector_matches(ScalarType::F32, name, call, binary, &xs);
}

/// The same over `f64` lanes.
fn assert_f64_vector_code_matches_the_interpreter(name: &str, call: &str, binary: bool) {
    assert_vector_matches(ScalarType::F64, name, call, binary, &f64_inputs());
}

fn assert_vector_matches(elem: ScalarType, name: &str, call: &str, binary: bool, xs: &[f64]) {
    let t = elem.name();
    let params = if binary {
        format!("y: {t}[N], x: {t}[N]")
    } else {
        format!("x: {t}[N]")
    };
    let src = format!("kernel k({params}) -> r: {t}[N] {{ r[i] = {call}; }}");
    let m = compile("m.pj", &src);
    let mut args = vec![array(elem, xs)];
    if binary {
        // each x against a y from elsewhere in the list, so every quadrant,
        // ratio and special pairing occurs
        let ys: Vec<f64> = (0..xs.len())
            .map(|i| xs[(i * 7919 + 13) % xs.len()])
            .collect();
        args.insert(0, array(elem, &ys));
    }
    for backend in backends() {
        let options = Options {
            fast_math: FastMath::Off,
            ..Options::with_backend(backend)
        };
        let (lowered, _) = driver::lower(&m, &options, Stage::Checked).unwrap();
        let ir = print_module(&lowered, PrintOptions::default());
        assert!(
            ir.lines()
                .any(|l| l.contains(&format!("math.{name}(")) && l.contains(&format!("{t}x"))),
            "{backend}: `{name}` on {t} is not vectorized:\n{ir}"
        );
        // the object-file path runs each backend's own verifier, whatever
        // the build profile (the JIT skips Cranelift's in release builds),
        // here and for the other targets' instruction sets
        for target in [
            "host",
            "x86_64-unknown-linux-gnu",
            "aarch64-unknown-linux-gnu",
        ] {
            let options = Options {
                target: pj_compiler::target::Target::parse(target).unwrap(),
                ..options.clone()
            };
            let (lowered, _) = driver::lower(&m, &options, Stage::Checked).unwrap();
            driver::emit(&lowered, &options, &[], driver::Emit::Object)
                .unwrap_or_else(|e| panic!("{backend}, {target}: {name} on {t}: {e}"));
        }
        let want = interp::run(&lowered, "k", &args).unwrap();
        let got = driver::compile(&lowered, &options)
            .unwrap()
            .kernel("k")
            .unwrap()
            .call(&args)
            .unwrap();
        let mismatches: Vec<String> = got[0]
            .data
            .iter()
            .zip(&want[0].data)
            .enumerate()
            .filter(|(_, (g, w))| bits(g) != bits(w))
            .take(5)
            .map(|(i, (g, w))| format!("x = {:e}: {g:?}, the interpreter's {w:?}", xs[i]))
            .collect();
        assert!(
            mismatches.is_empty(),
            "{backend}: {name} on {t}: {}",
            mismatches.join("; ")
        );
    }
}

#[test]
fn sin_cos_tan_in_vector_code_give_the_interpreter_bits_huge_arguments_too() {
    for f in ["sin", "cos", "tan"] {
        assert_vector_code_matches_the_interpreter(f, &format!("{f}(x[i])"), false);
    }
}

#[test]
fn log_log1p_expm1_tanh_erf_in_vector_code_give_the_interpreter_bits() {
    for f in ["log", "log1p", "expm1", "tanh", "erf"] {
        assert_vector_code_matches_the_interpreter(f, &format!("{f}(x[i])"), false);
    }
}

#[test]
fn atan2_and_pow_in_vector_code_give_the_interpreter_bits_on_every_pairing() {
    assert_vector_code_matches_the_interpreter("atan2", "atan2(y[i], x[i])", true);
    assert_vector_code_matches_the_interpreter("pow", "pow(x[i], y[i])", true);
    // the exponents users write: integers, halves, gamma
    for y in ["2.0", "3.0", "-1.0", "0.5", "2.4", "0.41666666"] {
        assert_vector_code_matches_the_interpreter("pow", &format!("pow(x[i], {y})"), false);
    }
}

#[test]
fn f64_functions_in_vector_code_give_the_interpreter_bits() {
    for f in ["exp", "expm1", "log", "log1p", "tanh", "sin", "cos", "tan"] {
        assert_f64_vector_code_matches_the_interpreter(f, &format!("{f}(x[i])"), false);
    }
    assert_f64_vector_code_matches_the_interpreter("atan2", "atan2(y[i], x[i])", true);
}
