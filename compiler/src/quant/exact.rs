//! Float arithmetic over integers made exact integer arithmetic: the
//! `int16` scheme of the `quantize` pass (`--quantize=int16`, or `auto`).
//!
//! A float value computed from integers by casts, constants, `+ - *`,
//! division by a constant, negation, `min`/`max`, `select` and comparisons
//! is an integer `q` times a rational scale `s`, exactly: every float
//! constant is a rational (a dyadic one), so `f32(a) + f32(b)` is `(a + b)
//! · 1`, `x / 3.0` is `q · s / 3`, and `x + 0.5` with `s = 1/9` is `(2q +
//! 9) · 1/18` — adding brings both terms to the greatest common scale.
//! Carried through the stages that store such values (a blur's horizontal
//! pass, stored as its `q` in `u16`), it reaches the casts back to
//! integers, where `trunc(q · n / d)` is computed exactly: a shift where
//! `d` is a power of two and `q` is never negative, else a multiply by `M
//! = ceil(2^k / d)` and a shift by `k`, with `k` chosen so that no `q` in
//! range rounds differently (Granlund and Montgomery's division by
//! invariant integers; the proof is at [`magic`]), else an integer
//! division.
//!
//! The integer program computes the *exact* result the float program
//! approximates: its error bound is 0, so it meets any tolerance; against
//! the float program it differs only where the float program's own
//! rounding moved a value across an integer (by one, for a result whose
//! float error is below one). Each integer type is the narrowest of 16,
//! 32 and 64 bits that holds every value the range analysis allows (8
//! bits for what a stage stores, where that holds it); a scheme needing 64
//! bits is refused, as are float inputs (quantizing them is rounding,
//! which the `int8` scheme does for products) and operations with no
//! exact integer form (`exp`, division by a variable).

use crate::dialects::{ArithOp, Opcode, PjOp};
use crate::ir::{Attr, Dim, Module, OpId, OpSpec, ScalarType, Type, ValueId};
use crate::quant::ranges::Ranges;
use num_integer::Integer;
use num_rational::Ratio;
use num_traits::{CheckedAdd, CheckedDiv, CheckedMul, Signed, Zero};
use std::collections::HashMap;

/// A rational scale or constant.
type Rat = Ratio<i128>;

/// Magnitudes the rewrite keeps its integers and rationals below, so that
/// products of two of them are exact in `i128`.
const LIMIT: i128 = 1 << 62;

/// What a converted float stage stores: `q` of type `ty`, standing for
/// `q · scale`.
#[derive(Clone, Copy, Debug)]
pub struct Stored {
    /// The element type of the stage now.
    pub ty: ScalarType,
    /// The least and greatest `q`.
    pub lo: i128,
    /// See `lo`.
    pub hi: i128,
    /// The scale.
    pub scale: Rat,
}

/// What a stage became.
#[derive(Clone, Debug)]
pub struct Converted {
    /// The widest integer type of its arithmetic, in bits.
    pub bits: u32,
    /// For a float stage: what it stores now.
    pub stored: Option<Stored>,
    /// How its casts to integers divide, for the note.
    pub divisions: Vec<String>,
}

/// A float value as integers: a constant, or `q · scale`.
#[derive(Clone, Copy, Debug)]
enum Rep {
    Const(Rat),
    Fixed(Fixed),
}

#[derive(Clone, Copy, Debug)]
struct Fixed {
    q: ValueId,
    ty: ScalarType,
    lo: i128,
    hi: i128,
    scale: Rat,
}

/// Why a stage stays float.
#[derive(Debug)]
pub struct NotExact {
    /// The reason, for the note.
    pub why: String,
    /// It computes from float inputs or float stages: the scheme does not
    /// apply to it (rather than failing on it).
    pub from_floats: bool,
}

impl From<String> for NotExact {
    fn from(why: String) -> NotExact {
        NotExact {
            why,
            from_floats: false,
        }
    }
}

impl Rep {
    /// `q` of type `ty`, within `[lo, hi]`, standing for `q · scale`.
    fn fixed(q: ValueId, ty: ScalarType, (lo, hi): (i128, i128), scale: Rat) -> Rep {
        Rep::Fixed(Fixed {
            q,
            ty,
            lo,
            hi,
            scale,
        })
    }
}

