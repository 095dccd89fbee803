//! `func`/`loop`/`mem`/`vector`/`arith`/`math` IR to LLVM IR, one
//! `func.func` at a time, into a module that `jit.rs` runs in-process or
//! `object.rs` writes out.
//!
//! The semantics are Cranelift's (`codegen/cranelift/lower.rs` says them
//! op by op) and the interpreter's: `bool` is an `i8` holding 0 or 1;
//! integer `div`/`rem` check for zero and never trap on `MIN / -1`;
//! float-to-integer casts saturate; float `min`/`max` are IEEE
//! `minimum`/`maximum` (`llvm.minimum`/`llvm.maximum`, or AVX-512's
//! `vrange` with the NaN put back: `range_min_max`); `exp` on `f32` is
//! the runtime's recipe inline (its `2^k` one `vscalef` on AVX-512:
//! `scale_by_power_of_two`); the other `f32` functions but `pow` are
//! inline on vectors (`math`: the runtime's definitions, over lanes) and
//! calls of the runtime on scalars, as are all `f64` ones. No fast-math flag is ever set: reassociation and fused
//! multiply-adds are decided by picojoule's passes and arrive as explicit
//! ops, so `--fast-math=off` is bit for bit the interpreter.
//!
//! What differs is what LLVM does by itself: loop-invariant code motion,
//! scheduling and register allocation need no help here, and where the
//! Cranelift backend computes a loop's addresses as `base + iv * step`
//! itself, LLVM folds the index arithmetic into its addressing modes.
//! Which accesses are checked, in which of a kernel's two copies, is
//! `analysis::copies`.

use super::emit::{B, Emitter, FloatPred, IntPred, T, V};
use super::{internal, unsupported};
use crate::codegen::CodegenError;
use crate::codegen::abi::elem_code;
use crate::codegen::analysis::closure;
use crate::codegen::analysis::copies::KernelCopy;
use crate::codegen::analysis::versioning::{self, IndexForm};
use crate::codegen::checks;
use crate::codegen::kernel::Tier;
use crate::codegen::runtime::{self, CType};
use crate::dialects::{
    ArithOp, FuncOp, LoopOp, MathOp, MemOp, Opcode, VectorOp, arith::Scalar, loops, signature,
};
use crate::ir::{Attr, BlockId, Module as IrModule, OpId, ScalarType, Type as IrType, ValueId};
use inkwell::llvm_sys::LLVMLinkage;
use pj_runtime::abi::{offsets, status};
use std::collections::{HashMap, HashSet};

mod math;
use std::rc::Rc;

/// The runtime functions, declared in the module: value and type.
pub struct RuntimeDecls {
    fns: HashMap<&'static str, (V, T)>,
}

impl RuntimeDecls {
    fn get(&self, name: &str) -> (V, T) {
        self.fns[name]
    }
}

/// The LLVM type of a runtime signature's C type.
fn c_type(e: &Emitter, t: CType) -> T {
    match t {
        CType::Ptr => e.ptr(),
        CType::Size | CType::I64 => e.i64(),
        CType::I32 => e.i32(),
        CType::F32 => e.f32(),
        CType::F64 => e.f64(),
    }
}

/// Declares the runtime's entry points (`codegen::runtime`).
pub fn declare_runtime(e: &Emitter) -> RuntimeDecls {
    let mut fns = HashMap::new();
    for f in runtime::all() {
        let params: Vec<T> = f.params.iter().map(|&t| c_type(e, t)).collect();
        let ret = f.ret.map_or(e.void(), |t| c_type(e, t));
        let ty = e.fn_ty(&params, ret);
        let v = e.add_function(f.name, ty, LLVMLinkage::LLVMExternalLinkage);
        e.attr(v, inkwell::llvm_sys::LLVMAttributeFunctionIndex, "nounwind");
        if f.name == runtime::ALLOC.name {
            // fresh memory: aliases nothing the kernel holds
            e.attr(v, inkwell::llvm_sys::LLVMAttributeReturnIndex, "noalias");
        }
        if f.name == runtime::FAIL.name {
            // the failure paths: laid out away from the hot code
            e.attr(v, inkwell::llvm_sys::LLVMAttributeFunctionIndex, "cold");
        }
        fns.insert(f.name, (v, ty));
    }
    RuntimeDecls { fns }
}

/// The LLVM type of a scalar.
pub fn scalar_ty(e: &Emitter, t: ScalarType) -> T {
    match t {
        ScalarType::Bool | ScalarType::I8 | ScalarType::U8 => e.i8(),
        ScalarType::I16 | ScalarType::U16 | ScalarType::F16 | ScalarType::Bf16 => e.int_ty(16),
        ScalarType::I32 | ScalarType::U32 => e.i32(),
        ScalarType::I64 => e.i64(),
        ScalarType::F32 => e.f32(),
        ScalarType::F64 => e.f64(),
    }
}

/// The LLVM type of a scalar or vector value (a buffer: a pointer).
pub fn value_ty(e: &Emitter, t: &IrType) -> T {
    match t {
        IrType::Vector { elem, lanes } => e.vec_ty(scalar_ty(e, *elem), *lanes),
        IrType::Scalar(s) => scalar_ty(e, *s),
        _ => e.ptr(),
    }
}

/// The native signature of a `func.func`: a pointer per buffer, scalars by
/// value, an `i32` status.
pub fn kernel_fn_ty(e: &Emitter, ir: &IrModule, func: OpId) -> T {
    let block = ir.entry_block(func, 0);
    let params: Vec<T> = ir
        .block(block)
        .args
        .iter()
        .map(|&a| value_ty(e, ir.ty(a)))
        .collect();
    e.fn_ty(&params, e.i32())
}

/// Function attributes every function gets: the CPU and its features
/// (MCJIT and object emission read them per function), and no unwinding.
pub struct FnAttrs {
    pub cpu: String,
    pub features: String,
    /// The target's dot-product instructions (for `vector.dot4`).
    pub dot: crate::target::DotProducts,
    /// Whether the target is aarch64 (else x86_64).
    pub aarch64: bool,
    /// Whether the target has AVX-512 F, DQ, BW and VL (`vrangeps`).
    pub avx512: bool,
    /// Results of at least this many bytes are written with non-temporal
    /// stores where they are aligned (`Profile::nontemporal_bytes`); `None`:
    /// never.
    pub nontemporal_bytes: Option<u64>,
}

impl FnAttrs {
    pub fn apply(&self, e: &Emitter, f: V) {
        if !self.cpu.is_empty() {
            e.fn_string_attr(f, "target-cpu", &self.cpu);
        }
        if !self.features.is_empty() {
            e.fn_string_attr(f, "target-features", &self.features);
        }
        e.attr(f, inkwell::llvm_sys::LLVMAttributeFunctionIndex, "nounwind");
    }
}

#[derive(Clone)]
struct Buf {
    data: V,
    shape: Vec<V>,
    strides: Vec<V>,
    elem: ScalarType,
    name: String,
    /// Index into the allocation table, for `mem.alloc` buffers.
    alloc: Option<usize>,
}

#[derive(Clone)]
enum LVal {
    S(V),
    B(Buf),
}

/// A value an outlined parallel body uses from outside, in context slots.
#[derive(Clone)]
enum Capture {
    Scalar(ValueId, T),
    /// A constant (or a vector of one): made again inside the body.
    Constant(ValueId),
    Buffer {
        value: ValueId,
        elem: ScalarType,
        rank: usize,
        name: String,
    },
}

/// A parallel loop body to define as its own function
/// `int32_t body(const void* ctx, int64_t lo, int64_t hi)`.
struct Outline {
    f: V,
    op: OpId,
    captures: Vec<Capture>,
    slot: i64,
    variant: KernelCopy,
}

/// What every function of one kernel shares.
pub struct Shared<'a> {
    pub e: &'a Emitter,
    pub ir: &'a IrModule,
    pub rt: &'a RuntimeDecls,
    pub attrs: &'a FnAttrs,
    pub tier: Tier,
}

struct FnLower<'a> {
    s: &'a Shared<'a>,
    e: &'a Emitter,
    ir: &'a IrModule,
    f: V,
    vals: HashMap<ValueId, LVal>,
    fail_exit: B,
    fail_phi: V,
    /// The one call of `pj_rt_fail` in the function, and its arguments as
    /// phis (code, message, its length, two values) over every check that
    /// fails: a call per check (hundreds in matmul) cost LLVM's code
    /// generation 10-15% of its time (docs/performance.md).
    report: B,
    report_args: [V; 5],
    /// `[pointer, bytes]` per `mem.alloc`, null and 0 when not live: what
    /// the failure exit frees.
    alloc_table: Option<V>,
    alloc_slot: HashMap<OpId, usize>,
    pending: Vec<Outline>,
    /// Accesses a loop precheck has proven in bounds, with a unit last
    /// stride (a versioned loop's fast copy).
    fast: HashSet<OpId>,
    unwritten: Rc<HashSet<ValueId>>,
    /// Inside a kernel's edge loops, where nothing is versioned: depth.
    unversioned: u32,
    variant: KernelCopy,
    /// Whether every buffer's last stride is 1 (a copy's body; not a shape
    /// companion's, which reads its arguments as given).
    rows_contiguous: bool,
    /// Slots of `alloc_table`.
    table_len: usize,
    /// Results the kernel writes and never reads: in the dense copy, their
    /// vector stores may bypass the caches (`FnAttrs::nontemporal_bytes`).
    streamed: Rc<HashSet<ValueId>>,
    /// Whether a non-temporal store was emitted (an `sfence` then ends
    /// the function: they are weakly ordered).
    nontemporal: bool,
    /// Name prefix of outlined bodies.
    name: String,
    outlined: usize,
}

/// Defines the body of `func` as function `f` (declared with
/// [`kernel_fn_ty`]), and the outlined bodies of its parallel loops.
///
/// The kernel's `Checked` copy goes into `checked`'s module when given (the
/// JIT compiles that module without optimizing: it runs only on calls
/// with a zero size), else beside the rest.
pub fn define_kernel(
    s: &Shared<'_>,
    checked: Option<&Shared<'_>>,
    func: OpId,
    f: V,
) -> Result<(), CodegenError> {
    let ir = s.ir;
    let e = s.e;
    let name = signature(ir, func).name;
    let unwritten = Rc::new(closure::unwritten_buffers(ir, func));
    s.attrs.apply(e, f);
    if ir.op(func).attr("shape_of").is_some() {
        // a shape companion computes extents: nothing to specialize
        let mut l = FnLower::new(s, f, unwritten, name, KernelCopy::Checked);
        l.rows_contiguous = false;
        return l.entry(func, None);
    }
    let base = e.name_of(f);
    let copy = |s: &Shared<'_>, v: KernelCopy, linkage: LLVMLinkage| {
        let g = s.e.add_function(
            &format!("{base}.{}", v.suffix()),
            kernel_fn_ty(s.e, ir, func),
            linkage,
        );
        s.attrs.apply(s.e, g);
        // called once per call: inlined into the exported function they
        // would only make it larger
        s.e.attr(g, inkwell::llvm_sys::LLVMAttributeFunctionIndex, "noinline");
        g
    };
    let internal = LLVMLinkage::LLVMInternalLinkage;
    let external = LLVMLinkage::LLVMExternalLinkage;
    let dense = copy(s, KernelCopy::Dense, internal);
    // the checked copy: defined here, or declared here and defined there
    let (checked_call, checked_def, cs) = match checked {
        None => {
            let g = copy(s, KernelCopy::Checked, internal);
            (g, g, s)
        }
        Some(c) => {
            let decl = e.add_function(
                &format!("{base}.{}", KernelCopy::Checked.suffix()),
                kernel_fn_ty(e, ir, func),
                external,
            );
            (decl, copy(c, KernelCopy::Checked, external), c)
        }
    };
    FnLower::new(s, f, unwritten.clone(), name.clone(), KernelCopy::Checked)
        .entry(func, Some((dense, checked_call)))?;
    let shared_of = |v: KernelCopy| if v == KernelCopy::Dense { s } else { cs };
    let streamed = Rc::new(streamed_results(ir, func));
    let streamed_in = |v: KernelCopy| match v {
        KernelCopy::Dense => streamed.clone(),
        KernelCopy::Checked => Rc::new(HashSet::new()),
    };
    let mut outlined = 0;
    let mut queue = Vec::new();
    for (v, g) in [
        (KernelCopy::Dense, dense),
        (KernelCopy::Checked, checked_def),
    ] {
        let mut l = FnLower::new(shared_of(v), g, unwritten.clone(), name.clone(), v);
        l.streamed = streamed_in(v);
        l.outlined = outlined;
        l.copy_body(func)?;
        outlined = l.outlined;
        queue.append(&mut l.pending);
    }
    while let Some(o) = queue.pop() {
        let mut l = FnLower::new(
            shared_of(o.variant),
            o.f,
            unwritten.clone(),
            name.clone(),
            o.variant,
        );
        l.streamed = streamed_in(o.variant);
        l.outlined = outlined;
        l.outlined_body(&o)?;
        outlined = l.outlined;
        queue.append(&mut l.pending);
    }
    Ok(())
}

