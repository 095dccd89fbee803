//! Updates: `hist[i32(x[i])] += 1 for i;` combines values into elements of
//! a stage at computed indices (a histogram, a scatter), after its
//! definition (docs/language.md, "Updates").

use super::{CAST_HELP, Checker, mentions};
use crate::ast::{self, ReduceOp};
use crate::diagnostic::Diagnostic;
use crate::hir::{ArraySource, TExpr, TExprKind, Update};
use crate::span::Span;
use crate::types::ScalarType;

const DOCS: &str = "see docs/language.md#updates";

impl Checker<'_> {
    /// Checks an update statement and appends it to its stage.
    pub(super) fn update(
        &mut self,
        target: &ast::Ident,
        indices: &[ast::Expr],
        op: &ast::UpdateOp,
        value: &ast::Expr,
        vars: &[ast::ReduceVar],
        span: Span,
    ) {
        let name = &target.name;
        let stage = match self.updatable {
            Some(s) if self.stages[s].name == *name => s,
            _ => {
                let defined = self.stages.iter().any(|s| s.name == *name);
                let d = if defined {
                    Diagnostic::error(
                        format!("an update of `{name}` must follow its definition"),
                        target.span,
                    )
                    .with_label("another statement comes between them")
                    .with_help(format!(
                        "move it right after `{name}[...] = ...;` (and its other updates): every reader then sees the stage complete ({DOCS})"
                    ))
                } else {
                    Diagnostic::error(format!("`{name}` is not a stage defined above"), target.span)
                        .with_label("only a stage can be updated")
                        .with_help(format!(
                            "define it first with its initial values, e.g. `{name}[b] = 0;`, then update it ({DOCS})"
                        ))
                };
                self.error(d);
                return;
            }
        };
        let kind = match op.name.as_str() {
            "+" => ReduceOp::Sum,
            "max" => ReduceOp::Max,
            "min" => ReduceOp::Min,
            other => {
                self.error(
                    Diagnostic::error(format!("`{other}=` is not an update"), op.span)
                        .with_help("an update is `+=`, `max=` or `min=`"),
                );
                return;
            }
        };
        if self.stages[stage].recurrence.is_some() {
            self.error(
                Diagnostic::error(format!("recurrence `{name}` cannot also be updated"), span)
                    .with_help(format!("update a stage of its own, and read that ({DOCS})")),
            );
            return;
        }
        let rank = self.stages[stage].vars.len();
        let elem = self.stages[stage].elem;
        if rank == 0 {
            self.error(
                Diagnostic::error(format!("scalar `{name}` cannot be updated"), span).with_help(
                    format!("a scalar that combines values is a reduction: `{name} = sum(i) ...;`"),
                ),
            );
            return;
        }
        if vars.is_empty() {
            self.error(
                Diagnostic::error("an update needs at least one variable", span)
                    .with_help("write `... for i;` or `... for i in 0..N;`"),
            );
            return;
        }
        // the variables, bound like a reduction's
        let scope = self.locals.len();
        let mut bound = Vec::new();
        for rv in vars {
            self.refuse_shadowing(&rv.name, "update");
            if let Some((lo, hi)) = &rv.range
                && let Some(v) = vars
                    .iter()
                    .find(|o| mentions(lo, &o.name.name) || mentions(hi, &o.name.name))
            {
                self.error(Diagnostic::error(
                    format!(
                        "the range of `{}` uses `{}`, a variable of the same update",
                        rv.name.name, v.name.name
                    ),
                    lo.span.to(hi.span),
                ));
            }
            let range = self.range_bounds(rv, "an update");
            let v = self.declare_var(&rv.name);
            bound.push((v, range, rv.name.span));
        }
        for (v, _, _) in &bound {
            self.locals.push((self.vars[*v].name.clone(), *v));
        }
        let mut ix = Vec::new();
        for e in indices {
            let t = self.expr(e, None);
            if !t.ty.is_int() && !self.is_poisoned(&t) {
                self.error(
                    Diagnostic::error(format!("an index must be an integer, found {}", t.ty), e.span)
                        .with_help("convert with `i64(e)`; float to integer conversion saturates and truncates toward zero"),
                );
            }
            ix.push(t);
        }
        let value = self.expr(value, Some(elem));
        self.locals.truncate(scope);
        if indices.len() != rank {
            self.error(super::index_count_error(
                name,
                rank,
                indices.len(),
                target.span,
            ));
            return;
        }
        if value.ty != elem && !self.is_poisoned(&value) {
            self.error(
                Diagnostic::error(
                    format!("`{name}` holds {elem}, but this value is {}", value.ty),
                    value.span,
                )
                .with_help(CAST_HELP),
            );
            return;
        }
        if elem == ScalarType::Bool {
            self.error(
                Diagnostic::error(
                    format!("`{name}` holds bool, which cannot be combined"),
                    span,
                )
                .with_help("count with an integer stage: `n[b] = 0; n[...] += 1 for i;`"),
            );
            return;
        }
        // the stage being updated is read by nobody inside its update
        let mut reads_itself = None;
        for e in ix.iter().chain([&value]) {
            e.walk(&mut |x| {
                if let TExprKind::Read {
                    source: ArraySource::Stage(s),
                    ..
                } = x.kind
                    && s == stage
                    && reads_itself.is_none()
                {
                    reads_itself = Some(x.span);
                }
            });
        }
        if let Some(at) = reads_itself {
            self.error(
                Diagnostic::error(format!("an update of `{name}` cannot read `{name}`"), at)
                    .with_label("its elements change while the update runs")
                    .with_help(format!("read a stage computed before it ({DOCS})")),
            );
            return;
        }
        let mut out = Vec::new();
        let bodies: Vec<&TExpr> = ix.iter().chain([&value]).collect();
        for (v, range, vspan) in bound {
            match self.resolve_range(v, range, &bodies, vspan, "update") {
                Some(rv) => out.push(rv),
                None => return,
            }
        }
        self.stages[stage].updates.push(Update {
            op: kind,
            vars: out,
            indices: ix,
            value,
            span,
        });
    }
}
