//! The statements of a `pj repl` session, apart from kernel definitions
//! (which are `.pj` source, handed to the language front end whole):
//!
//! ```text
//! :command word "quoted words" ...     settings, inspection, files
//! let b = blur(a)                      bind one result
//! let (s, q) = bicg(a, p, r)           bind several results
//! let a = load("img.npy")              built-ins: load zeros ones rand arange
//! blur(a)                              evaluate and show
//! a                                    show a variable
//! ```
//!
//! Also [`balanced`]: whether an input is complete or needs more lines
//! (an open `{`), for multi-line entry at the prompt and in scripts.

use pj_lang::{Diagnostic, Span};

/// Parse results (diagnostics boxed: they are large and rare).
pub type PResult<T> = Result<T, Box<Diagnostic>>;

fn err<T>(d: Diagnostic) -> PResult<T> {
    Err(Box::new(d))
}

/// One statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Stmt {
    /// `:name args...`
    Command {
        /// The command word, without the colon.
        name: String,
        /// Its arguments: words, or quoted strings with the quotes removed.
        args: Vec<String>,
        /// Where the first argument starts (the rest of the line is there).
        rest: usize,
    },
    /// A `kernel ... { ... }` definition (possibly several).
    Kernels,
    /// `let x = e` or `let (x, y) = e`.
    Let {
        /// The names bound, in order.
        names: Vec<(String, Span)>,
        /// The value.
        value: Expr,
    },
    /// An expression to evaluate and show.
    Expr(Expr),
    /// Nothing (a blank line or a comment).
    Empty,
}

/// An expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A variable (or a type name, as an argument of a built-in).
    Name(String, Span),
    /// A number as written.
    Number(String, Span),
    /// A string literal's contents.
    Str(String, Span),
    /// `f(args)`.
    Call {
        /// The kernel or built-in called.
        name: String,
        /// Where the name is.
        span: Span,
        /// The arguments.
        args: Vec<Expr>,
    },
}

impl Expr {
    /// Where the expression is.
    pub fn span(&self) -> Span {
        match self {
            Expr::Name(_, s) | Expr::Number(_, s) | Expr::Str(_, s) => *s,
            Expr::Call { span, args, .. } => {
                let end = args.last().map_or(span.end, |a| a.span().end + 1);
                Span {
                    start: span.start,
                    end,
                }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Number(String),
    Str(String),
    Punct(char),
}

fn span(start: usize, end: usize) -> Span {
    Span { start, end }
}

fn tokenize(src: &str) -> PResult<Vec<(Tok, Span)>> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i] as char;
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == '/' && b.get(i + 1) == Some(&b'/') {
            break;
        } else if c.is_ascii_alphabetic() || c == '_' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push((Tok::Ident(src[start..i].to_string()), span(start, i)));
        } else if c.is_ascii_digit()
            || (c == '-' || c == '.') && b.get(i + 1).is_some_and(u8::is_ascii_digit)
        {
            i += 1;
            while i < b.len()
                && (b[i].is_ascii_alphanumeric()
                    || b[i] == b'.'
                    || (matches!(b[i], b'+' | b'-') && matches!(b[i - 1], b'e' | b'E')))
            {
                i += 1;
            }
            out.push((Tok::Number(src[start..i].to_string()), span(start, i)));
        } else if c == '"' {
            let (text, end) = string_literal(src, i)?;
            i = end;
            out.push((Tok::Str(text), span(start, i)));
        } else if "(),=".contains(c) {
            i += 1;
            out.push((Tok::Punct(c), span(start, i)));
        } else {
            let end = start + c.len_utf8();
            return err(Diagnostic::error(format!("unexpected character `{c}`"), span(start, end))
                .with_help("statements are `let x = kernel(args)`, `x`, `kernel(args)`, `:command` or a kernel definition; `:help` lists the commands"));
        }
    }
    Ok(out)
}

/// A `"..."` literal starting at `at`: its contents (`\"` and `\\`
/// unescaped) and the byte after the closing quote.
fn string_literal(src: &str, at: usize) -> PResult<(String, usize)> {
    let mut text = String::new();
    let mut chars = src[at + 1..].char_indices();
    while let Some((k, c)) = chars.next() {
        match c {
            '"' => return Ok((text, at + 1 + k + 1)),
            '\\' => match chars.next() {
                Some((_, e)) => text.push(e),
                None => break,
            },
            c => text.push(c),
        }
    }
    err(
        Diagnostic::error("unterminated string", span(at, src.len()))
            .with_help("close it with `\"`"),
    )
}