/// The results of `func` that nothing in it reads.
fn streamed_results(ir: &IrModule, func: OpId) -> HashSet<ValueId> {
    let body = ir.entry_block(func, 0);
    let n_params = signature(ir, func).params.len();
    let mut out: HashSet<ValueId> = ir.block(body).args[n_params..].iter().copied().collect();
    ir.walk_block(body, &mut |op| {
        let d = ir.op(op);
        if matches!(
            d.opcode,
            Opcode::Mem(MemOp::Load) | Opcode::Vector(VectorOp::Load)
        ) {
            out.remove(&d.operands[0]);
        }
    });
    out
}

impl<'a> FnLower<'a> {
    fn new(
        s: &'a Shared<'a>,
        f: V,
        unwritten: Rc<HashSet<ValueId>>,
        name: String,
        variant: KernelCopy,
    ) -> Self {
        FnLower {
            s,
            e: s.e,
            ir: s.ir,
            f,
            vals: HashMap::new(),
            fail_exit: std::ptr::null_mut(),
            fail_phi: std::ptr::null_mut(),
            report: std::ptr::null_mut(),
            report_args: [std::ptr::null_mut(); 5],
            alloc_table: None,
            alloc_slot: HashMap::new(),
            pending: Vec::new(),
            fast: HashSet::new(),
            unwritten,
            unversioned: 0,
            variant,
            rows_contiguous: true,
            table_len: 0,
            streamed: Rc::new(HashSet::new()),
            nontemporal: false,
            name,
            outlined: 0,
        }
    }

    fn scalar(&self, v: ValueId) -> V {
        match &self.vals[&v] {
            LVal::S(x) => *x,
            LVal::B(_) => panic!("buffer used as a scalar (unverified IR)"),
        }
    }

    fn buffer(&self, v: ValueId) -> Buf {
        match &self.vals[&v] {
            LVal::B(b) => b.clone(),
            LVal::S(_) => panic!("scalar used as a buffer (unverified IR)"),
        }
    }

    fn at(&self, op: OpId) -> String {
        checks::location(self.ir, op)
    }

    /// An `i64` from an integer value of any width (signed).
    fn as_i64(&self, v: V) -> V {
        let e = self.e;
        match e.int_bits(e.type_of(v)) {
            64 => v,
            _ => e.sext(v, e.i64()),
        }
    }

    // ----- failure

    /// Opens the function's entry and its failure exit (a phi of the status).
    fn open(&mut self) {
        let e = self.e;
        let entry = e.block(self.f, "entry");
        self.fail_exit = e.block(self.f, "fail");
        e.at_end(self.fail_exit);
        self.fail_phi = e.phi(e.i32());
        self.report = e.block(self.f, "report");
        e.at_end(self.report);
        self.report_args = [e.i32(), e.ptr(), e.i64(), e.i64(), e.i64()].map(|t| e.phi(t));
        let (f, ty) = self.s.rt.get(runtime::FAIL.name);
        let st = e.call(ty, f, &self.report_args);
        self.exit_with(st);
        e.at_end(entry);
    }

    /// Continues when `ok` (an `i1`) holds; otherwise records `message`
    /// and returns `code`.
    fn check(&mut self, ok: V, code: i32, message: &str, a: V, b: V) {
        let e = self.e;
        let cont = e.block(self.f, "ok");
        let fail = e.block(self.f, "bad");
        e.cond_br(ok, cont, fail);
        e.at_end(fail);
        self.fail_with(code, message, a, b);
        e.at_end(cont);
    }

    /// Ends the current block with `pj_rt_fail(code, message, a, b)` and a
    /// branch to the failure exit.
    fn fail_with(&mut self, code: i32, message: &str, a: V, b: V) {
        let e = self.e;
        let p = e.string(message);
        let len = e.i64c(message.len() as i64);
        let (a, b) = (self.as_i64(a), self.as_i64(b));
        let from = e.current();
        for (phi, v) in self
            .report_args
            .into_iter()
            .zip([e.i32c(code), p, len, a, b])
        {
            e.incoming(phi, v, from);
        }
        e.br(self.report);
    }

    /// Continues when status `st` (of a call that recorded its own
    /// message) is 0; otherwise leaves through the failure exit with it.
    fn exit_on_failure(&mut self, st: V) {
        let e = self.e;
        let ok = e.icmp(IntPred::LLVMIntEQ, st, e.i32c(0));
        let cont = e.block(self.f, "succeeded");
        let fail = e.block(self.f, "failed");
        e.cond_br(ok, cont, fail);
        e.at_end(fail);
        self.exit_with(st);
        e.at_end(cont);
    }

    /// Branches to the failure exit with status `st`.
    fn exit_with(&mut self, st: V) {
        let e = self.e;
        e.incoming(self.fail_phi, st, e.current());
        e.br(self.fail_exit);
    }

    /// The check of an access: `ok` when every index is inside; otherwise
    /// names the first dim outside, its index and extent.
    fn check_access(&mut self, ok: V, access: &str, at: &str, idx: &[V], shape: &[V], lanes: i64) {
        let e = self.e;
        let rank = idx.len().min(shape.len());
        if rank == 0 {
            return;
        }
        let cont = e.block(self.f, "inside");
        let fail = e.block(self.f, "outside");
        e.cond_br(ok, cont, fail);
        e.at_end(fail);
        for k in 0..rank {
            let msg = checks::out_of_bounds(access, at, k, k + 1 == rank && lanes > 1);
            if k + 1 < rank {
                let inside = e.icmp(IntPred::LLVMIntULT, idx[k], shape[k]);
                let next = e.block(self.f, "dim_ok");
                let here = e.block(self.f, "dim_bad");
                e.cond_br(inside, next, here);
                e.at_end(here);
                self.fail_with(status::OUT_OF_BOUNDS, &msg, idx[k], shape[k]);
                e.at_end(next);
            } else {
                self.fail_with(status::OUT_OF_BOUNDS, &msg, idx[k], shape[k]);
            }
        }
        e.at_end(cont);
    }

    /// The failure exit: frees what is live, returns the status.
    fn close(&mut self) {
        let e = self.e;
        e.at_end(self.fail_exit);
        if let Some(table) = self.alloc_table {
            let (free, ty) = self.s.rt.get(runtime::FREE.name);
            for k in 0..self.table_len {
                let (p, n) = self.alloc_entry(table, k);
                e.call(ty, free, &[p, n]);
            }
        }
        e.ret(self.fail_phi);
    }

    // ----- allocation table

    fn declare_allocs(&mut self, block: BlockId) {
        let ir = self.ir;
        let mut ops = Vec::new();
        ir.walk_block(block, &mut |op| {
            if ir.op(op).opcode == Opcode::Mem(MemOp::Alloc) {
                ops.push(op);
            }
        });
        self.alloc_slot = ops.iter().enumerate().map(|(k, &op)| (op, k)).collect();
        self.declare_table(ops.len());
    }

    /// An allocation table of `n` empty slots (none when `n` is 0).
    fn declare_table(&mut self, n: usize) {
        let e = self.e;
        self.table_len = n;
        if n == 0 {
            self.alloc_table = None;
            return;
        }
        let table = e.alloca(e.array_ty(e.i64(), 2 * n as u32), 8);
        for k in 0..n {
            self.set_alloc_entry(table, k, e.null_ptr(), e.i64c(0));
        }
        self.alloc_table = Some(table);
    }

    fn set_alloc_entry(&self, table: V, k: usize, p: V, bytes: V) {
        let e = self.e;
        e.store(p, e.gep(e.i64(), table, e.i64c(2 * k as i64)), 8);
        e.store(bytes, e.gep(e.i64(), table, e.i64c(2 * k as i64 + 1)), 8);
    }

    fn alloc_entry(&self, table: V, k: usize) -> (V, V) {
        let e = self.e;
        let p = e.load(e.ptr(), e.gep(e.i64(), table, e.i64c(2 * k as i64)), 8);
        let n = e.load(e.i64(), e.gep(e.i64(), table, e.i64c(2 * k as i64 + 1)), 8);
        (p, n)
    }

    // ----- entry

    /// The exported function: checks the arguments, then runs one of the
    /// kernel's `copies` (dense, checked); without them (a shape
    /// companion), the body itself.
    fn entry(&mut self, func: OpId, copies: Option<(V, V)>) -> Result<(), CodegenError> {
        let ir = self.ir;
        let e = self.e;
        let sig = signature(ir, func);
        let names = sig.arg_names();
        self.open();
        let body = ir.entry_block(func, 0);
        match copies {
            None => self.declare_allocs(body),
            // a slot per array: its row-major copy
            Some(_) => self.declare_table(ir.block(body).args.len()),
        }
        for (i, &arg) in ir.block(body).args.iter().enumerate() {
            let p = e.param(self.f, i as u32);
            let v = match ir.ty(arg) {
                IrType::Scalar(_) => LVal::S(p),
                t => LVal::B(self.load_descriptor(p, t, &names[i])),
            };
            self.vals.insert(arg, v);
        }
        for &arg in &ir.block(body).args[sig.params.len()..] {
            if let LVal::B(b) = &self.vals[&arg] {
                let b = b.clone();
                self.check_result_layout(&b);
            }
        }
        self.check_no_overlap(body, sig.params.len(), &names);
        match copies {
            Some((dense, checked)) => self.dispatch(func, dense, checked),
            None => {
                self.block(body)?;
            }
        }
        self.close();
        Ok(())
    }

    /// Calls `dense` when every extent is at least 1, else `checked`, on
    /// the arguments, or on row-major copies of those whose rows are
    /// strided (results copied back after a successful call).
    fn dispatch(&mut self, func: OpId, dense: V, checked: V) {
        let e = self.e;
        let ir = self.ir;
        let body = ir.entry_block(func, 0);
        let args = ir.block(body).args.clone();
        let n_params = signature(ir, func).params.len();
        let fn_ty = kernel_fn_ty(e, ir, func);
        let mut sizes_ok = e.int(e.i1(), 1);
        let mut rows_ok = e.int(e.i1(), 1);
        for a in &args {
            if let LVal::B(b) = &self.vals[a] {
                for &n in &b.shape {
                    sizes_ok = e.and(sizes_ok, e.icmp(IntPred::LLVMIntSGT, n, e.i64c(0)));
                }
                if let Some(&st) = b.strides.last() {
                    rows_ok = e.and(rows_ok, e.icmp(IntPred::LLVMIntEQ, st, e.i64c(1)));
                }
            }
        }
        let call = |this: &Self, operands: &[V]| -> V {
            let d = e.block(this.f, "dense");
            let c = e.block(this.f, "checked");
            let done = e.block(this.f, "called");
            e.cond_br(sizes_ok, d, c);
            e.at_end(d);
            let a = e.call(fn_ty, dense, operands);
            e.br(done);
            e.at_end(c);
            let b = e.call(fn_ty, checked, operands);
            e.br(done);
            e.at_end(done);
            let st = e.phi(e.i32());
            e.incoming(st, a, d);
            e.incoming(st, b, c);
            st
        };
        let params: Vec<V> = (0..args.len() as u32).map(|i| e.param(self.f, i)).collect();
        let direct = e.block(self.f, "rows_contiguous");
        let copying = e.block(self.f, "rows_strided");
        e.cond_br(rows_ok, direct, copying);
        e.at_end(direct);
        let st = call(self, &params);
        e.ret(st);
        e.at_end(copying);
        let (contiguous, cty) = self.s.rt.get(runtime::CONTIGUOUS.name);
        let table = self.alloc_table.expect("declared by `entry`");
        let mut operands = params.clone();
        let mut copies = Vec::new();
        for (k, a) in args.iter().enumerate() {
            let LVal::B(b) = self.vals[a].clone() else {
                continue;
            };
            let desc = e.alloca(
                e.array_ty(e.i8(), std::mem::size_of::<pj_runtime::PjBuffer>() as u32),
                8,
            );
            let copy_in = e.i32c(i32::from(k < n_params));
            let bytes = e.call(cty, contiguous, &[desc, params[k], copy_in]);
            let ok = e.icmp(IntPred::LLVMIntSGE, bytes, e.i64c(0));
            let z = e.i64c(0);
            self.check(
                ok,
                status::OUT_OF_MEMORY,
                &checks::contiguous_copy_failed(&b.name),
                z,
                z,
            );
            let data = e.load(e.ptr(), e.byte_offset(desc, offsets::DATA as i64), 8);
            self.set_alloc_entry(table, k, data, bytes);
            operands[k] = desc;
            copies.push((k, desc));
        }
        let st = call(self, &operands);
        self.exit_on_failure(st);
        let (back, bty) = self.s.rt.get(runtime::COPY_BACK.name);
        for &(k, desc) in copies.iter().filter(|(k, _)| *k >= n_params) {
            e.call(bty, back, &[params[k], desc]);
        }
        let (free, fty) = self.s.rt.get(runtime::FREE.name);
        for &(k, _) in &copies {
            let (p, n) = self.alloc_entry(table, k);
            e.call(fty, free, &[p, n]);
        }
        e.ret(e.i32c(0));
    }

