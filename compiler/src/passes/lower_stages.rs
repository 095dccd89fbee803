//! Lowers each `pj.kernel` to loop nests over buffers: the `func`, `loop`
//! and `mem` dialects that the native backends consume.
//!
//! For a kernel `k` it makes two `func.func`s:
//!
//! - `k` itself. Its arguments are the parameters (arrays become buffers)
//!   followed by one caller-allocated output buffer per result. The prologue
//!   binds every size from the parameters' extents, checks repeated sizes
//!   and fixed extents, and checks each output buffer's shape, all before
//!   anything is written. Each intermediate stage becomes a `mem.alloc` of
//!   its domain's extents filled by a loop nest (one `loop.for` per dim, in
//!   absolute coordinates, the store subtracting the domain's origin); each
//!   result stage fills its output buffer the same way. A reduction becomes
//!   nested `loop.for`s carrying the accumulator, folding in index order
//!   exactly as the interpreter does. Boundary modes become index
//!   arithmetic (`clamp`: min/max; `wrap`: Euclidean remainder; `mirror`:
//!   reflection with period 2n) feeding a load that reads zero outside the
//!   buffer, which also gives the documented zero for an empty array.
//!   Intermediates are freed before `func.return`.
//! - `k.shape` (`shape_of = "k"`): the same prologue, then the result
//!   extents stored into one flat `buffer i64[?]`, so a caller can allocate
//!   the outputs first.
//!
//! Every check reports the same message as the interpreter's corresponding
//! error, so the two forms are interchangeable to a user.
//!
//! It realizes what the `schedule` pass decided (and the kernel's schedule
//! block): a group root and its producers run tile by tile of rows, each
//! producer into scratch holding just the rows of the tile (halo rows
//! recomputed per tile) or, for one producer read at the root's own
//! column, as a sliding window: a ring of rows, each row computed once in
//! the same column loop as the root's row that first reads it
//! ([`Lowerer::lower_sliding`]); reductions in the order chosen; innermost
//! loops split around their boundary-mode edges so the interior can
//! vectorize. Vectorization itself is a later pass.
//!
//! Requires: verified `pj`-dialect kernels. Guarantees: no `pj` op remains;
//! running a lowered kernel gives the results of the original bit for bit
//! (tested on every example, every user schedule, and sliding windows of
//! every shape at sizes below the window). Cost: linear in the kernel's
//! size.

use super::schedule::{self, Member, ReduceOrder, StageSchedule, Tile};
use super::{Pass, PassError};
use crate::dialects::func::status;
use crate::dialects::{ArithOp, FuncOp, LoopOp, MemOp, Opcode, PjOp, VectorOp, arith::Scalar};
use crate::ir::{Attr, BlockId, Dim, Loc, Module, OpId, OpSpec, ScalarType, Type, ValueId};
use crate::target::DotProducts;
use pj_lang::types::Boundary;
use std::collections::HashMap;

mod recurrence;
mod update;
pub use update::POINTS_PER_COPY;

/// The tile budget of a group root whose schedule names producers but no
/// tile size (the `schedule` pass normally chooses one from the profile).
const DEFAULT_TILE_BYTES: i64 = 1 << 20;

/// Elements a chunk of a parallel loop computes at least: a chunk of
/// 2^15 simple elements takes some 10-30 µs here, several times what
/// handing it to another worker costs, so smaller loops run on the caller.
const MIN_PARALLEL_ELEMENTS: i64 = 1 << 15;

/// The `lower-stages` pass.
pub struct LowerStages {
    /// Bits per vector of the register blocks of `reduce_order = vector`
    /// stages (the backend's and target's width).
    pub vector_bits: u32,
    /// The `vector.dot4` forms the backend makes one instruction of: a
    /// cache-blocked `u8`/`i8` matrix product of such a form takes four
    /// steps of its reduction per `dot4` ([`Lowerer::dot_plan`]).
    pub dot_products: DotProducts,
    /// The backend converts binary16 itself (`lower-quant`'s `keep_f16`).
    pub native_f16: bool,
}

impl Default for LowerStages {
    fn default() -> LowerStages {
        LowerStages {
            vector_bits: super::vectorize::DEFAULT_WIDTH as u32,
            dot_products: DotProducts::NONE,
            native_f16: false,
        }
    }
}

impl Pass for LowerStages {
    fn name(&self) -> &'static str {
        "lower-stages"
    }

    fn run(&mut self, m: &mut Module) -> Result<bool, PassError> {
        // 16-bit floats become f32 arithmetic and conversions, and `quant`
        // ops (IR read from text may hold them) `arith`, first
        super::Pass::run(&mut super::lower_half::LowerHalf, m)?;
        let mut lower_quant = super::lower_quant::LowerQuant {
            keep_f16: self.native_f16,
        };
        super::Pass::run(&mut lower_quant, m)?;
        let kernels = crate::dialects::pj::pj_kernels(m);
        for &k in &kernels {
            let main = Lowerer::new(m, k, false, self.vector_bits)
                .with_dot_products(self.dot_products)
                .build()?;
            let shape = Lowerer::new(m, k, true, self.vector_bits).build()?;
            m.insert_before(k, main);
            m.insert_before(k, shape);
            m.erase_op(k);
            mark_proven_reads(m, main);
        }
        Ok(!kernels.is_empty())
    }
}

/// Marks every read of `func` (just lowered) that has no promise yet and
/// does not read zero outside `{in_bounds_nonempty = true}`: each realizes
/// a read the front end proved inside its array for every size of at
/// least 1 (docs/language.md, "Bounds inference"; an unprovable read is a
/// compile error), at indices inside the range it proved (a vector of a
/// row's elements, a block of a packed operand). Backends may omit the
/// checks of these reads when no array argument has a zero extent (the
/// LLVM backend's dense copy); with a zero size, the proofs do not hold
/// and every read is checked.
fn mark_proven_reads(m: &mut Module, func: OpId) {
    let mut reads = Vec::new();
    m.walk_block(m.entry_block(func, 0), &mut |op| {
        let d = m.op(op);
        let read = matches!(
            d.opcode,
            Opcode::Mem(MemOp::Load) | Opcode::Vector(VectorOp::Load)
        );
        if read && d.attr("in_bounds").is_none() && d.attr("oob").is_none() {
            reads.push(op);
        }
    });
    for op in reads {
        m.op_mut(op)
            .set_attr(crate::dialects::mem::IN_BOUNDS_NONEMPTY, Attr::Bool(true));
    }
}

/// Reads lowered without boundary handling in an interior loop: per dim,
/// whether the index is the loop variable plus an offset.
type InteriorReads = HashMap<OpId, Vec<bool>>;

/// What the innermost loop of a stage computes per element.
#[derive(Clone)]
enum Body {
    /// The stage's value (its region).
    Value(BlockId),
    /// The reduction identity (`reduce_order = "outer"`: before the terms).
    Init(String),
    /// The element so far combined with one term of this reduction.
    Accumulate(OpId),
}

/// One stage's element computed in a shared innermost loop
/// ([`Lowerer::inner_loops`]): its innermost variable, result, variables
/// and what to store.
struct Fill {
    var: ValueId,
    result: ValueId,
    vars: Vec<ValueId>,
    body: Body,
}

/// Where a stage's elements live after lowering.
/// A sliding window's tiles have at least this many rows per row of its
/// warm-up (so at most a few percent of the producer's rows are computed
/// twice).
const SLIDING_TILE_ROWS: i64 = 32;

struct StageBuf {
    buf: ValueId,
    origin: Vec<ValueId>,
    /// A ring of this many rows (a sliding window): row `r` lives at
    /// `(r - origin[0]) rem rows`.
    ring: Option<ValueId>,
}

struct Lowerer<'m> {
    m: &'m mut Module,
    kernel: OpId,
    /// Bits per vector of register blocks.
    vector_bits: u32,
    /// Build the `.shape` companion instead of the kernel.
    shape_only: bool,
    /// Old value -> new value.
    map: HashMap<ValueId, ValueId>,
    stages: HashMap<ValueId, StageBuf>,
    /// Per array parameter (old value): its extents as new values.
    extents: HashMap<ValueId, Vec<ValueId>>,
    sizes: HashMap<String, ValueId>,
    allocs: Vec<ValueId>,
    consts: HashMap<i64, ValueId>,
    body: BlockId,
    func: OpId,
    names: Vec<String>,
    /// Reads lowered without boundary handling (an interior loop): per dim,
    /// whether the index is the loop variable plus an offset.
    interior: InteriorReads,
    /// Group roots and their producers (from the schedule).
    groups: HashMap<OpId, Vec<Member>>,
    /// Reads a cache-blocked stage's vector blocks take from a packed
    /// block of their array instead (see [`Lowerer::cache_blocked`]).
    packed: HashMap<OpId, Packed>,
    /// The current block of rows (see [`Lowerer::block_rows`]): its first
    /// row and the stage's last row, which clamps the others.
    row_block: Option<(ValueId, ValueId)>,
    /// What `LowerStages::dot_products` says the backend has.
    dot_products: DotProducts,
    /// The dot-product plan of the cache-blocked stage being lowered, and
    /// its block packed four steps at a time ([`Lowerer::pack_quads`]).
    dot: Option<(DotPlan, Packed)>,
    /// Vectors per row of the register blocks being lowered, when not
    /// [`Lowerer::vector_block_shape`]'s choice (the narrow blocks after
    /// the wide ones: [`Lowerer::narrow_vector_blocks`]).
    block_vectors: Option<i64>,
    /// While a fused group's first producer is lowered: its row variable,
    /// whose rows of the kernel's inputs its reads mark to be fetched
    /// [`PREFETCH_ROWS`] ahead ([`crate::dialects::mem::PREFETCH`]).
    prefetch_rows_of: Option<ValueId>,
    /// While a recurrence's steady loop is lowered: the last values it
    /// computed, one back first ([`Lowerer::scan_loops`]).
    carried: Option<Vec<ValueId>>,
    /// The value [`Lowerer::emit_body`] stored last.
    last_stored: Option<ValueId>,
    /// While a recurrence's steady loop along a dim other than its last
    /// is lowered: every `pj.prior` reads an element computed already.
    steady: bool,
}

/// A register block of a `reduce_order = vector` stage: its rows, its
/// vectors per row and their lanes, its first column, and the stage's
/// (old) column and row variables the lowering maps.
#[derive(Clone, Copy)]
struct BlockShape<'a> {
    rows: &'a [ValueId],
    u_count: i64,
    lanes: i64,
    jb: ValueId,
    j_old: ValueId,
    row_var: ValueId,
}

/// A cache-blocked matrix product of 8-bit integers summed in `i32`,
/// `sum(k) i32(x[.., k]) * i32(y[k, j])`, computed four steps of `k` at a
/// time by `vector.dot4`: a row's four steps are four adjacent bytes of
/// `x`, and `y`'s block is packed as `[C / W][K / 4][4 W]`, lane `4l + t`
/// holding `y[k0 + 4q + t, j0 + l]` (VNNI's and NEON's layout). The steps
/// left over (fewer than four per chunk) run one at a time as before.
#[derive(Clone, Copy)]
struct DotPlan {
    /// The read `x[.., k]`: its indices but the last are stage variables.
    row_read: OpId,
    /// The read `y[k, j]`.
    col_read: OpId,
    /// `i8` rows on an instruction that takes `u8` rows only (VNNI's
    /// `vpdpbusd`): each row byte is offset by 128 into `u8` (`x + 128`)
    /// in the micro-kernel (TVM's legalization of `i8 × i8` for x86).
    flip_row: bool,
    /// `c` where the products' row factor is `x - c` (a centered `u8`
    /// row, as the `quantize` pass makes; 128 for a flipped row): the
    /// micro-kernel multiplies `x` itself, and `c · Σ y` over the chunk's
    /// quads — computed once per packed block, into a buffer of one `i32`
    /// per column — is subtracted from the sums.
    row_offset: Option<i64>,
    /// `u8` rows proven below 128 times `i8` columns on x86 without VNNI:
    /// `vector.dot4 {pairs16}` (`pmaddubsw`, whose `i16` pairs cannot
    /// saturate then).
    pairs16: bool,
}

/// A block of `array[k, j]` for `k` in `[k0, k0 + K)`, `j` in
/// `[j0, j0 + C)`, packed as `[C / W][K][W]`: each group of `W` columns
/// contiguous along `k`, as the micro-kernel walks it.
#[derive(Clone, Copy)]
struct Packed {
    buf: ValueId,
    k0: ValueId,
    j0: ValueId,
    width: i64,
    /// For a [`DotPlan`] with `offset_row`: `128 · Σ y` over the block's
    /// quads, per column from `j0` (`i32`).
    offset_sums: Option<ValueId>,
}

fn arith(o: ArithOp) -> Opcode {
    Opcode::Arith(o)
}

impl<'m> Lowerer<'m> {
    fn with_dot_products(mut self, dot: DotProducts) -> Self {
        self.dot_products = dot;
        self
    }

    fn new(m: &'m mut Module, kernel: OpId, shape_only: bool, vector_bits: u32) -> Self {
        let sig = crate::dialects::signature(m, kernel);
        let mut arg_names: Vec<Attr> = sig
            .params
            .iter()
            .map(|(n, _)| Attr::Str(n.clone()))
            .collect();
        if shape_only {
            arg_names.push(Attr::Str("shape".into()));
        } else {
            arg_names.extend(sig.results.iter().map(|r| Attr::Str(r.clone())));
        }
        let kd = m.op(kernel);
        let mut spec = OpSpec::new(Opcode::Func(FuncOp::Func))
            .attr("arg_names", Attr::Array(arg_names))
            .attr(
                "num_results",
                Attr::Int(if shape_only {
                    1
                } else {
                    sig.results.len() as i64
                }),
            )
            .regions(1)
            .loc(kd.loc);
        spec = if shape_only {
            spec.attr("sym_name", Attr::Str(format!("{}.shape", sig.name)))
                .attr("shape_of", Attr::Str(sig.name.clone()))
        } else {
            spec.attr("sym_name", Attr::Str(sig.name.clone()))
        };
        if let Some(a) = kd.attr("arg_attrs") {
            spec = spec.attr("arg_attrs", a.clone());
        }
        if let (Some(a), false) = (kd.attr("result_types"), shape_only) {
            spec = spec.attr("result_types", a.clone());
        }
        let func = m.build_op(spec);
        let body = m.entry_block(func, 0);
        Lowerer {
            m,
            kernel,
            vector_bits,
            shape_only,
            map: HashMap::new(),
            stages: HashMap::new(),
            extents: HashMap::new(),
            sizes: HashMap::new(),
            allocs: Vec::new(),
            consts: HashMap::new(),
            body,
            func,
            names: sig.params.into_iter().map(|(n, _)| n).collect(),
            interior: HashMap::new(),
            groups: HashMap::new(),
            packed: HashMap::new(),
            row_block: None,
            dot_products: DotProducts::NONE,
            dot: None,
            block_vectors: None,
            prefetch_rows_of: None,
            carried: None,
            last_stored: None,
            steady: false,
        }
    }

    // ---- emission helpers ------------------------------------------------

    fn push(&mut self, block: BlockId, spec: OpSpec) -> OpId {
        self.m.push(block, spec)
    }

    fn value(&mut self, block: BlockId, spec: OpSpec) -> ValueId {
        let op = self.push(block, spec);
        self.m.result(op)
    }

    /// An `i64` constant in the function's entry block (shared).
    fn index_const(&mut self, v: i64) -> ValueId {
        if let Some(&c) = self.consts.get(&v) {
            return c;
        }
        let c = self.m.build_op(
            OpSpec::new(arith(ArithOp::Constant))
                .attr("value", Attr::Int(v))
                .result(Type::INDEX),
        );
        self.m.prepend_op(self.body, c);
        let v2 = self.m.result(c);
        self.consts.insert(v, v2);
        v2
    }

    fn bin(&mut self, block: BlockId, o: ArithOp, a: ValueId, b: ValueId) -> ValueId {
        let ty = self.m.ty(a).clone();
        self.value(block, OpSpec::new(arith(o)).operands([a, b]).result(ty))
    }

    fn cmp(&mut self, block: BlockId, pred: &str, a: ValueId, b: ValueId) -> ValueId {
        self.value(
            block,
            OpSpec::new(arith(ArithOp::Cmp))
                .operands([a, b])
                .attr("pred", Attr::Str(pred.into()))
                .result(Type::Scalar(ScalarType::Bool)),
        )
    }

    fn check(
        &mut self,
        ok: ValueId,
        details: &[ValueId],
        code: i64,
        message: String,
        loc: Option<Loc>,
    ) {
        let mut operands = vec![ok];
        operands.extend_from_slice(details);
        let body = self.body;
        self.push(
            body,
            OpSpec::new(Opcode::Func(FuncOp::Check))
                .operands(operands)
                .attr("code", Attr::Int(code))
                .attr("message", Attr::Str(message))
                .loc(loc),
        );
    }

    fn at(&self, loc: Option<Loc>) -> String {
        match (&self.m.source_name, loc) {
            (Some(f), Some(l)) => format!(" at {f}:{}:{}", l.line, l.col),
            (None, Some(l)) => format!(" at {}:{}", l.line, l.col),
            _ => String::new(),
        }
    }

    // ---- the function ----------------------------------------------------

