//! The picojoule compiler: IR, dialects, passes, and the reference
//! interpreter (native backends arrive later).
//!
//! ```text
//! pj_lang::hir::Program ──front::lower──▶ ir::Module (pj + arith + math dialects)
//!     ──passes::PassManager (canonicalize, cse, dce, ...)──▶ ir::Module
//!     ──interp::run──▶ results          (the oracle every backend is tested against)
//! ```
#![warn(missing_docs)]

pub mod codegen;
pub mod dialects;
pub mod footprint;
pub mod front;
pub mod interp;
pub mod ir;
pub mod passes;
pub mod quant;
pub mod target;

pub use ir::Module;

/// Lowers a checked program to IR and verifies it.
pub fn lower_program(program: &pj_lang::hir::Program, source: Option<front::Source<'_>>) -> Module {
    let m = front::lower(program, source);
    if let Err(e) = ir::verify::verify(&m) {
        panic!("AST lowering produced invalid IR (a compiler bug):\n{e}");
    }
    m
}

/// A file's kernels in IR, with the warnings the front end produced.
pub struct Compiled {
    /// The module (verified).
    pub module: Module,
    /// Warnings (no errors).
    pub warnings: Vec<pj_lang::Diagnostic>,
}

/// Front end and lowering in one call: source text to verified IR, or every
/// diagnostic if the source has errors.
pub fn compile_source(name: &str, text: &str) -> Result<Compiled, Vec<pj_lang::Diagnostic>> {
    let (program, mut diags) = pj_lang::compile_source(text);
    let Some(p) = program else {
        return Err(diags);
    };
    let module = lower_program(&p, Some(front::Source { name, text }));
    let illegal = passes::schedule::check_directives(&p, &module);
    if !illegal.is_empty() {
        diags.extend(illegal);
        return Err(diags);
    }
    Ok(Compiled {
        module,
        warnings: diags,
    })
}
