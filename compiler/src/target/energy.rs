//! The energy and time model: for a lowered kernel (`func`/`loop`/`mem`
//! IR) at given sizes on a [`Profile`], the operations it executes, the
//! bytes it moves from each memory level, and from those an estimate of
//! energy (picojoules per operation and per byte) and time (a roofline:
//! the slowest of compute and each level's traffic).
//!
//! How traffic is estimated, per top-level loop nest (a stage, or a fused
//! group's tile loop): every load and store is an access whose indices
//! depend on some of the enclosing loops. Over a range of loops an access
//! touches `product of the trip counts it depends on` elements, contiguous
//! when its last index follows one of them (else a cache line each), capped
//! by its array's size; accesses to one array overlap (stencils) and count
//! once. A loop whose whole execution touches less than a cache's capacity
//! misses each distinct byte once; so does one whose single iteration fits
//! (what iterations share stays cached from one to the next), except
//! scratch buffers allocated in its body, reused from cache; otherwise the
//! misses are those of its children.
//! The bytes that miss in L1 come from L2, and so on down to DRAM.
//!
//! An access walking rows at a stride that maps its lines into too few sets
//! to hold them (a column walk down a power-of-two row length) does not
//! fit a cache whatever its capacity: conflict misses, from the profile's
//! associativity.
//!
//! Trip counts are evaluated at the given sizes, loop bounds that depend on
//! outer loops at their middle iteration (a representative tile or row). Known
//! error, documented in `docs/energy-model.md`: hardware prefetching,
//! replacement policy, the cost of bounds checks and of spills are not modelled;
//! instruction counts are IR op counts.

use super::profile::Profile;
use crate::dialects::{ArithOp, FuncOp, LoopOp, MathOp, MemOp, Opcode, VectorOp};
use crate::ir::{Attr, BlockId, Dim, Module, OpId, ScalarType, Type, ValueId};
use std::collections::HashMap;

/// What one loop nest (or the whole kernel) costs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cost {
    /// What the nest computes (the arrays it stores to).
    pub label: String,
    /// Arithmetic operations (scalar lanes), by class (`f32 add`).
    pub ops: Vec<(String, f64)>,
    /// Instructions issued (IR ops; a vector op is one).
    pub instructions: f64,
    /// Bytes loaded and stored (all served by L1).
    pub l1_bytes: f64,
    /// Bytes moved from L2 (L1 misses).
    pub l2_bytes: f64,
    /// Bytes moved from the last-level cache.
    pub llc_bytes: f64,
    /// Bytes moved between the last level and DRAM: lines brought in
    /// (stored lines too: read for ownership) and stored lines written
    /// back.
    pub dram_bytes: f64,
    /// The lines brought in from DRAM alone, without write-backs: what a
    /// cache simulator counts as last-level misses (`bench/cachegrind.sh`).
    pub dram_fill_bytes: f64,
    /// Estimated energy, picojoules.
    pub picojoules: f64,
    /// Estimated time on one core, seconds.
    pub seconds: f64,
    /// What bounds the time: `compute`, `L1`, `L2`, `LLC` or `DRAM`.
    pub bound: &'static str,
    /// Cycles loops wait on their carried dependency chains beyond what
    /// their instructions take to issue: a recurrence's running value, each
    /// element's operations one after another, or a scalar sum's adds (added
    /// to the compute time: the loops run one after another).
    pub chain_cycles: f64,
    /// Floating-point instructions (a vector op is one): what the FP
    /// ports issue, so the vector width the backend used shows here.
    pub fp_instructions: f64,
    /// Float divisions and square roots, in 128-bit vectors' worth: the
    /// divider takes `Throughput::divide_cycles` for each, pipelined
    /// only partly (a floor under the compute time, like the chains).
    pub divider_vectors: f64,
    /// Integer divisions and remainders by a value not known when
    /// compiling, one per lane (no vector instruction divides integers:
    /// the backends divide lane by lane), in 64-bit divisions' worth (a
    /// 32-bit one is [`NARROW_DIVISION`] of one), each taking
    /// `Throughput::int_divide_cycles`.
    pub int_divisions: f64,
    /// The pieces a parallel loop of the nest is cut into (its iterations
    /// over its grain): how many threads can share it. 0: a serial nest;
    /// infinite: one piece per thread, however many.
    pub parallel_chunks: f64,
    /// The source lines the nest computes (its arithmetic and stores),
    /// ascending: which line of the program each nest comes from.
    pub lines: Vec<u32>,
    /// Fresh pages the nest touches first: buffers it allocates larger
    /// than the runtime keeps (`pj_runtime::alloc::CACHED_BYTES`), mapped
    /// anew on every call, each page faulted in and zeroed.
    pub fresh_pages: f64,
    /// The share of a first call's DRAM traffic (`dram_bytes`, results
    /// written past the caches apart) that a repeated call — what `pj
    /// bench` measures, what a loop calling the kernel sees — finds still
    /// in the last level, served and priced as the last level's: all of
    /// it when every buffer that goes through the caches fits in the last
    /// level the threads have between them
    /// ([`Profile::llc_bytes_with`]), else that capacity over those
    /// buffers' bytes (a replacement policy that keeps part of a sweep
    /// larger than the cache, as current Intel and AMD last levels do,
    /// where LRU would keep nothing). Set by the pricing, for its threads.
    pub llc_retained: f64,
    /// The kernel's [`Estimate::footprint_bytes`], which decides
    /// `llc_retained`.
    pub footprint_bytes: f64,
    /// Of `dram_bytes`, those of results written past the caches
    /// ([`CodeTraits::nontemporal_bytes`]): DRAM's on every call.
    pub streamed_bytes: f64,
}

impl Cost {
    /// All operations (lanes).
    pub fn total_ops(&self) -> f64 {
        self.ops.iter().map(|o| o.1).sum()
    }

    fn add(&mut self, o: &Cost) {
        for (k, n) in &o.ops {
            match self.ops.iter_mut().find(|x| &x.0 == k) {
                Some(x) => x.1 += n,
                None => self.ops.push((k.clone(), *n)),
            }
        }
        self.instructions += o.instructions;
        self.l1_bytes += o.l1_bytes;
        self.l2_bytes += o.l2_bytes;
        self.llc_bytes += o.llc_bytes;
        self.dram_bytes += o.dram_bytes;
        self.dram_fill_bytes += o.dram_fill_bytes;
        self.picojoules += o.picojoules;
        self.seconds += o.seconds;
        self.chain_cycles += o.chain_cycles;
        self.fp_instructions += o.fp_instructions;
        self.divider_vectors += o.divider_vectors;
        self.int_divisions += o.int_divisions;
        self.fresh_pages += o.fresh_pages;
        self.llc_retained = self.llc_retained.max(o.llc_retained);
        self.footprint_bytes = self.footprint_bytes.max(o.footprint_bytes);
        self.streamed_bytes += o.streamed_bytes;
    }
}

/// The estimate for a kernel: one row per top-level loop nest, and the total.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Estimate {
    /// Per nest, in order.
    pub nests: Vec<Cost>,
    /// The sum (time: the sum of the nests' times).
    pub total: Cost,
    /// Bytes of the kernel's parameters and results, results twice (read
    /// for ownership, written back) unless they stream past the caches:
    /// what any schedule must move at least.
    pub compulsory_bytes: f64,
    /// Bytes of every buffer the kernel touches through the caches
    /// (parameters, results not written past them, intermediates and
    /// scratch, each once): what decides [`Cost::llc_retained`].
    pub footprint_bytes: f64,
    /// The last level the estimate's threads have between them
    /// ([`Profile::llc_bytes_with`]): what `footprint_bytes` is held
    /// against.
    pub llc_bytes: f64,
}

