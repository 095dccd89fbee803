//! The `int16` scheme of the `quantize` pass (`quant::exact`): float
//! arithmetic over integers becomes exact integer arithmetic. Each case
//! is a kernel written in float over integer inputs; the pass makes it
//! integers only, every result equals the exact one (the same kernel in
//! `f64`, which for these kernels decides every truncation as exact
//! arithmetic does: each case says why), stays within 1 of the `f32`
//! kernel, and every backend computes the interpreter's bits, vectorized.
//! What has no exact integer form stays float, and the note says why.

mod common;

use common::*;
use pj_compiler::Module;
use pj_compiler::dialects::arith::Scalar;
use pj_compiler::interp::{self, Tensor, Value};
use pj_compiler::ir::Type;
use pj_compiler::passes::PassManager;
use pj_compiler::passes::quantize::Quantize;
use pj_compiler::quant::plan::{Mode, Request};

struct Case {
    name: &'static str,
    src: &'static str,
    /// What each size binds.
    sizes: &'static [(&'static str, usize)],
    /// What the notes say per stage: `(stage, chosen)`.
    chosen: &'static [(&'static str, &'static str)],
}

const CASES: &[Case] = &[
    // scales 1/3, then 1/9 and 1/18 for the + 0.5 (see examples/blur_u8.pj);
    // the value before the cast is never within 1/18 of an integer
    Case {
        name: "blur_u8",
        src: "",
        sizes: &[("H", 13), ("W", 37)],
        chosen: &[("bx", "int16"), ("out", "int16")],
    },
    // dyadic: a shift; f64 is exact
    Case {
        name: "binomial",
        src: "kernel binomial(a: u8[N] @boundary(mirror)) -> b: u8[N] {
            b[i] = u8((f32(a[i - 1]) + 2.0 * f32(a[i]) + f32(a[i + 1])) * 0.25 + 0.5);
        }",
        sizes: &[("N", 67)],
        chosen: &[("b", "int16")],
    },
    // negative values truncate toward zero: an integer division; `n / 3`
    // is exact in f64 or at least 1/3 from an integer
    Case {
        name: "diff3",
        src: "kernel diff3(a: u8[N], b: u8[N]) -> d: i16[N] {
            d[i] = i16((f32(a[i]) - f32(b[i])) / 3.0);
        }",
        sizes: &[("N", 67)],
        chosen: &[("d", "int16")],
    },
    // min and max with constants, halves: exact in f64
    Case {
        name: "sharpen",
        src: "kernel sharpen(x: u8[N], y: u8[N]) -> z: u8[N] {
            z[i] = u8(min(max(f32(x[i]) * 1.5 - f32(y[i]) * 0.5, 0.0), 255.0));
        }",
        sizes: &[("N", 67)],
        chosen: &[("z", "int16")],
    },
    // a comparison on scale 1/4 and a select on scale 1/35: f64's
    // correctly rounded a / 5 and b / 7 keep their truncations
    Case {
        name: "pick",
        src: "kernel pick(a: u8[N], b: u8[N]) -> c: u8[N] {
            c[i] = u8(select(f32(a[i]) > f32(b[i]) * 0.75, f32(a[i]) / 5.0, f32(b[i]) / 7.0));
        }",
        sizes: &[("N", 67)],
        chosen: &[("c", "int16")],
    },
    // 32-bit arithmetic; the fraction of b / 3 is 0, 1/3 or 2/3
    Case {
        name: "wide",
        src: "kernel wide(a: u8[N], b: u16[N]) -> c: i32[N] {
            c[i] = i32(f32(a[i]) * 1000.0 + f32(b[i]) / 3.0);
        }",
        sizes: &[("N", 67)],
        chosen: &[("c", "int32")],
    },
    // a product of two values, a stage stored in u8 at scale 1/2, and a
    // sum `a b + 2 a` that fills u16 exactly (65535); dyadic
    Case {
        name: "twostage",
        src: "kernel twostage(a: u8[N], b: u8[N]) -> c: u16[N] {
            h[i] = f32(a[i]) * 0.5;
            c[i] = u16(h[i] * f32(b[i]) / 2.0 + h[i]);
        }",
        sizes: &[("N", 67)],
        chosen: &[("h", "int16"), ("c", "int16")],
    },
];

