//! The closed set of dialects. Each dialect is one file with its op enum,
//! names, and per-op verifier; [`Opcode`] ties them together. Adding an op:
//! add the variant, then let the compiler's exhaustive-match errors walk you
//! through every verifier, pass and interpreter arm that must handle it (see
//! `docs/adding-an-op.md`).
//!
//! | dialect | stage of the pipeline | ops |
//! |---|---|---|
//! | `pj` | produced by AST lowering; whole-array kernels, stages, reads, reductions | kernel, size, stage, read, reduce, yield, return |
//! | `func` | produced by `lower-stages`; kernels with the native calling convention | func, return, check |
//! | `loop` | produced by `lower-stages`; structured loops with carried values | for, yield |
//! | `mem` | produced by `lower-stages`; buffers, checked loads and stores | alloc, dealloc, dim, load, store |
//! | `vector` | produced by vectorization; 128-bit SIMD values | load, store, broadcast, reduce, extract |
//! | `arith` | everywhere; scalar arithmetic on any element type | constant, add, sub, ... cast |
//! | `math` | everywhere; elementary functions | abs, exp, log, ... pow |
//! | `quant` | made by `quantize`, expanded by `lower-quant`; fixed point | quantize, dequantize |

pub mod arith;
pub mod func;
pub mod loops;
pub mod math;
pub mod mem;
pub mod pj;
pub mod quant;
pub mod vector;

pub use arith::ArithOp;
pub use func::FuncOp;
pub use loops::LoopOp;
pub use math::MathOp;
pub use mem::MemOp;
pub use pj::PjOp;
pub use quant::QuantOp;
pub use vector::VectorOp;

use crate::ir::{Attr, Module, OpId, Type};

/// Attributes by which the compiler's own passes promise a backend
/// something it then does not check (`in_bounds`: the indices are inside
/// the buffer; [`mem::IN_BOUNDS_NONEMPTY`]: inside when no size is zero).
/// IR read from text cannot be taken at its word:
/// [`drop_promises`] removes them, so native code checks what they claimed.
pub const PROMISES: [&str; 2] = ["in_bounds", mem::IN_BOUNDS_NONEMPTY];

/// Removes every [`PROMISES`] attribute: for IR that came from outside
/// the compiler (a `.pjir` file), which may claim what is not true. Also
/// marks every `mem.alloc` [`mem::ZEROED`]: the compiler's own code writes
/// each element of scratch before reading it, so scratch is not cleared;
/// foreign IR may read what it never wrote, and must then read zeros (as
/// the interpreter does), not what an earlier call left there. And every
/// `loop.threads` becomes the constant 1, the interpreter's count: the
/// compiler's code only cuts work by it, foreign IR may compute with it.
pub fn drop_promises(m: &mut Module) {
    for op in m.all_ops() {
        let d = m.op_mut(op);
        d.attrs.retain(|(k, _)| !PROMISES.contains(&k.as_str()));
        if d.opcode == Opcode::Mem(MemOp::Alloc) {
            d.set_attr(mem::ZEROED, Attr::Bool(true));
        }
        if d.opcode == Opcode::Loop(LoopOp::Threads) {
            d.opcode = Opcode::Arith(ArithOp::Constant);
            d.set_attr("value", Attr::Int(1));
        }
    }
}

/// Whether `op`, or any op in its regions, can end a call with a run-time
/// error the language defines: an integer division by a divisor not proven
/// non-zero, a read without a boundary mode (out of range when a size is
/// smaller than the front end's proofs assume), an entry check. A pass may
/// merge two such ops (the same error either way) but never remove one
/// whose result is unused, nor move one where the program would not run it:
/// an optimization never removes an error.
pub fn can_fail(m: &Module, op: OpId) -> bool {
    let d = m.op(op);
    let own = match d.opcode {
        Opcode::Arith(_) => arith::can_fail(m, op),
        Opcode::Pj(PjOp::Read) => d.attr("boundary").is_none(),
        // an index outside the tensor (proven inside for sizes >= 1)
        Opcode::Pj(PjOp::Update) => true,
        Opcode::Func(FuncOp::Check) => true,
        // a stage never read has an empty domain: nothing in it runs
        Opcode::Pj(PjOp::Stage) if d.operands.chunks(2).any(|p| p[0] == p[1]) => return false,
        _ => false,
    };
    own || d.regions.iter().any(|&r| {
        m.region(r)
            .blocks
            .iter()
            .any(|&b| m.block(b).ops.iter().any(|&o| can_fail(m, o)))
    })
}
use std::fmt;

