//! The semantics written down in docs/language.md, one rule per test, on
//! small inputs whose answers are worked out by hand. Every kernel also runs
//! after the default passes, which must not change any result.

mod common;

use common::compile;
use pj_compiler::dialects::arith::Scalar;
use pj_compiler::interp::{self, InterpError, Tensor, Value};
use pj_compiler::passes::PassManager;
use pj_lang::types::ScalarType;

fn f32s(shape: &[usize], v: &[f32]) -> Value {
    Value::Array(Tensor::new(
        ScalarType::F32,
        shape.to_vec(),
        v.iter().map(|&x| Scalar::F32(x)).collect(),
    ))
}

fn i32s(shape: &[usize], v: &[i32]) -> Value {
    Value::Array(Tensor::new(
        ScalarType::I32,
        shape.to_vec(),
        v.iter().map(|&x| Scalar::I32(x)).collect(),
    ))
}

/// Runs `kernel` of `src` as written, after the default passes, lowered to
/// loops, and as native code; all must agree, errors included.
fn run(src: &str, kernel: &str, args: &[Value]) -> Result<Vec<Tensor>, InterpError> {
    let m = compile("test.pj", src);
    let raw = interp::run(&m, kernel, args);
    let loops = interp::run(&common::lowered(&m), kernel, args);
    assert_same_outcome(&raw, &loops.map_err(|e| e.to_string()), "lowering to loops");
    // Native code has no element limit: only compare what the interpreter could run.
    if !matches!(raw, Err(InterpError::TooLarge { .. })) {
        for code in common::jit_all(&m) {
            let native = code
                .kernel(kernel)
                .map(|k| k.call(args).map_err(|e| e.to_string()));
            if let Some(native) = native {
                assert_same_outcome(&raw, &native, &format!("the {} JIT", code.backend()));
            }
        }
    }
    let mut opt = m.clone();
    PassManager::default_pipeline()
        .run(&mut opt)
        .expect("passes");
    let optimized = interp::run(&opt, kernel, args);
    // Debug text compares bit-exactly where it matters: NaN equals NaN, -0.0 differs from 0.0.
    assert_eq!(
        format!("{raw:?}"),
        format!("{optimized:?}"),
        "the default passes changed the outcome"
    );
    raw
}

/// Same results bit for bit, or the same error message (out-of-bounds and
/// size-limit errors only of the same kind: their wording names buffers).
fn assert_same_outcome(
    want: &Result<Vec<Tensor>, InterpError>,
    got: &Result<Vec<Tensor>, String>,
    what: &str,
) {
    match (want, got) {
        (Ok(a), Ok(b)) => assert_eq!(
            format!("{a:?}"),
            format!("{b:?}"),
            "{what} changed the results"
        ),
        (Err(InterpError::OutOfBounds { .. }), Err(b)) => {
            assert!(b.contains("out of bounds"), "{what}: {b}")
        }
        (Err(InterpError::TooLarge { .. }), Err(_)) => {}
        (Err(a), Err(b)) => assert_eq!(&a.to_string(), b, "{what} changed the error"),
        (a, b) => panic!("{what} changed the outcome: {a:?} vs {b:?}"),
    }
}

fn values(t: &Tensor) -> Vec<f64> {
    t.data.iter().map(|s| s.as_f64()).collect()
}

#[test]
fn integer_arithmetic_wraps_and_truncates_toward_zero() {
    let src = "kernel k(a: i32[N], b: i32[N]) -> (q: i32[N], r: i32[N], s: i32[N]) {
        q[i] = a[i] / b[i];
        r[i] = a[i] % b[i];
        s[i] = a[i] * 65536 * 65536 + a[i];
    }";
    let out = run(
        src,
        "k",
        &[i32s(&[3], &[-7, 7, i32::MIN]), i32s(&[3], &[2, -2, -1])],
    )
    .unwrap();
    assert_eq!(values(&out[0]), [-3.0, -3.0, i32::MIN as f64]);
    assert_eq!(values(&out[1]), [-1.0, 1.0, 0.0]);
    assert_eq!(values(&out[2]), [-7.0, 7.0, i32::MIN as f64]);
}

