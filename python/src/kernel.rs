//! A compiled kernel as a Python callable, with its signature, IR and
//! machine code to look at.

use crate::call;
use crate::module::{Module, options_dict, options_text};
use crate::vectorcall;
use pj_compiler::codegen::JitKernel;
use pj_compiler::codegen::driver::{self, Emit, Stage};
use pj_compiler::ir::{Attr, ScalarType, Type as IrType};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};

/// A parameter as a call binds it.
#[derive(Debug)]
pub struct Param {
    pub name: String,
    /// `None`: a scalar.
    pub rank: Option<usize>,
    pub elem: ScalarType,
    /// As the source writes it: `f32[H, W]`, `f32`.
    pub text: String,
    /// `name` as an interned Python string: a call site's keyword names
    /// are interned too, so most are matched by identity.
    pub interned: Py<PyString>,
}

/// A kernel of a [`Module`]: call it with NumPy arrays and numbers.
#[pyclass(module = "picojoule", frozen)]
pub struct Kernel {
    /// Where CPython finds how to call a kernel without making a tuple
    /// and a dict of its arguments (`vectorcall.rs`).
    vectorcall: pyo3::ffi::vectorcallfunc,
    pub module: Py<Module>,
    pub name: String,
    pub params: Vec<Param>,
    /// Name, element type, rank, and the type as the source writes it.
    pub results: Vec<(String, ScalarType, usize, String)>,
    /// The results' ranks added up: how many extents the shape function
    /// reports.
    pub result_dims: usize,
    /// The compiled kernel in `module`'s code, looked up once.
    jit: *const JitKernel,
}

// SAFETY: `jit` points into the code `module` owns and keeps alive; a
// module's kernels are never changed or moved after compilation (they sit
// in a map that is only read), and calling them is thread-safe (`Code`).
unsafe impl Send for Kernel {}
unsafe impl Sync for Kernel {}

impl Kernel {
    /// The kernel `name` of `module`, as a Python object.
    pub fn new(py: Python<'_>, module: Py<Module>, name: String) -> PyResult<Bound<'_, Kernel>> {
        let k = Bound::new(py, Kernel::describe(py, module, name))?;
        vectorcall::enable(&k);
        Ok(k)
    }

    fn describe(py: Python<'_>, module: Py<Module>, name: String) -> Kernel {
        let m = module.get();
        let jk = m
            .code
            .0
            .kernel(&name)
            .expect("every kernel of the module is compiled");
        let op = m.checked.kernel(&name).expect("named by the module");
        let sig = pj_compiler::dialects::signature(&m.checked, op);
        let params = jk
            .params
            .iter()
            .zip(&sig.params)
            .map(|((n, t), (_, source_ty))| Param {
                name: n.clone(),
                rank: match t {
                    IrType::Buffer { dims, .. } => Some(dims.len()),
                    _ => None,
                },
                elem: t.elem(),
                text: source_ty.to_string(),
                interned: PyString::intern(py, n).unbind(),
            })
            .collect();
        let texts: Vec<String> = m
            .checked
            .op(op)
            .attr("result_types")
            .and_then(|a| match a {
                Attr::Array(v) => Some(
                    v.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect(),
                ),
                _ => None,
            })
            .unwrap_or_default();
        let results = jk
            .results
            .iter()
            .enumerate()
            .map(|(i, (n, e, r))| {
                let text = texts
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| format!("{e}, {r} dims"));
                (n.clone(), *e, *r, text)
            })
            .collect();
        let result_dims = jk.results.iter().map(|r| r.2).sum();
        let jit = jk as *const JitKernel;
        Kernel {
            vectorcall: vectorcall::call,
            module,
            name,
            params,
            results,
            result_dims,
            jit,
        }
    }

    /// Where this kernel's vectorcall function pointer lives.
    pub fn vectorcall_field(&self) -> *const pyo3::ffi::vectorcallfunc {
        &self.vectorcall
    }

    pub fn jit(&self) -> &JitKernel {
        // SAFETY: see the `Send`/`Sync` impls: alive as long as `self`.
        unsafe { &*self.jit }
    }

