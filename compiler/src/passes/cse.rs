//! Common subexpression elimination: an op that is pure, has no regions,
//! and repeats an earlier op (same opcode, operands, attributes and result
//! types) visible from it is replaced by that earlier op's results.
//!
//! Visibility follows the IR's scoping: an op in the kernel block can stand
//! in for duplicates inside stage and reduction regions, but not the other
//! way round. Loads (`mem.load`, `vector.load`) are merged too, within one
//! block and only while no op that may write memory (a store, an op with
//! regions, a call) lies between them: the repeat reads the same element,
//! and would fail exactly where the first did. A load of the element the
//! last store of the block wrote (same buffer, same indices, nothing
//! written since) is that store's value: the store would have failed had
//! the element been outside the buffer (a sliding window's ring is
//! written and read back in the same iteration). Legal always. Cost: one
//! walk, O(ops) hash look-ups.

use super::{Pass, PassError};
use crate::dialects::{MemOp, Opcode, VectorOp};
use crate::ir::{BlockId, Module, Type, ValueId};
use std::collections::HashMap;

/// The `cse` pass.
pub struct Cse;

type Key = (Opcode, Vec<ValueId>, String, Vec<Type>);

impl Pass for Cse {
    fn name(&self) -> &'static str {
        "cse"
    }

    fn run(&mut self, m: &mut Module) -> Result<bool, PassError> {
        let mut remap = HashMap::new();
        let mut changed = false;
        let top = m.top;
        cse_block(m, top, &mut HashMap::new(), &mut remap, &mut changed);
        Ok(changed)
    }
}

/// `table` holds the pure ops visible here (this block's and its
/// enclosing blocks'); what this block adds is taken out again on leaving
/// it, so nested blocks share one table instead of each copying it.
fn cse_block(
    m: &mut Module,
    block: BlockId,
    table: &mut HashMap<Key, Vec<ValueId>>,
    remap: &mut HashMap<ValueId, ValueId>,
    changed: &mut bool,
) {
    let mut added: Vec<Key> = Vec::new();
    // loads seen since the last op that may write memory, this block only
    let mut loads: HashMap<Key, Vec<ValueId>> = HashMap::new();
    // the last store, if nothing may have written memory since: buffer and
    // indices, the value stored
    let mut stored: Option<(Vec<ValueId>, ValueId)> = None;
    for op in m.block(block).ops.clone() {
        // Uses of removed duplicates now point at the survivors.
        for v in &mut m.op_mut(op).operands {
            if let Some(&n) = remap.get(v) {
                *v = n;
            }
        }
        let regions = m.op(op).regions.clone();
        for r in regions {
            for b in m.region(r).blocks.clone() {
                cse_block(m, b, table, remap, changed);
            }
        }
        let d = m.op(op);
        let is_load = matches!(
            d.opcode,
            Opcode::Mem(MemOp::Load) | Opcode::Vector(VectorOp::Load)
        );
        if !is_load && !d.opcode.is_pure() || !d.regions.is_empty() {
            loads.clear();
            stored = matches!(
                d.opcode,
                Opcode::Mem(MemOp::Store) | Opcode::Vector(VectorOp::Store)
            )
            .then(|| (d.operands[1..].to_vec(), d.operands[0]));
            continue;
        }
        if is_load
            && let Some((place, value)) = &stored
            && *place == d.operands
            && m.ty(*value) == m.ty(d.results[0])
        {
            remap.insert(d.results[0], *value);
            m.erase_op(op);
            *changed = true;
            continue;
        }
        if d.results.is_empty() {
            continue;
        }
        let key: Key = (
            d.opcode,
            d.operands.clone(),
            format!("{:?}", d.attrs),
            d.results.iter().map(|&r| m.ty(r).clone()).collect(),
        );
        let into = if is_load { &mut loads } else { &mut *table };
        match into.get(&key) {
            Some(prev) => {
                for (&old, &new) in d.results.iter().zip(prev) {
                    remap.insert(old, new);
                }
                m.erase_op(op);
                *changed = true;
            }
            None => {
                let results = d.results.clone();
                if !is_load {
                    added.push(key.clone());
                }
                into.insert(key, results);
            }
        }
    }
    for k in added {
        table.remove(&k);
    }
}
