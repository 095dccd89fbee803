//! Lowers the checked program ([`pj_lang::hir`]) into the `pj` dialect.
//!
//! Each kernel becomes a `pj.kernel` op whose block arguments are the
//! parameters. Size names become `pj.size` ops, `let`s become scalar values
//! in the kernel block, and each stage becomes a `pj.stage` op whose bounds
//! operands are computed from the sizes by `arith` ops, exactly as bounds
//! inference found them. No optimization happens here: the pass pipeline
//! cleans up duplicated constants and bound computations.

use crate::dialects::func::status;
use crate::dialects::{ArithOp, FuncOp, MathOp, Opcode, PjOp, arith::Scalar};
use crate::ir::{Attr, BlockId, Dim, Loc, Module, OpSpec, Type, ValueId};
use pj_lang::ast::{BinOp, UnaryOp};
use pj_lang::bounds::{Atom, Bound, SizeExpr};
use pj_lang::hir::{self, ArraySource, Builtin, Const, TExpr, TExprKind};
use pj_lang::types::ScalarType;
use pj_lang::{LineIndex, Span};
use std::collections::HashMap;

/// Source text and file name, for locations.
#[derive(Clone, Copy)]
pub struct Source<'a> {
    /// File name as printed in `loc(...)`.
    pub name: &'a str,
    /// The text the spans point into.
    pub text: &'a str,
}

/// Lowers every kernel of `program`.
pub fn lower(program: &hir::Program, source: Option<Source<'_>>) -> Module {
    let mut m = Module::new();
    m.source_name = source.map(|s| s.name.to_string());
    let lines = source.map(|s| LineIndex::new(s.text));
    for k in &program.kernels {
        let mut l = Lowering {
            m: &mut m,
            k,
            lines: lines.as_ref(),
            params: vec![],
            sizes: vec![],
            lets: vec![],
            stages: HashMap::new(),
            vars: HashMap::new(),
            computed: HashMap::new(),
            prior_init: None,
            prior_init_value: None,
        };
        l.kernel();
    }
    m
}

struct Lowering<'a> {
    m: &'a mut Module,
    k: &'a hir::Kernel,
    lines: Option<&'a LineIndex>,
    params: Vec<ValueId>,
    sizes: Vec<ValueId>,
    lets: Vec<ValueId>,
    stages: HashMap<usize, ValueId>,
    vars: HashMap<usize, ValueId>,
    /// Per stage, whether it computes at least one element: a `bool`
    /// value, or `None` when it provably always does.
    computed: HashMap<usize, Option<ValueId>>,
    /// While a recurrence's value is lowered: its `init`, and the value it
    /// became at the first `pj.prior` that needed it.
    prior_init: Option<hir::TExpr>,
    prior_init_value: Option<ValueId>,
}

/// The declared result types as text (`f32[H - 2, W - 2]`), for documentation
/// (C headers); not interpreted.
fn result_types(k: &hir::Kernel) -> Attr {
    let names: Vec<String> = k.sizes.iter().map(|s| s.name.clone()).collect();
    Attr::Array(
        k.results
            .iter()
            .map(|r| {
                let dims: Vec<String> = r.dims.iter().map(|d| d.display(&names)).collect();
                Attr::Str(format!("{}[{}]", r.elem, dims.join(", ")))
            })
            .collect(),
    )
}

fn op(o: ArithOp) -> Opcode {
    Opcode::Arith(o)
}