#[test]
fn integer_division_by_zero_is_a_reported_error() {
    let src = "kernel k(a: i32[N], b: i32[N]) -> q: i32[N] {\n    q[i] = a[i] / b[i];\n}";
    let err = run(src, "k", &[i32s(&[2], &[1, 2]), i32s(&[2], &[1, 0])]).unwrap_err();
    assert!(matches!(err, InterpError::DivisionByZero { .. }), "{err:?}");
    assert_eq!(err.to_string(), "integer division by zero at test.pj:2:12");
}

#[test]
fn float_to_int_casts_saturate_and_int_casts_wrap() {
    let src =
        "kernel k(x: f32[N], n: i32[N]) -> (a: u8[N], b: i32[N], c: u8[N], d: bool[N], e: i32[N]) {
        e[i] = i32(x[i] * 1.0e10);
        a[i] = u8(x[i]);
        b[i] = i32(x[i]);
        c[i] = u8(n[i]);
        d[i] = bool(x[i]);
    }";
    let x = f32s(&[4], &[300.7, -3.9, f32::NAN, 0.0]);
    let out = run(src, "k", &[x, i32s(&[4], &[300, -1, 255, 0])]).unwrap();
    assert_eq!(values(&out[0]), [255.0, 0.0, 0.0, 0.0]);
    assert_eq!(values(&out[1]), [300.0, -3.0, 0.0, 0.0]);
    assert_eq!(values(&out[2]), [44.0, 255.0, 255.0, 0.0]);
    assert_eq!(values(&out[3]), [1.0, 1.0, 1.0, 0.0]);
    assert_eq!(
        values(&out[4]),
        [i32::MAX as f64, i32::MIN as f64, 0.0, 0.0],
        "saturates at the type's bounds"
    );
}

#[test]
fn boundary_modes_extend_arrays_as_documented() {
    // x = [10, 20, 30]; read at i - 2 for i in 0..7, i.e. -2..=4
    for (mode, want) in [
        ("clamp", [10.0, 10.0, 10.0, 20.0, 30.0, 30.0, 30.0]),
        ("zero", [0.0, 0.0, 10.0, 20.0, 30.0, 0.0, 0.0]),
        ("wrap", [20.0, 30.0, 10.0, 20.0, 30.0, 10.0, 20.0]),
        ("mirror", [20.0, 10.0, 10.0, 20.0, 30.0, 30.0, 20.0]),
    ] {
        let src = format!(
            "kernel k(x: f32[N] @boundary({mode})) -> y: f32[N + 4] {{ y[i] = x[i - 2]; }}"
        );
        let out = run(&src, "k", &[f32s(&[3], &[10.0, 20.0, 30.0])]).unwrap();
        assert_eq!(values(&out[0]), want, "{mode}");
    }
}

#[test]
fn reading_an_empty_array_with_a_boundary_mode_gives_zero() {
    let src =
        "kernel k(x: f32[N] @boundary(clamp), y: f32[M]) -> z: f32[M] { z[i] = x[i] + y[i]; }";
    let out = run(src, "k", &[f32s(&[0], &[]), f32s(&[2], &[1.0, 2.0])]).unwrap();
    assert_eq!(values(&out[0]), [1.0, 2.0]);
}

#[test]
fn reductions_fold_in_order_with_documented_identities() {
    let src = "kernel k(x: f32[N], e: i32[M]) -> (s: f32[1], p: f32[1], lo: i32[1], hi: i32[1], none: f32[1]) {
        s[z] = sum(i) x[i];
        p[z] = prod(i) x[i];
        lo[z] = min(j) e[j];
        hi[z] = max(j) e[j];
        none[z] = max(j in 0..0) x[j];
    }";
    // 1e8 + 1 - 1e8 in f32 order gives 0, not 1: the left-to-right fold is visible.
    let out = run(src, "k", &[f32s(&[3], &[1e8, 1.0, -1e8]), i32s(&[0], &[])]).unwrap();
    assert_eq!(values(&out[0]), [0.0]);
    assert_eq!(values(&out[1]), [-1e16f32 as f64]);
    assert_eq!(
        values(&out[2]),
        [i32::MAX as f64],
        "min over nothing is the largest i32"
    );
    assert_eq!(values(&out[3]), [i32::MIN as f64]);
    assert_eq!(values(&out[4]), [f64::NEG_INFINITY]);
}

