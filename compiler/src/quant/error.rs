//! Forward error analysis: for every value of a `pj` kernel, a bound on
//! how far the value the kernel computes can be from the *ideal* one —
//! the value the same program has in exact real arithmetic, with each
//! `quant` op taken as the exact affine map it stands for
//! (`quantize(x)` ideally `x / scale + zero_point`, `dequantize(q)`
//! ideally `(q - zero_point) * scale`). A quantized kernel whose scales
//! multiply exactly (the `quantize` pass chooses them so) then has the
//! same ideal results as the float kernel it came from, so its bound is a
//! bound on its distance from the exact result of the original program;
//! the analysis of the float kernel itself bounds that kernel's rounding.
//!
//! How: each op's error from its operands' errors and the ranges of the
//! computed values ([`super::ranges`]), first-order rules made sound with
//! the ranges (`|ãb̃ - ab| <= |ã| e_b + (|b̃| + e_b) e_a`), plus the op's own
//! rounding, at most `u |result|` (`u` = 2^-24 for `f32`, 2^-53 for
//! `f64`; the elementary functions within 4 ulp). A sum of `n` terms adds
//! `n` times its term's error and, in floats, `n u` times the sum of the
//! magnitudes (any order of the additions: `--fast-math` may reassociate).
//! Integer arithmetic is exact unless its range may leave its type (then
//! unbounded).
//!
//! Beside each absolute bound, where the ops allow, a *relative* one
//! (`|ṽ - v| <= ρ |v|`): products and quotients add their operands'
//! relative errors, a sum of terms that are never negative keeps its
//! terms' (plus `γ_n` of rounding), `exp` turns its argument's absolute
//! error into a relative one, 16-bit storage away from the subnormals is
//! relative. A value's bound is the smaller of the two: this is what keeps
//! a softmax's `e / sum(e)` bounded by its terms' relative error instead
//! of the sum's absolute error over the smallest sum. Comparisons, selects on computed conditions, recurrences,
//! updates and `argmax` are unbounded unless every operand is exact.
//!
//! When legal: a `pj`-level kernel and its [`super::ranges::Ranges`] from
//! the same inputs. Cost: one walk of the kernel.

use super::ranges::{Interval, Ranges};
use crate::dialects::{ArithOp, MathOp, Opcode, PjOp, QuantOp};
use crate::ir::{Attr, BlockId, Module, OpId, ScalarType, Type, ValueId};
use std::collections::HashMap;

/// Error bounds of a kernel's values.
#[derive(Debug, Default)]
pub struct Errors {
    values: HashMap<ValueId, f64>,
    /// A stage's (or parameter's) bound over all its elements.
    elements: HashMap<ValueId, f64>,
    /// Relative bounds, where known.
    relative: HashMap<ValueId, f64>,
    /// A stage's relative bound over all its elements, where known.
    relative_elements: HashMap<ValueId, f64>,
}

impl Errors {
    /// The bound of scalar `v` (infinite when unknown).
    pub fn value(&self, v: ValueId) -> f64 {
        self.values.get(&v).copied().unwrap_or(f64::INFINITY)
    }

    /// The bound of every element of tensor `v`.
    pub fn elements(&self, v: ValueId) -> f64 {
        self.elements.get(&v).copied().unwrap_or(f64::INFINITY)
    }
}

/// bfloat16's unit roundoff: 8 significant bits.
const BF16_ROUNDOFF: f64 = 1.0 / 256.0;

/// The least magnitude bfloat16 rounds to infinity: its largest finite
/// value plus half a step, `(2 - 2^-7 + 2^-8) · 2^127`, exactly `2^128 - 2^119`.
const BF16_OVERFLOW: f64 = 3.39617752923046e38; // 2^128 - 2^119

/// binary16's unit roundoff: 11 significant bits.
const F16_ROUNDOFF: f64 = 1.0 / 2048.0;

/// The smallest magnitude binary16 rounds to infinity: 65504 + 16.
const F16_OVERFLOW: f64 = 65520.0;

