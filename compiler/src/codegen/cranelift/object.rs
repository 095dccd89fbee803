//! Ahead-of-time compilation: an object file with every kernel and its
//! shape companion as exported C functions, for any supported target.
//!
//! Symbols: kernel `blur` is `blur`, its shape companion `blur_shape`
//! (Apple targets add their leading underscore in the object file); names
//! a C program could not link are refused first
//! (`codegen::symbols::check_c_names`). The object imports only the
//! runtime's `pj_rt_*` functions.

use super::lower::{declare_runtime, define_kernel, kernel_signature};
use crate::codegen::CodegenError;
use crate::dialects::signature;
use crate::ir::{Attr, Module as IrModule};
use crate::target::Target;
use cranelift_module::{Linkage, Module};
use cranelift_object::{ObjectBuilder, ObjectModule};

use crate::codegen::symbols::c_symbol;

/// Compiles the kernels of `ir` (lowered, verified) named in `only` (all if
/// empty) for `target`; returns the object file's bytes.
pub fn emit_object(
    ir: &IrModule,
    target: &Target,
    only: &[String],
) -> Result<Vec<u8>, CodegenError> {
    crate::codegen::symbols::check_c_names(ir, only).map_err(CodegenError::Symbol)?;
    let isa = target
        .isa()
        .map_err(|e| CodegenError::Target(e.to_string()))?;
    let builder = ObjectBuilder::new(isa, "picojoule", cranelift_module::default_libcall_names())?;
    let mut module = ObjectModule::new(builder);
    let rt = declare_runtime(&mut module)?;
    crate::codegen::analysis::require_lowered(ir, crate::codegen::Backend::Cranelift)?;
    for f in ir.kernels() {
        let name = signature(ir, f).name;
        let owner = ir
            .op(f)
            .attr("shape_of")
            .and_then(Attr::as_str)
            .map_or(name.clone(), str::to_string);
        if !only.is_empty() && !only.contains(&owner) {
            continue;
        }
        let id = module.declare_function(
            &c_symbol(&name),
            Linkage::Export,
            &kernel_signature(&module, ir, f),
        )?;
        let built = define_kernel(
            &mut module,
            &rt,
            ir,
            f,
            id,
            crate::codegen::Tier::Optimizing,
        )?;
        // one at a time: an object's functions may carry unwind information
        // that only `define_function` writes
        super::lower::define_built(&mut module, built, false)?;
    }
    let product = module.finish();
    product.emit().map_err(|e| super::internal(e.to_string()))
}

/// The machine code Cranelift makes for the kernels of `ir` named in
/// `only` (all if empty) on `target`, as an assembly-like listing (one
/// section per function, parallel loop bodies included).
pub fn disassemble(
    ir: &IrModule,
    target: &Target,
    only: &[String],
) -> Result<String, CodegenError> {
    let (r, text) = super::lower::with_listing(|| emit_object(ir, target, only));
    r.map(|_| text)
}

/// The Cranelift IR of the kernels of `ir` named in `only` (all if empty)
/// on `target`, after Cranelift's optimizations, one section per function
/// (parallel loop bodies included). For tests of what reaches instruction
/// selection, and for developers (`PJ_CLIF=opt` prints the same).
pub fn optimized_clif(
    ir: &IrModule,
    target: &Target,
    only: &[String],
) -> Result<String, CodegenError> {
    let (r, text) = super::lower::with_optimized_clif(|| emit_object(ir, target, only));
    r.map(|_| text)
}
