//! Scheduling: decides, per stage of a `pj` kernel, *how* it is computed,
//! and records the decision as attributes on the `pj.stage` op, which
//! `lower-stages` then realizes. The algorithm (what a stage computes) is
//! never changed; only the loop structure and where intermediates live.
//!
//! Four decisions, in the spirit of Halide's schedules:
//!
//! - `reduce_order = "vector"`: a stage that is one reduction whose body
//!   reads every array either the same for a whole row or along its last
//!   dim, plainly (no boundary mode there), keeps the reduction innermost
//!   but runs it over blocks of vectors of the innermost dim, the
//!   accumulators in registers (`for i { for j in blocks { acc[0..4] = 0;
//!   for k { acc[u] += a[i,k] * b[k, j+4u..] } } }`): bit for bit the
//!   reference order per element, with no accumulator traffic to memory.
//! - `block_k = K`, `block_cols = C` on such a stage whose rows share the
//!   reduction and read an operand along the columns and the reduction
//!   (matmul's `b`): cache blocks (BLIS's `kc`, `nc`). Panels of row blocks
//!   run the reduction in chunks of `K` steps over `C` columns, the block
//!   of the shared operand packed once per panel and read from L2 by every
//!   row block; the accumulators go through the stage's buffer between
//!   chunks, so each element still folds its terms in the reference order.
//! - `reduce_order = "outer"`: a stage whose value is one reduction
//!   accumulates into its own buffer with the reduction loops *outside* its
//!   innermost loop (`for i { for k { for j { c[i,j] += a[i,k] * b[k,j] } } }`
//!   instead of `for i { for j { for k { ... } } }`). Each element still
//!   folds its terms in the interpreter's order, so results are bit for bit
//!   the same; the innermost loop now walks arrays along their last dim and
//!   vectorizes. Legal when the stage is just that reduction (rank ≥ 2), the
//!   reduction's bounds do not depend on the innermost variable, and its
//!   body has nothing that can fail (so no error can move).
//! - `compute_at = "<root>"` on a producer and `tile_bytes = B` (or
//!   `tile_rows = T`) on the stage `root`: the producer is computed per tile
//!   of rows of the root, into a scratch buffer holding just the rows that
//!   tile reads (halo rows are recomputed by neighbouring tiles), so it never
//!   travels to memory. `tile_bytes` sizes tiles at run time so one tile's
//!   rows of every array the group touches fit in `B` bytes. Legal when
//!   every reader of the producer is in the group and reads it at row
//!   `y + c` for its own first variable `y` and constants `c`; the producer
//!   is not a result. A group of one producer that its root reads only at
//!   the root's own column (`p[y + c, x]`, blur's vertical pass) runs as a
//!   *sliding window* instead ([`sliding_window`]): a ring of rows, each
//!   row of the producer computed once, in the same loop over the columns
//!   as the root's row that first reads it, so the producer's reads and
//!   the root's writes stream together and no halo is recomputed except
//!   the window's first rows per tile. `sliding = false` on the root turns
//!   it off.
//!
//! The choices are made from the target profile's cache sizes: a group
//! whose producers have no halo tiles to fit L1 (softmax, layernorm: a row
//! is reduced and consumed while it sits in L1); with a halo, to fit L2, so
//! the recomputed rows are a small fraction. Every choice comes with a
//! reason, which `pj explain` prints.
//!
//! Requires: verified `pj` kernels (after `inline-pointwise`). Cost: linear
//! in the kernel's ops per stage pair.

use super::{Pass, PassError};
use crate::dialects::{ArithOp, Opcode, PjOp};
use crate::ir::{Attr, BlockId, Module, OpId, ValueDef, ValueId};
use crate::target::profile::Profile;
use std::collections::HashSet;

/// Attribute: `"outer"` hoists a stage's reduction loops outside its innermost loop.
pub const REDUCE_ORDER: &str = "reduce_order";
/// Attribute: the name of the group root a producer is computed with.
pub const COMPUTE_AT: &str = "compute_at";
/// Attribute on a group root: the byte budget of one tile.
pub const TILE_BYTES: &str = "tile_bytes";
/// Attribute on a group root: a fixed number of rows per tile.
pub const TILE_ROWS: &str = "tile_rows";
/// Attribute: `true` stores the stage whole; it is never fused or inlined.
pub const COMPUTE_ROOT: &str = "compute_root";
/// Attribute: `false` keeps the stage's loops serial.
pub const PARALLEL: &str = "parallel";
/// Attribute: `false` keeps the stage's innermost loops scalar.
pub const VECTORIZE: &str = "vectorize";
/// Attribute on a group root: `false` computes its one producer per tile
/// with halo rows instead of as a sliding window.
pub const SLIDING: &str = "sliding";

/// Attribute on a `reduce_order = "vector"` stage: reduction steps per
/// cache block (with [`BLOCK_COLS`]).
pub const BLOCK_K: &str = "block_k";
/// Attribute on a `reduce_order = "vector"` stage: columns per cache block.
pub const BLOCK_COLS: &str = "block_cols";

/// Attribute (`true`) on a stage the `quantize` pass made: the schedule it
/// carries is the pass's, not the kernel's schedule block's.
pub const QUANTIZED: &str = "quantized";

/// Every schedule attribute of a `pj.stage`.
pub const SCHEDULE_ATTRS: [&str; 10] = [
    REDUCE_ORDER,
    COMPUTE_AT,
    TILE_BYTES,
    TILE_ROWS,
    COMPUTE_ROOT,
    PARALLEL,
    VECTORIZE,
    SLIDING,
    BLOCK_K,
    BLOCK_COLS,
];

/// Where a stage's reduction loops go relative to its innermost loop.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReduceOrder {
    /// Innermost, a scalar accumulator per element (the reference order).
    #[default]
    Inner,
    /// Outside the innermost loop, accumulating in the stage's buffer.
    Outer,
    /// Innermost, but over blocks of vectors of the innermost dim: the
    /// accumulators of several vectors of elements live in registers
    /// across the whole reduction.
    Vector,
}

/// How one stage is computed: its `pj.stage` attributes, read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageSchedule {
    /// Where the reduction loops go.
    pub reduce: ReduceOrder,
    /// Computed per tile of this root stage.
    pub compute_at: Option<String>,
    /// As a group root: how tiles are sized.
    pub tile: Option<Tile>,
    /// Stored whole: never a member of a group.
    pub compute_root: bool,
    /// The outer loop runs on the worker pool (default true).
    pub parallel: bool,
    /// Innermost loops may become vector loops (default true).
    pub vectorize: bool,
    /// As a group root with one producer: a sliding window where legal
    /// (default true).
    pub sliding: bool,
    /// As a `reduce_order = "vector"` stage over blocks of rows: the
    /// reduction runs in chunks of `k` steps over `cols` columns at a time
    /// (a cache block of the row-invariant operand), accumulators going
    /// through the stage's buffer between chunks.
    pub cache_block: Option<CacheBlock>,
}

/// The cache block of a `reduce_order = "vector"` stage (BLIS's `kc`,
/// `nc`): how much of the reduction and of the columns one pass over a
/// panel of rows covers, so the operand shared by the rows (matmul's `b`,
/// `k` rows by `cols` columns) stays in cache while every row block of the
/// panel reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheBlock {
    /// Steps of the (outermost) reduction variable per chunk.
    pub k: i64,
    /// Columns per chunk.
    pub cols: i64,
}

