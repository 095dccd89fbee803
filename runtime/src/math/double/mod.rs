//! picojoule's `f64` elementary functions, over [`Lanes<f64>`](super::lanes::Lanes):
//! the same arrangements as the `f32` ones beside them, with `f64`
//! reductions and polynomials (fitted by runtime/tools/fit_math.py), so
//! vector code over `f64` computes the interpreter's bits inline. `erf` and
//! `pow` on `f64` are not among them: they stay musl's and the host's,
//! called per element (`erf` over lanes was measured slower than musl's
//! scalar code with two `f64` lanes, and level with eight; `pow`'s
//! logarithm would need double-`f64` arithmetic).

pub mod exp;
pub mod log;
pub mod trig;