    fn build(mut self) -> Result<OpId, PassError> {
        let kblock = self.m.entry_block(self.kernel, 0);
        let kparams = self.m.block(kblock).args.clone();
        let body = self.body;
        // parameters
        for (i, &p) in kparams.iter().enumerate() {
            let ty = match self.m.ty(p).clone() {
                Type::Tensor { elem, dims } => Type::Buffer { elem, dims },
                t => t,
            };
            let name = self.names[i].clone();
            let v = self.m.add_block_arg(body, ty, Some(name));
            self.map.insert(p, v);
        }
        // outputs
        let results = self.result_stages();
        let outputs: Vec<ValueId> = if self.shape_only {
            vec![self.m.add_block_arg(
                body,
                Type::dynamic_buffer(ScalarType::I64, 1),
                Some("shape".into()),
            )]
        } else {
            let sig = crate::dialects::signature(self.m, self.kernel);
            results
                .iter()
                .zip(&sig.results)
                .map(|(&s, name)| {
                    let t = self.m.ty(self.m.result(s)).clone();
                    let ty = Type::dynamic_buffer(t.elem(), t.rank().unwrap_or(0));
                    self.m.add_block_arg(body, ty, Some(name.clone()))
                })
                .collect()
        };
        self.bind_sizes(&kparams);
        // size constraints (`where C >= 4`), before any other check of the
        // call: a result's extent may be negative only where they fail
        let constraints: Vec<OpId> = self
            .m
            .block(kblock)
            .ops
            .iter()
            .copied()
            .filter(|&o| self.m.op(o).opcode == Opcode::Func(FuncOp::Check))
            .collect();
        for c in constraints {
            let operands = self
                .m
                .op(c)
                .operands
                .clone()
                .into_iter()
                .map(|v| self.clone_pure(v))
                .collect::<Result<Vec<_>, _>>()?;
            self.clone_op(c, body, operands);
        }
        // result extents, checked before anything is written
        let mut flat = 0;
        for (r, &s) in results.iter().enumerate() {
            let stage = self.m.op(s).clone();
            let name = stage
                .attr("name")
                .and_then(Attr::as_str)
                .unwrap_or("?")
                .to_string();
            let bounds = stage
                .operands
                .iter()
                .map(|&v| self.clone_pure(v))
                .collect::<Result<Vec<_>, _>>()?;
            for (d, pair) in bounds.chunks(2).enumerate() {
                let extent = self.bin(body, ArithOp::Sub, pair[1], pair[0]);
                let zero = self.index_const(0);
                let ok = self.cmp(body, "ge", extent, zero);
                let msg = format!(
                    "result `{name}` would have negative extent {{0}} in dim {d}{}",
                    self.at(stage.loc)
                );
                self.check(ok, &[extent], status::NEGATIVE_EXTENT, msg, stage.loc);
                if self.shape_only {
                    let at = self.index_const(flat);
                    self.push(
                        body,
                        OpSpec::new(Opcode::Mem(MemOp::Store)).operands([extent, outputs[0], at]),
                    );
                    flat += 1;
                } else {
                    let got = self.value(
                        body,
                        OpSpec::new(Opcode::Mem(MemOp::Dim))
                            .operands([outputs[r]])
                            .attr("dim", Attr::Int(d as i64))
                            .result(Type::INDEX),
                    );
                    let ok = self.cmp(body, "eq", got, extent);
                    let msg = format!("output `{name}` dim {d} must be {{0}}, got {{1}}");
                    self.check(ok, &[extent, got], status::SHAPE_MISMATCH, msg, stage.loc);
                }
            }
            if !self.shape_only {
                let origin = bounds.iter().step_by(2).copied().collect();
                self.stages.insert(
                    self.m.result(s),
                    StageBuf {
                        buf: outputs[r],
                        origin,
                        ring: None,
                    },
                );
            }
        }
        if !self.shape_only {
            self.check_schedule()?;
            self.lower_kernel_body(kblock);
            for b in std::mem::take(&mut self.allocs).into_iter().rev() {
                self.push(body, OpSpec::new(Opcode::Mem(MemOp::Dealloc)).operands([b]));
            }
        }
        self.push(body, OpSpec::new(Opcode::Func(FuncOp::Return)));
        Ok(self.func)
    }

    /// Checks the stages' schedule attributes and finds the fusion groups.
    fn check_schedule(&mut self) -> Result<(), PassError> {
        let fail = |message: String| PassError::Failed {
            pass: "lower-stages".into(),
            message,
        };
        let all = schedule::stages(self.m, self.kernel);
        let mut roots: HashMap<String, (OpId, Vec<OpId>)> = HashMap::new();
        for &s in &all {
            let sched = StageSchedule::of(self.m, s);
            let name = schedule::stage_name(self.m, s);
            if sched.reduce != ReduceOrder::Inner {
                let red = schedule::hoistable_reduction(self.m, s).map_err(|why| {
                    fail(format!(
                        "stage `{name}`: cannot reorder its reduction loops: {why}"
                    ))
                })?;
                if sched.reduce == ReduceOrder::Vector {
                    schedule::vector_accumulable(self.m, s, red).map_err(|why| {
                        fail(format!(
                            "stage `{name}`: cannot accumulate blocks of vectors in registers: {why}"
                        ))
                    })?;
                }
            }
            if let Some(cb) = sched.cache_block
                && (cb.k < 1 || cb.cols < 1)
            {
                return Err(fail(format!(
                    "stage `{name}`: a cache block must be at least 1 x 1, got {} x {}",
                    cb.k, cb.cols
                )));
            }
            match sched.tile {
                Some(Tile::Rows(n) | Tile::Bytes(n)) if n < 1 => {
                    return Err(fail(format!(
                        "stage `{name}`: a tile must be at least 1, got {n}"
                    )));
                }
                Some(_) => {
                    roots.entry(name.clone()).or_insert((s, Vec::new())).0 = s;
                }
                None => {}
            }
        }
        for &s in &all {
            if let Some(root) = StageSchedule::of(self.m, s).compute_at {
                let name = schedule::stage_name(self.m, s);
                // a root without a tile size gets the default one
                let Some(&root_op) = all
                    .iter()
                    .find(|&&r| schedule::stage_name(self.m, r) == root)
                else {
                    return Err(fail(format!(
                        "stage `{name}` is computed at `{root}`, which is not a stage of its kernel"
                    )));
                };
                roots
                    .entry(root.clone())
                    .or_insert((root_op, Vec::new()))
                    .1
                    .push(s);
            }
        }
        for (root, (op, members)) in roots {
            let ranges = schedule::member_ranges(self.m, self.kernel, op, &members)
                .map_err(|why| fail(format!("cannot compute per tile of `{root}`: {why}")))?;
            self.groups.insert(op, ranges);
        }
        Ok(())
    }

    /// The result stages, in result order.
    fn result_stages(&self) -> Vec<OpId> {
        let kblock = self.m.entry_block(self.kernel, 0);
        let ret = *self
            .m
            .block(kblock)
            .ops
            .last()
            .expect("verified: pj.return ends the kernel");
        self.m
            .op(ret)
            .operands
            .iter()
            .map(|&v| {
                // an updated stage's buffer is its stage's
                let mut op = self.m.def_op(v).expect("results are stages");
                while self.m.op(op).opcode == Opcode::Pj(PjOp::Update) {
                    op = self.m.def_op(self.m.op(op).operands[0]).expect("verified");
                }
                op
            })
            .collect()
    }

    /// Binds sizes from parameter extents and checks repeated and fixed ones,
    /// with the interpreter's messages.
    fn bind_sizes(&mut self, kparams: &[ValueId]) {
        let body = self.body;
        let mut first: HashMap<String, (ValueId, String, usize)> = HashMap::new();
        for (i, &p) in kparams.iter().enumerate() {
            let Type::Tensor { dims, .. } = self.m.ty(p).clone() else {
                continue;
            };
            let pname = self.names[i].clone();
            let buf = self.map[&p];
            let mut extents = Vec::new();
            for (d, dim) in dims.iter().enumerate() {
                let got = self.value(
                    body,
                    OpSpec::new(Opcode::Mem(MemOp::Dim))
                        .operands([buf])
                        .attr("dim", Attr::Int(d as i64))
                        .result(Type::INDEX),
                );
                // extents beyond 2^48 would let size arithmetic overflow
                // (bounds::check_size_arith relies on this)
                let max = self.index_const(pj_lang::bounds::MAX_SIZE);
                let ok = self.cmp(body, "le", got, max);
                let msg = crate::dialects::func::too_long_dim_message(&pname, d);
                self.check(ok, &[got], status::SHAPE_MISMATCH, msg, None);
                match dim {
                    Dim::Sym(s) => match first.get(s).cloned() {
                        None => {
                            let limit = crate::dialects::pj::size_limit(self.m, self.kernel);
                            if limit < pj_lang::bounds::MAX_SIZE {
                                let most = self.index_const(limit);
                                let ok = self.cmp(body, "le", got, most);
                                let why = crate::dialects::func::size_limit_reason(s, limit);
                                let msg = format!("argument `{pname}`: dim {d} is {{0}}, {why}");
                                self.check(ok, &[got], status::SHAPE_MISMATCH, msg, None);
                            }
                            self.m.set_value_name(got, s.clone());
                            first.insert(s.clone(), (got, pname.clone(), d));
                            self.sizes.insert(s.clone(), got);
                        }
                        Some((v, fp, fd)) => {
                            let ok = self.cmp(body, "eq", got, v);
                            let msg = format!(
                                "size `{s}` is {{0}} (from `{fp}` dim {fd}) but `{pname}` dim {d} is {{1}}"
                            );
                            self.check(ok, &[v, got], status::SHAPE_MISMATCH, msg, None);
                        }
                    },
                    Dim::Static(n) => {
                        let want = self.index_const(*n);
                        let ok = self.cmp(body, "eq", got, want);
                        let msg = format!("argument `{pname}`: dim {d} must be {n}, got {{1}}");
                        self.check(ok, &[want, got], status::SHAPE_MISMATCH, msg, None);
                    }
                    Dim::Dynamic => {}
                }
                extents.push(match dim {
                    Dim::Sym(s) => self.sizes[s],
                    _ => got,
                });
            }
            self.extents.insert(p, extents);
        }
    }

    /// Clones the computation of a result's bounds — arith and math ops on
    /// sizes and constants — into the prologue; memoized through `map`.
    /// Anything else (data, scalar parameters) cannot size an output buffer
    /// before the call.
    fn clone_pure(&mut self, v: ValueId) -> Result<ValueId, PassError> {
        if let Some(&n) = self.map.get(&v) {
            return Ok(n);
        }
        let unsupported = |what: String| PassError::Failed {
            pass: "lower-stages".into(),
            message: format!(
                "a result's extent must be computed from sizes and constants only, found {what}"
            ),
        };
        let Some(op) = self.m.def_op(v) else {
            return Err(unsupported("a parameter".into()));
        };
        let d = self.m.op(op).clone();
        if d.opcode == Opcode::Pj(PjOp::Size) {
            let name = d.attr("name").and_then(Attr::as_str).expect("verified");
            let n = self.sizes[name];
            self.map.insert(v, n);
            return Ok(n);
        }
        if !matches!(d.opcode, Opcode::Arith(_) | Opcode::Math(_)) {
            return Err(unsupported(format!("`{}`", d.opcode)));
        }
        let operands = d
            .operands
            .iter()
            .map(|&o| self.clone_pure(o))
            .collect::<Result<Vec<_>, _>>()?;
        let body = self.body;
        self.clone_op(op, body, operands);
        Ok(self.map[&v])
    }

    /// Clones an op without regions into `block`, with new operands; maps its results.
    fn clone_op(&mut self, op: OpId, block: BlockId, operands: Vec<ValueId>) {
        let d = self.m.op(op).clone();
        let mut spec = OpSpec::new(d.opcode).operands(operands).loc(d.loc);
        spec.attrs = d.attrs.clone();
        spec.result_types = d.results.iter().map(|&r| self.m.ty(r).clone()).collect();
        let new = self.push(block, spec);
        let new_results = self.m.op(new).results.clone();
        for (&old, &n) in d.results.iter().zip(&new_results) {
            if let Some(name) = self.m.value(old).name.clone() {
                self.m.set_value_name(n, name);
            }
            self.map.insert(old, n);
        }
    }

    fn lower_kernel_body(&mut self, kblock: BlockId) {
        let body = self.body;
        for op in self.m.block(kblock).ops.clone() {
            let d = self.m.op(op).clone();
            if d.results.iter().all(|r| self.map.contains_key(r)) && !d.results.is_empty() {
                continue; // already cloned into the prologue
            }
            match d.opcode {
                // size constraints: in the prologue
                Opcode::Pj(PjOp::Return) | Opcode::Func(FuncOp::Check) => {}
                Opcode::Pj(PjOp::Size) => {
                    let name = d.attr("name").and_then(Attr::as_str).expect("verified");
                    let v = self.sizes[name];
                    self.map.insert(d.results[0], v);
                }
                Opcode::Pj(PjOp::Stage) => self.lower_stage(op),
                Opcode::Pj(PjOp::Update) => self.lower_update(op),
                _ => {
                    self.lower_expr_op(op, body);
                }
            }
        }
    }

    fn lower_stage(&mut self, op: OpId) {
        let sched = StageSchedule::of(self.m, op);
        if sched.compute_at.is_some() {
            return; // computed per tile of its group's root
        }
        let body = self.body;
        let result = self.m.result(op);
        if !self.stages.contains_key(&result) {
            let bounds: Vec<ValueId> = self.mapped_operands(op);
            self.alloc_stage(op, body, &bounds);
        }
        let tile = sched.tile.or_else(|| {
            self.groups
                .contains_key(&op)
                .then_some(Tile::Bytes(DEFAULT_TILE_BYTES))
        });
        match tile {
            Some(tile) => self.lower_group(op, tile),
            None => self.stage_nest(op, body, None, sched.parallel),
        }
    }

    /// Allocates an intermediate stage's buffer over `bounds` in `block`.
    fn alloc_stage(&mut self, op: OpId, block: BlockId, bounds: &[ValueId]) -> ValueId {
        let zero = self.index_const(0);
        let mut extents = Vec::new();
        for pair in bounds.chunks(2) {
            let e = self.bin(block, ArithOp::Sub, pair[1], pair[0]);
            extents.push(self.bin(block, ArithOp::Max, e, zero));
        }
        let buf = self.alloc_scratch(op, block, extents);
        self.place_stage(op, buf, bounds.iter().step_by(2).copied().collect());
        buf
    }

    /// A buffer of `extents` in `block` for stage `op`'s elements, not yet
    /// its buffer: [`Self::place_stage`] says where its first element is.
    fn alloc_scratch(&mut self, op: OpId, block: BlockId, extents: Vec<ValueId>) -> ValueId {
        let d = self.m.op(op).clone();
        let result = d.results[0];
        let name = d
            .attr("name")
            .and_then(Attr::as_str)
            .unwrap_or("?")
            .to_string();
        let elem = self.m.ty(result).elem();
        let buf = self.value(
            block,
            OpSpec::new(Opcode::Mem(MemOp::Alloc))
                .operands(extents.clone())
                .result(Type::dynamic_buffer(elem, extents.len()))
                .loc(d.loc),
        );
        self.m.set_value_name(buf, name);
        if block == self.body {
            self.allocs.push(buf);
        }
        buf
    }

    /// Stage `op`'s elements from `origin` on (one index per dim) live in
    /// `buf`, from its first element.
    fn place_stage(&mut self, op: OpId, buf: ValueId, origin: Vec<ValueId>) {
        self.stages.insert(
            self.m.result(op),
            StageBuf {
                buf,
                origin,
                ring: None,
            },
        );
    }