/// How a group root's tiles are sized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tile {
    /// A fixed number of rows.
    Rows(i64),
    /// As many rows as fit this many bytes (at least one).
    Bytes(i64),
}

impl Default for StageSchedule {
    fn default() -> StageSchedule {
        StageSchedule {
            reduce: ReduceOrder::Inner,
            compute_at: None,
            tile: None,
            compute_root: false,
            parallel: true,
            vectorize: true,
            sliding: true,
            cache_block: None,
        }
    }
}

impl StageSchedule {
    /// Reads the schedule attributes of a `pj.stage`.
    pub fn of(m: &Module, stage: OpId) -> StageSchedule {
        let d = m.op(stage);
        StageSchedule {
            reduce: match d.attr(REDUCE_ORDER).and_then(Attr::as_str) {
                Some("outer") => ReduceOrder::Outer,
                Some("vector") => ReduceOrder::Vector,
                _ => ReduceOrder::Inner,
            },
            compute_at: d
                .attr(COMPUTE_AT)
                .and_then(Attr::as_str)
                .map(str::to_string),
            tile: match (
                d.attr(TILE_ROWS).and_then(Attr::as_int),
                d.attr(TILE_BYTES).and_then(Attr::as_int),
            ) {
                (Some(r), _) => Some(Tile::Rows(r)),
                (None, Some(b)) => Some(Tile::Bytes(b)),
                _ => None,
            },
            compute_root: d.attr(COMPUTE_ROOT).and_then(Attr::as_bool) == Some(true),
            parallel: d.attr(PARALLEL).and_then(Attr::as_bool) != Some(false),
            vectorize: d.attr(VECTORIZE).and_then(Attr::as_bool) != Some(false),
            sliding: d.attr(SLIDING).and_then(Attr::as_bool) != Some(false),
            cache_block: match (
                d.attr(BLOCK_K).and_then(Attr::as_int),
                d.attr(BLOCK_COLS).and_then(Attr::as_int),
            ) {
                (Some(k), Some(cols)) => Some(CacheBlock { k, cols }),
                _ => None,
            },
        }
    }
}

/// Whether a stage carries any schedule attribute (from a schedule block,
/// or an earlier run of the scheduler).
pub fn user_scheduled(m: &Module, stage: OpId) -> bool {
    let d = m.op(stage);
    SCHEDULE_ATTRS.iter().any(|k| d.attr(k).is_some())
}

/// A stage's name.
pub fn stage_name(m: &Module, stage: OpId) -> String {
    m.op(stage)
        .attr("name")
        .and_then(Attr::as_str)
        .unwrap_or("?")
        .to_string()
}

// ---- analysis --------------------------------------------------------------

/// Whether `v` is computed from any of `vars`. Values defined by ops with
/// regions (reductions) count as dependent when `vars` is not empty: what
/// their bodies read is not looked into.
pub fn depends_on(m: &Module, v: ValueId, vars: &HashSet<ValueId>) -> bool {
    if vars.contains(&v) {
        return true;
    }
    match m.value(v).def {
        ValueDef::BlockArg(..) => false,
        ValueDef::OpResult(op, _) => {
            let d = m.op(op);
            // a read varies with its indices only: the array it reads
            // (a stage, whose op has a region) is one whole value
            let operands = if d.opcode == Opcode::Pj(PjOp::Read) {
                &d.operands[1..]
            } else {
                &d.operands[..]
            };
            (!d.regions.is_empty() && !vars.is_empty())
                || operands.iter().any(|&o| depends_on(m, o, vars))
        }
    }
}

/// Whether `v` is computed from array data (a read or a nested
/// reduction), as opposed to index arithmetic and constants.
pub fn reads_data(m: &Module, v: ValueId) -> bool {
    match m.value(v).def {
        ValueDef::BlockArg(..) => false,
        ValueDef::OpResult(op, _) => {
            let d = m.op(op);
            d.opcode == Opcode::Pj(PjOp::Read)
                || !d.regions.is_empty()
                || d.operands.iter().any(|&o| reads_data(m, o))
        }
    }
}

/// The value of an integer constant, or of a negated one (`y + -1` reaches
/// the schedule block's checks before `canonicalize` has folded it).
pub fn int_constant(m: &Module, v: ValueId) -> Option<i64> {
    let op = m.def_op(v)?;
    let d = m.op(op);
    match d.opcode {
        Opcode::Arith(ArithOp::Constant) => d.attr("value").and_then(Attr::as_int),
        Opcode::Arith(ArithOp::Neg) => int_constant(m, d.operands[0])?.checked_neg(),
        _ => None,
    }
}

/// `c` when `idx` is `var + c` (or `var - c`, `c + var`) for a constant `c`.
pub fn offset_from(m: &Module, idx: ValueId, var: ValueId) -> Option<i64> {
    if idx == var {
        return Some(0);
    }
    let d = m.op(m.def_op(idx)?);
    match d.opcode {
        Opcode::Arith(ArithOp::Add) => {
            let (a, b) = (d.operands[0], d.operands[1]);
            if let Some(c) = int_constant(m, b) {
                offset_from(m, a, var).map(|o| o + c)
            } else {
                offset_from(m, b, var).and_then(|o| int_constant(m, a).map(|c| o + c))
            }
        }
        Opcode::Arith(ArithOp::Sub) => {
            let c = int_constant(m, d.operands[1])?;
            offset_from(m, d.operands[0], var).map(|o| o - c)
        }
        _ => None,
    }
}

/// A term of an affine index: the value, and whether it is subtracted.
pub type Term = (ValueId, bool);

/// When `idx` is `var + e` with `e` a sum of terms free of `forbidden` (and
/// of `var`), those terms.
pub fn split_affine(
    m: &Module,
    idx: ValueId,
    var: ValueId,
    forbidden: &HashSet<ValueId>,
) -> Option<Vec<Term>> {
    if idx == var {
        return Some(Vec::new());
    }
    let mut all = forbidden.clone();
    all.insert(var);
    let free = |v: ValueId| !depends_on(m, v, &all) && pure_index(m, v);
    let d = m.op(m.def_op(idx)?);
    match d.opcode {
        Opcode::Arith(ArithOp::Add) => {
            let (a, b) = (d.operands[0], d.operands[1]);
            if free(b) {
                let mut t = split_affine(m, a, var, forbidden)?;
                t.push((b, false));
                Some(t)
            } else if free(a) {
                let mut t = split_affine(m, b, var, forbidden)?;
                t.push((a, false));
                Some(t)
            } else {
                None
            }
        }
        Opcode::Arith(ArithOp::Sub) if free(d.operands[1]) => {
            let mut t = split_affine(m, d.operands[0], var, forbidden)?;
            t.push((d.operands[1], true));
            Some(t)
        }
        _ => None,
    }
}

/// Whether `v` is index arithmetic that can be computed anywhere without
/// failing: kernel-level values (already computed), constants, block
/// arguments, and `arith` ops on those other than integer division by
/// anything but a non-zero constant.
pub fn pure_index(m: &Module, v: ValueId) -> bool {
    let Some(op) = m.def_op(v) else {
        return true;
    };
    let d = m.op(op);
    let kernel_level = d
        .parent
        .and_then(|b| m.block_owner(b))
        .is_some_and(|o| m.op(o).opcode == Opcode::Pj(PjOp::Kernel));
    if kernel_level {
        return true;
    }
    match d.opcode {
        Opcode::Pj(PjOp::Size) => true,
        Opcode::Arith(ArithOp::Div | ArithOp::Rem) if !matches!(int_constant(m, d.operands[1]), Some(c) if c != 0) => {
            false
        }
        Opcode::Arith(_) => d.operands.iter().all(|&o| pure_index(m, o)),
        _ => false,
    }
}

