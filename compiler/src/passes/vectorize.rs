//! Vectorization of innermost loops: a unit-step `loop.for` whose body
//! loads and stores along the last dim at `iv + invariant` and computes with
//! vectorizable arithmetic becomes a loop over vectors (128 bits unless the
//! pass is given another width) followed by
//! the original loop, which handles the remaining iterations.
//!
//! ```text
//! loop.for(%lb, %ub, 1) { body(%iv) }
//!   ==>
//! %vend = %lb + ((%ub - %lb) max 0) / L * L
//! loop.for(%lb, %vend, L) { vector body(%iv) }   // L lanes per iteration
//! loop.for(%vend, %ub, 1) { body(%iv) }          // the remainder, unchanged
//! ```
//!
//! A `loop.parallel` (unit step by definition) becomes a parallel loop over
//! vector chunks `lb + c * L` and a parallel remainder.
//!
//! A `loop.for` carrying one accumulator folded by a combiner whose order
//! cannot change the result — wrapping integer `add`/`mul`/`min`/`max`,
//! float `min`/`max` — also vectorizes: a vector accumulator per lane from
//! the identity, a `vector.reduce` of the lanes folded into the initial
//! value, then the scalar remainder; the vector loop itself keeps four
//! independent accumulators (`split_accumulators`), so that each add waits
//! on one three iterations back, not on the last. Float sums and products keep their
//! order (reassociating them changes the last bits), unless the pass runs
//! with `reassoc` (`--fast-math=reassoc`, the CLI's default; the error is
//! that of a different summation order, bounded by n·ε·Σ|x|).
//!
//! Legal when the body has no other carried values, no regions, and every op is
//! one of: a load or store whose indices are loop-invariant except the last,
//! which is `iv` plus or minus an invariant (or a load with all indices
//! invariant, kept scalar and broadcast); `arith` add, sub, mul, min, max,
//! neg (and float div), lane-wise `math`, and the casts
//! `vector::cast_supported` admits; index arithmetic feeding those
//! indices. Every vector has the lane count of the widest element type
//! (a loop converting `f32` to `u8` works on `f32x4` and `u8x4`), as long
//! as the narrowest is 32 bits or more. Lane-wise arithmetic is the scalar
//! arithmetic, in the same order, so results are bit-identical; vector
//! loads and stores check every lane, so an out-of-range access is still
//! an error. Loads that read zero outside (boundary modes), comparisons
//! and selects keep a loop scalar for now.
//!
//! A loop marked `vectorize = false` (a stage's `vectorize(false)` in its
//! kernel's schedule block) is left alone.
//!
//! Requires: loop level, after `licm` (invariants outside the loop).
//! Cost: one walk per innermost loop. Width: [`Vectorize::width_bits`],
//! chosen per backend and target by the compile driver (128 bits for
//! Cranelift; the target's vector registers for LLVM: 512 on AVX-512).

use super::{Pass, PassError};
use crate::dialects::{ArithOp, LoopOp, MemOp, Opcode, VectorOp};
use crate::ir::{Attr, Module, OpId, OpSpec, Type, ValueId};
use std::collections::{HashMap, HashSet};

/// The `vectorize` pass.
pub struct Vectorize {
    /// `--fast-math=reassoc`: float sums and products may be reassociated
    /// (a partial sum per lane, folded at the end). Off: the reference order.
    pub reassoc: bool,
    /// Bits per vector: 128, 256 or 512.
    pub width_bits: usize,
}

/// The vector width without a backend's say: what every backend encodes.
pub const DEFAULT_WIDTH: usize = 128;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Class {
    /// Defined outside the loop.
    Invariant,
    /// `iv + invariant`: an index, kept scalar (the lane-0 index).
    Affine,
    /// Varies per iteration: one lane per iteration.
    Vector,
}

impl Pass for Vectorize {
    fn name(&self) -> &'static str {
        "vectorize"
    }

    fn run(&mut self, m: &mut Module) -> Result<bool, PassError> {
        let mut loops = Vec::new();
        for op in m.all_ops() {
            if matches!(
                m.op(op).opcode,
                Opcode::Loop(LoopOp::For | LoopOp::Parallel)
            ) {
                loops.push(op);
            }
        }
        let mut changed = false;
        for l in loops {
            if let Some(plan) = analyze(m, l, self.reassoc, self.width_bits) {
                rewrite(m, l, &plan);
                changed = true;
            }
        }
        Ok(changed)
    }
}