    /// A group root and its producers, tile by tile: a parallel loop over
    /// groups of tiles of the root's rows, each allocating a scratch buffer
    /// per producer for the tallest tile; per tile, each producer's needed
    /// rows into its buffer, then the root's rows.
    fn lower_group(&mut self, root: OpId, tile: Tile) {
        let body = self.body;
        let members = self.groups[&root].clone();
        let bounds: Vec<ValueId> = self.mapped_operands(root);
        let (rlo, rhi) = (bounds[0], bounds[1]);
        let zero = self.index_const(0);
        let one = self.index_const(1);
        let rows = self.bin(body, ArithOp::Sub, rhi, rlo);
        let rows = self.bin(body, ArithOp::Max, rows, zero);
        let t = match tile {
            Tile::Rows(r) => self.index_const(r.max(1)),
            Tile::Bytes(b) => {
                let per_row = self.group_row_bytes(root, &members);
                let budget = self.index_const(b.max(1));
                let per_row = self.bin(body, ArithOp::Max, per_row, one);
                let t = self.bin(body, ArithOp::Div, budget, per_row);
                let t = self.bin(body, ArithOp::Max, t, one);
                match members.as_slice() {
                    // a sliding window's memory does not grow with the
                    // tile: tiles only bound the rows recomputed per tile
                    // (the window's warm-up), kept to a few percent
                    [mem] if schedule::sliding_window(self.m, root, mem) => {
                        let rows = self.index_const(SLIDING_TILE_ROWS * (mem.hi - mem.lo).max(1));
                        self.bin(body, ArithOp::Max, t, rows)
                    }
                    _ => t,
                }
            }
        };
        // no tile longer than the rows: `rows + t - 1` below cannot
        // overflow however large a schedule's tile (`tile(i64::MAX)`)
        let most = self.bin(body, ArithOp::Max, rows, one);
        let t = self.bin(body, ArithOp::Min, t, most);
        let t1 = self.bin(body, ArithOp::Sub, t, one);
        let padded = self.bin(body, ArithOp::Add, rows, t1);
        let ntiles = self.bin(body, ArithOp::Div, padded, t);
        let loc = self.m.op(root).loc;
        // tiles in groups, as many as the runtime would make chunks: each
        // group allocates its tiles' scratch once (per tile, softmax's
        // three allocations and frees per tile of six rows were 9% of its
        // time)
        let threads = self.value(
            body,
            OpSpec::new(Opcode::Loop(LoopOp::Threads)).result(Type::INDEX),
        );
        let threads = self.bin(body, ArithOp::Max, threads, one);
        let per_thread = self.index_const(TILE_GROUPS_PER_THREAD);
        let cap = self.bin(body, ArithOp::Mul, threads, per_thread);
        let cap = self.bin(body, ArithOp::Min, cap, ntiles);
        let cap = self.bin(body, ArithOp::Max, cap, one);
        let per = self.ceil_div_by(body, ntiles, cap);
        let per = self.bin(body, ArithOp::Max, per, one);
        let ngroups = self.ceil_div_by(body, ntiles, per);
        let groups = if StageSchedule::of(self.m, root).parallel {
            let mut elems = self.bin(body, ArithOp::Mul, t, per);
            for p in bounds.chunks(2).skip(1) {
                let e = self.bin(body, ArithOp::Sub, p[1], p[0]);
                let e = self.bin(body, ArithOp::Max, e, zero);
                elems = self.bin(body, ArithOp::Mul, elems, e);
            }
            let grain = self.grain(body, elems);
            OpSpec::new(Opcode::Loop(LoopOp::Parallel)).operands([zero, ngroups, grain])
        } else {
            OpSpec::new(Opcode::Loop(LoopOp::For)).operands([zero, ngroups, one])
        };
        let l = self.push(body, groups.regions(1).loc(loc));
        let gb = self.m.entry_block(l, 0);
        let gv = self.m.add_block_arg(gb, Type::INDEX, Some("tiles".into()));
        let first = self.bin(gb, ArithOp::Mul, gv, per);
        let last = self.bin(gb, ArithOp::Add, first, per);
        let last = self.bin(gb, ArithOp::Min, last, ntiles);
        // each member's scratch, as tall as the tallest tile needs
        let sliding = match members.as_slice() {
            [mem] if schedule::sliding_window(self.m, root, mem) => Some(*mem),
            _ => None,
        };
        let mut scratch = Vec::new();
        for mem in &members {
            let pb: Vec<ValueId> = self.mapped_operands(mem.stage);
            let rows = match sliding {
                Some(_) => mem.hi - mem.lo + 1,
                None => mem.hi - mem.lo,
            };
            let halo = self.index_const(rows);
            let mut extents = vec![match sliding {
                Some(_) => halo,
                None => self.bin(gb, ArithOp::Add, t, halo),
            }];
            for pair in pb.chunks(2).skip(1) {
                let e = self.bin(gb, ArithOp::Sub, pair[1], pair[0]);
                extents.push(self.bin(gb, ArithOp::Max, e, zero));
            }
            scratch.push(self.alloc_scratch(mem.stage, gb, extents));
        }
        let (tb, tv) = self.open_for(gb, (first, last, one), Some("tile".into()), loc);
        let off = self.bin(tb, ArithOp::Mul, tv, t);
        let y0 = self.bin(tb, ArithOp::Add, rlo, off);
        let end = self.bin(tb, ArithOp::Add, y0, t);
        let y1 = self.bin(tb, ArithOp::Min, end, rhi);
        if let Some(mem) = sliding {
            self.lower_sliding(tb, root, mem, scratch[0], (y0, y1));
        } else {
            for (k, (mem, &buf)) in members.iter().zip(&scratch).enumerate() {
                let pb: Vec<ValueId> = self.mapped_operands(mem.stage);
                let lo = self.index_const(mem.lo);
                let hi = self.index_const(mem.hi);
                let a = self.bin(tb, ArithOp::Add, y0, lo);
                let r0 = self.bin(tb, ArithOp::Max, a, pb[0]);
                let b = self.bin(tb, ArithOp::Add, y1, hi);
                let b = self.bin(tb, ArithOp::Min, b, pb[1]);
                let r1 = self.bin(tb, ArithOp::Max, b, r0);
                let mut origin: Vec<ValueId> = pb.iter().step_by(2).copied().collect();
                origin[0] = r0;
                self.place_stage(mem.stage, buf, origin);
                // the first producer reads the tile's rows of the inputs
                // first: from memory, a page a row
                if k == 0 {
                    let region = self.m.entry_block(mem.stage, 0);
                    self.prefetch_rows_of = self.m.block(region).args.first().copied();
                }
                self.stage_nest(mem.stage, tb, Some((r0, r1)), false);
                self.prefetch_rows_of = None;
            }
            self.stage_nest(root, tb, Some((y0, y1)), false);
        }
        self.push(tb, OpSpec::new(Opcode::Loop(LoopOp::Yield)));
        for b in scratch.into_iter().rev() {
            self.push(gb, OpSpec::new(Opcode::Mem(MemOp::Dealloc)).operands([b]));
        }
        self.push(gb, OpSpec::new(Opcode::Loop(LoopOp::Yield)));
    }

    /// A tile `[y0, y1)` of `root` with its producer `mem` as a sliding
    /// window (Halide's `store_at` outside the row loop, `compute_at`
    /// inside it): a ring of `hi - lo + 1` rows of `mem` (`ring`, which the
    /// caller allocates once per group of tiles); its first
    /// `hi - lo` rows before the row loop, then per row `y` one innermost
    /// loop computing row `y + hi` of `mem` into the ring and row `y` of
    /// `root` from it. Every row of `mem` is computed once per tile (the
    /// warm-up rows once more per tile), and the two computations share
    /// one pass over the columns, so the reads of the producer's inputs
    /// and the writes of the root's results stream together.
    fn lower_sliding(
        &mut self,
        tb: BlockId,
        root: OpId,
        mem: Member,
        ring: ValueId,
        (y0, y1): (ValueId, ValueId),
    ) {
        let pres = self.m.result(mem.stage);
        let rres = self.m.result(root);
        let pb = self.mapped_operands(mem.stage);
        let rb = self.mapped_operands(root);
        let lo = self.index_const(mem.lo);
        let hi = self.index_const(mem.hi);
        let rows = self.index_const(mem.hi - mem.lo + 1);
        let start = self.bin(tb, ArithOp::Add, y0, lo);
        let mut origin: Vec<ValueId> = pb.iter().step_by(2).copied().collect();
        origin[0] = start;
        self.place_stage(mem.stage, ring, origin);
        self.stages.get_mut(&pres).expect("just placed").ring = Some(rows);
        // the window's first rows, as far as they are in the producer's domain
        let w0 = self.bin(tb, ArithOp::Max, start, pb[0]);
        let w1 = self.bin(tb, ArithOp::Add, y0, hi);
        let w1 = self.bin(tb, ArithOp::Min, w1, pb[1]);
        let w1 = self.bin(tb, ArithOp::Max, w1, w0);
        self.stage_nest(mem.stage, tb, Some((w0, w1)), false);
        // then row by row: rows y + hi of the producer are in its domain
        // (its domain is the union of the rows `root` reads)
        let rreg = self.m.entry_block(root, 0);
        let preg = self.m.entry_block(mem.stage, 0);
        let rvars = self.m.block(rreg).args.clone();
        let pvars = self.m.block(preg).args.clone();
        let one = self.index_const(1);
        let loc = self.m.op(root).loc;
        let name = self.m.value(rvars[0]).name.clone();
        let (yb, y) = self.open_for(tb, (y0, y1, one), name, loc);
        self.map.insert(rvars[0], y);
        let py = self.bin(yb, ArithOp::Add, y, hi);
        self.map.insert(pvars[0], py);
        let fills = [
            Fill {
                var: pvars[1],
                result: pres,
                vars: pvars.clone(),
                body: Body::Value(preg),
            },
            Fill {
                var: rvars[1],
                result: rres,
                vars: rvars.clone(),
                body: Body::Value(rreg),
            },
        ];
        self.inner_loops(yb, rb[2], rb[3], false, &fills);
        self.push(yb, OpSpec::new(Opcode::Loop(LoopOp::Yield)));
    }

    /// Bytes one row of a group touches: a row of each of its stages and of
    /// each parameter it reads row by row.
    fn group_row_bytes(&mut self, root: OpId, members: &[Member]) -> ValueId {
        let body = self.body;
        let zero = self.index_const(0);
        let mut total = zero;
        let mut arrays: Vec<(ScalarType, Vec<ValueId>)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for s in members.iter().map(|m| m.stage).chain([root]) {
            let bounds: Vec<ValueId> = self.mapped_operands(s);
            let mut ext = Vec::new();
            for pair in bounds.chunks(2).skip(1) {
                let e = self.bin(body, ArithOp::Sub, pair[1], pair[0]);
                ext.push(self.bin(body, ArithOp::Max, e, zero));
            }
            arrays.push((self.m.ty(self.m.result(s)).elem(), ext));
            let region = self.m.entry_block(s, 0);
            let Some(&y) = self.m.block(region).args.first() else {
                continue;
            };
            for r in schedule::reads_under(self.m, region) {
                let d = self.m.op(r);
                let array = d.operands[0];
                let by_row = d
                    .operands
                    .get(1)
                    .is_some_and(|&i| schedule::offset_from(self.m, i, y).is_some());
                if by_row && self.extents.contains_key(&array) && seen.insert(array) {
                    let ext = self.extents[&array][1..].to_vec();
                    arrays.push((self.m.ty(array).elem(), ext));
                }
            }
        }
        for (elem, ext) in arrays {
            let mut bytes = self.index_const(elem.size_bytes() as i64);
            for e in ext {
                bytes = self.bin(body, ArithOp::Mul, bytes, e);
            }
            total = self.bin(body, ArithOp::Add, total, bytes);
        }
        total
    }

    /// The loop nest computing `op`'s elements (dim 0 limited to `rows` if
    /// given) into its buffer, in `block`. The outermost loop is parallel if
    /// `parallel`; the innermost is split around the boundary (see
    /// [`Lowerer::inner_loop`]); a `reduce_order = "outer"` stage
    /// accumulates into its buffer with the reduction loops outside the
    /// innermost loop.
    fn stage_nest(
        &mut self,
        op: OpId,
        block: BlockId,
        rows: Option<(ValueId, ValueId)>,
        parallel: bool,
    ) {
        let d = self.m.op(op).clone();
        let result = d.results[0];
        let mut bounds = self.mapped_operands(op);
        if let Some((a, b)) = rows {
            bounds[0] = a;
            bounds[1] = b;
        }
        let region = self.m.entry_block(op, 0);
        let vars = self.m.block(region).args.clone();
        let rank = vars.len();
        if rank == 0 {
            self.emit_body(block, result, &vars, &Body::Value(region));
            return;
        }
        let one = self.index_const(1);
        let sched = StageSchedule::of(self.m, op);
        let order = sched.reduce;
        // a recurrence's scan loop is sequential; the loops outside it may
        // run in parallel
        let scan = crate::dialects::pj::recurrence(self.m, op);
        if let Some(s) = scan.filter(|s| s.0 < rank - 1) {
            self.scan_nest(op, block, parallel, s);
            return;
        }
        let parallel = parallel && scan.is_none_or(|(dim, _)| dim != 0);
        // `reduce_order = vector` also blocks rows: ROW_BLOCK rows share each
        // load of the reduction's row-invariant operands (matmul's `b`)
        let row_block = if order == ReduceOrder::Vector {
            let red = schedule::hoistable_reduction(self.m, op).expect("validated in build");
            if schedule::rows_share_reduction(self.m, op, red) {
                ROW_BLOCK
            } else {
                1
            }
        } else {
            1
        };
        // with a cache block, the blocked loop runs over panels of row
        // blocks, each panel sweeping the cache blocks
        let cache_block = sched.cache_block.filter(|_| row_block > 1);
        let paneled = cache_block.is_some();
        let mut panel_blocks: Option<ValueId> = None;
        let mut blk = block;
        let mut loops = Vec::new();
        let mut block_rows: Vec<ValueId> = Vec::new();
        let mut panel: Option<Panel> = None;
        for (k, pair) in bounds.chunks(2).enumerate().take(rank - 1) {
            let blocked = row_block > 1 && k == rank - 2;
            let mut n_blocks = None;
            let (lo_k, hi_k) = if blocked {
                // blocks of rows; the last block repeats the last row
                let zero = self.index_const(0);
                let n = self.ceil_div(blk, pair[0], pair[1], row_block);
                n_blocks = Some(n);
                let hi = if paneled {
                    // panels in rounds of one per thread, each of at
                    // most MAX_PANEL_BLOCKS blocks: each panel packs the
                    // shared operand again, and a count that is a
                    // multiple of the threads leaves none idle at the end
                    let threads = self.value(
                        blk,
                        OpSpec::new(Opcode::Loop(LoopOp::Threads)).result(Type::INDEX),
                    );
                    let one = self.index_const(1);
                    let threads = self.bin(blk, ArithOp::Max, threads, one);
                    let most = self.index_const(MAX_PANEL_BLOCKS);
                    let round = self.bin(blk, ArithOp::Mul, threads, most);
                    let rounds = self.ceil_div_by(blk, n, round);
                    let panels = self.bin(blk, ArithOp::Mul, rounds, threads);
                    let panels = self.bin(blk, ArithOp::Max, panels, one);
                    let per = self.ceil_div_by(blk, n, panels);
                    let per = self.bin(blk, ArithOp::Max, per, one);
                    panel_blocks = Some(per);
                    let per1 = self.bin(blk, ArithOp::Sub, per, one);
                    let np = self.bin(blk, ArithOp::Add, n, per1);
                    self.bin(blk, ArithOp::Div, np, per)
                } else {
                    n
                };
                (zero, hi)
            } else {
                (pair[0], pair[1])
            };
            let spec = if k == 0 && parallel {
                let elems = match panel_blocks {
                    Some(per) if blocked => {
                        let rb = self.index_const(row_block);
                        self.bin(blk, ArithOp::Mul, per, rb)
                    }
                    _ if blocked => self.index_const(row_block),
                    _ => one,
                };
                let grain = self.iteration_grain(blk, elems, &bounds[2..], region);
                OpSpec::new(Opcode::Loop(LoopOp::Parallel)).operands([lo_k, hi_k, grain])
            } else {
                OpSpec::new(Opcode::Loop(LoopOp::For)).operands([lo_k, hi_k, one])
            };
            let l = self.push(blk, spec.regions(1).loc(d.loc));
            self.mark_scalar(op, l);
            let inner = self.m.entry_block(l, 0);
            let name = self.m.value(vars[k]).name.clone();
            if let (true, Some(pb)) = (blocked, panel_blocks) {
                let ip = self
                    .m
                    .add_block_arg(inner, Type::INDEX, Some("panel".into()));
                let first = self.bin(inner, ArithOp::Mul, ip, pb);
                let end = self.bin(inner, ArithOp::Add, first, pb);
                let n = n_blocks.expect("blocked");
                let end = self.bin(inner, ArithOp::Min, end, n);
                panel = Some(Panel {
                    blocks: (first, end),
                    rows: (pair[0], pair[1]),
                    name: name.unwrap_or_else(|| "i".into()),
                });
            } else if blocked {
                let ib = self
                    .m
                    .add_block_arg(inner, Type::INDEX, Some("rows".into()));
                let name = name.unwrap_or_else(|| "i".into());
                block_rows = self.block_rows(inner, ib, (pair[0], pair[1]), name);
                self.map.insert(vars[k], block_rows[0]);
            } else {
                let iv = self.m.add_block_arg(inner, Type::INDEX, name);
                self.map.insert(vars[k], iv);
            }
            loops.push(inner);
            blk = inner;
        }
        let (lo, hi) = (bounds[2 * rank - 2], bounds[2 * rank - 1]);
        let last = vars[rank - 1];
        if let (Some(panel), Some(cb)) = (&panel, cache_block) {
            let red = schedule::hoistable_reduction(self.m, op).expect("validated in build");
            self.cache_blocked(blk, op, red, panel, (lo, hi), &vars, cb);
        } else if order == ReduceOrder::Vector {
            let red = schedule::hoistable_reduction(self.m, op).expect("validated in build");
            if block_rows.is_empty() {
                block_rows.push(self.map[&vars[rank - 2]]);
            }
            // reads through a boundary mode along the columns: vector blocks
            // over the interior, the general code at the edges
            let edge = Body::Value(region);
            let (a, b) = match self.column_interior(blk, red, last, lo, hi) {
                Some((a, b)) => {
                    let from = self.m.block(blk).ops.len();
                    self.edge_columns(blk, (lo, a), &vars, &block_rows, result, &edge);
                    self.mark_edges(blk, from);
                    (a, b)
                }
                None => (lo, hi),
            };
            let width = self.vector_block_width(op, block_rows.len() > 1);
            let jend = self.span_end(blk, a, b, width);
            self.vector_blocks(blk, op, red, (a, jend), &vars, &block_rows, None);
            let jend = self.narrow_vector_blocks(blk, op, red, (jend, b), &vars, &block_rows);
            // the columns after the blocks: the right edge and the last
            // partial vector
            let from = self.m.block(blk).ops.len();
            self.edge_columns(blk, (jend, hi), &vars, &block_rows, result, &edge);
            self.mark_edges(blk, from);
        } else if order == ReduceOrder::Outer {
            let red = schedule::hoistable_reduction(self.m, op).expect("validated in build");
            let kind = self.reduce_kind(red);
            self.inner_loop(blk, lo, hi, last, false, result, &vars, &Body::Init(kind));
            for o in self.m.block(region).ops.clone() {
                let opc = self.m.op(o).opcode;
                if o != red && opc != Opcode::Pj(PjOp::Yield) {
                    self.lower_expr_op(o, blk);
                }
            }
            let rbounds: Vec<ValueId> = self.mapped_operands(red);
            let rregion = self.m.entry_block(red, 0);
            let rvars = self.m.block(rregion).args.clone();
            let mut rb = blk;
            let mut rloops = Vec::new();
            for (j, pair) in rbounds.chunks(2).enumerate() {
                let name = self.m.value(rvars[j]).name.clone();
                let (inner, iv) = self.open_for(rb, (pair[0], pair[1], one), name, d.loc);
                self.map.insert(rvars[j], iv);
                rloops.push(inner);
                rb = inner;
            }
            self.inner_loop(
                rb,
                lo,
                hi,
                last,
                false,
                result,
                &vars,
                &Body::Accumulate(red),
            );
            for b in rloops {
                self.push(b, OpSpec::new(Opcode::Loop(LoopOp::Yield)));
            }
        } else if let Some((dim, max_lag)) = scan.filter(|s| s.0 == rank - 1) {
            debug_assert_eq!(dim, rank - 1);
            self.scan_loops(blk, op, (lo, hi), last, &vars, max_lag);
        } else {
            let par = parallel && rank == 1;
            self.inner_loop(blk, lo, hi, last, par, result, &vars, &Body::Value(region));
        }
        for b in loops {
            self.push(b, OpSpec::new(Opcode::Loop(LoopOp::Yield)));
        }
    }

