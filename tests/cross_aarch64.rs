//! Every example compiled for aarch64-unknown-linux-gnu, linked with
//! aarch64-linux-gnu-gcc against the runtime, run under qemu-aarch64, and
//! compared with the interpreter on this machine.
//!
//! Needs the Debian packages gcc-aarch64-linux-gnu, libc6-dev-arm64-cross
//! and qemu-user (`.ci/run` installs them; elsewhere the test says it is
//! skipped). The runtime is the Rust one cross-built for aarch64 when the
//! `aarch64-unknown-linux-gnu` Rust target is installed, else the serial C
//! implementation in runtime/c; the test output says which.

mod common;

use common::*;
use pj_compiler::dialects::arith::Scalar;
use pj_compiler::interp::{self, Value};
use pj_lang::types::ScalarType;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

const TRIPLE: &str = "aarch64-unknown-linux-gnu";
fn available(cmd: &str) -> bool {
    Command::new(cmd)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn elem_macro(t: ScalarType) -> String {
    format!("PJ_{}", t.name().to_uppercase())
}

/// A C program that calls `kernel` on `args` (embedded) and prints each
/// result as `out<i> <hex bytes>`, or `error <status> <message>`.
fn driver(kernel: &str, args: &[Value], results: &[(ScalarType, usize)]) -> String {
    let mut c = format!(
        "#include \"{kernel}.h\"\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n\n"
    );
    let mut call_args = Vec::new();
    let mut body = String::new();
    for (i, a) in args.iter().enumerate() {
        match a {
            Value::Array(t) => {
                let bytes = t.to_le_bytes();
                let hex: Vec<String> = bytes.iter().map(|b| format!("{b}")).collect();
                let _ = writeln!(
                    c,
                    "static unsigned char in{i}[{}] = {{{}}};",
                    bytes.len().max(1),
                    if hex.is_empty() {
                        "0".into()
                    } else {
                        hex.join(",")
                    }
                );
                let _ = writeln!(
                    body,
                    "    pj_buffer p{i} = {{0}}; p{i}.data = in{i}; p{i}.elem_type = {}; p{i}.rank = {};",
                    elem_macro(t.elem),
                    t.shape.len()
                );
                let mut stride = 1usize;
                for d in (0..t.shape.len()).rev() {
                    let _ = writeln!(
                        body,
                        "    p{i}.shape[{d}] = {}; p{i}.strides[{d}] = {stride};",
                        t.shape[d]
                    );
                    stride *= t.shape[d].max(1);
                }
                call_args.push(format!("&p{i}"));
            }
            Value::Scalar(s) => {
                let (ty, bits, width) = match s {
                    Scalar::F32(v) => ("float", v.to_bits() as u64, 32),
                    Scalar::F64(v) => ("double", v.to_bits(), 64),
                    // a 16-bit float travels as its bits
                    Scalar::F16(q) | Scalar::Bf16(q) => ("uint16_t", u64::from(*q), 16),
                    s => (
                        pj_compiler::codegen::header::c_scalar(s.ty()),
                        s.as_i64().unwrap_or(0) as u64,
                        64,
                    ),
                };
                if matches!(s, Scalar::F32(_) | Scalar::F64(_)) {
                    let _ = writeln!(
                        body,
                        "    {ty} s{i}; {{ uint{width}_t b = {bits}u; memcpy(&s{i}, &b, sizeof b); }}"
                    );
                } else {
                    let _ = writeln!(body, "    {ty} s{i} = ({ty}){}LL;", bits as i64);
                }
                call_args.push(format!("s{i}"));
            }
        }
    }
    let total: usize = results.iter().map(|r| r.1).sum();
    let _ = writeln!(
        body,
        "    int64_t shp[{}]; pj_buffer sb = {{0}}; sb.data = shp; sb.elem_type = PJ_I64; sb.rank = 1; sb.shape[0] = {total}; sb.strides[0] = 1;",
        total.max(1)
    );
    let mut shape_args = call_args.clone();
    shape_args.push("&sb".into());
    let _ = writeln!(
        body,
        "    int32_t st = {kernel}_shape({});",
        shape_args.join(", ")
    );
    let _ = writeln!(
        body,
        "    if (st) {{ printf(\"error %d %s\\n\", st, pj_last_error()); return 0; }}"
    );
    let mut at = 0;
    for (r, (elem, rank)) in results.iter().enumerate() {
        let _ = writeln!(
            body,
            "    pj_buffer o{r} = {{0}}; size_t n{r} = 1; o{r}.elem_type = {}; o{r}.rank = {rank};",
            elem_macro(*elem)
        );
        for d in (0..*rank).rev() {
            let _ = writeln!(
                body,
                "    o{r}.shape[{d}] = shp[{}]; o{r}.strides[{d}] = (int64_t)n{r}; n{r} *= (size_t)(shp[{}] > 0 ? shp[{}] : 1);",
                at + d,
                at + d,
                at + d
            );
        }
        let _ = writeln!(
            body,
            "    for (int d = 0; d < {rank}; d++) if (o{r}.shape[d] == 0) n{r} = 0;"
        );
        let _ = writeln!(
            body,
            "    o{r}.data = calloc(n{r} ? n{r} : 1, {});",
            elem.size_bytes()
        );
        at += rank;
        call_args.push(format!("&o{r}"));
    }
    let _ = writeln!(body, "    st = {kernel}({});", call_args.join(", "));
    let _ = writeln!(
        body,
        "    if (st) {{ printf(\"error %d %s\\n\", st, pj_last_error()); return 0; }}"
    );
    for (r, (elem, _)) in results.iter().enumerate() {
        let _ = writeln!(
            body,
            "    printf(\"out{r}\"); for (size_t i = 0; i < n{r} * {}; i++) printf(\" %02x\", ((unsigned char*)o{r}.data)[i]); printf(\"\\n\");",
            elem.size_bytes()
        );
    }
    let _ = writeln!(c, "\nint main(void) {{\n{body}    return 0;\n}}");
    c
}

/// The Rust runtime cross-built for aarch64, or `None` without the Rust target.
fn cross_runtime() -> Option<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let ok = Command::new(cargo)
        .args(["build", "-p", "pj-runtime", "--target", TRIPLE])
        .current_dir(root())
        .output()
        .is_ok_and(|o| o.status.success());
    let exe = std::env::current_exe().ok()?;
    let target = exe.parent()?.parent()?.parent()?.to_path_buf();
    let lib = target.join(TRIPLE).join("debug/libpj_runtime.a");
    (ok && lib.exists()).then_some(lib)
}