/// Declares a dialect's op enum with its text names.
macro_rules! dialect_ops {
    ($(#[$m:meta])* $name:ident, $prefix:literal, { $($(#[$vm:meta])* $variant:ident => $text:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vm])* $variant),* }
        impl $name {
            /// Every op of the dialect.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];
            /// The op's name without the dialect prefix.
            pub fn mnemonic(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }
            /// Looks an op up by its name without the prefix.
            pub fn from_mnemonic(s: &str) -> Option<$name> {
                match s { $($text => Some($name::$variant),)* _ => None }
            }
            /// The dialect prefix.
            pub const PREFIX: &'static str = $prefix;
        }
    };
}
pub(crate) use dialect_ops;

/// Any op of any dialect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Opcode {
    /// `pj.*`
    Pj(PjOp),
    /// `func.*`
    Func(FuncOp),
    /// `loop.*`
    Loop(LoopOp),
    /// `mem.*`
    Mem(MemOp),
    /// `vector.*`
    Vector(VectorOp),
    /// `arith.*`
    Arith(ArithOp),
    /// `math.*`
    Math(MathOp),
    /// `quant.*`
    Quant(QuantOp),
}

impl Opcode {
    /// Full name, e.g. `pj.stage`.
    pub fn name(self) -> String {
        match self {
            Opcode::Pj(o) => format!("{}.{}", PjOp::PREFIX, o.mnemonic()),
            Opcode::Func(o) => format!("{}.{}", FuncOp::PREFIX, o.mnemonic()),
            Opcode::Loop(o) => format!("{}.{}", LoopOp::PREFIX, o.mnemonic()),
            Opcode::Mem(o) => format!("{}.{}", MemOp::PREFIX, o.mnemonic()),
            Opcode::Vector(o) => format!("{}.{}", VectorOp::PREFIX, o.mnemonic()),
            Opcode::Arith(o) => format!("{}.{}", ArithOp::PREFIX, o.mnemonic()),
            Opcode::Math(o) => format!("{}.{}", MathOp::PREFIX, o.mnemonic()),
            Opcode::Quant(o) => format!("{}.{}", QuantOp::PREFIX, o.mnemonic()),
        }
    }

    /// Looks an op up by full name.
    pub fn from_name(s: &str) -> Option<Opcode> {
        let (dialect, op) = s.split_once('.')?;
        match dialect {
            PjOp::PREFIX => PjOp::from_mnemonic(op).map(Opcode::Pj),
            FuncOp::PREFIX => FuncOp::from_mnemonic(op).map(Opcode::Func),
            LoopOp::PREFIX => LoopOp::from_mnemonic(op).map(Opcode::Loop),
            MemOp::PREFIX => MemOp::from_mnemonic(op).map(Opcode::Mem),
            VectorOp::PREFIX => VectorOp::from_mnemonic(op).map(Opcode::Vector),
            ArithOp::PREFIX => ArithOp::from_mnemonic(op).map(Opcode::Arith),
            MathOp::PREFIX => MathOp::from_mnemonic(op).map(Opcode::Math),
            QuantOp::PREFIX => QuantOp::from_mnemonic(op).map(Opcode::Quant),
            _ => None,
        }
    }

    /// No side effects, no regions with effects: may be removed if unused
    /// and merged with an identical op (CSE).
    pub fn is_pure(self) -> bool {
        match self {
            Opcode::Pj(o) => o.is_pure(),
            Opcode::Func(o) => o.is_pure(),
            Opcode::Loop(o) => o.is_pure(),
            Opcode::Mem(o) => o.is_pure(),
            Opcode::Vector(o) => o.is_pure(),
            Opcode::Arith(_) | Opcode::Math(_) | Opcode::Quant(_) => true,
        }
    }

    /// Ends a block.
    pub fn is_terminator(self) -> bool {
        matches!(
            self,
            Opcode::Pj(PjOp::Yield | PjOp::Return)
                | Opcode::Func(FuncOp::Return)
                | Opcode::Loop(LoopOp::Yield)
        )
    }