    /// The body of one of a kernel's copies: the arguments as the exported
    /// function checked them, every last stride 1.
    fn copy_body(&mut self, func: OpId) -> Result<(), CodegenError> {
        let ir = self.ir;
        let e = self.e;
        let sig = signature(ir, func);
        self.open();
        let body = ir.entry_block(func, 0);
        self.declare_allocs(body);
        let names = sig.arg_names();
        for (i, &arg) in ir.block(body).args.iter().enumerate() {
            let p = e.param(self.f, i as u32);
            let v = match ir.ty(arg) {
                IrType::Scalar(_) => LVal::S(p),
                t => LVal::B(self.read_descriptor(
                    p,
                    t.elem(),
                    t.rank().unwrap_or(0),
                    &names[i],
                    true,
                )),
            };
            self.vals.insert(arg, v);
        }
        self.block(body)?;
        self.close();
        Ok(())
    }

    /// Whether access `op` needs no check: proven by a loop's precheck,
    /// or promised inside in the dense copy.
    fn unchecked(&self, op: OpId) -> bool {
        self.fast.contains(&op) || self.variant.unchecked(self.ir, op)
    }

    /// Reads a `pj_buffer*` argument and checks it.
    fn load_descriptor(&mut self, p: V, ty: &IrType, name: &str) -> Buf {
        let e = self.e;
        let elem = ty.elem();
        let rank = ty.rank().unwrap_or(0);
        let z = e.i64c(0);
        let nonnull = e.icmp(IntPred::LLVMIntNE, p, e.null_ptr());
        self.check(
            nonnull,
            status::BAD_ARGUMENT,
            &checks::null_argument(name),
            z,
            z,
        );
        let field = |off: usize| e.byte_offset(p, off as i64);
        let et = e.load(e.i32(), field(offsets::ELEM_TYPE), 4);
        let rk = e.load(e.i32(), field(offsets::RANK), 4);
        let ok1 = e.icmp(IntPred::LLVMIntEQ, et, e.i32c(elem_code(elem) as i32));
        let ok2 = e.icmp(IntPred::LLVMIntEQ, rk, e.i32c(rank as i32));
        let ok = e.and(ok1, ok2);
        self.check(
            ok,
            status::BAD_ARGUMENT,
            &checks::wrong_type(name, elem, rank),
            et,
            rk,
        );
        let buf = self.read_descriptor(p, elem, rank, name, false);
        self.check_descriptor(&buf);
        buf
    }

    /// The fields of the `pj_buffer` at `p` as a buffer, unchecked; with
    /// `unit_last`, the last stride is taken as 1 rather than read.
    fn read_descriptor(
        &self,
        p: V,
        elem: ScalarType,
        rank: usize,
        name: &str,
        unit_last: bool,
    ) -> Buf {
        let e = self.e;
        let field = |off: usize| e.byte_offset(p, off as i64);
        let data = e.load(e.ptr(), field(offsets::DATA), 8);
        let mut shape = Vec::new();
        let mut strides = Vec::new();
        for d in 0..rank {
            shape.push(e.load(e.i64(), field(offsets::SHAPE + 8 * d), 8));
            strides.push(if unit_last && d + 1 == rank {
                e.i64c(1)
            } else {
                e.load(e.i64(), field(offsets::STRIDES + 8 * d), 8)
            });
        }
        Buf {
            data,
            shape,
            strides,
            elem,
            name: name.to_string(),
            alloc: None,
        }
    }

    /// `(value, overflowed)` of an `llvm.*.with.overflow.i64`.
    fn with_overflow(&self, op: &str, a: V, b: V) -> (V, V) {
        let e = self.e;
        let r = e.intrinsic(op, &[e.i64()], &[a, b]);
        (e.extract_value(r, 0), e.extract_value(r, 1))
    }

    fn check_descriptor(&mut self, b: &Buf) {
        let e = self.e;
        let z = e.i64c(0);
        let es = b.elem.size_bytes() as i64;
        let mut empty = e.int(e.i1(), 0);
        for (d, &n) in b.shape.iter().enumerate() {
            let ok = e.icmp(IntPred::LLVMIntSGE, n, z);
            self.check(
                ok,
                status::BAD_ARGUMENT,
                &checks::negative_extent(&b.name, d),
                n,
                z,
            );
            empty = e.or(empty, e.icmp(IntPred::LLVMIntEQ, n, z));
        }
        let mut span = z;
        let mut overflow = e.int(e.i1(), 0);
        for (&n, &st) in b.shape.iter().zip(&b.strides) {
            let last = e.add(n, e.i64c(-1));
            let last = e.intrinsic("llvm.smax", &[e.i64()], &[last, z]);
            let abs = e.intrinsic("llvm.abs", &[e.i64()], &[st, e.int(e.i1(), 0)]);
            let (steps, of1) = self.with_overflow("llvm.umul.with.overflow", last, abs);
            let (bytes, of2) = self.with_overflow("llvm.umul.with.overflow", steps, e.i64c(es));
            let (sum, of3) = self.with_overflow("llvm.uadd.with.overflow", span, bytes);
            span = sum;
            overflow = e.or(overflow, e.or(of1, e.or(of2, of3)));
        }
        // abs(i64::MIN) is negative: count it as an overflow too
        let huge = e.icmp(IntPred::LLVMIntUGE, span, e.i64c(1 << 62));
        overflow = e.or(overflow, huge);
        let fits = e.xor(overflow, e.int(e.i1(), 1));
        let ok = e.or(empty, fits);
        self.check(
            ok,
            status::BAD_ARGUMENT,
            &checks::span_too_large(&b.name),
            span,
            z,
        );
        let nonnull = e.icmp(IntPred::LLVMIntNE, b.data, e.null_ptr());
        let ok = e.or(empty, nonnull);
        self.check(ok, status::BAD_ARGUMENT, &checks::null_data(&b.name), z, z);
    }

    /// A result whose layout maps two indices to one element is refused
    /// (see the Cranelift backend for the condition).
    fn check_result_layout(&mut self, b: &Buf) {
        let e = self.e;
        let z = e.i64c(0);
        let (t, f) = (e.int(e.i1(), 1), e.int(e.i1(), 0));
        let mut ok = f;
        for &n in &b.shape {
            ok = e.or(ok, e.icmp(IntPred::LLVMIntEQ, n, z));
        }
        let dims: Vec<(V, V, V)> = b
            .shape
            .iter()
            .zip(&b.strides)
            .map(|(&n, &st)| {
                let long = e.icmp(IntPred::LLVMIntSGT, n, e.i64c(1));
                let abs = e.intrinsic("llvm.abs", &[e.i64()], &[st, f]);
                (n, abs, long)
            })
            .collect();
        let mut layout_ok = t;
        for (i, &(ni, sti, long)) in dims.iter().enumerate() {
            let moves = e.icmp(IntPred::LLVMIntNE, sti, z);
            let short = e.xor(long, t);
            layout_ok = e.and(layout_ok, e.or(short, moves));
            for &(nj, stj, longj) in &dims[i + 1..] {
                let a = e.icmp(IntPred::LLVMIntSGE, sti, e.mul(stj, nj));
                let c = e.icmp(IntPred::LLVMIntSGE, stj, e.mul(sti, ni));
                let nests = e.or(a, c);
                let apart = e.xor(e.and(long, longj), t);
                layout_ok = e.and(layout_ok, e.or(apart, nests));
            }
        }
        let ok = e.or(ok, layout_ok);
        self.check(
            ok,
            status::BAD_ARGUMENT,
            &checks::result_aliases(&b.name),
            z,
            z,
        );
    }

    fn check_no_overlap(&mut self, body: BlockId, n_params: usize, names: &[String]) {
        let e = self.e;
        let args = self.ir.block(body).args.clone();
        let spans: Vec<(usize, V, V)> = args
            .iter()
            .enumerate()
            .filter_map(|(i, a)| match &self.vals[a] {
                LVal::B(b) => Some((i, b.clone())),
                LVal::S(_) => None,
            })
            .map(|(i, b)| {
                let (lo, hi) = self.byte_span(&b);
                (i, lo, hi)
            })
            .collect();
        let z = e.i64c(0);
        for &(r, rlo, rhi) in spans.iter().filter(|s| s.0 >= n_params) {
            for &(a, alo, ahi) in spans.iter().filter(|s| s.0 < n_params) {
                let x = e.icmp(IntPred::LLVMIntULT, rlo, ahi);
                let y = e.icmp(IntPred::LLVMIntULT, alo, rhi);
                let ok = e.xor(e.and(x, y), e.int(e.i1(), 1));
                let msg = checks::overlap(&names[r], &names[a]);
                self.check(ok, status::BAD_ARGUMENT, &msg, z, z);
            }
        }
    }

    /// The bytes `[lo, hi)` a buffer spans (`[0, 0)` when empty).
    fn byte_span(&self, b: &Buf) -> (V, V) {
        let e = self.e;
        let es = b.elem.size_bytes() as i64;
        let z = e.i64c(0);
        let (mut lo, mut hi) = (z, z);
        let mut empty = e.int(e.i1(), 0);
        for (&n, &st) in b.shape.iter().zip(&b.strides) {
            empty = e.or(empty, e.icmp(IntPred::LLVMIntSLE, n, z));
            let ext = e.mul(e.mul(e.add(n, e.i64c(-1)), st), e.i64c(es));
            lo = e.add(lo, e.intrinsic("llvm.smin", &[e.i64()], &[ext, z]));
            hi = e.add(hi, e.intrinsic("llvm.smax", &[e.i64()], &[ext, z]));
        }
        let data = e.ptr_to_int(b.data);
        let lo = e.add(data, lo);
        let hi = e.add(e.add(data, hi), e.i64c(es));
        (e.select(empty, z, lo), e.select(empty, z, hi))
    }

    // ----- blocks and ops

    /// Lowers the ops of `block`; returns the values a `loop.yield` ends it with.
    fn block(&mut self, block: BlockId) -> Result<Vec<V>, CodegenError> {
        let ir = self.ir;
        let ops = &ir.block(block).ops;
        let mut k = 0;
        while k < ops.len() {
            let op = ops[k];
            k += 1;
            let d = ir.op(op);
            if let Some(&rest) = ops.get(k)
                && let Some(store) = self.streamed_vector_loop(op, rest)
            {
                self.aligned_stream_loops(op, rest, store)?;
                k += 1;
                continue;
            }
            match d.opcode {
                Opcode::Loop(LoopOp::Yield) => {
                    return Ok(d.operands.iter().map(|&v| self.scalar(v)).collect());
                }
                Opcode::Func(FuncOp::Return) => {
                    self.fence_streams();
                    self.e.ret(self.e.i32c(0));
                    return Ok(vec![]);
                }
                _ => self.op(op)?,
            }
        }
        Ok(vec![])
    }

    fn op(&mut self, op: OpId) -> Result<(), CodegenError> {
        let ir = self.ir;
        let e = self.e;
        let d = ir.op(op);
        let vector_result = d
            .results
            .first()
            .is_some_and(|&r| matches!(ir.ty(r), IrType::Vector { .. }));
        let value: Option<V> = match d.opcode {
            Opcode::Arith(ArithOp::Cast) if vector_result => Some(self.vector_cast(op)),
            Opcode::Arith(a) if vector_result => Some(self.vector_arith(op, a)),
            Opcode::Vector(v) => self.vector(op, v),
            Opcode::Arith(a) => Some(self.arith(op, a)),
            Opcode::Math(mo) => Some(self.math(op, mo)),
            Opcode::Loop(LoopOp::For) => {
                self.for_loop(op)?;
                None
            }
            Opcode::Loop(LoopOp::Parallel) => {
                self.parallel_loop(op);
                None
            }
            Opcode::Loop(LoopOp::Threads) => {
                let (f, ty) = self.s.rt.get(runtime::THREADS.name);
                Some(e.call(ty, f, &[]))
            }
            Opcode::Mem(MemOp::Dim) => {
                let k = d.attr("dim").and_then(Attr::as_int).unwrap_or(0) as usize;
                Some(self.buffer(d.operands[0]).shape[k])
            }
            Opcode::Mem(MemOp::Load) => Some(self.load(op)),
            Opcode::Mem(MemOp::Store) => {
                self.store(op);
                None
            }
            Opcode::Mem(MemOp::Alloc) => {
                self.alloc(op);
                None
            }
            Opcode::Mem(MemOp::Dealloc) => {
                let buf = self.buffer(d.operands[0]);
                if let (Some(k), Some(table)) = (buf.alloc, self.alloc_table) {
                    let (p, n) = self.alloc_entry(table, k);
                    let (free, ty) = self.s.rt.get(runtime::FREE.name);
                    e.call(ty, free, &[p, n]);
                    self.set_alloc_entry(table, k, e.null_ptr(), e.i64c(0));
                }
                None
            }
            Opcode::Func(FuncOp::Check) => {
                let ok = e.truth(self.scalar(d.operands[0]));
                let z = e.i64c(0);
                let a = d.operands.get(1).map_or(z, |&v| self.scalar(v));
                let b = d.operands.get(2).map_or(z, |&v| self.scalar(v));
                let code = d.attr("code").and_then(Attr::as_int).unwrap_or(1) as i32;
                let msg = d
                    .attr("message")
                    .and_then(Attr::as_str)
                    .unwrap_or("check failed")
                    .to_string();
                self.check(ok, code, &msg, a, b);
                None
            }
            Opcode::Func(FuncOp::Func | FuncOp::Return) | Opcode::Loop(LoopOp::Yield) => {
                unreachable!("handled by the caller")
            }
            Opcode::Pj(p) => {
                return Err(unsupported(format!(
                    "`pj.{}` reached code generation: run `lower-stages` first",
                    p.mnemonic()
                )));
            }
            // binary16's conversions, one instruction each (`vcvtph2ps`,
            // `vcvtps2ph`; `fcvt`): left by `lower-quant` for this backend
            // on targets that have them
            Opcode::Quant(
                q @ (crate::dialects::QuantOp::PackF16 | crate::dialects::QuantOp::UnpackF16),
            ) => {
                let x = self.scalar(d.operands[0]);
                let lanes = ir.ty(d.results[0]).lanes();
                let ty = |elem: T| lanes.map_or(elem, |n| e.vec_ty(elem, n));
                Some(if q == crate::dialects::QuantOp::UnpackF16 {
                    e.fpext(e.bitcast(x, ty(e.f16())), ty(e.f32()))
                } else {
                    e.bitcast(e.fptrunc(x, ty(e.f16())), ty(e.int_ty(16)))
                })
            }
            Opcode::Quant(q) => {
                return Err(unsupported(format!(
                    "`quant.{}` reached code generation: run `lower-quant` first",
                    q.mnemonic()
                )));
            }
        };
        if let Some(v) = value {
            self.vals.insert(d.results[0], LVal::S(v));
        }
        Ok(())
    }