/// Why a kernel could not be estimated.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EstimateError {
    /// No lowered function of that name.
    #[error("no lowered kernel `{0}`")]
    NoKernel(String),
    /// A size the kernel needs was not given.
    #[error("size `{0}` is needed: give it with --size {0}=N")]
    MissingSize(String),
}

#[derive(Clone, Debug)]
struct Buf {
    shape: Vec<Option<i64>>,
    elem_bytes: f64,
    name: String,
}

impl Buf {
    fn bytes(&self) -> f64 {
        self.shape
            .iter()
            .map(|d| d.unwrap_or(1).max(0) as f64)
            .product::<f64>()
            * self.elem_bytes
    }
}

/// (loop depth, elements moved per step of that loop), by depth.
type Moves = Vec<(usize, f64)>;

/// The smallest and largest value of one index over a group of accesses
/// (none when one is not known).
type OffsetRange = Option<(i64, i64)>;

/// The per-depth maximum of two [`Moves`].
fn merge_moves(a: &Moves, b: &Moves) -> Moves {
    let mut out = a.clone();
    for &(d, s) in b {
        match out.iter_mut().find(|(d2, _)| *d2 == d) {
            Some(e) => e.1 = e.1.max(s),
            None => out.push((d, s)),
        }
    }
    out
}

/// How far `moves` says an index moves per step of the loop at `depth`
/// (1 when not recorded).
fn moved_by(moves: &Moves, depth: usize) -> f64 {
    moves
        .iter()
        .find(|(d, _)| *d == depth)
        .map_or(1.0, |&(_, s)| s)
}

#[derive(Clone, Debug)]
struct Access {
    buf: ValueId,
    /// Loop depths (bits) the indices depend on.
    mask: u64,
    /// Loop depths the last index depends on.
    last_mask: u64,
    /// Per index: the loops that move it directly (depth) and by how many
    /// elements per step ([`Walker::moves`]).
    moves: Vec<Moves>,
    /// Bytes per access (element size x lanes).
    bytes: f64,
    /// Trip count and step of the enclosing loops, outermost first.
    path: Vec<(f64, f64)>,
    /// Element size, bytes.
    elem: f64,
    /// Each index's value at the walk's representative iteration: accesses
    /// that move alike differ by constants (`x - 1`, `x + 1`).
    at: Vec<Option<i64>>,
    /// A store: its lines are written back to the level below when
    /// evicted (after being read for ownership): twice the traffic.
    store: bool,
}

#[derive(Debug, Default)]
struct Node {
    depth: usize,
    trips: f64,
    children: Vec<Node>,
    accesses: Vec<Access>,
    /// Buffers allocated directly in the body (scratch, reused per iteration).
    scratch: Vec<ValueId>,
    ops: HashMap<String, f64>,
    instructions: f64,
    stores_to: Vec<String>,
    /// Source lines of the arithmetic and stores directly in the body.
    lines: Vec<u32>,
    /// Per iteration of this loop: the latency of its carried values'
    /// dependency chain ([`carried_chain`]).
    chain_cycles: f64,
    /// Floating-point instructions ([`Cost::fp_instructions`]).
    fp_instructions: f64,
    /// [`Cost::divider_vectors`].
    divider_vectors: f64,
    /// [`Cost::int_divisions`].
    int_divisions: f64,
    /// For a parallel loop: [`Cost::parallel_chunks`].
    parallel_chunks: f64,
    /// [`Cost::fresh_pages`] of the buffers allocated in the body.
    fresh_pages: f64,
}

struct Walker<'m> {
    m: &'m Module,
    env: HashMap<ValueId, i64>,
    /// Loops (bits by depth) each value depends on, through loop bounds too.
    deps: HashMap<ValueId, u64>,
    /// Values computed from `loop.threads()`: a parallel loop bounded by
    /// one runs a piece per thread, however many there are (an update's
    /// private copies; matmul's panels).
    per_thread: std::collections::HashSet<ValueId>,
    /// Buffers allocated at the top of the kernel larger than the runtime
    /// keeps, with their pages ([`Cost::fresh_pages`]).
    fresh: Vec<(ValueId, f64)>,
    /// The same through operands only: which loops move a value directly.
    direct: HashMap<ValueId, u64>,
    /// The loops that move a value directly, each with how far it moves
    /// per step of that loop, in the loop's units (`q * 8 + l`: 8 per `q`;
    /// `rows * 6 + k`: 6 per row block).
    moves: HashMap<ValueId, Moves>,
    bufs: HashMap<ValueId, Buf>,
    line: f64,
    /// Results at least this large that are only written go past the
    /// caches ([`CodeTraits::nontemporal_bytes`]).
    nontemporal_bytes: f64,
    /// [`CodeTraits::narrow_int_division`].
    narrow_int_division: bool,
    /// [`CodeTraits::cast_by_steps`].
    cast_by_steps: bool,
}

/// What a 32-bit integer division costs against a 64-bit one: `div r32`
/// against `div r64` on recent x86 cores (about 6 cycles against 10).
pub const NARROW_DIVISION: f64 = 0.6;

/// What a backend's code does that the lowered IR does not say.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CodeTraits {
    /// Results of this many bytes or more, only written, go past the
    /// caches (LLVM on x86: `Profile::nontemporal_bytes`): each moves once
    /// instead of being read for ownership and written back.
    pub nontemporal_bytes: Option<u64>,
    /// 64-bit integer divisions whose operands fit 32 bits take the
    /// 32-bit instruction (LLVM on x86: its `idivq-to-divl` bypass for
    /// cores with slow 64-bit division): each costs [`NARROW_DIVISION`] of
    /// a 64-bit one, as the values of sizes and indices always fit.
    pub narrow_int_division: bool,
    /// A vector cast takes one instruction per halving or doubling of the
    /// lane width, one for a conversion to or from floats and one for the
    /// clamp before a conversion to a narrow integer (Cranelift: `u8` to
    /// `f32` is `uwiden_low` twice and `fcvt_from_sint`, and back is
    /// `minps`, `cvttps2dq` and two packs). Without it, a cast is one
    /// instruction, as LLVM's code nearly is (`vpmovzxbd` widens in one).
    pub cast_by_steps: bool,
}

/// Estimates kernel `name` of a lowered module at `sizes` on `profile`
/// (the backend's vector width is the IR's), every store through the
/// caches.
pub fn estimate(
    m: &Module,
    name: &str,
    sizes: &HashMap<String, i64>,
    profile: &Profile,
) -> Result<Estimate, EstimateError> {
    estimate_code(m, name, sizes, profile, CodeTraits::default())
}

