//! Quantization (docs/quantization.md): [`ranges`], the interval analysis
//! that propagates input ranges through a kernel's stages (what `pj
//! calibrate` shows beside the observed ranges); [`error`], the bound it
//! gives on each result's distance from the exact one; [`plan`], the
//! choice of fixed-point types and scales the `quantize` pass applies;
//! [`exact`], float arithmetic over integers rewritten as exact integer
//! arithmetic (the `int16` scheme); [`facts`], what intervals miss about
//! a softmax (a value minus its row's maximum is never positive); [`storage`], `f32` stages stored as
//! bfloat16 (the `bf16` scheme); [`price`], how `auto` weighs a scheme
//! by the energy model.

pub mod error;
pub mod exact;
pub mod facts;
pub mod plan;
pub mod price;
pub mod ranges;
pub mod storage;
