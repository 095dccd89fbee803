//! The adversarial review's classes (issue 13), one test per class: each
//! input here once gave a wrong result, a crash or a wild access. Every
//! kernel runs as written in the interpreter (the oracle) and through every
//! pipeline and backend that is built; all must give the same bits or the
//! same error.

mod common;

use common::{compile, jit_all};
use pj_compiler::Module;
use pj_compiler::codegen::UNOPTIMIZED_PIPELINE;
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

/// Asserts every configuration agrees with the interpreter and returns
/// its outcome.
fn agreed(src: &str, kernel: &str, args: &[Value]) -> String {
    let all = picojoule::difftest::outcomes(src, kernel, args)
        .unwrap_or_else(|d| panic!("does not compile:\n{d}"));
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

// Class 3, schedules: tiles longer than any image are cases of
// `user_schedules_match_the_interpreter` in tests/native.rs.

/// Class 3: an argument dim over 2^48 (an empty array can claim one) is
/// refused alike by the interpreter and native code, before any size
/// arithmetic could wrap.
#[test]
fn dims_over_2_48_are_refused() {
    let src = "kernel k(x: f32[M, N]) -> y: f32[N, M] { y[i, j] = x[j, i]; }";
    let empty = Value::Array(Tensor::new(ScalarType::F32, vec![0, 1 << 50], vec![]));
    let got = agreed(src, "k", &[empty]);
    assert!(
        got.contains("dim 1 is 1125899906842624, more than the longest"),
        "{got}"
    );
}

mod c_abi {
    use super::*;
    use pj_compiler::codegen::KernelArg;
    use pj_runtime::{Buffer, ElemType};

    /// Calls `kernel` with `x` and a result buffer of the right shape, each
    /// descriptor first edited by `edit_x` / `edit_out` (restored after,
    /// so the buffers free what they own); returns the error message.
    fn call_edited(
        src: &str,
        edit_x: impl Fn(&mut pj_runtime::abi::PjBuffer),
        edit_out: impl Fn(&mut pj_runtime::abi::PjBuffer),
    ) -> Result<(), String> {
        let m = compile("abi.pj", src);
        // every backend must say the same, word for word
        let mut outcomes = common::jit_all(&m).into_iter().map(|code| {
            let k = code.kernel("k").expect("kernel");
            let mut x = Buffer::zeros(ElemType::F32, &[4, 6]).expect("small");
            let mut out = Buffer::zeros(ElemType::F32, &[4, 6]).expect("small");
            // SAFETY: the descriptors are restored before the buffers drop.
            let (saved_x, saved_out) = unsafe { (*x.descriptor(), *out.descriptor()) };
            unsafe {
                edit_x(&mut *x.descriptor());
                edit_out(&mut *out.descriptor());
            }
            let r = k
                .call_buffers(&mut [KernelArg::Array(&mut x)], &mut [&mut out])
                .map_err(|e| e.message);
            unsafe {
                *x.descriptor() = saved_x;
                *out.descriptor() = saved_out;
            }
            (code.backend(), r)
        });
        let (first, r) = outcomes.next().expect("at least one backend");
        for (other, r2) in outcomes {
            assert_eq!(r, r2, "{first} and {other} differ");
        }
        r
    }

    const COPY: &str = "kernel k(x: f32[H, W]) -> y: f32[H, W] { y[i, j] = x[i, j] + 1.0; }";

    fn refused(
        edit_x: impl Fn(&mut pj_runtime::abi::PjBuffer),
        edit_out: impl Fn(&mut pj_runtime::abi::PjBuffer),
        want: &str,
    ) {
        match call_edited(COPY, edit_x, edit_out) {
            Err(e) => assert!(e.contains(want), "wanted {want:?}, got {e}"),
            Ok(()) => panic!("accepted; wanted {want:?}"),
        }
    }

    #[test]
    fn descriptors_no_array_can_have_are_refused() {
        let keep = |_: &mut pj_runtime::abi::PjBuffer| {};
        // the untouched call works
        call_edited(COPY, keep, keep).expect("a valid call");
        refused(
            |b| b.data = std::ptr::null_mut(),
            keep,
            "argument `x`: data is NULL but the array is not empty",
        );
        refused(
            keep,
            |b| b.data = std::ptr::null_mut(),
            "argument `y`: data is NULL but the array is not empty",
        );
        refused(|b| b.shape[0] = -4, keep, "dim 0 has negative extent -4");
        refused(
            keep,
            |b| b.strides[0] = i64::MAX / 2,
            "argument `y`: its shape and strides span",
        );
        refused(
            |b| b.strides[1] = i64::MIN,
            keep,
            "argument `x`: its shape and strides span",
        );
        refused(
            keep,
            |b| b.strides[1] = 0,
            "result `y`: its strides map two indices to one element",
        );
        // rows of 6 elements 3 apart overlap
        refused(
            keep,
            |b| b.strides[0] = 3,
            "result `y`: its strides map two indices to one element",
        );
        // an input may be broadcast: stride 0 reads one row four times
        call_edited(COPY, |b| b.strides[0] = 0, keep).expect("broadcast input");
        // a transposed or reversed result is fine
        call_edited(COPY, keep, |b| {
            b.strides[0] = -6;
            b.data = b.data.wrapping_add(3 * 6 * 4);
        })
        .expect("rows in reverse order");
        // an empty array may sit at NULL
        let empty = |b: &mut pj_runtime::abi::PjBuffer| {
            b.shape[0] = 0;
            b.data = std::ptr::null_mut();
        };
        call_edited(COPY, empty, empty).expect("empty arrays at NULL");
    }

    #[test]
    fn the_language_and_the_abi_agree_on_the_most_dims() {
        assert_eq!(pj_lang::check::MAX_RANK, pj_runtime::abi::MAX_RANK);
    }
}

/// Class 3: a kernel whose extents overflow only for large sizes runs at
/// small ones and refuses the rest, alike everywhere.
#[test]
fn sizes_whose_extents_would_overflow_are_refused() {
    let src = "kernel grow(x: f32[N]) -> y: f32[N * 1000000000] { y[i] = x[i / 1000000000]; }";
    let m = compile("grow.pj", src);
    let limit = pj_compiler::dialects::pj::size_limit(&m, m.kernel("grow").expect("kernel"));
    assert_eq!(limit, ((1i64 << 62) - 1) / 1000000000);
    let too_many = Value::Array(Tensor::new(ScalarType::F32, vec![0, 1 << 40], vec![]));
    let src2 = "kernel grow(x: f32[M, N]) -> y: f32[N * 1000000000] { y[i] = 1.0; }";
    let got = agreed(src2, "grow", &[too_many]);
    assert!(
        got.contains("dim 1 is 1099511627776, more than size `N` may be here"),
        "{got}"
    );
}

/// Class 6: the JIT maps code and data in pools that can land more than
/// 2 GiB apart (a large kernel, a thousand thread stacks between them), so
/// no JIT reference may be a 32-bit PC-relative one: calls of parallel
/// loop bodies and of the runtime, and the messages' data, are all
/// absolute (Cranelift prints a near reference as `colocated`). The
/// review saw `TryFromIntError` panics in 2 of 3 runs of such kernels.
#[test]
fn jit_references_reach_any_distance() {
    // a parallel loop (an outlined body), checks with messages, a runtime call
    let src = "kernel k(x: f32[H, W], d: i32[H]) -> y: f32[H, W] {
        y[i, j] = exp(x[i, j]) + f32(7 / d[i]);
    }";
    let m = run_pipeline(
        &compile("far.pj", src),
        pj_compiler::codegen::LOWERING_PIPELINE,
    );
    let (code, clif) = pj_compiler::codegen::cranelift::lower::with_optimized_clif(|| {
        pj_compiler::codegen::cranelift::jit::compile(&m, pj_compiler::codegen::Tier::Optimizing)
    });
    code.expect("compiles");
    assert!(
        clif.contains("call_indirect") || clif.contains("call fn"),
        "{clif}"
    );
    let near: Vec<&str> = clif.lines().filter(|l| l.contains("colocated")).collect();
    assert!(near.is_empty(), "near references in JIT code: {near:?}");
}