    // ----- loops

    fn for_loop(&mut self, op: OpId) -> Result<(), CodegenError> {
        let d = self.ir.op(op);
        let (lb, ub) = (self.scalar(d.operands[0]), self.scalar(d.operands[1]));
        self.for_loop_over(op, lb, ub)
    }

    /// `loop.for` `op` over `lb..ub` instead of its own bounds.
    fn for_loop_over(&mut self, op: OpId, lb: V, ub: V) -> Result<(), CodegenError> {
        let ir = self.ir;
        let e = self.e;
        let d = ir.op(op);
        let step = self.scalar(d.operands[2]);
        let inits: Vec<V> = d.operands[3..].iter().map(|&v| self.scalar(v)).collect();
        let step_const = ir
            .def_op(d.operands[2])
            .and_then(|o| ir.op(o).attr("value"))
            .and_then(Attr::as_int);
        if step_const.is_none() {
            let ok = e.icmp(IntPred::LLVMIntSGT, step, e.i64c(0));
            let msg = checks::loop_step(&self.at(op));
            self.check(ok, status::OUT_OF_BOUNDS, &msg, step, e.i64c(0));
        }
        let step_const = step_const.filter(|_| versioning::worth_a_precheck(ir, op));
        let edge = versioning::is_edge(ir, op);
        self.unversioned += u32::from(edge);
        // a hint of the lowering: the body this many times per iteration
        let copies = d
            .attr(loops::UNROLL)
            .and_then(Attr::as_int)
            .filter(|&n| n > 1 && step_const.is_some())
            .map_or(1, |n| n.min(8) as u32);
        let results = self.plain_loop(
            (lb, ub, step),
            step_const,
            ir.entry_block(op, 0),
            &inits,
            copies,
        );
        self.unversioned -= u32::from(edge);
        for (r, v) in d.results.iter().zip(results?) {
            self.vals.insert(*r, LVal::S(v));
        }
        Ok(())
    }

    /// The streamed vector store of a vector loop `vector` followed by the
    /// loop `rest` that finishes its range one element at a time (what
    /// `vectorize` makes of a loop without carried values), when the
    /// store's address is the loop counter's in a row fixed outside: the
    /// pair `aligned_stream_loops` can realign.
    fn streamed_vector_loop(&self, vector: OpId, rest: OpId) -> Option<OpId> {
        let ir = self.ir;
        let (v, r) = (ir.op(vector), ir.op(rest));
        let is_for = |d: &crate::ir::OpData| d.opcode == Opcode::Loop(LoopOp::For);
        if self.variant != KernelCopy::Dense
            || self.s.attrs.nontemporal_bytes.is_none()
            || !is_for(v)
            || !is_for(r)
            || v.operands.len() != 3
            || r.operands.len() != 3
            || r.operands[0] != v.operands[1]
        {
            return None;
        }
        let step = |d: &crate::ir::OpData| {
            ir.def_op(d.operands[2])
                .and_then(|o| ir.op(o).attr("value"))
                .and_then(Attr::as_int)
        };
        let (lanes, one) = (step(v)?, step(r)?);
        if one != 1 || lanes < 2 {
            return None;
        }
        let region = ir.entry_block(vector, 0);
        let iv = ir.block(region).args[0];
        ir.block(region).ops.iter().copied().find(|&o| {
            let d = ir.op(o);
            if d.opcode != Opcode::Vector(VectorOp::Store) {
                return false;
            }
            let idx = &d.operands[2..];
            self.streamed.contains(&d.operands[1])
                && self.unchecked(o)
                && ir.ty(d.operands[0]).lanes() == Some(lanes as u32)
                && idx.last() == Some(&iv)
                && idx[..idx.len() - 1]
                    .iter()
                    .all(|x| self.vals.contains_key(x))
        })
    }

    /// A vector loop and the loop finishing its range (`streamed_vector_loop`),
    /// run as three: the element loop up to the first address where
    /// `store`'s vector is aligned to its size, the vector loop from there,
    /// the element loop after it. Every vector store of the streamed
    /// result is then one aligned non-temporal store (a NumPy row of 4094
    /// `f32` starts 8 bytes off 16 every other row, where `store_streaming`
    /// can stream none of it). Legal because the element loop is the
    /// original loop, which the vector loop's range may end anywhere in;
    /// the elements are still computed in order.
    fn aligned_stream_loops(
        &mut self,
        vector: OpId,
        rest: OpId,
        store: OpId,
    ) -> Result<(), CodegenError> {
        let ir = self.ir;
        let e = self.e;
        let (v, r) = (ir.op(vector), ir.op(rest));
        let lanes = ir.ty(ir.op(store).operands[0]).lanes().expect("vector") as i64;
        let (lo, hi) = (self.scalar(v.operands[0]), self.scalar(r.operands[1]));
        let buf = self.buffer(ir.op(store).operands[1]);
        let size = buf.elem.size_bytes() as i64;
        let vector_bytes = size * lanes;
        if !(vector_bytes as u64).is_power_of_two() || vector_bytes < 16 {
            let vend = self.scalar(v.operands[1]);
            self.for_loop_over(vector, lo, vend)?;
            return self.for_loop_over(rest, vend, hi);
        }
        // the store's row, at the range's first element
        let at = &ir.op(store).operands[2..];
        let mut idx: Vec<V> = at[..at.len() - 1].iter().map(|&x| self.scalar(x)).collect();
        idx.push(lo);
        let (p, _) = self.address(&buf, &idx, true);
        let address = e.ptr_to_int(p);
        // elements to the next multiple of the vector's size, when the
        // result is large enough to stream and the address a whole
        // number of elements from it
        let to_boundary = e.and(e.sub(e.i64c(0), address), e.i64c(vector_bytes - 1));
        let mut peel = e.sdiv(to_boundary, e.i64c(size));
        let bytes = self.s.attrs.nontemporal_bytes.unwrap_or(u64::MAX);
        let large = self.streams_past_caches(&buf, bytes);
        let whole = e.icmp(
            IntPred::LLVMIntEQ,
            e.and(address, e.i64c(size - 1)),
            e.i64c(0),
        );
        peel = e.select(e.and(large, whole), peel, e.i64c(0));
        let span = e.sub(hi, lo);
        let span = e.select(
            e.icmp(IntPred::LLVMIntSGT, span, e.i64c(0)),
            span,
            e.i64c(0),
        );
        peel = e.select(e.icmp(IntPred::LLVMIntSLT, peel, span), peel, span);
        let start = e.add(lo, peel);
        let vectors = e.sdiv(e.sub(e.add(lo, span), start), e.i64c(lanes));
        let vend = e.add(start, e.mul(vectors, e.i64c(lanes)));
        self.for_loop_over(rest, lo, start)?;
        self.for_loop_over(vector, start, vend)?;
        self.for_loop_over(rest, vend, hi)
    }

    /// A loop whose accesses a precheck at entry can cover gets a second
    /// copy without their checks, taken when the precheck passes.
    fn plain_loop(
        &mut self,
        (lb, ub, step): (V, V, V),
        step_const: Option<i64>,
        region: BlockId,
        inits: &[V],
        copies: u32,
    ) -> Result<Vec<V>, CodegenError> {
        let ir = self.ir;
        let e = self.e;
        let innermost = versioning::is_innermost(ir, region);
        // only the `Dense` copy versions loops, for what the lowering did
        // not promise: reads that give zero outside (interior against
        // edges), and accesses of loop-level IR from outside the compiler
        let accesses = if self.variant == KernelCopy::Dense
            && step_const.is_some_and(|s| s > 0)
            && self.unversioned == 0
            && (innermost || self.s.tier == Tier::Optimizing)
        {
            let vals = &self.vals;
            let mut a = versioning::versionable_loads(ir, region, &|x| vals.contains_key(&x));
            a.retain(|(op, _)| !self.unchecked(*op));
            a
        } else {
            Vec::new()
        };
        if accesses.is_empty() {
            return self.unrolled_loop(lb, ub, step, region, inits, copies);
        }
        // the last iteration: lb + ((ub - lb - 1) / step) * step
        let span = e.add(e.sub(ub, lb), e.i64c(-1));
        let k = match step_const {
            Some(1) => span,
            _ => e.mul(e.sdiv(span, step), step),
        };
        let last = e.add(lb, k);
        let mut ok = e.icmp(IntPred::LLVMIntSLT, lb, ub);
        let zero = e.i64c(0);
        for (op, forms) in &accesses {
            let d = ir.op(*op);
            let store = matches!(
                d.opcode,
                Opcode::Mem(MemOp::Store) | Opcode::Vector(VectorOp::Store)
            );
            let buf = self.buffer(d.operands[usize::from(store)]);
            let value_ty = if store {
                ir.ty(d.operands[0])
            } else {
                ir.ty(d.results[0])
            };
            let lanes = value_ty.lanes().unwrap_or(1) as i64;
            let last_stride = *buf.strides.last().expect("rank >= 1");
            ok = e.and(ok, e.icmp(IntPred::LLVMIntEQ, last_stride, e.i64c(1)));
            for (dim, f) in forms.iter().enumerate() {
                let n = buf.shape[dim];
                let extra = if dim + 1 == forms.len() { lanes - 1 } else { 0 };
                let (lo, hi) = match f {
                    IndexForm::Invariant(v) => {
                        let x = self.scalar(*v);
                        (x, e.add(x, e.i64c(extra)))
                    }
                    IndexForm::Shifted(terms, k) => {
                        let at = |x: V| {
                            let mut x = e.mul(x, e.i64c(*k));
                            for &(t, neg) in terms {
                                let t = self.scalar(t);
                                x = if neg { e.sub(x, t) } else { e.add(x, t) };
                            }
                            x
                        };
                        (at(lb), e.add(at(last), e.i64c(extra)))
                    }
                };
                let c1 = e.icmp(IntPred::LLVMIntSGE, lo, zero);
                let c2 = e.icmp(IntPred::LLVMIntSLT, hi, n);
                ok = e.and(ok, e.and(c1, c2));
            }
        }
        let fast = e.block(self.f, "fast");
        let slow = e.block(self.f, "checked");
        let join = e.block(self.f, "join");
        e.cond_br(ok, fast, slow);
        e.at_end(fast);
        for (op, _) in &accesses {
            self.fast.insert(*op);
        }
        let r_fast = self.unrolled_loop(lb, ub, step, region, inits, copies)?;
        for (op, _) in &accesses {
            self.fast.remove(op);
        }
        let from_fast = e.current();
        e.br(join);
        e.at_end(slow);
        let r_slow = self.simple_loop(lb, ub, step, region, inits, 1)?;
        let from_slow = e.current();
        e.br(join);
        e.at_end(join);
        Ok(r_fast
            .iter()
            .zip(&r_slow)
            .map(|(&a, &b)| {
                let p = e.phi(e.type_of(a));
                e.incoming(p, a, from_fast);
                e.incoming(p, b, from_slow);
                p
            })
            .collect())
    }