struct Plan {
    lanes: u32,
    class: HashMap<ValueId, Class>,
    /// A carried accumulator folded with an exact combiner: its kind.
    reduction: Option<&'static str>,
}

fn is_const(m: &Module, v: ValueId, want: i64) -> bool {
    m.def_op(v).is_some_and(|o| {
        let d = m.op(o);
        d.opcode == Opcode::Arith(ArithOp::Constant) && d.attr("value") == Some(&Attr::Int(want))
    })
}

/// Whether every load and store of each buffer some op of `ops` stores to
/// has the same last index (the same value, or the same computation).
fn same_column_where_stored(m: &Module, ops: &[OpId]) -> bool {
    let mut column: HashMap<ValueId, ValueId> = HashMap::new();
    for &op in ops {
        let d = m.op(op);
        if d.opcode == Opcode::Mem(MemOp::Store) {
            column
                .entry(d.operands[1])
                .or_insert(*d.operands.last().expect("indexed"));
        }
    }
    ops.iter().all(|&op| {
        let d = m.op(op);
        let (buf, last) = match d.opcode {
            Opcode::Mem(MemOp::Store) => (d.operands[1], *d.operands.last().expect("indexed")),
            Opcode::Mem(MemOp::Load) => (d.operands[0], *d.operands.last().expect("indexed")),
            _ => return true,
        };
        column
            .get(&buf)
            .is_none_or(|&c| m.same_computation(c, last))
    })
}

