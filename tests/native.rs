//! The Cranelift JIT against the reference interpreter: every example, at
//! the example inputs and at odd shapes (1, 7, 33, ...), must give the
//! interpreter's results bit for bit; and every semantics case too.

mod common;

use common::*;

use pj_compiler::dialects::arith::Scalar;
use pj_compiler::interp::{self, Tensor, Value};
use pj_lang::types::ScalarType;

#[test]
fn jit_matches_the_interpreter_on_every_example() {
    for &name in EXAMPLES {
        let m = compile(name, &read(&root().join(format!("examples/{name}.pj"))));
        let args = example_args(&m, name);
        let want = interp::run(&m, name, &args).unwrap_or_else(|e| panic!("{name}: {e}"));
        for code in jit_all(&m) {
            let got = code
                .kernel(name)
                .expect("compiled")
                .call(&args)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                format!("{got:?}"),
                format!("{want:?}"),
                "{name}: JIT and interpreter differ"
            );
        }
    }
}

#[test]
fn jit_and_interpreter_agree_on_errors() {
    let m = compile("m.pj", &read(&root().join("examples/matmul.pj")));
    let args = example_args(&m, "matmul");
    let swapped = vec![args[0].clone(), args[0].clone()];
    for code in jit_all(&m) {
        let err = code.kernel("matmul").unwrap().call(&swapped).unwrap_err();
        let want = interp::run(&m, "matmul", &swapped).unwrap_err();
        assert_eq!(err.to_string(), want.to_string());
        let _ = Value::Scalar;
    }
}

/// Deterministic pseudo-random values.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Arguments for a `pj.kernel` with every size set by `size_of`.
fn random_args(
    m: &pj_compiler::Module,
    kernel: &str,
    size_of: &dyn Fn(usize) -> usize,
    rng: &mut Rng,
) -> Vec<Value> {
    use pj_compiler::dialects::arith::Scalar;
    use pj_compiler::interp::Tensor;
    use pj_compiler::ir::{Dim, Type};
    let k = m.kernel(kernel).expect("kernel");
    let mut sizes: Vec<String> = Vec::new();
    pj_compiler::dialects::signature(m, k)
        .params
        .into_iter()
        .map(|(_, ty)| {
            let mut value = |t: pj_lang::types::ScalarType| {
                let r = rng.next();
                if t.is_float() {
                    Scalar::F64((r % 20_001) as f64 / 1000.0 - 10.0).cast(t)
                } else {
                    Scalar::I64((r % 300) as i64 - 150).cast(t)
                }
            };
            match ty {
                Type::Scalar(t) => Value::Scalar(value(t)),
                Type::Vector { .. } => unreachable!("kernel parameters are never vectors"),
                Type::Tensor { elem, dims } | Type::Buffer { elem, dims } => {
                    let shape: Vec<usize> = dims
                        .iter()
                        .map(|d| match d {
                            Dim::Static(n) => *n as usize,
                            Dim::Sym(s) => {
                                let i = sizes.iter().position(|x| x == s).unwrap_or_else(|| {
                                    sizes.push(s.clone());
                                    sizes.len() - 1
                                });
                                size_of(i)
                            }
                            Dim::Dynamic => 3,
                        })
                        .collect();
                    let data = (0..shape.iter().product()).map(|_| value(elem)).collect();
                    Value::Array(Tensor::new(elem, shape, data))
                }
            }
        })
        .collect()
}

/// `m` through the lowering pipeline (strict float order), and its text.
fn lowered(m: &pj_compiler::Module) -> (pj_compiler::Module, String) {
    let mut lowered = m.clone();
    pj_compiler::passes::PassManager::parse(pj_compiler::codegen::LOWERING_PIPELINE)
        .unwrap()
        .run(&mut lowered)
        .unwrap();
    let text = pj_compiler::ir::print::print_module(&lowered, Default::default());
    (lowered, text)
}

/// Asserts the native kernel gives the interpreter's result (or error) on `args`.
fn assert_matches_interp(
    m: &pj_compiler::Module,
    name: &str,
    k: &pj_compiler::codegen::JitKernel,
    args: &[Value],
    what: &str,
) {
    let want = interp::run(m, name, args).map_err(|e| e.to_string());
    let got = k.call(args).map_err(|e| e.to_string());
    assert_eq!(format!("{got:?}"), format!("{want:?}"), "{what}");
}

/// Asserts the lowered IR, interpreted, gives the interpreter's result (or
/// error) on `args`, as the original does.
fn assert_lowered_matches_interp(
    m: &pj_compiler::Module,
    lowered: &pj_compiler::Module,
    name: &str,
    args: &[Value],
    what: &str,
) {
    let want = interp::run(m, name, args).map_err(|e| e.to_string());
    let got = interp::run(lowered, name, args).map_err(|e| e.to_string());
    assert_eq!(
        format!("{got:?}"),
        format!("{want:?}"),
        "{what}, lowered IR interpreted"
    );
}

/// A one-dimensional `f32` array argument.
fn f32_array(values: &[f32]) -> Value {
    use pj_compiler::dialects::arith::Scalar;
    Value::Array(pj_compiler::interp::Tensor::new(
        pj_lang::types::ScalarType::F32,
        vec![values.len()],
        values.iter().map(|&v| Scalar::F32(v)).collect(),
    ))
}

#[test]
fn jit_matches_the_interpreter_at_odd_shapes() {
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let assignments: Vec<Box<dyn Fn(usize) -> usize>> = vec![
        Box::new(|_| 1),
        Box::new(|_| 7),
        Box::new(|_| 33),
        Box::new(|i| [7, 33, 1, 5][i % 4]),
        Box::new(|i| [33, 1, 7, 2][i % 4]),
    ];
    for &name in EXAMPLES {
        let m = compile(name, &read(&root().join(format!("examples/{name}.pj"))));
        for code in jit_all(&m) {
            let k = code.kernel(name).unwrap();
            for (a, size_of) in assignments.iter().enumerate() {
                let args = random_args(&m, name, size_of.as_ref(), &mut rng);
                let want = interp::run(&m, name, &args).map_err(|e| e.to_string());
                let got = k.call(&args).map_err(|e| e.to_string());
                assert_eq!(
                    format!("{got:?}"),
                    format!("{want:?}"),
                    "{name}, size assignment {a}"
                );
            }
        }
    }
}

#[test]
fn the_buffer_api_runs_kernels_on_runtime_buffers() {
    use pj_compiler::codegen::KernelArg;
    use pj_runtime::{Buffer, ElemType};
    let m = compile("blur", &read(&root().join("examples/blur.pj")));
    for code in jit_all(&m) {
        let blur = code.kernel("blur").unwrap();
        let (h, w) = (5usize, 9usize);
        let img: Vec<f32> = (0..h * w).map(|i| i as f32 / 7.0).collect();
        let bytes: Vec<u8> = img.iter().flat_map(|v| v.to_le_bytes()).collect();
        let mut input = Buffer::from_bytes(ElemType::F32, &[h, w], &bytes).unwrap();
        let shapes = blur
            .result_shapes(&mut [KernelArg::Array(&mut input)])
            .unwrap();
        assert_eq!(shapes, vec![vec![h, w]]);
        let mut out = Buffer::zeros(ElemType::F32, &shapes[0]).unwrap();
        blur.call_buffers(&mut [KernelArg::Array(&mut input)], &mut [&mut out])
            .unwrap();
        let want = interp::run(
            &m,
            "blur",
            &[Value::Array(pj_compiler::interp::Tensor::from_le_bytes(
                pj_lang::types::ScalarType::F32,
                vec![h, w],
                &bytes,
            ))],
        )
        .unwrap();
        assert_eq!(out.bytes(), want[0].to_le_bytes().as_slice());
        // a result buffer of the wrong shape is refused before anything is written
        let mut small = Buffer::zeros(ElemType::F32, &[h, w - 1]).unwrap();
        let err = blur
            .call_buffers(&mut [KernelArg::Array(&mut input)], &mut [&mut small])
            .unwrap_err();
        assert_eq!(err.message, "output `out` dim 1 must be 9, got 8");
        assert_eq!(err.status, pj_runtime::abi::status::SHAPE_MISMATCH);
        assert!(small.bytes().iter().all(|&b| b == 0));
    }
}