fn source(case: &Case) -> String {
    if case.src.is_empty() {
        read(&root().join(format!("examples/{}.pj", case.name)))
    } else {
        case.src.to_string()
    }
}

/// The kernel after the default pipeline, and after `quantize` with
/// `mode` too; the notes.
fn converted(src: &str, name: &str, mode: Mode) -> (Module, Module, Vec<String>) {
    quantized_with(name, src, Quantize::new(Request::new(mode)))
}

/// Random integer arrays for every parameter, over each type's range.
fn random_args(m: &Module, name: &str, sizes: &[(&str, usize)], rng: &mut Rng) -> Vec<Value> {
    let k = m.kernel(name).unwrap();
    pj_compiler::dialects::signature(m, k)
        .params
        .iter()
        .map(|(_, ty)| {
            let Type::Tensor { elem, dims } = ty else {
                panic!("array parameters only")
            };
            let shape: Vec<usize> = dims
                .iter()
                .map(|d| match d {
                    pj_compiler::ir::Dim::Sym(s) => sizes.iter().find(|(n, _)| n == s).unwrap().1,
                    _ => panic!("named sizes only"),
                })
                .collect();
            let (lo, hi) = elem.int_range().unwrap();
            let data = (0..shape.iter().product::<usize>())
                .map(|_| Scalar::from_i64(rng.integer(lo, hi), *elem))
                .collect();
            Value::Array(Tensor::new(*elem, shape, data))
        })
        .collect()
}

/// Whether any value of `m` is a float.
fn computes_in_float(m: &Module) -> bool {
    m.all_ops().into_iter().any(|op| {
        let d = m.op(op);
        d.results
            .iter()
            .chain(&d.operands)
            .any(|&v| m.ty(v).elem().is_float())
    })
}

#[test]
fn float_arithmetic_over_integers_becomes_exact_integer_arithmetic() {
    for case in CASES {
        let src = source(case);
        let name = case.name;
        let (float, q, notes) = converted(&src, name, Mode::Int16);
        let text = notes.join("\n");
        for (stage, chosen) in case.chosen {
            assert!(
                text.contains(&format!("stage `{stage}` of `{name}`: {chosen} — exact")),
                "{name}: stage {stage} should be {chosen}:\n{text}"
            );
        }
        assert!(!computes_in_float(&q), "{name}: floats remain:\n{text}");
        // the f64 kernel: the exact results (each case says why)
        let mut wide = compile(name, &src.replace("f32", "f64"));
        PassManager::default_pipeline().run(&mut wide).unwrap();
        let codes = jit_all(&q);
        for seed in 0..10 {
            let mut rng = Rng(seed);
            let args = random_args(&q, name, case.sizes, &mut rng);
            let got = interp::run(&q, name, &args).unwrap();
            let exact = interp::run(&wide, name, &args).unwrap();
            assert_eq!(got, exact, "{name} seed {seed}: not the exact result");
            for (g, f) in got.iter().zip(interp::run(&float, name, &args).unwrap()) {
                for (x, y) in g.data.iter().zip(&f.data) {
                    let d = (x.as_i64().unwrap() - y.as_i64().unwrap()).abs();
                    assert!(d <= 1, "{name} seed {seed}: {x:?} against f32's {y:?}");
                }
            }
            for code in &codes {
                let native = code.kernel(name).unwrap().call(&args).unwrap();
                assert_eq!(native, got, "{name} seed {seed}: {}", code.backend());
            }
        }
    }
}

#[test]
fn auto_chooses_the_exact_integers_too() {
    let src = source(&CASES[0]);
    let (_, q, notes) = converted(&src, "blur_u8", Mode::Auto);
    assert!(!computes_in_float(&q), "{notes:?}");
    // and int8 alone leaves it in float, saying why
    let (float, q, notes) = converted(&src, "blur_u8", Mode::Int8);
    let print = |m: &Module| pj_compiler::ir::print::print_module(m, Default::default());
    assert_eq!(print(&q), print(&float));
    assert!(
        notes.join("\n").contains("no stage sums products"),
        "{notes:?}"
    );
}