/// The unit roundoff of a float type (0 for others).
pub fn unit_roundoff(t: ScalarType) -> f64 {
    match t {
        ScalarType::F32 => 2f64.powi(-24),
        ScalarType::F64 => 2f64.powi(-53),
        ScalarType::F16 => F16_ROUNDOFF,
        ScalarType::Bf16 => BF16_ROUNDOFF,
        _ => 0.0,
    }
}

/// The error bounds of every value of `kernel`, and of each of its
/// results (in declaration order), given the ranges of its values.
pub fn analyze(m: &Module, kernel: OpId, ranges: &Ranges) -> (Errors, Vec<f64>) {
    let mut a = Analysis {
        m,
        ranges,
        e: Errors::default(),
    };
    let body = m.entry_block(kernel, 0);
    for &arg in &m.block(body).args {
        match m.ty(arg) {
            Type::Scalar(_) => {
                a.e.values.insert(arg, 0.0);
                a.e.relative.insert(arg, 0.0)
            }
            _ => {
                a.e.elements.insert(arg, 0.0);
                a.e.relative_elements.insert(arg, 0.0)
            }
        };
    }
    let results = a.block(body);
    (a.e, results)
}

struct Analysis<'a> {
    m: &'a Module,
    ranges: &'a Ranges,
    e: Errors,
}

/// `a · b` where a zero factor wins over an infinite one (no error times
/// any magnitude is no error).
fn times(a: f64, b: f64) -> f64 {
    if a == 0.0 || b == 0.0 { 0.0 } else { a * b }
}

/// The largest magnitude in `r` (infinite with NaN).
fn most(r: Interval) -> f64 {
    if r.nan {
        f64::INFINITY
    } else {
        r.lo.abs().max(r.hi.abs())
    }
}

/// The smallest magnitude in `r`.
fn least(r: Interval) -> f64 {
    if r.lo <= 0.0 && r.hi >= 0.0 {
        0.0
    } else {
        r.lo.abs().min(r.hi.abs())
    }
}

