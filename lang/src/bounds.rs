//! Bounds inference over affine index expressions, as Halide does it.
//!
//! Extents are symbolic: [`SizeExpr`] is an affine expression of size names
//! with integer coefficients, plus truncating divisions by positive
//! constants (`(H - 1) / 2`). A bound of a domain is a small set of such
//! expressions, read as their minimum (lower bounds) or maximum (upper
//! bounds): [`Bound`]. The union of what several consumers read is then just
//! the union of the sets, and pruning drops members provably dominated.
//!
//! Proofs ([`prove_nonneg`]) are conservative: they assume every size is at
//! least 1 and replace each division by a rational bound on it. What cannot
//! be proven is reported, never assumed.

use crate::ast::{BinOp, UnaryOp};
use crate::diagnostic::Diagnostic;
use crate::hir::*;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A non-linear piece of a [`SizeExpr`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Atom {
    /// A size name.
    Size(SizeId),
    /// `e / k`, truncating, `k > 1`.
    Div(Box<SizeExpr>, i64),
}

/// `constant + Σ coeff·atom`, normalized: terms sorted by atom, no zero
/// coefficients, so structural equality is symbolic equality of the affine part.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SizeExpr {
    /// The constant term.
    pub constant: i64,
    /// `(atom, coefficient)` pairs.
    pub terms: Vec<(Atom, i64)>,
}

impl SizeExpr {
    /// A constant.
    pub fn constant(c: i64) -> SizeExpr {
        SizeExpr {
            constant: c,
            terms: vec![],
        }
    }

    /// A size name.
    pub fn size(s: SizeId) -> SizeExpr {
        SizeExpr {
            constant: 0,
            terms: vec![(Atom::Size(s), 1)],
        }
    }

    /// The constant value, if there are no terms.
    pub fn as_constant(&self) -> Option<i64> {
        self.terms.is_empty().then_some(self.constant)
    }

    fn from_map(constant: i64, map: BTreeMap<Atom, i64>) -> SizeExpr {
        SizeExpr {
            constant,
            terms: map.into_iter().filter(|(_, c)| *c != 0).collect(),
        }
    }

    /// `self + other`.
    pub fn add(&self, other: &SizeExpr) -> SizeExpr {
        let mut map: BTreeMap<Atom, i64> = self.terms.iter().cloned().collect();
        for (a, c) in &other.terms {
            let e = map.entry(a.clone()).or_insert(0);
            *e = e.saturating_add(*c);
        }
        SizeExpr::from_map(self.constant.saturating_add(other.constant), map)
    }

    /// `self + c`.
    pub fn add_const(&self, c: i64) -> SizeExpr {
        SizeExpr {
            constant: self.constant.saturating_add(c),
            terms: self.terms.clone(),
        }
    }

    /// `k * self`.
    pub fn scale(&self, k: i64) -> SizeExpr {
        let map = self
            .terms
            .iter()
            .map(|(a, c)| (a.clone(), c.saturating_mul(k)))
            .collect();
        SizeExpr::from_map(self.constant.saturating_mul(k), map)
    }

    /// `self - other`.
    pub fn sub(&self, other: &SizeExpr) -> SizeExpr {
        self.add(&other.scale(-1))
    }

    /// `self / k` (truncating), `k > 0`. Exact when every coefficient is a multiple of `k`.
    pub fn div(&self, k: i64) -> SizeExpr {
        assert!(k > 0, "division of a size expression by {k}");
        if k == 1 {
            return self.clone();
        }
        if let Some(c) = self.as_constant() {
            return SizeExpr::constant(c / k);
        }
        if self.constant % k == 0 && self.terms.iter().all(|(_, c)| c % k == 0) {
            let map = self.terms.iter().map(|(a, c)| (a.clone(), c / k)).collect();
            return SizeExpr::from_map(self.constant / k, map);
        }
        SizeExpr {
            constant: 0,
            terms: vec![(Atom::Div(Box::new(self.clone()), k), 1)],
        }
    }

    /// `(c, s)` with `|self| <= c + s * S` whenever every size is in
    /// `[0, S]` (in `i128`, saturating: it cannot overflow).
    fn growth(&self) -> (i128, i128) {
        let (mut c, mut s) = (i128::from(self.constant).abs(), 0i128);
        for (a, k) in &self.terms {
            let (ac, as_) = match a {
                Atom::Size(_) => (0, 1),
                Atom::Div(e, d) => {
                    let (x, y) = e.growth();
                    let d = i128::from(*d);
                    (x / d + 1, y / d + 1)
                }
            };
            let k = i128::from(*k).abs();
            c = c.saturating_add(k.saturating_mul(ac));
            s = s.saturating_add(k.saturating_mul(as_));
        }
        (c, s)
    }