/// [`estimate`] of a backend's code with `code`'s traits.
pub fn estimate_code(
    m: &Module,
    name: &str,
    sizes: &HashMap<String, i64>,
    profile: &Profile,
    code: CodeTraits,
) -> Result<Estimate, EstimateError> {
    let func = m
        .kernels()
        .into_iter()
        .find(|&k| {
            m.op(k).opcode == Opcode::Func(FuncOp::Func)
                && m.op(k).attr("sym_name").and_then(Attr::as_str) == Some(name)
        })
        .ok_or_else(|| EstimateError::NoKernel(name.to_string()))?;
    let body = m.entry_block(func, 0);
    let mut w = Walker {
        m,
        env: HashMap::new(),
        deps: HashMap::new(),
        per_thread: Default::default(),
        fresh: Vec::new(),
        direct: HashMap::new(),
        moves: HashMap::new(),
        bufs: HashMap::new(),
        line: profile.cache.line_bytes as f64,
        nontemporal_bytes: code.nontemporal_bytes.map_or(f64::INFINITY, |b| b as f64),
        narrow_int_division: code.narrow_int_division,
        cast_by_steps: code.cast_by_steps,
    };
    for &a in &m.block(body).args {
        if let Type::Buffer { elem, dims } = m.ty(a) {
            let shape = dims
                .iter()
                .map(|d| match d {
                    Dim::Static(n) => Ok(Some(*n)),
                    Dim::Sym(s) => sizes
                        .get(s)
                        .map(|&n| Some(n))
                        .ok_or_else(|| EstimateError::MissingSize(s.clone())),
                    Dim::Dynamic => Ok(None),
                })
                .collect::<Result<Vec<_>, _>>()?;
            w.bufs.insert(
                a,
                Buf {
                    shape,
                    elem_bytes: elem.size_bytes() as f64,
                    name: m.value(a).name.clone().unwrap_or_default(),
                },
            );
        }
    }
    let mut top = Node {
        trips: 1.0,
        ..Node::default()
    };
    w.block(body, &mut top, 0, &[]);
    let c = &profile.cache;
    let caps = [
        Level {
            bytes: c.l1_bytes as f64,
            ways: c.l1_ways as f64,
        },
        Level {
            bytes: c.l2_bytes as f64,
            ways: c.l2_ways as f64,
        },
        Level {
            bytes: c.llc_bytes as f64,
            ways: c.llc_ways as f64,
        },
    ];
    // the kernel's footprint in the caches (every buffer, scratch included,
    // but results written past them) against the last level: layernorm's
    // 16 MB in and 16 MB out ran at the last level's bandwidth, 1.9x faster
    // than estimated from DRAM; blur's 64 MB input, its result streamed
    // past, at 24-25 GB/s where DRAM gives 19.6
    let streamed = streamed_results(&w, &top);
    let footprint_bytes = w
        .bufs
        .iter()
        .filter(|(b, _)| !streamed.contains(b))
        .map(|(_, b)| b.bytes())
        .sum::<f64>();
    let cached: Vec<ValueId> = w
        .bufs
        .keys()
        .filter(|b| !streamed.contains(b))
        .copied()
        .collect();
    let mut est = Estimate {
        footprint_bytes,
        llc_bytes: profile.llc_bytes_with(1),
        ..Estimate::default()
    };
    for nest in &top.children {
        let mut c = Cost {
            label: nest_label(nest),
            lines: nest_lines(nest),
            footprint_bytes,
            ..Cost::default()
        };
        collect_ops(nest, 1.0, &mut c, &profile.throughput);
        // the first nest to touch a fresh intermediate pays its faults
        w.fresh.retain(|&(buf, pages)| {
            let touches = touches(nest, buf);
            if touches {
                c.fresh_pages += pages;
            }
            !touches
        });
        c.l1_bytes = access_bytes(nest, 1.0);
        // a miss moves a whole line: L2 traffic can exceed the bytes the
        // accesses themselves asked for (a column walk); each level below
        // misses no more than the one above
        c.l2_bytes = misses(&w, nest, caps[0], true);
        c.llc_bytes = misses(&w, nest, caps[1], true).min(c.l2_bytes);
        c.dram_bytes = misses(&w, nest, caps[2], true).min(c.llc_bytes);
        c.dram_fill_bytes = misses(&w, nest, caps[2], false).min(c.dram_bytes);
        c.streamed_bytes = footprint(&w, nest, nest.depth, &cached).min(c.dram_bytes);
        price(&mut c, profile, 1);
        est.nests.push(c);
    }
    est.total = total_of(&est.nests);
    // results (the last `num_results` arguments) are read for ownership
    // and written back, unless they stream past the caches
    let args = &m.block(body).args;
    let results = m
        .op(func)
        .attr("num_results")
        .and_then(Attr::as_int)
        .unwrap_or(0)
        .clamp(0, args.len() as i64) as usize;
    est.compulsory_bytes = args
        .iter()
        .enumerate()
        .filter_map(|(i, a)| w.bufs.get(a).map(|b| (i, b.bytes())))
        .map(|(i, bytes)| {
            let result = i >= args.len() - results;
            if result && bytes < w.nontemporal_bytes {
                2.0 * bytes
            } else {
                bytes
            }
        })
        .sum();
    Ok(est)
}

/// Whether any access under `n` is to `buf`.
fn touches(n: &Node, buf: ValueId) -> bool {
    n.accesses.iter().any(|a| a.buf == buf) || n.children.iter().any(|c| touches(c, buf))
}

/// The sum of `nests` (its bound: the slowest nest's).
fn total_of(nests: &[Cost]) -> Cost {
    let mut total = Cost {
        label: "total".into(),
        ..Cost::default()
    };
    for c in nests {
        total.add(c);
    }
    total.bound = nests
        .iter()
        .max_by(|a, b| a.seconds.total_cmp(&b.seconds))
        .map_or("compute", |c| c.bound);
    total.ops.sort_by(|a, b| a.0.cmp(&b.0));
    total
}

impl Estimate {
    /// The same kernel's time with `threads` worker threads on `p` (the
    /// estimate itself is for one): each parallel nest's compute and
    /// private-cache time divides by the threads its pieces keep busy,
    /// its last-level and DRAM traffic by the bandwidth they share.
    /// Energy changes only where the threads keep more of a repeated
    /// call's buffers in the last level than one does
    /// ([`Profile::llc_bytes_with`]): the same work, fewer bytes from DRAM.
    pub fn at_threads(&self, p: &Profile, threads: u32) -> Estimate {
        let mut nests = self.nests.clone();
        for c in &mut nests {
            price(c, p, threads.max(1));
        }
        Estimate {
            total: total_of(&nests),
            nests,
            compulsory_bytes: self.compulsory_bytes,
            footprint_bytes: self.footprint_bytes,
            llc_bytes: p.llc_bytes_with(threads.max(1)),
        }
    }
}

/// The source lines under `n`, ascending.
fn nest_lines(n: &Node) -> Vec<u32> {
    fn walk(n: &Node, out: &mut Vec<u32>) {
        out.extend(&n.lines);
        for c in &n.children {
            walk(c, out);
        }
    }
    let mut v = Vec::new();
    walk(n, &mut v);
    v.sort_unstable();
    v.dedup();
    v
}

fn nest_label(n: &Node) -> String {
    let mut names: Vec<String> = Vec::new();
    fn walk(n: &Node, out: &mut Vec<String>) {
        for s in &n.stores_to {
            if !out.contains(s) {
                out.push(s.clone());
            }
        }
        for c in &n.children {
            walk(c, out);
        }
    }
    walk(n, &mut names);
    names.join(", ")
}

fn collect_ops(n: &Node, mult: f64, c: &mut Cost, tp: &super::profile::Throughput) {
    let mult = mult * n.trips;
    // an iteration takes the longer of its chain and its issue
    let issue =
        (n.instructions / tp.scalar_per_cycle).max(n.fp_instructions / tp.vector_fp_per_cycle);
    c.chain_cycles += (n.chain_cycles - issue).max(0.0) * mult;
    for (k, v) in &n.ops {
        match c.ops.iter_mut().find(|x| &x.0 == k) {
            Some(x) => x.1 += v * mult,
            None => c.ops.push((k.clone(), v * mult)),
        }
    }
    c.instructions += n.instructions * mult;
    c.fp_instructions += n.fp_instructions * mult;
    c.divider_vectors += n.divider_vectors * mult;
    c.int_divisions += n.int_divisions * mult;
    c.fresh_pages += n.fresh_pages * mult;
    if c.parallel_chunks == 0.0 {
        c.parallel_chunks = n.parallel_chunks;
    }
    for ch in &n.children {
        collect_ops(ch, mult, c, tp);
    }
}

fn access_bytes(n: &Node, mult: f64) -> f64 {
    let mult = mult * n.trips;
    n.accesses.iter().map(|a| a.bytes * mult).sum::<f64>()
        + n.children
            .iter()
            .map(|c| access_bytes(c, mult))
            .sum::<f64>()
}

