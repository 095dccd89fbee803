//! Conversions in vector loops: `f32` to every integer type of up to 32
//! bits (saturating, NaN to 0) and integers to narrower ones (the low
//! bits), which the vectorizer now turns into narrowing vector casts with
//! narrow vectors beside wide ones (`f32x4` and `u8x4` in one loop, what
//! the quantizing stages compute). Every backend must give the
//! interpreter's values on the cases that decide a conversion: NaN,
//! infinities, halves, the ends of each range and just beyond them.

mod common;

use common::*;
use pj_compiler::dialects::arith::Scalar;
use pj_compiler::interp::{self, Tensor, Value};
use pj_compiler::ir::ScalarType;

const NARROW: [ScalarType; 6] = [
    ScalarType::I8,
    ScalarType::U8,
    ScalarType::I16,
    ScalarType::U16,
    ScalarType::I32,
    ScalarType::U32,
];

fn float_cases() -> Vec<Scalar> {
    let mut v: Vec<f32> = vec![
        f32::NAN,
        -f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        0.0,
        -0.0,
        0.5,
        -0.5,
        0.99,
        -0.99,
        1.5,
        2.5,
        126.9,
        127.0,
        127.5,
        128.0,
        -128.0,
        -128.9,
        -129.0,
        254.9,
        255.0,
        255.5,
        256.0,
        32767.0,
        32767.9,
        32768.0,
        -32768.9,
        -32769.0,
        65535.0,
        65535.9,
        65536.0,
        2147483520.0,
        2147483648.0,
        -2147483648.0,
        -2147483904.0,
        4294967040.0,
        4294967296.0,
        1e30,
        -1e30,
        f32::MIN_POSITIVE,
        1e-40,
    ];
    // and a spread of ordinary values
    let mut s = 0x1234_5678u32;
    for _ in 0..300 {
        s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        v.push((s as i32 as f32) / 1024.0 / (1 + (s >> 28)) as f32);
    }
    v.into_iter().map(Scalar::F32).collect()
}

fn int_cases(t: ScalarType) -> Vec<Scalar> {
    let (lo, hi) = t.int_range().unwrap();
    let mut v: Vec<i64> = vec![
        lo,
        lo + 1,
        hi,
        hi - 1,
        0,
        1,
        -1,
        127,
        128,
        255,
        256,
        -129,
        65535,
        65536,
        -32769,
    ];
    let mut s = 99u64;
    for _ in 0..300 {
        s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        v.push((s >> 16) as i64);
    }
    v.into_iter().map(|x| Scalar::I64(x).cast(t)).collect()
}

fn check(from: ScalarType, to: ScalarType, cases: Vec<Scalar>) {
    let src = format!(
        "kernel c(x: {f}[N]) -> y: {t}[N] {{ y[i] = {t}(x[i]); }}",
        f = from.name(),
        t = to.name()
    );
    let m = compile("c", &src);
    let loops = pj_compiler::ir::print::print_module(&lowered(&m), Default::default());
    assert!(
        loops.contains("vector.store"),
        "{from} -> {to} is not vectorized:\n{loops}"
    );
    let x = Value::Array(Tensor::new(from, vec![cases.len()], cases));
    let want = interp::run(&m, "c", std::slice::from_ref(&x)).unwrap();
    for code in jit_all(&m) {
        let got = code
            .kernel("c")
            .unwrap()
            .call(std::slice::from_ref(&x))
            .unwrap();
        assert_eq!(got, want, "{from} -> {to}, {}", code.backend());
    }
}

#[test]
fn f32_to_every_integer_type_saturates_as_the_interpreter_does() {
    for to in NARROW {
        check(ScalarType::F32, to, float_cases());
    }
}

#[test]
fn integers_narrow_to_their_low_bits_as_the_interpreter_does() {
    for from in [
        ScalarType::I32,
        ScalarType::U32,
        ScalarType::I16,
        ScalarType::U16,
    ] {
        for to in NARROW {
            if to.size_bytes() < from.size_bytes() {
                check(from, to, int_cases(from));
            }
        }
    }
}