    /// The loop with its body `copies` times per iteration (steps `iv`,
    /// `iv + step`, ...), over the whole groups of steps in `lb..ub`, then
    /// [`Self::simple_loop`] over the steps left: a register block's
    /// reduction pays its counter, compare and branch once per group.
    fn unrolled_loop(
        &mut self,
        lb: V,
        ub: V,
        step: V,
        region: BlockId,
        inits: &[V],
        copies: u32,
    ) -> Result<Vec<V>, CodegenError> {
        if copies <= 1 {
            return self.simple_loop(lb, ub, step, region, inits, 1);
        }
        let e = self.e;
        let group = e.mul(step, e.i64c(i64::from(copies)));
        let span = e.sub(ub, lb);
        let span = e.select(
            e.icmp(IntPred::LLVMIntSGT, span, e.i64c(0)),
            span,
            e.i64c(0),
        );
        let groups_end = e.add(lb, e.mul(e.sdiv(span, group), group));
        let after_groups = self.simple_loop(lb, groups_end, step, region, inits, copies)?;
        self.simple_loop(groups_end, ub, step, region, &after_groups, 1)
    }

    /// The loop itself, rotated: a guard, the body (testing at its end
    /// whether to run again), the exit; returns the carried values after
    /// the last iteration.
    fn simple_loop(
        &mut self,
        lb: V,
        ub: V,
        step: V,
        region: BlockId,
        inits: &[V],
        copies: u32,
    ) -> Result<Vec<V>, CodegenError> {
        let e = self.e;
        let pre = e.current();
        let body = e.block(self.f, "loop");
        let exit = e.block(self.f, "done");
        let none = e.icmp(IntPred::LLVMIntSGE, lb, ub);
        e.cond_br(none, exit, body);
        e.at_end(body);
        let iv = e.phi(e.i64());
        let carried: Vec<V> = inits.iter().map(|&v| e.phi(e.type_of(v))).collect();
        e.incoming(iv, lb, pre);
        for (&c, &init) in carried.iter().zip(inits) {
            e.incoming(c, init, pre);
        }
        let rargs = self.ir.block(region).args.clone();
        let mut at = iv;
        let mut next = carried.clone();
        for copy in 0..copies {
            if copy > 0 {
                at = e.add(at, step);
            }
            self.vals.insert(rargs[0], LVal::S(at));
            for (a, &c) in rargs[1..].iter().zip(&next) {
                self.vals.insert(*a, LVal::S(c));
            }
            next = self.block(region)?;
        }
        let iv2 = e.add(at, step);
        let done = e.icmp(IntPred::LLVMIntSGE, iv2, ub);
        let latch = e.current();
        e.cond_br(done, exit, body);
        e.incoming(iv, iv2, latch);
        for (&c, &n) in carried.iter().zip(&next) {
            e.incoming(c, n, latch);
        }
        e.at_end(exit);
        Ok(inits
            .iter()
            .zip(&next)
            .map(|(&init, &n)| {
                let p = e.phi(e.type_of(init));
                e.incoming(p, init, pre);
                e.incoming(p, n, latch);
                p
            })
            .collect())
    }

    /// `loop.parallel`: outlines the body and hands it to the runtime's pool.
    fn parallel_loop(&mut self, op: OpId) {
        let ir = self.ir;
        let e = self.e;
        let d = ir.op(op);
        let (lb, ub) = (self.scalar(d.operands[0]), self.scalar(d.operands[1]));
        let region = ir.entry_block(op, 0);
        let mut captures = Vec::new();
        let mut values = Vec::new();
        for v in closure::captured_values(ir, region) {
            if closure::is_constant_expr(ir, v) {
                captures.push(Capture::Constant(v));
                continue;
            }
            match &self.vals[&v] {
                LVal::S(x) => {
                    captures.push(Capture::Scalar(v, e.type_of(*x)));
                    values.push(*x);
                }
                LVal::B(b) => {
                    captures.push(Capture::Buffer {
                        value: v,
                        elem: b.elem,
                        rank: b.shape.len(),
                        name: b.name.clone(),
                    });
                    values.push(b.data);
                    values.extend(b.shape.iter().copied());
                    values.extend(b.strides.iter().copied());
                }
            }
        }
        // slots wide enough for the widest captured value, 16 bytes at least
        let slot = values
            .iter()
            .map(|&v| match e.lanes_of(e.type_of(v)) {
                Some(n) => {
                    let lane = e.scalar_of(e.type_of(v));
                    let bits = if e.is_float_ty(lane) {
                        if lane == e.f32() { 32 } else { 64 }
                    } else {
                        e.int_bits(lane)
                    };
                    i64::from(n * bits / 8)
                }
                None => 16,
            })
            .max()
            .unwrap_or(16)
            .max(16);
        let ctx = e.alloca(
            e.array_ty(e.i8(), (slot * values.len().max(1) as i64) as u32),
            64,
        );
        for (i, &v) in values.iter().enumerate() {
            e.store(v, e.byte_offset(ctx, slot * i as i64), 16);
        }
        self.outlined += 1;
        let body_ty = e.fn_ty(&[e.ptr(), e.i64(), e.i64()], e.i32());
        let body = e.add_function(
            &format!(
                "{}.{}.par{}",
                self.name,
                self.variant.suffix(),
                self.outlined
            ),
            body_ty,
            LLVMLinkage::LLVMInternalLinkage,
        );
        let grain = match d.operands.get(2) {
            Some(&g) => self.scalar(g),
            None => e.i64c(d.attr("grain").and_then(Attr::as_int).unwrap_or(1)),
        };
        let (pf, ty) = self.s.rt.get(runtime::PARALLEL_FOR.name);
        let st = e.call(ty, pf, &[lb, ub, grain, body, ctx]);
        // the chunk that failed has already recorded its message
        self.exit_on_failure(st);
        self.pending.push(Outline {
            f: body,
            op,
            captures,
            slot,
            variant: self.variant,
        });
    }

    /// The body of an outlined parallel loop: unpack the context, run `lo..hi`.
    fn outlined_body(&mut self, o: &Outline) -> Result<(), CodegenError> {
        let e = self.e;

        self.s.attrs.apply(e, self.f);
        self.open();
        let (ctx, lo, hi) = (e.param(self.f, 0), e.param(self.f, 1), e.param(self.f, 2));
        let mut slot = 0i64;
        let mut next = |t: T| {
            let v = e.load(t, e.byte_offset(ctx, o.slot * slot), 16);
            slot += 1;
            v
        };
        for c in &o.captures {
            match c {
                Capture::Scalar(v, t) => {
                    let x = next(*t);
                    self.vals.insert(*v, LVal::S(x));
                }
                Capture::Constant(_) => {}
                Capture::Buffer {
                    value,
                    elem,
                    rank,
                    name,
                } => {
                    let data = next(e.ptr());
                    let shape: Vec<V> = (0..*rank).map(|_| next(e.i64())).collect();
                    let strides: Vec<V> = (0..*rank).map(|_| next(e.i64())).collect();
                    self.vals.insert(
                        *value,
                        LVal::B(Buf {
                            data,
                            shape,
                            strides,
                            elem: *elem,
                            name: name.clone(),
                            alloc: None,
                        }),
                    );
                }
            }
        }
        for c in &o.captures {
            if let Capture::Constant(v) = c {
                self.constant_expr(*v)?;
            }
        }
        let region = self.ir.entry_block(o.op, 0);
        self.declare_allocs(region);
        self.plain_loop((lo, hi, e.i64c(1)), Some(1), region, &[], 1)?;
        self.fence_streams();
        e.ret(e.i32c(0));
        self.close();
        Ok(())
    }

    /// Lowers the ops computing `v`, a [`closure::is_constant_expr`], here.
    fn constant_expr(&mut self, v: ValueId) -> Result<(), CodegenError> {
        if self.vals.contains_key(&v) {
            return Ok(());
        }
        let def = self.ir.def_op(v).expect("a constant expression has a def");
        for &a in &self.ir.op(def).operands {
            self.constant_expr(a)?;
        }
        self.op(def)
    }

    // ----- memory

    /// The address of an element and whether every index is inside; in a
    /// versioned loop's fast copy (`fast`), the last stride is 1.
    fn address(&self, buf: &Buf, idx: &[V], fast: bool) -> (V, V) {
        let e = self.e;
        let mut ok = e.int(e.i1(), 1);
        let mut offset = e.i64c(0);
        for (k, &i) in idx.iter().enumerate() {
            ok = e.and(ok, e.icmp(IntPred::LLVMIntULT, i, buf.shape[k]));
            let term = if fast && k + 1 == idx.len() {
                i
            } else {
                e.mul(i, buf.strides[k])
            };
            offset = e.add(offset, term);
        }
        let p = e.gep(scalar_ty(e, buf.elem), buf.data, offset);
        (p, ok)
    }

    /// A load of `t` from an input nothing writes, marked so LLVM may move it.
    fn load_input(&self, t: T, p: V, align: u32, buffer: ValueId) -> V {
        let l = self.e.load(t, p, align);
        if self.unwritten.contains(&buffer) {
            self.e.invariant(l);
        }
        l
    }

    /// The prefetch a load's `{prefetch = d}` hint asks for: the element
    /// `d` rows further on, read soon (`llvm.prefetch` never faults, so the
    /// row need not exist).
    fn prefetch_ahead(&self, op: OpId, buf: &Buf, idx: &[V]) {
        let e = self.e;
        let Some(rows) = self
            .ir
            .op(op)
            .attr(crate::dialects::mem::PREFETCH)
            .and_then(Attr::as_int)
        else {
            return;
        };
        if idx.len() < 2 {
            return;
        }
        let mut ahead = idx.to_vec();
        ahead[0] = e.add(idx[0], e.i64c(rows));
        let (p, _) = self.address(buf, &ahead, self.rows_contiguous);
        // a read (0), kept in every cache level (3), of data (1)
        let i32c = |v: i64| e.int(e.i32(), v);
        e.intrinsic("llvm.prefetch", &[e.ptr()], &[p, i32c(0), i32c(3), i32c(1)]);
    }

    fn load(&mut self, op: OpId) -> V {
        let ir = self.ir;
        let e = self.e;
        let d = ir.op(op);
        let buf = self.buffer(d.operands[0]);
        let t = scalar_ty(e, buf.elem);
        let align = buf.elem.size_bytes() as u32;
        let idx: Vec<V> = d.operands[1..].iter().map(|&v| self.scalar(v)).collect();
        self.prefetch_ahead(op, &buf, &idx);
        if self.unchecked(op) {
            let (p, _) = self.address(&buf, &idx, true);
            return self.load_input(t, p, align, d.operands[0]);
        }
        if d.attr("oob").is_some() {
            return self.load_or_zero(&buf, &idx);
        }
        let (p, ok) = self.address(&buf, &idx, false);
        let at = self.at(op);
        self.check_access(
            ok,
            &checks::access(false, false, &buf.name),
            &at,
            &idx,
            &buf.shape,
            1,
        );
        self.load_input(t, p, align, d.operands[0])
    }

    /// The element at `idx`, or zero when any index is outside `buf`.
    fn load_or_zero(&mut self, buf: &Buf, idx: &[V]) -> V {
        let e = self.e;
        let t = scalar_ty(e, buf.elem);
        let (p, ok) = self.address(buf, idx, false);
        let pre = e.current();
        let inside = e.block(self.f, "inside");
        let merge = e.block(self.f, "merged");
        e.cond_br(ok, inside, merge);
        e.at_end(inside);
        let x = e.load(t, p, buf.elem.size_bytes() as u32);
        let from = e.current();
        e.br(merge);
        e.at_end(merge);
        let r = e.phi(t);
        e.incoming(r, e.zero(t), pre);
        e.incoming(r, x, from);
        r
    }

    fn store(&mut self, op: OpId) {
        let ir = self.ir;
        let e = self.e;
        let d = ir.op(op);
        let value = self.scalar(d.operands[0]);
        let buf = self.buffer(d.operands[1]);
        let idx: Vec<V> = d.operands[2..].iter().map(|&v| self.scalar(v)).collect();
        let fast = self.unchecked(op);
        let (p, ok) = self.address(&buf, &idx, fast);
        if !fast && d.attr("in_bounds").is_none() {
            let at = self.at(op);
            self.check_access(
                ok,
                &checks::access(true, false, &buf.name),
                &at,
                &idx,
                &buf.shape,
                1,
            );
        }
        e.store(value, p, buf.elem.size_bytes() as u32);
    }

