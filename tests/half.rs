//! The 16-bit float element types `f16` and `bf16`: an operation on them
//! is the `f32` operation rounded to the type (the correctly rounded
//! 16-bit result for `+ - * /` and `sqrt`), a reduction accumulates in
//! `f32` and rounds once, conversions to them round from `f32` only.
//! Checked against an independent rounding (the `half` crate) in the
//! interpreter, and bit for bit between the interpreter, its run of the
//! `lower-half` form, and every backend, vectorized, on inputs that
//! include the specials: subnormals, the overflow threshold, infinities,
//! NaNs, signed zeros.

mod common;

use common::*;
use half::{bf16, f16};
use pj_compiler::dialects::arith::Scalar;
use pj_compiler::interp::{self, Tensor, Value};
use pj_compiler::ir::ScalarType;
use pj_compiler::passes::PassManager;

/// Inputs: every special, then random values of every magnitude the type
/// has (random bit patterns).
fn inputs(t: ScalarType, n: usize, seed: u64) -> Vec<u16> {
    let specials: &[u16] = match t {
        // 0, -0, 1, smallest subnormal, largest subnormal, smallest normal,
        // 65504, inf, -inf, NaN, -NaN, a NaN with a payload, 0.1, -2.5
        ScalarType::F16 => &[
            0, 0x8000, 0x3c00, 1, 0x3ff, 0x400, 0x7bff, 0x7c00, 0xfc00, 0x7e00, 0xfe00, 0x7c01,
            0x2e66, 0xc100,
        ],
        _ => &[
            0, 0x8000, 0x3f80, 1, 0x7f, 0x80, 0x7f7f, 0x7f80, 0xff80, 0x7fc0, 0xffc0, 0x7f81,
            0x3dcd, 0xc020,
        ],
    };
    let mut rng = Rng(seed);
    let mut out: Vec<u16> = specials.to_vec();
    while out.len() < n {
        let q = rng.next() as u16;
        // mostly moderate magnitudes, so that sums and products are finite
        let q = if out.len().is_multiple_of(3) {
            q
        } else {
            match t {
                ScalarType::F16 => (q & 0x87ff) | 0x3800,
                _ => (q & 0x807f) | 0x3f00,
            }
        };
        out.push(q);
    }
    out.truncate(n);
    out
}

fn half_array(t: ScalarType, bits: &[u16]) -> Value {
    Value::Array(half_tensor(t, bits))
}

/// Runs `kernel` in the interpreter, in the interpreter after `lower-half`
/// (and `lower-quant`: the integer form the backends get), and on every
/// backend; asserts every result is the same bits.
fn agree_everywhere(src: &str, kernel: &str, args: &[Value]) -> Vec<Tensor> {
    let m = compile("half.pj", src);
    let want = interp::run(&m, kernel, args).expect("interpreter");
    let mut low = m.clone();
    PassManager::parse("lower-half,lower-quant,canonicalize,cse,dce")
        .unwrap()
        .run(&mut low)
        .unwrap();
    let text = pj_compiler::ir::print::print_module(&low, Default::default());
    assert!(
        !text.contains("quant."),
        "lower-half leaves no conversion op after lower-quant:\n{text}"
    );
    same(
        &interp::run(&low, kernel, args).unwrap(),
        &want,
        "lower-half",
    );
    // idempotent: the full lowering (which runs it again) takes that form
    let looped = lowered(&low);
    same(&interp::run(&looped, kernel, args).unwrap(), &want, "loops");
    for code in jit_all(&m) {
        let got = code.kernel(kernel).unwrap().call(args).unwrap();
        same(&got, &want, code.backend().name());
    }
    want
}

fn same(got: &[Tensor], want: &[Tensor], what: &str) {
    for (r, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!((g.elem, &g.shape), (w.elem, &w.shape), "{what}: result {r}");
        if let Some(i) = (0..g.data.len()).find(|&i| !same_scalar(g.data[i], w.data[i])) {
            panic!(
                "{what}: result {r} element {i}: {:?}, expected {:?}",
                g.data[i], w.data[i]
            );
        }
    }
}

/// The same bits, but a NaN matches any NaN: the sign and payload of a
/// NaN an operation makes are the hardware's (IEEE 754 leaves them open),
/// as the other differential tests have it.
fn same_scalar(a: Scalar, b: Scalar) -> bool {
    let nan = |s: Scalar| s.ty().is_float() && s.as_f64().is_nan();
    a == b || (nan(a) && nan(b))
}

/// The same 16-bit float (any NaN matching any NaN).
fn same_half(t: ScalarType, got: u16, want: u16) -> bool {
    let nan = |q: u16| match t {
        ScalarType::F16 => f16::from_bits(q).is_nan(),
        _ => bf16::from_bits(q).is_nan(),
    };
    got == want || (nan(got) && nan(want))
}

fn bits(t: &Tensor) -> Vec<u16> {
    t.data
        .iter()
        .map(|s| match *s {
            Scalar::F16(q) | Scalar::Bf16(q) => q,
            s => panic!("{s:?} is not a 16-bit float"),
        })
        .collect()
}