/// With caches of a few bytes every fused group runs one row per tile, so
/// each producer's halo rows are recomputed by every tile: the tiled code
/// must still give the interpreter's results, at sizes that are not
/// multiples of anything.
#[test]
fn tiled_groups_match_the_interpreter_with_one_row_per_tile() {
    use pj_compiler::codegen::LOWERING_PIPELINE;
    use pj_compiler::passes::PassManager;
    use pj_compiler::target::profile::Profile;
    let mut tiny = Profile::builtin("x86_64-avx512").unwrap();
    tiny.cache.l1_bytes = 8;
    tiny.cache.l2_bytes = 8;
    let mut rng = Rng(0x0071_11E5);
    for &name in EXAMPLES {
        let m = compile(name, &read(&root().join(format!("examples/{name}.pj"))));
        let mut lowered = m.clone();
        PassManager::parse(LOWERING_PIPELINE)
            .unwrap()
            .for_profile(&tiny)
            .run(&mut lowered)
            .unwrap();
        for code in jit_all(&lowered) {
            let k = code.kernel(name).unwrap();
            for size_of in [
                |i: usize| [7, 33, 1, 5][i % 4],
                |i: usize| [17, 3, 9, 2][i % 4],
            ] {
                let args = random_args(&m, name, &size_of, &mut rng);
                // the tiles form eight groups per thread: 8, 16 or 24
                // groups of one to a few tiles
                for threads in 1..=3 {
                    let pool = pj_runtime::parallel::pool(threads).unwrap();
                    pj_runtime::parallel::with_pool(Some(pool), || {
                        let what = format!("{name}, JIT, {threads} threads");
                        assert_matches_interp(&m, name, k, &args, &what)
                    });
                }
                assert_lowered_matches_interp(&m, &lowered, name, &args, name);
            }
        }
    }
}

/// Every schedule a user can write gives the interpreter's results bit for
/// bit, at sizes that are not multiples of any tile or vector width.
#[test]
fn user_schedules_match_the_interpreter() {
    let blur = |schedule: &str| {
        format!(
            "kernel blur(input: f32[H, W] @boundary(mirror)) -> out: f32[H, W] {{
    bx[y, x] = (input[y, x - 1] + input[y, x] + input[y, x + 1]) / 3.0;
    out[y, x] = (bx[y - 1, x] + bx[y, x] + bx[y + 1, x]) / 3.0;
    schedule {{ {schedule} }}
}}"
        )
    };
    let matmul = |schedule: &str| {
        format!(
            "kernel mm(a: f32[M, K], b: f32[K, N]) -> c: f32[M, N] {{
    c[i, j] = sum(k) a[i, k] * b[k, j];
    schedule {{ {schedule} }}
}}"
        )
    };
    let softmax = |schedule: &str| {
        format!(
            "kernel sm(x: f32[N, C]) -> y: f32[N, C] {{
    m[n] = max(c) x[n, c];
    e[n, c] = exp(x[n, c] - m[n]);
    s[n] = sum(c) e[n, c];
    y[n, c] = e[n, c] / s[n];
    schedule {{ {schedule} }}
}}"
        )
    };
    let unsharp = |schedule: &str| {
        format!(
            "kernel us(img: f32[H, W] @boundary(mirror), amount: f32) -> out: f32[H, W] {{
    bx[y, x] = (img[y, x - 1] + 2.0 * img[y, x] + img[y, x + 1]) / 4.0;
    blurred[y, x] = (bx[y - 1, x] + 2.0 * bx[y, x] + bx[y + 1, x]) / 4.0;
    out[y, x] = clamp(img[y, x] + amount * (img[y, x] - blurred[y, x]), 0.0, 1.0);
    schedule {{ {schedule} }}
}}"
        )
    };
    // reductions down the columns of a row-major array: a one-dim stage
    // whose reduction the scheduler moves outside (a walk along rows)
    let columns = |schedule: &str| {
        format!(
            "kernel cols(x: f32[H, W]) -> (s: f32[W], m: f32[W]) {{
    s[j] = sum(i) x[i, j] * 0.5;
    m[j] = max(i) abs(x[i, j]);
    schedule {{ {schedule} }}
}}"
        )
    };
    // a product with a ReLU after it (split from it), into another
    let relu = |schedule: &str| {
        format!(
            "kernel mlp(x: f32[B, D], w1: f32[D, H], w2: f32[H, O]) -> y: f32[B, O] {{
    h[b, j] = max(sum(d) x[b, d] * w1[d, j], 0.0);
    y[b, o] = sum(j) h[b, j] * w2[j, o];
    schedule {{ {schedule} }}
}}"
        )
    };
    let cases = [
        ("mlp", relu("")),
        ("mlp", relu("y.parallel(false);")),
        ("cols", columns("")),
        ("cols", columns("s.reduce(outer); m.reduce(outer);")),
        ("cols", columns("s.reduce(inner); m.parallel(false);")),
        ("blur", blur("bx.compute_at(out); out.tile(1);")),
        (
            "blur",
            blur("bx.compute_at(out); out.tile(3); out.parallel(false);"),
        ),
        ("blur", blur("bx.compute_root(); out.vectorize(false);")),
        ("blur", blur("bx.compute_at(out); out.tile_bytes(64);")),
        // tiles longer than any image: the tile arithmetic must not wrap
        // (issue 13: this once made blur all zeros)
        (
            "blur",
            blur("bx.compute_at(out); out.tile(9223372036854775807);"),
        ),
        (
            "blur",
            blur("bx.compute_at(out); out.tile_bytes(9223372036854775807);"),
        ),
        ("mm", matmul("c.reduce(inner);")),
        ("mm", matmul("c.reduce(outer);")),
        ("mm", matmul("c.reduce(vector); c.parallel(false);")),
        (
            "sm",
            softmax("m.compute_at(y); e.compute_at(y); s.compute_at(y); y.tile(2);"),
        ),
        ("sm", softmax("e.compute_root(); y.vectorize(false);")),
        // a producer computed at a stage the default schedule would inline
        // or pull into its reader's group: once an internal error in
        // lowering (the group nested) and a "not a stage" refusal
        ("us", unsharp("bx.compute_at(blurred);")),
        ("us", unsharp("bx.compute_at(blurred); blurred.tile(5);")),
        (
            "us",
            unsharp("bx.compute_at(blurred); blurred.tile(2); blurred.sliding(false);"),
        ),
        ("us", unsharp("blurred.tile(3);")),
        ("us", unsharp("blurred.sliding(false);")),
    ];
    let mut rng = Rng(0x5C4E_D01E);
    for (name, src) in cases {
        let m = compile("s.pj", &src);
        for code in jit_all(&m) {
            let k = code.kernel(name).unwrap();
            for size_of in [|i: usize| [7, 33, 1][i % 3], |i: usize| [37, 5, 18][i % 3]] {
                let args = random_args(&m, name, &size_of, &mut rng);
                assert_matches_interp(&m, name, k, &args, &src);
            }
        }
    }
}