#[test]
fn reduction_ranges_may_depend_on_outer_indices() {
    let src = "kernel prefix(x: f32[N]) -> p: f32[N] { p[i] = sum(k in 0..i + 1) x[k]; }";
    let out = run(src, "prefix", &[f32s(&[4], &[1.0, 2.0, 3.0, 4.0])]).unwrap();
    assert_eq!(values(&out[0]), [1.0, 3.0, 6.0, 10.0]);
}

#[test]
fn clamped_data_dependent_reads_need_no_boundary_mode() {
    let src = "kernel lut(idx: i32[N], table: f32[M]) -> y: f32[N] {
        y[i] = table[clamp(idx[i], 0, i32(M) - 1)];
    }";
    let out = run(
        src,
        "lut",
        &[i32s(&[4], &[-5, 0, 2, 99]), f32s(&[3], &[0.5, 1.5, 2.5])],
    )
    .unwrap();
    assert_eq!(values(&out[0]), [0.5, 0.5, 2.5, 2.5]);
}

#[test]
fn float_min_max_propagate_nan_and_select_picks() {
    let src = "kernel k(a: f32[N], b: f32[N]) -> (lo: f32[N], s: f32[N]) {
        lo[i] = min(a[i], b[i]);
        s[i] = select(a[i] > b[i] && !(a[i] == 0.0), a[i], -b[i]);
    }";
    let out = run(
        src,
        "k",
        &[
            f32s(&[3], &[1.0, f32::NAN, 5.0]),
            f32s(&[3], &[2.0, 0.0, 4.0]),
        ],
    )
    .unwrap();
    let lo = values(&out[0]);
    assert_eq!(lo[0], 1.0);
    assert!(lo[1].is_nan());
    assert_eq!(values(&out[1]), [-2.0, -0.0, 5.0]);
}

/// Minimum and maximum over rows long enough for every vector width and
/// its remainder loops, elementwise and reduced: a NaN of either sign
/// anywhere wins, `-0 < +0`, infinities order as numbers. (x86 `vrange`,
/// which the LLVM backend uses on AVX-512, returns the other operand for a
/// quiet NaN; the lowering must put the NaN back.)
#[test]
fn vector_min_max_propagate_nan_and_order_signed_zeros() {
    let src = "kernel k(a: f32[N, C], b: f32[N, C]) -> (hi: f32[N, C], lo: f32[N, C],
            mx: f32[N], mn: f32[N], mxd: f64[N], mnd: f64[N]) {
        hi[n, c] = max(a[n, c], b[n, c]);
        lo[n, c] = min(a[n, c], b[n, c]);
        mx[n] = max(c) a[n, c];
        mn[n] = min(c) a[n, c];
        mxd[n] = max(c) f64(a[n, c]);
        mnd[n] = min(c) f64(a[n, c]);
    }";
    const C: usize = 70;
    let negative_nan = f32::from_bits(0xffc0_0000);
    let rows: Vec<Vec<f32>> = vec![
        // a NaN inside the vector loop
        (0..C)
            .map(|c| if c == 37 { f32::NAN } else { c as f32 - 30.0 })
            .collect(),
        // zeros of both signs: +0 is the larger
        (0..C).map(|c| if c == 50 { 0.0 } else { -0.0 }).collect(),
        (0..C).map(|_| -0.0).collect(),
        (0..C)
            .map(|c| {
                if c == 3 {
                    f32::INFINITY
                } else {
                    f32::NEG_INFINITY
                }
            })
            .collect(),
        // a negative NaN in the scalar remainder, and one first
        (0..C)
            .map(|c| if c == C - 1 { negative_nan } else { 1.5 })
            .collect(),
        (0..C)
            .map(|c| if c == 0 { f32::NAN } else { -(c as f32) })
            .collect(),
    ];
    let a: Vec<f32> = rows.concat();
    // b: the other sign of zero, NaNs elsewhere, plain numbers
    let b: Vec<f32> = a
        .iter()
        .enumerate()
        .map(|(i, &x)| match i % 5 {
            0 if x == 0.0 => -x,
            1 => f32::NAN,
            2 => -x,
            _ => 0.25,
        })
        .collect();
    let shape = [rows.len(), C];
    let out = run(src, "k", &[f32s(&shape, &a), f32s(&shape, &b)]).unwrap();
    let (mx, mn) = (values(&out[2]), values(&out[3]));
    assert!(mx[0].is_nan() && mn[0].is_nan());
    assert_eq!((mx[1].to_bits(), mn[1].to_bits()), (0, (-0.0f64).to_bits()));
    assert_eq!(mx[2].to_bits(), (-0.0f64).to_bits());
    assert_eq!((mx[3], mn[3]), (f64::INFINITY, f64::NEG_INFINITY));
    assert!(mx[4].is_nan() && mn[4].is_nan() && mx[5].is_nan());
    assert_eq!(
        format!("{:?}", out[2]),
        format!("{:?}", out[4]).replace("F64", "F32")
    );
}

