//! Recurrences (`pj.prior`): a stage that reads its own earlier elements
//! along its scan dim (docs/language.md, "Recurrences").
//!
//! The stage's nest keeps its dims in order; the scan dim's loop is
//! sequential and every loop outside it may be parallel (the lines along
//! the scan dim are independent). Two forms:
//!
//! - **Scan dim innermost** (an EMA along rows, a cumulative sum), lags of
//!   at most [`MAX_CARRIED_LAG`]: the first `K` elements of each line
//!   (`K` the largest lag) run the general code, then the loop carries the
//!   last `K` values as `loop.for` iter values, so the chain of dependent
//!   operations never goes through memory (a store and a reload would add
//!   store-to-load forwarding's latency to every element).
//! - **Otherwise** (an IIR filter down the columns): a `pj.prior` loads
//!   the element `lag` rows back from the stage's buffer — the dims after
//!   the scan dim are independent, so that loop vectorizes — or gives
//!   `init` before the first element.

use super::{Body, Lowerer};
use crate::dialects::{ArithOp, LoopOp, MemOp, Opcode, PjOp};
use crate::ir::{Attr, BlockId, OpId, OpSpec, Type, ValueId};

/// The most values a scan along the innermost dim carries in registers;
/// larger lags read the stage's buffer.
pub const MAX_CARRIED_LAG: i64 = 8;

/// Columns per strip of a scan down the first dim run in parallel: 1 KiB
/// of `f32` per row, sixteen cache lines the prefetcher follows from row
/// to row.
pub const STRIP_COLUMNS: i64 = 256;

