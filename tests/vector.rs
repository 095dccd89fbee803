//! The `vector` dialect: hand-written vector IR (tests/vector/*.pjir) runs
//! the same in the interpreter and as native code from every backend (128-bit vectors and
//! narrower ones feeding widening casts), at lengths around the
//! vector width (0, 1, 3, 4, 5, 7, 33, 1000), and a vector access past the
//! end is an error, never a wild read.

mod common;

use common::{jit_all, read};

use pj_compiler::dialects::arith::Scalar;
use pj_compiler::interp::{self, Tensor, Value};
use pj_compiler::ir::{parse::parse_module, print, verify::verify};
use pj_lang::types::ScalarType;

fn module() -> pj_compiler::Module {
    let path = common::root().join("tests/vector/kernels.pjir");
    let m = parse_module(&read(&path)).unwrap_or_else(|d| panic!("{d:?}"));
    verify(&m).unwrap_or_else(|e| panic!("{e}"));
    m
}

fn array(t: ScalarType, values: impl Iterator<Item = i64>) -> Value {
    let data: Vec<Scalar> = values
        .map(|v| {
            if t.is_float() {
                Scalar::F64(v as f64 / 8.0 + 0.25).cast(t)
            } else {
                Scalar::I64(v).cast(t)
            }
        })
        .collect();
    Value::Array(Tensor::new(t, vec![data.len()], data))
}

#[test]
fn vector_ir_round_trips() {
    let m = module();
    let text = print::print_module(&m, print::PrintOptions::default());
    let again = print::print_module(
        &parse_module(&text).unwrap(),
        print::PrintOptions::default(),
    );
    assert_eq!(text, again);
}

/// Asserts kernel `name` gives the same results (or error) in the
/// interpreter and as native code; returns the interpreter's.
fn agree(
    m: &pj_compiler::Module,
    code: &pj_compiler::codegen::JitModule,
    name: &str,
    args: &[Value],
    n: usize,
) -> Result<Vec<Tensor>, String> {
    let want = interp::run(m, name, args).map_err(|e| e.to_string());
    let got = code
        .kernel(name)
        .unwrap()
        .call(args)
        .map_err(|e| e.to_string());
    assert_eq!(
        format!("{got:?}"),
        format!("{want:?}"),
        "{name}, n = {n}, {}",
        code.backend()
    );
    want
}

#[test]
fn interpreter_and_jit_agree_on_vector_code() {
    let m = module();
    for code in jit_all(&m) {
        for n in [0usize, 1, 3, 4, 5, 7, 33, 1000] {
            let x = array(ScalarType::F32, (0..n as i64).map(|i| (i * 37) % 101 - 50));
            let y = array(ScalarType::F32, (0..n as i64).map(|i| (i * 13) % 29 + 1));
            let args = [x, y];
            agree(&m, &code, "vadd", &args, n).ok();

            let a = array(ScalarType::I32, (0..n as i64).map(|i| i * 12345 - 40000));
            let b = array(ScalarType::I32, (0..n as i64).map(|i| 7 - i * 999));
            let w = array(
                ScalarType::I64,
                (0..n as i64).map(|i| i * 3_000_000_017 - 7),
            );
            let args = [a, b, w];
            let want = agree(&m, &code, "ints", &args, n);
            assert!(want.is_ok(), "{want:?}");

            let x = Value::Array(Tensor::new(
                ScalarType::F32,
                vec![2, n],
                (0..2 * n as i64)
                    .map(|i| Scalar::F32(i as f32 + 0.5))
                    .collect(),
            ));
            let args = [x];
            let want = agree(&m, &code, "padded", &args, n);
            assert!(want.is_ok(), "{want:?}");

            let a = array(ScalarType::U8, (0..n as i64).map(|i| i * 77 + 3));
            let b = array(ScalarType::I8, (0..n as i64).map(|i| i * 41 - 120));
            let args = [a, b];
            let want = agree(&m, &code, "narrow", &args, n);
            assert!(want.is_ok(), "{want:?}");
        }
    }
}

#[test]
fn a_vector_load_past_the_end_is_an_error() {
    // `vadd` with y shorter than x: its vector loads of y run past the end.
    let m = pj_compiler::ir::parse::parse_module(
        &read(&common::root().join("tests/vector/kernels.pjir"))
            .replace("%y: buffer f32[N], %out", "%y: buffer f32[M], %out"),
    )
    .unwrap();
    verify(&m).unwrap();
    let x = array(ScalarType::F32, 0..8);
    let y = array(ScalarType::F32, 0..6);
    let args = [x, y];
    let want = interp::run(&m, "vadd", &args).unwrap_err();
    assert!(
        matches!(want, interp::InterpError::OutOfBounds { .. }),
        "{want}"
    );
    for code in jit_all(&m) {
        let got = code.kernel("vadd").unwrap().call(&args).unwrap_err();
        assert!(
            got.message.contains("out of bounds"),
            "{}: {got}",
            code.backend()
        );
    }
}

