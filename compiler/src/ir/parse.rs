//! Reads the text form printed by `print.rs` back into a [`Module`].
//! Hand-written: the generic op syntax is small, and errors point at the
//! exact token with a [`Diagnostic`] like the language's own.

use super::{Attr, Dim, Loc, Module, OpId, OpSpec, ScalarType, Type, ValueId};
use crate::dialects::Opcode;
use pj_lang::{Diagnostic, Span};
use std::collections::HashMap;

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Value(String),
    Block(String),
    Ident(String),
    Int(i64),
    Float(f64),
    Str(String),
    Punct(char),
    Eof,
}

fn lex(src: &str) -> PResult<Vec<(Tok, Span)>> {
    let bytes = src.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    let is_ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'.';
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'/' && bytes.get(i + 1) == Some(&b'/') {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let tok = if c == b'%' || c == b'^' {
            i += 1;
            while i < bytes.len() && is_ident(bytes[i]) {
                i += 1;
            }
            if i == start + 1 {
                return fail(Diagnostic::error(
                    "expected a name after the sigil",
                    Span::new(start, i),
                ));
            }
            let name = src[start + 1..i].to_string();
            if c == b'%' {
                Tok::Value(name)
            } else {
                Tok::Block(name)
            }
        } else if c.is_ascii_digit()
            || (c == b'-' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            i += 1;
            let mut float = false;
            while i < bytes.len() {
                let d = bytes[i];
                if d.is_ascii_digit() {
                    i += 1;
                } else if d == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
                    float = true;
                    i += 1;
                } else if (d == b'e' || d == b'E')
                    && (bytes.get(i + 1).is_some_and(u8::is_ascii_digit)
                        || (matches!(bytes.get(i + 1), Some(b'-' | b'+'))
                            && bytes.get(i + 2).is_some_and(u8::is_ascii_digit)))
                {
                    float = true;
                    i += 2;
                } else {
                    break;
                }
            }
            let text = &src[start..i];
            let bad = || Diagnostic::error(format!("bad number `{text}`"), Span::new(start, i));
            if float {
                Tok::Float(text.parse().map_err(|_| bad())?)
            } else {
                Tok::Int(text.parse().map_err(|_| bad())?)
            }
        } else if c.is_ascii_alphabetic() || c == b'_' {
            while i < bytes.len() && is_ident(bytes[i]) {
                i += 1;
            }
            Tok::Ident(src[start..i].to_string())
        } else if c == b'"' {
            i += 1;
            let mut s = String::new();
            loop {
                match bytes.get(i) {
                    None => {
                        return fail(Diagnostic::error(
                            "unterminated string",
                            Span::new(start, i),
                        ));
                    }
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') => {
                        match bytes.get(i + 1) {
                            Some(b'n') => s.push('\n'),
                            Some(b'"') => s.push('"'),
                            Some(b'\\') => s.push('\\'),
                            _ => {
                                return fail(Diagnostic::error(
                                    "bad escape in string",
                                    Span::new(i, i + 2),
                                ));
                            }
                        }
                        i += 2;
                    }
                    Some(_) => {
                        let ch = src[i..].chars().next().unwrap_or('?');
                        s.push(ch);
                        i += ch.len_utf8();
                    }
                }
            }
            Tok::Str(s)
        } else if b"(){}[],:=?-".contains(&c) {
            i += 1;
            Tok::Punct(c as char)
        } else {
            let ch = src[i..].chars().next().unwrap_or('?');
            return fail(Diagnostic::error(
                format!("unexpected character `{}`", ch.escape_debug()),
                Span::new(i, i + ch.len_utf8()),
            ));
        };
        out.push((tok, Span::new(start, i)));
    }
    out.push((Tok::Eof, Span::new(src.len(), src.len())));
    Ok(out)
}

/// Parses IR text. The result is not verified; call [`super::verify::verify`].
pub fn parse_module(src: &str) -> Result<Module, Box<Diagnostic>> {
    let toks = lex(src)?;
    let mut p = Parser {
        toks,
        pos: 0,
        m: Module::new(),
        values: HashMap::new(),
    };
    while p.peek() != &Tok::Eof {
        p.values.clear();
        let top = p.m.top;
        p.op(top)?;
    }
    Ok(p.m)
}

struct Parser {
    toks: Vec<(Tok, Span)>,
    pos: usize,
    m: Module,
    values: HashMap<String, ValueId>,
}

/// Diagnostics are large; boxing keeps every `Result` here small.
type PResult<T> = Result<T, Box<Diagnostic>>;

