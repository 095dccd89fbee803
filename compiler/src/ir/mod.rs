//! The picojoule IR: MLIR-style operations, regions, blocks and SSA values.
//!
//! # Shape of the IR
//!
//! A [`Module`] holds a top-level block of `pj.kernel` ops. Every op has
//! operands (SSA values), results (new SSA values, each with a [`Type`]),
//! attributes (compile-time data, [`Attr`]) and regions. A region holds
//! blocks; a block has arguments (SSA values) and a list of ops. All ops of
//! today's dialects use single-block regions (structured control flow), and
//! the last op of a region's block is its terminator (`pj.yield`,
//! `pj.return`).
//!
//! Values are visible in the block that defines them after their definition
//! and in every region nested below it: a stage's region reads the sizes and
//! `let`s computed in the kernel body directly (regions are not isolated from
//! above, unlike MLIR's `func.func`).
//!
//! # Storage
//!
//! Ops, values, blocks and regions live in arenas owned by the module and are
//! named by `u32` handles ([`OpId`], [`ValueId`], [`BlockId`], [`RegionId`]).
//! Erasing an op unlinks it from its block; the arena slot stays (handles are
//! never reused), so passes can hold handles across edits. The text form is
//! defined by `print.rs` and read back by `parse.rs`; `verify.rs` states the
//! invariants every pass preserves.
//!
//! # Shapes
//!
//! Tensors are immutable values. A stage's result covers the stage's domain,
//! which need not start at zero: reads use absolute coordinates. Extents are
//! static, symbolic (named sizes of the kernel signature), or dynamic
//! (computed by the IR at run time).

pub mod attr;
pub mod parse;
pub mod print;
pub mod types;
pub mod verify;

pub use attr::Attr;
pub use types::{Dim, ScalarType, Type};

use crate::dialects::Opcode;

macro_rules! handle {
    ($(#[$m:meta])* $name:ident, $prefix:literal) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u32);
        impl $name {
            /// The arena index.
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }
    };
}

handle!(/// An operation.
    OpId, "op");
handle!(/// An SSA value.
    ValueId, "%");
handle!(/// A block.
    BlockId, "^bb");
handle!(/// A region.
    RegionId, "region");

/// A source location: 1-based line and column in the module's source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Loc {
    /// Line.
    pub line: u32,
    /// Column.
    pub col: u32,
}

/// Where a value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueDef {
    /// Result `index` of an op.
    OpResult(OpId, u32),
    /// Argument `index` of a block.
    BlockArg(BlockId, u32),
}

/// An SSA value.
#[derive(Clone, Debug)]
pub struct ValueData {
    /// Its type.
    pub ty: Type,
    /// Its definition.
    pub def: ValueDef,
    /// A readable name for printing (`%input`); not semantic.
    pub name: Option<String>,
}

/// An operation.
#[derive(Clone, Debug)]
pub struct OpData {
    /// Which op.
    pub opcode: Opcode,
    /// Inputs.
    pub operands: Vec<ValueId>,
    /// Outputs.
    pub results: Vec<ValueId>,
    /// Compile-time data, sorted by key.
    pub attrs: Vec<(String, Attr)>,
    /// Nested regions.
    pub regions: Vec<RegionId>,
    /// Source location.
    pub loc: Option<Loc>,
    /// Containing block, `None` once erased (or before insertion).
    pub parent: Option<BlockId>,
}