/// A loop that loads what an earlier iteration stored (a running sum in
/// place: `out[i] = out[i - 1] + x[i]`) stays scalar: in a vector of four
/// lanes the later lanes would read the old values. A loop that stores and
/// reloads the same column (a sliding window's ring) still vectorizes, and
/// CSE forwards the stored value to the reload. Either way the result is
/// the interpreter's.
#[test]
fn the_vectorizer_keeps_loops_that_read_their_own_stores_at_other_columns_scalar() {
    use pj_compiler::passes::PassManager;
    let src = "
func.func() {arg_names = [\"x\", \"out\"], num_results = 1, sym_name = \"scan\"} {
^bb0(%x: buffer f32[N], %out: buffer f32[?]):
  %one = arith.constant() {value = 1} : i64
  %n = mem.dim(%x) {dim = 0} : i64
  loop.for(%one, %n, %one) {
  ^bb0(%i: i64):
    %p = arith.sub(%i, %one) : i64
    %a = mem.load(%out, %p) : f32
    %b = mem.load(%x, %i) : f32
    %s = arith.add(%a, %b) : f32
    mem.store(%s, %out, %i)
    loop.yield()
  }
  func.return()
}
func.func() {arg_names = [\"x\", \"out\"], num_results = 1, sym_name = \"twice\"} {
^bb0(%x: buffer f32[N], %out: buffer f32[?]):
  %zero = arith.constant() {value = 0} : i64
  %one = arith.constant() {value = 1} : i64
  %n = mem.dim(%x) {dim = 0} : i64
  loop.for(%zero, %n, %one) {
  ^bb0(%i: i64):
    %b = mem.load(%x, %i) : f32
    %c = arith.add(%b, %b) : f32
    mem.store(%c, %out, %i)
    %d = mem.load(%out, %i) : f32
    %e = arith.mul(%d, %b) : f32
    mem.store(%e, %out, %i)
    loop.yield()
  }
  func.return()
}
SHAPE
";
    let shape = |k: &str| {
        format!(
            "func.func() {{arg_names = [\"x\", \"shape\"], num_results = 1, shape_of = \"{k}\", sym_name = \"{k}.shape\"}} {{
^bb0(%x: buffer f32[N], %shape: buffer i64[?]):
  %zero = arith.constant() {{value = 0}} : i64
  %n = mem.dim(%x) {{dim = 0}} : i64
  mem.store(%n, %shape, %zero)
  func.return()
}}
"
        )
    };
    let src = src.replace("SHAPE", &(shape("scan") + &shape("twice")));
    let m = parse_module(&src).unwrap_or_else(|d| panic!("{d:?}"));
    verify(&m).unwrap_or_else(|e| panic!("{e}"));
    let mut v = m.clone();
    PassManager::parse("vectorize")
        .unwrap()
        .run(&mut v)
        .unwrap();
    let text = print::print_module(&v, print::PrintOptions::default());
    let (scan, twice) = text.split_at(text.find("sym_name = \"twice\"").unwrap());
    assert!(!scan.contains("vector.load"), "scan stays scalar:\n{text}");
    assert!(twice.contains("vector.load"), "twice vectorizes:\n{text}");
    // CSE then forwards the stored vector to the load that reads it back
    PassManager::parse("cse").unwrap().run(&mut v).unwrap();
    let text = print::print_module(&v, print::PrintOptions::default());
    let (scan, twice) = text.split_at(text.find("sym_name = \"twice\"").unwrap());
    assert!(
        scan.contains("mem.load(%out"),
        "scan reads what it stored:\n{text}"
    );
    assert!(
        !twice.contains("load(%out"),
        "twice reads back nothing it stored:\n{text}"
    );
    for code in jit_all(&v) {
        for n in [1usize, 3, 4, 9, 33] {
            for name in ["scan", "twice"] {
                let args = vec![array(ScalarType::F32, (0..n as i64).map(|i| 3 - i))];
                let want = interp::run(&m, name, &args).map_err(|e| e.to_string());
                let lowered = interp::run(&v, name, &args).map_err(|e| e.to_string());
                let got = code
                    .kernel(name)
                    .unwrap()
                    .call(&args)
                    .map_err(|e| e.to_string());
                assert_eq!(format!("{lowered:?}"), format!("{want:?}"), "{name} at {n}");
                assert_eq!(
                    format!("{got:?}"),
                    format!("{want:?}"),
                    "{name} at {n}, JIT"
                );
            }
        }
    }
}