fn fail<T>(d: Diagnostic) -> PResult<T> {
    Err(Box::new(d))
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].0
    }
    fn peek_at(&self, n: usize) -> &Tok {
        &self.toks[(self.pos + n).min(self.toks.len() - 1)].0
    }
    fn span(&self) -> Span {
        self.toks[self.pos].1
    }
    fn bump(&mut self) -> Tok {
        let t = self.toks[self.pos].0.clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }
    fn err<T>(&self, msg: impl Into<String>) -> PResult<T> {
        let found = match self.peek() {
            Tok::Eof => "end of input".to_string(),
            t => format!("{t:?}"),
        };
        fail(Diagnostic::error(msg.into(), self.span()).with_label(format!("found {found}")))
    }
    fn eat(&mut self, c: char) -> bool {
        if *self.peek() == Tok::Punct(c) {
            self.bump();
            true
        } else {
            false
        }
    }
    fn expect(&mut self, c: char) -> PResult<()> {
        if self.eat(c) {
            Ok(())
        } else {
            self.err(format!("expected `{c}`"))
        }
    }
    fn ident(&mut self) -> PResult<String> {
        match self.peek().clone() {
            Tok::Ident(s) => {
                self.bump();
                Ok(s)
            }
            _ => self.err("expected a name"),
        }
    }

    fn use_value(&mut self) -> PResult<ValueId> {
        match self.peek().clone() {
            Tok::Value(n) => match self.values.get(&n) {
                Some(&v) => {
                    self.bump();
                    Ok(v)
                }
                None => fail(
                    Diagnostic::error(format!("use of undefined value `%{n}`"), self.span())
                        .with_label("no earlier definition of this name in the kernel"),
                ),
            },
            _ => self.err("expected a value (`%name`)"),
        }
    }

    fn define(&mut self, name: String, v: ValueId, span: Span) -> PResult<()> {
        if self.values.insert(name.clone(), v).is_some() {
            return fail(Diagnostic::error(
                format!("value `%{name}` is defined twice"),
                span,
            ));
        }
        if !name.chars().all(|c| c.is_ascii_digit()) {
            self.m.set_value_name(v, name);
        }
        Ok(())
    }

    fn op(&mut self, block: super::BlockId) -> PResult<OpId> {
        let start = self.span();
        let mut result_names = Vec::new();
        if matches!(self.peek(), Tok::Value(_)) {
            loop {
                match self.bump() {
                    Tok::Value(n) => result_names.push((n, self.toks[self.pos - 1].1)),
                    _ => return self.err("expected a result name"),
                }
                if !self.eat(',') {
                    break;
                }
            }
            self.expect('=')?;
        }
        let name_span = self.span();
        let name = self.ident()?;
        let Some(opcode) = Opcode::from_name(&name) else {
            return fail(
                Diagnostic::error(format!("unknown op `{name}`"), name_span)
                    .with_help("ops are named `dialect.op`: pj.*, arith.*, math.*"),
            );
        };
        self.expect('(')?;
        let mut operands = Vec::new();
        if !self.eat(')') {
            loop {
                operands.push(self.use_value()?);
                if self.eat(')') {
                    break;
                }
                self.expect(',')?;
            }
        }
        let mut attrs = Vec::new();
        if *self.peek() == Tok::Punct('{') && matches!(self.peek_at(1), Tok::Ident(_)) {
            attrs = self.attr_dict()?;
        }
        let mut types = Vec::new();
        if self.eat(':') {
            loop {
                types.push(self.ty()?);
                if !self.eat(',') {
                    break;
                }
            }
        }
        if types.len() != result_names.len() {
            return fail(Diagnostic::error(
                format!(
                    "{} results are named but {} types are given",
                    result_names.len(),
                    types.len()
                ),
                start.to(self.toks[self.pos.saturating_sub(1)].1),
            ));
        }
        let mut spec = OpSpec::new(opcode).operands(operands);
        spec.result_types = types;
        spec.attrs = attrs;
        let op = self.m.build_op(spec);
        while *self.peek() == Tok::Punct('{') {
            self.region(op)?;
        }
        if *self.peek() == Tok::Ident("loc".into()) {
            self.bump();
            self.expect('(')?;
            if let Tok::Str(f) = self.peek().clone() {
                self.bump();
                self.m.source_name = Some(f);
                self.expect(':')?;
            }
            let line = self.int()?;
            self.expect(':')?;
            let col = self.int()?;
            self.expect(')')?;
            self.m.op_mut(op).loc = Some(Loc {
                line: line as u32,
                col: col as u32,
            });
        }
        let results = self.m.op(op).results.clone();
        for ((n, span), v) in result_names.into_iter().zip(results) {
            self.define(n, v, span)?;
        }
        self.m.append_op(block, op);
        Ok(op)
    }

    fn int(&mut self) -> PResult<i64> {
        match self.peek().clone() {
            Tok::Int(v) => {
                self.bump();
                Ok(v)
            }
            _ => self.err("expected an integer"),
        }
    }

    fn region(&mut self, op: OpId) -> PResult<()> {
        self.expect('{')?;
        let mut first = true;
        let mut region = None;
        loop {
            if self.eat('}') {
                if first {
                    return self.err("a region needs at least one block");
                }
                return Ok(());
            }
            if !matches!(self.peek(), Tok::Block(_)) {
                return self.err("expected a block label (`^bb0`) or `}`");
            }
            self.bump();
            let block = if first {
                let b = self.m.add_region(op);
                region = self.m.op(op).regions.last().copied();
                b
            } else {
                self.m
                    .add_block(region.expect("region created with its first block"))
            };
            first = false;
            if self.eat('(') && !self.eat(')') {
                loop {
                    let span = self.span();
                    let Tok::Value(n) = self.bump() else {
                        return fail(Diagnostic::error(
                            "expected a block argument (`%name`)",
                            span,
                        ));
                    };
                    self.expect(':')?;
                    let ty = self.ty()?;
                    let v = self.m.add_block_arg(block, ty, None);
                    self.define(n, v, span)?;
                    if self.eat(')') {
                        break;
                    }
                    self.expect(',')?;
                }
            }
            self.expect(':')?;
            while !matches!(self.peek(), Tok::Block(_) | Tok::Punct('}') | Tok::Eof) {
                self.op(block)?;
            }
        }
    }

    fn ty(&mut self) -> PResult<Type> {
        let mut span = self.span();
        let mut name = self.ident()?;
        let buffer = name == "buffer";
        if buffer {
            span = self.span();
            name = self.ident()?;
        }
        // vector types: `f32x4`
        if let Some((e, lanes)) = name.rsplit_once('x')
            && let (Some(elem), Ok(lanes)) = (ScalarType::from_name(e), lanes.parse::<u32>())
            && !buffer
        {
            return Ok(Type::Vector { elem, lanes });
        }
        let Some(elem) = ScalarType::from_name(&name) else {
            return fail(Diagnostic::error(format!("unknown type `{name}`"), span));
        };
        if !self.eat('[') {
            if buffer {
                return self.err("expected `[` after a buffer's element type");
            }
            return Ok(Type::Scalar(elem));
        }
        let mut dims = Vec::new();
        if !self.eat(']') {
            loop {
                let d = match self.bump() {
                    Tok::Int(n) if n >= 0 => Dim::Static(n),
                    Tok::Ident(s) => Dim::Sym(s),
                    Tok::Punct('?') => Dim::Dynamic,
                    _ => {
                        self.pos -= 1;
                        return self.err("expected an extent: integer, size name or `?`");
                    }
                };
                dims.push(d);
                if self.eat(']') {
                    break;
                }
                self.expect(',')?;
            }
        }
        Ok(if buffer {
            Type::Buffer { elem, dims }
        } else {
            Type::Tensor { elem, dims }
        })
    }

    fn attr_dict(&mut self) -> PResult<Vec<(String, Attr)>> {
        self.expect('{')?;
        let mut out: Vec<(String, Attr)> = Vec::new();
        if self.eat('}') {
            return Ok(out);
        }
        loop {
            let span = self.span();
            let k = self.ident()?;
            if out.iter().any(|(x, _)| *x == k) {
                return fail(Diagnostic::error(
                    format!("attribute `{k}` is given twice"),
                    span,
                ));
            }
            self.expect('=')?;
            let v = self.attr()?;
            out.push((k, v));
            if self.eat('}') {
                break;
            }
            self.expect(',')?;
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    fn attr(&mut self) -> PResult<Attr> {
        match self.peek().clone() {
            Tok::Int(v) => {
                self.bump();
                Ok(Attr::Int(v))
            }
            Tok::Float(v) => {
                self.bump();
                Ok(Attr::Float(v))
            }
            Tok::Str(s) => {
                self.bump();
                Ok(Attr::Str(s))
            }
            Tok::Punct('-') => {
                self.bump();
                match self.ident()?.as_str() {
                    "inf" => Ok(Attr::Float(f64::NEG_INFINITY)),
                    _ => self.err("expected `inf` after `-`"),
                }
            }
            Tok::Punct('[') => {
                self.bump();
                let mut items = Vec::new();
                if !self.eat(']') {
                    loop {
                        items.push(self.attr()?);
                        if self.eat(']') {
                            break;
                        }
                        self.expect(',')?;
                    }
                }
                Ok(Attr::Array(items))
            }
            Tok::Punct('{') => Ok(Attr::Dict(self.attr_dict()?)),
            Tok::Ident(s) => {
                self.bump();
                match s.as_str() {
                    "true" => Ok(Attr::Bool(true)),
                    "false" => Ok(Attr::Bool(false)),
                    "inf" => Ok(Attr::Float(f64::INFINITY)),
                    "nan" => Ok(Attr::Float(f64::NAN)),
                    "type" => Ok(Attr::Type(self.ty()?)),
                    _ => {
                        self.pos -= 1;
                        self.err("expected an attribute value")
                    }
                }
            }
            _ => self.err("expected an attribute value"),
        }
    }
}