    /// The largest size `S` (at most [`MAX_SIZE`]) for which this stays
    /// within `±2^62` whenever every size is at most `S`; 0 when not even
    /// sizes of 1 keep it there.
    pub fn size_limit(&self) -> i64 {
        let (c, s) = self.growth();
        if c > SIZE_ARITH_LIMIT {
            return 0;
        }
        let most = if s == 0 {
            i128::MAX
        } else {
            (SIZE_ARITH_LIMIT - c) / s
        };
        i64::try_from(most.min(i128::from(MAX_SIZE))).expect("at most MAX_SIZE")
    }

    /// Evaluates with concrete sizes (wrapping arithmetic, truncating division).
    pub fn eval(&self, sizes: &[i64]) -> i64 {
        let mut v = self.constant;
        for (a, c) in &self.terms {
            let x = match a {
                Atom::Size(s) => sizes[*s],
                Atom::Div(e, k) => e.eval(sizes) / k,
            };
            v = v.wrapping_add(c.wrapping_mul(x));
        }
        v
    }

    /// Renders with size names, e.g. `H - 2`, `2 * N + 1`, `(W - 1) / 2`.
    pub fn display(&self, names: &[String]) -> String {
        let mut out = String::new();
        for (a, c) in &self.terms {
            let atom = match a {
                Atom::Size(s) => names.get(*s).cloned().unwrap_or_else(|| format!("size{s}")),
                Atom::Div(e, k) => {
                    let inner = e.display(names);
                    if e.terms.len() + usize::from(e.constant != 0) > 1 {
                        format!("({inner}) / {k}")
                    } else {
                        format!("{inner} / {k}")
                    }
                }
            };
            let mag = c.unsigned_abs();
            if out.is_empty() {
                if *c < 0 {
                    out.push('-');
                }
            } else {
                out.push_str(if *c < 0 { " - " } else { " + " });
            }
            if mag != 1 {
                let _ = write!(out, "{mag} * ");
            }
            out.push_str(&atom);
        }
        if out.is_empty() {
            let _ = write!(out, "{}", self.constant);
        } else if self.constant != 0 {
            let _ = write!(
                out,
                " {} {}",
                if self.constant < 0 { '-' } else { '+' },
                self.constant.unsigned_abs()
            );
        }
        out
    }
}

/// An exact rational `num / den`, `den > 0`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Q {
    num: i128,
    den: i128,
}

impl Q {
    fn int(v: i64) -> Q {
        Q {
            num: v as i128,
            den: 1,
        }
    }
    fn norm(num: i128, den: i128) -> Q {
        fn gcd(a: i128, b: i128) -> i128 {
            if b == 0 {
                a.abs().max(1)
            } else {
                gcd(b, a % b)
            }
        }
        let g = gcd(num, den);
        Q {
            num: num / g,
            den: den / g,
        }
    }
    fn add(self, o: Q) -> Q {
        Q::norm(
            self.num
                .saturating_mul(o.den)
                .saturating_add(o.num.saturating_mul(self.den)),
            self.den.saturating_mul(o.den),
        )
    }
    fn mul_int(self, k: i64) -> Q {
        Q::norm(self.num.saturating_mul(k as i128), self.den)
    }
    fn div_int(self, k: i64) -> Q {
        Q::norm(self.num, self.den.saturating_mul(k as i128))
    }
    fn nonneg(self) -> bool {
        self.num >= 0
    }
    fn positive(self) -> bool {
        self.num > 0
    }
}

/// `c0 + Σ q_s·size_s` with rational coefficients.
#[derive(Clone, Debug)]
struct Lin {
    c0: Q,
    coeffs: BTreeMap<SizeId, Q>,
}

impl Lin {
    fn constant(q: Q) -> Lin {
        Lin {
            c0: q,
            coeffs: BTreeMap::new(),
        }
    }
    fn add(mut self, o: &Lin) -> Lin {
        self.c0 = self.c0.add(o.c0);
        for (s, q) in &o.coeffs {
            let e = self.coeffs.entry(*s).or_insert(Q::int(0));
            *e = e.add(*q);
        }
        self
    }
    fn mul_int(mut self, k: i64) -> Lin {
        self.c0 = self.c0.mul_int(k);
        for q in self.coeffs.values_mut() {
            *q = q.mul_int(k);
        }
        self
    }
    fn div_int(mut self, k: i64) -> Lin {
        self.c0 = self.c0.div_int(k);
        for q in self.coeffs.values_mut() {
            *q = q.div_int(k);
        }
        self
    }
    /// Non-negative for every assignment of sizes ≥ 1, given that the
    /// expression this bounds is an integer: then `e ≥ L > -1` implies
    /// `e ≥ 0`. With all coefficients non-negative, `L` is smallest when
    /// every size is 1.
    fn provably_nonneg(&self) -> bool {
        self.provably_nonneg_from(&[])
    }

