//! `Kernel.energy()` and `Kernel.explain()`: the energy model's reports
//! (`pj_compiler::target::report`, what `pj energy` and `pj explain`
//! print) as text and as data.

use crate::kernel::Kernel;
use numpy::{PyUntypedArray, PyUntypedArrayMethods};
use pj_compiler::ir::{Dim, Type};
use pj_compiler::target::energy::{Cost, Estimate};
use pj_compiler::target::profile::Profile;
use pj_compiler::target::report;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::collections::HashMap;

/// A report: `str()` is the text the command line prints; `data` the same
/// as dicts and lists; a notebook shows the text.
#[pyclass(module = "picojoule", frozen)]
pub struct Report {
    text: String,
    data: Py<PyAny>,
}

#[pymethods]
impl Report {
    /// The figures, as data.
    #[getter]
    fn data(&self, py: Python<'_>) -> Py<PyAny> {
        self.data.clone_ref(py)
    }

    /// The text.
    #[getter]
    fn text(&self) -> &str {
        &self.text
    }

    fn __str__(&self) -> &str {
        &self.text
    }

    fn __repr__(&self) -> &str {
        &self.text
    }

    fn _repr_html_(&self) -> String {
        let t = self
            .text
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        format!("<pre>{t}</pre>")
    }
}

/// The sizes to estimate at: keyword arguments naming sizes (`H=4096`)
/// or parameters (`x=array`, whose shape gives its sizes).
fn sizes_from(k: &Kernel, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<HashMap<String, i64>> {
    let m = k.module.get();
    let op = m.checked.kernel(&k.name).expect("compiled");
    let sig = pj_compiler::dialects::signature(&m.checked, op);
    let names = report::size_names(&m.checked, &k.name);
    let mut sizes = HashMap::new();
    let Some(kw) = kwargs else {
        return Ok(sizes);
    };
    for (key, value) in kw.iter() {
        let key: String = key.extract()?;
        if let Some((_, ty)) = sig.params.iter().find(|(n, _)| *n == key) {
            let Type::Tensor { dims, .. } = ty else {
                continue; // a scalar's value does not change the estimate
            };
            let a = value.cast::<PyUntypedArray>().map_err(|_| {
                PyTypeError::new_err(format!(
                    "{}: `{key}` is an array parameter: give an array (or its sizes by name: {})",
                    k.name,
                    names.join(", ")
                ))
            })?;
            if a.ndim() != dims.len() {
                return Err(PyValueError::new_err(format!(
                    "{}: `{key}` has {} dims ({ty}); the array has {}",
                    k.name,
                    dims.len(),
                    a.ndim()
                )));
            }
            for (d, &n) in dims.iter().zip(a.shape()) {
                if let Dim::Sym(s) = d {
                    sizes.insert(s.clone(), n as i64);
                }
            }
        } else if names.contains(&key) {
            let n: i64 = value.extract().map_err(|_| {
                PyTypeError::new_err(format!("{}: size `{key}` expects an integer", k.name))
            })?;
            if n < 0 {
                return Err(PyValueError::new_err(format!(
                    "{}: size `{key}` = {n} is negative",
                    k.name
                )));
            }
            sizes.insert(key, n);
        } else {
            return Err(PyTypeError::new_err(format!(
                "{}: `{key}` is neither a size ({}) nor a parameter",
                k.name,
                names.join(", ")
            )));
        }
    }
    Ok(sizes)
}

/// The sizes of the source's `// bench: H=4096, W=4096` line, as `pj
/// energy` reads them (none where it has none; `pj check` reports a
/// malformed one, so it is skipped here).
fn bench_line_sizes(src: &str) -> HashMap<String, i64> {
    report::bench_sizes(src).unwrap_or_default()
}

/// The `pj` IR after the default pipeline, the sizes (every one named)
/// and the profile.
fn prepare(
    k: &Kernel,
    target: &str,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<(pj_compiler::Module, HashMap<String, i64>, Profile)> {
    let m = k.module.get();
    let mut given = bench_line_sizes(&m.source);
    given.extend(sizes_from(k, kwargs)?);
    let sizes = report::sizes_for(&m.checked, &k.name, &given).map_err(PyValueError::new_err)?;
    let profile = match target {
        "host" => Profile::host(),
        t => Profile::load(t).map_err(|e| PyValueError::new_err(format!("target={t:?}: {e}")))?,
    };
    let mut optimized = m.checked.clone();
    pj_compiler::passes::PassManager::parse(pj_compiler::passes::DEFAULT_PIPELINE)
        .map_err(PyValueError::new_err)?
        .run(&mut optimized)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok((optimized, sizes, profile))
}

fn cost<'py>(py: Python<'py>, c: &Cost) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("label", &c.label)?;
    d.set_item("ops", c.total_ops())?;
    d.set_item("instructions", c.instructions)?;
    d.set_item("l1_bytes", c.l1_bytes)?;
    d.set_item("l2_bytes", c.l2_bytes)?;
    d.set_item("llc_bytes", c.llc_bytes)?;
    d.set_item("dram_bytes", c.dram_bytes)?;
    d.set_item("microjoules", c.picojoules / 1e6)?;
    d.set_item("seconds", c.seconds)?;
    d.set_item("bound", c.bound)?;
    d.set_item("lines", c.lines.clone())?;
    Ok(d)
}