/// Producers computed as sliding windows (a ring of rows, each row once,
/// in the same column loop as the consumer's row that first reads it):
/// bit for bit the interpreter's results with tiles of one row, a few rows
/// and the default, at sizes smaller than the window and not multiples of
/// any tile or vector width; for windows above, below and around the
/// consumer's row, through every boundary mode, on floats and wrapping
/// integers; and the kernels that cannot slide fall back to tiles.
#[test]
fn sliding_windows_match_the_interpreter() {
    let kernels = [
        // name, body, whether it slides
        (
            "around",
            "kernel around(a: f32[H, W] @boundary(zero)) -> out: f32[H, W] {
    p[y, x] = (a[y, x - 1] + a[y, x] + a[y, x + 1]) / 3.0;
    out[y, x] = (p[y - 1, x] + p[y, x] + p[y + 1, x]) / 3.0;
    SCHEDULE
}",
            true,
        ),
        (
            "skewed",
            "kernel skewed(a: i32[H, W] @boundary(wrap)) -> out: i32[H, W] {
    p[y, x] = a[y - 1, x + 2] * 3 - a[y, x];
    out[y, x] = p[y - 2, x] * p[y + 1, x] - p[y + 3, x];
    SCHEDULE
}",
            true,
        ),
        (
            "above",
            "kernel above(a: f64[H, W] @boundary(mirror)) -> out: f64[H, W] {
    p[y, x] = a[y, x + 1] - a[y + 1, x];
    out[y, x] = p[y - 1, x] * 2.0 + p[y - 3, x];
    SCHEDULE
}",
            true,
        ),
        (
            "shifted",
            "kernel shifted(a: f32[H, W] @boundary(clamp)) -> out: f32[H, W] {
    p[y, x] = a[y, x] * 2.0;
    out[y, x] = p[y - 1, x + 1] + p[y + 1, x];
    SCHEDULE
}",
            false,
        ),
    ];
    let mut rng = Rng(0x511D_1E55);
    for (name, src, slides) in kernels {
        for schedule in [
            "schedule { p.compute_at(out); out.tile(1); }",
            "schedule { p.compute_at(out); out.tile(3); out.parallel(false); }",
            "schedule { p.compute_at(out); }",
            "schedule { p.compute_at(out); out.tile(2); out.vectorize(false); }",
            "",
        ] {
            let src = src.replace("SCHEDULE", schedule);
            let m = compile("s.pj", &src);
            assert_eq!(
                slides_in(&m, name),
                slides,
                "{name} {schedule}: a sliding window?"
            );
            let (lowered, _) = lowered(&m);
            for code in jit_all(&lowered) {
                let k = code.kernel(name).unwrap();
                for size_of in [
                    |i: usize| [1, 1][i % 2],
                    |i: usize| [2, 5][i % 2],
                    |i: usize| [37, 17][i % 2],
                    |i: usize| [70, 6][i % 2],
                ] {
                    let args = random_args(&m, name, &size_of, &mut rng);
                    let what = format!("{name}: {schedule}");
                    assert_matches_interp(&m, name, k, &args, &what);
                    assert_lowered_matches_interp(&m, &lowered, name, &args, &what);
                }
            }
        }
    }
}

/// Random stencils of the sliding-window shape (a producer with random
/// taps through a random boundary mode, a root reading it at its own
/// column and one to three random rows, random types, tiles and sizes):
/// the JIT gives the interpreter's results, errors included.
#[test]
fn random_sliding_windows_match_the_interpreter() {
    let mut rng = Rng(0x5EED_51DE);
    let mut pick = |n: u64| (rng.next() % n) as i64;
    for case in 0..40 {
        let mode = ["clamp", "zero", "wrap", "mirror"][pick(4) as usize];
        let ty = ["f32", "f64", "i32"][pick(3) as usize];
        let lit = |v: i64| {
            if ty == "i32" {
                v.to_string()
            } else {
                format!("{v}.0")
            }
        };
        let taps: Vec<String> = (0..1 + pick(3))
            .map(|_| {
                format!(
                    "a[y + {}, x + {}] * {}",
                    pick(5) - 2,
                    pick(5) - 2,
                    lit(1 + pick(3))
                )
            })
            .collect();
        let mut rows: Vec<i64> = (0..1 + pick(3)).map(|_| pick(7) - 3).collect();
        rows.sort();
        rows.dedup();
        let reads: Vec<String> = rows.iter().map(|r| format!("p[y + {r}, x]")).collect();
        let tile = [
            "",
            "out.tile(1);",
            "out.tile(4);",
            "out.tile(2); out.parallel(false);",
        ][pick(4) as usize];
        let src = format!(
            "kernel k(a: {ty}[H, W] @boundary({mode})) -> out: {ty}[H, W] {{
    p[y, x] = {};
    out[y, x] = {} + a[y, x];
    schedule {{ p.compute_at(out); {tile} }}
}}",
            taps.join(" + "),
            reads.join(" - ")
        );
        let m = compile("s.pj", &src);
        assert!(slides_in(&m, "k"), "case {case} slides:\n{src}");
        for code in jit_all(&m) {
            let k = code.kernel("k").unwrap();
            let (h, w) = (
                [1, 2, 3, 7, 40, 70][pick(6) as usize],
                [1, 3, 5, 17, 33][pick(5) as usize],
            );
            let args = random_args(&m, "k", &|i| [h, w][i % 2], &mut Rng(0x9E37_79B9 + case));
            assert_matches_interp(
                &m,
                "k",
                k,
                &args,
                &format!("case {case} at {h}x{w}:\n{src}"),
            );
        }
    }
}

/// Whether `p` is computed per tile of `out` as a sliding window once the
/// scheduler has run on `kernel`.
fn slides_in(m: &pj_compiler::Module, kernel: &str) -> bool {
    use pj_compiler::passes::schedule as sch;
    let mut s = m.clone();
    pj_compiler::passes::PassManager::parse(
        "canonicalize,cse,dce,inline-pointwise,canonicalize,cse,dce,schedule",
    )
    .unwrap()
    .run(&mut s)
    .unwrap();
    let k = s.kernel(kernel).unwrap();
    let stages = sch::stages(&s, k);
    let find = |n: &str| {
        *stages
            .iter()
            .find(|&&x| sch::stage_name(&s, x) == n)
            .unwrap()
    };
    let (out, p) = (find("out"), find("p"));
    sch::StageSchedule::of(&s, p).compute_at.as_deref() == Some("out")
        && sch::member_ranges(&s, k, out, &[p]).is_ok_and(|r| sch::sliding_window(&s, out, &r[0]))
}