fn sysroot() -> PathBuf {
    let o = Command::new("aarch64-linux-gnu-gcc")
        .arg("-print-file-name=libc.so.6")
        .output()
        .expect("gcc runs");
    let libc = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim().to_string());
    libc.canonicalize()
        .unwrap_or(libc)
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| "/usr/aarch64-linux-gnu".into())
}

/// Whether the cross toolchain and qemu are here; in CI they must be.
fn cross_tools() -> bool {
    if available("aarch64-linux-gnu-gcc") && available("qemu-aarch64") {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must install gcc-aarch64-linux-gnu and qemu-user (see .ci/run)"
    );
    eprintln!("skipped: aarch64-linux-gnu-gcc or qemu-aarch64 is not installed");
    false
}

#[test]
fn every_example_runs_on_aarch64_under_qemu() {
    if !cross_tools() {
        return;
    }
    // The C runtime always; the Rust one too where it can be cross-built.
    let mut runtimes = vec![(
        root().join("runtime/c/pj_runtime_min.c"),
        "the serial C runtime (runtime/c)",
    )];
    match cross_runtime() {
        Some(lib) => runtimes.push((lib, "the Rust runtime cross-built for aarch64")),
        None => eprintln!("no aarch64 Rust target installed: the Rust runtime is not cross-built"),
    }
    for (runtime, mode) in runtimes {
        eprintln!("aarch64 kernels link {mode}");
        run_examples(&runtime);
    }
}

