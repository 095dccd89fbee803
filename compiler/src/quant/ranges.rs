//! Interval analysis of a `pj` kernel: from ranges of its inputs and the
//! values of its sizes, a range for every value and every stage's elements,
//! sound for the arithmetic the interpreter performs.
//!
//! What: each value gets `[lo, hi]` (bounds may be infinite) and whether it
//! may be NaN. Arithmetic is interval arithmetic; a product of a value
//! with itself is a square (never negative); a float result is widened
//! outward by 2^-20 of its magnitude, which covers the rounding of the
//! operation (at most 2^-24 in `f32`); a reduction's sum is its term's
//! range times its trip count (with 0 when the count may be 0) and widened
//! by the count's worth of rounding; integer results that may overflow
//! their type take the type's whole range (they wrap). A recurrence is
//! iterated to a fixed point, or unbounded if none is reached in a few
//! rounds; an update's element grows by its point count times its value.
//!
//! When legal: any checked `pj`-level module (after `canonicalize,cse,dce`
//! it is tighter: equal expressions are one value, so `d * d` is a square).
//!
//! Cost: one walk of the kernel, a few more of a recurrence's region.

use crate::dialects::arith::Scalar;
use crate::dialects::{ArithOp, MathOp, Opcode, PjOp, QuantOp};
use crate::ir::{Attr, BlockId, Module, OpId, ScalarType, Type, ValueId};
use std::collections::HashMap;

/// A set of values: every number in `[lo, hi]`, and NaN if `nan`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    /// Smallest value (may be `-inf`).
    pub lo: f64,
    /// Largest value (may be `inf`).
    pub hi: f64,
    /// Whether NaN may occur.
    pub nan: bool,
}

impl Interval {
    /// `[lo, hi]`, no NaN.
    pub fn new(lo: f64, hi: f64) -> Interval {
        Interval { lo, hi, nan: false }
    }

    /// One value.
    pub fn point(v: f64) -> Interval {
        if v.is_nan() {
            Interval {
                lo: f64::INFINITY,
                hi: f64::NEG_INFINITY,
                nan: true,
            }
        } else {
            Interval::new(v, v)
        }
    }

    /// Anything, NaN included.
    pub fn unknown() -> Interval {
        Interval {
            lo: f64::NEG_INFINITY,
            hi: f64::INFINITY,
            nan: true,
        }
    }

    /// Every value of type `t` (NaN for floats).
    pub fn of_type(t: ScalarType) -> Interval {
        match t.int_range() {
            Some((lo, hi)) => Interval::new(lo as f64, hi as f64),
            None if t == ScalarType::Bool => Interval::new(0.0, 1.0),
            None => Interval::unknown(),
        }
    }

    /// Both sets.
    pub fn union(self, o: Interval) -> Interval {
        Interval {
            lo: self.lo.min(o.lo),
            hi: self.hi.max(o.hi),
            nan: self.nan || o.nan,
        }
    }

    /// Whether `v` is in the set.
    pub fn contains(self, v: f64) -> bool {
        if v.is_nan() {
            self.nan
        } else {
            self.lo <= v && v <= self.hi
        }
    }

    /// Whether every value of `o` is in the set.
    pub fn covers(self, o: Interval) -> bool {
        (!o.nan || self.nan) && (o.lo > o.hi || (self.lo <= o.lo && o.hi <= self.hi))
    }

    /// Values beyond the largest finite value of float type `t` round
    /// to infinity there (an `f32` product of `1e20`s).
    fn overflowing(self, t: ScalarType) -> Interval {
        let max = if t == ScalarType::F32 {
            f64::from(f32::MAX)
        } else {
            f64::MAX
        };
        Interval {
            lo: if self.lo < -max {
                f64::NEG_INFINITY
            } else {
                self.lo
            },
            hi: if self.hi > max {
                f64::INFINITY
            } else {
                self.hi
            },
            nan: self.nan,
        }
    }

    fn widen(self, rel: f64) -> Interval {
        let out = |v: f64, down: bool| {
            if !v.is_finite() {
                return v;
            }
            // rounding is monotone: 0 stays 0; elsewhere it moves a value by
            // less than `rel` of it, or one subnormal step of f32
            let d = if v == 0.0 { 0.0 } else { v.abs() * rel + 1e-44 };
            if down { v - d } else { v + d }
        };
        Interval {
            lo: out(self.lo, true),
            hi: out(self.hi, false),
            nan: self.nan,
        }
    }