impl Analysis<'_> {
    fn range(&self, v: ValueId) -> Interval {
        self.ranges.value(v).unwrap_or_else(Interval::unknown)
    }

    fn err(&self, v: ValueId) -> f64 {
        self.e.value(v)
    }

    /// The rounding of a result of type `t` with range `r`: `u |r|` for
    /// floats; for integers nothing, or unbounded if it may have wrapped
    /// (the range analysis gives a result that may leave its type the
    /// type's whole range).
    fn rounding(&self, t: ScalarType, r: Interval) -> f64 {
        // 16-bit floats: overflow within reach, and subnormals' absolute
        // step (f32's are below any tolerance a user gives)
        if t.is_half() {
            let (overflow, half_step) = match t {
                ScalarType::F16 => (F16_OVERFLOW, 2f64.powi(-25)),
                _ => (BF16_OVERFLOW, 2f64.powi(-134)),
            };
            return if r.nan || most(r) >= overflow {
                f64::INFINITY
            } else {
                times(unit_roundoff(t), most(r)) + half_step
            };
        }
        if t.is_float() {
            times(unit_roundoff(t), most(r))
        } else {
            match t.int_range() {
                Some((lo, hi)) if !r.nan && ((lo as f64) < r.lo || r.hi < hi as f64) => 0.0,
                _ if t == ScalarType::Bool => 0.0,
                _ => f64::INFINITY,
            }
        }
    }

    fn block(&mut self, block: BlockId) -> Vec<f64> {
        let mut last = vec![];
        for &op in &self.m.block(block).ops {
            let d = self.m.op(op);
            match d.opcode {
                Opcode::Pj(PjOp::Yield) | Opcode::Pj(PjOp::Return) => {
                    last = d
                        .operands
                        .iter()
                        .map(|&v| match self.m.ty(v) {
                            Type::Scalar(_) => self.err(v),
                            _ => self.e.elements(v),
                        })
                        .collect();
                }
                _ => self.op(op),
            }
        }
        last
    }

    fn region_value(&mut self, op: OpId) -> f64 {
        let b = self.m.entry_block(op, 0);
        for &arg in &self.m.block(b).args.clone() {
            self.e.values.insert(arg, 0.0);
            self.e.relative.insert(arg, 0.0);
        }
        self.block(b).first().copied().unwrap_or(f64::INFINITY)
    }

    fn op(&mut self, op: OpId) {
        let m = self.m;
        let d = m.op(op);
        let Some(&result) = d.results.first() else {
            return;
        };
        let t = m.ty(result).elem();
        let e = match d.opcode {
            Opcode::Pj(PjOp::Size) => 0.0,
            // a float constant may be a rounded one (a literal, or a
            // folded `cos(0.5)`): within its rounding of the ideal value
            Opcode::Arith(ArithOp::Constant) => self.rounding(t, self.range(result)),
            // the indices must be exact, or it reads another element
            Opcode::Pj(PjOp::Read) if d.operands[1..].iter().all(|&i| self.err(i) == 0.0) => {
                self.e.elements(d.operands[0])
            }
            Opcode::Pj(PjOp::Read) => f64::INFINITY,
            Opcode::Pj(PjOp::Stage) => {
                let e = self.region_value(op);
                self.e.elements.insert(result, e);
                if let Some(rho) = self.yielded(op).and_then(|v| self.rel(v)) {
                    self.e.relative_elements.insert(result, rho);
                }
                return;
            }
            Opcode::Pj(PjOp::Reduce) => {
                let term_err = self.region_value(op);
                let block = m.entry_block(op, 0);
                let term = m.op(*m.block(block).ops.last().expect("a yield")).operands[0];
                let n = self.ranges.trip_count(m, op, 0);
                let kind = d.attr("kind").and_then(Attr::as_str).unwrap_or("");
                match kind {
                    "sum" => {
                        let r = self.range(result);
                        let biggest = times(n, most(self.range(term)));
                        let adds = if t.is_float() {
                            times(n * unit_roundoff(t), biggest)
                        } else {
                            let whole = t.int_range().map_or(0.0, |(_, hi)| hi as f64);
                            if biggest < whole {
                                self.rounding(t, r)
                            } else {
                                f64::INFINITY
                            }
                        };
                        times(n, term_err) + adds
                    }
                    "min" | "max" => term_err,
                    _ if term_err == 0.0 && !t.is_float() => 0.0,
                    _ => f64::INFINITY,
                }
            }
            Opcode::Arith(a) => self.arith(op, a, t),
            Opcode::Math(mo) => {
                let x = d.operands[0];
                let (rx, ex) = (self.range(x), self.err(x));
                let r = self.range(result);
                let own = times(8.0 * unit_roundoff(t), most(r));
                let prop = match mo {
                    MathOp::Abs | MathOp::Tanh | MathOp::Sin | MathOp::Cos => ex,
                    MathOp::Floor | MathOp::Ceil if ex == 0.0 => 0.0,
                    MathOp::Exp | MathOp::Expm1 => times((rx.hi + ex).exp(), ex),
                    MathOp::Sqrt if ex == 0.0 => 0.0,
                    MathOp::Sqrt => {
                        let low = least(rx) - ex;
                        if low > 0.0 {
                            ex / (2.0 * low.sqrt())
                        } else {
                            ex.sqrt()
                        }
                    }
                    MathOp::Log | MathOp::Log1p => {
                        let shift = if mo == MathOp::Log1p { 1.0 } else { 0.0 };
                        let low = rx.lo + shift - ex;
                        if ex == 0.0 {
                            0.0
                        } else if low > 0.0 {
                            ex / low
                        } else {
                            f64::INFINITY
                        }
                    }
                    MathOp::Erf => ex * 2.0 / std::f64::consts::PI.sqrt(),
                    _ if ex == 0.0 && d.operands.iter().all(|&v| self.err(v) == 0.0) => 0.0,
                    _ => f64::INFINITY,
                };
                prop + own
            }
            Opcode::Quant(q) => {
                let p = crate::dialects::quant::Params::of(m, op);
                let x = d.operands[0];
                let (rx, ex) = (self.range(x), self.err(x));
                match q {
                    // bits standing for the value: ideally the value itself
                    QuantOp::PackBf16 => {
                        if rx.nan || most(rx) >= BF16_OVERFLOW {
                            f64::INFINITY
                        } else {
                            // 8 significant bits; half the subnormal step
                            ex + times(BF16_ROUNDOFF, most(rx)) + 2f64.powi(-134)
                        }
                    }
                    QuantOp::PackF16 => {
                        if rx.nan || most(rx) >= F16_OVERFLOW {
                            f64::INFINITY
                        } else {
                            // 11 significant bits; half the subnormal step 2^-24
                            ex + times(F16_ROUNDOFF, most(rx)) + 2f64.powi(-25)
                        }
                    }
                    QuantOp::UnpackBf16 | QuantOp::UnpackF16 => ex,
                    // the step that was used: no ideal besides itself
                    QuantOp::ScaleFor => 0.0,
                    // a scale computed at run time (see `facts::within_its_scale`):
                    // the integers stand for `x / s` at the `s` used
                    QuantOp::Quantize if d.operands.len() == 2 => {
                        let f = m.ty(x).elem();
                        let (qlo, qhi) = t.int_range().expect("verified");
                        let s = self.range(d.operands[1]);
                        let z = p.zero_point as f64;
                        let fits = |levels: f64| {
                            z - levels >= qlo as f64 && z + levels <= qhi as f64 + 0.5
                        };
                        match crate::quant::facts::within_its_scale(m, op) {
                            Some((levels, largest))
                                if !rx.nan
                                    && !s.nan
                                    && s.lo > 0.0
                                    && fits(levels as f64)
                                    && most(rx) <= levels as f64 * largest
                                    && self.err(d.operands[1]) == 0.0 =>
                            {
                                // |x / s| <= levels to within the scale's and the
                                // quotient's roundings (relative 2u); rounding half a step
                                let u = unit_roundoff(f);
                                0.5 + 3.0 * u * levels as f64 + ex / s.lo
                            }
                            _ => f64::INFINITY,
                        }
                    }
                    QuantOp::Dequantize if d.operands.len() == 2 => {
                        // the integers' error times the largest scale, the
                        // scale's own error times the largest integer
                        let s = self.range(d.operands[1]);
                        let shifted = most(rx) + p.zero_point.unsigned_abs() as f64;
                        let convert = if shifted < 2f64.powi(24) || t == ScalarType::F64 {
                            0.0
                        } else {
                            times(unit_roundoff(t), shifted)
                        };
                        if s.nan {
                            f64::INFINITY
                        } else {
                            times(ex + convert, most(s))
                                + times(shifted, self.err(d.operands[1]))
                                + self.rounding(t, self.range(result))
                        }
                    }
                    QuantOp::Quantize => {
                        let f = m.ty(x).elem();
                        let (qlo, qhi) = t.int_range().expect("verified");
                        // no clamping beyond the rounding's half step
                        let lo = rx.lo / p.scale + p.zero_point as f64;
                        let hi = rx.hi / p.scale + p.zero_point as f64;
                        if rx.nan || lo < qlo as f64 - 0.5 || hi > qhi as f64 + 0.5 {
                            f64::INFINITY
                        } else {
                            0.5 + times(unit_roundoff(f), most(rx)) / p.scale + ex / p.scale
                        }
                    }
                    // ideally `acc · scale + zero_point`; computed with the
                    // fixed-point factor, rounded once, unclamped where the
                    // range stays inside the type
                    QuantOp::Requantize => {
                        let fixed = p.multiplier as f64 / 2f64.powi(p.shift as i32);
                        let (qlo, qhi) = t.int_range().expect("verified");
                        let z = p.zero_point as f64;
                        if rx.nan
                            || rx.lo * fixed + z < qlo as f64 - 0.5
                            || rx.hi * fixed + z > qhi as f64 + 0.5
                        {
                            f64::INFINITY
                        } else {
                            // `scale` is the f64 nearest s_in / s_out
                            let factor = (fixed - p.scale).abs() + p.scale * 2f64.powi(-52);
                            0.5 + times(most(rx), factor) + times(ex, p.scale)
                        }
                    }
                    QuantOp::Dequantize => {
                        // `q - zero_point` exact; its conversion and the product round
                        let shifted = most(rx) + p.zero_point.unsigned_abs() as f64;
                        let convert = if shifted < 2f64.powi(24) || t == ScalarType::F64 {
                            0.0
                        } else {
                            times(unit_roundoff(t), shifted)
                        };
                        (ex + convert) * p.scale + self.rounding(t, self.range(result))
                    }
                }
            }
            _ => f64::INFINITY,
        };
        let mut e = e;
        if let Some(rho) = self.relative(op) {
            // |ṽ - v| <= ρ |v| and |v| <= |ṽ| / (1 - ρ)
            if rho < 1.0 {
                e = e.min(times(rho, most(self.range(result))) / (1.0 - rho));
            }
            self.e.relative.insert(result, rho);
        }
        self.e.values.insert(result, e);
    }

    /// The relative bound of scalar `v`, if known.
    fn rel(&self, v: ValueId) -> Option<f64> {
        self.e.relative.get(&v).copied()
    }

    /// The value `op`'s region yields.
    fn yielded(&self, op: OpId) -> Option<ValueId> {
        let block = self.m.entry_block(op, 0);
        let last = *self.m.block(block).ops.last()?;
        self.m.op(last).operands.first().copied()
    }

    /// A bound `ρ` on `op`'s result's error relative to its ideal value,
    /// where the op keeps errors relative; `None` elsewhere (a difference
    /// may cancel, a quantized value is offset).
    fn relative(&self, op: OpId) -> Option<f64> {
        let m = self.m;
        let d = m.op(op);
        let result = *d.results.first()?;
        let t = m.ty(result).elem();
        let u = unit_roundoff(t);
        let rel = |i: usize| d.operands.get(i).and_then(|&v| self.rel(v));
        // never negative, so never cancelling (ρ < 1 keeps the ideal
        // value's sign the computed one's)
        let never_negative = |v: ValueId| {
            let r = self.range(v);
            !r.nan && r.lo >= 0.0
        };
        // (1 + a)(1 + b) - 1
        let compose = |a: f64, b: f64| a + b + a * b;
        match d.opcode {
            Opcode::Pj(PjOp::Size) => Some(0.0),
            Opcode::Arith(ArithOp::Constant) => Some(u),
            Opcode::Pj(PjOp::Read) if d.operands[1..].iter().all(|&i| self.err(i) == 0.0) => {
                self.e.relative_elements.get(&d.operands[0]).copied()
            }
            Opcode::Pj(PjOp::Reduce) => {
                let term = self.yielded(op)?;
                let rt = self.rel(term)?;
                let kind = d.attr("kind").and_then(Attr::as_str).unwrap_or("");
                match kind {
                    // each partial sum rounds within u of itself: γ_n
                    "sum" if never_negative(term) && t.is_float() => {
                        let g = self.ranges.trip_count(m, op, 0) * u;
                        (g < 0.5).then(|| compose(rt, g / (1.0 - g)))
                    }
                    "min" | "max" if never_negative(term) => Some(rt),
                    _ => None,
                }
            }
            Opcode::Arith(ArithOp::Add)
                if never_negative(d.operands[0]) && never_negative(d.operands[1]) =>
            {
                Some(compose(rel(0)?.max(rel(1)?), u))
            }
            Opcode::Arith(ArithOp::Neg) => rel(0),
            Opcode::Arith(ArithOp::Mul) if t.is_float() => {
                Some(compose(compose(rel(0)?, rel(1)?), u))
            }
            // a(1 + α) / (b(1 + β)) = (a / b)(1 + (α - β) / (1 + β))
            Opcode::Arith(ArithOp::Div) if t.is_float() => {
                let (a, b) = (rel(0)?, rel(1)?);
                (b < 1.0).then(|| compose((a + b) / (1.0 - b), u))
            }
            Opcode::Math(MathOp::Abs) => rel(0),
            // sqrt(1 + α) - 1 lies within ±α
            Opcode::Math(MathOp::Sqrt) => Some(compose(rel(0)?, 8.0 * u)),
            // exp(x + δ) = exp(x) · exp(δ): an absolute error in, a
            // relative one out
            Opcode::Math(MathOp::Exp) => {
                let ex = self.err(d.operands[0]);
                ex.is_finite().then(|| compose(ex.exp_m1(), 8.0 * u))
            }
            // 16-bit storage rounds relatively above the subnormals
            Opcode::Quant(QuantOp::PackBf16) => {
                let r = self.range(d.operands[0]);
                (least(r) >= 2f64.powi(-126) && most(r) < BF16_OVERFLOW)
                    .then(|| rel(0).map(|x| compose(x, BF16_ROUNDOFF)))
                    .flatten()
            }
            Opcode::Quant(QuantOp::PackF16) => {
                let r = self.range(d.operands[0]);
                (least(r) >= 2f64.powi(-14) && most(r) < F16_OVERFLOW)
                    .then(|| rel(0).map(|x| compose(x, F16_ROUNDOFF)))
                    .flatten()
            }
            Opcode::Quant(QuantOp::UnpackBf16 | QuantOp::UnpackF16) => rel(0),
            _ => None,
        }
    }

    fn arith(&self, op: OpId, a: ArithOp, t: ScalarType) -> f64 {
        let m = self.m;
        let d = m.op(op);
        let r = self.range(d.results[0]);
        let round = self.rounding(t, r);
        let e = |i: usize| self.err(d.operands[i]);
        let rg = |i: usize| self.range(d.operands[i]);
        let exact = d.operands.iter().all(|&v| self.err(v) == 0.0);
        match a {
            ArithOp::Constant => 0.0,
            ArithOp::Add | ArithOp::Sub => e(0) + e(1) + round,
            ArithOp::Neg => e(0) + round,
            ArithOp::Min | ArithOp::Max => e(0).max(e(1)),
            ArithOp::Mul => times(most(rg(0)), e(1)) + times(most(rg(1)) + e(1), e(0)) + round,
            ArithOp::Fma => {
                times(most(rg(0)), e(1)) + times(most(rg(1)) + e(1), e(0)) + e(2) + 2.0 * round
            }
            ArithOp::Div if t.is_float() => {
                let (ea, eb) = (e(0), e(1));
                let low = least(rg(1)) - eb;
                if eb == 0.0 && least(rg(1)) > 0.0 {
                    ea / least(rg(1)) + round
                } else if low > 0.0 {
                    ea / low + times(most(rg(0)), eb) / (low * least(rg(1))) + round
                } else {
                    f64::INFINITY
                }
            }
            ArithOp::Cast => {
                let from = m.ty(d.operands[0]).elem();
                if t.is_float() {
                    let exactly = (from.is_int() && most(r) < 2f64.powi(24))
                        || (from == ScalarType::F32 && t == ScalarType::F64);
                    let lost = if exactly { 0.0 } else { round };
                    e(0) + lost
                } else if from.is_int()
                    && t.int_range().is_some_and(|(lo, hi)| {
                        let x = rg(0);
                        !x.nan && lo as f64 <= x.lo && x.hi <= hi as f64
                    })
                {
                    // an integer converted within its range is itself (its
                    // range may be the whole of the new type: u16 to u8 of
                    // values 0..=255), its error too
                    e(0)
                } else if from.is_int() && exact {
                    if round == 0.0 { 0.0 } else { f64::INFINITY }
                } else if from.is_int() {
                    e(0) + round
                } else if exact {
                    0.0
                } else {
                    f64::INFINITY
                }
            }
            _ if exact => 0.0,
            ArithOp::Select if self.err(d.operands[0]) == 0.0 => e(1).max(e(2)),
            _ => f64::INFINITY,
        }
    }
}
