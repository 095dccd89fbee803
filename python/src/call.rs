//! Calling a kernel on NumPy arrays without copying them.
//!
//! Each array argument becomes a `pj_buffer` descriptor of the array's own
//! memory: its data pointer, shape and strides (NumPy's bytes divided by
//! the element size). The kernel's entry checks then do what they do for C
//! callers (types, ranks, sizes that must agree, results that alias
//! themselves or overlap an argument) before it touches anything, and a
//! view with strided rows is read through a row-major copy the kernel
//! makes. Only what NumPy can describe and the ABI cannot is copied here:
//! an input that is misaligned or whose strides are not whole elements.
//!
//! The call runs on the calling thread, with the GIL released when its
//! arrays hold [`RELEASE_GIL_FROM`] elements or more, in the pool of
//! threads the caller chose (`picojoule.threads(n)`, else the process's).

use crate::errors::run_error;
use crate::interrupt::InFlight;
use crate::kernel::{Kernel, Param};
use numpy::npyffi;
use numpy::{IxDyn, PyArray, PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use pj_compiler::codegen::RawArg;
use pj_compiler::dialects::arith::Scalar;
use pj_compiler::ir::ScalarType;
use pj_runtime::abi::{MAX_RANK, PjBuffer};
use pj_runtime::pool::Pool;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFloat, PyString, PyTuple};
use smallvec::SmallVec;
use std::cell::RefCell;
use std::sync::Arc;

/// Calls touching fewer elements than this keep the GIL: releasing and
/// taking it back costs about as much as such a call's work (NumPy's
/// ufuncs draw the same line, at 500 elements).
const RELEASE_GIL_FROM: usize = 1 << 14;

thread_local! {
    /// Pools chosen with `picojoule.threads(n)` on this thread, innermost last.
    static POOLS: RefCell<Vec<Arc<Pool>>> = const { RefCell::new(Vec::new()) };
}

/// Pools of each size `picojoule.threads(n)` asked for, made once: a
/// `with` block in a loop would otherwise start and stop threads each
/// time. Two threads may share one; the runtime then runs the second
/// caller's loops alone.
static POOLS_BY_SIZE: std::sync::Mutex<Vec<(usize, Arc<Pool>)>> = std::sync::Mutex::new(Vec::new());

/// Enters `with picojoule.threads(n):` on this thread.
#[pyfunction]
pub fn _push_threads(n: i64) -> PyResult<()> {
    let n = usize::try_from(n).unwrap_or(0);
    let pool = {
        let mut made = POOLS_BY_SIZE.lock().unwrap_or_else(|e| e.into_inner());
        match made.iter().find(|(size, _)| *size == n) {
            Some((_, p)) => p.clone(),
            None => {
                let p = pj_runtime::parallel::pool(n).map_err(PyValueError::new_err)?;
                made.push((n, p.clone()));
                p
            }
        }
    };
    POOLS.with(|p| p.borrow_mut().push(pool));
    Ok(())
}

/// Leaves the innermost `with picojoule.threads(n):` of this thread.
#[pyfunction]
pub fn _pop_threads() {
    POOLS.with(|p| p.borrow_mut().pop());
}

/// The NumPy name of an element type (`dtype.name`).
pub fn numpy_name(t: ScalarType) -> &'static str {
    match t {
        ScalarType::Bool => "bool",
        ScalarType::I8 => "int8",
        ScalarType::I16 => "int16",
        ScalarType::I32 => "int32",
        ScalarType::I64 => "int64",
        ScalarType::U8 => "uint8",
        ScalarType::U16 => "uint16",
        ScalarType::U32 => "uint32",
        ScalarType::F32 => "float32",
        ScalarType::F64 => "float64",
        ScalarType::F16 => "float16",
        ScalarType::Bf16 => "bfloat16",
    }
}

/// The NumPy type `t`'s arrays have, as Python code names it.
fn numpy_type(t: ScalarType) -> String {
    match t {
        // NumPy has no bfloat16: the `ml_dtypes` package adds it
        ScalarType::Bf16 => "ml_dtypes.bfloat16".into(),
        t => format!("numpy.{}", numpy_name(t)),
    }
}

