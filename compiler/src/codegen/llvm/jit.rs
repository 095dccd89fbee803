//! LLVM's JIT (MCJIT): compiles a module into this process, with a
//! trampoline per kernel (`codegen::kernel` explains them and calls them).

use super::emit::{Emitter, V};
use super::{Naming, define_all, internal, machine, optimize};
use crate::codegen::driver::Options;
use crate::codegen::kernel::{JitModule, Trampoline};
use crate::codegen::{Backend, CodegenError};
use crate::ir::{Module as IrModule, Type as IrType};
use inkwell::OptimizationLevel;
use inkwell::context::Context;
use inkwell::execution_engine::ExecutionEngine;
use inkwell::llvm_sys::LLVMLinkage;
use inkwell::module::Module;
use inkwell::targets::RelocMode;
use std::collections::HashMap;

/// The compiled code and everything it borrows, dropped in order: the
/// engines (each owning its machine code and module) before the context.
/// Two of each: the kernels, optimized, and their checked copies, not
/// (`lower::Variant`): a copy that runs only on calls with a zero size is
/// not worth LLVM's optimizing code generator (which took 25-40 ms of
/// matmul's, qdot's and conv2d's compile for it).
struct LlvmCode {
    engines: Vec<ExecutionEngine<'static>>,
    modules: Vec<Module<'static>>,
    context: *mut Context,
}

// SAFETY: `LlvmCode` owns its context and everything made in it (the
// engine's `Rc` and its clone inside the module are both here), so moving
// it to another thread moves every handle at once; LLVM allows a context
// to be used from any one thread at a time. Nothing here is shared (no
// `Sync`).
unsafe impl Send for LlvmCode {}

impl Drop for LlvmCode {
    fn drop(&mut self) {
        self.engines.clear();
        self.modules.clear();
        // SAFETY: made by `Box::into_raw` in `compile`; nothing borrowing
        // it is left (the engine and module are gone).
        drop(unsafe { Box::from_raw(self.context) });
    }
}

/// The symbol of a kernel in the JIT's module: prefixed, so that no kernel
/// name (`memset`, `pj_rt_free`) can stand for a function the code calls.
fn jit_symbol(name: &str) -> String {
    format!("__pj_kernel_{name}")
}

fn trampoline_symbol(name: &str) -> String {
    format!("__pj_trampoline_{name}")
}

