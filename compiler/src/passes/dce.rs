//! Dead code elimination: removes pure ops none of whose results is used,
//! repeatedly, so chains of dead computations disappear. A stage that no
//! result depends on goes with its whole region.
//!
//! Legal always: only pure ops that cannot fail are removed. An unused
//! `10 / d` stays, because a division by zero is an error the program
//! defines and an optimization never removes an error
//! (`dialects::can_fail`). Cost: O(ops) per round, and at
//! most as many rounds as the longest dead chain.

use super::{Pass, PassError};
use crate::dialects::can_fail;
use crate::ir::Module;

/// The `dce` pass.
pub struct Dce;

impl Pass for Dce {
    fn name(&self) -> &'static str {
        "dce"
    }

    fn run(&mut self, m: &mut Module) -> Result<bool, PassError> {
        let mut changed = false;
        loop {
            let uses = m.use_counts();
            let dead: Vec<_> = m
                .all_ops()
                .into_iter()
                .filter(|&op| {
                    let d = m.op(op);
                    d.opcode.is_pure()
                        && !d.results.is_empty()
                        && d.results.iter().all(|r| uses[r.index()] == 0)
                        && !can_fail(m, op)
                })
                .collect();
            if dead.is_empty() {
                return Ok(changed);
            }
            for op in dead {
                m.erase_op(op);
            }
            changed = true;
        }
    }
}
