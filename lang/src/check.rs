//! Name resolution, type checking and shape checking: [`ast::File`] to
//! [`hir::Program`], then bounds inference ([`crate::bounds::infer`]) per kernel.
//!
//! Every independent error is reported; an expression that failed to check
//! is marked so its parents do not pile follow-up errors on it.

use crate::ast::{self, BinOp, ExprKind, ReduceOp, UnaryOp};
use crate::bounds::{self, SizeExpr};
use crate::diagnostic::Diagnostic;
use crate::hir::*;
use crate::span::Span;
use crate::types::{Boundary, ScalarType};
use std::collections::{HashMap, HashSet};

mod constraints;
mod recurrence;
mod update;
pub use constraints::size_minima;
pub use recurrence::MAX_LAG;

/// Checks every kernel of a file. Kernels containing syntax errors are
/// skipped (their errors are already reported) so they do not cascade.
pub fn check_file(file: &ast::File) -> (Program, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let mut kernels: Vec<Kernel> = Vec::new();
    let kernel_names: std::rc::Rc<HashSet<String>> =
        std::rc::Rc::new(file.kernels.iter().map(|k| k.name.name.clone()).collect());
    let (functions, bad_functions) = check_functions(file, &kernel_names, &mut diags);
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for k in &file.kernels {
        if let Some(prev) = seen.insert(&k.name.name, k.name.span) {
            diags.push(
                Diagnostic::error(
                    format!("kernel `{}` is defined twice", k.name.name),
                    k.name.span,
                )
                .with_secondary(prev, "first defined here"),
            );
            continue;
        }
        if k.body.iter().any(|s| matches!(s, ast::Stmt::Error(_))) {
            continue;
        }
        let errors_before = diags.iter().filter(|d| d.is_error()).count();
        let mut cx = Checker::new(&mut diags);
        cx.functions = functions.clone();
        cx.bad_functions = bad_functions.clone();
        cx.kernel_names = kernel_names.clone();
        if let Some(mut kernel) = cx.kernel(k) {
            // inlined functions deepen expressions: keep them as shallow as
            // the parser keeps what is written, for every pass after this
            let values = kernel
                .stages
                .iter()
                .map(|st| (&st.name, &st.value, st.span));
            let lets = kernel.lets.iter().map(|l| (&l.name, &l.value, l.span));
            for (name, value, span) in values.chain(lets) {
                let depth = texpr_depth(value);
                if depth > crate::parse::MAX_NESTING {
                    diags.push(
                        Diagnostic::error(
                            format!(
                                "with its functions inlined, the value of `{name}` nests {depth} deep; at most {} is allowed",
                                crate::parse::MAX_NESTING
                            ),
                            span,
                        )
                        .with_help("split it into `let`s or stages"),
                    );
                }
            }
            // Bounds inference needs a well-typed kernel.
            if diags.iter().filter(|d| d.is_error()).count() == errors_before {
                diags.extend(bounds::infer(&mut kernel));
                diags.extend(bounds::check_size_arith(&kernel));
            }
            kernels.push(kernel);
        }
    }
    (Program { kernels }, diags)
}

/// Checks every helper function once, on its own (its parameters as
/// opaque values of their types): the ones that check cleanly, by name,
/// and the names of those that do not. Each is inlined where it is called,
/// with its parameters standing for the arguments, so a clean function
/// checks cleanly at every call.
fn check_functions(
    file: &ast::File,
    kernel_names: &std::rc::Rc<HashSet<String>>,
    diags: &mut Vec<Diagnostic>,
) -> (
    std::rc::Rc<HashMap<String, ast::Function>>,
    std::rc::Rc<HashSet<String>>,
) {
    let mut good: HashMap<String, ast::Function> = HashMap::new();
    let mut bad: HashSet<String> = HashSet::new();
    let mut spans: HashMap<&str, Span> = HashMap::new();
    for f in &file.functions {
        let name = f.name.name.as_str();
        let clash = if let Some(prev) = spans.insert(name, f.name.span) {
            Some(("a function", prev))
        } else if Builtin::from_name(name).is_some() || ScalarType::from_name(name).is_some() {
            Some(("a builtin", f.name.span))
        } else {
            file.kernels
                .iter()
                .find(|k| k.name.name == name)
                .map(|k| ("a kernel", k.name.span))
        };
        if let Some((what, prev)) = clash {
            let mut d = Diagnostic::error(
                format!("function `{name}` has the name of {what}"),
                f.name.span,
            );
            if prev != f.name.span {
                d = d.with_secondary(prev, "defined here");
            }
            diags.push(d);
            bad.insert(name.to_string());
        }
    }
    // every function in order, seeing the ones above it that are clean
    let all: std::rc::Rc<HashMap<String, ast::Function>> = std::rc::Rc::new(
        file.functions
            .iter()
            .map(|f| (f.name.name.clone(), f.clone()))
            .collect(),
    );
    for f in &file.functions {
        if bad.contains(&f.name.name) {
            continue;
        }
        let before = diags.iter().filter(|d| d.is_error()).count();
        let mut cx = Checker::new(diags);
        cx.functions = all.clone();
        cx.bad_functions = std::rc::Rc::new(bad.clone());
        cx.kernel_names = kernel_names.clone();
        let mut types = Vec::new();
        for (i, p) in f.params.iter().enumerate() {
            if p.dims.is_some() || !p.annotations.is_empty() {
                cx.error(
                    Diagnostic::error(
                        format!(
                            "parameter `{}` of function `{}` must be a plain scalar",
                            p.name.name, f.name.name
                        ),
                        p.span,
                    )
                    .with_help(
                        "functions take and return scalars: pass an element, `x[i]`, not the array",
                    ),
                );
            }
            let t = cx.scalar_type(&p.elem).unwrap_or(ScalarType::F32);
            // an opaque value of the parameter's type
            types.push((
                p.name.name.clone(),
                TExpr {
                    kind: TExprKind::Scalar(i),
                    ty: t,
                    span: p.name.span,
                },
            ));
        }
        let ret = cx.scalar_type(&f.ret);
        cx.inline_body(f, types, ret);
        // every parameter and let used: an argument's errors (a division by
        // zero) cannot vanish because its parameter is never read
        let mut exprs: Vec<&ast::Expr> = f.lets.iter().map(|(_, e)| e).collect();
        exprs.push(&f.value);
        let named = f
            .params
            .iter()
            .map(|p| (&p.name, "parameter"))
            .chain(f.lets.iter().map(|(n, _)| (n, "let")));
        for (i, (n, what)) in named.enumerate() {
            let later = if what == "let" {
                i - f.params.len() + 1
            } else {
                0
            };
            if !exprs[later..].iter().any(|e| mentions(e, &n.name)) {
                cx.error(
                    Diagnostic::error(
                        format!("{what} `{}` of function `{}` is never used", n.name, f.name.name),
                        n.span,
                    )
                    .with_help(if what == "let" {
                        "remove it"
                    } else {
                        "remove it: every argument of a call is evaluated (a division by zero in it is an error), so its parameter must be read"
                    }),
                );
            }
        }
        drop(cx);
        if diags.iter().filter(|d| d.is_error()).count() == before {
            good.insert(f.name.name.clone(), f.clone());
        } else {
            bad.insert(f.name.name.clone());
        }
    }
    (std::rc::Rc::new(good), std::rc::Rc::new(bad))
}

/// The depth of `e`, without recursion.
fn texpr_depth(e: &TExpr) -> usize {
    let mut best = 0;
    let mut stack = vec![(e, 1usize)];
    while let Some((e, d)) = stack.pop() {
        best = best.max(d);
        let mut children: Vec<&TExpr> = Vec::new();
        match &e.kind {
            TExprKind::Read { indices, .. } => children.extend(indices),
            TExprKind::Unary(_, x) | TExprKind::Cast(x) => children.push(x),
            TExprKind::Binary(_, a, b) => children.extend([&**a, &**b]),
            TExprKind::Call(_, args) => children.extend(args),
            TExprKind::Reduce { vars, body, .. } => {
                for v in vars {
                    children.extend([&v.lo, &v.hi]);
                }
                children.push(body);
            }
            _ => {}
        }
        stack.extend(children.into_iter().map(|c| (c, d + 1)));
    }
    best
}

/// Whether `e` mentions the name `name` (expressions are at most
/// `parse::MAX_NESTING` deep, so the recursion is bounded).
fn mentions(e: &ast::Expr, name: &str) -> bool {
    match &e.kind {
        ExprKind::Name(id) => id.name == name,
        ExprKind::Int(_) | ExprKind::Float(_) | ExprKind::Bool(_) => false,
        ExprKind::Index { indices: v, .. } | ExprKind::Call { args: v, .. } => {
            v.iter().any(|x| mentions(x, name))
        }
        ExprKind::Unary { expr, .. } => mentions(expr, name),
        ExprKind::Binary { lhs, rhs, .. } => mentions(lhs, name) || mentions(rhs, name),
        ExprKind::Reduce { vars, body, .. } => {
            mentions(body, name)
                || vars
                    .iter()
                    .filter_map(|v| v.range.as_ref())
                    .any(|(a, b)| mentions(a, name) || mentions(b, name))
        }
    }
}

/// Whether `e` was written in parentheses as a whole: the parser keeps a
/// parenthesized expression's kind and widens its span over the
/// parentheses, so a binary expression in them starts before its left
/// operand does.
fn parenthesized(e: &ast::Expr) -> bool {
    match &e.kind {
        ExprKind::Binary { lhs, .. } => lhs.span.start != e.span.start,
        _ => false,
    }
}

/// The terms of `e`'s top-level `+`/`-` chain, as written (a term in
/// parentheses is one term), with the operator before each (`None` for
/// the first).
fn additive_terms(e: &ast::Expr) -> Vec<(Option<BinOp>, &ast::Expr)> {
    let mut terms = Vec::new();
    let mut e = e;
    let mut rights = Vec::new();
    while let ExprKind::Binary {
        op: op @ (BinOp::Add | BinOp::Sub),
        lhs,
        rhs,
    } = &e.kind
    {
        if parenthesized(e) {
            break;
        }
        rights.push((*op, &**rhs));
        e = lhs;
    }
    terms.push((None, e));
    terms.extend(rights.into_iter().rev().map(|(op, t)| (Some(op), t)));
    terms
}

