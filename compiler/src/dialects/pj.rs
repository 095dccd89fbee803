//! `pj` dialect: kernels as the user wrote them — stages over domains,
//! array reads with boundary modes, reductions.
//!
//! Produced by the AST lowering (`front.rs`); executed directly by the
//! reference interpreter; lowered to loops by the native backends (later).
//! Invariants: `pj.stage` and `pj.reduce` regions have one block whose
//! arguments are `i64` index variables and which ends in `pj.yield`; the
//! kernel block ends in `pj.return`; no op here has side effects.
//!
//! ```text
//! %bx = pj.stage(%lo0, %ub0, %lo1, %ub1) {name = "bx"} : f32[?, ?] {
//! ^bb0(%y: i64, %x: i64):
//!   %v = pj.read(%input, %y, %x) {boundary = "clamp"} : f32
//!   pj.yield(%v)
//! }
//! ```

use super::{check, dialect_ops};
use crate::ir::{Attr, Dim, Module, OpId, Type};
use pj_lang::types::Boundary;

dialect_ops!(
    /// Ops of the `pj` dialect.
    PjOp, "pj", {
    /// A kernel: one region whose block arguments are the parameters
    /// (tensors with symbolic extents, or scalars). Attributes: `sym_name`,
    /// `arg_names`, `result_names`, optional `arg_attrs` (per parameter:
    /// `boundary`, `range`) and `result_attrs` (per result: `tolerance`).
    Kernel => "kernel",
    /// The value of a size symbol of the enclosing kernel (`{name = "H"}`): `i64`.
    Size => "size",
    /// A stage: operands are `lo, ub` per dim (half-open, absolute
    /// coordinates); the region computes the element at its index arguments.
    /// Attributes: `name`, optional `result` (index among kernel results).
    Stage => "stage",
    /// Reads one element: operands are the tensor, then one integer index per
    /// dim. Optional `boundary` says what an out-of-range index reads.
    Read => "read",
    /// A recurrence's read of its own stage (`{dim = d, lag = k}`): the
    /// element `k >= 1` before the current one along dim `d`, every other
    /// index the current one's; before the stage's first index along `d`,
    /// its one operand (the `init`). Directly in a `pj.stage` region: the
    /// stage is then computed in order along `d` (docs/language.md,
    /// "Recurrences").
    Prior => "prior",
    /// A reduction (`{kind = "sum"|"prod"|"min"|"max"}`): operands are `lo, ub`
    /// per reduction variable; the region yields the term at its arguments.
    Reduce => "reduce",
    /// An update of a stage (`{kind = "sum"|"max"|"min"}`): operands are the
    /// tensor (a `pj.stage` or `pj.update`), then `lo, ub` per update
    /// variable; the region yields the indices of the element to update
    /// (`i64`, one per dim) and the value combined into it. For every point
    /// in row-major order: `t[idx] = kind(t[idx], value)`; an index outside
    /// the tensor is an error. Its result is the updated tensor.
    Update => "update",
    /// Ends a stage or reduction region with its one value (an update's
    /// with its indices, then its value).
    Yield => "yield",
    /// Ends the kernel with its results, in declaration order.
    Return => "return",
});

/// Attribute of `pj.kernel` (and `func.func`): the largest size a call may
/// bind, when the kernel's extents overflow below
/// [`pj_lang::bounds::MAX_SIZE`] (`f32[N * 1000000000]`). Absent: that.
pub const SIZE_LIMIT: &str = "size_limit";

/// The largest size a call of kernel `op` may bind ([`SIZE_LIMIT`]).
pub fn size_limit(m: &crate::ir::Module, op: crate::ir::OpId) -> i64 {
    m.op(op)
        .attr(SIZE_LIMIT)
        .and_then(Attr::as_int)
        .unwrap_or(pj_lang::bounds::MAX_SIZE)
}

/// Names accepted by the `kind` attribute of `pj.reduce`.
pub const REDUCE_KINDS: [&str; 6] = ["sum", "prod", "min", "max", "argmax", "argmin"];

/// Whether a `pj.reduce` kind gives the index of a term (`argmax`,
/// `argmin`: one variable, an `i64` result) rather than combining terms.
pub fn is_arg_kind(kind: &str) -> bool {
    matches!(kind, "argmax" | "argmin")
}

/// Names accepted by the `kind` attribute of `pj.update`.
pub const UPDATE_KINDS: [&str; 3] = ["sum", "min", "max"];

