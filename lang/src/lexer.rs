//! Tokens of the `.pj` language (logos), plus the one context-sensitive step
//! the grammar cannot do: telling the reductions `min(k) e` / `max(k) e` from
//! the calls `min(a, b)` / `max(a, b)`.

use crate::diagnostic::Diagnostic;
use crate::span::Span;
use logos::Logos;

/// A reduction operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    /// `sum(k) e`
    Sum,
    /// `prod(k) e`
    Prod,
    /// `min(k) e`
    Min,
    /// `max(k) e`
    Max,
    /// `argmax(k) e`: the first `k` where `e` is greatest (`i64`)
    ArgMax,
    /// `argmin(k) e`: the first `k` where `e` is least (`i64`)
    ArgMin,
}

impl ReduceOp {
    /// The keyword as written in source.
    pub fn name(self) -> &'static str {
        match self {
            ReduceOp::Sum => "sum",
            ReduceOp::Prod => "prod",
            ReduceOp::Min => "min",
            ReduceOp::Max => "max",
            ReduceOp::ArgMax => "argmax",
            ReduceOp::ArgMin => "argmin",
        }
    }

    /// Whether it gives the index of a term (`argmax`, `argmin`), not a
    /// combination of the terms.
    pub fn is_arg(self) -> bool {
        matches!(self, ReduceOp::ArgMax | ReduceOp::ArgMin)
    }

    fn from_name(s: &str) -> Option<ReduceOp> {
        Some(match s {
            "sum" => ReduceOp::Sum,
            "prod" => ReduceOp::Prod,
            "min" => ReduceOp::Min,
            "max" => ReduceOp::Max,
            "argmax" => ReduceOp::ArgMax,
            "argmin" => ReduceOp::ArgMin,
            _ => return None,
        })
    }
}

/// A token. `Reduce` is never produced by logos itself; [`lex`] rewrites
/// identifiers into it.
#[derive(Logos, Clone, Debug, PartialEq)]
#[logos(skip r"[ \t\r\n\f]+")]
#[logos(skip(r"//[^\n]*", allow_greedy = true))]
#[allow(missing_docs)] // the token spellings are their documentation
pub enum Tok {
    #[token("kernel")]
    Kernel,
    #[token("fn")]
    Fn,
    #[token("let")]
    Let,
    #[token("in")]
    In,
    #[token("init")]
    Init,
    #[token("for")]
    For,
    #[token("where")]
    Where,
    #[token("true")]
    True,
    #[token("false")]
    False,
    #[regex(r"[A-Za-z_][A-Za-z0-9_]*", |lex| lex.slice().to_string())]
    Ident(String),
    /// Integer literal; the text is kept so that overflow is reported by the parser driver.
    #[regex(r"[0-9]+", |lex| lex.slice().to_string())]
    Int(String),
    #[regex(r"[0-9]+\.[0-9]+([eE][+-]?[0-9]+)?", |lex| lex.slice().to_string())]
    #[regex(r"[0-9]+[eE][+-]?[0-9]+", |lex| lex.slice().to_string())]
    Float(String),
    /// Reduction keyword (rewritten from an identifier).
    Reduce(ReduceOp),
    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
    #[token("{")]
    LBrace,
    #[token("}")]
    RBrace,
    #[token(",")]
    Comma,
    #[token(";")]
    Semi,
    #[token(":")]
    Colon,
    #[token("=")]
    Eq,
    #[token("->")]
    Arrow,
    #[token("@")]
    At,
    #[token("..")]
    DotDot,
    #[token(".")]
    Dot,
    #[token("+")]
    Plus,
    #[token("-")]
    Minus,
    #[token("*")]
    Star,
    #[token("/")]
    Slash,
    #[token("%")]
    Percent,
    #[token("<")]
    Lt,
    #[token("<=")]
    Le,
    #[token(">")]
    Gt,
    #[token(">=")]
    Ge,
    #[token("==")]
    EqEq,
    #[token("!=")]
    Ne,
    #[token("&&")]
    AndAnd,
    #[token("||")]
    OrOr,
    #[token("!")]
    Bang,
}

impl std::fmt::Display for Tok {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Tok::Kernel => "kernel",
            Tok::Fn => "fn",
            Tok::Let => "let",
            Tok::In => "in",
            Tok::Init => "init",
            Tok::For => "for",
            Tok::Where => "where",
            Tok::True => "true",
            Tok::False => "false",
            Tok::Ident(s) | Tok::Int(s) | Tok::Float(s) => s,
            Tok::Reduce(op) => op.name(),
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::LBrace => "{",
            Tok::RBrace => "}",
            Tok::Comma => ",",
            Tok::Semi => ";",
            Tok::Colon => ":",
            Tok::Eq => "=",
            Tok::Arrow => "->",
            Tok::At => "@",
            Tok::DotDot => "..",
            Tok::Dot => ".",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Star => "*",
            Tok::Slash => "/",
            Tok::Percent => "%",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            Tok::EqEq => "==",
            Tok::Ne => "!=",
            Tok::AndAnd => "&&",
            Tok::OrOr => "||",
            Tok::Bang => "!",
        };
        f.write_str(s)
    }
}