#[test]
fn literals_adapt_and_lets_compute_once() {
    let src = "kernel k(x: f64[N], n: u8) -> (y: f64[N], z: u8[N]) {
        let half = 1 / 2;
        let scale = f64(n) * 2;
        y[i] = x[i] * scale + f64(half);
        z[i] = n + 250;
    }";
    let x = Value::Array(Tensor::new(
        ScalarType::F64,
        vec![2],
        vec![Scalar::F64(1.5), Scalar::F64(-1.0)],
    ));
    let out = run(src, "k", &[x, Value::Scalar(Scalar::U8(10))]).unwrap();
    assert_eq!(values(&out[0]), [30.0, -20.0]);
    assert_eq!(values(&out[1]), [4.0, 4.0], "u8 arithmetic wraps");
}

#[test]
fn sizes_bind_from_arguments_and_must_agree() {
    let src = "kernel matmul(a: f32[M, K], b: f32[K, N]) -> c: f32[M, N] { c[i, j] = sum(k) a[i, k] * b[k, j]; }";
    let err = run(
        src,
        "matmul",
        &[f32s(&[2, 3], &[0.0; 6]), f32s(&[4, 2], &[0.0; 8])],
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "size `K` is 3 (from `a` dim 1) but `b` dim 0 is 4"
    );
    let err = run(src, "matmul", &[f32s(&[2, 3], &[0.0; 6])]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "kernel `matmul` takes 2 arguments, 1 given"
    );
    let err = run(
        src,
        "matmul",
        &[f32s(&[6], &[0.0; 6]), f32s(&[3, 2], &[0.0; 6])],
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "argument `a`: expects 2 dims, got an array of shape [6]"
    );
    let err = run(
        src,
        "matmul",
        &[i32s(&[2, 3], &[0; 6]), f32s(&[3, 2], &[0.0; 6])],
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "argument `a`: expects an array of f32, got i32"
    );
}

#[test]
fn fixed_dims_are_checked() {
    let src = "kernel k(x: f32[3]) -> y: f32[3] { y[i] = x[i]; }";
    let err = run(src, "k", &[f32s(&[4], &[0.0; 4])]).unwrap_err();
    assert_eq!(err.to_string(), "argument `x`: dim 0 must be 3, got 4");
}

#[test]
fn a_negative_result_extent_is_an_error() {
    let src = "kernel valid(x: f32[N]) -> y: f32[N - 2] { y[i] = x[i] + x[i + 2]; }";
    let err = run(src, "valid", &[f32s(&[1], &[1.0])]).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("result `y` would have negative extent -1 in dim 0"),
        "{err}"
    );
    let out = run(src, "valid", &[f32s(&[2], &[1.0, 2.0])]).unwrap();
    assert!(out[0].is_empty());
}

#[test]
fn huge_sizes_are_refused_not_allocated() {
    let src = "kernel grow(x: f32[N]) -> y: f32[N * 1000000000] { y[i] = x[i / 1000000000]; }";
    let err = run(src, "grow", &[f32s(&[4], &[0.0; 4])]).unwrap_err();
    assert!(matches!(err, InterpError::TooLarge { .. }), "{err}");
}

#[test]
fn intermediate_stages_cover_what_consumers_read() {
    // `t` is read at i - 1 and i + 1, so it is computed over [-1, N]; the
    // clamp makes t[-1] = 2 * x[0].
    let src = "kernel k(x: f32[N] @boundary(clamp)) -> y: f32[N] {
        t[i] = 2.0 * x[i];
        y[i] = t[i - 1] + t[i + 1];
    }";
    let out = run(src, "k", &[f32s(&[3], &[1.0, 2.0, 3.0])]).unwrap();
    assert_eq!(values(&out[0]), [2.0 + 4.0, 2.0 + 6.0, 4.0 + 6.0]);
}