fn estimate<'py>(py: Python<'py>, e: &Estimate) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let nests = PyList::empty(py);
    for n in &e.nests {
        nests.append(cost(py, n)?)?;
    }
    d.set_item("nests", nests)?;
    d.set_item("total", cost(py, &e.total)?)?;
    d.set_item("compulsory_bytes", e.compulsory_bytes)?;
    Ok(d)
}

/// Runs `model` on `k` at the sizes `kwargs` give, on `target`'s profile,
/// without holding the GIL (the model lowers the kernel several times).
fn run<T: Send>(
    py: Python<'_>,
    k: &Kernel,
    target: &str,
    kwargs: Option<&Bound<'_, PyDict>>,
    model: impl FnOnce(&pj_compiler::Module, &str, &HashMap<String, i64>, &Profile) -> Result<T, String>
    + Send,
) -> PyResult<T> {
    let (m, sizes, profile) = prepare(k, target, kwargs)?;
    py.detach(|| model(&m, &k.name, &sizes, &profile))
        .map_err(PyValueError::new_err)
}

/// The code the kernel was compiled to (the interpreter's: Cranelift's).
fn code_of(k: &Kernel) -> pj_compiler::codegen::Backend {
    match k.module.get().options.backend.as_str() {
        "llvm" => pj_compiler::codegen::Backend::Llvm,
        _ => pj_compiler::codegen::Backend::Cranelift,
    }
}

/// `k.energy(target="host", **sizes_or_arrays)`.
pub fn energy(
    py: Python<'_>,
    k: &Kernel,
    target: &str,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<Report> {
    let backend = code_of(k);
    let r = run(py, k, target, kwargs, move |m, n, s, p| {
        report::energy_for(m, n, s, p, backend)
    })?;
    let d = PyDict::new(py);
    d.set_item("kernel", &r.kernel)?;
    d.set_item("profile", &r.profile.name)?;
    d.set_item("sizes", r.sizes.clone())?;
    d.set_item("unoptimized", estimate(py, &r.unoptimized)?)?;
    d.set_item("optimized", estimate(py, &r.optimized)?)?;
    Ok(Report {
        text: r.text(),
        data: d.into_any().unbind(),
    })
}

/// `k.explain(target="host", **sizes_or_arrays)`.
pub fn explain(
    py: Python<'_>,
    k: &Kernel,
    target: &str,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<Report> {
    let backend = code_of(k);
    let e = run(py, k, target, kwargs, move |m, n, s, p| {
        report::explain_for(m, n, s, p, backend)
    })?;
    let decisions = PyList::empty(py);
    for r in &e.decisions {
        let d = PyDict::new(py);
        d.set_item("stage", &r.decision.stage)?;
        d.set_item("chosen", &r.decision.choice)?;
        d.set_item("reason", &r.decision.reason)?;
        let alts = PyList::empty(py);
        for a in &r.alternatives {
            let ad = PyDict::new(py);
            ad.set_item("alternative", &a.label)?;
            ad.set_item("chosen", a.chosen)?;
            ad.set_item("estimate", cost(py, &a.estimate.total)?)?;
            alts.append(ad)?;
        }
        d.set_item("alternatives", alts)?;
        decisions.append(d)?;
    }
    let data = PyDict::new(py);
    data.set_item("kernel", &e.kernel)?;
    data.set_item("profile", &e.profile.name)?;
    data.set_item("sizes", e.sizes.clone())?;
    data.set_item("decisions", decisions)?;
    data.set_item("total", cost(py, &e.chosen.total)?)?;
    Ok(Report {
        text: e.text(),
        data: data.into_any().unbind(),
    })
}
