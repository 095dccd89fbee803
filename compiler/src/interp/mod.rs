//! The reference interpreter: executes `pj`-dialect IR directly, one element
//! at a time, with the semantics written down in `docs/language.md`.
//!
//! It is the oracle every pass and backend is tested against, so it favours
//! obviousness over speed: stages are computed over their whole domain in
//! row-major order, reductions fold their terms in order from the first
//! index to the last (`acc = acc ⊕ term`), and every read is bounds-checked.
//! Scalar arithmetic comes from `dialects::arith` and `dialects::math`, the
//! same code the constant folder uses.
//!
//! Errors a user can cause at run time (wrong shapes, integer division by
//! zero, sizes too large) come back as [`InterpError`], never as a panic.

mod tensor;

pub use tensor::{Tensor, scalar_from_le_bytes};

use crate::dialects::arith::{self, EvalError, Scalar};
use crate::dialects::{
    ArithOp, FuncOp, LoopOp, MemOp, Opcode, PjOp, VectorOp, func, math, signature,
};
use crate::ir::{Attr, BlockId, Dim, Loc, Module, OpId, ScalarType, Type, ValueId};
use pj_lang::types::Boundary;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

/// An argument or result of a kernel call.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A scalar argument.
    Scalar(Scalar),
    /// An array.
    Array(Tensor),
}

/// Default largest number of elements one stage may hold (2^26, about a
/// gigabyte of interpreter values): past that the interpreter would run out of
/// memory or take minutes, so it says so instead. See [`run_with_limit`].
pub const MAX_ELEMENTS: u64 = 1 << 26;

/// Where in the source an error happened.
#[derive(Clone, Debug, PartialEq)]
pub struct At(pub Option<String>, pub Option<Loc>);

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.0, self.1) {
            (Some(file), Some(l)) => write!(f, " at {file}:{}:{}", l.line, l.col),
            (None, Some(l)) => write!(f, " at {}:{}", l.line, l.col),
            _ => Ok(()),
        }
    }
}

/// Why a kernel call failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum InterpError {
    /// No kernel of that name.
    #[error("no kernel named `{name}`; the module has: {available}")]
    UnknownKernel {
        /// Requested name.
        name: String,
        /// Kernels present.
        available: String,
    },
    /// Wrong number of arguments.
    #[error("kernel `{kernel}` takes {expected} arguments, {got} given")]
    ArgCount {
        /// Kernel.
        kernel: String,
        /// Parameters.
        expected: usize,
        /// Arguments.
        got: usize,
    },
    /// An argument does not match its parameter.
    #[error("argument `{param}`: {message}")]
    BadArgument {
        /// Parameter name.
        param: String,
        /// What is wrong.
        message: String,
    },
    /// A size name is bound to two different extents.
    #[error(
        "size `{size}` is {first} (from `{first_param}` dim {first_dim}) but `{param}` dim {dim} is {value}"
    )]
    SizeMismatch {
        /// Size name.
        size: String,
        /// First binding.
        first: i64,
        /// Parameter that bound it first.
        first_param: String,
        /// Its dim.
        first_dim: usize,
        /// Parameter that disagrees.
        param: String,
        /// Its dim.
        dim: usize,
        /// Its extent.
        value: i64,
    },
    /// A result would have a negative extent.
    #[error("result `{name}` would have negative extent {extent} in dim {dim}{at}")]
    NegativeExtent {
        /// Result name.
        name: String,
        /// Dim.
        dim: usize,
        /// Computed extent.
        extent: i64,
        /// Where.
        at: At,
    },
    /// Too many elements.
    #[error(
        "stage `{name}` would have {elements} elements, more than the interpreter's limit of {limit}{at}"
    )]
    TooLarge {
        /// Stage name.
        name: String,
        /// Element count (saturated).
        elements: u64,
        /// The limit in force.
        limit: u64,
        /// Where.
        at: At,
    },
    /// Too many operations: loop-level IR (from text) whose loops run
    /// longer than the interpreter's limit allows.
    #[error(
        "the interpreter stopped after {limit} operations, its limit for this call (loop-level IR whose loops run too long?)"
    )]
    TooLong {
        /// The limit in force.
        limit: u64,
    },
    /// Integer division or remainder by zero.
    #[error("integer division by zero{at}")]
    DivisionByZero {
        /// Where.
        at: At,
    },
    /// A `loop.for` step computed at run time was not positive.
    #[error("loop step must be positive, got {step}{at}")]
    BadStep {
        /// The step.
        step: i64,
        /// Where.
        at: At,
    },
    /// A `func.check` of a lowered kernel failed.
    #[error("{message}")]
    CheckFailed {
        /// The status code the native kernel would return.
        code: i64,
        /// The message.
        message: String,
    },
    /// Stopped at a request (`pj_runtime::interrupt`: Ctrl-C in the REPL).
    #[error("interrupted (Ctrl-C): the interpreter stopped; there are no results")]
    Interrupted,
    /// A read outside an array without a boundary mode.
    #[error("read of `{array}` out of bounds: index {index:?} outside {valid}{at}")]
    OutOfBounds {
        /// The array.
        array: String,
        /// The index.
        index: Vec<i64>,
        /// The valid region.
        valid: String,
        /// Where.
        at: At,
    },
}

/// Runs kernel `name` of `m` on `args` (one per parameter, in order) and
/// returns its results in declaration order.
pub fn run(m: &Module, name: &str, args: &[Value]) -> Result<Vec<Tensor>, InterpError> {
    run_with_limit(m, name, args, MAX_ELEMENTS)
}

