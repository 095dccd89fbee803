//! JIT compilation into this process, and calling kernels from Rust.
//!
//! Kernels have typed C signatures (a `pj_buffer*` per array, scalars by
//! value), which Rust cannot call without knowing them at compile time. So
//! each kernel gets a trampoline `int32_t tramp(const uint64_t* args)` that
//! reads its arguments from 8-byte slots and calls the kernel: one
//! signature to call every kernel through.

use super::CodegenError;
use super::lower::{cl_type, declare_runtime, define_kernel, elem_code, kernel_signature};
use crate::dialects::{FuncOp, Opcode, arith::Scalar, signature};
use crate::interp::{Tensor, Value as Arg};
use crate::ir::{Module as IrModule, OpId, ScalarType, Type as IrType};
use cranelift_codegen::ir::{AbiParam, InstBuilder, MemFlagsData, types};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{FuncId, Linkage, Module};
use pj_runtime::Buffer;
use std::collections::HashMap;

/// A kernel call failed: the kernel's status and message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct RunError {
    /// The status code (`pj_runtime::abi::status`).
    pub status: i32,
    /// What went wrong.
    pub message: String,
}

fn bad(message: String) -> RunError {
    RunError {
        status: pj_runtime::abi::status::BAD_ARGUMENT,
        message,
    }
}

/// A compiled kernel and its shape companion.
pub struct JitKernel {
    /// Kernel name.
    pub name: String,
    /// Parameters: name and lowered type (buffer or scalar).
    pub params: Vec<(String, IrType)>,
    /// Results: name, element type, rank.
    pub results: Vec<(String, ScalarType, usize)>,
    entry: extern "C" fn(*const u64) -> i32,
    shape_entry: extern "C" fn(*const u64) -> i32,
}

/// Every kernel of a module, compiled into this process. Dropping it frees
/// the code.
pub struct JitModule {
    module: Option<JITModule>,
    kernels: HashMap<String, JitKernel>,
}

impl Drop for JitModule {
    fn drop(&mut self) {
        if let Some(m) = self.module.take() {
            // SAFETY: no function pointer outlives `self` (they are only
            // reachable through `self.kernels`).
            unsafe { m.free_memory() };
        }
    }
}

/// Appends `functions` (defined in `module`, finalized) to
/// `/tmp/perf-<pid>.map`, the file `perf` reads to name JIT code. Best
/// effort: a developer's aid, never an error.
fn perf_map(module: &JITModule, functions: &[(FuncId, String, usize)]) {
    use std::io::Write as _;
    let path = std::env::temp_dir().join(format!("perf-{}.map", std::process::id()));
    let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    else {
        return;
    };
    for (id, name, size) in functions {
        let ptr = module.get_finalized_function(*id);
        let addr = ptr as usize;
        let _ = writeln!(f, "{addr:x} {size:x} pj:{name}");
        if std::env::var_os("PJ_PERF_MAP_CODE").is_some() {
            // the bytes too, for `objdump -D -b binary --adjust-vma=ADDR`
            // SAFETY: `size` bytes of finalized code start at `ptr`.
            let code = unsafe { std::slice::from_raw_parts(ptr, *size) };
            let file = std::env::temp_dir().join(format!(
                "pj-jit-{}-{addr:x}-{}.bin",
                std::process::id(),
                name.replace(['.', '/'], "_")
            ));
            let _ = std::fs::write(file, code);
        }
    }
}

/// How hard Cranelift works: the trade of compile time for run time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Tier {
    /// Cranelift's single-pass register allocator, and loop versioning
    /// for innermost loops only: about half the compile time, code with
    /// more spills and checks (up to 3x slower on the examples;
    /// docs/performance.md). What `pj repl` uses first.
    Quick,
    /// The backtracking register allocator: the best code Cranelift makes.
    #[default]
    Optimizing,
}

fn host_isa(tier: Tier) -> Result<cranelift_codegen::isa::OwnedTargetIsa, CodegenError> {
    let mut flags = settings::builder();
    let set = |f: &mut settings::Builder, k: &str, v: &str| {
        f.set(k, v).map_err(|e| CodegenError::Target(e.to_string()))
    };
    set(&mut flags, "opt_level", "speed")?;
    set(&mut flags, "is_pic", "false")?;
    // Cranelift's own IR verifier costs ~a fifth of compile time; debug
    // builds (every test) keep it, release builds (`pj`, the REPL) skip it
    if !cfg!(debug_assertions) {
        set(&mut flags, "enable_verifier", "false")?;
    }
    if tier == Tier::Quick {
        set(&mut flags, "regalloc_algorithm", "single_pass")?;
    }
    let isa = cranelift_native::builder().map_err(|e| CodegenError::Target(e.to_string()))?;
    isa.finish(settings::Flags::new(flags))
        .map_err(|e| CodegenError::Target(e.to_string()))
}