/// Distinct bytes `a` touches while the loops at depth >= `from` iterate.
/// `widen`: per index, how many more elements a group of accesses that
/// move alike covers than `a` alone (their constant offsets' range).
fn footprint_of(w: &Walker<'_>, a: &Access, from: usize, widen: &[f64]) -> f64 {
    // along each index, the loops that move it directly add up (`x + s`
    // spans `X + S - 1` elements; rows `6 * block + k + r` span about
    // `6 * blocks + R`); indices multiply; loops an index follows only
    // through its loops' bounds (a tile's rows) multiply too
    let (rows_idx, last) = a.moves.split_at(a.moves.len().saturating_sub(1));
    let mut rows = 1.0;
    let mut span = a.bytes + widen.get(rows_idx.len()).copied().unwrap_or(0.0) * a.elem;
    let mut contiguous = false;
    let mut direct_rows = 0u64;
    for (k, m) in rows_idx.iter().enumerate() {
        let mut extent = 1.0 + widen.get(k).copied().unwrap_or(0.0);
        for &(d, s) in m.iter().filter(|(d, _)| *d >= from) {
            if let Some(&(t, step)) = a.path.get(d) {
                extent += (t.max(1.0) - 1.0) * step * s;
                direct_rows |= 1 << d;
            }
        }
        rows *= extent;
    }
    for (d, &(t, step)) in a.path.iter().enumerate().skip(from) {
        let bit = 1 << d;
        if a.last_mask & bit != 0 {
            // each iteration moves the access by at least its own width
            let s = last.first().map_or(1.0, |m| moved_by(m, d));
            span += (t.max(1.0) - 1.0) * a.bytes.max(step * a.elem * s);
            contiguous = true;
        } else if a.mask & bit != 0 && direct_rows & bit == 0 {
            rows *= t.max(0.0);
        }
    }
    let bytes = if contiguous {
        rows * span
    } else {
        rows * w.line.max(a.bytes)
    };
    bytes.min(
        w.bufs
            .get(&a.buf)
            .map_or(f64::INFINITY, |b| b.bytes().max(a.bytes)),
    )
}

/// Distinct bytes under `n` while loops at depth >= `from` iterate, per
/// array (overlapping accesses to one array count once); `skip` arrays are
/// left out.
fn footprint(w: &Walker<'_>, n: &Node, from: usize, skip: &[ValueId]) -> f64 {
    footprint_traffic(w, n, from, skip, false)
}

/// [`footprint`] as traffic to the level below: with `writeback`, an
/// array stored to counts twice (its lines read for ownership, then
/// written back when evicted).
fn footprint_traffic(
    w: &Walker<'_>,
    n: &Node,
    from: usize,
    skip: &[ValueId],
    writeback: bool,
) -> f64 {
    // per array: distinct bytes, stored to, loaded from
    type Use = (f64, bool, bool);
    let mut per: HashMap<ValueId, Use> = HashMap::new();
    fn walk(w: &Walker<'_>, n: &Node, from: usize, per: &mut HashMap<ValueId, Use>) {
        // accesses of one array in one body that move alike cover the
        // union of their ranges: blur's `x - 1`, `x`, `x + 1`; a block of
        // six rows' `y + k`
        let mut groups: Vec<(&Access, Vec<OffsetRange>)> = Vec::new();
        for a in &n.accesses {
            let same = |r: &&Access| r.buf == a.buf && r.moves == a.moves && r.path == a.path;
            match groups.iter_mut().find(|(r, _)| same(r)) {
                Some((_, range)) => {
                    for (k, at) in a.at.iter().enumerate() {
                        range[k] = match (range[k], at) {
                            (Some((lo, hi)), Some(v)) => Some((lo.min(*v), hi.max(*v))),
                            _ => None,
                        };
                    }
                }
                None => groups.push((a, a.at.iter().map(|v| v.map(|v| (v, v))).collect())),
            }
        }
        for (a, range) in groups {
            let widen: Vec<f64> = range
                .iter()
                .map(|r| r.map_or(0.0, |(lo, hi)| (hi - lo) as f64))
                .collect();
            let f = footprint_of(w, a, from, &widen);
            let e = per.entry(a.buf).or_insert((0.0, false, false));
            e.0 = e.0.max(f);
        }
        for a in &n.accesses {
            let e = per.entry(a.buf).or_insert((0.0, false, false));
            if a.store {
                e.1 = true;
            } else {
                e.2 = true;
            }
        }
        for c in &n.children {
            walk(w, c, from, per);
        }
    }
    walk(w, n, from, &mut per);
    let streamed = |b: &ValueId| {
        w.bufs
            .get(b)
            .is_some_and(|buf| buf.bytes() >= w.nontemporal_bytes)
    };
    per.iter()
        .filter(|(b, _)| !skip.contains(b))
        .map(|(b, &(f, stored, loaded))| {
            if writeback && stored && (loaded || !streamed(b)) {
                2.0 * f
            } else {
                f
            }
        })
        .sum()
}

/// The results written past the caches: arrays of at least
/// `nontemporal_bytes` the kernel stores to and never loads.
fn streamed_results(w: &Walker<'_>, top: &Node) -> Vec<ValueId> {
    fn each(n: &Node, f: &mut dyn FnMut(&Access)) {
        n.accesses.iter().for_each(&mut *f);
        for c in &n.children {
            each(c, f);
        }
    }
    let (mut stored, mut loaded) = (Vec::new(), Vec::new());
    each(top, &mut |a| {
        if a.store {
            stored.push(a.buf)
        } else {
            loaded.push(a.buf)
        }
    });
    stored.sort();
    stored.dedup();
    stored.retain(|b| {
        !loaded.contains(b)
            && w.bufs
                .get(b)
                .is_some_and(|buf| buf.bytes() >= w.nontemporal_bytes)
    });
    stored
}

/// Bytes that miss in a cache of `cap` bytes while loop `n` runs once.
/// A cache level: capacity and associativity.
#[derive(Clone, Copy)]
struct Level {
    bytes: f64,
    ways: f64,
}

/// Whether some access under `n` walks an array across rows at a stride
/// that maps its lines into too few of the cache's sets to hold them while
/// loops at depth >= `from` iterate (conflict misses: a column walk with a
/// power-of-two row length).
fn conflicts(w: &Walker<'_>, n: &Node, from: usize, level: Level) -> bool {
    let sets = (level.bytes / (level.ways * w.line)).max(1.0) as u64;
    let check = |a: &Access| -> bool {
        let mut rows = 1.0;
        for (d, &(t, _)) in a.path.iter().enumerate().skip(from) {
            if a.mask & (1 << d) != 0 && a.last_mask & (1 << d) == 0 {
                rows *= t.max(1.0);
            }
        }
        if rows <= 1.0 {
            return false;
        }
        let Some(b) = w.bufs.get(&a.buf) else {
            return false;
        };
        // consecutive rows are a row length apart
        let row_bytes = b.shape.last().copied().flatten().unwrap_or(1).max(1) as f64 * a.elem;
        let stride_lines = (row_bytes / w.line).round() as u64;
        if stride_lines == 0 || (row_bytes / w.line).fract() != 0.0 {
            return false;
        }
        let gcd = {
            let (mut x, mut y) = (sets, stride_lines);
            while y != 0 {
                (x, y) = (y, x % y);
            }
            x
        };
        let reachable = (sets / gcd) as f64 * level.ways;
        rows > reachable
    };
    fn any(n: &Node, f: &dyn Fn(&Access) -> bool) -> bool {
        n.accesses.iter().any(f) || n.children.iter().any(|c| any(c, f))
    }
    any(n, &check)
}

