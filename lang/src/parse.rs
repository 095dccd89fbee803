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
    let mut bad_indices = Vec::new();
    let parser = grammar::FileParser::new();
    let file = match parser.parse(&mut recovered, &mut bad_literals, &mut bad_indices, toks) {
        Ok(f) => f,
        Err(e) => {
            diags.push(parse_error(e, src.len()));
            ast::File {
                kernels: vec![],
                functions: vec![],
            }
        }
    };
    for ErrorRecovery { error, .. } in recovered {
        let d = parse_error(error, src.len());
        if !echoes.contains(&d.span.start) {
            diags.push(d);
        }
    }
    diags.extend(bad_literals.into_iter().map(literal_error));
    diags.extend(bad_indices.into_iter().map(|span| {
        Diagnostic::error("a stage's indices are its index variables", span)
            .with_label("expected a name")
            .with_help("to combine values into elements at computed indices (a histogram), update the stage: `hist[i32(x[i])] += 1 for i;` (see docs/language.md#updates)")
    }));
    let mut file = file;
    limit_nesting(&mut file, &mut diags);
    diags.sort_by_key(|d| (d.span.start, d.span.end));
    diags.dedup_by(|a, b| a.span == b.span && a.message == b.message);
    (file, diags)
}

/// How deep an expression may nest, counting every node on the longest
/// path: `-(-x)` is 3 deep, a sum of `n` reads `x[i]` is `n + 1` (the
/// additions, a read, its index). The checker and the lowering walk expressions
/// recursively; past this depth they could run out of stack, so deeper
/// expressions are refused here, with a diagnostic, before anything
/// recursive sees them.
pub const MAX_NESTING: usize = 512;

/// An expression nested `depth` deep, over [`MAX_NESTING`].
fn too_deep_error(depth: usize, deepest: crate::span::Span, help: &str) -> Diagnostic {
    Diagnostic::error(
        format!("this expression nests {depth} deep; at most {MAX_NESTING} is allowed"),
        deepest,
    )
    .with_label("the deepest part")
    .with_help(help)
}

/// Replaces each statement holding an expression nested deeper than
/// [`MAX_NESTING`] by `Stmt::Error`, with a diagnostic; the expression is
/// dismantled without recursion.
fn limit_nesting(file: &mut ast::File, diags: &mut Vec<Diagnostic>) {
    // a function too deep is dropped (its calls then say it is unknown),
    // dismantled without recursion
    let mut kept = Vec::new();
    for mut f in std::mem::take(&mut file.functions) {
        let mut too_deep = None;
        for e in f.lets.iter_mut().map(|(_, e)| e).chain([&mut f.value]) {
            let (depth, deepest) = nesting(e);
            if depth > MAX_NESTING {
                too_deep = Some((depth, deepest));
                break;
            }
        }
        let Some((depth, deepest)) = too_deep else {
            kept.push(f);
            continue;
        };
        diags.push(too_deep_error(depth, deepest, "split it into `let`s"));
        for (_, e) in f.lets.drain(..) {
            dismantle(e);
        }
        let span = f.value.span;
        dismantle(std::mem::replace(&mut f.value, placeholder(span)));
    }
    file.functions = kept;
    for k in &mut file.kernels {
        for stmt in &mut k.body {
            let span = match stmt {
                ast::Stmt::Let { span, .. }
                | ast::Stmt::Def { span, .. }
                | ast::Stmt::Update { span, .. } => *span,
                _ => continue,
            };
            let Some((depth, deepest)) = statement_exprs_mut(stmt)
                .into_iter()
                .map(nesting)
                .max_by_key(|d| d.0)
            else {
                continue;
            };
            if depth <= MAX_NESTING {
                continue;
            }
            diags.push(too_deep_error(
                depth,
                deepest,
                "split it into `let`s or stages (a long sum: partial sums)",
            ));
            let mut old = std::mem::replace(stmt, ast::Stmt::Error(span));
            for e in statement_exprs_mut(&mut old) {
                let span = e.span;
                dismantle(std::mem::replace(e, placeholder(span)));
            }
        }
    }
}

/// The expressions a statement holds, to measure and to take apart.
fn statement_exprs_mut(stmt: &mut ast::Stmt) -> Vec<&mut ast::Expr> {
    match stmt {
        ast::Stmt::Let { value, .. } => vec![value],
        ast::Stmt::Def { value, init, .. } => std::iter::once(value).chain(init).collect(),
        ast::Stmt::Update {
            indices,
            value,
            vars,
            ..
        } => indices
            .iter_mut()
            .chain([value])
            .chain(
                vars.iter_mut()
                    .flat_map(|v| v.range.iter_mut().flat_map(|(a, b)| [a, b])),
            )
            .collect(),
        _ => vec![],
    }
}

fn placeholder(span: crate::span::Span) -> ast::Expr {
    ast::Expr {
        kind: ast::ExprKind::Bool(false),
        span,
    }
}

