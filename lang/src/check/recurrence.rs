//! Recurrences: a stage that reads its own earlier elements along one dim,
//! with `init` for the reads before its first element
//! (docs/language.md, "Recurrences"). The checker calls in here for every
//! read of the stage being defined and once after its value is checked.

use super::{Checker, Defining};
use crate::ast::{self, BinOp, ExprKind};
use crate::diagnostic::Diagnostic;
use crate::hir::{Recurrence, TExpr, TExprKind, VarId};
use crate::span::Span;
use crate::types::ScalarType;

/// The largest lag a self-read may have: far beyond any filter's order,
/// and small enough that `i - lag` cannot wrap for any index.
pub const MAX_LAG: i64 = 1 << 20;

const DOCS: &str = "see docs/language.md#recurrences";

/// How far back along its dim index `ix` steps from variable `var`:
/// `Some(0)` for `var`, `Some(k)` for `var - k`, `Some(-k)` for `var + k`
/// (a later element); `None` for anything else.
fn lag_of(ix: &ast::Expr, var: &str) -> Option<i64> {
    let is_var = |e: &ast::Expr| matches!(&e.kind, ExprKind::Name(n) if n.name == var);
    match &ix.kind {
        ExprKind::Name(_) if is_var(ix) => Some(0),
        ExprKind::Binary { op, lhs, rhs } if is_var(lhs) => match (&rhs.kind, op) {
            (ExprKind::Int(c), BinOp::Sub) => Some(*c),
            (ExprKind::Int(c), BinOp::Add) => c.checked_neg(),
            _ => None,
        },
        _ => None,
    }
}