impl JitModule {
    /// Compiles every `func.func` of `ir` (which must be verified and
    /// lowered) at the optimizing tier.
    pub fn compile(ir: &IrModule) -> Result<JitModule, CodegenError> {
        JitModule::compile_at(ir, Tier::Optimizing)
    }

    /// [`JitModule::compile`] at a chosen tier.
    pub fn compile_at(ir: &IrModule, tier: Tier) -> Result<JitModule, CodegenError> {
        let mut jb =
            JITBuilder::with_isa(host_isa(tier)?, cranelift_module::default_libcall_names());
        // Apple silicon: code pages must be MAP_JIT (see map_jit.rs)
        #[cfg(all(target_os = "macos", target_arch = "aarch64"))]
        jb.memory_provider(Box::new(super::map_jit::MapJitMemory::new()));
        for (name, ptr) in pj_runtime::math::symbols() {
            jb.symbol(name, ptr);
        }
        let mut module = JITModule::new(jb);
        let rt = declare_runtime(&mut module)?;
        let funcs: Vec<OpId> = ir.kernels();
        if let Some(&k) = funcs
            .iter()
            .find(|&&k| ir.op(k).opcode != Opcode::Func(FuncOp::Func))
        {
            return Err(CodegenError::Unsupported(format!(
                "`{}` is not lowered: run `lower-stages` first",
                signature(ir, k).name
            )));
        }
        let mut ids: HashMap<String, (FuncId, FuncId)> = HashMap::new();
        let (defined, functions) = super::lower::with_defined(|| -> Result<(), CodegenError> {
            for &f in &funcs {
                let name = signature(ir, f).name;
                let id = module.declare_function(
                    &name,
                    Linkage::Local,
                    &kernel_signature(&module, ir, f),
                )?;
                define_kernel(&mut module, &rt, ir, f, id, tier)?;
                let tramp = trampoline(&mut module, ir, f, id, &name)?;
                ids.insert(name, (id, tramp));
            }
            Ok(())
        });
        defined?;
        module.finalize_definitions()?;
        // `PJ_PERF_MAP=1`: name the JIT's code for `perf report`
        if std::env::var_os("PJ_PERF_MAP").is_some() {
            perf_map(&module, &functions);
        }
        let mut kernels = HashMap::new();
        for name in ir.kernel_names() {
            let op = ir.kernel(&name).expect("listed");
            let shape_name = format!("{name}.shape");
            let (Some(&(_, t)), Some(&(_, st))) = (ids.get(&name), ids.get(&shape_name)) else {
                return Err(CodegenError::Unsupported(format!(
                    "`{name}` has no shape function"
                )));
            };
            let sig = signature(ir, op);
            let block = ir.entry_block(op, 0);
            let args = &ir.block(block).args;
            let results = sig
                .results
                .iter()
                .zip(&args[sig.params.len()..])
                .map(|(n, &a)| (n.clone(), ir.ty(a).elem(), ir.ty(a).rank().unwrap_or(0)))
                .collect();
            // SAFETY: trampolines are defined with exactly this signature.
            let entry = unsafe {
                std::mem::transmute::<*const u8, extern "C" fn(*const u64) -> i32>(
                    module.get_finalized_function(t),
                )
            };
            let shape_entry = unsafe {
                std::mem::transmute::<*const u8, extern "C" fn(*const u64) -> i32>(
                    module.get_finalized_function(st),
                )
            };
            kernels.insert(
                name.clone(),
                JitKernel {
                    name,
                    params: sig.params,
                    results,
                    entry,
                    shape_entry,
                },
            );
        }
        Ok(JitModule {
            module: Some(module),
            kernels,
        })
    }

    /// A compiled kernel by name.
    pub fn kernel(&self, name: &str) -> Option<&JitKernel> {
        self.kernels.get(name)
    }
}