impl Lowering<'_> {
    fn loc(&self, span: Span) -> Option<Loc> {
        self.lines.map(|l| {
            let (line, col) = l.line_col(span.start);
            Loc { line, col }
        })
    }

    fn kernel(&mut self) {
        let k = self.k;
        let strs =
            |v: Vec<&str>| Attr::Array(v.into_iter().map(|s| Attr::Str(s.to_string())).collect());
        let mut spec = OpSpec::new(Opcode::Pj(PjOp::Kernel))
            .attr("sym_name", Attr::Str(k.name.clone()))
            .attr(
                "arg_names",
                strs(k.params.iter().map(|p| p.name.as_str()).collect()),
            )
            .attr(
                "result_names",
                strs(k.results.iter().map(|r| r.name.as_str()).collect()),
            )
            .attr("result_types", result_types(k))
            .regions(1)
            .loc(self.loc(k.span));
        // extents like `N * 1000000000` overflow for large sizes: calls
        // check that sizes stay within what the arithmetic allows
        let limit = pj_lang::bounds::size_limit(k);
        if limit < pj_lang::bounds::MAX_SIZE {
            spec = spec.attr(crate::dialects::pj::SIZE_LIMIT, Attr::Int(limit));
        }
        if k.params
            .iter()
            .any(|p| p.boundary.is_some() || p.range.is_some())
        {
            let per_param = k
                .params
                .iter()
                .map(|p| {
                    let mut d = Vec::new();
                    if let Some(b) = p.boundary {
                        d.push(("boundary".to_string(), Attr::Str(b.name().to_string())));
                    }
                    if let Some((lo, hi)) = p.range {
                        d.push((
                            "range".to_string(),
                            Attr::Array(vec![Attr::Float(lo), Attr::Float(hi)]),
                        ));
                    }
                    Attr::Dict(d)
                })
                .collect();
            spec = spec.attr("arg_attrs", Attr::Array(per_param));
        }
        if k.results.iter().any(|r| r.tolerance.is_some()) {
            let per_result = k
                .results
                .iter()
                .map(|r| match r.tolerance {
                    Some(t) => Attr::Dict(vec![(
                        "tolerance".to_string(),
                        crate::dialects::pj::Tolerance {
                            abs: t.abs,
                            rel: t.rel,
                        }
                        .to_attr(),
                    )]),
                    None => Attr::Dict(vec![]),
                })
                .collect();
            spec = spec.attr("result_attrs", Attr::Array(per_result));
        }
        let kop = self.m.build_op(spec);
        let top = self.m.top;
        self.m.append_op(top, kop);
        let body = self.m.entry_block(kop, 0);
        for p in &k.params {
            let ty = match &p.dims {
                None => Type::Scalar(p.elem),
                Some(dims) => Type::Tensor {
                    elem: p.elem,
                    dims: dims
                        .iter()
                        .map(|d| match d {
                            hir::Dim::Size(s) => Dim::Sym(k.sizes[*s].name.clone()),
                            hir::Dim::Fixed(n) => Dim::Static(*n),
                        })
                        .collect(),
                },
            };
            let v = self.m.add_block_arg(body, ty, Some(p.name.clone()));
            self.params.push(v);
        }
        for s in &k.sizes {
            let o = self.m.push(
                body,
                OpSpec::new(Opcode::Pj(PjOp::Size))
                    .attr("name", Attr::Str(s.name.clone()))
                    .result(Type::INDEX),
            );
            let v = self.m.result(o);
            self.m.set_value_name(v, s.name.clone());
            self.sizes.push(v);
        }
        // size constraints, checked before anything is computed
        for c in &k.constraints {
            let cond = self.expr(body, &c.expr);
            let shown: Vec<usize> = c.sizes.iter().copied().take(2).collect();
            let values: Vec<String> = shown
                .iter()
                .enumerate()
                .map(|(i, &s)| format!("{} = {{{i}}}", k.sizes[s].name))
                .collect();
            let message = format!(
                "size constraint `{}` does not hold: {}",
                c.text,
                values.join(", ")
            );
            let details: Vec<ValueId> = shown.iter().map(|&s| self.sizes[s]).collect();
            self.m.push(
                body,
                OpSpec::new(Opcode::Func(FuncOp::Check))
                    .operands(std::iter::once(cond).chain(details))
                    .attr("code", Attr::Int(status::SHAPE_MISMATCH))
                    .attr("message", Attr::Str(message))
                    .loc(self.loc(c.span)),
            );
        }
        for item in &k.body {
            match *item {
                hir::Item::Let(l) => {
                    let v = self.expr(body, &k.lets[l].value);
                    self.m.set_value_name(v, k.lets[l].name.clone());
                    self.lets.push(v);
                }
                hir::Item::Stage(s) => {
                    let mut v = self.stage(body, s);
                    for u in &k.stages[s].updates {
                        v = self.update(body, v, u);
                    }
                    self.stages.insert(s, v);
                }
            }
        }
        let results: Vec<ValueId> = k.results.iter().map(|r| self.stages[&r.stage]).collect();
        self.m.push(
            body,
            OpSpec::new(Opcode::Pj(PjOp::Return)).operands(results),
        );
        // the schedule block: attributes the scheduler leaves alone and
        // `lower-stages` realizes (legality: `crate::check_schedule`)
        use crate::passes::schedule as sch;
        for d in &k.schedule {
            let op = self.m.def_op(self.stages[&d.stage]).expect("a stage op");
            if let hir::DirectiveKind::CacheBlock { k: steps, cols } = d.kind {
                // a cache block is one of `reduce(vector)`'s
                let d_op = self.m.op_mut(op);
                d_op.set_attr(sch::BLOCK_K, Attr::Int(steps));
                d_op.set_attr(sch::BLOCK_COLS, Attr::Int(cols));
                if d_op.attr(sch::REDUCE_ORDER).is_none() {
                    d_op.set_attr(sch::REDUCE_ORDER, Attr::Str("vector".into()));
                }
                continue;
            }
            let (key, value) = match &d.kind {
                hir::DirectiveKind::ComputeAt(r) => {
                    (sch::COMPUTE_AT, Attr::Str(k.stages[*r].name.clone()))
                }
                hir::DirectiveKind::ComputeRoot => (sch::COMPUTE_ROOT, Attr::Bool(true)),
                hir::DirectiveKind::TileRows(n) => (sch::TILE_ROWS, Attr::Int(*n)),
                hir::DirectiveKind::TileBytes(n) => (sch::TILE_BYTES, Attr::Int(*n)),
                hir::DirectiveKind::Reduce(o) => (sch::REDUCE_ORDER, Attr::Str(o.clone())),
                hir::DirectiveKind::Parallel(b) => (sch::PARALLEL, Attr::Bool(*b)),
                hir::DirectiveKind::Vectorize(b) => (sch::VECTORIZE, Attr::Bool(*b)),
                hir::DirectiveKind::Sliding(b) => (sch::SLIDING, Attr::Bool(*b)),
                // not a schedule attribute: the scheduler still decides
                hir::DirectiveKind::Quantize(q) => {
                    (crate::quant::plan::STAGE_REQUEST, Attr::Str(q.clone()))
                }
                hir::DirectiveKind::CacheBlock { .. } => unreachable!("handled above"),
            };
            self.m.op_mut(op).set_attr(key, value);
        }
    }

    fn constant(&mut self, block: BlockId, s: Scalar) -> ValueId {
        let o = self.m.push(
            block,
            OpSpec::new(op(ArithOp::Constant))
                .attr("value", s.to_attr())
                .result(Type::Scalar(s.ty())),
        );
        self.m.result(o)
    }

    fn arith(
        &mut self,
        block: BlockId,
        o: ArithOp,
        args: &[ValueId],
        ty: Type,
        loc: Option<Loc>,
    ) -> ValueId {
        let id = self.m.push(
            block,
            OpSpec::new(op(o))
                .operands(args.iter().copied())
                .result(ty)
                .loc(loc),
        );
        self.m.result(id)
    }

    fn size_expr(&mut self, block: BlockId, e: &SizeExpr) -> ValueId {
        let idx = Type::INDEX;
        let mut acc: Option<ValueId> = None;
        for (atom, c) in &e.terms {
            let a = match atom {
                Atom::Size(s) => self.sizes[*s],
                Atom::Div(inner, k) => {
                    let x = self.size_expr(block, inner);
                    let kv = self.constant(block, Scalar::I64(*k));
                    self.arith(block, ArithOp::Div, &[x, kv], idx.clone(), None)
                }
            };
            let mag = c.unsigned_abs() as i64;
            let term = if mag == 1 {
                a
            } else {
                let kv = self.constant(block, Scalar::I64(mag));
                self.arith(block, ArithOp::Mul, &[a, kv], idx.clone(), None)
            };
            acc = Some(match (acc, *c < 0) {
                (None, false) => term,
                (None, true) => self.arith(block, ArithOp::Neg, &[term], idx.clone(), None),
                (Some(x), false) => self.arith(block, ArithOp::Add, &[x, term], idx.clone(), None),
                (Some(x), true) => self.arith(block, ArithOp::Sub, &[x, term], idx.clone(), None),
            });
        }
        match acc {
            None => self.constant(block, Scalar::I64(e.constant)),
            Some(x) if e.constant == 0 => x,
            Some(x) => {
                let kv = self.constant(block, Scalar::I64(e.constant.unsigned_abs() as i64));
                let o = if e.constant > 0 {
                    ArithOp::Add
                } else {
                    ArithOp::Sub
                };
                self.arith(block, o, &[x, kv], idx, None)
            }
        }
    }

    fn bound(&mut self, block: BlockId, b: &Bound, is_upper: bool, plus_one: bool) -> ValueId {
        let mut acc: Option<ValueId> = None;
        for member in &b.members {
            let e = if plus_one {
                member.add_const(1)
            } else {
                member.clone()
            };
            let v = self.size_expr(block, &e);
            acc = Some(match acc {
                None => v,
                Some(a) => {
                    let o = if is_upper { ArithOp::Max } else { ArithOp::Min };
                    self.arith(block, o, &[a, v], Type::INDEX, None)
                }
            });
        }
        acc.expect("a bound has members")
    }

    /// A `bool` that is true when `[lo, hi]` is not empty (`None`: provably
    /// never empty).
    fn nonempty(&mut self, block: BlockId, lo: &Bound, hi: &Bound) -> Option<ValueId> {
        let always = lo.members.iter().all(|x| {
            hi.members
                .iter()
                .all(|y| y.sub(x).as_constant().is_some_and(|c| c >= 0))
        });
        if always {
            return None;
        }
        let x = self.bound(block, lo, false, false);
        let y = self.bound(block, hi, true, true);
        let id = self.m.push(
            block,
            OpSpec::new(op(ArithOp::Cmp))
                .operands([x, y])
                .attr("pred", Attr::Str("lt".into()))
                .result(Type::Scalar(ScalarType::Bool)),
        );
        Some(self.m.result(id))
    }

    /// `a && b` over conditions where `None` is true.
    fn and(&mut self, block: BlockId, a: Option<ValueId>, b: Option<ValueId>) -> Option<ValueId> {
        match (a, b) {
            (Some(x), Some(y)) => Some(self.arith(
                block,
                ArithOp::And,
                &[x, y],
                Type::Scalar(ScalarType::Bool),
                None,
            )),
            (x, None) | (None, x) => x,
        }
    }

    /// Fills `computed` for `s` and every stage its reads' guards name, all
    /// later in the kernel: consumers before producers, without recursion
    /// (a chain of stages can be thousands long).
    fn computed(&mut self, block: BlockId, s: usize) -> Option<ValueId> {
        let mut todo = vec![s];
        let mut order = Vec::new();
        while let Some(t) = todo.pop() {
            if self.computed.contains_key(&t) || order.contains(&t) {
                continue;
            }
            order.push(t);
            todo.extend(self.k.stages[t].guards.iter().filter_map(|g| g.consumer));
        }
        order.sort_unstable_by(|a, b| b.cmp(a));
        for t in order {
            let st = &self.k.stages[t];
            let cond = if st.result.is_some() {
                // a result computes its declared shape
                let mut c = None;
                for iv in &st.domain {
                    let d = self.nonempty(block, &iv.lo, &iv.hi);
                    c = self.and(block, c, d);
                }
                c
            } else {
                // an intermediate computes something when one of its reads
                // happens
                let mut any: Option<Option<ValueId>> = None;
                for g in &st.guards {
                    let mut c = g.consumer.and_then(|u| self.computed[&u]);
                    for iv in &g.ranges {
                        let d = self.nonempty(block, &iv.lo, &iv.hi);
                        c = self.and(block, c, d);
                    }
                    any = Some(match (any, c) {
                        (None, c) => c,
                        (Some(None), _) | (Some(_), None) => None,
                        (Some(Some(x)), Some(y)) => Some(self.arith(
                            block,
                            ArithOp::Or,
                            &[x, y],
                            Type::Scalar(ScalarType::Bool),
                            None,
                        )),
                    });
                }
                any.unwrap_or(None)
            };
            self.computed.insert(t, cond);
        }
        self.computed[&s]
    }

    fn stage(&mut self, block: BlockId, s: usize) -> ValueId {
        let st = &self.k.stages[s];
        let mut bounds = Vec::new();
        for iv in &st.domain {
            bounds.push(self.bound(block, &iv.lo, false, false));
            bounds.push(self.bound(block, &iv.hi, true, true));
        }
        // The domain is the hull of what the reads cover; when no read
        // happens (its consumers are empty) it is empty, though the hull of
        // the reads' empty ranges may not be: `t[i - 2]` and `t[i]` for `i`
        // in `[0, -1]` hull to `[-2, -1]`.
        if st.result.is_none()
            && !st.guards.is_empty()
            && !bounds.is_empty()
            && let Some(c) = self.computed(block, s)
        {
            bounds[1] = self.arith(
                block,
                ArithOp::Select,
                &[c, bounds[1], bounds[0]],
                Type::INDEX,
                None,
            );
        }
        let st = &self.k.stages[s];
        let mut spec = OpSpec::new(Opcode::Pj(PjOp::Stage))
            .operands(bounds)
            .attr("name", Attr::Str(st.name.clone()))
            .result(Type::dynamic_tensor(st.elem, st.vars.len()))
            .regions(1)
            .loc(self.loc(st.span));
        if let Some(r) = st.result {
            spec = spec.attr("result", Attr::Int(r as i64));
        }
        let o = self.m.build_op(spec);
        let inner = self.m.entry_block(o, 0);
        for &v in &st.vars {
            let a = self
                .m
                .add_block_arg(inner, Type::INDEX, Some(self.k.vars[v].name.clone()));
            self.vars.insert(v, a);
        }
        // a recurrence's `init` first: every `pj.prior` takes it
        self.prior_init = st.recurrence.as_ref().map(|r| r.init.clone());
        self.prior_init_value = None;
        let value = self.expr(inner, &st.value);
        self.prior_init = None;
        self.m.push(
            inner,
            OpSpec::new(Opcode::Pj(PjOp::Yield)).operands([value]),
        );
        self.m.append_op(block, o);
        let r = self.m.result(o);
        self.m.set_value_name(r, st.name.clone());
        r
    }

    /// A `pj.update` of `tensor`: its variables' ranges, then a region
    /// yielding the element's indices (as `i64`) and the value.
    fn update(&mut self, block: BlockId, tensor: ValueId, u: &hir::Update) -> ValueId {
        let mut bounds = Vec::new();
        for rv in &u.vars {
            bounds.push(self.expr(block, &rv.lo));
            bounds.push(self.expr(block, &rv.hi));
        }
        let ty = self.m.ty(tensor).clone();
        let o = self.m.build_op(
            OpSpec::new(Opcode::Pj(PjOp::Update))
                .operands(std::iter::once(tensor).chain(bounds))
                .attr("kind", Attr::Str(u.op.name().into()))
                .attr(
                    "name",
                    Attr::Str(self.m.value(tensor).name.clone().unwrap_or_default()),
                )
                .result(ty)
                .regions(1)
                .loc(self.loc(u.span)),
        );
        let inner = self.m.entry_block(o, 0);
        for rv in &u.vars {
            let a =
                self.m
                    .add_block_arg(inner, Type::INDEX, Some(self.k.vars[rv.var].name.clone()));
            self.vars.insert(rv.var, a);
        }
        let mut yielded = Vec::new();
        for ix in &u.indices {
            let v = self.expr(inner, ix);
            yielded.push(if ix.ty == ScalarType::I64 {
                v
            } else {
                self.arith(inner, ArithOp::Cast, &[v], Type::INDEX, None)
            });
        }
        yielded.push(self.expr(inner, &u.value));
        self.m.push(
            inner,
            OpSpec::new(Opcode::Pj(PjOp::Yield)).operands(yielded),
        );
        self.m.append_op(block, o);
        let r = self.m.result(o);
        if let Some(name) = self.m.value(tensor).name.clone() {
            self.m.set_value_name(r, name);
        }
        r
    }

    fn expr(&mut self, block: BlockId, e: &TExpr) -> ValueId {
        let ty = Type::Scalar(e.ty);
        let loc = self.loc(e.span);
        match &e.kind {
            TExprKind::Const(c) => {
                let s = match *c {
                    Const::Int(v) => Scalar::from_i64(v, e.ty),
                    Const::Float(v) => match e.ty {
                        ScalarType::F32 => Scalar::F32(v as f32),
                        // rounded once, from the literal's f64
                        ScalarType::F16 => Scalar::F16(half::f16::from_f64(v).to_bits()),
                        ScalarType::Bf16 => Scalar::Bf16(half::bf16::from_f64(v).to_bits()),
                        _ => Scalar::F64(v),
                    },
                    Const::Bool(b) => Scalar::Bool(b),
                };
                self.constant(block, s)
            }
            TExprKind::Size(s) => self.sizes[*s],
            TExprKind::Scalar(p) => self.params[*p],
            TExprKind::Let(l) => self.lets[*l],
            TExprKind::Var(v) => self.vars[v],
            TExprKind::Prior { dim, lag } => {
                let init = match self.prior_init_value {
                    Some(v) => v,
                    None => {
                        let e = self.prior_init.clone().expect("a recurrence has `init`");
                        let v = self.expr(block, &e);
                        self.prior_init_value = Some(v);
                        v
                    }
                };
                let o = self.m.push(
                    block,
                    OpSpec::new(Opcode::Pj(PjOp::Prior))
                        .operands([init])
                        .attr("dim", Attr::Int(*dim as i64))
                        .attr("lag", Attr::Int(*lag))
                        .result(ty)
                        .loc(loc),
                );
                self.m.result(o)
            }
            TExprKind::Read { source, indices } => {
                let (array, boundary) = match source {
                    ArraySource::Param(p) => (self.params[*p], self.k.params[*p].boundary),
                    ArraySource::Stage(s) => (self.stages[s], None),
                };
                let mut operands = vec![array];
                for ix in indices {
                    operands.push(self.expr(block, ix));
                }
                let mut spec = OpSpec::new(Opcode::Pj(PjOp::Read))
                    .operands(operands)
                    .result(ty)
                    .loc(loc);
                if let Some(b) = boundary {
                    spec = spec.attr("boundary", Attr::Str(b.name().into()));
                }
                let o = self.m.push(block, spec);
                self.m.result(o)
            }
            TExprKind::Unary(u, a) => {
                let x = self.expr(block, a);
                let o = if *u == UnaryOp::Neg {
                    ArithOp::Neg
                } else {
                    ArithOp::Not
                };
                self.arith(block, o, &[x], ty, loc)
            }
            TExprKind::Binary(b, l, r) => {
                let x = self.expr(block, l);
                let y = self.expr(block, r);
                let (o, pred) = match b {
                    BinOp::Add => (ArithOp::Add, None),
                    BinOp::Sub => (ArithOp::Sub, None),
                    BinOp::Mul => (ArithOp::Mul, None),
                    BinOp::Div => (ArithOp::Div, None),
                    BinOp::Rem => (ArithOp::Rem, None),
                    BinOp::And => (ArithOp::And, None),
                    BinOp::Or => (ArithOp::Or, None),
                    BinOp::Lt => (ArithOp::Cmp, Some("lt")),
                    BinOp::Le => (ArithOp::Cmp, Some("le")),
                    BinOp::Gt => (ArithOp::Cmp, Some("gt")),
                    BinOp::Ge => (ArithOp::Cmp, Some("ge")),
                    BinOp::Eq => (ArithOp::Cmp, Some("eq")),
                    BinOp::Ne => (ArithOp::Cmp, Some("ne")),
                };
                let mut spec = OpSpec::new(op(o)).operands([x, y]).result(ty).loc(loc);
                if let Some(p) = pred {
                    spec = spec.attr("pred", Attr::Str(p.into()));
                }
                let id = self.m.push(block, spec);
                self.m.result(id)
            }
            TExprKind::Cast(a) => {
                let x = self.expr(block, a);
                self.arith(block, ArithOp::Cast, &[x], ty, loc)
            }
            TExprKind::Call(f, args) => {
                let xs: Vec<ValueId> = args.iter().map(|a| self.expr(block, a)).collect();
                let math = |o: MathOp| Opcode::Math(o);
                let (code, operands) = match f {
                    Builtin::Select => (op(ArithOp::Select), xs),
                    Builtin::Min => (op(ArithOp::Min), xs),
                    Builtin::Max => (op(ArithOp::Max), xs),
                    Builtin::Clamp => {
                        let lo = self.arith(block, ArithOp::Max, &[xs[0], xs[1]], ty.clone(), loc);
                        (op(ArithOp::Min), vec![lo, xs[2]])
                    }
                    Builtin::Abs => (math(MathOp::Abs), xs),
                    Builtin::Exp => (math(MathOp::Exp), xs),
                    Builtin::Log => (math(MathOp::Log), xs),
                    Builtin::Sqrt => (math(MathOp::Sqrt), xs),
                    Builtin::Tanh => (math(MathOp::Tanh), xs),
                    Builtin::Floor => (math(MathOp::Floor), xs),
                    Builtin::Ceil => (math(MathOp::Ceil), xs),
                    Builtin::Pow => (math(MathOp::Pow), xs),
                    Builtin::Sin => (math(MathOp::Sin), xs),
                    Builtin::Cos => (math(MathOp::Cos), xs),
                    Builtin::Tan => (math(MathOp::Tan), xs),
                    Builtin::Atan2 => (math(MathOp::Atan2), xs),
                    Builtin::Erf => (math(MathOp::Erf), xs),
                    Builtin::Log1p => (math(MathOp::Log1p), xs),
                    Builtin::Expm1 => (math(MathOp::Expm1), xs),
                };
                let id = self.m.push(
                    block,
                    OpSpec::new(code).operands(operands).result(ty).loc(loc),
                );
                self.m.result(id)
            }
            TExprKind::Reduce {
                op: rop,
                vars,
                body,
            } => {
                let mut bounds = Vec::new();
                for rv in vars {
                    bounds.push(self.expr(block, &rv.lo));
                    bounds.push(self.expr(block, &rv.hi));
                }
                let o = self.m.build_op(
                    OpSpec::new(Opcode::Pj(PjOp::Reduce))
                        .operands(bounds)
                        .attr("kind", Attr::Str(rop.name().into()))
                        .result(ty)
                        .regions(1)
                        .loc(loc),
                );
                let inner = self.m.entry_block(o, 0);
                for rv in vars {
                    let a = self.m.add_block_arg(
                        inner,
                        Type::INDEX,
                        Some(self.k.vars[rv.var].name.clone()),
                    );
                    self.vars.insert(rv.var, a);
                }
                let v = self.expr(inner, body);
                self.m
                    .push(inner, OpSpec::new(Opcode::Pj(PjOp::Yield)).operands([v]));
                self.m.append_op(block, o);
                self.m.result(o)
            }
        }
    }
}
