//! The machine code LLVM makes is what was asked for: on an x86_64 host
//! with AVX-512, matmul's inner loop multiplies and adds 512-bit vectors
//! with fused multiply-adds (`--fast-math=contract`); on aarch64, NEON
//! `fmla`. Built with `--features llvm` only.
#![cfg(feature = "llvm")]

mod common;

use std::process::Command;

fn asm(example: &str, target: &str, extra: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(format!("{example}.s"));
    let o = Command::new(env!("CARGO_BIN_EXE_pj"))
        .args([
            "build",
            &format!("examples/{example}.pj"),
            "--backend",
            "llvm",
        ])
        .args(["--target", target, "--emit", "asm"])
        .args(extra)
        .arg("-o")
        .arg(&out)
        .current_dir(common::root())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::read_to_string(out).unwrap()
}

#[test]
fn matmul_uses_512_bit_fmas_on_an_avx512_host() {
    #[cfg(target_arch = "x86_64")]
    {
        if !std::arch::is_x86_feature_detected!("avx512f") {
            eprintln!("this host has no AVX-512: nothing to check here");
            return;
        }
        let text = asm("matmul", "host", &["--fast-math", "contract"]);
        let fmas = text
            .lines()
            .filter(|l| l.trim_start().starts_with("vfmadd") && l.contains("zmm"))
            .count();
        assert!(fmas >= 24, "{fmas} 512-bit FMAs in matmul:\n{text}");
    }
}

#[test]
fn matmul_uses_neon_fmla_on_aarch64() {
    let text = asm(
        "matmul",
        "aarch64-unknown-linux-gnu",
        &["--fast-math", "contract"],
    );
    let fmla = text
        .lines()
        .filter(|l| l.trim_start().starts_with("fmla") && l.contains(".4s"))
        .count();
    assert!(fmla >= 12, "{fmla} NEON fmla in matmul:\n{text}");
}

#[test]
fn a_cpu_selects_its_instructions_for_any_triple() {
    // the x86-64 baseline has no AVX: 128-bit SSE only
    let base = asm("chain", "x86_64-unknown-linux-gnu", &[]);
    assert!(!base.contains("zmm") && !base.contains("ymm"), "{base}");
    // Zen 4 has AVX-512: picojoule vectorizes at 512 bits for it
    let zen4 = asm("chain", "x86_64-unknown-linux-gnu", &["--cpu", "znver4"]);
    assert!(zen4.contains("zmm"), "{zen4}");
}