/// Whether stage `s`'s own block computes with floats (the stages the
/// scheme applies to).
pub fn computes_in_float(m: &Module, s: OpId) -> bool {
    let block = m.entry_block(s, 0);
    m.block(block).ops.iter().any(|&op| {
        let d = m.op(op);
        d.results
            .iter()
            .chain(&d.operands)
            .any(|&v| m.ty(v).elem().is_float())
    })
}

/// Rewrites stage `s` into integer arithmetic, given the float stages
/// converted before it (`stored`, by their tensor). On failure the module
/// may be half rewritten: the caller works on a copy.
pub fn convert_stage(
    m: &mut Module,
    s: OpId,
    ranges: &Ranges,
    stored: &HashMap<ValueId, Stored>,
) -> Result<Converted, NotExact> {
    let block = m.entry_block(s, 0);
    // anywhere in it (reductions too), a read of floats not converted
    let mut float_read = None;
    m.walk_block(block, &mut |op| {
        let d = m.op(op);
        if float_read.is_none()
            && d.opcode == Opcode::Pj(PjOp::Read)
            && m.ty(d.results[0]).elem().is_float()
            && !stored.contains_key(&d.operands[0])
        {
            float_read = Some(d.operands[0]);
        }
    });
    if let Some(t) = float_read {
        let name = m.value(t).name.clone().unwrap_or_else(|| "?".into());
        return Err(NotExact {
            why: match m.def_op(t) {
                None => format!(
                    "it reads the float input `{name}` (the scheme starts from integers: a float input would be rounded)"
                ),
                Some(_) => format!("it reads `{name}`, which stays in float"),
            },
            from_floats: true,
        });
    }
    let ops = m.block(block).ops.clone();
    let float_stage = m.ty(m.result(s)).elem().is_float();
    let mut rw = Rewriter {
        m,
        at: ops[0],
        reps: HashMap::new(),
        bits: 16,
        divisions: Vec::new(),
    };
    let mut out = None;
    // the float ops (and float reads) the integer ones replace
    let mut replaced = Vec::new();
    for op in ops {
        rw.at = op;
        let d = rw.m.op(op).clone();
        let floaty = |v: &ValueId| rw.m.ty(*v).elem().is_float();
        let touches_float = d.results.iter().chain(&d.operands).any(floaty);
        match d.opcode {
            Opcode::Pj(PjOp::Read) if stored.contains_key(&d.operands[0]) => {
                let st = stored[&d.operands[0]];
                let mut spec = OpSpec::new(d.opcode)
                    .operands(d.operands.clone())
                    .result(Type::Scalar(st.ty))
                    .loc(d.loc);
                spec.attrs = d.attrs.clone();
                let q = rw.emit(spec);
                // a read past the edges with `zero` gives 0, which q = 0 stands for
                let zero = d.attr("boundary").and_then(Attr::as_str) == Some("zero");
                let (lo, hi) = if zero {
                    (st.lo.min(0), st.hi.max(0))
                } else {
                    (st.lo, st.hi)
                };
                let f = Fixed {
                    q,
                    ty: st.ty,
                    lo,
                    hi,
                    scale: st.scale,
                };
                rw.reps.insert(d.results[0], Rep::Fixed(f));
                replaced.push(op);
            }
            Opcode::Pj(PjOp::Yield) if float_stage => {
                let rep = rw.rep(d.operands[0])?;
                let f = rw.materialize(rep)?;
                let ty = storage_type(f.lo, f.hi)?;
                let q = rw.cast(f.q, f.ty, ty);
                rw.m.op_mut(op).operands[0] = q;
                out = Some(Stored {
                    ty,
                    lo: f.lo,
                    hi: f.hi,
                    scale: f.scale,
                });
            }
            Opcode::Arith(a) if touches_float => {
                rw.arith(op, a, ranges)?;
                replaced.push(op);
            }
            _ if touches_float => {
                return Err(
                    format!("`{}` on floats has no exact integer form", d.opcode.name()).into(),
                );
            }
            _ if d.regions.iter().any(|&r| region_has_float(rw.m, r)) => {
                return Err(format!(
                    "its `{}` computes with floats inside (not handled yet)",
                    d.opcode.name()
                )
                .into());
            }
            _ => {}
        }
    }
    if rw.bits > 32 {
        return Err(NotExact::from(
            "exact integers would need 64 bits here".to_string(),
        ));
    }
    let (bits, divisions) = (rw.bits, rw.divisions);
    // unused now: a read of a converted stage is read again as integers at
    // the same indices, so erasing it removes no error
    let mut uses = m.use_counts();
    for &op in replaced.iter().rev() {
        if m.op(op).results.iter().all(|r| uses[r.index()] == 0) {
            for v in m.op(op).operands.clone() {
                uses[v.index()] -= 1;
            }
            m.erase_op(op);
        }
    }
    if let Some(st) = out {
        let r = m.result(s);
        let dims = match m.ty(r) {
            Type::Tensor { dims, .. } => dims.clone(),
            _ => Vec::<Dim>::new(),
        };
        m.set_ty(r, Type::Tensor { elem: st.ty, dims });
    }
    Ok(Converted {
        bits,
        stored: out,
        divisions,
    })
}

