//! The closed set of dialects. Each dialect is one file with its op enum,
//! names, and per-op verifier; [`Opcode`] ties them together. Adding an op:
//! add the variant, then let the compiler's exhaustive-match errors walk you
//! through every verifier, pass and interpreter arm that must handle it (see
//! `docs/adding-an-op.md`).
//!
//! | dialect | stage of the pipeline | ops |
//! |---|---|---|
//! | `pj` | produced by AST lowering; whole-array kernels, stages, reads, reductions | kernel, size, stage, read, reduce, yield, return |
//! | `arith` | everywhere; scalar arithmetic on any element type | constant, add, sub, ... cast |
//! | `math` | everywhere; elementary functions | abs, exp, log, ... pow |

pub mod arith;
pub mod math;
pub mod pj;

pub use arith::ArithOp;
pub use math::MathOp;
pub use pj::PjOp;

use crate::ir::{Module, OpId};
use std::fmt;

/// Declares a dialect's op enum with its text names.
macro_rules! dialect_ops {
    ($(#[$m:meta])* $name:ident, $prefix:literal, { $($(#[$vm:meta])* $variant:ident => $text:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vm])* $variant),* }
        impl $name {
            /// Every op of the dialect.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];
            /// The op's name without the dialect prefix.
            pub fn mnemonic(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }
            /// Looks an op up by its name without the prefix.
            pub fn from_mnemonic(s: &str) -> Option<$name> {
                match s { $($text => Some($name::$variant),)* _ => None }
            }
            /// The dialect prefix.
            pub const PREFIX: &'static str = $prefix;
        }
    };
}
pub(crate) use dialect_ops;

/// Any op of any dialect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Opcode {
    /// `pj.*`
    Pj(PjOp),
    /// `arith.*`
    Arith(ArithOp),
    /// `math.*`
    Math(MathOp),
}

impl Opcode {
    /// Full name, e.g. `pj.stage`.
    pub fn name(self) -> String {
        match self {
            Opcode::Pj(o) => format!("{}.{}", PjOp::PREFIX, o.mnemonic()),
            Opcode::Arith(o) => format!("{}.{}", ArithOp::PREFIX, o.mnemonic()),
            Opcode::Math(o) => format!("{}.{}", MathOp::PREFIX, o.mnemonic()),
        }
    }

    /// Looks an op up by full name.
    pub fn from_name(s: &str) -> Option<Opcode> {
        let (dialect, op) = s.split_once('.')?;
        match dialect {
            PjOp::PREFIX => PjOp::from_mnemonic(op).map(Opcode::Pj),
            ArithOp::PREFIX => ArithOp::from_mnemonic(op).map(Opcode::Arith),
            MathOp::PREFIX => MathOp::from_mnemonic(op).map(Opcode::Math),
            _ => None,
        }
    }

    /// No side effects, no regions with effects: may be removed if unused
    /// and merged with an identical op (CSE).
    pub fn is_pure(self) -> bool {
        match self {
            Opcode::Pj(o) => o.is_pure(),
            Opcode::Arith(_) | Opcode::Math(_) => true,
        }
    }

    /// Ends a block.
    pub fn is_terminator(self) -> bool {
        matches!(self, Opcode::Pj(PjOp::Yield | PjOp::Return))
    }

    /// Checks the op's own rules (operand and result types, attributes,
    /// regions), pushing one message per violation.
    pub fn verify(self, m: &Module, op: OpId, errs: &mut Vec<String>) {
        match self {
            Opcode::Pj(o) => o.verify(m, op, errs),
            Opcode::Arith(o) => o.verify(m, op, errs),
            Opcode::Math(o) => o.verify(m, op, errs),
        }
    }
}

impl fmt::Display for Opcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// Shared checks used by the dialect verifiers.
pub(crate) mod check {
    use crate::ir::{Module, OpId, Type};

    /// Exactly `n` operands, results and regions.
    pub fn counts(
        m: &Module,
        op: OpId,
        operands: Option<usize>,
        results: usize,
        regions: usize,
        errs: &mut Vec<String>,
    ) {
        let d = m.op(op);
        if let Some(n) = operands
            && d.operands.len() != n
        {
            errs.push(format!("expects {n} operands, has {}", d.operands.len()));
        }
        if d.results.len() != results {
            errs.push(format!(
                "expects {results} results, has {}",
                d.results.len()
            ));
        }
        if d.regions.len() != regions {
            errs.push(format!(
                "expects {regions} regions, has {}",
                d.regions.len()
            ));
        }
    }

    /// Operand `i` has a scalar type; returns it.
    pub fn scalar_operand(
        m: &Module,
        op: OpId,
        i: usize,
        errs: &mut Vec<String>,
    ) -> Option<crate::ir::ScalarType> {
        let v = *m.op(op).operands.get(i)?;
        match m.ty(v) {
            Type::Scalar(s) => Some(*s),
            t => {
                errs.push(format!("operand {i} must be a scalar, found {t}"));
                None
            }
        }
    }
}
