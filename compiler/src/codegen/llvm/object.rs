//! Ahead-of-time compilation with LLVM: an object file (ELF or Mach-O)
//! with every kernel and its shape companion as exported C functions, the
//! same symbols and ABI as the Cranelift backend's (`codegen::symbols`,
//! `codegen::header`); or the assembly, or LLVM's IR after optimization.

use super::{Naming, define_all, internal, machine, optimize};
use crate::codegen::driver::{Emit, Options};
use crate::codegen::symbols::c_symbol;
use crate::codegen::{Backend, CodegenError, Tier};
use crate::ir::Module as IrModule;
use inkwell::context::Context;
use inkwell::llvm_sys::LLVMLinkage;
use inkwell::module::Module;
use inkwell::targets::{FileType, RelocMode, TargetMachine};

/// The module of the kernels of `ir` (lowered, verified) named in `only`
/// (all if empty), exported under their C names, before LLVM's passes; and
/// the target machine for `options.target`.
fn exported_module<'ctx>(
    ctx: &'ctx Context,
    ir: &IrModule,
    options: &Options,
    only: &[String],
) -> Result<(TargetMachine, Module<'ctx>), CodegenError> {
    crate::codegen::analysis::require_lowered(ir, Backend::Llvm)?;
    let (tm, attrs) = machine(&options.target, RelocMode::PIC)?;
    let module = ctx.create_module("picojoule");
    let naming = Naming {
        symbol: &c_symbol,
        linkage: LLVMLinkage::LLVMExternalLinkage,
    };
    define_all(
        ctx,
        &module,
        None,
        ir,
        &attrs,
        Tier::Optimizing,
        only,
        &naming,
    )?;
    Ok((tm, module))
}

/// Compiles the kernels of `ir` (lowered, verified) named in `only` (all
/// if empty) for `options.target`.
pub fn emit(
    ir: &IrModule,
    options: &Options,
    only: &[String],
    what: Emit,
) -> Result<Vec<u8>, CodegenError> {
    crate::codegen::symbols::check_c_names(ir, only).map_err(CodegenError::Symbol)?;
    let ctx = Context::create();
    let (tm, module) = exported_module(&ctx, ir, options, only)?;
    optimize(&module, &tm, Tier::Optimizing)?;
    let file = match what {
        Emit::LlvmIr => return Ok(module.print_to_string().to_bytes().to_vec()),
        Emit::Object => FileType::Object,
        Emit::Asm => FileType::Assembly,
    };
    tm.write_to_memory_buffer(&module, file)
        .map(|b| b.as_slice().to_vec())
        .map_err(|e| internal(e.to_string()))
}

/// The LLVM IR picojoule makes of the kernels of `ir` (lowered, verified)
/// for `options.target`, before LLVM's own passes: what the lowering
/// decides, for snapshot tests and for reading.
pub fn lowered_ir(ir: &IrModule, options: &Options) -> Result<String, CodegenError> {
    let ctx = Context::create();
    let (_, module) = exported_module(&ctx, ir, options, &[])?;
    super::lower::verify(&module)?;
    Ok(module.print_to_string().to_string())
}