fn region_has_float(m: &Module, r: crate::ir::RegionId) -> bool {
    m.region(r).blocks.iter().any(|&b| {
        m.block(b).args.iter().any(|&a| m.ty(a).elem().is_float())
            || m.block(b).ops.iter().any(|&op| {
                let d = m.op(op);
                d.results
                    .iter()
                    .chain(&d.operands)
                    .any(|&v| m.ty(v).elem().is_float())
                    || d.regions.iter().any(|&r| region_has_float(m, r))
            })
    })
}

/// The narrowest type for arithmetic on values in `[lo, hi]`: 16, 32 or
/// 64 bits, unsigned where nothing is negative.
fn arith_type(lo: i128, hi: i128) -> Result<ScalarType, String> {
    let fits = |t: ScalarType| {
        let (a, b) = type_range(t);
        a <= lo && hi <= b
    };
    [
        ScalarType::U16,
        ScalarType::I16,
        ScalarType::U32,
        ScalarType::I32,
        ScalarType::I64,
    ]
    .into_iter()
    .find(|&t| fits(t))
    .ok_or_else(|| {
        format!(
            "values up to {} need more than 64 bits",
            lo.abs().max(hi.abs())
        )
    })
}

/// The narrowest type a stage stores `[lo, hi]` in (8 bits where it fits).
fn storage_type(lo: i128, hi: i128) -> Result<ScalarType, String> {
    let (a, b) = type_range(ScalarType::U8);
    if a <= lo && hi <= b {
        return Ok(ScalarType::U8);
    }
    let (a, b) = type_range(ScalarType::I8);
    if a <= lo && hi <= b {
        return Ok(ScalarType::I8);
    }
    arith_type(lo, hi)
}

/// The values of integer type `t` (or bool).
fn type_range(t: ScalarType) -> (i128, i128) {
    let (lo, hi) = t.int_range().unwrap_or((0, 1));
    (lo as i128, hi as i128)
}

fn bits(t: ScalarType) -> u32 {
    8 * t.size_bytes() as u32
}

/// The exact rational value of a finite float.
fn rational(x: f64) -> Option<Rat> {
    if !x.is_finite() {
        return None;
    }
    if x == 0.0 {
        return Some(Rat::zero());
    }
    let bits = x.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    let frac = (bits & ((1 << 52) - 1)) as i128;
    let (mant, e) = if exp == 0 {
        (frac, -1074)
    } else {
        (frac | (1 << 52), exp - 1075)
    };
    let sign = if x < 0.0 { -1 } else { 1 };
    let r = if e >= 0 {
        Rat::from_integer(mant.checked_mul(1i128.checked_shl(e as u32)?)?)
    } else if e > -120 {
        Rat::new(mant, 1i128 << (-e))
    } else {
        return None;
    };
    Some(r * sign)
}

/// The value of a float `arith.constant` (wherever it is defined), if `op`
/// is one: an error if it has no exact small rational form.
fn float_constant(m: &Module, op: OpId) -> Option<Result<Rat, String>> {
    let d = m.op(op);
    let t = m.ty(*d.results.first()?).as_scalar()?;
    if d.opcode != Opcode::Arith(ArithOp::Constant) || !t.is_float() {
        return None;
    }
    let v = d
        .attr("value")
        .and_then(|v| crate::dialects::arith::Scalar::from_attr(v, t).map(|s| s.as_f64()));
    Some(
        v.and_then(rational)
            .and_then(small)
            .ok_or_else(|| "a float constant with no small exact rational form".to_string()),
    )
}

