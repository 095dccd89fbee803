//! Per-pass tests on hand-written loop-level IR (Cranelift's filetests):
//! each `tests/passes/*.pjir` starts with `// run: PASSES` (a pipeline),
//! then `// check: TEXT` lines that must appear in the output in order, and
//! a module. The module is parsed and verified, the pipeline runs
//! (verifying after each pass), the checks are matched, and the whole
//! output is a snapshot (`cargo insta review`).

mod common;

use pj_compiler::ir::print::{PrintOptions, print_module};
use pj_compiler::ir::{parse::parse_module, verify::verify};
use pj_compiler::passes::PassManager;

#[test]
fn pass_files() {
    insta::glob!("passes/*.pjir", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let directive = |key: &str| -> Vec<String> {
            text.lines()
                .filter_map(|l| l.trim().strip_prefix("//")?.trim().strip_prefix(key))
                .map(|rest| rest.trim().to_string())
                .collect()
        };
        let run = directive("run:");
        assert_eq!(run.len(), 1, "{name}: one `// run: PASSES` line");
        let mut m = parse_module(&text).unwrap_or_else(|d| panic!("{name}: {}", d.message));
        verify(&m).unwrap_or_else(|e| panic!("{name}: the input does not verify: {e:?}"));
        PassManager::parse(&run[0])
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .run(&mut m)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let out = print_module(&m, PrintOptions::default());
        let mut at = 0;
        for check in directive("check:") {
            match out[at..].find(&check) {
                Some(i) => at += i + check.len(),
                None => panic!("{name}: `{check}` not found after byte {at} of:\n{out}"),
            }
        }
        insta::assert_snapshot!(out);
    });
}
