//! A kernel's two copies, and what each may leave unchecked.
//!
//! The front end proves every read of a parameter inside its array when
//! every size is at least 1 (docs/language.md, "Bounds inference"), and
//! `lower-stages` marks the reads it emits with that promise
//! ([`mem::IN_BOUNDS_NONEMPTY`]). So each kernel is compiled twice, and its
//! exported function, after the entry checks (`codegen::checks`), picks a
//! copy per call, as Halide's `specialize` and numba's dispatch on array
//! layout do:
//!
//! - [`KernelCopy::Dense`] when every extent of every array argument is at
//!   least 1: no access the lowering promised inside is checked, and only
//!   loops with accesses it did not promise (reads that give zero outside,
//!   IR from outside the compiler) are versioned, interior against edges;
//! - [`KernelCopy::Checked`] otherwise (a zero size, where the proofs do
//!   not hold): every access checked, no loop versioned.
//!
//! Both copies take rows that are contiguous: the exported function first
//! copies any array whose last stride is not 1 into a row-major temporary
//! (`pj_rt_contiguous`, results copied back with `pj_rt_copy_back`), one
//! pass over the view where reading it lane by lane would cost a gather in
//! every loop.
//!
//! In the LLVM backend this replaced versioning every loop: a precheck per
//! loop and two copies of each, one with a check per access and a branch
//! on the stride around every vector access, which took three quarters of
//! LLVM's compile time (docs/performance.md). The Cranelift backend still
//! versions each loop (`versioning`) and reads strided rows lane by lane:
//! with these copies its compiles halved, but Cranelift's loop-invariant
//! code motion hoisted matmul's row pointers out of the whole nest and its
//! register allocator reloaded them in the innermost loop (13% slower).

use crate::dialects::mem;
use crate::ir::{Attr, Module as IrModule, OpId};

/// Which copy of a kernel a function belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelCopy {
    /// Every extent is at least 1: promised accesses unchecked.
    Dense,
    /// Some extent is 0: every access checked.
    Checked,
}

impl KernelCopy {
    /// The suffix of the copy's symbol (`matmul.dense`).
    pub fn suffix(self) -> &'static str {
        match self {
            KernelCopy::Dense => "dense",
            KernelCopy::Checked => "checked",
        }
    }

    /// Whether this copy omits the check of access `op` (a load or store):
    /// the dense copy omits what the lowering promised inside.
    pub fn unchecked(self, ir: &IrModule, op: OpId) -> bool {
        self == KernelCopy::Dense && promised(ir, op)
    }
}

/// Whether the lowering promised access `op` inside its buffer whenever no
/// extent is zero: `in_bounds` (always inside: stores the nest covers,
/// reads of a stage), or [`mem::IN_BOUNDS_NONEMPTY`] (reads of parameters,
/// an update's stores at indices proven inside).
pub fn promised(ir: &IrModule, op: OpId) -> bool {
    let d = ir.op(op);
    let says = |key: &str| d.attr(key) == Some(&Attr::Bool(true));
    says("in_bounds") || says(mem::IN_BOUNDS_NONEMPTY)
}