/// [`run`] with a different limit on the elements of one stage.
pub fn run_with_limit(
    m: &Module,
    name: &str,
    args: &[Value],
    max_elements: u64,
) -> Result<Vec<Tensor>, InterpError> {
    let Some(kernel) = m.kernel(name) else {
        return Err(InterpError::UnknownKernel {
            name: name.to_string(),
            available: m.kernel_names().join(", "),
        });
    };
    if m.op(kernel).opcode == Opcode::Func(FuncOp::Func) {
        return run_lowered(m, kernel, args, max_elements);
    }
    let block = m.entry_block(kernel, 0);
    let params = &m.block(block).args;
    let names: Vec<String> = signature(m, kernel)
        .params
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    if params.len() != args.len() {
        return Err(InterpError::ArgCount {
            kernel: name.to_string(),
            expected: params.len(),
            got: args.len(),
        });
    }
    let mut interp = Interp {
        m,
        env: vec![Slot::Empty; m.value_count()],
        sizes: HashMap::new(),
        names: HashMap::new(),
        max_elements,
        // the language's loops are bounded by its stages' sizes
        steps_left: u64::MAX,
        filling: Filling::default(),
    };
    let mut bound: HashMap<String, (i64, String, usize)> = HashMap::new();
    for (i, (&p, arg)) in params.iter().zip(args).enumerate() {
        let pname = names[i].clone();
        let bad = |message: String| InterpError::BadArgument {
            param: pname.clone(),
            message,
        };
        match (m.ty(p), arg) {
            (Type::Scalar(t), Value::Scalar(s)) => {
                if s.ty() != *t {
                    return Err(bad(format!("expects a {t} scalar, got {}", s.ty())));
                }
                interp.env[p.index()] = Slot::S(*s);
            }
            (Type::Tensor { elem, dims }, Value::Array(a)) => {
                if a.elem != *elem {
                    return Err(bad(format!("expects an array of {elem}, got {}", a.elem)));
                }
                if a.shape.len() != dims.len() {
                    return Err(bad(format!(
                        "expects {} dims, got an array of shape {:?}",
                        dims.len(),
                        a.shape
                    )));
                }
                for (d, (dim, &extent)) in dims.iter().zip(&a.shape).enumerate() {
                    let extent = i64::try_from(extent).unwrap_or(i64::MAX);
                    if extent > pj_lang::bounds::MAX_SIZE {
                        return Err(bad(format!(
                            "dim {d} is {extent}, {}",
                            crate::dialects::func::TOO_LONG_DIM
                        )));
                    }
                    match dim {
                        Dim::Static(n) if *n != extent => {
                            return Err(bad(format!("dim {d} must be {n}, got {extent}")));
                        }
                        Dim::Sym(s) => match bound.get(s) {
                            Some((v, fp, fd)) if *v != extent => {
                                return Err(InterpError::SizeMismatch {
                                    size: s.clone(),
                                    first: *v,
                                    first_param: fp.clone(),
                                    first_dim: *fd,
                                    param: pname,
                                    dim: d,
                                    value: extent,
                                });
                            }
                            Some(_) => {}
                            None => {
                                let limit = crate::dialects::pj::size_limit(m, kernel);
                                if extent > limit {
                                    return Err(bad(format!(
                                        "dim {d} is {extent}, {}",
                                        crate::dialects::func::size_limit_reason(s, limit)
                                    )));
                                }
                                bound.insert(s.clone(), (extent, pname.clone(), d));
                            }
                        },
                        _ => {}
                    }
                }
                let mut t = a.clone();
                t.origin = vec![0; t.shape.len()];
                interp.names.insert(p, pname.clone());
                interp.env[p.index()] = Slot::T(Rc::new(t));
            }
            (Type::Buffer { .. } | Type::Vector { .. }, _) => {
                unreachable!("pj.kernel parameters are tensors or scalars (verified)")
            }
            (Type::Scalar(t), Value::Array(a)) => {
                return Err(bad(format!(
                    "expects a {t} scalar, got an array of shape {:?}",
                    a.shape
                )));
            }
            (Type::Tensor { elem, dims }, Value::Scalar(s)) => {
                return Err(bad(format!(
                    "expects a {}-d array of {elem}, got the scalar {s:?}",
                    dims.len()
                )));
            }
        }
    }
    interp.sizes = bound.into_iter().map(|(k, (v, _, _))| (k, v)).collect();
    interp.block(block)
}

/// Checks an argument's element type and rank against a parameter type.
fn check_array(pname: &str, ty: &Type, a: &Tensor) -> Result<(), InterpError> {
    let bad = |message: String| InterpError::BadArgument {
        param: pname.to_string(),
        message,
    };
    let (elem, dims) = (ty.elem(), ty.dims().unwrap_or_default());
    if a.elem != elem {
        return Err(bad(format!("expects an array of {elem}, got {}", a.elem)));
    }
    if a.shape.len() != dims.len() {
        return Err(bad(format!(
            "expects {} dims, got an array of shape {:?}",
            dims.len(),
            a.shape
        )));
    }
    Ok(())
}

