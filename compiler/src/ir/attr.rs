//! Attributes: compile-time data attached to an op (`{name = "bx", dim = 0}`).

use super::types::Type;
use std::fmt;

/// An attribute value.
#[derive(Clone, Debug, PartialEq)]
pub enum Attr {
    /// `3`, `-1`
    Int(i64),
    /// `3.0`, `1e-5`, `inf`, `-inf`, `nan`
    Float(f64),
    /// `true`
    Bool(bool),
    /// `"text"`
    Str(String),
    /// `[a, b]`
    Array(Vec<Attr>),
    /// `{k = v, ...}`
    Dict(Vec<(String, Attr)>),
    /// `type f32[?]`
    Type(Type),
}

impl Attr {
    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Attr::Int(v) => Some(*v),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Attr::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Attr::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[Attr]> {
        match self {
            Attr::Array(a) => Some(a),
            _ => None,
        }
    }

    /// Looks a key up, if this is a dictionary.
    pub fn get(&self, key: &str) -> Option<&Attr> {
        match self {
            Attr::Dict(d) => d.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Formats a float so that parsing the text gives the same bits back (NaN
/// payloads aside).
pub fn format_float(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        if v > 0.0 { "inf".into() } else { "-inf".into() }
    } else {
        // `{:?}` is the shortest text that round-trips and always shows a `.` or exponent.
        format!("{v:?}")
    }
}

fn escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

impl fmt::Display for Attr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Attr::Int(v) => write!(f, "{v}"),
            Attr::Float(v) => f.write_str(&format_float(*v)),
            Attr::Bool(b) => write!(f, "{b}"),
            Attr::Str(s) => write!(f, "\"{}\"", escape(s)),
            Attr::Array(a) => {
                f.write_str("[")?;
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{x}")?;
                }
                f.write_str("]")
            }
            Attr::Dict(d) => write_dict(f, d),
            Attr::Type(t) => write!(f, "type {t}"),
        }
    }
}

/// Writes `{k = v, ...}`.
pub fn write_dict(f: &mut impl fmt::Write, d: &[(String, Attr)]) -> fmt::Result {
    f.write_str("{")?;
    for (i, (k, v)) in d.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{k} = {v}")?;
    }
    f.write_str("}")
}