/// Class 7: loop-level IR text is hostile input. What it promises
/// (`in_bounds`) is dropped when it is read, so native code checks it;
/// what native code relies on without a check (frees) is verified.
mod ir_text {
    use super::*;
    use pj_compiler::ir::parse::parse_module;
    use pj_compiler::ir::print::{PrintOptions, print_module};
    use pj_compiler::ir::verify::verify;

    const SRC: &str = "kernel k(x: f32[N]) -> y: f32[N] { y[i] = x[i] + 1.0; }";

    /// The `-O0` loop-level text of `src`, with `edit` applied to the
    /// first line containing `needle`.
    fn edited(src: &str, needle: &str, edit: impl Fn(&str) -> String) -> String {
        let m = run_pipeline(&compile("k.pj", src), UNOPTIMIZED_PIPELINE);
        let text = print_module(&m, PrintOptions { locs: false });
        let line = text
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle} in\n{text}"))
            .to_string();
        text.replacen(&line, &edit(&line), 1)
    }

    #[test]
    fn a_false_in_bounds_promise_is_checked_not_trusted() {
        // the store's index becomes N: one past the end, still "in_bounds"
        let text = edited(SRC, "in_bounds = true", |l| {
            let (head, tail) = l.rsplit_once(", %").expect("an index operand");
            let rest = &tail[tail.find(')').expect("closing")..];
            format!("{head}, %N{rest}")
        });
        let mut m = parse_module(&text).expect("parses");
        verify(&m).expect("the verifier cannot see the lie");
        pj_compiler::dialects::drop_promises(&mut m);
        for code in jit_all(&m) {
            let x = Value::Array(Tensor::new(
                ScalarType::F32,
                vec![3],
                vec![Scalar::F32(1.0); 3],
            ));
            let err = code.kernel("k").expect("k").call(&[x]).unwrap_err();
            assert!(
                err.message.contains("write to `y` out of bounds"),
                "{}",
                err.message
            );
        }
    }

    /// Messages class: an out-of-bounds read names the array read (a
    /// stage's scratch buffer by its stage) and the dim that is outside,
    /// natively scalar and vectorized and in the loop-level interpreter —
    /// not the first dim's index, not "a buffer".
    #[test]
    fn an_out_of_bounds_read_names_its_array_and_dim() {
        let src = "kernel k(x: f32[N, M]) -> y: f32[N, M] { t[i, j] = x[i, j] * 2.0; y[i, j] = t[i, j] + t[i, j] * t[i, j]; }";
        let x = || {
            Value::Array(Tensor::new(
                ScalarType::F32,
                vec![3, 8],
                vec![Scalar::F32(1.0); 24],
            ))
        };
        // the first read of `t` moves by N rows, then by M columns
        for (dim, extent, shift) in [(0, 3, "%N"), (1, 8, "%M")] {
            let text = edited(src, "mem.load(%t", |l| {
                let (head, tail) = l.split_once("mem.load(%t, ").expect("a load of t");
                let (ops, rest) = tail.split_once(')').expect("operands");
                let mut ops: Vec<String> = ops.split(", ").map(String::from).collect();
                ops[dim] = shift.to_string();
                format!("{head}mem.load(%t, {}){rest}", ops.join(", "))
            });
            let mut m = parse_module(&text).expect("parses");
            pj_compiler::dialects::drop_promises(&mut m);
            let want = format!("in dim {dim} of extent {extent}");
            let mut vectorized = m.clone();
            PassManager::parse("vectorize")
                .unwrap()
                .run(&mut vectorized)
                .unwrap();
            for (what, module) in [("scalar", &m), ("vectorized", &vectorized)] {
                for code in common::jit_all(module) {
                    let err = code.kernel("k").expect("k").call(&[x()]).unwrap_err();
                    assert!(
                        err.message.contains("read of `t` out of bounds")
                            && err.message.contains(&want),
                        "{what}, {}: {}",
                        code.backend(),
                        err.message
                    );
                }
            }
            let err = interp::run(&m, "k", &[x()]).unwrap_err().to_string();
            assert!(err.contains("read of `t` out of bounds"), "{err}");
        }
    }

    #[test]
    fn frees_the_verifier_refuses() {
        let bad_frees = [
            // a parameter is not the kernel's to free
            edited(SRC, "func.return()", |l| format!("  mem.dealloc(%x)\n{l}")),
        ];
        for text in bad_frees {
            let m = parse_module(&text).expect("parses");
            let err = verify(&m).expect_err("refused").to_string();
            assert!(err.contains("not a parameter"), "{err}");
        }
        // a use after free and a double free, in a kernel with a buffer of its own
        let src = "kernel k(x: f32[N] @boundary(clamp)) -> y: f32[N] { t[i] = x[i] * 2.0; y[i] = t[i - 1] + t[i]; }";
        let twice = edited(src, "mem.dealloc(", |free| format!("{free}\n{free}"));
        let err = verify(&parse_module(&twice).expect("parses")).expect_err("refused");
        assert!(err.to_string().contains("used after it is freed"), "{err}");
    }

    /// A loop whose bound IR text made astronomical ends the loop-level
    /// interpreter's call with an error, not a hang (native code runs what
    /// it was asked; the interpreter, the oracle, stops at its limit).
    #[test]
    fn the_interpreter_stops_a_hostile_loop() {
        let src = "kernel k(x: i64[N], s: i64) -> y: i64[N] { y[i] = x[i] + sum(k in 0..3) s; }";
        let text = edited(src, "loop.for(", |line| {
            let (head, tail) = line.split_once("loop.for(").expect("for");
            let close = tail.find(')').expect("close");
            let mut ops: Vec<&str> = tail[..close].split(", ").collect();
            ops[1] = "%huge";
            format!(
                "  %huge = arith.constant() {{value = 1099511627776}} : i64\n{head}loop.for({}{}",
                ops.join(", "),
                &tail[close..]
            )
        });
        let m = parse_module(&text).expect("parses");
        verify(&m).expect("verifies");
        let x = Value::Array(Tensor::new(
            ScalarType::I64,
            vec![2],
            vec![Scalar::I64(1); 2],
        ));
        let err = interp::run_with_limit(&m, "k", &[x, Value::Scalar(Scalar::I64(1))], 1 << 10)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("the interpreter stopped after 262144 operations"),
            "{err}"
        );
    }

    #[test]
    fn a_run_time_step_of_zero_is_an_error_not_a_hang() {
        let src = "kernel k(x: i64[N], s: i64) -> y: i64[N] { y[i] = x[i] + sum(k in 0..3) s; }";
        // the reduction loop's step is made the parameter `s`
        let text = edited(src, "loop.for(", |line| {
            let (head, tail) = line.split_once("loop.for(").expect("for");
            let close = tail.find(')').expect("close");
            let mut ops: Vec<&str> = tail[..close].split(", ").collect();
            ops[2] = "%s";
            format!("{head}loop.for({}{}", ops.join(", "), &tail[close..])
        });
        let m = parse_module(&text).expect("parses");
        verify(&m).expect("a run-time step verifies");
        let x = Value::Array(Tensor::new(
            ScalarType::I64,
            vec![2],
            vec![Scalar::I64(1); 2],
        ));
        let args = [x, Value::Scalar(Scalar::I64(0))];
        let want = interp::run(&m, "k", &args).unwrap_err().to_string();
        assert!(want.contains("loop step must be positive, got 0"), "{want}");
        for code in jit_all(&m) {
            let got = code.kernel("k").expect("k").call(&args).unwrap_err();
            assert_eq!(got.message, want);
        }
    }
}