/// Attribute of `pj.update`: how native code runs it, chosen by the
/// `schedule` pass — `"private"` (a copy per thread, merged in order) or
/// `"serial"` (one thread, in order).
pub const SCATTER: &str = "scatter";

impl PjOp {
    /// No side effects. `pj.prior` reads the stage being computed, so it
    /// never moves out of it.
    pub fn is_pure(self) -> bool {
        !matches!(
            self,
            PjOp::Kernel | PjOp::Yield | PjOp::Return | PjOp::Prior
        )
    }

    /// Checks the op's rules.
    pub fn verify(self, m: &Module, op: OpId, errs: &mut Vec<String>) {
        let d = m.op(op);
        match self {
            PjOp::Kernel => {
                check::counts(m, op, Some(0), 0, 1, errs);
                if d.attr("sym_name").and_then(Attr::as_str).is_none() {
                    errs.push("needs a string attribute `sym_name`".into());
                }
                if d.regions.len() == 1 {
                    let block = m.entry_block(op, 0);
                    let nargs = m.block(block).args.len();
                    match d.attr("arg_names").and_then(Attr::as_array) {
                        Some(a) if a.len() == nargs => {}
                        _ => errs.push(format!(
                            "needs `arg_names` with one string per block argument ({nargs})"
                        )),
                    }
                    if let Some(a) = d.attr("arg_attrs").and_then(Attr::as_array) {
                        if a.len() != nargs {
                            errs.push("`arg_attrs` needs one dictionary per block argument".into());
                        }
                        for aa in a {
                            if let Some(b) = aa.get("boundary")
                                && b.as_str().and_then(Boundary::from_name).is_none()
                            {
                                errs.push(format!("unknown boundary mode {b}"));
                            }
                        }
                    }
                    for &arg in &m.block(block).args {
                        if matches!(m.ty(arg), Type::Vector { .. } | Type::Buffer { .. }) {
                            errs.push(format!(
                                "kernel parameters are tensors or scalars, not {}",
                                m.ty(arg)
                            ));
                        }
                        if let Type::Tensor { dims, .. } = m.ty(arg)
                            && dims.contains(&Dim::Dynamic)
                        {
                            errs.push(
                                "kernel parameters need static or symbolic extents, not `?`".into(),
                            );
                        }
                    }
                    let nresults = d
                        .attr("result_names")
                        .and_then(Attr::as_array)
                        .map(<[Attr]>::len);
                    if nresults.is_none() {
                        errs.push("needs an array attribute `result_names`".into());
                    }
                    if let Some(a) = d.attr("result_attrs").and_then(Attr::as_array) {
                        if Some(a.len()) != nresults {
                            errs.push("`result_attrs` needs one dictionary per result".into());
                        }
                        for ra in a {
                            if let Some(t) = ra.get("tolerance")
                                && Tolerance::from_attr(t).is_none()
                            {
                                errs.push(format!(
                                    "a tolerance is `{{abs = a, rel = r}}` with non-negative floats, at least one positive, not {t}"
                                ));
                            }
                        }
                    }
                    if let (Some(n), Some(&last)) = (nresults, m.block(block).ops.last())
                        && m.op(last).opcode == super::Opcode::Pj(PjOp::Return)
                        && m.op(last).operands.len() != n
                    {
                        errs.push(format!(
                            "returns {} values but declares {n} results",
                            m.op(last).operands.len()
                        ));
                    }
                }
            }
            PjOp::Size => {
                check::counts(m, op, Some(0), 1, 0, errs);
                match d.attr("name").and_then(Attr::as_str) {
                    None => errs.push("needs a string attribute `name`".into()),
                    Some(name) => {
                        if let Some(kernel) = enclosing_kernel(m, op) {
                            let block = m.entry_block(kernel, 0);
                            let known = m.block(block).args.iter().any(|&a| match m.ty(a) {
                                Type::Tensor { dims, .. } => {
                                    dims.iter().any(|d| *d == Dim::Sym(name.to_string()))
                                }
                                _ => false,
                            });
                            if !known {
                                errs.push(format!(
                                    "size `{name}` is not an extent of any kernel parameter"
                                ));
                            }
                        }
                    }
                }
                if d.results.len() == 1 && *m.ty(d.results[0]) != Type::INDEX {
                    errs.push("result must be i64".into());
                }
            }
            PjOp::Stage | PjOp::Reduce => {
                check::counts(m, op, None, 1, 1, errs);
                let parent = d
                    .parent
                    .and_then(|b| m.block_owner(b))
                    .map(|o| m.op(o).opcode);
                if self == PjOp::Stage && parent != Some(super::Opcode::Pj(PjOp::Kernel)) {
                    errs.push("must be directly inside a `pj.kernel`".into());
                }
                if !d.operands.len().is_multiple_of(2) {
                    errs.push("expects a (lo, ub) operand pair per dim".into());
                }
                for (i, &v) in d.operands.iter().enumerate() {
                    if *m.ty(v) != Type::INDEX {
                        errs.push(format!("bound operand {i} must be i64, found {}", m.ty(v)));
                    }
                }
                let n = d.operands.len() / 2;
                if d.regions.len() == 1 {
                    let block = m.entry_block(op, 0);
                    let args = &m.block(block).args;
                    if args.len() != n || args.iter().any(|&a| *m.ty(a) != Type::INDEX) {
                        errs.push(format!("region needs {n} i64 arguments, one per dim"));
                    }
                    let arg = d
                        .attr("kind")
                        .and_then(Attr::as_str)
                        .is_some_and(is_arg_kind);
                    if arg {
                        if n != 1 {
                            errs.push("an `argmax`/`argmin` has one variable".into());
                        }
                        if d.results.first().is_some_and(|&r| *m.ty(r) != Type::INDEX) {
                            errs.push("an `argmax`/`argmin` gives an i64".into());
                        }
                        if let Some(&last) = m.block(block).ops.last()
                            && let Some(&y) = m.op(last).operands.first()
                            && !m.ty(y).as_scalar().is_some_and(|s| s.is_numeric())
                        {
                            errs.push("an `argmax`/`argmin` compares numbers".into());
                        }
                    } else if let (Some(&last), Some(&res)) =
                        (m.block(block).ops.last(), d.results.first())
                    {
                        let l = m.op(last);
                        let want = m.ty(res).elem();
                        if l.opcode == super::Opcode::Pj(PjOp::Yield)
                            && let Some(&y) = l.operands.first()
                            && *m.ty(y) != Type::Scalar(want)
                        {
                            errs.push(format!(
                                "yields {} but produces elements of {want}",
                                m.ty(y)
                            ));
                        }
                    }
                }
                if let Some(&res) = d.results.first() {
                    match (self, m.ty(res)) {
                        (PjOp::Stage, Type::Tensor { dims, .. }) if dims.len() == n => {}
                        (PjOp::Stage, t) => {
                            errs.push(format!("result must be a rank-{n} tensor, found {t}"))
                        }
                        (PjOp::Reduce, Type::Scalar(s)) if s.is_numeric() => {}
                        (PjOp::Reduce, t) => {
                            errs.push(format!("result must be a numeric scalar, found {t}"))
                        }
                        _ => unreachable!(),
                    }
                }
                if self == PjOp::Stage && d.attr("name").and_then(Attr::as_str).is_none() {
                    errs.push("needs a string attribute `name`".into());
                }
                if self == PjOp::Stage && d.regions.len() == 1 {
                    let block = m.entry_block(op, 0);
                    let dims: std::collections::BTreeSet<usize> = m
                        .block(block)
                        .ops
                        .iter()
                        .filter(|&&o| m.op(o).opcode == super::Opcode::Pj(PjOp::Prior))
                        .filter_map(|&o| prior_step(m, o).map(|s| s.0))
                        .collect();
                    if dims.len() > 1 {
                        errs.push(format!(
                            "its `pj.prior`s step back along several dims {dims:?}; a recurrence scans one"
                        ));
                    }
                }
                if self == PjOp::Reduce {
                    match d.attr("kind").and_then(Attr::as_str) {
                        Some(k) if REDUCE_KINDS.contains(&k) => {}
                        _ => {
                            errs.push("needs `kind` = \"sum\", \"prod\", \"min\" or \"max\"".into())
                        }
                    }
                }
            }
            PjOp::Read => {
                check::counts(m, op, None, 1, 0, errs);
                let Some((&t, idx)) = d.operands.split_first() else {
                    errs.push("needs a tensor operand".into());
                    return;
                };
                match m.ty(t) {
                    Type::Tensor { elem, dims } => {
                        if dims.len() != idx.len() {
                            errs.push(format!(
                                "reads a rank-{} tensor with {} indices",
                                dims.len(),
                                idx.len()
                            ));
                        }
                        if let Some(&r) = d.results.first()
                            && *m.ty(r) != Type::Scalar(*elem)
                        {
                            errs.push(format!("result must be {elem}, found {}", m.ty(r)));
                        }
                    }
                    ty => errs.push(format!("operand 0 must be a tensor, found {ty}")),
                }
                for (i, &v) in idx.iter().enumerate() {
                    if !m.ty(v).as_scalar().is_some_and(|s| s.is_int()) {
                        errs.push(format!("index {i} must be an integer, found {}", m.ty(v)));
                    }
                }
                if let Some(b) = d.attr("boundary")
                    && b.as_str().and_then(Boundary::from_name).is_none()
                {
                    errs.push(format!("unknown boundary mode {b}"));
                }
            }
            PjOp::Update => {
                check::counts(m, op, None, 1, 1, errs);
                let parent = d
                    .parent
                    .and_then(|b| m.block_owner(b))
                    .map(|o| m.op(o).opcode);
                if parent != Some(super::Opcode::Pj(PjOp::Kernel)) {
                    errs.push("must be directly inside a `pj.kernel`".into());
                }
                let Some((&t, bounds)) = d.operands.split_first() else {
                    errs.push("needs the tensor it updates".into());
                    return;
                };
                let source = m.def_op(t).map(|o| m.op(o).opcode);
                if !matches!(source, Some(super::Opcode::Pj(PjOp::Stage | PjOp::Update))) {
                    errs.push("updates a value that is not a `pj.stage` or `pj.update`".into());
                }
                let (elem, rank) = match m.ty(t) {
                    Type::Tensor { elem, dims } => (*elem, dims.len()),
                    ty => {
                        errs.push(format!("operand 0 must be a tensor, found {ty}"));
                        return;
                    }
                };
                if d.results.first().is_some_and(|&r| m.ty(r) != m.ty(t)) {
                    errs.push("its result must have the type of the tensor it updates".into());
                }
                if bounds.is_empty() || !bounds.len().is_multiple_of(2) {
                    errs.push("expects a (lo, ub) operand pair per variable".into());
                }
                if bounds.iter().any(|&v| *m.ty(v) != Type::INDEX) {
                    errs.push("bound operands must be i64".into());
                }
                match d.attr("kind").and_then(Attr::as_str) {
                    Some(k) if UPDATE_KINDS.contains(&k) => {}
                    _ => errs.push("needs `kind` = \"sum\", \"min\" or \"max\"".into()),
                }
                if !elem.is_numeric() {
                    errs.push(format!("cannot combine {elem} elements"));
                }
                if d.regions.len() == 1 {
                    let block = m.entry_block(op, 0);
                    let args = &m.block(block).args;
                    if args.len() != bounds.len() / 2
                        || args.iter().any(|&a| *m.ty(a) != Type::INDEX)
                    {
                        errs.push("region needs one i64 argument per variable".into());
                    }
                    if let Some(&last) = m.block(block).ops.last()
                        && m.op(last).opcode == super::Opcode::Pj(PjOp::Yield)
                    {
                        let y = &m.op(last).operands;
                        let ok = y.len() == rank + 1
                            && y[..rank].iter().all(|&v| *m.ty(v) == Type::INDEX)
                            && *m.ty(y[rank]) == Type::Scalar(elem);
                        if !ok {
                            errs.push(format!(
                                "its region must yield {rank} i64 indices and one {elem}"
                            ));
                        }
                    }
                }
            }
            PjOp::Prior => {
                check::counts(m, op, Some(1), 1, 0, errs);
                let stage = d.parent.and_then(|b| m.block_owner(b));
                let rank = match stage.map(|s| m.op(s)) {
                    Some(s) if s.opcode == super::Opcode::Pj(PjOp::Stage) => s.operands.len() / 2,
                    _ => {
                        errs.push("must be directly inside a `pj.stage` region".into());
                        return;
                    }
                };
                match prior_step(m, op) {
                    Some((dim, _)) if dim < rank => {}
                    Some((dim, _)) => {
                        errs.push(format!("`dim` {dim} is not a dim of its rank-{rank} stage"))
                    }
                    None => errs.push(
                        "needs integer attributes `dim` (at least 0) and `lag` (at least 1)".into(),
                    ),
                }
                if let (Some(&init), Some(&res), Some(stage)) =
                    (d.operands.first(), d.results.first(), stage)
                {
                    let elem = m.ty(m.result(stage)).elem();
                    if *m.ty(res) != Type::Scalar(elem) || *m.ty(init) != Type::Scalar(elem) {
                        errs.push(format!(
                            "its operand and result must be {elem}, the stage's elements"
                        ));
                    }
                }
            }
            PjOp::Yield => {
                let parent = d
                    .parent
                    .and_then(|b| m.block_owner(b))
                    .map(|o| m.op(o).opcode);
                if parent != Some(super::Opcode::Pj(PjOp::Update)) {
                    check::counts(m, op, Some(1), 0, 0, errs);
                }
                if !matches!(
                    parent,
                    Some(super::Opcode::Pj(PjOp::Stage | PjOp::Reduce | PjOp::Update))
                ) {
                    errs.push("must end a `pj.stage`, `pj.reduce` or `pj.update` region".into());
                }
            }
            PjOp::Return => {
                check::counts(m, op, None, 0, 0, errs);
                let parent = d
                    .parent
                    .and_then(|b| m.block_owner(b))
                    .map(|o| m.op(o).opcode);
                if parent != Some(super::Opcode::Pj(PjOp::Kernel)) {
                    errs.push("must end a `pj.kernel` region".into());
                }
                for &v in &d.operands {
                    if m.ty(v).rank().is_none() {
                        errs.push(format!(
                            "returns a scalar ({}); results are tensors",
                            m.ty(v)
                        ));
                    } else if !matches!(
                        m.def_op(v).map(|o| m.op(o).opcode),
                        Some(super::Opcode::Pj(PjOp::Stage | PjOp::Update))
                    ) {
                        errs.push("returns a value that is not a `pj.stage` or `pj.update`".into());
                    }
                }
            }
        }
    }
}