impl OpData {
    /// Looks an attribute up.
    pub fn attr(&self, key: &str) -> Option<&Attr> {
        self.attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Sets (or replaces) an attribute, keeping the attributes sorted by key.
    pub fn set_attr(&mut self, key: &str, value: Attr) {
        match self.attrs.binary_search_by(|(k, _)| k.as_str().cmp(key)) {
            Ok(i) => self.attrs[i].1 = value,
            Err(i) => self.attrs.insert(i, (key.to_string(), value)),
        }
    }

    /// Removes an attribute if present.
    pub fn remove_attr(&mut self, key: &str) {
        self.attrs.retain(|(k, _)| k != key);
    }
}

/// A block: arguments and a list of ops.
#[derive(Clone, Debug, Default)]
pub struct BlockData {
    /// Block arguments.
    pub args: Vec<ValueId>,
    /// Ops in order.
    pub ops: Vec<OpId>,
    /// Containing region (`None` for the module's top block).
    pub parent: Option<RegionId>,
}

/// A region: a list of blocks owned by an op.
#[derive(Clone, Debug)]
pub struct RegionData {
    /// Blocks; the first is the entry.
    pub blocks: Vec<BlockId>,
    /// The op that owns it.
    pub parent: OpId,
}

/// A compilation unit: kernels and everything inside them.
#[derive(Clone, Debug)]
pub struct Module {
    ops: Vec<OpData>,
    values: Vec<ValueData>,
    blocks: Vec<BlockData>,
    regions: Vec<RegionData>,
    /// The top-level block holding the `pj.kernel` ops.
    pub top: BlockId,
    /// The source file name, used when printing locations.
    pub source_name: Option<String>,
}

impl Default for Module {
    fn default() -> Self {
        Module::new()
    }
}

/// The parts of a new op; see [`Module::build_op`].
#[derive(Clone, Debug)]
pub struct OpSpec {
    /// Which op.
    pub opcode: Opcode,
    /// Inputs.
    pub operands: Vec<ValueId>,
    /// Result types.
    pub result_types: Vec<Type>,
    /// Attributes (any order; they are sorted).
    pub attrs: Vec<(String, Attr)>,
    /// Number of regions; each gets one empty entry block.
    pub regions: usize,
    /// Source location.
    pub loc: Option<Loc>,
}

impl OpSpec {
    /// An op with no operands, results, attributes or regions yet.
    pub fn new(opcode: Opcode) -> OpSpec {
        OpSpec {
            opcode,
            operands: vec![],
            result_types: vec![],
            attrs: vec![],
            regions: 0,
            loc: None,
        }
    }
    /// Sets the operands.
    pub fn operands(mut self, v: impl IntoIterator<Item = ValueId>) -> Self {
        self.operands = v.into_iter().collect();
        self
    }
    /// Adds a result of type `t`.
    pub fn result(mut self, t: Type) -> Self {
        self.result_types.push(t);
        self
    }
    /// Adds an attribute.
    pub fn attr(mut self, k: &str, v: Attr) -> Self {
        self.attrs.push((k.to_string(), v));
        self
    }
    /// Sets the number of regions.
    pub fn regions(mut self, n: usize) -> Self {
        self.regions = n;
        self
    }
    /// Sets the location.
    pub fn loc(mut self, loc: Option<Loc>) -> Self {
        self.loc = loc;
        self
    }
}

impl Module {
    /// An empty module.
    pub fn new() -> Module {
        let mut m = Module {
            ops: vec![],
            values: vec![],
            blocks: vec![],
            regions: vec![],
            top: BlockId(0),
            source_name: None,
        };
        m.top = m.new_block(None);
        m
    }

    fn new_block(&mut self, parent: Option<RegionId>) -> BlockId {
        let id = BlockId(self.blocks.len() as u32);
        self.blocks.push(BlockData {
            args: vec![],
            ops: vec![],
            parent,
        });
        id
    }

    /// Creates an op (not yet in any block). Each region gets one empty entry block.
    pub fn build_op(&mut self, spec: OpSpec) -> OpId {
        let id = OpId(self.ops.len() as u32);
        let mut attrs = spec.attrs;
        attrs.sort_by(|a, b| a.0.cmp(&b.0));
        let results = spec
            .result_types
            .into_iter()
            .enumerate()
            .map(|(i, ty)| self.new_value(ty, ValueDef::OpResult(id, i as u32)))
            .collect();
        self.ops.push(OpData {
            opcode: spec.opcode,
            operands: spec.operands,
            results,
            attrs,
            regions: vec![],
            loc: spec.loc,
            parent: None,
        });
        for _ in 0..spec.regions {
            self.add_region(id);
        }
        id
    }

    /// Adds a region with one empty block to `op`; returns the block.
    pub fn add_region(&mut self, op: OpId) -> BlockId {
        let r = RegionId(self.regions.len() as u32);
        self.regions.push(RegionData {
            blocks: vec![],
            parent: op,
        });
        let b = self.new_block(Some(r));
        self.regions[r.index()].blocks.push(b);
        self.ops[op.index()].regions.push(r);
        b
    }

    /// Adds a further block to a region.
    pub fn add_block(&mut self, region: RegionId) -> BlockId {
        let b = self.new_block(Some(region));
        self.regions[region.index()].blocks.push(b);
        b
    }