/// Class 8: deep expressions are refused with a diagnostic before anything
/// recursive walks them; the deepest allowed compiles and runs, here on a
/// test thread's 2 MiB stack.
#[test]
fn deep_expressions_get_a_diagnostic_not_a_stack_overflow() {
    let long_sum = format!("x[i]{}", " + x[i]".repeat(6000));
    let negations = format!("{}x[i]", "-".repeat(10_000));
    let sqrts = format!("{}x[i]{}", "sqrt(".repeat(10_000), ")".repeat(10_000));
    for body in [long_sum, negations, sqrts] {
        let src = format!("kernel k(x: f32[N]) -> y: f32[N] {{ y[i] = {body}; }}");
        let diags = pj_compiler::compile_source("deep.pj", &src)
            .err()
            .expect("refused");
        let text = pj_lang::diagnostic::render_all(&diags, "deep.pj", &src);
        assert!(text.contains("at most 512 is allowed"), "{text}");
    }
    let max = pj_lang::parse::MAX_NESTING;
    // n reads summed nest n + 1 deep: n - 1 additions, a read, its index
    let deepest = format!("x[i]{}", " + x[i]".repeat(max - 2));
    let src = format!("kernel k(x: f32[N]) -> y: f32[N] {{ y[i] = {deepest}; }}");
    let got = agreed(&src, "k", &[f32s(&[1.0, 2.0])]);
    assert!(got.contains("F32(511.0), F32(1022.0)"), "{got}");
}