    /// `blur(x: f32[H, W]) -> y: f32[H, W]`.
    pub fn signature_text(&self) -> String {
        let params: Vec<String> = self
            .params
            .iter()
            .map(|p| format!("{}: {}", p.name, p.text))
            .collect();
        let results: Vec<String> = self
            .results
            .iter()
            .map(|(n, _, _, t)| format!("{n}: {t}"))
            .collect();
        let results = if results.len() == 1 {
            results[0].clone()
        } else {
            format!("({})", results.join(", "))
        };
        format!("{}({}) -> {results}", self.name, params.join(", "))
    }
}

#[pymethods]
impl Kernel {
    /// Runs the kernel: arrays for array parameters (any strides; the
    /// kernel reads them in place), numbers for scalars, by position or
    /// name; `out=` an array (a tuple of them for several results) to
    /// write into. Returns the result, or a tuple of them.
    ///
    /// CPython calls kernels through their vectorcall slot
    /// (`vectorcall.rs`); this is the tuple-and-dict form of the same call,
    /// for callers that use it.
    #[pyo3(signature = (*args, **kwargs))]
    fn __call__(
        slf: &Bound<'_, Self>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let mut items = Vec::new();
        let passed = call::Passed::of_tuple_dict(args, kwargs, &mut items);
        call::call(slf.py(), slf.get(), &passed)
    }

    /// The shapes of the results for these arguments, from the kernel's
    /// shape function alone (nothing runs, nothing is written).
    #[pyo3(signature = (*args, **kwargs))]
    fn result_shapes(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Vec<Vec<usize>>> {
        let mut items = Vec::new();
        let passed = call::Passed::of_tuple_dict(args, kwargs, &mut items);
        call::result_shapes(py, self, &passed)
    }

    /// What each element of each result reads of each array parameter,
    /// relative to its own index (`pj_compiler::footprint`): per result a
    /// dict with `result`, `rank` and `params`, each param a dict with
    /// `param`, `boundary` and `dims`, each dim `None` (not read),
    /// `("along", result_dim, lo, hi)` or `("whole", stage, why)`.
    fn reaches<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        use pj_compiler::footprint::{Reach, result_reaches};
        let m = self.module.get();
        let all = result_reaches(&m.checked, &self.name).unwrap_or_default();
        let mut out = Vec::new();
        for r in all {
            let d = PyDict::new(py);
            d.set_item("result", &r.result)?;
            d.set_item("rank", r.rank)?;
            let mut params = Vec::new();
            for p in &r.params {
                let pd = PyDict::new(py);
                pd.set_item("param", &p.param)?;
                pd.set_item("boundary", p.boundary.as_deref())?;
                let mut dims = Vec::new();
                for dim in &p.dims {
                    dims.push(match dim {
                        None => py.None(),
                        Some(Reach::Along { dim, lo, hi }) => ("along", *dim, *lo, *hi)
                            .into_pyobject(py)?
                            .into_any()
                            .unbind(),
                        Some(Reach::Whole { stage, why }) => {
                            ("whole", stage.as_str(), why.as_str())
                                .into_pyobject(py)?
                                .into_any()
                                .unbind()
                        }
                    });
                }
                pd.set_item("dims", dims)?;
                params.push(pd);
            }
            d.set_item("params", params)?;
            out.push(d);
        }
        Ok(out)
    }