impl Lowerer<'_> {
    /// The innermost loops of recurrence `op` along its last dim `var`,
    /// over `[lo, hi)`: warm-up elements in the general code, then the
    /// rest carrying the last `max_lag` values.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn scan_loops(
        &mut self,
        block: BlockId,
        op: OpId,
        (lo, hi): (ValueId, ValueId),
        var: ValueId,
        vars: &[ValueId],
        max_lag: i64,
    ) {
        let result = self.m.result(op);
        let region = self.m.entry_block(op, 0);
        if max_lag > MAX_CARRIED_LAG {
            self.inner_loop(
                block,
                lo,
                hi,
                var,
                false,
                result,
                vars,
                &Body::Value(region),
            );
            return;
        }
        // the steady loop starts at `lo + max_lag` (a constant for a
        // result: canonicalize then folds `i == 0` there), the warm-up
        // ends there or at `hi`
        let k = self.index_const(max_lag);
        let warm = self.bin(block, ArithOp::Add, lo, k);
        let warm_end = self.bin(block, ArithOp::Min, warm, hi);
        self.inner_loop(
            block,
            lo,
            warm_end,
            var,
            false,
            result,
            vars,
            &Body::Value(region),
        );
        // the values the steady loop starts from: the warm-up's last
        // elements (read as zero when the line is too short to need them)
        let (buf, origin) = {
            let sb = &self.stages[&result];
            (sb.buf, sb.origin.clone())
        };
        let elem = self.m.ty(result).elem();
        let rank = vars.len();
        let mut carried = Vec::new();
        for lag in 1..=max_lag {
            let back = self.index_const(lag);
            let at = self.bin(block, ArithOp::Sub, warm, back);
            let operands = self.element_operands(block, (buf, &origin), vars, (rank - 1, at));
            carried.push(
                self.value(
                    block,
                    OpSpec::new(Opcode::Mem(MemOp::Load))
                        .operands(operands)
                        .attr("oob", Attr::Str("zero".into()))
                        .result(Type::Scalar(elem)),
                ),
            );
        }
        let one = self.index_const(1);
        let loc = self.m.op(op).loc;
        let mut spec = OpSpec::new(Opcode::Loop(LoopOp::For))
            .operands([warm, hi, one].into_iter().chain(carried.iter().copied()))
            .regions(1)
            .loc(loc);
        for _ in 0..max_lag {
            spec = spec.result(Type::Scalar(elem));
        }
        let l = self.push(block, spec);
        self.mark_scalar(op, l);
        let inner = self.m.entry_block(l, 0);
        let name = self.m.value(var).name.clone();
        let iv = self.m.add_block_arg(inner, Type::INDEX, name);
        self.map.insert(var, iv);
        let mut last = Vec::new();
        for lag in 1..=max_lag {
            last.push(
                self.m
                    .add_block_arg(inner, Type::Scalar(elem), Some(format!("back{lag}"))),
            );
        }
        self.carried = Some(last.clone());
        self.emit_body(inner, result, vars, &Body::Value(region));
        self.carried = None;
        // the value just stored is the element one back from the next one
        let stored = self
            .last_stored
            .take()
            .expect("emit_body stores the element");
        let mut next = vec![stored];
        next.extend(&last[..last.len() - 1]);
        self.push(
            inner,
            OpSpec::new(Opcode::Loop(LoopOp::Yield)).operands(next),
        );
    }

    /// The nest of recurrence `op` along `dim`, not its last dim: the
    /// dims before it (the first in parallel when `parallel`), then the
    /// scan dim's first `max_lag` elements in the general code and the
    /// rest reading back without a test, each around the dims after it
    /// (whose innermost loop then vectorizes: its elements are
    /// independent). A scan along the first dim runs in parallel over
    /// strips of [`STRIP_COLUMNS`] columns instead, each strip scanning
    /// every row.
    pub(super) fn scan_nest(
        &mut self,
        op: OpId,
        block: BlockId,
        parallel: bool,
        (dim, max_lag): (usize, i64),
    ) {
        let mut bounds = self.mapped_operands(op);
        let region = self.m.entry_block(op, 0);
        let vars = self.m.block(region).args.clone();
        let rank = vars.len();
        let result = self.m.result(op);
        let loc = self.m.op(op).loc;
        let one = self.index_const(1);
        let mut blk = block;
        let mut loops = Vec::new();
        if dim == 0 && parallel {
            // strips of the last dim's columns, each scanning every row
            let zero = self.index_const(0);
            let (c0, c1) = (bounds[2 * rank - 2], bounds[2 * rank - 1]);
            let n = self.bin(blk, ArithOp::Sub, c1, c0);
            let n = self.bin(blk, ArithOp::Max, n, zero);
            let strips = self.ceil_div(blk, zero, n, STRIP_COLUMNS);
            let width = self.index_const(STRIP_COLUMNS);
            let grain = self.iteration_grain(blk, width, &bounds[..2 * rank - 2], region);
            let l = self.push(
                blk,
                OpSpec::new(Opcode::Loop(LoopOp::Parallel))
                    .operands([zero, strips, grain])
                    .regions(1)
                    .loc(loc),
            );
            self.mark_scalar(op, l);
            let inner = self.m.entry_block(l, 0);
            let s = self
                .m
                .add_block_arg(inner, Type::INDEX, Some("strip".into()));
            let first = self.bin(inner, ArithOp::Mul, s, width);
            let a = self.bin(inner, ArithOp::Add, c0, first);
            let b = self.bin(inner, ArithOp::Add, a, width);
            let b = self.bin(inner, ArithOp::Min, b, c1);
            bounds[2 * rank - 2] = a;
            bounds[2 * rank - 1] = b;
            loops.push(inner);
            blk = inner;
        }
        for k in 0..dim {
            let (lo, hi) = (bounds[2 * k], bounds[2 * k + 1]);
            let spec = if k == 0 && parallel {
                let grain = self.iteration_grain(blk, one, &bounds[2..], region);
                OpSpec::new(Opcode::Loop(LoopOp::Parallel)).operands([lo, hi, grain])
            } else {
                OpSpec::new(Opcode::Loop(LoopOp::For)).operands([lo, hi, one])
            };
            let l = self.push(blk, spec.regions(1).loc(loc));
            self.mark_scalar(op, l);
            let inner = self.m.entry_block(l, 0);
            let name = self.m.value(vars[k]).name.clone();
            let iv = self.m.add_block_arg(inner, Type::INDEX, name);
            self.map.insert(vars[k], iv);
            loops.push(inner);
            blk = inner;
        }
        let (lo, hi) = (bounds[2 * dim], bounds[2 * dim + 1]);
        let k = self.index_const(max_lag);
        let steady_lo = self.bin(blk, ArithOp::Add, lo, k);
        let warm_end = self.bin(blk, ArithOp::Min, steady_lo, hi);
        for (a, b, steady) in [(lo, warm_end, false), (steady_lo, hi, true)] {
            let name = self.m.value(vars[dim]).name.clone();
            let l = self.push(
                blk,
                OpSpec::new(Opcode::Loop(LoopOp::For))
                    .operands([a, b, one])
                    .regions(1)
                    .loc(loc),
            );
            self.mark_scalar(op, l);
            let scan_body = self.m.entry_block(l, 0);
            let iv = self.m.add_block_arg(scan_body, Type::INDEX, name);
            self.map.insert(vars[dim], iv);
            self.steady = steady;
            let mut inner = scan_body;
            let mut inner_loops = Vec::new();
            for k in dim + 1..rank - 1 {
                let name = self.m.value(vars[k]).name.clone();
                let (b, iv) =
                    self.open_for(inner, (bounds[2 * k], bounds[2 * k + 1], one), name, loc);
                self.map.insert(vars[k], iv);
                inner_loops.push(b);
                inner = b;
            }
            let (c0, c1) = (bounds[2 * rank - 2], bounds[2 * rank - 1]);
            let last = vars[rank - 1];
            let body = Body::Value(region);
            self.inner_loop(inner, c0, c1, last, false, result, &vars, &body);
            self.steady = false;
            for b in inner_loops.into_iter().rev().chain([scan_body]) {
                self.push(b, OpSpec::new(Opcode::Loop(LoopOp::Yield)));
            }
        }
        for b in loops {
            self.push(b, OpSpec::new(Opcode::Loop(LoopOp::Yield)));
        }
    }

    /// A load's operands for the element of the stage in `buf` (its first
    /// at `origin`) at the current index variables `vars`, but at `at`
    /// along `dim`.
    fn element_operands(
        &mut self,
        block: BlockId,
        (buf, origin): (ValueId, &[ValueId]),
        vars: &[ValueId],
        (dim, at): (usize, ValueId),
    ) -> Vec<ValueId> {
        let mut operands = vec![buf];
        for (d, &v) in vars.iter().enumerate() {
            let i = if d == dim { at } else { self.map[&v] };
            operands.push(self.bin(block, ArithOp::Sub, i, origin[d]));
        }
        operands
    }

    /// A `pj.prior` of the stage being lowered: a carried value, or the
    /// element `lag` back along the scan dim from the stage's buffer
    /// (past the first elements, in [`Lowerer::scan_nest`]'s steady loop:
    /// always there), or `init` before its first element.
    pub(super) fn lower_prior(&mut self, op: OpId, block: BlockId) -> ValueId {
        let (dim, lag) = crate::dialects::pj::prior_step(self.m, op).expect("verified");
        if let Some(carried) = &self.carried {
            return carried[lag as usize - 1];
        }
        let stage = self
            .m
            .op(op)
            .parent
            .and_then(|b| self.m.block_owner(b))
            .filter(|&s| self.m.op(s).opcode == Opcode::Pj(PjOp::Stage))
            .expect("verified: directly in a pj.stage");
        let result = self.m.result(stage);
        let (buf, origin) = {
            let sb = &self.stages[&result];
            (sb.buf, sb.origin.clone())
        };
        let vars = self.m.block(self.m.entry_block(stage, 0)).args.clone();
        let init = self.map[&self.m.op(op).operands[0]];
        let elem = self.m.ty(result).elem();
        let back = self.index_const(lag);
        let at = self.bin(block, ArithOp::Sub, self.map[&vars[dim]], back);
        if self.steady {
            let operands = self.element_operands(block, (buf, &origin), &vars, (dim, at));
            return self.value(
                block,
                OpSpec::new(Opcode::Mem(MemOp::Load))
                    .operands(operands)
                    .attr("in_bounds", Attr::Bool(true))
                    .result(Type::Scalar(elem))
                    .loc(self.m.op(op).loc),
            );
        }
        let before = self.cmp(block, "lt", at, origin[dim]);
        // inside the stage's elements computed so far: from its first one
        // to the current one
        let at = self.bin(block, ArithOp::Max, at, origin[dim]);
        let operands = self.element_operands(block, (buf, &origin), &vars, (dim, at));
        let earlier = self.value(
            block,
            OpSpec::new(Opcode::Mem(MemOp::Load))
                .operands(operands)
                .attr("in_bounds", Attr::Bool(true))
                .result(Type::Scalar(elem))
                .loc(self.m.op(op).loc),
        );
        self.value(
            block,
            OpSpec::new(Opcode::Arith(ArithOp::Select))
                .operands([before, init, earlier])
                .result(Type::Scalar(elem)),
        )
    }
}
