//! The checks every backend emits, and their messages, word for word.
//!
//! A kernel checks what it is given before it reads anything (the entry
//! checks, in this order, per array argument and then per result), and
//! every access it cannot prove in bounds; a failed check calls
//! `pj_rt_fail(code, message, a, b)`, which records `message` with `{0}`
//! and `{1}` replaced by `a` and `b`, frees what the kernel allocated and
//! returns the status. The messages equal the interpreter's where it can
//! fail the same way (tests compare them across every backend), so they
//! are written once, here.
//!
//! Entry checks, per array parameter and result:
//! 1. the descriptor is not NULL ([`null_argument`]);
//! 2. element type and rank ([`wrong_type`]);
//! 3. no negative extent ([`negative_extent`]); the elements span less
//!    than 2^62 bytes ([`span_too_large`]); data is not NULL unless the
//!    array is empty ([`null_data`]);
//! 4. results only: no two indices share an element ([`result_aliases`]);
//! 5. then, pairwise, no result overlaps an argument ([`overlap`]).
//!
//! Then an array whose rows are strided (a last stride other than 1) is
//! copied row-major, which can fail for want of memory
//! ([`contiguous_copy_failed`]).

use crate::ir::{Module, OpId, ScalarType};

/// ` at FILE:LINE:COL` for an op with a location, else nothing: appended to
/// messages of checks inside the kernel.
pub fn location(ir: &Module, op: OpId) -> String {
    match (&ir.source_name, ir.op(op).loc) {
        (Some(f), Some(l)) => format!(" at {f}:{}:{}", l.line, l.col),
        (None, Some(l)) => format!(" at {}:{}", l.line, l.col),
        _ => String::new(),
    }
}

/// 1: a NULL `pj_buffer*`.
pub fn null_argument(name: &str) -> String {
    format!("argument `{name}` is NULL")
}

/// 2: element type or rank differ (`{0}`: the type code given, `{1}`: the
/// rank given).
pub fn wrong_type(name: &str, elem: ScalarType, rank: usize) -> String {
    format!(
        "argument `{name}`: expects an array of {elem} (type code {}) with {rank} dims, got type code {{0}} with {{1}} dims",
        super::abi::elem_code(elem) as i32
    )
}

/// 3: a negative extent (`{0}`).
pub fn negative_extent(name: &str, dim: usize) -> String {
    format!("argument `{name}`: dim {dim} has negative extent {{0}}")
}

/// 3: the elements span 2^62 bytes or more (`{0}`: the span, as far as it
/// was computed).
pub fn span_too_large(name: &str) -> String {
    format!("argument `{name}`: its shape and strides span {{0}} bytes or more; at most 2^62")
}

/// 3: NULL data in a non-empty array.
pub fn null_data(name: &str) -> String {
    format!("argument `{name}`: data is NULL but the array is not empty")
}

/// 4: a result whose strides map two indices to one element.
pub fn result_aliases(name: &str) -> String {
    format!(
        "result `{name}`: its strides map two indices to one element (a stride of 0, or overlapping rows)"
    )
}

/// 5: a result sharing memory with an argument.
pub fn overlap(result: &str, argument: &str) -> String {
    format!(
        "result `{result}` overlaps argument `{argument}` in memory: results must not share memory with arguments"
    )
}

/// A row-major copy of an array with strided rows the allocator refused.
pub fn contiguous_copy_failed(name: &str) -> String {
    format!("cannot allocate a row-major copy of `{name}` (its last stride is not 1)")
}

/// What an access is, in an out-of-bounds message: "read of `t`",
/// "vector write to `y`".
pub fn access(store: bool, vector: bool, buffer: &str) -> String {
    let what = if store { "write to" } else { "read of" };
    if vector {
        format!("vector {what} `{buffer}`")
    } else {
        format!("{what} `{buffer}`")
    }
}

/// An access outside its array, naming the first dim that is outside
/// (`{0}`: the index, `{1}`: the extent); `lanes`: a vector access's dim
/// `dim` is its last, where `lanes` consecutive elements must be inside.
pub fn out_of_bounds(access: &str, at: &str, dim: usize, lanes: bool) -> String {
    let what = if lanes { "lanes from index" } else { "index" };
    format!("{access} out of bounds{at}: {what} {{0}} in dim {dim} of extent {{1}}")
}

/// A loop whose step, computed at run time, is not positive (`{0}`).
pub fn loop_step(at: &str) -> String {
    format!("loop step must be positive, got {{0}}{at}")
}

/// An intermediate whose byte size overflows 64 bits.
pub fn alloc_overflow(name: &str, at: &str) -> String {
    format!("cannot allocate `{name}`: its size overflows{at}")
}

/// An intermediate the allocator refused (`{0}`: bytes).
pub fn alloc_failed(name: &str, at: &str) -> String {
    format!("cannot allocate {{0}} bytes for `{name}`{at}")
}

/// Integer division or remainder by zero.
pub fn division_by_zero(at: &str) -> String {
    format!("integer division by zero{at}")
}