fn small(r: Rat) -> Option<Rat> {
    (r.numer().abs() < LIMIT && *r.denom() < LIMIT).then_some(r)
}

/// The greatest rational of which both are integer multiples.
fn gcd(a: Rat, b: Rat) -> Option<Rat> {
    let (a, b) = (a.abs(), b.abs());
    if a.is_zero() {
        return Some(b);
    }
    if b.is_zero() {
        return Some(a);
    }
    let n = a.numer().gcd(b.numer());
    let d = a.denom().lcm(b.denom());
    small(Rat::new(n, d))
}

/// `(M, k)` with `floor(q · M / 2^k) = floor(q / d)` for every `0 <= q <=
/// top`, the smallest such `k`; `None` if `top · M` would need more than 63
/// bits.
///
/// With `M = ceil(2^k / d)` and `e = M d - 2^k` (`0 <= e < d`), `q M / 2^k
/// = q / d + q e / (d 2^k)`. Write `q = a d + r`, `0 <= r < d`: if `top ·
/// e < 2^k`, the second term is below `1 / d`, so `a <= q M / 2^k < a + (r
/// + 1) / d <= a + 1`, and the floor is `a`.
pub fn magic(top: i128, d: i128) -> Option<(i128, u32)> {
    (0..63)
        .find_map(|k| exact_reciprocal(top, d, k))
        .filter(|&(mm, _)| top.checked_mul(mm).is_some_and(|p| p <= i64::MAX as i128))
}

/// `(M, k)` as for [`magic`] with `M` below 2^16 and `k >= 16`: `floor(q /
/// d)` as the high half of a 16-bit product `q · M` shifted by `k - 16`,
/// for `q` below 2^16.
pub fn magic16(top: i128, d: i128) -> Option<(i128, u32)> {
    if top > u16::MAX as i128 {
        return None;
    }
    (16..32)
        .find_map(|k| exact_reciprocal(top, d, k))
        .filter(|&(mm, _)| mm <= u16::MAX as i128)
}

/// `M = ceil(2^k / d)` if it divides every `q <= top` exactly with `k`.
fn exact_reciprocal(top: i128, d: i128, k: u32) -> Option<(i128, u32)> {
    assert!(d > 0 && top >= 0);
    let p = 1i128 << k;
    let mm = (p + d - 1) / d;
    let e = mm * d - p;
    (e.checked_mul(top)? < p).then_some((mm, k))
}

struct Rewriter<'a> {
    m: &'a mut Module,
    /// Where new ops go: before the op being rewritten.
    at: OpId,
    reps: HashMap<ValueId, Rep>,
    /// The widest integer type used, in bits.
    bits: u32,
    divisions: Vec<String>,
}