fn analyze(m: &Module, l: OpId, reassoc: bool, width: usize) -> Option<Plan> {
    let d = m.op(l);
    // `vectorize = false`: a schedule keeps this loop scalar
    if d.attr("vectorize").and_then(Attr::as_bool) == Some(false) {
        return None;
    }
    let unit_step = match d.opcode {
        Opcode::Loop(LoopOp::Parallel) => true,
        _ => d.operands.len() >= 3 && is_const(m, d.operands[2], 1),
    };
    if !unit_step {
        return None;
    }
    let body = m.entry_block(l, 0);
    let iv = m.block(body).args[0];
    let mut class: HashMap<ValueId, Class> = HashMap::new();
    class.insert(iv, Class::Affine);
    let cls = |class: &HashMap<ValueId, Class>, v: ValueId| {
        class.get(&v).copied().unwrap_or(Class::Invariant)
    };
    // every vector of the loop has one lane count, the widest element
    // type's: narrower types make narrower vectors (`u8x4` beside `f32x4`)
    let mut widest: Option<usize> = None;
    let mut narrowest = usize::MAX;
    let mut fix_lanes = |t: &Type| -> bool {
        let Some(s) = t.as_scalar() else { return false };
        if !s.is_numeric() {
            return false;
        }
        let bits = s.size_bytes() * 8;
        widest = Some(widest.map_or(bits, |w| w.max(bits)));
        narrowest = narrowest.min(bits);
        true
    };
    let mut stores = 0;
    let ops = m.block(body).ops.clone();
    let (last, rest) = ops.split_last()?;
    if m.op(*last).opcode != Opcode::Loop(LoopOp::Yield) {
        return None;
    }
    // one carried accumulator, folded by a combiner whose order does not
    // matter (wrapping integer add/mul/min/max; float min/max): lanes fold
    // separately, then into the rest, with the same result bit for bit
    let mut reduction = None;
    match (m.op(*last).operands.as_slice(), d.opcode) {
        ([], _) => {}
        (&[next], Opcode::Loop(LoopOp::For)) if d.operands.len() == 4 => {
            let acc = m.block(body).args[1];
            let c = m.op(m.def_op(next)?);
            let kind = match c.opcode {
                Opcode::Arith(ArithOp::Add) => "sum",
                Opcode::Arith(ArithOp::Mul) => "prod",
                Opcode::Arith(ArithOp::Min) => "min",
                Opcode::Arith(ArithOp::Max) => "max",
                _ => return None,
            };
            let elem = m.ty(acc).as_scalar()?;
            let exact = if elem.is_float() {
                matches!(kind, "min" | "max") || reassoc
            } else {
                elem.is_numeric()
            };
            // the accumulator feeds the combiner and nothing else, and the
            // combined value only the next iteration: a running value that
            // is also stored (a recurrence's scan) is a different thing
            let uses = rest
                .iter()
                .filter(|&&o| m.op(o).operands.contains(&acc))
                .count();
            let next_uses = rest
                .iter()
                .filter(|&&o| m.op(o).operands.contains(&next))
                .count();
            if !exact
                || !c.operands.contains(&acc)
                || uses != 1
                || next_uses != 0
                || !fix_lanes(m.ty(acc))
            {
                return None;
            }
            class.insert(acc, Class::Vector);
            reduction = Some(kind);
        }
        _ => return None,
    }
    // values used as indices must stay affine or invariant
    let mut used_as_data: HashSet<ValueId> = HashSet::new();
    for &op in rest {
        let o = m.op(op);
        if !o.regions.is_empty() {
            return None;
        }
        match o.opcode {
            Opcode::Mem(MemOp::Load) | Opcode::Mem(MemOp::Store) => {
                let store = o.opcode == Opcode::Mem(MemOp::Store);
                if o.attr("oob").is_some() {
                    return None;
                }
                let idx = &o.operands[if store { 2 } else { 1 }..];
                let (lastix, front) = idx.split_last()?;
                if front.iter().any(|&v| cls(&class, v) != Class::Invariant) {
                    return None;
                }
                if store {
                    let v = o.operands[0];
                    used_as_data.insert(v);
                    if cls(&class, *lastix) != Class::Affine || !fix_lanes(m.ty(v)) {
                        return None;
                    }
                    stores += 1;
                } else {
                    let r = o.results[0];
                    match cls(&class, *lastix) {
                        Class::Affine => {
                            if !fix_lanes(m.ty(r)) {
                                return None;
                            }
                            class.insert(r, Class::Vector);
                        }
                        Class::Invariant => {
                            class.insert(r, Class::Invariant);
                        }
                        Class::Vector => return None,
                    }
                }
            }
            Opcode::Arith(ArithOp::Cast)
                if cls(&class, o.operands[0]) == Class::Vector
                    && crate::dialects::vector::cast_supported(
                        m.ty(o.operands[0]).elem(),
                        m.ty(o.results[0]).elem(),
                    ) =>
            {
                let r = o.results[0];
                if !fix_lanes(m.ty(r)) {
                    return None;
                }
                class.insert(r, Class::Vector);
                used_as_data.insert(o.operands[0]);
            }
            // the same bits in lanes of the same size; binary16 to and from
            // f32 (left by `lower-quant` for a backend with instructions)
            Opcode::Arith(ArithOp::Bitcast)
            | Opcode::Quant(
                crate::dialects::QuantOp::PackF16 | crate::dialects::QuantOp::UnpackF16,
            ) if cls(&class, o.operands[0]) == Class::Vector => {
                let r = o.results[0];
                if !fix_lanes(m.ty(r)) {
                    return None;
                }
                class.insert(r, Class::Vector);
                used_as_data.insert(o.operands[0]);
            }
            Opcode::Arith(a) => {
                let r = *o.results.first()?;
                let cs: Vec<Class> = o.operands.iter().map(|&v| cls(&class, v)).collect();
                let t = m.ty(r).clone();
                if cs.iter().all(|&c| c == Class::Invariant) {
                    class.insert(r, Class::Invariant);
                } else if cs.contains(&Class::Affine) {
                    // index arithmetic: iv +/- invariant only
                    let affine = match a {
                        ArithOp::Add => {
                            cs.iter().filter(|&&c| c == Class::Affine).count() == 1
                                && !cs.contains(&Class::Vector)
                        }
                        ArithOp::Sub => cs == [Class::Affine, Class::Invariant],
                        _ => false,
                    };
                    if !affine || t != Type::INDEX {
                        return None;
                    }
                    class.insert(r, Class::Affine);
                } else {
                    if !crate::dialects::vector::elementwise(a, t.elem()) || !fix_lanes(&t) {
                        return None;
                    }
                    class.insert(r, Class::Vector);
                    used_as_data.extend(o.operands.iter().copied());
                }
            }
            Opcode::Math(f) => {
                let r = *o.results.first()?;
                let cs: Vec<Class> = o.operands.iter().map(|&v| cls(&class, v)).collect();
                let t = m.ty(r).clone();
                if cs.iter().all(|&c| c == Class::Invariant) {
                    class.insert(r, Class::Invariant);
                } else if cs.contains(&Class::Affine)
                    || !crate::dialects::math::lanewise(f, t.elem())
                    || !fix_lanes(&t)
                {
                    return None;
                } else {
                    class.insert(r, Class::Vector);
                    used_as_data.extend(o.operands.iter().copied());
                }
            }
            _ => return None,
        }
    }
    // a buffer the loop both stores and loads: lane `i` of a vector
    // iteration must touch only what scalar iteration `i` touches, so every
    // access of it goes through the same column (a sliding window's ring:
    // the row just stored, and older rows, at the column being computed)
    if !same_column_where_stored(m, rest) {
        return None;
    }
    // an affine value used as data would need a vector of indices
    if used_as_data
        .iter()
        .any(|v| cls(&class, *v) == Class::Affine)
        || (stores == 0 && reduction.is_none())
    {
        return None;
    }
    // the narrowest vector must still be one the backends encode (32 bits)
    let lanes = (width / widest?) as u32;
    if lanes as usize * narrowest < 32 {
        return None;
    }
    Some(Plan {
        lanes,
        class,
        reduction,
    })
}

