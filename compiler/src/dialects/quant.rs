//! `quant` dialect: conversions between floats and fixed-point integers,
//! with their exact semantics ([`eval`]). The `quantize` pass introduces
//! them; `lower-quant` expands each into `arith` ops that compute the same
//! bits ([`expand`]), so the scheduler, the vectorizer and the backends
//! never see them, and the interpreter runs either form.
//!
//! A quantized value `q` stands for the real number `(q - zero_point) *
//! scale`. Both ops carry `{scale, zero_point}`: `scale` a positive
//! finite float exactly representable in the float type, `zero_point` an
//! integer of the integer type.
//!
//! - `quant.quantize %x : f -> q` (ONNX `QuantizeLinear`): `t = x / scale`
//!   rounded in `f`; clamped to `[qmin - zero_point, qmax - zero_point]`
//!   (the result type's range; NaN stays NaN); rounded half to even;
//!   `+ zero_point`; converted to `q` (NaN becomes 0). The integer type has
//!   at most 16 bits (so every step is exact in `f32` but the division).
//! - `quant.dequantize %q : q -> f` (ONNX `DequantizeLinear`): `q -
//!   zero_point` exactly (in `i64`), converted to `f` (rounded), times
//!   `scale` (rounded).
//! - `quant.requantize %acc : i32 -> q` (TVM QNN's `requantize`): an
//!   integer standing for `acc · s_in` re-expressed in steps of `s_out`
//!   with zero point `z`, without floats: `t = (acc · multiplier +
//!   2^(shift - 1)) >> shift` in 64-bit integers (rounding half up), `+
//!   zero_point`, clamped to `q`'s range. `multiplier / 2^shift` is `scale`
//!   (`s_in / s_out`, the real factor it stands for) to 31 bits:
//!   `multiplier` in `[2^30, 2^31)`, `|multiplier - scale · 2^shift| <= 1`.
//! - **Scales computed at run time** (per-channel scales): `quantize` and
//!   `dequantize` may take the scale as a second operand instead of the
//!   `scale` attribute (`quant.quantize(%x, %s) {zero_point = 0} : i8`),
//!   with the same semantics for that scale. `quant.scale_for %m : f32 ->
//!   f32 {levels = L, scale = S}` gives the step that covers magnitudes up
//!   to `m` in `L` steps, at most `S` (the declared range's step): `t =
//!   max(m / L, 2^-64)`, rounded up to 12 significant bits (its bits plus
//!   `0xfff`, shifted right and back left by 12), then `min(t, S)` — so two
//!   such scales multiply exactly in `f32`, and a value of magnitude at
//!   most `m` quantizes without clamping.
//! - `quant.pack_bf16 %x : f32 -> u16`: the bits of `x` as bfloat16 (the
//!   upper half of an `f32`'s), rounded to nearest, ties to even; a NaN
//!   becomes the quiet NaN `0x7fc0` with its sign (its payload is lost, its
//!   truth kept). `quant.unpack_bf16 %q : u16 -> f32`: the `f32` those bits
//!   are (exact). The storage of `--quantize=bf16`: `u16` arrays holding
//!   bfloat16 bits, the convention `ml_dtypes.bfloat16` and PyTorch share.
//!   The bits side may also be typed `bf16` (the language's type, whose
//!   values the backends hold as their bits).
//! - `quant.pack_f16 %x : f32 -> f16` and `quant.unpack_f16 %q : f16 ->
//!   f32`: the same for IEEE binary16 ([`f16_bits`], [`f16_value`]); a NaN
//!   becomes `0x7e00` with its sign. The bits side is `f16` or `u16`.

use super::arith::Scalar;
use super::{ArithOp, Opcode, check, dialect_ops};
use crate::ir::{Attr, Module, OpId, OpSpec, ScalarType, Type, ValueId};

dialect_ops!(
    /// Ops of the `quant` dialect.
    QuantOp, "quant", {
    /// Float to fixed point: `saturate(round_half_even(x / scale) + zero_point)`.
    Quantize => "quantize",
    /// Fixed point to float: `(q - zero_point) * scale`.
    Dequantize => "dequantize",
    /// Fixed point to fixed point by an integer multiplier and shift.
    Requantize => "requantize",
    /// The scale that covers magnitudes up to `m` in `levels` steps.
    ScaleFor => "scale_for",
    /// `f32` to bfloat16 bits in a `u16`, rounded to nearest even.
    PackBf16 => "pack_bf16",
    /// bfloat16 bits in a `u16` to the `f32` they are.
    UnpackBf16 => "unpack_bf16",
    /// `f32` to binary16 bits, rounded to nearest even.
    PackF16 => "pack_f16",
    /// binary16 bits to the `f32` they are.
    UnpackF16 => "unpack_f16",
});

