//! Size constraints: `kernel k(x: f32[N, C]) -> ... where C >= 4, N % 2 == 0`
//! (docs/language.md, "Size constraints"). Each is a condition on the
//! sizes, checked once when the kernel is called; the lower bounds they
//! give single sizes (`C >= 4`) are what the bounds prover assumes in
//! place of "every size is at least 1".

use super::Checker;
use crate::ast::{self, BinOp};
use crate::diagnostic::Diagnostic;
use crate::hir::{Const, Constraint, SizeId, TExpr, TExprKind};
use crate::types::ScalarType;

impl Checker<'_> {
    /// Checks a kernel's `where` clause.
    pub(super) fn constraints(&mut self, exprs: &[ast::Expr]) -> Vec<Constraint> {
        let mut out = Vec::new();
        for e in exprs {
            let t = self.expr(e, Some(ScalarType::Bool));
            if self.is_poisoned(&t) {
                continue;
            }
            if t.ty != ScalarType::Bool {
                self.error(
                    Diagnostic::error(
                        format!("a size constraint is a condition, found {}", t.ty),
                        e.span,
                    )
                    .with_help("compare sizes: `where C >= 4, H % 2 == 0`"),
                );
                continue;
            }
            let mut other = None;
            t.walk(&mut |x| {
                if other.is_none()
                    && !matches!(
                        x.kind,
                        TExprKind::Const(_)
                            | TExprKind::Size(_)
                            | TExprKind::Unary(..)
                            | TExprKind::Binary(..)
                            | TExprKind::Call(..)
                            | TExprKind::Cast(_)
                    )
                {
                    other = Some(x.span);
                }
            });
            if let Some(at) = other {
                self.error(
                    Diagnostic::error("a size constraint uses sizes and constants only", at)
                        .with_label("not a size")
                        .with_help(
                            "a condition on values is the kernel's to compute: `select(...)`",
                        ),
                );
                continue;
            }
            let mut sizes: Vec<SizeId> = Vec::new();
            t.walk(&mut |x| {
                if let TExprKind::Size(s) = x.kind
                    && !sizes.contains(&s)
                {
                    sizes.push(s);
                }
            });
            if sizes.is_empty() {
                self.error(
                    Diagnostic::error("this constraint names no size", e.span)
                        .with_help("constrain the sizes of the parameters: `where C >= 4`"),
                );
                continue;
            }
            out.push(Constraint {
                text: crate::unparse::expr(e),
                sizes,
                expr: t,
                span: e.span,
            });
        }
        out
    }
}

/// The least value each size may take given `constraints` (at least 1):
/// from conditions `S >= c`, `S > c`, `c <= S`, `c < S`, `S == c`, alone or
/// joined by `&&`.
pub fn size_minima(sizes: usize, constraints: &[Constraint]) -> Vec<i64> {
    let mut mins = vec![1i64; sizes];
    let mut atoms: Vec<&TExpr> = constraints.iter().map(|c| &c.expr).collect();
    while let Some(e) = atoms.pop() {
        let TExprKind::Binary(op, a, b) = &e.kind else {
            continue;
        };
        let size_const = |x: &TExpr, y: &TExpr| match (&x.kind, &y.kind) {
            (TExprKind::Size(s), TExprKind::Const(Const::Int(c))) => Some((*s, *c)),
            _ => None,
        };
        let found = match op {
            BinOp::And => {
                atoms.extend([&**a, &**b]);
                None
            }
            BinOp::Ge | BinOp::Eq => size_const(a, b),
            BinOp::Gt => size_const(a, b).map(|(s, c)| (s, c.saturating_add(1))),
            BinOp::Le => size_const(b, a),
            BinOp::Lt => size_const(b, a).map(|(s, c)| (s, c.saturating_add(1))),
            _ => None,
        };
        if let Some((s, c)) = found
            && s < sizes
        {
            // sizes are at most MAX_SIZE: a larger minimum admits no call
            mins[s] = mins[s].max(c.min(crate::bounds::MAX_SIZE));
        }
    }
    mins
}