/// Vectors wider than 128 bits (what the compile driver makes for LLVM on
/// AVX-512) are refused by Cranelift with a message, never narrowed.
#[test]
fn cranelift_refuses_vectors_wider_than_128_bits() {
    let text = r#"
func.func() {arg_names = ["x", "out"], num_results = 1, sym_name = "wide"} {
^bb0(%x: buffer f32[N], %out: buffer f32[?]):
  %zero = arith.constant() {value = 0} : i64
  %sixteen = arith.constant() {value = 16} : i64
  %n = mem.dim(%x) {dim = 0} : i64
  %blocks = arith.div(%n, %sixteen) : i64
  %vend = arith.mul(%blocks, %sixteen) : i64
  loop.for(%zero, %vend, %sixteen) {
  ^bb0(%i: i64):
    %a = vector.load(%x, %i) : f32x16
    %s = arith.mul(%a, %a) : f32x16
    vector.store(%s, %out, %i)
    loop.yield()
  }
  func.return()
}
func.func() {arg_names = ["x", "shape"], num_results = 1, shape_of = "wide", sym_name = "wide.shape"} {
^bb0(%x: buffer f32[N], %shape: buffer i64[?]):
  %zero = arith.constant() {value = 0} : i64
  %n = mem.dim(%x) {dim = 0} : i64
  mem.store(%n, %shape, %zero)
  func.return()
}
"#;
    let m = parse_module(text).unwrap();
    verify(&m).unwrap();
    let err = common::try_jit(&m, pj_compiler::codegen::Backend::Cranelift)
        .err()
        .expect("refused");
    assert!(
        err.to_string()
            .contains("Cranelift encodes vectors of at most 128 bits"),
        "{err}"
    );
    // and every other backend runs it as the interpreter does
    for backend in common::backends() {
        if backend == pj_compiler::codegen::Backend::Cranelift {
            continue;
        }
        let code = common::jit(&m, backend);
        for n in [0usize, 15, 16, 33] {
            let x = array(ScalarType::F32, (0..n as i64).map(|i| (i * 37) % 101 - 50));
            agree(&m, &code, "wide", &[x], n).ok();
        }
    }
}

/// `vector.dot4` (four 8-bit products summed into each `i32` lane,
/// wrapping) and `vector.interleave4`, for every sign of the operands, with
/// the extremes of each type and an accumulator near `i32::MAX` (so the
/// sums wrap): every backend gives the interpreter's bits, at 128 bits
/// (Cranelift's tree that VNNI folds; LLVM's generic widening on x86).
#[test]
fn dot_products_of_bytes_agree_for_every_sign() {
    let text = read(&common::root().join("tests/vector/dots.pjir"));
    // and `{pairs16}` (`pmaddubsw`'s saturating pairs, where the values here
    // do saturate): its instruction with Cranelift on x86, the same
    // saturation spelled out with LLVM on a machine with VNNI
    let pairs16 = text
        .replace("%b) : i32x4", "%b) {pairs16 = true} : i32x4")
        .replace("%rows) : i32x4", "%rows) {pairs16 = true} : i32x4");
    assert_eq!(pairs16.matches("pairs16").count(), 2);
    for (xt, yt, text) in [
        ("u8", "i8", &text),
        ("i8", "u8", &text),
        ("i8", "i8", &text),
        ("u8", "u8", &text),
        ("u8", "i8", &pairs16),
    ] {
        let m = parse_module(&text.replace("XT", xt).replace("YT", yt))
            .unwrap_or_else(|d| panic!("{d:?}"));
        verify(&m).unwrap_or_else(|e| panic!("{e}"));
        let ty = |t: &str| {
            if t == "u8" {
                ScalarType::U8
            } else {
                ScalarType::I8
            }
        };
        for code in jit_all(&m) {
            for n in [0usize, 16, 32, 160] {
                // extremes first, then a walk through every value
                let x = array(
                    ty(xt),
                    (0..n as i64)
                        .map(|i| [255, 0, -128, 127][i as usize % 4] + i * 37 * (i % 5 / 4)),
                );
                let y = array(
                    ty(yt),
                    (0..n as i64)
                        .map(|i| [-128, 127, 255, 0][i as usize % 4] + i * 53 * (i % 3 / 2)),
                );
                let want = agree(&m, &code, "dots", &[x, y], n);
                assert!(want.is_ok(), "{xt} x {yt}: {want:?}");
            }
        }
    }
}