/// Runs a lowered kernel (`func.func`): its companion `shape_of` function
/// gives the result shapes, the outputs are allocated here as a caller
/// would, and the kernel fills them. Element types and ranks are checked
/// here, as the native entry points will check the buffer descriptors;
/// shapes and sizes are checked by the kernel's own `func.check` ops.
fn run_lowered(
    m: &Module,
    kernel: OpId,
    args: &[Value],
    max_elements: u64,
) -> Result<Vec<Tensor>, InterpError> {
    let sig = signature(m, kernel);
    if sig.params.len() != args.len() {
        return Err(InterpError::ArgCount {
            kernel: sig.name,
            expected: sig.params.len(),
            got: args.len(),
        });
    }
    for ((pname, ty), arg) in sig.params.iter().zip(args) {
        match (ty, arg) {
            (Type::Scalar(t), Value::Scalar(s)) if s.ty() != *t => {
                return Err(InterpError::BadArgument {
                    param: pname.clone(),
                    message: format!("expects a {t} scalar, got {}", s.ty()),
                });
            }
            (Type::Scalar(_), Value::Scalar(_)) => {}
            (Type::Buffer { .. }, Value::Array(a)) => check_array(pname, ty, a)?,
            (t, v) => {
                let got = if matches!(v, Value::Array(_)) {
                    "an array"
                } else {
                    "a scalar"
                };
                return Err(InterpError::BadArgument {
                    param: pname.clone(),
                    message: format!("expects {t}, got {got}"),
                });
            }
        }
    }
    let block = m.entry_block(kernel, 0);
    let outputs_at = sig.params.len();
    let out_types: Vec<Type> = m.block(block).args[outputs_at..]
        .iter()
        .map(|&v| m.ty(v).clone())
        .collect();
    let Some(shape_fn) = m
        .kernels()
        .into_iter()
        .find(|&k| m.op(k).attr("shape_of").and_then(Attr::as_str) == Some(sig.name.as_str()))
    else {
        panic!(
            "lowered kernel `{}` has no shape function (a compiler bug)",
            sig.name
        );
    };
    let total: usize = out_types.iter().map(|t| t.rank().unwrap_or(0)).sum();
    let shapes_buf = Tensor::new(ScalarType::I64, vec![total], vec![Scalar::I64(0); total]);
    let out = call_func(m, shape_fn, args, vec![shapes_buf], max_elements)?;
    let flat: Vec<i64> = out[0]
        .data
        .iter()
        .map(|s| s.as_i64().unwrap_or(0))
        .collect();
    let at = At(m.source_name.clone(), m.op(kernel).loc);
    let mut outputs = Vec::new();
    let mut next = 0;
    for (r, ty) in out_types.iter().enumerate() {
        let rank = ty.rank().unwrap_or(0);
        let shape = &flat[next..next + rank];
        next += rank;
        if let Some(d) = shape.iter().position(|&e| e < 0) {
            return Err(InterpError::NegativeExtent {
                name: sig.results[r].clone(),
                dim: d,
                extent: shape[d],
                at,
            });
        }
        let n = shape
            .iter()
            .try_fold(1u64, |a, &e| a.checked_mul(e as u64))
            .unwrap_or(u64::MAX);
        if n > max_elements {
            let name = sig.results[r].clone();
            return Err(InterpError::TooLarge {
                name,
                elements: n,
                limit: max_elements,
                at,
            });
        }
        let elem = ty.elem();
        let shape = shape.iter().map(|&e| e as usize).collect();
        outputs.push(Tensor::new(
            elem,
            shape,
            vec![Scalar::zero(elem); n as usize],
        ));
    }
    call_func(m, kernel, args, outputs, max_elements)
}

/// Runs a `func.func` on arguments and output buffers; returns the outputs.
fn call_func(
    m: &Module,
    func: OpId,
    args: &[Value],
    outputs: Vec<Tensor>,
    max_elements: u64,
) -> Result<Vec<Tensor>, InterpError> {
    let block = m.entry_block(func, 0);
    let params = m.block(block).args.clone();
    let sig = signature(m, func);
    let mut interp = Interp {
        m,
        env: vec![Slot::Empty; m.value_count()],
        sizes: HashMap::new(),
        names: HashMap::new(),
        max_elements,
        steps_left: max_elements.saturating_mul(STEPS_PER_ELEMENT),
        filling: Filling::default(),
    };
    let mut out_slots = Vec::new();
    for (i, &p) in params.iter().enumerate() {
        let slot = match args.get(i) {
            Some(Value::Scalar(s)) => Slot::S(*s),
            Some(Value::Array(a)) => {
                let mut t = a.clone();
                t.origin = vec![0; t.shape.len()];
                Slot::B(Rc::new(RefCell::new(t)))
            }
            None => {
                let b = Rc::new(RefCell::new(outputs[i - args.len()].clone()));
                out_slots.push(b.clone());
                Slot::B(b)
            }
        };
        let name = if i < sig.params.len() {
            sig.params[i].0.clone()
        } else {
            sig.results[i - sig.params.len()].clone()
        };
        interp.names.insert(p, name);
        interp.env[p.index()] = slot;
    }
    match interp.run_ops(block)? {
        Exit::Return(_) => {}
        _ => unreachable!("verified: a func.func ends with func.return"),
    }
    drop(interp);
    Ok(out_slots.into_iter().map(|b| b.borrow().clone()).collect())
}

#[derive(Clone, Debug)]
enum Slot {
    Empty,
    S(Scalar),
    /// An immutable tensor (`pj` dialect).
    T(Rc<Tensor>),
    /// A buffer (`mem` dialect): shared, mutable.
    B(Rc<RefCell<Tensor>>),
    /// A vector's lanes (`vector` dialect).
    V(Vec<Scalar>),
}

struct Interp<'m> {
    m: &'m Module,
    env: Vec<Slot>,
    sizes: HashMap<String, i64>,
    /// Array names for error messages.
    names: HashMap<ValueId, String>,
    max_elements: u64,
    /// Operations this call may still run.
    steps_left: u64,
    /// The stage being computed, which its `pj.prior`s read.
    filling: Filling,
}

/// The elements of the stage being computed so far, in row-major order
/// from `origin`, and the element being computed.
#[derive(Default)]
struct Filling {
    origin: Vec<i64>,
    shape: Vec<usize>,
    point: Vec<i64>,
    data: Vec<Scalar>,
}

/// Operations a loop-level call (IR that may come from text) may run per
/// element of its element limit: 2^34 at the default limit, far beyond
/// what a compiled kernel of that size runs, but a bound on hostile loops.
const STEPS_PER_ELEMENT: u64 = 256;

/// Steps `point` to the next one of the box `bounds` (half-open per dim)
/// in row-major order; `false` after the last.
fn next_point(point: &mut [i64], bounds: &[(i64, i64)]) -> bool {
    for k in (0..point.len()).rev() {
        point[k] += 1;
        if point[k] < bounds[k].1 {
            return true;
        }
        point[k] = bounds[k].0;
    }
    false
}

/// What running a block produced.
enum Exit {
    /// `pj.yield`
    Yield(Scalar),
    /// `loop.yield`
    Carry(Vec<Slot>),
    /// `pj.return` (the results) or `func.return` (none: outputs are buffers)
    Return(Vec<Tensor>),
}

