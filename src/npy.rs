//! `.npy` files in and out, as interpreter tensors (npyz does the format).

use anyhow::{Context, Result, bail};
use npyz::{DType, Order, TypeChar};
use pj_compiler::dialects::arith::Scalar;
use pj_compiler::interp::Tensor;
use pj_lang::types::ScalarType;
use std::fs::File;
use std::io::{BufReader, Write};
use std::path::Path;

fn dtype_to_scalar(dtype: &DType, path: &Path) -> Result<ScalarType> {
    let DType::Plain(ts) = dtype else {
        bail!(
            "{}: structured arrays are not supported; save a plain numeric array",
            path.display()
        );
    };
    let t = match (ts.type_char(), ts.size_field()) {
        (TypeChar::Bool, 1) => ScalarType::Bool,
        (TypeChar::Int, 1) => ScalarType::I8,
        (TypeChar::Int, 2) => ScalarType::I16,
        (TypeChar::Int, 4) => ScalarType::I32,
        (TypeChar::Int, 8) => ScalarType::I64,
        (TypeChar::Uint, 1) => ScalarType::U8,
        (TypeChar::Uint, 2) => ScalarType::U16,
        (TypeChar::Uint, 4) => ScalarType::U32,
        (TypeChar::Float, 4) => ScalarType::F32,
        (TypeChar::Float, 8) => ScalarType::F64,
        _ => bail!(
            "{}: dtype `{ts}` is not supported; use bool, int8/16/32/64, uint8/16/32, float32 or float64",
            path.display()
        ),
    };
    Ok(t)
}

/// Reads an array. Fortran-ordered files are transposed to row-major.
pub fn read(path: &Path) -> Result<Tensor> {
    let file = File::open(path).with_context(|| format!("cannot open `{}`", path.display()))?;
    let file_len = file.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
    let npy = npyz::NpyFile::new(BufReader::new(file))
        .with_context(|| format!("`{}` is not a valid .npy file", path.display()))?;
    let elem = dtype_to_scalar(&npy.dtype(), path)?;
    let shape: Vec<u64> = npy.shape().to_vec();
    let count = shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d));
    match count {
        Some(n) if n.saturating_mul(elem.size_bytes() as u64) <= file_len => {}
        _ => bail!(
            "`{}` is truncated or corrupt: its header promises shape {shape:?}",
            path.display()
        ),
    }
    let order = npy.order();
    macro_rules! load {
        ($t:ty, $wrap:expr) => {
            npy.into_vec::<$t>()
                .with_context(|| format!("cannot read the data of `{}`", path.display()))?
                .into_iter()
                .map($wrap)
                .collect::<Vec<Scalar>>()
        };
    }
    let data = match elem {
        ScalarType::Bool => load!(bool, Scalar::Bool),
        ScalarType::I8 => load!(i8, Scalar::I8),
        ScalarType::I16 => load!(i16, Scalar::I16),
        ScalarType::I32 => load!(i32, Scalar::I32),
        ScalarType::I64 => load!(i64, Scalar::I64),
        ScalarType::U8 => load!(u8, Scalar::U8),
        ScalarType::U16 => load!(u16, Scalar::U16),
        ScalarType::U32 => load!(u32, Scalar::U32),
        ScalarType::F32 => load!(f32, Scalar::F32),
        ScalarType::F64 => load!(f64, Scalar::F64),
    };
    let shape: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
    if data.len() != shape.iter().product::<usize>() {
        bail!(
            "`{}`: data length does not match shape {shape:?}",
            path.display()
        );
    }
    let data = if order == Order::Fortran {
        fortran_to_c(&data, &shape)
    } else {
        data
    };
    Ok(Tensor::new(elem, shape, data))
}

fn fortran_to_c(data: &[Scalar], shape: &[usize]) -> Vec<Scalar> {
    let n = data.len();
    let mut out = Vec::with_capacity(n);
    let mut idx = vec![0usize; shape.len()];
    for _ in 0..n {
        // column-major offset of the row-major index `idx`
        let mut off = 0;
        for d in (0..shape.len()).rev() {
            off = off * shape[d] + idx[d];
        }
        out.push(data[off]);
        for d in (0..shape.len()).rev() {
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    out
}

/// Writes an array atomically (see [`crate::write_atomic`]).
pub fn write(path: &Path, t: &Tensor) -> Result<()> {
    let mut bytes = Vec::new();
    write_to(&mut bytes, t)?;
    crate::write_atomic(&[(path, &bytes)])
}

fn write_to<W: Write>(w: W, t: &Tensor) -> Result<()> {
    let shape: Vec<u64> = t.shape.iter().map(|&d| d as u64).collect();
    macro_rules! save {
        ($t:ty, $pat:path) => {{
            let mut out = npyz::WriteOptions::<$t>::new()
                .default_dtype()
                .shape(&shape)
                .writer(w)
                .begin_nd()?;
            out.extend(t.data.iter().map(|s| match s {
                $pat(v) => *v,
                other => unreachable!("element {other:?} in an array of {}", t.elem),
            }))?;
            out.finish()?;
        }};
    }
    use npyz::WriterBuilder as _;
    match t.elem {
        ScalarType::Bool => save!(bool, Scalar::Bool),
        ScalarType::I8 => save!(i8, Scalar::I8),
        ScalarType::I16 => save!(i16, Scalar::I16),
        ScalarType::I32 => save!(i32, Scalar::I32),
        ScalarType::I64 => save!(i64, Scalar::I64),
        ScalarType::U8 => save!(u8, Scalar::U8),
        ScalarType::U16 => save!(u16, Scalar::U16),
        ScalarType::U32 => save!(u32, Scalar::U32),
        ScalarType::F32 => save!(f32, Scalar::F32),
        ScalarType::F64 => save!(f64, Scalar::F64),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fortran_order_is_transposed() {
        // 2x3 array [[0,1,2],[3,4,5]] stored column-major: 0 3 1 4 2 5
        let f: Vec<Scalar> = [0, 3, 1, 4, 2, 5].into_iter().map(Scalar::I32).collect();
        let c = fortran_to_c(&f, &[2, 3]);
        assert_eq!(c, (0..6).map(Scalar::I32).collect::<Vec<_>>());
    }
}