/// A `pj.prior`'s scan dim and lag, when its attributes are well formed.
pub fn prior_step(m: &Module, op: OpId) -> Option<(usize, i64)> {
    let d = m.op(op);
    let dim = d.attr("dim").and_then(Attr::as_int)?;
    let lag = d.attr("lag").and_then(Attr::as_int)?;
    (dim >= 0 && (1..=pj_lang::check::MAX_LAG).contains(&lag)).then_some((dim as usize, lag))
}

/// A `pj.stage`'s recurrence: its scan dim and largest lag, when its
/// region reads earlier elements of itself (`pj.prior`).
pub fn recurrence(m: &Module, stage: OpId) -> Option<(usize, i64)> {
    let block = m.entry_block(stage, 0);
    let mut found: Option<(usize, i64)> = None;
    for &op in &m.block(block).ops {
        if m.op(op).opcode == super::Opcode::Pj(PjOp::Prior)
            && let Some((dim, lag)) = prior_step(m, op)
        {
            found = Some(match found {
                Some((d, l)) => (d, l.max(lag)),
                None => (dim, lag),
            });
        }
    }
    found
}

/// The `pj.kernel` op containing `op`.
pub fn enclosing_kernel(m: &Module, op: OpId) -> Option<OpId> {
    let mut cur = op;
    loop {
        let block = m.op(cur).parent?;
        let owner = m.block_owner(block)?;
        if m.op(owner).opcode == super::Opcode::Pj(PjOp::Kernel) {
            return Some(owner);
        }
        cur = owner;
    }
}