/// Found by `pj difftest` (seed 801): a reduction over a stage computed
/// per tile, read at a column that does not move with the stage's own
/// (`t0[y, k]` in `t1[y, x]`), was vectorized as a contiguous load along
/// `k` — wrong lanes, and past the row's end — instead of a broadcast.
#[test]
fn a_stage_read_the_same_for_a_whole_row_is_broadcast_in_vector_blocks() {
    let src = "kernel k(a: i32[H, W]) -> r: i32[H, W] {
        t0[y, x] = a[y, x] + 1;
        t1[y, x] = min(k1 in 0..W) t0[y, k1];
        r[y, x] = t0[y, x] + t1[y, x];
    }";
    for (h, w) in [(7, 9), (13, 5), (1, 1), (6, 16)] {
        let a = Value::Array(Tensor::new(
            ScalarType::I32,
            vec![h, w],
            (0..h * w)
                .map(|i| Scalar::I32((i as i32 * 37) % 23 - 11))
                .collect(),
        ));
        let got = agreed(src, "k", &[a]);
        assert!(!got.starts_with("error"), "{h}x{w}: {got}");
    }
}

/// Found by `pj difftest` (seed 50550): a stage read by nothing is not
/// computed, so its reads must not widen its producers' domains — the
/// interpreter computed `t` at row 0 for the unread `u` and failed there,
/// while compiled code (rightly) never computed it.
#[test]
fn a_stage_read_by_nothing_demands_nothing() {
    let src = "kernel k(a: u16[H] @boundary(clamp)) -> r: u16[H] {
        t[y] = a[y] / u16(y);
        u[y] = t[y - 1];
        r[y] = t[y + 1];
    }";
    let a = Value::Array(Tensor::new(
        ScalarType::U16,
        vec![4],
        (1..5).map(Scalar::U16).collect(),
    ));
    let got = agreed(src, "k", &[a]);
    // t is needed at rows 1..4 only: y = 0 is never divided by
    assert!(got.starts_with("[Tensor"), "{got}");
}