impl Interp<'_> {
    fn at(&self, op: OpId) -> At {
        At(self.m.source_name.clone(), self.m.op(op).loc)
    }

    fn scalar(&self, v: ValueId) -> Scalar {
        match &self.env[v.index()] {
            Slot::S(s) => *s,
            other => panic!("value {v} is not a computed scalar: {other:?} (unverified IR?)"),
        }
    }

    fn index(&self, v: ValueId) -> i64 {
        self.scalar(v).as_i64().expect("verified: integer index")
    }

    fn block(&mut self, b: BlockId) -> Result<Vec<Tensor>, InterpError> {
        match self.run_ops(b)? {
            Exit::Return(r) => Ok(r),
            _ => unreachable!("verified: a kernel ends with pj.return"),
        }
    }

    fn buffer(&self, v: ValueId) -> Rc<RefCell<Tensor>> {
        match &self.env[v.index()] {
            Slot::B(b) => b.clone(),
            other => panic!("value {v} is not a buffer: {other:?} (unverified IR?)"),
        }
    }

    /// Runs one op that is not a terminator, storing its results.
    fn exec(&mut self, op: OpId) -> Result<(), InterpError> {
        if self.steps_left == 0 {
            return Err(InterpError::TooLong {
                limit: self.max_elements.saturating_mul(STEPS_PER_ELEMENT),
            });
        }
        self.steps_left -= 1;
        let m = self.m;
        let d = m.op(op);
        match d.opcode {
            Opcode::Loop(LoopOp::For) => {
                let (lb, ub, step) = (
                    self.index(d.operands[0]),
                    self.index(d.operands[1]),
                    self.index(d.operands[2]),
                );
                if step <= 0 {
                    return Err(InterpError::BadStep {
                        step,
                        at: self.at(op),
                    });
                }
                // carried values: scalars or vectors
                let mut carried: Vec<Slot> = d.operands[3..]
                    .iter()
                    .map(|&v| self.env[v.index()].clone())
                    .collect();
                let block = m.entry_block(op, 0);
                let args = &m.block(block).args;
                let mut iv = lb;
                while iv < ub {
                    self.env[args[0].index()] = Slot::S(Scalar::I64(iv));
                    for (a, c) in args[1..].iter().zip(&carried) {
                        self.env[a.index()] = c.clone();
                    }
                    match self.run_ops(block)? {
                        Exit::Carry(next) => carried = next,
                        _ => unreachable!("verified: loop bodies end in loop.yield"),
                    }
                    iv = iv.saturating_add(step);
                }
                for (r, c) in d.results.iter().zip(carried) {
                    self.env[r.index()] = c;
                }
            }
            Opcode::Loop(LoopOp::Parallel) => {
                // iterations are independent: in order is one valid schedule
                let (lb, ub) = (self.index(d.operands[0]), self.index(d.operands[1]));
                let block = m.entry_block(op, 0);
                let iv = m.block(block).args[0];
                for i in lb..ub.max(lb) {
                    self.env[iv.index()] = Slot::S(Scalar::I64(i));
                    match self.run_ops(block)? {
                        Exit::Carry(_) => {}
                        _ => unreachable!("verified: loop bodies end in loop.yield"),
                    }
                }
            }
            Opcode::Mem(MemOp::Store) => {
                let value = self.scalar(d.operands[0]);
                let buf = self.buffer(d.operands[1]);
                let flat =
                    self.flat_index(op, &buf.borrow(), d.operands[1], &d.operands[2..], false)?;
                let i = flat.expect("an out-of-range store is an error, not a skip");
                buf.borrow_mut().data[i] = value;
            }
            // one thread: the interpreter runs parallel loops in order
            Opcode::Loop(LoopOp::Threads) => {
                self.env[d.results[0].index()] = Slot::S(Scalar::I64(1));
            }
            Opcode::Mem(MemOp::Dealloc) => self.env[d.operands[0].index()] = Slot::Empty,
            Opcode::Vector(VectorOp::Store) => {
                let lanes = self.vector(d.operands[0]);
                let buf = self.buffer(d.operands[1]);
                let last = d.operands.len() - 3;
                for (k, v) in lanes.into_iter().enumerate() {
                    let i = self.lane_index(
                        op,
                        &buf.borrow(),
                        d.operands[1],
                        &d.operands[2..],
                        last,
                        k,
                        false,
                    )?;
                    buf.borrow_mut().data[i.expect("checked")] = v;
                }
            }
            Opcode::Func(FuncOp::Check) => {
                if self.scalar(d.operands[0]).as_bool() != Some(true) {
                    let details: Vec<i64> =
                        d.operands[1..].iter().map(|&v| self.index(v)).collect();
                    let message = d.attr("message").and_then(Attr::as_str).unwrap_or_default();
                    return Err(InterpError::CheckFailed {
                        code: d.attr("code").and_then(Attr::as_int).unwrap_or(1),
                        message: func::format_message(message, &details),
                    });
                }
            }
            _ => {
                let slot = self.op(op)?;
                self.env[d.results[0].index()] = slot;
            }
        }
        Ok(())
    }

    /// Row-major offset of `indices` in `buf`. Outside the buffer: `None`
    /// if `zero_outside` (the load reads zero), else an error.
    fn flat_index(
        &self,
        op: OpId,
        buf: &Tensor,
        bv: ValueId,
        indices: &[ValueId],
        zero_outside: bool,
    ) -> Result<Option<usize>, InterpError> {
        self.lane_index(
            op,
            buf,
            bv,
            indices,
            indices.len().saturating_sub(1),
            0,
            zero_outside,
        )
    }

    fn run_ops(&mut self, b: BlockId) -> Result<Exit, InterpError> {
        let m = self.m;
        for &op in &m.block(b).ops {
            let d = m.op(op);
            match d.opcode {
                Opcode::Pj(PjOp::Return) => {
                    let results = d
                        .operands
                        .iter()
                        .map(|v| match &self.env[v.index()] {
                            Slot::T(t) => {
                                let mut t = (**t).clone();
                                t.origin = vec![0; t.shape.len()];
                                t
                            }
                            _ => panic!("verified: pj.return returns tensors"),
                        })
                        .collect();
                    return Ok(Exit::Return(results));
                }
                Opcode::Pj(PjOp::Yield) => return Ok(Exit::Yield(self.scalar(d.operands[0]))),
                Opcode::Loop(LoopOp::Yield) => {
                    return Ok(Exit::Carry(
                        d.operands
                            .iter()
                            .map(|&v| self.env[v.index()].clone())
                            .collect(),
                    ));
                }
                Opcode::Func(FuncOp::Return) => return Ok(Exit::Return(vec![])),
                _ => self.exec(op)?,
            }
        }
        unreachable!("verified: every block ends in a terminator")
    }

    fn vector(&self, v: ValueId) -> Vec<Scalar> {
        match &self.env[v.index()] {
            Slot::V(l) => l.clone(),
            other => panic!("value {v} is not a vector: {other:?} (unverified IR?)"),
        }
    }

    /// What a buffer is called in messages: the parameter it came from, or
    /// its name in the IR (an intermediate's `mem.alloc` carries its stage's).
    fn buffer_name(&self, v: ValueId) -> String {
        self.names
            .get(&v)
            .cloned()
            .or_else(|| self.m.value(v).name.clone())
            .unwrap_or_else(|| "an unnamed buffer".into())
    }

    /// The flat index of lane `k` of a vector access: the indices with the
    /// `last` one plus `k`.
    #[allow(clippy::too_many_arguments)]
    fn lane_index(
        &self,
        op: OpId,
        buf: &Tensor,
        bv: ValueId,
        indices: &[ValueId],
        last: usize,
        k: usize,
        zero_outside: bool,
    ) -> Result<Option<usize>, InterpError> {
        let mut flat = 0usize;
        for (d, &v) in indices.iter().enumerate() {
            let i = self.index(v) + if d == last { k as i64 } else { 0 };
            let n = buf.shape[d];
            if i < 0 || i as u64 >= n as u64 {
                if zero_outside {
                    return Ok(None);
                }
                let mut index: Vec<i64> = indices.iter().map(|&v| self.index(v)).collect();
                index[last] += k as i64;
                let valid: Vec<String> = buf.shape.iter().map(|s| format!("0..{s}")).collect();
                return Err(InterpError::OutOfBounds {
                    array: self.buffer_name(bv),
                    index,
                    valid: format!("[{}]", valid.join(", ")),
                    at: self.at(op),
                });
            }
            flat = flat * n + i as usize;
        }
        Ok(Some(flat))
    }

    /// Vector results: lane-wise arithmetic and the `vector` dialect.
    fn vector_op(&mut self, op: OpId) -> Result<Slot, InterpError> {
        let m = self.m;
        let d = m.op(op);
        Ok(match d.opcode {
            Opcode::Arith(ArithOp::Cast) => {
                let t = m.ty(d.results[0]).elem();
                let x = self.vector(d.operands[0]);
                Slot::V(x.into_iter().map(|l| l.cast(t)).collect())
            }
            Opcode::Quant(q) => {
                let (p, t) = (
                    crate::dialects::quant::Params::of(m, op),
                    m.ty(d.results[0]).elem(),
                );
                let x = self.vector(d.operands[0]);
                Slot::V(
                    x.into_iter()
                        .map(|l| crate::dialects::quant::eval(q, p, l, t))
                        .collect(),
                )
            }
            Opcode::Math(mo) => {
                let lanes: Vec<Vec<Scalar>> = d.operands.iter().map(|&v| self.vector(v)).collect();
                let fused = math::is_fused(self.m, op);
                Slot::V(
                    (0..lanes[0].len())
                        .map(|k| {
                            let args: Vec<Scalar> = lanes.iter().map(|l| l[k]).collect();
                            math::eval(mo, &args, fused)
                        })
                        .collect(),
                )
            }
            Opcode::Arith(ArithOp::Fma) => {
                let (x, y, z) = (
                    self.vector(d.operands[0]),
                    self.vector(d.operands[1]),
                    self.vector(d.operands[2]),
                );
                Slot::V(
                    (0..x.len())
                        .map(|k| arith::eval_fma(x[k], y[k], z[k]))
                        .collect(),
                )
            }
            Opcode::Arith(a) => {
                let x = self.vector(d.operands[0]);
                let out = if a == ArithOp::Neg {
                    x.into_iter().map(|l| arith::eval_unary(a, l)).collect()
                } else if a == ArithOp::Shr {
                    let k = arith::shift_amount(m, op).expect("verified");
                    x.into_iter().map(|l| arith::eval_shr(l, k)).collect()
                } else if a == ArithOp::Shl {
                    let k = arith::shift_amount(m, op).expect("verified");
                    x.into_iter().map(|l| arith::eval_shl(l, k)).collect()
                } else if a == ArithOp::Bitcast {
                    let t = m.ty(d.results[0]).elem();
                    x.into_iter().map(|l| arith::eval_bitcast(l, t)).collect()
                } else {
                    let y = self.vector(d.operands[1]);
                    x.into_iter()
                        .zip(y)
                        .map(|(p, q)| arith::eval_binary(a, p, q))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|EvalError::DivisionByZero| InterpError::DivisionByZero {
                            at: self.at(op),
                        })?
                };
                Slot::V(out)
            }
            Opcode::Vector(VectorOp::Load) => {
                let buf = self.buffer(d.operands[0]);
                let vt = m.ty(d.results[0]);
                let lanes = vt.lanes().expect("verified") as usize;
                let zero_outside = d.attr("oob").is_some();
                let zero = Scalar::I64(0).cast(vt.elem());
                let b = buf.borrow();
                let last = d.operands.len() - 2;
                let mut out = Vec::with_capacity(lanes);
                for k in 0..lanes {
                    let i = self.lane_index(
                        op,
                        &b,
                        d.operands[0],
                        &d.operands[1..],
                        last,
                        k,
                        zero_outside,
                    )?;
                    out.push(i.map_or(zero, |i| b.data[i]));
                }
                Slot::V(out)
            }
            Opcode::Vector(VectorOp::Dot4) => {
                // u8 and i8 lanes read as their values (`as_i64` extends by type)
                let ints = |v: Vec<Scalar>| -> Vec<i64> {
                    v.into_iter()
                        .map(|s| s.as_i64().expect("verified: integers"))
                        .collect()
                };
                let [acc, x, y] = [0, 1, 2].map(|i| ints(self.vector(d.operands[i])));
                let pairs16 = d.attr("pairs16").is_some();
                Slot::V(
                    crate::dialects::vector::dot4_with(&acc, &x, &y, pairs16)
                        .into_iter()
                        .map(|v| Scalar::I32(v as i32))
                        .collect(),
                )
            }
            Opcode::Vector(VectorOp::Interleave4) => {
                let rows: Vec<Vec<Scalar>> = d.operands.iter().map(|&v| self.vector(v)).collect();
                let lanes = rows[0].len();
                Slot::V((0..4 * lanes).map(|i| rows[i % 4][i / 4]).collect())
            }
            Opcode::Vector(VectorOp::Broadcast) => {
                let lanes = m.ty(d.results[0]).lanes().expect("verified") as usize;
                Slot::V(vec![self.scalar(d.operands[0]); lanes])
            }
            Opcode::Vector(VectorOp::Reduce) => {
                let kind = d.attr("kind").and_then(Attr::as_str).expect("verified");
                let combine = arith::reduce_combiner(kind);
                let lanes = self.vector(d.operands[0]);
                let mut acc = lanes[0];
                for &x in &lanes[1..] {
                    acc = arith::eval_binary(combine, acc, x).expect("add/mul/min/max cannot fail");
                }
                Slot::S(acc)
            }
            Opcode::Vector(VectorOp::Extract) => {
                let k = d.attr("lane").and_then(Attr::as_int).expect("verified") as usize;
                Slot::S(self.vector(d.operands[0])[k])
            }
            other => unreachable!("{other} has no vector result"),
        })
    }

    fn op(&mut self, op: OpId) -> Result<Slot, InterpError> {
        let m = self.m;
        let d = m.op(op);
        if matches!(d.opcode, Opcode::Vector(_))
            || d.results
                .first()
                .is_some_and(|&r| matches!(m.ty(r), Type::Vector { .. }))
        {
            return self.vector_op(op);
        }
        let arg = |i: usize| self.scalar(d.operands[i]);
        Ok(Slot::S(match d.opcode {
            Opcode::Arith(ArithOp::Constant) => {
                let t = m.ty(d.results[0]).as_scalar().expect("verified");
                Scalar::from_attr(d.attr("value").expect("verified"), t).expect("verified")
            }
            Opcode::Arith(ArithOp::Cmp) => arith::eval_cmp(
                d.attr("pred").and_then(Attr::as_str).expect("verified"),
                arg(0),
                arg(1),
            ),
            Opcode::Arith(ArithOp::Neg | ArithOp::Not) => {
                let Opcode::Arith(a) = d.opcode else {
                    unreachable!()
                };
                arith::eval_unary(a, arg(0))
            }
            Opcode::Arith(ArithOp::Fma) => arith::eval_fma(arg(0), arg(1), arg(2)),
            Opcode::Arith(ArithOp::Shr) => {
                arith::eval_shr(arg(0), arith::shift_amount(m, op).expect("verified"))
            }
            Opcode::Arith(ArithOp::Shl) => {
                arith::eval_shl(arg(0), arith::shift_amount(m, op).expect("verified"))
            }
            Opcode::Arith(ArithOp::Bitcast) => {
                arith::eval_bitcast(arg(0), m.ty(d.results[0]).as_scalar().expect("verified"))
            }
            Opcode::Arith(ArithOp::Select) => {
                if arg(0).as_bool() == Some(true) {
                    arg(1)
                } else {
                    arg(2)
                }
            }
            Opcode::Arith(ArithOp::Cast) => {
                arg(0).cast(m.ty(d.results[0]).as_scalar().expect("verified"))
            }
            Opcode::Arith(a) => {
                arith::eval_binary(a, arg(0), arg(1)).map_err(|EvalError::DivisionByZero| {
                    InterpError::DivisionByZero { at: self.at(op) }
                })?
            }
            Opcode::Math(mo) => {
                let args: Vec<Scalar> = (0..d.operands.len()).map(arg).collect();
                math::eval(mo, &args, math::is_fused(self.m, op))
            }
            Opcode::Quant(q) => crate::dialects::quant::eval_op(
                q,
                crate::dialects::quant::Params::of(m, op),
                &(0..d.operands.len()).map(arg).collect::<Vec<_>>(),
                m.ty(d.results[0]).as_scalar().expect("verified"),
            ),
            Opcode::Pj(PjOp::Size) => {
                let name = d.attr("name").and_then(Attr::as_str).expect("verified");
                Scalar::I64(*self.sizes.get(name).expect("verified: size of a parameter"))
            }
            Opcode::Pj(PjOp::Read) => return self.read(op).map(Slot::S),
            Opcode::Pj(PjOp::Prior) => self.prior(op),
            Opcode::Pj(PjOp::Update) => return self.update(op).map(|t| Slot::T(Rc::new(t))),
            Opcode::Pj(PjOp::Reduce) => return self.reduce(op).map(Slot::S),
            Opcode::Pj(PjOp::Stage) => return self.stage(op).map(|t| Slot::T(Rc::new(t))),
            Opcode::Mem(MemOp::Dim) => {
                let k = d.attr("dim").and_then(Attr::as_int).expect("verified") as usize;
                Scalar::I64(self.buffer(d.operands[0]).borrow().shape[k] as i64)
            }
            Opcode::Mem(MemOp::Load) => {
                let buf = self.buffer(d.operands[0]);
                let b = buf.borrow();
                let zero = d.attr("oob").is_some();
                match self.flat_index(op, &b, d.operands[0], &d.operands[1..], zero)? {
                    Some(i) => b.data[i],
                    None => Scalar::zero(b.elem),
                }
            }
            Opcode::Mem(MemOp::Alloc) => {
                let shape: Vec<usize> = d
                    .operands
                    .iter()
                    .map(|&v| self.index(v).max(0) as usize)
                    .collect();
                let n = shape
                    .iter()
                    .try_fold(1u64, |a, &e| a.checked_mul(e as u64))
                    .unwrap_or(u64::MAX);
                if n > self.max_elements {
                    let name = "an intermediate buffer".to_string();
                    return Err(InterpError::TooLarge {
                        name,
                        elements: n,
                        limit: self.max_elements,
                        at: self.at(op),
                    });
                }
                let elem = m.ty(d.results[0]).elem();
                let t = Tensor::new(elem, shape, vec![Scalar::zero(elem); n as usize]);
                return Ok(Slot::B(Rc::new(RefCell::new(t))));
            }
            Opcode::Pj(PjOp::Kernel | PjOp::Yield | PjOp::Return)
            | Opcode::Func(_)
            | Opcode::Loop(_)
            | Opcode::Vector(_)
            | Opcode::Mem(MemOp::Store | MemOp::Dealloc) => unreachable!("handled by the caller"),
        }))
    }

    fn bounds(&self, op: OpId) -> Vec<(i64, i64)> {
        self.m
            .op(op)
            .operands
            .chunks(2)
            .map(|p| (self.index(p[0]), self.index(p[1])))
            .collect()
    }

    fn stage(&mut self, op: OpId) -> Result<Tensor, InterpError> {
        let m = self.m;
        let d = m.op(op);
        let name = d
            .attr("name")
            .and_then(Attr::as_str)
            .unwrap_or("?")
            .to_string();
        let bounds = self.bounds(op);
        let mut shape = Vec::new();
        let mut total: u64 = 1;
        for (dim, &(lo, ub)) in bounds.iter().enumerate() {
            let extent = ub.saturating_sub(lo);
            if extent < 0 && d.attr("result").is_some() {
                return Err(InterpError::NegativeExtent {
                    name,
                    dim,
                    extent,
                    at: self.at(op),
                });
            }
            let e = extent.max(0) as u64;
            total = total.saturating_mul(e);
            shape.push(e as usize);
        }
        if total > self.max_elements {
            return Err(InterpError::TooLarge {
                name,
                elements: total,
                limit: self.max_elements,
                at: self.at(op),
            });
        }
        let elem = m.ty(d.results[0]).elem();
        let origin: Vec<i64> = bounds.iter().map(|b| b.0).collect();
        let block = m.entry_block(op, 0);
        let vars = m.block(block).args.clone();
        // a stage's `pj.prior`s read its elements so far (stages do not nest)
        let recurrent = crate::dialects::pj::recurrence(m, op).is_some();
        self.filling = Filling {
            origin: origin.clone(),
            shape: shape.clone(),
            point: Vec::new(),
            data: Vec::with_capacity(total as usize),
        };
        if total > 0 {
            let mut point = origin.clone();
            let mut count = 0u32;
            'outer: loop {
                // a stop request is honoured every 64 elements
                count = count.wrapping_add(1);
                if count.is_multiple_of(64) && pj_runtime::interrupt::requested() {
                    return Err(InterpError::Interrupted);
                }
                for (v, &x) in vars.iter().zip(&point) {
                    self.env[v.index()] = Slot::S(Scalar::I64(x));
                }
                if recurrent {
                    self.filling.point.clone_from(&point);
                }
                match self.run_ops(block)? {
                    Exit::Yield(s) => self.filling.data.push(s),
                    _ => unreachable!("verified: stages end in pj.yield"),
                }
                if !next_point(&mut point, &bounds) {
                    break 'outer;
                }
            }
        }
        let data = std::mem::take(&mut self.filling).data;
        let t = Tensor {
            elem,
            origin,
            shape,
            data,
        };
        self.names.insert(d.results[0], name);
        Ok(t)
    }

    /// An updated copy of a stage: every point of the update's variables,
    /// in row-major order, combines its value into the element it names.
    fn update(&mut self, op: OpId) -> Result<Tensor, InterpError> {
        let m = self.m;
        let d = m.op(op);
        let Slot::T(t) = &self.env[d.operands[0].index()] else {
            panic!("verified: pj.update updates a tensor");
        };
        let mut t = (**t).clone();
        let name = self
            .names
            .get(&d.operands[0])
            .cloned()
            .unwrap_or_else(|| "?".into());
        self.names.insert(d.results[0], name.clone());
        let kind = d.attr("kind").and_then(Attr::as_str).expect("verified");
        let combine = arith::reduce_combiner(kind);
        let bounds: Vec<(i64, i64)> = d.operands[1..]
            .chunks(2)
            .map(|p| (self.index(p[0]), self.index(p[1])))
            .collect();
        if bounds.iter().any(|&(lo, ub)| ub <= lo) {
            return Ok(t);
        }
        let block = m.entry_block(op, 0);
        let vars = m.block(block).args.clone();
        let yield_op = *m
            .block(block)
            .ops
            .last()
            .expect("verified: ends in pj.yield");
        let rank = t.shape.len();
        let mut point: Vec<i64> = bounds.iter().map(|b| b.0).collect();
        let mut count = 0u32;
        loop {
            count = count.wrapping_add(1);
            if count.is_multiple_of(64) && pj_runtime::interrupt::requested() {
                return Err(InterpError::Interrupted);
            }
            for (v, &x) in vars.iter().zip(&point) {
                self.env[v.index()] = Slot::S(Scalar::I64(x));
            }
            // the region's ops but its yield, whose operands are read here
            for &o in &m.block(block).ops[..m.block(block).ops.len() - 1] {
                self.exec(o)?;
            }
            let y = &m.op(yield_op).operands;
            let index: Vec<i64> = y[..rank].iter().map(|&v| self.index(v)).collect();
            let value = self.scalar(y[rank]);
            let mut flat = 0usize;
            for (k, &i) in index.iter().enumerate() {
                let local = i - t.origin[k];
                if !(0..t.shape[k] as i64).contains(&local) {
                    return Err(InterpError::OutOfBounds {
                        array: name,
                        index,
                        valid: t.valid_region(),
                        at: self.at(op),
                    });
                }
                flat = flat * t.shape[k] + local as usize;
            }
            t.data[flat] =
                arith::eval_binary(combine, t.data[flat], value).expect("add/min/max cannot fail");
            if !next_point(&mut point, &bounds) {
                return Ok(t);
            }
        }
    }

    /// A recurrence's earlier element, or its `init` before the first.
    fn prior(&self, op: OpId) -> Scalar {
        let (dim, lag) = crate::dialects::pj::prior_step(self.m, op).expect("verified");
        let f = &self.filling;
        // stages are computed row-major, so with every other index the
        // same, an element earlier along `dim` is already in `data`
        if f.point[dim] - lag < f.origin[dim] {
            return self.scalar(self.m.op(op).operands[0]);
        }
        let mut flat = 0usize;
        for k in 0..f.point.len() {
            let step = if k == dim { lag } else { 0 };
            flat = flat * f.shape[k] + (f.point[k] - step - f.origin[k]) as usize;
        }
        f.data[flat]
    }

    /// An `argmax`/`argmin` over its one variable: the first index of the
    /// best term, or [`arith::ARG_OF_NOTHING`] over an empty range.
    fn arg_reduce(&mut self, op: OpId, kind: &str) -> Result<Scalar, InterpError> {
        let (lo, ub) = self.bounds(op)[0];
        let block = self.m.entry_block(op, 0);
        let var = self.m.block(block).args[0];
        let mut best: Option<(Scalar, i64)> = None;
        for k in lo..ub.max(lo) {
            self.env[var.index()] = Slot::S(Scalar::I64(k));
            let term = match self.run_ops(block)? {
                Exit::Yield(s) => s,
                _ => unreachable!("verified: reductions end in pj.yield"),
            };
            if best.is_none_or(|(b, _)| arith::arg_takes(kind, term, b)) {
                best = Some((term, k));
            }
        }
        Ok(Scalar::I64(best.map_or(arith::ARG_OF_NOTHING, |b| b.1)))
    }

    fn reduce(&mut self, op: OpId) -> Result<Scalar, InterpError> {
        let m = self.m;
        let d = m.op(op);
        let kind = d.attr("kind").and_then(Attr::as_str).expect("verified");
        if crate::dialects::pj::is_arg_kind(kind) {
            return self.arg_reduce(op, kind);
        }
        let ty = m.ty(d.results[0]).as_scalar().expect("verified");
        let combine = arith::reduce_combiner(kind);
        // 16-bit floats accumulate in f32 and round once, at the end
        let acc_ty = if ty.is_half() { ScalarType::F32 } else { ty };
        let finish = |acc: Scalar| if ty.is_half() { acc.cast(ty) } else { acc };
        let mut acc = Scalar::reduce_identity(kind, acc_ty);
        let bounds = self.bounds(op);
        if bounds.iter().any(|&(lo, ub)| ub <= lo) {
            return Ok(finish(acc));
        }
        let block = m.entry_block(op, 0);
        let vars = m.block(block).args.clone();
        let mut point: Vec<i64> = bounds.iter().map(|b| b.0).collect();
        loop {
            for (v, &x) in vars.iter().zip(&point) {
                self.env[v.index()] = Slot::S(Scalar::I64(x));
            }
            let term = match self.run_ops(block)? {
                Exit::Yield(s) => s,
                _ => unreachable!("verified: reductions end in pj.yield"),
            };
            let term = if ty.is_half() {
                term.cast(acc_ty)
            } else {
                term
            };
            acc = arith::eval_binary(combine, acc, term).expect("add/mul/min/max cannot fail");
            if !next_point(&mut point, &bounds) {
                return Ok(finish(acc));
            }
        }
    }

    fn read(&self, op: OpId) -> Result<Scalar, InterpError> {
        let d = self.m.op(op);
        let Slot::T(t) = &self.env[d.operands[0].index()] else {
            panic!("verified: pj.read reads a tensor");
        };
        let boundary = d
            .attr("boundary")
            .and_then(Attr::as_str)
            .and_then(Boundary::from_name);
        let mut flat = 0usize;
        for (k, &v) in d.operands[1..].iter().enumerate() {
            let i = self.index(v) - t.origin[k];
            let n = t.shape[k] as i64;
            let i = if (0..n).contains(&i) {
                i
            } else {
                match boundary {
                    // An empty array has no element to clamp, wrap or mirror to: reads give zero.
                    Some(_) if n == 0 => return Ok(Scalar::zero(t.elem)),
                    Some(b) => match b.apply(i, n) {
                        Some(j) => j,
                        None => return Ok(Scalar::zero(t.elem)),
                    },
                    None => {
                        let index: Vec<i64> =
                            d.operands[1..].iter().map(|&v| self.index(v)).collect();
                        return Err(InterpError::OutOfBounds {
                            array: self
                                .names
                                .get(&d.operands[0])
                                .cloned()
                                .unwrap_or_else(|| "?".into()),
                            index,
                            valid: t.valid_region(),
                            at: self.at(op),
                        });
                    }
                }
            };
            flat = flat * t.shape[k] + i as usize;
        }
        Ok(t.data[flat])
    }
}
