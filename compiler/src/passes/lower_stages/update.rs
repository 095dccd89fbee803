//! Updates (`pj.update`): `hist[i32(x[i])] += 1 for i` combines values
//! into a stage's buffer in place, at indices its region computes.
//!
//! - **Serial** (`scatter = "serial"`, the default): one loop nest over the
//!   update's variables in order, each point loading its element,
//!   combining and storing — the interpreter's order.
//! - **Private copies** (`scatter = "private"`, chosen by the `schedule`
//!   pass where the combiner's order cannot change the result: integer
//!   sums, `min` and `max`): `P` copies of the stage filled with the
//!   combiner's identity, a parallel loop giving each copy a slice of the
//!   first variable's range, then the copies combined into the stage in
//!   order. `P` is the thread count, fewer when the update has under
//!   [`POINTS_PER_COPY`] points per copy (a copy must be worth its merge).
//!   Atomics are not used: a few hot elements (a histogram's busy bins)
//!   would serialize every thread on their cache lines, and float sums
//!   would come out in a different order each run.

use super::Lowerer;
use crate::dialects::{ArithOp, LoopOp, MemOp, Opcode, QuantOp, arith::Scalar, pj};
use crate::ir::{Attr, BlockId, OpId, OpSpec, ScalarType, Type, ValueId};

/// Points of an update per private copy at least: a copy of a 256-bin
/// histogram costs some 1 KiB to clear and to merge, a few hundred cycles;
/// 2^16 points cost a hundred times that.
pub const POINTS_PER_COPY: i64 = 1 << 16;

/// Bytes between the rows of two private copies: two cache lines (the
/// adjacent-line prefetcher moves lines in pairs).
const COPY_PADDING_BYTES: i64 = 128;