/// The binary16 bits of `x`, rounded to nearest, ties to even; from
/// 65520 in magnitude, infinity; a NaN is `0x7e00` with `x`'s sign.
/// Written with the operations [`expand`] uses — shifts, `min`/`max`,
/// wrapping integer and `f32` arithmetic, no branch — so the two agree by
/// construction and vectorize (the method of Maratyszcza's FP16 library):
/// `|x|` scaled by 2^112 · 2^-110 overflows to infinity where binary16
/// does; adding a power of two chosen from `x`'s exponent (at least
/// 2^-14's) makes the `f32` addition round exactly where binary16 rounds,
/// leaving the result's exponent and mantissa in the sum's low bits.
pub fn f16_bits(x: f32) -> u16 {
    let w = x.to_bits();
    let shl1 = w << 1;
    let sign = (w >> 31) << 15;
    let base = f32::from_bits(shl1 >> 1) * 2f32.powi(112) * 2f32.powi(-110);
    let bias = ((shl1 >> 24) << 24).max(0x7100_0000);
    let base = f32::from_bits((bias >> 1).wrapping_add(0x0780_0000)) + base;
    let bits = base.to_bits();
    let nonsign = (((bits << 4) >> 27) << 10) + ((bits << 20) >> 20);
    // 1 for a NaN (the doubled bits beyond infinity's)
    let nan = (shl1 - shl1.min(0xff00_0000)).min(1);
    (sign + nonsign.min(0x7c00) + (nan << 9)) as u16
}

/// The `f32` binary16 bits `q` stand for, exactly (a NaN stays a NaN).
/// As [`f16_bits`], without branches: the magnitude's bits placed where
/// an `f32`'s go (`(q & 0x7fff) << 13`) are that value times 2^-112 —
/// an `f32` subnormal for binary16's subnormals — so one multiply by
/// 2^112 gives every finite value exactly; a result of 65536 or more was
/// an infinity or NaN, whose exponent a 0/1 flag times `112 << 23` then
/// fills (Giesen's method, with a multiply for the `or`).
pub fn f16_value(q: u16) -> f32 {
    let w = q as u32;
    let placed = (w << 17) >> 4;
    let bits = (f32::from_bits(placed) * 2f32.powi(112)).to_bits();
    let special = (bits - bits.min(0x477f_ffff)).min(1);
    let bits = bits.wrapping_add(special.wrapping_mul(112 << 23));
    f32::from_bits(bits + ((w >> 15) << 31))
}

/// The bfloat16 bits of `x`, rounded to nearest, ties to even; a NaN is
/// `0x7fc0` with `x`'s sign. Written with the integer operations
/// [`expand`] uses, so the two agree by construction: the magnitude's
/// bits `m` plus `0x7fff` plus the lowest kept bit, shifted by 16 (at
/// most `0x7f80`, infinity, for every number), plus `0x40` for a NaN.
pub fn bf16_bits(x: f32) -> u16 {
    let b = x.to_bits();
    let sign = (b >> 31) << 15;
    let m = b & 0x7fff_ffff;
    let lsb = (m >> 16) & 1;
    let kept = ((m + 0x7fff + lsb) >> 16).min(0x7f80);
    let nan = (m.max(0x7f80_0000) - 0x7f80_0000).min(1);
    (sign + kept + (nan << 6)) as u16
}

/// The `f32` bfloat16 bits `q` stand for.
pub fn bf16_value(q: u16) -> f32 {
    f32::from_bits((q as u32) << 16)
}

/// The `{scale, zero_point}` of a `quant` op: what its integers mean.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Params {
    /// The real step between consecutive integers.
    pub scale: f64,
    /// The integer that stands for 0.
    pub zero_point: i64,
    /// `requantize`'s fixed-point factor (0 for the other ops).
    pub multiplier: i64,
    /// `requantize`'s shift (0 for the other ops).
    pub shift: u32,
    /// `scale_for`'s number of steps (0 for the other ops).
    pub levels: i64,
}

impl Params {
    /// Reads them from `op` (verified IR).
    pub fn of(m: &Module, op: OpId) -> Params {
        let d = m.op(op);
        Params {
            scale: match d.attr("scale") {
                Some(Attr::Float(s)) => *s,
                _ => f64::NAN,
            },
            zero_point: d.attr("zero_point").and_then(Attr::as_int).unwrap_or(0),
            multiplier: d.attr("multiplier").and_then(Attr::as_int).unwrap_or(0),
            shift: d
                .attr("shift")
                .and_then(Attr::as_int)
                .and_then(|k| u32::try_from(k).ok())
                .unwrap_or(0),
            levels: d.attr("levels").and_then(Attr::as_int).unwrap_or(0),
        }
    }

    /// These parameters with the scale `op` computes at run time (its
    /// second operand's value `s`), if it takes one.
    pub fn at_run_time(self, s: Option<Scalar>) -> Params {
        match s {
            Some(s) => Params {
                scale: s.as_f64(),
                ..self
            },
            None => self,
        }
    }

    /// `requantize`'s parameters for the real factor `scale` (`s_in /
    /// s_out`) and zero point `zero_point`: the multiplier in `[2^30,
    /// 2^31)` and the shift that make `multiplier / 2^shift` closest to
    /// `scale`; `None` if the shift would leave 1..=62.
    pub fn requantize(scale: f64, zero_point: i64) -> Option<Params> {
        if !(scale.is_finite() && scale > 0.0) {
            return None;
        }
        // scale · 2^shift in [2^30, 2^31)
        let shift = 30 - scale.log2().floor() as i64;
        if !(1..=62).contains(&shift) {
            return None;
        }
        let mut multiplier = (scale * 2f64.powi(shift as i32)).round() as i64;
        let mut shift = shift;
        if multiplier >= 1 << 31 {
            multiplier = (multiplier + 1) / 2;
            shift -= 1;
        }
        (shift >= 1 && (1 << 30..1 << 31).contains(&multiplier)).then_some(Params {
            scale,
            zero_point,
            multiplier,
            shift: shift as u32,
            levels: 0,
        })
    }