    /// [`Lin::provably_nonneg`] for sizes at least `mins` (1 for a size
    /// past its end): `L` is smallest at the minima.
    fn provably_nonneg_from(&self, mins: &[i64]) -> bool {
        let mut at_min = self.c0;
        for (s, q) in &self.coeffs {
            if !q.nonneg() {
                return false;
            }
            let least = mins.get(*s).copied().unwrap_or(1).max(1);
            at_min = at_min.add(q.mul_int(least));
        }
        at_min.add(Q::int(1)).positive()
    }
}

/// A rational affine lower (`upper == false`) or upper bound of `e`.
fn linear_bound(e: &SizeExpr, upper: bool) -> Lin {
    let mut acc = Lin::constant(Q::int(e.constant));
    for (a, c) in &e.terms {
        // For a negative coefficient the opposite bound of the atom is needed.
        let want_upper = upper == (*c > 0);
        let atom = match a {
            Atom::Size(s) => Lin {
                c0: Q::int(0),
                coeffs: BTreeMap::from([(*s, Q::int(1))]),
            },
            Atom::Div(inner, k) => {
                let b = linear_bound(inner, want_upper);
                if want_upper {
                    if prove_nonneg(inner) {
                        b.div_int(*k)
                    } else {
                        b.add(&Lin::constant(Q::int(k - 1))).div_int(*k)
                    }
                } else {
                    b.add(&Lin::constant(Q::int(-(k - 1)))).div_int(*k)
                }
            }
        };
        acc = acc.add(&atom.mul_int(*c));
    }
    acc
}

/// The largest size (array extent) a kernel accepts; larger ones are
/// refused at the call. No machine holds an array dim this long (2^48
/// elements of one byte fill a 48-bit address space).
pub const MAX_SIZE: i64 = 1 << 48;

/// The largest magnitude a domain bound or extent may reach: index
/// arithmetic on it (tiles, vector blocks, `hi - lo`) then fits `i64`.
pub const SIZE_ARITH_LIMIT: i128 = 1 << 62;

/// The largest size a call of `kernel` may bind so that no domain bound or
/// extent passes [`SIZE_ARITH_LIMIT`]: [`MAX_SIZE`] for ordinary kernels,
/// less for `f32[N * 1000000000]` (its calls check it).
pub fn size_limit(kernel: &Kernel) -> i64 {
    domain_bounds(kernel)
        .map(|(_, _, e)| e.size_limit())
        .min()
        .unwrap_or(MAX_SIZE)
}

fn domain_bounds(kernel: &Kernel) -> impl Iterator<Item = (&Stage, usize, &SizeExpr)> {
    kernel.stages.iter().flat_map(|st| {
        st.domain.iter().enumerate().flat_map(move |(d, iv)| {
            iv.lo
                .members
                .iter()
                .chain(&iv.hi.members)
                .map(move |e| (st, d, e))
        })
    })
}

/// Refuses domains and extents whose arithmetic would overflow for every
/// positive size (`f32[4611686018427387904 * N]`,
/// `f32[N + 9223372036854775807]`): no call could run them.
pub fn check_size_arith(kernel: &Kernel) -> Vec<Diagnostic> {
    let names: Vec<String> = kernel.sizes.iter().map(|s| s.name.clone()).collect();
    let mut out: Vec<Diagnostic> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (stage, d, e) in domain_bounds(kernel) {
        if e.size_limit() >= 1 || !seen.insert(&stage.name) {
            continue;
        }
        out.push(
            Diagnostic::error(
                format!(
                    "the domain of `{}` in dim {d} overflows: its bound `{}` passes 2^62 even when every size is 1",
                    stage.name,
                    e.display(&names)
                ),
                stage.span,
            )
            .with_note("domain bounds and extents must stay within ±2^62, so that index arithmetic never wraps"),
        );
    }
    out
}

/// True if `e ≥ 0` for all sizes ≥ 1 (conservative: false means "not proven").
pub fn prove_nonneg(e: &SizeExpr) -> bool {
    linear_bound(e, false).provably_nonneg()
}

/// True if `a ≤ b` provably.
pub fn prove_le(a: &SizeExpr, b: &SizeExpr) -> bool {
    prove_nonneg(&b.sub(a))
}

/// [`prove_nonneg`] for sizes at least `mins` (a kernel's size
/// constraints, `where C >= 4`; 1 for any size not listed).
pub fn prove_nonneg_from(e: &SizeExpr, mins: &[i64]) -> bool {
    linear_bound(e, false).provably_nonneg_from(mins)
}

/// A bound: the minimum (for a lower bound) or the maximum (for an upper
/// bound) of its members.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Bound {
    /// Members; never empty.
    pub members: Vec<SizeExpr>,
}

impl Bound {
    /// A bound with one member.
    pub fn one(e: SizeExpr) -> Bound {
        Bound { members: vec![e] }
    }

