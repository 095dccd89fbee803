//! A kernel's arguments from the command line, as `pj run` and `pj
//! calibrate` take them: `--arg NAME=PATH.npy` for arrays, `--arg
//! NAME=VALUE` (or a 0-d `.npy`) for scalars; and which kernel of a file
//! they are for.

use anyhow::{Context, Result, anyhow, bail};
use picojoule::{image_io, npy};
use pj_compiler::Module;
use pj_compiler::dialects::arith::Scalar;
use pj_compiler::interp::Value;
use pj_compiler::ir::{ScalarType, Type};
use std::collections::HashMap;
use std::path::Path;

/// `kernel`, or the file's only kernel; an error naming the choices.
pub fn choose_kernel(m: &Module, path: &Path, kernel: Option<&str>) -> Result<String> {
    let kernels = m.kernel_names();
    let name = match kernel {
        Some(k) => k.to_string(),
        None if kernels.len() == 1 => kernels[0].clone(),
        None => bail!(
            "`{}` has {} kernels ({}); choose one with --kernel",
            path.display(),
            kernels.len(),
            kernels.join(", ")
        ),
    };
    if m.kernel(&name).is_none() {
        bail!(
            "no kernel named `{name}` in `{}`; it has: {}",
            path.display(),
            kernels.join(", ")
        );
    }
    Ok(name)
}

/// The values of `params` (name, type) from `--arg NAME=...` flags: for
/// each, an interpreter value, or with `native` a runtime buffer for an
/// array (its elements kept in their own type; the value is then a
/// placeholder).
pub fn load_args(
    kernel: &str,
    params: &[(String, Type)],
    args: &[String],
    native: bool,
) -> Result<(Vec<Value>, Vec<Option<pj_runtime::Buffer>>)> {
    let given = given_args(kernel, params, args)?;
    let mut values = Vec::new();
    let mut buffers = Vec::new();
    for (p, ty) in params {
        let Some(v) = given.get(p.as_str()) else {
            let hint = if ty.rank().is_some() {
                "PATH.npy"
            } else {
                "VALUE"
            };
            bail!("missing argument `{p}` ({ty}); pass --arg {p}={hint}");
        };
        let mut buffer = None;
        values.push(match ty {
            Type::Vector { .. } => unreachable!("kernel parameters are never vectors (verified)"),
            // a picture: f32 in [0, 1], [H, W] or [H, W, 3], as the REPL's `load`
            Type::Tensor { .. } | Type::Buffer { .. } if image_io::is_image(Path::new(v)) => {
                let t = image_io::read(Path::new(v)).with_context(|| format!("argument `{p}`"))?;
                same_elem(p, ty, v, t.elem)?;
                if native {
                    buffer = Some(
                        pj_compiler::codegen::kernel::to_buffer(&t)
                            .map_err(|e| anyhow!("argument `{p}`: {e}"))?,
                    );
                }
                Value::Array(t)
            }
            Type::Tensor { .. } | Type::Buffer { .. } if native => {
                buffer = Some(array_buffer(p, ty, v)?);
                Value::Scalar(Scalar::Bool(false)) // unused: the buffer is passed
            }
            Type::Tensor { .. } | Type::Buffer { .. } => {
                let t = npy::read(Path::new(v)).with_context(|| format!("argument `{p}`"))?;
                same_elem(p, ty, v, t.elem)?;
                Value::Array(t)
            }
            Type::Scalar(t) => {
                if v.ends_with(".npy") {
                    let a = npy::read(Path::new(v)).with_context(|| format!("argument `{p}`"))?;
                    if !a.shape.is_empty() {
                        bail!(
                            "argument `{p}` is a {t} scalar, but `{v}` holds an array of shape {:?}",
                            a.shape
                        );
                    }
                    Value::Scalar(a.data[0])
                } else {
                    Value::Scalar(
                        parse_scalar(v, *t)
                            .ok_or_else(|| anyhow!("argument `{p}`: `{v}` is not a valid {t}"))?,
                    )
                }
            }
        });
        buffers.push(buffer);
    }
    Ok((values, buffers))
}