    /// The hull of `f` at the four corners (for operations monotone in
    /// each argument); NaN where a corner gives NaN.
    fn corners(a: Interval, b: Interval, f: impl Fn(f64, f64) -> f64) -> Interval {
        let mut r = Interval {
            lo: f64::INFINITY,
            hi: f64::NEG_INFINITY,
            nan: a.nan || b.nan,
        };
        for x in [a.lo, a.hi] {
            for y in [b.lo, b.hi] {
                r = r.union(Interval::point(f(x, y)));
            }
        }
        r
    }

    /// `f` applied to a monotone non-decreasing function.
    fn increasing(self, f: impl Fn(f64) -> f64) -> Interval {
        let lo = f(self.lo);
        let hi = f(self.hi);
        Interval {
            lo: if lo.is_nan() { f64::NEG_INFINITY } else { lo },
            hi: if hi.is_nan() { f64::INFINITY } else { hi },
            nan: self.nan,
        }
    }
}

/// The ranges of a kernel's values.
#[derive(Debug, Default)]
pub struct Ranges {
    values: HashMap<ValueId, Interval>,
    /// A tensor's (parameter's or stage's) element range.
    elements: HashMap<ValueId, Interval>,
}

impl Ranges {
    /// The range of scalar value `v`.
    pub fn value(&self, v: ValueId) -> Option<Interval> {
        self.values.get(&v).copied()
    }

    /// The range of the elements of tensor `v` (a parameter or a stage).
    pub fn elements(&self, v: ValueId) -> Option<Interval> {
        self.elements.get(&v).copied()
    }

    /// The largest number of points of the `lo, ub` operand pairs of `op`
    /// starting at `from` (a stage's, reduction's or update's domain).
    pub fn trip_count(&self, m: &Module, op: OpId, from: usize) -> f64 {
        let get = |v: ValueId| self.value(v).unwrap_or_else(Interval::unknown);
        m.op(op).operands[from..]
            .chunks(2)
            .map(|p| (get(p[1]).hi - get(p[0]).lo).max(0.0))
            .product()
    }
}

/// What the analysis starts from: each parameter's range (`None`: its
/// type's), and each size's value (`None`: any size up to its limit).
pub struct Inputs<'a> {
    /// Per parameter, in order.
    pub params: &'a [Option<(f64, f64)>],
    /// Size values by name.
    pub sizes: &'a HashMap<String, i64>,
    /// The largest value of a size not in `sizes`, by name (none:
    /// `pj_lang::bounds::MAX_SIZE`).
    pub limits: &'a HashMap<String, i64>,
}

/// No sizes known or limited.
pub fn no_sizes() -> &'static HashMap<String, i64> {
    static EMPTY: std::sync::OnceLock<HashMap<String, i64>> = std::sync::OnceLock::new();
    EMPTY.get_or_init(HashMap::new)
}

/// What sample arguments of a kernel say: the sizes their shapes bind, and
/// each one's finite range (`None`: no finite value).
#[derive(Debug, Default)]
pub struct Sample {
    /// Size values by name.
    pub sizes: HashMap<String, i64>,
    /// Per parameter, in order.
    pub observed: Vec<Option<(f64, f64)>>,
}

impl Sample {
    /// The sample `args` of `kernel` give.
    pub fn of(m: &Module, kernel: OpId, args: &[crate::interp::Value]) -> Sample {
        use crate::interp::Value;
        let mut s = Sample::default();
        let body = m.entry_block(kernel, 0);
        for (&p, v) in m.block(body).args.iter().zip(args) {
            let each: Vec<f64> = match v {
                Value::Array(t) => {
                    if let Type::Tensor { dims, .. } = m.ty(p) {
                        for (d, &n) in dims.iter().zip(&t.shape) {
                            if let crate::ir::Dim::Sym(name) = d {
                                s.sizes.insert(name.clone(), n as i64);
                            }
                        }
                    }
                    t.data.iter().map(|x| x.as_f64()).collect()
                }
                Value::Scalar(x) => vec![x.as_f64()],
            };
            let finite = each.iter().copied().filter(|x| x.is_finite());
            let lo = finite.clone().fold(f64::INFINITY, f64::min);
            let hi = finite.fold(f64::NEG_INFINITY, f64::max);
            s.observed.push((lo <= hi).then_some((lo, hi)));
        }
        s
    }
}

/// The ranges of every value of `kernel` (a `pj.kernel`), and of each of its
/// results (in declaration order).
pub fn analyze(m: &Module, kernel: OpId, inputs: &Inputs<'_>) -> (Ranges, Vec<Interval>) {
    let mut a = Analysis {
        m,
        r: Ranges::default(),
        sizes: inputs.sizes,
        limits: inputs.limits,
        prior: HashMap::new(),
        affine: HashMap::new(),
    };
    let body = m.entry_block(kernel, 0);
    for (i, &arg) in m.block(body).args.iter().enumerate() {
        let elem = m.ty(arg).elem();
        let range = inputs
            .params
            .get(i)
            .copied()
            .flatten()
            .map_or(Interval::of_type(elem), |(lo, hi)| Interval::new(lo, hi));
        match m.ty(arg) {
            Type::Scalar(_) => a.r.values.insert(arg, range),
            _ => a.r.elements.insert(arg, range),
        };
    }
    let results = a.block(body);
    (a.r, results)
}