fn run_examples(runtime_arg: &Path) {
    let dir = tempfile::tempdir().unwrap();
    for &name in EXAMPLES {
        let m = compile(name, &read(&root().join(format!("examples/{name}.pj"))));
        let args = example_args(&m, name);
        let want = interp::run(&m, name, &args).unwrap_or_else(|e| panic!("{name}: {e}"));
        let results: Vec<(ScalarType, usize)> =
            want.iter().map(|t| (t.elem, t.shape.len())).collect();
        let source = PathBuf::from(format!("examples/{name}.pj"));
        for backend in common::backends() {
            let out = run_on_aarch64(
                dir.path(),
                &root(),
                name,
                &source,
                &["--backend", backend.name()],
                &args,
                &results,
                runtime_arg,
            );
            for (r, t) in want.iter().enumerate() {
                let got = result_bytes(&out, r)
                    .map(|b| {
                        pj_compiler::interp::Tensor::from_le_bytes(t.elem, t.shape.clone(), &b)
                    })
                    .unwrap_or_else(|| panic!("{name} ({backend}): {out}"));
                assert_close(
                    &got,
                    t,
                    1e-6,
                    &format!("{name} result {r} on aarch64 ({backend})"),
                );
            }
        }
    }
}

/// Builds kernel `name` of `source` (a path from `cwd`, as messages name
/// it) for aarch64 (`pj build` with
/// `build_args`), links it with a driver calling it on `args` and with
/// `runtime`, runs it under qemu and returns what it printed: per result
/// `out<i> <hex bytes>`, or `error <status> <message>`.
#[allow(clippy::too_many_arguments)]
fn run_on_aarch64(
    dir: &Path,
    cwd: &Path,
    name: &str,
    source: &Path,
    build_args: &[&str],
    args: &[Value],
    results: &[(ScalarType, usize)],
    runtime: &Path,
) -> String {
    let obj = dir.join(format!("{name}.o"));
    let o = Command::new(env!("CARGO_BIN_EXE_pj"))
        .arg("build")
        .arg(source)
        .args(["--target", TRIPLE])
        .args(build_args)
        .arg("-o")
        .arg(&obj)
        .current_dir(cwd)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let src = dir.join(format!("{name}_driver.c"));
    std::fs::write(&src, driver(name, args, results)).unwrap();
    let exe = dir.join(format!("{name}_aarch64"));
    let o = Command::new("aarch64-linux-gnu-gcc")
        .args(["-O2", "-I"])
        .arg(dir)
        .arg(&src)
        .arg(&obj)
        .arg(runtime)
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&exe)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{name}: linking failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = Command::new("qemu-aarch64")
        .env("QEMU_LD_PREFIX", sysroot())
        .arg(&exe)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        o.status.success(),
        "{name}: {out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// The bytes of result `r` in a driver's output.
fn result_bytes(out: &str, r: usize) -> Option<Vec<u8>> {
    let line = out.lines().find(|l| l.starts_with(&format!("out{r}")))?;
    line.split_whitespace()
        .skip(1)
        .map(|h| u8::from_str_radix(h, 16).ok())
        .collect()
}