/// The `pj.read` ops under `block`, nested regions included, in order.
pub fn reads_under(m: &Module, block: BlockId) -> Vec<OpId> {
    let mut out = Vec::new();
    m.walk_block(block, &mut |op| {
        if m.op(op).opcode == Opcode::Pj(PjOp::Read) {
            out.push(op);
        }
    });
    out
}

/// The variables of the reductions nested under `block`.
pub fn reduction_vars_under(m: &Module, block: BlockId) -> HashSet<ValueId> {
    let mut out = HashSet::new();
    m.walk_block(block, &mut |op| {
        if m.op(op).opcode == Opcode::Pj(PjOp::Reduce) {
            out.extend(m.block(m.entry_block(op, 0)).args.iter().copied());
        }
    });
    out
}

/// Whether any op under `block` can fail at run time (integer division or
/// remainder by anything but a non-zero constant).
fn can_fail(m: &Module, block: BlockId) -> bool {
    let mut fails = false;
    m.walk_block(block, &mut |op| {
        fails |= crate::dialects::arith::can_fail(m, op);
    });
    fails
}

/// The reduction whose loops can move outside `stage`'s innermost loop, or
/// why not.
pub fn hoistable_reduction(m: &Module, stage: OpId) -> Result<OpId, String> {
    if let Some(why) = recurrence_note(m, stage) {
        return Err(why);
    }
    let region = m.entry_block(stage, 0);
    let vars = m.block(region).args.clone();
    if vars.is_empty() {
        return Err("the stage has no dims".into());
    }
    let ops = &m.block(region).ops;
    let yield_op = *ops.last().expect("verified: a yield ends the region");
    let value = m.op(yield_op).operands[0];
    let Some(red) = m
        .def_op(value)
        .filter(|&o| m.op(o).opcode == Opcode::Pj(PjOp::Reduce))
    else {
        return Err("the stage's value is not a single reduction".into());
    };
    if m.op(red)
        .attr("kind")
        .and_then(Attr::as_str)
        .is_some_and(crate::dialects::pj::is_arg_kind)
    {
        return Err(
            "an `argmax`/`argmin` keeps the first best index, one term after another".into(),
        );
    }
    let inner: HashSet<ValueId> = [*vars.last().expect("rank >= 2")].into();
    for &op in ops {
        if op == red || op == yield_op {
            continue;
        }
        if m.op(op).results.iter().any(|&r| depends_on(m, r, &inner)) {
            return Err("the stage computes more than its reduction per element".into());
        }
    }
    if m.op(red).operands.iter().any(|&b| depends_on(m, b, &inner)) {
        return Err("the reduction's range depends on the innermost variable".into());
    }
    let body = m.entry_block(red, 0);
    if can_fail(m, body) {
        return Err("the reduction's body can fail (integer division)".into());
    }
    let mut nested = false;
    m.walk_block(body, &mut |op| {
        nested |= m.op(op).opcode == Opcode::Pj(PjOp::Reduce);
    });
    if nested {
        return Err("the reduction contains another reduction".into());
    }
    Ok(red)
}

/// Whether a hoistable reduction can run over blocks of vectors with
/// accumulators in registers (`reduce_order = "vector"`), or why not.
pub fn vector_accumulable(m: &Module, stage: OpId, red: OpId) -> Result<(), String> {
    if m.block(m.entry_block(stage, 0)).args.len() < 2 {
        return Err("blocks of rows need 2 dims or more".into());
    }
    let acc = reduction_access(m, stage, red);
    if !acc.unit_stride {
        return Err("an array is walked across rows along the innermost dim".into());
    }
    if !acc.vectorizable {
        return Err("its body has operations vector code does not handle yet (conversions to or from `f64`, `f64` `erf` and `pow`, integer division)".into());
    }
    let region = m.entry_block(stage, 0);
    let inner_var = *m.block(region).args.last().expect("checked: rank >= 2");
    let inner: HashSet<ValueId> = [inner_var].into();
    let body = m.entry_block(red, 0);
    let rvars: HashSet<ValueId> = reduction_vars_under(m, body)
        .into_iter()
        .chain(m.block(body).args.iter().copied())
        .collect();
    for r in reads_under(m, body) {
        let d = m.op(r);
        if d.attr("boundary").is_some()
            && d.operands[1..].iter().any(|&i| depends_on(m, i, &inner))
            && column_offsets(m, r, inner_var, &rvars).is_none()
        {
            return Err(format!(
                "`{}` is read through its boundary mode along the innermost dim at an index that is not the innermost variable plus reduction variables and invariants",
                array_name(m, d.operands[0])
            ));
        }
    }
    Ok(())
}

/// For a read whose last index is `j + e` — `j` the stage's innermost
/// variable, `e` a sum of reduction variables (`rvars`, each with a unit
/// coefficient) and values invariant in both — the terms of `e`; `None`
/// when the read's other indices depend on `j` or its last one is not of
/// that form. The columns where such a read is inside its array for every
/// value of the reduction variables are an interval, which is how
/// `reduce_order = vector` reads through a boundary mode: plain vector
/// loads inside, the general code at the edges.
pub fn column_offsets(
    m: &Module,
    read: OpId,
    inner_var: ValueId,
    rvars: &HashSet<ValueId>,
) -> Option<Vec<Term>> {
    let inner: HashSet<ValueId> = [inner_var].into();
    let idx = &m.op(read).operands[1..];
    let (last, rest) = idx.split_last()?;
    if rest.iter().any(|&i| depends_on(m, i, &inner)) {
        return None;
    }
    let terms = split_affine(m, *last, inner_var, &HashSet::new())?;
    terms
        .iter()
        .all(|&(t, _)| rvars.contains(&t) || !depends_on(m, t, rvars))
        .then_some(terms)
}

/// How the reads of a hoistable reduction's body walk memory along the
/// stage's innermost variable: whether every read is either invariant in it
/// or indexed by it in its last dim only, and how many are of the latter
/// kind and walk a non-last dim along a reduction variable today.
pub struct ReductionAccess {
    /// Every read is invariant along, or unit-stride in, the innermost variable.
    pub unit_stride: bool,
    /// The body is what the vectorizer handles (loads, plain arithmetic,
    /// float division, widening casts, lane-wise math; no integer division
    /// yet).
    pub vectorizable: bool,
    /// Reads whose non-last dims follow the reduction variables (a column walk
    /// in the reduction-innermost order).
    pub strided_today: Vec<String>,
}