/// Reductions whose order cannot change the result (wrapping integer
/// sum, product, min, max; float min, max) run as vector loops with one
/// accumulator per lane: still the interpreter's results, at lengths that
/// are not multiples of the vector width.
#[test]
fn exact_reductions_vectorize_and_agree() {
    let src = "
kernel isum(a: i32[N, C]) -> s: i32[N] { s[n] = sum(c) a[n, c] * a[n, c]; }
kernel iprod(a: i16[N, C]) -> s: i16[N] { s[n] = prod(c) a[n, c]; }
kernel imin(a: i64[N, C]) -> s: i64[N] { s[n] = min(c) a[n, c]; }
kernel fmax(a: f32[N, C]) -> s: f32[N] { s[n] = max(c) a[n, c] * 2.0; }
kernel fmin(a: f64[N, C]) -> s: f64[N] { s[n] = min(c) a[n, c]; }
";
    let m = compile("r.pj", src);
    let (lowered, text) = lowered(&m);
    assert!(
        text.matches("vector.reduce").count() >= 5,
        "every reduction vectorizes:\n{text}"
    );
    for code in jit_all(&lowered) {
        let mut rng = Rng(0xAB5_0001);
        for name in ["isum", "iprod", "imin", "fmax", "fmin"] {
            let k = code.kernel(name).unwrap();
            for size_of in [
                |i: usize| [3, 1][i % 2],
                |i: usize| [2, 37][i % 2],
                |i: usize| [1, 8][i % 2],
            ] {
                let args = random_args(&m, name, &size_of, &mut rng);
                assert_matches_interp(&m, name, k, &args, name);
            }
        }
    }
}

/// Matrix-product reductions whose operands are narrower than the sum
/// (quantized `u8 x i8 -> i32`, `i16 -> i64`, integers to `f32`) keep a
/// vector accumulator per column block with widening casts, bit for bit;
/// a widening too steep for the lane count (`u8` to `i64`) stays scalar.
#[test]
fn widening_matrix_products_vectorize_and_agree() {
    let src = "
kernel q8(a: u8[M, K], b: i8[K, N]) -> c: i32[M, N] { c[i, j] = sum(k) i32(a[i, k]) * i32(b[k, j]); }
kernel q16(a: u16[M, K], b: i16[K, N]) -> c: i64[M, N] { c[i, j] = sum(k) i64(a[i, k]) * i64(b[k, j]); }
kernel qf(a: u8[M, K], b: i32[K, N]) -> c: f32[M, N] { c[i, j] = sum(k) f32(a[i, k]) * f32(b[k, j]); }
kernel wrap(a: i8[M, K], b: i8[K, N]) -> c: u32[M, N] { c[i, j] = max(k) u32(b[k, j]) + u32(a[i, k]); }
kernel steep(a: u8[M, K], b: u8[K, N]) -> c: i64[M, N] { c[i, j] = sum(k) i64(a[i, k]) * i64(b[k, j]); }
";
    let m = compile("q.pj", src);
    let (lowered, text) = lowered(&m);
    for cast in [
        ": i8x4\n",
        "arith.cast(%",
        ": i16x2\n",
        ": f32x4\n",
        ": u32x4\n",
    ] {
        assert!(text.contains(cast), "expected `{cast}` in:\n{text}");
    }
    assert!(!text.contains("u8x2"), "u8 -> i64 stays scalar:\n{text}");
    for code in jit_all(&lowered) {
        let mut rng = Rng(0xC0FFEE);
        for name in ["q8", "q16", "qf", "wrap", "steep"] {
            let k = code.kernel(name).unwrap();
            for size_of in [
                |i: usize| [3, 1, 17][i % 3],
                |i: usize| [2, 37, 35][i % 3],
                |i: usize| [1, 8, 16][i % 3],
            ] {
                let args = random_args(&m, name, &size_of, &mut rng);
                assert_matches_interp(&m, name, k, &args, name);
            }
        }
    }
}

/// Reductions over blocks of rows in cache blocks (chunks of `k` steps
/// over `cols` columns, the accumulators going through the result between
/// chunks): bit for bit the interpreter's results for float sums, wrapping
/// integer products and exact maxima, with blocks smaller than, equal to
/// and larger than the sizes, edges read through a boundary mode, batches,
/// serial and parallel, at sizes that are multiples of nothing — and on
/// one, two and three threads, which cut the rows into as many panels.
#[test]
fn cache_blocked_reductions_match_the_interpreter() {
    let kernels = [
        (
            "mm",
            "kernel mm(a: f32[M, K], b: f32[K, N]) -> c: f32[M, N] { c[i, j] = sum(k) a[i, k] * b[k, j]; SCHEDULE }",
        ),
        (
            "q8",
            "kernel q8(a: u8[M, K], b: i8[K, N]) -> c: i32[M, N] { c[i, j] = sum(k) i32(a[i, k]) * i32(b[k, j]); SCHEDULE }",
        ),
        (
            "top",
            "kernel top(a: i8[M, K], b: i8[K, N]) -> c: u32[M, N] { c[i, j] = max(k) u32(b[k, j]) + u32(a[i, k]); SCHEDULE }",
        ),
        (
            "edge",
            "kernel edge(a: f32[M, K], b: f32[K, N] @boundary(clamp)) -> c: f32[M, N] { c[i, j] = sum(k) a[i, k] * b[k, j - 2] - b[k, j + 1]; SCHEDULE }",
        ),
        (
            "batch",
            "kernel batch(a: f64[B, M, K], b: f64[B, K, N]) -> c: f64[B, M, N] { c[n, i, j] = sum(k) a[n, i, k] * b[n, k, j]; SCHEDULE }",
        ),
    ];
    let mut rng = Rng(0xCAC4_E0B1);
    let pools: Vec<_> = (1..=3)
        .map(|n| pj_runtime::parallel::pool(n).unwrap())
        .collect();
    for (name, src) in kernels {
        for schedule in [
            "schedule { c.cache_block(1, 16); }",
            "schedule { c.cache_block(3, 8); c.parallel(false); }",
            "schedule { c.cache_block(5, 40); }",
            "schedule { c.cache_block(4096, 4096); }",
            "",
        ] {
            let src = src.replace("SCHEDULE", schedule);
            let m = compile("s.pj", &src);
            let (lowered, text) = lowered(&m);
            assert!(
                text.contains("^bb0(%chunk: i64)"),
                "{src}: no loop over chunks of the reduction in\n{text}"
            );
            for code in jit_all(&lowered) {
                let k = code.kernel(name).unwrap();
                for size_of in [
                    |i: usize| [7, 13, 37, 2][i % 4],
                    |i: usize| [50, 1, 17, 3][i % 4],
                    |i: usize| [1, 6, 3, 1][i % 4],
                    |i: usize| [13, 97, 5, 2][i % 4],
                ] {
                    let args = random_args(&m, name, &size_of, &mut rng);
                    for (threads, pool) in pools.iter().enumerate() {
                        let what = format!(
                            "{src} at sizes {:?} on {} threads",
                            (0..4).map(size_of).collect::<Vec<_>>(),
                            threads + 1
                        );
                        pj_runtime::parallel::with_pool(Some(pool.clone()), || {
                            assert_matches_interp(&m, name, k, &args, &what)
                        });
                    }
                    let what = format!(
                        "{src} at sizes {:?}",
                        (0..4).map(size_of).collect::<Vec<_>>()
                    );
                    assert_lowered_matches_interp(&m, &lowered, name, &args, &what);
                }
            }
        }
    }
}