/// Found by `pj difftest` (seeds 10614, 27650, 76886, 88857): a consumer
/// with an empty domain reads nothing, so its producer computes nothing —
/// the hull of the reads' empty ranges (`t[i - 2]`, `t[i]` for `i` in
/// `[0, -1]`) is `[-2, -1]`, and the interpreter and `-O0` computed `t`
/// there and failed, while tiled code (rightly) never did. The same kernel
/// with elements fails everywhere; a reduction with an empty range reads
/// nothing either.
#[test]
fn an_empty_consumer_demands_nothing() {
    let src = "kernel k(a: i32[N] @boundary(mirror), b: i32[M]) -> (r: i32[N], s: i32[N]) {
        let z = sum(j in 0..N) a[j];
        t[i] = 7 / z + a[i];
        r[i] = t[i - 2] + t[i];
        u[i] = 5 / z;
        s[i] = sum(k in 0..M) u[i + k] + b[k];
    }";
    let a = |n: usize| {
        Value::Array(Tensor::new(
            ScalarType::I32,
            vec![n],
            vec![Scalar::I32(0); n],
        ))
    };
    let got = agreed(src, "k", &[a(0), a(2)]);
    assert!(got.starts_with("[Tensor"), "{got}");
    let got = agreed(src, "k", &[a(3), a(2)]);
    assert!(got.contains("division by zero"), "{got}");
    // `t` is needed (r reads it) and fails; with `r` empty and `s`'s
    // reduction empty, nothing divides
    let src_u = src
        .replace("r[i] = t[i - 2] + t[i];", "r[i] = a[i];")
        .replace("t[i] = 7 / z + a[i];\n", "");
    let got = agreed(&src_u, "k", &[a(3), a(0)]);
    assert!(got.starts_with("[Tensor"), "{got}");
    let got = agreed(&src_u, "k", &[a(3), a(1)]);
    assert!(got.contains("division by zero"), "{got}");
}