#[test]
fn unknown_kernel_lists_the_available_ones() {
    let src = "kernel a(x: f32[N]) -> y: f32[N] { y[i] = x[i]; }\nkernel b(x: f32[N]) -> y: f32[N] { y[i] = x[i]; }";
    let err = run(src, "c", &[]).unwrap_err();
    assert_eq!(err.to_string(), "no kernel named `c`; the module has: a, b");
}

#[test]
fn scalar_results_and_stages_are_rank_zero_and_read_by_name() {
    // `m` is a result of no dims, `total` an intermediate one; both are
    // read by name, with no brackets. An empty `x` gives the identities.
    let src = "kernel center(x: f32[N]) -> (m: f32, y: f32[N], s: i32) {
        total = sum(i) x[i];
        m = total / f32(N);
        y[i] = x[i] - m;
        s = sum(i) i32(x[i] > m);
    }";
    let out = run(src, "center", &[f32s(&[4], &[1.0, 2.0, 4.0, 9.0])]).unwrap();
    assert_eq!(out[0].shape, Vec::<usize>::new());
    assert_eq!(values(&out[0]), [4.0]);
    assert_eq!(values(&out[1]), [-3.0, -2.0, 0.0, 5.0]);
    assert_eq!(format!("{:?}", out[2].data), "[I32(1)]");
    let empty = run(src, "center", &[f32s(&[0], &[])]).unwrap();
    assert!(values(&empty[0])[0].is_nan(), "0 / 0");
    assert!(empty[1].is_empty());
}

#[test]
fn functions_are_inlined_with_every_argument_evaluated() {
    // `x / d` is an argument: with d = 0 it fails, as written in place
    let src = "fn mix(a: i32, b: i32) -> i32 {
            let s = a + b;
            s * 2 - b
        }
        kernel k(x: i32[N], d: i32) -> y: i32[N] {
            y[i] = mix(x[i], x[i] / d);
        }";
    let out = run(
        src,
        "k",
        &[i32s(&[2], &[6, 9]), Value::Scalar(Scalar::I32(3))],
    )
    .unwrap();
    assert_eq!(format!("{:?}", out[0].data), "[I32(14), I32(21)]");
    let err = run(
        src,
        "k",
        &[i32s(&[2], &[6, 9]), Value::Scalar(Scalar::I32(0))],
    )
    .unwrap_err();
    assert!(err.to_string().contains("division by zero"), "{err}");
}

#[test]
fn recurrences_compute_in_order_along_their_scan_dim_from_init() {
    // a running sum (carried in registers), an EMA along rows, a
    // second-order IIR down the columns (read back from the buffer), a
    // lag beyond what registers carry, and an integer intermediate
    // recurrence read one ahead by a later stage
    let src = "kernel cumsum(x: f32[N]) -> c: f32[N] {
            c[i] = c[i - 1] + x[i] init 0.0;
        }
        kernel ema(x: f32[R, N], a: f32) -> y: f32[R, N] {
            y[r, i] = a * x[r, i] + (1.0 - a) * y[r, i - 1] init x[r, 0];
        }
        kernel iir(x: f32[H, W] @boundary(zero)) -> y: f32[H, W] {
            y[i, j] = 0.5 * x[i, j] + 0.25 * x[i - 1, j] - 0.5 * y[i - 1, j] - 0.125 * y[i - 2, j] init 1.0;
        }
        kernel far(x: f32[N]) -> y: f32[N] {
            y[i] = x[i] - 0.5 * y[i - 11] + y[i - 2] init -1.0;
        }
        kernel diff(x: i32[N] @boundary(zero)) -> d: i32[N] {
            c[i] = c[i - 1] * 3 + x[i] init 7;
            d[i] = c[i + 1] - c[i];
        }";
    let out = run(src, "cumsum", &[f32s(&[5], &[1.0, 2.0, 3.0, 4.0, 5.0])]).unwrap();
    assert_eq!(values(&out[0]), [1.0, 3.0, 6.0, 10.0, 15.0]);
    let out = run(src, "diff", &[i32s(&[3], &[1, 2, 3])]).unwrap();
    // c = 22, 68, 207, 621
    assert_eq!(
        format!("{:?}", out[0].data),
        "[I32(46), I32(139), I32(414)]"
    );
    let ramp = |n: usize| -> Vec<f32> {
        (0..n)
            .map(|k| ((k * 37) % 101) as f32 / 7.0 - 5.0)
            .collect()
    };
    for n in [0, 1, 2, 3, 9, 12, 13, 1031] {
        run(src, "cumsum", &[f32s(&[n], &ramp(n))]).unwrap();
        run(src, "far", &[f32s(&[n], &ramp(n))]).unwrap();
        let xi: Vec<i32> = (0..n as i32).map(|k| k * 5 - 9).collect();
        run(src, "diff", &[i32s(&[n], &xi)]).unwrap();
    }
    // at 64 x 1100 the rows run in parallel
    for (r, c) in [(0, 4), (3, 0), (1, 1), (5, 7), (7, 17), (64, 1100)] {
        let a = Value::Scalar(Scalar::F32(0.3));
        run(src, "ema", &[f32s(&[r, c], &ramp(r * c)), a]).unwrap();
        run(src, "iir", &[f32s(&[r, c], &ramp(r * c))]).unwrap();
    }
}