/// `int32_t tramp(const uint64_t* args)`: unpacks 8-byte slots and calls `target`.
fn trampoline(
    module: &mut JITModule,
    ir: &IrModule,
    func: OpId,
    target: FuncId,
    name: &str,
) -> Result<FuncId, CodegenError> {
    let ptr = module.target_config().pointer_type();
    let mut s = module.make_signature();
    s.params.push(AbiParam::new(ptr));
    s.returns.push(AbiParam::new(types::I32));
    let id = module.declare_function(&format!("__pj_trampoline_{name}"), Linkage::Local, &s)?;
    let mut ctx = module.make_context();
    ctx.func.signature = s;
    let mut fctx = FunctionBuilderContext::new();
    {
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let slots = b.block_params(entry)[0];
        let block = ir.entry_block(func, 0);
        let mut args = Vec::new();
        for (i, &a) in ir.block(block).args.iter().enumerate() {
            let t = match ir.ty(a) {
                IrType::Scalar(s) => cl_type(*s),
                _ => ptr,
            };
            // little-endian slots: a narrower scalar sits at the slot's start
            args.push(
                b.ins()
                    .load(t, MemFlagsData::trusted(), slots, (8 * i) as i32),
            );
        }
        let f = super::lower::func_ref_in(module, target, b.func);
        let call = b.ins().call(f, &args);
        let st = b.inst_results(call)[0];
        b.ins().return_(&[st]);
        b.seal_all_blocks();
        b.finalize(module.target_config());
    }
    module
        .define_function(id, &mut ctx)
        .map_err(|e| CodegenError::Cranelift(format!("trampoline: {e:?}")))?;
    module.clear_context(&mut ctx);
    Ok(id)
}

fn scalar_slot(s: Scalar) -> u64 {
    match s {
        Scalar::F32(v) => v.to_bits() as u64,
        Scalar::F64(v) => v.to_bits(),
        s => s.as_i64().unwrap_or(0) as u64,
    }
}

/// An interpreter array as a runtime buffer (for [`JitKernel::call_buffers`]).
pub fn to_buffer(t: &Tensor) -> Result<Buffer, RunError> {
    Buffer::from_bytes(elem_code(t.elem), &t.shape, &t.to_le_bytes())
        .map_err(|e| bad(e.to_string()))
}

fn status_error(status: i32) -> RunError {
    let message = pj_runtime::error::last_error()
        .unwrap_or_else(|| format!("kernel failed: {}", pj_runtime::abi::status::name(status)));
    RunError { status, message }
}

/// An argument of [`JitKernel::call_buffers`]: a runtime buffer for an
/// array parameter, a value for a scalar one.
pub enum KernelArg<'a> {
    /// An array parameter.
    Array(&'a mut Buffer),
    /// A scalar parameter.
    Scalar(Scalar),
}