/// `half`'s rounding, with the language's NaN: the type's quiet NaN with
/// the sign.
fn round_f16(x: f32) -> u16 {
    if x.is_nan() {
        return if x.is_sign_negative() { 0xfe00 } else { 0x7e00 };
    }
    f16::from_f32(x).to_bits()
}

fn round_bf16(x: f32) -> u16 {
    if x.is_nan() {
        return if x.is_sign_negative() { 0xffc0 } else { 0x7fc0 };
    }
    bf16::from_f32(x).to_bits()
}

/// `x` rounded to 16-bit type `t` by `half`.
fn round(t: ScalarType, x: f32) -> u16 {
    match t {
        ScalarType::F16 => round_f16(x),
        _ => round_bf16(x),
    }
}

/// The value bits `q` of 16-bit type `t` stand for, by `half`.
fn widen(t: ScalarType, q: u16) -> f32 {
    match t {
        ScalarType::F16 => f16::from_bits(q).to_f32(),
        _ => bf16::from_bits(q).to_f32(),
    }
}

#[test]
fn conversions_are_exact_one_way_and_round_to_nearest_even_the_other() {
    use pj_compiler::dialects::quant::{f16_bits, f16_value};
    // every f16 widens exactly, as `half` widens it
    for q in 0..=u16::MAX {
        let (ours, theirs) = (f16_value(q), f16::from_bits(q).to_f32());
        if theirs.is_nan() {
            assert!(ours.is_nan() && ours.is_sign_negative() == theirs.is_sign_negative());
        } else {
            assert_eq!(ours.to_bits(), theirs.to_bits(), "{q:#x}");
        }
    }
    // rounding: the ties and thresholds, then random f32s
    let mut xs: Vec<f32> = vec![
        65504.0,
        65519.99,
        65520.0,
        2f32.powi(-24),
        2f32.powi(-25),
        2f32.powi(-25) * 1.0000001,
        3.0 * 2f32.powi(-25),
        2f32.powi(-14) - 2f32.powi(-25),
        1.0 + 2f32.powi(-11),
        1.0 + 3.0 * 2f32.powi(-11),
        f32::MAX,
        f32::from_bits(1),
    ];
    let mut rng = Rng(5);
    xs.extend((0..200_000).map(|_| f32::from_bits(rng.next() as u32)));
    xs.extend((0..200_000).map(|i| (i as f32 - 1e5) * 0.731));
    for x in xs.into_iter().flat_map(|x| [x, -x]) {
        assert_eq!(f16_bits(x), round_f16(x), "{x:e} ({:#x})", x.to_bits());
    }
}

const ARITH: &str = "
kernel arith(a: T[N], b: T[N], s: T) -> (y: T[N], z: T[N], w: T[N], m: T[N], c: i32[N], f: f32[N], g: T[N]) {
    y[i] = a[i] * b[i] + s;
    z[i] = (a[i] - b[i]) / b[i];
    w[i] = sqrt(abs(a[i])) + exp(b[i] / 16.0);
    m[i] = max(a[i], b[i]) - min(a[i], -b[i]);
    c[i] = i32(a[i]) + select(a[i] < b[i], 1, 0);
    f[i] = f32(a[i]) * 3.0;
    g[i] = T(f32(a[i]) * 0.3);
}
";

#[test]
fn arithmetic_is_the_f32_operation_rounded_on_every_backend() {
    for t in [ScalarType::F16, ScalarType::Bf16] {
        let src = ARITH.replace('T', t.name());
        let n = 1031;
        let (a, b) = (inputs(t, n, 1), inputs(t, n, 2));
        let s = match t {
            ScalarType::F16 => Scalar::F16(0x3c00 + 7),
            _ => Scalar::Bf16(0x3f80 + 7),
        };
        let args = [half_array(t, &a), half_array(t, &b), Value::Scalar(s)];
        let got = agree_everywhere(&src, "arith", &args);
        // the interpreter against an independent rounding
        let widen = |q: u16| widen(t, q);
        let round = |x: f32| round(t, x);
        let sv = widen(match s {
            Scalar::F16(q) | Scalar::Bf16(q) => q,
            _ => unreachable!(),
        });
        let (y, z, g) = (bits(&got[0]), bits(&got[1]), bits(&got[6]));
        for i in 0..n {
            let (x1, x2) = (widen(a[i]), widen(b[i]));
            let want_y = round(widen(round(x1 * x2)) + sv);
            let want_z = round(widen(round(x1 - x2)) / x2);
            let want_g = round(x1 * 0.3);
            assert!(
                same_half(t, y[i], want_y),
                "{t} y[{i}]: {x1:e} * {x2:e} + {sv:e}"
            );
            assert!(
                same_half(t, z[i], want_z),
                "{t} z[{i}]: ({x1:e} - {x2:e}) / {x2:e}"
            );
            assert!(same_half(t, g[i], want_g), "{t} g[{i}]: {x1:e} * 0.3");
            let Scalar::F32(f) = got[5].data[i] else {
                panic!()
            };
            assert!(f.to_bits() == (x1 * 3.0).to_bits() || (f.is_nan() && x1.is_nan()));
        }
    }
}

