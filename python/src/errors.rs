//! The exceptions: the CLI's messages, as Python exceptions of the kind a
//! NumPy user expects.
//!
//! - a source with errors: `picojoule.CompileError` (a `ValueError`),
//!   its text the diagnostics as `pj check` renders them;
//! - an argument of the wrong kind or dtype: `TypeError`, naming the
//!   parameter and what it wants (raised in `call.rs`);
//! - sizes that disagree, a wrong rank, a result overlapping an argument:
//!   `ValueError` with the kernel's own message (its entry checks);
//! - a failure while running (division by zero, a read out of bounds,
//!   memory): `picojoule.KernelError` (a `RuntimeError`), with `status`
//!   and `status_name`;
//! - a call stopped by Ctrl-C: `KeyboardInterrupt`.

use pj_compiler::codegen::RunError;
use pj_runtime::abi::status;
use pyo3::create_exception;
use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError, PyValueError};
use pyo3::prelude::*;

create_exception!(
    picojoule,
    CompileError,
    PyValueError,
    "A source that does not compile; the message holds its diagnostics."
);
create_exception!(
    picojoule,
    KernelError,
    PyRuntimeError,
    "A kernel failed while running: `status` (the C ABI's code), `status_name` and the message."
);

/// A failed call as the Python exception it is.
pub fn run_error(py: Python<'_>, e: RunError) -> PyErr {
    match e.status {
        status::SHAPE_MISMATCH | status::NEGATIVE_EXTENT | status::BAD_ARGUMENT => {
            PyValueError::new_err(e.message)
        }
        status::INTERRUPTED => {
            // Python's own handler saw the signal too: let it raise (and
            // run a handler the user installed), else raise it here
            match py.check_signals() {
                Err(raised) => raised,
                Ok(()) => PyKeyboardInterrupt::new_err(e.message),
            }
        }
        code => {
            let err = KernelError::new_err(e.message);
            let value = err.value(py);
            // attributes on the instance; a failure to set them would only
            // lose detail the message already carries
            let _ = value.setattr("status", code);
            let _ = value.setattr("status_name", status::name(code));
            err
        }
    }
}
