//! The IR verifier: structural rules, SSA visibility, and each op's own
//! rules (delegated to its dialect). Runs after parsing and after every
//! pass; collects every violation instead of stopping at the first.
//!
//! Rules checked here:
//! - the module's top block holds only kernels (`pj.kernel`, `func.func`);
//! - every operand is defined before its use, in the same block or an
//!   enclosing one (regions see the values of the blocks around them);
//! - every region block is non-empty and ends with a terminator, and
//!   terminators appear nowhere else;
//! - the per-op rules of [`crate::dialects::Opcode::verify`].

use super::{BlockId, Loc, Module, OpId, ValueId};

use std::collections::HashSet;
use std::fmt;

/// One violated invariant.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifyError {
    /// The op at fault.
    pub op: OpId,
    /// Its name, e.g. `pj.stage`.
    pub op_name: String,
    /// Its source location, if known.
    pub loc: Option<Loc>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}' op {}", self.op_name, self.message)?;
        if let Some(l) = self.loc {
            write!(f, " (at {}:{})", l.line, l.col)?;
        }
        Ok(())
    }
}

/// All violations, in program order.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifyErrors(pub Vec<VerifyError>);

impl fmt::Display for VerifyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for VerifyErrors {}

/// Checks the whole module.
pub fn verify(m: &Module) -> Result<(), VerifyErrors> {
    let mut v = Verifier {
        m,
        errors: Vec::new(),
    };
    for &op in &m.block(m.top).ops {
        if !m.op(op).opcode.is_kernel() {
            v.push(
                op,
                "only kernels (`pj.kernel`, `func.func`) may appear at the top level".into(),
            );
        }
    }
    v.block(m.top, &mut HashSet::new(), false);
    if v.errors.is_empty() {
        Ok(())
    } else {
        Err(VerifyErrors(v.errors))
    }
}

struct Verifier<'m> {
    m: &'m Module,
    errors: Vec<VerifyError>,
}

impl Verifier<'_> {
    fn push(&mut self, op: OpId, message: String) {
        let d = self.m.op(op);
        self.errors.push(VerifyError {
            op,
            op_name: d.opcode.name(),
            loc: d.loc,
            message,
        });
    }

    fn block(&mut self, b: BlockId, visible: &mut HashSet<ValueId>, needs_terminator: bool) {
        let data = self.m.block(b);
        let mut scope: HashSet<ValueId> = visible.clone();
        scope.extend(data.args.iter().copied());
        if needs_terminator {
            match data.ops.last() {
                None => {
                    if let Some(owner) = self.m.block_owner(b) {
                        self.push(owner, "has an empty region".into());
                    }
                }
                Some(&last) if !self.m.op(last).opcode.is_terminator() => self.push(
                    last,
                    "is last in its block but is not a terminator (`pj.yield`/`pj.return`)".into(),
                ),
                _ => {}
            }
        }
        for (i, &op) in data.ops.iter().enumerate() {
            let d = self.m.op(op);
            if d.opcode.is_terminator() && i + 1 != data.ops.len() {
                self.push(op, "is a terminator but is not last in its block".into());
            }
            for (k, o) in d.operands.iter().enumerate() {
                if !scope.contains(o) {
                    self.push(
                        op,
                        format!("operand {k} is not defined before this op in an enclosing block"),
                    );
                }
            }
            let mut errs = Vec::new();
            if d.opcode.is_kernel() && b != self.m.top {
                errs.push("kernels may only appear at the top level".into());
            }
            d.opcode.verify(self.m, op, &mut errs);
            for e in errs {
                self.push(op, e);
            }
            for &r in &d.regions {
                for &inner in &self.m.region(r).blocks {
                    self.block(inner, &mut scope, true);
                }
            }
            scope.extend(d.results.iter().copied());
        }
    }
}