/// Stencil reductions read through a boundary mode along the columns
/// (conv2d) run as register-blocked vector code over the columns where
/// every tap is inside, the general code at the edges; rows outside read
/// zero or take their mode. Bit for bit the interpreter's, for every mode,
/// with filters wider than the image (no interior at all), and for taps
/// that subtract the reduction variable.
#[test]
fn stencils_through_boundaries_vectorize_and_agree() {
    let conv = |mode: &str| {
        format!(
            "kernel c{mode}(img: f32[H, W] @boundary({mode}), f: f32[R, S]) -> o: f32[H, W] {{
                o[y, x] = sum(r, s) img[y + r - R / 2, x + s - S / 2] * f[r, s];
            }}"
        )
    };
    let src = [
        conv("zero"),
        conv("clamp"),
        conv("mirror"),
        conv("wrap"),
        "kernel back(img: f32[H, W] @boundary(clamp), f: f32[S]) -> o: f32[H, W] {
            o[y, x] = sum(s) img[y, x - s] * f[s];
        }"
        .to_string(),
    ]
    .join("\n");
    let m = compile("stencils.pj", &src);
    let (lowered, text) = lowered(&m);
    assert!(
        text.contains("{oob = \"zero\"} : f32x4"),
        "rows outside read zero in vector code:\n{text}"
    );
    for name in ["czero", "cclamp", "cmirror", "cwrap", "back"] {
        let func = text
            .split("func.func()")
            .find(|f| f.contains(&format!("sym_name = \"{name}\"}}")))
            .unwrap();
        assert!(
            func.contains("vector.load(%img"),
            "{name} vectorizes:\n{func}"
        );
    }
    for code in jit_all(&lowered) {
        let mut rng = Rng(0x57E4C11);
        for name in ["czero", "cclamp", "cmirror", "cwrap", "back"] {
            let k = code.kernel(name).unwrap();
            for size_of in [
                |i: usize| [1, 1, 3, 3][i % 4],
                |i: usize| [7, 33, 5, 5][i % 4],
                |i: usize| [33, 7, 3, 9][i % 4],
                |i: usize| [5, 40, 1, 1][i % 4],
                |i: usize| [13, 29, 2, 4][i % 4],
            ] {
                let args = random_args(&m, name, &size_of, &mut rng);
                assert_matches_interp(&m, name, k, &args, name);
            }
        }
    }
}

/// Where implementations of `exp` go wrong (NaN, infinities, overflow, the
/// subnormal range, +-0), then `random` values in [-100, 100).
fn exp_inputs(seed: u64, random: usize) -> Vec<f32> {
    let mut values = vec![
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        0.0,
        -0.0,
        88.72,
        88.73,
        89.5,
        -87.3,
        -95.0,
        -103.9,
        -104.5,
        1.0,
        -1.0,
        1e-30,
        -2.5,
        0.5,
    ];
    let mut rng = Rng(seed);
    values.extend((0..random).map(|_| (rng.next() % 200_000) as f32 / 1000.0 - 100.0));
    values
}

/// `exp` on `f32` is picojoule's own, inline in scalar and vector code:
/// the interpreter's bits on the values where implementations go wrong
/// (NaN, infinities, overflow, the subnormal range, +-0), in the vector
/// body and the scalar remainder; vector `sqrt`, `abs`, `floor`, `ceil` too.
#[test]
fn vector_math_keeps_the_interpreter_bits() {
    let src = "
kernel e(x: f32[N]) -> (y: f32[N], z: f32[N]) {
    y[i] = exp(x[i]);
    z[i] = sqrt(abs(x[i])) + floor(x[i]) * ceil(x[i]);
}
";
    let m = compile("e.pj", src);
    let (lowered, text) = lowered(&m);
    for op in [
        "math.exp",
        "math.sqrt",
        "math.abs",
        "math.floor",
        "math.ceil",
    ] {
        assert!(
            text.lines()
                .any(|l| l.contains(op) && l.ends_with(": f32x4")),
            "{op} vectorizes:\n{text}"
        );
    }
    for code in jit_all(&lowered) {
        let k = code.kernel("e").unwrap();
        let values = exp_inputs(0xE7E7, 40);
        for n in [values.len(), 5, 4, 3] {
            let args = [f32_array(&values[..n])];
            assert_matches_interp(&m, "e", k, &args, &format!("n = {n}"));
        }
    }
}

/// `--fast-math=reassoc` (the CLI's default) vectorizes float sums with a
/// partial sum per lane: results differ from the reference order only by
/// rounding, within 1e-5 relative, on every example; and it does vectorize
/// the row sums of softmax and layernorm.
#[test]
fn reassociated_float_reductions_stay_within_rounding() {
    use pj_compiler::codegen::LOWERING_PIPELINE;
    use pj_compiler::passes::PassManager;
    for &name in EXAMPLES {
        let m = compile(name, &read(&root().join(format!("examples/{name}.pj"))));
        let mut lowered = m.clone();
        PassManager::parse(LOWERING_PIPELINE)
            .unwrap()
            .fast_math(true)
            .run(&mut lowered)
            .unwrap();
        if ["softmax", "layernorm"].contains(&name) {
            let text = pj_compiler::ir::print::print_module(&lowered, Default::default());
            assert!(
                text.contains("vector.reduce(") && text.contains("kind = \"sum\""),
                "{name}:\n{text}"
            );
        }
        let args = example_args(&m, name);
        let want = interp::run(&m, name, &args).unwrap();
        for code in jit_all(&lowered) {
            let got = code.kernel(name).unwrap().call(&args).unwrap();
            for (g, w) in got.iter().zip(&want) {
                assert_close(g, w, 1e-5, name);
            }
        }
    }
}

/// `--fast-math=contract`: `a * b + c` becomes one fused multiply-add,
/// rounded once. Where the fused and unfused results differ
/// (`(1 + 2^-12)^2 - (1 + 2^-11)` is `2^-24` exactly, `0` rounded twice),
/// native code gives the fused one in vector and scalar loops; a product
/// used twice stays a product; every example, contracted, gives bit for
/// bit what its lowered IR gives in the interpreter (which fuses with
/// `mul_add`), and the reference results within rounding.
#[test]
fn contracted_multiply_adds_round_once() {
    use pj_compiler::codegen::LOWERING_PIPELINE;
    use pj_compiler::passes::PassManager;
    let fma_here = pj_compiler::target::Target::parse("host").is_ok_and(|t| t.has_fma());
    let contracted = |m: &pj_compiler::Module| {
        let mut lowered = m.clone();
        PassManager::parse(LOWERING_PIPELINE)
            .unwrap()
            .fast_math(true)
            .contract(true)
            .run(&mut lowered)
            .unwrap();
        let text = pj_compiler::ir::print::print_module(&lowered, Default::default());
        (lowered, text)
    };
    let src = "
kernel axpy(a: f32[N], b: f32[N], c: f32[N]) -> y: f32[N] { y[i] = a[i] * b[i] + c[i]; }
kernel twice(a: f32[N], b: f32[N], c: f32[N]) -> y: f32[N] { y[i] = a[i] * b[i] + c[i] + a[i] * b[i]; }
";
    let m = compile("fma.pj", src);
    let (lowered, text) = contracted(&m);
    let fmas = text.matches("arith.fma(").count();
    assert_eq!(
        fmas, 2,
        "axpy's vector and scalar loops fuse, twice's not:\n{text}"
    );
    let x = 1.0 + 2f32.powi(-12);
    let n = 11; // a vector loop and a remainder
    let args = [
        f32_array(&vec![x; n]),
        f32_array(&vec![x; n]),
        f32_array(&vec![-(1.0 + 2f32.powi(-11)); n]),
    ];
    let fused = Tensor::new(
        ScalarType::F32,
        vec![n],
        vec![Scalar::F32(2f32.powi(-24)); n],
    );
    let unfused = Tensor::new(ScalarType::F32, vec![n], vec![Scalar::F32(0.0); n]);
    assert_eq!(
        interp::run(&m, "axpy", &args).unwrap(),
        vec![unfused.clone()]
    );
    assert_eq!(
        interp::run(&lowered, "axpy", &args).unwrap(),
        vec![fused.clone()]
    );
    let twice = Tensor::new(
        ScalarType::F32,
        vec![n],
        vec![Scalar::F32(x * x + -(1.0 + 2f32.powi(-11)) + x * x); n],
    );
    assert_eq!(
        interp::run(&lowered, "twice", &args).unwrap(),
        vec![twice.clone()]
    );
    if fma_here {
        for code in jit_all(&lowered) {
            assert_eq!(
                code.kernel("axpy").unwrap().call(&args).unwrap(),
                vec![fused.clone()]
            );
            assert_eq!(
                code.kernel("twice").unwrap().call(&args).unwrap(),
                vec![twice.clone()]
            );
        }
    }
    for &name in EXAMPLES {
        let m = compile(name, &read(&root().join(format!("examples/{name}.pj"))));
        let (lowered, text) = contracted(&m);
        if ["matmul", "conv2d", "unsharp"].contains(&name) {
            assert!(text.contains("arith.fma("), "{name}:\n{text}");
        }
        if name == "softmax" {
            assert!(text.contains("fused = true"), "{name}'s exp:\n{text}");
        }
        let args = example_args(&m, name);
        let want = interp::run(&m, name, &args).unwrap();
        let fused = interp::run(&lowered, name, &args).unwrap();
        for (f, w) in fused.iter().zip(&want) {
            assert_close(f, w, 1e-5, name);
        }
        if fma_here {
            for code in jit_all(&lowered) {
                let got = code.kernel(name).unwrap().call(&args).unwrap();
                assert_eq!(got, fused, "{name}: native vs lowered IR interpreted");
            }
        }
    }
}

