//! Fusion of single-use producers: a stage that is read at exactly one
//! place is computed there, at the reading point, instead of being
//! materialized over its whole domain (Halide's `compute_inline`). The
//! intermediate array disappears, and with it a write and a read of every
//! element: the largest energy cost of a pipeline is memory traffic.
//!
//! Legal when the producer's body has no regions (no reductions), is not a
//! recurrence (`pj.prior`: it reads its own elements) and has no op
//! that can fail (integer `div`/`rem`): computing it only where it is read
//! then gives the same values and the same errors. Profitable because the
//! producer is evaluated about as often as before (one read per consumer
//! point), while its traffic vanishes — so a read whose indices leave out
//! a variable around it (matmul's `a[i, k]` inside `c[i, j]`'s sum over
//! `k`: every element read once per `j`) is left alone: inlined, the
//! producer would be recomputed that many times. Producers read at several places
//! (stencils like blur's `bx`) are left alone: recomputing them is a
//! trade-off for the energy model to weigh.
//!
//! Requires: `pj` level, after `cse` (so `t[i] * t[i]` is one read).

use super::{Pass, PassError};
use crate::dialects::{ArithOp, Opcode, PjOp};
use crate::ir::{Module, OpId, OpSpec, Type, ValueId};
use std::collections::{HashMap, HashSet};

/// The `inline-pointwise` pass.
pub struct InlinePointwise;

impl Pass for InlinePointwise {
    fn name(&self) -> &'static str {
        "inline-pointwise"
    }

    fn run(&mut self, m: &mut Module) -> Result<bool, PassError> {
        let mut changed = false;
        for k in crate::dialects::pj::pj_kernels(m) {
            changed |= inline_kernel(m, k);
        }
        Ok(changed)
    }
}

/// Inlines every single-use producer of kernel `k`, the last first: a
/// producer's body is then copied once, into a consumer that may already
/// hold its own consumer's inlined body — never a body that grew by
/// earlier inlining (forward order copied a chain's growing body at every
/// step: 4,000 chained stages took 9 s and 2 GB). Linear in the kernel's
/// ops apart from the splices.
fn inline_kernel(m: &mut Module, k: OpId) -> bool {
    let body = m.entry_block(k, 0);
    let uses = m.use_counts();
    // the reads of each stage, kept current as inlining copies them
    let mut reads: HashMap<ValueId, Vec<OpId>> = HashMap::new();
    m.walk_block(body, &mut |op| {
        let o = m.op(op);
        if o.opcode == Opcode::Pj(PjOp::Read) {
            reads.entry(o.operands[0]).or_default().push(op);
        }
    });
    let stages: Vec<OpId> = m
        .block(body)
        .ops
        .iter()
        .copied()
        .filter(|&s| m.op(s).opcode == Opcode::Pj(PjOp::Stage))
        .collect();
    // stages the schedule block computes others at (`bx.compute_at(blurred)`)
    let targets: HashSet<String> = stages
        .iter()
        .filter_map(|&s| {
            m.op(s)
                .attr(super::schedule::COMPUTE_AT)
                .and_then(crate::ir::Attr::as_str)
                .map(str::to_string)
        })
        .collect();
    let mut changed = false;
    for &s in stages.iter().rev() {
        let d = m.op(s);
        // a stage the kernel's schedule block names is computed as it says,
        // and one it computes others at stays a stage to compute them at
        if d.attr("result").is_some()
            || super::schedule::user_scheduled(m, s)
            || targets.contains(&super::schedule::stage_name(m, s))
        {
            continue;
        }
        let t = d.results[0];
        let read = match reads.get(&t).map(Vec::as_slice) {
            Some(&[r]) if uses[t.index()] == 1 => r,
            _ => continue,
        };
        if !inlinable_body(m, s) || !reads_each_point(m, read) {
            continue;
        }
        inline(m, s, read, &mut reads);
        changed = true;
    }
    changed
}