/// A result's error tolerance (`@tolerance`): `|got - exact| <= abs + rel *
/// |exact|`. In the IR, the `tolerance` entry of the kernel's
/// `result_attrs`: `{abs = a, rel = r}`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    /// Absolute part (0: none).
    pub abs: f64,
    /// Relative part (0: none).
    pub rel: f64,
}

impl Tolerance {
    /// As an attribute.
    pub fn to_attr(self) -> Attr {
        Attr::Dict(vec![
            ("abs".to_string(), Attr::Float(self.abs)),
            ("rel".to_string(), Attr::Float(self.rel)),
        ])
    }

    /// From an attribute, if well formed.
    pub fn from_attr(a: &Attr) -> Option<Tolerance> {
        let part = |k: &str| match a.get(k) {
            Some(Attr::Float(v)) => Some(*v),
            Some(Attr::Int(v)) => Some(*v as f64),
            None => Some(0.0),
            Some(_) => None,
        };
        let t = Tolerance {
            abs: part("abs")?,
            rel: part("rel")?,
        };
        let ok = |v: f64| v.is_finite() && v >= 0.0;
        (matches!(a, Attr::Dict(_)) && ok(t.abs) && ok(t.rel) && t.abs + t.rel > 0.0).then_some(t)
    }

    /// Whether `got` is within the tolerance of `exact`.
    pub fn admits(self, got: f64, exact: f64) -> bool {
        (got - exact).abs() <= self.abs + self.rel * exact.abs()
    }
}

