//! `picojoule._native`: the compiler and the kernels it makes, for Python.
//!
//! The Python package (`python/picojoule/`) is a thin layer over this
//! module: `compile` here runs the one compile driver the command line
//! uses (`pj_compiler::codegen::driver`), a [`module::Module`] owns the
//! machine code, and a [`kernel::Kernel`] is called with NumPy arrays,
//! whose memory the kernel reads and writes in place (`call.rs`).

mod call;
mod errors;
mod interrupt;
mod kernel;
mod module;
mod options;
mod report;
mod vectorcall;

use pyo3::prelude::*;

/// The extension module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<module::Module>()?;
    m.add_class::<kernel::Kernel>()?;
    m.add_class::<report::Report>()?;
    m.add_function(wrap_pyfunction!(module::compile, m)?)?;
    m.add_function(wrap_pyfunction!(set_threads, m)?)?;
    m.add_function(wrap_pyfunction!(get_threads, m)?)?;
    m.add_function(wrap_pyfunction!(backends, m)?)?;
    m.add_function(wrap_pyfunction!(call::_push_threads, m)?)?;
    m.add_function(wrap_pyfunction!(call::_pop_threads, m)?)?;
    m.add("CompileError", py.get_type::<errors::CompileError>())?;
    m.add("KernelError", py.get_type::<errors::KernelError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    interrupt::install();
    Ok(())
}

/// Sizes the worker pool that kernels' parallel loops use in this process:
/// 1 to 1024 threads.
#[pyfunction]
fn set_threads(n: i64) -> PyResult<()> {
    let n = usize::try_from(n).unwrap_or(0);
    pj_runtime::parallel::set_threads(n).map_err(pyo3::exceptions::PyValueError::new_err)
}

/// The number of threads kernels' parallel loops use in this process.
#[pyfunction]
fn get_threads() -> usize {
    pj_runtime::parallel::threads()
}

/// The code generators this build contains (`"cranelift"`, and `"llvm"`
/// when built with the `llvm` feature).
#[pyfunction]
fn backends() -> Vec<&'static str> {
    pj_compiler::codegen::Backend::built()
        .into_iter()
        .map(|b| b.name())
        .collect()
}
