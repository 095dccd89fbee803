//! How `--quantize=auto` decides: each scheme's result on a stage (a
//! trial module, already proven within tolerance) is lowered for the
//! backend and target the kernel is compiled for and priced by the energy
//! model (`target::energy`), against the kernel without it; the narrow
//! type is kept only where it is estimated to cost less energy and no more
//! time. The
//! pricing is the driver's ([`crate::codegen::Options`] builds a
//! [`Pricer`] that lowers as it compiles); a bare `quantize` pass (`pj
//! opt`) has none and falls back to rules measured once.

use crate::ir::Module;
use std::sync::Arc;

/// A kernel's estimated cost on the target it is compiled for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Price {
    /// Estimated energy of one call, in picojoules.
    pub picojoules: f64,
    /// Estimated time of one call on one thread, in seconds.
    pub seconds: f64,
}

impl Price {
    /// `1.2 mJ, 3.400 ms` (`202 nJ, 1.25 µs` for a small call).
    pub fn text(self) -> String {
        let time = if self.seconds >= 1e-3 {
            format!("{:.3} ms", self.seconds * 1e3)
        } else {
            format!("{:.3} µs", self.seconds * 1e6)
        };
        format!(
            "{}, {time}",
            crate::target::report::energy_text(self.picojoules)
        )
    }
}

/// Prices kernel `name` of a module at the `pj` level (with `quant` ops):
/// lowers a copy as the kernel is compiled and estimates it at the sizes
/// the compile was given (1024 for each one not given).
pub type Pricer = Arc<dyn Fn(&Module, &str) -> Result<Price, String> + Send + Sync>;

/// The prices of one kernel's variants during one run of the pass: the
/// kernel as it stands is priced once until it changes.
pub struct Pricing<'a> {
    pricer: &'a Pricer,
    kernel: String,
    current: Option<Price>,
}

/// What pricing says of a trial.
pub struct Verdict {
    /// Whether the trial is estimated to cost less energy, in no more
    /// time (2% of noise allowed).
    pub cheaper: bool,
    /// `int8 estimated 2.1 mJ, 3.000 ms against 9.0 mJ, 6.000 ms in the
    /// kernel as it stands`.
    pub text: String,
}

impl<'a> Pricing<'a> {
    /// Prices of `kernel`'s variants.
    pub fn new(pricer: &'a Pricer, kernel: &str) -> Pricing<'a> {
        Pricing {
            pricer,
            kernel: kernel.to_string(),
            current: None,
        }
    }

    /// `trial` (the kernel with `scheme` applied) against `current` (the
    /// kernel as it stands); `None` when either cannot be estimated (the
    /// caller then keeps to its rules).
    pub fn compare(&mut self, current: &Module, trial: &Module, scheme: &str) -> Option<Verdict> {
        let now = match self.current {
            Some(p) => p,
            None => {
                let p = (self.pricer)(current, &self.kernel).ok()?;
                self.current = Some(p);
                p
            }
        };
        let with = (self.pricer)(trial, &self.kernel).ok()?;
        // less energy, and not slower: the model counts no static power,
        // which a longer run would spend (a narrow type that saves bytes
        // but costs instructions can look frugal while running longer)
        let cheaper = with.picojoules < now.picojoules && with.seconds <= now.seconds * 1.02;
        Some(Verdict {
            cheaper,
            text: format!(
                "{scheme} estimated {} against {} without it (the energy model on this target)",
                with.text(),
                now.text()
            ),
        })
    }

    /// The kernel changed (a trial was kept): price it afresh next time.
    pub fn changed(&mut self) {
        self.current = None;
    }
}
