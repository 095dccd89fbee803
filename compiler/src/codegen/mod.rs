//! Native code generation. A backend takes verified, fully lowered IR
//! (`func`, `loop`, `mem`, `vector`, `arith`, `math`; see
//! `passes::lower_stages`) and produces machine code with the ABI of
//! `pj_runtime::abi`.
//!
//! - [`cranelift`]: fast compilation; JIT in-process (the default of
//!   `pj run`) and object files with C headers (`pj build`).

pub mod abi;
pub mod cranelift;
pub mod symbols;

/// What follows the default pipeline on the way to a backend: fusion, then
/// lowering to loops and the loop-level clean-ups.
pub const AFTER_DEFAULT_PIPELINE: &str = "inline-pointwise,canonicalize,cse,dce,schedule,lower-stages,canonicalize,licm,vectorize,licm,cse,dce";

/// `-O0`: lowering only, no optimization: every stage materialized in
/// program order, reductions innermost, scalar loops.
pub const UNOPTIMIZED_PIPELINE: &str = "lower-stages";

/// The whole pipeline from `pj` IR to a backend: the default pipeline, then
/// [`AFTER_DEFAULT_PIPELINE`].
pub const LOWERING_PIPELINE: &str = "canonicalize,cse,dce,inline-pointwise,canonicalize,cse,dce,schedule,lower-stages,canonicalize,licm,vectorize,licm,cse,dce";

#[cfg(test)]
mod tests {
    #[test]
    fn the_lowering_pipeline_is_the_default_one_then_the_rest() {
        let whole = format!(
            "{},{}",
            crate::passes::DEFAULT_PIPELINE,
            super::AFTER_DEFAULT_PIPELINE
        );
        assert_eq!(super::LOWERING_PIPELINE, whole);
    }
}