/// See [`ReductionAccess`].
pub fn reduction_access(m: &Module, stage: OpId, red: OpId) -> ReductionAccess {
    let region = m.entry_block(stage, 0);
    let inner_var = *m.block(region).args.last().expect("checked: rank >= 2");
    let inner: HashSet<ValueId> = [inner_var].into();
    let body = m.entry_block(red, 0);
    let rvars: HashSet<ValueId> = m.block(body).args.iter().copied().collect();
    let mut unit_stride = true;
    let mut strided_today = Vec::new();
    for r in reads_under(m, body) {
        let idx = &m.op(r).operands[1..];
        let Some((last, rest)) = idx.split_last() else {
            continue;
        };
        if rest.iter().any(|&i| depends_on(m, i, &inner)) {
            unit_stride = false;
        }
        if depends_on(m, *last, &inner) {
            if split_affine(m, *last, inner_var, &rvars).is_none()
                && split_affine(m, *last, inner_var, &HashSet::new()).is_none()
            {
                unit_stride = false;
            }
            if rest.iter().any(|&i| depends_on(m, i, &rvars)) {
                strided_today.push(array_name(m, m.op(r).operands[0]));
            }
        }
    }
    // what the vectorizer takes today: loads, stores and plain arithmetic
    // at the accumulator's lane count, each value 32 to 128 bits wide
    let lanes = 16 / m.ty(m.result(stage)).elem().size_bytes().max(1);
    let mut vectorizable = true;
    m.walk_block(body, &mut |op| {
        let d = m.op(op);
        let read = d.opcode == Opcode::Pj(PjOp::Read);
        // index arithmetic and constants stay scalar (hoisted, broadcast);
        // only ops on data become vector ops
        if !read
            && d.opcode != Opcode::Pj(PjOp::Yield)
            && !d.results.iter().any(|&r| reads_data(m, r))
        {
            return;
        }
        // an index varying along the vector's lanes cannot enter data as a
        // broadcast scalar
        vectorizable &= read
            || d.operands
                .iter()
                .all(|&o| reads_data(m, o) || !depends_on(m, o, &inner));
        vectorizable &= d
            .results
            .iter()
            .all(|&r| (4..=16).contains(&(lanes * m.ty(r).elem().size_bytes())));
        vectorizable &= match d.opcode {
            Opcode::Arith(a) => {
                matches!(
                    a,
                    ArithOp::Add
                        | ArithOp::Sub
                        | ArithOp::Mul
                        | ArithOp::Min
                        | ArithOp::Max
                        | ArithOp::Neg
                        | ArithOp::Constant
                ) || (a == ArithOp::Div && d.results.iter().all(|&r| m.ty(r).elem().is_float()))
            }
            Opcode::Math(f) => d
                .results
                .iter()
                .all(|&r| crate::dialects::math::lanewise(f, m.ty(r).elem())),
            Opcode::Pj(PjOp::Read | PjOp::Yield | PjOp::Size) => true,
            _ => false,
        } || is_vector_cast(m, op);
    });
    ReductionAccess {
        unit_stride,
        vectorizable,
        strided_today,
    }
}

/// Whether `op` is a cast vector code performs lane by lane
/// (`dialects::vector::cast_supported`), such as `i32(a[k])` of a `u8`.
fn is_vector_cast(m: &Module, op: OpId) -> bool {
    let d = m.op(op);
    d.opcode == Opcode::Arith(ArithOp::Cast)
        && match (
            m.ty(d.operands[0]).as_scalar(),
            m.ty(d.results[0]).as_scalar(),
        ) {
            (Some(from), Some(to)) => crate::dialects::vector::cast_supported(from, to),
            _ => false,
        }
}

/// A parameter's or stage's name.
pub fn array_name(m: &Module, v: ValueId) -> String {
    match m.def_op(v) {
        Some(op) if m.op(op).opcode == Opcode::Pj(PjOp::Stage) => stage_name(m, op),
        _ => m.value(v).name.clone().unwrap_or_else(|| "?".into()),
    }
}

/// The stages of a kernel, in order.
pub fn stages(m: &Module, kernel: OpId) -> Vec<OpId> {
    let kblock = m.entry_block(kernel, 0);
    m.block(kblock)
        .ops
        .iter()
        .copied()
        .filter(|&o| m.op(o).opcode == Opcode::Pj(PjOp::Stage))
        .collect()
}

/// The stages of `kernel` that read `array`.
pub fn readers(m: &Module, kernel: OpId, array: ValueId) -> Vec<OpId> {
    stages_and_updates(m, kernel)
        .into_iter()
        .filter(|&s| {
            reads_under(m, m.entry_block(s, 0))
                .iter()
                .any(|&r| m.op(r).operands[0] == array)
        })
        .collect()
}

/// The kernel's stages and updates (`pj.update`, which read like stages
/// but are never part of a group), in order.
fn stages_and_updates(m: &Module, kernel: OpId) -> Vec<OpId> {
    m.block(m.entry_block(kernel, 0))
        .ops
        .iter()
        .copied()
        .filter(|&o| matches!(m.op(o).opcode, Opcode::Pj(PjOp::Stage | PjOp::Update)))
        .collect()
}

/// The range of row offsets `c` at which `consumer` reads `producer` at
/// `producer[y + c, ...]`, `y` being the consumer's first variable; `None`
/// if some read is not of that form.
pub fn row_offsets(m: &Module, consumer: OpId, producer: ValueId) -> Option<(i64, i64)> {
    let region = m.entry_block(consumer, 0);
    let y = *m.block(region).args.first()?;
    let mut range: Option<(i64, i64)> = None;
    for r in reads_under(m, region) {
        let d = m.op(r);
        if d.operands[0] != producer {
            continue;
        }
        let c = offset_from(m, *d.operands.get(1)?, y)?;
        range = Some(match range {
            None => (c, c),
            Some((lo, hi)) => (lo.min(c), hi.max(c)),
        });
    }
    range
}

/// A producer computed per tile of a group root: the rows
/// `[y0 + lo, y1 + hi)` of a root tile `[y0, y1)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member {
    /// The producer stage.
    pub stage: OpId,
    /// First row needed, relative to the tile's first row.
    pub lo: i64,
    /// Rows needed past the tile's end.
    pub hi: i64,
}

/// Which stages read each array of a kernel, found once: growing a group
/// asks for every candidate's readers, and a scan of the kernel per
/// question made scheduling a chain of 400 stencils take seconds.
pub struct ReadIndex {
    readers: std::collections::HashMap<ValueId, Vec<OpId>>,
    results: HashSet<ValueId>,
}

impl ReadIndex {
    /// The index of `kernel` as it is now.
    pub fn of(m: &Module, kernel: OpId) -> ReadIndex {
        let mut readers: std::collections::HashMap<ValueId, Vec<OpId>> = Default::default();
        for s in stages_and_updates(m, kernel) {
            for r in reads_under(m, m.entry_block(s, 0)) {
                let list = readers.entry(m.op(r).operands[0]).or_default();
                if !list.contains(&s) {
                    list.push(s);
                }
            }
        }
        ReadIndex {
            readers,
            results: result_values(m, kernel),
        }
    }

    /// The stages that read `array`, in program order.
    pub fn readers(&self, array: ValueId) -> &[OpId] {
        self.readers.get(&array).map_or(&[], Vec::as_slice)
    }
}

/// The row ranges of `members` (producers, in program order) computed per
/// tile of `root`, or why that is illegal.
pub fn member_ranges(
    m: &Module,
    kernel: OpId,
    root: OpId,
    members: &[OpId],
) -> Result<Vec<Member>, String> {
    member_ranges_in(m, &ReadIndex::of(m, kernel), root, members)
}