/// Compiles every `func.func` of `ir` (verified and lowered) into this
/// process.
pub fn compile(ir: &IrModule, options: &Options) -> Result<JitModule, CodegenError> {
    crate::codegen::analysis::require_lowered(ir, Backend::Llvm)?;
    let (tm, attrs) = machine(&options.target, RelocMode::Default)?;
    let context = Box::into_raw(Box::new(Context::create()));
    // SAFETY: the context lives until `LlvmCode` drops, after everything
    // borrowing it; on an early return below it leaks (an error path).
    let ctx: &'static Context = unsafe { &*context };
    let mut code = LlvmCode {
        engines: Vec::new(),
        modules: Vec::new(),
        context,
    };
    let module = ctx.create_module("picojoule");
    let checked = ctx.create_module("picojoule.checked");
    let naming = Naming {
        symbol: &jit_symbol,
        linkage: LLVMLinkage::LLVMInternalLinkage,
    };
    let t0 = std::time::Instant::now();
    let defined = define_all(
        ctx,
        &module,
        Some(&checked),
        ir,
        &attrs,
        options.tier,
        &[],
        &naming,
    )?;
    for (name, op, f) in &defined {
        trampoline(ctx, &module, ir, name, *op, *f, &attrs);
    }
    let t1 = std::time::Instant::now();
    optimize(&module, &tm, options.tier)?;
    super::lower::verify(&checked)?;
    checked.set_triple(&tm.get_triple());
    checked.set_data_layout(&tm.get_target_data().get_data_layout());
    let t2 = std::time::Instant::now();
    // the checked copies first, finalized before the kernels' engine
    // exists (finalizing one MCJIT engine after another was made crashed
    // in LLVM 22's relocation pass): the kernels call them at their
    // addresses
    let checked_engine = checked
        .create_jit_execution_engine(OptimizationLevel::None)
        .map_err(|e| internal(format!("MCJIT: {e}")))?;
    map_runtime(&checked_engine, &checked);
    let mut checked_addrs = Vec::new();
    for f in checked.get_functions() {
        let name = f.get_name().to_string_lossy().into_owned();
        if f.count_basic_blocks() > 0 && f.get_linkage() == inkwell::module::Linkage::External {
            let addr = checked_engine
                .get_function_address(&name)
                .map_err(|e| internal(format!("`{name}`: {e}")))?;
            checked_addrs.push((name, addr));
        }
    }
    let level = match options.tier {
        crate::codegen::Tier::Quick => OptimizationLevel::Less,
        crate::codegen::Tier::Optimizing => OptimizationLevel::Aggressive,
    };
    let engine = module
        .create_jit_execution_engine(level)
        .map_err(|e| internal(format!("MCJIT: {e}")))?;
    map_runtime(&engine, &module);
    for (name, addr) in &checked_addrs {
        let f = module
            .get_function(name)
            .ok_or_else(|| internal(format!("`{name}` is not declared")))?;
        engine.add_global_mapping(&f, *addr);
    }
    let mut entries: HashMap<String, Trampoline> = HashMap::new();
    for (name, _, _) in &defined {
        let addr = engine
            .get_function_address(&trampoline_symbol(name))
            .map_err(|e| internal(format!("`{name}`: {e}")))?;
        // SAFETY: trampolines are defined with exactly this signature, and
        // the code stays mapped while `code` lives.
        entries.insert(name.clone(), unsafe {
            std::mem::transmute::<usize, Trampoline>(addr)
        });
    }
    // `PJ_LLVM_TIME=1`: where LLVM's compile time goes (a developer's aid)
    if std::env::var_os("PJ_LLVM_TIME").is_some() {
        eprintln!(
            "llvm: lowering {:.1} ms, passes {:.1} ms, code generation {:.1} ms",
            (t1 - t0).as_secs_f64() * 1e3,
            (t2 - t1).as_secs_f64() * 1e3,
            t2.elapsed().as_secs_f64() * 1e3
        );
    }
    code.engines = vec![engine, checked_engine];
    code.modules = vec![module, checked];
    JitModule::new(Backend::Llvm, ir, Box::new(code), |n| {
        Some((*entries.get(n)?, *entries.get(&format!("{n}.shape"))?))
    })
}

/// Points `module`'s runtime imports at the runtime linked into this process.
fn map_runtime(engine: &ExecutionEngine<'_>, module: &Module<'_>) {
    for (name, ptr) in pj_runtime::math::symbols() {
        if let Some(f) = module.get_function(name) {
            engine.add_global_mapping(&f, ptr as usize);
        }
    }
}

/// `int32_t tramp(const uint64_t* args)`: unpacks 8-byte slots and calls
/// the kernel `f`.
fn trampoline(
    ctx: &Context,
    module: &Module<'_>,
    ir: &IrModule,
    name: &str,
    func: crate::ir::OpId,
    f: V,
    attrs: &super::lower::FnAttrs,
) {
    let builder = ctx.create_builder();
    let e = Emitter::new(ctx, module, &builder);
    let ty = e.fn_ty(&[e.ptr()], e.i32());
    let t = e.add_function(
        &trampoline_symbol(name),
        ty,
        LLVMLinkage::LLVMExternalLinkage,
    );
    attrs.apply(&e, t);
    e.at_end(e.block(t, "entry"));
    let slots = e.param(t, 0);
    let block = ir.entry_block(func, 0);
    let args: Vec<V> = ir
        .block(block)
        .args
        .iter()
        .enumerate()
        .map(|(i, &a)| {
            let at = e.byte_offset(slots, 8 * i as i64);
            let ty = match ir.ty(a) {
                IrType::Scalar(s) => super::lower::scalar_ty(&e, *s),
                _ => e.ptr(),
            };
            // little-endian slots: a narrower scalar sits at the slot's start
            e.load(ty, at, 8)
        })
        .collect();
    let kty = super::lower::kernel_fn_ty(&e, ir, func);
    let st = e.call(kty, f, &args);
    e.ret(st);
}