    fn alloc(&mut self, op: OpId) {
        let ir = self.ir;
        let e = self.e;
        let d = ir.op(op);
        let elem = ir.ty(d.results[0]).elem();
        let z = e.i64c(0);
        let shape: Vec<V> = d
            .operands
            .iter()
            .map(|&v| e.intrinsic("llvm.smax", &[e.i64()], &[self.scalar(v), z]))
            .collect();
        let mut bytes = e.i64c(elem.size_bytes() as i64);
        let mut overflow = e.int(e.i1(), 0);
        for &n in &shape {
            let (p, o) = self.with_overflow("llvm.umul.with.overflow", bytes, n);
            bytes = p;
            overflow = e.or(overflow, o);
        }
        let name = d
            .attr("name")
            .and_then(Attr::as_str)
            .map(str::to_string)
            .or_else(|| ir.value(d.results[0]).name.clone())
            .unwrap_or_else(|| "a stage".into());
        let at = self.at(op);
        let fits = e.xor(overflow, e.int(e.i1(), 1));
        self.check(
            fits,
            status::OUT_OF_MEMORY,
            &checks::alloc_overflow(&name, &at),
            z,
            z,
        );
        let (alloc, ty) = self.s.rt.get(runtime::ALLOC.name);
        let p = e.call(ty, alloc, &[bytes]);
        let ok = e.icmp(IntPred::LLVMIntNE, p, e.null_ptr());
        self.check(
            ok,
            status::OUT_OF_MEMORY,
            &checks::alloc_failed(&name, &at),
            bytes,
            z,
        );
        let k = self.alloc_slot[&op];
        let table = self.alloc_table.expect("declared with its allocations");
        self.set_alloc_entry(table, k, p, bytes);
        if d.attr(crate::dialects::mem::ZEROED) == Some(&Attr::Bool(true)) {
            e.memset(p, e.int(e.i8(), 0), bytes);
        }
        // row-major strides
        let mut strides = vec![z; shape.len()];
        let mut stride = e.i64c(1);
        for k in (0..shape.len()).rev() {
            strides[k] = stride;
            let n = e.intrinsic("llvm.smax", &[e.i64()], &[shape[k], e.i64c(1)]);
            stride = e.mul(stride, n);
        }
        self.vals.insert(
            d.results[0],
            LVal::B(Buf {
                data: p,
                shape,
                strides,
                elem,
                name,
                alloc: Some(k),
            }),
        );
    }

    // ----- vectors

    fn vector(&mut self, op: OpId, v: VectorOp) -> Option<V> {
        let ir = self.ir;
        let e = self.e;
        let d = ir.op(op);
        match v {
            VectorOp::Broadcast => {
                let lanes = ir.ty(d.results[0]).lanes().expect("vector");
                Some(e.splat(self.scalar(d.operands[0]), lanes))
            }
            VectorOp::Extract => {
                let k = d.attr("lane").and_then(Attr::as_int).unwrap_or(0) as u32;
                Some(e.extract(self.scalar(d.operands[0]), k))
            }
            VectorOp::Dot4 => Some(self.dot4(op)),
            VectorOp::Interleave4 => {
                let r: Vec<V> = d.operands.iter().map(|&v| self.scalar(v)).collect();
                let lanes = ir.ty(d.operands[0]).lanes().expect("vector");
                // rows 0-1 and 2-3 side by side, then lane 4l + t from row t
                let concat: Vec<u32> = (0..2 * lanes).collect();
                let low = e.shuffle(r[0], r[1], &concat);
                let high = e.shuffle(r[2], r[3], &concat);
                let mask: Vec<u32> = (0..4 * lanes).map(|i| (i % 4) * lanes + i / 4).collect();
                Some(e.shuffle(low, high, &mask))
            }
            VectorOp::Reduce => {
                let vt = ir.ty(d.operands[0]).clone();
                let (elem, lanes) = (vt.elem(), vt.lanes().expect("vector"));
                let kind = d.attr("kind").and_then(Attr::as_str).unwrap_or("sum");
                let x = self.scalar(d.operands[0]);
                if kind == "min" || kind == "max" || !elem.is_float() {
                    // any order gives the same value: fold the high half onto
                    // the low one log2(lanes) times, narrowing down to 128 bits
                    // (the narrowest vector register)
                    let a = if kind == "min" {
                        ArithOp::Min
                    } else {
                        ArithOp::Max
                    };
                    let min_lanes = (16 / elem.size_bytes() as u32).clamp(1, lanes);
                    let mut v = x;
                    let mut n = lanes;
                    while n > 1 {
                        n /= 2;
                        let width = n.max(min_lanes);
                        let low: Vec<u32> = (0..width).collect();
                        let high: Vec<u32> = (0..width).map(|i| n + i % n).collect();
                        let l = if width == 2 * n {
                            v
                        } else {
                            e.shuffle(v, v, &low)
                        };
                        let h = e.shuffle(v, v, &high);
                        v = match (kind, elem.is_float()) {
                            ("sum", _) => e.add(l, h),
                            ("prod", _) => e.mul(l, h),
                            _ => self.min_max(a, elem, l, h),
                        };
                    }
                    return Some(e.extract(v, 0));
                }
                // lane by lane, in order: the reference order of the lanes
                let mut acc = e.extract(x, 0);
                for k in 1..lanes {
                    let y = e.extract(x, k);
                    acc = match (kind, elem.is_float()) {
                        ("sum", true) => e.fadd(acc, y),
                        ("prod", true) => e.fmul(acc, y),
                        ("sum", false) => e.add(acc, y),
                        ("prod", false) => e.mul(acc, y),
                        ("min", _) => self.min_max(ArithOp::Min, elem, acc, y),
                        _ => self.min_max(ArithOp::Max, elem, acc, y),
                    };
                }
                Some(acc)
            }
            VectorOp::Load | VectorOp::Store => self.vector_access(op, v == VectorOp::Store),
        }
    }

    /// `vector.dot4`: one instruction where the target has it for the
    /// operands' signedness (x86 VNNI `vpdpbusd` on 512-bit vectors;
    /// aarch64 `sdot`, `udot`, `usdot` on 128-bit ones), else the products
    /// widened to `i32` and summed by groups of four (LLVM 22 does not
    /// form `vpdpbusd` from that: `../shared/toolchain.md`).
    fn dot4(&mut self, op: OpId) -> V {
        let ir = self.ir;
        let e = self.e;
        let d = ir.op(op);
        let acc = self.scalar(d.operands[0]);
        let lanes = ir.ty(d.operands[0]).lanes().expect("vector");
        let bytes = e.vec_ty(e.i8(), 4 * lanes);
        let mut x = self.scalar(d.operands[1]);
        let y = self.scalar(d.operands[2]);
        let (xt, yt) = (ir.ty(d.operands[1]), ir.ty(d.operands[2]));
        if xt.lanes() == Some(4) {
            // the four bytes as one i32, in every lane
            let word = e.bitcast(x, e.i32());
            x = e.bitcast(e.splat(word, lanes), bytes);
        }
        let (xs, ys) = (xt.elem().is_signed_int(), yt.elem().is_signed_int());
        let dot = self.s.attrs.dot;
        let bits = lanes * 32;
        // (unsigned, signed) for the mixed instructions
        let (u, s) = if xs { (y, x) } else { (x, y) };
        if self.s.attrs.aarch64 && bits == 128 && dot.covers(xs, ys) {
            let name = match (xs, ys) {
                (true, true) => "llvm.aarch64.neon.sdot",
                (false, false) => "llvm.aarch64.neon.udot",
                _ => "llvm.aarch64.neon.usdot",
            };
            let (p, q) = if xs == ys { (x, y) } else { (u, s) };
            let types = [e.vec_ty(e.i32(), lanes), bytes];
            return e.intrinsic(name, &types, &[acc, p, q]);
        }
        if !self.s.attrs.aarch64 && bits == 512 && xs != ys && dot.mixed_sign {
            return e.intrinsic("llvm.x86.avx512.vpdpbusd.512", &[], &[acc, u, s]);
        }
        let pairs16 = d.attr("pairs16").is_some();
        if pairs16 && dot.pairs16 && !self.s.attrs.aarch64 {
            // x86 without VNNI: `pmaddubsw` (unsigned `x` first), then the
            // i16 pairs summed by `pmaddwd` against ones
            let (ubsw, wd) = match bits {
                128 => ("llvm.x86.ssse3.pmadd.ub.sw.128", "llvm.x86.sse2.pmadd.wd"),
                256 => ("llvm.x86.avx2.pmadd.ub.sw", "llvm.x86.avx2.pmadd.wd"),
                _ => (
                    "llvm.x86.avx512.pmaddubs.w.512",
                    "llvm.x86.avx512.pmaddw.d.512",
                ),
            };
            let pairs = e.intrinsic(ubsw, &[], &[x, y]);
            let ones = e.splat(e.int(e.int_ty(16), 1), 2 * lanes);
            let sums = e.intrinsic(wd, &[], &[pairs, ones]);
            return e.add(sums, acc);
        }
        let wide = e.vec_ty(e.i32(), 4 * lanes);
        let ext = |v: V, signed: bool| {
            if signed {
                e.sext(v, wide)
            } else {
                e.zext(v, wide)
            }
        };
        let products = e.mul(ext(x, xs), ext(y, ys));
        let group = |t: u32| {
            let lanes: Vec<u32> = (0..lanes).map(|l| 4 * l + t).collect();
            e.shuffle(products, products, &lanes)
        };
        if pairs16 {
            // `pmaddubsw`'s saturation where the instruction is missing
            let i32v = e.vec_ty(e.i32(), lanes);
            let most = e.splat(e.int(e.i32(), i64::from(i16::MAX)), lanes);
            let least = e.splat(e.int(e.i32(), i64::from(i16::MIN)), lanes);
            let clamp = |p: V| {
                let p = e.intrinsic("llvm.smin", &[i32v], &[p, most]);
                e.intrinsic("llvm.smax", &[i32v], &[p, least])
            };
            let low = clamp(e.add(group(0), group(1)));
            let high = clamp(e.add(group(2), group(3)));
            return e.add(acc, e.add(low, high));
        }
        let mut sum = acc;
        for t in 0..4 {
            sum = e.add(sum, group(t));
        }
        sum
    }

    fn vector_access(&mut self, op: OpId, store: bool) -> Option<V> {
        let ir = self.ir;
        let e = self.e;
        let d = ir.op(op);
        let (bv, first) = if store {
            (d.operands[1], 2)
        } else {
            (d.operands[0], 1)
        };
        let buf = self.buffer(bv);
        let vir = if store {
            ir.ty(d.operands[0]).clone()
        } else {
            ir.ty(d.results[0]).clone()
        };
        let vt = value_ty(e, &vir);
        let lanes = vir.lanes().expect("vector");
        let align = buf.elem.size_bytes() as u32;
        let idx: Vec<V> = d.operands[first..]
            .iter()
            .map(|&x| self.scalar(x))
            .collect();
        if !store {
            self.prefetch_ahead(op, &buf, &idx);
        }
        if self.unchecked(op) {
            // proven in bounds and contiguous
            let (p, _) = self.address(&buf, &idx, true);
            if store {
                let x = self.scalar(d.operands[0]);
                match self.s.attrs.nontemporal_bytes {
                    Some(bytes) if self.streamed.contains(&bv) => {
                        self.store_streaming(x, p, &buf, bytes, lanes)
                    }
                    _ => e.store(x, p, align),
                }
                return None;
            }
            return Some(self.load_input(vt, p, align, bv));
        }
        let (p, ok) = self.address(&buf, &idx, false);
        let last = *idx.last().expect("rank >= 1 (verified)");
        let end = e.add(last, e.i64c(i64::from(lanes) - 1));
        let n = *buf.shape.last().expect("rank >= 1");
        let ok = e.and(ok, e.icmp(IntPred::LLVMIntULT, end, n));
        // a copy's rows are contiguous (strided arrays were copied
        // row-major); a shape companion's may not be: its lanes are
        // addressed one by one (a gather or scatter)
        let contiguous = self.rows_contiguous;
        if !store && d.attr("oob").is_some() {
            // lanes outside read zero: a masked load or gather whose
            // masked lanes are never read
            return Some(self.masked_vector_load(&buf, &idx, vt, lanes, contiguous));
        }
        let proven = store && d.attr("in_bounds") == Some(&Attr::Bool(true));
        if !proven {
            let at = self.at(op);
            self.check_access(
                ok,
                &checks::access(store, true, &buf.name),
                &at,
                &idx,
                &buf.shape,
                i64::from(lanes),
            );
        }
        let et = scalar_ty(e, buf.elem);
        let stride = *buf.strides.last().expect("rank >= 1");
        match (store, contiguous) {
            (true, true) => {
                e.store(self.scalar(d.operands[0]), p, align);
                None
            }
            (true, false) => {
                let ptrs = self.lane_addresses(et, p, stride, lanes);
                e.masked_scatter(self.scalar(d.operands[0]), ptrs, align, e.all_lanes(lanes));
                None
            }
            (false, true) => Some(self.load_input(vt, p, align, bv)),
            (false, false) => {
                let ptrs = self.lane_addresses(et, p, stride, lanes);
                Some(e.masked_gather(vt, ptrs, align, e.all_lanes(lanes)))
            }
        }
    }