/// [`member_ranges`] with the kernel's reads indexed already.
pub fn member_ranges_in(
    m: &Module,
    index: &ReadIndex,
    root: OpId,
    members: &[OpId],
) -> Result<Vec<Member>, String> {
    for &s in members.iter().chain([&root]) {
        if let Some(why) = recurrence_note(m, s) {
            return Err(why);
        }
    }
    let in_group: HashSet<OpId> = members.iter().copied().chain([root]).collect();
    let results = &index.results;
    let mut need: std::collections::HashMap<OpId, (i64, i64)> = [(root, (0, 0))].into();
    let mut out = Vec::new();
    for &p in members.iter().rev() {
        let pv = m.result(p);
        let name = stage_name(m, p);
        if results.contains(&pv) {
            return Err(format!("`{name}` is a result: it is stored whole"));
        }
        if m.block(m.entry_block(p, 0)).args.is_empty() {
            return Err(format!("`{name}` has no rows to tile"));
        }
        let mut range: Option<(i64, i64)> = None;
        for &q in index.readers(pv) {
            if !in_group.contains(&q) {
                return Err(format!(
                    "`{name}` is also read by `{}`, outside the group",
                    stage_name(m, q)
                ));
            }
            let Some(&(qlo, qhi)) = need.get(&q) else {
                return Err(format!(
                    "`{}` reads `{name}` but is computed before it",
                    stage_name(m, q)
                ));
            };
            let Some((clo, chi)) = row_offsets(m, q, pv) else {
                return Err(format!(
                    "`{}` reads `{name}` at rows that are not its own row plus a constant",
                    stage_name(m, q)
                ));
            };
            let r = (qlo + clo, qhi + chi);
            range = Some(match range {
                None => r,
                Some((lo, hi)) => (lo.min(r.0), hi.max(r.1)),
            });
        }
        let (lo, hi) = range.ok_or_else(|| format!("nothing in the group reads `{name}`"))?;
        need.insert(p, (lo, hi));
        out.push(Member { stage: p, lo, hi });
    }
    out.reverse();
    Ok(out)
}

/// Why a recurrence (a stage reading its own earlier elements) is computed
/// whole and in order, never tiled, fused or given another reduction
/// order; `None` for any other stage.
pub fn recurrence_note(m: &Module, stage: OpId) -> Option<String> {
    let (dim, _) = crate::dialects::pj::recurrence(m, stage)?;
    Some(format!(
        "`{}` is a recurrence along dim {dim}: it is computed whole, in order along that dim",
        stage_name(m, stage)
    ))
}

/// Whether the group of `root` and its one producer `mem` runs as a
/// sliding window: `root` reads `mem` only at its own column and its own
/// row plus a constant, both have two dims, no reductions and the
/// reference reduction order, and they cover the same columns. Then each
/// row of `mem` is computed once per tile, in the same innermost loop as
/// the row of `root` that first needs it, into a ring of `hi - lo + 1`
/// rows (`lower-stages`' `lower_sliding`).
pub fn sliding_window(m: &Module, root: OpId, mem: &Member) -> bool {
    StageSchedule::of(m, root).sliding && can_slide(m, root, mem).is_ok()
}

/// Why the producer `mem` of the group of `root` cannot be a sliding
/// window, if it cannot (see [`sliding_window`]).
pub fn can_slide(m: &Module, root: OpId, mem: &Member) -> Result<(), String> {
    let (rname, pname) = (stage_name(m, root), stage_name(m, mem.stage));
    let (rreg, preg) = (m.entry_block(root, 0), m.entry_block(mem.stage, 0));
    let (rvars, pvars) = (&m.block(rreg).args, &m.block(preg).args);
    if rvars.len() != 2 || pvars.len() != 2 {
        return Err(format!(
            "`{rname}` and `{pname}` need two dims each (rows and columns)"
        ));
    }
    for (s, reg) in [(root, rreg), (mem.stage, preg)] {
        if StageSchedule::of(m, s).reduce != ReduceOrder::Inner
            || !reduction_vars_under(m, reg).is_empty()
        {
            return Err(format!("`{}` has a reduction", stage_name(m, s)));
        }
    }
    let pv = m.result(mem.stage);
    let same_column = reads_under(m, rreg)
        .into_iter()
        .filter(|&r| m.op(r).operands[0] == pv)
        .all(|r| {
            let d = m.op(r);
            d.operands.len() == 3
                && offset_from(m, d.operands[1], rvars[0]).is_some()
                && d.operands[2] == rvars[1]
        });
    if !same_column {
        return Err(format!(
            "`{rname}` reads `{pname}` at other columns than its own"
        ));
    }
    // the same columns: the same bounds (stage operands are lo, hi per dim)
    let (rb, pb) = (&m.op(root).operands, &m.op(mem.stage).operands);
    let same = |i: usize| m.same_computation(rb[i], pb[i]);
    if rb.len() != 4 || pb.len() != 4 || !same(2) || !same(3) {
        return Err(format!("`{pname}` and `{rname}` cover different columns"));
    }
    Ok(())
}

/// The values a kernel returns.
pub fn result_values(m: &Module, kernel: OpId) -> HashSet<ValueId> {
    let kblock = m.entry_block(kernel, 0);
    let ret = *m.block(kblock).ops.last().expect("verified");
    m.op(ret).operands.iter().copied().collect()
}

/// The largest legal group rooted at `root`: producers not yet taken,
/// added while every reader is in the group.
pub fn grow_group(m: &Module, kernel: OpId, root: OpId, taken: &HashSet<OpId>) -> Vec<OpId> {
    let all = stages(m, kernel);
    let pos = all
        .iter()
        .position(|&s| s == root)
        .expect("root is a stage");
    let index = ReadIndex::of(m, kernel);
    let order: std::collections::HashMap<OpId, usize> =
        all.iter().enumerate().map(|(i, &s)| (s, i)).collect();
    let mut members: Vec<OpId> = Vec::new();
    loop {
        let mut grew = false;
        for &p in all[..pos].iter().rev() {
            if members.contains(&p) || taken.contains(&p) {
                continue;
            }
            let mut trial = members.clone();
            trial.push(p);
            trial.sort_by_key(|s| order[s]);
            if member_ranges_in(m, &index, root, &trial).is_ok() {
                members = trial;
                grew = true;
            }
        }
        if !grew {
            return members;
        }
    }
}

// ---- the pass --------------------------------------------------------------

/// One decision, for `pj explain`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The kernel.
    pub kernel: String,
    /// The stage.
    pub stage: String,
    /// What was chosen.
    pub choice: String,
    /// Why.
    pub reason: String,
}

/// The `schedule` pass: chooses schedules for stages that have none.
pub struct AutoSchedule {
    /// Cache sizes and the rest of the target.
    pub profile: Profile,
    /// The width of the vectors code will be generated with (the
    /// backend's and target's): the register blocks of `lower-stages`
    /// depend on it, and how much of a cache block they read per step.
    pub vector_bits: u32,
    /// What was decided, in order.
    pub decisions: Vec<Decision>,
}

impl AutoSchedule {
    /// For the machine the compiler runs on.
    pub fn host() -> AutoSchedule {
        AutoSchedule::for_profile(Profile::host())
    }

    /// For a given target profile.
    pub fn for_profile(profile: Profile) -> AutoSchedule {
        AutoSchedule {
            profile,
            vector_bits: super::vectorize::DEFAULT_WIDTH as u32,
            decisions: Vec::new(),
        }
    }

