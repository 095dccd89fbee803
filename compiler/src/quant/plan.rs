//! What quantization is asked for and what it decided: the request
//! (`--quantize`, `--tolerance`), the choice of scales, and the notes
//! `pj explain` prints per stage.

use crate::dialects::pj::Tolerance;
use crate::dialects::quant::Params;
use crate::ir::ScalarType;
use std::fmt;

/// `--quantize=...`: which narrow types the `quantize` pass may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// 8-bit fixed point for products summed over a reduction: `u8` times
    /// `i8` accumulated exactly in `i32`.
    Int8,
    /// Float arithmetic over integers (an 8-bit image blurred in `f32` and
    /// rounded back) as exact integer arithmetic, 16 bits where the ranges
    /// allow (`quant::exact`).
    Int16,
    /// `f32` stages the schedule stores to memory, stored as bfloat16 (half
    /// the bytes; `f32` arithmetic) where the bound meets the tolerance.
    Bf16,
    /// The same, stored as IEEE binary16: three more bits than bfloat16,
    /// where the ranges prove the values below its 65504.
    F16,
    /// Nothing but what stages ask in the schedule block
    /// (`s.quantize(...)`, [`STAGE_REQUEST`]).
    Off,
    /// Per stage, the cheapest choice that meets the tolerance, by the
    /// energy model on the target compiled for (`quant::price`): `int8`
    /// for sums of products, `int16` where the arithmetic is exact in
    /// integers, `f16` (where the values fit) else `bf16` for `f32` stages
    /// stored to memory, each kept only where it is estimated to cost
    /// less energy in no more time; else float.
    Auto,
}

impl Mode {
    /// The names `--quantize` takes.
    pub const NAMES: [&'static str; 5] = ["int8", "int16", "f16", "bf16", "auto"];

    /// Parses `int8`, `int16`, `f16`, `bf16` or `auto`.
    pub fn parse(s: &str) -> Result<Mode, String> {
        match s {
            "int8" => Ok(Mode::Int8),
            "int16" => Ok(Mode::Int16),
            "f16" => Ok(Mode::F16),
            "bf16" => Ok(Mode::Bf16),
            "auto" => Ok(Mode::Auto),
            _ => Err(format!(
                "unknown --quantize `{s}`: expected {}",
                Mode::NAMES.join(", ")
            )),
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Int8 => "int8",
            Mode::Int16 => "int16",
            Mode::Bf16 => "bf16",
            Mode::F16 => "f16",
            Mode::Off => "off",
            Mode::Auto => "auto",
        }
    }
}

/// Attribute of a `pj.stage`: what its schedule block's `s.quantize(...)`
/// asks (`int8`, `int16`, `f16`, `bf16`, or `float` for none), over the
/// request.
pub const STAGE_REQUEST: &str = "quantize";

/// The scheme stage `s` is asked for: its own directive, else `mode`.
pub fn stage_mode(m: &crate::ir::Module, s: crate::ir::OpId, mode: Mode) -> Mode {
    match m
        .op(s)
        .attr(STAGE_REQUEST)
        .and_then(crate::ir::Attr::as_str)
    {
        Some("int8") => Mode::Int8,
        Some("int16") => Mode::Int16,
        Some("bf16") => Mode::Bf16,
        Some("f16") => Mode::F16,
        Some(_) => Mode::Off,
        None => mode,
    }
}

/// Whether any stage of `m` asks for a scheme in its schedule block: the
/// `quantize` pass then runs without `--quantize` too.
pub fn has_stage_requests(m: &crate::ir::Module) -> bool {
    m.all_ops()
        .into_iter()
        .any(|op| m.op(op).attr(STAGE_REQUEST).is_some())
}

/// What the `quantize` pass is asked to do.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Request {
    /// Which types.
    pub mode: Mode,
    /// A tolerance for every float result that declares none
    /// (`--tolerance abs=...`).
    pub tolerance: Option<Tolerance>,
}

impl Request {
    /// `mode` with the kernels' own tolerances.
    pub fn new(mode: Mode) -> Request {
        Request {
            mode,
            tolerance: None,
        }
    }
}

/// Parses `--tolerance`: `abs=1e-2`, `rel=1e-3`, or both, comma-separated.
pub fn parse_tolerance(s: &str) -> Result<Tolerance, String> {
    let mut t = Tolerance { abs: 0.0, rel: 0.0 };
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("--tolerance `{part}`: expected abs=VALUE or rel=VALUE"))?;
        let v: f64 = v
            .trim()
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| {
                format!("--tolerance `{part}`: the value must be a non-negative number")
            })?;
        match k.trim() {
            "abs" => t.abs = v,
            "rel" => t.rel = v,
            k => {
                return Err(format!(
                    "--tolerance: unknown part `{k}`, expected abs or rel"
                ));
            }
        }
    }
    if t.abs == 0.0 && t.rel == 0.0 {
        return Err("--tolerance needs abs=VALUE or rel=VALUE greater than 0".into());
    }
    Ok(t)
}

