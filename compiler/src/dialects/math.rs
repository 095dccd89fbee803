//! `math` dialect: elementary functions. `abs` takes any number (wrapping
//! for the most negative integer); the others take floats. On `f32`, every
//! function is picojoule's own (`pj_runtime::math`: written once over
//! lanes, within 1-3 ulp, the same bits on every machine and backend,
//! computable inline in vector code); on `f64`, `log`, `tanh`, `pow` and
//! `exp` are the host's libm, so they agree with NumPy to a few ulps, not
//! bit for bit; the other `f64`
//! functions are the `libm` crate's (musl's algorithms), the same bits on
//! every machine. The interpreter calls the runtime's functions
//! ([`crate::codegen::runtime::math_symbol`]); so does scalar code, except
//! `f32` `exp`, which is inline.
//!
//! On vectors (see [`lanewise`]): `abs`, `sqrt`, `floor`, `ceil` on float
//! lanes and every function on `f32` lanes, lane by lane with the scalar
//! semantics.
//!
//! `exp` on `f32` with `{fused = true}` (set by the `contract` pass under
//! `--fast-math=contract`) is `pj_runtime::math::expf_fused`: the same
//! algorithm with its multiply-adds fused, also within 1 ulp, also the same
//! bits everywhere.

use super::arith::Scalar;
use super::{check, dialect_ops};
use crate::ir::{Module, OpId, ScalarType, Type};
use pj_runtime::math::lanes::{Lanes, Wide};

dialect_ops!(
    /// Ops of the `math` dialect.
    MathOp, "math", {
    /// `|a|`
    Abs => "abs",
    /// `e^a`
    Exp => "exp",
    /// Natural logarithm.
    Log => "log",
    /// Square root.
    Sqrt => "sqrt",
    /// Hyperbolic tangent.
    Tanh => "tanh",
    /// Round toward -inf.
    Floor => "floor",
    /// Round toward +inf.
    Ceil => "ceil",
    /// `a^b`
    Pow => "pow",
    /// Sine (radians).
    Sin => "sin",
    /// Cosine (radians).
    Cos => "cos",
    /// Tangent (radians).
    Tan => "tan",
    /// `atan2(y, x)`: the angle of the point `(x, y)`, in `[-pi, pi]`.
    Atan2 => "atan2",
    /// The error function.
    Erf => "erf",
    /// `log(1 + a)`, accurate for small `a`.
    Log1p => "log1p",
    /// `exp(a) - 1`, accurate for small `a`.
    Expm1 => "expm1",
});

impl MathOp {
    /// How many operands it takes.
    pub fn arity(self) -> usize {
        match self {
            MathOp::Pow | MathOp::Atan2 => 2,
            _ => 1,
        }
    }
}

/// Whether `op` applies lane by lane to vectors of `elem` (what the
/// vectorizers may produce and the backends must encode): `abs`, `sqrt`,
/// `floor`, `ceil` on floats; every function on `f32` and all but `erf`
/// and `pow` on `f64` (those picojoule defines over lanes:
/// `pj_runtime::math`).
pub fn lanewise(op: MathOp, elem: ScalarType) -> bool {
    match op {
        MathOp::Abs | MathOp::Sqrt | MathOp::Floor | MathOp::Ceil => elem.is_float(),
        MathOp::Exp
        | MathOp::Log
        | MathOp::Tanh
        | MathOp::Sin
        | MathOp::Cos
        | MathOp::Tan
        | MathOp::Log1p
        | MathOp::Expm1
        | MathOp::Atan2 => elem.is_float(),
        MathOp::Erf | MathOp::Pow => elem == ScalarType::F32,
    }
}

