//! Cranelift's JIT: compiles a module into this process, with a
//! trampoline per kernel (`codegen::kernel` explains them and calls them).

use super::lower::{cl_type, declare_runtime, define_kernel, kernel_signature};
use crate::codegen::kernel::{JitModule, Tier, Trampoline};
use crate::codegen::{Backend, CodegenError};
use crate::dialects::signature;
use crate::ir::{Module as IrModule, OpId, Type as IrType};
use cranelift_codegen::ir::{AbiParam, InstBuilder, MemFlagsData, types};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{FuncId, Linkage, Module};
use std::collections::HashMap;

/// The Cranelift JIT's code, freed when dropped (the neutral
/// [`JitModule`] holds it alive while its kernels can be called).
struct CraneliftCode(Option<JITModule>);

impl Drop for CraneliftCode {
    fn drop(&mut self) {
        if let Some(m) = self.0.take() {
            // SAFETY: no function pointer outlives the `JitModule` owning
            // this (they are only reachable through its kernels).
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

/// Compiles every `func.func` of `ir` (verified and lowered) into this
/// process at `tier`.
pub fn compile(ir: &IrModule, tier: Tier) -> Result<JitModule, CodegenError> {
    let mut jb = JITBuilder::with_isa(host_isa(tier)?, cranelift_module::default_libcall_names());
    // Apple silicon: code pages must be MAP_JIT (see map_jit.rs)
    #[cfg(all(target_os = "macos", target_arch = "aarch64"))]
    jb.memory_provider(Box::new(super::map_jit::MapJitMemory::new()));
    for (name, ptr) in pj_runtime::math::symbols() {
        jb.symbol(name, ptr);
    }
    let mut module = JITModule::new(jb);
    let rt = declare_runtime(&mut module)?;
    let funcs: Vec<OpId> = ir.kernels();
    crate::codegen::analysis::require_lowered(ir, Backend::Cranelift)?;
    let mut ids: HashMap<String, FuncId> = HashMap::new();
    let (defined, functions) = super::lower::with_defined(|| -> Result<(), CodegenError> {
        let mut built = Vec::new();
        for &f in &funcs {
            let name = signature(ir, f).name;
            let id = module.declare_function(
                &name,
                Linkage::Local,
                &kernel_signature(&module, ir, f),
            )?;
            built.extend(define_kernel(&mut module, &rt, ir, f, id, tier)?);
            let tramp = trampoline(&mut module, ir, f, id, &name)?;
            ids.insert(name, tramp);
        }
        super::lower::define_built(&mut module, built, true)
    });
    defined?;
    module.finalize_definitions()?;
    // `PJ_PERF_MAP=1`: name the JIT's code for `perf report`
    if std::env::var_os("PJ_PERF_MAP").is_some() {
        perf_map(&module, &functions);
    }
    let entry = |name: &str| -> Option<Trampoline> {
        let id = *ids.get(name)?;
        // SAFETY: trampolines are defined with exactly this signature.
        Some(unsafe {
            std::mem::transmute::<*const u8, Trampoline>(module.get_finalized_function(id))
        })
    };
    let entries: HashMap<String, (Trampoline, Trampoline)> = ir
        .kernel_names()
        .into_iter()
        .filter_map(|n| Some((n.clone(), (entry(&n)?, entry(&format!("{n}.shape"))?))))
        .collect();
    JitModule::new(
        Backend::Cranelift,
        ir,
        Box::new(CraneliftCode(Some(module))),
        |n| entries.get(n).copied(),
    )
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
        .map_err(|e| super::internal(format!("trampoline: {e:?}")))?;
    module.clear_context(&mut ctx);
    Ok(id)
}