    /// Applies `f` to every member (for monotone non-decreasing `f`).
    pub fn map(&self, f: impl Fn(&SizeExpr) -> SizeExpr) -> Bound {
        Bound {
            members: self.members.iter().map(f).collect(),
        }
    }

    /// Drops duplicates and members that another member provably dominates:
    /// for a lower bound (`is_upper == false`) keeps the provably smallest.
    pub fn pruned(mut self, is_upper: bool) -> Bound {
        self.members.sort();
        self.members.dedup();
        let ms = self.members.clone();
        let mut keep = Vec::new();
        for (i, m) in ms.iter().enumerate() {
            let dominated = ms.iter().enumerate().any(|(j, o)| {
                j != i
                    && if is_upper { prove_le(m, o) } else { prove_le(o, m) }
                    // of two provably equal members keep the first
                    && !(j > i && if is_upper { prove_le(o, m) } else { prove_le(m, o) })
            });
            if !dominated {
                keep.push(m.clone());
            }
        }
        if keep.is_empty() {
            keep.push(ms[0].clone());
        }
        Bound { members: keep }
    }

    /// Union of two bounds of the same kind.
    pub fn union(&self, other: &Bound, is_upper: bool) -> Bound {
        let mut members = self.members.clone();
        members.extend(other.members.iter().cloned());
        Bound { members }.pruned(is_upper)
    }

    /// Evaluates with concrete sizes.
    pub fn eval(&self, sizes: &[i64], is_upper: bool) -> i64 {
        let vals = self.members.iter().map(|m| m.eval(sizes));
        if is_upper {
            vals.max().unwrap_or(i64::MIN)
        } else {
            vals.min().unwrap_or(i64::MAX)
        }
    }

    /// Renders as `e` or `min(a, b)` / `max(a, b)`.
    pub fn display(&self, names: &[String], is_upper: bool) -> String {
        let parts: Vec<String> = self.members.iter().map(|m| m.display(names)).collect();
        if parts.len() == 1 {
            parts[0].clone()
        } else {
            format!(
                "{}({})",
                if is_upper { "max" } else { "min" },
                parts.join(", ")
            )
        }
    }
}

/// An inclusive range `[lo, hi]` of one dim.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Interval {
    /// Lower bound (minimum of members).
    pub lo: Bound,
    /// Upper bound, inclusive (maximum of members).
    pub hi: Bound,
}

impl Interval {
    /// `[0, extent - 1]`.
    pub fn from_extent(extent: &SizeExpr) -> Interval {
        Interval {
            lo: Bound::one(SizeExpr::constant(0)),
            hi: Bound::one(extent.add_const(-1)),
        }
    }

    /// Renders as `[lo, hi]`.
    pub fn display(&self, names: &[String]) -> String {
        format!(
            "[{}, {}]",
            self.lo.display(names, false),
            self.hi.display(names, true)
        )
    }
}

/// Range of an integer expression: each side is `None` when unknown.
#[derive(Clone, Debug, Default)]
struct Range {
    lo: Option<Bound>,
    hi: Option<Bound>,
}

const MAX_MEMBERS: usize = 16;

fn cross_add(a: &Bound, b: &Bound, is_upper: bool) -> Option<Bound> {
    if a.members.len() * b.members.len() > MAX_MEMBERS {
        return None;
    }
    let mut members = Vec::new();
    for x in &a.members {
        for y in &b.members {
            members.push(x.add(y));
        }
    }
    Some(Bound { members }.pruned(is_upper))
}

/// Picks the provably tighter of two upper (or lower) bounds, or the second.
fn tighter(a: &Bound, b: &Bound, is_upper: bool) -> Bound {
    let le = |x: &Bound, y: &Bound| {
        x.members
            .iter()
            .all(|m| y.members.iter().all(|n| prove_le(m, n)))
    };
    if is_upper {
        if le(a, b) { a.clone() } else { b.clone() }
    } else if le(b, a) {
        a.clone()
    } else {
        b.clone()
    }
}

