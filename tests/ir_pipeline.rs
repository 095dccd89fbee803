//! IR snapshots. For every example and every `tests/ir/*.pj` case: the IR as
//! lowered, then after each pass of the pipeline (the default one for
//! examples, the `// passes:` header for cases). Every printed stage must
//! survive print -> parse -> print unchanged, with and without locations.

mod common;

use common::*;
use pj_compiler::passes::{DEFAULT_PIPELINE, PassManager};
use std::path::Path;

fn check(path: &Path, pipeline: &str) -> String {
    let src = read(path);
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let mut m = compile(&name, &src);
    let mut out = format!("== lowered ==\n{}", assert_round_trip(&m, false));
    assert_round_trip(&m, true);
    for pass in pipeline.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        PassManager::parse(pass)
            .expect("known pass")
            .run(&mut m)
            .expect("pass runs and verifies");
        out += &format!("\n== after {pass} ==\n{}", assert_round_trip(&m, false));
        assert_round_trip(&m, true);
    }
    out
}

#[test]
fn examples() {
    insta::glob!("../examples", "*.pj", |path| {
        insta::assert_snapshot!(check(path, DEFAULT_PIPELINE));
    });
}

/// The loop-level IR of every example: what the native backends consume.
#[test]
fn examples_at_loop_level() {
    insta::glob!("../examples", "*.pj", |path| {
        let src = read(path);
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let m = lowered(&compile(&name, &src));
        assert_round_trip(&m, true);
        insta::assert_snapshot!(format!(
            "== {TO_LOOPS} ==\n{}",
            assert_round_trip(&m, false)
        ));
    });
}

#[test]
fn pass_cases() {
    insta::glob!("ir/*.pj", |path| {
        let src = read(path);
        let header = src.lines().next().unwrap_or_default();
        let pipeline = header
            .strip_prefix("// passes:")
            .unwrap_or_else(|| panic!("{}: first line must be `// passes: ...`", path.display()));
        insta::assert_snapshot!(check(path, pipeline.trim()));
    });
}

/// A matrix product's cache blocks take as many steps of the reduction as
/// keep a register block's 6 rows of the operand it broadcasts in a fifth
/// of L1 (on an AVX-512 profile's 48 KiB: 9,830 bytes): 400 steps of
/// matmul's `f32` rows (24 bytes a step) at any vector width, and for the
/// 8-bit product, whose rows are a quarter of the bytes, the most a chunk
/// takes, 512.
#[test]
fn cache_blocks_keep_a_register_blocks_rows_in_l1() {
    use pj_compiler::target::{Target, profile::Profile};
    let avx512 = Target::parse("x86_64-unknown-linux-gnu")
        .and_then(|t| t.with_cpu("sapphirerapids"))
        .expect("a supported cpu");
    let profile = Profile::for_target(&avx512);
    for (example, bits, steps) in [
        ("matmul", 512, 400),
        ("matmul", 128, 400),
        ("qdot", 512, 512),
        ("qdot", 128, 512),
    ] {
        let src = read(&root().join(format!("examples/{example}.pj")));
        let mut m = compile(&format!("{example}.pj"), &src);
        PassManager::parse("schedule")
            .expect("known pass")
            .for_profile(&profile)
            .vector_bits(bits)
            .run(&mut m)
            .expect("schedules");
        let text = assert_round_trip(&m, false);
        assert!(
            text.contains(&format!("block_k = {steps}")),
            "{example} at {bits} bits:\n{text}"
        );
    }
}

/// A block of 6 rows keeps 4 vectors of accumulators per row with
/// AVX-512's 32 registers only where the rows share their loads (matmul's
/// `b[k, j]`, loaded once for the 6 rows); where every product loads a
/// vector of its own (conv2d's image, the filter being the broadcast), 2
/// per row, as at 128 bits: 24 accumulators beside 24 products in flight
/// spilled half of them in LLVM's code.
#[test]
fn register_blocks_are_wide_only_where_the_rows_share_loads() {
    use pj_compiler::target::{Target, profile::Profile};
    let avx512 = Target::parse("x86_64-unknown-linux-gnu")
        .and_then(|t| t.with_cpu("sapphirerapids"))
        .expect("a supported cpu");
    let profile = Profile::for_target(&avx512);
    for (example, bits, lanes, accumulators) in [
        ("matmul", 512, 16, 24),
        ("conv2d", 512, 16, 12),
        ("matmul", 128, 4, 12),
        ("conv2d", 128, 4, 12),
    ] {
        let src = read(&root().join(format!("examples/{example}.pj")));
        let mut m = compile(&format!("{example}.pj"), &src);
        PassManager::parse(pj_compiler::codegen::LOWERING_PIPELINE)
            .expect("known passes")
            .for_profile(&profile)
            .vector_bits(bits)
            .fast_math(true)
            .run(&mut m)
            .expect("lowers");
        let text = assert_round_trip(&m, false);
        let vector = format!(": f32x{lanes}");
        let widest = text
            .lines()
            .filter(|l| l.trim_start().starts_with("^bb0("))
            .map(|l| l.matches(&vector).count())
            .max()
            .unwrap_or(0);
        assert_eq!(widest, accumulators, "{example} at {bits} bits:\n{text}");
    }
}