/// Parses one complete input (see [`balanced`]).
pub fn parse(src: &str) -> PResult<Stmt> {
    let trimmed = src.trim_start();
    let lead = src.len() - trimmed.len();
    if let Some(cmd) = trimmed.strip_prefix(':') {
        return parse_command(src, lead + 1, cmd);
    }
    if trimmed.split_whitespace().next() == Some("kernel") {
        return Ok(Stmt::Kernels);
    }
    let toks = tokenize(src)?;
    let Some((first, _)) = toks.first().cloned() else {
        return Ok(Stmt::Empty);
    };
    let mut p = Parser {
        toks,
        pos: 0,
        end: src.trim_end().len(),
    };
    let stmt = if first == Tok::Ident("let".into()) {
        p.pos = 1;
        let names = p.pattern()?;
        p.expect('=', "after the names bound by `let`")?;
        let value = p.expr()?;
        Stmt::Let { names, value }
    } else {
        Stmt::Expr(p.expr()?)
    };
    if let Some((t, s)) = p.toks.get(p.pos) {
        return err(Diagnostic::error(
            format!("unexpected {} after the statement", describe(t)),
            *s,
        )
        .with_help("one statement per line"));
    }
    Ok(stmt)
}

fn parse_command(src: &str, at: usize, cmd: &str) -> PResult<Stmt> {
    let name_len = cmd.find(|c: char| c.is_whitespace()).unwrap_or(cmd.len());
    let name = cmd[..name_len].to_string();
    if name.is_empty() {
        return err(
            Diagnostic::error("expected a command name after `:`", span(at - 1, at))
                .with_help("`:help` lists the commands"),
        );
    }
    let mut args = Vec::new();
    let mut i = at + name_len;
    let b = src.as_bytes();
    let rest = src[i..]
        .find(|c: char| !c.is_whitespace())
        .map_or(src.len(), |k| i + k);
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
        } else if b[i] == b'"' {
            let (text, end) = string_literal(src, i)?;
            args.push(text);
            i = end;
        } else {
            let start = i;
            while i < b.len() && !b[i].is_ascii_whitespace() {
                i += 1;
            }
            args.push(src[start..i].to_string());
        }
    }
    Ok(Stmt::Command { name, args, rest })
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident(s) => format!("`{s}`"),
        Tok::Number(s) => format!("number `{s}`"),
        Tok::Str(_) => "a string".into(),
        Tok::Punct(c) => format!("`{c}`"),
    }
}

struct Parser {
    toks: Vec<(Tok, Span)>,
    pos: usize,
    /// End of the input, for errors at the end.
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }

    fn here(&self) -> Span {
        self.toks
            .get(self.pos)
            .map_or(span(self.end, self.end), |(_, s)| *s)
    }

    fn found(&self) -> String {
        self.peek()
            .map_or_else(|| "the end of the line".into(), describe)
    }

    fn expect(&mut self, c: char, what: &str) -> PResult<Span> {
        match self.toks.get(self.pos) {
            Some((Tok::Punct(p), s)) if *p == c => {
                self.pos += 1;
                Ok(*s)
            }
            _ => err(Diagnostic::error(
                format!("expected `{c}` {what}, found {}", self.found()),
                self.here(),
            )),
        }
    }

    fn ident(&mut self, what: &str) -> PResult<(String, Span)> {
        match self.toks.get(self.pos) {
            Some((Tok::Ident(n), s)) => {
                let r = (n.clone(), *s);
                self.pos += 1;
                Ok(r)
            }
            _ => err(Diagnostic::error(
                format!("expected {what}, found {}", self.found()),
                self.here(),
            )),
        }
    }

    fn pattern(&mut self) -> PResult<Vec<(String, Span)>> {
        if self.peek() == Some(&Tok::Punct('(')) {
            self.pos += 1;
            let mut names = vec![self.ident("a name to bind")?];
            while self.peek() == Some(&Tok::Punct(',')) {
                self.pos += 1;
                names.push(self.ident("a name to bind")?);
            }
            self.expect(')', "after the names bound")?;
            Ok(names)
        } else {
            Ok(vec![self.ident("a name to bind after `let`")?])
        }
    }

    fn expr(&mut self) -> PResult<Expr> {
        let Some((t, s)) = self.toks.get(self.pos).cloned() else {
            return err(Diagnostic::error(
                "expected a value: a variable, a number, a string or a call",
                self.here(),
            ));
        };
        self.pos += 1;
        match t {
            Tok::Number(n) => Ok(Expr::Number(n, s)),
            Tok::Str(text) => Ok(Expr::Str(text, s)),
            Tok::Ident(name) if self.peek() == Some(&Tok::Punct('(')) => {
                self.pos += 1;
                let mut args = Vec::new();
                if self.peek() != Some(&Tok::Punct(')')) {
                    args.push(self.expr()?);
                    while self.peek() == Some(&Tok::Punct(',')) {
                        self.pos += 1;
                        args.push(self.expr()?);
                    }
                }
                self.expect(')', &format!("after the arguments of `{name}`"))?;
                Ok(Expr::Call {
                    name,
                    span: s,
                    args,
                })
            }
            Tok::Ident(name) => Ok(Expr::Name(name, s)),
            t => err(Diagnostic::error(
                format!("expected a value, found {}", describe(&t)),
                s,
            )),
        }
    }
}

