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
