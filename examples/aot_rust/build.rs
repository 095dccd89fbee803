//! Compiles examples/blur.pj with picojoule at build time, for the target
//! this crate is being built for, into a static library linked into the
//! crate: no `pj` binary involved, the compiler is a library here.

use pj_compiler::codegen::driver::{self, Emit, Options, Stage};
use pj_compiler::target::Target;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    let src_path = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../blur.pj");
    println!("cargo:rerun-if-changed={}", src_path.display());
    let src = std::fs::read_to_string(&src_path).expect("examples/blur.pj");
    let compiled = pj_compiler::compile_source("blur.pj", &src).unwrap_or_else(|diags| {
        let text = pj_lang::diagnostic::render_all(&diags, "blur.pj", &src);
        panic!("blur.pj does not compile:\n{text}");
    });
    // the target cargo builds for, which may differ from the build machine
    let triple = std::env::var("TARGET").unwrap();
    let host = std::env::var("HOST").unwrap();
    let target =
        Target::parse(if triple == host { "host" } else { &triple }).expect("a supported target");
    // what `pj build --target <it>` does: the same driver, the same defaults
    let options = Options {
        target,
        ..Options::default()
    };
    let (module, _) = driver::lower(&compiled.module, &options, Stage::Checked).expect("lowering");
    let object = driver::emit(&module, &options, &[], Emit::Object).expect("code generation");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let obj = out.join("blur.o");
    std::fs::write(&obj, object).unwrap();
    let lib = out.join("libpj_blur.a");
    let _ = std::fs::remove_file(&lib);
    let ar = std::env::var("AR").unwrap_or_else(|_| "ar".into());
    let st = Command::new(ar)
        .arg("crs")
        .arg(&lib)
        .arg(&obj)
        .status()
        .expect("ar (binutils) is needed");
    assert!(st.success(), "ar failed");
    println!("cargo:rustc-link-search=native={}", out.display());
    println!("cargo:rustc-link-lib=static=pj_blur");
}