struct Analysis<'a> {
    m: &'a Module,
    r: Ranges,
    sizes: &'a HashMap<String, i64>,
    limits: &'a HashMap<String, i64>,
    /// The running range of a recurrence's earlier elements, by stage.
    prior: HashMap<OpId, Interval>,
    /// Float values that are linear combinations of others (see [`Affine`]).
    affine: HashMap<ValueId, Affine>,
}

/// A float value as an affine form: `c0 + Σ c_i · v_i` over other values
/// `v_i` (the atoms: reads, products of two values, anything not linear),
/// within `err` (the roundings on the way). Intervals treat each operand as
/// independent, so `x - (x + y) / 2` gets twice `x`'s width; here `x`'s
/// coefficients add up first (`x / 2 - y / 2`) and the range is each atom's
/// interval taken once (Stolfi and de Figueiredo's affine arithmetic, with
/// the atoms' own ranges for noise symbols).
#[derive(Clone, Debug)]
struct Affine {
    c0: f64,
    terms: Vec<(ValueId, f64)>,
    err: f64,
}

/// Forms with more terms become atoms (the cost stays linear).
const AFFINE_TERMS: usize = 32;

impl Affine {
    /// `a · self + b · other`, the roundings so far kept.
    fn combine(&self, a: f64, other: &Affine, b: f64) -> Affine {
        let mut terms: Vec<(ValueId, f64)> = self.terms.iter().map(|&(v, c)| (v, a * c)).collect();
        for &(v, c) in &other.terms {
            match terms.iter_mut().find(|(w, _)| *w == v) {
                Some((_, k)) => *k += b * c,
                None => terms.push((v, b * c)),
            }
        }
        terms.retain(|&(_, c)| c != 0.0);
        Affine {
            c0: a * self.c0 + b * other.c0,
            terms,
            err: a.abs() * self.err + b.abs() * other.err,
        }
    }
}

