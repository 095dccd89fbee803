//! 8-bit matrix products by dot-product instructions (`vector.dot4`:
//! VNNI `vpdpbusd`, NEON `sdot`/`udot`/`usdot`): for every combination of
//! `u8` and `i8` operands, at sizes whose reduction is not a multiple of
//! four and spans several cache-blocked chunks, every backend gives the
//! interpreter's bits — with the extremes (0, 255, -128, 127) in the
//! data; and the lowered code uses `vector.dot4` exactly where the
//! backend has the instruction for the operands' signs (`i8 × i8` on
//! `u8 × i8` instructions with the rows offset by 128).

mod common;

use pj_compiler::codegen::driver::{self, FastMath, Options, Stage};
use pj_compiler::dialects::arith::Scalar;
use pj_compiler::interp::{self, Tensor, Value};
use pj_lang::types::ScalarType;

const KERNELS: &str = "\
kernel us(a: u8[M, K], b: i8[K, N]) -> c: i32[M, N] {
    c[i, j] = sum(k) i32(a[i, k]) * i32(b[k, j]);
}
kernel su(a: i8[M, K], b: u8[K, N]) -> c: i32[M, N] {
    c[i, j] = sum(k) i32(b[k, j]) * i32(a[i, k]);
}
kernel ss(a: i8[M, K], b: i8[K, N]) -> c: i32[M, N] {
    c[i, j] = sum(k) i32(a[i, k]) * i32(b[k, j]);
}
kernel uu(a: u8[M, K], b: u8[K, N]) -> c: i32[M, N] {
    c[i, j] = sum(k) i32(a[i, k]) * i32(b[k, j]);
}
kernel uz(a: u8[M, K], b: i8[K, N]) -> c: i32[M, N] {
    c[i, j] = sum(k) (i32(a[i, k]) - 77) * i32(b[k, j]);
}
";

/// `rows x cols` bytes of type `t`: a pseudo-random walk with every
/// fourth element an extreme of the type.
fn bytes(t: ScalarType, rows: usize, cols: usize, seed: u64) -> Value {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let data = (0..rows * cols)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = match (i % 4, t) {
                (0, ScalarType::U8) => [0, 255][(x >> 3) as usize % 2],
                (0, _) => [-128, 127][(x >> 3) as usize % 2],
                _ => (x >> 11) as i64 % 256,
            };
            Scalar::I64(v).cast(t)
        })
        .collect();
    Value::Array(Tensor::new(t, vec![rows, cols], data))
}

fn elem(kernel: &str, operand: usize) -> ScalarType {
    let sign = kernel.as_bytes()[operand];
    if sign == b'u' {
        ScalarType::U8
    } else {
        ScalarType::I8
    }
}

#[test]
fn int8_products_agree_with_the_interpreter_on_every_backend() {
    let m = common::compile("dots.pj", KERNELS);
    let jits = common::jit_all(&m);
    // K: below one quad, a quad and a step, across 256-step chunks with
    // one to three steps left over
    for (case, &(rows, k, cols)) in [(7, 3, 37), (37, 517, 301), (13, 1030, 67), (64, 259, 128)]
        .iter()
        .enumerate()
    {
        for kernel in ["us", "su", "ss", "uu", "uz"] {
            // the letters name `a`'s and `b`'s signs (`su` also writes its
            // factors in the other order)
            let (ta, tb) = (elem(kernel, 0), elem(kernel, 1));
            let args = [
                bytes(ta, rows, k, case as u64 * 2 + 1),
                bytes(tb, k, cols, case as u64 * 2 + 2),
            ];
            let want = interp::run(&m, kernel, &args).unwrap();
            for code in &jits {
                let got = code.kernel(kernel).unwrap().call(&args).unwrap();
                assert_eq!(got, want, "{kernel} {rows}x{k}x{cols} ({})", code.backend());
            }
        }
    }
}

#[test]
fn dot4_is_used_where_the_backend_has_the_instruction() {
    let m = common::compile("dots.pj", KERNELS);
    for backend in common::backends() {
        let options = Options {
            fast_math: FastMath::Off,
            ..Options::with_backend(backend)
        };
        let dot = options.dot_products();
        let (lowered, _) = driver::lower(&m, &options, Stage::Checked).unwrap();
        for (kernel, signs) in [
            ("us", (false, true)),
            ("su", (true, false)),
            ("ss", (true, true)),
            ("uu", (false, false)),
            // a centered u8 row: `x · y` less `77 · Σ y`
            ("uz", (false, true)),
        ] {
            let func = lowered.kernel(kernel).unwrap();
            let text = pj_compiler::ir::print::print_kernel(&lowered, func, Default::default());
            // `i8` rows also go through `u8 x i8` instructions, offset by 128
            let offset = signs == (true, true) && dot.covers(false, true);
            assert_eq!(
                text.contains("vector.dot4"),
                dot.covers(signs.0, signs.1) || offset,
                "{kernel} with {backend} ({dot:?}):\n{text}"
            );
        }
    }
}

/// Cranelift's register blocks repeat each row's four bytes across a
/// register once for all the products that share them, not once per
/// product: qdot's loop of 12 `vpdpbusd` had 12 byte shuffles, 1.25x
/// slower than with 6 (docs/performance.md). Checked on the code for this
/// host, where it has VNNI.
#[test]
fn cranelift_repeats_each_rows_bytes_once_per_block() {
    #[cfg(target_arch = "x86_64")]
    {
        if !std::arch::is_x86_feature_detected!("avx512vnni") {
            eprintln!("this host has no VNNI: nothing to check here");
            return;
        }
        let text = common::built("qdot", &["--emit", "asm", "--hot"]);
        let loops: Vec<&str> = text.split("innermost loop").skip(1).collect();
        let count = |body: &str, mnemonic: &str| {
            body.lines()
                .filter(|l| l.trim_start().starts_with(mnemonic))
                .count()
        };
        let mut blocks = 0;
        for body in loops {
            let (dots, shuffles) = (count(body, "vpdpbusd"), count(body, "vpshufd"));
            if dots >= 12 {
                blocks += 1;
                assert!(
                    shuffles * 2 <= dots,
                    "{shuffles} shuffles for {dots} products:\n{body}"
                );
            }
        }
        assert!(blocks > 0, "no register block of products:\n{text}");
    }
}
