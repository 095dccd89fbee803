//! `func`/`loop`/`mem`/`arith`/`math` IR to Cranelift IR, one `func.func`
//! at a time, for any `cranelift_module::Module` (JIT or object file).
//!
//! Values: scalars are Cranelift values (`bool` is an `i8` holding 0 or 1);
//! a buffer is its data pointer plus one shape and one stride value per dim
//! (in a kernel's body the last stride is the constant 1: the exported
//! function copies arrays with another row-major, `row_major_entry`; shape
//! companions take any stride, lane by lane).
//! Semantics follow `dialects::arith` exactly: integer `div`/`rem` check for
//! zero and never trap on `MIN / -1`; float-to-integer casts saturate; float
//! `min`/`max` are IEEE `minimum`/`maximum` (Cranelift's `fmin`/`fmax`);
//! transcendental functions call the runtime's, which are the interpreter's,
//! or on vectors compute its definition inline ([`math`]).
//! Every load and store is bounds-checked (the `mem` contract); a failed
//! check calls `pj_rt_fail`, frees the intermediates allocated so far, and
//! returns the status.

use crate::codegen::CodegenError;
use crate::codegen::analysis::closure;
use crate::codegen::analysis::versioning::{self, IndexForm};
use crate::codegen::checks;
use crate::codegen::kernel::Tier;
use crate::dialects::{
    ArithOp, FuncOp, LoopOp, MathOp, MemOp, Opcode, VectorOp, arith::Scalar, signature,
};
use crate::ir::{Attr, BlockId, Module as IrModule, OpId, ScalarType, Type as IrType, ValueId};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{
    AbiParam, Block, BlockArg, Endianness, FuncRef, InstBuilder, MemFlagsData, Signature,
    StackSlot, StackSlotData, StackSlotKind, Value, types,
};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_module::{DataDescription, FuncId, Linkage, Module};
use pj_runtime::abi::{offsets, status};
use std::collections::HashMap;

mod math;

/// The runtime functions generated code calls, declared in a module.
pub struct RuntimeFuncs {
    parallel_for: FuncId,
    threads: FuncId,
    fail: FuncId,
    alloc: FuncId,
    free: FuncId,
    contiguous: FuncId,
    copy_back: FuncId,
    math: HashMap<&'static str, FuncId>,
}

fn sig<M: Module>(module: &M, params: &[types::Type], ret: Option<types::Type>) -> Signature {
    let mut s = module.make_signature();
    s.params.extend(params.iter().map(|&t| AbiParam::new(t)));
    s.returns.extend(ret.map(AbiParam::new));
    s
}

/// Declares the runtime's entry points (`codegen::runtime`) as imports.
pub fn declare_runtime<M: Module>(module: &mut M) -> Result<RuntimeFuncs, CodegenError> {
    use crate::codegen::runtime::{self, CType};
    let p = module.target_config().pointer_type();
    let ty = |t: CType| match t {
        CType::Ptr | CType::Size => p,
        CType::I32 => types::I32,
        CType::I64 => types::I64,
        CType::F32 => types::F32,
        CType::F64 => types::F64,
    };
    let mut ids = HashMap::new();
    for f in runtime::all() {
        let params: Vec<types::Type> = f.params.iter().map(|&t| ty(t)).collect();
        let s = sig(module, &params, f.ret.map(ty));
        ids.insert(
            f.name,
            module.declare_function(f.name, Linkage::Import, &s)?,
        );
    }
    Ok(RuntimeFuncs {
        parallel_for: ids[runtime::PARALLEL_FOR.name],
        threads: ids[runtime::THREADS.name],
        fail: ids[runtime::FAIL.name],
        alloc: ids[runtime::ALLOC.name],
        free: ids[runtime::FREE.name],
        contiguous: ids[runtime::CONTIGUOUS.name],
        copy_back: ids[runtime::COPY_BACK.name],
        math: runtime::MATH
            .iter()
            .map(|f| (f.name, ids[f.name]))
            .collect(),
    })
}

/// The Cranelift type of a scalar (`f16` and `bf16` values are their
/// bits: `lower-half` leaves them only to loads, stores and bit casts).
pub fn cl_type(t: ScalarType) -> types::Type {
    match t {
        ScalarType::Bool | ScalarType::I8 | ScalarType::U8 => types::I8,
        ScalarType::I16 | ScalarType::U16 | ScalarType::F16 | ScalarType::Bf16 => types::I16,
        ScalarType::I32 | ScalarType::U32 => types::I32,
        ScalarType::I64 => types::I64,
        ScalarType::F32 => types::F32,
        ScalarType::F64 => types::F64,
    }
}

/// The Cranelift type of a scalar or vector IR type.
pub fn cl_value_type(t: &IrType) -> types::Type {
    match t {
        // vectors narrower than 128 bits live in the low lanes of a full
        // register (see `load_vector`)
        IrType::Vector { elem, .. } => {
            let e = cl_type(*elem);
            e.by(128 / e.bits())
                .expect("a numeric lane type (verified)")
        }
        t => cl_type(t.elem()),
    }
}

use crate::codegen::abi::elem_code;

/// The native signature of a `func.func`: a pointer per buffer, scalars by
/// value, an `i32` status.
pub fn kernel_signature<M: Module>(module: &M, ir: &IrModule, func: OpId) -> Signature {
    let p = module.target_config().pointer_type();
    let block = ir.entry_block(func, 0);
    let params: Vec<types::Type> = ir
        .block(block)
        .args
        .iter()
        .map(|&a| match ir.ty(a) {
            IrType::Scalar(s) => cl_type(*s),
            _ => p,
        })
        .collect();
    sig(module, &params, Some(types::I32))
}

#[derive(Clone)]
struct Buf {
    data: Value,
    shape: Vec<Value>,
    strides: Vec<Value>,
    elem: ScalarType,
    name: String,
    /// Index into the function's allocation variables, for `mem.alloc` buffers.
    alloc: Option<usize>,
}

#[derive(Clone)]
enum CVal {
    S(Value),
    B(Buf),
}

struct FnLower<'a, 'b, M: Module> {
    b: FunctionBuilder<'b>,
    module: &'a mut M,
    ir: &'a IrModule,
    vals: HashMap<ValueId, CVal>,
    ptr: types::Type,
    rt: &'a RuntimeFuncs,
    refs: HashMap<FuncId, FuncRef>,
    /// A table on the stack of (pointer, byte count) per `mem.alloc`, null
    /// and 0 when not live, that the failure exit frees from. In memory,
    /// not in variables: every failing branch would carry every variable
    /// to the exit as a block argument, and code grew with checks ×
    /// allocations (a chain of 400 stencils: 29 MB).
    alloc_table: Option<StackSlot>,
    /// Each `mem.alloc` op's index into `allocs` (stable when a body is
    /// lowered twice, as loop versioning does).
    alloc_slot: HashMap<OpId, usize>,
    /// Parallel loop bodies to define after this function.
    pending: Vec<Outline>,
    /// Loads whose bounds a loop precheck has proven (no check emitted).
    fast: HashMap<OpId, FastAddr>,
    /// Buffers nothing in the module writes (the kernel's inputs).
    unwritten: std::rc::Rc<std::collections::HashSet<ValueId>>,
    /// Frees what is live and returns the status in its parameter.
    fail_exit: Block,
    /// Each message's data, declared once per function (the fast and
    /// checked copies of a loop name the same accesses).
    messages: HashMap<String, cranelift_codegen::ir::GlobalValue>,
    /// Entries of `alloc_table`, which the failure exit frees.
    table_entries: usize,
    /// Every array's rows are contiguous (a kernel's body, behind the
    /// function that copies strided arrays: [`FnLower::row_major_entry`]):
    /// the last stride is the constant 1 and no access has a path for
    /// another.
    rows_contiguous: bool,
    /// Inside a kernel's edge (`edge` loops), where loops are not
    /// versioned: nesting depth.
    unversioned: u32,
    /// How hard to work: the quick tier versions innermost loops only.
    tier: Tier,
    /// `dot4`'s four-byte operand repeated across a register, per operand
    /// and block: a register block's products share each row's operand,
    /// which was shuffled once per product (qdot's loop: 12 shuffles for 12
    /// products, now 6, and 1.25x faster: the shuffles share ports with
    /// the products).
    repeated4: HashMap<(Value, Block), Value>,
}

/// Builds the Cranelift IR of `func` (already declared as `id`) and of the
/// outlined bodies of its parallel loops, for [`define_built`] to compile.
pub fn define_kernel<M: Module>(
    module: &mut M,
    rt: &RuntimeFuncs,
    ir: &IrModule,
    func: OpId,
    id: FuncId,
    tier: Tier,
) -> Result<Vec<BuiltFunction>, CodegenError> {
    let name = signature(ir, func).name;
    // Cranelift encodes vectors of at most 128 bits (wider types would be
    // silently narrowed by `cl_value_type`)
    let mut too_wide = None;
    ir.walk_block(ir.entry_block(func, 0), &mut |op| {
        for &r in &ir.op(op).results {
            let t = ir.ty(r);
            if let IrType::Vector { elem, lanes } = t
                && *lanes as usize * elem.size_bytes() > 16
            {
                too_wide.get_or_insert_with(|| t.to_string());
            }
        }
    });
    if let Some(t) = too_wide {
        return Err(super::unsupported(format!(
            "`{t}` in `{name}`: Cranelift encodes vectors of at most 128 bits (`--backend llvm` takes wider ones)"
        )));
    }
    let mut queue = Vec::new();
    // one walk of the function serves its outlined bodies too
    let unwritten = std::rc::Rc::new(closure::unwritten_buffers(ir, func));
    // a kernel runs on row-contiguous arrays behind a function that copies
    // strided ones; a shape companion reads its arrays where they are
    let companion = ir.op(func).attr("shape_of").is_some();
    let mut built = Vec::new();
    let body_id = if companion {
        id
    } else {
        let body_id = module.declare_function(
            &format!("{name}.body"),
            Linkage::Local,
            &kernel_signature(module, ir, func),
        )?;
        built.push(build_with(
            module,
            (rt, ir, &unwritten, tier, false),
            id,
            kernel_signature(module, ir, func),
            &name,
            &mut queue,
            |l| l.row_major_entry(func, body_id),
        )?);
        body_id
    };
    // listings label each function: the entry (which copies strided
    // arrays), its body, each parallel loop's body
    let body_label = if companion {
        name.to_string()
    } else {
        format!("{name}.body")
    };
    built.push(build_with(
        module,
        (rt, ir, &unwritten, tier, !companion),
        body_id,
        kernel_signature(module, ir, func),
        &body_label,
        &mut queue,
        |l| l.function(func),
    )?);
    let mut outlined = 0;
    while let Some(o) = queue.pop() {
        let p = module.target_config().pointer_type();
        let s = sig(module, &[p, types::I64, types::I64], Some(types::I32));
        outlined += 1;
        built.push(build_with(
            module,
            (rt, ir, &unwritten, tier, !companion),
            o.id,
            s,
            &format!("{name}.par{outlined}"),
            &mut queue,
            |l| l.outlined(&o),
        )?);
    }
    Ok(built)
}

/// A function's Cranelift IR, built and not yet compiled.
pub struct BuiltFunction {
    id: FuncId,
    name: String,
    ctx: cranelift_codegen::Context,
}

/// Compiles `built` and defines each function in `module`. With
/// `in_parallel`, the functions compile on threads of their own (a
/// kernel, its shape function and its parallel bodies are independent:
/// the quick tier's compile of matmul is then its largest function's,
/// not the sum); the machine code is the same either way. Only for
/// modules where defining the bytes is all `define_function` does (the
/// JIT; an object file may also want unwind information).
pub fn define_built<M: Module>(
    module: &mut M,
    mut built: Vec<BuiltFunction>,
    in_parallel: bool,
) -> Result<(), CodegenError> {
    let compile = |isa: &dyn cranelift_codegen::isa::TargetIsa, f: &mut BuiltFunction| {
        f.ctx
            .compile(isa, &mut Default::default())
            .map(|_| ())
            .map_err(|e| super::internal(format!("{}: {:?}", f.name, e.inner)))
    };
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    if in_parallel && built.len() > 1 && workers > 1 {
        // as many groups as cores, the largest functions first, each to
        // the group with the fewest instructions so far; the first group
        // on this thread
        built.sort_by_key(|f| std::cmp::Reverse(f.ctx.func.dfg.num_insts()));
        let mut groups: Vec<(usize, Vec<&mut BuiltFunction>)> = (0..workers.min(built.len()))
            .map(|_| (0, Vec::new()))
            .collect();
        for f in &mut built {
            let g = groups
                .iter_mut()
                .min_by_key(|(size, _)| *size)
                .expect("at least one group");
            g.0 += f.ctx.func.dfg.num_insts();
            g.1.push(f);
        }
        let isa = module.isa();
        let compile_all = move |fs: Vec<&mut BuiltFunction>| -> Result<(), CodegenError> {
            fs.into_iter().try_for_each(|f| compile(isa, f))
        };
        let mut groups = groups.into_iter().map(|(_, fs)| fs);
        let here = groups.next().expect("at least one group");
        std::thread::scope(|scope| -> Result<(), CodegenError> {
            let others: Vec<_> = groups
                .map(|fs| scope.spawn(move || compile_all(fs)))
                .collect();
            compile_all(here)?;
            for t in others {
                t.join().expect("Cranelift does not panic")?;
            }
            Ok(())
        })?;
        for f in &mut built {
            let code = f.ctx.compiled_code().expect("compiled");
            let relocs: Vec<_> = code
                .buffer
                .relocs()
                .iter()
                .map(|r| cranelift_module::ModuleReloc::from_mach_reloc(r, &f.ctx.func, f.id))
                .collect();
            let alignment = u64::from(code.buffer.alignment);
            module
                .define_function_bytes(f.id, alignment, code.code_buffer(), &relocs)
                .map_err(|e| super::internal(format!("{}: {e:?}", f.name)))?;
        }
    } else {
        for f in &mut built {
            module
                .define_function(f.id, &mut f.ctx)
                .map_err(|e| super::internal(format!("{}: {e:?}", f.name)))?;
        }
    }
    for f in &built {
        report_compiled(f);
    }
    Ok(())
}