/// Whether `d` is `t` in this machine's byte order.
/// Whether `d` is `t` in this machine's byte order: by kind and size, so
/// that `int64` matches whichever C type NumPy named it after (`long` or
/// `long long`).
fn is_dtype(d: &Bound<'_, numpy::PyArrayDescr>, t: ScalarType) -> bool {
    let kind = match t {
        ScalarType::Bool => b'b',
        ScalarType::I8 | ScalarType::I16 | ScalarType::I32 | ScalarType::I64 => b'i',
        ScalarType::U8 | ScalarType::U16 | ScalarType::U32 => b'u',
        ScalarType::F32 | ScalarType::F64 | ScalarType::F16 => b'f',
        // `ml_dtypes.bfloat16`: a two-byte kind NumPy does not know
        ScalarType::Bf16 => {
            return d.kind() == b'V'
                && d.itemsize() == 2
                && d.getattr("name")
                    .and_then(|n| n.extract::<String>())
                    .is_ok_and(|n| n == "bfloat16");
        }
    };
    d.kind() == kind && d.itemsize() == t.size_bytes() && d.is_native_byteorder() != Some(false)
}

/// A new C-contiguous array of `t` with `shape`, its contents unset (the
/// kernel writes every element of a result). A 16-bit float array is made
/// of `uint16` and viewed as its type (`bfloat16` needs `ml_dtypes`).
fn empty<'py>(
    py: Python<'py>,
    t: ScalarType,
    shape: &[usize],
) -> PyResult<Bound<'py, PyUntypedArray>> {
    if t.is_half() {
        let bits = empty(py, ScalarType::U16, shape)?;
        let dtype = match t {
            ScalarType::F16 => py.import("numpy")?.getattr("float16")?,
            _ => py
                .import("ml_dtypes")
                .map_err(|_| {
                    pyo3::exceptions::PyImportError::new_err(
                        "a bf16 result is an array of ml_dtypes.bfloat16: pip install ml_dtypes",
                    )
                })?
                .getattr("bfloat16")?,
        };
        return Ok(bits
            .call_method1("view", (dtype,))?
            .cast_into::<PyUntypedArray>()?);
    }
    macro_rules! new {
        ($e:ty) => {{
            // SAFETY: uninitialised elements of a plain numeric type; the
            // array is returned only after the kernel wrote all of them
            let a = unsafe { PyArray::<$e, IxDyn>::new(py, IxDyn(shape), false) };
            a.into_any()
                .cast_into::<PyUntypedArray>()
                .expect("a new array is an ndarray")
        }};
    }
    Ok(match t {
        ScalarType::Bool => new!(bool),
        ScalarType::I8 => new!(i8),
        ScalarType::I16 => new!(i16),
        ScalarType::I32 => new!(i32),
        ScalarType::I64 => new!(i64),
        ScalarType::U8 => new!(u8),
        ScalarType::U16 => new!(u16),
        ScalarType::U32 => new!(u32),
        ScalarType::F32 => new!(f32),
        ScalarType::F64 => new!(f64),
        ScalarType::F16 | ScalarType::Bf16 => unreachable!("made above"),
    })
}

fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type()
        .name()
        .map_or_else(|_| "object".to_string(), |n| n.to_string())
}

