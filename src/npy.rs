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

/// The deepest nesting of brackets a header may have: NumPy writes a dict
/// holding a tuple (`{'shape': (3, 4), ...}`), structured dtypes a list of
/// tuples. Deeper headers are refused before the header parser sees them
/// (its time doubled per level: a 192-byte file hung).
const MAX_HEADER_NESTING: usize = 4;

/// Checks the magic, version and header of a `.npy` file without consuming
/// it (the reader is rewound by peeking into its buffer).
fn check_header<R: std::io::Read + std::io::Seek>(file: &mut R, path: &Path) -> Result<()> {
    use std::io::SeekFrom;
    let bad = |why: &str| anyhow::anyhow!("`{}` is not a valid .npy file: {why}", path.display());
    let mut head = [0u8; 12];
    let n = file.read(&mut head)?;
    if n < 10 || &head[..6] != b"\x93NUMPY" {
        return Err(bad("it does not start with the .npy magic bytes"));
    }
    let (len, start) = match head[6] {
        1 => (u64::from(u16::from_le_bytes([head[8], head[9]])), 10),
        2 | 3 if n >= 12 => (
            u64::from(u32::from_le_bytes([head[8], head[9], head[10], head[11]])),
            12,
        ),
        v => return Err(bad(&format!("unknown format version {v}"))),
    };
    // NumPy's own reader refuses headers over 10 kB unless told otherwise
    if len > 1 << 20 {
        return Err(bad(&format!("its header is {len} bytes long")));
    }
    file.seek(SeekFrom::Start(start))?;
    let mut header = vec![0u8; len as usize];
    file.read_exact(&mut header)
        .map_err(|_| bad("the file ends inside its header"))?;
    let (mut depth, mut deepest, mut quote) = (0usize, 0usize, None);
    for &c in &header {
        match (quote, c) {
            (Some(q), _) if c == q => quote = None,
            (Some(_), _) => {}
            (None, b'\'' | b'"') => quote = Some(c),
            (None, b'(' | b'[' | b'{') => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            (None, b')' | b']' | b'}') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if deepest > MAX_HEADER_NESTING {
        return Err(bad(&format!(
            "its header nests brackets {deepest} deep (NumPy writes at most {MAX_HEADER_NESTING})"
        )));
    }
    file.seek(SeekFrom::Start(0))?;
    Ok(())
}

/// Reads an array. Fortran-ordered files are transposed to row-major.
pub fn read(path: &Path) -> Result<Tensor> {
    let file = File::open(path).with_context(|| format!("cannot open `{}`", path.display()))?;
    let file_len = file.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
    read_from(BufReader::new(file), file_len, path)
}

/// Reads an array from `file`, `file_len` bytes long, named `path` in
/// messages (for files, [`read`]; for bytes in memory, a `Cursor`).
pub fn read_from<R: std::io::Read + std::io::Seek>(
    mut file: R,
    file_len: u64,
    path: &Path,
) -> Result<Tensor> {
    check_header(&mut file, path)?;
    let npy = npyz::NpyFile::new(file)
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

    fn npy_with_header(header: &str) -> Vec<u8> {
        let mut h = header.to_string();
        while !(10 + h.len() + 1).is_multiple_of(64) {
            h.push(' ');
        }
        h.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend((h.len() as u16).to_le_bytes());
        out.extend(h.as_bytes());
        out.extend([0u8; 16]);
        out
    }

    #[test]
    fn deeply_nested_headers_are_refused_before_parsing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("nested.npy");
        // this once made the header parser take time doubling per level
        let lists = format!("{}0{}", "[".repeat(40), "]".repeat(40));
        let header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {lists}, }}");
        std::fs::write(&p, npy_with_header(&header)).unwrap();
        let err = read(&p).unwrap_err().to_string();
        assert!(err.contains("nests brackets 41 deep"), "{err}");
        // an ordinary header still reads
        let ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }";
        std::fs::write(&p, npy_with_header(ok)).unwrap();
        assert_eq!(read(&p).unwrap().shape, vec![2, 2]);
        // and a file that is not .npy at all says so
        std::fs::write(&p, b"PK\x03\x04 not numpy").unwrap();
        let err = read(&p).unwrap_err().to_string();
        assert!(err.contains("magic bytes"), "{err}");
    }
}