/// Builds one Cranelift function with `body`, to be defined as `id`.
fn build_with<M: Module>(
    module: &mut M,
    (rt, ir, unwritten, tier, rows_contiguous): (
        &RuntimeFuncs,
        &IrModule,
        &std::rc::Rc<std::collections::HashSet<ValueId>>,
        Tier,
        bool,
    ),
    id: FuncId,
    signature: Signature,
    name: &str,
    queue: &mut Vec<Outline>,
    body: impl FnOnce(&mut FnLower<'_, '_, M>) -> Result<(), CodegenError>,
) -> Result<BuiltFunction, CodegenError> {
    let mut ctx = module.make_context();
    ctx.func.signature = signature;
    let mut fctx = FunctionBuilderContext::new();
    let ptr = module.target_config().pointer_type();
    {
        let b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        let mut l = FnLower {
            b,
            module,
            ir,
            vals: HashMap::new(),
            ptr,
            rt,
            refs: HashMap::new(),
            alloc_table: None,
            alloc_slot: HashMap::new(),
            fail_exit: Block::from_u32(0),
            messages: HashMap::new(),
            table_entries: 0,
            rows_contiguous,
            pending: Vec::new(),
            fast: HashMap::new(),
            unwritten: unwritten.clone(),
            unversioned: 0,
            tier,
            repeated4: HashMap::new(),
        };
        body(&mut l)?;
        let config = l.module.target_config();
        l.b.seal_all_blocks();
        l.b.finalize(config);
        queue.append(&mut l.pending);
    }
    // `PJ_DISASM=1`: print the machine code of every function (a
    // developer's aid for reading what the backend made of a loop);
    // [`with_listing`]: collect it (`pj repl`'s `:asm`)
    // `PJ_CLIF=1`: the Cranelift IR as lowered, before Cranelift's passes;
    // `PJ_CLIF=opt`: after them (what instruction selection sees)
    if std::env::var("PJ_CLIF").is_ok_and(|v| v != "opt") {
        eprintln!("; {name} (CLIF)\n{}", ctx.func.display());
    }
    let env = std::env::var_os("PJ_DISASM").is_some();
    let listing = LISTING.with(|l| l.borrow().is_some());
    ctx.set_disasm(env || listing);
    Ok(BuiltFunction {
        id,
        name: name.to_string(),
        ctx,
    })
}

/// After compiling `f`: the developer's listings asked for, on this
/// thread.
fn report_compiled(f: &BuiltFunction) {
    let (id, name, ctx) = (f.id, &f.name, &f.ctx);
    let env = std::env::var_os("PJ_DISASM").is_some();
    if std::env::var("PJ_CLIF").is_ok_and(|v| v == "opt") {
        eprintln!(
            "; {name} (CLIF after Cranelift's passes)\n{}",
            ctx.func.display()
        );
    }
    OPTIMIZED_CLIF.with(|l| {
        if let Some(text) = l.borrow_mut().as_mut() {
            text.push_str(&format!("; {name}\n{}\n", ctx.func.display()));
        }
    });
    if let Some(code) = ctx.compiled_code() {
        let size = code.code_buffer().len();
        DEFINED.with(|d| {
            if let Some(list) = d.borrow_mut().as_mut() {
                list.push((id, name.to_string(), size));
            }
        });
    }
    if let Some(code) = ctx.compiled_code().and_then(|c| c.vcode.as_ref()) {
        if env {
            eprintln!("; {name}\n{code}");
        }
        LISTING.with(|l| {
            if let Some(text) = l.borrow_mut().as_mut() {
                text.push_str(&format!("; {name}\n{code}\n"));
            }
        });
    }
}