fn misses(w: &Walker<'_>, n: &Node, level: Level, writeback: bool) -> f64 {
    let (d, cap) = (n.depth, level.bytes);
    let whole = footprint(w, n, d, &[]);
    if whole <= cap && !conflicts(w, n, d, level) {
        return footprint_traffic(w, n, d, &[], writeback);
    }
    let per_iter = footprint(w, n, d + 1, &[]);
    if per_iter <= cap && !conflicts(w, n, d + 1, level) {
        // one iteration's data stays cached into the next: what iterations
        // share (a stencil's rows, an array read whole by every row) is
        // missed once, so the misses are the loop's distinct bytes; scratch
        // buffers allocated in the body are reused at the same place
        return footprint_traffic(w, n, d, &n.scratch, writeback);
    }
    let direct: f64 = n
        .accesses
        .iter()
        .map(|a| a.bytes.max(w.line) * if a.store && writeback { 2.0 } else { 1.0 })
        .sum();
    n.trips
        * (direct
            + n.children
                .iter()
                .map(|c| misses(w, c, level, writeback))
                .sum::<f64>())
}

/// Whether `v` is a constant (or a vector of one).
fn is_constant(m: &Module, v: ValueId) -> bool {
    m.def_op(v).is_some_and(|o| match m.op(o).opcode {
        Opcode::Arith(ArithOp::Constant) => true,
        Opcode::Vector(VectorOp::Broadcast) => is_constant(m, m.op(o).operands[0]),
        _ => false,
    })
}

/// How much of the divider a float division or square root of type `ty`
/// takes, in 128-bit vectors (a scalar is one: the unit is busy as long).
fn divider_share(ty: &crate::ir::Type) -> f64 {
    let bits = ty.lanes().unwrap_or(1) as f64 * ty.elem().size_bytes() as f64 * 8.0;
    (bits / 128.0).max(1.0)
}

/// The instructions of a vector cast from `from` to `to` lanes done step
/// by step ([`CodeTraits::cast_by_steps`]): one per halving or doubling of
/// the lane width, one for the conversion between integers and floats, and
/// one for the clamp in floats before a narrowing (two more for a signed
/// target's NaN), at least one.
fn cast_steps(from: ScalarType, to: ScalarType) -> f64 {
    let bits = |t: ScalarType| (t.size_bytes() * 8) as f64;
    // conversions go through 32-bit integer lanes
    let int_bits = |t: ScalarType| if t.is_float() { 32.0 } else { bits(t) };
    let widths = (int_bits(from) / int_bits(to)).log2().abs();
    let convert = if from.is_float() != to.is_float() {
        1.0
    } else {
        0.0
    };
    let clamp = if from.is_float() && !to.is_float() && bits(to) < 32.0 {
        if to.is_signed_int() { 3.0 } else { 1.0 }
    } else {
        0.0
    };
    (widths + convert + clamp).max(1.0)
}

/// The share of the shorter of a nest's compute and memory times that
/// adds to the longer: none would be perfect overlap (a roofline), one
/// none at all. Measured on the examples (docs/energy-model.md): with
/// none, kernels whose arithmetic and traffic are close took up to 1.6x
/// their estimate (layernorm with Cranelift, softmax with LLVM: 1.4 ms of
/// compute beside 1.3 of last-level traffic ran in 2.0-2.7 ms); half puts
/// 57 of 60 within 1.5x, where none put 53.
const UNOVERLAPPED: f64 = 0.5;

/// Energy and time of `c` on `p` with `threads` workers.
fn price(c: &mut Cost, p: &Profile, threads: u32) {
    let e = &p.energy;
    let mut pj = c.instructions * e.instruction;
    for (k, n) in &c.ops {
        pj += n * op_energy(k, p);
    }
    // bytes a first call brings from DRAM, on a repeated call: the
    // streamed results' all, the rest but what the last level kept
    c.llc_retained = p.llc_retained(c.footprint_bytes, threads);
    let streamed = c.streamed_bytes.min(c.dram_bytes);
    let dram_bytes = streamed + (c.dram_bytes - streamed) * (1.0 - c.llc_retained);
    pj += c.l1_bytes * e.l1_byte
        + c.l2_bytes * e.l2_byte
        + c.llc_bytes * e.llc_byte
        + dram_bytes * e.dram_byte;
    c.picojoules = pj;
    let hz = p.ghz * 1e9;
    // floating-point instructions (of whatever width the backend's code
    // has) at the FP ports' rate, everything at the issue rate, and the
    // loops' waits on their chains besides
    let compute = ((c.instructions / p.throughput.scalar_per_cycle)
        .max(c.fp_instructions / p.throughput.vector_fp_per_cycle)
        .max(
            c.divider_vectors * p.throughput.divide_cycles
                + c.int_divisions * p.throughput.int_divide_cycles,
        )
        + c.chain_cycles)
        / hz;
    // threads share a parallel nest's pieces: the busiest thread has
    // ceil(pieces / threads) of them
    let speedup = if c.parallel_chunks.is_infinite() {
        f64::from(threads)
    } else if c.parallel_chunks > 0.0 {
        let t = f64::from(threads).min(c.parallel_chunks);
        c.parallel_chunks / (c.parallel_chunks / t).ceil()
    } else {
        1.0
    };
    let b = &p.bandwidth;
    let dram = (b.dram_gbs * speedup).min(
        b.dram_all_cores_gbs
            .unwrap_or(b.dram_gbs * f64::from(p.cores))
            .max(b.dram_gbs),
    );
    // Each byte takes the time of the level that served it, at that
    // level's bandwidth as measured end to end (the triad from L2 includes
    // L1's part of the path): bytes served by L2 are L1's misses less
    // L2's, and so on. The levels' times add up — on Intel cores the
    // transfers between levels do not overlap (the ECM model's premise) —
    // and overlap with the arithmetic. (A roofline's max over the levels
    // had blur and unsharp 1.7x fast, with L2, LLC and DRAM all busy.)
    let served = [
        ("L1", c.l1_bytes - c.l2_bytes, b.l1_gbs * speedup),
        ("L2", c.l2_bytes - c.llc_bytes, b.l2_gbs * speedup),
        ("LLC", c.llc_bytes - dram_bytes, b.llc_gbs * speedup),
        ("DRAM", dram_bytes, dram),
    ]
    .map(|(name, bytes, gbs)| (name, bytes.max(0.0) / (gbs * 1e9)));
    // a fresh mapping's first touch: the fault and the zeroing, before
    // (and not overlapped with) the nest's own traffic
    let first_touch = c.fresh_pages * p.first_touch_ns.unwrap_or(250.0) * 1e-9 / speedup;
    let memory: f64 = served.iter().map(|l| l.1).sum::<f64>() + first_touch;
    let compute = compute / speedup;
    let (bound, t) = if compute >= memory {
        ("compute", compute)
    } else {
        let slowest = served
            .iter()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .expect("four levels");
        (slowest.0, memory)
    };
    // the arithmetic and the memory traffic overlap only in part: the core
    // runs ahead of its misses as far as its buffers reach
    c.seconds = t + UNOVERLAPPED * compute.min(memory);
    c.bound = bound;
}