/// Under `--fast-math=contract`, `exp` on `f32` is marked `{fused = true}`
/// and computed with fused multiply-adds (`pj_runtime::math::expf_fused`):
/// native code, vector body and scalar remainder, gives the interpreter's
/// bits on the special values and on random ones, and those bits are not
/// the unfused `exp`'s everywhere (or this would test nothing).
#[test]
fn fused_exp_keeps_the_interpreter_bits() {
    use pj_compiler::codegen::LOWERING_PIPELINE;
    use pj_compiler::passes::PassManager;
    let m = compile(
        "e.pj",
        "kernel e(x: f32[N]) -> y: f32[N] { y[i] = exp(x[i]); }",
    );
    let lower = |contract: bool| {
        let mut lowered = m.clone();
        PassManager::parse(LOWERING_PIPELINE)
            .unwrap()
            .fast_math(true)
            .contract(contract)
            .run(&mut lowered)
            .unwrap();
        lowered
    };
    let (plain, fused) = (lower(false), lower(true));
    let text = pj_compiler::ir::print::print_module(&fused, Default::default());
    assert_eq!(
        text.matches("fused = true").count(),
        2,
        "the vector and the scalar exp:\n{text}"
    );
    let values = exp_inputs(0xFE5E, 4000);
    let args = [f32_array(&values)];
    let bits = |m: &pj_compiler::Module| -> Vec<u32> {
        let out = interp::run(m, "e", &args).unwrap();
        out[0]
            .data
            .iter()
            .map(|s| match s {
                Scalar::F32(v) => v.to_bits(),
                _ => 0,
            })
            .collect()
    };
    assert_ne!(
        bits(&fused),
        bits(&plain),
        "fused and unfused exp differ in some last bits"
    );
    if pj_compiler::target::Target::parse("host").is_ok_and(|t| t.has_fma()) {
        for code in jit_all(&fused) {
            let k = code.kernel("e").unwrap();
            for n in [values.len(), 5, 3] {
                let args = [f32_array(&values[..n])];
                assert_matches_interp(&fused, "e", k, &args, &format!("n = {n}"));
            }
        }
    }
}

/// Where `exp` rounds (its results in the subnormals, below -87.3) and
/// overflows (above 88.72), every `f32` input, through every backend at
/// its own vector width (512 bits with LLVM on AVX-512, where `2^k` is
/// one `vscalefps`), strict and with fused multiply-adds: the
/// interpreter's bits, one input at a time.
#[test]
fn exp_keeps_the_interpreter_bits_on_every_input_where_it_rounds_or_overflows() {
    use pj_compiler::codegen::driver::{self, FastMath, Options, Stage};
    let m = compile(
        "e.pj",
        "kernel e(x: f32[N]) -> y: f32[N] { y[i] = exp(x[i]); }",
    );
    let range = |a: f32, b: f32| {
        let (a, b) = (a.to_bits().min(b.to_bits()), a.to_bits().max(b.to_bits()));
        (a..=b).map(f32::from_bits)
    };
    let values: Vec<f32> = range(-86.5, -104.5).chain(range(87.5, 89.5)).collect();
    let args = [f32_array(&values)];
    let mut modes = vec![FastMath::Off];
    if pj_compiler::target::Target::parse("host").is_ok_and(|t| t.has_fma()) {
        modes.push(FastMath::Contract);
    }
    for fast_math in modes {
        for backend in backends() {
            let options = Options {
                fast_math,
                ..Options::with_backend(backend)
            };
            let (lowered, _) = driver::lower(&m, &options, Stage::Checked).unwrap();
            let want = interp::run(&lowered, "e", &args).unwrap();
            let got = driver::compile(&lowered, &options)
                .unwrap()
                .kernel("e")
                .unwrap()
                .call(&args)
                .unwrap();
            for ((g, w), x) in got[0].data.iter().zip(&want[0].data).zip(&values) {
                let bits = |s: &Scalar| match s {
                    Scalar::F32(v) => v.to_bits(),
                    _ => unreachable!("f32 results"),
                };
                assert_eq!(
                    bits(g),
                    bits(w),
                    "{backend}, {fast_math:?}: exp({x:e}) = {g:?}, the interpreter's {w:?}"
                );
            }
        }
    }
}

/// `max(x, c)` and `min(x, c)` with a constant `c` take a short path in
/// vector code; they must keep `fmax`'s and `fmin`'s semantics exactly:
/// NaN propagates, `+0.0` beats `-0.0` in `max` and loses in `min`,
/// infinities order; and so must `clamp`, which is both.
#[test]
fn max_and_min_with_a_constant_keep_their_semantics() {
    let special = [
        -0.0f32,
        0.0,
        f32::NAN,
        -f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        1.5,
        -1.5,
        2.5,
        -3.0,
        1e-40,
        -1e-40,
        7.0,
    ];
    for c in ["0.0", "-0.0", "1.5", "-2.0"] {
        for form in [
            format!("max(x[i], {c})"),
            format!("max({c}, x[i])"),
            format!("min(x[i], {c})"),
            format!("min({c}, x[i])"),
            format!("clamp(x[i], {c}, 2.0)"),
            format!("clamp(x[i], -1.5, {c})"),
        ] {
            let src = format!("kernel k(x: f32[N]) -> y: f32[N] {{ y[i] = {form}; }}");
            let m = compile("k.pj", &src);
            for code in jit_all(&m) {
                let args = vec![f32_array(&special)];
                assert_matches_interp(&m, "k", code.kernel("k").unwrap(), &args, &form);
            }
        }
    }
}