/// `op` on lanes of `f32`, as picojoule defines it (`pj_runtime::math`):
/// what each backend's vector code computes, through its own [`Lanes`]
/// (one instruction per operation), and what the energy model counts
/// ([`lane_ops`]). `None` for the single instructions (`abs`, `sqrt`,
/// `floor`, `ceil`). `exp` is here to be counted: the backends emit their
/// own copies of its operations, tuned per target.
pub fn on_lanes<L: Wide>(l: &mut L, op: MathOp, args: &[L::F]) -> Option<L::F> {
    use pj_runtime::math::{erf, exp, log, pow, trig};
    Some(match op {
        MathOp::Sin => trig::sin(l, args[0]),
        MathOp::Cos => trig::cos(l, args[0]),
        MathOp::Tan => trig::tan(l, args[0]),
        MathOp::Atan2 => trig::atan2(l, args[0], args[1]),
        MathOp::Log => log::log(l, args[0]),
        MathOp::Log1p => log::log1p(l, args[0]),
        MathOp::Expm1 => exp::expm1(l, args[0]),
        MathOp::Tanh => exp::tanh(l, args[0]),
        MathOp::Erf => erf::erf(l, args[0]),
        MathOp::Exp => exp::exp(l, args[0]),
        MathOp::Pow => pow::pow(l, args[0], args[1]),
        MathOp::Abs | MathOp::Sqrt | MathOp::Floor | MathOp::Ceil => return None,
    })
}

/// [`on_lanes`] for lanes of `f64` (`pj_runtime::math::double`); `None`
/// also for `erf` and `pow`, which `f64` code calls.
pub fn on_f64_lanes<L: Lanes<f64>>(l: &mut L, op: MathOp, args: &[L::F]) -> Option<L::F> {
    use pj_runtime::math::double::{exp, log, trig};
    Some(match op {
        MathOp::Sin => trig::sin(l, args[0]),
        MathOp::Cos => trig::cos(l, args[0]),
        MathOp::Tan => trig::tan(l, args[0]),
        MathOp::Log => log::log(l, args[0]),
        MathOp::Log1p => log::log1p(l, args[0]),
        MathOp::Expm1 => exp::expm1(l, args[0]),
        MathOp::Tanh => exp::tanh(l, args[0]),
        MathOp::Exp => exp::exp(l, args[0]),
        MathOp::Atan2 => trig::atan2(l, args[0], args[1]),
        MathOp::Erf | MathOp::Pow | MathOp::Abs | MathOp::Sqrt | MathOp::Floor | MathOp::Ceil => {
            return None;
        }
    })
}

/// How many operations one vector of `op` on `elem` performs in
/// picojoule's definition ([`on_lanes`], [`on_f64_lanes`], counted by
/// running it: constants and the rarely taken scalar fallback not
/// included); `None` where it is not defined over lanes.
pub fn lane_ops(op: MathOp, elem: ScalarType) -> Option<u32> {
    let mut count = pj_runtime::math::lanes::OpCount::default();
    match elem {
        ScalarType::F32 => on_lanes(&mut count, op, &[(), ()])?,
        ScalarType::F64 => on_f64_lanes(&mut count, op, &[(), ()])?,
        _ => return None,
    };
    Some(count.ops)
}

/// Whether `op` (a `math` op) computes with fused multiply-adds: an `f32`
/// `exp` marked `{fused = true}`.
pub fn is_fused(m: &Module, op: OpId) -> bool {
    m.op(op).attr("fused") == Some(&crate::ir::Attr::Bool(true))
}

impl MathOp {
    /// Checks the op's rules.
    pub fn verify(self, m: &Module, op: OpId, errs: &mut Vec<String>) {
        let n = self.arity();
        check::counts(m, op, Some(n), 1, 0, errs);
        if let Some(f) = m.op(op).attr("fused") {
            let f32_exp = self == MathOp::Exp
                && m.op(op).results.first().map(|&r| m.ty(r).elem()) == Some(ScalarType::F32);
            if !matches!(f, crate::ir::Attr::Bool(_)) {
                errs.push("`fused` must be a bool".into());
            } else if !f32_exp {
                errs.push("`fused` applies to `exp` on `f32` only".into());
            }
        }
        if let Some(t @ Type::Vector { .. }) = m.op(op).results.first().map(|&r| m.ty(r)) {
            if let Err(e) = super::vector::valid_vector(t) {
                errs.push(e);
            } else if !lanewise(self, t.elem()) {
                errs.push(format!("does not apply to vectors ({t}): use scalars"));
            }
            if m.op(op).operands.iter().any(|&v| m.ty(v) != t) {
                errs.push(format!("every operand must be {t}"));
            }
            return;
        }
        let res = m.op(op).results.first().and_then(|&r| m.ty(r).as_scalar());
        for i in 0..n {
            let t = check::scalar_operand(m, op, i, errs);
            if t.is_some() && t != res {
                errs.push("operands and result must have one type".into());
            }
            match t {
                Some(t) if self == MathOp::Abs && !t.is_numeric() => {
                    errs.push("needs a number".into())
                }
                Some(t) if self != MathOp::Abs && !t.is_float() => {
                    errs.push(format!("needs a float, found {t}"))
                }
                _ => {}
            }
        }
    }
}