/// Runs bounds inference on a type-checked kernel: fills in every stage's
/// domain and reports reads that cannot be proven in range.
pub fn infer(kernel: &mut Kernel) -> Vec<Diagnostic> {
    let mut cx = Inference {
        names: kernel.sizes.iter().map(|s| s.name.clone()).collect(),
        demand: vec![Vec::new(); kernel.stages.len()],
        guards: vec![Vec::new(); kernel.stages.len()],
        consumer: None,
        reductions: Vec::new(),
        vars: BTreeMap::new(),
        diags: Vec::new(),
        verb: "read",
        mins: crate::check::size_minima(kernel.sizes.len(), &kernel.constraints),
    };
    for item in kernel.body.clone().iter().rev() {
        match *item {
            Item::Let(l) => {
                cx.vars.clear();
                cx.consumer = None;
                let value = kernel.lets[l].value.clone();
                cx.walk(kernel, &value);
            }
            Item::Stage(s) => {
                // where its updates write: inside its declared extents, or
                // part of the domain, like reads
                let updates = kernel.stages[s].updates.clone();
                for u in &updates {
                    cx.enter_update(kernel, u);
                    cx.verb = "update";
                    let target = TExpr {
                        kind: TExprKind::Read {
                            source: ArraySource::Stage(s),
                            indices: u.indices.clone(),
                        },
                        ty: kernel.stages[s].elem,
                        span: u.span,
                    };
                    cx.check_read(kernel, &target, ArraySource::Stage(s), &u.indices);
                    cx.verb = "read";
                }
                let domain = match kernel.stages[s].result {
                    Some(r) => kernel.results[r]
                        .dims
                        .iter()
                        .map(Interval::from_extent)
                        .collect(),
                    None => {
                        let rank = kernel.stages[s].vars.len();
                        let demands = std::mem::take(&mut cx.demand[s]);
                        if demands.is_empty() {
                            // Read by nothing: an empty domain.
                            vec![
                                Interval {
                                    lo: Bound::one(SizeExpr::constant(0)),
                                    hi: Bound::one(SizeExpr::constant(-1)),
                                };
                                rank
                            ]
                        } else {
                            let scan = kernel.stages[s].recurrence.as_ref().map(|r| r.dim);
                            (0..rank)
                                .map(|d| {
                                    let mut it = demands.iter().map(|dm: &Vec<Interval>| &dm[d]);
                                    let first = it.next().cloned().expect("non-empty demands");
                                    let mut iv = it.fold(first, |acc, iv| Interval {
                                        lo: acc.lo.union(&iv.lo, false),
                                        hi: acc.hi.union(&iv.hi, true),
                                    });
                                    if scan == Some(d) {
                                        // a recurrence starts at 0 (its
                                        // readers were checked to read there
                                        // or after)
                                        iv.lo = Bound::one(SizeExpr::constant(0));
                                    }
                                    iv
                                })
                                .collect()
                        }
                    }
                };
                kernel.stages[s].domain = domain.clone();
                kernel.stages[s].guards = std::mem::take(&mut cx.guards[s]);
                // a stage read by nothing is not computed: its reads demand
                // nothing of its producers (they would widen their domains
                // to elements no result needs, and fail there)
                let unread = kernel.stages[s].result.is_none()
                    && domain
                        .iter()
                        .any(|iv| iv.hi.members == [SizeExpr::constant(-1)]);
                if unread {
                    continue;
                }
                cx.vars.clear();
                for (v, iv) in kernel.stages[s].vars.iter().zip(&domain) {
                    cx.vars.insert(
                        *v,
                        Range {
                            lo: Some(iv.lo.clone()),
                            hi: Some(iv.hi.clone()),
                        },
                    );
                }
                cx.consumer = Some(s);
                let exprs: Vec<TExpr> = kernel.stages[s].exprs().cloned().collect();
                for e in &exprs {
                    cx.walk(kernel, e);
                }
                // an update's reads happen when its variables' ranges are
                // not empty, whatever the stage's domain
                for u in &updates {
                    cx.enter_update(kernel, u);
                    for e in u.indices.iter().chain([&u.value]) {
                        cx.walk(kernel, e);
                    }
                }
                cx.reductions.clear();
            }
        }
    }
    cx.diags
}

struct Inference {
    names: Vec<String>,
    /// Per stage: one interval per dim for every read of it seen so far.
    demand: Vec<Vec<Vec<Interval>>>,
    /// Per stage: when its reads happen (deduplicated).
    guards: Vec<Vec<ReadGuard>>,
    /// The stage being walked; `None` in a `let`.
    consumer: Option<StageId>,
    /// The known ranges of the reductions around the expression walked.
    reductions: Vec<Interval>,
    vars: BTreeMap<VarId, Range>,
    diags: Vec<Diagnostic>,
    /// What an access is called in messages: a `read`, or an `update`'s
    /// write.
    verb: &'static str,
    /// The least value of each size: 1, or what a size constraint says.
    mins: Vec<i64>,
}

impl Inference {
    /// Whether `e >= 0` for every size at least its minimum.
    fn nonneg(&self, e: &SizeExpr) -> bool {
        prove_nonneg_from(e, &self.mins)
    }

    /// Binds an update's variables to their ranges, as a reduction's
    /// around everything the update evaluates (no stage variable is in
    /// scope).
    fn enter_update(&mut self, k: &Kernel, u: &Update) {
        self.vars.clear();
        self.reductions.clear();
        self.consumer = None;
        self.bind_ranges(k, &u.vars);
    }

