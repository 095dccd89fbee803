//! `func` dialect: a kernel after lowering, with the calling convention of
//! native code.
//!
//! Produced by `passes::lower_stages` from each `pj.kernel`; consumed by the
//! interpreter and (next) the native backends. A `func.func`'s block
//! arguments are the kernel's parameters — `buffer`s for arrays, scalars by
//! value — followed by one caller-allocated output `buffer` per result
//! (`num_results` of them). `func.check` ops at entry validate shapes; the
//! first failing check ends the call with its status code and message,
//! before anything is written.
//!
//! ```text
//! func.func() {arg_names = ["x", "y"], num_results = 1, sym_name = "k"} {
//! ^bb0(%x: buffer f32[N], %y: buffer f32[?]):
//!   %N = mem.dim(%x) {dim = 0} : i64
//!   %ok = arith.cmp(%n_out, %N) {pred = "eq"} : bool
//!   func.check(%ok, %N, %n_out) {code = 1, message = "result `y` dim 0 must be {0}, got {1}"}
//!   ...
//!   func.return()
//! }
//! ```

use super::{Opcode, check, dialect_ops};
use crate::ir::{Attr, Module, OpId, Type};

dialect_ops!(
    /// Ops of the `func` dialect.
    FuncOp, "func", {
    /// A lowered kernel. Attributes: `sym_name`, `arg_names` (parameters then
    /// results), `num_results`, optional `arg_attrs`, optional `shape_of`
    /// (marks the companion that computes the result shapes of a kernel).
    Func => "func",
    /// Ends a `func.func` normally (status 0).
    Return => "return",
    /// `func.check(%ok, %a, %b) {code, message}`: if `%ok` is false, the call
    /// ends with status `code`; `{0}` and `{1}` in `message` stand for the
    /// optional `i64` operands `%a` and `%b`.
    Check => "check",
});

/// The message for an argument dim longer than [`pj_lang::bounds::MAX_SIZE`],
/// worded alike by the interpreter and native code (`{0}` is the extent).
pub fn too_long_dim_message(param: &str, dim: usize) -> String {
    format!("argument `{param}`: dim {dim} is {{0}}, {TOO_LONG_DIM}")
}

/// Why a size is refused, after its value: more than the kernel's
/// `size_limit` (`dialects::pj::SIZE_LIMIT`).
pub fn size_limit_reason(size: &str, limit: i64) -> String {
    format!("more than size `{size}` may be here ({limit}): the kernel's extents would overflow")
}

/// Why an argument dim is refused, after its extent.
pub const TOO_LONG_DIM: &str = "more than the longest picojoule accepts (2^48)";

/// Status codes returned by lowered kernels (0 is success). The runtime
/// turns them into messages.
pub mod status {
    /// An argument's shape does not match the kernel's signature.
    pub const SHAPE_MISMATCH: i64 = 1;
    /// A result's extent would be negative.
    pub const NEGATIVE_EXTENT: i64 = 2;
    /// Integer division or remainder by zero.
    pub const DIVISION_BY_ZERO: i64 = 3;
    /// A read or write outside a buffer.
    pub const OUT_OF_BOUNDS: i64 = 4;
    /// An allocation failed or was too large.
    pub const OUT_OF_MEMORY: i64 = 5;
}

impl FuncOp {
    /// No side effects.
    pub fn is_pure(self) -> bool {
        false
    }

    /// Checks the op's rules.
    pub fn verify(self, m: &Module, op: OpId, errs: &mut Vec<String>) {
        let d = m.op(op);
        match self {
            FuncOp::Func => {
                check::counts(m, op, Some(0), 0, 1, errs);
                if d.attr("sym_name").and_then(Attr::as_str).is_none() {
                    errs.push("needs a string attribute `sym_name`".into());
                }
                if d.regions.len() != 1 {
                    return;
                }
                let args = &m.block(m.entry_block(op, 0)).args;
                match d.attr("arg_names").and_then(Attr::as_array) {
                    Some(a) if a.len() == args.len() => {}
                    _ => errs.push(format!(
                        "needs `arg_names` with one string per block argument ({})",
                        args.len()
                    )),
                }
                match d.attr("num_results").and_then(Attr::as_int) {
                    Some(n) if n >= 0 && n as usize <= args.len() => {
                        for &a in &args[args.len() - n as usize..] {
                            if !m.ty(a).is_buffer() {
                                errs.push(format!(
                                    "result arguments must be buffers, found {}",
                                    m.ty(a)
                                ));
                            }
                        }
                    }
                    _ => errs
                        .push("needs `num_results`, at most the number of block arguments".into()),
                }
                for &a in args {
                    if matches!(m.ty(a), Type::Tensor { .. } | Type::Vector { .. }) {
                        errs.push(format!(
                            "parameters are buffers or scalars, not {}",
                            m.ty(a)
                        ));
                    }
                }
            }
            FuncOp::Return => {
                check::counts(m, op, Some(0), 0, 0, errs);
                let parent = d
                    .parent
                    .and_then(|b| m.block_owner(b))
                    .map(|o| m.op(o).opcode);
                if parent != Some(Opcode::Func(FuncOp::Func)) {
                    errs.push("must end a `func.func` region".into());
                }
            }
            FuncOp::Check => {
                check::counts(m, op, None, 0, 0, errs);
                match d.operands.first() {
                    Some(&c) if *m.ty(c) == Type::Scalar(crate::ir::ScalarType::Bool) => {}
                    _ => errs.push("operand 0 must be the bool condition".into()),
                }
                if d.operands.len() > 3
                    || d.operands.iter().skip(1).any(|&v| *m.ty(v) != Type::INDEX)
                {
                    errs.push("takes at most two i64 detail operands after the condition".into());
                }
                if d.attr("code").and_then(Attr::as_int).is_none_or(|c| c <= 0) {
                    errs.push("needs a positive integer `code`".into());
                }
                if d.attr("message").and_then(Attr::as_str).is_none() {
                    errs.push("needs a string `message`".into());
                }
            }
        }
    }
}

/// Fills `{0}` and `{1}` in a check's message.
pub fn format_message(message: &str, details: &[i64]) -> String {
    let mut out = message.to_string();
    for (i, v) in details.iter().enumerate() {
        out = out.replace(&format!("{{{i}}}"), &v.to_string());
    }
    out
}