impl Rewriter<'_> {
    fn emit(&mut self, spec: OpSpec) -> ValueId {
        let o = self.m.build_op(spec);
        self.m.insert_before(self.at, o);
        self.m.result(o)
    }

    fn konst(&mut self, t: ScalarType, v: i128) -> ValueId {
        self.emit(
            OpSpec::new(Opcode::Arith(ArithOp::Constant))
                .attr("value", Attr::Int(v as i64))
                .result(Type::Scalar(t)),
        )
    }

    fn cast(&mut self, x: ValueId, from: ScalarType, to: ScalarType) -> ValueId {
        if from == to {
            return x;
        }
        self.emit(
            OpSpec::new(Opcode::Arith(ArithOp::Cast))
                .operands([x])
                .result(Type::Scalar(to)),
        )
    }

    fn bin(&mut self, a: ArithOp, x: ValueId, y: ValueId, t: ScalarType) -> ValueId {
        self.emit(
            OpSpec::new(Opcode::Arith(a))
                .operands([x, y])
                .result(Type::Scalar(t)),
        )
    }

    fn use_type(&mut self, lo: i128, hi: i128) -> Result<ScalarType, String> {
        let t = arith_type(lo, hi)?;
        self.bits = self.bits.max(bits(t));
        Ok(t)
    }

    fn rep(&self, v: ValueId) -> Result<Rep, String> {
        if let Some(c) = self.m.def_op(v).and_then(|op| float_constant(self.m, op)) {
            return c.map(Rep::Const);
        }
        self.reps.get(&v).copied().ok_or_else(|| {
            let from = match self.m.def_op(v) {
                Some(op) => format!("`{}`", self.m.op(op).opcode.name()),
                None => "a parameter".to_string(),
            };
            format!("it computes with a float from {from}, not from integers")
        })
    }

    /// A constant as a value: `±1 · |c|` (or `0 · 1`).
    fn materialize(&mut self, r: Rep) -> Result<Fixed, String> {
        match r {
            Rep::Fixed(f) => Ok(f),
            Rep::Const(c) => {
                let (q, scale) = if c.is_zero() {
                    (0, Rat::from_integer(1))
                } else {
                    (c.signum().to_integer(), c.abs())
                };
                let ty = self.use_type(q, q)?;
                let v = self.konst(ty, q);
                Ok(Fixed {
                    q: v,
                    ty,
                    lo: q,
                    hi: q,
                    scale,
                })
            }
        }
    }

    /// The operands on a common scale: `(scale, [(lo, hi, value builder)])`
    /// where each becomes `q · f` (a value) or an integer constant.
    fn align(&mut self, reps: &[Rep]) -> Result<(Rat, Vec<Aligned>), String> {
        let mut s = Rat::zero();
        for r in reps {
            let x = match r {
                Rep::Const(c) => *c,
                Rep::Fixed(f) => f.scale,
            };
            s = gcd(s, x).ok_or("scales too fine for exact integers")?;
        }
        if s.is_zero() {
            s = Rat::from_integer(1);
        }
        let mut out = Vec::new();
        for r in reps {
            out.push(match *r {
                Rep::Const(c) => {
                    let v = c.checked_div(&s).ok_or("scales overflow")?;
                    debug_assert!(v.is_integer());
                    let v = v.to_integer();
                    Aligned {
                        lo: v,
                        hi: v,
                        from: None,
                        factor: v,
                    }
                }
                Rep::Fixed(f) => {
                    let k = f.scale.checked_div(&s).ok_or("scales overflow")?;
                    debug_assert!(k.is_integer());
                    let k = k.to_integer();
                    let (a, b) = (mul(f.lo, k)?, mul(f.hi, k)?);
                    Aligned {
                        lo: a.min(b),
                        hi: a.max(b),
                        from: Some(f),
                        factor: k,
                    }
                }
            });
        }
        Ok((s, out))
    }

    /// Aligned operand `a` in type `t`.
    fn value(&mut self, a: &Aligned, t: ScalarType) -> ValueId {
        match a.from {
            None => self.konst(t, a.factor),
            Some(f) => {
                let q = self.cast(f.q, f.ty, t);
                if a.factor == 1 {
                    q
                } else {
                    let k = self.konst(t, a.factor);
                    self.bin(ArithOp::Mul, q, k, t)
                }
            }
        }
    }

    fn arith(&mut self, op: OpId, a: ArithOp, ranges: &Ranges) -> Result<(), String> {
        let d = self.m.op(op).clone();
        let result = d.results[0];
        let rt = self.m.ty(result).elem();
        let rep = match a {
            ArithOp::Constant => match float_constant(self.m, op) {
                Some(c) => Rep::Const(c?),
                None => unreachable!("touches floats"),
            },
            ArithOp::Cast => {
                let from = self.m.ty(d.operands[0]).elem();
                match (from.is_float(), rt.is_float()) {
                    // f32 <-> f64: the exact program does not round
                    (true, true) => self.rep(d.operands[0])?,
                    (false, true) => self.integer_as_float(d.operands[0], from, ranges)?,
                    (true, false) => {
                        let r = self.rep(d.operands[0])?;
                        let v = self.float_as_integer(r, rt)?;
                        self.m.replace_all_uses(result, v);
                        return Ok(());
                    }
                    (false, false) => unreachable!("touches floats"),
                }
            }
            ArithOp::Add | ArithOp::Sub | ArithOp::Min | ArithOp::Max => {
                let (x, y) = (self.rep(d.operands[0])?, self.rep(d.operands[1])?);
                if let (Rep::Const(p), Rep::Const(q)) = (x, y) {
                    let v = match a {
                        ArithOp::Add => p.checked_add(&q),
                        ArithOp::Sub => p.checked_add(&-q),
                        ArithOp::Min => Some(p.min(q)),
                        _ => Some(p.max(q)),
                    };
                    Rep::Const(v.and_then(small).ok_or("constants overflow")?)
                } else {
                    let (s, al) = self.align(&[x, y])?;
                    let (p, q) = (&al[0], &al[1]);
                    let (lo, hi) = match a {
                        ArithOp::Add => (add(p.lo, q.lo)?, add(p.hi, q.hi)?),
                        ArithOp::Sub => (add(p.lo, -q.hi)?, add(p.hi, -q.lo)?),
                        ArithOp::Min => (p.lo.min(q.lo), p.hi.min(q.hi)),
                        _ => (p.lo.max(q.lo), p.hi.max(q.hi)),
                    };
                    let t = self.use_type(lo.min(p.lo).min(q.lo), hi.max(p.hi).max(q.hi))?;
                    let (vx, vy) = (self.value(p, t), self.value(q, t));
                    let v = self.bin(a, vx, vy, t);
                    Rep::fixed(v, t, (lo, hi), s)
                }
            }
            ArithOp::Mul => {
                let (x, y) = (self.rep(d.operands[0])?, self.rep(d.operands[1])?);
                match (x, y) {
                    (Rep::Const(p), Rep::Const(q)) => Rep::Const(
                        p.checked_mul(&q)
                            .and_then(small)
                            .ok_or("constants overflow")?,
                    ),
                    (Rep::Fixed(f), Rep::Const(c)) | (Rep::Const(c), Rep::Fixed(f)) => {
                        self.scaled(f, c)?
                    }
                    (Rep::Fixed(f), Rep::Fixed(g)) => {
                        let c = [
                            mul(f.lo, g.lo)?,
                            mul(f.lo, g.hi)?,
                            mul(f.hi, g.lo)?,
                            mul(f.hi, g.hi)?,
                        ];
                        let (lo, hi) = (*c.iter().min().unwrap(), *c.iter().max().unwrap());
                        let t = self.use_type(lo.min(f.lo).min(g.lo), hi.max(f.hi).max(g.hi))?;
                        let (p, q) = (self.cast(f.q, f.ty, t), self.cast(g.q, g.ty, t));
                        let v = self.bin(ArithOp::Mul, p, q, t);
                        let scale = f
                            .scale
                            .checked_mul(&g.scale)
                            .and_then(small)
                            .ok_or("scales overflow")?;
                        Rep::fixed(v, t, (lo, hi), scale)
                    }
                }
            }
            ArithOp::Div => {
                let (x, y) = (self.rep(d.operands[0])?, self.rep(d.operands[1])?);
                let Rep::Const(c) = y else {
                    return Err("divides by a value (only division by a constant is exact)".into());
                };
                if c.is_zero() {
                    return Err("divides by zero".into());
                }
                let inv = c.recip();
                match x {
                    Rep::Const(p) => Rep::Const(
                        p.checked_mul(&inv)
                            .and_then(small)
                            .ok_or("constants overflow")?,
                    ),
                    Rep::Fixed(f) => self.scaled(f, inv)?,
                }
            }
            ArithOp::Neg => match self.rep(d.operands[0])? {
                Rep::Const(c) => Rep::Const(-c),
                Rep::Fixed(f) => self.negated(f)?,
            },
            ArithOp::Select => {
                let (x, y) = (self.rep(d.operands[1])?, self.rep(d.operands[2])?);
                let (s, al) = self.align(&[x, y])?;
                let (p, q) = (&al[0], &al[1]);
                let (lo, hi) = (p.lo.min(q.lo), p.hi.max(q.hi));
                let t = self.use_type(lo, hi)?;
                let (vx, vy) = (self.value(p, t), self.value(q, t));
                let v = self.emit(
                    OpSpec::new(Opcode::Arith(ArithOp::Select))
                        .operands([d.operands[0], vx, vy])
                        .result(Type::Scalar(t)),
                );
                Rep::fixed(v, t, (lo, hi), s)
            }
            ArithOp::Cmp => {
                let (x, y) = (self.rep(d.operands[0])?, self.rep(d.operands[1])?);
                let (_, al) = self.align(&[x, y])?;
                let (p, q) = (&al[0], &al[1]);
                let t = self.use_type(p.lo.min(q.lo), p.hi.max(q.hi))?;
                let (vx, vy) = (self.value(p, t), self.value(q, t));
                let mut spec = OpSpec::new(Opcode::Arith(ArithOp::Cmp))
                    .operands([vx, vy])
                    .result(Type::Scalar(ScalarType::Bool));
                spec.attrs = d.attrs.clone();
                let v = self.emit(spec);
                self.m.replace_all_uses(result, v);
                return Ok(());
            }
            other => {
                return Err(format!(
                    "`arith.{}` on floats has no exact integer form",
                    other.mnemonic()
                ));
            }
        };
        self.reps.insert(result, rep);
        Ok(())
    }

    /// An integer `x` of type `from` cast to a float: itself, at scale 1.
    fn integer_as_float(
        &mut self,
        x: ValueId,
        from: ScalarType,
        ranges: &Ranges,
    ) -> Result<Rep, String> {
        let r = ranges
            .value(x)
            .filter(|r| !r.nan && r.lo.is_finite() && r.hi.is_finite())
            .ok_or("an integer whose range is not known")?;
        let (lo, hi) = (r.lo.ceil(), r.hi.floor());
        if lo.abs() >= LIMIT as f64 || hi.abs() >= LIMIT as f64 || lo > hi {
            return Err("an integer whose range is too wide".into());
        }
        let (lo, hi) = (lo as i128, hi as i128);
        let (tlo, thi) = type_range(from);
        let (lo, hi) = (lo.max(tlo), hi.min(thi));
        let t = self.use_type(lo, hi)?;
        let q = self.cast(x, from, t);
        Ok(Rep::fixed(q, t, (lo, hi), Rat::from_integer(1)))
    }

    /// `f · c`: the same integers at scale `s · |c|` (negated for `c < 0`).
    fn scaled(&mut self, f: Fixed, c: Rat) -> Result<Rep, String> {
        if c.is_zero() {
            return Ok(Rep::Const(Rat::zero()));
        }
        let scale = f
            .scale
            .checked_mul(&c.abs())
            .and_then(small)
            .ok_or("scales overflow")?;
        let g = Fixed { scale, ..f };
        if c.is_negative() {
            self.negated(g)
        } else {
            Ok(Rep::Fixed(g))
        }
    }

    fn negated(&mut self, f: Fixed) -> Result<Rep, String> {
        let (lo, hi) = (-f.hi, -f.lo);
        let t = self.use_type(lo.min(f.lo), hi.max(f.hi))?;
        let q = self.cast(f.q, f.ty, t);
        let v = self.emit(
            OpSpec::new(Opcode::Arith(ArithOp::Neg))
                .operands([q])
                .result(Type::Scalar(t)),
        );
        Ok(Rep::fixed(v, t, (lo, hi), f.scale))
    }

    /// `rt(x)` for float `x`: `trunc(q · n / d)` saturated to `rt`.
    fn float_as_integer(&mut self, x: Rep, rt: ScalarType) -> Result<ValueId, String> {
        let (tmin, tmax) = type_range(rt);
        let f = match x {
            Rep::Const(c) => {
                let v = c.trunc().to_integer().clamp(tmin, tmax);
                return Ok(self.konst(rt, v));
            }
            Rep::Fixed(f) => f,
        };
        let (n, d) = (*f.scale.numer(), *f.scale.denom());
        let (tlo, thi) = (mul(f.lo, n)?, mul(f.hi, n)?);
        let t1 = self.use_type(tlo.min(f.lo), thi.max(f.hi))?;
        let mut v = self.cast(f.q, f.ty, t1);
        if n != 1 {
            let k = self.konst(t1, n);
            v = self.bin(ArithOp::Mul, v, k, t1);
        }
        let (rlo, rhi) = (tlo / d, thi / d);
        let mut t = t1;
        if d != 1 {
            if tlo >= 0 && (d & (d - 1)) == 0 {
                v = self.shr(v, d.trailing_zeros(), t1);
                self.divisions
                    .push(format!("/ {d} as a shift by {}", d.trailing_zeros()));
            } else if tlo >= 0
                && t1 == ScalarType::U16
                && let Some((mm, k)) = magic16(thi, d)
            {
                // the high half of a 16-bit product keeps 16-bit lanes
                let c = self.konst(t1, mm);
                let hi = self.bin(ArithOp::Mulhi, v, c, t1);
                v = self.shr(hi, k - 16, t1);
                self.divisions.push(format!(
                    "/ {d} as the high half of × {mm}{} in u16",
                    if k > 16 {
                        format!(" and a shift by {}", k - 16)
                    } else {
                        String::new()
                    }
                ));
            } else if tlo >= 0
                // a product beyond 32 bits is not worth it: divide
                && let Some((mm, k)) =
                    magic(thi, d).filter(|&(mm, _)| thi * mm <= u32::MAX as i128)
            {
                let t2 = self.use_type(0, mul(thi, mm)?.max(thi))?;
                let w = self.cast(v, t1, t2);
                let c = self.konst(t2, mm);
                let p = self.bin(ArithOp::Mul, w, c, t2);
                v = self.shr(p, k, t2);
                t = t2;
                self.divisions.push(format!(
                    "/ {d} as × {mm} and a shift by {k} in {}",
                    t2.name()
                ));
            } else {
                let c = self.konst(t1, d);
                v = self.bin(ArithOp::Div, v, c, t1);
                self.divisions.push(format!("/ {d} as an integer division"));
            }
        }
        if rlo < tmin {
            let c = self.konst(t, tmin);
            v = self.bin(ArithOp::Max, v, c, t);
        }
        if rhi > tmax {
            let c = self.konst(t, tmax);
            v = self.bin(ArithOp::Min, v, c, t);
        }
        Ok(self.cast(v, t, rt))
    }

    fn shr(&mut self, x: ValueId, k: u32, t: ScalarType) -> ValueId {
        if k == 0 {
            return x;
        }
        self.emit(
            OpSpec::new(Opcode::Arith(ArithOp::Shr))
                .operands([x])
                .attr("amount", Attr::Int(i64::from(k)))
                .result(Type::Scalar(t)),
        )
    }
}