    fn decide(&mut self, m: &mut Module, kernel: OpId) {
        let kname = crate::dialects::signature(m, kernel).name;
        let note = |stage: &str, choice: String, reason: String| Decision {
            kernel: kname.clone(),
            stage: stage.to_string(),
            choice,
            reason,
        };
        let mut decisions = Vec::new();
        let all = stages(m, kernel);
        // what the schedule block fixed, the scheduler leaves alone
        for &s in &all {
            if user_scheduled(m, s) {
                let d = m.op(s);
                let written: Vec<String> = d
                    .attrs
                    .iter()
                    .filter(|(k, _)| SCHEDULE_ATTRS.contains(&k.as_str()))
                    .map(|(k, v)| format!("{k} = {v}"))
                    .collect();
                let why = if d.attr(QUANTIZED).is_some() {
                    "made by the quantize pass: stored whole, for the integer product to read in cache blocks"
                } else {
                    "as the kernel's schedule block says"
                };
                decisions.push(note(&stage_name(m, s), written.join(", "), why.into()));
            }
        }
        // 1. reduction order
        for &s in &all {
            if m.op(s).attr(REDUCE_ORDER).is_some() {
                continue;
            }
            let name = stage_name(m, s);
            match hoistable_reduction(m, s) {
                Ok(red) => {
                    let acc = reduction_access(m, s, red);
                    if acc.unit_stride && acc.vectorizable && vector_accumulable(m, s, red).is_ok()
                    {
                        m.op_mut(s)
                            .set_attr(REDUCE_ORDER, Attr::Str("vector".into()));
                        decisions.push(note(
                            &name,
                            "reduction over blocks of vectors, accumulators in registers".into(),
                            format!(
                                "every read of the reduction is the same for a row or contiguous along `{name}`'s last dim: blocks of 6 rows x 2 vectors (or 4 vectors of one row) accumulate in registers over the whole reduction, each load shared by the rows, nothing goes back to memory until the end"
                            ),
                        ));
                    } else if acc.unit_stride && acc.vectorizable {
                        let why = if acc.strided_today.is_empty() {
                            "the innermost loop then walks every array along its last dim and vectorizes".to_string()
                        } else {
                            format!(
                                "reduction-innermost order walks `{}` across rows, a cache line per element; accumulating in `{name}` walks it along rows and vectorizes",
                                acc.strided_today.join("`, `")
                            )
                        };
                        m.op_mut(s)
                            .set_attr(REDUCE_ORDER, Attr::Str("outer".into()));
                        decisions.push(note(&name, "reduction loops outside".into(), why));
                    } else {
                        let why = if acc.unit_stride {
                            "its body has operations vector code does not handle yet (casts, math functions, integer division), and a scalar accumulator in memory costs more than it saves"
                        } else {
                            "hoisting it would walk an array across rows"
                        };
                        decisions.push(note(&name, "reduction loop innermost".into(), why.into()));
                    }
                }
                Err(why) if m.op(s).regions.iter().any(|_| has_reduce(m, s)) => {
                    decisions.push(note(&name, "reduction loop innermost".into(), why));
                }
                Err(_) => {}
            }
        }
        // 1b. updates: private copies per thread, or one thread
        let updates: Vec<OpId> = m
            .block(m.entry_block(kernel, 0))
            .ops
            .iter()
            .copied()
            .filter(|&o| m.op(o).opcode == Opcode::Pj(PjOp::Update))
            .collect();
        for u in updates {
            let (scatter, why) = scatter_choice(m, u);
            let name = array_name(m, m.op(u).operands[0]);
            m.op_mut(u)
                .set_attr(crate::dialects::pj::SCATTER, Attr::Str(scatter.into()));
            let choice = match scatter {
                "private" => "update with a private copy per thread, merged in order",
                _ => "update on one thread, in order",
            };
            decisions.push(note(&name, choice.into(), why));
        }
        // 2. cache blocks for reductions over blocks of rows
        for &s in &all {
            let sc = StageSchedule::of(m, s);
            if sc.reduce != ReduceOrder::Vector || sc.cache_block.is_some() {
                continue;
            }
            let Ok(red) = hoistable_reduction(m, s) else {
                continue;
            };
            if !rows_share_reduction(m, s, red) {
                continue;
            }
            let Some(packed_bytes) = panel_elem_bytes(m, s, red) else {
                continue;
            };
            let name = stage_name(m, s);
            let esize = m.ty(m.result(s)).elem().size_bytes().max(1) as i64;
            let budget = (self.profile.cache.l2_bytes * 3 / 8) as i64;
            // the bytes of the rows' operand a register block reads per step
            let row_bytes = row_operand_elem_bytes(m, s, red).unwrap_or(packed_bytes) as i64;
            let k = chunk_steps(
                self.profile.cache.l1_bytes as i64,
                super::lower_stages::ROW_BLOCK * row_bytes,
            );
            let block = cache_block_for(budget, esize, k);
            m.op_mut(s).set_attr(BLOCK_K, Attr::Int(block.k));
            m.op_mut(s).set_attr(BLOCK_COLS, Attr::Int(block.cols));
            decisions.push(note(
                &name,
                format!(
                    "cache blocks of {} reduction steps x {} columns",
                    block.k, block.cols
                ),
                format!(
                    "the operand the rows share would otherwise come from memory once per block of rows; a block of it ({} x {} elements, three eighths of L2: {budget} bytes) is packed once per panel of rows, in the order the register blocks read it, and stays in L2 while every row block of the panel reads it; a chunk's steps of a register block's rows stay in L1 meanwhile; `{name}`'s accumulators go through its buffer between chunks (the same additions in the same order)",
                    block.k, block.cols
                ),
            ));
        }
        // 3. fusion groups, from the last stage back. Stages the schedule
        // block placed are not pulled into another group: those computed at
        // or stored whole, and the roots of its own groups — a stage it
        // tiles, or computes others at (pulled in, `blurred` would nest
        // `bx.compute_at(blurred)` inside `out`'s group, which lowering
        // cannot do). Nor is a product in cache blocks: computed per tile of
        // its reader's rows, it would pack its shared operand again for
        // every tile (two chained 1024³ products: 330 ms fused, 38 stored)
        let user_roots: HashSet<String> = all
            .iter()
            .filter_map(|&p| StageSchedule::of(m, p).compute_at)
            .collect();
        let mut taken: HashSet<OpId> = all
            .iter()
            .copied()
            .filter(|&s| {
                let sc = StageSchedule::of(m, s);
                sc.compute_at.is_some()
                    || sc.compute_root
                    || sc.tile.is_some()
                    || sc.cache_block.is_some()
                    || user_roots.contains(&stage_name(m, s))
            })
            .collect();
        // roots the schedule block gave producers but no tile size
        for &root in &all {
            let name = stage_name(m, root);
            let has_members = all
                .iter()
                .any(|&p| StageSchedule::of(m, p).compute_at.as_deref() == Some(name.as_str()));
            if has_members && StageSchedule::of(m, root).tile.is_none() {
                let budget = self.profile.cache.l2_bytes / 2;
                m.op_mut(root)
                    .set_attr(TILE_BYTES, Attr::Int(budget as i64));
                decisions.push(note(
                    &name,
                    format!("tiles of rows fitting {budget} bytes"),
                    "the schedule block computes producers at this stage without a tile size: half of L2".into(),
                ));
            }
        }
        for &root in all.iter().rev() {
            if taken.contains(&root) || StageSchedule::of(m, root).tile.is_some() {
                continue;
            }
            let members = grow_group(m, kernel, root, &taken);
            if members.is_empty() {
                continue;
            }
            let ranges = member_ranges(m, kernel, root, &members).expect("grown legally");
            let halo = ranges.iter().any(|r| r.lo != 0 || r.hi != 0);
            let (budget, level) = if halo {
                (self.profile.cache.l2_bytes / 2, "L2")
            } else {
                (self.profile.cache.l1_bytes / 2, "L1")
            };
            let root_name = stage_name(m, root);
            m.op_mut(root)
                .set_attr(TILE_BYTES, Attr::Int(budget as i64));
            let names: Vec<String> = members.iter().map(|&p| stage_name(m, p)).collect();
            for &p in &members {
                m.op_mut(p)
                    .set_attr(COMPUTE_AT, Attr::Str(root_name.clone()));
                taken.insert(p);
            }
            let travel = if names.len() == 1 {
                "never travels"
            } else {
                "never travel"
            };
            let why = if halo {
                format!(
                    "`{}` {travel} to memory; tiles of rows fit half of {level} ({budget} bytes), so the halo rows recomputed per tile are a small fraction",
                    names.join("`, `")
                )
            } else {
                format!(
                    "`{}` {travel} to memory; with no halo, tiles are sized to half of {level} ({budget} bytes) so each row is produced and consumed while it sits there",
                    names.join("`, `")
                )
            };
            let (choice, why) = match ranges.as_slice() {
                [mem] if sliding_window(m, root, mem) => (
                    format!(
                        "tiles of rows, `{}` as a sliding window of {} rows",
                        names[0],
                        mem.hi - mem.lo + 1
                    ),
                    format!(
                        "`{}` never travels to memory: each of its rows is computed once per tile, in the same loop over the columns as the row of `{root_name}` that first reads it, into a ring of {} rows (the first {} recomputed per tile)",
                        names[0],
                        mem.hi - mem.lo + 1,
                        mem.hi - mem.lo
                    ),
                ),
                _ => (
                    format!("tiles of rows computing `{}` per tile", names.join("`, `")),
                    why,
                ),
            };
            decisions.push(note(&root_name, choice, why));
        }
        self.decisions.extend(decisions);
    }
}