    /// Vector `x` stored at `p` in `buf`, a result nothing reads: past the
    /// caches (non-temporal) when `buf` holds at least `bytes` bytes and
    /// `p` is aligned to 16 bytes, else as usual. A non-temporal store
    /// needs its alignment (LLVM splits an unaligned one into 8-byte
    /// stores), and NumPy's large arrays start 16 bytes into a page: a
    /// vector aligned to its size is one store, another one store per 16
    /// bytes, which the write-combining buffers join into whole lines.
    /// The conditions are the same at every iteration of a streaming
    /// loop, where the branches cost nothing.
    fn store_streaming(&mut self, x: V, p: V, buf: &Buf, bytes: u64, lanes: u32) {
        let e = self.e;
        let size = buf.elem.size_bytes() as i64;
        let vector = size * i64::from(lanes);
        if vector % 16 != 0 {
            e.store(x, p, size as u32);
            return;
        }
        let large = self.streams_past_caches(buf, bytes);
        let address = e.ptr_to_int(p);
        let aligned_to =
            |b: i64| e.icmp(IntPred::LLVMIntEQ, e.and(address, e.i64c(b - 1)), e.i64c(0));
        let whole = e.block(self.f, "streaming");
        let pieces = e.block(self.f, "streaming_pieces");
        let which = e.block(self.f, "streaming_which");
        let cached = e.block(self.f, "cached");
        let stored = e.block(self.f, "stored");
        let streams = e.and(large, aligned_to(16));
        let (first, then) = if vector > 16 {
            (whole, pieces)
        } else {
            (whole, cached)
        };
        e.cond_br(streams, which, cached);
        e.at_end(which);
        e.cond_br(aligned_to(vector), first, then);
        e.at_end(whole);
        e.store_nontemporal(x, p, vector as u32);
        e.br(stored);
        e.at_end(pieces);
        if vector > 16 {
            let per = (16 / size) as u32;
            for k in 0..(vector / 16) as u32 {
                let part: Vec<u32> = (k * per..(k + 1) * per).collect();
                let piece = e.shuffle(x, x, &part);
                e.store_nontemporal(piece, e.byte_offset(p, 16 * i64::from(k)), 16);
            }
        }
        e.br(stored);
        e.at_end(cached);
        e.store(x, p, size as u32);
        e.br(stored);
        e.at_end(stored);
        self.nontemporal = true;
    }

    /// Whether `buf` holds at least `bytes` bytes: a result that large is
    /// written past the caches (`Profile::nontemporal_bytes`).
    fn streams_past_caches(&self, buf: &Buf, bytes: u64) -> V {
        let e = self.e;
        let mut total = e.i64c(buf.elem.size_bytes() as i64);
        for &n in &buf.shape {
            total = e.mul(total, n);
        }
        e.icmp(IntPred::LLVMIntSGE, total, e.i64c(bytes as i64))
    }

    /// After non-temporal stores, an `sfence`: they are weakly ordered, and
    /// whoever reads the result next (the caller, after the pool's join)
    /// must see them.
    fn fence_streams(&self) {
        if self.nontemporal {
            self.e.intrinsic("llvm.x86.sse.sfence", &[], &[]);
        }
    }

    /// Lane `k`'s address `p + k * stride` elements of `et`, for every
    /// lane: a strided vector access is one gather or scatter, which
    /// AVX-512 has as an instruction and LLVM splits into lanes where a
    /// target has none (one call in the IR against a load, an insert and
    /// an address per lane: matmul's LLVM compile 12% shorter; the access
    /// runs only on views with a non-unit last stride).
    fn lane_addresses(&self, et: T, p: V, stride: V, lanes: u32) -> V {
        let e = self.e;
        let offsets = e.mul(e.splat(stride, lanes), e.lane_steps(lanes));
        e.gep_lanes(et, p, offsets)
    }

    /// The lanes `idx`, `idx + 1`, ... along the last dim of `buf`, zero
    /// where an index is outside: one masked instruction, no branch per lane.
    fn masked_vector_load(
        &mut self,
        buf: &Buf,
        idx: &[V],
        vt: T,
        lanes: u32,
        contiguous: bool,
    ) -> V {
        let e = self.e;
        let rank = idx.len();
        let et = scalar_ty(e, buf.elem);
        let align = buf.elem.size_bytes() as u32;
        // the other dims are inside (one answer for every lane), and the
        // row's offset in elements
        let mut rows_ok = e.int(e.i1(), 1);
        let mut row = e.i64c(0);
        for ((&i, &n), &st) in idx[..rank - 1].iter().zip(&buf.shape).zip(&buf.strides) {
            rows_ok = e.and(rows_ok, e.icmp(IntPred::LLVMIntULT, i, n));
            row = e.add(row, e.mul(i, st));
        }
        let lane_idx = e.add(e.splat(idx[rank - 1], lanes), e.lane_steps(lanes));
        let inside = e.icmp(
            IntPred::LLVMIntULT,
            lane_idx,
            e.splat(buf.shape[rank - 1], lanes),
        );
        let mask = e.and(inside, e.splat(rows_ok, lanes));
        if contiguous {
            let first = e.gep(et, buf.data, e.add(row, idx[rank - 1]));
            return e.masked_load(vt, first, align, mask);
        }
        let stride = buf.strides[rank - 1];
        let offsets = e.add(e.splat(row, lanes), e.mul(lane_idx, e.splat(stride, lanes)));
        let ptrs = e.gep_lanes(et, buf.data, offsets);
        e.masked_gather(vt, ptrs, align, mask)
    }

    /// `arith.cast` on vectors (`dialects::vector::cast_supported`).
    fn vector_cast(&mut self, op: OpId) -> V {
        let ir = self.ir;
        let e = self.e;
        let d = ir.op(op);
        let (from, to) = (ir.ty(d.operands[0]).elem(), ir.ty(d.results[0]).elem());
        let lanes = ir.ty(d.results[0]).lanes().expect("vector");
        let x = self.scalar(d.operands[0]);
        let to_vt = e.vec_ty(scalar_ty(e, to), lanes);
        if from.is_float() {
            // saturating, NaN to 0: the scalar cast's semantics. LLVM's
            // `fptosi.sat` on vectors goes lane by lane on x86, so: NaN
            // to 0, clamped as floats to the target's range (below 2^31
            // for `i32`, whose top is then selected), converted to `i32`
            // (`vcvttps2dq`), truncated
            if to == ScalarType::U32 {
                return e.intrinsic("llvm.fptoui.sat", &[to_vt, e.type_of(x)], &[x]);
            }
            let ft = e.type_of(x);
            let i32v = e.vec_ty(e.i32(), lanes);
            let fc = |v: f32| e.f32_bits(ft, v);
            let ordered = e.fcmp(FloatPred::LLVMRealORD, x, x);
            let x0 = e.select(ordered, x, fc(0.0));
            let (lo, hi) = to.int_range().expect("an integer type");
            // the largest f32 below 2^31 for `i32`; the range's ends otherwise
            let hi_f = if to == ScalarType::I32 {
                2147483520.0
            } else {
                hi as f32
            };
            let c = e.select(
                e.fcmp(FloatPred::LLVMRealOGT, x0, fc(lo as f32)),
                x0,
                fc(lo as f32),
            );
            let c = e.select(e.fcmp(FloatPred::LLVMRealOLT, c, fc(hi_f)), c, fc(hi_f));
            let w = e.fptosi(c, i32v);
            if to == ScalarType::I32 {
                let top = e.fcmp(FloatPred::LLVMRealOGE, x0, fc(2147483648.0));
                return e.select(top, e.int(i32v, i64::from(i32::MAX)), w);
            }
            return e.trunc(w, to_vt);
        }
        if to.is_int() && to.size_bytes() < from.size_bytes() {
            return e.trunc(x, to_vt);
        }
        if to.is_int() && to.size_bytes() == from.size_bytes() {
            return x;
        }
        let ext = |x: V, t: ScalarType| {
            let vt = e.vec_ty(scalar_ty(e, t), lanes);
            if from.is_signed_int() {
                e.sext(x, vt)
            } else {
                e.zext(x, vt)
            }
        };
        if to.is_float() {
            // integers of up to 32 bits, widened by their signedness, then
            // converted as signed (a widened unsigned value is non-negative)
            let x = if from.size_bytes() < 4 {
                ext(x, ScalarType::I32)
            } else {
                x
            };
            return e.sitofp(x, e.vec_ty(e.f32(), lanes));
        }
        ext(x, to)
    }

    /// Elementwise arithmetic on vectors.
    fn vector_arith(&mut self, op: OpId, a: ArithOp) -> V {
        let ir = self.ir;
        let e = self.e;
        let d = ir.op(op);
        let elem = ir.ty(d.results[0]).elem();
        let p = self.scalar(d.operands[0]);
        let q = d.operands.get(1).map(|&v| self.scalar(v));
        match (a, q) {
            (ArithOp::Fma, Some(q)) => {
                let r = self.scalar(d.operands[2]);
                e.intrinsic("llvm.fma", &[e.type_of(p)], &[p, q, r])
            }
            (ArithOp::Neg, _) if elem.is_float() => e.fneg(p),
            (ArithOp::Neg, _) => e.neg(p),
            (ArithOp::Shr, _) => self.shift_right(op, elem, p),
            (ArithOp::Shl, _) => self.shift_left(op, p),
            (ArithOp::Bitcast, _) => e.bitcast(p, value_ty(e, ir.ty(d.results[0]))),
            (_, Some(q)) => self.binary(a, elem, p, q),
            (other, None) => unreachable!("arith.{} needs two operands", other.mnemonic()),
        }
    }

    /// `arith.shr` of `p`, a scalar or vector of `elem` (the verifier keeps
    /// the amount below the width, where LLVM's shifts are defined).
    fn shift_right(&self, op: OpId, elem: ScalarType, p: V) -> V {
        let e = self.e;
        let k = crate::dialects::arith::shift_amount(self.ir, op).expect("verified");
        let amount = e.int(e.type_of(p), i64::from(k));
        if elem.is_signed_int() {
            e.ashr(p, amount)
        } else {
            e.lshr(p, amount)
        }
    }

    /// `arith.shl` of `p`, a scalar or vector.
    fn shift_left(&self, op: OpId, p: V) -> V {
        let e = self.e;
        let k = crate::dialects::arith::shift_amount(self.ir, op).expect("verified");
        e.shl(p, e.int(e.type_of(p), i64::from(k)))
    }

    /// `add`, `sub`, `mul`, `div`, `min`, `max` on scalars or vectors of `elem`.
    fn binary(&self, a: ArithOp, elem: ScalarType, p: V, q: V) -> V {
        let e = self.e;
        match (a, elem.is_float()) {
            (ArithOp::Add, true) => e.fadd(p, q),
            (ArithOp::Add, false) => e.add(p, q),
            (ArithOp::Sub, true) => e.fsub(p, q),
            (ArithOp::Sub, false) => e.sub(p, q),
            (ArithOp::Mul, true) => e.fmul(p, q),
            (ArithOp::Mul, false) => e.mul(p, q),
            (ArithOp::Div, true) => e.fdiv(p, q),
            (ArithOp::Min | ArithOp::Max, _) => self.min_max(a, elem, p, q),
            (ArithOp::Mulhi, false) => {
                // the double-width product's high half: `pmulhuw` on 16-bit lanes
                let t = e.type_of(p);
                let bits = 8 * elem.size_bytes() as u32;
                let w = e.int_ty(2 * bits);
                let wide = e.lanes_of(t).map_or(w, |n| e.vec_ty(w, n));
                let (x, y) = if elem.is_signed_int() {
                    (e.sext(p, wide), e.sext(q, wide))
                } else {
                    (e.zext(p, wide), e.zext(q, wide))
                };
                let prod = e.mul(x, y);
                e.trunc(e.lshr(prod, e.int(wide, i64::from(bits))), t)
            }
            (other, _) => unreachable!("arith.{} is not elementwise here", other.mnemonic()),
        }
    }

    /// IEEE `minimum`/`maximum` on floats; signed or unsigned on integers.
    fn min_max(&self, a: ArithOp, elem: ScalarType, p: V, q: V) -> V {
        let e = self.e;
        if let Some(r) = self.range_min_max(a, elem, p, q) {
            return r;
        }
        let name = match (a, elem.is_float(), elem.is_signed_int()) {
            (ArithOp::Min, true, _) => "llvm.minimum",
            (_, true, _) => "llvm.maximum",
            (ArithOp::Min, false, true) => "llvm.smin",
            (_, false, true) => "llvm.smax",
            (ArithOp::Min, false, false) => "llvm.umin",
            (_, false, false) => "llvm.umax",
        };
        e.intrinsic(name, &[e.type_of(p)], &[p, q])
    }

    /// IEEE `minimum`/`maximum` of float vectors in three instructions
    /// where AVX-512 has `vrangeps`/`vrangepd`, against six for LLVM's own
    /// lowering (a blend on the sign, `vmaxps`, a NaN fix-up), whose chain
    /// bounded a max reduction such as softmax's. `vrange` orders `-0 <
    /// +0` as `minimum`/`maximum` do but returns the other operand for a
    /// quiet NaN (IEEE 754-2008 `maxNum`), so lanes where either operand is
    /// NaN take `p + q`, a NaN. `None` where the target or type has no
    /// `vrange`.
    fn range_min_max(&self, a: ArithOp, elem: ScalarType, p: V, q: V) -> Option<V> {
        let e = self.e;
        if !self.s.attrs.avx512 || !elem.is_float() {
            return None;
        }
        let t = e.type_of(p);
        let lanes = e.lanes_of(t)?;
        let bits = lanes * elem.size_bytes() as u32 * 8;
        let name = match (elem, bits) {
            (ScalarType::F32, 128 | 256 | 512) => format!("llvm.x86.avx512.mask.range.ps.{bits}"),
            (ScalarType::F64, 128 | 256 | 512) => format!("llvm.x86.avx512.mask.range.pd.{bits}"),
            _ => return None,
        };
        // imm[1:0]: 0 min, 1 max; imm[3:2] = 1: the sign of the one chosen
        let imm = e.int(e.i32(), if a == ArithOp::Min { 0b0100 } else { 0b0101 });
        let all = e.int(e.int_ty(lanes.max(8)), -1);
        let mut args = vec![p, q, imm, e.zero(t), all];
        if bits == 512 {
            // rounding: the current direction (MXCSR), i.e. none forced
            args.push(e.int(e.i32(), 4));
        }
        let ranged = e.intrinsic(&name, &[], &args);
        let nan = e.fcmp(FloatPred::LLVMRealUNO, p, q);
        Some(e.select(nan, e.fadd(p, q), ranged))
    }