/// Division by a power of two becomes multiplication by its reciprocal
/// (canonicalize): exact for every input, subnormals and specials included.
#[test]
fn division_by_a_power_of_two_is_exact_as_a_multiplication() {
    let special = [
        -0.0f32,
        0.0,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        1.0,
        -3.0,
        1e-40,
        -1e-45,
        f32::MAX,
        f32::MIN_POSITIVE,
        0.1,
        123456.79,
    ];
    for c in [
        "4.0",
        "0.5",
        "-2.0",
        "1.0e-30",
        "3.0",
        "1.17549435e-38",
        "1.7014118e38",
    ] {
        let src = format!("kernel k(x: f32[N]) -> y: f32[N] {{ y[i] = x[i] / {c}; }}");
        let m = compile("k.pj", &src);
        for code in jit_all(&m) {
            let args = vec![f32_array(&special)];
            assert_matches_interp(
                &m,
                "k",
                code.kernel("k").unwrap(),
                &args,
                &format!("x / {c}"),
            );
        }
    }
}

/// The innermost loops of every example, as Cranelift optimizes them for
/// x86_64 and aarch64, compute nothing that depends only on values from
/// outside the loop: Cranelift's loop-invariant code motion has hoisted
/// it. (It silently stops hoisting when a loop's exit or a failure branch
/// is visited before the body in its dominator-tree walk; see
/// `Lowerer::simple_loop`. Blur's interior recomputed three row addresses
/// per four pixels that way.)
#[test]
fn innermost_loops_compute_nothing_loop_invariant() {
    use pj_compiler::codegen::cranelift::object::optimized_clif;
    use pj_compiler::target::Target;
    for triple in ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"] {
        let target = Target::parse(triple).unwrap();
        for &name in EXAMPLES {
            let m = compile(name, &read(&root().join(format!("examples/{name}.pj"))));
            let (l, _) = lowered(&m);
            let clif = optimized_clif(&l, &target, &[]).unwrap();
            let bad = invariant_ops_in_innermost_loops(&clif);
            assert!(
                bad.is_empty(),
                "{name} on {triple}: loop-invariant ops left in innermost loops:\n{}",
                bad.join("\n")
            );
        }
    }
}

/// The pure ops of innermost loops whose operands are all defined outside
/// the loop or are constants (failure paths, which leave the loop for
/// good, excepted). A loop is the blocks from a branch's target
/// to the branch, in layout order (the lowering lays loop bodies out
/// contiguously); innermost, when no other loop lies within it.
fn invariant_ops_in_innermost_loops(clif: &str) -> Vec<String> {
    // side effects, control, or cheap constants Cranelift places per block
    const KEEP: &[&str] = &[
        "load",
        "store",
        "call",
        "brif",
        "jump",
        "return",
        "trap",
        "symbol_value",
        "stack_addr",
        "select_spectre_guard",
    ];
    let words = |s: &str| -> Vec<String> {
        s.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    };
    let mut bad = Vec::new();
    for func in clif.split("\n; ") {
        let mut blocks: Vec<(String, Vec<&str>)> = Vec::new();
        for line in func.lines() {
            let t = line.trim();
            if t.starts_with("block") && t.ends_with(':') {
                let name = t[..t.find(['(', ':']).unwrap()].to_string();
                blocks.push((name, vec![t]));
            } else if let Some((_, body)) = blocks.last_mut()
                && !t.is_empty()
                && !t.starts_with('}')
            {
                body.push(t);
            }
        }
        let index = |n: &str| blocks.iter().position(|(b, _)| b == n);
        let mut back_edges = Vec::new();
        for (i, (_, lines)) in blocks.iter().enumerate() {
            for l in lines
                .iter()
                .filter(|l| l.starts_with("brif") || l.starts_with("jump"))
            {
                for w in words(l) {
                    if let Some(h) = index(&w).filter(|&h| h <= i) {
                        back_edges.push((h, i));
                    }
                }
            }
        }
        for &(h, e) in &back_edges {
            let innermost = !back_edges
                .iter()
                .any(|&(h2, e2)| (h2, e2) != (h, e) && h <= h2 && e2 <= e);
            if !innermost {
                continue;
            }
            let mut variant = std::collections::HashSet::new();
            let mut constants = std::collections::HashSet::new();
            for (name, lines) in &blocks[h..=e] {
                // a failure path laid out inside the loop: it leaves for
                // good, so what it computes runs at most once
                let leaves = lines.last().is_some_and(|l| {
                    l.starts_with("jump")
                        && words(l)
                            .iter()
                            .filter_map(|w| index(w))
                            .all(|t| t < h || t > e)
                });
                if leaves {
                    continue;
                }
                variant.extend(words(lines[0]).into_iter().filter(|w| w.starts_with('v')));
                for l in &lines[1..] {
                    let code = l.split(';').next().unwrap();
                    let Some((lhs, rhs)) = code.split_once(" = ") else {
                        continue;
                    };
                    let opcode = rhs.split([' ', '.']).next().unwrap();
                    let results = words(lhs);
                    if opcode.ends_with("const") {
                        constants.extend(results);
                        continue;
                    }
                    let from_inside = words(rhs)
                        .iter()
                        .skip(1)
                        .any(|o| variant.contains(o) && !constants.contains(o));
                    // `x op constant` is rematerialized at its uses by
                    // Cranelift on purpose (opts/remat.isle: an ALU op per
                    // iteration instead of a register held across the loop)
                    let remat = matches!(opcode, "iadd" | "isub" | "band" | "bor" | "bxor")
                        && l.split_once(';').is_some_and(|(_, c)| c.contains(" = "));
                    if from_inside || remat || KEEP.iter().any(|k| opcode.starts_with(k)) {
                        variant.extend(results);
                    } else {
                        bad.push(format!("{name}: {l}"));
                    }
                }
            }
        }
    }
    bad
}

/// The transposed view of `storage` (`[w, h]` row-major): element
/// `[y, x]` of the view is `storage[x * h + y]`.
fn transposed<T: Copy>(storage: &[T], h: usize, w: usize) -> Vec<T> {
    (0..h * w).map(|i| storage[(i % w) * h + i / w]).collect()
}

/// A buffer holding `bytes` as `[w, h]` row-major, seen as its `[h, w]`
/// transpose (strides `[1, h]`).
/// A broadcast view of one element as 2^60 (stride 0): no row-major copy
/// of it fits in memory, and every native backend, which would make one
/// (a kernel's body runs on contiguous rows), says so instead of running.
#[test]
fn a_view_too_large_to_copy_row_major_is_a_clear_error() {
    use pj_compiler::codegen::KernelArg;
    let m = compile(
        "k.pj",
        "kernel k(x: f32[N]) -> y: f32[2] { y[i] = x[0] * f32(i); }",
    );
    for code in jit_all(&m) {
        let mut x =
            pj_runtime::Buffer::from_bytes(pj_runtime::ElemType::F32, &[1], &[0; 4]).unwrap();
        // SAFETY: every index of the view maps to the one element (stride
        // 0); the buffer frees by its own byte count
        unsafe {
            let d = &mut *x.descriptor();
            d.shape[0] = 1 << 60;
            d.strides[0] = 0;
        }
        let mut y = pj_runtime::Buffer::zeros(pj_runtime::ElemType::F32, &[2]).unwrap();
        let err = code
            .kernel("k")
            .unwrap()
            .call_buffers(&mut [KernelArg::Array(&mut x)], &mut [&mut y])
            .unwrap_err();
        assert!(
            err.message
                .contains("cannot allocate a row-major copy of `x` (its last stride is not 1)"),
            "{}: {err}",
            code.backend()
        );
    }
}