/// Picojoules for one operation of a class (`f32 mul`).
fn op_energy(class: &str, p: &Profile) -> f64 {
    let e = &p.energy;
    let (ty, op) = class.split_once(' ').unwrap_or((class, ""));
    let pick = |i8: f64, i16: f64, i32: f64, f16: f64, f32: f64, f64_: f64| match ty {
        "i8" | "u8" | "bool" => i8,
        "i16" | "u16" => i16,
        "i32" | "u32" => i32,
        "i64" | "u64" => i32 * 2.0,
        "f16" => f16,
        "f32" => f32,
        _ => f64_,
    };
    match op {
        "mul" => pick(
            e.int8_mul,
            e.int16_mul,
            e.int32_mul,
            e.f16_mul,
            e.f32_mul,
            e.f64_mul,
        ),
        "fma" => pick(
            e.int8_mul,
            e.int16_mul,
            e.int32_mul,
            e.f16_fma,
            e.f32_fma,
            e.f64_fma,
        ),
        "div" | "rem" => pick(
            e.int32_mul * 4.0,
            e.int32_mul * 4.0,
            e.int32_mul * 8.0,
            e.f32_div / 2.0,
            e.f32_div,
            e.f64_div,
        ),
        "sqrt" => pick(0.0, 0.0, 0.0, e.f32_sqrt / 2.0, e.f32_sqrt, e.f64_sqrt),
        "exp" | "log" | "tanh" | "pow" | "sin" | "cos" | "tan" | "atan2" | "erf" | "log1p"
        | "expm1" => e.transcendental * if ty == "f64" { 2.0 } else { 1.0 },
        _ => pick(
            e.int8_add,
            e.int16_add,
            e.int32_add,
            e.f16_add,
            e.f32_add,
            e.f64_add,
        ),
    }
}

/// The latency, in cycles, of one iteration's chain from a loop's carried
/// values to what it yields for the next iteration, counting carried
/// values the body also stores (a recurrence's running value: the loop
/// cannot run ahead of it) and scalar float accumulators (a sum in the
/// reference order, one add after another: conv2d's edge columns, 25 taps
/// each, took a fifth of its time with LLVM). Vector accumulators are left
/// to the throughput estimate: the vector code keeps several, and each
/// of them sums independent lanes. Latencies are typical of current cores: 3 for a
/// floating add, subtract, min or max, 4 for a multiply or fma, 12 for a
/// division, 20 for a math function, 1 for integer and other ops.
fn carried_chain(m: &Module, body: BlockId) -> f64 {
    let ops = &m.block(body).ops;
    let Some(&last) = ops.last() else { return 0.0 };
    let yielded = &m.op(last).operands;
    let args = &m.block(body).args;
    if yielded.is_empty() || args.len() != yielded.len() + 1 {
        return 0.0;
    }
    let stored: std::collections::HashSet<ValueId> = ops
        .iter()
        .filter(|&&o| m.op(o).opcode == Opcode::Mem(MemOp::Store))
        .map(|&o| m.op(o).operands[0])
        .collect();
    let mut dist: HashMap<ValueId, f64> = args[1..].iter().map(|&a| (a, 0.0)).collect();
    for &o in ops {
        let d = m.op(o);
        let Some(from) = d
            .operands
            .iter()
            .filter_map(|v| dist.get(v).copied())
            .reduce(f64::max)
        else {
            continue;
        };
        let float = d
            .results
            .first()
            .is_some_and(|&r| m.ty(r).elem().is_float());
        let latency = match d.opcode {
            Opcode::Arith(ArithOp::Div) if float => 12.0,
            Opcode::Arith(ArithOp::Mul | ArithOp::Fma) if float => 4.0,
            Opcode::Arith(ArithOp::Add | ArithOp::Sub | ArithOp::Min | ArithOp::Max) if float => {
                3.0
            }
            Opcode::Math(_) => 20.0,
            _ => 1.0,
        };
        for &r in &d.results {
            dist.insert(r, from + latency);
        }
    }
    yielded
        .iter()
        .filter(|&&v| stored.contains(&v) || matches!(m.ty(v), Type::Scalar(t) if t.is_float()))
        .filter_map(|v| dist.get(v).copied())
        .fold(0.0, f64::max)
}