/// How update `u` runs: `"private"` copies per thread where the combiner's
/// order cannot change the result and the stage is small enough to copy,
/// else `"serial"`; with the reason.
fn scatter_choice(m: &Module, u: OpId) -> (&'static str, String) {
    let d = m.op(u);
    let kind = d.attr("kind").and_then(Attr::as_str).unwrap_or("sum");
    let elem = m.ty(d.results[0]).elem();
    let mut stage = m.def_op(d.operands[0]);
    while let Some(s) = stage.filter(|&s| m.op(s).opcode == Opcode::Pj(PjOp::Update)) {
        stage = m.def_op(m.op(s).operands[0]);
    }
    let Some(stage) = stage else {
        return ("serial", "the updated value is not a stage".into());
    };
    if !StageSchedule::of(m, stage).parallel {
        return ("serial", "the schedule block says `parallel(false)`".into());
    }
    if kind == "sum" && elem.is_float() {
        return (
            "serial",
            "float sums depend on their order: per-thread copies merged at the end would round differently from the reference order".into(),
        );
    }
    let mut elements: i64 = 1;
    for pair in m.op(stage).operands.chunks(2) {
        match (int_constant(m, pair[0]), int_constant(m, pair[1])) {
            (Some(lo), Some(hi)) => elements = elements.saturating_mul((hi - lo).max(0)),
            _ => {
                return (
                    "serial",
                    "its size is not known when compiling: a copy per thread could be as large as the input".into(),
                );
            }
        }
    }
    let bytes = elements.saturating_mul(elem.size_bytes() as i64);
    if bytes > MAX_PRIVATE_COPY_BYTES {
        return (
            "serial",
            format!("a copy per thread would be {bytes} bytes, more than {MAX_PRIVATE_COPY_BYTES}"),
        );
    }
    (
        "private",
        format!(
            "`{kind}` of {elem} gives the same result in any order; a copy per thread ({bytes} bytes) stays in that core's cache, and merging the copies costs {elements} elements per thread, against at least {} points each (atomics would serialize the threads on the busiest elements)",
            super::lower_stages::POINTS_PER_COPY
        ),
    )
}

/// The largest private copy of an updated stage per thread: it should
/// stay in the core's L2 beside what the update reads.
const MAX_PRIVATE_COPY_BYTES: i64 = 1 << 20;

/// Reduction steps per cache block at most: the accumulators go through
/// memory between chunks, and the longer the chunk the rarer.
pub const CACHE_BLOCK_K: i64 = 512;

/// Steps per chunk of the reduction: as many as keep a register block's
/// rows of the operand it broadcasts (`step_bytes` per step: 6 rows of
/// `a[i, k]`) in a fifth of L1 while the packed panels of the other
/// stream past them from L2 — a multiple of 16, at least 64, at most
/// [`CACHE_BLOCK_K`]. On a 48 KiB L1: 400 steps of `f32` (BLIS takes 384
/// on Skylake-X), 512 of `u8`. matmul 1024³ with LLVM, in-process
/// alternation: 384 steps 6% faster than 128, 512 level with 384; the
/// 8-bit product 6-8% faster at 512 than at 256.
pub fn chunk_steps(l1_bytes: i64, step_bytes: i64) -> i64 {
    let fit = l1_bytes / 5 / step_bytes.max(1);
    (fit / 16 * 16).clamp(64, CACHE_BLOCK_K)
}

/// The cache block of `k` steps whose columns of elements of `elem_bytes`
/// fit `budget` bytes (a multiple of 16 columns, at least 16).
pub fn cache_block_for(budget: i64, elem_bytes: i64, k: i64) -> CacheBlock {
    let cols = budget / (k.max(1) * elem_bytes.max(1));
    CacheBlock {
        k,
        cols: (cols / 16 * 16).max(16),
    }
}

/// A stage's last two variables, its rows and its columns, each as a set
/// for [`depends_on`]; `None` below rank 2.
fn row_and_column(m: &Module, stage: OpId) -> Option<(HashSet<ValueId>, HashSet<ValueId>)> {
    match m.block(m.entry_block(stage, 0)).args.as_slice() {
        [.., row, col] => Some(([*row].into(), [*col].into())),
        _ => None,
    }
}

/// Whether several rows of `stage` (its second-to-last variable) can share
/// one pass of its hoisted reduction `red`: the reduction's range and the
/// stage's other ops do not depend on the row.
pub fn rows_share_reduction(m: &Module, stage: OpId, red: OpId) -> bool {
    let Some((row, _)) = row_and_column(m, stage) else {
        return false;
    };
    let region = m.entry_block(stage, 0);
    let ops_ok = m.block(region).ops.iter().all(|&o| {
        o == red
            || m.op(o).opcode == Opcode::Pj(PjOp::Yield)
            || !m.op(o).results.iter().any(|&r| depends_on(m, r, &row))
    });
    ops_ok && !m.op(red).operands.iter().any(|&b| depends_on(m, b, &row))
}

/// Whether the reduction `red` of `stage` reads an array along both the
/// stage's columns and the reduction but not along its rows (matmul's
/// `b[k, j]`): an operand every block of rows reads whole, which a cache
/// block keeps in cache. (conv2d's filter depends on no column, its image
/// on the row: nothing to block.)
pub fn reads_a_panel(m: &Module, stage: OpId, red: OpId) -> bool {
    panel_elem_bytes(m, stage, red).is_some()
}

/// The widest element a cache-blocked stage's rows read along the
/// reduction but not along the columns (matmul's `a[i, k]`: what a
/// register block broadcasts), if any.
pub fn row_operand_elem_bytes(m: &Module, stage: OpId, red: OpId) -> Option<usize> {
    widest_reduction_read(m, stage, red, Along::Rows)
}