/// Class 13: what a long kernel costs grows with its length, not its
/// square. 4,000 chained pointwise stages made `inline-pointwise` copy
/// the chain's growing body at every step (9 s, 2 GB); 400 chained
/// stencils gave 29 MB of code, because every failing branch carried every
/// live allocation to the failure exit. Sizes are counted here, not times.
#[test]
fn long_chains_cost_what_they_are_long() {
    let pointwise = |n: usize| {
        let mut src = String::from("kernel k(x: f32[N]) -> y: f32[N] {\n t0[i] = x[i] + 1.0;\n");
        for k in 1..n {
            src += &format!(" t{k}[i] = t{}[i] * 0.5 + 1.0;\n", k - 1);
        }
        src + &format!(" y[i] = t{}[i];\n}}", n - 1)
    };
    let values_after_inlining = |n: usize| {
        let mut m = compile("chain.pj", &pointwise(n));
        PassManager::parse("inline-pointwise")
            .unwrap()
            .run(&mut m)
            .unwrap();
        m.value_count()
    };
    let (a, b) = (values_after_inlining(500), values_after_inlining(1000));
    assert!(b < a * 5 / 2, "values: {a} for 500 stages, {b} for 1000");

    let stencils = |n: usize| {
        let mut src = String::from(
            "kernel k(x: f32[N] @boundary(clamp)) -> y: f32[N] {\n t0[i] = x[i - 1] + x[i + 1];\n",
        );
        for k in 1..n {
            src += &format!(" t{k}[i] = t{0}[i - 1] + t{0}[i + 1];\n", k - 1);
        }
        src + &format!(" y[i] = t{}[i];\n}}", n - 1)
    };
    let code_bytes = |n: usize| {
        let m = run_pipeline(
            &compile("sten.pj", &stencils(n)),
            pj_compiler::codegen::LOWERING_PIPELINE,
        );
        let target = pj_compiler::target::Target::parse("host").expect("the host");
        pj_compiler::codegen::cranelift::object::emit_object(&m, &target, &[])
            .expect("compiles")
            .len()
    };
    let (a, b) = (code_bytes(40), code_bytes(80));
    assert!(
        b < a * 5 / 2,
        "object bytes: {a} for 40 stencils, {b} for 80"
    );
}

/// Messages class: `-128` is one literal, which fits `i8`; the sum wraps
/// alike everywhere.
#[test]
fn the_most_negative_literal_of_a_type_is_accepted() {
    let src = "kernel k(x: i8[N]) -> y: i8[N] { y[i] = x[i] + -128; }";
    let x = array(
        ScalarType::I8,
        [0i8, 1, -1, 127, -128].map(Scalar::I8).to_vec(),
    );
    let got = agreed(src, "k", &[x]);
    assert!(
        got.contains("[I8(-128), I8(-127), I8(127), I8(-1), I8(0)]"),
        "{got}"
    );
}
