//! `.npy` files in and out (npyz reads the header). Data goes straight
//! between the file and a runtime [`Buffer`], each element in its own type
//! (one byte per `u8`), for native calls; interpreter tensors are made
//! from that buffer when asked for.

use anyhow::{Context, Result, bail};
use npyz::{DType, Order, TypeChar};
use pj_compiler::codegen::abi::{elem_code, scalar_type};
use pj_compiler::dialects::arith::Scalar;
use pj_compiler::interp::Tensor;
use pj_lang::types::ScalarType;
use pj_runtime::Buffer;
use std::fs::File;
use std::io::BufReader;
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
        (TypeChar::Float, 2) => ScalarType::F16,
        // what `np.save` writes for an `ml_dtypes.bfloat16` array: two
        // bytes NumPy knows nothing of (`.view(ml_dtypes.bfloat16)` reads
        // them back)
        (TypeChar::RawData, 2) => ScalarType::Bf16,
        _ => bail!(
            "{}: dtype `{ts}` is not supported; use bool, int8/16/32/64, uint8/16/32, float16/32/64 or ml_dtypes.bfloat16",
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

/// Checks the magic, version and header of a `.npy` file and returns where
/// its data starts; the reader is left at the start of the file.
fn check_header<R: std::io::Read + std::io::Seek>(file: &mut R, path: &Path) -> Result<u64> {
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
    Ok(start + len)
}

/// Reads an array. Fortran-ordered files are transposed to row-major.
pub fn read(path: &Path) -> Result<Tensor> {
    let file = File::open(path).with_context(|| format!("cannot open `{}`", path.display()))?;
    let file_len = file.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
    read_from(BufReader::new(file), file_len, path)
}

/// Reads an array into a runtime buffer, each element in its own type.
pub fn read_buffer(path: &Path) -> Result<Buffer> {
    let file = File::open(path).with_context(|| format!("cannot open `{}`", path.display()))?;
    let file_len = file.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
    read_buffer_from(BufReader::new(file), file_len, path)
}

/// [`read`] from `file`, `file_len` bytes long, named `path` in messages
/// (for bytes in memory, a `Cursor`).
pub fn read_from<R: std::io::Read + std::io::Seek>(
    mut file: R,
    file_len: u64,
    path: &Path,
) -> Result<Tensor> {
    let h = Header::read(&mut file, file_len, path)?;
    // interpreter values take 16 bytes each: make sure they fit before
    // reading the data
    let count: usize = h.shape.iter().product();
    let mut probe: Vec<Scalar> = Vec::new();
    if probe.try_reserve_exact(count).is_err() {
        bail!(
            "`{}` (shape {:?}) is too large to hold as interpreter values (16 bytes per element)",
            path.display(),
            h.shape
        );
    }
    drop(probe);
    let b = h.read_data(&mut file, path)?;
    let (elem, shape) = (scalar_type(b.elem()), b.shape());
    Tensor::try_from_le_bytes(elem, shape.clone(), b.bytes()).ok_or_else(|| {
        anyhow::anyhow!(
            "`{}` (shape {shape:?}) is too large to hold as interpreter values (16 bytes per element)",
            path.display()
        )
    })
}

/// A runtime buffer's elements as interpreter values (for what only
/// reads values: a picture of them), or an error if they do not fit in
/// memory at 16 bytes each.
pub fn tensor_of(b: &Buffer) -> Result<Tensor> {
    let (elem, shape) = (scalar_type(b.elem()), b.shape());
    Tensor::try_from_le_bytes(elem, shape.clone(), b.bytes()).ok_or_else(|| {
        anyhow::anyhow!("an array of shape {shape:?} is too large to hold as interpreter values")
    })
}

/// [`read_buffer`] from `file`, `file_len` bytes long.
pub fn read_buffer_from<R: std::io::Read + std::io::Seek>(
    mut file: R,
    file_len: u64,
    path: &Path,
) -> Result<Buffer> {
    Header::read(&mut file, file_len, path)?.read_data(&mut file, path)
}

/// What a `.npy` header says, checked against the file's length.
struct Header {
    elem: ScalarType,
    shape: Vec<usize>,
    fortran: bool,
    big_endian: bool,
    data_start: u64,
}

impl Header {
    fn read<R: std::io::Read + std::io::Seek>(
        file: &mut R,
        file_len: u64,
        path: &Path,
    ) -> Result<Header> {
        let data_start = check_header(file, path)?;
        let npy = npyz::NpyHeader::from_reader(&mut *file)
            .with_context(|| format!("`{}` is not a valid .npy file", path.display()))?;
        let dtype = npy.dtype();
        let elem = dtype_to_scalar(&dtype, path)?;
        let big_endian =
            matches!(&dtype, DType::Plain(ts) if ts.endianness() == npyz::Endianness::Big);
        let shape: Vec<u64> = npy.shape().to_vec();
        let count = shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d));
        match count {
            Some(n)
                if n.saturating_mul(elem.size_bytes() as u64)
                    <= file_len.saturating_sub(data_start) => {}
            _ => bail!(
                "`{}` is truncated or corrupt: its header promises shape {shape:?}",
                path.display()
            ),
        }
        Ok(Header {
            elem,
            shape: shape.iter().map(|&d| d as usize).collect(),
            fortran: npy.order() == Order::Fortran,
            big_endian,
            data_start,
        })
    }

    /// The elements, row-major, little-endian, bools 0 or 1.
    fn read_data<R: std::io::Read + std::io::Seek>(
        &self,
        file: &mut R,
        path: &Path,
    ) -> Result<Buffer> {
        let shape = &self.shape;
        let size = self.elem.size_bytes();
        let mut buf = Buffer::zeros(elem_code(self.elem), shape).map_err(|e| {
            anyhow::anyhow!("cannot hold `{}` (shape {shape:?}): {e}", path.display())
        })?;
        file.seek(std::io::SeekFrom::Start(self.data_start))?;
        file.read_exact(buf.bytes_mut())
            .with_context(|| format!("cannot read the data of `{}`", path.display()))?;
        let bytes = buf.bytes_mut();
        if self.big_endian {
            for e in bytes.chunks_exact_mut(size) {
                e.reverse();
            }
        }
        if self.elem == ScalarType::Bool {
            // a bool is 0 or 1 wherever it goes; NumPy reads any other byte as true
            for b in bytes.iter_mut() {
                *b = u8::from(*b != 0);
            }
        }
        if self.fortran && shape.len() > 1 {
            buf = fortran_to_c(&buf, shape, size)
                .map_err(|e| anyhow::anyhow!("cannot transpose `{}`: {e}", path.display()))?;
        }
        Ok(buf)
    }
}