/// The widest element of the panels `reads_a_panel` finds (what the
/// cache blocks pack), if any.
pub fn panel_elem_bytes(m: &Module, stage: OpId, red: OpId) -> Option<usize> {
    widest_reduction_read(m, stage, red, Along::Columns)
}

/// Which of a stage's last two variables a read follows besides the
/// reduction's (and not the other).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Along {
    Rows,
    Columns,
}

/// The widest element of the reads in reduction `red` of `stage` whose
/// indices follow the reduction and `along`, not the other of the
/// stage's rows and columns.
fn widest_reduction_read(m: &Module, stage: OpId, red: OpId, along: Along) -> Option<usize> {
    let (row, col) = row_and_column(m, stage)?;
    let (with, without) = match along {
        Along::Rows => (row, col),
        Along::Columns => (col, row),
    };
    let body = m.entry_block(red, 0);
    let rvars: HashSet<ValueId> = m.block(body).args.iter().copied().collect();
    reads_under(m, body)
        .into_iter()
        .filter(|&r| {
            let idx = &m.op(r).operands[1..];
            let follows = |set: &HashSet<ValueId>| idx.iter().any(|&i| depends_on(m, i, set));
            follows(&with) && follows(&rvars) && !follows(&without)
        })
        .map(|r| m.ty(m.op(r).operands[0]).elem().size_bytes())
        .max()
}

fn has_reduce(m: &Module, stage: OpId) -> bool {
    !reduction_vars_under(m, m.entry_block(stage, 0)).is_empty()
}

impl Pass for AutoSchedule {
    fn name(&self) -> &'static str {
        "schedule"
    }

    fn run(&mut self, m: &mut Module) -> Result<bool, PassError> {
        let before = self.decisions.len();
        for k in crate::dialects::pj::pj_kernels(m) {
            self.decide(m, k);
        }
        Ok(self.decisions[before..]
            .iter()
            .any(|d| !d.choice.contains("innermost")))
    }
}

// ---- the schedule block's legality -------------------------------------------

/// Checks that what each kernel's `schedule` block asks is possible, with a
/// diagnostic at the directive when it is not (the front end already
/// checked names and arguments). Runs on the module `front` produced.
pub fn check_directives(program: &pj_lang::hir::Program, m: &Module) -> Vec<pj_lang::Diagnostic> {
    use pj_lang::hir::DirectiveKind;
    let mut diags = Vec::new();
    for k in &program.kernels {
        if k.schedule.is_empty() {
            continue;
        }
        let Some(kop) = m.kernel(&k.name) else {
            continue;
        };
        let by_name = |name: &str| {
            stages(m, kop)
                .into_iter()
                .find(|&s| stage_name(m, s) == name)
        };
        let mut roots: Vec<usize> = Vec::new();
        for d in &k.schedule {
            let sname = &k.stages[d.stage].name;
            let Some(op) = by_name(sname) else { continue };
            let reorders = match &d.kind {
                DirectiveKind::Reduce(order) => order != "inner",
                DirectiveKind::ComputeAt(_)
                | DirectiveKind::TileRows(_)
                | DirectiveKind::TileBytes(_)
                | DirectiveKind::Sliding(true)
                | DirectiveKind::CacheBlock { .. } => true,
                _ => false,
            };
            if let (true, Some(why)) = (reorders, recurrence_note(m, op)) {
                diags.push(
                    pj_lang::Diagnostic::error(format!("`{sname}` cannot take this directive"), d.span)
                        .with_label(why)
                        .with_help("a recurrence takes `parallel(...)`, `vectorize(...)` and `compute_root()`; see docs/language.md#recurrences"),
                );
                continue;
            }
            match &d.kind {
                DirectiveKind::Reduce(order) if order != "inner" => {
                    let why = hoistable_reduction(m, op).and_then(|red| {
                        if order == "vector" {
                            vector_accumulable(m, op, red)
                        } else {
                            Ok(())
                        }
                    });
                    if let Err(why) = why {
                        diags.push(
                            pj_lang::Diagnostic::error(
                                format!("`{sname}` cannot use reduction order `{order}`"),
                                d.span,
                            )
                            .with_label(why)
                            .with_help(
                                "`reduce(inner)` always works; see docs/language.md#schedules",
                            ),
                        );
                    }
                }
                DirectiveKind::CacheBlock { .. } => {
                    let order = k.schedule.iter().find_map(|o| match &o.kind {
                        DirectiveKind::Reduce(order) if o.stage == d.stage => Some(order.as_str()),
                        _ => None,
                    });
                    let why = match order {
                        Some(o) if o != "vector" => Err(format!(
                            "a cache block is how `reduce(vector)` runs; the schedule block asks for `reduce({o})`"
                        )),
                        _ => hoistable_reduction(m, op).and_then(|red| {
                            vector_accumulable(m, op, red)?;
                            if rows_share_reduction(m, op, red) {
                                Ok(())
                            } else {
                                Err("its rows do not share one pass of the reduction (its range or other ops depend on the row), so there are no blocks of rows to share a cache block".into())
                            }
                        }),
                    };
                    if let Err(why) = why {
                        diags.push(
                            pj_lang::Diagnostic::error(
                                format!("`{sname}` cannot run its reduction in cache blocks"),
                                d.span,
                            )
                            .with_label(why)
                            .with_help("see docs/language.md#schedules"),
                        );
                    }
                }
                DirectiveKind::ComputeAt(r) if !roots.contains(r) => roots.push(*r),
                DirectiveKind::Sliding(true) => {
                    let producers: Vec<OpId> = k
                        .schedule
                        .iter()
                        .filter(|p| p.kind == DirectiveKind::ComputeAt(d.stage))
                        .filter_map(|p| by_name(&k.stages[p.stage].name))
                        .collect();
                    let why = match producers.as_slice() {
                        [p] => {
                            member_ranges(m, kop, op, &[*p]).and_then(|r| can_slide(m, op, &r[0]))
                        }
                        _ => Err(format!(
                            "a sliding window needs exactly one producer computed at `{sname}` in the schedule block"
                        )),
                    };
                    if let Err(why) = why {
                        diags.push(
                            pj_lang::Diagnostic::error(
                                format!(
                                    "`{sname}` cannot compute its producer as a sliding window"
                                ),
                                d.span,
                            )
                            .with_label(why)
                            .with_help(
                                "`sliding(false)` always works; see docs/language.md#schedules",
                            ),
                        );
                    }
                }
                _ => {}
            }
        }
        for r in roots {
            let rname = &k.stages[r].name;
            let Some(root) = by_name(rname) else { continue };
            let group: Vec<&pj_lang::hir::Directive> = k
                .schedule
                .iter()
                .filter(|d| d.kind == DirectiveKind::ComputeAt(r))
                .collect();
            let mut members: Vec<OpId> = group
                .iter()
                .filter_map(|d| by_name(&k.stages[d.stage].name))
                .collect();
            let all = stages(m, kop);
            members.sort_by_key(|s| all.iter().position(|x| x == s));
            if let Err(why) = member_ranges(m, kop, root, &members) {
                diags.push(
                    pj_lang::Diagnostic::error(
                        format!("cannot compute per tile of rows of `{rname}`"),
                        group[0].span,
                    )
                    .with_label(why)
                    .with_help("compute_at needs every reader of the producer in the group, reading it at its own row plus a constant"),
                );
            }
        }
    }
    diags
}