/// The smallest number at least `x` with 12 significant bits: two such
/// scales multiply exactly in `f32` (24 bits), so a product's dequantizing
/// scale is exactly the product of its factors' scales.
pub fn coarse_up(x: f64) -> f64 {
    if !(x.is_finite() && x > 0.0) {
        return 1.0;
    }
    let e = x.log2().floor();
    let unit = 2f64.powf(e - 11.0);
    let r = (x / unit).ceil() * unit;
    // log2's rounding may leave `x / unit` just below 2^11 or above 2^12
    if r < x { r + unit } else { r }
}

/// The parameters that map `[lo, hi]` onto the integers of `q` with no
/// zero point (0 stands for 0, so products need no correction): `u8`,
/// `0..=255`, for a range that is never negative; otherwise symmetric,
/// `-127..=127` (`i8`). Every value of the range is within half a step of
/// one.
pub fn params_for(lo: f64, hi: f64, q: ScalarType) -> Params {
    let (lo, hi) = (lo.min(0.0), hi.max(0.0));
    let levels = match q {
        ScalarType::U8 if lo >= 0.0 => 255.0,
        _ => 127.0,
    };
    Params {
        scale: coarse_up(lo.abs().max(hi) / levels),
        zero_point: 0,
        ..Default::default()
    }
}

/// `u8` parameters for a range that reaches below 0: `0..=255` over
/// `[lo, hi]`, the zero point where 0 falls.
pub fn params_centered(lo: f64, hi: f64) -> Params {
    params_centered_levels(lo, hi, 255)
}

/// [`params_centered`] over `0..=levels` (127: the 7-bit rows of x86
/// without VNNI).
pub fn params_centered_levels(lo: f64, hi: f64, levels: i64) -> Params {
    let (lo, hi) = (lo.min(0.0), hi.max(0.0));
    let n = levels as f64;
    let scale = coarse_up((hi - lo) / n);
    Params {
        scale,
        zero_point: (-lo / scale).round().clamp(0.0, n) as i64,
        ..Default::default()
    }
}

/// `u8` parameters for a range in `[0, hi]` over `0..=levels`, no zero
/// point.
pub fn params_unsigned_levels(hi: f64, levels: i64) -> Params {
    Params {
        scale: coarse_up(hi.max(0.0) / levels as f64),
        zero_point: 0,
        ..Default::default()
    }
}

/// What the pass decided for one stage.
#[derive(Clone, Debug, PartialEq)]
pub struct Note {
    /// The kernel.
    pub kernel: String,
    /// The stage.
    pub stage: String,
    /// `int8` or `float`.
    pub chosen: String,
    /// The proven bound on each result it affects, and the tolerance.
    pub detail: String,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "stage `{}` of `{}`: {} — {}",
            self.stage, self.kernel, self.chosen, self.detail
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coarse_scales_multiply_exactly_in_f32() {
        for (a, b) in [(2.0 / 255.0, 1.0 / 127.0), (0.3, 7.77e-3), (1e-5, 3.3)] {
            let (a, b) = (coarse_up(a), coarse_up(b));
            assert_eq!((a as f32) as f64, a);
            assert_eq!(((a as f32) * (b as f32)) as f64, a * b);
        }
        assert!(coarse_up(2.0 / 255.0) >= 2.0 / 255.0);
    }

    #[test]
    fn ranges_map_onto_the_integers() {
        let p = params_centered(-1.0, 1.0);
        assert_eq!(p.zero_point, 127);
        assert!(255.0 * p.scale >= 2.0);
        let p = params_for(0.0, 4.0, ScalarType::U8);
        assert!(255.0 * p.scale >= 4.0 && 255.0 * p.scale < 4.01);
        let p = params_for(-3.0, 1.0, ScalarType::I8);
        assert!(p.scale * 127.0 >= 3.0 && p.zero_point == 0);
    }

    #[test]
    fn tolerances_parse() {
        let t = parse_tolerance("abs=1e-2, rel=0.5").unwrap();
        assert_eq!((t.abs, t.rel), (1e-2, 0.5));
        assert!(parse_tolerance("abs=-1").is_err());
        assert!(parse_tolerance("x=1").is_err());
        assert!(parse_tolerance("").is_err());
    }
}
