//! Calling compiled kernels from Rust, whichever backend compiled them.
//!
//! Kernels have typed C signatures (a `pj_buffer*` per array, scalars by
//! value), which Rust cannot call without knowing them at compile time. So
//! every backend gives each kernel a trampoline
//! `int32_t tramp(const uint64_t* args)` that reads its arguments from
//! 8-byte slots (little-endian: a narrower scalar sits at the slot's
//! start) and calls the kernel: one signature to call every kernel
//! through. This module packs the slots, checks what it can before the
//! call (count, element types, ranks), asks the shape companion for the
//! result shapes, allocates the results and reads the status.

use super::Backend;
use super::abi::elem_code;
use crate::dialects::{arith::Scalar, signature};
use crate::interp::{Tensor, Value as Arg};
use crate::ir::{Module as IrModule, ScalarType, Type as IrType};
use pj_runtime::Buffer;
use pj_runtime::abi::PjBuffer;
use smallvec::SmallVec;
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
    entry: Trampoline,
    shape_entry: Trampoline,
}

/// `int32_t tramp(const uint64_t* args)`: a kernel's uniform entry.
pub type Trampoline = extern "C" fn(*const u64) -> i32;

/// Every kernel of a module, compiled into this process. Dropping it frees
/// the code.
pub struct JitModule {
    kernels: HashMap<String, JitKernel>,
    backend: Backend,
    // declared last: dropped after the kernels that point into it; `Send`
    // so that code compiled on one thread can run on another (the REPL's
    // background tiering)
    _code: Box<dyn std::any::Any + Send>,
}

impl JitModule {
    /// Wraps a backend's compiled code: `code` owns the machine code (and
    /// frees it when dropped); `entries` gives each kernel's trampoline and
    /// its shape companion's, which must stay valid while `code` lives and
    /// have the [`Trampoline`] signature.
    pub(crate) fn new(
        backend: Backend,
        ir: &IrModule,
        code: Box<dyn std::any::Any + Send>,
        mut entries: impl FnMut(&str) -> Option<(Trampoline, Trampoline)>,
    ) -> Result<JitModule, super::CodegenError> {
        let mut kernels = HashMap::new();
        for name in ir.kernel_names() {
            let op = ir.kernel(&name).expect("listed");
            let Some((entry, shape_entry)) = entries(&name) else {
                return Err(super::CodegenError::Unsupported {
                    backend,
                    what: format!("`{name}` has no shape function"),
                });
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
            kernels,
            backend,
            _code: code,
        })
    }

    /// A compiled kernel by name.
    pub fn kernel(&self, name: &str) -> Option<&JitKernel> {
        self.kernels.get(name)
    }

    /// Who compiled it.
    pub fn backend(&self) -> Backend {
        self.backend
    }
}

/// How hard the backend works: the trade of compile time for run time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Tier {
    /// Compile fast: Cranelift's single-pass register allocator and loop
    /// versioning for innermost loops only (about half the compile time,
    /// code up to 3x slower on the examples; docs/performance.md); LLVM's
    /// `-O1`. What `pj repl` uses first.
    Quick,
    /// The best code the backend makes (Cranelift's backtracking
    /// register allocator; LLVM's `-O3`).
    #[default]
    Optimizing,
}