/// The most dims an array parameter or result may have (`PJ_MAX_RANK`).
pub const MAX_RANK: usize = 8;

/// The most elements `cache_block(k, cols)` may hold.
const MAX_CACHE_BLOCK: i64 = 1 << 24;

/// What a name refers to at kernel level.
#[derive(Clone, Copy, Debug)]
enum Binding {
    Param(usize),
    Size(SizeId),
    Let(LetId),
    Stage(StageId),
    /// A result declared but not yet defined: its index in `Checker::results`.
    PendingResult(usize),
}

struct Checker<'d> {
    diags: &'d mut Vec<Diagnostic>,
    params: Vec<Param>,
    sizes: Vec<SizeDecl>,
    results: Vec<ResultDecl>,
    lets: Vec<Let>,
    stages: Vec<Stage>,
    vars: Vec<VarDecl>,
    body: Vec<Item>,
    globals: HashMap<String, (Binding, Span)>,
    /// Index and reduction variables in scope, innermost last.
    locals: Vec<(String, VarId)>,
    /// Expressions that failed to check (by span) are typed with this flag.
    poisoned: HashSet<Span>,
    /// Per stage, the natural extent of each dim (see [`Checker::natural`]).
    natural: Vec<Vec<Option<SizeExpr>>>,
    /// Results whose declaration was rejected: their definitions are checked but not kept.
    failed_results: HashSet<String>,
    /// The file's helper functions that checked cleanly, by name.
    functions: std::rc::Rc<HashMap<String, ast::Function>>,
    /// Functions that failed to check: calls to them are poisoned quietly.
    bad_functions: std::rc::Rc<HashSet<String>>,
    /// The file's kernel names (a kernel cannot be called).
    kernel_names: std::rc::Rc<HashSet<String>>,
    /// While a function's body is inlined: what its parameters and lets
    /// stand for (nothing of the kernel is in scope), and the calls being
    /// inlined, outermost first.
    inlining: Option<Inlining>,
    /// The stage whose value is being checked: a read of it is a
    /// recurrence's self-read.
    defining: Option<Defining>,
    /// The stage the last statement defined or updated: the one an update
    /// may update.
    updatable: Option<StageId>,
}

/// A stage being defined (docs/language.md, "Recurrences").
struct Defining {
    name: String,
    vars: Vec<VarId>,
    /// What its self-reads are: the declared result type, else `init`'s;
    /// `None` while a literal `init` leaves it to the context.
    elem: Option<ScalarType>,
    /// A self-read's type when `elem` is `None` and nothing else says.
    fallback: ScalarType,
    /// Where `init` is written, if it is.
    init: Option<Span>,
    /// Each self-read: the scan dim, the lag and where it is.
    reads: Vec<(usize, i64, Span)>,
    /// Whether any read of itself was seen, valid or not.
    tried: bool,
}

/// The scope of a function body being inlined.
struct Inlining {
    names: Vec<(String, TExpr)>,
    calls: Vec<String>,
}

/// How many function calls may be inlined one inside another.
const MAX_INLINE_DEPTH: usize = 8;

fn is_literal_like(e: &ast::Expr) -> bool {
    match &e.kind {
        ExprKind::Int(_) | ExprKind::Float(_) => true,
        ExprKind::Unary {
            op: UnaryOp::Neg,
            expr,
        } => is_literal_like(expr),
        ExprKind::Binary { op, lhs, rhs }
            if !op.is_comparison() && !matches!(op, BinOp::And | BinOp::Or) =>
        {
            is_literal_like(lhs) && is_literal_like(rhs)
        }
        _ => false,
    }
}

/// An access of `name` (rank `rank`) written with `given` indices.
fn index_count_error(name: &str, rank: usize, given: usize, span: Span) -> Diagnostic {
    Diagnostic::error(
        format!("`{name}` has {rank} dims, but {given} indices are given"),
        span,
    )
    .with_label(format!("expected {rank} indices"))
}

const CAST_HELP: &str =
    "the language has no implicit conversions: convert with a cast such as `f32(e)` or `i32(e)`";

impl<'d> Checker<'d> {
    fn new(diags: &'d mut Vec<Diagnostic>) -> Self {
        Checker {
            diags,
            params: vec![],
            sizes: vec![],
            results: vec![],
            lets: vec![],
            stages: vec![],
            vars: vec![],
            body: vec![],
            globals: HashMap::new(),
            locals: vec![],
            poisoned: HashSet::new(),
            natural: vec![],
            failed_results: HashSet::new(),
            functions: Default::default(),
            bad_functions: Default::default(),
            kernel_names: Default::default(),
            inlining: None,
            defining: None,
            updatable: None,
        }
    }

