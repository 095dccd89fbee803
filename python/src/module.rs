//! `compile`: a `.pj` source to a [`Module`] of callable kernels.

use crate::errors::CompileError;
use crate::kernel::Kernel;
use crate::options::CompileOptions;
use pj_compiler::codegen::{JitModule, driver};
use pyo3::exceptions::PyAttributeError;
use pyo3::prelude::*;

/// The machine code of a module, shared by the threads that call it.
pub struct Code(pub JitModule);

// SAFETY: after compilation a `JitModule` is only read: kernel lookups
// through `&self` and calls into machine code that is never written
// again; its `Send` owner of the code is touched only when it is dropped.
// Kernels are reentrant (each call has its own frame and scratch; the
// runtime's pool takes concurrent calls).
unsafe impl Sync for Code {}

/// Compiled kernels: one attribute per kernel of the source.
#[pyclass(module = "picojoule", frozen)]
pub struct Module {
    pub code: Code,
    /// The checked IR (what `ir()` and `asm()` lower again).
    pub checked: pj_compiler::Module,
    /// The source text and the name it was compiled under.
    pub source: String,
    pub filename: String,
    pub options: CompileOptions,
    /// Kernel names in source order.
    pub names: Vec<String>,
    /// Warnings, rendered as `pj check` does.
    pub warnings: String,
    /// What `quantize=` chose per stage, or why not (empty without it).
    pub notes: Vec<String>,
}

/// `compile(source, filename, backend=None, target="host", fast_math="reassoc",
/// opt_level=2, tier="optimizing", quantize=None, tolerance=None, sizes=None)`:
/// `source` is `.pj` text; `sizes` (`{"M": 512}`) are what `quantize="auto"`
/// weighs its choices at (else the source's `// bench:` line, else 1024).
#[pyfunction]
// one Rust parameter per Python keyword argument
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (source, filename="<string>", backend=None, target="host", fast_math="reassoc", opt_level=2, tier="optimizing", quantize=None, tolerance=None, sizes=None))]
pub fn compile(
    py: Python<'_>,
    source: String,
    filename: &str,
    backend: Option<&str>,
    target: &str,
    fast_math: &str,
    opt_level: i64,
    tier: &str,
    quantize: Option<&str>,
    tolerance: Option<&str>,
    sizes: Option<std::collections::HashMap<String, i64>>,
) -> PyResult<Module> {
    // what `quantize="auto"` weighs at: given, else the `// bench:` line
    let mut sizes: Vec<(String, i64)> = sizes
        .unwrap_or_else(|| pj_compiler::target::report::bench_sizes(&source).unwrap_or_default())
        .into_iter()
        .collect();
    sizes.sort();
    let (words, options) = CompileOptions::parse(
        backend,
        target,
        fast_math,
        opt_level,
        tier,
        (quantize, tolerance),
        sizes,
    )?;
    let name = filename.to_string();
    // LLVM takes tens of milliseconds: other Python threads run meanwhile
    let compiled = py.detach(|| -> Result<_, String> {
        let checked = pj_compiler::compile_source(&name, &source)
            .map_err(|d| pj_lang::diagnostic::render_all(&d, &name, &source))?;
        let warnings = pj_lang::diagnostic::render_all(&checked.warnings, &name, &source);
        let (lowered, records) = driver::lower(&checked.module, &options, driver::Stage::Checked)
            .map_err(|e| e.to_string())?;
        let code = driver::jit(&lowered, &options).map_err(|e| e.to_string())?;
        let notes: Vec<String> = records.into_iter().flat_map(|r| r.notes).collect();
        Ok((checked.module, warnings, code, notes))
    });
    let (checked, warnings, code, notes) = compiled.map_err(CompileError::new_err)?;
    let names = checked.kernel_names();
    Ok(Module {
        code: Code(code),
        checked,
        source,
        filename: filename.to_string(),
        options: words,
        names,
        warnings,
        notes,
    })
}

#[pymethods]
impl Module {
    /// The kernels' names, in source order.
    #[getter]
    fn kernels(&self) -> Vec<String> {
        self.names.clone()
    }

    /// The source text.
    #[getter]
    fn source(&self) -> &str {
        &self.source
    }

    /// The name the source was compiled under (a path, or `<string>`).
    #[getter]
    fn filename(&self) -> &str {
        &self.filename
    }

    /// The options, as `compile` takes them.
    #[getter]
    fn options<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
        options_dict(py, &self.options)
    }

    /// Warnings the compiler gave (text, empty when none).
    #[getter]
    fn warnings(&self) -> &str {
        &self.warnings
    }

    /// What `quantize=` chose per stage — the type, the proven error
    /// bound and the tolerance — or why a stage stayed float (one line
    /// each; empty without `quantize=`).
    #[getter]
    fn quantization(&self) -> Vec<String> {
        self.notes.clone()
    }

    fn __getattr__<'py>(slf: &Bound<'py, Self>, name: &str) -> PyResult<Bound<'py, Kernel>> {
        let m = slf.get();
        if m.names.iter().any(|n| n == name) {
            return Kernel::new(slf.py(), slf.clone().unbind(), name.to_string());
        }
        Err(PyAttributeError::new_err(format!(
            "the module has no kernel `{name}`; its kernels: {}",
            m.names.join(", ")
        )))
    }

    fn __getitem__<'py>(slf: &Bound<'py, Self>, name: &str) -> PyResult<Bound<'py, Kernel>> {
        Module::__getattr__(slf, name)
            .map_err(|e| pyo3::exceptions::PyKeyError::new_err(e.value(slf.py()).to_string()))
    }

    fn __dir__(&self) -> Vec<String> {
        let mut d = self.names.clone();
        d.extend(
            ["kernels", "source", "filename", "options", "warnings"]
                .iter()
                .map(|s| s.to_string()),
        );
        d
    }

    fn __len__(&self) -> usize {
        self.names.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "<picojoule.Module {} with {} ({})>",
            self.filename,
            self.names.join(", "),
            options_text(&self.options)
        )
    }
}

/// The options as keyword arguments of `compile`.
pub fn options_dict<'py>(
    py: Python<'py>,
    o: &CompileOptions,
) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
    let d = pyo3::types::PyDict::new(py);
    d.set_item("backend", &o.backend)?;
    d.set_item("target", &o.target)?;
    d.set_item("fast_math", &o.fast_math)?;
    d.set_item("opt_level", o.opt_level)?;
    d.set_item("tier", &o.tier)?;
    if let Some(q) = &o.quantize {
        d.set_item("quantize", q)?;
    }
    if let Some(t) = &o.tolerance {
        d.set_item("tolerance", t)?;
    }
    if !o.sizes.is_empty() {
        let sizes = pyo3::types::PyDict::new(py);
        for (k, v) in &o.sizes {
            sizes.set_item(k, v)?;
        }
        d.set_item("sizes", sizes)?;
    }
    Ok(d)
}

/// `backend=cranelift, fast_math=reassoc`: what differs from nothing.
pub fn options_text(o: &CompileOptions) -> String {
    let mut parts = vec![
        format!("backend={}", o.backend),
        format!("fast_math={}", o.fast_math),
    ];
    if o.opt_level != 2 {
        parts.push(format!("opt_level={}", o.opt_level));
    }
    if o.tier != "optimizing" {
        parts.push(format!("tier={}", o.tier));
    }
    if let Some(q) = &o.quantize {
        parts.push(format!("quantize={q}"));
    }
    parts.join(", ")
}
