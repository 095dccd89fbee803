//! The generic text form of the IR. Every op prints the same way:
//!
//! ```text
//! %r0, %r1 = dialect.op(%a, %b) {key = value} : type0, type1 {
//! ^bb0(%arg: i64):
//!   ...
//! } loc("file.pj":3:5)
//! ```
//!
//! Value names come from name hints where they exist (`%input`, `%y`) and
//! are made unique per kernel with a suffix; other values are numbered in
//! definition order. Output depends only on the IR, never on hash order, so
//! it is stable for snapshot tests, and `parse.rs` reads it back.

use super::attr::write_dict;
use super::{BlockId, Module, OpId, ValueId};
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

/// Printing options.
#[derive(Clone, Copy, Debug, Default)]
pub struct PrintOptions {
    /// Print `loc(...)` after ops that have a source location.
    pub locs: bool,
}

/// Prints the whole module.
pub fn print_module(m: &Module, opts: PrintOptions) -> String {
    let mut out = String::new();
    for (i, k) in m.kernels().into_iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&print_kernel(m, k, opts));
    }
    out
}

/// Prints one top-level op (a kernel) with fresh value numbering.
pub fn print_kernel(m: &Module, kernel: OpId, opts: PrintOptions) -> String {
    let mut p = Printer {
        m,
        opts,
        names: Namer::default(),
        out: String::new(),
    };
    p.name_op(kernel);
    p.op(kernel, 0);
    p.out
}

#[derive(Default)]
struct Namer {
    names: HashMap<ValueId, String>,
    used: HashSet<String>,
    next: u32,
}

impl Namer {
    fn assign(&mut self, v: ValueId, hint: Option<&str>) {
        let hint = hint.filter(|h| {
            !h.is_empty()
                && !h.chars().all(|c| c.is_ascii_digit())
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        });
        let name = match hint {
            Some(h) if !self.used.contains(h) => h.to_string(),
            Some(h) => (1..)
                .map(|i| format!("{h}_{i}"))
                .find(|n| !self.used.contains(n))
                .expect("a free name"),
            None => loop {
                let n = self.next.to_string();
                self.next += 1;
                if !self.used.contains(&n) {
                    break n;
                }
            },
        };
        self.used.insert(name.clone());
        self.names.insert(v, name);
    }
}

struct Printer<'m> {
    m: &'m Module,
    opts: PrintOptions,
    names: Namer,
    out: String,
}

impl Printer<'_> {
    /// Names values in the order the text defines them.
    fn name_op(&mut self, op: OpId) {
        let d = self.m.op(op);
        for &r in &d.regions {
            for &b in &self.m.region(r).blocks {
                self.name_block(b);
            }
        }
        for &r in &d.results {
            self.names.assign(r, self.m.value(r).name.as_deref());
        }
    }

    fn name_block(&mut self, b: BlockId) {
        for &a in &self.m.block(b).args {
            self.names.assign(a, self.m.value(a).name.as_deref());
        }
        for &op in &self.m.block(b).ops {
            self.name_op(op);
        }
    }

    fn v(&self, v: ValueId) -> String {
        match self.names.names.get(&v) {
            Some(n) => format!("%{n}"),
            None => format!("%<undefined {}>", v.0),
        }
    }

    fn op(&mut self, op: OpId, indent: usize) {
        let d = self.m.op(op);
        let pad = "  ".repeat(indent);
        self.out.push_str(&pad);
        if !d.results.is_empty() {
            let rs: Vec<String> = d.results.iter().map(|&r| self.v(r)).collect();
            let _ = write!(self.out, "{} = ", rs.join(", "));
        }
        let ops: Vec<String> = d.operands.iter().map(|&o| self.v(o)).collect();
        let _ = write!(self.out, "{}({})", d.opcode, ops.join(", "));
        if !d.attrs.is_empty() {
            self.out.push(' ');
            let _ = write_dict(&mut self.out, &d.attrs);
        }
        if !d.results.is_empty() {
            let ts: Vec<String> = d
                .results
                .iter()
                .map(|&r| self.m.ty(r).to_string())
                .collect();
            let _ = write!(self.out, " : {}", ts.join(", "));
        }
        for &r in &d.regions {
            self.out.push_str(" {\n");
            for &b in &self.m.region(r).blocks {
                let label = format!(
                    "^bb{}",
                    self.m
                        .region(r)
                        .blocks
                        .iter()
                        .position(|&x| x == b)
                        .unwrap_or(0)
                );
                let args: Vec<String> = self
                    .m
                    .block(b)
                    .args
                    .iter()
                    .map(|&a| format!("{}: {}", self.v(a), self.m.ty(a)))
                    .collect();
                if args.is_empty() {
                    let _ = writeln!(self.out, "{pad}{label}:");
                } else {
                    let _ = writeln!(self.out, "{pad}{label}({}):", args.join(", "));
                }
                for &inner in &self.m.block(b).ops {
                    self.op(inner, indent + 1);
                }
            }
            self.out.push_str(&pad);
            self.out.push('}');
        }
        if self.opts.locs
            && let Some(loc) = d.loc
        {
            {
                match &self.m.source_name {
                    Some(f) => {
                        let _ = write!(
                            self.out,
                            " loc({}:{}:{})",
                            super::Attr::Str(f.clone()),
                            loc.line,
                            loc.col
                        );
                    }
                    None => {
                        let _ = write!(self.out, " loc({}:{})", loc.line, loc.col);
                    }
                }
            }
        }
        self.out.push('\n');
    }
}
