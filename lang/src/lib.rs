//! The picojoule front end: `.pj` source text in, a checked kernel description
//! (types resolved, shapes checked, stage domains inferred) out, or a list of
//! diagnostics.
//!
//! ```text
//! source ──lexer (logos)──▶ tokens ──parser (LALRPOP)──▶ ast::File
//!        ──check──▶ hir::Program   (names, types, shapes, bounds inference)
//! ```
//!
//! Invariant: this crate knows nothing about the IR, passes or backends. Its
//! API boundary is [`hir`], the typed and bounds-checked program.
#![warn(missing_docs)]

pub mod ast;
pub mod bounds;
pub mod check;
pub mod diagnostic;
pub mod hir;
pub mod lexer;
pub mod parse;
pub mod span;
pub mod types;
pub mod unparse;

pub use diagnostic::{Diagnostic, Severity};
pub use span::{LineIndex, Span};

/// Parses and checks a whole file: the front end in one call. On success the
/// diagnostics may still hold warnings.
pub fn compile_source(src: &str) -> (Option<hir::Program>, Vec<Diagnostic>) {
    let (file, mut diags) = parse::parse_file(src);
    let (program, check_diags) = check::check_file(&file);
    diags.extend(check_diags);
    diags.sort_by_key(|d| (d.span.start, d.span.end));
    if diags.iter().any(Diagnostic::is_error) {
        (None, diags)
    } else {
        (Some(program), diags)
    }
}
