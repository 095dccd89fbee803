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
                    s => (
                        pj_compiler::codegen::cranelift::header::c_scalar(s.ty()),
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

#[test]
fn every_example_runs_on_aarch64_under_qemu() {
    if !(available("aarch64-linux-gnu-gcc") && available("qemu-aarch64")) {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install gcc-aarch64-linux-gnu and qemu-user (see .ci/run)"
        );
        eprintln!("skipped: aarch64-linux-gnu-gcc or qemu-aarch64 is not installed");
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
        let obj = dir.path().join(format!("{name}.o"));
        let o = Command::new(env!("CARGO_BIN_EXE_pj"))
            .args([
                "build",
                &format!("examples/{name}.pj"),
                "--target",
                TRIPLE,
                "-o",
            ])
            .arg(&obj)
            .current_dir(root())
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let results: Vec<(ScalarType, usize)> =
            want.iter().map(|t| (t.elem, t.shape.len())).collect();
        let src = dir.path().join(format!("{name}_driver.c"));
        std::fs::write(&src, driver(name, &args, &results)).unwrap();
        let exe = dir.path().join(format!("{name}_aarch64"));
        let o = Command::new("aarch64-linux-gnu-gcc")
            .args(["-O2", "-I"])
            .arg(dir.path())
            .arg(&src)
            .arg(&obj)
            .arg(runtime_arg)
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
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{name}: {out}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        for (r, t) in want.iter().enumerate() {
            let line = out
                .lines()
                .find(|l| l.starts_with(&format!("out{r}")))
                .unwrap_or_else(|| panic!("{name}: {out}"));
            let bytes: Vec<u8> = line
                .split_whitespace()
                .skip(1)
                .map(|h| u8::from_str_radix(h, 16).unwrap())
                .collect();
            let got = pj_compiler::interp::Tensor::from_le_bytes(t.elem, t.shape.clone(), &bytes);
            assert_close(&got, t, 1e-6, &format!("{name} result {r} on aarch64"));
        }
    }
}