    fn new_value(&mut self, ty: Type, def: ValueDef) -> ValueId {
        let id = ValueId(self.values.len() as u32);
        self.values.push(ValueData {
            ty,
            def,
            name: None,
        });
        id
    }

    /// Appends an argument of type `ty` to `block`.
    pub fn add_block_arg(&mut self, block: BlockId, ty: Type, name: Option<String>) -> ValueId {
        let idx = self.blocks[block.index()].args.len() as u32;
        let v = self.new_value(ty, ValueDef::BlockArg(block, idx));
        self.values[v.index()].name = name;
        self.blocks[block.index()].args.push(v);
        v
    }

    /// Appends `op` to the end of `block`.
    pub fn append_op(&mut self, block: BlockId, op: OpId) {
        debug_assert!(self.ops[op.index()].parent.is_none(), "op inserted twice");
        self.ops[op.index()].parent = Some(block);
        self.blocks[block.index()].ops.push(op);
    }

    /// Inserts `op` at the start of `block`.
    pub fn prepend_op(&mut self, block: BlockId, op: OpId) {
        debug_assert!(self.ops[op.index()].parent.is_none(), "op inserted twice");
        self.ops[op.index()].parent = Some(block);
        self.blocks[block.index()].ops.insert(0, op);
    }

    /// Inserts `op` right before `anchor` in anchor's block.
    pub fn insert_before(&mut self, anchor: OpId, op: OpId) {
        self.insert_all_before(anchor, &[op]);
    }

    /// Inserts `ops`, in order, before `anchor` in its block: one search and
    /// one splice, however many (inlining a stage body inserts dozens).
    pub fn insert_all_before(&mut self, anchor: OpId, ops: &[OpId]) {
        let block = self.ops[anchor.index()]
            .parent
            .expect("anchor is in a block");
        let pos = self.blocks[block.index()]
            .ops
            .iter()
            .position(|&o| o == anchor)
            .expect("anchor in its block");
        for &op in ops {
            self.ops[op.index()].parent = Some(block);
        }
        self.blocks[block.index()]
            .ops
            .splice(pos..pos, ops.iter().copied());
    }

    /// Replaces every use of `old` by `new` in `block` and the regions of
    /// its ops: all of them, when `old` is defined in `block`.
    pub fn replace_uses_in_block(&mut self, block: BlockId, old: ValueId, new: ValueId) {
        let mut ops = Vec::new();
        self.walk_block(block, &mut |o| ops.push(o));
        for op in ops {
            for v in &mut self.ops[op.index()].operands {
                if *v == old {
                    *v = new;
                }
            }
        }
    }

    /// Unlinks `op` from its block. Its results must be unused.
    pub fn erase_op(&mut self, op: OpId) {
        if let Some(block) = self.ops[op.index()].parent.take() {
            self.blocks[block.index()].ops.retain(|&o| o != op);
        }
    }

    /// Builds an op and appends it to `block`; returns it.
    pub fn push(&mut self, block: BlockId, spec: OpSpec) -> OpId {
        let op = self.build_op(spec);
        self.append_op(block, op);
        op
    }

    /// The op.
    pub fn op(&self, op: OpId) -> &OpData {
        &self.ops[op.index()]
    }

    /// The op, mutably.
    pub fn op_mut(&mut self, op: OpId) -> &mut OpData {
        &mut self.ops[op.index()]
    }

    /// The value.
    pub fn value(&self, v: ValueId) -> &ValueData {
        &self.values[v.index()]
    }

    /// Sets a value's printing name.
    pub fn set_value_name(&mut self, v: ValueId, name: impl Into<String>) {
        self.values[v.index()].name = Some(name.into());
    }

    /// A value's type.
    pub fn ty(&self, v: ValueId) -> &Type {
        &self.values[v.index()].ty
    }

    /// Changes a value's type (a pass that changes what a stage stores);
    /// its users must agree, which the verifier checks.
    pub fn set_ty(&mut self, v: ValueId, ty: Type) {
        self.values[v.index()].ty = ty;
    }

    /// The block.
    pub fn block(&self, b: BlockId) -> &BlockData {
        &self.blocks[b.index()]
    }