/// The module's kernels still at the `pj` level (`pj.kernel` ops; not the
/// `func.func`s lowering made): what the `pj`-level passes transform.
pub fn pj_kernels(m: &Module) -> Vec<OpId> {
    m.kernels()
        .into_iter()
        .filter(|&k| m.op(k).opcode == super::Opcode::Pj(PjOp::Kernel))
        .collect()
}

/// Kernel `kernel`'s sizes (its `pj.size` ops), name and value, in order.
pub fn sizes(m: &Module, kernel: OpId) -> Vec<(String, crate::ir::ValueId)> {
    let body = m.entry_block(kernel, 0);
    m.block(body)
        .ops
        .iter()
        .filter(|&&o| m.op(o).opcode == super::Opcode::Pj(PjOp::Size))
        .filter_map(|&o| {
            let name = m.op(o).attr("name").and_then(Attr::as_str)?;
            Some((name.to_string(), m.result(o)))
        })
        .collect()
}

/// The value of kernel `kernel`'s size `name`, if it has one.
pub fn size_value(m: &Module, kernel: OpId, name: &str) -> Option<crate::ir::ValueId> {
    sizes(m, kernel)
        .into_iter()
        .find_map(|(n, v)| (n == name).then_some(v))
}

/// The declared value range of kernel `kernel`'s parameter `index`
/// (`@range(lo, hi)`).
pub fn param_range(m: &Module, kernel: OpId, index: usize) -> Option<(f64, f64)> {
    let a = m.op(kernel).attr("arg_attrs")?.as_array()?.get(index)?;
    match a.get("range")?.as_array()? {
        [Attr::Float(lo), Attr::Float(hi)] => Some((*lo, *hi)),
        _ => None,
    }
}

