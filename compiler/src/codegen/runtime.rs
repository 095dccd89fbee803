//! The runtime functions generated code calls (`pj_runtime`'s `pj_rt_*`),
//! with their C signatures: one table every backend declares its imports
//! from, checked against the symbols the runtime crate exports
//! (`pj_runtime::math::symbols`) by a test below.

use crate::dialects::MathOp;

/// A C type in a runtime function's signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CType {
    /// A pointer (`void*`, `const char*`, a function pointer).
    Ptr,
    /// `size_t`: pointer-sized, unsigned.
    Size,
    /// `int32_t`.
    I32,
    /// `int64_t`.
    I64,
    /// `float`.
    F32,
    /// `double`.
    F64,
}

/// A runtime function: its symbol and C signature.
#[derive(Clone, Copy, Debug)]
pub struct RuntimeFn {
    /// The symbol.
    pub name: &'static str,
    /// Parameter types.
    pub params: &'static [CType],
    /// The return type (`None`: `void`).
    pub ret: Option<CType>,
}

use CType::{F32, F64, I32, I64, Ptr, Size};

/// `int32_t pj_rt_fail(int32_t code, const char* msg, size_t len, int64_t a,
/// int64_t b)`: records a failure's message (`{0}`, `{1}` replaced by `a`,
/// `b`) and returns `code`.
pub const FAIL: RuntimeFn = RuntimeFn {
    name: "pj_rt_fail",
    params: &[I32, Ptr, Size, I64, I64],
    ret: Some(I32),
};

/// `void* pj_rt_alloc(size_t bytes)`: an intermediate buffer, or NULL.
pub const ALLOC: RuntimeFn = RuntimeFn {
    name: "pj_rt_alloc",
    params: &[Size],
    ret: Some(Ptr),
};

/// `void pj_rt_free(void* p, size_t bytes)`: frees what `pj_rt_alloc`
/// gave (NULL: nothing).
pub const FREE: RuntimeFn = RuntimeFn {
    name: "pj_rt_free",
    params: &[Ptr, Size],
    ret: None,
};

/// `int64_t pj_rt_contiguous(pj_buffer* dst, const pj_buffer* src, int32_t
/// copy)`: `dst` is `src` (0), or a row-major copy of it when its rows are
/// strided (the bytes allocated; -1: no memory).
pub const CONTIGUOUS: RuntimeFn = RuntimeFn {
    name: "pj_rt_contiguous",
    params: &[Ptr, Ptr, I32],
    ret: Some(I64),
};

/// `void pj_rt_copy_back(const pj_buffer* dst, const pj_buffer* tmp)`:
/// copies a result computed in `tmp` into the caller's strided `dst`.
pub const COPY_BACK: RuntimeFn = RuntimeFn {
    name: "pj_rt_copy_back",
    params: &[Ptr, Ptr],
    ret: None,
};

/// `int32_t pj_rt_parallel_for(int64_t lo, int64_t hi, int64_t grain,
/// int32_t (*body)(const void* ctx, int64_t lo, int64_t hi), const void*
/// ctx)`: runs `body` over `lo..hi` in chunks on the pool; the first
/// failing chunk's status.
pub const PARALLEL_FOR: RuntimeFn = RuntimeFn {
    name: "pj_rt_parallel_for",
    params: &[I64, I64, I64, Ptr, Ptr],
    ret: Some(I32),
};

/// `int64_t pj_rt_threads(void)`: the threads a parallel loop started here
/// would share (1 inside one), for sizing its iterations (`loop.threads`).
pub const THREADS: RuntimeFn = RuntimeFn {
    name: "pj_rt_threads",
    params: &[],
    ret: Some(I64),
};

/// The transcendental functions, the interpreter's own code: `f32` and
/// `f64` versions of every `math` op that is called rather than inlined,
/// and of `fmod` (`arith.rem` on floats).
pub const MATH: [RuntimeFn; 24] = [
    unary("pj_rt_sinf", F32),
    unary("pj_rt_sin", F64),
    unary("pj_rt_cosf", F32),
    unary("pj_rt_cos", F64),
    unary("pj_rt_tanf", F32),
    unary("pj_rt_tan", F64),
    unary("pj_rt_erff", F32),
    unary("pj_rt_erf", F64),
    unary("pj_rt_log1pf", F32),
    unary("pj_rt_log1p", F64),
    unary("pj_rt_expm1f", F32),
    unary("pj_rt_expm1", F64),
    binary("pj_rt_atan2f", F32),
    binary("pj_rt_atan2", F64),
    unary("pj_rt_expf", F32),
    unary("pj_rt_exp", F64),
    unary("pj_rt_logf", F32),
    unary("pj_rt_log", F64),
    unary("pj_rt_tanhf", F32),
    unary("pj_rt_tanh", F64),
    binary("pj_rt_powf", F32),
    binary("pj_rt_pow", F64),
    binary("pj_rt_fmodf", F32),
    binary("pj_rt_fmod", F64),
];

const fn unary(name: &'static str, t: CType) -> RuntimeFn {
    RuntimeFn {
        name,
        params: match t {
            F32 => &[F32],
            _ => &[F64],
        },
        ret: Some(t),
    }
}

const fn binary(name: &'static str, t: CType) -> RuntimeFn {
    RuntimeFn {
        name,
        params: match t {
            F32 => &[F32, F32],
            _ => &[F64, F64],
        },
        ret: Some(t),
    }
}

/// Every runtime function, in the order backends declare them.
pub fn all() -> impl Iterator<Item = RuntimeFn> {
    [
        FAIL,
        ALLOC,
        FREE,
        CONTIGUOUS,
        COPY_BACK,
        PARALLEL_FOR,
        THREADS,
    ]
    .into_iter()
    .chain(MATH)
}

/// The runtime function computing `op` (a call, not inlined) on `f32`
/// (`single`) or `f64`; `None` for ops every backend inlines.
pub fn math_symbol(op: MathOp, single: bool) -> Option<&'static str> {
    let (s, d) = match op {
        MathOp::Exp => ("pj_rt_expf", "pj_rt_exp"),
        MathOp::Log => ("pj_rt_logf", "pj_rt_log"),
        MathOp::Tanh => ("pj_rt_tanhf", "pj_rt_tanh"),
        MathOp::Pow => ("pj_rt_powf", "pj_rt_pow"),
        MathOp::Sin => ("pj_rt_sinf", "pj_rt_sin"),
        MathOp::Cos => ("pj_rt_cosf", "pj_rt_cos"),
        MathOp::Tan => ("pj_rt_tanf", "pj_rt_tan"),
        MathOp::Atan2 => ("pj_rt_atan2f", "pj_rt_atan2"),
        MathOp::Erf => ("pj_rt_erff", "pj_rt_erf"),
        MathOp::Log1p => ("pj_rt_log1pf", "pj_rt_log1p"),
        MathOp::Expm1 => ("pj_rt_expm1f", "pj_rt_expm1"),
        MathOp::Abs | MathOp::Sqrt | MathOp::Floor | MathOp::Ceil => return None,
    };
    Some(if single { s } else { d })
}

/// The runtime's `fmod` for `arith.rem` on floats.
pub fn fmod_symbol(single: bool) -> &'static str {
    if single { "pj_rt_fmodf" } else { "pj_rt_fmod" }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_table_names_exactly_what_the_runtime_exports() {
        let mut ours: Vec<&str> = super::all().map(|f| f.name).collect();
        let mut exported: Vec<&str> = pj_runtime::math::symbols()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        ours.sort_unstable();
        exported.sort_unstable();
        assert_eq!(ours, exported);
    }
}