fn scalar_slot(s: Scalar) -> u64 {
    match s {
        Scalar::F32(v) => v.to_bits() as u64,
        Scalar::F64(v) => v.to_bits(),
        Scalar::F16(q) | Scalar::Bf16(q) => q as u64,
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

/// An argument of [`JitKernel::call_descriptors`]: a descriptor of memory
/// the caller owns (the Python package's NumPy arrays, zero-copy), or a
/// value for a scalar parameter.
#[derive(Clone, Copy, Debug)]
pub enum RawArg {
    /// An array parameter's descriptor.
    Array(*mut PjBuffer),
    /// A scalar parameter.
    Scalar(Scalar),
}

impl JitKernel {
    /// Refuses a call with the wrong number of arguments.
    fn check_arity(&self, given: usize) -> Result<(), RunError> {
        if given != self.params.len() {
            return Err(bad(format!(
                "kernel `{}` takes {} arguments, {given} given",
                self.name,
                self.params.len(),
            )));
        }
        Ok(())
    }

    fn slots(
        &self,
        args: &mut [KernelArg<'_>],
        extra: &mut [&mut Buffer],
    ) -> Result<Vec<u64>, RunError> {
        self.check_arity(args.len())?;
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

    /// The slots of a call on descriptors: arity and scalar types are
    /// checked here, the arrays by the kernel's entry checks. On the stack
    /// for a kernel of up to 16 arguments and results: the Python package
    /// calls tiny kernels in well under a microsecond.
    /// Written into the caller's `slots` rather than returned: a returned
    /// vector of 16 slots is a copy on every call.
    fn raw_slots(
        &self,
        args: &[RawArg],
        extra: &[*mut PjBuffer],
        slots: &mut SmallVec<[u64; 16]>,
    ) -> Result<(), RunError> {
        self.check_arity(args.len())?;
        for ((pname, ty), a) in self.params.iter().zip(args) {
            match (ty, a) {
                (IrType::Scalar(t), RawArg::Scalar(s)) if s.ty() == *t => {
                    slots.push(scalar_slot(*s))
                }
                (IrType::Buffer { .. }, RawArg::Array(d)) => slots.push(*d as u64),
                (t, _) => return Err(bad(format!("argument `{pname}`: expects {t}"))),
            }
        }
        slots.extend(extra.iter().map(|&d| d as u64));
        Ok(())
    }

    /// [`JitKernel::result_shapes`] on descriptors.
    ///
    /// # Safety
    /// Every descriptor must describe memory that is valid to read for as
    /// long as the call runs: its shape and strides (in elements) must stay
    /// inside one allocation from its data pointer.
    pub unsafe fn result_shapes_of(&self, args: &[RawArg]) -> Result<Vec<Vec<usize>>, RunError> {
        let total: usize = self.results.iter().map(|r| r.2).sum();
        let mut flat = vec![0i64; total];
        // SAFETY: as this function's.
        unsafe { self.result_extents_into(args, &mut flat)? };
        let mut at = 0;
        Ok(self
            .results
            .iter()
            .map(|r| {
                let s = flat[at..at + r.2].iter().map(|&e| e as usize).collect();
                at += r.2;
                s
            })
            .collect())
    }

    /// The extents of every result, one after the other (each result's
    /// rank of them, results in order), into `flat`, which holds exactly
    /// that many; none is negative.
    ///
    /// # Safety
    /// As [`JitKernel::result_shapes_of`].
    pub unsafe fn result_extents_into(
        &self,
        args: &[RawArg],
        flat: &mut [i64],
    ) -> Result<(), RunError> {
        let total: usize = self.results.iter().map(|r| r.2).sum();
        if flat.len() != total {
            return Err(bad(format!(
                "kernel `{}`: {} result extents asked for, it has {total}",
                self.name,
                flat.len()
            )));
        }
        let mut one = [0i64; 1];
        let data = if total == 0 {
            one.as_mut_ptr()
        } else {
            flat.as_mut_ptr()
        };
        let mut shape_buf = PjBuffer::new(
            data.cast(),
            pj_runtime::ElemType::I64,
            &[total as i64],
            &[1],
        );
        let mut slots = SmallVec::new();
        self.raw_slots(args, &[&mut shape_buf], &mut slots)?;
        let st = (self.shape_entry)(slots.as_ptr());
        if st != 0 {
            return Err(status_error(st));
        }
        for e in flat.iter_mut() {
            *e = (*e).max(0);
        }
        Ok(())
    }

    /// Runs the kernel on descriptors: `results` must have the shapes
    /// [`JitKernel::result_shapes_of`] gives. The kernel's entry checks
    /// every descriptor (types, ranks, sizes, results aliasing themselves
    /// or overlapping an argument) before it reads or writes anything.
    ///
    /// # Safety
    /// As [`JitKernel::result_shapes_of`], and each result's memory must
    /// be valid to write.
    pub unsafe fn call_descriptors(
        &self,
        args: &[RawArg],
        results: &[*mut PjBuffer],
    ) -> Result<(), RunError> {
        self.check_result_count(results.len())?;
        let mut slots = SmallVec::new();
        self.raw_slots(args, results, &mut slots)?;
        self.enter(&slots)
    }

    /// Refuses a call with the wrong number of result buffers.
    fn check_result_count(&self, given: usize) -> Result<(), RunError> {
        if given != self.results.len() {
            return Err(bad(format!(
                "kernel `{}` has {} results, {given} buffers given",
                self.name,
                self.results.len(),
            )));
        }
        Ok(())
    }

    /// Calls the kernel's entry on its argument slots.
    fn enter(&self, slots: &[u64]) -> Result<(), RunError> {
        match (self.entry)(slots.as_ptr()) {
            0 => Ok(()),
            st => Err(status_error(st)),
        }
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
        self.check_result_count(results.len())?;
        let slots = self.slots(args, results)?;
        self.enter(&slots)
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
        self.check_arity(args.len())?;
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