fn shape_text(shape: &[usize]) -> String {
    match shape {
        [one] => format!("({one},)"),
        s => format!(
            "({})",
            s.iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The arguments of one call as its caller passed them, borrowed for the
/// call: positional ones, then `(name, value)` pairs.
pub struct Passed<'a, 'py> {
    pub positional: SmallVec<[Borrowed<'a, 'py, PyAny>; 8]>,
    pub named: SmallVec<[(Borrowed<'a, 'py, PyAny>, Borrowed<'a, 'py, PyAny>); 4]>,
}

impl<'a, 'py> Passed<'a, 'py> {
    /// From a tuple and a dict (`*args, **kwargs`), which must outlive it.
    pub fn of_tuple_dict(
        args: &'a Bound<'py, PyTuple>,
        kwargs: Option<&'a Bound<'py, PyDict>>,
        items: &'a mut Vec<(Bound<'py, PyAny>, Bound<'py, PyAny>)>,
    ) -> Passed<'a, 'py> {
        if let Some(kw) = kwargs {
            items.extend(kw.iter());
        }
        Passed {
            positional: args.iter_borrowed().collect(),
            named: items
                .iter()
                .map(|(k, v)| (k.as_borrowed(), v.as_borrowed()))
                .collect(),
        }
    }
}

/// Whether the keyword `key` is `name`: by identity first, as the names
/// a call site passes are interned strings, as the kernel's are.
fn is_name(key: Borrowed<'_, '_, PyAny>, name: &Py<PyString>, text: &str) -> bool {
    key.as_ptr() == name.as_ptr()
        || key
            .cast::<PyString>()
            .ok()
            .and_then(|s| s.to_str().ok().map(|s| s == text))
            .unwrap_or(false)
}

/// A call's arguments in parameter order, and its `out=`.
type BoundArgs<'a, 'py> = (
    SmallVec<[Borrowed<'a, 'py, PyAny>; 8]>,
    Option<Borrowed<'a, 'py, PyAny>>,
);

/// The arguments in parameter order, from positions and names, and the
/// value of `out=` (when `takes_out`; a kernel's parameter cannot be
/// called `out` by keyword).
fn bind<'a, 'py>(
    k: &Kernel,
    passed: &Passed<'a, 'py>,
    takes_out: bool,
) -> PyResult<BoundArgs<'a, 'py>> {
    let n = k.params.len();
    let args = &passed.positional;
    if args.len() > n {
        return Err(PyTypeError::new_err(format!(
            "{}() takes {n} argument{} ({}), {} given",
            k.name,
            if n == 1 { "" } else { "s" },
            k.signature_text(),
            args.len()
        )));
    }
    let mut slots: SmallVec<[Option<Borrowed<'a, 'py, PyAny>>; 8]> =
        args.iter().map(|a| Some(*a)).collect();
    slots.resize(n, None);
    let mut out = None;
    for &(key, value) in &passed.named {
        if takes_out && is_name(key, out_name(key.py()), "out") {
            out = Some(value);
            continue;
        }
        let at = k
            .params
            .iter()
            .position(|p| is_name(key, &p.interned, &p.name));
        match at {
            Some(i) if slots[i].is_some() => {
                return Err(PyTypeError::new_err(format!(
                    "{}() got two values for argument `{}`",
                    k.name, k.params[i].name
                )));
            }
            Some(i) => slots[i] = Some(value),
            None => {
                let names: Vec<&str> = k.params.iter().map(|p| p.name.as_str()).collect();
                return Err(PyTypeError::new_err(format!(
                    "{}() has no parameter `{}`; its parameters: {}",
                    k.name,
                    key.str()
                        .map_or_else(|_| "?".to_string(), |s| s.to_string()),
                    names.join(", ")
                )));
            }
        }
    }
    if slots.iter().any(Option::is_none) {
        let missing: Vec<String> = k
            .params
            .iter()
            .zip(&slots)
            .filter(|(_, s)| s.is_none())
            .map(|(p, _)| format!("`{}` ({})", p.name, p.text))
            .collect();
        return Err(PyTypeError::new_err(format!(
            "{}() is missing {}",
            k.name,
            missing.join(", ")
        )));
    }
    Ok((
        slots.into_iter().map(|s| s.expect("checked")).collect(),
        out,
    ))
}

/// `"out"`, interned once.
fn out_name(py: Python<'_>) -> &Py<PyString> {
    static OUT: pyo3::sync::PyOnceLock<Py<PyString>> = pyo3::sync::PyOnceLock::new();
    OUT.get_or_init(py, || PyString::intern(py, "out").unbind())
}

/// Writes the descriptor of `a`'s memory into `d`, or says why the ABI
/// cannot describe it. In place: a descriptor is 144 bytes, and a tiny
/// call's budget is a few hundred nanoseconds.
fn describe(
    a: &Bound<'_, PyUntypedArray>,
    t: ScalarType,
    d: &mut PjBuffer,
) -> Result<(), &'static str> {
    let size = t.size_bytes() as isize;
    // SAFETY: reading the fields of a live ndarray object.
    let (data, flags) = unsafe {
        let raw = &*a.as_array_ptr();
        (raw.fields.data as *mut u8, raw.fields.flags)
    };
    if flags & npyffi::NPY_ARRAY_ALIGNED == 0 {
        return Err("its data is not aligned to its elements");
    }
    d.data = data;
    d.elem_type = pj_compiler::codegen::abi::elem_code(t) as i32;
    d.rank = a.ndim() as i32;
    for (i, (&n, &b)) in a.shape().iter().zip(a.strides()).enumerate().take(MAX_RANK) {
        if b % size != 0 {
            return Err("its strides are not whole elements");
        }
        d.shape[i] = n as i64;
        d.strides[i] = (b / size) as i64;
    }
    Ok(())
}

/// An empty descriptor, for [`describe`] to fill.
fn blank() -> PjBuffer {
    PjBuffer {
        data: std::ptr::null_mut(),
        shape: [0; MAX_RANK],
        strides: [0; MAX_RANK],
        elem_type: 0,
        rank: 0,
    }
}

/// `v` as an array for parameter `p`: checks that it is a NumPy array of
/// `p`'s dtype and rank and describes its memory into `d` — or that of a
/// copy, where the ABI cannot describe it, returned to be kept alive for
/// the call. Returns the array's element count too.
fn array_argument<'py>(
    k: &Kernel,
    p: &Param,
    rank: usize,
    v: &Bound<'py, PyAny>,
    d: &mut PjBuffer,
) -> PyResult<(usize, Option<Bound<'py, PyUntypedArray>>)> {
    let want = numpy_name(p.elem);
    let Ok(a) = v.cast::<PyUntypedArray>() else {
        return Err(PyTypeError::new_err(format!(
            "{}(): argument `{}` expects a NumPy array of {want} ({}), got {}",
            k.name,
            p.name,
            p.text,
            type_name(v)
        )));
    };
    let dt = a.dtype();
    if !is_dtype(&dt, p.elem) {
        return Err(PyTypeError::new_err(format!(
            "{}(): argument `{}` expects an array of {want} ({}), got {}; convert it with `.astype({})`",
            k.name,
            p.name,
            p.text,
            dt.str()
                .map_or_else(|_| "another dtype".to_string(), |s| s.to_string()),
            numpy_type(p.elem)
        )));
    }
    if a.ndim() != rank {
        return Err(PyValueError::new_err(format!(
            "{}(): argument `{}` expects {rank} dims ({}), got an array of shape {}",
            k.name,
            p.name,
            p.text,
            shape_text(a.shape())
        )));
    }
    match describe(a, p.elem, d) {
        Ok(()) => Ok((a.len(), None)),
        Err(_) => {
            // read through an aligned, C-ordered copy; the input is untouched
            let copy = a
                .call_method1("copy", ("C",))?
                .cast_into::<PyUntypedArray>()?;
            describe(&copy, p.elem, d)
                .map_err(|why| PyValueError::new_err(format!("argument `{}`: {why}", p.name)))?;
            Ok((copy.len(), Some(copy)))
        }
    }
}

/// `v` as the scalar parameter `p` takes: any real number for a float,
/// an integer within the type's range, a bool for a bool.
fn scalar_argument(k: &Kernel, p: &Param, v: &Bound<'_, PyAny>) -> PyResult<Scalar> {
    let t = p.elem;
    let wrong = |what: &str| {
        PyTypeError::new_err(format!(
            "{}(): argument `{}` expects {what} ({t}), got {}",
            k.name,
            p.name,
            type_name(v)
        ))
    };
    if t.is_float() {
        let x: f64 = v.extract().map_err(|_| wrong("a number"))?;
        return Ok(match t {
            ScalarType::F32 => Scalar::F32(x as f32),
            // rounded once, from the Python float
            ScalarType::F16 => Scalar::F16(half::f16::from_f64(x).to_bits()),
            ScalarType::Bf16 => Scalar::Bf16(half::bf16::from_f64(x).to_bits()),
            _ => Scalar::F64(x),
        });
    }
    if t == ScalarType::Bool {
        let b: bool = v.extract().map_err(|_| wrong("a bool"))?;
        return Ok(Scalar::Bool(b));
    }
    if v.is_instance_of::<PyFloat>() {
        return Err(wrong("an integer"));
    }
    let (lo, hi) = t.int_range().expect("an integer type");
    let out_of_range = || {
        PyValueError::new_err(format!(
            "{}(): argument `{}` = {} is outside the range of {t}, {lo} to {hi}",
            k.name,
            p.name,
            v.str().map_or_else(|_| "?".to_string(), |s| s.to_string())
        ))
    };
    let x: i64 = match v.extract::<i64>() {
        Ok(x) => x,
        // an integer too large for i64 is out of every range
        Err(_) if v.extract::<i128>().is_ok() => return Err(out_of_range()),
        Err(_) => return Err(wrong("an integer")),
    };
    if !(lo..=hi).contains(&x) {
        return Err(out_of_range());
    }
    Ok(Scalar::from_i64(x, t))
}

/// The arrays results are written to: `out`, checked for dtype, rank,
/// writability and (when `shapes` are known) shape, or new arrays of
/// `shapes`.
fn result_arrays<'py>(
    py: Python<'py>,
    k: &Kernel,
    shapes: Option<&[SmallVec<[usize; 4]>]>,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<SmallVec<[Bound<'py, PyUntypedArray>; 2]>> {
    let Some(out) = out else {
        let shapes = shapes.expect("new results need their shapes");
        return k
            .results
            .iter()
            .zip(shapes)
            .map(|((_, e, _, _), s)| empty(py, *e, s))
            .collect();
    };
    let given: SmallVec<[Bound<'py, PyAny>; 2]> =
        if k.results.len() == 1 && out.cast::<PyTuple>().is_err() {
            smallvec::smallvec![out.clone()]
        } else {
            let t = out.cast::<PyTuple>().map_err(|_| {
                PyTypeError::new_err(format!(
                    "{}(): out= expects a tuple of {} arrays, one per result, got {}",
                    k.name,
                    k.results.len(),
                    type_name(out)
                ))
            })?;
            if t.len() != k.results.len() {
                return Err(PyValueError::new_err(format!(
                    "{}(): out= has {} arrays; the kernel has {} results",
                    k.name,
                    t.len(),
                    k.results.len()
                )));
            }
            t.iter().collect()
        };
    let mut arrays = SmallVec::new();
    for (i, ((name, e, rank, text), g)) in k.results.iter().zip(&given).enumerate() {
        let want = numpy_name(*e);
        let a = g.cast::<PyUntypedArray>().map_err(|_| {
            PyTypeError::new_err(format!(
                "{}(): out `{name}` expects a NumPy array of {want} ({text}), got {}",
                k.name,
                type_name(g)
            ))
        })?;
        if !is_dtype(&a.dtype(), *e) {
            return Err(PyTypeError::new_err(format!(
                "{}(): out `{name}` expects an array of {want} ({text}), got {}",
                k.name,
                a.dtype()
                    .str()
                    .map_or_else(|_| "another dtype".to_string(), |s| s.to_string())
            )));
        }
        if a.ndim() != *rank {
            return Err(PyValueError::new_err(format!(
                "{}(): out `{name}` expects {rank} dims ({text}), got an array of shape {}",
                k.name,
                shape_text(a.shape())
            )));
        }
        let shape = shapes.map(|s| &s[i][..]).unwrap_or(a.shape());
        if a.shape() != shape {
            let dim = a
                .shape()
                .iter()
                .zip(shape)
                .position(|(x, y)| x != y)
                .unwrap_or(0);
            return Err(PyValueError::new_err(if a.ndim() != shape.len() {
                format!(
                    "{}(): out `{name}` has shape {}; this call's `{name}` has shape {}",
                    k.name,
                    shape_text(a.shape()),
                    shape_text(shape)
                )
            } else {
                format!(
                    "{}(): out `{name}` has shape {}; this call's `{name}` has shape {} (dim {dim}: {} against {})",
                    k.name,
                    shape_text(a.shape()),
                    shape_text(shape),
                    a.shape()[dim],
                    shape[dim]
                )
            }));
        }
        // SAFETY: reading the flags of a live ndarray.
        let flags = unsafe { (*a.as_array_ptr()).fields.flags };
        if flags & npyffi::NPY_ARRAY_WRITEABLE == 0 {
            return Err(PyValueError::new_err(format!(
                "{}(): out `{name}` is read-only",
                k.name
            )));
        }
        arrays.push(a.clone());
    }
    Ok(arrays)
}

/// A call's descriptors, handed to the thread that runs it (the same
/// thread, with the GIL released).
struct Descriptors {
    args: SmallVec<[RawArg; 8]>,
    results: SmallVec<[*mut PjBuffer; 2]>,
}

// SAFETY: the pointers address descriptors and arrays that the caller
// keeps alive (and the GIL-holding frame keeps referenced) until the
// closure that uses them has returned; the thread that runs it only reads
// the descriptors.
unsafe impl Send for Descriptors {}
unsafe impl Sync for Descriptors {}

/// The shape of every result for these arguments, without running the
/// kernel (its shape function only): what `picojoule.dask` sizes output
/// chunks by. Arrays may be any views of the right dtype and shape,
/// `numpy.broadcast_to` of one element included.
pub fn result_shapes<'py>(
    py: Python<'py>,
    k: &Kernel,
    passed: &Passed<'_, 'py>,
) -> PyResult<Vec<Vec<usize>>> {
    let (values, _) = bind(k, passed, false)?;
    let mut arguments = Arguments::new();
    arguments.fill(k, &values)?;
    let raw = arguments.raw(k);
    // SAFETY: each descriptor describes a live array (kept in `arguments`
    // or by the caller).
    let shapes = unsafe { k.jit().result_shapes_of(&raw) }.map_err(|e| run_error(py, e))?;
    drop(arguments);
    Ok(shapes)
}

/// A call's arguments as the ABI takes them: their descriptors, the
/// scalars, and the copies made where the ABI could not describe an array.
struct Arguments<'py> {
    copies: SmallVec<[Bound<'py, PyUntypedArray>; 1]>,
    descs: SmallVec<[PjBuffer; 4]>,
    scalars: SmallVec<[Scalar; 4]>,
    /// Elements of all the arrays: whether a call is long enough to
    /// release the GIL for.
    elements: usize,
}

impl<'py> Arguments<'py> {
    fn new() -> Arguments<'py> {
        Arguments {
            copies: SmallVec::new(),
            descs: SmallVec::new(),
            scalars: SmallVec::new(),
            elements: 0,
        }
    }

    /// The bound `values`, checked against `k`'s parameters (the caller
    /// keeps them alive for as long as `self`).
    fn fill(&mut self, k: &Kernel, values: &[Borrowed<'_, 'py, PyAny>]) -> PyResult<()> {
        for (p, v) in k.params.iter().zip(values) {
            match p.rank {
                Some(rank) => {
                    self.descs.push(blank());
                    let d = self.descs.last_mut().expect("just pushed");
                    let (elements, copy) = array_argument(k, p, rank, v, d)?;
                    self.elements += elements;
                    self.copies.extend(copy);
                }
                None => self.scalars.push(scalar_argument(k, p, v)?),
            }
        }
        Ok(())
    }

    /// The arguments in parameter order. They address `self`'s
    /// descriptors: `self` must not move while they are used.
    fn raw(&mut self, k: &Kernel) -> SmallVec<[RawArg; 8]> {
        let (mut di, mut si) = (0, 0);
        k.params
            .iter()
            .map(|p| match p.rank {
                Some(_) => {
                    di += 1;
                    RawArg::Array(&mut self.descs[di - 1] as *mut PjBuffer)
                }
                None => {
                    si += 1;
                    RawArg::Scalar(self.scalars[si - 1])
                }
            })
            .collect()
    }
}