/// Whether `read`'s indices use every variable of the regions around it
/// (its stage's and its reductions'): then each point of the consumer
/// reads an element of its own, or a few (a stencil), not one element
/// over and over.
fn reads_each_point(m: &Module, read: OpId) -> bool {
    let mut used: Vec<ValueId> = Vec::new();
    let mut stack: Vec<ValueId> = m.op(read).operands[1..].to_vec();
    let mut steps = 0;
    while let Some(v) = stack.pop() {
        steps += 1;
        if used.contains(&v) || steps > 256 {
            continue;
        }
        used.push(v);
        if let Some(d) = m.def_op(v) {
            stack.extend(m.op(d).operands.iter().copied());
        }
    }
    let mut block = m.op(read).parent;
    while let Some(b) = block {
        let Some(owner) = m.block_owner(b) else {
            break;
        };
        if m.block(b).args.iter().any(|a| !used.contains(a)) {
            return false;
        }
        if m.op(owner).opcode == Opcode::Pj(PjOp::Stage) {
            break;
        }
        block = m.op(owner).parent;
    }
    true
}

fn inlinable_body(m: &Module, stage: OpId) -> bool {
    let block = m.entry_block(stage, 0);
    m.block(block).ops.iter().all(|&op| {
        let o = m.op(op);
        // a recurrence reads its own earlier elements: it exists whole
        o.regions.is_empty()
            && o.opcode != Opcode::Pj(PjOp::Prior)
            && !crate::dialects::arith::can_fail(m, op)
    })
}

/// Clones the producer's body before the read, at the read's indices;
/// `reads` follows the producer's own reads to their copies.
fn inline(m: &mut Module, stage: OpId, read: OpId, reads: &mut HashMap<ValueId, Vec<OpId>>) {
    let block = m.entry_block(stage, 0);
    let args = m.block(block).args.clone();
    let indices: Vec<ValueId> = m.op(read).operands[1..].to_vec();
    let loc = m.op(read).loc;
    let mut map: HashMap<ValueId, ValueId> = HashMap::new();
    let mut new_ops = Vec::new();
    for (&a, &i) in args.iter().zip(&indices) {
        // index variables are i64; a data-dependent index may be narrower
        let v = if *m.ty(i) == Type::INDEX {
            i
        } else {
            let c = m.build_op(
                OpSpec::new(Opcode::Arith(ArithOp::Cast))
                    .operands([i])
                    .result(Type::INDEX)
                    .loc(loc),
            );
            new_ops.push(c);
            m.result(c)
        };
        map.insert(a, v);
    }
    let mut value = None;
    for op in m.block(block).ops.clone() {
        let d = m.op(op).clone();
        let operands: Vec<ValueId> = d
            .operands
            .iter()
            .map(|v| *map.get(v).unwrap_or(v))
            .collect();
        if d.opcode == Opcode::Pj(PjOp::Yield) {
            value = Some(operands[0]);
            break;
        }
        let mut spec = OpSpec::new(d.opcode).operands(operands).loc(d.loc);
        spec.attrs = d.attrs.clone();
        spec.result_types = d.results.iter().map(|&r| m.ty(r).clone()).collect();
        let new = m.build_op(spec);
        new_ops.push(new);
        if d.opcode == Opcode::Pj(PjOp::Read)
            && let Some(list) = reads.get_mut(&d.operands[0])
            && let Some(slot) = list.iter_mut().find(|r| **r == op)
        {
            *slot = new;
        }
        for (&old, &n) in d.results.iter().zip(&m.op(new).results.clone()) {
            if let Some(name) = m.value(old).name.clone() {
                m.set_value_name(n, name);
            }
            map.insert(old, n);
        }
    }
    m.insert_all_before(read, &new_ops);
    let value = value.expect("verified: a stage region ends in pj.yield");
    let old = m.result(read);
    let consumer_block = m.op(read).parent.expect("the read is in a block");
    m.replace_uses_in_block(consumer_block, old, value);
    m.erase_op(read);
    m.erase_op(stage);
}
