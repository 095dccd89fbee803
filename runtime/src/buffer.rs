//! A safe, owned buffer for Rust callers: aligned memory plus the
//! descriptor kernels take.

use crate::abi::{ElemType, MAX_RANK, PjBuffer};
use crate::alloc::{pj_rt_alloc, pj_rt_free};

/// Owned, aligned, row-major memory holding an n-dimensional array.
#[derive(Debug)]
pub struct Buffer {
    desc: PjBuffer,
    bytes: usize,
}

/// Why a buffer could not be made.
#[derive(Debug, PartialEq, Eq)]
pub enum BufferError {
    /// More dims than [`MAX_RANK`].
    RankTooLarge(usize),
    /// The size overflows or the allocation failed.
    TooLarge,
    /// The data length does not match the shape.
    LengthMismatch {
        /// Elements the shape needs.
        expected: usize,
        /// Elements given.
        got: usize,
    },
}

impl std::fmt::Display for BufferError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BufferError::RankTooLarge(r) => {
                write!(f, "an array of {r} dims; arrays have at most {MAX_RANK}")
            }
            BufferError::TooLarge => {
                write!(
                    f,
                    "the array is larger than memory allows (allocation failed)"
                )
            }
            BufferError::LengthMismatch { expected, got } => {
                write!(f, "{got} elements given for a shape of {expected}")
            }
        }
    }
}

impl std::error::Error for BufferError {}

impl Buffer {
    /// A zero-filled buffer.
    pub fn zeros(elem: ElemType, shape: &[usize]) -> Result<Buffer, BufferError> {
        if shape.len() > MAX_RANK {
            return Err(BufferError::RankTooLarge(shape.len()));
        }
        let count = shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or(BufferError::TooLarge)?;
        let bytes = count
            .checked_mul(elem.size())
            .ok_or(BufferError::TooLarge)?;
        let data = pj_rt_alloc(bytes);
        if data.is_null() {
            return Err(BufferError::TooLarge);
        }
        // SAFETY: `data` has `bytes` writable bytes.
        unsafe { std::ptr::write_bytes(data, 0, bytes) };
        let extents: Vec<i64> = shape.iter().map(|&n| n as i64).collect();
        let desc = PjBuffer::row_major(data, elem, &extents);
        Ok(Buffer { desc, bytes })
    }

    /// A buffer holding `data` (row-major) with `shape`; `data` is raw
    /// little-endian element bytes of type `elem`.
    pub fn from_bytes(elem: ElemType, shape: &[usize], data: &[u8]) -> Result<Buffer, BufferError> {
        let b = Buffer::zeros(elem, shape)?;
        if data.len() != b.bytes {
            return Err(BufferError::LengthMismatch {
                expected: b.bytes / elem.size(),
                got: data.len() / elem.size(),
            });
        }
        // SAFETY: both regions hold `b.bytes` bytes and do not overlap.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), b.desc.data, b.bytes) };
        Ok(b)
    }

    /// The element bytes, row-major.
    pub fn bytes(&self) -> &[u8] {
        if self.bytes == 0 {
            return &[];
        }
        // SAFETY: owned allocation of `bytes` bytes.
        unsafe { std::slice::from_raw_parts(self.desc.data, self.bytes) }
    }

    /// The element bytes, row-major, to fill in place.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        if self.bytes == 0 {
            return &mut [];
        }
        // SAFETY: owned allocation of `bytes` bytes, borrowed mutably once.
        unsafe { std::slice::from_raw_parts_mut(self.desc.data, self.bytes) }
    }

    /// The element type.
    pub fn elem(&self) -> ElemType {
        ElemType::from_code(self.desc.elem_type).expect("constructed with a valid type")
    }

    /// The extents.
    pub fn shape(&self) -> Vec<usize> {
        self.desc.shape[..self.desc.rank as usize]
            .iter()
            .map(|&d| d as usize)
            .collect()
    }

    /// The descriptor to pass to a kernel.
    pub fn descriptor(&mut self) -> *mut PjBuffer {
        &mut self.desc
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // SAFETY: allocated in `zeros` with `self.bytes`.
        unsafe { pj_rt_free(self.desc.data, self.bytes) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_row_major_and_checked() {
        let mut b = Buffer::from_bytes(ElemType::U8, &[2, 3], &[1, 2, 3, 4, 5, 6]).unwrap();
        let d = unsafe { *b.descriptor() };
        assert_eq!(
            (d.rank, d.shape[0], d.shape[1], d.strides[0], d.strides[1]),
            (2, 2, 3, 3, 1)
        );
        assert_eq!(b.bytes(), &[1, 2, 3, 4, 5, 6]);
        assert_eq!(
            Buffer::from_bytes(ElemType::U8, &[2, 2], &[1]).unwrap_err(),
            BufferError::LengthMismatch {
                expected: 4,
                got: 1
            }
        );
        assert_eq!(
            Buffer::zeros(ElemType::F32, &[1; 9]).unwrap_err(),
            BufferError::RankTooLarge(9)
        );
        assert_eq!(
            Buffer::zeros(ElemType::F64, &[usize::MAX, 2]).unwrap_err(),
            BufferError::TooLarge
        );
        assert!(
            Buffer::zeros(ElemType::F32, &[0, 5])
                .unwrap()
                .bytes()
                .is_empty()
        );
    }
}