/// The tolerance of kernel `kernel`'s result `index` (`@tolerance`).
pub fn result_tolerance(m: &Module, kernel: OpId, index: usize) -> Option<Tolerance> {
    let a = m.op(kernel).attr("result_attrs")?.as_array()?.get(index)?;
    Tolerance::from_attr(a.get("tolerance")?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a kernel declares about its values reaches the IR, read back
    /// by the typed accessors.
    #[test]
    fn ranges_and_tolerances_reach_the_ir() {
        let src = "kernel k(x: f32[N] @range(-4.0, 4), c: f32) -> (y: f32[N] @tolerance(abs = 1e-2), z: f32[N]) {\n\
                   y[i] = x[i] * c;\n    z[i] = x[i];\n}";
        let m = crate::compile_source("k.pj", src).expect("compiles").module;
        let k = m.kernel("k").unwrap();
        assert_eq!(param_range(&m, k, 0), Some((-4.0, 4.0)));
        assert_eq!(param_range(&m, k, 1), None);
        let t = result_tolerance(&m, k, 0).unwrap();
        assert_eq!((t.abs, t.rel), (1e-2, 0.0));
        assert_eq!(result_tolerance(&m, k, 1), None);
        assert!(t.admits(1.005, 1.0) && !t.admits(1.02, 1.0));
    }

    #[test]
    fn a_tolerance_attribute_must_be_a_dict_of_non_negative_floats() {
        let dict = |pairs: &[(&str, Attr)]| {
            Attr::Dict(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect(),
            )
        };
        assert!(Tolerance::from_attr(&dict(&[("rel", Attr::Float(1e-3))])).is_some());
        assert!(Tolerance::from_attr(&dict(&[("abs", Attr::Float(-1.0))])).is_none());
        assert!(Tolerance::from_attr(&dict(&[("abs", Attr::Float(0.0))])).is_none());
        assert!(Tolerance::from_attr(&dict(&[("abs", Attr::Str("x".into()))])).is_none());
        assert!(Tolerance::from_attr(&Attr::Float(1.0)).is_none());
    }
}