/// The shapes of a call's results, from the kernel's shape function.
fn result_shapes_of(
    py: Python<'_>,
    k: &Kernel,
    raw: &[RawArg],
) -> PyResult<SmallVec<[SmallVec<[usize; 4]>; 2]>> {
    let mut extents: SmallVec<[i64; 16]> = SmallVec::from_elem(0, k.result_dims);
    // SAFETY: the caller's descriptors describe live arrays.
    unsafe { k.jit().result_extents_into(raw, &mut extents) }.map_err(|e| run_error(py, e))?;
    let mut shapes = SmallVec::new();
    let mut at = 0;
    for (_, _, rank, _) in &k.results {
        shapes.push(extents[at..at + rank].iter().map(|&e| e as usize).collect());
        at += rank;
    }
    Ok(shapes)
}

/// Binds, checks, allocates and runs; returns the result or a tuple of
/// them.
pub fn call<'py>(py: Python<'py>, k: &Kernel, passed: &Passed<'_, 'py>) -> PyResult<Py<PyAny>> {
    let (values, out) = bind(k, passed, true)?;
    let jk = k.jit();
    // nothing here touches the heap for a kernel of a few arrays
    let mut arguments = Arguments::new();
    arguments.fill(k, &values)?;
    let mut elements = arguments.elements;
    let raw = arguments.raw(k);
    let out = out.filter(|o| !o.is_none());
    let out = out.as_deref();
    // with `out=`, the kernel's entry checks compare the arrays' shapes
    // with what its sizes say; the shapes are computed here only to
    // allocate results, or to explain a mismatch (below)
    let shapes = match out {
        None => Some(result_shapes_of(py, k, &raw)?),
        Some(_) => None,
    };
    let outs = result_arrays(py, k, shapes.as_deref(), out)?;
    let mut out_descs: SmallVec<[PjBuffer; 2]> = SmallVec::new();
    for ((name, e, _, _), a) in k.results.iter().zip(&outs) {
        elements += a.len();
        out_descs.push(blank());
        let d = out_descs.last_mut().expect("just pushed");
        describe(a, *e, d)
            .map_err(|why| PyValueError::new_err(format!("{}(): out `{name}`: {why}", k.name)))?;
    }
    let call = Descriptors {
        args: raw,
        results: out_descs.iter_mut().map(|d| d as *mut PjBuffer).collect(),
    };
    let call = &call;
    let pool = POOLS.with(|p| p.borrow().last().cloned());
    let run = move || {
        // SAFETY: argument descriptors describe live arrays the kernel
        // only reads; result descriptors describe writable arrays that
        // nothing else references yet (new) or that the caller handed over
        // (`out=`), whose shapes the kernel checks before writing.
        let go = || unsafe { jk.call_descriptors(&call.args, &call.results) };
        match pool {
            Some(p) => pj_runtime::parallel::with_pool(Some(p), go),
            None => go(),
        }
    };
    let flight = InFlight::start();
    let result = if elements >= RELEASE_GIL_FROM {
        py.detach(run)
    } else {
        run()
    };
    drop(flight);
    if let Err(e) = result {
        if shapes.is_none() && e.status != pj_runtime::abi::status::INTERRUPTED {
            // say which `out=` array has which wrong shape, if one has
            let shapes = result_shapes_of(py, k, &call.args)?;
            result_arrays(py, k, Some(&shapes), out)?;
        }
        return Err(run_error(py, e));
    }
    drop(arguments);
    // a scalar result comes back as a NumPy scalar, as NumPy's reductions
    // return theirs (into `out=`, it is a 0-d array the caller gave)
    let returned = |a: Bound<'py, PyUntypedArray>| -> PyResult<Bound<'py, PyAny>> {
        if out.is_none() && a.ndim() == 0 {
            a.get_item(PyTuple::empty(py))
        } else {
            Ok(a.into_any())
        }
    };
    if outs.len() == 1 {
        let one = outs.into_iter().next().expect("one result");
        return Ok(returned(one)?.unbind());
    }
    let all = outs
        .into_iter()
        .map(returned)
        .collect::<PyResult<Vec<_>>>()?;
    Ok(PyTuple::new(py, all)?.into_any().unbind())
}