    /// A kernel: `pj.kernel` or its lowered form `func.func`.
    pub fn is_kernel(self) -> bool {
        matches!(self, Opcode::Pj(PjOp::Kernel) | Opcode::Func(FuncOp::Func))
    }

    /// Checks the op's own rules (operand and result types, attributes,
    /// regions), pushing one message per violation.
    pub fn verify(self, m: &Module, op: OpId, errs: &mut Vec<String>) {
        match self {
            Opcode::Pj(o) => o.verify(m, op, errs),
            Opcode::Func(o) => o.verify(m, op, errs),
            Opcode::Loop(o) => o.verify(m, op, errs),
            Opcode::Mem(o) => o.verify(m, op, errs),
            Opcode::Vector(o) => o.verify(m, op, errs),
            Opcode::Arith(o) => o.verify(m, op, errs),
            Opcode::Math(o) => o.verify(m, op, errs),
            Opcode::Quant(o) => o.verify(m, op, errs),
        }
    }
}

impl fmt::Display for Opcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// Shared checks used by the dialect verifiers.
pub(crate) mod check {
    use crate::ir::{Module, OpId, Type};

    /// Exactly `n` operands, results and regions.
    pub fn counts(
        m: &Module,
        op: OpId,
        operands: Option<usize>,
        results: usize,
        regions: usize,
        errs: &mut Vec<String>,
    ) {
        let d = m.op(op);
        if let Some(n) = operands
            && d.operands.len() != n
        {
            errs.push(format!("expects {n} operands, has {}", d.operands.len()));
        }
        if d.results.len() != results {
            errs.push(format!(
                "expects {results} results, has {}",
                d.results.len()
            ));
        }
        if d.regions.len() != regions {
            errs.push(format!(
                "expects {regions} regions, has {}",
                d.regions.len()
            ));
        }
    }

    /// Operand `i` has a scalar type; returns it.
    pub fn scalar_operand(
        m: &Module,
        op: OpId,
        i: usize,
        errs: &mut Vec<String>,
    ) -> Option<crate::ir::ScalarType> {
        let v = *m.op(op).operands.get(i)?;
        match m.ty(v) {
            Type::Scalar(s) => Some(*s),
            t => {
                errs.push(format!("operand {i} must be a scalar, found {t}"));
                None
            }
        }
    }
}

/// A kernel's interface, read from its `pj.kernel` or `func.func` op: what
/// callers need to build arguments and name results.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelSignature {
    /// `sym_name`.
    pub name: String,
    /// Parameters in order: name and type (for `pj.kernel` tensors with
    /// symbolic extents, for `func.func` buffers; scalars in both).
    pub params: Vec<(String, Type)>,
    /// Result names in order.
    pub results: Vec<String>,
}

impl KernelSignature {
    /// The names of the arguments a kernel's function takes: its
    /// parameters, then its results.
    pub fn arg_names(&self) -> Vec<String> {
        self.params
            .iter()
            .map(|(n, _)| n.clone())
            .chain(self.results.iter().cloned())
            .collect()
    }
}

fn strings(a: Option<&Attr>) -> Vec<String> {
    a.and_then(Attr::as_array)
        .map(|a| {
            a.iter()
                .map(|s| s.as_str().unwrap_or("?").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The signature of a (verified) kernel op. For a `func.func`, the trailing
/// output buffers are the results, not parameters.
pub fn signature(m: &Module, kernel: OpId) -> KernelSignature {
    let d = m.op(kernel);
    let mut names = strings(d.attr("arg_names"));
    let block = m.entry_block(kernel, 0);
    let args = &m.block(block).args;
    let mut params: Vec<(String, Type)> = args
        .iter()
        .enumerate()
        .map(|(i, &a)| {
            (
                names.get(i).cloned().unwrap_or_else(|| format!("#{i}")),
                m.ty(a).clone(),
            )
        })
        .collect();
    let results = if d.opcode == Opcode::Func(FuncOp::Func) {
        let n = d.attr("num_results").and_then(Attr::as_int).unwrap_or(0) as usize;
        let first = params.len().saturating_sub(n);
        params.truncate(first);
        names.drain(..first.min(names.len()));
        names
    } else {
        strings(d.attr("result_names"))
    };
    KernelSignature {
        name: d
            .attr("sym_name")
            .and_then(Attr::as_str)
            .unwrap_or_default()
            .to_string(),
        params,
        results,
    }
}