fn rewrite(m: &mut Module, l: OpId, plan: &Plan) {
    let d = m.op(l).clone();
    let (lb, ub) = (d.operands[0], d.operands[1]);
    let idx = Type::INDEX;
    let mut before = |m: &mut Module, spec: OpSpec| {
        let op = m.build_op(spec);
        m.insert_before(l, op);
        m.result(op)
    };
    let konst = |m: &mut Module, v: i64, before: &mut dyn FnMut(&mut Module, OpSpec) -> ValueId| {
        before(
            m,
            OpSpec::new(Opcode::Arith(ArithOp::Constant))
                .attr("value", Attr::Int(v))
                .result(Type::INDEX),
        )
    };
    let zero = konst(m, 0, &mut before);
    let lanes = konst(m, plan.lanes as i64, &mut before);
    let n = before(
        m,
        OpSpec::new(Opcode::Arith(ArithOp::Sub))
            .operands([ub, lb])
            .result(idx.clone()),
    );
    let n = before(
        m,
        OpSpec::new(Opcode::Arith(ArithOp::Max))
            .operands([n, zero])
            .result(idx.clone()),
    );
    let q = before(
        m,
        OpSpec::new(Opcode::Arith(ArithOp::Div))
            .operands([n, lanes])
            .result(idx.clone()),
    );
    let span = before(
        m,
        OpSpec::new(Opcode::Arith(ArithOp::Mul))
            .operands([q, lanes])
            .result(idx.clone()),
    );
    let vend = before(
        m,
        OpSpec::new(Opcode::Arith(ArithOp::Add))
            .operands([lb, span])
            .result(idx.clone()),
    );
    // the vector loop: a loop.for stepping by `lanes`, or for a parallel
    // loop, a parallel loop over chunks starting at lb + c * lanes
    let parallel = d.opcode == Opcode::Loop(LoopOp::Parallel);
    // a reduction's vector accumulator starts at the identity in every lane
    let vacc_init = plan.reduction.map(|kind| {
        let acc_ty = m.ty(d.operands[3]).clone();
        let elem = acc_ty.elem();
        let ident = before(
            m,
            OpSpec::new(Opcode::Arith(ArithOp::Constant))
                .attr(
                    "value",
                    crate::dialects::arith::Scalar::reduce_identity(kind, elem).to_attr(),
                )
                .result(acc_ty),
        );
        before(
            m,
            OpSpec::new(Opcode::Vector(VectorOp::Broadcast))
                .operands([ident])
                .result(Type::Vector {
                    elem,
                    lanes: plan.lanes,
                }),
        )
    });
    let mut spec = if parallel {
        // chunks of `lanes` iterations: the grain (if any) counts chunks now
        let mut ops = vec![zero, q];
        if let Some(&g) = d.operands.get(2) {
            let g = before(
                m,
                OpSpec::new(Opcode::Arith(ArithOp::Div))
                    .operands([g, lanes])
                    .result(idx.clone()),
            );
            ops.push(g);
        }
        OpSpec::new(Opcode::Loop(LoopOp::Parallel)).operands(ops)
    } else {
        OpSpec::new(Opcode::Loop(LoopOp::For)).operands([lb, vend, lanes])
    };
    if let Some(v) = vacc_init {
        spec.operands.push(v);
        spec.result_types = vec![m.ty(v).clone()];
    }
    let vloop = m.build_op(spec.regions(1).loc(d.loc));
    m.insert_before(l, vloop);
    let vbody = m.entry_block(vloop, 0);
    let body = m.entry_block(l, 0);
    let iv = m.block(body).args[0];
    let viv = if parallel {
        let c = m.add_block_arg(vbody, idx.clone(), Some("chunk".into()));
        let off = m.push(
            vbody,
            OpSpec::new(Opcode::Arith(ArithOp::Mul))
                .operands([c, lanes])
                .result(idx.clone()),
        );
        let off = m.result(off);
        let at = m.push(
            vbody,
            OpSpec::new(Opcode::Arith(ArithOp::Add))
                .operands([lb, off])
                .result(idx.clone()),
        );
        let at = m.result(at);
        m.set_value_name(at, m.value(iv).name.clone().unwrap_or_else(|| "iv".into()));
        at
    } else {
        m.add_block_arg(vbody, idx.clone(), m.value(iv).name.clone())
    };
    let mut map: HashMap<ValueId, ValueId> = HashMap::from([(iv, viv)]);
    if let Some(v) = vacc_init {
        let acc = m.block(body).args[1];
        let t = m.ty(v).clone();
        let vacc = m.add_block_arg(vbody, t, Some("vacc".into()));
        map.insert(acc, vacc);
    }
    let class = |v: ValueId| plan.class.get(&v).copied().unwrap_or(Class::Invariant);
    let vtype = |t: &Type| Type::Vector {
        elem: t.elem(),
        lanes: plan.lanes,
    };
    // a vector operand for `v`: mapped if it varies, broadcast if invariant
    let as_vector = |m: &mut Module, map: &HashMap<ValueId, ValueId>, v: ValueId| -> ValueId {
        if class(v) == Class::Vector {
            return map[&v];
        }
        let s = *map.get(&v).unwrap_or(&v);
        let t = vtype(m.ty(s));
        let b = m.push(
            vbody,
            OpSpec::new(Opcode::Vector(VectorOp::Broadcast))
                .operands([s])
                .result(t),
        );
        m.result(b)
    };
    for op in m.block(body).ops.clone() {
        let o = m.op(op).clone();
        let mapped = |map: &HashMap<ValueId, ValueId>, v: ValueId| *map.get(&v).unwrap_or(&v);
        match o.opcode {
            Opcode::Loop(LoopOp::Yield) => {
                let operands: Vec<ValueId> = o.operands.iter().map(|&x| mapped(&map, x)).collect();
                m.push(
                    vbody,
                    OpSpec::new(Opcode::Loop(LoopOp::Yield)).operands(operands),
                );
            }
            Opcode::Mem(MemOp::Store) => {
                let v = as_vector(m, &map, o.operands[0]);
                let mut operands = vec![v, o.operands[1]];
                operands.extend(o.operands[2..].iter().map(|&x| mapped(&map, x)));
                let mut spec = OpSpec::new(Opcode::Vector(VectorOp::Store))
                    .operands(operands)
                    .loc(o.loc);
                // every iteration's index was inside, so is every lane's: the
                // lanes are iterations of the original loop
                if let Some(ib) = o.attr("in_bounds") {
                    spec = spec.attr("in_bounds", ib.clone());
                }
                m.push(vbody, spec);
            }
            Opcode::Mem(MemOp::Load) if class(o.results[0]) == Class::Vector => {
                let mut operands = vec![o.operands[0]];
                operands.extend(o.operands[1..].iter().map(|&x| mapped(&map, x)));
                let t = vtype(m.ty(o.results[0]));
                let mut spec = OpSpec::new(Opcode::Vector(VectorOp::Load))
                    .operands(operands)
                    .result(t)
                    .loc(o.loc);
                // as for stores: every lane is an iteration of the original
                // loop, whose index was inside
                for promise in crate::dialects::PROMISES {
                    if let Some(p) = o.attr(promise) {
                        spec = spec.attr(promise, p.clone());
                    }
                }
                if let Some(rows) = o.attr(crate::dialects::mem::PREFETCH) {
                    spec = spec.attr(crate::dialects::mem::PREFETCH, rows.clone());
                }
                let r = m.push(vbody, spec);
                let r = m.result(r);
                map.insert(o.results[0], r);
            }
            Opcode::Arith(_) | Opcode::Math(_) | Opcode::Quant(_)
                if class(o.results[0]) == Class::Vector =>
            {
                let operands: Vec<ValueId> =
                    o.operands.iter().map(|&x| as_vector(m, &map, x)).collect();
                let t = vtype(m.ty(o.results[0]));
                let mut spec = OpSpec::new(o.opcode)
                    .operands(operands)
                    .result(t)
                    .loc(o.loc);
                spec.attrs = o.attrs.clone();
                let r = m.push(vbody, spec);
                let r = m.result(r);
                map.insert(o.results[0], r);
            }
            _ => {
                // index arithmetic and invariant scalars: cloned as they are
                let operands: Vec<ValueId> = o.operands.iter().map(|&x| mapped(&map, x)).collect();
                let mut spec = OpSpec::new(o.opcode).operands(operands).loc(o.loc);
                spec.attrs = o.attrs.clone();
                spec.result_types = o.results.iter().map(|&r| m.ty(r).clone()).collect();
                let r = m.push(vbody, spec);
                for (&old, &new) in o.results.iter().zip(&m.op(r).results.clone()) {
                    map.insert(old, new);
                }
            }
        }
    }
    if plan.reduction.is_some() && !parallel {
        split_accumulators(m, vloop, ACCUMULATORS);
    }
    // the lanes fold into the initial value; the original loop goes on
    // from there with what the vector loop left
    if let Some(kind) = plan.reduction {
        let vr = m.result(vloop);
        let init = d.operands[3];
        let t = m.ty(init).clone();
        let part = before(
            m,
            OpSpec::new(Opcode::Vector(VectorOp::Reduce))
                .operands([vr])
                .attr("kind", Attr::Str(kind.into()))
                .result(t.clone()),
        );
        let combined = before(
            m,
            OpSpec::new(Opcode::Arith(crate::dialects::arith::reduce_combiner(kind)))
                .operands([init, part])
                .result(t),
        );
        m.op_mut(l).operands[3] = combined;
    }
    // the original loop finishes what the vector loop left
    m.op_mut(l).operands[0] = vend;
    // fewer than `lanes` iterations: not worth a bounds precheck
    m.op_mut(l).set_attr("short", Attr::Bool(true));
}