/// Evaluates a math op; `fused`: an `f32` `exp` with its multiply-adds
/// fused ([`is_fused`]).
pub fn eval(op: MathOp, args: &[Scalar], fused: bool) -> Scalar {
    // 16-bit floats: the f32 function, rounded to their type
    if let Some(t) = args.first().map(|a| a.ty()).filter(|t| t.is_half()) {
        let wide: Vec<Scalar> = args.iter().map(|a| a.cast(ScalarType::F32)).collect();
        return match eval(op, &wide, fused) {
            Scalar::F32(r) => Scalar::narrow_half(r, t),
            r => r,
        };
    }
    macro_rules! f {
        ($a:expr, |$x:ident| $e:expr) => {
            match $a {
                Scalar::F32($x) => Scalar::F32($e),
                Scalar::F64($x) => Scalar::F64($e),
                a => panic!("math.{} on {a:?} (unverified IR)", op.mnemonic()),
            }
        };
    }
    let a = args[0];
    match op {
        MathOp::Abs => match a {
            Scalar::F32(v) => Scalar::F32(v.abs()),
            Scalar::F64(v) => Scalar::F64(v.abs()),
            s if s.ty().is_signed_int() => {
                Scalar::from_i64(s.as_i64().unwrap_or(0).wrapping_abs(), s.ty())
            }
            s => s,
        },
        MathOp::Exp => match a {
            Scalar::F32(x) if fused => Scalar::F32(pj_runtime::math::expf_fused(x)),
            a => f2(a, rt::pj_rt_expf, rt::pj_rt_exp),
        },
        MathOp::Sqrt => f!(a, |x| x.sqrt()),
        MathOp::Floor => f!(a, |x| x.floor()),
        MathOp::Ceil => f!(a, |x| x.ceil()),
        MathOp::Pow => match (a, args[1]) {
            (Scalar::F32(x), Scalar::F32(y)) => Scalar::F32(rt::pj_rt_powf(x, y)),
            (Scalar::F64(x), Scalar::F64(y)) => Scalar::F64(x.powf(y)),
            (x, y) => panic!("math.pow on {x:?}, {y:?} (unverified IR)"),
        },
        // the runtime's own functions, which native code calls: one
        // implementation, so one set of bits
        MathOp::Atan2 => match (a, args[1]) {
            (Scalar::F32(y), Scalar::F32(x)) => Scalar::F32(rt::pj_rt_atan2f(y, x)),
            (Scalar::F64(y), Scalar::F64(x)) => Scalar::F64(rt::pj_rt_atan2(y, x)),
            (y, x) => panic!("math.atan2 on {y:?}, {x:?} (unverified IR)"),
        },
        MathOp::Log => f2(a, rt::pj_rt_logf, rt::pj_rt_log),
        MathOp::Tanh => f2(a, rt::pj_rt_tanhf, rt::pj_rt_tanh),
        MathOp::Sin => f2(a, rt::pj_rt_sinf, rt::pj_rt_sin),
        MathOp::Cos => f2(a, rt::pj_rt_cosf, rt::pj_rt_cos),
        MathOp::Tan => f2(a, rt::pj_rt_tanf, rt::pj_rt_tan),
        MathOp::Erf => f2(a, rt::pj_rt_erff, rt::pj_rt_erf),
        MathOp::Log1p => f2(a, rt::pj_rt_log1pf, rt::pj_rt_log1p),
        MathOp::Expm1 => f2(a, rt::pj_rt_expm1f, rt::pj_rt_expm1),
    }
}

use pj_runtime::math as rt;

/// A float function given by its `f32` and `f64` versions.
fn f2(a: Scalar, single: extern "C" fn(f32) -> f32, double: extern "C" fn(f64) -> f64) -> Scalar {
    match a {
        Scalar::F32(x) => Scalar::F32(single(x)),
        Scalar::F64(x) => Scalar::F64(double(x)),
        a => panic!("a float math op on {a:?} (unverified IR)"),
    }
}