    /// The columns `[c0, c1)` of every row of a block of rows, with the
    /// general code (edges that read through a boundary mode, the last
    /// partial vector block): one loop over the block's rows around the
    /// column loop — not a copy of the nest per row, which made conv2d's
    /// lowered code four times as long.
    #[allow(clippy::too_many_arguments)]
    fn edge_columns(
        &mut self,
        blk: BlockId,
        (c0, c1): (ValueId, ValueId),
        vars: &[ValueId],
        block_rows: &[ValueId],
        result: ValueId,
        body: &Body,
    ) {
        let rank = vars.len();
        let last = vars[rank - 1];
        let row_var = vars[rank - 2];
        let (base, last_row) = match (block_rows, self.row_block) {
            ([_, _, ..], Some(b)) => b,
            _ => {
                for &row in block_rows {
                    self.map.insert(row_var, row);
                    self.inner_loop(blk, c0, c1, last, false, result, vars, body);
                }
                return;
            }
        };
        let zero = self.index_const(0);
        let one = self.index_const(1);
        let n = self.index_const(block_rows.len() as i64);
        let loc = self.m.def_op(result).and_then(|o| self.m.op(o).loc);
        let (kb, k) = self.open_for(blk, (zero, n, one), Some("row".into()), loc);
        let row = self.bin(kb, ArithOp::Add, base, k);
        let row = self.bin(kb, ArithOp::Min, row, last_row);
        self.map.insert(row_var, row);
        self.inner_loop(kb, c0, c1, last, false, result, vars, body);
        self.push(kb, OpSpec::new(Opcode::Loop(LoopOp::Yield)));
        self.map.insert(row_var, block_rows[0]);
    }

    /// Marks the loops pushed into `block` since it held `from` ops as a
    /// kernel's edges (`edge = true`): columns whose reads go through a
    /// boundary mode, and the last partial block of columns. A few
    /// iterations per row: the backend does not version the loops in
    /// them (the bounds precheck of their taps fails by construction),
    /// which would double the code of each edge nest for nothing.
    fn mark_edges(&mut self, block: BlockId, from: usize) {
        let ops = self.m.block(block).ops.clone();
        for &o in &ops[from..] {
            if self.m.op(o).opcode == Opcode::Loop(LoopOp::For) {
                self.m.op_mut(o).set_attr("edge", Attr::Bool(true));
            }
        }
    }

    /// The innermost loop of a stage over `[lo, hi)`. When the body reads
    /// arrays through a boundary mode at `var + e`, the range splits in
    /// three: below, inside and above the *interior* where every such read
    /// is in range. The interior copy reads without boundary handling, so
    /// later passes can prove its loads in bounds and vectorize it; the two
    /// edge loops keep the general code.
    #[allow(clippy::too_many_arguments)]
    fn inner_loop(
        &mut self,
        block: BlockId,
        lo: ValueId,
        hi: ValueId,
        var: ValueId,
        parallel: bool,
        result: ValueId,
        vars: &[ValueId],
        body: &Body,
    ) {
        let fill = Fill {
            var,
            result,
            vars: vars.to_vec(),
            body: body.clone(),
        };
        self.inner_loops(block, lo, hi, parallel, &[fill]);
    }

    /// Innermost loops over `[lo, hi)` computing every fill in order per
    /// iteration (a sliding window's producer row, then its root's row:
    /// each fill's `var` is the same iteration), split around the
    /// intersection of their interiors (see [`Lowerer::inner_loop`]).
    fn inner_loops(
        &mut self,
        block: BlockId,
        lo: ValueId,
        hi: ValueId,
        parallel: bool,
        fills: &[Fill],
    ) {
        let mut split: Option<(ValueId, ValueId, InteriorReads)> = None;
        if !parallel {
            for f in fills {
                let reads_region = match &f.body {
                    Body::Value(r) => Some(*r),
                    Body::Accumulate(red) => Some(self.m.entry_block(*red, 0)),
                    Body::Init(_) => None,
                };
                let Some(r) = reads_region else { continue };
                let Some((a, b, reads)) = self.interior_range(block, r, f.var, lo, hi) else {
                    continue;
                };
                split = Some(match split {
                    None => (a, b, reads),
                    Some((a0, b0, mut reads0)) => {
                        let a = self.bin(block, ArithOp::Max, a0, a);
                        let b = self.bin(block, ArithOp::Min, b0, b);
                        let b = self.bin(block, ArithOp::Max, b, a);
                        reads0.extend(reads);
                        (a, b, reads0)
                    }
                });
            }
        }
        let split_at = split.is_some();
        let ranges: Vec<(ValueId, ValueId, Option<InteriorReads>)> = match split {
            None => vec![(lo, hi, None)],
            Some((a, b, reads)) => vec![(lo, a, None), (a, b, Some(reads)), (b, hi, None)],
        };
        let one = self.index_const(1);
        let last = fills.last().expect("at least one fill");
        let loc = self.m.def_op(last.result).and_then(|o| self.m.op(o).loc);
        for (a, b, interior) in ranges {
            let spec = if parallel {
                let mut work = self.index_const(0);
                for f in fills {
                    let w = match f.body {
                        Body::Value(r) => self.element_work(block, r),
                        Body::Accumulate(_) | Body::Init(_) => one,
                    };
                    work = self.bin(block, ArithOp::Add, work, w);
                }
                let grain = self.grain(block, work);
                OpSpec::new(Opcode::Loop(LoopOp::Parallel)).operands([a, b, grain])
            } else {
                OpSpec::new(Opcode::Loop(LoopOp::For)).operands([a, b, one])
            };
            let l = self.push(block, spec.regions(1).loc(loc));
            for f in fills {
                if let Some(stage) = self.m.def_op(f.result) {
                    self.mark_scalar(stage, l);
                }
            }
            if split_at && interior.is_none() {
                // an edge: as many iterations as the boundary is wide
                self.m.op_mut(l).set_attr("short", Attr::Bool(true));
                self.m.op_mut(l).set_attr("edge", Attr::Bool(true));
            }
            let inner = self.m.entry_block(l, 0);
            let name = self.m.value(last.var).name.clone();
            let iv = self.m.add_block_arg(inner, Type::INDEX, name);
            for f in fills {
                self.map.insert(f.var, iv);
            }
            self.interior = interior.unwrap_or_default();
            for f in fills {
                self.emit_body(inner, f.result, &f.vars, &f.body);
            }
            self.interior.clear();
            self.push(inner, OpSpec::new(Opcode::Loop(LoopOp::Yield)));
        }
    }

    /// Where the interior of `[lo, hi)` for `var` is (see
    /// [`Lowerer::inner_loop`]), and which reads (per dim: partitioned or
    /// not) go without boundary handling there; `None` when no read gains.
    fn interior_range(
        &mut self,
        block: BlockId,
        region: BlockId,
        var: ValueId,
        lo: ValueId,
        hi: ValueId,
    ) -> Option<(ValueId, ValueId, InteriorReads)> {
        let forbidden = schedule::reduction_vars_under(self.m, region);
        let mut inner: std::collections::HashSet<ValueId> = forbidden.clone();
        inner.insert(var);
        enum D {
            Inv(ValueId),
            Part(Vec<schedule::Term>),
        }
        let mut plans = Vec::new();
        for r in schedule::reads_under(self.m, region) {
            let d = self.m.op(r).clone();
            let Some(mode) = d
                .attr("boundary")
                .and_then(Attr::as_str)
                .and_then(Boundary::from_name)
            else {
                continue;
            };
            let array = d.operands[0];
            if !self.extents.contains_key(&array) {
                continue;
            }
            let mut dims = Vec::new();
            let mut ok = true;
            for &i in &d.operands[1..] {
                if !schedule::depends_on(self.m, i, &inner) && schedule::pure_index(self.m, i) {
                    dims.push(D::Inv(i));
                } else if let Some(t) = schedule::split_affine(self.m, i, var, &forbidden) {
                    dims.push(D::Part(t));
                } else {
                    ok = false;
                }
            }
            if ok && dims.iter().any(|x| matches!(x, D::Part(_))) {
                plans.push((r, mode, array, dims));
            }
        }
        if plans.is_empty() {
            return None;
        }
        let zero = self.index_const(0);
        let (mut a, mut b) = (lo, hi);
        let mut cond: Option<ValueId> = None;
        let mut reads = HashMap::new();
        for (r, mode, array, dims) in plans {
            let extents = self.extents[&array].clone();
            let mut parts = Vec::new();
            for (k, dim) in dims.iter().enumerate() {
                let n = extents[k];
                match dim {
                    D::Part(terms) => {
                        let mut e = zero;
                        for &(t, neg) in terms {
                            let tv = self.lower_avail(t, block);
                            e = self.bin(
                                block,
                                if neg { ArithOp::Sub } else { ArithOp::Add },
                                e,
                                tv,
                            );
                        }
                        let neg_e = self.bin(block, ArithOp::Sub, zero, e);
                        a = self.bin(block, ArithOp::Max, a, neg_e);
                        let top = self.bin(block, ArithOp::Sub, n, e);
                        b = self.bin(block, ArithOp::Min, b, top);
                        parts.push(true);
                    }
                    D::Inv(i) => {
                        let c = if mode == Boundary::Zero {
                            let iv = self.lower_avail(*i, block);
                            let ge = self.cmp(block, "ge", iv, zero);
                            let lt = self.cmp(block, "lt", iv, n);
                            self.bin(block, ArithOp::And, ge, lt)
                        } else {
                            self.cmp(block, "gt", n, zero)
                        };
                        cond = Some(match cond {
                            None => c,
                            Some(p) => self.bin(block, ArithOp::And, p, c),
                        });
                        parts.push(false);
                    }
                }
            }
            reads.insert(r, parts);
        }
        a = self.bin(block, ArithOp::Min, a, hi);
        b = self.bin(block, ArithOp::Max, b, a);
        if let Some(c) = cond {
            let sel = |s: &mut Self, x: ValueId| {
                s.value(
                    block,
                    OpSpec::new(arith(ArithOp::Select))
                        .operands([c, x, hi])
                        .result(Type::INDEX),
                )
            };
            a = sel(self, a);
            b = sel(self, b);
        }
        Some((a, b, reads))
    }

    /// An index expression free of the innermost loop's variables, computed
    /// in `block`: block arguments and kernel-level values as mapped; ops
    /// inside stage regions cloned afresh (their old mapping may belong to
    /// another loop).
    fn lower_avail(&mut self, v: ValueId, block: BlockId) -> ValueId {
        let Some(op) = self.m.def_op(v) else {
            return self.map[&v];
        };
        let kblock = self.m.entry_block(self.kernel, 0);
        if self.m.op(op).parent == Some(kblock) {
            return self.map[&v];
        }
        let operands: Vec<ValueId> = self
            .m
            .op(op)
            .operands
            .clone()
            .into_iter()
            .map(|o| self.lower_avail(o, block))
            .collect();
        self.clone_op(op, block, operands);
        self.map[&v]
    }

    /// The columns of `[lo, hi)` where every read of reduction `red`
    /// through a boundary mode along the innermost variable `var` is inside
    /// its array for every value of the reduction variables
    /// ([`schedule::column_offsets`]), as `[a, b)` with `lo <= a <= b <= hi`;
    /// `None` when no read needs it.
    fn column_interior(
        &mut self,
        block: BlockId,
        red: OpId,
        var: ValueId,
        lo: ValueId,
        hi: ValueId,
    ) -> Option<(ValueId, ValueId)> {
        let body = self.m.entry_block(red, 0);
        let rvars = self.m.block(body).args.clone();
        let rset: std::collections::HashSet<ValueId> = rvars.iter().copied().collect();
        let inner: std::collections::HashSet<ValueId> = [var].into();
        // the bounds may be ops of the stage's region, not lowered yet
        let bounds: Vec<ValueId> = (self.m.op(red).operands.clone().into_iter())
            .map(|v| self.lower_avail(v, block))
            .collect();
        let one = self.index_const(1);
        let zero = self.index_const(0);
        let (mut a, mut b) = (lo, hi);
        let mut any = false;
        for r in schedule::reads_under(self.m, body) {
            let d = self.m.op(r).clone();
            if d.attr("boundary").is_none()
                || !d.operands[1..]
                    .iter()
                    .any(|&i| schedule::depends_on(self.m, i, &inner))
            {
                continue;
            }
            let terms = schedule::column_offsets(self.m, r, var, &rset)
                .expect("checked by vector_accumulable");
            // e = the sum of the terms, over its least and greatest values
            let (mut emin, mut emax) = (zero, zero);
            for (t, neg) in terms {
                let (tlo, thi) = match rvars.iter().position(|&v| v == t) {
                    Some(k) => {
                        let last = self.bin(block, ArithOp::Sub, bounds[2 * k + 1], one);
                        (bounds[2 * k], last)
                    }
                    None => {
                        let v = self.lower_avail(t, block);
                        (v, v)
                    }
                };
                if neg {
                    emin = self.bin(block, ArithOp::Sub, emin, thi);
                    emax = self.bin(block, ArithOp::Sub, emax, tlo);
                } else {
                    emin = self.bin(block, ArithOp::Add, emin, tlo);
                    emax = self.bin(block, ArithOp::Add, emax, thi);
                }
            }
            let n = *self.extents[&d.operands[0]].last().expect("rank >= 1");
            // 0 <= j + emin and j + emax < n
            let from = self.bin(block, ArithOp::Sub, zero, emin);
            a = self.bin(block, ArithOp::Max, a, from);
            let to = self.bin(block, ArithOp::Sub, n, emax);
            b = self.bin(block, ArithOp::Min, b, to);
            any = true;
        }
        if !any {
            return None;
        }
        let a = self.bin(block, ArithOp::Min, a, hi);
        let b = self.bin(block, ArithOp::Max, b, a);
        Some((a, b))
    }

    /// `reduce_order = "vector"`: the columns `[lo, jend)` of the current
    /// row in blocks of `U` vectors whose accumulators are carried through
    /// the reduction loops in registers, then stored; returns `jend`, where
    /// the scalar remainder starts.
    #[allow(clippy::too_many_arguments)]
    fn vector_blocks(
        &mut self,
        block: BlockId,
        op: OpId,
        red: OpId,
        (lo, jend): (ValueId, ValueId),
        vars: &[ValueId],
        rows: &[ValueId],
        chunk: Option<(ValueId, ValueId)>,
    ) {
        let (u_count, lanes) = self.vector_block_shape(op, rows.len() > 1);
        let row_var = vars[vars.len() - 2];
        let result = self.m.result(op);
        let elem = self.m.ty(result).elem();
        let vty = Type::Vector {
            elem,
            lanes: lanes as u32,
        };
        let width = self.index_const(u_count * lanes);
        let loc = self.m.op(op).loc;
        let j_old = *vars.last().expect("rank >= 2");
        let name = self.m.value(j_old).name.clone();
        let (jb_block, jb) = self.open_for(block, (lo, jend, width), name, loc);
        // the stage region's own ops before the reduction (its bounds)
        let region = self.m.entry_block(op, 0);
        for o in self.m.block(region).ops.clone() {
            let opc = self.m.op(o).opcode;
            if o != red && opc != Opcode::Pj(PjOp::Yield) {
                self.lower_expr_op(o, jb_block);
            }
        }
        let kind = self.reduce_kind(red);
        let ident = self.value(
            jb_block,
            OpSpec::new(arith(ArithOp::Constant))
                .attr("value", Scalar::reduce_identity(&kind, elem).to_attr())
                .result(Type::Scalar(elem)),
        );
        let ident = self.value(
            jb_block,
            OpSpec::new(Opcode::Vector(VectorOp::Broadcast))
                .operands([ident])
                .result(vty.clone()),
        );
        let mut rbounds: Vec<ValueId> = self.mapped_operands(red);
        let n_acc = rows.len() * u_count as usize;
        let (buf, origin) = {
            let sb = &self.stages[&result];
            (sb.buf, sb.origin.clone())
        };
        let mut accs: Vec<ValueId> = vec![ident; n_acc];
        if let Some((k0, k1)) = chunk {
            // one chunk of the outermost reduction variable, continuing
            // from the accumulators the previous chunk stored
            rbounds[0] = k0;
            rbounds[1] = k1;
            accs.clear();
            for &row in rows {
                self.map.insert(row_var, row);
                for u in 0..u_count {
                    let off = self.index_const(u * lanes);
                    let ju = self.bin(jb_block, ArithOp::Add, jb, off);
                    self.map.insert(j_old, ju);
                    let mut operands = vec![buf];
                    for (k, &v) in vars.iter().enumerate() {
                        let iv = self.map[&v];
                        operands.push(self.bin(jb_block, ArithOp::Sub, iv, origin[k]));
                    }
                    accs.push(
                        self.value(
                            jb_block,
                            OpSpec::new(Opcode::Vector(VectorOp::Load))
                                .operands(operands)
                                .result(vty.clone())
                                .loc(loc),
                        ),
                    );
                }
            }
        }
        let shape = BlockShape {
            rows,
            u_count,
            lanes,
            jb,
            j_old,
            row_var,
        };
        let finals = match (self.dot, chunk) {
            (Some((plan, packed)), Some(_)) => {
                self.dot_loops(jb_block, red, &rbounds, accs, &vty, &shape, (plan, packed))
            }
            // a chunk of a cache block is long: worth unrolling
            (_, chunk) => {
                let unroll = chunk.is_some();
                self.reduction_loops(jb_block, red, &rbounds, accs, &vty, &shape, unroll)
            }
        };
        // store the accumulators: columns jb + u * lanes of the current row
        for (r, &row) in rows.iter().enumerate() {
            self.map.insert(row_var, row);
            for u in 0..u_count {
                let off = self.index_const(u * lanes);
                let ju = self.bin(jb_block, ArithOp::Add, jb, off);
                self.map.insert(j_old, ju);
                let mut operands = vec![finals[r * u_count as usize + u as usize], buf];
                for (k, &v) in vars.iter().enumerate() {
                    let iv = self.map[&v];
                    operands.push(self.bin(jb_block, ArithOp::Sub, iv, origin[k]));
                }
                // rows clamped to the domain, columns below the blocks' end:
                // inside the stage's buffer by construction
                self.push(
                    jb_block,
                    OpSpec::new(Opcode::Vector(VectorOp::Store))
                        .operands(operands)
                        .attr("in_bounds", Attr::Bool(true))
                        .loc(loc),
                );
            }
        }
        self.map.insert(row_var, rows[0]);
        self.push(jb_block, OpSpec::new(Opcode::Loop(LoopOp::Yield)));
    }

