//! Source text to [`ast::File`]: lexing, the LALRPOP parser, and turning its
//! errors into diagnostics. Parsing recovers at statement and kernel level so
//! one typo does not hide the errors after it.

use crate::ast;
use crate::diagnostic::Diagnostic;
use crate::lexer::{self, Tok};
use crate::span::Span;
use lalrpop_util::{ErrorRecovery, ParseError};

lalrpop_util::lalrpop_mod!(
    #[allow(clippy::all, clippy::pedantic, unused_parens, missing_docs)]
    grammar
);

/// Parses a whole file. Returns the tree (possibly partial) and all syntax
/// errors. Never panics.
pub fn parse_file(src: &str) -> (ast::File, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let toks = lexer::lex(src, &mut diags);
    let mut recovered = Vec::new();
    let mut bad_literals = Vec::new();
    let parser = grammar::FileParser::new();
    let file = match parser.parse(&mut recovered, &mut bad_literals, toks) {
        Ok(f) => f,
        Err(e) => {
            diags.push(parse_error(e, src.len()));
            ast::File { kernels: vec![] }
        }
    };
    for ErrorRecovery { error, .. } in recovered {
        diags.push(parse_error(error, src.len()));
    }
    for span in bad_literals {
        diags.push(
            Diagnostic::error("numeric literal out of range", span)
                .with_label("does not fit in a 64-bit integer or a finite float"),
        );
    }
    diags.sort_by_key(|d| (d.span.start, d.span.end));
    diags.dedup_by(|a, b| a.span == b.span && a.message == b.message);
    (file, diags)
}

/// Parses one expression (for tests and tools).
pub fn parse_expr(src: &str) -> Result<ast::Expr, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let toks = lexer::lex(src, &mut diags);
    let mut recovered = Vec::new();
    let mut bad = Vec::new();
    match grammar::ExprParser::new().parse(&mut recovered, &mut bad, toks) {
        Ok(e) if diags.is_empty() && recovered.is_empty() => Ok(e),
        Ok(_) => {
            diags.extend(
                recovered
                    .into_iter()
                    .map(|r| parse_error(r.error, src.len())),
            );
            Err(diags)
        }
        Err(e) => {
            diags.push(parse_error(e, src.len()));
            Err(diags)
        }
    }
}

fn describe_expected(expected: &[String]) -> Option<String> {
    if expected.is_empty() {
        return None;
    }
    let mut names: Vec<String> = expected
        .iter()
        .map(|e| match e.as_str() {
            "IdentTok" => "a name".to_string(),
            "IntTok" => "an integer".to_string(),
            "FloatTok" => "a float".to_string(),
            "ReduceTok" => "a reduction".to_string(),
            s => format!("`{}`", s.trim_matches('"')),
        })
        .collect();
    names.sort();
    names.dedup();
    Some(if names.len() == 1 {
        format!("expected {}", names[0])
    } else if names.len() <= 8 {
        let last = names.pop().unwrap_or_default();
        format!("expected {} or {}", names.join(", "), last)
    } else {
        format!("expected one of {} kinds of token", names.len())
    })
}

fn parse_error(e: ParseError<usize, Tok, &'static str>, len: usize) -> Diagnostic {
    match e {
        ParseError::InvalidToken { location } => {
            Diagnostic::error("invalid token", Span::new(location, location + 1))
        }
        ParseError::UnrecognizedEof { location, expected } => {
            let mut d =
                Diagnostic::error("unexpected end of file", Span::new(location.min(len), len))
                    .with_label("the file ends here");
            if let Some(exp) = describe_expected(&expected) {
                d = d.with_help(exp);
            }
            d
        }
        ParseError::UnrecognizedToken {
            token: (l, tok, r),
            expected,
        } => {
            let mut d = Diagnostic::error(format!("unexpected `{tok}`"), Span::new(l, r));
            if let Some(exp) = describe_expected(&expected) {
                d = d.with_label(exp);
            }
            if tok == Tok::Minus && expected.iter().any(|e| e == "ReduceTok") {
                d = d.with_help(
                    "a `min`/`max` reduction body cannot start with `-`: write `max(k) (-e)`",
                );
            }
            if matches!(tok, Tok::Ident(_) | Tok::Kernel | Tok::RBrace)
                && expected.iter().any(|e| e == "\";\"")
            {
                d = d.with_help("is a `;` missing at the end of the previous statement?");
            }
            d
        }
        ParseError::ExtraToken { token: (l, tok, r) } => Diagnostic::error(
            format!("unexpected `{tok}` after the end of the input"),
            Span::new(l, r),
        ),
        ParseError::User { error } => Diagnostic::error(error, Span::new(0, 0)),
    }
}