thread_local! {
    /// The machine code listing being collected on this thread, if any.
    static LISTING: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

thread_local! {
    /// The Cranelift IR after Cranelift's own passes, being collected on
    /// this thread, if any.
    static OPTIMIZED_CLIF: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

thread_local! {
    /// Functions defined on this thread, with their code sizes, when asked.
    static DEFINED: std::cell::RefCell<Option<Vec<(FuncId, String, usize)>>> =
        const { std::cell::RefCell::new(None) };
}

/// Runs `f` (which defines functions), returning its result and every
/// function it defined: id, name, bytes of machine code (for a perf map).
pub fn with_defined<R>(f: impl FnOnce() -> R) -> (R, Vec<(FuncId, String, usize)>) {
    DEFINED.with(|d| *d.borrow_mut() = Some(Vec::new()));
    let r = f();
    let list = DEFINED.with(|d| d.borrow_mut().take()).unwrap_or_default();
    (r, list)
}

/// Runs `f` (which defines functions), returning its result and the
/// machine code of every function it defined, as text.
pub fn with_listing<R>(f: impl FnOnce() -> R) -> (R, String) {
    LISTING.with(|l| *l.borrow_mut() = Some(String::new()));
    let r = f();
    let text = LISTING.with(|l| l.borrow_mut().take()).unwrap_or_default();
    (r, text)
}

/// Runs `f` (which defines functions), returning its result and the
/// Cranelift IR of every function it defined as Cranelift optimized it
/// (what instruction selection saw): where its loop-invariant code motion
/// put each value.
pub fn with_optimized_clif<R>(f: impl FnOnce() -> R) -> (R, String) {
    OPTIMIZED_CLIF.with(|l| *l.borrow_mut() = Some(String::new()));
    let r = f();
    let text = OPTIMIZED_CLIF
        .with(|l| l.borrow_mut().take())
        .unwrap_or_default();
    (r, text)
}

/// A parallel loop body to define as its own function
/// `int32_t body(const uint64_t* ctx, int64_t lo, int64_t hi)`.
struct Outline {
    id: FuncId,
    op: OpId,
    captures: Vec<Capture>,
}

/// An access in the fast copy of a versioned loop: proven in bounds, on a
/// unit last stride, at `base + iv * step + disp` (`step` absent:
/// invariant). `disp` holds the constant part of the last index in bytes,
/// so that accesses a few elements apart (a stencil's `x - 1` and `x + 1`,
/// conv2d's second vector at `x + 4`) share one base register and differ
/// in their displacement.
#[derive(Clone, Copy)]
struct FastAddr {
    base: Value,
    step: Option<Value>,
    disp: i32,
    iv: ValueId,
}

/// A value the body uses from outside it, in 8-byte context slots.
#[derive(Clone)]
enum Capture {
    Scalar(ValueId, types::Type),
    /// A constant, or a vector of one: made again inside the body rather
    /// than passed. Loaded from the context it would live in a register
    /// across the whole body, calls included, and Cranelift's allocator
    /// then spills and reloads it inside inner loops (blur's `3.0`
    /// divisor cost a store and a reload per vector); as a constant,
    /// Cranelift places it next to its uses.
    Constant(ValueId),
    Buffer {
        value: ValueId,
        elem: ScalarType,
        rank: usize,
        name: String,
    },
}

/// A reference to function `id` from `func`. In the JIT (not PIC) every
/// reference is absolute: the JIT maps code and data in separate pools
/// that can land more than 2 GiB apart (a large kernel, a thousand
/// thread stacks between them), out of reach of a 32-bit PC-relative
/// call or load. Objects (PIC) let the linker resolve them.
pub(super) fn func_ref_in<M: Module>(
    module: &mut M,
    id: FuncId,
    func: &mut cranelift_codegen::ir::Function,
) -> FuncRef {
    let r = module.declare_func_in_func(id, func);
    if !module.isa().flags().is_pic() {
        func.dfg.ext_funcs[r].colocated = false;
    }
    r
}

impl<M: Module> FnLower<'_, '_, M> {
    fn func_ref(&mut self, id: FuncId) -> FuncRef {
        if let Some(&r) = self.refs.get(&id) {
            return r;
        }
        let r = func_ref_in(self.module, id, self.b.func);
        self.refs.insert(id, r);
        r
    }

    fn call(&mut self, id: FuncId, args: &[Value]) -> Option<Value> {
        let f = self.func_ref(id);
        let inst = self.b.ins().call(f, args);
        self.b.inst_results(inst).first().copied()
    }

    fn iconst(&mut self, t: types::Type, v: i64) -> Value {
        // immediates are the sign-extended bit pattern of the value at width `t`
        let bits = t.bits();
        let v = if bits < 64 {
            (v << (64 - bits)) >> (64 - bits)
        } else {
            v
        };
        self.b.ins().iconst(t, v)
    }

    /// A static message in the module's data; returns (pointer, length).
    fn message(&mut self, text: &str) -> Result<(Value, Value), CodegenError> {
        let gv = match self.messages.get(text) {
            Some(&gv) => gv,
            None => {
                let id = self.module.declare_anonymous_data(false, false)?;
                let mut d = DataDescription::new();
                d.define(text.as_bytes().to_vec().into_boxed_slice());
                self.module.define_data(id, &d)?;
                let gv = self.module.declare_data_in_func(id, self.b.func);
                // absolute in the JIT, as [`func_ref_in`] says
                if !self.module.isa().flags().is_pic()
                    && let cranelift_codegen::ir::GlobalValueData::Symbol { colocated, .. } =
                        &mut self.b.func.global_values[gv]
                {
                    *colocated = false;
                }
                self.messages.insert(text.to_string(), gv);
                gv
            }
        };
        let p = self.b.ins().symbol_value(self.ptr, gv);
        let len = self.iconst(self.ptr, text.len() as i64);
        Ok((p, len))
    }

    /// Continues when `ok` is non-zero; otherwise records `message` and
    /// returns `code` (after freeing live intermediates).
    fn check(
        &mut self,
        ok: Value,
        code: i32,
        message: &str,
        a: Value,
        b: Value,
    ) -> Result<(), CodegenError> {
        let cont = self.b.create_block();
        let fail = self.b.create_block();
        // the failing edge first: see [`Lowerer::simple_loop`] on successor order
        let bad = self.b.ins().icmp_imm_s(IntCC::Equal, ok, 0);
        self.b.ins().brif(bad, fail, &[], cont, &[]);
        self.b.switch_to_block(fail);
        self.fail_with(code, message, a, b)?;
        self.b.switch_to_block(cont);
        Ok(())
    }

    /// Checks an access whose indices `idx` into `shape` are all inside
    /// when `ok` is set (the last dim's `lanes` consecutive indices, for a
    /// vector); when not, the cold path finds the first dim that is
    /// outside and names it, with its index and extent: `access` is what
    /// the message calls it ("read of `t`").
    fn check_access(
        &mut self,
        ok: Value,
        access: &str,
        at: &str,
        idx: &[Value],
        shape: &[Value],
        lanes: i64,
    ) -> Result<(), CodegenError> {
        let rank = idx.len().min(shape.len());
        if rank == 0 {
            return Ok(());
        }
        let cont = self.b.create_block();
        let fail = self.b.create_block();
        // the failing edge first: see [`Lowerer::simple_loop`] on successor order
        let bad = self.b.ins().icmp_imm_s(IntCC::Equal, ok, 0);
        self.b.ins().brif(bad, fail, &[], cont, &[]);
        self.b.switch_to_block(fail);
        for k in 0..rank {
            let vector_dim = k + 1 == rank && lanes > 1;
            let msg = checks::out_of_bounds(access, at, k, vector_dim);
            if k + 1 < rank {
                // this dim is inside: look at the next one
                let inside = self.b.ins().icmp(IntCC::UnsignedLessThan, idx[k], shape[k]);
                let next = self.b.create_block();
                let here = self.b.create_block();
                self.b.ins().brif(inside, next, &[], here, &[]);
                self.b.switch_to_block(here);
                self.fail_with(status::OUT_OF_BOUNDS, &msg, idx[k], shape[k])?;
                self.b.switch_to_block(next);
            } else {
                // the others were inside, so this one is not
                self.fail_with(status::OUT_OF_BOUNDS, &msg, idx[k], shape[k])?;
            }
        }
        self.b.switch_to_block(cont);
        Ok(())
    }

    /// Ends the current block with `pj_rt_fail(code, message, a, b)` and a
    /// jump to the failure exit.
    fn fail_with(
        &mut self,
        code: i32,
        message: &str,
        a: Value,
        b: Value,
    ) -> Result<(), CodegenError> {
        let (p, len) = self.message(message)?;
        let c = self.iconst(types::I32, i64::from(code));
        let st = self
            .call(self.rt.fail, &[c, p, len, a, b])
            .expect("pj_rt_fail returns its code");
        self.b.ins().jump(self.fail_exit, &[BlockArg::Value(st)]);
        Ok(())
    }

    fn zero64(&mut self) -> Value {
        self.iconst(types::I64, 0)
    }

    fn scalar(&self, v: ValueId) -> Value {
        match &self.vals[&v] {
            CVal::S(x) => *x,
            CVal::B(_) => panic!("buffer used as a scalar (unverified IR)"),
        }
    }

    fn buffer(&self, v: ValueId) -> Buf {
        match &self.vals[&v] {
            CVal::B(b) => b.clone(),
            CVal::S(_) => panic!("scalar used as a buffer (unverified IR)"),
        }
    }

    /// In a kernel's body (`rows_contiguous`), the last stride of `buf` is
    /// the constant 1: what [`FnLower::row_major_entry`] guarantees.
    fn rows_are_contiguous(&mut self, buf: &mut Buf) {
        if self.rows_contiguous
            && let Some(last) = buf.strides.last_mut()
        {
            *last = self.iconst(types::I64, 1);
        }
    }

    /// A kernel's exported function: checks the arguments as the body
    /// does, then calls the body `body` (same signature) with them when
    /// every array's rows are contiguous; else with row-major copies of
    /// the arrays whose last stride is not 1 (`pj_rt_contiguous`), copying
    /// results back after success and freeing the copies on every path.
    /// The body then needs no path for another stride: its vector
    /// accesses are one instruction each (qdot's quick tier compiled a
    /// byte-by-byte gather beside every checked vector load).
    fn row_major_entry(&mut self, func: OpId, body_fn: FuncId) -> Result<(), CodegenError> {
        let ir = self.ir;
        let sig = signature(ir, func);
        let n_params = sig.params.len();
        let names = sig.arg_names();
        let params = self.open_function();
        let body = ir.entry_block(func, 0);
        let args = ir.block(body).args.clone();
        // the copies' table, empty before the first check can fail
        let arrays = args
            .iter()
            .filter(|&&a| !matches!(ir.ty(a), IrType::Scalar(_)))
            .count();
        let table = self.b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            (16 * arrays) as u32,
            3,
        ));
        let null = self.iconst(self.ptr, 0);
        for k in 0..arrays {
            self.set_alloc_entry(table, k, null, null);
        }
        self.alloc_table = Some(table);
        self.table_entries = arrays;
        let mut bufs = Vec::new();
        for (i, (&arg, &p)) in args.iter().zip(&params).enumerate() {
            if matches!(ir.ty(arg), IrType::Scalar(_)) {
                self.vals.insert(arg, CVal::S(p));
            } else {
                let b = self.load_descriptor(p, ir.ty(arg), &names[i])?;
                self.vals.insert(arg, CVal::B(b.clone()));
                bufs.push((i, b));
            }
        }
        for (i, b) in &bufs {
            if *i >= n_params {
                self.check_result_layout(b)?;
            }
        }
        self.check_no_overlap(body, n_params, &names)?;
        // every row contiguous: the body on the arguments as they are
        let mut rows_ok = self.iconst(types::I8, 1);
        for (_, b) in &bufs {
            if let Some(&st) = b.strides.last() {
                let unit = self.b.ins().icmp_imm_s(IntCC::Equal, st, 1);
                rows_ok = self.b.ins().band(rows_ok, unit);
            }
        }
        let direct = self.b.create_block();
        let copying = self.b.create_block();
        self.b.ins().brif(rows_ok, direct, &[], copying, &[]);
        self.b.switch_to_block(direct);
        let st = self.call(body_fn, &params).expect("a status");
        self.b.ins().return_(&[st]);
        self.b.switch_to_block(copying);
        let desc_bytes = std::mem::size_of::<pj_runtime::PjBuffer>() as u32;
        let mut operands = params.clone();
        let mut copies = Vec::new();
        for (k, (i, b)) in bufs.iter().enumerate() {
            let slot = self.b.create_sized_stack_slot(StackSlotData::new(
                StackSlotKind::ExplicitSlot,
                desc_bytes,
                3,
            ));
            let desc = self.b.ins().stack_addr(self.ptr, slot, 0);
            let copy_in = self.iconst(types::I32, i64::from(*i < n_params));
            let bytes = self
                .call(self.rt.contiguous, &[desc, params[*i], copy_in])
                .expect("returns the bytes copied");
            let ok = self
                .b
                .ins()
                .icmp_imm_s(IntCC::SignedGreaterThanOrEqual, bytes, 0);
            let z = self.zero64();
            self.check(
                ok,
                status::OUT_OF_MEMORY,
                &checks::contiguous_copy_failed(&b.name),
                z,
                z,
            )?;
            let data = self.b.ins().load(
                self.ptr,
                MemFlagsData::trusted(),
                desc,
                offsets::DATA as i32,
            );
            self.set_alloc_entry(table, k, data, bytes);
            operands[*i] = desc;
            copies.push((k, *i, desc));
        }
        let st = self.call(body_fn, &operands).expect("a status");
        let cont = self.b.create_block();
        self.b
            .ins()
            .brif(st, self.fail_exit, &[BlockArg::Value(st)], cont, &[]);
        self.b.switch_to_block(cont);
        for &(_, i, desc) in copies.iter().filter(|(_, i, _)| *i >= n_params) {
            self.call(self.rt.copy_back, &[params[i], desc]);
        }
        for &(k, _, _) in &copies {
            let (p, n) = self.alloc_entry(table, k);
            self.call(self.rt.free, &[p, n]);
        }
        let zero = self.iconst(types::I32, 0);
        self.b.ins().return_(&[zero]);
        self.failure_exit();
        Ok(())
    }

    /// The entry block, with the function's parameters (returned), and the
    /// failure exit; continues in the entry block.
    fn open_function(&mut self) -> Vec<Value> {
        let entry = self.b.create_block();
        self.b.append_block_params_for_function_params(entry);
        self.fail_exit = self.b.create_block();
        self.b.append_block_param(self.fail_exit, types::I32);
        self.b.switch_to_block(entry);
        self.b.block_params(entry).to_vec()
    }

    fn function(&mut self, func: OpId) -> Result<(), CodegenError> {
        let ir = self.ir;
        let sig = signature(ir, func);
        let names = sig.arg_names();
        let params = self.open_function();
        let body = ir.entry_block(func, 0);
        self.declare_allocs(body);
        for (i, (&arg, &p)) in ir.block(body).args.iter().zip(&params).enumerate() {
            let v = match ir.ty(arg) {
                IrType::Scalar(_) => CVal::S(p),
                t => CVal::B(self.load_descriptor(p, t, &names[i])?),
            };
            self.vals.insert(arg, v);
        }
        // a kernel's body: its entry checked the layouts
        if !self.rows_contiguous {
            for &arg in &ir.block(body).args[sig.params.len()..] {
                if let CVal::B(b) = &self.vals[&arg] {
                    let b = b.clone();
                    self.check_result_layout(&b)?;
                }
            }
            self.check_no_overlap(body, sig.params.len(), &names)?;
        }
        self.block(body)?;
        self.failure_exit();
        Ok(())
    }

    /// Fails with `BAD_ARGUMENT` when a result's memory may overlap an
    /// array argument's: the kernel reads its inputs as memory nothing
    /// writes while it runs (Cranelift may then move and merge those
    /// loads), and a result written over an input would make its values
    /// depend on the schedule. Conservative: the byte ranges spanned,
    /// strides of either sign included, are compared, so two interleaved
    /// views of one array count as overlapping.
    fn check_no_overlap(
        &mut self,
        body: BlockId,
        n_params: usize,
        names: &[String],
    ) -> Result<(), CodegenError> {
        let ir = self.ir;
        let args = ir.block(body).args.clone();
        let buffers: Vec<(usize, Buf)> = args
            .iter()
            .enumerate()
            .filter_map(|(i, a)| match &self.vals[a] {
                CVal::B(b) => Some((i, b.clone())),
                CVal::S(_) => None,
            })
            .collect();
        let spans: Vec<(usize, Value, Value)> = buffers
            .iter()
            .map(|(i, b)| {
                let (lo, hi) = self.byte_span(b);
                (*i, lo, hi)
            })
            .collect();
        for &(r, rlo, rhi) in spans.iter().filter(|s| s.0 >= n_params) {
            for &(a, alo, ahi) in spans.iter().filter(|s| s.0 < n_params) {
                let x = self.b.ins().icmp(IntCC::UnsignedLessThan, rlo, ahi);
                let y = self.b.ins().icmp(IntCC::UnsignedLessThan, alo, rhi);
                let overlap = self.b.ins().band(x, y);
                let ok = self.b.ins().icmp_imm_s(IntCC::Equal, overlap, 0);
                let z = self.zero64();
                let msg = checks::overlap(&names[r], &names[a]);
                self.check(ok, status::BAD_ARGUMENT, &msg, z, z)?;
            }
        }
        Ok(())
    }

    /// The bytes `[lo, hi)` a buffer's elements span (empty, `[0, 0)`,
    /// when any extent is zero).
    fn byte_span(&mut self, b: &Buf) -> (Value, Value) {
        let es = cl_type(b.elem).bytes() as i64;
        let z = self.iconst(types::I64, 0);
        let (mut lo, mut hi) = (z, z);
        let mut empty = self.iconst(types::I8, 0);
        for (&n, &st) in b.shape.iter().zip(&b.strides) {
            let is_empty = self.b.ins().icmp_imm_s(IntCC::SignedLessThanOrEqual, n, 0);
            empty = self.b.ins().bor(empty, is_empty);
            let last = self.b.ins().iadd_imm_s(n, -1);
            let ext = self.b.ins().imul(last, st);
            let ext = self.b.ins().imul_imm_s(ext, es);
            let neg = self.b.ins().smin(ext, z);
            let pos = self.b.ins().smax(ext, z);
            lo = self.b.ins().iadd(lo, neg);
            hi = self.b.ins().iadd(hi, pos);
        }
        let data = if self.ptr == types::I64 {
            b.data
        } else {
            self.b.ins().uextend(types::I64, b.data)
        };
        let lo = self.b.ins().iadd(data, lo);
        let hi = self.b.ins().iadd(data, hi);
        let hi = self.b.ins().iadd_imm_s(hi, es);
        (
            self.b.ins().select(empty, z, lo),
            self.b.ins().select(empty, z, hi),
        )
    }

    /// One entry (pointer, bytes) of the allocation table per `mem.alloc`
    /// under `block`, null until allocated and again after `mem.dealloc`,
    /// so a failure exit frees exactly what is live. Allocations inside
    /// nested parallel loops get entries here too, unused: their outlined
    /// bodies have their own table.
    fn declare_allocs(&mut self, block: BlockId) {
        let ir = self.ir;
        let mut ops = Vec::new();
        ir.walk_block(block, &mut |op| {
            if ir.op(op).opcode == Opcode::Mem(MemOp::Alloc) {
                ops.push(op);
            }
        });
        self.alloc_slot.clear();
        self.table_entries = ops.len();
        if ops.is_empty() {
            self.alloc_table = None;
            return;
        }
        let table = self.b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            (16 * ops.len()) as u32,
            3,
        ));
        let null = self.iconst(self.ptr, 0);
        for (k, op) in ops.into_iter().enumerate() {
            self.alloc_slot.insert(op, k);
            self.set_alloc_entry(table, k, null, null);
        }
        self.alloc_table = Some(table);
    }

    fn set_alloc_entry(&mut self, table: StackSlot, k: usize, p: Value, bytes: Value) {
        let ptr = self.ptr;
        self.b.ins().stack_store(ptr, p, table, (16 * k) as i32);
        self.b
            .ins()
            .stack_store(ptr, bytes, table, (16 * k + 8) as i32);
    }

    fn alloc_entry(&mut self, table: StackSlot, k: usize) -> (Value, Value) {
        let ptr = self.ptr;
        let p = self.b.ins().stack_load(ptr, ptr, table, (16 * k) as i32);
        let n = self
            .b
            .ins()
            .stack_load(ptr, ptr, table, (16 * k + 8) as i32);
        (p, n)
    }

    /// The shared failure exit: frees the live allocations, returns the code.
    fn failure_exit(&mut self) {
        self.b.switch_to_block(self.fail_exit);
        let code = self.b.block_params(self.fail_exit)[0];
        if let Some(table) = self.alloc_table {
            for k in 0..self.table_entries {
                let (p, n) = self.alloc_entry(table, k);
                self.call(self.rt.free, &[p, n]);
            }
        }
        self.b.ins().return_(&[code]);
    }

    /// Reads a `pj_buffer*` argument and checks its type and rank.
    fn load_descriptor(&mut self, p: Value, ty: &IrType, name: &str) -> Result<Buf, CodegenError> {
        let elem = ty.elem();
        let rank = ty.rank().unwrap_or(0);
        if self.rows_contiguous {
            // a kernel's body: its entry checked the descriptor
            return Ok(self.read_descriptor(p, elem, rank, name));
        }
        let zero = self.iconst(self.ptr, 0);
        let z64 = self.zero64();
        let nonnull = self.b.ins().icmp(IntCC::NotEqual, p, zero);
        self.check(
            nonnull,
            status::BAD_ARGUMENT,
            &checks::null_argument(name),
            z64,
            z64,
        )?;
        let flags = MemFlagsData::trusted();
        let et = self
            .b
            .ins()
            .load(types::I32, flags, p, offsets::ELEM_TYPE as i32);
        let rk = self
            .b
            .ins()
            .load(types::I32, flags, p, offsets::RANK as i32);
        let want_et = self.iconst(types::I32, elem_code(elem) as i64);
        let want_rk = self.iconst(types::I32, rank as i64);
        let ok1 = self.b.ins().icmp(IntCC::Equal, et, want_et);
        let ok2 = self.b.ins().icmp(IntCC::Equal, rk, want_rk);
        let ok = self.b.ins().band(ok1, ok2);
        let (a, b) = (
            self.b.ins().sextend(types::I64, et),
            self.b.ins().sextend(types::I64, rk),
        );
        let msg = checks::wrong_type(name, elem, rank);
        self.check(ok, status::BAD_ARGUMENT, &msg, a, b)?;
        let buf = self.read_descriptor(p, elem, rank, name);
        self.check_descriptor(&buf)?;
        Ok(buf)
    }

    /// The data pointer, shape and strides of descriptor `p` (the last
    /// stride the constant 1 in a kernel's body).
    fn read_descriptor(&mut self, p: Value, elem: ScalarType, rank: usize, name: &str) -> Buf {
        let flags = MemFlagsData::trusted();
        let data = self.b.ins().load(self.ptr, flags, p, offsets::DATA as i32);
        let mut shape = Vec::new();
        let mut strides = Vec::new();
        for d in 0..rank {
            shape.push(
                self.b
                    .ins()
                    .load(types::I64, flags, p, (offsets::SHAPE + 8 * d) as i32),
            );
            strides.push(self.b.ins().load(
                types::I64,
                flags,
                p,
                (offsets::STRIDES + 8 * d) as i32,
            ));
        }
        let mut buf = Buf {
            data,
            shape,
            strides,
            elem,
            name: name.to_string(),
            alloc: None,
        };
        self.rows_are_contiguous(&mut buf);
        buf
    }

    /// Refuses a descriptor no array can have, before anything uses it: a
    /// negative extent, a non-empty array at NULL, or strides whose
    /// elements span 2^62 bytes or more (so no later address or overlap
    /// computation can overflow). Extents over 2^48 are refused by the
    /// lowered kernel's own checks, worded as the interpreter words them.
    fn check_descriptor(&mut self, b: &Buf) -> Result<(), CodegenError> {
        let name = b.name.clone();
        let z64 = self.zero64();
        let es = cl_type(b.elem).bytes() as i64;
        let mut empty = self.iconst(types::I8, 0);
        for (d, &n) in b.shape.iter().enumerate() {
            let ok = self
                .b
                .ins()
                .icmp_imm_s(IntCC::SignedGreaterThanOrEqual, n, 0);
            let msg = checks::negative_extent(&name, d);
            self.check(ok, status::BAD_ARGUMENT, &msg, n, z64)?;
            let is_empty = self.b.ins().icmp_imm_s(IntCC::Equal, n, 0);
            empty = self.b.ins().bor(empty, is_empty);
        }
        // the bytes spanned: sum over dims of (extent - 1) * |stride| * size
        let mut span = z64;
        let mut overflow = self.iconst(types::I8, 0);
        for (&n, &st) in b.shape.iter().zip(&b.strides) {
            let last = self.b.ins().iadd_imm_s(n, -1);
            let last = self.b.ins().smax(last, z64);
            let abs = self.b.ins().iabs(st);
            let (steps, of1) = self.b.ins().umul_overflow(last, abs);
            let es_v = self.iconst(types::I64, es);
            let (bytes, of2) = self.b.ins().umul_overflow(steps, es_v);
            let (sum, of3) = self.b.ins().uadd_overflow(span, bytes);
            span = sum;
            for of in [of1, of2, of3] {
                overflow = self.b.ins().bor(overflow, of);
            }
        }
        // iabs(i64::MIN) is negative: count it as an overflow too
        let huge = self
            .b
            .ins()
            .icmp_imm_u(IntCC::UnsignedGreaterThanOrEqual, span, 1 << 62);
        overflow = self.b.ins().bor(overflow, huge);
        let fits = self.b.ins().icmp_imm_s(IntCC::Equal, overflow, 0);
        let ok = self.b.ins().bor(empty, fits);
        let msg = checks::span_too_large(&name);
        self.check(ok, status::BAD_ARGUMENT, &msg, span, z64)?;
        let null = self.iconst(self.ptr, 0);
        let nonnull = self.b.ins().icmp(IntCC::NotEqual, b.data, null);
        let ok = self.b.ins().bor(empty, nonnull);
        let msg = checks::null_data(&name);
        self.check(ok, status::BAD_ARGUMENT, &msg, z64, z64)?;
        Ok(())
    }

    /// Refuses a result whose layout maps two indices to one element
    /// (a stride of 0, or rows that overlap): writes would collide.
    /// Checked pairwise: every two dims longer than 1 must nest, one's
    /// stride stepping over the other's whole extent, which, sorted by
    /// stride, is the usual sufficient condition for distinct addresses.
    fn check_result_layout(&mut self, b: &Buf) -> Result<(), CodegenError> {
        let name = b.name.clone();
        let z64 = self.zero64();
        let one = self.iconst(types::I8, 1);
        // an empty result is never written, whatever its strides
        let mut ok = self.iconst(types::I8, 0);
        for &n in &b.shape {
            let is_empty = self.b.ins().icmp_imm_s(IntCC::Equal, n, 0);
            ok = self.b.ins().bor(ok, is_empty);
        }
        let dims: Vec<(Value, Value, Value)> = b
            .shape
            .iter()
            .zip(&b.strides)
            .map(|(&n, &st)| {
                let long = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThan, n, 1);
                (n, self.b.ins().iabs(st), long)
            })
            .collect();
        let mut layout_ok = one;
        for (i, &(_, st, long)) in dims.iter().enumerate() {
            let moves = self.b.ins().icmp_imm_s(IntCC::NotEqual, st, 0);
            let short = self.b.ins().bxor(long, one);
            let fine = self.b.ins().bor(short, moves);
            layout_ok = self.b.ins().band(layout_ok, fine);
            for &(nj, stj, longj) in &dims[i + 1..] {
                let (ni, sti) = (dims[i].0, st);
                // the span check bounds these products below 2^63
                let over_j = self.b.ins().imul(stj, nj);
                let over_i = self.b.ins().imul(sti, ni);
                let a = self
                    .b
                    .ins()
                    .icmp(IntCC::SignedGreaterThanOrEqual, sti, over_j);
                let c = self
                    .b
                    .ins()
                    .icmp(IntCC::SignedGreaterThanOrEqual, stj, over_i);
                let nests = self.b.ins().bor(a, c);
                let both = self.b.ins().band(long, longj);
                let apart = self.b.ins().bxor(both, one);
                let fine = self.b.ins().bor(apart, nests);
                layout_ok = self.b.ins().band(layout_ok, fine);
            }
        }
        let ok = self.b.ins().bor(ok, layout_ok);
        let msg = checks::result_aliases(&name);
        self.check(ok, status::BAD_ARGUMENT, &msg, z64, z64)
    }

    /// Lowers the ops of `block`; returns the values a `loop.yield` ends it with.
    fn block(&mut self, block: BlockId) -> Result<Vec<Value>, CodegenError> {
        let ir = self.ir;
        for &op in &ir.block(block).ops {
            let d = ir.op(op);
            match d.opcode {
                Opcode::Loop(LoopOp::Yield) => {
                    return Ok(d.operands.iter().map(|&v| self.scalar(v)).collect());
                }
                Opcode::Func(FuncOp::Return) => {
                    let ok = self.iconst(types::I32, 0);
                    self.b.ins().return_(&[ok]);
                    return Ok(vec![]);
                }
                _ => self.op(op)?,
            }
        }
        Ok(vec![])
    }

    fn at(&self, op: OpId) -> String {
        checks::location(self.ir, op)
    }

    fn op(&mut self, op: OpId) -> Result<(), CodegenError> {
        let ir = self.ir;
        let d = ir.op(op);
        let result_ty = d.results.first().map(|&r| ir.ty(r).clone());
        let vector_result = d
            .results
            .first()
            .is_some_and(|&r| matches!(ir.ty(r), IrType::Vector { .. }));
        let value: Option<Value> = match d.opcode {
            Opcode::Arith(ArithOp::Cast) if vector_result => Some(self.vector_cast(op)),
            Opcode::Arith(a) if vector_result => Some(self.vector_arith(op, a)?),
            Opcode::Vector(v) => self.vector(op, v)?,
            Opcode::Arith(a) => Some(self.arith(op, a)?),
            Opcode::Math(mo) => Some(self.math(op, mo)),
            Opcode::Loop(LoopOp::For) => {
                self.for_loop(op)?;
                None
            }
            Opcode::Loop(LoopOp::Parallel) => {
                self.parallel_loop(op)?;
                None
            }
            Opcode::Loop(LoopOp::Threads) => self.call(self.rt.threads, &[]),
            Opcode::Mem(MemOp::Dim) => {
                let k = d.attr("dim").and_then(Attr::as_int).unwrap_or(0) as usize;
                Some(self.buffer(d.operands[0]).shape[k])
            }
            Opcode::Mem(MemOp::Load) => Some(self.load(op)?),
            Opcode::Mem(MemOp::Store) => {
                self.store(op)?;
                None
            }
            Opcode::Mem(MemOp::Alloc) => {
                self.alloc(op)?;
                None
            }
            Opcode::Mem(MemOp::Dealloc) => {
                let buf = self.buffer(d.operands[0]);
                if let (Some(k), Some(table)) = (buf.alloc, self.alloc_table) {
                    let (p, n) = self.alloc_entry(table, k);
                    self.call(self.rt.free, &[p, n]);
                    let null = self.iconst(self.ptr, 0);
                    self.set_alloc_entry(table, k, null, null);
                }
                None
            }
            Opcode::Func(FuncOp::Check) => {
                let ok = self.scalar(d.operands[0]);
                let z = self.zero64();
                let a = d.operands.get(1).map_or(z, |&v| self.scalar(v));
                let b = d.operands.get(2).map_or(z, |&v| self.scalar(v));
                let code = d.attr("code").and_then(Attr::as_int).unwrap_or(1) as i32;
                let msg = d
                    .attr("message")
                    .and_then(Attr::as_str)
                    .unwrap_or("check failed")
                    .to_string();
                self.check(ok, code, &msg, a, b)?;
                None
            }
            Opcode::Func(FuncOp::Func | FuncOp::Return) | Opcode::Loop(LoopOp::Yield) => {
                unreachable!("handled by the caller")
            }
            Opcode::Pj(p) => {
                return Err(super::unsupported(format!(
                    "`pj.{}` reached code generation: run `lower-stages` first",
                    p.mnemonic()
                )));
            }
            Opcode::Quant(q) => {
                return Err(super::unsupported(format!(
                    "`quant.{}` reached code generation: run `lower-quant` first",
                    q.mnemonic()
                )));
            }
        };
        if let (Some(v), Some(_)) = (value, result_ty) {
            self.vals.insert(d.results[0], CVal::S(v));
        }
        Ok(())
    }

    fn for_loop(&mut self, op: OpId) -> Result<(), CodegenError> {
        let ir = self.ir;
        let d = ir.op(op);
        let (lb, ub, step) = (
            self.scalar(d.operands[0]),
            self.scalar(d.operands[1]),
            self.scalar(d.operands[2]),
        );
        let inits: Vec<Value> = d.operands[3..].iter().map(|&v| self.scalar(v)).collect();
        let tys: Vec<types::Type> = d.operands[3..]
            .iter()
            .map(|&v| cl_value_type(ir.ty(v)))
            .collect();
        let step_const = ir
            .def_op(d.operands[2])
            .and_then(|o| ir.op(o).attr("value"))
            .and_then(Attr::as_int);
        if step_const.is_none() {
            // a step of 0 would loop forever (the verifier refuses constant ones)
            let ok = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThan, step, 0);
            let msg = checks::loop_step(&self.at(op));
            let z = self.zero64();
            self.check(ok, status::OUT_OF_BOUNDS, &msg, step, z)?;
        }
        let step_const = if versioning::worth_a_precheck(ir, op) {
            step_const
        } else {
            None
        };
        let edge = versioning::is_edge(ir, op);
        self.unversioned += u32::from(edge);
        let results = self.plain_loop(
            lb,
            ub,
            step,
            step_const,
            ir.entry_block(op, 0),
            &inits,
            &tys,
        );
        self.unversioned -= u32::from(edge);
        for (r, v) in d.results.iter().zip(results?) {
            self.vals.insert(*r, CVal::S(v));
        }
        Ok(())
    }

    /// `for iv in lb..ub by step { region }` with no carried values. Loads
    /// whose checks a precheck at entry can cover get a second copy of the
    /// loop without those checks, taken when the precheck passes.
    #[allow(clippy::too_many_arguments)]
    fn plain_loop(
        &mut self,
        lb: Value,
        ub: Value,
        step: Value,
        step_const: Option<i64>,
        region: BlockId,
        inits: &[Value],
        tys: &[types::Type],
    ) -> Result<Vec<Value>, CodegenError> {
        // at the quick tier, only loops without loops in them: versioning
        // an outer loop copies every loop nested in it (and versions those
        // again in both copies) to save a check or an address computation
        // per outer iteration (conv2d's twelve stores per block of columns:
        // 7% of its run time, 60% more to compile)
        let innermost = versioning::is_innermost(self.ir, region);
        let loads = if step_const.is_some_and(|s| s > 0)
            && self.unversioned == 0
            && (innermost || self.tier == Tier::Optimizing)
        {
            let ir = self.ir;
            let vals = &self.vals;
            versioning::versionable_loads(ir, region, &|x| vals.contains_key(&x))
        } else {
            Vec::new()
        };
        if loads.is_empty() {
            return self.simple_loop(lb, ub, step, region, inits, tys);
        }
        // the last iteration: lb + ((ub - lb - 1) / step) * step, when ub > lb;
        // for a power-of-two step a mask instead of a division (loops here
        // are often short: the precheck must stay cheap)
        let span = self.b.ins().isub(ub, lb);
        let span = self.b.ins().iadd_imm_s(span, -1);
        let k = match step_const {
            Some(1) => span,
            Some(c) if c > 0 && (c as u64).is_power_of_two() => self.b.ins().band_imm_s(span, -c),
            _ => {
                let q = self.b.ins().sdiv(span, step);
                self.b.ins().imul(q, step)
            }
        };
        let last = self.b.ins().iadd(lb, k);
        let mut ok = self.b.ins().icmp(IntCC::SignedLessThan, lb, ub);
        let zero = self.zero64();
        let mut fast_addrs = Vec::new();
        for (op, forms) in &loads {
            let d = self.ir.op(*op);
            let store = matches!(
                d.opcode,
                Opcode::Mem(MemOp::Store) | Opcode::Vector(VectorOp::Store)
            );
            let buf = self.buffer(d.operands[usize::from(store)]);
            let value_ty = if store {
                self.ir.ty(d.operands[0])
            } else {
                self.ir.ty(d.results[0])
            };
            let lanes = value_ty.lanes().unwrap_or(1) as i64;
            // the fast copy addresses the element as `base + iv * step`,
            // both computed here, once; it needs a unit last stride
            let elem_bytes = cl_type(buf.elem).bytes() as i64;
            let mut offset = self.zero64();
            let mut step_elems: Option<Value> = None;
            // constant terms of the last index, in elements
            let mut disp_elems: i64 = 0;
            for (dim, f) in forms.iter().enumerate() {
                // the precheck below requires a unit last stride: a constant
                // step lets the address fold into the access
                let stride = if dim + 1 == forms.len() {
                    self.iconst(types::I64, 1)
                } else {
                    buf.strides[dim]
                };
                let parts: Vec<(Value, bool)> = match f {
                    IndexForm::Invariant(v) => vec![(self.scalar(*v), false)],
                    IndexForm::Shifted(terms, k) => {
                        let st = self.b.ins().imul_imm_s(stride, *k);
                        step_elems = Some(match step_elems {
                            None => st,
                            Some(s0) => self.b.ins().iadd(s0, st),
                        });
                        terms.iter().map(|&(t, n)| (self.scalar(t), n)).collect()
                    }
                };
                let last_dim = dim + 1 == forms.len();
                let parts: Vec<(Value, bool)> = parts
                    .into_iter()
                    .filter(|&(x, neg)| {
                        let c = last_dim
                            .then(|| self.b.func.dfg.value_def(x).inst())
                            .flatten()
                            .and_then(|i| match self.b.func.dfg.insts[i] {
                                cranelift_codegen::ir::InstructionData::UnaryImm {
                                    opcode: cranelift_codegen::ir::Opcode::Iconst,
                                    imm,
                                } => Some(imm.bits()),
                                _ => None,
                            });
                        match c {
                            Some(c) if c.unsigned_abs() < 1 << 20 => {
                                disp_elems += if neg { -c } else { c };
                                false
                            }
                            _ => true,
                        }
                    })
                    .collect();
                for (x, neg) in parts {
                    let scaled = self.b.ins().imul(x, stride);
                    offset = if neg {
                        self.b.ins().isub(offset, scaled)
                    } else {
                        self.b.ins().iadd(offset, scaled)
                    };
                }
            }
            if !self.rows_contiguous {
                let last_stride = *buf.strides.last().expect("rank >= 1");
                let unit = self.b.ins().icmp_imm_s(IntCC::Equal, last_stride, 1);
                ok = self.b.ins().band(ok, unit);
            }
            let off_bytes = self.b.ins().imul_imm_s(offset, elem_bytes);
            let off_bytes = if self.ptr == types::I64 {
                off_bytes
            } else {
                self.b.ins().ireduce(self.ptr, off_bytes)
            };
            let base = self.b.ins().iadd(buf.data, off_bytes);
            let step = step_elems.map(|s| self.b.ins().imul_imm_s(s, elem_bytes));
            let disp = (disp_elems * elem_bytes) as i32;
            fast_addrs.push((*op, base, step, disp));
            for (dim, f) in forms.iter().enumerate() {
                let n = buf.shape[dim];
                let extra = if dim + 1 == forms.len() { lanes - 1 } else { 0 };
                let (lo, hi) = match f {
                    IndexForm::Invariant(v) => {
                        let x = self.scalar(*v);
                        (x, self.b.ins().iadd_imm_s(x, extra))
                    }
                    IndexForm::Shifted(terms, k) => {
                        let k = *k;
                        let terms: Vec<(Value, bool)> =
                            terms.iter().map(|&(t, n)| (self.scalar(t), n)).collect();
                        let shift = |s: &mut Self, x: Value| {
                            let mut x = s.b.ins().imul_imm_s(x, k);
                            for &(o, neg) in &terms {
                                x = if neg {
                                    s.b.ins().isub(x, o)
                                } else {
                                    s.b.ins().iadd(x, o)
                                };
                            }
                            x
                        };
                        let lo = shift(self, lb);
                        let hi = shift(self, last);
                        (lo, self.b.ins().iadd_imm_s(hi, extra))
                    }
                };
                let c1 = self.b.ins().icmp(IntCC::SignedGreaterThanOrEqual, lo, zero);
                let c2 = self.b.ins().icmp(IntCC::SignedLessThan, hi, n);
                let c = self.b.ins().band(c1, c2);
                ok = self.b.ins().band(ok, c);
            }
        }
        let fast = self.b.create_block();
        let slow = self.b.create_block();
        let join = self.b.create_block();
        let results: Vec<Value> = tys
            .iter()
            .map(|&t| self.b.append_block_param(join, t))
            .collect();
        self.b.ins().brif(ok, fast, &[], slow, &[]);
        self.b.switch_to_block(fast);
        let iv_ir = self.ir.block(region).args[0];
        for &(op, base, st, disp) in &fast_addrs {
            self.fast.insert(
                op,
                FastAddr {
                    base,
                    step: st,
                    disp,
                    iv: iv_ir,
                },
            );
        }
        let r = self.simple_loop(lb, ub, step, region, inits, tys)?;
        for (op, _, _, _) in &fast_addrs {
            self.fast.remove(op);
        }
        let args: Vec<BlockArg> = r.into_iter().map(BlockArg::Value).collect();
        self.b.ins().jump(join, &args);
        self.b.switch_to_block(slow);
        let r = self.simple_loop(lb, ub, step, region, inits, tys)?;
        let args: Vec<BlockArg> = r.into_iter().map(BlockArg::Value).collect();
        self.b.ins().jump(join, &args);
        self.b.switch_to_block(join);
        Ok(results)
    }

    /// The loop itself, rotated: a guard, the body (which tests at its end
    /// whether to run again) and the exit (left current); returns the
    /// carried values after the last iteration.
    ///
    /// Two choices here serve Cranelift's loop-invariant code motion, which
    /// happens while it walks the dominator tree visiting the children of a
    /// block in the reverse order of the branch's successors, and forgets a
    /// loop as soon as it visits a block outside it (cranelift-codegen
    /// 0.135, `egraph/elaborate.rs`). A loop whose header branches to
    /// `body, exit` has its exit visited first, and nothing in its body is
    /// hoisted; the same holds for a check inside a loop branching to
    /// `continue, fail`. So every branch that leaves a loop names the
    /// block outside first, and the loop's header is its body (the exit's
    /// dominator is the guard, outside the loop). Rotation also leaves one
    /// branch per iteration instead of two.
    fn simple_loop(
        &mut self,
        lb: Value,
        ub: Value,
        step: Value,
        region: BlockId,
        inits: &[Value],
        tys: &[types::Type],
    ) -> Result<Vec<Value>, CodegenError> {
        let body = self.b.create_block();
        let exit = self.b.create_block();
        let iv = self.b.append_block_param(body, types::I64);
        let carried: Vec<Value> = tys
            .iter()
            .map(|&t| self.b.append_block_param(body, t))
            .collect();
        let results: Vec<Value> = tys
            .iter()
            .map(|&t| self.b.append_block_param(exit, t))
            .collect();
        let args: Vec<BlockArg> = std::iter::once(lb)
            .chain(inits.iter().copied())
            .map(BlockArg::Value)
            .collect();
        let init_args: Vec<BlockArg> = inits.iter().map(|&v| BlockArg::Value(v)).collect();
        let none = self.b.ins().icmp(IntCC::SignedGreaterThanOrEqual, lb, ub);
        self.b.ins().brif(none, exit, &init_args, body, &args);
        self.b.switch_to_block(body);
        let rargs = self.ir.block(region).args.clone();
        self.vals.insert(rargs[0], CVal::S(iv));
        for (a, &c) in rargs[1..].iter().zip(&carried) {
            self.vals.insert(*a, CVal::S(c));
        }
        let next = self.block(region)?;
        let iv2 = self.b.ins().iadd(iv, step);
        let done = self.b.ins().icmp(IntCC::SignedGreaterThanOrEqual, iv2, ub);
        let exit_args: Vec<BlockArg> = next.iter().map(|&v| BlockArg::Value(v)).collect();
        let back: Vec<BlockArg> = std::iter::once(iv2)
            .chain(next)
            .map(BlockArg::Value)
            .collect();
        self.b.ins().brif(done, exit, &exit_args, body, &back);
        self.b.switch_to_block(exit);
        Ok(results)
    }

    /// `loop.parallel`: outlines the body and hands it to the runtime's pool.
    fn parallel_loop(&mut self, op: OpId) -> Result<(), CodegenError> {
        let ir = self.ir;
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
                CVal::S(x) => {
                    captures.push(Capture::Scalar(v, self.b.func.dfg.value_type(*x)));
                    values.push(*x);
                }
                CVal::B(b) => {
                    let rank = b.shape.len();
                    captures.push(Capture::Buffer {
                        value: v,
                        elem: b.elem,
                        rank,
                        name: b.name.clone(),
                    });
                    values.push(b.data);
                    values.extend(b.shape.iter().copied());
                    values.extend(b.strides.iter().copied());
                }
            }
        }
        // 16-byte slots, 16-byte aligned: room for a captured vector too
        let slot = self.b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            (16 * values.len().max(1)) as u32,
            4,
        ));
        for (i, &v) in values.iter().enumerate() {
            self.b.ins().stack_store(self.ptr, v, slot, (16 * i) as i32);
        }
        let ctx = self.b.ins().stack_addr(self.ptr, slot, 0);
        let s = sig(
            self.module,
            &[self.ptr, types::I64, types::I64],
            Some(types::I32),
        );
        let id = self.module.declare_anonymous_function(&s)?;
        let fref = func_ref_in(self.module, id, self.b.func);
        let body = self.b.ins().func_addr(self.ptr, fref);
        // the grain: an operand computed at run time, else the attribute
        let grain = match d.operands.get(2) {
            Some(&g) => self.scalar(g),
            None => {
                let g = d.attr("grain").and_then(Attr::as_int).unwrap_or(1);
                self.iconst(types::I64, g)
            }
        };
        let st = self
            .call(self.rt.parallel_for, &[lb, ub, grain, body, ctx])
            .expect("returns a status");
        let cont = self.b.create_block();
        // the chunk that failed has already recorded its message
        self.b
            .ins()
            .brif(st, self.fail_exit, &[BlockArg::Value(st)], cont, &[]);
        self.b.switch_to_block(cont);
        self.pending.push(Outline { id, op, captures });
        Ok(())
    }

    /// The body of an outlined parallel loop: unpack the context, run `lo..hi`.
    fn outlined(&mut self, o: &Outline) -> Result<(), CodegenError> {
        let ir = self.ir;
        let entry = self.b.create_block();
        self.b.append_block_params_for_function_params(entry);
        self.fail_exit = self.b.create_block();
        self.b.append_block_param(self.fail_exit, types::I32);
        self.b.switch_to_block(entry);
        let params = self.b.block_params(entry).to_vec();
        let (ctx, lo, hi) = (params[0], params[1], params[2]);
        let flags = MemFlagsData::trusted();
        let mut slot: i32 = 0;
        let mut next = |s: &mut Self, t: types::Type| {
            let v = s.b.ins().load(t, flags, ctx, 16 * slot);
            slot += 1;
            v
        };
        for c in &o.captures {
            match c {
                Capture::Scalar(v, t) => {
                    let x = next(self, *t);
                    self.vals.insert(*v, CVal::S(x));
                }
                Capture::Constant(v) => self.constant_expr(*v)?,
                Capture::Buffer {
                    value,
                    elem,
                    rank,
                    name,
                } => {
                    let data = next(self, self.ptr);
                    let shape: Vec<Value> = (0..*rank).map(|_| next(self, types::I64)).collect();
                    let strides: Vec<Value> = (0..*rank).map(|_| next(self, types::I64)).collect();
                    let mut buf = Buf {
                        data,
                        shape,
                        strides,
                        elem: *elem,
                        name: name.clone(),
                        alloc: None,
                    };
                    self.rows_are_contiguous(&mut buf);
                    self.vals.insert(*value, CVal::B(buf));
                }
            }
        }
        let region = ir.entry_block(o.op, 0);
        self.declare_allocs(region);
        let one = self.iconst(types::I64, 1);
        self.plain_loop(lo, hi, one, Some(1), region, &[], &[])?;
        let zero = self.iconst(types::I32, 0);
        self.b.ins().return_(&[zero]);
        self.failure_exit();
        Ok(())
    }

    /// Lowers the ops that compute `v`, a [`closure::is_constant_expr`], here.
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

    /// `max(x, c)` of float vectors for a constant `c` that is not NaN
    /// (ReLU's `max(x, 0.0)`): `c > x ? c : x` — a NaN `x` compares false
    /// and stays — plus `+0.0` when `c` is `+0.0`, which turns the `-0.0`
    /// the select keeps for `x = -0.0` into `+0.0` and changes nothing else.
    /// Bit for bit `fmax`, in one or two instructions on x86 (`maxps c, x`,
    /// then the `+0.0`) instead of Cranelift's general NaN- and
    /// zero-sign-correct sequence of ten.
    ///
    /// `min(x, c)` likewise: `c < x ? c : x`, for a constant `c` that is
    /// neither NaN nor `-0.0` (`min(+0.0, -0.0)` is `-0.0`, which the select
    /// would not give); for `c = +0.0` the select already gives `-0.0` for
    /// `x = -0.0`. Unsharp's `clamp(v, 0.0, 1.0)`.
    fn extremum_with_constant(
        &mut self,
        op: ArithOp,
        a: ValueId,
        b: ValueId,
        av: Value,
        bv: Value,
    ) -> Option<Value> {
        let ir = self.ir;
        let constant = |v: ValueId| -> Option<f64> {
            let d = ir.op(ir.def_op(v)?);
            let s = if d.opcode == Opcode::Vector(VectorOp::Broadcast) {
                ir.op(ir.def_op(d.operands[0])?)
            } else {
                d
            };
            if s.opcode != Opcode::Arith(ArithOp::Constant) {
                return None;
            }
            match s.attr("value")? {
                Attr::Float(f) => Some(*f),
                _ => None,
            }
        };
        let (x, c, cval) = match (constant(a), constant(b)) {
            (_, Some(c)) => (av, bv, c),
            (Some(c), None) => (bv, av, c),
            (None, None) => return None,
        };
        if cval.is_nan() || (op == ArithOp::Min && cval == 0.0 && cval.is_sign_negative()) {
            return None;
        }
        let vt = self.b.func.dfg.value_type(x);
        if op == ArithOp::Min {
            let lt = self.b.ins().fcmp(FloatCC::LessThan, c, x);
            let mask = self.b.ins().bitcast(vt, MemFlagsData::new(), lt);
            return Some(self.b.ins().bitselect(mask, c, x));
        }
        // `x < c`, not `c > x`: the form Cranelift's x86 backend turns
        // into one `maxps c, x` (the same select)
        let gt = self.b.ins().fcmp(FloatCC::LessThan, x, c);
        let mask = self.b.ins().bitcast(vt, MemFlagsData::new(), gt);
        let r = self.b.ins().bitselect(mask, c, x);
        if cval == 0.0 && cval.is_sign_positive() {
            let z = if vt.lane_type() == types::F32 {
                self.b.ins().f32const(0.0)
            } else {
                self.b.ins().f64const(0.0)
            };
            let z = self.b.ins().splat(vt, z);
            return Some(self.b.ins().fadd(r, z));
        }
        Some(r)
    }

    /// Elementwise arithmetic on vectors; lane by lane where Cranelift has
    /// no vector instruction for the type.
    fn vector_arith(&mut self, op: OpId, a: ArithOp) -> Result<Value, CodegenError> {
        let ir = self.ir;
        let d = ir.op(op);
        let vt = ir.ty(d.results[0]).clone();
        let (elem, lanes) = (vt.elem(), vt.lanes().expect("vector"));
        let ty = cl_value_type(&vt);
        let p = self.scalar(d.operands[0]);
        let q = d.operands.get(1).map(|&v| self.scalar(v));
        if a == ArithOp::Bitcast {
            // `f16`/`bf16` lanes are held as their bits already
            if self.b.func.dfg.value_type(p) == ty {
                return Ok(p);
            }
            let little = MemFlagsData::new().with_endianness(Endianness::Little);
            return Ok(self.b.ins().bitcast(ty, little, p));
        }
        if elem.is_float() {
            let q = q.unwrap_or(p);
            if matches!(a, ArithOp::Max | ArithOp::Min)
                && let Some(r) = self.extremum_with_constant(a, d.operands[0], d.operands[1], p, q)
            {
                return Ok(r);
            }
            return Ok(match a {
                ArithOp::Fma => {
                    let r = self.scalar(d.operands[2]);
                    self.b.ins().fma(p, q, r)
                }
                ArithOp::Add => self.b.ins().fadd(p, q),
                ArithOp::Sub => self.b.ins().fsub(p, q),
                ArithOp::Mul => self.b.ins().fmul(p, q),
                ArithOp::Div => self.b.ins().fdiv(p, q),
                ArithOp::Min => self.b.ins().fmin(p, q),
                ArithOp::Max => self.b.ins().fmax(p, q),
                ArithOp::Neg => self.b.ins().fneg(p),
                other => unreachable!("arith.{} on float vectors (verified)", other.mnemonic()),
            });
        }
        let signed = elem.is_signed_int();
        let narrow = cl_type(elem).bits() <= 32;
        Ok(match (a, q) {
            (ArithOp::Shr, _) => self.shift_right(op, signed, p),
            (ArithOp::Shl, _) => {
                let k = crate::dialects::arith::shift_amount(self.ir, op).expect("verified");
                self.b.ins().ishl_imm_u(p, i64::from(k))
            }
            (ArithOp::Mulhi, Some(q)) => self.vector_mulhi(signed, p, q),
            (ArithOp::Add, Some(q)) => self.b.ins().iadd(p, q),
            (ArithOp::Sub, Some(q)) => self.b.ins().isub(p, q),
            (ArithOp::Neg, _) => self.b.ins().ineg(p),
            (ArithOp::Mul, Some(q)) if narrow && cl_type(elem).bits() >= 16 => {
                self.b.ins().imul(p, q)
            }
            (ArithOp::Min, Some(q)) if narrow && signed => self.b.ins().smin(p, q),
            (ArithOp::Max, Some(q)) if narrow && signed => self.b.ins().smax(p, q),
            (ArithOp::Min, Some(q)) if narrow => self.b.ins().umin(p, q),
            (ArithOp::Max, Some(q)) if narrow => self.b.ins().umax(p, q),
            (_, Some(q)) => {
                // lane by lane with the scalar instruction
                let zero = self.iconst(cl_type(elem), 0);
                let mut out = self.b.ins().splat(ty, zero);
                for k in 0..lanes as u8 {
                    let x = self.b.ins().extractlane(p, k);
                    let y = self.b.ins().extractlane(q, k);
                    let r = self.int_binary(a, signed, x, y);
                    out = self.b.ins().insertlane(out, r, k);
                }
                out
            }
            (other, None) => unreachable!("arith.{} needs two operands", other.mnemonic()),
        })
    }

    /// `arith.mulhi` on 16-bit lanes, which Cranelift has only for
    /// scalars: each half widened to 32 bits, multiplied, shifted by 16 and
    /// narrowed back (the high halves fit, so the saturating narrowing
    /// keeps them).
    fn vector_mulhi(&mut self, signed: bool, p: Value, q: Value) -> Value {
        let mut halves = [p, p];
        for (k, h) in halves.iter_mut().enumerate() {
            let widen = |b: &mut FunctionBuilder, v: Value| match (signed, k) {
                (true, 0) => b.ins().swiden_low(v),
                (true, _) => b.ins().swiden_high(v),
                (false, 0) => b.ins().uwiden_low(v),
                (false, _) => b.ins().uwiden_high(v),
            };
            let (x, y) = (widen(&mut self.b, p), widen(&mut self.b, q));
            let prod = self.b.ins().imul(x, y);
            *h = if signed {
                self.b.ins().sshr_imm_u(prod, 16)
            } else {
                self.b.ins().ushr_imm_u(prod, 16)
            };
        }
        if signed {
            self.b.ins().snarrow(halves[0], halves[1])
        } else {
            self.b.ins().unarrow(halves[0], halves[1])
        }
    }

    /// `arith.shr` of `p` (a scalar or every lane of a vector).
    fn shift_right(&mut self, op: OpId, signed: bool, p: Value) -> Value {
        let k = i64::from(crate::dialects::arith::shift_amount(self.ir, op).expect("verified"));
        if signed {
            self.b.ins().sshr_imm_u(p, k)
        } else {
            self.b.ins().ushr_imm_u(p, k)
        }
    }

    /// Scalar `mul`, `min`, `max` on integers (the lane-by-lane fallback).
    fn int_binary(&mut self, a: ArithOp, signed: bool, x: Value, y: Value) -> Value {
        let ins = self.b.ins();
        match (a, signed) {
            (ArithOp::Mul, _) => ins.imul(x, y),
            (ArithOp::Min, true) => ins.smin(x, y),
            (ArithOp::Max, true) => ins.smax(x, y),
            (ArithOp::Min, false) => ins.umin(x, y),
            (ArithOp::Max, false) => ins.umax(x, y),
            (ArithOp::Add, _) => ins.iadd(x, y),
            (ArithOp::Sub, _) => ins.isub(x, y),
            (other, _) => unreachable!("arith.{} on integer vectors (verified)", other.mnemonic()),
        }
    }

    /// `vector.dot4` at 128 bits: the 16 products of two `i8x16` widened
    /// to `i16` (exact: |u8 * i8| < 2^15, u8 * u8 < 2^16), to `i32`, and
    /// summed pairwise twice, then added to the accumulator — the tree
    /// Cranelift folds into one `vpdpbusd` on a machine with VNNI when the
    /// signed operand comes first (its `lower.isle`), and plain SSE/NEON
    /// elsewhere.
    fn dot4(&mut self, op: OpId) -> Value {
        let ir = self.ir;
        let d = ir.op(op);
        let acc = self.scalar(d.operands[0]);
        let mut x = self.scalar(d.operands[1]);
        let y = self.scalar(d.operands[2]);
        let (xt, yt) = (ir.ty(d.operands[1]), ir.ty(d.operands[2]));
        if xt.lanes() == Some(4) {
            let key = (x, self.b.current_block().expect("lowering inside a block"));
            x = match self.repeated4.get(&key) {
                Some(&v) => v,
                None => {
                    let v = self.repeat_four_bytes(x);
                    self.repeated4.insert(key, v);
                    v
                }
            };
        }
        let pairs16 = d.attr("pairs16").is_some();
        if pairs16 && self.module.isa().has_x86_pmaddubsw_lowering() {
            // x86 without VNNI: `pmaddubsw` (signed operand first here: `y`,
            // then the unsigned `x`), its i16 pairs summed by `pmaddwd`
            let pairs = self.b.ins().x86_pmaddubsw(y, x);
            // i16 pairs widened and summed: one `pmaddwd` by ones
            let lo = self.b.ins().swiden_low(pairs);
            let hi = self.b.ins().swiden_high(pairs);
            let sums = self.b.ins().iadd_pairwise(lo, hi);
            return self.b.ins().iadd(sums, acc);
        }
        let (xs, ys) = (xt.elem().is_signed_int(), yt.elem().is_signed_int());
        // the signed operand first, as the fold wants it
        let ((a, a_signed), (b, b_signed)) = if !xs && ys {
            ((y, ys), (x, xs))
        } else {
            ((x, xs), (y, ys))
        };
        let widen = |s: &mut Self, v: Value, signed: bool, high: bool| -> Value {
            match (signed, high) {
                (true, false) => s.b.ins().swiden_low(v),
                (true, true) => s.b.ins().swiden_high(v),
                (false, false) => s.b.ins().uwiden_low(v),
                (false, true) => s.b.ins().uwiden_high(v),
            }
        };
        let products_signed = a_signed || b_signed;
        let mut halves = Vec::new();
        for high in [false, true] {
            let wa = widen(self, a, a_signed, high);
            let wb = widen(self, b, b_signed, high);
            let p = self.b.ins().imul(wa, wb);
            let lo = widen(self, p, products_signed, false);
            let hi = widen(self, p, products_signed, true);
            let mut pairs = self.b.ins().iadd_pairwise(lo, hi);
            if pairs16 {
                // `pmaddubsw`'s saturation where the instruction is missing
                let most = self.b.ins().iconst(types::I32, i64::from(i16::MAX));
                let most = self.b.ins().splat(types::I32X4, most);
                let least = self.b.ins().iconst(types::I32, i64::from(i16::MIN));
                let least = self.b.ins().splat(types::I32X4, least);
                pairs = self.b.ins().smin(pairs, most);
                pairs = self.b.ins().smax(pairs, least);
            }
            halves.push(pairs);
        }
        let sums = self.b.ins().iadd_pairwise(halves[0], halves[1]);
        self.b.ins().iadd(sums, acc)
    }

    /// One group of four bytes for every lane: bytes 0..4 of `x` repeated
    /// by one byte shuffle.
    fn repeat_four_bytes(&mut self, x: Value) -> Value {
        let mask: Vec<u8> = (0..16).map(|i| i % 4).collect();
        let mask = self
            .b
            .func
            .dfg
            .immediates
            .push(cranelift_codegen::ir::ConstantData::from(mask));
        self.b.ins().shuffle(x, x, mask)
    }

    /// `vector.interleave4` at 128 bits: four rows of four bytes (in the
    /// low lanes of their registers) to one `i8x16`, by two byte shuffles
    /// pairing rows 0-1 and 2-3 and one pairing the pairs.
    fn interleave4(&mut self, op: OpId) -> Value {
        let d = self.ir.op(op);
        let r: Vec<Value> = d.operands.iter().map(|&v| self.scalar(v)).collect();
        let shuffle = |s: &mut Self, a: Value, b: Value, mask: Vec<u8>| -> Value {
            let mask =
                s.b.func
                    .dfg
                    .immediates
                    .push(cranelift_codegen::ir::ConstantData::from(mask));
            s.b.ins().shuffle(a, b, mask)
        };
        // (a[0], b[0], a[1], b[1], ...): lanes 16.. are `b`'s
        let pairs: Vec<u8> = (0..16)
            .map(|i| if i % 2 == 0 { i / 2 } else { 16 + i / 2 })
            .collect();
        let low = shuffle(self, r[0], r[1], pairs.clone());
        let high = shuffle(self, r[2], r[3], pairs);
        // (low[0], low[1], high[0], high[1], low[2], ...)
        let quads: Vec<u8> = (0..16)
            .map(|i| {
                let (group, t) = (i / 4, i % 4);
                if t < 2 {
                    2 * group + t
                } else {
                    16 + 2 * group + t - 2
                }
            })
            .collect();
        shuffle(self, low, high, quads)
    }

    /// The `vector` dialect.
    fn vector(&mut self, op: OpId, v: VectorOp) -> Result<Option<Value>, CodegenError> {
        let ir = self.ir;
        let d = ir.op(op);
        match v {
            VectorOp::Broadcast => {
                let vt = cl_value_type(ir.ty(d.results[0]));
                let x = self.scalar(d.operands[0]);
                Ok(Some(self.b.ins().splat(vt, x)))
            }
            VectorOp::Dot4 => Ok(Some(self.dot4(op))),
            VectorOp::Interleave4 => Ok(Some(self.interleave4(op))),
            VectorOp::Extract => {
                let k = d.attr("lane").and_then(Attr::as_int).unwrap_or(0) as u8;
                let x = self.scalar(d.operands[0]);
                Ok(Some(self.b.ins().extractlane(x, k)))
            }
            VectorOp::Reduce => {
                let vt = ir.ty(d.operands[0]).clone();
                let (elem, lanes) = (vt.elem(), vt.lanes().expect("vector"));
                let kind = d.attr("kind").and_then(Attr::as_str).unwrap_or("sum");
                let x = self.scalar(d.operands[0]);
                let mut acc = self.b.ins().extractlane(x, 0);
                for k in 1..lanes as u8 {
                    let y = self.b.ins().extractlane(x, k);
                    acc = match (kind, elem.is_float()) {
                        ("sum", true) => self.b.ins().fadd(acc, y),
                        ("prod", true) => self.b.ins().fmul(acc, y),
                        ("min", true) => self.b.ins().fmin(acc, y),
                        ("max", true) => self.b.ins().fmax(acc, y),
                        ("sum", false) => self.b.ins().iadd(acc, y),
                        ("prod", false) => self.b.ins().imul(acc, y),
                        ("min", false) => {
                            self.int_binary(ArithOp::Min, elem.is_signed_int(), acc, y)
                        }
                        _ => self.int_binary(ArithOp::Max, elem.is_signed_int(), acc, y),
                    };
                }
                Ok(Some(acc))
            }
            VectorOp::Load | VectorOp::Store => {
                let store = v == VectorOp::Store;
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
                if let Some((addr, disp)) = self.fast_address(op) {
                    // proven in bounds and contiguous at loop entry
                    let flags = self.movable(op, MemFlagsData::new().with_notrap());
                    if store {
                        let x = self.scalar(d.operands[0]);
                        self.store_vector(&vir, x, addr, disp);
                        return Ok(None);
                    }
                    return Ok(Some(self.load_vector(&vir, flags, addr, disp)));
                }
                let idx: Vec<Value> = d.operands[first..]
                    .iter()
                    .map(|&x| self.scalar(x))
                    .collect();
                let lanes = vir.lanes().expect("vector") as i64;
                let et = cl_type(vir.elem());
                let (addr, ok) = self.address(&buf, &idx);
                // the last lane must be inside too
                let last = *idx.last().expect("rank >= 1 (verified)");
                let end = self.b.ins().iadd_imm_s(last, lanes - 1);
                let n = *buf.shape.last().expect("rank >= 1");
                let ok2 = self.b.ins().icmp(IntCC::UnsignedLessThan, end, n);
                let ok = self.b.ins().band(ok, ok2);
                let stride = *buf.strides.last().expect("rank >= 1");
                if !store && d.attr("oob").is_some() {
                    // lanes outside read zero: one load when every lane is
                    // inside and contiguous, else lane by lane
                    let all = if self.rows_contiguous {
                        ok
                    } else {
                        let unit = self.b.ins().icmp_imm_s(IntCC::Equal, stride, 1);
                        self.b.ins().band(ok, unit)
                    };
                    let r = self.vector_load_or_lanes(&vir, all, addr, |s, k| {
                        let mut lane_idx = idx.clone();
                        let li = lane_idx.last_mut().expect("rank >= 1");
                        *li = s.b.ins().iadd_imm_s(*li, i64::from(k));
                        s.load_or_zero(&buf, &lane_idx)
                    });
                    return Ok(Some(r));
                }
                // a store marked `in_bounds` is inside by construction (as
                // scalar stores: see `store`); loads keep their check
                let proven = store && d.attr("in_bounds") == Some(&Attr::Bool(true));
                if !proven {
                    let access = checks::access(store, true, &buf.name);
                    let at = self.at(op);
                    self.check_access(ok, &access, &at, &idx, &buf.shape, lanes)?;
                }
                if self.rows_contiguous {
                    let flags = MemFlagsData::trusted();
                    if store {
                        let x = self.scalar(d.operands[0]);
                        self.store_vector(&vir, x, addr, 0);
                        return Ok(None);
                    }
                    return Ok(Some(self.load_vector(&vir, flags, addr, 0)));
                }
                // contiguous lanes: one vector access; strided: lane by lane
                let unit = self.b.ins().icmp_imm_s(IntCC::Equal, stride, 1);
                let flags = MemFlagsData::trusted();
                let step = self.b.ins().imul_imm_s(stride, et.bytes() as i64);
                let step = if self.ptr == types::I64 {
                    step
                } else {
                    self.b.ins().ireduce(self.ptr, step)
                };
                if store {
                    let x = self.scalar(d.operands[0]);
                    let fast = self.b.create_block();
                    let slow = self.b.create_block();
                    let done = self.b.create_block();
                    self.b.ins().brif(unit, fast, &[], slow, &[]);
                    self.b.switch_to_block(fast);
                    self.store_vector(&vir, x, addr, 0);
                    self.b.ins().jump(done, &[]);
                    self.b.switch_to_block(slow);
                    let mut a = addr;
                    for k in 0..lanes as u8 {
                        let e = self.b.ins().extractlane(x, k);
                        self.b.ins().store(flags, e, a, 0);
                        a = self.b.ins().iadd(a, step);
                    }
                    self.b.ins().jump(done, &[]);
                    self.b.switch_to_block(done);
                    Ok(None)
                } else {
                    // contiguous: one (element-aligned) load; strided: lane by lane
                    let mut a = addr;
                    let r = self.vector_load_or_lanes(&vir, unit, addr, |s, _| {
                        let e = s.b.ins().load(et, flags, a, 0);
                        a = s.b.ins().iadd(a, step);
                        e
                    });
                    Ok(Some(r))
                }
            }
        }
    }

    /// A vector load at `addr` when `cond` holds; otherwise the lanes one by
    /// one, lane `k` from `lane(self, k)`.
    fn vector_load_or_lanes(
        &mut self,
        vir: &IrType,
        cond: Value,
        addr: Value,
        mut lane: impl FnMut(&mut Self, u8) -> Value,
    ) -> Value {
        let vt = cl_value_type(vir);
        let et = cl_type(vir.elem());
        let fast = self.b.create_block();
        let slow = self.b.create_block();
        let done = self.b.create_block();
        let r = self.b.append_block_param(done, vt);
        self.b.ins().brif(cond, fast, &[], slow, &[]);
        self.b.switch_to_block(fast);
        let x = self.load_vector(vir, MemFlagsData::new().with_notrap(), addr, 0);
        self.b.ins().jump(done, &[BlockArg::Value(x)]);
        self.b.switch_to_block(slow);
        let zero = if et.is_float() {
            self.fzero(et)
        } else {
            self.iconst(et, 0)
        };
        let mut acc = self.b.ins().splat(vt, zero);
        for k in 0..vir.lanes().expect("vector") as u8 {
            let e = lane(self, k);
            acc = self.b.ins().insertlane(acc, e, k);
        }
        self.b.ins().jump(done, &[BlockArg::Value(acc)]);
        self.b.switch_to_block(done);
        r
    }

    /// `pj_runtime::math::expf` inline, on an `f32` or an `f32x4`: the same
    /// operations on the same constants in the same order, so the bits are
    /// the interpreter's; `fused`: `expf_fused`, its multiply-adds as `fma`
    /// (only where the target has FMA: the `contract` pass's condition).
    fn expf(&mut self, x: Value, fused: bool) -> Value {
        use pj_runtime::math::expf_consts::*;
        let vt = self.b.func.dfg.value_type(x);
        let vector = vt.is_vector();
        let it = if vector { types::I32X4 } else { types::I32 };
        let fconst = |s: &mut Self, v: f32| -> Value {
            if vector {
                let bytes: Vec<u8> = (0..4).flat_map(|_| v.to_le_bytes()).collect();
                let c = s.b.func.dfg.constants.insert(bytes.into());
                s.b.ins().vconst(vt, c)
            } else {
                s.b.ins().f32const(v)
            }
        };
        let iconst = |s: &mut Self, v: i32| -> Value {
            let c = s.b.ins().iconst(types::I32, v as i64);
            if vector { s.b.ins().splat(it, c) } else { c }
        };
        // `if x > HI { HI } else if x < LO { LO } else { x }`: NaN stays.
        // Vectors compare `HI < x` and `x < LO`: the forms Cranelift's x86
        // backend turns into one `minps`/`maxps` with the bound first.
        let select = |s: &mut Self, cc: FloatCC, x: Value, bound: f32| -> Value {
            let b = fconst(s, bound);
            let c = if cc == FloatCC::GreaterThan {
                s.b.ins().fcmp(FloatCC::LessThan, b, x)
            } else {
                s.b.ins().fcmp(cc, x, b)
            };
            if vector {
                let mask = s.b.ins().bitcast(vt, MemFlagsData::new(), c);
                s.b.ins().bitselect(mask, b, x)
            } else {
                s.b.ins().select(c, b, x)
            }
        };
        let x = select(self, FloatCC::GreaterThan, x, HI);
        let x = select(self, FloatCC::LessThan, x, LO);
        let log2e = fconst(self, LOG2E);
        let round = fconst(self, ROUND);
        let t = if fused {
            self.b.ins().fma(x, log2e, round)
        } else {
            let t = self.b.ins().fmul(x, log2e);
            self.b.ins().fadd(t, round)
        };
        let k = self.b.ins().fsub(t, round);
        let tb = self.b.ins().bitcast(it, MemFlagsData::new(), t);
        let rb = iconst(self, ROUND.to_bits() as i32);
        let n = self.b.ins().isub(tb, rb);
        let c1 = fconst(self, C1);
        let c2 = fconst(self, C2);
        let r = if fused {
            // `-k * C + r`: x86's `vfnmadd`, aarch64's `fmls`
            let nk = self.b.ins().fneg(k);
            let r = self.b.ins().fma(nk, c1, x);
            self.b.ins().fma(nk, c2, r)
        } else {
            let kc1 = self.b.ins().fmul(k, c1);
            let r = self.b.ins().fsub(x, kc1);
            let kc2 = self.b.ins().fmul(k, c2);
            self.b.ins().fsub(r, kc2)
        };
        let mut p = fconst(self, P[0]);
        for &c in &P[1..] {
            let c = fconst(self, c);
            p = if fused {
                self.b.ins().fma(p, r, c)
            } else {
                let pr = self.b.ins().fmul(p, r);
                self.b.ins().fadd(pr, c)
            };
        }
        let rr = self.b.ins().fmul(r, r);
        let p = if fused {
            self.b.ins().fma(p, rr, r)
        } else {
            let p = self.b.ins().fmul(p, rr);
            self.b.ins().fadd(p, r)
        };
        let one = fconst(self, 1.0);
        let p = self.b.ins().fadd(p, one);
        let n1 = self.b.ins().sshr_imm_u(n, 1);
        let n2 = self.b.ins().isub(n, n1);
        let bias = iconst(self, 127);
        let mut scaled = p;
        for half in [n1, n2] {
            let e = self.b.ins().iadd(half, bias);
            let e = self.b.ins().ishl_imm_u(e, 23);
            let f = self.b.ins().bitcast(vt, MemFlagsData::new(), e);
            scaled = self.b.ins().fmul(scaled, f);
        }
        scaled
    }

    /// One contiguous vector access. A vector narrower than 128 bits moves
    /// as one integer of its width into the low lanes of a register; the
    /// other lanes are zero and never read.
    fn load_vector(&mut self, vir: &IrType, flags: MemFlagsData, addr: Value, disp: i32) -> Value {
        let vt = cl_value_type(vir);
        let bits = vir.lanes().expect("vector") * vir.elem().size_bytes() as u32 * 8;
        if bits == 128 {
            return self.b.ins().load(vt, flags, addr, disp);
        }
        let (it, wide) = if bits == 64 {
            (types::I64, types::I64X2)
        } else {
            (types::I32, types::I32X4)
        };
        let x = self.b.ins().load(it, flags, addr, disp);
        let x = self.b.ins().scalar_to_vector(wide, x);
        self.b.ins().bitcast(
            vt,
            MemFlagsData::new().with_endianness(Endianness::Little),
            x,
        )
    }

    /// The store counterpart of [`Self::load_vector`].
    fn store_vector(&mut self, vir: &IrType, x: Value, addr: Value, disp: i32) {
        let flags = MemFlagsData::new().with_notrap();
        let bits = vir.lanes().expect("vector") * vir.elem().size_bytes() as u32 * 8;
        if bits == 128 {
            self.b.ins().store(flags, x, addr, disp);
            return;
        }
        let wide = if bits == 64 {
            types::I64X2
        } else {
            types::I32X4
        };
        let w = self.b.ins().bitcast(
            wide,
            MemFlagsData::new().with_endianness(Endianness::Little),
            x,
        );
        let lane = self.b.ins().extractlane(w, 0);
        self.b.ins().store(flags, lane, addr, disp);
    }

    /// `arith.cast` on vectors: the widenings and conversions
    /// `dialects::vector::cast_supported` admits.
    fn vector_cast(&mut self, op: OpId) -> Value {
        let ir = self.ir;
        let d = ir.op(op);
        let (from, to) = (ir.ty(d.operands[0]).elem(), ir.ty(d.results[0]).elem());
        let mut x = self.scalar(d.operands[0]);
        if from.is_float() || (to.is_int() && to.size_bytes() < from.size_bytes()) {
            return self.vector_narrow(x, from, to);
        }
        let signed = from.is_signed_int();
        // widen the integer lanes step by step: 8 -> 16 -> 32 -> 64 bits
        let target_bits = if to.is_float() {
            32
        } else {
            cl_type(to).bits()
        };
        let mut bits = cl_type(from).bits();
        while bits < target_bits {
            x = if signed {
                self.b.ins().swiden_low(x)
            } else {
                self.b.ins().uwiden_low(x)
            };
            bits *= 2;
        }
        if to.is_float() {
            // unsigned sources narrower than 32 bits are now non-negative i32
            x = self.b.ins().fcvt_from_sint(types::F32X4, x);
        }
        x
    }

    /// `f32` lanes to integers of up to 32 bits (saturating, NaN to 0:
    /// `fcvt_to_*_sat` to 32 bits, then saturating narrows: `snarrow` to
    /// 16 bits and `unarrow` to 8 clamp to `[0, 255]`, the `u8`
    /// saturation), and integers to narrower ones (the low bits: masked
    /// first, so that the saturating narrows keep every value). The narrow
    /// lanes end in the low part of a 128-bit register, as loads of
    /// narrow vectors leave them.
    fn vector_narrow(&mut self, x: Value, from: ScalarType, to: ScalarType) -> Value {
        let mut x = x;
        let target = cl_type(to).bits();
        let x86 = self.module.isa().name() == "x64";
        let mut bits = if from == ScalarType::F32 && target <= 16 && x86 {
            x = self.x86_f32_to_i32_for_narrowing(x, to.is_signed_int());
            32
        } else if from == ScalarType::F32 {
            x = if to == ScalarType::U32 {
                self.b.ins().fcvt_to_uint_sat(types::I32X4, x)
            } else {
                self.b.ins().fcvt_to_sint_sat(types::I32X4, x)
            };
            32
        } else {
            let bits = cl_type(from).bits();
            let keep = (1i64 << cl_type(to).bits()) - 1;
            let vt = self.b.func.dfg.value_type(x);
            let mask = self.iconst(vt.lane_type(), keep);
            let mask = self.b.ins().splat(vt, mask);
            x = self.b.ins().band(x, mask);
            bits
        };
        while bits > target {
            bits /= 2;
            // to 16 bits for an 8-bit target keeps the sign (and any
            // value of 16 bits); the last step saturates by the target's
            // sign from floats, and keeps the masked low bits from integers
            let unsigned_step = bits == target && (!to.is_signed_int() || !from.is_float());
            x = if unsigned_step {
                self.b.ins().unarrow(x, x)
            } else {
                self.b.ins().snarrow(x, x)
            };
        }
        x
    }

    /// `f32` lanes to `i32` lanes that the saturating narrows after it
    /// turn into the exact saturating conversion to 8 or 16 bits, in 2 to
    /// 4 instructions where `fcvt_to_sint_sat` takes 7 on x86 (half of
    /// `blur_u8`'s loop was the conversion back to `u8`). `cvttps2dq`
    /// gives `0x80000000` for NaN and anything outside `i32`; the packs
    /// saturate that to the target's minimum, right for every negative
    /// value. What remains wrong is fixed in floats first: a large positive
    /// value is lowered to 65536 (`minps` with the constant first keeps a
    /// NaN), which every narrow target saturates to its maximum; and for
    /// signed targets, whose minimum is not 0, a NaN becomes 0.0.
    fn x86_f32_to_i32_for_narrowing(&mut self, x: Value, signed: bool) -> Value {
        let mut x = x;
        let le = MemFlagsData::new().with_endianness(Endianness::Little);
        if signed {
            let ordered = self.b.ins().fcmp(FloatCC::Equal, x, x);
            let ordered = self.b.ins().bitcast(types::F32X4, le, ordered);
            x = self.b.ins().band(x, ordered);
        }
        let c = self.b.ins().f32const(65536.0);
        let c = self.b.ins().splat(types::F32X4, c);
        // `bitselect(c < x, c, x)`: Cranelift's pattern for `minps c, x`
        let lt = self.b.ins().fcmp(FloatCC::LessThan, c, x);
        let lt = self.b.ins().bitcast(types::F32X4, le, lt);
        let x = self.b.ins().bitselect(lt, c, x);
        self.b.ins().x86_cvtt2dq(types::I32X4, x)
    }

    /// The element at `idx`, or zero when any index is outside `buf`
    /// (`{oob = "zero"}`): a branch around the load, whose address may be
    /// invalid.
    fn load_or_zero(&mut self, buf: &Buf, idx: &[Value]) -> Value {
        let t = cl_type(buf.elem);
        let (addr, ok) = self.address(buf, idx);
        let inside = self.b.create_block();
        let merge = self.b.create_block();
        let v = self.b.append_block_param(merge, t);
        let zero = if t.is_float() {
            self.fzero(t)
        } else {
            self.iconst(t, 0)
        };
        self.b
            .ins()
            .brif(ok, inside, &[], merge, &[BlockArg::Value(zero)]);
        self.b.switch_to_block(inside);
        let x = self.b.ins().load(t, MemFlagsData::trusted(), addr, 0);
        self.b.ins().jump(merge, &[BlockArg::Value(x)]);
        self.b.switch_to_block(merge);
        v
    }

    /// `flags` for a load in a versioned loop's fast copy, marked
    /// `readonly` and `can_move` when it reads an input at an address that
    /// moves with the induction variable: Cranelift then treats it as a
    /// pure value and places it next to its first use (matmul's six
    /// broadcast operands were otherwise all loaded at the top of the
    /// iteration, live at once, and pushed accumulators to the stack).
    /// Never for an invariant address: a pure load could be hoisted out of
    /// a loop that runs zero times, where its address is not proven.
    fn movable(&self, op: OpId, flags: MemFlagsData) -> MemFlagsData {
        let moves = self.fast.get(&op).is_some_and(|f| f.step.is_some());
        if moves && self.unwritten.contains(&self.ir.op(op).operands[0]) {
            flags.with_readonly().with_can_move()
        } else {
            flags
        }
    }

    /// The address of an access in a versioned loop's fast copy.
    fn fast_address(&mut self, op: OpId) -> Option<(Value, i32)> {
        let f = *self.fast.get(&op)?;
        let addr = match f.step {
            None => f.base,
            Some(step) => {
                let iv = self.scalar(f.iv);
                let off = self.b.ins().imul(iv, step);
                let off = if self.ptr == types::I64 {
                    off
                } else {
                    self.b.ins().ireduce(self.ptr, off)
                };
                self.b.ins().iadd(f.base, off)
            }
        };
        Some((addr, f.disp))
    }

    /// Address of an element and whether every index is inside the buffer.
    fn address(&mut self, buf: &Buf, idx: &[Value]) -> (Value, Value) {
        let mut in_range = None;
        let mut offset = self.zero64();
        for (k, &i) in idx.iter().enumerate() {
            let ok = self.b.ins().icmp(IntCC::UnsignedLessThan, i, buf.shape[k]);
            in_range = Some(match in_range {
                None => ok,
                Some(prev) => self.b.ins().band(prev, ok),
            });
            let scaled = self.b.ins().imul(i, buf.strides[k]);
            offset = self.b.ins().iadd(offset, scaled);
        }
        let size = cl_type(buf.elem).bytes() as i64;
        let bytes = self.b.ins().imul_imm_s(offset, size);
        let bytes = if self.ptr == types::I64 {
            bytes
        } else {
            self.b.ins().ireduce(self.ptr, bytes)
        };
        let addr = self.b.ins().iadd(buf.data, bytes);
        let ok = in_range.unwrap_or_else(|| self.iconst(types::I8, 1));
        (addr, ok)
    }

    fn load(&mut self, op: OpId) -> Result<Value, CodegenError> {
        let ir = self.ir;
        let d = ir.op(op);
        let buf = self.buffer(d.operands[0]);
        if let Some((addr, disp)) = self.fast_address(op) {
            let t = cl_type(buf.elem);
            let flags = self.movable(op, MemFlagsData::trusted());
            return Ok(self.b.ins().load(t, flags, addr, disp));
        }
        let idx: Vec<Value> = d.operands[1..].iter().map(|&v| self.scalar(v)).collect();
        let t = cl_type(buf.elem);
        if d.attr("oob").is_some() {
            return Ok(self.load_or_zero(&buf, &idx));
        }
        let (addr, ok) = self.address(&buf, &idx);
        let at = self.at(op);
        self.check_access(
            ok,
            &checks::access(false, false, &buf.name),
            &at,
            &idx,
            &buf.shape,
            1,
        )?;
        Ok(self.b.ins().load(t, MemFlagsData::trusted(), addr, 0))
    }

    fn store(&mut self, op: OpId) -> Result<(), CodegenError> {
        let ir = self.ir;
        let d = ir.op(op);
        let value = self.scalar(d.operands[0]);
        let buf = self.buffer(d.operands[1]);
        if let Some((addr, disp)) = self.fast_address(op) {
            self.b
                .ins()
                .store(MemFlagsData::trusted(), value, addr, disp);
            return Ok(());
        }
        let idx: Vec<Value> = d.operands[2..].iter().map(|&v| self.scalar(v)).collect();
        let (addr, ok) = self.address(&buf, &idx);
        if d.attr("in_bounds").is_none() {
            let at = self.at(op);
            self.check_access(
                ok,
                &checks::access(true, false, &buf.name),
                &at,
                &idx,
                &buf.shape,
                1,
            )?;
        }
        self.b.ins().store(MemFlagsData::trusted(), value, addr, 0);
        Ok(())
    }

    fn alloc(&mut self, op: OpId) -> Result<(), CodegenError> {
        let ir = self.ir;
        let d = ir.op(op);
        let elem = ir.ty(d.results[0]).elem();
        let z = self.zero64();
        let mut shape = Vec::new();
        for &v in &d.operands {
            let e = self.scalar(v);
            shape.push(self.b.ins().smax(e, z));
        }
        // bytes = product of extents * element size, refusing overflow
        let size = self.iconst(types::I64, cl_type(elem).bytes() as i64);
        let mut bytes = size;
        let mut overflow = self.iconst(types::I8, 0);
        for &e in &shape {
            let (p, o) = self.b.ins().umul_overflow(bytes, e);
            bytes = p;
            overflow = self.b.ins().bor(overflow, o);
        }
        let name = d.attr("name").and_then(Attr::as_str).map(str::to_string);
        let name = name
            .or_else(|| ir.value(d.results[0]).name.clone())
            .unwrap_or_else(|| "a stage".into());
        let fits = self.b.ins().icmp_imm_s(IntCC::Equal, overflow, 0);
        let msg = checks::alloc_overflow(&name, &self.at(op));
        self.check(fits, status::OUT_OF_MEMORY, &msg, z, z)?;
        let nbytes = if self.ptr == types::I64 {
            bytes
        } else {
            self.b.ins().ireduce(self.ptr, bytes)
        };
        let p = self
            .call(self.rt.alloc, &[nbytes])
            .expect("pj_rt_alloc returns a pointer");
        let null = self.iconst(self.ptr, 0);
        let ok = self.b.ins().icmp(IntCC::NotEqual, p, null);
        let msg = checks::alloc_failed(&name, &self.at(op));
        self.check(ok, status::OUT_OF_MEMORY, &msg, bytes, z)?;
        let k = self.alloc_slot[&op];
        let table = self.alloc_table.expect("declared with its allocations");
        self.set_alloc_entry(table, k, p, nbytes);
        if d.attr(crate::dialects::mem::ZEROED) == Some(&Attr::Bool(true)) {
            let zero = self.iconst(types::I8, 0);
            let config = self.module.target_config();
            self.b.call_memset(config, p, zero, nbytes);
        }
        // row-major strides
        let mut strides = vec![z; shape.len()];
        let mut stride = self.iconst(types::I64, 1);
        for k in (0..shape.len()).rev() {
            strides[k] = stride;
            let one = self.iconst(types::I64, 1);
            let e = self.b.ins().smax(shape[k], one);
            stride = self.b.ins().imul(stride, e);
        }
        self.vals.insert(
            d.results[0],
            CVal::B(Buf {
                data: p,
                shape,
                strides,
                elem,
                name,
                alloc: Some(k),
            }),
        );
        Ok(())
    }

    fn fzero(&mut self, t: types::Type) -> Value {
        if t == types::F32 {
            self.b.ins().f32const(0.0)
        } else {
            self.b.ins().f64const(0.0)
        }
    }

    fn arith(&mut self, op: OpId, a: ArithOp) -> Result<Value, CodegenError> {
        let ir = self.ir;
        let d = ir.op(op);
        let rt = ir
            .ty(d.results[0])
            .as_scalar()
            .expect("verified: scalar result");
        let x = |s: &Self, i: usize| s.scalar(d.operands[i]);
        Ok(match a {
            ArithOp::Fma => {
                let (p, q, r) = (x(self, 0), x(self, 1), x(self, 2));
                self.b.ins().fma(p, q, r)
            }
            ArithOp::Constant => {
                let s =
                    Scalar::from_attr(d.attr("value").expect("verified"), rt).expect("verified");
                match s {
                    Scalar::F32(v) => self.b.ins().f32const(v),
                    Scalar::F64(v) => self.b.ins().f64const(v),
                    Scalar::F16(q) | Scalar::Bf16(q) => self.iconst(cl_type(rt), i64::from(q)),
                    s => {
                        let v = s.as_i64().expect("integer or bool");
                        self.iconst(cl_type(rt), v)
                    }
                }
            }
            ArithOp::Add | ArithOp::Sub | ArithOp::Mul | ArithOp::Min | ArithOp::Max => {
                let (p, q) = (x(self, 0), x(self, 1));
                let float = rt.is_float();
                let signed = rt.is_signed_int();
                let ins = self.b.ins();
                match (a, float) {
                    (ArithOp::Add, false) => ins.iadd(p, q),
                    (ArithOp::Add, true) => ins.fadd(p, q),
                    (ArithOp::Sub, false) => ins.isub(p, q),
                    (ArithOp::Sub, true) => ins.fsub(p, q),
                    (ArithOp::Mul, false) => ins.imul(p, q),
                    (ArithOp::Mul, true) => ins.fmul(p, q),
                    (ArithOp::Min, true) => ins.fmin(p, q),
                    (ArithOp::Max, true) => ins.fmax(p, q),
                    (ArithOp::Min, false) if signed => ins.smin(p, q),
                    (ArithOp::Max, false) if signed => ins.smax(p, q),
                    (ArithOp::Min, false) => ins.umin(p, q),
                    (ArithOp::Max, false) => ins.umax(p, q),
                    _ => unreachable!(),
                }
            }
            ArithOp::Div | ArithOp::Rem => {
                let (p, q) = (x(self, 0), x(self, 1));
                if rt.is_float() {
                    if a == ArithOp::Div {
                        self.b.ins().fdiv(p, q)
                    } else {
                        let f = crate::codegen::runtime::fmod_symbol(rt == ScalarType::F32);
                        self.call(self.rt.math[f], &[p, q]).expect("fmod returns")
                    }
                } else {
                    let t = cl_type(rt);
                    let nonzero = self.b.ins().icmp_imm_s(IntCC::NotEqual, q, 0);
                    let z = self.zero64();
                    let msg = checks::division_by_zero(&self.at(op));
                    self.check(nonzero, status::DIVISION_BY_ZERO, &msg, z, z)?;
                    if rt.is_signed_int() {
                        // MIN / -1 wraps to MIN and MIN % -1 is 0, instead of trapping
                        let minus_one = self.b.ins().icmp_imm_s(IntCC::Equal, q, -1);
                        let one = self.iconst(t, 1);
                        let safe = self.b.ins().select(minus_one, one, q);
                        if a == ArithOp::Div {
                            let quo = self.b.ins().sdiv(p, safe);
                            let neg = self.b.ins().ineg(p);
                            self.b.ins().select(minus_one, neg, quo)
                        } else {
                            let rem = self.b.ins().srem(p, safe);
                            let zero = self.iconst(t, 0);
                            self.b.ins().select(minus_one, zero, rem)
                        }
                    } else if a == ArithOp::Div {
                        self.b.ins().udiv(p, q)
                    } else {
                        self.b.ins().urem(p, q)
                    }
                }
            }
            ArithOp::Neg => {
                let p = x(self, 0);
                if rt.is_float() {
                    self.b.ins().fneg(p)
                } else {
                    self.b.ins().ineg(p)
                }
            }
            ArithOp::Shr => {
                let p = x(self, 0);
                self.shift_right(op, rt.is_signed_int(), p)
            }
            ArithOp::Shl => {
                let p = x(self, 0);
                let k = crate::dialects::arith::shift_amount(ir, op).expect("verified");
                self.b.ins().ishl_imm_u(p, i64::from(k))
            }
            ArithOp::Bitcast => {
                let p = x(self, 0);
                if self.b.func.dfg.value_type(p) == cl_type(rt) {
                    // `f16`/`bf16` are held as their bits already
                    p
                } else {
                    self.b.ins().bitcast(cl_type(rt), MemFlagsData::new(), p)
                }
            }
            ArithOp::Mulhi => {
                let (p, q) = (x(self, 0), x(self, 1));
                if rt.is_signed_int() {
                    self.b.ins().smulhi(p, q)
                } else {
                    self.b.ins().umulhi(p, q)
                }
            }
            ArithOp::Not => {
                let p = x(self, 0);
                self.b.ins().bxor_imm_s(p, 1)
            }
            ArithOp::And => {
                let (p, q) = (x(self, 0), x(self, 1));
                self.b.ins().band(p, q)
            }
            ArithOp::Or => {
                let (p, q) = (x(self, 0), x(self, 1));
                self.b.ins().bor(p, q)
            }
            ArithOp::Select => {
                let (c, p, q) = (x(self, 0), x(self, 1), x(self, 2));
                self.b.ins().select(c, p, q)
            }
            ArithOp::Cmp => {
                let (p, q) = (x(self, 0), x(self, 1));
                let ot = ir.ty(d.operands[0]).as_scalar().expect("verified");
                let pred = d.attr("pred").and_then(Attr::as_str).expect("verified");
                if ot.is_float() {
                    let cc = match pred {
                        "eq" => FloatCC::Equal,
                        "ne" => FloatCC::NotEqual,
                        "lt" => FloatCC::LessThan,
                        "le" => FloatCC::LessThanOrEqual,
                        "gt" => FloatCC::GreaterThan,
                        _ => FloatCC::GreaterThanOrEqual,
                    };
                    self.b.ins().fcmp(cc, p, q)
                } else {
                    let s = ot.is_signed_int();
                    let cc = match (pred, s) {
                        ("eq", _) => IntCC::Equal,
                        ("ne", _) => IntCC::NotEqual,
                        ("lt", true) => IntCC::SignedLessThan,
                        ("le", true) => IntCC::SignedLessThanOrEqual,
                        ("gt", true) => IntCC::SignedGreaterThan,
                        ("ge", true) => IntCC::SignedGreaterThanOrEqual,
                        ("lt", false) => IntCC::UnsignedLessThan,
                        ("le", false) => IntCC::UnsignedLessThanOrEqual,
                        ("gt", false) => IntCC::UnsignedGreaterThan,
                        _ => IntCC::UnsignedGreaterThanOrEqual,
                    };
                    self.b.ins().icmp(cc, p, q)
                }
            }
            ArithOp::Cast => {
                let p = x(self, 0);
                let from = ir.ty(d.operands[0]).as_scalar().expect("verified");
                self.cast(p, from, rt)
            }
        })
    }

    /// `Scalar::cast`, in machine code.
    fn cast(&mut self, v: Value, from: ScalarType, to: ScalarType) -> Value {
        let (ft, tt) = (cl_type(from), cl_type(to));
        if to == ScalarType::Bool {
            return if from.is_float() {
                let z = self.fzero(ft);
                self.b.ins().fcmp(FloatCC::NotEqual, v, z)
            } else {
                self.b.ins().icmp_imm_s(IntCC::NotEqual, v, 0)
            };
        }
        let from_signed = from.is_signed_int();
        match (from.is_float(), to.is_float()) {
            (true, true) => match (ft == tt, ft.bits() < tt.bits()) {
                (true, _) => v,
                (false, true) => self.b.ins().fpromote(tt, v),
                (false, false) => self.b.ins().fdemote(tt, v),
            },
            (false, true) => {
                if from_signed {
                    self.b.ins().fcvt_from_sint(tt, v)
                } else {
                    self.b.ins().fcvt_from_uint(tt, v)
                }
            }
            (true, false) => {
                // saturate to i64, then clamp to the target's range
                let wide = self.b.ins().fcvt_to_sint_sat(types::I64, v);
                if to == ScalarType::I64 {
                    return wide;
                }
                let (lo, hi) = to.int_range().expect("integer type");
                let lo = self.iconst(types::I64, lo);
                let hi = self.iconst(types::I64, hi);
                let c = self.b.ins().smax(wide, lo);
                let c = self.b.ins().smin(c, hi);
                self.b.ins().ireduce(tt, c)
            }
            (false, false) => {
                if ft == tt {
                    v
                } else if ft.bits() > tt.bits() {
                    self.b.ins().ireduce(tt, v)
                } else if from_signed {
                    self.b.ins().sextend(tt, v)
                } else {
                    self.b.ins().uextend(tt, v)
                }
            }
        }
    }

    fn math(&mut self, op: OpId, mo: MathOp) -> Value {
        let ir = self.ir;
        let d = ir.op(op);
        let rt = ir.ty(d.results[0]).elem();
        let args: Vec<Value> = d.operands.iter().map(|&v| self.scalar(v)).collect();
        let f32t = rt == ScalarType::F32;
        if mo == MathOp::Exp && f32t {
            // inline, scalar or vector: no call, no clobbered registers
            return self.expf(args[0], crate::dialects::math::is_fused(ir, op));
        }
        if rt.is_float()
            && ir.ty(d.results[0]).lanes().is_some()
            && let Some(v) = self.vector_math(mo, rt, &args)
        {
            return v;
        }
        let call = |s: &mut Self| {
            let name = crate::codegen::runtime::math_symbol(mo, f32t).expect("a runtime function");
            s.call(s.rt.math[name], &args)
                .expect("math functions return a value")
        };
        match mo {
            MathOp::Abs if rt.is_float() => self.b.ins().fabs(args[0]),
            MathOp::Abs if rt.is_signed_int() => self.b.ins().iabs(args[0]),
            MathOp::Abs => args[0],
            MathOp::Sqrt => self.b.ins().sqrt(args[0]),
            MathOp::Floor => self.b.ins().floor(args[0]),
            MathOp::Ceil => self.b.ins().ceil(args[0]),
            _ => call(self),
        }
    }
}