#[test]
fn updates_combine_values_into_elements_at_computed_indices() {
    // a histogram (private copies per thread once it is large enough), a
    // float max per group, a float sum (serial: its order is the
    // reference's), an intermediate histogram read through a clamp, and a
    // histogram equalization: update, recurrence, gather
    let src = "kernel hist(img: u8[H, W]) -> h: i32[256] {
            h[b] = 0;
            h[i32(img[y, x])] += 1 for y, x;
        }
        kernel groups(v: f32[N], g: i32[N]) -> (hi: f32[4], total: f32[4]) {
            hi[k] = -1000.0;
            hi[clamp(g[i], 0, 3)] max= v[i] for i;
            total[k] = 0.5;
            total[clamp(g[i], 0, 3)] += v[i] for i in 0..N;
            total[3 - clamp(g[i], 0, 3)] += 2.0 * v[i] for i;
        }
        kernel counts(g: i32[N]) -> y: i32[N] {
            c[b] = i32(0);
            c[clamp(g[i], -2, 5)] += 1 for i;
            y[i] = c[clamp(g[i], -2, 5)];
        }
        kernel equalize(img: u8[H, W]) -> e: u8[H, W] {
            h[b] = 0;
            h[i32(img[y, x])] += 1 for y, x;
            cdf[b] = cdf[b - 1] + h[b] init 0;
            e[y, x] = u8(i64(cdf[i32(img[y, x])]) * 255 / (H * W));
        }";
    let u8s = |shape: &[usize], v: &[u8]| {
        Value::Array(Tensor::new(
            ScalarType::U8,
            shape.to_vec(),
            v.iter().map(|&x| Scalar::U8(x)).collect(),
        ))
    };
    let out = run(src, "hist", &[u8s(&[2, 3], &[0, 7, 7, 255, 0, 7])]).unwrap();
    let got = format!("{:?}", out[0].data);
    assert!(
        got.starts_with("[I32(2), I32(0), I32(0), I32(0), I32(0), I32(0), I32(0), I32(3), I32(0)"),
        "{got}"
    );
    assert!(got.ends_with("I32(0), I32(1)]"), "{got}");
    let out = run(
        src,
        "groups",
        &[
            f32s(&[5], &[1.0, -3.0, 2.5, 4.0, -1.0]),
            i32s(&[5], &[0, 0, 9, -4, 1]),
        ],
    )
    .unwrap();
    assert_eq!(values(&out[0]), [4.0, -1.0, -1000.0, 2.5]);
    // groups 0 0 3 0 1: 0.5 + [1 - 3 + 4, -1, 0, 2.5] = [2.5, -0.5, 0.5, 3],
    // then 2v into 3 3 0 3 2: [2.5 + 5, -0.5, 0.5 - 2, 3 + 2 * 2]
    assert_eq!(values(&out[1]), [7.5, -0.5, -1.5, 7.0]);
    let pixels = |n: usize| -> Vec<u8> { (0..n).map(|k| ((k * 7919) % 251) as u8).collect() };
    for (h, w) in [(0, 3), (1, 1), (3, 5), (17, 33), (400, 401)] {
        run(src, "hist", &[u8s(&[h, w], &pixels(h * w))]).unwrap();
        run(src, "equalize", &[u8s(&[h, w], &pixels(h * w))]).unwrap();
    }
    for n in [0, 1, 7, 1000, 140_001] {
        let g: Vec<i32> = (0..n as i32).map(|k| (k * 37) % 11 - 3).collect();
        let v: Vec<f32> = (0..n).map(|k| ((k * 13) % 29) as f32 - 14.5).collect();
        run(src, "counts", &[i32s(&[n], &g)]).unwrap();
        run(src, "groups", &[f32s(&[n], &v), i32s(&[n], &g)]).unwrap();
    }
}