    /// The loops of a register block's reduction in `block`, over
    /// `rbounds` (a pair per reduction variable), from accumulators
    /// `accs`: each step adds every row's and vector's term. Returns the
    /// accumulators after the last step. With `unroll`, the innermost loop
    /// of a block of several rows carries the hint [`REDUCTION_UNROLL`]
    /// (for a chunk of a cache block: long loops, where it pays; conv2d's
    /// 5 taps ran 8% slower unrolled).
    #[allow(clippy::too_many_arguments)]
    fn reduction_loops(
        &mut self,
        block: BlockId,
        red: OpId,
        rbounds: &[ValueId],
        mut accs: Vec<ValueId>,
        vty: &Type,
        shape: &BlockShape,
        unroll: bool,
    ) -> Vec<ValueId> {
        let BlockShape {
            rows,
            u_count,
            lanes,
            jb,
            j_old,
            row_var,
        } = *shape;
        let one = self.index_const(1);
        let loc = self.m.op(red).loc;
        let kind = self.reduce_kind(red);
        let rregion = self.m.entry_block(red, 0);
        let rvars = self.m.block(rregion).args.clone();
        let n_acc = accs.len();
        let mut cur = block;
        let mut levels: Vec<(BlockId, Vec<ValueId>)> = Vec::new();
        let mut outer_results: Option<Vec<ValueId>> = None;
        let innermost = rbounds.len() / 2 - 1;
        for (k, pair) in rbounds.chunks(2).enumerate() {
            let mut operands = vec![pair[0], pair[1], one];
            operands.extend(accs.iter().copied());
            let mut spec = OpSpec::new(Opcode::Loop(LoopOp::For))
                .operands(operands)
                .regions(1)
                .loc(loc);
            if unroll && k == innermost && rows.len() > 1 {
                spec = spec.attr(crate::dialects::loops::UNROLL, Attr::Int(REDUCTION_UNROLL));
            }
            spec.result_types = vec![vty.clone(); n_acc];
            let rl = self.push(cur, spec);
            let results = self.m.op(rl).results.clone();
            if outer_results.is_none() {
                outer_results = Some(results.clone());
            }
            let inner = self.m.entry_block(rl, 0);
            let name = self.m.value(rvars[k]).name.clone();
            let iv = self.m.add_block_arg(inner, Type::INDEX, name);
            self.map.insert(rvars[k], iv);
            accs = (0..n_acc)
                .map(|_| self.m.add_block_arg(inner, vty.clone(), Some("acc".into())))
                .collect();
            levels.push((inner, results));
            cur = inner;
        }
        let combine = crate::dialects::arith::reduce_combiner(&kind);
        let mut next = Vec::new();
        for (r, &row) in rows.iter().enumerate() {
            self.map.insert(row_var, row);
            for u in 0..u_count {
                let off = self.index_const(u * lanes);
                let ju = self.bin(cur, ArithOp::Add, jb, off);
                self.map.insert(j_old, ju);
                let term = self.lower_region_vector(rregion, cur, j_old, vty);
                let a = accs[r * u_count as usize + u as usize];
                next.push(self.bin(cur, combine, a, term));
            }
        }
        for (i, (b, _)) in levels.iter().enumerate().rev() {
            self.push(
                *b,
                OpSpec::new(Opcode::Loop(LoopOp::Yield)).operands(next.clone()),
            );
            if i > 0 {
                next = levels[i].1.clone();
            }
        }
        outer_results.unwrap_or(next)
    }

    /// [`Lowerer::reduction_loops`] for a [`DotPlan`] over one chunk
    /// `rbounds = [k0, k1]`: the whole quads of steps by `vector.dot4`
    /// (each row's four bytes of `x` against the packed block), then the
    /// steps left over one at a time, reading `y` itself.
    #[allow(clippy::too_many_arguments)]
    fn dot_loops(
        &mut self,
        block: BlockId,
        red: OpId,
        rbounds: &[ValueId],
        accs: Vec<ValueId>,
        vty: &Type,
        shape: &BlockShape,
        (plan, packed): (DotPlan, Packed),
    ) -> Vec<ValueId> {
        let BlockShape {
            rows,
            u_count,
            lanes,
            jb,
            row_var,
            ..
        } = *shape;
        let loc = self.m.op(red).loc;
        let (k0, k1) = (rbounds[0], rbounds[1]);
        let four = self.index_const(4);
        let span = self.bin(block, ArithOp::Sub, k1, k0);
        let quads = self.bin(block, ArithOp::Div, span, four);
        let whole = self.bin(block, ArithOp::Mul, quads, four);
        let kq_end = self.bin(block, ArithOp::Add, k0, whole);
        let x_read = self.m.op(plan.row_read).clone();
        let x_ty = Type::Vector {
            elem: self.m.ty(x_read.results[0]).elem(),
            lanes: 4,
        };
        let y_ty = Type::Vector {
            elem: self.m.ty(self.m.op(plan.col_read).results[0]).elem(),
            lanes: 4 * lanes as u32,
        };
        let x_buf = self
            .whole_buffer(x_read.operands[0])
            .expect("checked by `dot_plan`");
        let w = self.index_const(packed.width);
        // where each column vector's packed lanes start: the same for
        // every step, so computed before the loop
        let mut y_at = Vec::new();
        for u in 0..u_count {
            let off = self.index_const(u * lanes);
            let ju = self.bin(block, ArithOp::Add, jb, off);
            let rel = self.bin(block, ArithOp::Sub, ju, packed.j0);
            let q = self.bin(block, ArithOp::Div, rel, w);
            let qw = self.bin(block, ArithOp::Mul, q, w);
            let lane = self.bin(block, ArithOp::Sub, rel, qw);
            let byte = self.bin(block, ArithOp::Mul, lane, four);
            y_at.push((q, byte));
        }
        // the loop counts quads: every index is then the counter or four
        // times it plus a value from outside, which one precheck at entry
        // covers (counting `k` in steps of four, the packed index
        // `(k - k0) / 4` was checked at every step)
        let (zero, one) = (self.index_const(0), self.index_const(1));
        let mut operands = vec![zero, quads, one];
        operands.extend(accs.iter().copied());
        let mut spec = OpSpec::new(Opcode::Loop(LoopOp::For))
            .operands(operands)
            .regions(1)
            .loc(loc);
        spec.result_types = vec![vty.clone(); accs.len()];
        let l = self.push(block, spec);
        let results = self.m.op(l).results.clone();
        let body = self.m.entry_block(l, 0);
        let kq = self.m.add_block_arg(body, Type::INDEX, Some("quad".into()));
        let accs: Vec<ValueId> = accs
            .iter()
            .map(|_| self.m.add_block_arg(body, vty.clone(), Some("acc".into())))
            .collect();
        let k4 = self.bin(body, ArithOp::Mul, kq, four);
        let k = self.bin(body, ArithOp::Add, k4, k0);
        // the packed vectors: one per column vector, shared by the rows
        let ys: Vec<ValueId> = y_at
            .into_iter()
            .map(|(q, byte)| {
                self.value(
                    body,
                    OpSpec::new(Opcode::Vector(VectorOp::Load))
                        .operands([packed.buf, q, kq, byte])
                        .result(y_ty.clone())
                        .loc(loc),
                )
            })
            .collect();
        let mut next = Vec::new();
        for (r, &row) in rows.iter().enumerate() {
            self.map.insert(row_var, row);
            let mut operands = vec![x_buf];
            let last = x_read.operands.len() - 1;
            operands.extend(x_read.operands[1..last].iter().map(|v| self.map[v]));
            operands.push(k);
            let mut x = self.value(
                body,
                OpSpec::new(Opcode::Vector(VectorOp::Load))
                    .operands(operands)
                    .result(x_ty.clone())
                    .loc(x_read.loc),
            );
            if plan.flip_row {
                x = self.offset_bytes(body, x, loc);
            }
            for (u, &y) in ys.iter().enumerate() {
                let acc = accs[r * u_count as usize + u];
                let mut spec = OpSpec::new(Opcode::Vector(VectorOp::Dot4))
                    .operands([acc, x, y])
                    .result(vty.clone())
                    .loc(loc);
                if plan.pairs16 {
                    spec = spec.attr("pairs16", Attr::Bool(true));
                }
                next.push(self.value(body, spec));
            }
        }
        self.push(
            body,
            OpSpec::new(Opcode::Loop(LoopOp::Yield)).operands(next),
        );
        // the offset rows added c · Σ y (the centered ones left it in):
        // taken off once per chunk
        let results = match packed.offset_sums {
            Some(sums) => {
                let mut fixed = Vec::new();
                for (i, &acc) in results.iter().enumerate() {
                    let u = i as i64 % u_count;
                    let off = self.index_const(u * lanes);
                    let ju = self.bin(block, ArithOp::Add, jb, off);
                    let rel = self.bin(block, ArithOp::Sub, ju, packed.j0);
                    let s = self.value(
                        block,
                        OpSpec::new(Opcode::Vector(VectorOp::Load))
                            .operands([sums, rel])
                            .attr("in_bounds", Attr::Bool(true))
                            .result(vty.clone())
                            .loc(loc),
                    );
                    fixed.push(self.bin(block, ArithOp::Sub, acc, s));
                }
                fixed
            }
            None => results,
        };
        self.reduction_loops(block, red, &[kq_end, k1], results, vty, shape, false)
    }

    /// `x`'s `i8` bytes plus 128, as `u8` (the same bits with the top one
    /// flipped): what `vpdpbusd` takes as its unsigned operand.
    fn offset_bytes(&mut self, block: BlockId, x: ValueId, loc: Option<Loc>) -> ValueId {
        let lanes = self.m.ty(x).lanes().expect("a vector");
        let u8v = Type::Vector {
            elem: ScalarType::U8,
            lanes,
        };
        let ux = self.value(
            block,
            OpSpec::new(arith(ArithOp::Cast))
                .operands([x])
                .result(u8v.clone())
                .loc(loc),
        );
        let c = self.value(
            block,
            OpSpec::new(arith(ArithOp::Constant))
                .attr("value", Attr::Int(128))
                .result(Type::Scalar(ScalarType::U8)),
        );
        let c = self.value(
            block,
            OpSpec::new(Opcode::Vector(VectorOp::Broadcast))
                .operands([c])
                .result(u8v.clone()),
        );
        self.bin(block, ArithOp::Add, ux, c)
    }

    /// For a [`DotPlan`] with a `row_offset` `c`: a buffer of one `i32`
    /// per column of the block `[j0, j1)` (at most `cols` of them), `c ·
    /// Σ y[k, j]` over the whole quads of `[k0, k1)` — `vector.dot4` of a
    /// row of four `c`s with each packed column vector, so it sums the
    /// bytes the micro-kernel multiplies, in its layout.
    #[allow(clippy::too_many_arguments)]
    fn offset_sums(
        &mut self,
        block: BlockId,
        packed: &Packed,
        (k0, k1): (ValueId, ValueId),
        (j0, j1): (ValueId, ValueId),
        (cols, lanes, c): (i64, i64, i64),
        elem: ScalarType,
        loc: Option<Loc>,
    ) -> ValueId {
        // a row of `c`s below 128 against `i8`: exact in `pmaddubsw`'s pairs
        let pairs16 = self.dot_products.seven_bit_rows() && elem == ScalarType::I8 && c < 128;
        let i32v = Type::Vector {
            elem: ScalarType::I32,
            lanes: lanes as u32,
        };
        let y_ty = Type::Vector {
            elem,
            lanes: 4 * lanes as u32,
        };
        let n = self.index_const(cols);
        let buf = self.value(
            block,
            OpSpec::new(Opcode::Mem(MemOp::Alloc))
                .operands([n])
                .result(Type::dynamic_buffer(ScalarType::I32, 1))
                .loc(loc),
        );
        self.m.set_value_name(buf, "offset_sums");
        let four = self.index_const(4);
        let span = self.bin(block, ArithOp::Sub, k1, k0);
        let quads = self.bin(block, ArithOp::Div, span, four);
        let xc = {
            let u8v = Type::Vector {
                elem: ScalarType::U8,
                lanes: 4,
            };
            let c = self.value(
                block,
                OpSpec::new(arith(ArithOp::Constant))
                    .attr("value", Attr::Int(c))
                    .result(Type::Scalar(ScalarType::U8)),
            );
            self.value(
                block,
                OpSpec::new(Opcode::Vector(VectorOp::Broadcast))
                    .operands([c])
                    .result(u8v),
            )
        };
        let zero = {
            let c = self.value(
                block,
                OpSpec::new(arith(ArithOp::Constant))
                    .attr("value", Attr::Int(0))
                    .result(Type::Scalar(ScalarType::I32)),
            );
            self.value(
                block,
                OpSpec::new(Opcode::Vector(VectorOp::Broadcast))
                    .operands([c])
                    .result(i32v.clone()),
            )
        };
        // whole vectors of columns in [j0, j1)
        let width = self.bin(block, ArithOp::Sub, j1, j0);
        let l = self.index_const(lanes);
        let vecs = self.bin(block, ArithOp::Div, width, l);
        let w = self.index_const(packed.width);
        let (zero_i, one) = (self.index_const(0), self.index_const(1));
        let (cbody, c) = self.open_for(block, (zero_i, vecs, one), Some("colvec".into()), loc);
        let rel = self.bin(cbody, ArithOp::Mul, c, l);
        let q = self.bin(cbody, ArithOp::Div, rel, w);
        let qw = self.bin(cbody, ArithOp::Mul, q, w);
        let lane = self.bin(cbody, ArithOp::Sub, rel, qw);
        let byte = self.bin(cbody, ArithOp::Mul, lane, four);
        let mut spec = OpSpec::new(Opcode::Loop(LoopOp::For))
            .operands([zero_i, quads, one, zero])
            .regions(1)
            .loc(loc);
        spec.result_types = vec![i32v.clone()];
        let kl = self.push(cbody, spec);
        let sum = self.m.result(kl);
        let kbody = self.m.entry_block(kl, 0);
        let kq = self
            .m
            .add_block_arg(kbody, Type::INDEX, Some("quad".into()));
        let acc = self
            .m
            .add_block_arg(kbody, i32v.clone(), Some("acc".into()));
        let y = self.value(
            kbody,
            OpSpec::new(Opcode::Vector(VectorOp::Load))
                .operands([packed.buf, q, kq, byte])
                .result(y_ty)
                .loc(loc),
        );
        let mut spec = OpSpec::new(Opcode::Vector(VectorOp::Dot4))
            .operands([acc, xc, y])
            .result(i32v)
            .loc(loc);
        if pairs16 {
            spec = spec.attr("pairs16", Attr::Bool(true));
        }
        let next = self.value(kbody, spec);
        self.push(
            kbody,
            OpSpec::new(Opcode::Loop(LoopOp::Yield)).operands([next]),
        );
        self.push(
            cbody,
            OpSpec::new(Opcode::Vector(VectorOp::Store)).operands([sum, buf, rel]),
        );
        self.push(cbody, OpSpec::new(Opcode::Loop(LoopOp::Yield)));
        buf
    }

    /// Vectors per row and lanes per vector of a `reduce_order = vector`
    /// stage's blocks: 4 vectors for one row; for a block of 6 rows, 2 with
    /// 128- or 256-bit vectors (12 accumulators + 2 loads + 1 broadcast in
    /// 16 registers; measured against 4x2, 4x3 and 3x3 on matmul and qdot)
    /// and 4 with 512-bit ones (AVX-512 has 32 registers: 24 accumulators,
    /// 4 loads, 1 broadcast) when the rows share those loads (a panel,
    /// matmul's `b`), else 2.
    fn vector_block_shape(&self, op: OpId, multi_row: bool) -> (i64, i64) {
        let elem = self.m.ty(self.m.result(op)).elem();
        let bytes = (self.vector_bits / 8) as usize;
        let lanes = (bytes / elem.size_bytes().max(1)) as i64;
        let shares_loads = schedule::hoistable_reduction(self.m, op)
            .is_ok_and(|red| schedule::reads_a_panel(self.m, op, red));
        let per_row = if multi_row && shares_loads {
            row_block_vectors(bytes as i64)
        } else if multi_row {
            // every product has a load of its own (conv2d's image; the
            // filter is the broadcast): a wider block shares nothing more,
            // and LLVM, scheduling 24 products before their 24 additions,
            // spilled half the accumulators (conv2d 2048² with a 5×5
            // filter: 6.8-8.4 ms at 6 × 4 vectors, 4.7-5.1 at 6 × 2)
            row_block_vectors(16)
        } else {
            4
        };
        (self.block_vectors.unwrap_or(per_row), lanes)
    }