impl JitKernel {
    fn slots(
        &self,
        args: &mut [KernelArg<'_>],
        extra: &mut [&mut Buffer],
    ) -> Result<Vec<u64>, RunError> {
        if args.len() != self.params.len() {
            return Err(bad(format!(
                "kernel `{}` takes {} arguments, {} given",
                self.name,
                self.params.len(),
                args.len()
            )));
        }
        let mut slots = Vec::new();
        for ((pname, ty), a) in self.params.iter().zip(args.iter_mut()) {
            match (ty, a) {
                (IrType::Scalar(t), KernelArg::Scalar(s)) if s.ty() == *t => {
                    slots.push(scalar_slot(*s))
                }
                (IrType::Scalar(t), KernelArg::Scalar(s)) => {
                    return Err(bad(format!(
                        "argument `{pname}`: expects a {t} scalar, got {}",
                        s.ty()
                    )));
                }
                (IrType::Buffer { elem, dims }, KernelArg::Array(b)) => {
                    let got = crate::codegen::abi::scalar_type(b.elem());
                    if got != *elem {
                        return Err(bad(format!(
                            "argument `{pname}`: expects an array of {elem}, got {got}"
                        )));
                    }
                    if b.shape().len() != dims.len() {
                        return Err(bad(format!(
                            "argument `{pname}`: expects {} dims, got an array of shape {:?}",
                            dims.len(),
                            b.shape()
                        )));
                    }
                    slots.push(b.descriptor() as u64)
                }
                (t, _) => return Err(bad(format!("argument `{pname}`: expects {t}"))),
            }
        }
        slots.extend(extra.iter_mut().map(|b| b.descriptor() as u64));
        Ok(slots)
    }

    /// The shape of every result for these arguments (the shape companion);
    /// checks the arguments' shapes and sizes on the way.
    pub fn result_shapes(&self, args: &mut [KernelArg<'_>]) -> Result<Vec<Vec<usize>>, RunError> {
        let total: usize = self.results.iter().map(|r| r.2).sum();
        let mut shape_buf =
            Buffer::zeros(pj_runtime::ElemType::I64, &[total]).map_err(|e| bad(e.to_string()))?;
        let slots = self.slots(args, &mut [&mut shape_buf])?;
        let st = (self.shape_entry)(slots.as_ptr());
        if st != 0 {
            return Err(status_error(st));
        }
        let flat: Vec<i64> = shape_buf
            .bytes()
            .chunks(8)
            .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect();
        let mut at = 0;
        Ok(self
            .results
            .iter()
            .map(|r| {
                let s = flat[at..at + r.2]
                    .iter()
                    .map(|&e| e.max(0) as usize)
                    .collect();
                at += r.2;
                s
            })
            .collect())
    }

    /// The element type of each result, in order.
    pub fn result_elems(&self) -> Vec<crate::ir::ScalarType> {
        self.results.iter().map(|r| r.1).collect()
    }

    /// Runs the kernel on runtime buffers: `results` must have the shapes
    /// [`JitKernel::result_shapes`] gives (the kernel checks, and fails with
    /// a status rather than writing out of bounds).
    pub fn call_buffers(
        &self,
        args: &mut [KernelArg<'_>],
        results: &mut [&mut Buffer],
    ) -> Result<(), RunError> {
        if results.len() != self.results.len() {
            return Err(bad(format!(
                "kernel `{}` has {} results, {} buffers given",
                self.name,
                self.results.len(),
                results.len()
            )));
        }
        let slots = self.slots(args, results)?;
        let st = (self.entry)(slots.as_ptr());
        if st != 0 {
            Err(status_error(st))
        } else {
            Ok(())
        }
    }

    /// Runs the kernel on runtime buffers and returns its results in
    /// buffers it allocates, each element in its own type: the way to call
    /// with large arrays (an interpreter value takes 16 bytes per element).
    pub fn call_owned(&self, args: &mut [KernelArg<'_>]) -> Result<Vec<Buffer>, RunError> {
        let shapes = self.result_shapes(args)?;
        let mut outputs = Vec::new();
        for ((rname, elem, _), shape) in self.results.iter().zip(&shapes) {
            outputs.push(
                Buffer::zeros(elem_code(*elem), shape).map_err(|e| RunError {
                    status: pj_runtime::abi::status::OUT_OF_MEMORY,
                    message: format!("cannot allocate result `{rname}` of shape {shape:?}: {e}"),
                })?,
            );
        }
        let mut refs: Vec<&mut Buffer> = outputs.iter_mut().collect();
        self.call_buffers(args, &mut refs)?;
        Ok(outputs)
    }

    /// Calls the kernel on interpreter values: checks element types and
    /// ranks, asks for the result shapes, allocates the results and runs.
    pub fn call(&self, args: &[Arg]) -> Result<Vec<Tensor>, RunError> {
        if args.len() != self.params.len() {
            return Err(bad(format!(
                "kernel `{}` takes {} arguments, {} given",
                self.name,
                self.params.len(),
                args.len()
            )));
        }
        let mut owned: Vec<Option<Buffer>> = Vec::new();
        for ((pname, ty), a) in self.params.iter().zip(args) {
            owned.push(match (ty, a) {
                (IrType::Buffer { elem, .. }, Arg::Array(t)) => {
                    // said here, before a buffer of the wrong size is made
                    if t.elem != *elem {
                        return Err(bad(format!(
                            "argument `{pname}`: expects an array of {elem}, got {}",
                            t.elem
                        )));
                    }
                    Some(to_buffer(t)?)
                }
                _ => None,
            });
        }
        let mut kargs: Vec<KernelArg<'_>> = owned
            .iter_mut()
            .zip(args)
            .map(|(b, a)| match (b, a) {
                (Some(b), _) => KernelArg::Array(b),
                (None, Arg::Scalar(s)) => KernelArg::Scalar(*s),
                (None, Arg::Array(_)) => KernelArg::Scalar(Scalar::Bool(false)), // rejected by `slots`
            })
            .collect();
        let outputs = self.call_owned(&mut kargs)?;
        Ok(outputs
            .iter()
            .zip(&self.results)
            .map(|(b, (_, elem, _))| Tensor::from_le_bytes(*elem, b.shape(), b.bytes()))
            .collect())
    }
}

/// Compiles a module's kernels ready to call: lowers a copy of `pj`-level IR
/// if needed, then JIT-compiles it.
pub fn compile(ir: &IrModule) -> Result<JitModule, CodegenError> {
    let lowered_already = ir
        .kernels()
        .iter()
        .all(|&k| ir.op(k).opcode == Opcode::Func(FuncOp::Func));
    if lowered_already {
        return JitModule::compile(ir);
    }
    let mut m = ir.clone();
    crate::passes::PassManager::parse(super::super::LOWERING_PIPELINE)
        .expect("registered passes")
        .run(&mut m)
        .map_err(|e| CodegenError::Unsupported(e.to_string()))?;
    JitModule::compile(&m)
}