    /// Binds each variable of a reduction (or update) to its range, in
    /// order, and records the known ranges around what follows.
    fn bind_ranges(&mut self, k: &Kernel, vars: &[ReduceVar]) {
        for rv in vars {
            self.walk(k, &rv.lo);
            self.walk(k, &rv.hi);
            let lo = self.range(&rv.lo).lo;
            let hi = self.range(&rv.hi).hi.map(|b| b.map(|m| m.add_const(-1)));
            if let (Some(lo), Some(hi)) = (&lo, &hi) {
                self.reductions.push(Interval {
                    lo: lo.clone(),
                    hi: hi.clone(),
                });
            }
            self.vars.insert(rv.var, Range { lo, hi });
        }
    }

    fn walk(&mut self, k: &Kernel, e: &TExpr) {
        match &e.kind {
            TExprKind::Read { source, indices } => {
                for ix in indices {
                    self.walk(k, ix);
                }
                self.check_read(k, e, *source, indices);
            }
            TExprKind::Reduce { vars, body, .. } => {
                let saved = self.vars.clone();
                let depth = self.reductions.len();
                self.bind_ranges(k, vars);
                self.walk(k, body);
                self.vars = saved;
                self.reductions.truncate(depth);
            }
            // a recurrence's own earlier element: computed before this
            // one, from index 0, so it demands nothing of the domain
            TExprKind::Const(_)
            | TExprKind::Size(_)
            | TExprKind::Scalar(_)
            | TExprKind::Let(_)
            | TExprKind::Var(_)
            | TExprKind::Prior { .. } => {}
            TExprKind::Unary(_, a) | TExprKind::Cast(a) => self.walk(k, a),
            TExprKind::Binary(_, a, b) => {
                self.walk(k, a);
                self.walk(k, b);
            }
            TExprKind::Call(_, args) => args.iter().for_each(|a| self.walk(k, a)),
        }
    }

    fn check_read(&mut self, k: &Kernel, read: &TExpr, source: ArraySource, indices: &[TExpr]) {
        let ranges: Vec<Range> = indices.iter().map(|ix| self.range(ix)).collect();
        let (name, extents, boundary) = match source {
            ArraySource::Stage(s) if k.stages[s].result.is_none() => {
                // An intermediate: its domain grows to cover the read.
                let mut demand = Vec::new();
                for (d, (r, ix)) in ranges.iter().zip(indices).enumerate() {
                    match (&r.lo, &r.hi) {
                        (Some(lo), Some(hi)) => demand.push(Interval {
                            lo: lo.clone(),
                            hi: hi.clone(),
                        }),
                        _ => {
                            self.diags.push(
                                Diagnostic::error(
                                    format!(
                                        "cannot infer which part of `{}` to compute: index {} depends on data",
                                        k.stages[s].name, d
                                    ),
                                    ix.span,
                                )
                                .with_label("the range of this index is not known at compile time")
                                .with_help(format!(
                                    "clamp the index into a known range, e.g. `clamp(i, 0, N - 1)`, so `{}` has a bounded domain",
                                    k.stages[s].name
                                )),
                            );
                            return;
                        }
                    }
                }
                if let Some(rec) = &k.stages[s].recurrence {
                    let d = rec.dim;
                    let before = !demand[d].lo.members.iter().all(|m| self.nonneg(m));
                    if before {
                        self.diags.push(
                            Diagnostic::error(
                                format!(
                                    "read of recurrence `{}` may come before its first element",
                                    k.stages[s].name
                                ),
                                indices[d].span,
                            )
                            .with_label(format!(
                                "this index ranges from {}, but `{}` starts at 0 along dim {d}",
                                demand[d].lo.display(&self.names, false),
                                k.stages[s].name
                            ))
                            .with_secondary(read.span, "in this read")
                            .with_help("clamp the index, e.g. `max(i - 1, 0)`; see docs/language.md#recurrences"),
                        );
                        return;
                    }
                }
                self.demand[s].push(demand);
                let guard = ReadGuard {
                    consumer: self.consumer,
                    ranges: self.reductions.clone(),
                };
                if !self.guards[s].contains(&guard) {
                    self.guards[s].push(guard);
                }
                return;
            }
            ArraySource::Stage(s) => {
                let r = k.stages[s].result.expect("result stage");
                (k.stages[s].name.clone(), k.results[r].dims.clone(), None)
            }
            ArraySource::Param(p) => {
                let param = &k.params[p];
                let dims = param.dims.as_ref().expect("array parameter");
                let extents = dims
                    .iter()
                    .map(|d| match d {
                        Dim::Size(s) => SizeExpr::size(*s),
                        Dim::Fixed(n) => SizeExpr::constant(*n),
                    })
                    .collect();
                (param.name.clone(), extents, param.boundary)
            }
        };
        if boundary.is_some() {
            return;
        }
        for (d, ((r, ix), extent)) in ranges.iter().zip(indices).zip(&extents).enumerate() {
            let last = extent.add_const(-1);
            let lo_ok =
                r.lo.as_ref()
                    .is_some_and(|lo| lo.members.iter().all(|m| self.nonneg(m)));
            let hi_ok =
                r.hi.as_ref()
                    .is_some_and(|hi| hi.members.iter().all(|m| self.nonneg(&last.sub(m))));
            if lo_ok && hi_ok {
                continue;
            }
            let valid = format!("[0, {}]", last.display(&self.names));
            let shown = |b: &Option<Bound>, up: bool| match b {
                Some(b) => b.display(&self.names, up),
                None => "?".to_string(),
            };
            let mut diag = if r.lo.is_none() && r.hi.is_none() {
                Diagnostic::error(
                    format!("index {d} of `{name}` depends on data and cannot be proven in bounds"),
                    ix.span,
                )
                .with_label(format!("`{name}` is only valid over {valid} in dim {d}"))
            } else {
                Diagnostic::error(
                    format!("{} of `{name}` may be out of bounds in dim {d}", self.verb),
                    ix.span,
                )
                .with_label(format!(
                    "this index ranges over [{}, {}], but `{name}` is valid over {valid}",
                    shown(&r.lo, false),
                    shown(&r.hi, true)
                ))
            };
            diag = diag.with_secondary(read.span, format!("in this {}", self.verb));
            diag = match source {
                ArraySource::Param(_) => {
                    // a constant index past a size's minimum: the size
                    // may be promised larger
                    let hi = r.hi.as_ref().and_then(|b| match b.members.as_slice() {
                        [m] => m.as_constant(),
                        _ => None,
                    });
                    let size = extent.terms.first().filter(|_| {
                        extent.terms.len() == 1 && extent.constant == 0
                    });
                    let promise = match (hi, size) {
                        (Some(c), Some((Atom::Size(s), 1))) => format!(
                            ", or require the size to be large enough: `where {} >= {}`",
                            self.names[*s],
                            c.saturating_add(1)
                        ),
                        _ => String::new(),
                    };
                    diag.with_help(format!(
                        "give the parameter a boundary mode, e.g. `{name}: ... @boundary(clamp)` (or zero, wrap, mirror), or clamp the index{promise}"
                    ))
                }
                ArraySource::Stage(_) => diag.with_help(format!(
                    "`{name}` is a result, so its extent is fixed by its declaration; clamp the index or read a range it covers"
                )),
            };
            diag = diag.with_note(
                "bounds are proven for all sizes >= 1; see docs/language.md#bounds-inference",
            );
            self.diags.push(diag);
        }
    }