    /// Register blocks of one vector per row over the columns `[lo, hi)`
    /// the wide blocks leave (up to 63 at 512 bits, which the general code
    /// would compute one element at a time — matmul at 1000 columns ran 3x
    /// slower than at 1024): vectors of the full width, then of half and a
    /// quarter of it, down to 128 bits; returns where they end. Each
    /// element still adds its terms in the reference order.
    #[allow(clippy::too_many_arguments)]
    fn narrow_vector_blocks(
        &mut self,
        block: BlockId,
        op: OpId,
        red: OpId,
        (lo, hi): (ValueId, ValueId),
        vars: &[ValueId],
        rows: &[ValueId],
    ) -> ValueId {
        let full = self.vector_bits;
        let mut start = lo;
        self.block_vectors = Some(1);
        while self.vector_bits >= 128 {
            let lanes = self.vector_block_shape(op, rows.len() > 1).1;
            let end = self.span_end(block, start, hi, lanes);
            self.vector_blocks(block, op, red, (start, end), vars, rows, None);
            start = end;
            self.vector_bits /= 2;
        }
        self.vector_bits = full;
        self.block_vectors = None;
        start
    }

    /// Where [`Lowerer::narrow_vector_blocks`] from `lo` ends (computed
    /// again outside the loop over row blocks it runs in).
    fn narrow_blocks_end(&mut self, block: BlockId, op: OpId, lo: ValueId, hi: ValueId) -> ValueId {
        let mut bits = self.vector_bits;
        let mut end = lo;
        while bits >= 128 {
            let elem = self.m.ty(self.m.result(op)).elem();
            let lanes = (bits as usize / 8 / elem.size_bytes().max(1)) as i64;
            end = self.span_end(block, end, hi, lanes);
            bits /= 2;
        }
        end
    }

    /// Columns per vector block of a `reduce_order = vector` stage.
    fn vector_block_width(&self, op: OpId, multi_row: bool) -> i64 {
        let (u, lanes) = self.vector_block_shape(op, multi_row);
        u * lanes
    }

    /// The end of the longest prefix of `[lo, hi)` that is whole blocks of
    /// `width` columns.
    fn span_end(&mut self, block: BlockId, lo: ValueId, hi: ValueId, width: i64) -> ValueId {
        let zero = self.index_const(0);
        let w = self.index_const(width);
        let span = self.bin(block, ArithOp::Sub, hi, lo);
        let span = self.bin(block, ArithOp::Max, span, zero);
        let n = self.bin(block, ArithOp::Div, span, w);
        let n = self.bin(block, ArithOp::Mul, n, w);
        self.bin(block, ArithOp::Add, lo, n)
    }

    /// `ceil(a / b)` for `a >= 0`, `b >= 1`, both computed in `block`.
    fn ceil_div_by(&mut self, block: BlockId, a: ValueId, b: ValueId) -> ValueId {
        let one = self.index_const(1);
        let b1 = self.bin(block, ArithOp::Sub, b, one);
        let ab = self.bin(block, ArithOp::Add, a, b1);
        self.bin(block, ArithOp::Div, ab, b)
    }

    /// `ceil((hi - lo) / d)`, zero for an empty range.
    fn ceil_div(&mut self, block: BlockId, lo: ValueId, hi: ValueId, d: i64) -> ValueId {
        let zero = self.index_const(0);
        let dv = self.index_const(d);
        let d1 = self.index_const(d - 1);
        let n = self.bin(block, ArithOp::Sub, hi, lo);
        let n = self.bin(block, ArithOp::Max, n, zero);
        let n = self.bin(block, ArithOp::Add, n, d1);
        self.bin(block, ArithOp::Div, n, dv)
    }

    /// The ROW_BLOCK rows of block `ib` of the rows `[first, end)`, the
    /// last block repeating the last row; the first is named `name`.
    fn block_rows(
        &mut self,
        block: BlockId,
        ib: ValueId,
        (first, end): (ValueId, ValueId),
        name: String,
    ) -> Vec<ValueId> {
        let one = self.index_const(1);
        let rb = self.index_const(ROW_BLOCK);
        let base = self.bin(block, ArithOp::Mul, ib, rb);
        let base = self.bin(block, ArithOp::Add, first, base);
        let last_row = self.bin(block, ArithOp::Sub, end, one);
        self.row_block = Some((base, last_row));
        let mut rows = Vec::new();
        for r in 0..ROW_BLOCK {
            let off = self.index_const(r);
            let row = self.bin(block, ArithOp::Add, base, off);
            let row = self.bin(block, ArithOp::Min, row, last_row);
            if r == 0 {
                self.m.set_value_name(row, name.clone());
            }
            rows.push(row);
        }
        rows
    }

    /// The `kind` of reduction `red` (`"sum"`, ...).
    fn reduce_kind(&self, red: OpId) -> String {
        let kind = self.m.op(red).attr("kind").and_then(Attr::as_str);
        kind.expect("verified").to_string()
    }

    /// Opens `for name in [lo, hi) by step` in `block`: the loop's body
    /// block and its induction variable (the caller ends it with a yield).
    fn open_for(
        &mut self,
        block: BlockId,
        (lo, hi, step): (ValueId, ValueId, ValueId),
        name: Option<String>,
        loc: Option<Loc>,
    ) -> (BlockId, ValueId) {
        let l = self.push(
            block,
            OpSpec::new(Opcode::Loop(LoopOp::For))
                .operands([lo, hi, step])
                .regions(1)
                .loc(loc),
        );
        let body = self.m.entry_block(l, 0);
        let iv = self.m.add_block_arg(body, Type::INDEX, name);
        (body, iv)
    }

    /// A loop in `block` over the row blocks of `panel`, calling `body`
    /// with the loop's block and the rows of each.
    fn for_panel_blocks(
        &mut self,
        block: BlockId,
        panel: &Panel,
        body: &mut dyn FnMut(&mut Self, BlockId, &[ValueId]),
    ) {
        let one = self.index_const(1);
        let (first, end) = panel.blocks;
        let (inner, ib) = self.open_for(block, (first, end, one), Some("rows".into()), None);
        let rows = self.block_rows(inner, ib, panel.rows, panel.name.clone());
        body(self, inner, &rows);
        self.push(inner, OpSpec::new(Opcode::Loop(LoopOp::Yield)));
    }

    /// A loop in `block` over the rows of `panel` (each once: per row, not
    /// per row block, so the code is one copy), calling `body` with the
    /// loop's block and `row_var` mapped to the row.
    fn for_panel_rows(
        &mut self,
        block: BlockId,
        panel: &Panel,
        row_var: ValueId,
        body: &mut dyn FnMut(&mut Self, BlockId),
    ) {
        let one = self.index_const(1);
        let rb = self.index_const(ROW_BLOCK);
        let (first, end) = panel.blocks;
        let (lo, hi) = panel.rows;
        let r0 = self.bin(block, ArithOp::Mul, first, rb);
        let r0 = self.bin(block, ArithOp::Add, lo, r0);
        let r1 = self.bin(block, ArithOp::Mul, end, rb);
        let r1 = self.bin(block, ArithOp::Add, lo, r1);
        let r1 = self.bin(block, ArithOp::Min, r1, hi);
        let (inner, row) = self.open_for(block, (r0, r1, one), Some(panel.name.clone()), None);
        self.map.insert(row_var, row);
        body(self, inner);
        self.push(inner, OpSpec::new(Opcode::Loop(LoopOp::Yield)));
    }

    /// A `reduce_order = vector` stage with a cache block, over one panel
    /// of row blocks (BLIS's loops around its micro-kernel, without
    /// packing): the vector columns start at the reduction identity; for
    /// each block of `cb.cols` columns and each chunk of `cb.k` steps of
    /// the reduction, every row block of the panel runs its register
    /// blocks over that chunk, loading its accumulators from the stage's
    /// buffer and storing them back. Each element still folds its terms in
    /// the reference order (one fold, stopped and resumed), so results are
    /// bit for bit the same. Columns outside whole vector blocks (and at
    /// boundary edges) get the general code afterwards.
    #[allow(clippy::too_many_arguments)]
    fn cache_blocked(
        &mut self,
        blk: BlockId,
        op: OpId,
        red: OpId,
        panel: &Panel,
        (lo, hi): (ValueId, ValueId),
        vars: &[ValueId],
        cb: schedule::CacheBlock,
    ) {
        let rank = vars.len();
        let (row_var, last) = (vars[rank - 2], vars[rank - 1]);
        let result = self.m.result(op);
        let region = self.m.entry_block(op, 0);
        let loc = self.m.op(op).loc;
        let kind = self.reduce_kind(red);
        let interior = self.column_interior(blk, red, last, lo, hi);
        let (a, b) = interior.unwrap_or((lo, hi));
        let packable = self.packable_reads(op, red);
        let plan = self.dot_plan(op, red, &packable);
        if plan.is_some() && self.vector_bits >= 512 {
            // 6 rows x 3 vectors: 18 accumulators, 3 packed vectors and 6
            // rows' four bytes fit AVX-512's 32 registers; with 4 vectors
            // LLVM kept the rows' bytes in registers and spilled
            // accumulators
            self.block_vectors = Some(3);
        }
        let width = self.vector_block_width(op, true);
        let jend = self.span_end(blk, a, b, width);
        // 1. the identity in every column the vector blocks accumulate in
        self.for_panel_rows(blk, panel, row_var, &mut |s, body| {
            let init = Body::Init(kind.clone());
            s.inner_loop(body, a, jend, last, false, result, vars, &init);
        });
        // 2. blocks of columns, chunks of the reduction, row blocks; the
        // operands read at [k, j] packed per block
        let cols_n = (cb.cols.max(1) + width - 1) / width * width;
        let packs: Vec<(ValueId, ValueId, Vec<OpId>)> = packable
            .into_iter()
            .map(|(array, reads)| {
                let elem = self.m.ty(array).elem();
                let dims = match plan {
                    // four steps of `k` per row of the block
                    Some(p) if reads.contains(&p.col_read) => {
                        [cols_n / width, (cb.k.max(1) + 3) / 4, 4 * width]
                    }
                    _ => [cols_n / width, cb.k.max(1), width],
                }
                .map(|n| self.index_const(n));
                let buf = self.value(
                    blk,
                    OpSpec::new(Opcode::Mem(MemOp::Alloc))
                        .operands(dims)
                        .result(Type::dynamic_buffer(elem, 3))
                        .loc(loc),
                );
                let name = format!("{}_packed", schedule::array_name(self.m, array));
                self.m.set_value_name(buf, name);
                (array, buf, reads)
            })
            .collect();
        let cols = self.index_const(cols_n);
        let mut offset_bufs = Vec::new();
        let (jbody, jc) = self.open_for(blk, (a, jend, cols), Some("cols".into()), loc);
        let jc_end = self.bin(jbody, ArithOp::Add, jc, cols);
        let jc_end = self.bin(jbody, ArithOp::Min, jc_end, jend);
        let red_bounds = self.m.op(red).operands.clone();
        let klo = self.lower_avail(red_bounds[0], jbody);
        let khi = self.lower_avail(red_bounds[1], jbody);
        let steps = self.index_const(cb.k.max(1));
        let (kbody, k0) = self.open_for(jbody, (klo, khi, steps), Some("chunk".into()), loc);
        let k1 = self.bin(kbody, ArithOp::Add, k0, steps);
        let k1 = self.bin(kbody, ArithOp::Min, k1, khi);
        for &(array, buf, ref reads) in &packs {
            let lanes = self.vector_block_shape(op, true).1;
            let mut p = Packed {
                buf,
                k0,
                j0: jc,
                width,
                offset_sums: None,
            };
            if let Some(plan) = plan.filter(|p| reads.contains(&p.col_read)) {
                // the steps left over read the array itself
                self.pack_quads(
                    kbody,
                    array,
                    buf,
                    (k0, k1),
                    (jc, jc_end),
                    (width, lanes),
                    loc,
                );
                if let Some(c) = plan.row_offset {
                    p.offset_sums = Some(self.offset_sums(
                        kbody,
                        &p,
                        (k0, k1),
                        (jc, jc_end),
                        (cols_n, lanes, c),
                        self.m.ty(array).elem(),
                        loc,
                    ));
                    offset_bufs.push(p.offset_sums.expect("just made"));
                }
                self.dot = Some((plan, p));
                continue;
            }
            self.pack_block(
                kbody,
                array,
                buf,
                (k0, k1),
                (jc, jc_end),
                (width, lanes),
                loc,
            );
            for &r in reads {
                self.packed.insert(r, p);
            }
        }
        self.for_panel_blocks(kbody, panel, &mut |s, body, rows| {
            s.vector_blocks(body, op, red, (jc, jc_end), vars, rows, Some((k0, k1)));
        });
        for (_, _, reads) in &packs {
            for r in reads {
                self.packed.remove(r);
            }
        }
        self.dot = None;
        self.block_vectors = None;
        for b in offset_bufs {
            self.push(
                kbody,
                OpSpec::new(Opcode::Mem(MemOp::Dealloc)).operands([b]),
            );
        }
        self.push(kbody, OpSpec::new(Opcode::Loop(LoopOp::Yield)));
        self.push(jbody, OpSpec::new(Opcode::Loop(LoopOp::Yield)));
        for (_, buf, _) in packs.into_iter().rev() {
            self.push(
                blk,
                OpSpec::new(Opcode::Mem(MemOp::Dealloc)).operands([buf]),
            );
        }
        // 3. the columns left: whole vectors after the blocks, narrower
        // blocks; boundary edges and the last partial vector, the general
        // code
        self.for_panel_blocks(blk, panel, &mut |s, body, rows| {
            s.narrow_vector_blocks(body, op, red, (jend, b), vars, rows);
        });
        let narrow_end = self.narrow_blocks_end(blk, op, jend, b);
        self.for_panel_rows(blk, panel, row_var, &mut |s, body| {
            let value = Body::Value(region);
            if interior.is_some() {
                s.inner_loop(body, lo, a, last, false, result, vars, &value);
            }
            s.inner_loop(body, narrow_end, hi, last, false, result, vars, &value);
        });
    }

    /// The reads of a cache-blocked stage's reduction that a packed block
    /// can serve, by array: a rank-2 input read plainly at `[k, j]`, the
    /// outermost reduction variable and the stage's last one (matmul's
    /// `b[k, j]`). Their blocks are read by every row block of a panel, and
    /// unpacked each step of `k` is a new row of the array (a page and an
    /// L1 set apart when rows are 4 KiB).
    fn packable_reads(&self, op: OpId, red: OpId) -> Vec<(ValueId, Vec<OpId>)> {
        let vars = &self.m.block(self.m.entry_block(op, 0)).args;
        let j = vars[vars.len() - 1];
        let body = self.m.entry_block(red, 0);
        let k = self.m.block(body).args[0];
        let mut out: Vec<(ValueId, Vec<OpId>)> = Vec::new();
        for r in schedule::reads_under(self.m, body) {
            let d = self.m.op(r);
            let array = d.operands[0];
            if d.operands[1..] != [k, j]
                || d.attr("boundary").is_some()
                || self.whole_buffer(array).is_none()
            {
                continue;
            }
            match out.iter_mut().find(|(a, _)| *a == array) {
                Some((_, reads)) => reads.push(r),
                None => out.push((array, vec![r])),
            }
        }
        out
    }

    /// The [`DotPlan`] of a cache-blocked stage, if the backend has the
    /// dot product it needs: `sum(k) i32(x[.., k]) * i32(y[k, j])` (either
    /// order) with `x` and `y` of `u8` or `i8`, `y`'s read among the
    /// `packable` ones, `x` an argument read plainly with stage variables
    /// other than the columns' before `k`.
    fn dot_plan(&self, op: OpId, red: OpId, packable: &[(ValueId, Vec<OpId>)]) -> Option<DotPlan> {
        let m = &*self.m;
        if !self.dot_products.any()
            || self.reduce_kind(red) != "sum"
            || m.ty(m.result(op)).elem() != ScalarType::I32
        {
            return None;
        }
        let stage_vars = &m.block(m.entry_block(op, 0)).args;
        let j = *stage_vars.last()?;
        let body = m.entry_block(red, 0);
        let [k] = m.block(body).args[..] else {
            return None;
        };
        let yield_op = *m.block(body).ops.last()?;
        if m.op(yield_op).opcode != Opcode::Pj(PjOp::Yield) {
            return None;
        }
        let mul = m.def_op(m.op(yield_op).operands[0])?;
        if m.op(mul).opcode != arith(ArithOp::Mul) {
            return None;
        }
        // each factor: i32(read) of a u8 or i8 read; the row's may be
        // `i32(read) - c` of a u8 read, `c` a constant in 0..=255
        let centered = |v: ValueId| -> Option<(ValueId, i64)> {
            let sub = m.def_op(v)?;
            let d = m.op(sub);
            let c = m.def_op(*d.operands.get(1)?)?;
            let c = m.op(c);
            let value = c.attr("value").and_then(Attr::as_int)?;
            (d.opcode == arith(ArithOp::Sub)
                && c.opcode == arith(ArithOp::Constant)
                && (0..=255).contains(&value))
            .then_some((d.operands[0], value))
        };
        let byte_read = |v: ValueId| -> Option<(OpId, bool)> {
            let cast = m.def_op(v)?;
            if m.op(cast).opcode != arith(ArithOp::Cast)
                || *m.ty(v) != Type::Scalar(ScalarType::I32)
            {
                return None;
            }
            let read = m.def_op(m.op(cast).operands[0])?;
            let d = m.op(read);
            let elem = m.ty(d.results[0]).as_scalar()?;
            let ok = d.opcode == Opcode::Pj(PjOp::Read)
                && matches!(elem, ScalarType::U8 | ScalarType::I8)
                && d.attr("boundary").is_none();
            ok.then_some((read, elem.is_signed_int()))
        };
        let (f0, f1) = (m.op(mul).operands[0], m.op(mul).operands[1]);
        let factor = |v: ValueId| -> Option<((OpId, bool), Option<i64>)> {
            match centered(v) {
                Some((x, c)) => byte_read(x).filter(|r| !r.1).map(|r| (r, Some(c))),
                None => byte_read(v).map(|r| (r, None)),
            }
        };
        let ((a, ca), (b, cb)) = (factor(f0)?, factor(f1)?);
        let is_col = |r: OpId| packable.iter().any(|(_, reads)| reads.contains(&r));
        let ((row_read, row_signed), (col_read, col_signed), centered_by) =
            if is_col(b.0) && cb.is_none() {
                (a, b, ca)
            } else if is_col(a.0) && ca.is_none() {
                (b, a, cb)
            } else {
                return None;
            };
        let d = m.op(row_read);
        let (array, idx) = (d.operands[0], &d.operands[1..]);
        let row_ok = self.whole_buffer(array).is_some()
            && idx.last() == Some(&k)
            && idx[..idx.len() - 1]
                .iter()
                .all(|&v| v != j && stage_vars.contains(&v));
        let flip_row = row_signed
            && col_signed
            && !self.dot_products.covers(true, true)
            && self.dot_products.covers(false, true);
        let row_offset = if flip_row { Some(128) } else { centered_by };
        // without an exact instruction: `pmaddubsw`'s pairs, where the rows
        // (and the offset's row of `c`s) are below 128
        let pairs16 = !self.dot_products.covers(row_signed, col_signed)
            && !flip_row
            && self.dot_products.pairs16
            && !row_signed
            && col_signed
            && below_128(m, array)
            && centered_by.is_none_or(|c| c < 128);
        (row_ok && (flip_row || pairs16 || self.dot_products.covers(row_signed, col_signed)))
            .then_some(DotPlan {
                row_read,
                col_read,
                flip_row,
                row_offset,
                pairs16,
            })
    }

