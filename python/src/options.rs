//! `compile`'s keyword arguments as the driver's [`Options`], checked with
//! messages that list what is accepted.

use pj_compiler::codegen::driver::{FastMath, Options};
use pj_compiler::codegen::{Backend, Tier};
use pj_compiler::target::Target;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// What a module was compiled with, in the words `compile` takes: kept to
/// show (`repr`), to pickle a kernel by, and to recompile elsewhere.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CompileOptions {
    pub backend: String,
    pub target: String,
    pub fast_math: String,
    pub opt_level: u8,
    pub tier: String,
    /// `quantize=`: `"int8"`, `"int16"`, `"bf16"` or `"auto"`, or none.
    pub quantize: Option<String>,
    /// `tolerance=`: `"abs=..,rel=.."`, or none.
    pub tolerance: Option<String>,
    /// `sizes=`: the sizes `quantize="auto"` weighs its choices at
    /// (given, else the source's `// bench:` line; sorted by name).
    pub sizes: Vec<(String, i64)>,
}

impl CompileOptions {
    /// Checks the words and makes the driver's options.
    pub fn parse(
        backend: Option<&str>,
        target: &str,
        fast_math: &str,
        opt_level: i64,
        tier: &str,
        (quantize, tolerance): (Option<&str>, Option<&str>),
        sizes: Vec<(String, i64)>,
    ) -> PyResult<(CompileOptions, Options)> {
        if let Some((name, n)) = sizes.iter().find(|(_, n)| !(0..=1 << 40).contains(n)) {
            return Err(PyValueError::new_err(format!(
                "sizes: `{name}` = {n}: a size must be between 0 and 2^40"
            )));
        }
        let backend = match backend {
            Some(b) => Backend::ALL
                .into_iter()
                .find(|x| x.name() == b)
                .ok_or_else(|| {
                    PyValueError::new_err(format!(
                        "backend={b:?}: expects one of {}",
                        quoted(Backend::ALL.iter().map(|b| b.name()))
                    ))
                })?,
            None => Backend::Cranelift,
        };
        if !backend.is_built() {
            return Err(PyValueError::new_err(format!(
                "backend={:?}: this build of picojoule has no {} backend (build the package with `--features llvm`: docs/python.md); built: {}",
                backend.name(),
                backend.name(),
                quoted(Backend::built().iter().map(|b| b.name()))
            )));
        }
        let fm = FastMath::parse(fast_math).ok_or_else(|| {
            PyValueError::new_err(format!(
                "fast_math={fast_math:?}: expects \"off\", \"reassoc\" or \"contract\""
            ))
        })?;
        let level = u8::try_from(opt_level)
            .ok()
            .filter(|l| *l <= 2)
            .ok_or_else(|| {
                PyValueError::new_err(format!(
                    "opt_level={opt_level}: expects 0 (no optimizer), 1 or 2"
                ))
            })?;
        let t = match tier {
            "optimizing" => Tier::Optimizing,
            "quick" => Tier::Quick,
            _ => {
                return Err(PyValueError::new_err(format!(
                    "tier={tier:?}: expects \"optimizing\" or \"quick\""
                )));
            }
        };
        let parsed = Target::parse(target)
            .map_err(|e| PyValueError::new_err(format!("target={target:?}: {e}")))?;
        if !parsed.is_host {
            return Err(PyValueError::new_err(format!(
                "target={target:?}: kernels are compiled to run in this process, for \"host\"; objects for other machines come from `pj build --target`"
            )));
        }
        use pj_compiler::quant::plan::{Mode, Request, parse_tolerance};
        let mode = quantize
            .map(|q| {
                Mode::parse(q).map_err(|e| PyValueError::new_err(format!("quantize={q:?}: {e}")))
            })
            .transpose()?;
        let tol = tolerance
            .map(|t| {
                parse_tolerance(t)
                    .map_err(|e| PyValueError::new_err(format!("tolerance={t:?}: {e}")))
            })
            .transpose()?;
        if tol.is_some() && mode.is_none() {
            return Err(PyValueError::new_err(
                "tolerance= applies to quantize=: give quantize=\"int8\", \"int16\", \"bf16\" or \"auto\" too",
            ));
        }
        let options = Options {
            backend,
            opt_level: level,
            fast_math: fm,
            tier: t,
            target: parsed,
            quantize: mode.map(|mode| Request {
                mode,
                tolerance: tol,
            }),
            // `auto` weighs its choices at these (a module is compiled
            // before it sees data); 1024 for any other
            sizes: sizes.iter().cloned().collect(),
        };
        let words = CompileOptions {
            backend: backend.name().to_string(),
            target: target.to_string(),
            fast_math: fm.name().to_string(),
            opt_level: level,
            tier: tier.to_string(),
            quantize: quantize.map(str::to_string),
            tolerance: tolerance.map(str::to_string),
            sizes,
        };
        Ok((words, options))
    }

    /// The driver's options again (for a recompile).
    pub fn options(&self) -> PyResult<Options> {
        Ok(CompileOptions::parse(
            Some(&self.backend),
            &self.target,
            &self.fast_math,
            i64::from(self.opt_level),
            &self.tier,
            (self.quantize.as_deref(), self.tolerance.as_deref()),
            self.sizes.clone(),
        )?
        .1)
    }
}

fn quoted<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}
