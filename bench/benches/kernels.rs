//! `cargo bench -p pj-bench`: every example kernel at issue 4's sizes,
//! picojoule (Cranelift, default pipeline, one thread) against the plain C
//! loop compiled with `cc -O3 -march=native` in the same run (and, for the
//! memory-bound kernels, hand-vectorized 128-bit C: `c/vec128.c`); then a table
//! of the ratios and of the fraction of this machine's roofline each
//! reaches (memory: a STREAM-like triad; compute: the 128-bit FMA peak),
//! also written to `target/criterion/pj-summary.json`.
//!
//! `PJ_BENCH=blur,matmul` limits the kernels; `PJ_BENCH_THREADS=2` runs
//! picojoule on more threads (C stays on one). Built with `--features
//! llvm`, every kernel runs through the LLVM backend too
//! (`picojoule_llvm`, `picojoule_llvm_contract`), on the same inputs.

use criterion::{Criterion, criterion_group};
use pj_bench::{Case, KERNELS, fma_peak_gflops};
use pj_compiler::codegen::Backend;
use std::path::PathBuf;
use std::time::Duration;

fn out_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/criterion")
}

fn selected() -> Vec<(&'static str, &'static [(&'static str, i64)])> {
    let only = std::env::var("PJ_BENCH").ok();
    KERNELS
        .iter()
        .filter(|(n, _)| only.as_ref().is_none_or(|o| o.split(',').any(|x| x == *n)))
        .copied()
        .collect()
}

fn kernels(c: &mut Criterion) {
    let threads: usize = std::env::var("PJ_BENCH_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(1);
    pj_runtime::parallel::set_threads(threads).expect("PJ_BENCH_THREADS is a thread count");
    for (name, sizes) in selected() {
        let mut case = Case::new(name, sizes);
        case.assert_implementations_agree(1e-4);
        let mut g = c.benchmark_group(name);
        g.sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(3));
        g.bench_function("picojoule", |b| b.iter(|| case.run_pj()));
        if case.has_contracted() {
            g.bench_function("picojoule_contract", |b| {
                b.iter(|| case.run_pj_contracted())
            });
        }
        // the other backends, each on its own copy of the inputs
        let mut others: Vec<(Backend, Case)> = Backend::built()
            .into_iter()
            .filter(|&b| b != Backend::Cranelift)
            .map(|b| (b, Case::with_backend(name, sizes, b)))
            .collect();
        for (backend, other) in &mut others {
            other.assert_implementations_agree(1e-4);
            g.bench_function(format!("picojoule_{backend}"), |b| {
                b.iter(|| other.run_pj())
            });
            if other.has_contracted() {
                g.bench_function(format!("picojoule_{backend}_contract"), |b| {
                    b.iter(|| other.run_pj_contracted())
                });
            }
        }
        g.bench_function("c_O3", |b| b.iter(|| case.run_c()));
        if case.has_c128() {
            g.bench_function("c_128", |b| b.iter(|| case.run_c128()));
        }
        g.finish();
    }
}

/// Criterion's median for `group/function`, in seconds.
fn median(group: &str, function: &str) -> Option<f64> {
    let p = out_dir()
        .join(group)
        .join(function)
        .join("new/estimates.json");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok()?;
    v["median"]["point_estimate"].as_f64().map(|ns| ns / 1e9)
}

fn summary() {
    let triad = picojoule::roofline::triad_bandwidth();
    let fma128 = fma_peak_gflops(false);
    let fma_wide = fma_peak_gflops(true);
    println!(
        "\nroofline of this machine, one core: triad {triad:.1} GB/s; FMA peak {fma128:.1} GFLOP/s at 128 bits, {fma_wide:.1} at the widest native width"
    );
    println!(
        "\n| kernel | picojoule (ms) | C -O3 (ms) | C / picojoule | bound | of roofline (pj) | of roofline (C) | pj, --fast-math=contract (ms) | of roofline (contract) | 128-bit C (ms) | of roofline (128-bit C) | LLVM (ms) | LLVM, contract (ms) | Cranelift / LLVM |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut rows = Vec::new();
    for (name, sizes) in selected() {
        let (Some(pj), Some(cc)) = (median(name, "picojoule"), median(name, "c_O3")) else {
            continue;
        };
        let case = Case::new(name, sizes);
        let mem = case.compulsory_bytes() / (triad * 1e9);
        let compute = case.flops() / (fma128 * 1e9);
        let (bound, t) = if compute > mem {
            ("128-bit FMA peak", compute)
        } else {
            ("memory", mem)
        };
        let fused = median(name, "picojoule_contract").filter(|_| case.has_contracted());
        let (fused_ms, fused_roof) = match fused {
            Some(f) => (format!("{:.2}", f * 1e3), format!("{:.0}%", 100.0 * t / f)),
            None => ("–".to_string(), "–".to_string()),
        };
        let c128 = median(name, "c_128").filter(|_| case.has_c128());
        let (c128_ms, c128_roof) = match c128 {
            Some(v) => (format!("{:.2}", v * 1e3), format!("{:.0}%", 100.0 * t / v)),
            None => ("–".to_string(), "–".to_string()),
        };
        let llvm = median(name, "picojoule_llvm");
        let llvm_fused = median(name, "picojoule_llvm_contract");
        let ms = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{:.2}", v * 1e3));
        let speedup = llvm.map_or("–".to_string(), |l| format!("{:.2}x", pj / l));
        println!(
            "| {name} | {:.2} | {:.2} | {:.2}x | {bound} | {:.0}% | {:.0}% | {fused_ms} | {fused_roof} | {c128_ms} | {c128_roof} | {} | {} | {speedup} |",
            pj * 1e3,
            cc * 1e3,
            cc / pj,
            100.0 * t / pj,
            100.0 * t / cc,
            ms(llvm),
            ms(llvm_fused)
        );
        rows.push(serde_json::json!({
            "kernel": name, "picojoule_s": pj, "c_o3_s": cc, "speedup_vs_c": cc / pj,
            "bound": bound, "roofline_fraction_pj": t / pj, "roofline_fraction_c": t / cc,
            "picojoule_contract_s": fused, "roofline_fraction_contract": fused.map(|f| t / f),
            "c_128_s": c128, "roofline_fraction_c_128": c128.map(|v| t / v),
            "llvm_s": llvm, "llvm_contract_s": llvm_fused,
        }));
    }
    let doc = serde_json::json!({
        "triad_gb_per_s": triad, "fma128_gflops": fma128, "fma_wide_gflops": fma_wide, "kernels": rows,
    });
    let _ = std::fs::create_dir_all(out_dir());
    let _ = std::fs::write(
        out_dir().join("pj-summary.json"),
        serde_json::to_string_pretty(&doc).unwrap_or_default(),
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().output_directory(&out_dir());
    targets = kernels
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    summary();
}