#[test]
fn what_has_no_exact_integer_form_stays_float_and_says_why() {
    // (kernel, source (empty: the example), what each stage's note says)
    type Refusal = (
        &'static str,
        &'static str,
        &'static [(&'static str, &'static str)],
    );
    let cases: &[Refusal] = &[
        (
            "blur",
            "",
            &[
                ("bx", "it reads the float input `input`"),
                ("out", "it is a float result"),
            ],
        ),
        (
            "e",
            "kernel e(a: u8[N]) -> b: u8[N] { b[i] = u8(exp(f32(a[i]) / 64.0)); }",
            &[("b", "`math.exp` on floats has no exact integer form")],
        ),
        (
            "dv",
            "kernel dv(a: u8[N], b: u8[N]) -> c: u8[N] { c[i] = u8(f32(a[i]) / f32(b[i])); }",
            &[("c", "divides by a value")],
        ),
        (
            "big",
            "kernel big(a: u32[N], b: u32[N]) -> c: i64[N] { c[i] = i64(f32(a[i]) * f32(b[i]) + 0.5); }",
            &[("c", "64 bits")],
        ),
        (
            "mix",
            "kernel mix(a: u8[N]) -> (c: u8[N], d: f32[N]) {
                h[i] = f32(a[i]) / 3.0;
                c[i] = u8(h[i]);
                d[i] = exp(h[i]);
            }",
            &[
                ("h", "a stage reading it stays in float"),
                ("c", "it reads `h`, which stays in float"),
                ("d", "it is a float result"),
            ],
        ),
    ];
    for (name, src, want) in cases {
        let src = if src.is_empty() {
            read(&root().join(format!("examples/{name}.pj")))
        } else {
            src.to_string()
        };
        let (float, q, notes) = converted(&src, name, Mode::Int16);
        let print = |m: &Module| pj_compiler::ir::print::print_module(m, Default::default());
        assert_eq!(print(&q), print(&float), "{name}: changed");
        let text = notes.join("\n");
        for (stage, why) in *want {
            assert!(
                text.lines().any(
                    |l| l.contains(&format!("stage `{stage}` of `{name}`: float"))
                        && l.contains(why)
                ),
                "{name}: stage {stage} should say {why:?}:\n{text}"
            );
        }
    }
    // a kernel with no float arithmetic says so
    let (_, _, notes) = converted(
        "kernel ints(a: u8[N]) -> b: u8[N] { b[i] = a[i] / 3; }",
        "ints",
        Mode::Int16,
    );
    assert!(
        notes
            .join("\n")
            .contains("no stage computes in float from integers"),
        "{notes:?}"
    );
}

#[test]
fn the_integer_blur_is_sums_in_u16_and_a_multiply_high() {
    let (_, q, notes) = converted(&source(&CASES[0]), "blur_u8", Mode::Int16);
    insta::assert_snapshot!(
        "blur_u8_int16",
        format!(
            "{}\n{}",
            notes.join("\n"),
            pj_compiler::ir::print::print_module(&q, Default::default())
        )
    );
}

