//! Quantization (docs/quantization.md). Today: [`ranges`], the interval
//! analysis that propagates input ranges through a kernel's stages — what
//! a quantizing pass needs to choose scales and prove an error bound, and
//! what `pj calibrate` shows beside the observed ranges. The `quant`
//! dialect and the pass are still to come.

pub mod ranges;
