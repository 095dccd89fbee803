//! The LLVM backend's lowering, one snapshot per example: the LLVM IR
//! picojoule makes for the baseline `x86_64-unknown-linux-gnu` (no
//! host-dependent CPU features), before LLVM's own passes — so a change in
//! lowering shows in review (`cargo insta review`). Built with
//! `--features llvm` only.
#![cfg(feature = "llvm")]

mod common;

use common::{EXAMPLES, compile, read, root};
use pj_compiler::codegen::driver::{self, Options, Stage};
use pj_compiler::codegen::{Backend, llvm};
use pj_compiler::target::Target;

#[test]
fn every_example_lowers_to_the_same_llvm_ir() {
    for &name in EXAMPLES {
        let m = compile(name, &read(&root().join(format!("examples/{name}.pj"))));
        let options = Options {
            target: Target::parse("x86_64-unknown-linux-gnu").expect("supported"),
            ..Options::with_backend(Backend::Llvm)
        };
        let (lowered, _) = driver::lower(&m, &options, Stage::Checked).expect("lowers");
        let text = llvm::object::lowered_ir(&lowered, &options).expect("LLVM IR");
        insta::assert_snapshot!(format!("llvm_ir_{name}"), text);
    }
}