    /// The buffer holding every element of `array` at its own indices: an
    /// argument's, or a stage's stored whole from index 0 (the `quantize`
    /// pass's quantized operands), not a tile's scratch or a ring.
    fn whole_buffer(&self, array: ValueId) -> Option<ValueId> {
        let m = &*self.m;
        match self.stages.get(&array) {
            None => self.map.get(&array).copied(),
            Some(sb) => {
                let zero = |v: &ValueId| {
                    m.def_op(*v).is_some_and(|o| {
                        m.op(o).opcode == arith(ArithOp::Constant)
                            && m.op(o).attr("value").and_then(Attr::as_int) == Some(0)
                    })
                };
                (sb.ring.is_none() && sb.origin.iter().all(zero)).then_some(sb.buf)
            }
        }
    }

    /// [`Lowerer::pack_block`] for a [`DotPlan`]: the whole quads of
    /// steps of `[k0, k1)`, as `[(j - j0) / width][(k - k0) / 4][4 ((j -
    /// j0) % width) + (k - k0) % 4]` — four rows read as vectors of the
    /// micro-kernel's lanes and interleaved.
    #[allow(clippy::too_many_arguments)]
    fn pack_quads(
        &mut self,
        block: BlockId,
        array: ValueId,
        buf: ValueId,
        (k0, k1): (ValueId, ValueId),
        (j0, j1): (ValueId, ValueId),
        (width, lanes): (i64, i64),
        loc: Option<Loc>,
    ) {
        let elem = self.m.ty(array).elem();
        let row_ty = Type::Vector {
            elem,
            lanes: lanes as u32,
        };
        let quad_ty = Type::Vector {
            elem,
            lanes: 4 * lanes as u32,
        };
        let src = self.whole_buffer(array).expect("a packable array");
        let one = self.index_const(1);
        let four = self.index_const(4);
        let zero = self.index_const(0);
        let span = self.bin(block, ArithOp::Sub, k1, k0);
        let quads = self.bin(block, ArithOp::Div, span, four);
        let (kb, kq) = self.open_for(block, (zero, quads, one), Some("quad".into()), loc);
        let k4 = self.bin(kb, ArithOp::Mul, kq, four);
        let k = self.bin(kb, ArithOp::Add, k0, k4);
        let ks: Vec<ValueId> = (0..4)
            .map(|t| {
                let t = self.index_const(t);
                self.bin(kb, ArithOp::Add, k, t)
            })
            .collect();
        self.for_column_blocks(kb, (j0, j1), (width, lanes), loc, &mut |s, qb, q, j, l| {
            let byte = s.index_const(4 * l);
            let rows: Vec<ValueId> = ks
                .iter()
                .map(|&kt| {
                    s.value(
                        qb,
                        OpSpec::new(Opcode::Vector(VectorOp::Load))
                            .operands([src, kt, j])
                            .result(row_ty.clone())
                            .loc(loc),
                    )
                })
                .collect();
            let v = s.value(
                qb,
                OpSpec::new(Opcode::Vector(VectorOp::Interleave4))
                    .operands(rows)
                    .result(quad_ty.clone())
                    .loc(loc),
            );
            // the packed buffer is allocated with exactly these blocks,
            // quads and bytes: inside by construction
            s.push(
                qb,
                OpSpec::new(Opcode::Vector(VectorOp::Store))
                    .operands([v, buf, q, kq, byte])
                    .attr("in_bounds", Attr::Bool(true))
                    .loc(loc),
            );
        });
        self.push(kb, OpSpec::new(Opcode::Loop(LoopOp::Yield)));
    }

    /// Copies `array[k, j]` for `k` in `[k0, k1)` and `j` in `[j0, j1)` (a
    /// multiple of `width` columns) into `buf` as `[(j - j0) / width][k -
    /// k0][(j - j0) % width]`: rows of the array read along their length,
    /// in vectors of the micro-kernel's lanes.
    #[allow(clippy::too_many_arguments)]
    fn pack_block(
        &mut self,
        block: BlockId,
        array: ValueId,
        buf: ValueId,
        (k0, k1): (ValueId, ValueId),
        (j0, j1): (ValueId, ValueId),
        (width, lanes): (i64, i64),
        loc: Option<Loc>,
    ) {
        let vty = Type::Vector {
            elem: self.m.ty(array).elem(),
            lanes: lanes as u32,
        };
        let src = self.whole_buffer(array).expect("a packable array");
        let one = self.index_const(1);
        let (kb, k) = self.open_for(block, (k0, k1, one), Some("k".into()), loc);
        let kk = self.bin(kb, ArithOp::Sub, k, k0);
        self.for_column_blocks(kb, (j0, j1), (width, lanes), loc, &mut |s, qb, q, j, l| {
            let v = s.value(
                qb,
                OpSpec::new(Opcode::Vector(VectorOp::Load))
                    .operands([src, k, j])
                    .result(vty.clone())
                    .loc(loc),
            );
            let l = s.index_const(l);
            // the packed buffer is allocated with exactly these blocks,
            // rows and columns: inside by construction
            s.push(
                qb,
                OpSpec::new(Opcode::Vector(VectorOp::Store))
                    .operands([v, buf, q, kk, l])
                    .attr("in_bounds", Attr::Bool(true))
                    .loc(loc),
            );
        });
        self.push(kb, OpSpec::new(Opcode::Loop(LoopOp::Yield)));
    }

    /// A loop over the blocks of `width` columns of `[j0, j1)` (a multiple
    /// of `width`) in `block`, calling `lane_group(self, body, q, j, l)`
    /// for each group of `lanes` columns at constant offset `l` in block
    /// `q`, whose first column is `j`: no division or remainder per vector,
    /// and every index `q * width + constant`, a form the backend's bounds
    /// precheck covers.
    fn for_column_blocks(
        &mut self,
        block: BlockId,
        (j0, j1): (ValueId, ValueId),
        (width, lanes): (i64, i64),
        loc: Option<Loc>,
        lane_group: &mut dyn FnMut(&mut Self, BlockId, ValueId, ValueId, i64),
    ) {
        let (zero, one) = (self.index_const(0), self.index_const(1));
        let w = self.index_const(width);
        let span = self.bin(block, ArithOp::Sub, j1, j0);
        let blocks = self.bin(block, ArithOp::Div, span, w);
        let (qb, q) = self.open_for(block, (zero, blocks, one), Some("q".into()), loc);
        let qw = self.bin(qb, ArithOp::Mul, q, w);
        let jq = self.bin(qb, ArithOp::Add, j0, qw);
        for l in (0..width).step_by(lanes.max(1) as usize) {
            let lc = self.index_const(l);
            let j = self.bin(qb, ArithOp::Add, jq, lc);
            lane_group(self, qb, q, j, l);
        }
        self.push(qb, OpSpec::new(Opcode::Loop(LoopOp::Yield)));
    }

    /// Lowers a reduction's body with the innermost stage variable `j` at
    /// lane 0 of a vector: what depends on `j` becomes vector ops of type
    /// `vty` (reads: contiguous vector loads), the rest stays scalar and is
    /// broadcast where a vector needs it. Returns the term as a vector.
    fn lower_region_vector(
        &mut self,
        region: BlockId,
        block: BlockId,
        j: ValueId,
        vty: &Type,
    ) -> ValueId {
        let jset: std::collections::HashSet<ValueId> = [j].into();
        let lanes = vty.lanes().expect("a vector type");
        // every value keeps its element type; the lane count is the
        // accumulator's (a `u8` read feeding an `i32` product is `u8x4`)
        let vector_of = |s: &Self, v: ValueId| Type::Vector {
            elem: s.m.ty(v).elem(),
            lanes,
        };
        let as_vector = |s: &mut Self, v: ValueId| -> ValueId {
            if s.m.ty(v).lanes().is_some() {
                return v;
            }
            let t = vector_of(s, v);
            s.value(
                block,
                OpSpec::new(Opcode::Vector(VectorOp::Broadcast))
                    .operands([v])
                    .result(t),
            )
        };
        for op in self.m.block(region).ops.clone() {
            let d = self.m.op(op).clone();
            if d.opcode == Opcode::Pj(PjOp::Yield) {
                let y = self.map[&d.operands[0]];
                return as_vector(self, y);
            }
            // data varying with `j` (index arithmetic stays scalar)
            let vector = d.results.iter().any(|&r| {
                schedule::reads_data(self.m, r) && schedule::depends_on(self.m, r, &jset)
            });
            if !vector {
                self.lower_expr_op(op, block);
                continue;
            }
            match d.opcode {
                Opcode::Pj(PjOp::Read) if self.packed.contains_key(&op) => {
                    // [k, j] of the packed block: [(j - j0) / W, k - k0, (j - j0) % W]
                    let p = self.packed[&op];
                    let (k, jj) = (self.map[&d.operands[1]], self.map[&d.operands[2]]);
                    let w = self.index_const(p.width);
                    let rel = self.bin(block, ArithOp::Sub, jj, p.j0);
                    let q = self.bin(block, ArithOp::Div, rel, w);
                    let qw = self.bin(block, ArithOp::Mul, q, w);
                    let l = self.bin(block, ArithOp::Sub, rel, qw);
                    let kk = self.bin(block, ArithOp::Sub, k, p.k0);
                    let t = vector_of(self, d.results[0]);
                    let v = self.value(
                        block,
                        OpSpec::new(Opcode::Vector(VectorOp::Load))
                            .operands([p.buf, q, kk, l])
                            .result(t)
                            .loc(d.loc),
                    );
                    self.map.insert(d.results[0], v);
                }
                Opcode::Pj(PjOp::Read) => {
                    let array = d.operands[0];
                    let idx: Vec<ValueId> = d.operands[1..].iter().map(|v| self.map[v]).collect();
                    let (buf, local) = match self.stages.get(&array) {
                        Some(sb) => {
                            let (buf, origin) = (sb.buf, sb.origin.clone());
                            let local = idx
                                .iter()
                                .zip(&origin)
                                .map(|(&i, &o)| self.bin(block, ArithOp::Sub, i, o))
                                .collect();
                            (buf, local)
                        }
                        None => (self.map[&array], idx),
                    };
                    // through a boundary mode: the columns are inside (the
                    // interior), the other dims take the mode
                    let boundary = d
                        .attr("boundary")
                        .and_then(Attr::as_str)
                        .and_then(Boundary::from_name);
                    let local = match boundary {
                        Some(b) if b != Boundary::Zero => {
                            let extents = self.extents[&array].clone();
                            let last = local.len() - 1;
                            local
                                .iter()
                                .enumerate()
                                .map(|(k, &i)| {
                                    if k == last {
                                        i
                                    } else {
                                        self.apply_boundary(block, b, i, extents[k])
                                    }
                                })
                                .collect()
                        }
                        _ => local,
                    };
                    let mut operands = vec![buf];
                    operands.extend(local);
                    let t = vector_of(self, d.results[0]);
                    let mut spec = OpSpec::new(Opcode::Vector(VectorOp::Load))
                        .operands(operands)
                        .result(t)
                        .loc(d.loc);
                    if boundary == Some(Boundary::Zero) {
                        // a row outside reads zero (columns are inside)
                        spec = spec.attr("oob", Attr::Str("zero".into()));
                    }
                    let v = self.value(block, spec);
                    self.map.insert(d.results[0], v);
                }
                Opcode::Arith(_) | Opcode::Math(_) => {
                    let operands: Vec<ValueId> = d
                        .operands
                        .iter()
                        .map(|v| {
                            let x = self.map[v];
                            as_vector(self, x)
                        })
                        .collect();
                    let t = vector_of(self, d.results[0]);
                    let v = self.value(block, OpSpec::new(d.opcode).operands(operands).result(t));
                    self.map.insert(d.results[0], v);
                }
                other => {
                    unreachable!("{other} in a vector reduction (checked by vector_accumulable)")
                }
            }
        }
        unreachable!("verified: regions end in pj.yield")
    }

    /// The work of one element of `region` (a stage's or a reduction's
    /// body), in elements: 1, plus for every reduction in it its trip
    /// count times the work of its body — so a parallel loop over a
    /// histogram's 256 bins, each a reduction over N elements, is split
    /// by work and not by its 256 iterations. A bound that varies inside
    /// the region (a triangular reduction) counts as one iteration; every
    /// term saturates at `MIN_PARALLEL_ELEMENTS`, past which the grain is
    /// one iteration anyway (and no product can wrap).
    fn element_work(&mut self, block: BlockId, region: BlockId) -> ValueId {
        let cap = self.index_const(MIN_PARALLEL_ELEMENTS);
        let mut total = self.index_const(1);
        for op in self.m.block(region).ops.clone() {
            if self.m.op(op).opcode != Opcode::Pj(PjOp::Reduce) {
                continue;
            }
            let bounds = self.m.op(op).operands.clone();
            let mut work = self.element_work(block, self.m.entry_block(op, 0));
            for pair in bounds.chunks(2) {
                let known = |l: &mut Self, v: ValueId| match l.map.get(&v) {
                    Some(&x) => Some(x),
                    None => schedule::int_constant(l.m, v).map(|c| l.index_const(c)),
                };
                let (Some(a), Some(b)) = (known(self, pair[0]), known(self, pair[1])) else {
                    continue;
                };
                let zero = self.index_const(0);
                let trip = self.bin(block, ArithOp::Sub, b, a);
                let trip = self.bin(block, ArithOp::Max, trip, zero);
                let trip = self.bin(block, ArithOp::Min, trip, cap);
                work = if work == self.index_const(1) {
                    trip
                } else {
                    let w = self.bin(block, ArithOp::Mul, work, trip);
                    self.bin(block, ArithOp::Min, w, cap)
                };
            }
            total = self.bin(block, ArithOp::Add, total, work);
        }
        total
    }

    /// The grain of a parallel loop each of whose iterations computes
    /// `base` times the elements of the `(lo, ub)` pairs `inner` of a
    /// stage with value `region`.
    fn iteration_grain(
        &mut self,
        blk: BlockId,
        base: ValueId,
        inner: &[ValueId],
        region: BlockId,
    ) -> ValueId {
        let zero = self.index_const(0);
        let mut elems = base;
        for p in inner.chunks(2) {
            let e = self.bin(blk, ArithOp::Sub, p[1], p[0]);
            let e = self.bin(blk, ArithOp::Max, e, zero);
            elems = self.bin(blk, ArithOp::Mul, elems, e);
        }
        let work = self.element_work(blk, region);
        let elems = self.bin(blk, ArithOp::Mul, elems, work);
        self.grain(blk, elems)
    }

    /// The grain of a parallel loop whose iterations each compute about
    /// `per_iteration` elements: enough iterations per chunk that a chunk
    /// is worth handing to another core (small sizes run inline, waking no
    /// thread).
    fn grain(&mut self, block: BlockId, per_iteration: ValueId) -> ValueId {
        let one = self.index_const(1);
        let min = self.index_const(MIN_PARALLEL_ELEMENTS);
        let per = self.bin(block, ArithOp::Max, per_iteration, one);
        let g = self.bin(block, ArithOp::Div, min, per);
        self.bin(block, ArithOp::Max, g, one)
    }

    /// `vectorize(false)` in the schedule: the stage's loops stay scalar.
    fn mark_scalar(&mut self, stage: OpId, l: OpId) {
        if !StageSchedule::of(self.m, stage).vectorize {
            self.m
                .op_mut(l)
                .set_attr(schedule::VECTORIZE, Attr::Bool(false));
        }
    }