/// An operand brought to the common scale: `q · factor` of a value, or
/// the integer `factor` itself (`from: None`); its range.
struct Aligned {
    lo: i128,
    hi: i128,
    from: Option<Fixed>,
    factor: i128,
}

fn mul(a: i128, b: i128) -> Result<i128, String> {
    a.checked_mul(b)
        .filter(|v| v.abs() < LIMIT)
        .ok_or_else(|| "values need more than 64 bits".to_string())
}

fn add(a: i128, b: i128) -> Result<i128, String> {
    a.checked_add(b)
        .filter(|v| v.abs() < LIMIT)
        .ok_or_else(|| "values need more than 64 bits".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_numbers_divide_exactly_over_their_range() {
        for d in [3, 7, 9, 18, 25, 255, 1000] {
            for top in [255, 4599, 65535, 1 << 20] {
                let (mm, k) = magic(top, d).unwrap();
                let step = (top / 5000).max(1);
                let mut q = 0;
                while q <= top {
                    assert_eq!((q * mm) >> k, q / d, "q {q} d {d}");
                    q += step;
                }
                assert_eq!((top * mm) >> k, top / d);
            }
        }
        // the blur's final division: 13-bit sums by 18 fit u32 products
        let (mm, k) = magic(4599, 18).unwrap();
        assert!(4599 * mm < 1 << 32 && k <= 32);
        for d in [3, 9, 18, 255] {
            for top in [255, 4599, 65535] {
                let Some((mm, k)) = magic16(top, d) else {
                    assert!(top == 65535, "{top} / {d}");
                    continue;
                };
                assert!(mm < 1 << 16 && k >= 16);
                for q in 0..=top {
                    assert_eq!(((q * mm) >> 16) >> (k - 16), q / d, "q {q} d {d}");
                }
            }
        }
    }

    #[test]
    fn floats_are_rationals() {
        assert_eq!(rational(0.5), Some(Rat::new(1, 2)));
        assert_eq!(rational(-3.0), Some(Rat::from_integer(-3)));
        assert_eq!(rational(0.1f32 as f64), Some(Rat::new(13421773, 1 << 27)));
        assert_eq!(rational(f64::NAN), None);
        assert_eq!(gcd(Rat::new(1, 3), Rat::new(1, 2)), Some(Rat::new(1, 6)));
        assert_eq!(gcd(Rat::new(1, 9), Rat::new(1, 2)), Some(Rat::new(1, 18)));
    }
}