/// A token with its byte span, in the triple form LALRPOP consumes.
pub type Spanned = (usize, Tok, usize);

/// Lexes `src`. Characters that start no token are reported and skipped, so
/// the parser still sees the rest of the file.
pub fn lex(src: &str, diags: &mut Vec<Diagnostic>) -> Vec<Spanned> {
    let mut toks = Vec::new();
    let mut lexer = Tok::lexer(src);
    while let Some(res) = lexer.next() {
        let r = lexer.span();
        match res {
            Ok(t) => toks.push((r.start, t, r.end)),
            Err(()) => {
                let bad = lexer.slice();
                diags.push(
                    Diagnostic::error(
                        format!("unexpected character `{}`", bad.escape_debug()),
                        Span::from(r),
                    )
                    .with_label("not part of any token"),
                );
            }
        }
    }
    let mut toks = mend_float_points(toks, diags);
    mark_reductions(&mut toks);
    toks
}

/// `3.` and `.5` are not literals here (a float needs a digit on both
/// sides of its point): say so, with the spelling that is, and read them
/// as that literal so that parsing goes on without a cascade of errors.
/// A point between names (`s.tile`) or in a range (`0..N`) is left alone.
fn mend_float_points(toks: Vec<Spanned>, diags: &mut Vec<Diagnostic>) -> Vec<Spanned> {
    let mut out: Vec<Spanned> = Vec::with_capacity(toks.len());
    let mut it = toks.into_iter().peekable();
    while let Some((l, t, r)) = it.next() {
        let next_adjacent = |it: &mut std::iter::Peekable<std::vec::IntoIter<Spanned>>, at| {
            it.peek()
                .filter(|(nl, _, _)| *nl == at)
                .map(|(_, t, _)| t.clone())
        };
        match t {
            Tok::Int(digits) if next_adjacent(&mut it, r) == Some(Tok::Dot) => {
                let (_, _, dot_end) = it.next().expect("peeked");
                let fixed = format!("{digits}.0");
                diags.push(
                    Diagnostic::error(
                        "a float literal needs a digit after its point",
                        Span::new(l, dot_end),
                    )
                    .with_label(format!("write `{fixed}`")),
                );
                out.push((l, Tok::Float(fixed), dot_end));
            }
            Tok::Dot
                if !matches!(out.last(), Some((_, Tok::Ident(_) | Tok::RParen, _)))
                    && matches!(next_adjacent(&mut it, r), Some(Tok::Int(_))) =>
            {
                let Some((_, Tok::Int(digits), end)) = it.next() else {
                    unreachable!("peeked an integer")
                };
                let fixed = format!("0.{digits}");
                diags.push(
                    Diagnostic::error(
                        "a float literal needs a digit before its point",
                        Span::new(l, end),
                    )
                    .with_label(format!("write `{fixed}`")),
                );
                out.push((l, Tok::Float(fixed), end));
            }
            t => out.push((l, t, r)),
        }
    }
    out
}

/// `sum`/`prod` followed by `( ... )` and then the start of an expression are
/// reductions. `min`/`max` are too, except when the token after `)` is `-`:
/// `max(a, b) - 1` is a call, so a reduction body cannot start with a minus
/// sign (write `max(k) (-x[k])`).
fn mark_reductions(toks: &mut [Spanned]) {
    for i in 0..toks.len() {
        let Tok::Ident(name) = &toks[i].1 else {
            continue;
        };
        let Some(op) = ReduceOp::from_name(name) else {
            continue;
        };
        if !matches!(toks.get(i + 1), Some((_, Tok::LParen, _))) {
            continue;
        }
        // find the matching `)`
        let mut depth = 0usize;
        let mut close = None;
        for (j, t) in toks.iter().enumerate().skip(i + 1) {
            match t.1 {
                Tok::LParen | Tok::LBracket => depth += 1,
                Tok::RParen | Tok::RBracket => {
                    depth -= 1;
                    if depth == 0 {
                        close = Some(j);
                        break;
                    }
                }
                Tok::Semi | Tok::LBrace | Tok::RBrace => break,
                _ => {}
            }
        }
        let Some(close) = close else { continue };
        let next = toks.get(close + 1).map(|t| &t.1);
        let starts_body = match next {
            Some(
                Tok::Ident(_)
                | Tok::Int(_)
                | Tok::Float(_)
                | Tok::True
                | Tok::False
                | Tok::LParen
                | Tok::Bang
                | Tok::Reduce(_),
            ) => true,
            Some(Tok::Minus) => !matches!(op, ReduceOp::Min | ReduceOp::Max),
            _ => false,
        };
        if starts_body {
            toks[i].1 = Tok::Reduce(op);
        }
    }
}

impl ReduceOp {
    /// The reduction named by a keyword, if any.
    pub fn from_keyword(s: &str) -> Option<ReduceOp> {
        ReduceOp::from_name(s)
    }
}