/// Whether `src` is complete: every `{` outside comments and strings is
/// closed (a kernel definition spans lines; other statements are one
/// line). An input that closes more than it opens is complete (and will
/// fail to parse, with a diagnostic).
pub fn balanced(src: &str) -> bool {
    let mut depth = 0i64;
    for line in src.lines() {
        let mut in_str = false;
        let mut escaped = false;
        let mut prev = ' ';
        for c in line.chars() {
            if in_str {
                match (escaped, c) {
                    (true, _) => escaped = false,
                    (false, '\\') => escaped = true,
                    (false, '"') => in_str = false,
                    _ => {}
                }
                continue;
            }
            match c {
                '/' if prev == '/' => break,
                '"' => in_str = true,
                '{' => depth += 1,
                '}' => depth -= 1,
                _ => {}
            }
            prev = c;
        }
    }
    depth <= 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: &str) -> String {
        n.to_string()
    }

    #[test]
    fn statements_parse() {
        match parse("let b = blur(a)").unwrap() {
            Stmt::Let { names, value } => {
                assert_eq!(names[0].0, "b");
                assert!(
                    matches!(value, Expr::Call { ref name, ref args, .. } if name == "blur" && args.len() == 1)
                );
            }
            s => panic!("{s:?}"),
        }
        match parse("let (s, q) = bicg(a, p, 2.5)").unwrap() {
            Stmt::Let { names, value } => {
                assert_eq!(names.len(), 2);
                let Expr::Call { args, .. } = value else {
                    panic!()
                };
                assert!(matches!(&args[2], Expr::Number(n, _) if n == "2.5"));
            }
            s => panic!("{s:?}"),
        }
        assert!(matches!(
            parse(r#"let img = load("my \"photo\".png")"#).unwrap(),
            Stmt::Let { value: Expr::Call { args, .. }, .. }
                if matches!(&args[0], Expr::Str(s, _) if s == "my \"photo\".png")
        ));
        assert_eq!(
            parse(r#":save b "out file.png""#).unwrap(),
            Stmt::Command {
                name: name("save"),
                args: vec![name("b"), name("out file.png")],
                rest: 6
            }
        );
        assert_eq!(parse("  // a comment").unwrap(), Stmt::Empty);
        assert_eq!(
            parse("kernel k(x: f32[N]) -> y: f32[N] { y[i] = x[i]; }").unwrap(),
            Stmt::Kernels
        );
        assert!(
            matches!(parse("-1.5e-3").unwrap(), Stmt::Expr(Expr::Number(n, _)) if n == "-1.5e-3")
        );
    }

    #[test]
    fn errors_point_at_the_problem() {
        let e = parse("let = blur(a)").unwrap_err();
        assert!(e.message.contains("expected a name to bind"), "{e:?}");
        let e = parse("blur(a").unwrap_err();
        assert!(
            e.message
                .contains("expected `)` after the arguments of `blur`"),
            "{e:?}"
        );
        let e = parse("blur(a) b").unwrap_err();
        assert!(e.message.contains("unexpected `b`"), "{e:?}");
        let e = parse("a $ b").unwrap_err();
        assert!(e.message.contains("unexpected character `$`"), "{e:?}");
        let e = parse("load(\"x").unwrap_err();
        assert!(e.message.contains("unterminated string"), "{e:?}");
    }

    #[test]
    fn balance_decides_continuation() {
        assert!(balanced("let b = blur(a)"));
        assert!(!balanced("kernel k(x: f32[N]) -> y: f32[N] {"));
        assert!(!balanced(
            "kernel k(x: f32[N]) -> y: f32[N] {\n  y[i] = x[i];"
        ));
        assert!(balanced(
            "kernel k(x: f32[N]) -> y: f32[N] {\n  y[i] = x[i];\n}"
        ));
        assert!(balanced("let a = load(\"{\")"));
        assert!(balanced("x // {"));
        assert!(
            balanced("zeros(f32,"),
            "one line: a parse error, not a continuation"
        );
    }
}