impl Analysis<'_> {
    fn get(&self, v: ValueId) -> Interval {
        self.r
            .values
            .get(&v)
            .copied()
            .unwrap_or_else(|| Interval::of_type(self.m.ty(v).elem()))
    }

    /// Analyzes the ops of `block`; the operands of its terminator (a
    /// yield's or return's values).
    fn block(&mut self, block: BlockId) -> Vec<Interval> {
        let mut last = vec![];
        for &op in &self.m.block(block).ops {
            let d = self.m.op(op);
            match d.opcode {
                Opcode::Pj(PjOp::Yield) | Opcode::Pj(PjOp::Return) => {
                    last = d
                        .operands
                        .iter()
                        .map(|&v| match self.m.ty(v) {
                            Type::Scalar(_) => self.get(v),
                            _ => self
                                .r
                                .elements
                                .get(&v)
                                .copied()
                                .unwrap_or_else(Interval::unknown),
                        })
                        .collect();
                }
                _ => self.op(op),
            }
        }
        last
    }

    /// The largest number of points of the `lo, ub` operand pairs
    /// starting at `from` (0 if none can be empty: the count may be 0).
    fn trip_count(&self, op: OpId, from: usize) -> (f64, bool) {
        let d = self.m.op(op);
        let mut n = 1.0;
        let mut may_be_empty = false;
        for pair in d.operands[from..].chunks(2) {
            let (lo, ub) = (self.get(pair[0]), self.get(pair[1]));
            let most = (ub.hi - lo.lo).max(0.0);
            if ub.lo - lo.hi <= 0.0 {
                may_be_empty = true;
            }
            n *= most;
        }
        (n, may_be_empty)
    }

    /// Gives a region's index arguments the ranges of their `lo, ub` pairs.
    fn index_args(&mut self, op: OpId, from: usize) -> BlockId {
        let d = self.m.op(op);
        let block = self.m.entry_block(op, 0);
        for (pair, &arg) in d.operands[from..].chunks(2).zip(&self.m.block(block).args) {
            let (lo, ub) = (self.get(pair[0]), self.get(pair[1]));
            self.r.values.insert(arg, Interval::new(lo.lo, ub.hi - 1.0));
        }
        block
    }

    fn set(&mut self, op: OpId, r: Interval) {
        let d = self.m.op(op);
        if let Some(&v) = d.results.first() {
            let t = self.m.ty(v).elem();
            let r = if t.is_float() {
                r.widen(2f64.powi(-20)).overflowing(t)
            } else {
                // integers that may leave their type wrap
                let whole = Interval::of_type(t);
                if r.nan || !whole.covers(r) { whole } else { r }
            };
            self.r.values.insert(v, r);
        }
    }

    /// The bound on `|num / den|` a normalized deviation has
    /// (`facts::deviation_over_spread`): `sqrt(D)` for `v = S / D`, widened
    /// for the roundings — each computed square at least `(1 - u)` of the
    /// deviation's square (less half the least subnormal, which `eps` > 0
    /// divides), the sum of `K` non-negative terms at least `(1 - u)^K` of
    /// any one, the quotient by `D`, the addition of `eps >= 0`, the root
    /// and the division one `u` each.
    fn normalized(&self, num: ValueId, den: ValueId, elem: ScalarType) -> Option<f64> {
        let m = self.m;
        let s = super::facts::deviation_over_spread(m, num, den)?;
        let divisor = self.get(s.divisor);
        if divisor.nan || divisor.lo <= 0.0 || !divisor.hi.is_finite() {
            return None;
        }
        let eps = match s.eps {
            Some(e) => {
                let e = self.get(e);
                if e.nan || e.lo <= 0.0 {
                    return None;
                }
                e.lo
            }
            None => return None,
        };
        let u = super::error::unit_roundoff(elem);
        let terms = self.r.trip_count(m, s.reduce, 0);
        let shrink = (terms + 8.0) * u;
        // (infinite for an unknown trip count)
        if shrink.is_nan() || shrink >= 0.5 {
            return None;
        }
        let tiny = if elem == ScalarType::F32 {
            2f64.powi(-149)
        } else {
            2f64.powi(-1074)
        };
        let squared = divisor.hi / (1.0 - shrink) + divisor.hi * tiny / eps;
        Some(squared.sqrt() * (1.0 + 4.0 * u))
    }

    /// `v` as an affine form: its own, a constant's, or itself as an atom.
    fn affine_of(&self, v: ValueId) -> Affine {
        if let Some(a) = self.affine.get(&v) {
            return a.clone();
        }
        // a constant is its value (its interval is widened for rounding)
        let constant = self.m.def_op(v).and_then(|o| {
            let d = self.m.op(o);
            (d.opcode == Opcode::Arith(ArithOp::Constant))
                .then(|| d.attr("value"))
                .flatten()
                .and_then(|a| Scalar::from_attr(a, self.m.ty(v).elem()))
                .map(|s| s.as_f64())
                .filter(|c| c.is_finite())
        });
        if let Some(c) = constant {
            return Affine {
                c0: c,
                terms: vec![],
                err: 0.0,
            };
        }
        Affine {
            c0: 0.0,
            terms: vec![(v, 1.0)],
            err: 0.0,
        }
    }

    /// `r`, the interval range of float op `op`, narrowed by its affine
    /// form where it is linear in its operands (a sum, a difference, a
    /// negation, a product or quotient by a constant); records the form.
    fn linear(&mut self, op: OpId, a: ArithOp, r: Interval) -> Interval {
        let m = self.m;
        let d = m.op(op);
        let Some(&result) = d.results.first() else {
            return r;
        };
        if !m.ty(result).elem().is_float() || d.operands.is_empty() {
            return r;
        }
        let x = self.affine_of(d.operands[0]);
        let y = d.operands.get(1).map(|&v| self.affine_of(v));
        let point = |f: &Affine| f.terms.is_empty().then_some(f.c0);
        let form = match (a, &y) {
            (ArithOp::Add, Some(y)) => x.combine(1.0, y, 1.0),
            (ArithOp::Sub, Some(y)) => x.combine(1.0, y, -1.0),
            (ArithOp::Neg, None) => x.combine(-1.0, &x, 0.0),
            (ArithOp::Mul, Some(y)) => match (point(&x), point(y)) {
                (_, Some(c)) => x.combine(c, y, 0.0),
                (Some(c), None) => y.combine(c, &x, 0.0),
                (None, None) => return r,
            },
            (ArithOp::Div, Some(y)) => match point(y) {
                Some(c) if c != 0.0 => x.combine(1.0 / c, y, 0.0),
                _ => return r,
            },
            _ => return r,
        };
        if form.terms.len() > AFFINE_TERMS {
            return r;
        }
        // this op's rounding, as `set` widens an interval for it
        let most = r.lo.abs().max(r.hi.abs());
        let form = Affine {
            err: form.err + most * 2f64.powi(-20) + 1e-44,
            ..form
        };
        let mut range = Interval::point(form.c0);
        for &(v, c) in &form.terms {
            let t = self.get(v);
            if t.nan || !t.lo.is_finite() || !t.hi.is_finite() {
                return r;
            }
            range = Interval::corners(
                range,
                Interval::corners(t, Interval::point(c), |p, q| p * q),
                |p, q| p + q,
            );
        }
        if !(form.err.is_finite() && range.lo.is_finite() && range.hi.is_finite()) {
            return r;
        }
        self.affine.insert(result, form.clone());
        Interval {
            lo: r.lo.max(range.lo - form.err),
            hi: r.hi.min(range.hi + form.err),
            nan: r.nan,
        }
    }

    fn op(&mut self, op: OpId) {
        let m = self.m;
        let d = m.op(op);
        let arg = |i: usize| self.get(d.operands[i]);
        match d.opcode {
            Opcode::Pj(PjOp::Size) => {
                let name = d.attr("name").and_then(Attr::as_str).unwrap_or("");
                let r = match self.sizes.get(name) {
                    Some(&n) => Interval::point(n as f64),
                    None => Interval::new(
                        1.0,
                        self.limits
                            .get(name)
                            .map_or(pj_lang::bounds::MAX_SIZE as f64, |&l| l as f64),
                    ),
                };
                self.r.values.insert(d.results[0], r);
            }
            Opcode::Pj(PjOp::Read) => {
                let mut r = self
                    .r
                    .elements
                    .get(&d.operands[0])
                    .copied()
                    .unwrap_or_else(|| Interval::of_type(m.ty(d.results[0]).elem()));
                if d.attr("boundary").and_then(Attr::as_str) == Some("zero") {
                    r = r.union(Interval::point(0.0));
                }
                self.r.values.insert(d.results[0], r);
            }
            Opcode::Pj(PjOp::Prior) => {
                let stage = d.parent.and_then(|b| m.block_owner(b));
                let running = stage
                    .and_then(|s| self.prior.get(&s).copied())
                    .unwrap_or_else(Interval::unknown);
                self.r.values.insert(d.results[0], running.union(arg(0)));
            }
            Opcode::Pj(PjOp::Stage) => self.stage(op),
            Opcode::Pj(PjOp::Reduce) => {
                let block = self.index_args(op, 0);
                let term = self
                    .block(block)
                    .first()
                    .copied()
                    .unwrap_or_else(Interval::unknown);
                let (n, may_be_empty) = self.trip_count(op, 0);
                let kind = d.attr("kind").and_then(Attr::as_str).unwrap_or("");
                let elem = m.ty(d.results[0]).elem();
                let r = match kind {
                    "sum" => {
                        let s = Interval::corners(term, Interval::new(0.0, n), |a, b| a * b)
                            .union(Interval::point(0.0));
                        // each of the n additions rounds (floats)
                        let mut s = if elem.is_float() {
                            s.widen(n * 2f64.powi(-23)).overflowing(elem)
                        } else {
                            s
                        };
                        // softmax's denominator: one term is exp(0) = 1 and
                        // none is negative (a few ulps allowed for an exp
                        // that misses 1 at 0)
                        if !may_be_empty && super::facts::includes_its_max_term(m, op) {
                            s.lo = s.lo.max(1.0 - 2f64.powi(-20));
                        }
                        s
                    }
                    "min" | "max" => {
                        let mut r = term;
                        if may_be_empty {
                            r = r.union(Interval::point(
                                Scalar::reduce_identity(kind, elem).as_f64(),
                            ));
                        }
                        r
                    }
                    "argmax" | "argmin" => Interval::new(-1.0, (n - 1.0).max(-1.0)),
                    "prod" if term.lo >= 0.0 && term.hi <= 1.0 && !term.nan => {
                        Interval::new(0.0, 1.0)
                    }
                    _ => Interval::of_type(elem),
                };
                self.r.values.insert(d.results[0], r);
            }
            Opcode::Pj(PjOp::Update) => {
                let block = self.index_args(op, 1);
                let value = self
                    .block(block)
                    .last()
                    .copied()
                    .unwrap_or_else(Interval::unknown);
                let (n, _) = self.trip_count(op, 1);
                let before = self
                    .r
                    .elements
                    .get(&d.operands[0])
                    .copied()
                    .unwrap_or_else(Interval::unknown);
                let kind = d.attr("kind").and_then(Attr::as_str).unwrap_or("");
                let elem = m.ty(d.results[0]).elem();
                let r = match kind {
                    "sum" => {
                        let grown = Interval::corners(value, Interval::new(0.0, n), |a, b| a * b)
                            .union(Interval::point(0.0));
                        let r = Interval::corners(before, grown, |a, b| a + b);
                        if elem.is_float() {
                            r.widen(n * 2f64.powi(-23)).overflowing(elem)
                        } else {
                            r
                        }
                    }
                    _ => before.union(value),
                };
                let whole = Interval::of_type(elem);
                let r = if elem.is_float() || whole.covers(r) {
                    r
                } else {
                    whole
                };
                self.r.elements.insert(d.results[0], r);
            }
            Opcode::Arith(a) => {
                let r = self.arith(op, a);
                let r = self.linear(op, a, r);
                self.set(op, r);
            }
            Opcode::Math(mo) => {
                let r = math(mo, arg(0), d.operands.get(1).map(|&v| self.get(v)));
                self.set(op, r);
            }
            // bf16 bits stand for the value: its range (rounded outward
            // by bf16's half step), so the unpacking gives it back
            Opcode::Quant(crate::dialects::QuantOp::PackBf16) => {
                let x = arg(0);
                let r = Interval {
                    lo: x.lo - x.lo.abs() / 256.0,
                    hi: x.hi + x.hi.abs() / 256.0,
                    nan: x.nan,
                };
                // the value's range, not the u16 bits' (`set` would take
                // a range outside the integer type for wrapped)
                self.r.values.insert(d.results[0], r);
            }
            // binary16 likewise (its half step 2^-11 relative, 2^-25 below
            // 2^-14; beyond 65520, infinity)
            Opcode::Quant(crate::dialects::QuantOp::PackF16) => {
                let x = arg(0);
                let out = |v: f64| {
                    let w = v + v.signum() * (v.abs() / 2048.0 + 2f64.powi(-25));
                    if w.abs() >= 65520.0 {
                        w.signum() * f64::INFINITY
                    } else {
                        w
                    }
                };
                let r = Interval {
                    lo: out(x.lo),
                    hi: out(x.hi),
                    nan: x.nan,
                };
                self.r.values.insert(d.results[0], r);
            }
            Opcode::Quant(
                crate::dialects::QuantOp::UnpackBf16 | crate::dialects::QuantOp::UnpackF16,
            ) => {
                let r = arg(0);
                self.set(op, r);
            }
            // a scale computed at run time: the integers of the type (the
            // values it stands for: the integers times the scale's range)
            Opcode::Quant(q @ (QuantOp::Quantize | QuantOp::Dequantize))
                if d.operands.len() == 2 =>
            {
                let p = crate::dialects::quant::Params::of(m, op);
                let to = m.ty(d.results[0]).elem();
                let r = if q == QuantOp::Quantize {
                    let whole = Interval::of_type(to);
                    let nan = arg(0).nan || arg(1).nan;
                    if nan {
                        whole.union(Interval::point(0.0))
                    } else {
                        whole
                    }
                } else {
                    let x = arg(0);
                    let z = p.zero_point as f64;
                    Interval::corners(Interval::new(x.lo - z, x.hi - z), arg(1), |a, b| a * b)
                };
                self.set(op, r);
            }
            // at least the floor (or the largest it gives, if below),
            // at most the largest; anything for a NaN
            Opcode::Quant(QuantOp::ScaleFor) => {
                let most = crate::dialects::quant::Params::of(m, op).scale;
                let r = Interval::new(crate::dialects::quant::SCALE_FLOOR.min(most), most);
                let r = if arg(0).nan { Interval::unknown() } else { r };
                self.set(op, r);
            }
            Opcode::Quant(q) => {
                let p = crate::dialects::quant::Params::of(m, op);
                let to = m.ty(d.results[0]).elem();
                let r = quant(q, p, arg(0), to);
                self.set(op, r);
            }
            _ => {
                for &v in &d.results {
                    self.r.values.insert(v, Interval::of_type(m.ty(v).elem()));
                }
            }
        }
    }

    /// A stage's element range: its region's yielded value; a recurrence's
    /// iterated until its earlier elements' range stops growing.
    fn stage(&mut self, op: OpId) {
        let m = self.m;
        let d = m.op(op);
        let block = self.index_args(op, 0);
        let recurrent = m
            .block(block)
            .ops
            .iter()
            .any(|&o| m.op(o).opcode == Opcode::Pj(PjOp::Prior));
        let mut r = self
            .block(block)
            .first()
            .copied()
            .unwrap_or_else(Interval::unknown);
        if recurrent {
            let mut converged = false;
            for _ in 0..32 {
                self.prior.insert(op, r);
                let next = r.union(
                    self.block(block)
                        .first()
                        .copied()
                        .unwrap_or_else(Interval::unknown),
                );
                if next == r {
                    converged = true;
                    break;
                }
                r = next;
            }
            if !converged {
                r = Interval::of_type(m.ty(d.results[0]).elem());
            }
        }
        self.r.elements.insert(d.results[0], r);
    }

    fn arith(&self, op: OpId, a: ArithOp) -> Interval {
        let m = self.m;
        let d = m.op(op);
        let arg = |i: usize| self.get(d.operands[i]);
        let elem = m.ty(d.results[0]).elem();
        match a {
            ArithOp::Constant => d
                .attr("value")
                .and_then(|v| Scalar::from_attr(v, elem))
                .map_or(Interval::of_type(elem), |s| Interval::point(s.as_f64())),
            ArithOp::Add => Interval::corners(arg(0), arg(1), |x, y| x + y),
            ArithOp::Sub => {
                let r = Interval::corners(arg(0), arg(1), |x, y| x - y);
                if super::facts::at_most_its_max(m, d.operands[0], d.operands[1]) {
                    // `x[n, c] - max(c) x[n, c]`: never positive
                    Interval {
                        lo: r.lo.min(0.0),
                        hi: r.hi.min(0.0),
                        nan: r.nan,
                    }
                } else {
                    r
                }
            }
            ArithOp::Mul => {
                if m.same_computation(d.operands[0], d.operands[1]) {
                    square(arg(0))
                } else {
                    Interval::corners(arg(0), arg(1), |x, y| x * y)
                }
            }
            ArithOp::Div => {
                let (x, y) = (arg(0), arg(1));
                if y.contains(0.0) || y.nan {
                    if elem.is_float() {
                        Interval::unknown()
                    } else {
                        Interval::of_type(elem)
                    }
                } else if elem.is_float() {
                    let r = Interval::corners(x, y, |p, q| p / q);
                    match self.normalized(d.operands[0], d.operands[1], elem) {
                        Some(b) => Interval {
                            lo: r.lo.max(-b),
                            hi: r.hi.min(b),
                            nan: r.nan,
                        },
                        None => r,
                    }
                } else {
                    // truncating: within the real quotients' hull, and 0
                    Interval::corners(x, y, |p, q| (p / q).trunc()).union(Interval::new(0.0, 0.0))
                }
            }
            ArithOp::Rem => {
                let (x, y) = (arg(0), arg(1));
                let bound = y.lo.abs().max(y.hi.abs());
                let r = Interval::new(
                    if x.lo < 0.0 { -bound } else { 0.0 },
                    if x.hi > 0.0 { bound } else { 0.0 },
                );
                Interval {
                    nan: elem.is_float() && (x.nan || y.nan || y.contains(0.0)),
                    ..r
                }
            }
            ArithOp::Neg => {
                let x = arg(0);
                Interval {
                    lo: -x.hi,
                    hi: -x.lo,
                    nan: x.nan,
                }
            }
            ArithOp::Fma => {
                let p = Interval::corners(arg(0), arg(1), |x, y| x * y);
                Interval::corners(p, arg(2), |x, y| x + y)
            }
            ArithOp::Min => {
                Interval::corners(arg(0), arg(1), f64::min).with_nan(arg(0).nan || arg(1).nan)
            }
            ArithOp::Max => {
                Interval::corners(arg(0), arg(1), f64::max).with_nan(arg(0).nan || arg(1).nan)
            }
            ArithOp::Mulhi => {
                // the product's high half: the product over 2^bits, floored
                let d = 2f64.powi(8 * elem.size_bytes() as i32);
                let p = Interval::corners(arg(0), arg(1), |x, y| x * y);
                Interval::new((p.lo / d).floor(), (p.hi / d).floor())
            }
            // low bits, or bits read as another type: anything of the type
            ArithOp::Shl | ArithOp::Bitcast => Interval::of_type(elem),
            ArithOp::Shr => {
                // a division by 2^k rounding toward -inf: monotone
                let x = arg(0);
                let k = crate::dialects::arith::shift_amount(m, op).unwrap_or(0);
                let d = 2f64.powi(k as i32);
                Interval::new((x.lo / d).floor(), (x.hi / d).floor())
            }
            ArithOp::Cmp | ArithOp::And | ArithOp::Or | ArithOp::Not => Interval::new(0.0, 1.0),
            ArithOp::Select => arg(1).union(arg(2)),
            ArithOp::Cast => {
                let x = arg(0);
                let from = m.ty(d.operands[0]).elem();
                if elem.is_float() {
                    x
                } else if from.is_int() || from == ScalarType::Bool {
                    // between integers the low bits are kept: the same
                    // values where they fit, anything of the type otherwise
                    let whole = Interval::of_type(elem);
                    if whole.covers(x) { x } else { whole }
                } else {
                    // saturating, NaN to 0, toward zero
                    let whole = Interval::of_type(elem);
                    let lo = x.lo.trunc().clamp(whole.lo, whole.hi);
                    let hi = x.hi.trunc().clamp(whole.lo, whole.hi);
                    let r = Interval::new(lo.min(hi), hi.max(lo));
                    if x.nan {
                        r.union(Interval::point(0.0))
                    } else {
                        r
                    }
                }
            }
        }
    }
}