    fn error(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn poison(&mut self, span: Span, ty: ScalarType) -> TExpr {
        self.poisoned.insert(span);
        TExpr {
            kind: TExprKind::Const(Const::Int(0)),
            ty,
            span,
        }
    }

    fn is_poisoned(&self, e: &TExpr) -> bool {
        self.poisoned.contains(&e.span)
    }

    fn declare(&mut self, name: &crate::ast::Ident, b: Binding, what: &str) -> bool {
        if let Some((prev, span)) = self.globals.get(&name.name) {
            let prev_what = match prev {
                Binding::Param(_) => "a parameter",
                Binding::Size(_) => "a size name",
                Binding::Let(_) => "a `let`",
                Binding::Stage(_) | Binding::PendingResult(_) => "a stage",
            };
            let d = Diagnostic::error(
                format!("{what} `{}` is already defined", name.name),
                name.span,
            )
            .with_label(format!("`{}` is already {prev_what}", name.name))
            .with_secondary(*span, "first defined here");
            self.error(d);
            return false;
        }
        self.globals.insert(name.name.clone(), (b, name.span));
        true
    }

    fn scalar_type(&mut self, id: &crate::ast::Ident) -> Option<ScalarType> {
        let t = ScalarType::from_name(&id.name);
        if t.is_none() {
            let names: Vec<&str> = ScalarType::ALL.iter().map(|t| t.name()).collect();
            self.error(
                Diagnostic::error(format!("unknown element type `{}`", id.name), id.span)
                    .with_help(format!("element types are {}", names.join(", "))),
            );
        }
        t
    }

    fn kernel(&mut self, k: &ast::Kernel) -> Option<Kernel> {
        for (i, p) in k.params.iter().enumerate() {
            self.param(i, p);
        }
        for r in &k.results {
            self.result(r);
        }
        if k.results.is_empty() {
            self.error(
                Diagnostic::error(
                    format!("kernel `{}` has no results", k.name.name),
                    k.name.span,
                )
                .with_help("a kernel computes at least one array: `-> y: f32[N]`"),
            );
        }
        let constraints = self.constraints(&k.constraints);
        let mut schedule_block: Option<Span> = None;
        let mut pending: Vec<ast::Directive> = Vec::new();
        for stmt in &k.body {
            match stmt {
                ast::Stmt::Let { name, value, span } => {
                    let value = self.expr(value, None);
                    let id = self.lets.len();
                    if self.declare(name, Binding::Let(id), "`let`") {
                        self.lets.push(Let {
                            name: name.name.clone(),
                            span: *span,
                            value,
                        });
                        self.body.push(Item::Let(id));
                    }
                }
                ast::Stmt::Def {
                    name,
                    indices,
                    value,
                    init,
                    span,
                } => {
                    self.stage(name, indices, value, init.as_ref(), *span);
                    self.updatable = self
                        .stages
                        .iter()
                        .rposition(|s| s.name == name.name)
                        .filter(|_| {
                            self.body
                                .last()
                                .is_some_and(|i| matches!(i, Item::Stage(_)))
                        });
                    continue;
                }
                ast::Stmt::Update {
                    target,
                    indices,
                    op,
                    value,
                    vars,
                    span,
                } => {
                    self.update(target, indices, op, value, vars, *span);
                    continue;
                }
                ast::Stmt::Schedule {
                    keyword,
                    directives,
                    span,
                } => {
                    if keyword.name != "schedule" {
                        self.error(
                            Diagnostic::error(
                                format!("expected `schedule`, found `{}`", keyword.name),
                                keyword.span,
                            )
                            .with_label("a block in a kernel body is a schedule")
                            .with_help("write `schedule { stage.directive(...); }`"),
                        );
                    } else if let Some(prev) = schedule_block {
                        self.error(
                            Diagnostic::error("a kernel has at most one `schedule` block", *span)
                                .with_secondary(prev, "the first one")
                                .with_help("merge the two blocks"),
                        );
                    } else {
                        schedule_block = Some(*span);
                        pending.extend(directives.iter().cloned());
                    }
                }
                ast::Stmt::Error(_) => {}
            }
            // a `let` or a schedule block ends what an update may follow
            self.updatable = None;
        }
        // directives name stages, which may be defined after the block
        let schedule = self.schedule(&pending);
        // every result must be defined
        for r in &k.results {
            if let Some((Binding::PendingResult(_), _)) = self.globals.get(&r.name.name) {
                self.error(
                    Diagnostic::error(
                        format!("result `{}` is never defined", r.name.name),
                        r.name.span,
                    )
                    .with_help(format!(
                        "add a statement `{}[...] = ...;` to the kernel body",
                        r.name.name
                    )),
                );
            }
        }
        // unused intermediates
        let mut read = vec![false; self.stages.len()];
        let mut mark = |e: &TExpr| {
            if let TExprKind::Read {
                source: ArraySource::Stage(s),
                ..
            } = e.kind
            {
                read[s] = true;
            }
        };
        for s in &self.stages {
            s.exprs().for_each(|e| e.walk(&mut mark));
            for u in &s.updates {
                u.exprs().for_each(|e| e.walk(&mut mark));
            }
        }
        for l in &self.lets {
            l.value.walk(&mut mark);
        }
        for (s, st) in self.stages.iter().enumerate() {
            if st.result.is_none() && !read[s] {
                self.diags.push(
                    Diagnostic::warning(format!("stage `{}` is never read", st.name), st.span)
                        .with_label("it will not be computed"),
                );
            }
        }
        let results_ok = self.results.len() == k.results.len();
        results_ok.then(|| Kernel {
            name: k.name.name.clone(),
            span: k.span,
            params: std::mem::take(&mut self.params),
            sizes: std::mem::take(&mut self.sizes),
            results: std::mem::take(&mut self.results),
            lets: std::mem::take(&mut self.lets),
            stages: std::mem::take(&mut self.stages),
            vars: std::mem::take(&mut self.vars),
            body: std::mem::take(&mut self.body),
            schedule,
            constraints,
        })
    }

    /// Checks a schedule block's directives: known directives on stages of
    /// this kernel, with arguments of the right kind, none given twice.
    /// Whether each is *legal* for its stage is decided after lowering,
    /// where the analyses live (`pj_compiler::compile_source`).
    fn schedule(&mut self, directives: &[ast::Directive]) -> Vec<Directive> {
        const KNOWN: &str = "compute_at(stage), compute_root(), tile(rows), tile_bytes(bytes), reduce(inner | outer | vector), parallel(true | false), vectorize(true | false), sliding(true | false), cache_block(k, cols), quantize(int8 | int16 | bf16 | float)";
        let mut out: Vec<Directive> = Vec::new();
        let stage_id =
            |this: &Self, id: &ast::Ident| this.stages.iter().position(|s| s.name == id.name);
        for d in directives {
            let Some(stage) = stage_id(self, &d.stage) else {
                let names: Vec<&str> = self.stages.iter().map(|s| s.name.as_str()).collect();
                self.error(
                    Diagnostic::error(format!("no stage named `{}`", d.stage.name), d.stage.span)
                        .with_label("a directive applies to a stage of this kernel")
                        .with_help(format!("the stages are: {}", names.join(", "))),
                );
                continue;
            };
            let arg_count = |this: &mut Self, n: usize| -> bool {
                if d.args.len() != n {
                    this.error(
                        Diagnostic::error(
                            format!(
                                "`{}` takes {n} argument{}, found {}",
                                d.name.name,
                                if n == 1 { "" } else { "s" },
                                d.args.len()
                            ),
                            d.span,
                        )
                        .with_help(format!("directives: {KNOWN}")),
                    );
                    return false;
                }
                true
            };
            let positive_at = |this: &mut Self, i: usize| -> Option<i64> {
                match d.args[i].kind {
                    ast::ExprKind::Int(n) if n >= 1 => Some(n),
                    _ => {
                        this.error(
                            Diagnostic::error(
                                format!("`{}` needs a whole number of at least 1", d.name.name),
                                d.args[i].span,
                            )
                            .with_label("not a positive integer literal"),
                        );
                        None
                    }
                }
            };
            let boolean = |this: &mut Self| -> Option<bool> {
                match d.args[0].kind {
                    ast::ExprKind::Bool(b) => Some(b),
                    _ => {
                        this.error(
                            Diagnostic::error(
                                format!("`{}` takes `true` or `false`", d.name.name),
                                d.args[0].span,
                            )
                            .with_label("not a boolean literal"),
                        );
                        None
                    }
                }
            };
            let kind = match d.name.name.as_str() {
                "compute_at" => {
                    if !arg_count(self, 1) {
                        continue;
                    }
                    let ast::ExprKind::Name(ref r) = d.args[0].kind else {
                        self.error(
                            Diagnostic::error(
                                "`compute_at` takes the name of a stage",
                                d.args[0].span,
                            )
                            .with_label("not a stage name"),
                        );
                        continue;
                    };
                    let Some(root) = stage_id(self, r) else {
                        self.error(
                            Diagnostic::error(format!("no stage named `{}`", r.name), r.span)
                                .with_label("`compute_at` takes a stage of this kernel"),
                        );
                        continue;
                    };
                    if root == stage {
                        self.error(
                            Diagnostic::error("a stage cannot be computed at itself", d.span)
                                .with_help("name the stage that reads it"),
                        );
                        continue;
                    }
                    DirectiveKind::ComputeAt(root)
                }
                "compute_root" => {
                    if !arg_count(self, 0) {
                        continue;
                    }
                    DirectiveKind::ComputeRoot
                }
                "tile" | "tile_bytes" => {
                    if !arg_count(self, 1) {
                        continue;
                    }
                    let Some(n) = positive_at(self, 0) else {
                        continue;
                    };
                    if d.name.name == "tile" {
                        DirectiveKind::TileRows(n)
                    } else {
                        DirectiveKind::TileBytes(n)
                    }
                }
                "cache_block" => {
                    if !arg_count(self, 2) {
                        continue;
                    }
                    let k = positive_at(self, 0);
                    let cols = positive_at(self, 1);
                    let (Some(k), Some(cols)) = (k, cols) else {
                        continue;
                    };
                    // the lowering allocates a packing buffer of k x cols
                    if k.checked_mul(cols).is_none_or(|n| n > MAX_CACHE_BLOCK) {
                        self.error(
                            Diagnostic::error(
                                format!("a cache block of {k} x {cols} elements is larger than any cache"),
                                d.span,
                            )
                            .with_note("a cache block holds at most 2^24 elements (k x cols); blocks that fit L1 or L2 are a few thousand")
                            .with_help("`pj explain` shows the block the scheduler picks"),
                        );
                        continue;
                    }
                    DirectiveKind::CacheBlock { k, cols }
                }
                "reduce" => {
                    if !arg_count(self, 1) {
                        continue;
                    }
                    match &d.args[0].kind {
                        ast::ExprKind::Name(o)
                            if ["inner", "outer", "vector"].contains(&o.name.as_str()) =>
                        {
                            DirectiveKind::Reduce(o.name.clone())
                        }
                        _ => {
                            self.error(
                                Diagnostic::error("`reduce` takes `inner`, `outer` or `vector`", d.args[0].span)
                                    .with_note("inner: the reduction loop innermost (the reference order); outer: outside the stage's innermost loop, accumulating in memory; vector: innermost, over blocks of vectors with accumulators in registers"),
                            );
                            continue;
                        }
                    }
                }
                "quantize" => {
                    if !arg_count(self, 1) {
                        continue;
                    }
                    match &d.args[0].kind {
                        ast::ExprKind::Name(q)
                            if ["int8", "int16", "f16", "bf16", "float"]
                                .contains(&q.name.as_str()) =>
                        {
                            DirectiveKind::Quantize(q.name.clone())
                        }
                        _ => {
                            self.error(
                                Diagnostic::error(
                                    "`quantize` takes `int8`, `int16`, `f16`, `bf16` or `float`",
                                    d.args[0].span,
                                )
                                .with_note("int8: sums of products in 8-bit fixed point; int16: float arithmetic over integers as exact integers; f16, bf16: the stage stored as binary16 or bfloat16; float: none of them (docs/quantization.md)"),
                            );
                            continue;
                        }
                    }
                }
                "parallel" | "vectorize" | "sliding" => {
                    if !arg_count(self, 1) {
                        continue;
                    }
                    let Some(b) = boolean(self) else { continue };
                    match d.name.name.as_str() {
                        "parallel" => DirectiveKind::Parallel(b),
                        "vectorize" => DirectiveKind::Vectorize(b),
                        _ => DirectiveKind::Sliding(b),
                    }
                }
                other => {
                    self.error(
                        Diagnostic::error(format!("unknown directive `{other}`"), d.name.span)
                            .with_help(format!("directives: {KNOWN}")),
                    );
                    continue;
                }
            };
            let same = |a: &DirectiveKind, b: &DirectiveKind| {
                std::mem::discriminant(a) == std::mem::discriminant(b)
                    || matches!(
                        (a, b),
                        (DirectiveKind::TileRows(_), DirectiveKind::TileBytes(_))
                            | (DirectiveKind::TileBytes(_), DirectiveKind::TileRows(_))
                            | (DirectiveKind::ComputeAt(_), DirectiveKind::ComputeRoot)
                            | (DirectiveKind::ComputeRoot, DirectiveKind::ComputeAt(_))
                    )
            };
            if let Some(prev) = out
                .iter()
                .find(|p| p.stage == stage && same(&p.kind, &kind))
            {
                self.error(
                    Diagnostic::error(
                        format!("`{}` is scheduled twice the same way", d.stage.name),
                        d.span,
                    )
                    .with_secondary(prev.span, "already decided here"),
                );
                continue;
            }
            if matches!(
                kind,
                DirectiveKind::ComputeAt(_) | DirectiveKind::ComputeRoot
            ) && self.stages[stage].result.is_some()
            {
                self.error(
                    Diagnostic::error(
                        format!("`{}` is a result: it is always stored whole", d.stage.name),
                        d.span,
                    )
                    .with_help("compute_at and compute_root apply to intermediate stages"),
                );
                continue;
            }
            out.push(Directive {
                stage,
                kind,
                span: d.span,
            });
        }
        out
    }

    /// An array's dims: 1 to [`MAX_RANK`] (the C ABI's descriptor holds 8).
    fn check_rank(&mut self, p: &ast::Param, what: &str) -> bool {
        let Some(dims) = &p.dims else {
            return true;
        };
        if dims.is_empty() {
            self.error(
                Diagnostic::error(
                    format!("{what} `{}` is an array with no dims", p.name.name),
                    p.span,
                )
                .with_help(format!(
                    "declare a scalar without brackets, `{}: {}`, or give the array a dim",
                    p.name.name, p.elem.name
                )),
            );
            return false;
        }
        if dims.len() > MAX_RANK {
            self.error(
                Diagnostic::error(
                    format!(
                        "{what} `{}` has {} dims; arrays have at most {MAX_RANK}",
                        p.name.name,
                        dims.len()
                    ),
                    p.span,
                )
                .with_note("the C ABI's buffer descriptor holds 8 dims (PJ_MAX_RANK)"),
            );
            return false;
        }
        true
    }

    fn param(&mut self, index: usize, p: &ast::Param) {
        let elem = self.scalar_type(&p.elem).unwrap_or(ScalarType::F32);
        self.declare(&p.name, Binding::Param(index), "parameter");
        self.check_rank(p, "parameter");
        let dims = p.dims.as_ref().map(|dims| {
            dims.iter()
                .enumerate()
                .map(|(d, e)| match &e.kind {
                    ExprKind::Name(id) => match self.globals.get(&id.name) {
                        Some((Binding::Size(s), _)) => Dim::Size(*s),
                        Some(_) => {
                            self.error(
                                Diagnostic::error(format!("`{}` cannot be used as a size name", id.name), id.span)
                                    .with_label("already names something else"),
                            );
                            Dim::Fixed(0)
                        }
                        None => {
                            let s = self.sizes.len();
                            self.sizes.push(SizeDecl { name: id.name.clone(), param: index, dim: d });
                            self.globals.insert(id.name.clone(), (Binding::Size(s), id.span));
                            Dim::Size(s)
                        }
                    },
                    ExprKind::Int(n) if *n >= 0 && *n <= bounds::MAX_SIZE => Dim::Fixed(*n),
                    ExprKind::Int(n) if *n >= 0 => {
                        self.error(
                            Diagnostic::error(format!("a dim of {n} is longer than any array picojoule accepts"), e.span)
                                .with_note("extents are at most 2^48 (281474976710656)"),
                        );
                        Dim::Fixed(0)
                    }
                    _ => {
                        self.error(
                            Diagnostic::error("a parameter dim must be a size name or an integer literal", e.span)
                                .with_help("declare it as a size name (e.g. `N`) and derive other extents in the result's dims"),
                        );
                        Dim::Fixed(0)
                    }
                })
                .collect()
        });
        let mut boundary = None;
        let mut range = None;
        for a in &p.annotations {
            if let Some((n, _)) = a.named.first()
                && a.name.name != "tolerance"
            {
                self.error(Diagnostic::error(
                    format!(
                        "`@{}` takes no named arguments (`{} = ...`)",
                        a.name.name, n.name
                    ),
                    n.span,
                ));
                continue;
            }
            match a.name.name.as_str() {
                "boundary" => {
                    if dims.is_none() {
                        self.error(Diagnostic::error(
                            "`@boundary` applies to arrays only",
                            a.span,
                        ));
                        continue;
                    }
                    let mode = match a.args.as_slice() {
                        [
                            ast::Expr {
                                kind: ExprKind::Name(m),
                                ..
                            },
                        ] => Boundary::from_name(&m.name),
                        _ => None,
                    };
                    match mode {
                        Some(m) if boundary.is_none() => boundary = Some(m),
                        Some(_) => self.error(Diagnostic::error("`@boundary` is given twice", a.span)),
                        None => self.error(
                            Diagnostic::error("`@boundary` takes one mode", a.span)
                                .with_help("write `@boundary(clamp)`, `@boundary(zero)`, `@boundary(wrap)` or `@boundary(mirror)`"),
                        ),
                    }
                }
                "range" => {
                    let lit = |e: &ast::Expr| -> Option<f64> {
                        match &e.kind {
                            ExprKind::Int(v) => Some(*v as f64),
                            ExprKind::Float(v) => Some(*v),
                            ExprKind::Unary {
                                op: UnaryOp::Neg,
                                expr,
                            } => match expr.kind {
                                ExprKind::Int(v) => Some(-(v as f64)),
                                ExprKind::Float(v) => Some(-v),
                                _ => None,
                            },
                            _ => None,
                        }
                    };
                    match a.args.as_slice() {
                        [lo, hi] => match (lit(lo), lit(hi)) {
                            (Some(l), Some(h)) if l <= h => {
                                if range.replace((l, h)).is_some() {
                                    self.error(Diagnostic::error(
                                        "`@range` is given twice",
                                        a.span,
                                    ));
                                }
                            }
                            (Some(_), Some(_)) => self.error(Diagnostic::error(
                                "`@range(lo, hi)` needs lo <= hi",
                                a.span,
                            )),
                            _ => self.error(
                                Diagnostic::error(
                                    "`@range` bounds must be numeric literals",
                                    a.span,
                                )
                                .with_help("for example `@range(0.0, 1.0)`"),
                            ),
                        },
                        _ => self.error(
                            Diagnostic::error("`@range` takes two bounds", a.span)
                                .with_help("write `@range(lo, hi)`"),
                        ),
                    }
                }
                "tolerance" => self.error(
                    Diagnostic::error("`@tolerance` applies to results", a.span)
                        .with_help("a result's tolerance bounds its error; a parameter's values are described by `@range(lo, hi)`"),
                ),
                other => self.error(
                    Diagnostic::error(format!("unknown annotation `@{other}`"), a.name.span)
                        .with_help("parameters accept `@boundary(mode)` and `@range(lo, hi)`"),
                ),
            }
        }
        self.params.push(Param {
            name: p.name.name.clone(),
            span: p.span,
            elem,
            dims,
            boundary,
            range,
        });
    }

    fn result(&mut self, r: &ast::Param) {
        let elem = self.scalar_type(&r.elem).unwrap_or(ScalarType::F32);
        let mut tolerance = None;
        for a in &r.annotations {
            if a.name.name == "tolerance" {
                if let Some(t) = self.tolerance(a, elem)
                    && tolerance.replace(t).is_some()
                {
                    self.error(Diagnostic::error("`@tolerance` is given twice", a.span));
                }
                continue;
            }
            self.error(
                Diagnostic::error(
                    format!("annotation `@{}` is not allowed on a result", a.name.name),
                    a.span,
                )
                .with_help("boundary modes and ranges describe inputs; put them on parameters (a result takes `@tolerance(abs = ..., rel = ...)`)"),
            );
        }
        // a scalar result is an array of rank 0: one element, no dims
        let no_dims = Vec::new();
        let dims = r.dims.as_ref().unwrap_or(&no_dims);
        if !self.check_rank(r, "result") {
            self.failed_results.insert(r.name.name.clone());
            return;
        }
        let mut out = Vec::new();
        for e in dims {
            match self.size_expr(e) {
                Some(s) => out.push(s),
                None => {
                    self.failed_results.insert(r.name.name.clone());
                    return;
                }
            }
        }
        if self.declare(
            &r.name,
            Binding::PendingResult(self.results.len()),
            "result",
        ) {
            self.results.push(ResultDecl {
                name: r.name.name.clone(),
                span: r.span,
                elem,
                dims: out,
                stage: usize::MAX,
                tolerance,
            });
        }
    }

    /// `@tolerance(abs = a)`, `(rel = r)` or both, on a float result: each a
    /// positive finite literal.
    fn tolerance(&mut self, a: &ast::Annotation, elem: ScalarType) -> Option<Tolerance> {
        let help = "write `@tolerance(abs = 1e-2)`, `@tolerance(rel = 1e-3)` or both";
        if !elem.is_float() {
            self.error(
                Diagnostic::error(
                    format!(
                        "`@tolerance` applies to float results; this one is {}",
                        elem.name()
                    ),
                    a.span,
                )
                .with_help("integer results are exact: quantization keeps them so"),
            );
            return None;
        }
        if !a.args.is_empty() || a.named.is_empty() {
            self.error(
                Diagnostic::error("`@tolerance` takes named bounds", a.span).with_help(help),
            );
            return None;
        }
        let mut t = Tolerance { abs: 0.0, rel: 0.0 };
        let mut ok = true;
        let mut seen: Vec<&str> = vec![];
        for (name, e) in &a.named {
            let value = match e.kind {
                ExprKind::Float(v) => Some(v),
                ExprKind::Int(v) => Some(v as f64),
                _ => None,
            };
            let slot = match name.name.as_str() {
                "abs" => &mut t.abs,
                "rel" => &mut t.rel,
                other => {
                    self.error(
                        Diagnostic::error(
                            format!("`@tolerance` has no bound `{other}`"),
                            name.span,
                        )
                        .with_help(help),
                    );
                    ok = false;
                    continue;
                }
            };
            if seen.contains(&name.name.as_str()) {
                self.error(Diagnostic::error(
                    format!("`{}` is given twice", name.name),
                    name.span,
                ));
                ok = false;
                continue;
            }
            seen.push(&name.name);
            match value {
                Some(v) if v.is_finite() && v > 0.0 => *slot = v,
                _ => {
                    self.error(
                        Diagnostic::error(
                            format!("`{}` must be a positive number literal", name.name),
                            e.span,
                        )
                        .with_help(help),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(t)
    }

    /// An extent: affine in size names.
    fn size_expr(&mut self, e: &ast::Expr) -> Option<SizeExpr> {
        let bad = |cx: &mut Self, why: &str| {
            cx.error(
                Diagnostic::error(format!("a result dim must be affine in size names: {why}"), e.span)
                    .with_help("use size names and integer constants with `+`, `-`, `* constant`, `/ constant`"),
            );
            None
        };
        match &e.kind {
            ExprKind::Int(n) => Some(SizeExpr::constant(*n)),
            ExprKind::Name(id) => {
                match self.globals.get(&id.name) {
                    Some((Binding::Size(s), _)) => Some(SizeExpr::size(*s)),
                    _ => {
                        self.error(
                        Diagnostic::error(format!("`{}` is not a size name", id.name), id.span)
                            .with_help("a result's dims may only use sizes bound by the parameters' dims"),
                    );
                        None
                    }
                }
            }
            ExprKind::Unary {
                op: UnaryOp::Neg,
                expr,
            } => Some(self.size_expr(expr)?.scale(-1)),
            ExprKind::Binary { op, lhs, rhs } => {
                let (a, b) = (self.size_expr(lhs)?, self.size_expr(rhs)?);
                match op {
                    BinOp::Add => Some(a.add(&b)),
                    BinOp::Sub => Some(a.sub(&b)),
                    BinOp::Mul => match (a.as_constant(), b.as_constant()) {
                        (Some(c), _) => Some(b.scale(c)),
                        (_, Some(c)) => Some(a.scale(c)),
                        _ => bad(self, "a product of two sizes is not affine"),
                    },
                    BinOp::Div => match b.as_constant() {
                        Some(c) if c > 0 => Some(a.div(c)),
                        _ => bad(self, "division only by a positive constant"),
                    },
                    _ => bad(self, &format!("`{}` is not allowed here", op.symbol())),
                }
            }
            _ => bad(self, "this expression is not"),
        }
    }

    fn stage(
        &mut self,
        name: &crate::ast::Ident,
        indices: &[crate::ast::Ident],
        value: &ast::Expr,
        init: Option<&ast::Expr>,
        span: Span,
    ) {
        let result = match self.globals.get(&name.name) {
            Some((Binding::PendingResult(r), _)) => Some(*r),
            _ => None,
        };
        // index variables
        let mut vars = Vec::new();
        let mut seen: HashSet<&str> = HashSet::new();
        for ix in indices {
            if !seen.insert(&ix.name) {
                self.error(Diagnostic::error(
                    format!("index variable `{}` appears twice", ix.name),
                    ix.span,
                ));
            } else if self.globals.contains_key(&ix.name) {
                let (_, prev) = self.globals[&ix.name];
                self.error(
                    Diagnostic::error(
                        format!("index variable `{}` shadows a name of the kernel", ix.name),
                        ix.span,
                    )
                    .with_secondary(prev, "defined here")
                    .with_help("pick another name for the index variable"),
                );
            }
            let v = self.vars.len();
            self.vars.push(VarDecl {
                name: ix.name.clone(),
                span: ix.span,
            });
            vars.push(v);
        }
        if let Some(r) = result {
            let rank = self.results[r].dims.len();
            if rank != indices.len() {
                self.error(
                    Diagnostic::error(
                        format!(
                            "result `{}` has {rank} dims but is defined with {} index variables",
                            name.name,
                            indices.len()
                        ),
                        name.span.to(indices.last().map_or(name.span, |i| i.span)),
                    )
                    .with_secondary(self.results[r].span, "declared here"),
                );
            }
        }
        self.locals = indices
            .iter()
            .map(|i| i.name.clone())
            .zip(vars.iter().copied())
            .collect();
        let expected = result.map(|r| self.results[r].elem);
        // `init` first: it types an intermediate's self-reads, unless it is
        // a literal, which adapts to the value's type like any literal
        let init_ast = init;
        let literal_init = init.is_some_and(is_literal_like) && expected.is_none();
        let init = init.map(|e| self.expr(e, expected));
        self.defining = Some(Defining {
            name: name.name.clone(),
            vars: vars.clone(),
            elem: expected.or(init.as_ref().map(|t| t.ty).filter(|_| !literal_init)),
            fallback: init.as_ref().map_or(ScalarType::F32, |t| t.ty),
            init: init.as_ref().map(|t| t.span),
            reads: Vec::new(),
            tried: false,
        });
        let value = self.expr(value, expected);
        let defining = self.defining.take().expect("set above");
        let init = match (init_ast, literal_init) {
            (Some(e), true) => Some(self.expr(e, Some(value.ty))),
            _ => init,
        };
        self.locals.clear();
        let elem = result.map_or(value.ty, |r| self.results[r].elem);
        let recurrence = self.recurrence(&name.name, &vars, elem, init, &defining);
        if self.failed_results.contains(&name.name) {
            return; // its declaration was already reported
        }
        if let Some(r) = result {
            let elem = self.results[r].elem;
            if value.ty != elem && !self.is_poisoned(&value) {
                self.error(
                    Diagnostic::error(
                        format!(
                            "result `{}` holds {elem}, but this expression is {}",
                            name.name, value.ty
                        ),
                        value.span,
                    )
                    .with_secondary(self.results[r].span, "declared here")
                    .with_help(CAST_HELP),
                );
            }
        }
        let id = self.stages.len();
        let binding_ok = match result {
            Some(r) => {
                self.globals
                    .insert(name.name.clone(), (Binding::Stage(id), name.span));
                self.results[r].stage = id;
                true
            }
            None => self.declare(name, Binding::Stage(id), "stage"),
        };
        // A stage with bad index variables is still kept once its name is
        // bound, so later reads of it resolve: the errors already reported
        // keep the kernel from going further than the checker.
        if !binding_ok {
            return;
        }
        let stage = Stage {
            name: name.name.clone(),
            span,
            vars,
            elem: result.map_or(value.ty, |r| self.results[r].elem),
            value,
            result,
            domain: vec![],
            guards: vec![],
            recurrence,
            updates: Vec::new(),
        };
        self.natural.push(self.natural(&stage));
        self.stages.push(stage);
        self.body.push(Item::Stage(id));
    }

    /// Checks `e`; `expected` is the type the context wants, which literals adopt.
    fn expr(&mut self, e: &ast::Expr, expected: Option<ScalarType>) -> TExpr {
        let span = e.span;
        let mk = |kind, ty| TExpr { kind, ty, span };
        match &e.kind {
            ExprKind::Int(v) => {
                let ty = expected.unwrap_or(ScalarType::I64);
                if ty == ScalarType::Bool {
                    self.error(
                        Diagnostic::error("expected a bool, found an integer literal", span)
                            .with_help("write `true` or `false`"),
                    );
                    return self.poison(span, ty);
                }
                if ty.is_float() {
                    return mk(TExprKind::Const(Const::Float(*v as f64)), ty);
                }
                let (lo, hi) = ty.int_range().expect("integer type");
                if *v < lo || *v > hi {
                    self.error(
                        Diagnostic::error(format!("literal {v} does not fit in {ty}"), span)
                            .with_label(format!("{ty} holds {lo}..={hi}")),
                    );
                    return self.poison(span, ty);
                }
                mk(TExprKind::Const(Const::Int(*v)), ty)
            }
            ExprKind::Float(v) => {
                let ty = expected.unwrap_or(ScalarType::F32);
                if !ty.is_float() {
                    self.error(
                        Diagnostic::error(format!("expected {ty}, found a float literal"), span)
                            .with_help(format!("write an integer, or convert: `{ty}({v:?})`")),
                    );
                    return self.poison(span, ty);
                }
                // the largest magnitude that rounds to a finite value of the
                // type: its maximum plus half its last step
                let (limit, holds) = match ty {
                    ScalarType::F32 => (2f64.powi(128) - 2f64.powi(103), "about 3.4e38"),
                    ScalarType::F16 => (65520.0, "65504"),
                    ScalarType::Bf16 => (2f64.powi(128) - 2f64.powi(119), "about 3.4e38"),
                    _ => (f64::INFINITY, ""),
                };
                if v.is_finite() && v.abs() >= limit {
                    self.error(
                        Diagnostic::error(format!("literal {v:e} is out of range for {ty}"), span)
                            .with_label(format!("it would be inf: {ty} holds at most {holds}"))
                            .with_help(format!(
                                "use an {} operand, or write `inf` as `1.0 / 0.0`",
                                if ty == ScalarType::F16 { "f32" } else { "f64" }
                            )),
                    );
                    return self.poison(span, ty);
                }
                mk(TExprKind::Const(Const::Float(*v)), ty)
            }
            ExprKind::Bool(b) => mk(TExprKind::Const(Const::Bool(*b)), ScalarType::Bool),
            ExprKind::Name(id) => self.name(id, expected),
            ExprKind::Reduce { .. } | ExprKind::Index { .. } if self.inlining.is_some() => {
                let what = if matches!(e.kind, ExprKind::Reduce { .. }) {
                    "a reduction"
                } else {
                    "an array read"
                };
                self.error(
                    Diagnostic::error(format!("a function cannot contain {what}"), span)
                        .with_help("functions compute on scalars: reduce or read in the kernel and pass the value"),
                );
                self.poison(span, expected.unwrap_or(ScalarType::F32))
            }
            ExprKind::Index { array, indices } => self.read(array, indices, span, expected),
            ExprKind::Call { func, args } => self.call(func, args, span, expected),
            // `-128` is one literal: for `i8` it fits, and for `u8` `-1`
            // does not (negating a literal `1` would wrap to 255 unseen)
            ExprKind::Unary {
                op: UnaryOp::Neg,
                expr: lit,
            } if matches!(lit.kind, ExprKind::Int(_))
                && expected.unwrap_or(ScalarType::I64).is_int() =>
            {
                let ExprKind::Int(v) = lit.kind else {
                    unreachable!("matched above")
                };
                let ty = expected.unwrap_or(ScalarType::I64);
                let (lo, hi) = ty.int_range().expect("integer type");
                let neg = -i128::from(v);
                if neg < i128::from(lo) || neg > i128::from(hi) {
                    self.error(
                        Diagnostic::error(format!("literal -{v} does not fit in {ty}"), span)
                            .with_label(format!("{ty} holds {lo}..={hi}")),
                    );
                    return self.poison(span, ty);
                }
                mk(TExprKind::Const(Const::Int(-v)), ty)
            }
            ExprKind::Unary { op, expr } => {
                let inner = self.expr(
                    expr,
                    if *op == UnaryOp::Not {
                        Some(ScalarType::Bool)
                    } else {
                        expected
                    },
                );
                let ty = inner.ty;
                if !self.is_poisoned(&inner) {
                    match op {
                        UnaryOp::Neg if !ty.is_numeric() => {
                            self.error(
                                Diagnostic::error("cannot negate a bool", span)
                                    .with_help("use `!` for logical not"),
                            );
                        }
                        UnaryOp::Not if ty != ScalarType::Bool => {
                            self.error(Diagnostic::error(
                                format!("`!` needs a bool, found {ty}"),
                                span,
                            ));
                        }
                        _ => {}
                    }
                }
                mk(TExprKind::Unary(*op, Box::new(inner)), ty)
            }
            ExprKind::Binary { op, lhs, rhs } => self.binary(*op, lhs, rhs, span, expected),
            ExprKind::Reduce { op, vars, body } => self.reduce(*op, vars, body, span, expected),
        }
    }

    /// `f(args)` for a helper function `f`: its body, with its parameters
    /// standing for the checked arguments.
    fn inline_call(
        &mut self,
        f: &ast::Function,
        args: &[ast::Expr],
        span: Span,
        expected: Option<ScalarType>,
    ) -> TExpr {
        let name = &f.name.name;
        let ret = ScalarType::from_name(&f.ret.name).unwrap_or(ScalarType::F32);
        if args.len() != f.params.len() {
            self.error(
                Diagnostic::error(
                    format!(
                        "`{name}` takes {} argument{}, {} given",
                        f.params.len(),
                        if f.params.len() == 1 { "" } else { "s" },
                        args.len()
                    ),
                    span,
                )
                .with_secondary(f.name.span, "defined here"),
            );
            return self.poison(span, expected.unwrap_or(ret));
        }
        let calls = self.inlining.as_ref().map_or(&[][..], |i| &i.calls[..]);
        if calls.contains(name) || calls.len() >= MAX_INLINE_DEPTH {
            let chain = calls.join(" → ");
            self.error(
                Diagnostic::error(
                    if calls.contains(name) {
                        format!("function `{name}` calls itself ({chain} → {name})")
                    } else {
                        format!("functions call each other more than {MAX_INLINE_DEPTH} deep ({chain} → {name})")
                    },
                    span,
                )
                .with_help("functions are inlined where they are called, so they cannot recurse"),
            );
            return self.poison(span, ret);
        }
        let mut bound = Vec::new();
        let mut poisoned = false;
        for (p, a) in f.params.iter().zip(args) {
            let want = ScalarType::from_name(&p.elem.name).unwrap_or(ScalarType::F32);
            let v = self.expr(a, Some(want));
            if self.is_poisoned(&v) {
                poisoned = true;
            } else if v.ty != want {
                self.error(
                    Diagnostic::error(
                        format!(
                            "argument `{}` of `{name}` must be {want}, found {}",
                            p.name.name, v.ty
                        ),
                        v.span,
                    )
                    .with_secondary(p.span, "declared here")
                    .with_help(CAST_HELP),
                );
                poisoned = true;
            }
            bound.push((p.name.name.clone(), v));
        }
        if poisoned {
            return self.poison(span, ret);
        }
        self.inline_body(f, bound, Some(ret))
            .unwrap_or_else(|| self.poison(span, ret))
    }

    /// Checks `f`'s body with its parameters bound to `params`: the value
    /// (of type `ret`), or `None` where it does not check.
    fn inline_body(
        &mut self,
        f: &ast::Function,
        params: Vec<(String, TExpr)>,
        ret: Option<ScalarType>,
    ) -> Option<TExpr> {
        let mut calls = self
            .inlining
            .as_ref()
            .map(|i| i.calls.clone())
            .unwrap_or_default();
        calls.push(f.name.name.clone());
        let outer = self.inlining.replace(Inlining {
            names: params,
            calls,
        });
        let mut ok = true;
        for (n, e) in &f.lets {
            let v = self.expr(e, None);
            ok &= !self.is_poisoned(&v);
            self.inlining
                .as_mut()
                .expect("inlining")
                .names
                .push((n.name.clone(), v));
        }
        let value = self.expr(&f.value, ret);
        self.inlining = outer;
        ok &= !self.is_poisoned(&value);
        if let Some(want) = ret
            && ok
            && value.ty != want
        {
            self.error(
                Diagnostic::error(
                    format!(
                        "function `{}` returns {want}, but its value is {}",
                        f.name.name, value.ty
                    ),
                    f.value.span,
                )
                .with_secondary(f.ret.span, "declared here")
                .with_help(CAST_HELP),
            );
            ok = false;
        }
        ok.then_some(value)
    }

    fn name(&mut self, id: &crate::ast::Ident, expected: Option<ScalarType>) -> TExpr {
        let span = id.span;
        if let Some(inl) = &self.inlining {
            if let Some((_, e)) = inl.names.iter().rev().find(|(n, _)| *n == id.name) {
                return e.clone();
            }
            let f = inl.calls.last().cloned().unwrap_or_default();
            self.error(
                Diagnostic::error(format!("unknown name `{}` in function `{f}`", id.name), span)
                    .with_label("not a parameter or a `let` of the function")
                    .with_help("a function sees only its parameters and lets: pass what it needs as an argument"),
            );
            return self.poison(span, expected.unwrap_or(ScalarType::F32));
        }
        if let Some((_, v)) = self.locals.iter().rev().find(|(n, _)| *n == id.name) {
            return TExpr {
                kind: TExprKind::Var(*v),
                ty: ScalarType::I64,
                span,
            };
        }
        match self.globals.get(&id.name).copied() {
            Some((Binding::Size(s), _)) => TExpr {
                kind: TExprKind::Size(s),
                ty: ScalarType::I64,
                span,
            },
            Some((Binding::Let(l), _)) => TExpr {
                kind: TExprKind::Let(l),
                ty: self.lets[l].value.ty,
                span,
            },
            Some((Binding::Param(p), _))
                if self.params.get(p).is_some_and(|p| p.dims.is_none()) =>
            {
                TExpr {
                    kind: TExprKind::Scalar(p),
                    ty: self.params[p].elem,
                    span,
                }
            }
            // a scalar stage (rank 0) is read by its name
            Some((Binding::Stage(st), _)) if self.stages[st].vars.is_empty() => {
                self.read(id, &[], span, expected)
            }
            Some((Binding::PendingResult(r), _)) if self.results[r].dims.is_empty() => {
                self.read(id, &[], span, expected)
            }
            Some((Binding::Param(_) | Binding::Stage(_) | Binding::PendingResult(_), _)) => {
                self.error(
                    Diagnostic::error(format!("`{}` is an array, not a scalar", id.name), span)
                        .with_help(format!("read one element with `{}[...]`", id.name)),
                );
                self.poison(span, expected.unwrap_or(ScalarType::F32))
            }
            None => {
                let mut d = Diagnostic::error(format!("unknown name `{}`", id.name), span)
                    .with_label("not defined here");
                if ReduceOp::from_keyword(&id.name).is_some() {
                    d = d.with_help(format!(
                        "`{}` is a reduction: write `{}(k) expr`",
                        id.name, id.name
                    ));
                }
                self.error(d);
                self.poison(span, expected.unwrap_or(ScalarType::F32))
            }
        }
    }

    fn read(
        &mut self,
        array: &crate::ast::Ident,
        indices: &[ast::Expr],
        span: Span,
        expected: Option<ScalarType>,
    ) -> TExpr {
        if self.defining.as_ref().is_some_and(|d| d.name == array.name) {
            return self.self_read(array, indices, span, expected);
        }
        let (source, elem, rank) = match self.globals.get(&array.name).copied() {
            Some((Binding::Param(p), _)) => match self.params.get(p) {
                Some(param) if param.dims.is_some() => (
                    ArraySource::Param(p),
                    param.elem,
                    param.dims.as_ref().map_or(0, Vec::len),
                ),
                Some(param) => {
                    let d = Diagnostic::error(
                        format!("`{}` is a scalar and cannot be indexed", array.name),
                        span,
                    )
                    .with_secondary(param.span, "declared here");
                    self.error(d);
                    return self.poison(span, expected.unwrap_or(ScalarType::F32));
                }
                None => return self.poison(span, expected.unwrap_or(ScalarType::F32)),
            },
            Some((Binding::Stage(s), _)) => (
                ArraySource::Stage(s),
                self.stages[s].elem,
                self.stages[s].vars.len(),
            ),
            Some((Binding::PendingResult(r), _)) => {
                self.error(
                    Diagnostic::error(
                        format!("result `{}` is read before it is defined", array.name),
                        array.span,
                    )
                    .with_help("stages are computed in order: define it above this statement"),
                );
                return self.poison(span, self.results[r].elem);
            }
            Some((Binding::Size(_) | Binding::Let(_), _)) => {
                self.error(Diagnostic::error(
                    format!("`{}` is a scalar and cannot be indexed", array.name),
                    span,
                ));
                return self.poison(span, expected.unwrap_or(ScalarType::F32));
            }
            None => {
                let mut d =
                    Diagnostic::error(format!("unknown array `{}`", array.name), array.span);
                if self.locals.iter().any(|(n, _)| *n == array.name) {
                    d = d.with_label("this is an index variable");
                } else {
                    d = d.with_label("no parameter or earlier stage has this name").with_help(
                        "stages are computed in order: an array must be a parameter or a stage defined above",
                    );
                }
                self.error(d);
                return self.poison(span, expected.unwrap_or(ScalarType::F32));
            }
        };
        let mut ix = Vec::new();
        let mut bad = false;
        for e in indices {
            let t = self.expr(
                e,
                if is_literal_like(e) {
                    Some(ScalarType::I64)
                } else {
                    None
                },
            );
            if !t.ty.is_int() && !self.is_poisoned(&t) {
                self.error(
                    Diagnostic::error(format!("an index must be an integer, found {}", t.ty), e.span)
                        .with_help("convert with `i64(e)`; float to integer conversion saturates and truncates toward zero"),
                );
                bad = true;
            }
            ix.push(t);
        }
        if indices.len() != rank {
            self.error(index_count_error(&array.name, rank, indices.len(), span));
            return self.poison(span, elem);
        }
        if bad {
            return self.poison(span, elem);
        }
        TExpr {
            kind: TExprKind::Read {
                source,
                indices: ix,
            },
            ty: elem,
            span,
        }
    }

    /// Checks two operands that must have one type; literals adopt the other side's.
    fn same_type(
        &mut self,
        a: &ast::Expr,
        b: &ast::Expr,
        expected: Option<ScalarType>,
    ) -> (TExpr, TExpr) {
        if self.adapts(a) && !self.adapts(b) {
            let tb = self.expr(b, expected);
            let ta = self.expr(a, Some(tb.ty));
            (ta, tb)
        } else {
            let ta = self.expr(a, expected);
            let tb = self.expr(b, Some(ta.ty));
            (ta, tb)
        }
    }

    /// Whether `e` takes its type from its context: literals, and the
    /// self-reads of an intermediate recurrence whose `init` is a literal
    /// (`c[i - 1] + x[i] init 0` is `x`'s type), combined by arithmetic.
    fn adapts(&self, e: &ast::Expr) -> bool {
        match &e.kind {
            ExprKind::Index { array, .. } => self
                .defining
                .as_ref()
                .is_some_and(|d| d.name == array.name && d.elem.is_none()),
            ExprKind::Unary {
                op: UnaryOp::Neg,
                expr,
            } => self.adapts(expr),
            ExprKind::Binary { op, lhs, rhs }
                if !op.is_comparison() && !matches!(op, BinOp::And | BinOp::Or) =>
            {
                self.adapts(lhs) && self.adapts(rhs)
            }
            _ => is_literal_like(e),
        }
    }

    fn mismatch(&mut self, what: &str, a: &TExpr, b: &TExpr, span: Span) -> bool {
        if a.ty == b.ty || self.is_poisoned(a) || self.is_poisoned(b) {
            return false;
        }
        self.error(
            Diagnostic::error(
                format!(
                    "{what} operands have different types: {} and {}",
                    a.ty, b.ty
                ),
                span,
            )
            .with_secondary(a.span, format!("this is {}", a.ty))
            .with_secondary(b.span, format!("this is {}", b.ty))
            .with_help(CAST_HELP),
        );
        true
    }

    fn binary(
        &mut self,
        op: BinOp,
        lhs: &ast::Expr,
        rhs: &ast::Expr,
        span: Span,
        expected: Option<ScalarType>,
    ) -> TExpr {
        let what = format!("`{}`", op.symbol());
        match op {
            BinOp::And | BinOp::Or => {
                let a = self.expr(lhs, Some(ScalarType::Bool));
                let b = self.expr(rhs, Some(ScalarType::Bool));
                for t in [&a, &b] {
                    if t.ty != ScalarType::Bool && !self.is_poisoned(t) {
                        self.error(Diagnostic::error(
                            format!("{what} needs bool operands, found {}", t.ty),
                            t.span,
                        ));
                    }
                }
                TExpr {
                    kind: TExprKind::Binary(op, Box::new(a), Box::new(b)),
                    ty: ScalarType::Bool,
                    span,
                }
            }
            _ if op.is_comparison() => {
                let (a, b) = self.same_type(lhs, rhs, None);
                self.mismatch(&what, &a, &b, span);
                if a.ty == ScalarType::Bool
                    && !matches!(op, BinOp::Eq | BinOp::Ne)
                    && !self.is_poisoned(&a)
                {
                    self.error(Diagnostic::error(
                        format!("{what} does not order bools"),
                        span,
                    ));
                }
                TExpr {
                    kind: TExprKind::Binary(op, Box::new(a), Box::new(b)),
                    ty: ScalarType::Bool,
                    span,
                }
            }
            _ => {
                let (a, b) = self.same_type(lhs, rhs, expected);
                let ty = a.ty;
                if !self.mismatch(&what, &a, &b, span)
                    && ty == ScalarType::Bool
                    && !self.is_poisoned(&a)
                {
                    self.error(
                        Diagnostic::error(format!("{what} needs numbers, found bool"), span)
                            .with_help("convert with `i32(b)` to count, or use `&&`/`||`"),
                    );
                }
                TExpr {
                    kind: TExprKind::Binary(op, Box::new(a), Box::new(b)),
                    ty,
                    span,
                }
            }
        }
    }

    fn call(
        &mut self,
        func: &crate::ast::Ident,
        args: &[ast::Expr],
        span: Span,
        expected: Option<ScalarType>,
    ) -> TExpr {
        // casts
        if let Some(target) = ScalarType::from_name(&func.name) {
            if args.len() != 1 {
                self.error(Diagnostic::error(
                    format!(
                        "the cast `{target}(...)` takes one argument, {} given",
                        args.len()
                    ),
                    span,
                ));
                return self.poison(span, target);
            }
            let inner = self.expr(&args[0], target.is_half().then_some(ScalarType::F32));
            if target.is_half()
                && !self.is_poisoned(&inner)
                && !matches!(
                    inner.ty,
                    ScalarType::F32 | ScalarType::F16 | ScalarType::Bf16
                )
            {
                self.error(
                    Diagnostic::error(
                        format!("`{target}(...)` converts from f32, f16 or bf16, not {}", inner.ty),
                        span,
                    )
                    .with_label("a conversion to a 16-bit float rounds from f32 only, so that it rounds once")
                    .with_help(format!("convert through f32: `{target}(f32(...))`")),
                );
                return self.poison(span, target);
            }
            return TExpr {
                kind: TExprKind::Cast(Box::new(inner)),
                ty: target,
                span,
            };
        }
        if self.bad_functions.contains(&func.name) {
            // its errors are reported where it is defined
            for a in args {
                self.expr(a, None);
            }
            return self.poison(span, expected.unwrap_or(ScalarType::F32));
        }
        if let Some(f) = self.functions.get(&func.name).cloned() {
            return self.inline_call(&f, args, span, expected);
        }
        let Some(b) = Builtin::from_name(&func.name) else {
            let mut d = Diagnostic::error(format!("unknown function `{}`", func.name), func.span);
            if self.kernel_names.contains(&func.name) {
                d = d.with_help(format!(
                    "`{}` is a kernel, and a kernel cannot call a kernel; write what they share as a `fn` (docs/language.md#functions)",
                    func.name
                ));
                self.error(d);
                return self.poison(span, expected.unwrap_or(ScalarType::F32));
            }
            if let Some(op) = ReduceOp::from_keyword(&func.name) {
                d = d.with_help(format!(
                    "`{0}` is a reduction: write `{0}(k) expr`, where k is a variable that indexes the arrays read",
                    op.name()
                ));
            } else if self.globals.contains_key(&func.name) {
                d = d.with_help(format!("to read an element write `{}[...]`", func.name));
            } else {
                let names: Vec<&str> = Builtin::ALL.iter().map(|b| b.name()).collect();
                d = d.with_help(format!(
                    "builtins are {}; casts are written `f32(e)`, `i32(e)`, ...",
                    names.join(", ")
                ));
            }
            self.error(d);
            return self.poison(span, expected.unwrap_or(ScalarType::F32));
        };
        if args.len() != b.arity() {
            let mut d = Diagnostic::error(
                format!(
                    "`{}` takes {} arguments, {} given",
                    b.name(),
                    b.arity(),
                    args.len()
                ),
                span,
            );
            if matches!(b, Builtin::Min | Builtin::Max) && args.len() == 1 {
                d = d.with_help(format!(
                    "to reduce, write `{0}(k) expr`; a `{0}` reduction body cannot start with `-`, so write `{0}(k) (-e)`",
                    b.name()
                ));
            }
            self.error(d);
            return self.poison(span, expected.unwrap_or(ScalarType::F32));
        }
        let checked: Vec<TExpr> = match b {
            Builtin::Select => {
                let c = self.expr(&args[0], Some(ScalarType::Bool));
                if c.ty != ScalarType::Bool && !self.is_poisoned(&c) {
                    self.error(Diagnostic::error(
                        format!("the condition of `select` must be bool, found {}", c.ty),
                        c.span,
                    ));
                }
                let (x, y) = self.same_type(&args[1], &args[2], expected);
                self.mismatch("`select`", &x, &y, span);
                vec![c, x, y]
            }
            Builtin::Clamp => {
                // the first non-literal argument fixes the type
                let lead = args.iter().position(|a| !self.adapts(a)).unwrap_or(0);
                let first = self.expr(&args[lead], expected);
                let mut out = Vec::new();
                for (i, a) in args.iter().enumerate() {
                    let t = if i == lead {
                        first.clone()
                    } else {
                        self.expr(a, Some(first.ty))
                    };
                    self.mismatch("`clamp`", &first, &t, span);
                    out.push(t);
                }
                out
            }
            Builtin::Min | Builtin::Max | Builtin::Pow | Builtin::Atan2 => {
                let (x, y) = self.same_type(&args[0], &args[1], expected);
                self.mismatch(&format!("`{}`", b.name()), &x, &y, span);
                vec![x, y]
            }
            _ => vec![self.expr(&args[0], expected)],
        };
        let ty = checked[if b == Builtin::Select { 1 } else { 0 }].ty;
        let poisoned = checked.iter().any(|a| self.is_poisoned(a));
        if !poisoned {
            let needs_float = b.needs_float();
            if needs_float && !ty.is_float() {
                self.error(
                    Diagnostic::error(
                        format!("`{}` needs a float argument, found {ty}", b.name()),
                        span,
                    )
                    .with_help(format!("convert first: `{}(f32(x))`", b.name())),
                );
                return self.poison(span, expected.unwrap_or(ty));
            } else if !needs_float && b != Builtin::Select && ty == ScalarType::Bool {
                self.error(Diagnostic::error(
                    format!("`{}` needs numbers, found bool", b.name()),
                    span,
                ));
                return self.poison(span, ty);
            }
        }
        TExpr {
            kind: TExprKind::Call(b, checked),
            ty,
            span,
        }
    }

    fn reduce(
        &mut self,
        op: ReduceOp,
        vars: &[ast::ReduceVar],
        body: &ast::Expr,
        span: Span,
        expected: Option<ScalarType>,
    ) -> TExpr {
        if vars.is_empty() {
            self.error(
                Diagnostic::error(
                    format!("`{}` needs at least one reduction variable", op.name()),
                    span,
                )
                .with_help(format!("write `{}(k) expr`", op.name())),
            );
            return self.poison(span, expected.unwrap_or(ScalarType::F32));
        }
        self.precedence_trap(op, vars, body);
        if op.is_arg() && vars.len() > 1 {
            self.error(
                Diagnostic::error(format!("`{}` takes one variable", op.name()), span)
                    .with_help(format!(
                        "its result is one index: reduce along one dim at a time, e.g. the best per row in a stage `best[y] = {}(x) ...;`",
                        op.name()
                    )),
            );
            return self.poison(span, ScalarType::I64);
        }
        let scope = self.locals.len();
        let mut rvars = Vec::new();
        for rv in vars {
            self.refuse_shadowing(&rv.name, "reduction");
            // the IR computes every range of one reduction before its loops
            let earlier: Vec<&str> = vars
                .iter()
                .take_while(|other| !std::ptr::eq(*other, rv))
                .map(|other| other.name.name.as_str())
                .collect();
            if let Some((lo, hi)) = &rv.range
                && let Some(name) = earlier.iter().find(|n| mentions(lo, n) || mentions(hi, n))
            {
                self.error(
                    Diagnostic::error(
                        format!(
                            "the range of `{}` uses `{name}`, a variable of the same reduction",
                            rv.name.name
                        ),
                        lo.span.to(hi.span),
                    )
                    .with_help(format!(
                        "nest two reductions: `{}({name} in ...) {}({} in ...) ...`",
                        op.name(),
                        op.name(),
                        rv.name.name
                    )),
                );
                return self.poison(span, expected.unwrap_or(ScalarType::F32));
            }
            let range = self.range_bounds(rv, "a reduction");
            let v = self.declare_var(&rv.name);
            self.locals.push((rv.name.name.clone(), v));
            rvars.push((v, range, rv.name.span));
        }
        // an argmax's terms have their own type; its result is an index
        let body = self.expr(body, if op.is_arg() { None } else { expected });
        self.locals.truncate(scope);
        if body.ty == ScalarType::Bool && !self.is_poisoned(&body) {
            self.error(
                Diagnostic::error(
                    format!("`{}` reduces numbers, found bool", op.name()),
                    body.span,
                )
                .with_help(if op.is_arg() {
                    "compare numbers: `argmax(k) i32(cond)` is the first `k` where `cond` holds"
                        .to_string()
                } else {
                    "count with `sum(k) i32(cond)`".to_string()
                }),
            );
        }
        let mut out = Vec::new();
        for (v, range, vspan) in rvars {
            match self.resolve_range(v, range, &[&body], vspan, "reduction") {
                Some(rv) => out.push(rv),
                None => return self.poison(span, body.ty),
            }
        }
        let ty = if op.is_arg() {
            ScalarType::I64
        } else {
            body.ty
        };
        TExpr {
            kind: TExprKind::Reduce {
                op,
                vars: out,
                body: Box::new(body),
            },
            ty,
            span,
        }
    }

    /// The checked bounds of `rv`'s range, if written (`i64` each), for
    /// `what` ("a reduction", "an update").
    fn range_bounds(&mut self, rv: &ast::ReduceVar, what: &str) -> Option<(TExpr, TExpr)> {
        let (lo, hi) = rv.range.as_ref()?;
        let mut chk = |e: &ast::Expr| {
            let t = self.expr(e, Some(ScalarType::I64));
            if t.ty != ScalarType::I64 && !self.is_poisoned(&t) {
                self.error(
                    Diagnostic::error(format!("{what} bound must be i64, found {}", t.ty), e.span)
                        .with_help("convert with `i64(e)`"),
                );
            }
            t
        };
        Some((chk(lo), chk(hi)))
    }

    /// Variable `v`'s range: as written, or `0..` the extent of the dims it
    /// indexes directly in `bodies` (`None`, reported, when that fails).
    fn resolve_range(
        &mut self,
        v: VarId,
        range: Option<(TExpr, TExpr)>,
        bodies: &[&TExpr],
        vspan: Span,
        what: &str,
    ) -> Option<ReduceVar> {
        let (lo, hi, inferred) = match range {
            Some((lo, hi)) => (lo, hi, false),
            None => {
                let extent = self.infer_extent(v, bodies, vspan, what)?;
                let zero = TExpr {
                    kind: TExprKind::Const(Const::Int(0)),
                    ty: ScalarType::I64,
                    span: vspan,
                };
                (zero, extent, true)
            }
        };
        Some(ReduceVar {
            var: v,
            lo,
            hi,
            inferred,
        })
    }

    /// Reports a `what` variable whose name is taken in the kernel.
    fn refuse_shadowing(&mut self, name: &ast::Ident, what: &str) {
        if self.globals.contains_key(&name.name) || self.locals.iter().any(|(n, _)| *n == name.name)
        {
            self.error(
                Diagnostic::error(
                    format!("{what} variable `{}` shadows another name", name.name),
                    name.span,
                )
                .with_help("pick another name"),
            );
        }
    }

    /// A new index or reduction variable.
    fn declare_var(&mut self, name: &ast::Ident) -> VarId {
        self.vars.push(VarDecl {
            name: name.name.clone(),
            span: name.span,
        });
        self.vars.len() - 1
    }

    /// The extent of a reduction variable written without a range: the
    /// extent of every array dim it indexes directly (`a[i, k]`). For a
    /// parameter or result that is its declared extent; for an intermediate
    /// stage, the extent its own index variable indexes ([`Self::natural`]).
    /// Refuses a reduction whose body is a `+`/`-` chain with a term that
    /// does not use any of its variables: `sum(c) x[n, c] / f32(C) - m[n]`
    /// subtracts `m[n]` once per `c`, because the body extends as far
    /// right as possible — almost never what was meant, and silent. A body
    /// in parentheses says it was meant.
    fn precedence_trap(&mut self, op: ReduceOp, vars: &[ast::ReduceVar], body: &ast::Expr) {
        let terms = additive_terms(body);
        if terms.len() < 2 {
            return;
        }
        let names: Vec<&str> = vars.iter().map(|v| v.name.name.as_str()).collect();
        let uses_a_var = |e: &ast::Expr| names.iter().any(|n| mentions(e, n));
        let Some(&(sign, loose)) = terms.iter().find(|(_, t)| !uses_a_var(t)) else {
            return;
        };
        let head = format!("{}({})", op.name(), names.join(", "));
        let what = match sign {
            Some(BinOp::Sub) => "subtracted",
            _ => "added",
        };
        let term = crate::unparse::expr(loose);
        let per = if names.len() == 1 {
            format!("`{}`", names[0])
        } else {
            format!(
                "combination of {}",
                names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        self.error(
            Diagnostic::error(
                format!("`{term}` is part of the body of `{head}`: it is {what} once per {per}"),
                loose.span,
            )
            .with_label(format!("does not use {}", names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(" or ")))
            .with_secondary(body.span, format!("the body of `{head}` extends as far right as possible"))
            .with_help(format!(
                "{}; if it belongs in every term, put the whole body in parentheses: `{head} (...)`",
                match sign {
                    None => format!("to add it once, write it before the reduction: `{term} + {head} ...`"),
                    Some(BinOp::Sub) => format!("to subtract it once, end the reduction before it: `({head} ...) - {term}`"),
                    Some(_) => format!("to add it once, end the reduction before it: `({head} ...) + {term}`"),
                }
            )),
        );
    }

    fn infer_extent(
        &mut self,
        v: VarId,
        bodies: &[&TExpr],
        vspan: Span,
        what: &str,
    ) -> Option<TExpr> {
        let uses: Vec<_> = bodies.iter().flat_map(|b| self.direct_uses(v, b)).collect();
        let name = self.vars[v].name.clone();
        let Some((extent, a0, d0, s0)) = uses.first().cloned() else {
            self.error(
                Diagnostic::error(
                    format!("cannot infer the range of {what} variable `{name}`"),
                    vspan,
                )
                .with_label("it does not directly index an array dim of known extent")
                .with_help(format!("give the range explicitly: `{name} in 0..N`")),
            );
            return None;
        };
        let names: Vec<String> = self.sizes.iter().map(|s| s.name.clone()).collect();
        for (other, a, d, s) in &uses[1..] {
            if *other != extent {
                self.error(
                    Diagnostic::error(
                        format!("{what} variable `{name}` indexes dims of different extents"),
                        vspan,
                    )
                    .with_secondary(
                        s0,
                        format!("`{a0}` dim {d0} has extent {}", extent.display(&names)),
                    )
                    .with_secondary(
                        *s,
                        format!("`{a}` dim {d} has extent {}", other.display(&names)),
                    )
                    .with_help(format!("give the range explicitly: `{name} in 0..N`")),
                );
                return None;
            }
        }
        Some(size_texpr(&extent, vspan))
    }

    /// Every array dim indexed by exactly `Var(v)` in `body`, with its extent.
    fn direct_uses(&self, v: VarId, body: &TExpr) -> Vec<(SizeExpr, String, usize, Span)> {
        let mut uses = Vec::new();
        body.walk(&mut |e| {
            if let TExprKind::Read { source, indices } = &e.kind {
                for (d, ix) in indices.iter().enumerate() {
                    if !matches!(ix.kind, TExprKind::Var(x) if x == v) {
                        continue;
                    }
                    let found = match *source {
                        ArraySource::Param(p) => self.params[p].dims.as_ref().map(|dims| {
                            let ext = match dims[d] {
                                Dim::Size(s) => SizeExpr::size(s),
                                Dim::Fixed(n) => SizeExpr::constant(n),
                            };
                            (ext, self.params[p].name.clone())
                        }),
                        ArraySource::Stage(s) => self.natural[s]
                            .get(d)
                            .cloned()
                            .flatten()
                            .map(|ext| (ext, self.stages[s].name.clone())),
                    };
                    if let Some((ext, arr)) = found {
                        uses.push((ext, arr, d, ix.span));
                    }
                }
            }
        });
        uses
    }

    /// Natural extents of a stage just checked: declared dims for a result;
    /// for an intermediate, per dim the extent its index variable indexes
    /// directly, when all such uses agree.
    fn natural(&self, st: &Stage) -> Vec<Option<SizeExpr>> {
        if let Some(r) = st.result {
            return self.results[r].dims.iter().cloned().map(Some).collect();
        }
        st.vars
            .iter()
            .map(|&v| {
                let uses = self.direct_uses(v, &st.value);
                let first = uses.first().map(|u| u.0.clone())?;
                uses.iter().all(|u| u.0 == first).then_some(first)
            })
            .collect()
    }
}

/// An `i64` expression computing a size expression.
fn size_texpr(e: &SizeExpr, span: Span) -> TExpr {
    let i64t = ScalarType::I64;
    let mk = |kind| TExpr {
        kind,
        ty: i64t,
        span,
    };
    let konst = |c: i64| mk(TExprKind::Const(Const::Int(c)));
    let mut acc: Option<TExpr> = None;
    for (atom, c) in &e.terms {
        let a = match atom {
            bounds::Atom::Size(s) => mk(TExprKind::Size(*s)),
            bounds::Atom::Div(inner, k) => mk(TExprKind::Binary(
                BinOp::Div,
                Box::new(size_texpr(inner, span)),
                Box::new(konst(*k)),
            )),
        };
        let term = if *c == 1 {
            a
        } else {
            mk(TExprKind::Binary(
                BinOp::Mul,
                Box::new(konst(*c)),
                Box::new(a),
            ))
        };
        acc = Some(match acc {
            None => term,
            Some(x) => mk(TExprKind::Binary(BinOp::Add, Box::new(x), Box::new(term))),
        });
    }
    match acc {
        None => konst(e.constant),
        Some(x) if e.constant == 0 => x,
        Some(x) => mk(TExprKind::Binary(
            BinOp::Add,
            Box::new(x),
            Box::new(konst(e.constant)),
        )),
    }
}