    /// One element of a stage: its value (or the reduction identity, or the
    /// accumulator combined with one more term) stored at the loop variables.
    fn emit_body(&mut self, block: BlockId, result: ValueId, vars: &[ValueId], body: &Body) {
        let (buf, origin, ring) = {
            let sb = &self.stages[&result];
            (sb.buf, sb.origin.clone(), sb.ring)
        };
        let mut idx = Vec::new();
        for (k, &v) in vars.iter().enumerate() {
            let iv = self.map[&v];
            idx.push(self.bin(block, ArithOp::Sub, iv, origin[k]));
        }
        if let Some(rows) = ring {
            idx[0] = self.bin(block, ArithOp::Rem, idx[0], rows);
        }
        let ty = self.m.ty(result).elem();
        let value = match body {
            Body::Value(region) => self.lower_region_value(*region, block),
            Body::Init(kind) => self.value(
                block,
                OpSpec::new(arith(ArithOp::Constant))
                    .attr("value", Scalar::reduce_identity(kind, ty).to_attr())
                    .result(Type::Scalar(ty)),
            ),
            Body::Accumulate(red) => {
                let mut operands = vec![buf];
                operands.extend(idx.iter().copied());
                let acc = self.value(
                    block,
                    OpSpec::new(Opcode::Mem(MemOp::Load))
                        .operands(operands)
                        .result(Type::Scalar(ty)),
                );
                let kind = self
                    .m
                    .op(*red)
                    .attr("kind")
                    .and_then(Attr::as_str)
                    .expect("verified")
                    .to_string();
                let term = self.lower_region_value(self.m.entry_block(*red, 0), block);
                let combine = crate::dialects::arith::reduce_combiner(&kind);
                self.bin(block, combine, acc, term)
            }
        };
        self.last_stored = Some(value);
        let mut operands = vec![value, buf];
        operands.extend(idx);
        // the nest covers exactly the buffer: iv - lo is in [0, ub - lo), the
        // buffer's extent (checked at entry for results)
        self.push(
            block,
            OpSpec::new(Opcode::Mem(MemOp::Store))
                .operands(operands)
                .attr("in_bounds", Attr::Bool(true))
                .loc(self.m.def_op(result).and_then(|o| self.m.op(o).loc)),
        );
    }

    /// An op's operands as the values they were lowered to.
    fn mapped_operands(&self, op: OpId) -> Vec<ValueId> {
        self.m.op(op).operands.iter().map(|v| self.map[v]).collect()
    }

    /// Lowers the ops of a `pj.stage`/`pj.reduce` region into `block`; returns
    /// the new value of what the region yields.
    fn lower_region_value(&mut self, region: BlockId, block: BlockId) -> ValueId {
        for op in self.m.block(region).ops.clone() {
            let d = self.m.op(op);
            if d.opcode == Opcode::Pj(PjOp::Yield) {
                let y = d.operands[0];
                return self.map[&y];
            }
            self.lower_expr_op(op, block);
        }
        unreachable!("verified: regions end in pj.yield")
    }

    fn lower_expr_op(&mut self, op: OpId, block: BlockId) {
        let d = self.m.op(op).clone();
        match d.opcode {
            Opcode::Pj(PjOp::Read) => {
                let v = self.lower_read(op, block);
                self.map.insert(d.results[0], v);
            }
            Opcode::Pj(PjOp::Reduce) => {
                let v = self.lower_reduce(op, block);
                self.map.insert(d.results[0], v);
            }
            Opcode::Pj(PjOp::Prior) => {
                let v = self.lower_prior(op, block);
                self.map.insert(d.results[0], v);
            }
            Opcode::Pj(PjOp::Size) => {
                let name = d.attr("name").and_then(Attr::as_str).expect("verified");
                let v = self.sizes[name];
                self.map.insert(d.results[0], v);
            }
            // (the conversions `lower-quant` keeps for the backend)
            Opcode::Arith(_) | Opcode::Math(_) | Opcode::Quant(_) => {
                let operands = d.operands.iter().map(|v| self.map[v]).collect();
                self.clone_op(op, block, operands);
            }
            other => unreachable!("{other} cannot appear in a pj.kernel expression"),
        }
    }

    fn lower_read(&mut self, op: OpId, block: BlockId) -> ValueId {
        let d = self.m.op(op).clone();
        let array = d.operands[0];
        let elem = self.m.ty(d.results[0]).clone();
        let mut idx = Vec::new();
        for &i in &d.operands[1..] {
            let v = self.map[&i];
            idx.push(if *self.m.ty(v) == Type::INDEX {
                v
            } else {
                self.value(
                    block,
                    OpSpec::new(arith(ArithOp::Cast))
                        .operands([v])
                        .result(Type::INDEX),
                )
            });
        }
        let boundary = d
            .attr("boundary")
            .and_then(Attr::as_str)
            .and_then(Boundary::from_name);
        if let Some(parts) = self.interior.get(&op).cloned() {
            // inside the interior: every partitioned index is in range, and
            // so is every other one once its boundary mode has been applied
            let extents = self.extents[&array].clone();
            let b = boundary.expect("interior reads have a boundary mode");
            let mut local = Vec::new();
            for (k, &i) in idx.iter().enumerate() {
                local.push(if parts[k] || b == Boundary::Zero {
                    i
                } else {
                    self.apply_boundary(block, b, i, extents[k])
                });
            }
            let mut operands = vec![self.map[&array]];
            operands.extend(local);
            return self.value(
                block,
                OpSpec::new(Opcode::Mem(MemOp::Load))
                    .operands(operands)
                    .result(elem)
                    .loc(d.loc),
            );
        }
        let (buf, local) = match self.stages.get(&array) {
            Some(sb) => {
                let (buf, origin, ring) = (sb.buf, sb.origin.clone(), sb.ring);
                let mut local: Vec<ValueId> = idx
                    .iter()
                    .zip(&origin)
                    .map(|(&i, &o)| self.bin(block, ArithOp::Sub, i, o))
                    .collect();
                if let Some(rows) = ring {
                    local[0] = self.bin(block, ArithOp::Rem, local[0], rows);
                }
                (buf, local)
            }
            None => {
                let buf = self.map[&array];
                let local = match boundary {
                    None | Some(Boundary::Zero) => idx,
                    Some(b) => {
                        let extents = self.extents[&array].clone();
                        idx.iter()
                            .zip(&extents)
                            .map(|(&i, &n)| self.apply_boundary(block, b, i, n))
                            .collect()
                    }
                };
                (buf, local)
            }
        };
        let mut operands = vec![buf];
        operands.extend(local);
        let mut spec = OpSpec::new(Opcode::Mem(MemOp::Load))
            .operands(operands)
            .result(elem)
            .loc(d.loc);
        if self.stages.contains_key(&array) {
            // a stage is read inside its domain: bounds inference made the
            // domain the union of its reads (a tile's scratch: the rows
            // the tile reads)
            spec = spec.attr("in_bounds", Attr::Bool(true));
        }
        if boundary.is_some() {
            // zero outside: the `zero` mode itself, and an empty array under any mode
            spec = spec.attr("oob", Attr::Str("zero".into()));
        }
        // an input's rows, read row after row by a fused group's first
        // producer: fetched a few rows ahead
        let streams = self.prefetch_rows_of.is_some_and(|row| {
            !self.stages.contains_key(&array)
                && d.operands.len() >= 3
                && schedule::offset_from(self.m, d.operands[1], row).is_some()
        });
        if streams {
            spec = spec.attr(crate::dialects::mem::PREFETCH, Attr::Int(PREFETCH_ROWS));
        }
        self.value(block, spec)
    }

    /// The in-range index that boundary mode `b` reads for index `i` of an
    /// axis of extent `n` (any index when `n` is 0: the load then reads zero).
    fn apply_boundary(&mut self, block: BlockId, b: Boundary, i: ValueId, n: ValueId) -> ValueId {
        let zero = self.index_const(0);
        let one = self.index_const(1);
        match b {
            Boundary::Zero => i,
            Boundary::Clamp => {
                let last = self.bin(block, ArithOp::Sub, n, one);
                let lo = self.bin(block, ArithOp::Max, i, zero);
                self.bin(block, ArithOp::Min, lo, last)
            }
            Boundary::Wrap | Boundary::Mirror => {
                // a zero extent would divide by zero; any index reads zero then
                let n1 = self.bin(block, ArithOp::Max, n, one);
                let period = if b == Boundary::Wrap {
                    n1
                } else {
                    let two = self.index_const(2);
                    self.bin(block, ArithOp::Mul, n1, two)
                };
                let r = self.bin(block, ArithOp::Rem, i, period);
                let neg = self.cmp(block, "lt", r, zero);
                let shifted = self.bin(block, ArithOp::Add, r, period);
                let m = self.value(
                    block,
                    OpSpec::new(arith(ArithOp::Select))
                        .operands([neg, shifted, r])
                        .result(Type::INDEX),
                );
                if b == Boundary::Wrap {
                    return m;
                }
                // mirror: m in [0, 2n); the upper half reads backwards
                let inside = self.cmp(block, "lt", m, n1);
                let last = self.bin(block, ArithOp::Sub, period, one);
                let back = self.bin(block, ArithOp::Sub, last, m);
                self.value(
                    block,
                    OpSpec::new(arith(ArithOp::Select))
                        .operands([inside, m, back])
                        .result(Type::INDEX),
                )
            }
        }
    }

    fn lower_reduce(&mut self, op: OpId, block: BlockId) -> ValueId {
        let d = self.m.op(op).clone();
        let kind = d
            .attr("kind")
            .and_then(Attr::as_str)
            .expect("verified")
            .to_string();
        if crate::dialects::pj::is_arg_kind(&kind) {
            return self.lower_arg_reduce(op, block, &kind);
        }
        let ty = self.m.ty(d.results[0]).clone();
        let elem = ty.as_scalar().expect("verified: scalar reduction");
        let init = self.value(
            block,
            OpSpec::new(arith(ArithOp::Constant))
                .attr("value", Scalar::reduce_identity(&kind, elem).to_attr())
                .result(ty.clone()),
        );
        let bounds = self.mapped_operands(op);
        let region = self.m.entry_block(op, 0);
        let vars = self.m.block(region).args.clone();
        let one = self.index_const(1);
        // one loop per variable, outermost first, each carrying the accumulator
        let mut outer_result = None;
        let mut cur_block = block;
        let mut acc = init;
        let mut loop_blocks = Vec::new();
        for (k, pair) in bounds.chunks(2).enumerate() {
            let l = self.push(
                cur_block,
                OpSpec::new(Opcode::Loop(LoopOp::For))
                    .operands([pair[0], pair[1], one, acc])
                    .result(ty.clone())
                    .regions(1)
                    .loc(d.loc),
            );
            let r = self.m.result(l);
            if outer_result.is_none() {
                outer_result = Some(r);
            }
            let inner = self.m.entry_block(l, 0);
            let name = self.m.value(vars[k]).name.clone();
            let iv = self.m.add_block_arg(inner, Type::INDEX, name);
            acc = self.m.add_block_arg(inner, ty.clone(), Some("acc".into()));
            self.map.insert(vars[k], iv);
            loop_blocks.push((inner, r));
            cur_block = inner;
        }
        let term = self.lower_region_value(region, cur_block);
        let combine = crate::dialects::arith::reduce_combiner(&kind);
        let mut next = self.bin(cur_block, combine, acc, term);
        // each loop yields what the loop inside it produced
        for (i, &(b, _)) in loop_blocks.iter().enumerate().rev() {
            self.push(b, OpSpec::new(Opcode::Loop(LoopOp::Yield)).operands([next]));
            if i > 0 {
                next = loop_blocks[i].1;
            }
        }
        // no variables: the body once, combined with the identity
        outer_result.unwrap_or(next)
    }
}

impl Lowerer<'_> {
    /// An `argmax`/`argmin`: one loop carrying the best term and its index
    /// (`-1` until the first term), taking a term as
    /// [`crate::dialects::arith::arg_takes`] says.
    fn lower_arg_reduce(&mut self, op: OpId, block: BlockId, kind: &str) -> ValueId {
        let d = self.m.op(op).clone();
        let region = self.m.entry_block(op, 0);
        let var = self.m.block(region).args[0];
        let bounds = self.mapped_operands(op);
        let yield_op = *self.m.block(region).ops.last().expect("verified");
        let term_ty = self.m.ty(self.m.op(yield_op).operands[0]).clone();
        let elem = term_ty.as_scalar().expect("verified: a number");
        let none = self.index_const(crate::dialects::arith::ARG_OF_NOTHING);
        let start = self.value(
            block,
            OpSpec::new(arith(ArithOp::Constant))
                .attr("value", Scalar::zero(elem).to_attr())
                .result(term_ty.clone()),
        );
        let one = self.index_const(1);
        let l = self.push(
            block,
            OpSpec::new(Opcode::Loop(LoopOp::For))
                .operands([bounds[0], bounds[1], one, start, none])
                .result(term_ty.clone())
                .result(Type::INDEX)
                .regions(1)
                .loc(d.loc),
        );
        let inner = self.m.entry_block(l, 0);
        let name = self.m.value(var).name.clone();
        let iv = self.m.add_block_arg(inner, Type::INDEX, name);
        let best = self
            .m
            .add_block_arg(inner, term_ty.clone(), Some("best".into()));
        let at = self.m.add_block_arg(inner, Type::INDEX, Some("at".into()));
        self.map.insert(var, iv);
        let term = self.lower_region_value(region, inner);
        let unset = self.cmp(inner, "eq", at, none);
        let pred = if kind == "argmax" { "gt" } else { "lt" };
        let better = self.cmp(inner, pred, term, best);
        let mut take = self.bin(inner, ArithOp::Or, unset, better);
        if elem.is_float() {
            // the first NaN is taken, then kept
            let nan = self.cmp(inner, "ne", term, term);
            let best_nan = self.cmp(inner, "ne", best, best);
            let t = Type::Scalar(ScalarType::Bool);
            let number = self.value(
                inner,
                OpSpec::new(arith(ArithOp::Not))
                    .operands([best_nan])
                    .result(t),
            );
            let first_nan = self.bin(inner, ArithOp::And, nan, number);
            take = self.bin(inner, ArithOp::Or, take, first_nan);
        }
        let new_best = self.value(
            inner,
            OpSpec::new(arith(ArithOp::Select))
                .operands([take, term, best])
                .result(term_ty),
        );
        let new_at = self.value(
            inner,
            OpSpec::new(arith(ArithOp::Select))
                .operands([take, iv, at])
                .result(Type::INDEX),
        );
        self.push(
            inner,
            OpSpec::new(Opcode::Loop(LoopOp::Yield)).operands([new_best, new_at]),
        );
        self.m.op(l).results[1]
    }
}

/// Steps of a register block's innermost reduction loop per iteration,
/// as a hint to the backend (`loop.for {unroll}`): at 6 rows x 4 vectors
/// the counter, its compare and branch and the address of the step are 5
/// of 39 instructions. matmul 1024³ with LLVM, one thread: 3% faster
/// at 2, no faster at 4.
const REDUCTION_UNROLL: i64 = 2;

/// Rows ahead a fused group's first producer fetches the rows of the
/// inputs it streams ([`crate::dialects::mem::PREFETCH`]). softmax 4096 x
/// 1024 (4 KiB rows, a page each; tiles of six rows), anchors' harness
/// alternating in one process, one thread: 3.83 ms without, 3.44 at one
/// row ahead, 3.48 at two, 3.58 at four, 3.68 at eight. Shorter rows
/// share pages, which the hardware streams by itself.
const PREFETCH_ROWS: i64 = 1;

/// Groups of tiles per thread a fused group's tiles are cut into, each
/// allocating its tiles' scratch once: as many as the runtime's chunks
/// (`pj_runtime::parallel`'s `CHUNKS_PER_THREAD`), so the work is shared
/// out as before.
const TILE_GROUPS_PER_THREAD: i64 = 8;

/// Rows per block of a `reduce_order = vector` stage.
pub const ROW_BLOCK: i64 = 6;

/// Vectors per row of a block of [`ROW_BLOCK`] rows at `vector_bytes` per
/// vector whose rows share their loads (`Lowerer::vector_block_shape`): 2
/// below 512 bits (16 registers), 4 with AVX-512's 32.
pub fn row_block_vectors(vector_bytes: i64) -> i64 {
    if vector_bytes < 64 { 2 } else { 4 }
}

/// Row blocks per panel of a `reduce_order = vector` stage with a cache
/// block, at most. Panels come in rounds of one per thread
/// (`loop.threads`); every row of a panel reads each packed block of the
/// shared operand, so the copy costs less the taller the panel. matmul
/// 1024³ on one thread (two panels of 516 rows): 11.5 ms against 11.8 for
/// panels of 192 rows and 13.0 for the eight panels of 132 rows made
/// before the thread count was known; up to 256 blocks measured level at
/// 1024³, 2048³, 1536 x 768 x 2048 and 96 x 4096 x 4096 on one and two
/// threads. The bound keeps an interrupt request seen between panels and
/// threads' shares even where the rows are many (8192 x 256 x 256).
const MAX_PANEL_BLOCKS: i64 = 128;

/// One iteration of a cache-blocked stage's panel loop: its row blocks
/// `[blocks.0, blocks.1)` of the rows `[rows.0, rows.1)`.
struct Panel {
    blocks: (ValueId, ValueId),
    rows: (ValueId, ValueId),
    name: String,
}

/// Whether every element of `array` is below 128: a stage whose value is
/// `min(v, c)` with `c` a constant of at most 127 (the `quantize` pass's
/// 7-bit rows for x86 without VNNI).
fn below_128(m: &Module, array: ValueId) -> bool {
    let Some(stage) = m.def_op(array) else {
        return false;
    };
    if m.op(stage).opcode != Opcode::Pj(PjOp::Stage) {
        return false;
    }
    let block = m.entry_block(stage, 0);
    let Some(&last) = m.block(block).ops.last() else {
        return false;
    };
    let Some(min) = m.op(last).operands.first().and_then(|&v| m.def_op(v)) else {
        return false;
    };
    let d = m.op(min);
    d.opcode == arith(ArithOp::Min)
        && d.operands.iter().any(|&v| {
            m.def_op(v).is_some_and(|c| {
                m.op(c).opcode == arith(ArithOp::Constant)
                    && m.op(c)
                        .attr("value")
                        .and_then(Attr::as_int)
                        .is_some_and(|c| c <= 127)
            })
        })
}