/// The sizes the loaded arguments bind (`H` → the rows of the array
/// given for `img: f32[H, W]`): what `--quantize=auto` weighs its choices
/// at.
pub fn bound_sizes(
    params: &[(String, Type)],
    values: &[Value],
    buffers: &[Option<pj_runtime::Buffer>],
) -> HashMap<String, i64> {
    let mut sizes = HashMap::new();
    for (((_, ty), v), b) in params.iter().zip(values).zip(buffers) {
        let Type::Tensor { dims, .. } = ty else {
            continue;
        };
        let shape: Vec<usize> = match (b, v) {
            (Some(b), _) => b.shape(),
            (None, Value::Array(t)) => t.shape.clone(),
            _ => continue,
        };
        for (d, n) in dims.iter().zip(shape) {
            if let pj_compiler::ir::Dim::Sym(s) = d {
                sizes.entry(s.clone()).or_insert(n as i64);
            }
        }
    }
    sizes
}

/// The `--arg NAME=VALUE` flags by parameter name, each naming a
/// parameter of `kernel` once.
pub fn given_args<'a>(
    kernel: &str,
    params: &[(String, Type)],
    args: &'a [String],
) -> Result<HashMap<&'a str, &'a str>> {
    let mut given: HashMap<&str, &str> = HashMap::new();
    for a in args {
        let (k, v) = split_kv(a, "--arg")?;
        if !params.iter().any(|(p, _)| p == k) {
            let names: Vec<&str> = params.iter().map(|(p, _)| p.as_str()).collect();
            bail!(
                "kernel `{kernel}` has no parameter `{k}`; its parameters are: {}",
                names.join(", ")
            );
        }
        if given.insert(k, v).is_some() {
            bail!("argument `{k}` is given twice");
        }
    }
    Ok(given)
}

/// The array in `file` (`.npy`, or a picture) for parameter `p` of type
/// `ty`, as a runtime buffer in its own element type (which must be the
/// parameter's).
pub fn array_buffer(p: &str, ty: &Type, file: &str) -> Result<pj_runtime::Buffer> {
    let path = Path::new(file);
    let b = if image_io::is_image(path) {
        let t = image_io::read(path).with_context(|| format!("argument `{p}`"))?;
        pj_compiler::codegen::kernel::to_buffer(&t).map_err(|e| anyhow!("argument `{p}`: {e}"))?
    } else {
        npy::read_buffer(path).with_context(|| format!("argument `{p}`"))?
    };
    same_elem(
        p,
        ty,
        file,
        pj_compiler::codegen::abi::scalar_type(b.elem()),
    )?;
    Ok(b)
}

/// An error unless the array read from `file` for parameter `p` (of type
/// `ty`) has its element type, saying how to convert it.
fn same_elem(p: &str, ty: &Type, file: &str, got: ScalarType) -> Result<()> {
    let want = ty.elem();
    if want == got {
        return Ok(());
    }
    let numpy = |t: ScalarType| match t {
        ScalarType::Bool => "numpy.bool_",
        ScalarType::I8 => "numpy.int8",
        ScalarType::I16 => "numpy.int16",
        ScalarType::I32 => "numpy.int32",
        ScalarType::I64 => "numpy.int64",
        ScalarType::U8 => "numpy.uint8",
        ScalarType::U16 => "numpy.uint16",
        ScalarType::U32 => "numpy.uint32",
        ScalarType::F16 => "numpy.float16",
        ScalarType::F32 => "numpy.float32",
        ScalarType::F64 => "numpy.float64",
        ScalarType::Bf16 => "ml_dtypes.bfloat16",
    };
    let how = if image_io::is_image(Path::new(file)) {
        format!(
            "a picture reads as f32 in [0, 1]; give `{p}` an f32 array, or convert the picture to a .npy of {want}"
        )
    } else {
        format!(
            "convert it: `numpy.save(\"{file}\", numpy.load(\"{file}\").astype({}))`",
            numpy(want)
        )
    };
    bail!("argument `{p}` is {ty}, but `{file}` holds {got} values; {how}")
}

pub fn parse_scalar(text: &str, t: ScalarType) -> Option<Scalar> {
    let text = text.trim();
    Some(match t {
        ScalarType::Bool => Scalar::Bool(text.parse().ok()?),
        ScalarType::F32 => Scalar::F32(text.parse().ok()?),
        ScalarType::F64 => Scalar::F64(text.parse().ok()?),
        t if t.is_half() => Scalar::narrow_half(text.parse().ok()?, t),
        t => {
            let v: i64 = text.parse().ok()?;
            let (lo, hi) = t.int_range()?;
            if v < lo || v > hi {
                return None;
            }
            Scalar::from_i64(v, t)
        }
    })
}

pub fn split_kv<'a>(s: &'a str, flag: &str) -> Result<(&'a str, &'a str)> {
    s.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| anyhow!("`{flag} {s}` must have the form NAME=VALUE"))
}
