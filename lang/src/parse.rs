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
    // A parse error at the token right after a bad character is an echo of
    // the lexing error already reported: the user has one typo, not two.
    let echoes: Vec<usize> = diags
        .iter()
        .filter_map(|d| toks.iter().find(|t| t.0 >= d.span.end).map(|t| t.0))
        .collect();
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
        let d = parse_error(error, src.len());
        if !echoes.contains(&d.span.start) {
            diags.push(d);
        }
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

const EXPR_START: [&str; 9] = [
    "IdentTok",
    "IntTok",
    "FloatTok",
    "ReduceTok",
    "\"(\"",
    "\"-\"",
    "\"!\"",
    "\"true\"",
    "\"false\"",
];
const OPERATORS: [&str; 13] = [
    "\"+\"", "\"-\"", "\"*\"", "\"/\"", "\"%\"", "\"<\"", "\"<=\"", "\">\"", "\">=\"", "\"==\"",
    "\"!=\"", "\"&&\"", "\"||\"",
];

fn describe_expected(expected: &[String]) -> Option<String> {
    if expected.is_empty() {
        return None;
    }
    let has = |e: &str| expected.iter().any(|x| x == e);
    let mut groups = Vec::new();
    let mut rest: Vec<&String> = expected.iter().collect();
    if has("IntTok") && has("\"(\"") {
        groups.push("an expression".to_string());
        rest.retain(|e| !EXPR_START.contains(&e.as_str()));
    }
    if has("\"*\"") && has("\"+\"") {
        groups.push("an operator".to_string());
        rest.retain(|e| !OPERATORS.contains(&e.as_str()));
    }
    let mut names: Vec<String> = rest
        .into_iter()
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
    names.extend(groups);
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