/// Vector accumulators of a vectorized reduction: one add (or max) per
/// iteration into one register waits for the previous one (3-4 cycles);
/// four independent chains keep the unit busy.
const ACCUMULATORS: i64 = 4;

/// Splits the accumulator of vector reduction loop `vloop`
/// (`loop.for(lb, vend, L, init)` whose body ends `yield(c(acc, term))`)
/// into `u` independent ones: a loop stepping `u * L` with `u` copies of
/// the body, each folding into its own accumulator from the identity (the
/// first from `init`), the accumulators combined pairwise after it, and
/// `vloop` left to finish the last `< u` vectors from there. Legal for the
/// combiners the vectorizer reduces with (exact ones, or float sums and
/// products under `reassoc`, whose error bound is the same for any order).
/// Left alone when the body has regions or uses the accumulator elsewhere.
fn split_accumulators(m: &mut Module, vloop: OpId, u: i64) {
    let d = m.op(vloop).clone();
    let body = m.entry_block(vloop, 0);
    let (iv, acc) = (m.block(body).args[0], m.block(body).args[1]);
    let ops = m.block(body).ops.clone();
    let Some(&yield_op) = ops.last() else { return };
    let next = m.op(yield_op).operands[0];
    let Some(combine_op) = m.def_op(next) else {
        return;
    };
    let combiner = m.op(combine_op).opcode;
    let uses_of_acc = ops
        .iter()
        .filter(|&&o| m.op(o).operands.contains(&acc))
        .count();
    if ops.iter().any(|&o| !m.op(o).regions.is_empty())
        || uses_of_acc != 1
        || m.op(combine_op).operands[0] != acc
    {
        return;
    }
    let (lb, vend, lanes, init) = (d.operands[0], d.operands[1], d.operands[2], d.operands[3]);
    let idx = Type::INDEX;
    let vt = m.ty(init).clone();
    let mut before = |m: &mut Module, spec: OpSpec| {
        let op = m.build_op(spec);
        m.insert_before(vloop, op);
        m.result(op)
    };
    let bin = |m: &mut Module,
               before: &mut dyn FnMut(&mut Module, OpSpec) -> ValueId,
               a: ArithOp,
               x: ValueId,
               y: ValueId,
               t: &Type| {
        before(
            m,
            OpSpec::new(Opcode::Arith(a))
                .operands([x, y])
                .result(t.clone()),
        )
    };
    // constant steps and offsets: the backend versions loops whose
    // accesses are `iv + constant` with a constant step
    let Some(lane_count) = m
        .def_op(lanes)
        .and_then(|o| m.op(o).attr("value"))
        .and_then(Attr::as_int)
    else {
        return;
    };
    let konst = |m: &mut Module, at: &mut dyn FnMut(&mut Module, OpSpec) -> ValueId, v: i64| {
        at(
            m,
            OpSpec::new(Opcode::Arith(ArithOp::Constant))
                .attr("value", Attr::Int(v))
                .result(Type::INDEX),
        )
    };
    let step = konst(m, &mut before, lane_count * u);
    let offsets: Vec<ValueId> = (1..u)
        .map(|k| konst(m, &mut before, lane_count * k))
        .collect();
    let span = bin(m, &mut before, ArithOp::Sub, vend, lb, &idx);
    let blocks = bin(m, &mut before, ArithOp::Div, span, step, &idx);
    let span = bin(m, &mut before, ArithOp::Mul, blocks, step, &idx);
    let end = bin(m, &mut before, ArithOp::Add, lb, span, &idx);
    // every accumulator but the first starts from the identity: the
    // identity broadcast the vector loop's own initial value was made of
    let ident = m
        .def_op(init)
        .filter(|&o| m.op(o).opcode == Opcode::Vector(VectorOp::Broadcast))
        .map(|_| init);
    let Some(ident) = ident else { return };
    let mut operands = vec![lb, end, step, init];
    operands.extend(std::iter::repeat_n(ident, u as usize - 1));
    let mut spec = OpSpec::new(Opcode::Loop(LoopOp::For))
        .operands(operands)
        .regions(1)
        .loc(d.loc);
    spec.result_types = vec![vt.clone(); u as usize];
    let big = m.build_op(spec);
    m.insert_before(vloop, big);
    let bbody = m.entry_block(big, 0);
    let biv = m.add_block_arg(bbody, idx.clone(), m.value(iv).name.clone());
    let accs: Vec<ValueId> = (0..u)
        .map(|_| m.add_block_arg(bbody, vt.clone(), Some("vacc".into())))
        .collect();
    let mut nexts = Vec::new();
    for k in 0..u {
        let at = if k == 0 {
            biv
        } else {
            let at = m.push(
                bbody,
                OpSpec::new(Opcode::Arith(ArithOp::Add))
                    .operands([biv, offsets[k as usize - 1]])
                    .result(idx.clone()),
            );
            m.result(at)
        };
        let mut map: HashMap<ValueId, ValueId> = HashMap::from([(iv, at), (acc, accs[k as usize])]);
        for &o in &ops[..ops.len() - 1] {
            let od = m.op(o).clone();
            let operands: Vec<ValueId> = od
                .operands
                .iter()
                .map(|v| *map.get(v).unwrap_or(v))
                .collect();
            let mut spec = OpSpec::new(od.opcode).operands(operands).loc(od.loc);
            spec.attrs = od.attrs.clone();
            spec.result_types = od.results.iter().map(|&r| m.ty(r).clone()).collect();
            let c = m.push(bbody, spec);
            for (&old, &new) in od.results.iter().zip(&m.op(c).results.clone()) {
                map.insert(old, new);
            }
        }
        nexts.push(map[&next]);
    }
    m.push(
        bbody,
        OpSpec::new(Opcode::Loop(LoopOp::Yield)).operands(nexts),
    );
    // ((a0 c a1) c (a2 c a3)), then the single-vector loop from there
    let mut level: Vec<ValueId> = m.op(big).results.clone();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|p| match p {
                [a, b] => before(
                    m,
                    OpSpec::new(combiner).operands([*a, *b]).result(vt.clone()),
                ),
                [a] => *a,
                _ => unreachable!(),
            })
            .collect();
    }
    m.op_mut(vloop).operands[0] = end;
    m.op_mut(vloop).operands[3] = level[0];
}