    // ----- scalars

    fn arith(&mut self, op: OpId, a: ArithOp) -> V {
        let ir = self.ir;
        let e = self.e;
        let d = ir.op(op);
        let rt = ir
            .ty(d.results[0])
            .as_scalar()
            .expect("verified: scalar result");
        let x = |i: usize| self.scalar(d.operands[i]);
        match a {
            ArithOp::Fma => e.intrinsic("llvm.fma", &[scalar_ty(e, rt)], &[x(0), x(1), x(2)]),
            ArithOp::Constant => {
                let s =
                    Scalar::from_attr(d.attr("value").expect("verified"), rt).expect("verified");
                match s {
                    Scalar::F32(v) => e.f32_bits(e.f32(), v),
                    Scalar::F64(v) => e.f64_bits(v),
                    Scalar::F16(q) | Scalar::Bf16(q) => e.int(scalar_ty(e, rt), i64::from(q)),
                    s => e.int(scalar_ty(e, rt), s.as_i64().expect("integer or bool")),
                }
            }
            ArithOp::Add
            | ArithOp::Sub
            | ArithOp::Mul
            | ArithOp::Min
            | ArithOp::Max
            | ArithOp::Mulhi => self.binary(a, rt, x(0), x(1)),
            ArithOp::Div | ArithOp::Rem => self.divide(op, a, rt, x(0), x(1)),
            ArithOp::Neg if rt.is_float() => e.fneg(x(0)),
            ArithOp::Neg => e.neg(x(0)),
            ArithOp::Shr => self.shift_right(op, rt, x(0)),
            ArithOp::Shl => self.shift_left(op, x(0)),
            ArithOp::Bitcast => e.bitcast(x(0), scalar_ty(e, rt)),
            ArithOp::Not => e.xor(x(0), e.int(e.i8(), 1)),
            ArithOp::And => e.and(x(0), x(1)),
            ArithOp::Or => e.or(x(0), x(1)),
            ArithOp::Select => e.select(e.truth(x(0)), x(1), x(2)),
            ArithOp::Cmp => {
                let ot = ir.ty(d.operands[0]).as_scalar().expect("verified");
                let pred = d.attr("pred").and_then(Attr::as_str).expect("verified");
                let c = if ot.is_float() {
                    let p = match pred {
                        "eq" => FloatPred::LLVMRealOEQ,
                        "ne" => FloatPred::LLVMRealUNE,
                        "lt" => FloatPred::LLVMRealOLT,
                        "le" => FloatPred::LLVMRealOLE,
                        "gt" => FloatPred::LLVMRealOGT,
                        _ => FloatPred::LLVMRealOGE,
                    };
                    e.fcmp(p, x(0), x(1))
                } else {
                    let s = ot.is_signed_int();
                    let p = match (pred, s) {
                        ("eq", _) => IntPred::LLVMIntEQ,
                        ("ne", _) => IntPred::LLVMIntNE,
                        ("lt", true) => IntPred::LLVMIntSLT,
                        ("le", true) => IntPred::LLVMIntSLE,
                        ("gt", true) => IntPred::LLVMIntSGT,
                        ("ge", true) => IntPred::LLVMIntSGE,
                        ("lt", false) => IntPred::LLVMIntULT,
                        ("le", false) => IntPred::LLVMIntULE,
                        ("gt", false) => IntPred::LLVMIntUGT,
                        _ => IntPred::LLVMIntUGE,
                    };
                    e.icmp(p, x(0), x(1))
                };
                e.bool_byte(c)
            }
            ArithOp::Cast => {
                let from = ir.ty(d.operands[0]).as_scalar().expect("verified");
                self.cast(x(0), from, rt)
            }
        }
    }

    /// `div` and `rem`: floats as IEEE (`rem` is the runtime's `fmod`);
    /// integers checked for zero, `MIN / -1` wrapping.
    fn divide(&mut self, op: OpId, a: ArithOp, rt: ScalarType, p: V, q: V) -> V {
        let e = self.e;
        if rt.is_float() {
            if a == ArithOp::Div {
                return e.fdiv(p, q);
            }
            let (f, ty) = self.s.rt.get(runtime::fmod_symbol(rt == ScalarType::F32));
            return e.call(ty, f, &[p, q]);
        }
        let t = scalar_ty(e, rt);
        let nonzero = e.icmp(IntPred::LLVMIntNE, q, e.zero(t));
        let z = e.i64c(0);
        let msg = checks::division_by_zero(&self.at(op));
        self.check(nonzero, status::DIVISION_BY_ZERO, &msg, z, z);
        if rt.is_signed_int() {
            let minus_one = e.icmp(IntPred::LLVMIntEQ, q, e.int(t, -1));
            let safe = e.select(minus_one, e.int(t, 1), q);
            if a == ArithOp::Div {
                e.select(minus_one, e.neg(p), e.sdiv(p, safe))
            } else {
                e.select(minus_one, e.zero(t), e.srem(p, safe))
            }
        } else if a == ArithOp::Div {
            e.udiv(p, q)
        } else {
            e.urem(p, q)
        }
    }

    /// `Scalar::cast`, in machine code.
    fn cast(&self, v: V, from: ScalarType, to: ScalarType) -> V {
        let e = self.e;
        let (ft, tt) = (scalar_ty(e, from), scalar_ty(e, to));
        if to == ScalarType::Bool {
            let c = if from.is_float() {
                e.fcmp(FloatPred::LLVMRealUNE, v, e.zero(ft))
            } else {
                e.icmp(IntPred::LLVMIntNE, v, e.zero(ft))
            };
            return e.bool_byte(c);
        }
        match (from.is_float(), to.is_float()) {
            (true, true) => match from.size_bytes().cmp(&to.size_bytes()) {
                std::cmp::Ordering::Equal => v,
                std::cmp::Ordering::Less => e.fpext(v, tt),
                std::cmp::Ordering::Greater => e.fptrunc(v, tt),
            },
            (false, true) if from.is_signed_int() => e.sitofp(v, tt),
            (false, true) => e.uitofp(v, tt),
            (true, false) => {
                // saturate to i64 (NaN: 0), then clamp to the target's range
                let wide = e.intrinsic("llvm.fptosi.sat", &[e.i64(), ft], &[v]);
                if to == ScalarType::I64 {
                    return wide;
                }
                let (lo, hi) = to.int_range().expect("integer type");
                let c = e.intrinsic("llvm.smax", &[e.i64()], &[wide, e.i64c(lo)]);
                let c = e.intrinsic("llvm.smin", &[e.i64()], &[c, e.i64c(hi)]);
                e.trunc(c, tt)
            }
            (false, false) => {
                let (fb, tb) = (from.size_bytes(), to.size_bytes());
                if fb == tb {
                    v
                } else if fb > tb {
                    e.trunc(v, tt)
                } else if from.is_signed_int() {
                    e.sext(v, tt)
                } else {
                    e.zext(v, tt)
                }
            }
        }
    }

    fn math(&mut self, op: OpId, mo: MathOp) -> V {
        let ir = self.ir;
        let e = self.e;
        let d = ir.op(op);
        let rt = ir.ty(d.results[0]).elem();
        let args: Vec<V> = d.operands.iter().map(|&v| self.scalar(v)).collect();
        let t = e.type_of(args[0]);
        if mo == MathOp::Exp && rt == ScalarType::F32 {
            return self.expf(args[0], crate::dialects::math::is_fused(ir, op));
        }
        if rt.is_float()
            && let Some(v) = self.vector_math(mo, rt, &args)
        {
            return v;
        }
        match mo {
            MathOp::Abs if rt.is_float() => e.intrinsic("llvm.fabs", &[t], &[args[0]]),
            MathOp::Abs if rt.is_signed_int() => {
                e.intrinsic("llvm.abs", &[t], &[args[0], e.int(e.i1(), 0)])
            }
            MathOp::Abs => args[0],
            MathOp::Sqrt => e.intrinsic("llvm.sqrt", &[t], &[args[0]]),
            MathOp::Floor => e.intrinsic("llvm.floor", &[t], &[args[0]]),
            MathOp::Ceil => e.intrinsic("llvm.ceil", &[t], &[args[0]]),
            _ => {
                let name = runtime::math_symbol(mo, rt == ScalarType::F32).expect("a runtime call");
                let (f, ty) = self.s.rt.get(name);
                e.call(ty, f, &args)
            }
        }
    }

    /// `pj_runtime::math::expf` inline on an `f32` or a vector of them: the
    /// same operations on the same constants in the same order, so the
    /// bits are the interpreter's; `fused`: `expf_fused`.
    fn expf(&self, x: V, fused: bool) -> V {
        use pj_runtime::math::expf_consts::*;
        let e = self.e;
        let vt = e.type_of(x);
        let it = match e.lanes_of(vt) {
            Some(n) => e.vec_ty(e.i32(), n),
            None => e.i32(),
        };
        let fc = |v: f32| e.f32_bits(vt, v);
        let fma = |a: V, b: V, c: V| e.intrinsic("llvm.fma", &[vt], &[a, b, c]);
        // `if x > HI { HI } else if x < LO { LO } else { x }`: NaN stays
        let hi = fc(HI);
        let x = e.select(e.fcmp(FloatPred::LLVMRealOGT, x, hi), hi, x);
        let lo = fc(LO);
        let x = e.select(e.fcmp(FloatPred::LLVMRealOLT, x, lo), lo, x);
        let (log2e, round) = (fc(LOG2E), fc(ROUND));
        let t = if fused {
            fma(x, log2e, round)
        } else {
            e.fadd(e.fmul(x, log2e), round)
        };
        let k = e.fsub(t, round);
        let n = e.sub(
            e.bitcast(t, it),
            e.int(it, i64::from(ROUND.to_bits() as i32)),
        );
        let (c1, c2) = (fc(C1), fc(C2));
        let r = if fused {
            let nk = e.fneg(k);
            fma(nk, c2, fma(nk, c1, x))
        } else {
            e.fsub(e.fsub(x, e.fmul(k, c1)), e.fmul(k, c2))
        };
        let mut p = fc(P[0]);
        for &c in &P[1..] {
            p = if fused {
                fma(p, r, fc(c))
            } else {
                e.fadd(e.fmul(p, r), fc(c))
            };
        }
        let rr = e.fmul(r, r);
        let p = if fused {
            fma(p, rr, r)
        } else {
            e.fadd(e.fmul(p, rr), r)
        };
        let p = e.fadd(p, fc(1.0));
        if let Some(scaled) = self.scale_by_power_of_two(p, k) {
            return scaled;
        }
        let n1 = e.ashr(n, e.int(it, 1));
        let n2 = e.sub(n, n1);
        let mut scaled = p;
        for half in [n1, n2] {
            let bits = e.shl(e.add(half, e.int(it, 127)), e.int(it, 23));
            scaled = e.fmul(scaled, e.bitcast(bits, vt));
        }
        scaled
    }

    /// `p * 2^k` for a vector `p` in `[0.7, 1.42]` (`expf`'s polynomial)
    /// and integral `k` in `[-150, 128]`, in one AVX-512 `vscalefps`
    /// instead of `expf`'s eight integer and float ops: the two
    /// multiplications by `2^(n/2)` and `2^(n - n/2)` are exact until the
    /// last, which rounds once (to nearest even) into the subnormals or
    /// overflows to `inf`; `vscalef` rounds the exact product once in the
    /// same direction, so the bits are `expf`'s. NaN stays NaN. `None`
    /// where the target has no AVX-512 or `p` is not an `f32` vector of
    /// 128, 256 or 512 bits.
    fn scale_by_power_of_two(&self, p: V, k: V) -> Option<V> {
        let e = self.e;
        if !self.s.attrs.avx512 {
            return None;
        }
        let t = e.type_of(p);
        let lanes = e.lanes_of(t)?;
        let name = match lanes {
            4 | 8 | 16 => format!("llvm.x86.avx512.mask.scalef.ps.{}", lanes * 32),
            _ => return None,
        };
        let all = e.int(e.int_ty(lanes.max(8)), -1);
        let mut args = vec![p, k, e.zero(t), all];
        if lanes == 16 {
            // rounding: the current direction (MXCSR), i.e. none forced
            args.push(e.int(e.i32(), 4));
        }
        Some(e.intrinsic(&name, &[], &args))
    }
}

/// Verifies the module (a compiler bug when it fails).
pub fn verify(module: &inkwell::module::Module<'_>) -> Result<(), CodegenError> {
    module
        .verify()
        .map_err(|m| internal(format!("LLVM's verifier refused the module: {m}")))
}