#[test]
fn the_shift_and_the_multiply_high_run_on_every_backend() {
    // every type, signed and unsigned, at the edges of its range
    for (t, vals) in [
        ("u8", vec![0i64, 1, 127, 128, 255]),
        ("i8", vec![-128, -1, 0, 1, 127]),
        ("u16", vec![0, 1, 3641, 32768, 65535]),
        ("i16", vec![-32768, -1, 0, 7, 32767]),
        ("u32", vec![0, 1, 1 << 31, 4294967295]),
        ("i32", vec![-2147483648, -1, 0, 2147483647]),
        ("i64", vec![i64::MIN, -1, 0, i64::MAX]),
    ] {
        let ir = format!(
            "pj.kernel() {{arg_names = [\"a\", \"b\"], result_names = [\"s\", \"h\"], result_types = [\"{t}[N]\", \"{t}[N]\"], sym_name = \"k\"}} {{
^bb0(%a: {t}[N], %b: {t}[N]):
  %N = pj.size() {{name = \"N\"}} : i64
  %z = arith.constant() {{value = 0}} : i64
  %s = pj.stage(%z, %N) {{name = \"s\", result = 0}} : {t}[?] {{
  ^bb0(%i: i64):
    %x = pj.read(%a, %i) : {t}
    %r = arith.shr(%x) {{amount = 3}} : {t}
    pj.yield(%r)
  }}
  %h = pj.stage(%z, %N) {{name = \"h\", result = 1}} : {t}[?] {{
  ^bb0(%j: i64):
    %x2 = pj.read(%a, %j) : {t}
    %y2 = pj.read(%b, %j) : {t}
    %r2 = arith.mulhi(%x2, %y2) : {t}
    pj.yield(%r2)
  }}
  pj.return(%s, %h)
}}"
        );
        let m = pj_compiler::ir::parse::parse_module(&ir).unwrap_or_else(|e| panic!("{t}: {e:?}"));
        pj_compiler::ir::verify::verify(&m).unwrap();
        let elem = m
            .ty(m.block(m.entry_block(m.kernels()[0], 0)).args[0])
            .elem();
        let bits = 8 * elem.size_bytes() as u32;
        // every pair, in arrays long enough for the vector loops
        let n = vals.len() * vals.len() * 5;
        let (a, b): (Vec<i64>, Vec<i64>) = (0..n)
            .map(|i| (vals[i % vals.len()], vals[(i / vals.len()) % vals.len()]))
            .unzip();
        let arr = |v: &[i64]| {
            Value::Array(Tensor::new(
                elem,
                vec![n],
                v.iter().map(|&x| Scalar::from_i64(x, elem)).collect(),
            ))
        };
        let args = [arr(&a), arr(&b)];
        let got = interp::run(&m, "k", &args).unwrap();
        for i in 0..n {
            assert_eq!(
                got[0].data[i].as_i64().unwrap(),
                a[i] >> 3,
                "{t} shr {}",
                a[i]
            );
            let hi = ((a[i] as i128 * b[i] as i128) >> bits) as i64;
            let want = Scalar::from_i64(hi, elem).as_i64().unwrap();
            assert_eq!(
                got[1].data[i].as_i64().unwrap(),
                want,
                "{t} mulhi {} {}",
                a[i],
                b[i]
            );
        }
        for code in jit_all(&m) {
            let native = code.kernel("k").unwrap().call(&args).unwrap();
            assert_eq!(native, got, "{t}: {}", code.backend());
        }
    }
}

/// An expression over `a[i]` (`u8`) and `b[i]` (`i16`) in `f32`, as
/// source text, with its exact value in rationals for given inputs.
enum Expr {
    A,
    B,
    Const(f32),
    Bin(char, Box<Expr>, Box<Expr>),
    DivBy(Box<Expr>, f32),
    Neg(Box<Expr>),
    /// `select(x > y, p, q)`
    Select(Box<[Expr; 4]>),
}

type Q = num_rational::Ratio<i128>;

impl Expr {
    fn random(rng: &mut Rng, depth: u32) -> Expr {
        const CONSTS: [f32; 7] = [0.5, 0.25, 3.0, -2.0, 1.5, 7.0, 0.375];
        let leaf = depth == 0 || rng.next().is_multiple_of(4);
        if leaf {
            return match rng.next() % 3 {
                0 => Expr::A,
                1 => Expr::B,
                _ => Expr::Const(CONSTS[(rng.next() % 7) as usize]),
            };
        }
        let sub = |rng: &mut Rng| Box::new(Expr::random(rng, depth - 1));
        match rng.next() % 7 {
            0 => Expr::Bin('+', sub(rng), sub(rng)),
            1 => Expr::Bin('-', sub(rng), sub(rng)),
            2 => Expr::Bin('*', sub(rng), sub(rng)),
            3 => {
                let op = if rng.next().is_multiple_of(2) {
                    'm'
                } else {
                    'M'
                };
                Expr::Bin(op, sub(rng), sub(rng))
            }
            4 => {
                let c = [3.0, 2.0, 9.0, 0.75, -5.0][(rng.next() % 5) as usize];
                Expr::DivBy(sub(rng), c)
            }
            5 => Expr::Neg(sub(rng)),
            _ => Expr::Select(Box::new([
                Expr::random(rng, depth - 1),
                Expr::random(rng, depth - 1),
                Expr::random(rng, depth - 1),
                Expr::random(rng, depth - 1),
            ])),
        }
    }

    fn source(&self) -> String {
        match self {
            Expr::A => "f32(a[i])".into(),
            Expr::B => "f32(b[i])".into(),
            Expr::Const(c) => format!("{c:?}"),
            Expr::Bin('m', x, y) => format!("min({}, {})", x.source(), y.source()),
            Expr::Bin('M', x, y) => format!("max({}, {})", x.source(), y.source()),
            Expr::Bin(op, x, y) => format!("({} {op} {})", x.source(), y.source()),
            Expr::DivBy(x, c) => format!("({} / {c:?})", x.source()),
            Expr::Neg(x) => format!("(-{})", x.source()),
            Expr::Select(s) => format!(
                "select({} > {}, {}, {})",
                s[0].source(),
                s[1].source(),
                s[2].source(),
                s[3].source()
            ),
        }
    }

