//! Calling a kernel through CPython's vectorcall protocol (PEP 590).
//!
//! A class's `__call__` from PyO3 fills the type's `tp_call` slot, which
//! receives its arguments as a new tuple and, for `out=`, a new dict: on a
//! kernel of 16 elements that was a quarter of the call. With vectorcall,
//! CPython passes the caller's own argument array and a tuple of keyword
//! names instead, and nothing is allocated before the kernel's checks.
//!
//! PyO3 0.30 cannot declare a vectorcall slot (PyO3#4252), so it is set
//! here, once, on the type it made: each kernel holds the function pointer
//! in a field, the type records that field's offset and the flag that says
//! it is there. `tp_call` stays as the same call's tuple-and-dict form
//! (`Kernel::__call__`), as the protocol asks.

use crate::call::{self, Passed};
use crate::kernel::Kernel;
use pyo3::ffi;
use pyo3::panic::PanicException;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use std::panic::AssertUnwindSafe;
use std::sync::Once;

/// Makes the kernel type callable through the field `vectorcall` of its
/// instances, the first time a kernel is made.
pub fn enable(k: &Bound<'_, Kernel>) {
    static ENABLED: Once = Once::new();
    ENABLED.call_once(|| {
        let object = k.as_ptr() as usize;
        let field = k.get().vectorcall_field() as usize;
        let offset = field
            .checked_sub(object)
            .expect("a pyclass's fields are inside its object");
        // SAFETY: the type is the heap type PyO3 made for `Kernel`, whose
        // instances all have this layout; no kernel has been called yet
        // (this is the first one), and the GIL is held.
        unsafe {
            let ty = ffi::Py_TYPE(k.as_ptr());
            (*ty).tp_vectorcall_offset = offset as ffi::Py_ssize_t;
            (*ty).tp_flags |= ffi::Py_TPFLAGS_HAVE_VECTORCALL;
        }
    });
}

/// The vectorcall slot of every kernel.
///
/// # Safety
/// Called by CPython with the GIL held, `callable` a `Kernel`, `args` its
/// positional arguments followed by the values of the names in
/// `kwnames` (a tuple of strings, or null).
pub unsafe extern "C" fn call(
    callable: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargsf: usize,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: CPython holds the GIL for a call.
    let py = unsafe { Python::assume_attached() };
    let run = AssertUnwindSafe(|| {
        // SAFETY: as this function's contract says.
        unsafe {
            let k = Borrowed::from_ptr(py, callable).cast_unchecked::<Kernel>();
            let positional = ffi::PyVectorcall_NARGS(nargsf) as usize;
            let names =
                Borrowed::from_ptr_or_opt(py, kwnames).map(|n| n.cast_unchecked::<PyTuple>());
            let named = names.map_or(0, |n| n.len());
            let values = std::slice::from_raw_parts(args, positional + named);
            let mut passed = Passed {
                positional: values[..positional]
                    .iter()
                    .map(|&v| Borrowed::from_ptr(py, v))
                    .collect(),
                named: Default::default(),
            };
            for (i, &v) in values[positional..].iter().enumerate() {
                let name = ffi::PyTuple_GET_ITEM(kwnames, i as ffi::Py_ssize_t);
                passed
                    .named
                    .push((Borrowed::from_ptr(py, name), Borrowed::from_ptr(py, v)));
            }
            call::call(py, k.get(), &passed)
        }
    });
    match std::panic::catch_unwind(run) {
        Ok(Ok(result)) => result.into_ptr(),
        Ok(Err(e)) => {
            e.restore(py);
            std::ptr::null_mut()
        }
        Err(payload) => {
            // a bug, never unwound into CPython
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_string());
            let e: PyErr = PanicException::new_err(what);
            e.restore(py);
            std::ptr::null_mut()
        }
    }
}