impl Walker<'_> {
    fn dep(&self, v: ValueId) -> u64 {
        self.deps.get(&v).copied().unwrap_or(0)
    }

    fn block(&mut self, b: BlockId, node: &mut Node, depth: usize, path: &[(f64, f64)]) {
        for &op in &self.m.block(b).ops.clone() {
            self.op(op, node, depth, path);
        }
    }

    fn op(&mut self, op: OpId, node: &mut Node, depth: usize, path: &[(f64, f64)]) {
        if matches!(self.m.op(op).opcode, Opcode::Arith(_))
            && self
                .m
                .op(op)
                .operands
                .iter()
                .any(|o| self.per_thread.contains(o))
        {
            self.per_thread
                .extend(self.m.op(op).results.iter().copied());
        }
        if let Some(loc) = self.m.op(op).loc
            && depth > 0
            && matches!(
                self.m.op(op).opcode,
                Opcode::Arith(_)
                    | Opcode::Math(_)
                    | Opcode::Mem(MemOp::Store)
                    | Opcode::Vector(VectorOp::Store)
            )
            && !node.lines.contains(&loc.line)
        {
            node.lines.push(loc.line);
        }
        let m = self.m;
        let d = m.op(op);
        let dep = d.operands.iter().fold(0, |acc, &v| acc | self.dep(v));
        let direct = d
            .operands
            .iter()
            .fold(0, |acc, &v| acc | self.direct.get(&v).copied().unwrap_or(0));
        // a product by a loop-invariant known value scales the movement;
        // sums and the rest move as far as their operands do
        let moves_of = |w: &Self, v: ValueId| w.moves.get(&v).cloned().unwrap_or_default();
        let factor = |w: &Self, v: ValueId| {
            (w.dep(v) == 0)
                .then(|| w.env.get(&v).copied())
                .flatten()
                .map(|c| c.unsigned_abs() as f64)
        };
        let scaled =
            |m: Moves, c: f64| -> Moves { m.into_iter().map(|(d, s)| (d, s * c)).collect() };
        let moves = match (d.opcode, d.operands.as_slice()) {
            (Opcode::Arith(ArithOp::Mul), &[a, b]) => match (factor(self, a), factor(self, b)) {
                (_, Some(c)) => scaled(moves_of(self, a), c),
                (Some(c), None) => scaled(moves_of(self, b), c),
                (None, None) => merge_moves(&moves_of(self, a), &moves_of(self, b)),
            },
            _ => d.operands.iter().fold(Moves::new(), |acc, &v| {
                merge_moves(&acc, &moves_of(self, v))
            }),
        };
        for &r in &d.results {
            self.deps.insert(r, dep);
            self.direct.insert(r, direct);
            if !moves.is_empty() {
                self.moves.insert(r, moves.clone());
            }
        }
        match d.opcode {
            Opcode::Loop(LoopOp::For | LoopOp::Parallel) => {
                let lb = self.env.get(&d.operands[0]).copied();
                let ub = self.env.get(&d.operands[1]).copied();
                let step = if d.opcode == Opcode::Loop(LoopOp::For) {
                    self.env.get(&d.operands[2]).copied().unwrap_or(1).max(1)
                } else {
                    1
                };
                // A loop over blocks (a matmul's column blocks, a tile's
                // rows) may end with a partial block, which its body clamps
                // (`min(col + 384, N)`). The body is evaluated once, at a
                // representative iteration: the middle one of those before
                // the last (a full tile, an interior row); and with more
                // than one iteration it runs the fractional trip count, so
                // that full blocks times their count make the exact total
                // (a ceiling overcounted K = 1024 in blocks of 384 by an
                // eighth, and the middle of two blocks was the partial one).
                let span = match (lb, ub) {
                    (Some(l), Some(u)) => Some((u - l).max(0) as f64 / step as f64),
                    _ => None,
                };
                let iterations = span.map_or(1.0, f64::ceil);
                let trips = match span {
                    Some(s) if iterations >= 2.0 => s,
                    Some(s) => s.ceil(),
                    None => 1.0,
                };
                let body = m.entry_block(op, 0);
                let args = m.block(body).args.clone();
                if let (Some(&iv), Some(l)) = (args.first(), lb) {
                    let mid = ((iterations - 2.0) / 2.0).floor().max(0.0) as i64;
                    self.env.insert(iv, l + mid * step);
                }
                // the variable follows this loop, and whatever its bounds follow
                // (a tile's rows move with the tile)
                let bounds_dep = self.dep(d.operands[0]) | self.dep(d.operands[1]);
                if let Some(&iv) = args.first() {
                    self.deps.insert(iv, (1 << depth.min(63)) | bounds_dep);
                    self.direct.insert(iv, 1 << depth.min(63));
                    self.moves.insert(iv, vec![(depth, 1.0)]);
                }
                for &a in &args[1..] {
                    self.deps.insert(a, 1 << depth.min(63));
                    self.direct.insert(a, 1 << depth.min(63));
                }
                // the runtime cuts a parallel loop into pieces of at least
                // its grain (operand 2) for the threads to take
                let parallel_chunks = if d.opcode == Opcode::Loop(LoopOp::Parallel) {
                    let grain = d
                        .operands
                        .get(2)
                        .and_then(|g| self.env.get(g))
                        .copied()
                        .unwrap_or(1)
                        .max(1);
                    if d.operands
                        .get(1)
                        .is_some_and(|ub| self.per_thread.contains(ub))
                    {
                        f64::INFINITY
                    } else {
                        (trips / grain as f64).ceil().max(1.0)
                    }
                } else {
                    0.0
                };
                let mut child = Node {
                    depth,
                    trips,
                    parallel_chunks,
                    ..Node::default()
                };
                let mut p = path.to_vec();
                p.push((trips, step as f64));
                // per iteration: the induction variable's increment and the
                // fused compare-and-branch
                child.instructions += 2.0;
                self.block(body, &mut child, depth + 1, &p);
                child.chain_cycles = carried_chain(m, body);
                node.children.push(child);
                node.instructions += 2.0; // the loop's compare and branch, per entry
                for &r in &d.results {
                    self.deps.insert(r, dep | (1 << depth.min(63)));
                    self.direct.insert(r, direct | (1 << depth.min(63)));
                }
            }
            Opcode::Mem(MemOp::Load | MemOp::Store)
            | Opcode::Vector(VectorOp::Load | VectorOp::Store) => {
                let store = matches!(
                    d.opcode,
                    Opcode::Mem(MemOp::Store) | Opcode::Vector(VectorOp::Store)
                );
                let (buf, idx) = if store {
                    (d.operands[1], &d.operands[2..])
                } else {
                    (d.operands[0], &d.operands[1..])
                };
                let value_ty = if store {
                    m.ty(d.operands[0]).clone()
                } else {
                    m.ty(d.results[0]).clone()
                };
                let lanes = value_ty.lanes().unwrap_or(1) as f64;
                let bytes = value_ty.elem().size_bytes() as f64 * lanes;
                let mask = idx.iter().fold(0, |a, &v| a | self.dep(v));
                // contiguous along the loops that move the last index
                // itself; loops that only shift its range count as rows
                let last_mask = idx
                    .last()
                    .map_or(0, |&v| self.direct.get(&v).copied().unwrap_or(0));
                let moves = idx
                    .iter()
                    .map(|v| self.moves.get(v).cloned().unwrap_or_default())
                    .collect();
                let at = idx.iter().map(|v| self.env.get(v).copied()).collect();
                node.accesses.push(Access {
                    buf,
                    mask,
                    last_mask,
                    moves,
                    bytes,
                    path: path.to_vec(),
                    elem: value_ty.elem().size_bytes() as f64,
                    at,
                    store,
                });
                node.instructions += 1.0;
                if store && let Some(b) = self.bufs.get(&buf) {
                    node.stores_to.push(b.name.clone());
                }
            }
            Opcode::Mem(MemOp::Alloc) => {
                let shape = d
                    .operands
                    .iter()
                    .map(|v| self.env.get(v).copied())
                    .collect();
                let elem = m.ty(d.results[0]).elem();
                let name = m.value(d.results[0]).name.clone().unwrap_or_default();
                let buf = Buf {
                    shape,
                    elem_bytes: elem.size_bytes() as f64,
                    name,
                };
                if buf.bytes() > pj_runtime::alloc::CACHED_BYTES as f64 {
                    let pages = (buf.bytes() / 4096.0).ceil();
                    if depth == 0 {
                        // a whole intermediate: charged to the nest that
                        // first writes it
                        self.fresh.push((d.results[0], pages));
                    } else {
                        node.fresh_pages += pages;
                    }
                }
                self.bufs.insert(d.results[0], buf);
                node.scratch.push(d.results[0]);
                node.instructions += 20.0; // a call into the allocator
            }
            // the walk follows one thread through the code (threads are
            // applied to its estimate afterwards): work cut per thread is
            // cut for one
            Opcode::Loop(LoopOp::Threads) => {
                self.env.insert(d.results[0], 1);
                self.per_thread.insert(d.results[0]);
            }
            Opcode::Mem(MemOp::Dim) => {
                let k = d.attr("dim").and_then(Attr::as_int).unwrap_or(0) as usize;
                if let Some(Some(n)) = self.bufs.get(&d.operands[0]).and_then(|b| b.shape.get(k)) {
                    self.env.insert(d.results[0], *n);
                }
            }
            // four 8-bit products per lane, summed into the lane's i32: one
            // `vpdpbusd`/`sdot`
            Opcode::Vector(VectorOp::Dot4) => {
                let lanes = m.ty(d.results[0]).lanes().unwrap_or(1) as f64;
                *node.ops.entry("i8 mul".into()).or_insert(0.0) += 4.0 * lanes;
                *node.ops.entry("i32 add".into()).or_insert(0.0) += 4.0 * lanes;
                // `pmaddubsw`, `pmaddwd`, `paddd` without VNNI
                let n = if d.attr("pairs16").is_some() {
                    3.0
                } else {
                    1.0
                };
                node.instructions += n;
                // on the vector ports, as an FMA
                node.fp_instructions += n;
            }
            Opcode::Arith(a) => {
                self.eval(op, a);
                let ty = m.ty(d.results[0]);
                // integer division, index arithmetic included (a constant
                // divisor becomes a multiply)
                if matches!(a, ArithOp::Div | ArithOp::Rem)
                    && !ty.elem().is_float()
                    && !is_constant(m, d.operands[1])
                {
                    let wide = ty.elem().size_bytes() == 8 && !self.narrow_int_division;
                    let each = if wide { 1.0 } else { NARROW_DIVISION };
                    node.int_divisions += ty.lanes().unwrap_or(1) as f64 * each;
                }
                if a != ArithOp::Constant {
                    if ty.elem() != ScalarType::I64 || ty.lanes().is_some() {
                        let lanes = ty.lanes().unwrap_or(1) as f64;
                        let elem = if a == ArithOp::Cmp || a == ArithOp::Select {
                            m.ty(d.operands[d.operands.len() - 1]).elem()
                        } else {
                            ty.elem()
                        };
                        *node
                            .ops
                            .entry(format!("{} {}", elem.name(), a.mnemonic()))
                            .or_insert(0.0) += lanes;
                        if elem.is_float() {
                            node.fp_instructions += 1.0;
                            if a == ArithOp::Div {
                                node.divider_vectors += divider_share(ty);
                            }
                        }
                        node.instructions += match ty.lanes() {
                            Some(_) if a == ArithOp::Cast && self.cast_by_steps => {
                                cast_steps(m.ty(d.operands[0]).elem(), ty.elem())
                            }
                            _ => 1.0,
                        };
                    } else {
                        // index arithmetic: half of it folds into addressing
                        // modes or is strength-reduced by the backend
                        node.instructions += 0.5;
                    }
                }
            }
            Opcode::Math(mo) => {
                let ty = m.ty(d.results[0]);
                let lanes = ty.lanes().unwrap_or(1) as f64;
                let elem = ty.elem().name();
                match (ty.lanes(), crate::dialects::math::lane_ops(mo, ty.elem())) {
                    (vector, Some(n)) => {
                        // the definition's own operations, one instruction
                        // each per vector; on scalars, a call (but `exp`'s
                        // inline copy) around them
                        *node.ops.entry(format!("{elem} add")).or_insert(0.0) +=
                            lanes * f64::from(n);
                        let call = if vector.is_some() || mo == MathOp::Exp {
                            0.0
                        } else {
                            10.0
                        };
                        node.instructions += f64::from(n) + call;
                        node.fp_instructions += f64::from(n);
                    }
                    _ => {
                        let name = match mo {
                            MathOp::Sqrt => "sqrt",
                            MathOp::Abs | MathOp::Floor | MathOp::Ceil => "add",
                            other => other.mnemonic(),
                        };
                        *node.ops.entry(format!("{elem} {name}")).or_insert(0.0) += lanes;
                        node.instructions += if name == "add" { 1.0 } else { 10.0 * lanes };
                        node.fp_instructions += if name == "sqrt" { 4.0 } else { 1.0 };
                        if name == "sqrt" {
                            node.divider_vectors += divider_share(ty);
                        }
                    }
                }
            }
            // binary16 conversions the backend has instructions for
            // (`lower-quant` kept them): one per vector, an add's energy
            Opcode::Quant(_) => {
                let lanes = m.ty(d.results[0]).lanes().unwrap_or(1) as f64;
                *node.ops.entry("f32 add".to_string()).or_insert(0.0) += lanes;
                node.instructions += 1.0;
                node.fp_instructions += 1.0;
            }
            Opcode::Vector(_) => node.instructions += 1.0,
            Opcode::Func(FuncOp::Check) => node.instructions += 2.0,
            _ => {}
        }
    }

    fn eval(&mut self, op: OpId, a: ArithOp) {
        let d = self.m.op(op);
        let r = d.results[0];
        if self.m.ty(r).lanes().is_some() {
            return;
        }
        let env = &self.env;
        let get = |i: usize| d.operands.get(i).and_then(|v| env.get(v)).copied();
        let v = match a {
            ArithOp::Constant => d.attr("value").and_then(Attr::as_int),
            ArithOp::Add => get(0).zip(get(1)).map(|(x, y)| x.wrapping_add(y)),
            ArithOp::Sub => get(0).zip(get(1)).map(|(x, y)| x.wrapping_sub(y)),
            ArithOp::Mul => get(0).zip(get(1)).map(|(x, y)| x.wrapping_mul(y)),
            ArithOp::Div => get(0).zip(get(1)).and_then(|(x, y)| x.checked_div(y)),
            ArithOp::Rem => get(0).zip(get(1)).and_then(|(x, y)| x.checked_rem(y)),
            ArithOp::Min => get(0).zip(get(1)).map(|(x, y)| x.min(y)),
            ArithOp::Max => get(0).zip(get(1)).map(|(x, y)| x.max(y)),
            ArithOp::And => get(0).zip(get(1)).map(|(x, y)| x & y),
            ArithOp::Or => get(0).zip(get(1)).map(|(x, y)| x | y),
            ArithOp::Select => get(0).and_then(|c| if c != 0 { get(1) } else { get(2) }),
            ArithOp::Cmp => get(0).zip(get(1)).map(|(x, y)| {
                let pred = d.attr("pred").and_then(Attr::as_str).unwrap_or("eq");
                i64::from(match pred {
                    "eq" => x == y,
                    "ne" => x != y,
                    "lt" => x < y,
                    "le" => x <= y,
                    "gt" => x > y,
                    _ => x >= y,
                })
            }),
            _ => None,
        };
        let learned = if a == ArithOp::Cmp { get(1) } else { None };
        if let Some(v) = v {
            self.env.insert(r, v);
        }
        // an output's extent is checked against the computed one: learn it
        if a == ArithOp::Cmp
            && d.attr("pred").and_then(Attr::as_str) == Some("eq")
            && let Some(dim_op) = self.m.def_op(d.operands[0])
            && self.m.op(dim_op).opcode == Opcode::Mem(MemOp::Dim)
            && !self.env.contains_key(&d.operands[0])
            && let Some(n) = learned
        {
            let dd = self.m.op(dim_op);
            let k = dd.attr("dim").and_then(Attr::as_int).unwrap_or(0) as usize;
            if let Some(b) = self.bufs.get_mut(&dd.operands[0])
                && let Some(slot) = b.shape.get_mut(k)
            {
                *slot = Some(n);
                self.env.insert(d.operands[0], n);
                self.env.insert(r, 1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cranelift's steps, as its x86 code has them: `u8` to `f32` is two
    /// `uwiden_low` and `cvtdq2ps`; `f32` to `u8` is `minps`, `cvttps2dq`
    /// and two packs, to `i8` two more for NaN.
    #[test]
    fn casts_count_one_instruction_per_step() {
        use ScalarType::*;
        for (from, to, steps) in [
            (U8, F32, 3.0),
            (I16, F32, 2.0),
            (I32, F32, 1.0),
            (F32, U8, 4.0),
            (F32, I8, 6.0),
            (F32, U16, 3.0),
            (F32, I32, 1.0),
            (I8, I32, 2.0),
            (I32, I8, 2.0),
            (I16, I8, 1.0),
            (F32, F32, 1.0),
        ] {
            assert_eq!(cast_steps(from, to), steps, "{from:?} -> {to:?}");
        }
    }
}

#[cfg(test)]
mod last_level_tests {
    use crate::target::profile::Profile;
    use crate::target::report;
    use std::collections::HashMap;

    /// A 32 MiB input and a 32 MiB result on a machine whose cores keep
    /// 48 MiB of last level each but 96 MiB together (a VM's shares, as
    /// `pj calibrate` measured on this project's Xeon): one thread finds
    /// part of its buffers there on a repeated call, two find them all,
    /// and the two run more than twice as fast as one.
    #[test]
    fn threads_hold_the_last_level_their_cores_have_between_them() {
        let src = "kernel scale(x: f32[N]) -> y: f32[N] {\n    y[i] = x[i] * 2.0;\n}\n";
        let m = crate::compile_source("scale.pj", src).unwrap().module;
        let mib = 1u64 << 20;
        let mut p = Profile::builtin("x86_64-avx512").unwrap();
        p.cores = 2;
        p.cache.llc_bytes = 48 * mib;
        p.bandwidth.dram_all_cores_gbs = Some(2.0 * p.bandwidth.dram_gbs);
        let sizes = HashMap::from([("N".to_string(), (8 * mib) as i64)]);
        let estimate = |p: &Profile, threads: u32| {
            report::energy(&m, "scale", &sizes, p)
                .unwrap()
                .at_threads(threads)
                .optimized
        };
        let shared = estimate(&p, 2);
        p.cache.llc_bytes_all_cores = Some(96 * mib);
        let (one, two) = (estimate(&p, 1), estimate(&p, 2));
        assert_eq!(one.footprint_bytes, (64 * mib) as f64);
        assert_eq!(one.total.llc_retained, 0.75);
        assert_eq!(
            (two.total.llc_retained, two.llc_bytes),
            (1.0, (96 * mib) as f64)
        );
        // a cache all cores share: two threads keep what one does
        assert_eq!(shared.total.llc_retained, 0.75);
        assert!(
            two.total.seconds < 0.5 * one.total.seconds,
            "{one:?} {two:?}"
        );
        assert!(two.total.seconds < shared.total.seconds);
        // fewer bytes from DRAM: less energy too
        assert!(two.total.picojoules < one.total.picojoules);
    }
}