const STAGES: &str = "
kernel stages(img: T[H, W] @boundary(zero), k: T) -> (out: T[H, W], total: f32[H], run: T[H, W]) {
    t[y, x] = img[y, x - 1] * k + img[y, x + 1];
    out[y, x] = t[y - 1, x] + t[y + 1, x] - t[y, x];
    s[y] = sum(j) img[y, j];
    total[y] = f32(s[y]) + f32(max(j) img[y, j]);
    run[y, x] = run[y, x - 1] * k + img[y, x] init 0.5;
}
";

#[test]
fn stored_stages_reductions_and_recurrences_agree_on_every_backend() {
    for t in [ScalarType::F16, ScalarType::Bf16] {
        let src = STAGES.replace('T', t.name());
        let (h, w) = (7, 37);
        let x = inputs(t, h * w, 3);
        let mut xa = half_array(t, &x);
        if let Value::Array(a) = &mut xa {
            a.shape = vec![h, w];
        }
        let k = match t {
            ScalarType::F16 => Scalar::F16(0x3800),
            _ => Scalar::Bf16(0x3f00),
        };
        let got = agree_everywhere(&src, "stages", &[xa, Value::Scalar(k)]);
        // the sum accumulates in f32 and rounds once: row 1 by hand
        let widen = |q: u16| widen(t, q);
        let row: f32 = (0..w).map(|j| widen(x[w + j])).fold(0.0, |acc, v| acc + v);
        let s1 = widen(round(t, row));
        let mx = (0..w)
            .map(|j| widen(x[w + j]))
            .fold(f32::NEG_INFINITY, |a, v| {
                if a.is_nan() || v.is_nan() {
                    f32::NAN
                } else {
                    a.max(v)
                }
            });
        let Scalar::F32(total) = got[1].data[1] else {
            panic!()
        };
        let want = s1 + mx;
        assert!(
            total.to_bits() == want.to_bits() || (total.is_nan() && want.is_nan()),
            "{t}: total[1] = {total}, expected {want}"
        );
    }
}

#[test]
fn the_language_says_what_converts_to_a_16_bit_float() {
    let errs = |src: &str| match pj_compiler::compile_source("t.pj", src) {
        Ok(_) => panic!("compiles:\n{src}"),
        Err(d) => pj_lang::diagnostic::render_all(&d, "t.pj", src),
    };
    let e = errs("kernel k(x: i32[N]) -> y: f16[N] { y[i] = f16(x[i]); }");
    assert!(
        e.contains("`f16(...)` converts from f32, f16 or bf16, not i32")
            && e.contains("f16(f32(...))"),
        "{e}"
    );
    let e = errs("kernel k(x: f16[N]) -> y: f16[N] { y[i] = x[i] + 70000.0; }");
    assert!(e.contains("literal 7e4 is out of range for f16"), "{e}");
    let e = errs("kernel k(x: f16[N]) -> y: f32[N] { y[i] = x[i]; }");
    assert!(e.contains("f16") && e.contains("f32"), "{e}");
    // literals round once, from the decimal: 0.1 is 0x2e66 in f16
    let m = compile(
        "t.pj",
        "kernel k(x: f16[N], b: bf16[N]) -> (y: f16[N], z: bf16[N]) { y[i] = x[i] * 0.0 + 0.1; z[i] = b[i] * 0.0 + 0.1; }",
    );
    let got = interp::run(
        &m,
        "k",
        &[
            half_array(ScalarType::F16, &[0]),
            half_array(ScalarType::Bf16, &[0]),
        ],
    )
    .unwrap();
    assert_eq!(got[0].data[0], Scalar::F16(f16::from_f64(0.1).to_bits()));
    assert_eq!(got[1].data[0], Scalar::Bf16(bf16::from_f64(0.1).to_bits()));
}

#[test]
fn updates_of_a_16_bit_stage_round_each_combination_on_every_backend() {
    for t in [ScalarType::F16, ScalarType::Bf16] {
        let src = format!(
            "kernel k(idx: i64[N], v: {t}[N]) -> (h: {t}[8], top: {t}[8]) {{
                h[b] = 0.25;
                h[clamp(idx[i], 0, 7)] += v[i] for i;
                top[b] = -1.0;
                top[clamp(idx[i], 0, 7)] max= v[i] for i;
            }}"
        );
        let n = 500;
        let mut rng = Rng(9);
        let idx: Vec<Scalar> = (0..n).map(|_| Scalar::I64(rng.next() as i64 % 9)).collect();
        let v = inputs(t, n, 4);
        let args = [
            Value::Array(Tensor::new(ScalarType::I64, vec![n], idx.clone())),
            half_array(t, &v),
        ];
        let got = agree_everywhere(&src, "k", &args);
        // bin 3 by hand: each addition rounded to the type
        let mut h = round(t, 0.25);
        for (i, s) in idx.iter().enumerate() {
            if s.as_i64().unwrap().clamp(0, 7) == 3 {
                h = round(t, widen(t, h) + widen(t, v[i]));
            }
        }
        assert!(same_half(t, bits(&got[0])[3], h), "{t}: h[3]");
    }
}