/// Issue 13's campaign, sampled on aarch64: generated programs (every
/// 4th seed, 100 seeds from 0; `PJ_AARCH64_SEEDS=n` for more) built with
/// `--strict-fp` and run under qemu give
/// the interpreter's bits, or fail when it fails, with the same message
/// (up to which division is named when several fail).
#[test]
fn generated_programs_agree_on_aarch64_under_qemu() {
    if !cross_tools() {
        return;
    }
    let runtime = cross_runtime().unwrap_or_else(|| root().join("runtime/c/pj_runtime_min.c"));
    let dir = tempfile::tempdir().unwrap();
    let (mut ran, mut failed) = (0, 0);
    let count: u64 = std::env::var("PJ_AARCH64_SEEDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100);
    for seed in (0..4 * count).step_by(4) {
        let p = picojoule::difftest::generate(seed);
        let Ok(c) = pj_compiler::compile_source("gen.pj", &p.source) else {
            continue; // refused by the front end: a limit of the generator
        };
        let m = c.module;
        let results = result_types(&m);
        std::fs::write(dir.path().join("gen.pj"), &p.source).unwrap();
        for backend in common::backends_for_case(seed / 4) {
            let out = run_on_aarch64(
                dir.path(),
                dir.path(),
                "k",
                Path::new("gen.pj"),
                &["--strict-fp", "--backend", backend.name()],
                &p.args,
                &results,
                &runtime,
            );
            ran += 1;
            match interp::run(&m, "k", &p.args) {
                Ok(want) => {
                    for (r, t) in want.iter().enumerate() {
                        let got = result_bytes(&out, r).map(|b| {
                            pj_compiler::interp::Tensor::from_le_bytes(t.elem, t.shape.clone(), &b)
                        });
                        assert!(
                            got.as_ref().is_some_and(|g| same_bits_but_nan(g, t)),
                            "seed {seed} result {r} on aarch64 ({backend}): {out}\n{}\nwant {t:?}",
                            p.source
                        );
                    }
                }
                Err(e) => {
                    failed += 1;
                    let want = picojoule::difftest::without_location(&e.to_string());
                    let got = out
                        .strip_prefix("error ")
                        .and_then(|rest| rest.split_once(' '))
                        .map(|(_, msg)| picojoule::difftest::without_location(msg.trim_end()));
                    assert_eq!(
                        got.as_deref(),
                        Some(want.as_str()),
                        "seed {seed} ({backend}): {out}\n{}",
                        p.source
                    );
                }
            }
        }
    }
    eprintln!(
        "{ran} generated programs on aarch64, {failed} of them failing as the interpreter does"
    );
    assert!(
        ran >= 60 && failed >= 1,
        "{ran} ran, {failed} failed: the sample lost its variety"
    );
}

/// The same bits, except that any NaN equals any NaN: which NaN an invalid
/// operation makes is the hardware's choice (x86 makes -NaN, Arm +NaN;
/// docs/language.md), the only difference allowed between machines.
fn same_bits_but_nan(a: &pj_compiler::interp::Tensor, b: &pj_compiler::interp::Tensor) -> bool {
    a.shape == b.shape
        && a.data.len() == b.data.len()
        && a.data.iter().zip(&b.data).all(|(x, y)| match (x, y) {
            (Scalar::F32(x), Scalar::F32(y)) => {
                x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
            }
            (Scalar::F64(x), Scalar::F64(y)) => {
                x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
            }
            (x @ (Scalar::F16(_) | Scalar::Bf16(_)), y) => {
                x == y || (x.as_f64().is_nan() && y.as_f64().is_nan())
            }
            (x, y) => x == y,
        })
}

/// Each result's element type and rank, from the kernel's `pj.return`.
fn result_types(m: &pj_compiler::Module) -> Vec<(ScalarType, usize)> {
    use pj_compiler::dialects::{Opcode, PjOp};
    let k = m.kernel("k").expect("kernel k");
    let body = m.entry_block(k, 0);
    let ret = m
        .block(body)
        .ops
        .iter()
        .copied()
        .find(|&o| m.op(o).opcode == Opcode::Pj(PjOp::Return))
        .expect("a pj.return");
    m.op(ret)
        .operands
        .iter()
        .map(|&v| (m.ty(v).elem(), m.ty(v).rank().unwrap_or(0)))
        .collect()
}

/// 8-bit matrix products built by LLVM for aarch64 cores with DotProd
/// (`sdot`/`udot`: Neoverse N1) and with I8MM too (`usdot`: Neoverse
/// V1), run under qemu (whose default CPU has both): the interpreter's
/// bits for every sign of the operands, with a reduction of 517 steps
/// (one left over after the quads).
#[test]
fn int8_products_by_dot_instructions_agree_on_aarch64_under_qemu() {
    if !cross_tools() || !pj_compiler::codegen::Backend::Llvm.is_built() {
        return;
    }
    let source = "\
kernel us(a: u8[M, K], b: i8[K, N]) -> c: i32[M, N] {
    c[i, j] = sum(k) i32(a[i, k]) * i32(b[k, j]);
}
kernel ss(a: i8[M, K], b: i8[K, N]) -> c: i32[M, N] {
    c[i, j] = sum(k) i32(a[i, k]) * i32(b[k, j]);
}
kernel uu(a: u8[M, K], b: u8[K, N]) -> c: i32[M, N] {
    c[i, j] = sum(k) i32(a[i, k]) * i32(b[k, j]);
}
";
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("dots.pj"), source).unwrap();
    let m = compile("dots.pj", source);
    let runtime = root().join("runtime/c/pj_runtime_min.c");
    let bytes = |t: ScalarType, rows: usize, cols: usize, seed: i64| -> Value {
        let data = (0..(rows * cols) as i64)
            .map(|i| Scalar::I64((i * 2654435761 + seed) >> 7).cast(t))
            .collect();
        Value::Array(pj_compiler::interp::Tensor::new(t, vec![rows, cols], data))
    };
    let ty = |c: u8| {
        if c == b'u' {
            ScalarType::U8
        } else {
            ScalarType::I8
        }
    };
    for cpu in ["neoverse-n1", "neoverse-v1"] {
        for kernel in ["us", "ss", "uu"] {
            let k = kernel.as_bytes();
            let args = [bytes(ty(k[0]), 9, 517, 1), bytes(ty(k[1]), 517, 40, 2)];
            let want = interp::run(&m, kernel, &args).unwrap();
            let out = run_on_aarch64(
                dir.path(),
                dir.path(),
                kernel,
                Path::new("dots.pj"),
                &["--backend", "llvm", "--cpu", cpu],
                &args,
                &[(ScalarType::I32, 2)],
                &runtime,
            );
            let got = result_bytes(&out, 0)
                .map(|b| {
                    pj_compiler::interp::Tensor::from_le_bytes(
                        ScalarType::I32,
                        want[0].shape.clone(),
                        &b,
                    )
                })
                .unwrap_or_else(|| panic!("{kernel} on {cpu}: {out}"));
            assert_eq!(got, want[0], "{kernel} on {cpu}");
        }
    }
}