impl Interval {
    fn with_nan(self, nan: bool) -> Interval {
        Interval { nan, ..self }
    }
}

/// `|x|`: the magnitudes `x` spans.
fn magnitude(x: Interval) -> Interval {
    let (a, b) = (x.lo.abs(), x.hi.abs());
    let lo = if x.lo <= 0.0 && x.hi >= 0.0 {
        0.0
    } else {
        a.min(b)
    };
    Interval {
        lo,
        hi: a.max(b),
        nan: x.nan,
    }
}

/// `x * x`: never negative.
fn square(x: Interval) -> Interval {
    let a = magnitude(x);
    Interval {
        lo: a.lo * a.lo,
        hi: a.hi * a.hi,
        nan: a.nan,
    }
}

/// A `quant` op's range: monotone in its operand, so its ends' images
/// (NaN quantizes to 0).
fn quant(
    q: crate::dialects::QuantOp,
    p: crate::dialects::quant::Params,
    x: Interval,
    to: ScalarType,
) -> Interval {
    use crate::dialects::quant::eval;
    let f = |v: f64| {
        // the integer side in (dequantize, requantize), or the float one
        let s = if q == crate::dialects::QuantOp::Requantize {
            // its operand has at most 32 bits
            Scalar::from_i64(
                v.clamp(i32::MIN as f64, i32::MAX as f64) as i64,
                ScalarType::I64,
            )
        } else if to.is_float() {
            Scalar::from_i64(v as i64, ScalarType::I64)
        } else {
            Scalar::F64(v)
        };
        eval(q, p, s, to).as_f64()
    };
    if x.lo > x.hi {
        return if x.nan { Interval::point(0.0) } else { x };
    }
    let r = Interval::new(f(x.lo), f(x.hi));
    // computed in f64 here; an f32 quotient may round across a half, one
    // integer either way
    let r = match (q, to.int_range()) {
        (crate::dialects::QuantOp::Quantize, Some((lo, hi))) => {
            Interval::new((r.lo - 1.0).max(lo as f64), (r.hi + 1.0).min(hi as f64))
        }
        _ => r,
    };
    if x.nan {
        r.union(Interval::point(0.0))
    } else {
        r
    }
}