/// The row-major copy of a column-major array of `size`-byte elements.
fn fortran_to_c(
    data: &Buffer,
    shape: &[usize],
    size: usize,
) -> Result<Buffer, pj_runtime::buffer::BufferError> {
    let mut out = Buffer::zeros(data.elem(), shape)?;
    let (src, dst) = (data.bytes(), out.bytes_mut());
    let n = dst.len() / size;
    let mut idx = vec![0usize; shape.len()];
    for i in 0..n {
        // column-major offset of the row-major index `idx`
        let mut off = 0;
        for d in (0..shape.len()).rev() {
            off = off * shape[d] + idx[d];
        }
        dst[i * size..(i + 1) * size].copy_from_slice(&src[off * size..(off + 1) * size]);
        for d in (0..shape.len()).rev() {
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    Ok(out)
}

/// Writes a buffer atomically (see [`crate::write_atomic`]): a version
/// 1.0 header (2.0 past 64 KiB), then the buffer's bytes as they are.
pub fn write_buffer(path: &Path, b: &Buffer) -> Result<()> {
    let header = header_bytes(scalar_type(b.elem()), &b.shape());
    crate::write_atomic_parts(&[(path, &[&header, b.bytes()])])
}

/// The header of a C-ordered little-endian `.npy` file: magic, version,
/// length, and a dict padded with spaces to a newline at a multiple of 64
/// bytes (the format's alignment of the data).
fn header_bytes(elem: ScalarType, shape: &[usize]) -> Vec<u8> {
    let descr = match elem {
        ScalarType::Bool => "|b1",
        ScalarType::I8 => "|i1",
        ScalarType::U8 => "|u1",
        ScalarType::I16 => "<i2",
        ScalarType::U16 => "<u2",
        ScalarType::I32 => "<i4",
        ScalarType::U32 => "<u4",
        ScalarType::I64 => "<i8",
        ScalarType::F32 => "<f4",
        ScalarType::F64 => "<f8",
        ScalarType::F16 => "<f2",
        // as `np.save` writes an `ml_dtypes.bfloat16` array
        ScalarType::Bf16 => "<V2",
    };
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    let v2 = dict.len() + 12 > usize::from(u16::MAX);
    let prefix = if v2 { 12 } else { 10 };
    while !(prefix + dict.len() + 1).is_multiple_of(64) {
        dict.push(' ');
    }
    dict.push('\n');
    let mut out = b"\x93NUMPY".to_vec();
    if v2 {
        out.extend([2, 0]);
        out.extend((dict.len() as u32).to_le_bytes());
    } else {
        out.extend([1, 0]);
        out.extend((dict.len() as u16).to_le_bytes());
    }
    out.extend(dict.as_bytes());
    out
}

/// Writes an array atomically (see [`crate::write_atomic`]), as
/// [`write_buffer`] does.
pub fn write(path: &Path, t: &Tensor) -> Result<()> {
    let header = header_bytes(t.elem, &t.shape);
    crate::write_atomic_parts(&[(path, &[&header, &t.to_le_bytes()])])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fortran_order_is_transposed() {
        // 2x3 array [[0,1,2],[3,4,5]] stored column-major: 0 3 1 4 2 5
        let bytes: Vec<u8> = [0i32, 3, 1, 4, 2, 5]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let f = Buffer::from_bytes(pj_runtime::ElemType::I32, &[2, 3], &bytes).unwrap();
        let c = fortran_to_c(&f, &[2, 3], 4).unwrap();
        let want: Vec<u8> = (0i32..6).flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(c.bytes(), &want[..]);
    }

    #[test]
    fn buffers_round_trip_through_files_in_their_own_type() {
        let dir = tempfile::tempdir().unwrap();
        for (elem, shape) in [
            (ScalarType::U8, vec![3, 5]),
            (ScalarType::Bool, vec![7]),
            (ScalarType::F64, vec![2, 1, 3]),
            (ScalarType::I16, vec![0, 4]),
            (ScalarType::F32, vec![]),
        ] {
            let n: usize = shape.iter().product();
            let bytes: Vec<u8> = (0..n * elem.size_bytes())
                .map(|i| {
                    if elem == ScalarType::Bool {
                        (i % 2) as u8
                    } else {
                        (i * 37 % 251) as u8
                    }
                })
                .collect();
            let b = Buffer::from_bytes(elem_code(elem), &shape, &bytes).unwrap();
            let p = dir.path().join("b.npy");
            write_buffer(&p, &b).unwrap();
            // npyz parses the header this module writes by hand
            let back = read_buffer(&p).unwrap();
            assert_eq!((back.elem(), back.shape()), (b.elem(), b.shape()), "{elem}");
            assert_eq!(back.bytes(), b.bytes(), "{elem}");
            // and the tensor path agrees
            let t = read(&p).unwrap();
            assert_eq!(t.to_le_bytes(), bytes, "{elem}");
            assert_eq!(
                std::fs::metadata(&p).unwrap().len() % 64,
                (n * elem.size_bytes()) as u64 % 64
            );
        }
    }

    #[test]
    fn a_sparse_file_larger_than_memory_is_an_error_not_an_abort() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sparse.npy");
        // 2^40 one-byte elements: a terabyte of holes, valid as a file
        let mut f = npy_with_header(
            "{'descr': '|u1', 'fortran_order': False, 'shape': (1099511627776,), }",
        );
        f.truncate(f.len() - 16);
        let header_len = f.len() as u64;
        std::fs::write(&p, &f).unwrap();
        let file = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
        if file.set_len(header_len + (1 << 40)).is_err() {
            return; // a file system without sparse files: nothing to test
        }
        let err = read(&p).unwrap_err().to_string();
        assert!(
            err.contains("too large to hold as interpreter values"),
            "{err}"
        );
        let err = read_buffer(&p).unwrap_err().to_string();
        assert!(err.contains("cannot hold"), "{err}");
    }

    #[test]
    fn big_endian_files_and_odd_bools_read_as_their_values() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("be.npy");
        let mut f = npy_with_header("{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }");
        f.truncate(f.len() - 16);
        f.extend([0, 0, 1, 2, 0xff, 0xff, 0xff, 0xfe]);
        std::fs::write(&p, &f).unwrap();
        let b = read_buffer(&p).unwrap();
        assert_eq!(b.bytes(), &[2, 1, 0, 0, 0xfe, 0xff, 0xff, 0xff]);
        let mut f = npy_with_header("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }");
        f.truncate(f.len() - 16);
        f.extend([0, 7, 1]);
        std::fs::write(&p, &f).unwrap();
        assert_eq!(read_buffer(&p).unwrap().bytes(), &[0, 1, 1]);
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