    /// `requantize`'s attributes.
    pub fn requantize_attrs(self) -> [(&'static str, Attr); 4] {
        [
            ("scale", Attr::Float(self.scale)),
            ("zero_point", Attr::Int(self.zero_point)),
            ("multiplier", Attr::Int(self.multiplier)),
            ("shift", Attr::Int(i64::from(self.shift))),
        ]
    }

    /// As attributes of an op.
    pub fn attrs(self) -> [(&'static str, Attr); 2] {
        [
            ("scale", Attr::Float(self.scale)),
            ("zero_point", Attr::Int(self.zero_point)),
        ]
    }

    /// The range `[lo, hi]` of `x / scale` that [`eval`]'s `quantize`
    /// keeps: the integer type's range less the zero point.
    fn clamp_bounds(self, q: ScalarType) -> (f64, f64) {
        let (lo, hi) = q.int_range().expect("an integer type");
        ((lo - self.zero_point) as f64, (hi - self.zero_point) as f64)
    }
}

/// Whether `q` may hold quantized values (an integer type of at most 16
/// bits: every integer of it, and its sum with a zero point, is exact in
/// `f32`).
pub fn quantizable(q: ScalarType) -> bool {
    matches!(
        q,
        ScalarType::I8 | ScalarType::U8 | ScalarType::I16 | ScalarType::U16
    )
}

/// Evaluates a `quant` op on its operand; `to` is the result type.
pub fn eval(op: QuantOp, p: Params, x: Scalar, to: ScalarType) -> Scalar {
    match op {
        QuantOp::PackBf16 => match x {
            Scalar::F32(v) => super::arith::eval_bitcast(Scalar::Bf16(bf16_bits(v)), to),
            x => panic!("quant.pack_bf16 of {x:?} (unverified IR)"),
        },
        QuantOp::UnpackBf16 => match x {
            Scalar::U16(q) | Scalar::Bf16(q) => Scalar::F32(bf16_value(q)),
            x => panic!("quant.unpack_bf16 of {x:?} (unverified IR)"),
        },
        QuantOp::PackF16 => match x {
            Scalar::F32(v) => super::arith::eval_bitcast(Scalar::F16(f16_bits(v)), to),
            x => panic!("quant.pack_f16 of {x:?} (unverified IR)"),
        },
        QuantOp::UnpackF16 => match x {
            Scalar::U16(q) | Scalar::F16(q) => Scalar::F32(f16_value(q)),
            x => panic!("quant.unpack_f16 of {x:?} (unverified IR)"),
        },
        QuantOp::Quantize => {
            let (lo, hi) = p.clamp_bounds(to);
            let zp = p.zero_point as f64;
            match x {
                Scalar::F32(x) => {
                    let t = x / p.scale as f32;
                    // `min`/`max` as `arith` has them: NaN propagates
                    let t = if t.is_nan() {
                        t
                    } else {
                        t.min(hi as f32).max(lo as f32)
                    };
                    Scalar::F32(t.round_ties_even() + zp as f32).cast(to)
                }
                Scalar::F64(x) => {
                    let t = x / p.scale;
                    let t = if t.is_nan() { t } else { t.min(hi).max(lo) };
                    Scalar::F64(t.round_ties_even() + zp).cast(to)
                }
                x => panic!("quant.quantize of {x:?} (unverified IR)"),
            }
        }
        QuantOp::Dequantize => {
            let d = x.as_i64().expect("verified: an integer") - p.zero_point;
            match Scalar::I64(d).cast(to) {
                Scalar::F32(v) => Scalar::F32(v * p.scale as f32),
                Scalar::F64(v) => Scalar::F64(v * p.scale),
                r => panic!("quant.dequantize to {r:?} (unverified IR)"),
            }
        }
        QuantOp::ScaleFor => match x {
            Scalar::F32(m) => Scalar::F32(scale_for(m, p.levels, p.scale as f32)),
            x => panic!("quant.scale_for of {x:?} (unverified IR)"),
        },
        QuantOp::Requantize => {
            let a = x.as_i64().expect("verified: an integer of at most 32 bits");
            // |a| < 2^31 and multiplier < 2^31: the product fits i64
            let t = (a * p.multiplier + (1i64 << (p.shift - 1))) >> p.shift;
            let (lo, hi) = to.int_range().expect("verified: an integer");
            Scalar::from_i64((t + p.zero_point).clamp(lo, hi), to)
        }
    }
}

/// Evaluates `op` on all its operands (a scale computed at run time as
/// the second).
pub fn eval_op(op: QuantOp, p: Params, args: &[Scalar], to: ScalarType) -> Scalar {
    eval(op, p.at_run_time(args.get(1).copied()), args[0], to)
}

/// The least magnitude `scale_for` gives: a column of zeros still has a
/// positive step, and the product of two such steps stays a normal `f32`.
pub const SCALE_FLOOR: f64 = 5.421010862427522e-20; // 2^-64

/// `quant.scale_for`: written with the operations [`expand`] uses, so the
/// two agree by construction (a NaN propagates through `max`; its bits
/// plus `0xfff` may wrap, which both do alike).
pub fn scale_for(m: f32, levels: i64, most: f32) -> f32 {
    let arith =
        |op, a: f32, b: f32| match super::arith::eval_binary(op, Scalar::F32(a), Scalar::F32(b)) {
            Ok(Scalar::F32(v)) => v,
            r => unreachable!("a float min/max gives a float: {r:?}"),
        };
    let t = arith(ArithOp::Max, m / levels as f32, SCALE_FLOOR as f32);
    let bits = (t.to_bits().wrapping_add(0xfff) >> 12) << 12;
    arith(ArithOp::Min, f32::from_bits(bits), most)
}

/// `2^(mantissa bits) * 1.5`: adding it to a float of magnitude below
/// `2^(mantissa bits - 1)` and subtracting it again rounds that float to an
/// integer, half to even (in the default rounding mode).
fn round_magic(f: ScalarType) -> f64 {
    match f {
        ScalarType::F32 => 12_582_912.0,
        _ => 6_755_399_441_055_744.0,
    }
}

/// Builds, before `at`, the `arith` ops that compute `op` (a `quant` op)
/// exactly as [`eval`] does, and returns the value that replaces its
/// result. The rounding is `(t + M) - M` with `M` = 1.5 · 2^23 (`f32`) or
/// 1.5 · 2^52 (`f64`), exact here because `t` was clamped first to at most
/// 2^17 in magnitude.
pub fn expand(m: &mut Module, op: OpId) -> ValueId {
    let d = m.op(op).clone();
    let p = Params::of(m, op);
    let Opcode::Quant(q) = d.opcode else {
        panic!("expand of {} (not a quant op)", d.opcode)
    };
    let (x, result) = (d.operands[0], d.results[0]);
    // a scale computed at run time
    let run_time_scale = d.operands.get(1).copied();
    let to = m.ty(result).clone();
    let mut ops = Vec::new();
    let mut emit = |m: &mut Module, spec: OpSpec| -> ValueId {
        let o = m.build_op(spec.loc(d.loc));
        ops.push(o);
        m.result(o)
    };
    let konst = |m: &mut Module,
                 ty: &Type,
                 v: Attr,
                 emit: &mut dyn FnMut(&mut Module, OpSpec) -> ValueId| {
        emit(
            m,
            OpSpec::new(Opcode::Arith(ArithOp::Constant))
                .attr("value", v)
                .result(ty.clone()),
        )
    };
    let bin = |a: ArithOp, l: ValueId, r: ValueId, ty: &Type| {
        OpSpec::new(Opcode::Arith(a))
            .operands([l, r])
            .result(ty.clone())
    };
    let u32t = Type::Scalar(ScalarType::U32);
    let shift = |a: ArithOp, x: ValueId, k: i64, ty: &Type| {
        OpSpec::new(Opcode::Arith(a))
            .operands([x])
            .attr("amount", Attr::Int(k))
            .result(ty.clone())
    };
    let convert = |a: ArithOp, x: ValueId, ty: &Type| {
        OpSpec::new(Opcode::Arith(a))
            .operands([x])
            .result(ty.clone())
    };
    let u16t = Type::Scalar(ScalarType::U16);
    let f32t = Type::Scalar(ScalarType::F32);
    // the 16 bits of a packed value, widened to u32 (a value typed `f16`
    // or `bf16` is its bits: reinterpreted, not converted)
    let bits_u32 =
        |m: &mut Module, x: ValueId, emit: &mut dyn FnMut(&mut Module, OpSpec) -> ValueId| {
            let b = if m.ty(x).elem().is_half() {
                emit(m, convert(ArithOp::Bitcast, x, &u16t))
            } else {
                x
            };
            emit(m, convert(ArithOp::Cast, b, &u32t))
        };
    // 16 bits in the low half of a u32 as the packed type `to`
    let bits_to =
        |m: &mut Module, r: ValueId, emit: &mut dyn FnMut(&mut Module, OpSpec) -> ValueId| {
            let b = emit(m, convert(ArithOp::Cast, r, &u16t));
            if to.elem().is_half() {
                emit(m, convert(ArithOp::Bitcast, b, &to))
            } else {
                b
            }
        };
    // the packed bits from the magnitude's (`kept`), the sign moved into
    // place, and `over` (> 0 exactly for a NaN): a NaN is the quiet NaN,
    // `kept` (the infinity) plus the quiet bit `1 << quiet_bit`
    let signed = |m: &mut Module,
                  (sign, kept, over): (ValueId, ValueId, ValueId),
                  quiet_bit: i64,
                  emit: &mut dyn FnMut(&mut Module, OpSpec) -> ValueId| {
        let one = konst(m, &u32t, Attr::Int(1), emit);
        let nan = emit(m, bin(ArithOp::Min, over, one, &u32t));
        let quiet = emit(m, shift(ArithOp::Shl, nan, quiet_bit, &u32t));
        let r = emit(m, bin(ArithOp::Add, sign, kept, &u32t));
        let r = emit(m, bin(ArithOp::Add, r, quiet, &u32t));
        bits_to(m, r, emit)
    };
    let value = match q {
        QuantOp::PackF16 => {
            // f16_bits, step by step, in u32 lanes
            let t = &u32t;
            let w = emit(m, convert(ArithOp::Bitcast, x, t));
            let shl1 = emit(m, shift(ArithOp::Shl, w, 1, t));
            let s = emit(m, shift(ArithOp::Shr, w, 31, t));
            let sign = emit(m, shift(ArithOp::Shl, s, 15, t));
            let mag = emit(m, shift(ArithOp::Shr, shl1, 1, t));
            let magf = emit(m, convert(ArithOp::Bitcast, mag, &f32t));
            let up = konst(m, &f32t, Attr::Float(2f64.powi(112)), &mut emit);
            let base = emit(m, bin(ArithOp::Mul, magf, up, &f32t));
            let down = konst(m, &f32t, Attr::Float(2f64.powi(-110)), &mut emit);
            let base = emit(m, bin(ArithOp::Mul, base, down, &f32t));
            let e = emit(m, shift(ArithOp::Shr, shl1, 24, t));
            let bias = emit(m, shift(ArithOp::Shl, e, 24, t));
            let least = konst(m, t, Attr::Int(0x7100_0000), &mut emit);
            let bias = emit(m, bin(ArithOp::Max, bias, least, t));
            let bias = emit(m, shift(ArithOp::Shr, bias, 1, t));
            let offset = konst(m, t, Attr::Int(0x0780_0000), &mut emit);
            let bias = emit(m, bin(ArithOp::Add, bias, offset, t));
            let biasf = emit(m, convert(ArithOp::Bitcast, bias, &f32t));
            let sum = emit(m, bin(ArithOp::Add, biasf, base, &f32t));
            let bits = emit(m, convert(ArithOp::Bitcast, sum, t));
            let ex = emit(m, shift(ArithOp::Shl, bits, 4, t));
            let ex = emit(m, shift(ArithOp::Shr, ex, 27, t));
            let ex = emit(m, shift(ArithOp::Shl, ex, 10, t));
            let mant = emit(m, shift(ArithOp::Shl, bits, 20, t));
            let mant = emit(m, shift(ArithOp::Shr, mant, 20, t));
            let nonsign = emit(m, bin(ArithOp::Add, ex, mant, t));
            let inf = konst(m, t, Attr::Int(0x7c00), &mut emit);
            let kept = emit(m, bin(ArithOp::Min, nonsign, inf, t));
            let inf2 = konst(m, t, Attr::Int(0xff00_0000), &mut emit);
            let low = emit(m, bin(ArithOp::Min, shl1, inf2, t));
            let over = emit(m, bin(ArithOp::Sub, shl1, low, t));
            signed(m, (sign, kept, over), 9, &mut emit)
        }
        QuantOp::UnpackF16 => {
            // f16_value, step by step, in u32 lanes
            let t = &u32t;
            let w = bits_u32(m, x, &mut emit);
            let placed = emit(m, shift(ArithOp::Shl, w, 17, t));
            let placed = emit(m, shift(ArithOp::Shr, placed, 4, t));
            let pf = emit(m, convert(ArithOp::Bitcast, placed, &f32t));
            let scale = konst(m, &f32t, Attr::Float(2f64.powi(112)), &mut emit);
            let v = emit(m, bin(ArithOp::Mul, pf, scale, &f32t));
            let bits = emit(m, convert(ArithOp::Bitcast, v, t));
            let finite = konst(m, t, Attr::Int(0x477f_ffff), &mut emit);
            let low = emit(m, bin(ArithOp::Min, bits, finite, t));
            let over = emit(m, bin(ArithOp::Sub, bits, low, t));
            let one = konst(m, t, Attr::Int(1), &mut emit);
            let special = emit(m, bin(ArithOp::Min, over, one, t));
            let fill = konst(m, t, Attr::Int(112 << 23), &mut emit);
            let fill = emit(m, bin(ArithOp::Mul, special, fill, t));
            let bits = emit(m, bin(ArithOp::Add, bits, fill, t));
            let s = emit(m, shift(ArithOp::Shr, w, 15, t));
            let sign = emit(m, shift(ArithOp::Shl, s, 31, t));
            let bits = emit(m, bin(ArithOp::Add, bits, sign, t));
            emit(m, convert(ArithOp::Bitcast, bits, &to))
        }
        QuantOp::PackBf16 => {
            // bf16_bits, step by step, in u32 lanes
            let t = &u32t;
            let b = emit(
                m,
                OpSpec::new(Opcode::Arith(ArithOp::Bitcast))
                    .operands([x])
                    .result(t.clone()),
            );
            let s = emit(m, shift(ArithOp::Shr, b, 31, t));
            let sign = emit(m, shift(ArithOp::Shl, s, 15, t));
            let up = emit(m, shift(ArithOp::Shl, b, 1, t));
            let mag = emit(m, shift(ArithOp::Shr, up, 1, t));
            let h = emit(m, shift(ArithOp::Shr, mag, 16, t));
            let h = emit(m, shift(ArithOp::Shl, h, 31, t));
            let lsb = emit(m, shift(ArithOp::Shr, h, 31, t));
            let half = konst(m, t, Attr::Int(0x7fff), &mut emit);
            let r = emit(m, bin(ArithOp::Add, mag, half, t));
            let r = emit(m, bin(ArithOp::Add, r, lsb, t));
            let r = emit(m, shift(ArithOp::Shr, r, 16, t));
            let inf = konst(m, t, Attr::Int(0x7f80), &mut emit);
            let kept = emit(m, bin(ArithOp::Min, r, inf, t));
            let inf32 = konst(m, t, Attr::Int(0x7f80_0000), &mut emit);
            let over = emit(m, bin(ArithOp::Max, mag, inf32, t));
            let over = emit(m, bin(ArithOp::Sub, over, inf32, t));
            signed(m, (sign, kept, over), 6, &mut emit)
        }
        QuantOp::UnpackBf16 => {
            let w = bits_u32(m, x, &mut emit);
            let bits = emit(m, shift(ArithOp::Shl, w, 16, &u32t));
            emit(
                m,
                OpSpec::new(Opcode::Arith(ArithOp::Bitcast))
                    .operands([bits])
                    .result(to.clone()),
            )
        }
        QuantOp::Quantize => {
            let fty = m.ty(x).clone();
            let f = fty.elem();
            let (lo, hi) = p.clamp_bounds(to.elem());
            let s = match run_time_scale {
                Some(s) => s,
                None => konst(m, &fty, Attr::Float(p.scale), &mut emit),
            };
            let t = emit(m, bin(ArithOp::Div, x, s, &fty));
            let hi = konst(m, &fty, Attr::Float(hi), &mut emit);
            let t = emit(m, bin(ArithOp::Min, t, hi, &fty));
            let lo = konst(m, &fty, Attr::Float(lo), &mut emit);
            let t = emit(m, bin(ArithOp::Max, t, lo, &fty));
            let magic = konst(m, &fty, Attr::Float(round_magic(f)), &mut emit);
            let t = emit(m, bin(ArithOp::Add, t, magic, &fty));
            let r = emit(m, bin(ArithOp::Sub, t, magic, &fty));
            let r = if p.zero_point != 0 {
                let zp = konst(m, &fty, Attr::Float(p.zero_point as f64), &mut emit);
                emit(m, bin(ArithOp::Add, r, zp, &fty))
            } else {
                r
            };
            emit(
                m,
                OpSpec::new(Opcode::Arith(ArithOp::Cast))
                    .operands([r])
                    .result(to.clone()),
            )
        }
        QuantOp::Requantize => {
            let i64t = Type::INDEX;
            let a = emit(
                m,
                OpSpec::new(Opcode::Arith(ArithOp::Cast))
                    .operands([x])
                    .result(i64t.clone()),
            );
            let mul = konst(m, &i64t, Attr::Int(p.multiplier), &mut emit);
            let t = emit(m, bin(ArithOp::Mul, a, mul, &i64t));
            let half = konst(m, &i64t, Attr::Int(1i64 << (p.shift - 1)), &mut emit);
            let t = emit(m, bin(ArithOp::Add, t, half, &i64t));
            let t = emit(m, shift(ArithOp::Shr, t, i64::from(p.shift), &i64t));
            let zp = konst(m, &i64t, Attr::Int(p.zero_point), &mut emit);
            let t = emit(m, bin(ArithOp::Add, t, zp, &i64t));
            let (lo, hi) = to.elem().int_range().expect("verified: an integer");
            let hi = konst(m, &i64t, Attr::Int(hi), &mut emit);
            let t = emit(m, bin(ArithOp::Min, t, hi, &i64t));
            let lo = konst(m, &i64t, Attr::Int(lo), &mut emit);
            let t = emit(m, bin(ArithOp::Max, t, lo, &i64t));
            emit(
                m,
                OpSpec::new(Opcode::Arith(ArithOp::Cast))
                    .operands([t])
                    .result(to.clone()),
            )
        }
        QuantOp::Dequantize => {
            let wide = if p.zero_point != 0 {
                let i = emit(
                    m,
                    OpSpec::new(Opcode::Arith(ArithOp::Cast))
                        .operands([x])
                        .result(Type::INDEX),
                );
                let zp = konst(m, &Type::INDEX, Attr::Int(p.zero_point), &mut emit);
                emit(m, bin(ArithOp::Sub, i, zp, &Type::INDEX))
            } else {
                x
            };
            let r = emit(
                m,
                OpSpec::new(Opcode::Arith(ArithOp::Cast))
                    .operands([wide])
                    .result(to.clone()),
            );
            let s = match run_time_scale {
                Some(s) => s,
                None => konst(m, &to, Attr::Float(p.scale), &mut emit),
            };
            emit(m, bin(ArithOp::Mul, r, s, &to))
        }
        QuantOp::ScaleFor => {
            // scale_for, step by step
            let t = &u32t;
            let levels = konst(m, &f32t, Attr::Float(p.levels as f64), &mut emit);
            let v = emit(m, bin(ArithOp::Div, x, levels, &f32t));
            let floor = konst(m, &f32t, Attr::Float(SCALE_FLOOR), &mut emit);
            let v = emit(m, bin(ArithOp::Max, v, floor, &f32t));
            let bits = emit(m, convert(ArithOp::Bitcast, v, t));
            let up = konst(m, t, Attr::Int(0xfff), &mut emit);
            let bits = emit(m, bin(ArithOp::Add, bits, up, t));
            let bits = emit(m, shift(ArithOp::Shr, bits, 12, t));
            let bits = emit(m, shift(ArithOp::Shl, bits, 12, t));
            let v = emit(m, convert(ArithOp::Bitcast, bits, &f32t));
            let most = konst(m, &f32t, Attr::Float(p.scale), &mut emit);
            emit(m, bin(ArithOp::Min, v, most, &f32t))
        }
    };
    m.insert_all_before(op, &ops);
    value
}

impl QuantOp {
    /// Checks the op's rules.
    pub fn verify(self, m: &Module, op: OpId, errs: &mut Vec<String>) {
        let d = m.op(op);
        // quantize and dequantize may take their scale as an operand
        let run_time_scale =
            matches!(self, QuantOp::Quantize | QuantOp::Dequantize) && d.operands.len() == 2;
        check::counts(m, op, Some(1 + usize::from(run_time_scale)), 1, 0, errs);
        let (Some(&x), Some(&r)) = (d.operands.first(), d.results.first()) else {
            return;
        };
        // binary16's conversions also lane by lane, for a backend that
        // has instructions for them (`lower-quant`'s `keep_f16`)
        if matches!(self, QuantOp::PackF16 | QuantOp::UnpackF16)
            && let (Some(a), Some(b)) = (m.ty(x).lanes(), m.ty(r).lanes())
        {
            if a != b {
                errs.push("converts vectors of one lane count".into());
            }
        } else if m.ty(x).lanes().is_some() || m.ty(r).lanes().is_some() {
            errs.push("takes and gives scalars (vectors: f16's conversions only)".into());
            return;
        }
        let (from, to) = (m.ty(x).elem(), m.ty(r).elem());
        if !m.ty(x).is_value() || !m.ty(r).is_value() {
            errs.push("takes and gives scalars".into());
            return;
        };
        let (float, int) = match self {
            QuantOp::Requantize => {
                verify_requantize(m, op, (from, to), errs);
                return;
            }
            QuantOp::ScaleFor => {
                verify_scale_for(m, op, (from, to), errs);
                return;
            }
            QuantOp::Quantize => (from, to),
            QuantOp::Dequantize => (to, from),
            QuantOp::PackBf16 | QuantOp::UnpackBf16 | QuantOp::PackF16 | QuantOp::UnpackF16 => {
                let (f, b) = if matches!(self, QuantOp::PackBf16 | QuantOp::PackF16) {
                    (from, to)
                } else {
                    (to, from)
                };
                let half = if matches!(self, QuantOp::PackBf16 | QuantOp::UnpackBf16) {
                    ScalarType::Bf16
                } else {
                    ScalarType::F16
                };
                if f != ScalarType::F32 || (b != ScalarType::U16 && b != half) {
                    errs.push(format!(
                        "converts between f32 and u16 or {half}, not {from} and {to}"
                    ));
                }
                return;
            }
        };
        if !float.is_float() {
            errs.push(format!("the float side must be f32 or f64, found {float}"));
        }
        let int_ok = match self {
            QuantOp::Quantize => quantizable(int),
            // sums of quantized products are dequantized too
            _ => int.is_int(),
        };
        if !int_ok {
            errs.push(format!(
                "the integer side must be {}, found {int}",
                match self {
                    QuantOp::Quantize => "i8, u8, i16 or u16",
                    _ => "an integer",
                }
            ));
        }
        match d.attr("scale") {
            _ if run_time_scale => {
                let s = m.ty(d.operands[1]);
                if d.attr("scale").is_some() {
                    errs.push("takes its scale as an operand or an attribute, not both".into());
                } else if !s.is_value() || s.lanes().is_some() || s.elem() != float {
                    errs.push(format!("its scale operand must be {float}, found {s}"));
                }
            }
            Some(Attr::Float(s)) if s.is_finite() && *s > 0.0 => {
                if float == ScalarType::F32 && (*s as f32) as f64 != *s {
                    errs.push(format!("`scale` {s} is not exactly an f32"));
                }
            }
            _ => errs.push("needs a positive finite float `scale`".into()),
        }
        match d.attr("zero_point").and_then(Attr::as_int) {
            Some(z) if int.int_range().is_some_and(|(lo, hi)| lo <= z && z <= hi) => {}
            Some(z) => errs.push(format!("`zero_point` {z} is not an {int}")),
            None => errs.push("needs an integer `zero_point`".into()),
        }
    }
}

/// `quant.scale_for`'s rules: `f32` to `f32`, `levels` from 1 to 2^16, a
/// positive `scale` exact in `f32`.
fn verify_scale_for(
    m: &Module,
    op: OpId,
    (from, to): (ScalarType, ScalarType),
    errs: &mut Vec<String>,
) {
    if from != ScalarType::F32 || to != ScalarType::F32 {
        errs.push(format!("takes and gives f32, not {from} and {to}"));
    }
    let p = Params::of(m, op);
    if !(1..=1 << 16).contains(&p.levels) {
        errs.push("needs integer `levels` from 1 to 65536".into());
    }
    if !(p.scale.is_finite() && p.scale > 0.0 && (p.scale as f32) as f64 == p.scale) {
        errs.push("needs a positive `scale` (the largest it gives) exact in f32".into());
    }
}

/// `quant.requantize`'s rules: `i8`..`i32` in, a quantized type out,
/// the factor and its fixed-point form consistent.
fn verify_requantize(
    m: &Module,
    op: OpId,
    (from, to): (ScalarType, ScalarType),
    errs: &mut Vec<String>,
) {
    if !from.is_int() || from.size_bytes() > 4 {
        errs.push(format!("takes an integer of at most 32 bits, found {from}"));
    }
    if !quantizable(to) {
        errs.push(format!("gives i8, u8, i16 or u16, found {to}"));
        return;
    }
    let p = Params::of(m, op);
    if !(p.scale.is_finite() && p.scale > 0.0) {
        errs.push("needs a positive finite float `scale`".into());
        return;
    }
    if !(1..=62).contains(&p.shift) || !(1 << 30..1 << 31).contains(&p.multiplier) {
        errs.push("needs `multiplier` in [2^30, 2^31) and `shift` from 1 to 62".into());
    } else if (p.multiplier as f64 - p.scale * 2f64.powi(p.shift as i32)).abs() > 1.0 {
        errs.push(format!(
            "`multiplier / 2^shift` ({} / 2^{}) is not `scale` ({}) to 31 bits",
            p.multiplier, p.shift, p.scale
        ));
    }
    let zero_point = m.op(op).attr("zero_point").and_then(Attr::as_int);
    if !zero_point.is_some_and(|z| to.int_range().is_some_and(|(lo, hi)| lo <= z && z <= hi)) {
        errs.push(format!("needs a `zero_point` that is an {to}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(x: f32, scale: f64, zp: i64, to: ScalarType) -> i64 {
        let p = Params {
            scale,
            zero_point: zp,
            ..Default::default()
        };
        eval(QuantOp::Quantize, p, Scalar::F32(x), to)
            .as_i64()
            .unwrap()
    }

    #[test]
    fn quantize_rounds_half_to_even_and_saturates() {
        assert_eq!(q(0.5, 1.0, 0, ScalarType::I8), 0);
        assert_eq!(q(1.5, 1.0, 0, ScalarType::I8), 2);
        assert_eq!(q(-2.5, 1.0, 0, ScalarType::I8), -2);
        assert_eq!(q(1000.0, 1.0, 0, ScalarType::I8), 127);
        assert_eq!(q(-1000.0, 1.0, 10, ScalarType::U8), 0);
        assert_eq!(q(f32::INFINITY, 0.5, 3, ScalarType::U8), 255);
        assert_eq!(q(f32::NAN, 0.5, 3, ScalarType::U8), 0);
        // with a zero point: -2.5 -> -2 (even), + 128
        assert_eq!(q(-2.5, 1.0, 128, ScalarType::U8), 126);
        assert_eq!(q(-1000.0, 1.0, 128, ScalarType::U8), 0);
    }

    #[test]
    fn bf16_rounds_to_nearest_even_and_keeps_nans() {
        let b = |x: f32| bf16_bits(x);
        assert_eq!(b(1.0), 0x3f80);
        assert_eq!(b(-2.0), 0xc000);
        // 1 + 2^-8 is a tie between 1 and 1 + 2^-7: to the even, 1
        assert_eq!(b(f32::from_bits(0x3f80_8000)), 0x3f80);
        // 1 + 3 * 2^-8 is a tie too: to the even above
        assert_eq!(b(f32::from_bits(0x3f81_8000)), 0x3f82);
        assert_eq!(b(f32::from_bits(0x3f80_8001)), 0x3f81);
        assert_eq!(b(f32::MAX), 0x7f80, "rounds up to infinity");
        assert_eq!(b(f32::NEG_INFINITY), 0xff80);
        assert_eq!(b(f32::NAN), 0x7fc0);
        assert_eq!(b(-f32::from_bits(0x7f80_0001)), 0xffc0, "a NaN stays one");
        assert_eq!(b(f32::from_bits(0x7fff_ffff)), 0x7fc0);
        assert_eq!(b(f32::from_bits(1)), 0, "the least subnormal rounds to 0");
        assert_eq!(bf16_value(0x3f80), 1.0);
        for x in [0.1f32, -3.7e-39, 6.0e37, 1234.5] {
            let r = bf16_value(b(x));
            assert!((r - x).abs() <= x.abs() * 2f32.powi(-8) + 1e-40, "{x}: {r}");
        }
    }

    #[test]
    fn requantize_multiplies_shifts_rounds_half_up_and_saturates() {
        let p = Params::requantize(0.375, 3).unwrap();
        assert_eq!(p.multiplier as f64 / 2f64.powi(p.shift as i32), 0.375);
        let r = |a: i32| {
            eval(QuantOp::Requantize, p, Scalar::I32(a), ScalarType::U8)
                .as_i64()
                .unwrap()
        };
        assert_eq!(r(8), 3 + 3);
        // 4 · 0.375 = 1.5: half up
        assert_eq!(r(4), 2 + 3);
        // -4 · 0.375 = -1.5: half up, to -1
        assert_eq!(r(-4), -1 + 3);
        assert_eq!(r(-100), 0, "saturates below");
        assert_eq!(r(i32::MAX), 255, "and above, without overflowing");
        assert!(Params::requantize(0.0, 0).is_none());
        assert!(Params::requantize(2f64.powi(40), 0).is_none());
        let tiny = Params::requantize(1.0e-9, 0).unwrap();
        assert!((1 << 30..1 << 31).contains(&tiny.multiplier));
    }

    #[test]
    fn dequantize_subtracts_the_zero_point_exactly() {
        let p = Params {
            scale: 0.25,
            zero_point: -5,
            ..Default::default()
        };
        let r = eval(
            QuantOp::Dequantize,
            p,
            Scalar::I32(i32::MAX),
            ScalarType::F64,
        );
        assert_eq!(r, Scalar::F64((i32::MAX as f64 + 5.0) * 0.25));
    }
}