/// A `math` op's range.
fn math(mo: MathOp, x: Interval, y: Option<Interval>) -> Interval {
    let nan_below = |r: Interval, at: f64| Interval {
        nan: r.nan || x.lo < at,
        ..r
    };
    match mo {
        MathOp::Abs => magnitude(x),
        MathOp::Exp => x.increasing(f64::exp),
        MathOp::Expm1 => x.increasing(f64::exp_m1),
        MathOp::Log => nan_below(x.increasing(|v| v.max(0.0).ln()), 0.0),
        MathOp::Log1p => nan_below(x.increasing(|v| v.max(-1.0).ln_1p()), -1.0),
        MathOp::Sqrt => nan_below(x.increasing(|v| v.max(0.0).sqrt()), 0.0),
        MathOp::Tanh => x.increasing(f64::tanh),
        MathOp::Erf => x.increasing(|v| pj_runtime::math::pj_rt_erf(v)),
        MathOp::Floor => x.increasing(f64::floor),
        MathOp::Ceil => x.increasing(f64::ceil),
        MathOp::Sin | MathOp::Cos => Interval {
            lo: -1.0,
            hi: 1.0,
            nan: x.nan || x.lo.is_infinite() || x.hi.is_infinite(),
        },
        MathOp::Atan2 => Interval {
            lo: -std::f64::consts::PI,
            hi: std::f64::consts::PI,
            nan: x.nan || y.is_some_and(|y| y.nan),
        },
        MathOp::Tan => Interval::unknown(),
        MathOp::Pow => match y {
            // a non-negative base to a fixed exponent: monotone
            Some(e) if x.lo >= 0.0 && e.lo == e.hi && !e.nan => {
                let p = e.lo;
                let r = Interval::point(x.lo.powf(p)).union(Interval::point(x.hi.powf(p)));
                if p < 0.0 && x.lo == 0.0 {
                    r.union(Interval::point(f64::INFINITY))
                } else {
                    r
                }
            }
            _ => Interval::unknown(),
        },
    }
}