impl Lowerer<'_> {
    /// Lowers update `op` in place into its stage's buffer.
    pub(super) fn lower_update(&mut self, op: OpId) {
        let d = self.m.op(op).clone();
        let (buf, origin) = {
            let sb = &self.stages[&d.operands[0]];
            (sb.buf, sb.origin.clone())
        };
        self.place_update(d.results[0], buf, origin.clone());
        let bounds: Vec<ValueId> = d.operands[1..].iter().map(|v| self.map[v]).collect();
        let kind = d
            .attr("kind")
            .and_then(Attr::as_str)
            .expect("verified")
            .to_string();
        let body = self.body;
        // a 16-bit float stage rounds each combination: in order, in place
        let half = self.m.ty(buf).elem().is_half();
        if d.attr(pj::SCATTER).and_then(Attr::as_str) == Some("private") && !half {
            self.private_update(op, (buf, &origin), &bounds, &kind);
            return;
        }
        let mut blk = body;
        let mut loops = Vec::new();
        let vars = self.m.block(self.m.entry_block(op, 0)).args.clone();
        let one = self.index_const(1);
        for (k, pair) in bounds.chunks(2).enumerate() {
            let name = self.m.value(vars[k]).name.clone();
            let (b, iv) = self.open_for(blk, (pair[0], pair[1], one), name, d.loc);
            self.map.insert(vars[k], iv);
            loops.push(b);
            blk = b;
        }
        self.update_point(blk, op, (buf, &origin), None, &kind);
        for b in loops.into_iter().rev() {
            self.push(b, OpSpec::new(Opcode::Loop(LoopOp::Yield)));
        }
    }

    /// The updated stage lives where the stage does.
    fn place_update(&mut self, result: ValueId, buf: ValueId, origin: Vec<ValueId>) {
        self.stages.insert(
            result,
            super::StageBuf {
                buf,
                origin,
                ring: None,
            },
        );
    }

    /// One point of update `op` in `block`: its region, then the element
    /// it names combined with its value — in `target`, or in copy `part`
    /// of it (`parts[part, ...]`).
    fn update_point(
        &mut self,
        block: BlockId,
        op: OpId,
        (buf, origin): (ValueId, &[ValueId]),
        part: Option<(ValueId, ValueId)>,
        kind: &str,
    ) {
        let region = self.m.entry_block(op, 0);
        let ops = self.m.block(region).ops.clone();
        let (last, rest) = ops.split_last().expect("verified: ends in pj.yield");
        for &o in rest {
            self.lower_expr_op(o, block);
        }
        let yielded: Vec<ValueId> = self.mapped_operands(*last);
        let (value, indices) = yielded.split_last().expect("verified");
        let elem = self.m.ty(*value).clone();
        let (dest, mut operands) = match part {
            Some((parts, p)) => (parts, vec![parts, p]),
            None => (buf, vec![buf]),
        };
        for (k, &i) in indices.iter().enumerate() {
            operands.push(self.bin(block, ArithOp::Sub, i, origin[k]));
        }
        let loc = self.m.op(op).loc;
        // a 16-bit float element and value: their bits, combined in f32
        // and rounded back
        let stored = self.m.ty(dest).elem();
        let old = self.value(
            block,
            OpSpec::new(Opcode::Mem(MemOp::Load))
                .operands(operands.clone())
                .result(if stored.is_half() {
                    Type::Scalar(stored)
                } else {
                    elem
                })
                .loc(loc),
        );
        let combine = crate::dialects::arith::reduce_combiner(kind);
        let new = if stored.is_half() {
            let (pack, unpack) = crate::passes::lower_half::conversions(stored);
            let f32t = Type::Scalar(ScalarType::F32);
            let wide = self.half_conversion(block, unpack, old, f32t.clone());
            let value = self.half_conversion(block, unpack, *value, f32t);
            let sum = self.bin(block, combine, wide, value);
            self.half_conversion(block, pack, sum, Type::Scalar(stored))
        } else {
            self.bin(block, combine, old, *value)
        };
        operands[0] = new;
        operands.insert(1, dest);
        // the front end proved the indices inside for sizes of at least 1,
        // as it proves reads (a zero size: the checked copy checks it)
        self.push(
            block,
            OpSpec::new(Opcode::Mem(MemOp::Store))
                .operands(operands)
                .attr(crate::dialects::mem::IN_BOUNDS_NONEMPTY, Attr::Bool(true))
                .loc(loc),
        );
    }

    /// `quant` op `q` of `x` in `block`, as the `arith` ops it expands to
    /// (`lower-quant` has run).
    fn half_conversion(&mut self, block: BlockId, q: QuantOp, x: ValueId, to: Type) -> ValueId {
        let op = self.push(
            block,
            OpSpec::new(Opcode::Quant(q)).operands([x]).result(to),
        );
        let v = crate::dialects::quant::expand(self.m, op);
        self.m.erase_op(op);
        v
    }

    /// Update `op` with a private copy of its stage per part (see the
    /// module's doc).
    fn private_update(
        &mut self,
        op: OpId,
        (buf, origin): (ValueId, &[ValueId]),
        bounds: &[ValueId],
        kind: &str,
    ) {
        let body = self.body;
        let loc = self.m.op(op).loc;
        let zero = self.index_const(0);
        let one = self.index_const(1);
        let elem = self.m.ty(buf).elem();
        let rank = origin.len();
        // the parts: the threads, fewer for a small update
        let mut points = one;
        for pair in bounds.chunks(2) {
            let n = self.bin(body, ArithOp::Sub, pair[1], pair[0]);
            let n = self.bin(body, ArithOp::Max, n, zero);
            points = self.bin(body, ArithOp::Mul, points, n);
        }
        let per = self.index_const(POINTS_PER_COPY);
        let most = self.bin(body, ArithOp::Div, points, per);
        let threads = self.value(
            body,
            OpSpec::new(Opcode::Loop(LoopOp::Threads)).result(Type::INDEX),
        );
        let parts = self.bin(body, ArithOp::Min, threads, most);
        let parts = self.bin(body, ArithOp::Max, parts, one);
        // the copies, from the identity
        let mut extents = vec![parts];
        for k in 0..rank {
            extents.push(
                self.value(
                    body,
                    OpSpec::new(Opcode::Mem(MemOp::Dim))
                        .operands([buf])
                        .attr("dim", Attr::Int(k as i64))
                        .result(Type::INDEX),
                ),
            );
        }
        // each copy's rows padded by two cache lines, so no line holds
        // elements of two threads' copies (false sharing cost a 256-bin
        // histogram on two threads more than the second thread gained)
        let pad = self.index_const(COPY_PADDING_BYTES / elem.size_bytes().max(1) as i64);
        let mut padded = extents.clone();
        let last = padded.len() - 1;
        padded[last] = self.bin(body, ArithOp::Add, padded[last], pad);
        let copies = self.value(
            body,
            OpSpec::new(Opcode::Mem(MemOp::Alloc))
                .operands(padded)
                .result(Type::dynamic_buffer(elem, rank + 1))
                .loc(loc),
        );
        self.m.set_value_name(copies, "copies");
        self.allocs.push(copies);
        let identity = self.value(
            body,
            OpSpec::new(Opcode::Arith(ArithOp::Constant))
                .attr("value", Scalar::reduce_identity(kind, elem).to_attr())
                .result(Type::Scalar(elem)),
        );
        self.over_copies(&extents, loc, |l, b, idx| {
            let mut operands = vec![identity, copies];
            operands.extend(idx);
            // the nest covers the copies' elements
            l.push(
                b,
                OpSpec::new(Opcode::Mem(MemOp::Store))
                    .operands(operands)
                    .attr("in_bounds", Attr::Bool(true)),
            );
        });
        // each part's slice of the first variable, in parallel
        let l = self.push(
            body,
            OpSpec::new(Opcode::Loop(LoopOp::Parallel))
                .operands([zero, parts, one])
                .regions(1)
                .loc(loc),
        );
        let pb = self.m.entry_block(l, 0);
        let p = self.m.add_block_arg(pb, Type::INDEX, Some("part".into()));
        let (lo0, hi0) = (bounds[0], bounds[1]);
        let n0 = self.bin(pb, ArithOp::Sub, hi0, lo0);
        let n0 = self.bin(pb, ArithOp::Max, n0, zero);
        let chunk = self.ceil_div_by(pb, n0, parts);
        let start = self.bin(pb, ArithOp::Mul, p, chunk);
        let a = self.bin(pb, ArithOp::Add, lo0, start);
        let a = self.bin(pb, ArithOp::Min, a, hi0);
        let b = self.bin(pb, ArithOp::Add, a, chunk);
        let b = self.bin(pb, ArithOp::Min, b, hi0);
        let vars = self.m.block(self.m.entry_block(op, 0)).args.clone();
        let mut blk = pb;
        let mut loops = Vec::new();
        for (k, pair) in bounds.chunks(2).enumerate() {
            let range = if k == 0 { (a, b) } else { (pair[0], pair[1]) };
            let name = self.m.value(vars[k]).name.clone();
            let (lb, iv) = self.open_for(blk, (range.0, range.1, one), name, loc);
            self.map.insert(vars[k], iv);
            loops.push(lb);
            blk = lb;
        }
        self.update_point(blk, op, (buf, origin), Some((copies, p)), kind);
        for lb in loops.into_iter().rev().chain([pb]) {
            self.push(lb, OpSpec::new(Opcode::Loop(LoopOp::Yield)));
        }
        // the copies into the stage, in order
        let combine = crate::dialects::arith::reduce_combiner(kind);
        self.over_copies(&extents, loc, |l, b, idx| {
            let mut at = vec![copies];
            at.extend(idx.iter().copied());
            let part = l.value(
                b,
                OpSpec::new(Opcode::Mem(MemOp::Load))
                    .operands(at)
                    .attr("in_bounds", Attr::Bool(true))
                    .result(Type::Scalar(elem)),
            );
            let mut at = vec![buf];
            at.extend(idx[1..].iter().copied());
            let old = l.value(
                b,
                OpSpec::new(Opcode::Mem(MemOp::Load))
                    .operands(at.clone())
                    .attr("in_bounds", Attr::Bool(true))
                    .result(Type::Scalar(elem)),
            );
            let new = l.bin(b, combine, old, part);
            let mut operands = vec![new];
            operands.extend(at);
            l.push(
                b,
                OpSpec::new(Opcode::Mem(MemOp::Store))
                    .operands(operands)
                    .attr("in_bounds", Attr::Bool(true)),
            );
        });
    }

    /// A loop nest in the kernel body over `extents` (the copies' dims),
    /// calling `f` with its innermost block and indices.
    fn over_copies(
        &mut self,
        extents: &[ValueId],
        loc: Option<crate::ir::Loc>,
        mut f: impl FnMut(&mut Self, BlockId, &[ValueId]),
    ) {
        let zero = self.index_const(0);
        let one = self.index_const(1);
        let mut blk = self.body;
        let mut loops = Vec::new();
        let mut idx = Vec::new();
        for &e in extents {
            let (b, iv) = self.open_for(blk, (zero, e, one), None, loc);
            idx.push(iv);
            loops.push(b);
            blk = b;
        }
        f(self, blk, &idx);
        for b in loops.into_iter().rev() {
            self.push(b, OpSpec::new(Opcode::Loop(LoopOp::Yield)));
        }
    }
}