    /// The range of an integer expression in terms of sizes.
    fn range(&self, e: &TExpr) -> Range {
        let r = self.range_of_form(e);
        // whatever it is, a value of an 8- or 16-bit integer type lies in
        // the type's range: `lut[i32(x[i])]` with `x: u8[N]` reads
        // `[0, 255]` (wider types' ranges would make an intermediate
        // indexed by data billions of elements long: those stay unknown)
        match (&r.lo, &r.hi, e.ty.int_range()) {
            (None, None, Some((lo, hi))) if e.ty.size_bytes() <= 2 => Range {
                lo: Some(Bound::one(SizeExpr::constant(lo))),
                hi: Some(Bound::one(SizeExpr::constant(hi))),
            },
            _ => r,
        }
    }

    /// [`Inference::range`] from the expression's form alone.
    fn range_of_form(&self, e: &TExpr) -> Range {
        let exact = |s: SizeExpr| Range {
            lo: Some(Bound::one(s.clone())),
            hi: Some(Bound::one(s)),
        };
        match &e.kind {
            TExprKind::Const(Const::Int(c)) => exact(SizeExpr::constant(*c)),
            TExprKind::Size(s) => exact(SizeExpr::size(*s)),
            TExprKind::Var(v) => self.vars.get(v).cloned().unwrap_or_default(),
            TExprKind::Cast(a) if a.ty.is_int() && e.ty.is_int() => self.range(a),
            TExprKind::Unary(UnaryOp::Neg, a) => {
                let r = self.range(a);
                Range {
                    lo: r.hi.map(|b| b.map(|m| m.scale(-1))),
                    hi: r.lo.map(|b| b.map(|m| m.scale(-1))),
                }
            }
            TExprKind::Binary(op, a, b) => {
                let (ra, rb) = (self.range(a), self.range(b));
                let konst = |x: &Range| match (&x.lo, &x.hi) {
                    (Some(l), Some(h)) if l == h && l.members.len() == 1 => {
                        l.members[0].as_constant()
                    }
                    _ => None,
                };
                let add = |x: &Range, y: &Range| Range {
                    lo: x
                        .lo
                        .as_ref()
                        .zip(y.lo.as_ref())
                        .and_then(|(p, q)| cross_add(p, q, false)),
                    hi: x
                        .hi
                        .as_ref()
                        .zip(y.hi.as_ref())
                        .and_then(|(p, q)| cross_add(p, q, true)),
                };
                let scale = |x: &Range, c: i64| {
                    let f = |b: &Option<Bound>| b.as_ref().map(|b| b.map(|m| m.scale(c)));
                    if c >= 0 {
                        Range {
                            lo: f(&x.lo),
                            hi: f(&x.hi),
                        }
                    } else {
                        Range {
                            lo: f(&x.hi),
                            hi: f(&x.lo),
                        }
                    }
                };
                match op {
                    BinOp::Add => add(&ra, &rb),
                    BinOp::Sub => add(&ra, &scale(&rb, -1)),
                    BinOp::Mul => match (konst(&ra), konst(&rb)) {
                        (_, Some(c)) => scale(&ra, c),
                        (Some(c), _) => scale(&rb, c),
                        _ => Range::default(),
                    },
                    BinOp::Div => match konst(&rb) {
                        Some(c) if c > 0 => Range {
                            lo: ra.lo.map(|b| b.map(|m| m.div(c))),
                            hi: ra.hi.map(|b| b.map(|m| m.div(c))),
                        },
                        _ => Range::default(),
                    },
                    BinOp::Rem => match konst(&rb) {
                        Some(c) if c > 0 => {
                            let nonneg = ra
                                .lo
                                .as_ref()
                                .is_some_and(|b| b.members.iter().all(prove_nonneg));
                            Range {
                                lo: Some(Bound::one(SizeExpr::constant(if nonneg {
                                    0
                                } else {
                                    -(c - 1)
                                }))),
                                hi: Some(Bound::one(SizeExpr::constant(c - 1))),
                            }
                        }
                        _ => Range::default(),
                    },
                    _ => Range::default(),
                }
            }
            TExprKind::Call(f, args) if e.ty.is_int() => {
                let r: Vec<Range> = args.iter().map(|a| self.range(a)).collect();
                let union = |x: &Option<Bound>, y: &Option<Bound>, up: bool| match (x, y) {
                    (Some(a), Some(b)) => Some(a.union(b, up)),
                    _ => None,
                };
                let pick = |x: &Option<Bound>, y: &Option<Bound>, up: bool| match (x, y) {
                    (Some(a), Some(b)) => Some(tighter(a, b, up)),
                    (Some(a), None) | (None, Some(a)) => Some(a.clone()),
                    (None, None) => None,
                };
                match f {
                    Builtin::Min => Range {
                        lo: union(&r[0].lo, &r[1].lo, false),
                        hi: pick(&r[0].hi, &r[1].hi, true),
                    },
                    Builtin::Max => Range {
                        lo: pick(&r[0].lo, &r[1].lo, false),
                        hi: union(&r[0].hi, &r[1].hi, true),
                    },
                    // clamp(v, l, h) = min(max(v, l), h) >= min(l, h)
                    Builtin::Clamp => Range {
                        lo: union(&r[1].lo, &r[2].lo, false),
                        hi: r[2].hi.clone(),
                    },
                    Builtin::Select => Range {
                        lo: union(&r[1].lo, &r[2].lo, false),
                        hi: union(&r[1].hi, &r[2].hi, true),
                    },
                    _ => Range::default(),
                }
            }
            _ => Range::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h() -> SizeExpr {
        SizeExpr::size(0)
    }

    #[test]
    fn affine_normal_form_cancels() {
        let e = h().add_const(2).sub(&h());
        assert_eq!(e.as_constant(), Some(2));
        assert_eq!(h().scale(2).add_const(4).div(2), h().add_const(2));
    }

    #[test]
    fn proofs_assume_sizes_at_least_one() {
        assert!(prove_nonneg(&h().add_const(-1)));
        assert!(!prove_nonneg(&h().add_const(-2)));
        // (H - 1) / 2 <= H - 1
        assert!(prove_le(&h().add_const(-1).div(2), &h().add_const(-1)));
        // H / 2 <= H - 1 holds for integers (0 <= 0 at H = 1), H / 2 <= H - 2 does not
        assert!(prove_le(&h().div(2), &h().add_const(-1)));
        assert!(!prove_le(&h().div(2), &h().add_const(-2)));
        // (10^9 * H - 1) / 10^9 <= H - 1: needs the integer argument
        assert!(prove_le(
            &h().scale(1_000_000_000).add_const(-1).div(1_000_000_000),
            &h().add_const(-1)
        ));
    }

    #[test]
    fn bounds_prune_dominated_members() {
        let names = vec!["H".to_string()];
        let b = Bound {
            members: vec![h().add_const(-1), h(), h().add_const(1)],
        }
        .pruned(true);
        assert_eq!(b.display(&names, true), "H + 1");
        let b = Bound {
            members: vec![SizeExpr::constant(0), h().add_const(-1)],
        }
        .pruned(false);
        assert_eq!(b.display(&names, false), "0");
    }
}