/// The narrowing vector conversions (`f32` to every integer type up to 32
/// bits, saturating; integers to narrower ones) and an int8-quantized
/// matrix product (`pj build --quantize int8`), built by every backend for
/// aarch64 and run under qemu: the interpreter's bits — NEON's
/// conversions and narrowing moves, checked on the values that decide
/// them.
#[test]
fn conversions_and_quantized_products_agree_on_aarch64_under_qemu() {
    if !cross_tools() {
        return;
    }
    let mut source = String::new();
    let pairs = [
        ("f32", "u8"),
        ("f32", "i8"),
        ("f32", "u16"),
        ("f32", "i16"),
        ("f32", "i32"),
        ("f32", "u32"),
        ("i32", "u8"),
        ("i32", "i8"),
        ("u32", "i16"),
        ("i16", "u8"),
    ];
    for (from, to) in pairs {
        let _ = writeln!(
            source,
            "kernel {from}_{to}(x: {from}[N]) -> y: {to}[N] {{ y[i] = {to}(x[i]); }}"
        );
    }
    source.push_str(
        "kernel dense(x: f32[M, K] @range(-1.0, 1.0), w: f32[K, N] @range(-0.5, 0.5)) -> y: f32[M, N] @tolerance(abs = 1.0) {\n    y[i, j] = sum(k) x[i, k] * w[k, j];\n}\n",
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("casts.pj"), &source).unwrap();
    let m = compile("casts.pj", &source);
    let runtime = root().join("runtime/c/pj_runtime_min.c");
    let floats: Vec<f32> = [
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        -0.0,
        0.5,
        -0.5,
        1.5,
        2.5,
        127.5,
        128.0,
        -128.9,
        -129.0,
        255.5,
        256.0,
        32767.9,
        -32769.0,
        65535.9,
        65536.0,
        2147483520.0,
        2147483648.0,
        -2147483904.0,
        4294967296.0,
        1e30,
        -1e30,
    ]
    .into_iter()
    .chain((0..40).map(|i| (i as f32 - 20.0) * 13.37))
    .collect();
    let ints: Vec<i64> = [
        0, 1, -1, 127, 128, 255, 256, -129, 32767, 32768, 65535, 65536, -32769,
    ]
    .into_iter()
    .chain((0..40).map(|i| (i * 2654435761) >> 5))
    .collect();
    for (from, to) in pairs {
        let ft = ScalarType::from_name(from).unwrap();
        let data: Vec<Scalar> = if ft == ScalarType::F32 {
            floats.iter().map(|&v| Scalar::F32(v)).collect()
        } else {
            ints.iter().map(|&v| Scalar::I64(v).cast(ft)).collect()
        };
        let args = [Value::Array(pj_compiler::interp::Tensor::new(
            ft,
            vec![data.len()],
            data,
        ))];
        let name = format!("{from}_{to}");
        let want = interp::run(&m, &name, &args).unwrap();
        let tt = ScalarType::from_name(to).unwrap();
        for backend in common::backends() {
            let out = run_on_aarch64(
                dir.path(),
                dir.path(),
                &name,
                Path::new("casts.pj"),
                &["--backend", backend.name()],
                &args,
                &[(tt, 1)],
                &runtime,
            );
            let got = result_bytes(&out, 0)
                .map(|b| pj_compiler::interp::Tensor::from_le_bytes(tt, want[0].shape.clone(), &b))
                .unwrap_or_else(|| panic!("{name} ({backend}): {out}"));
            assert_eq!(got, want[0], "{name} on aarch64 ({backend})");
        }
    }
    // the quantized product: the interpreter runs the same quantized kernel
    let mut q = m.clone();
    pj_compiler::passes::PassManager::default_pipeline()
        .with_pass(Box::new(pj_compiler::passes::quantize::Quantize::new(
            pj_compiler::quant::plan::Request::new(pj_compiler::quant::plan::Mode::Int8),
        )))
        .run(&mut q)
        .unwrap();
    let matrix = |rows: usize, cols: usize, scale: f32| {
        let data = (0..rows * cols)
            .map(|i| Scalar::F32(((i * 37 % 101) as f32 / 50.0 - 1.0) * scale))
            .collect();
        Value::Array(pj_compiler::interp::Tensor::new(
            ScalarType::F32,
            vec![rows, cols],
            data,
        ))
    };
    let args = [matrix(7, 45, 1.0), matrix(45, 19, 0.5)];
    let want = interp::run(&q, "dense", &args).unwrap();
    for backend in common::backends() {
        let out = run_on_aarch64(
            dir.path(),
            dir.path(),
            "dense",
            Path::new("casts.pj"),
            &["--backend", backend.name(), "--quantize", "int8"],
            &args,
            &[(ScalarType::F32, 2)],
            &runtime,
        );
        let got = result_bytes(&out, 0)
            .map(|b| {
                pj_compiler::interp::Tensor::from_le_bytes(
                    ScalarType::F32,
                    want[0].shape.clone(),
                    &b,
                )
            })
            .unwrap_or_else(|| panic!("dense ({backend}): {out}"));
        assert_eq!(got, want[0], "quantized dense on aarch64 ({backend})");
    }
}