impl Checker<'_> {
    /// A read of the stage being defined: a recurrence's read of an earlier
    /// element, `y[r, i - 1]`, or an error that says which rule it breaks.
    pub(super) fn self_read(
        &mut self,
        array: &ast::Ident,
        indices: &[ast::Expr],
        span: Span,
        expected: Option<ScalarType>,
    ) -> TExpr {
        let def = self.defining.as_ref().expect("the caller checked");
        let elem = def.elem.or(expected).unwrap_or(def.fallback);
        let name = array.name.clone();
        let rank = def.vars.len();
        let var_names: Vec<String> = def
            .vars
            .iter()
            .map(|&v| self.vars[v].name.clone())
            .collect();
        let has_init = def.init.is_some();
        if let Some(def) = self.defining.as_mut() {
            def.tried = true;
        }
        if rank == 0 {
            self.error(
                Diagnostic::error(format!("scalar `{name}` reads itself"), span)
                    .with_label("a scalar has one element, so there is no earlier one to read")
                    .with_help(format!(
                        "a recurrence scans a dim: make it an array, `{name}[i] = ... {name}[i - 1] ... init 0.0;` ({DOCS})"
                    )),
            );
            return self.poison(span, elem);
        }
        if self.locals.len() > rank {
            self.error(
                Diagnostic::error(format!("`{name}` reads itself inside a reduction"), span)
                    .with_label("a recurrence reads its earlier elements outside reductions")
                    .with_help(format!(
                        "write each earlier element out, `a1 * {name}[i - 1] + a2 * {name}[i - 2]`, or reduce in a stage above ({DOCS})"
                    )),
            );
            return self.poison(span, elem);
        }
        if indices.len() != rank {
            self.error(super::index_count_error(&name, rank, indices.len(), span));
            return self.poison(span, elem);
        }
        let mut scan: Vec<(usize, i64)> = Vec::new();
        let mut bad = false;
        for (k, ix) in indices.iter().enumerate() {
            let v = &var_names[k];
            match lag_of(ix, v) {
                Some(0) => {}
                Some(lag) if (1..=MAX_LAG).contains(&lag) => scan.push((k, lag)),
                Some(lag) if lag > 0 => {
                    self.error(
                        Diagnostic::error(format!("a lag of {lag} is too large"), ix.span)
                            .with_label(format!(
                                "a recurrence reads at most {MAX_LAG} elements back"
                            )),
                    );
                    bad = true;
                }
                Some(_) => {
                    self.error(
                        Diagnostic::error(
                            format!("`{name}` reads a later element of itself"),
                            ix.span,
                        )
                        .with_label("this element is not computed yet")
                        .with_help(format!(
                            "a recurrence reads earlier elements only, `{v} - 1`; to read ahead, compute the stage first and read it in a later one ({DOCS})"
                        )),
                    );
                    bad = true;
                }
                None => {
                    self.error(
                        Diagnostic::error(
                            format!("`{name}` reads itself at an index a recurrence cannot have"),
                            ix.span,
                        )
                        .with_label(format!(
                            "expected `{v}`, or `{v} - k` with a constant k >= 1"
                        ))
                        .with_help(format!(
                            "a recurrence reads its own elements at its own index variables, one of them stepped back by a constant ({DOCS})"
                        )),
                    );
                    bad = true;
                }
            }
        }
        if bad {
            return self.poison(span, elem);
        }
        let (dim, lag) = match scan.as_slice() {
            [one] => *one,
            [] => {
                self.error(
                    Diagnostic::error(format!("`{name}` reads the element it defines"), span)
                        .with_label("every index is the element's own")
                        .with_help(format!(
                            "a recurrence reads earlier elements, e.g. `{name}[{}]` ({DOCS})",
                            stepped(&var_names, rank - 1)
                        )),
                );
                return self.poison(span, elem);
            }
            [(a, _), (b, _), ..] => {
                self.error(
                    Diagnostic::error("a recurrence steps back along one dim".to_string(), span)
                        .with_label(format!("this read steps back along dims {a} and {b}"))
                        .with_help(format!(
                            "compute one recurrence per dim, in two stages ({DOCS})"
                        )),
                );
                return self.poison(span, elem);
            }
        };
        if !has_init {
            self.error(
                Diagnostic::error(format!("`{name}` reads itself, so it needs `init`"), span)
                    .with_label(format!(
                        "this reads the element {lag} before this one along dim {dim}"
                    ))
                    .with_help(format!(
                        "say what a read before its first element gives: `{name}[...] = ... init 0.0;` ({DOCS})"
                    )),
            );
            return self.poison(span, elem);
        }
        if let Some(def) = self.defining.as_mut() {
            def.reads.push((dim, lag, span));
        }
        TExpr {
            kind: TExprKind::Prior { dim, lag },
            ty: elem,
            span,
        }
    }

    /// After a stage's value is checked: its recurrence, if it reads
    /// itself — one scan dim for every self-read, and an `init` of the
    /// stage's type that does not use the scan variable.
    pub(super) fn recurrence(
        &mut self,
        name: &str,
        vars: &[VarId],
        elem: ScalarType,
        init: Option<TExpr>,
        def: &Defining,
    ) -> Option<Recurrence> {
        let init = init?; // self-reads without it were reported
        let Some(&(dim, _, first)) = def.reads.first() else {
            if def.tried {
                return None; // its self-reads were reported
            }
            self.error(
                Diagnostic::error(
                    format!("`{name}` has `init` but does not read itself"),
                    init.span,
                )
                .with_label("`init` is what a recurrence's reads before its first element give")
                .with_help(format!(
                    "remove `init`, or read an earlier element, `{name}[i - 1]` ({DOCS})"
                )),
            );
            return None;
        };
        let mut ok = true;
        for &(d, _, span) in &def.reads[1..] {
            if d != dim {
                self.error(
                    Diagnostic::error("a recurrence steps back along one dim", span)
                        .with_label(format!("this read steps back along dim {d}"))
                        .with_secondary(first, format!("this one along dim {dim}"))
                        .with_help(format!(
                            "compute one recurrence per dim, in two stages ({DOCS})"
                        )),
                );
                ok = false;
            }
        }
        let scan_var = vars[dim];
        let mut uses = None;
        init.walk(&mut |e| {
            if matches!(e.kind, TExprKind::Var(v) if v == scan_var) && uses.is_none() {
                uses = Some(e.span);
            }
        });
        if let Some(at) = uses {
            let v = &self.vars[scan_var].name;
            self.error(
                Diagnostic::error(format!("`init` uses the scan variable `{v}`"), at)
                    .with_label(format!(
                        "`init` is read before index 0, the same for every `{v}`"
                    ))
                    .with_help("it may use the other index variables, e.g. `init x[r, 0]`"),
            );
            ok = false;
        }
        if init.ty != elem && !self.is_poisoned(&init) {
            self.error(
                Diagnostic::error(
                    format!("`init` is {} but `{name}` holds {elem}", init.ty),
                    init.span,
                )
                .with_help(super::CAST_HELP),
            );
            ok = false;
        }
        let max_lag = def.reads.iter().map(|r| r.1).max().unwrap_or(1);
        ok.then_some(Recurrence { dim, max_lag, init })
    }
}

/// The index list of `vars` with dim `dim` stepped back by one.
fn stepped(vars: &[String], dim: usize) -> String {
    vars.iter()
        .enumerate()
        .map(|(k, v)| {
            if k == dim {
                format!("{v} - 1")
            } else {
                v.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}