    fn exact(&self, a: i64, b: i64) -> Q {
        let q = |c: f32| {
            // the constants above are dyadic: exact over 2^3
            Q::new((c as f64 * 8.0) as i128, 8)
        };
        match self {
            Expr::A => Q::from_integer(a as i128),
            Expr::B => Q::from_integer(b as i128),
            Expr::Const(c) => q(*c),
            Expr::Bin('+', x, y) => x.exact(a, b) + y.exact(a, b),
            Expr::Bin('-', x, y) => x.exact(a, b) - y.exact(a, b),
            Expr::Bin('*', x, y) => x.exact(a, b) * y.exact(a, b),
            Expr::Bin('m', x, y) => x.exact(a, b).min(y.exact(a, b)),
            Expr::Bin(_, x, y) => x.exact(a, b).max(y.exact(a, b)),
            Expr::DivBy(x, c) => x.exact(a, b) / q(*c),
            Expr::Neg(x) => -x.exact(a, b),
            Expr::Select(s) => {
                if s[0].exact(a, b) > s[1].exact(a, b) {
                    s[2].exact(a, b)
                } else {
                    s[3].exact(a, b)
                }
            }
        }
    }
}

/// Generated kernels: every one the scheme converts computes, on random
/// inputs, exactly the rational value of its expression truncated and
/// saturated as the cast to the result's type does — in the interpreter
/// and every backend. `PJ_INT16_SEEDS` sets how many (60 by default;
/// 1,500 pass by hand).
#[test]
fn generated_integer_pipelines_are_exact_where_converted() {
    let cases: u64 = std::env::var("PJ_INT16_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let mut exact = 0;
    for seed in 0..cases {
        let mut rng = Rng(seed * 7919 + 1);
        let e = Expr::random(&mut rng, 3 + (seed % 2) as u32);
        // the cast back saturates to the result's type
        let (out, lo, hi) = [
            ("i32", i32::MIN as i128, i32::MAX as i128),
            ("u8", 0, 255),
            ("i16", -32768, 32767),
        ][(seed % 3) as usize];
        let src = format!(
            "kernel g(a: u8[N], b: i16[N]) -> c: {out}[N] {{ c[i] = {out}({}); }}",
            e.source()
        );
        let (_, q, notes) = converted(&src, "g", Mode::Int16);
        if computes_in_float(&q) {
            // refused: it says why
            assert!(
                notes.iter().any(|n| n.contains("float")),
                "seed {seed}: {src}\n{notes:?}"
            );
            continue;
        }
        exact += 1;
        let n = 41;
        let a: Vec<i64> = (0..n).map(|_| rng.integer(0, 255)).collect();
        let b: Vec<i64> = (0..n).map(|_| rng.integer(-32768, 32767)).collect();
        let args = [
            Value::Array(Tensor::new(
                pj_compiler::ir::ScalarType::U8,
                vec![n],
                a.iter()
                    .map(|&v| Scalar::from_i64(v, pj_compiler::ir::ScalarType::U8))
                    .collect(),
            )),
            Value::Array(Tensor::new(
                pj_compiler::ir::ScalarType::I16,
                vec![n],
                b.iter()
                    .map(|&v| Scalar::from_i64(v, pj_compiler::ir::ScalarType::I16))
                    .collect(),
            )),
        ];
        let got = interp::run(&q, "g", &args).unwrap();
        for i in 0..n {
            let want = e.exact(a[i], b[i]).trunc().to_integer().clamp(lo, hi) as i64;
            assert_eq!(
                got[0].data[i].as_i64().unwrap(),
                want,
                "seed {seed}: {src} at a = {}, b = {}\n{notes:?}",
                a[i],
                b[i]
            );
        }
        for code in jit_all(&q) {
            let native = code.kernel("g").unwrap().call(&args).unwrap();
            assert_eq!(native, got, "seed {seed}: {src} ({})", code.backend());
        }
    }
    // the test means something only if most kernels convert
    assert!(exact * 2 >= cases, "only {exact} of {cases} converted");
}