#[test]
fn argmax_and_argmin_give_the_first_best_index_as_numpy() {
    // per row; ties keep the first; -0.0 equals 0.0; the first NaN wins;
    // an empty range gives -1
    let src =
        "kernel k(x: f32[R, C], n: i32[C]) -> (hi: i64[R], lo: i64[R], ni: i64[R], none: i64[R]) {
            hi[r] = argmax(c) x[r, c];
            lo[r] = argmin(c) x[r, c];
            ni[r] = argmax(c) n[c] * i32(r + 1);
            none[r] = argmin(c in 0..0) x[r, c];
        }";
    let nan = f32::NAN;
    let x = f32s(
        &[4, 4],
        &[
            1.0, 3.0, 3.0, -2.0, // ties: 1 and 3 -> 1; min 3
            -0.0, 0.0, -1.0, -1.0, // 0 (-0.0 == 0.0); min 2
            2.0, nan, 5.0, nan, // the first NaN: 1 for both
            -5.0, -5.0, -5.0, -5.0, // all equal: 0
        ],
    );
    let n = i32s(&[4], &[7, -1, 7, 2]);
    let out = run(src, "k", &[x, n]).unwrap();
    let ints = |t: &Tensor| format!("{:?}", t.data);
    assert_eq!(ints(&out[0]), "[I64(1), I64(0), I64(1), I64(0)]");
    assert_eq!(ints(&out[1]), "[I64(3), I64(2), I64(1), I64(0)]");
    assert_eq!(ints(&out[2]), "[I64(0), I64(0), I64(0), I64(0)]");
    assert_eq!(ints(&out[3]), "[I64(-1), I64(-1), I64(-1), I64(-1)]");
    for (r, c) in [(0, 3), (2, 0), (3, 1), (9, 37), (70, 600)] {
        let v: Vec<f32> = (0..r * c).map(|k| ((k * 31) % 17) as f32 - 8.0).collect();
        let w: Vec<i32> = (0..c as i32).map(|k| (k * 13) % 7).collect();
        run(src, "k", &[f32s(&[r, c], &v), i32s(&[c], &w)]).unwrap();
    }
}

#[test]
fn size_constraints_are_checked_first_and_let_the_prover_assume_them() {
    // without `C >= 4` the reads of x[n, 0..4] and x[0, c + 4] could not be
    // proven in bounds; a call that breaks a constraint fails before
    // anything else, with the sizes
    let src = "kernel k(x: f32[N, C]) -> (y: f32[N], z: f32[C - 4]) where C >= 4, N % 2 == 0 {
            y[n] = prod(c in 0..4) x[n, c];
            z[c] = x[0, c + 4];
        }";
    let ramp = |n: usize| -> Vec<f32> { (0..n).map(|k| k as f32 * 0.5 - 1.0).collect() };
    let out = run(src, "k", &[f32s(&[2, 5], &ramp(10))]).unwrap();
    assert_eq!(values(&out[0]), [0.0, 22.5]);
    assert_eq!(values(&out[1]), [1.0]);
    let err = run(src, "k", &[f32s(&[2, 2], &ramp(4))]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "size constraint `C >= 4` does not hold: C = 2"
    );
    let err = run(src, "k", &[f32s(&[3, 6], &ramp(18))]).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("size constraint `(N % 2) == 0` does not hold: N = 3"),
        "{err}"
    );
    run(src, "k", &[f32s(&[0, 4], &[])]).unwrap();
}