    /// The region.
    pub fn region(&self, r: RegionId) -> &RegionData {
        &self.regions[r.index()]
    }

    /// The entry block of region `i` of `op`.
    pub fn entry_block(&self, op: OpId, i: usize) -> BlockId {
        self.regions[self.ops[op.index()].regions[i].index()].blocks[0]
    }

    /// First result of `op`.
    pub fn result(&self, op: OpId) -> ValueId {
        self.ops[op.index()].results[0]
    }

    /// The op defining `v`, if it is an op result.
    pub fn def_op(&self, v: ValueId) -> Option<OpId> {
        match self.values[v.index()].def {
            ValueDef::OpResult(op, _) => Some(op),
            ValueDef::BlockArg(..) => None,
        }
    }

    /// Whether `a` and `b` are the same value, or results of pure ops
    /// without regions with the same opcode and attributes on operands
    /// that are, recursively, the same: computed the same way from the same
    /// values (what CSE would merge, before it has run).
    pub fn same_computation(&self, a: ValueId, b: ValueId) -> bool {
        if a == b {
            return true;
        }
        let (Some(oa), Some(ob)) = (self.def_op(a), self.def_op(b)) else {
            return false;
        };
        let (da, db) = (self.op(oa), self.op(ob));
        da.opcode.is_pure()
            && da.opcode == db.opcode
            && da.regions.is_empty()
            && db.regions.is_empty()
            && da.attrs == db.attrs
            && da.results.iter().position(|&r| r == a) == db.results.iter().position(|&r| r == b)
            && da.operands.len() == db.operands.len()
            && da
                .operands
                .iter()
                .zip(&db.operands)
                .all(|(&x, &y)| self.same_computation(x, y))
    }

    /// The kernels, in order.
    pub fn kernels(&self) -> Vec<OpId> {
        self.blocks[self.top.index()].ops.clone()
    }

    /// The names of the kernels a user calls, in order (companions such as
    /// a lowered kernel's shape function are left out).
    pub fn kernel_names(&self) -> Vec<String> {
        self.kernels()
            .iter()
            .filter(|&&k| self.op(k).attr("shape_of").is_none())
            .filter_map(|&k| {
                self.op(k)
                    .attr("sym_name")
                    .and_then(Attr::as_str)
                    .map(str::to_string)
            })
            .collect()
    }

    /// The kernel a user calls by `name` (not a companion such as a shape
    /// function; find those through [`Module::kernels`]).
    pub fn kernel(&self, name: &str) -> Option<OpId> {
        self.kernels().into_iter().find(|&k| {
            self.op(k).attr("shape_of").is_none()
                && self.op(k).attr("sym_name").and_then(Attr::as_str) == Some(name)
        })
    }

    /// Every op inside `block`, nested ones included, in pre-order.
    pub fn walk_block(&self, block: BlockId, f: &mut dyn FnMut(OpId)) {
        for &op in &self.blocks[block.index()].ops {
            f(op);
            for &r in &self.ops[op.index()].regions {
                for &b in &self.regions[r.index()].blocks {
                    self.walk_block(b, f);
                }
            }
        }
    }

    /// Every live op of the module in pre-order.
    pub fn all_ops(&self) -> Vec<OpId> {
        let mut out = Vec::new();
        self.walk_block(self.top, &mut |o| out.push(o));
        out
    }

    /// Replaces every use of `old` by `new` in live ops.
    pub fn replace_all_uses(&mut self, old: ValueId, new: ValueId) {
        for op in self.all_ops() {
            for v in &mut self.ops[op.index()].operands {
                if *v == old {
                    *v = new;
                }
            }
        }
    }

    /// Number of uses of every value by live ops, indexed by `ValueId::index`.
    pub fn use_counts(&self) -> Vec<u32> {
        let mut counts = vec![0u32; self.values.len()];
        for op in self.all_ops() {
            for v in &self.ops[op.index()].operands {
                counts[v.index()] += 1;
            }
        }
        counts
    }

    /// Number of values ever created (an upper bound on `ValueId::index`).
    pub fn value_count(&self) -> usize {
        self.values.len()
    }

    /// The op whose region contains `block`, if any.
    pub fn block_owner(&self, block: BlockId) -> Option<OpId> {
        self.blocks[block.index()]
            .parent
            .map(|r| self.regions[r.index()].parent)
    }
}