    /// The energy model's estimate (`pj energy`) at the sizes given as
    /// keyword arguments, by size (`H=4096`) or by array (`x=arr`);
    /// sizes not given come from the source's `// bench:` line, else
    /// 1024. `target`: `"host"` or a profile name.
    #[pyo3(signature = (target="host", **kwargs))]
    fn energy(
        &self,
        py: Python<'_>,
        target: &str,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<crate::report::Report> {
        crate::report::energy(py, self, target, kwargs)
    }

    /// The scheduler's decisions and the alternatives the model weighed
    /// (`pj explain`), at sizes given as for `energy`.
    #[pyo3(signature = (target="host", **kwargs))]
    fn explain(
        &self,
        py: Python<'_>,
        target: &str,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<crate::report::Report> {
        crate::report::explain(py, self, target, kwargs)
    }

    /// The kernel's name.
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// The module it belongs to.
    #[getter]
    fn module(&self, py: Python<'_>) -> Py<Module> {
        self.module.clone_ref(py)
    }

    /// `blur(x: f32[H, W]) -> y: f32[H, W]`.
    #[getter]
    fn signature(&self) -> String {
        self.signature_text()
    }

    /// The parameters as data: `(name, element type, rank or None, type
    /// as written)`.
    #[getter]
    fn params(&self) -> Vec<(String, String, Option<usize>, String)> {
        self.params
            .iter()
            .map(|p| (p.name.clone(), p.elem.to_string(), p.rank, p.text.clone()))
            .collect()
    }

    /// The results as data: `(name, element type, rank, type as written)`.
    #[getter]
    fn results(&self) -> Vec<(String, String, usize, String)> {
        self.results
            .iter()
            .map(|(n, e, r, t)| (n.clone(), e.to_string(), *r, t.clone()))
            .collect()
    }

    /// The IR at `stage`: `"checked"` (what the front end made),
    /// `"optimized"` (after fusion and scheduling, still stages) or
    /// `"lowered"` (loops, what the backend compiles).
    #[pyo3(signature = (stage="lowered"))]
    fn ir(&self, py: Python<'_>, stage: &str) -> PyResult<String> {
        let m = self.module.get();
        let checked = &m.checked;
        let options = m.options.options()?;
        let text = py.detach(|| -> Result<String, String> {
            let module = match stage {
                "checked" => checked.clone(),
                "optimized" => {
                    let mut o = checked.clone();
                    pj_compiler::passes::PassManager::parse(pj_compiler::passes::DEFAULT_PIPELINE)
                        .map_err(|e| e.to_string())?
                        .run(&mut o)
                        .map_err(|e| e.to_string())?;
                    o
                }
                "lowered" => {
                    driver::lower(checked, &options, Stage::Checked)
                        .map_err(|e| e.to_string())?
                        .0
                }
                other => {
                    return Err(format!(
                        "stage={other:?}: expects \"checked\", \"optimized\" or \"lowered\""
                    ));
                }
            };
            Ok(pj_compiler::ir::print::print_module(
                &module,
                Default::default(),
            ))
        });
        text.map_err(PyValueError::new_err)
    }

    /// The machine code the backend makes of this kernel, as assembly text.
    fn asm(&self, py: Python<'_>) -> PyResult<String> {
        let m = self.module.get();
        let options = m.options.options()?;
        let checked = &m.checked;
        let name = self.name.clone();
        let text = py.detach(|| -> Result<Vec<u8>, String> {
            let (lowered, _) =
                driver::lower(checked, &options, Stage::Checked).map_err(|e| e.to_string())?;
            driver::emit(&lowered, &options, &[name], Emit::Asm).map_err(|e| e.to_string())
        });
        let bytes = text.map_err(PyRuntimeError::new_err)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn __repr__(&self) -> String {
        format!(
            "<picojoule.Kernel {} ({})>",
            self.signature_text(),
            options_text(&self.module.get().options)
        )
    }

    /// A notebook's view: the signature and the options in a small table.
    fn _repr_html_(&self) -> String {
        let esc = |s: &str| {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        };
        let m = self.module.get();
        let mut rows = String::new();
        for p in &self.params {
            rows += &format!(
                "<tr><td>parameter</td><td><code>{}</code></td><td><code>{}</code></td></tr>",
                esc(&p.name),
                esc(&p.text)
            );
        }
        for (n, _, _, t) in &self.results {
            rows += &format!(
                "<tr><td>result</td><td><code>{}</code></td><td><code>{}</code></td></tr>",
                esc(n),
                esc(t)
            );
        }
        format!(
            "<div><b>picojoule kernel</b> <code>{}</code> <small>({}, from {})</small>\
             <table><tr><th></th><th>name</th><th>type</th></tr>{rows}</table></div>",
            esc(&self.name),
            esc(&options_text(&m.options)),
            esc(&m.filename)
        )
    }

    /// Pickled by source and options: unpickling compiles again, once per
    /// process (`picojoule._rebuild` caches), so a Dask worker can call it.
    fn __reduce__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let m = self.module.get();
        let rebuild = py.import("picojoule")?.getattr("_rebuild")?;
        let args = PyTuple::new(
            py,
            [
                m.source.clone().into_pyobject(py)?.into_any(),
                m.filename.clone().into_pyobject(py)?.into_any(),
                options_dict(py, &m.options)?.into_any(),
                self.name.clone().into_pyobject(py)?.into_any(),
            ],
        )?;
        Ok((rebuild, args))
    }
}