/// Two quantized kernels built by every backend for aarch64 and run under
/// qemu, each the interpreter's bits for the same quantized kernel: the
/// 8-bit blur computed exactly in 16-bit integers (`--quantize int16`:
/// `u8` widened to `u16` lanes, sums, a multiply-high, a narrowing), and a
/// stage stored as bfloat16 (`--quantize bf16`: bit casts, shifts and
/// clamps in `u32` lanes).
#[test]
fn int16_and_bf16_kernels_agree_on_aarch64_under_qemu() {
    use pj_compiler::quant::plan::{Mode, Request};
    if !cross_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let runtime = root().join("runtime/c/pj_runtime_min.c");
    for (name, file, mode) in [
        ("blur_u8", "examples/blur_u8.pj", Mode::Int16),
        ("unfused", "bench/unfused.pj", Mode::Bf16),
        // LLVM converts with `fcvtl`/`fcvtn` here, Cranelift expands
        ("unfused", "bench/unfused.pj", Mode::F16),
    ] {
        let mut q = compile(name, &read(&root().join(file)));
        pj_compiler::passes::PassManager::default_pipeline()
            .with_pass(Box::new(pj_compiler::passes::quantize::Quantize::new(
                Request::new(mode),
            )))
            .run(&mut q)
            .unwrap();
        let args = if name == "unfused" {
            let n = 29;
            let data = (0..n * n)
                .map(|i| Scalar::F32((i * 37 % 101) as f32 / 25.0))
                .collect();
            vec![Value::Array(pj_compiler::interp::Tensor::new(
                ScalarType::F32,
                vec![n, n],
                data,
            ))]
        } else {
            example_args(&q, name)
        };
        let want = interp::run(&q, name, &args).unwrap();
        let elem = want[0].elem;
        for backend in common::backends() {
            let out = run_on_aarch64(
                dir.path(),
                &root(),
                name,
                Path::new(file),
                &["--backend", backend.name(), "--quantize", mode.name()],
                &args,
                &[(elem, 2)],
                &runtime,
            );
            let got = result_bytes(&out, 0)
                .map(|b| {
                    pj_compiler::interp::Tensor::from_le_bytes(elem, want[0].shape.clone(), &b)
                })
                .unwrap_or_else(|| panic!("{name} ({backend}): {out}"));
            assert_eq!(
                got,
                want[0],
                "{name} --quantize {} on aarch64 ({backend})",
                mode.name()
            );
        }
    }
}