/// The children of an expression, mutably.
fn children(e: &mut ast::Expr) -> Vec<&mut ast::Expr> {
    use ast::ExprKind::*;
    match &mut e.kind {
        Int(_) | Float(_) | Bool(_) | Name(_) => vec![],
        Index { indices: v, .. } | Call { args: v, .. } => v.iter_mut().collect(),
        Unary { expr, .. } => vec![&mut **expr],
        Binary { lhs, rhs, .. } => vec![&mut **lhs, &mut **rhs],
        Reduce { vars, body, .. } => {
            let mut out: Vec<&mut ast::Expr> = vars
                .iter_mut()
                .filter_map(|v| v.range.as_mut())
                .flat_map(|(a, b)| [a, b])
                .collect();
            out.push(&mut **body);
            out
        }
    }
}

/// The nesting depth and the span of the deepest leaf, without recursion.
fn nesting(e: &mut ast::Expr) -> (usize, crate::span::Span) {
    let mut best = (1, e.span);
    let mut stack = vec![(e, 1usize)];
    while let Some((e, d)) = stack.pop() {
        if d > best.0 {
            best = (d, e.span);
        }
        for c in children(e) {
            stack.push((c, d + 1));
        }
    }
    best
}

/// Drops an expression of any depth without recursion (the derived drop
/// recurses once per level).
fn dismantle(e: ast::Expr) {
    let mut stack = vec![e];
    while let Some(mut e) = stack.pop() {
        for c in children(&mut e) {
            let span = c.span;
            stack.push(std::mem::replace(c, placeholder(span)));
        }
    }
}

/// Parses one expression (for tests and tools).
pub fn parse_expr(src: &str) -> Result<ast::Expr, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let toks = lexer::lex(src, &mut diags);
    let mut recovered = Vec::new();
    let mut bad = Vec::new();
    let mut bad_indices = Vec::new();
    let result = grammar::ExprParser::new().parse(&mut recovered, &mut bad, &mut bad_indices, toks);
    diags.extend(
        recovered
            .into_iter()
            .map(|r| parse_error(r.error, src.len())),
    );
    diags.extend(bad.into_iter().map(literal_error));
    match result {
        Ok(e) if diags.is_empty() => Ok(e),
        Ok(_) => Err(diags),
        Err(e) => {
            diags.push(parse_error(e, src.len()));
            Err(diags)
        }
    }
}

fn literal_error(span: Span) -> Diagnostic {
    Diagnostic::error("numeric literal out of range", span)
        .with_label("does not fit in a 64-bit integer or a finite float")
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
        // a statement's optional `init` is not what a reader missed there
        rest.retain(|e| !OPERATORS.contains(&e.as_str()) && e.as_str() != "\"init\"");
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

#[cfg(test)]
mod tests {
    use super::parse_expr;
    use crate::unparse;

    fn grouped(src: &str) -> String {
        match parse_expr(src) {
            Ok(e) => unparse::expr(&e),
            Err(d) => format!("error: {}", d[0].message),
        }
    }

    #[test]
    fn reductions_extend_as_far_right_as_possible() {
        assert_eq!(
            grouped("sum(k) a[k] * b[k] + 1.0"),
            "sum(k) ((a[k] * b[k]) + 1.0)"
        );
        assert_eq!(grouped("(sum(k) a[k]) / f32(K)"), "(sum(k) a[k]) / f32(K)");
        assert_eq!(grouped("a + sum(k) b[k] * 2"), "a + (sum(k) (b[k] * 2))");
        assert_eq!(grouped("-sum(k) x[k] + 1"), "-(sum(k) (x[k] + 1))");
        assert_eq!(grouped("sum(k) -x[k]"), "sum(k) (-x[k])");
        assert_eq!(
            grouped("sum(k in 0..N - 1, l) a[k, l]"),
            "sum(k in 0..N - 1, l) a[k, l]"
        );
        assert_eq!(grouped("max(c) sum(k) x[c, k]"), "max(c) (sum(k) x[c, k])");
    }

    #[test]
    fn min_and_max_are_calls_or_reductions_by_what_follows() {
        assert_eq!(grouped("max(a, b) - 1"), "max(a, b) - 1");
        assert_eq!(grouped("max(c) x[n, c]"), "max(c) x[n, c]");
        assert_eq!(
            grouped("min(a, b) * min(k) y[k]"),
            "min(a, b) * (min(k) y[k])"
        );
        // a min/max reduction body cannot start with `-`: this is a call minus x[k]
        assert_eq!(grouped("max(k) -x[k]"), "max(k) - x[k]");
        assert_eq!(grouped("max(k) (-x[k])"), "max(k) (-x[k])");
    }

    #[test]
    fn binary_precedence_and_associativity() {
        assert_eq!(grouped("-x * y"), "(-x) * y");
        assert_eq!(grouped("x % 2 * 3"), "(x % 2) * 3");
        assert_eq!(grouped("a - b - c"), "(a - b) - c");
        assert_eq!(grouped("!a && b || c"), "((!a) && b) || c");
        assert_eq!(grouped("a + b < c * d"), "(a + b) < (c * d)");
        assert_eq!(grouped("a < b < c"), "error: unexpected `<`");
    }

    #[test]
    fn literals() {
        assert_eq!(grouped("1e-5 + 2.50"), "1e-5 + 2.5");
        assert_eq!(grouped("9223372036854775807"), "9223372036854775807");
        assert_eq!(
            grouped("9223372036854775808"),
            "error: numeric literal out of range"
        );
    }
}