/// A kernel that fails after its strided arguments were copied row-major
/// (an integer division by zero, found in the body): the error is the
/// interpreter's and the strided result is left as it was (nothing is
/// copied back; the failure exit frees the copies).
#[test]
fn a_failure_after_row_major_copies_frees_them_and_says_why() {
    use pj_compiler::codegen::KernelArg;
    use pj_runtime::ElemType;
    let m = compile(
        "k.pj",
        "kernel k(x: i32[H, W], d: i32) -> y: i32[H, W] { y[i, j] = x[i, j] / d; }",
    );
    let (h, w) = (5usize, 7usize);
    let bytes: Vec<u8> = (0..(h * w) as i32).flat_map(|v| v.to_le_bytes()).collect();
    let want = interp::run(
        &m,
        "k",
        &[
            Value::Array(Tensor::new(
                ScalarType::I32,
                vec![h, w],
                (0..(h * w) as i32).map(Scalar::I32).collect(),
            )),
            Value::Scalar(Scalar::I32(0)),
        ],
    )
    .unwrap_err()
    .to_string();
    for code in jit_all(&m) {
        let mut x = transposed_view(ElemType::I32, h, w, &bytes);
        let mut y = transposed_view(ElemType::I32, h, w, &vec![7u8; 4 * h * w]);
        let err = code
            .kernel("k")
            .unwrap()
            .call_buffers(
                &mut [KernelArg::Array(&mut x), KernelArg::Scalar(Scalar::I32(0))],
                &mut [&mut y],
            )
            .unwrap_err();
        assert_eq!(err.message, want, "{}", code.backend());
        assert!(y.bytes().iter().all(|&b| b == 7), "{}", code.backend());
    }
}

fn transposed_view(
    elem: pj_runtime::ElemType,
    h: usize,
    w: usize,
    bytes: &[u8],
) -> pj_runtime::Buffer {
    let mut b = pj_runtime::Buffer::from_bytes(elem, &[w, h], bytes).unwrap();
    // SAFETY: the same elements seen transposed; every index of the view
    // maps inside the storage (the buffer frees by its own byte count)
    unsafe {
        let d = &mut *b.descriptor();
        d.shape[0] = h as i64;
        d.shape[1] = w as i64;
        d.strides[0] = 1;
        d.strides[1] = h as i64;
    }
    b
}

/// Arguments and results given as transposed views (strides `[1, H]`),
/// without boundary modes: the vector loads of the inputs and the vector
/// stores of the results take their strided paths (row-major copies in
/// and out of the kernel's body), for
/// 4-byte and 1-byte elements, and every result element lands where the
/// view says.
#[test]
fn strided_arguments_and_results_match_the_interpreter() {
    use pj_compiler::codegen::KernelArg;
    use pj_runtime::ElemType;
    let src = "kernel k(a: f32[H, W], b: u8[H, W]) -> (out: f32[H, W], q: u8[H, W]) {
    out[y, x] = a[y, x] * 2.0 + 1.5;
    q[y, x] = max(b[y, x], 7) - 2;
}";
    let m = compile("strided_results.pj", src);
    for (h, w) in [(1usize, 1usize), (3, 17), (9, 70), (33, 5), (2, 129)] {
        let fa: Vec<f32> = (0..h * w).map(|i| (i as f32 * 0.37).sin()).collect();
        let ub: Vec<u8> = (0..h * w).map(|i| (i * 37 % 251) as u8).collect();
        let a_bytes: Vec<u8> = fa.iter().flat_map(|v| v.to_le_bytes()).collect();
        let want = interp::run(
            &m,
            "k",
            &[
                Value::Array(Tensor::new(
                    ScalarType::F32,
                    vec![h, w],
                    transposed(&fa, h, w).into_iter().map(Scalar::F32).collect(),
                )),
                Value::Array(Tensor::new(
                    ScalarType::U8,
                    vec![h, w],
                    transposed(&ub, h, w).into_iter().map(Scalar::U8).collect(),
                )),
            ],
        )
        .unwrap();
        for code in jit_all(&m) {
            let k = code.kernel("k").unwrap();
            let mut a = transposed_view(ElemType::F32, h, w, &a_bytes);
            let mut b = transposed_view(ElemType::U8, h, w, &ub);
            let mut out = transposed_view(ElemType::F32, h, w, &vec![0u8; 4 * h * w]);
            let mut q = transposed_view(ElemType::U8, h, w, &vec![0u8; h * w]);
            k.call_buffers(
                &mut [KernelArg::Array(&mut a), KernelArg::Array(&mut b)],
                &mut [&mut out, &mut q],
            )
            .unwrap_or_else(|e| panic!("{}: {e}", code.backend()));
            // the storage, read back through the view, is the result
            let got_out: Vec<u8> =
                transposed(&out.bytes().chunks(4).collect::<Vec<_>>(), h, w).concat();
            let got_q = transposed(q.bytes(), h, w);
            let b = code.backend();
            assert_eq!(got_out, want[0].to_le_bytes(), "{b}: out at {h}x{w}");
            assert_eq!(got_q, want[1].to_le_bytes(), "{b}: q at {h}x{w}");
        }
    }
}

/// Arrays given as strided views (a transposed matrix: strides `[1, H]`)
/// through boundary modes: every backend reads them through its strided
/// paths (lane by lane, or a masked gather) and gives the interpreter's
/// bits, edges included.
#[test]
fn strided_views_read_through_boundaries_match_the_interpreter() {
    use pj_compiler::codegen::KernelArg;
    use pj_runtime::{Buffer, ElemType};
    let src = "kernel k(a: f32[H, W] @boundary(zero)) -> out: f32[H, W] {
    out[y, x] = a[y - 1, x] + a[y, x - 2] * 2.0 + a[y, x + 3] - a[y + 1, x + 1];
}";
    let m = compile("strided.pj", src);
    for (h, w) in [(1usize, 1usize), (3, 17), (9, 40), (33, 5)] {
        let storage: Vec<f32> = (0..h * w).map(|i| (i as f32 * 0.37).sin()).collect();
        let bytes: Vec<u8> = storage.iter().flat_map(|v| v.to_le_bytes()).collect();
        let logical: Vec<Scalar> = transposed(&storage, h, w)
            .into_iter()
            .map(Scalar::F32)
            .collect();
        let want = interp::run(
            &m,
            "k",
            &[Value::Array(Tensor::new(
                ScalarType::F32,
                vec![h, w],
                logical,
            ))],
        )
        .unwrap();
        for code in jit_all(&m) {
            let k = code.kernel("k").unwrap();
            let mut a = transposed_view(ElemType::F32, h, w, &bytes);
            let mut out = Buffer::zeros(ElemType::F32, &[h, w]).unwrap();
            k.call_buffers(&mut [KernelArg::Array(&mut a)], &mut [&mut out])
                .unwrap_or_else(|e| panic!("{}: {e}", code.backend()));
            assert_eq!(
                out.bytes(),
                want[0].to_le_bytes().as_slice(),
                "{} at {h}x{w}",
                code.backend()
            );
        }
    }
}
