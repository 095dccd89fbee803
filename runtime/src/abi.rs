//! The kernel ABI, shared by JIT and AOT code and by the C header.
//!
//! ```c
//! #define PJ_MAX_RANK 8
//! typedef struct pj_buffer {
//!     void*   data;                  // first element
//!     int64_t shape[PJ_MAX_RANK];    // extents; entries past `rank` are ignored
//!     int64_t strides[PJ_MAX_RANK];  // in elements, not bytes
//!     int32_t elem_type;             // PJ_F32, ...
//!     int32_t rank;
//! } pj_buffer;
//! // int32_t blur(const pj_buffer* input, const pj_buffer* out);
//! ```
//!
//! A kernel takes one `pj_buffer*` per array parameter, each scalar
//! parameter by value, then one `pj_buffer*` per result (allocated by the
//! caller with the shape the kernel's `_shape` companion reports), and
//! returns a status: 0, or one of [`status`], with a message available from
//! `pj_last_error()`. At entry the kernel checks element types, ranks,
//! shapes and size names, and that no result's memory overlaps an array
//! argument's (`PJ_BAD_ARGUMENT`); a mismatch returns a status before
//! anything is read or written.
//!
//! `int32_t pj_set_threads(int32_t n)` sizes the worker pool of parallel
//! loops (1 to 1024 threads; default: the `PJ_THREADS` environment
//! variable, else one per core).

/// Largest rank a descriptor holds.
pub const MAX_RANK: usize = 8;

/// A buffer descriptor (see the module documentation).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PjBuffer {
    /// Address of the element at index 0 in every dim.
    pub data: *mut u8,
    /// Extent of each dim.
    pub shape: [i64; MAX_RANK],
    /// Distance between neighbours along each dim, in elements.
    pub strides: [i64; MAX_RANK],
    /// An [`ElemType`] code.
    pub elem_type: i32,
    /// Number of dims.
    pub rank: i32,
}

impl PjBuffer {
    /// A descriptor of `elem` elements at `data` with `shape` and `strides`
    /// (in elements; at most [`MAX_RANK`] of each, the rest left 0).
    pub fn new(data: *mut u8, elem: ElemType, shape: &[i64], strides: &[i64]) -> PjBuffer {
        let mut b = PjBuffer {
            data,
            shape: [0; MAX_RANK],
            strides: [0; MAX_RANK],
            elem_type: elem as i32,
            rank: shape.len() as i32,
        };
        b.shape[..shape.len()].copy_from_slice(shape);
        b.strides[..strides.len()].copy_from_slice(strides);
        b
    }

    /// A row-major descriptor of `shape` at `data` (a dim of extent 0
    /// counts as 1 in the strides of the dims before it).
    pub fn row_major(data: *mut u8, elem: ElemType, shape: &[i64]) -> PjBuffer {
        let mut strides = [0i64; MAX_RANK];
        let mut stride = 1i64;
        for (k, &n) in shape.iter().enumerate().rev() {
            strides[k] = stride;
            stride = stride.saturating_mul(n.max(1));
        }
        PjBuffer::new(data, elem, shape, &strides[..shape.len()])
    }
}

/// Byte offsets of the descriptor's fields, for code generators.
pub mod offsets {
    use super::PjBuffer;
    use std::mem::offset_of;
    /// `data`
    pub const DATA: usize = offset_of!(PjBuffer, data);
    /// `shape[0]`
    pub const SHAPE: usize = offset_of!(PjBuffer, shape);
    /// `strides[0]`
    pub const STRIDES: usize = offset_of!(PjBuffer, strides);
    /// `elem_type`
    pub const ELEM_TYPE: usize = offset_of!(PjBuffer, elem_type);
    /// `rank`
    pub const RANK: usize = offset_of!(PjBuffer, rank);
}

/// Element type codes (`pj_buffer.elem_type`).
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum ElemType {
    Bool = 0,
    I8 = 1,
    I16 = 2,
    I32 = 3,
    I64 = 4,
    U8 = 5,
    U16 = 6,
    U32 = 7,
    F32 = 8,
    F64 = 9,
    /// IEEE binary16, as its bits.
    F16 = 10,
    /// bfloat16 (the upper half of an `f32`), as its bits.
    Bf16 = 11,
}

impl ElemType {
    /// Every type, by code.
    pub const ALL: [ElemType; 12] = [
        ElemType::Bool,
        ElemType::I8,
        ElemType::I16,
        ElemType::I32,
        ElemType::I64,
        ElemType::U8,
        ElemType::U16,
        ElemType::U32,
        ElemType::F32,
        ElemType::F64,
        ElemType::F16,
        ElemType::Bf16,
    ];

    /// Size of one element in bytes.
    pub fn size(self) -> usize {
        match self {
            ElemType::Bool | ElemType::I8 | ElemType::U8 => 1,
            ElemType::I16 | ElemType::U16 | ElemType::F16 | ElemType::Bf16 => 2,
            ElemType::I32 | ElemType::U32 | ElemType::F32 => 4,
            ElemType::I64 | ElemType::F64 => 8,
        }
    }

    /// The type's name in the language (`f32`, ...).
    pub fn name(self) -> &'static str {
        [
            "bool", "i8", "i16", "i32", "i64", "u8", "u16", "u32", "f32", "f64", "f16", "bf16",
        ][self as usize]
    }

    /// The C macro name (`PJ_F32`, ...).
    pub fn c_name(self) -> String {
        format!("PJ_{}", self.name().to_uppercase())
    }

    /// The type with this code.
    pub fn from_code(code: i32) -> Option<ElemType> {
        ElemType::ALL.get(usize::try_from(code).ok()?).copied()
    }
}

/// Status codes a kernel returns (0 is success).
pub mod status {
    /// Success.
    pub const OK: i32 = 0;
    /// An argument's shape does not match the signature, or sizes disagree.
    pub const SHAPE_MISMATCH: i32 = 1;
    /// A result's extent would be negative.
    pub const NEGATIVE_EXTENT: i32 = 2;
    /// Integer division or remainder by zero.
    pub const DIVISION_BY_ZERO: i32 = 3;
    /// A read or write outside a buffer.
    pub const OUT_OF_BOUNDS: i32 = 4;
    /// An allocation failed.
    pub const OUT_OF_MEMORY: i32 = 5;
    /// An argument has the wrong element type or rank, or is null.
    pub const BAD_ARGUMENT: i32 = 6;
    /// Stopped between parallel chunks at the caller's request
    /// ([`crate::interrupt`]); results are incomplete.
    pub const INTERRUPTED: i32 = 7;

    /// A short name for a status code.
    pub fn name(code: i32) -> &'static str {
        match code {
            OK => "ok",
            SHAPE_MISMATCH => "shape mismatch",
            NEGATIVE_EXTENT => "negative extent",
            DIVISION_BY_ZERO => "division by zero",
            OUT_OF_BOUNDS => "out of bounds",
            OUT_OF_MEMORY => "out of memory",
            BAD_ARGUMENT => "bad argument",
            INTERRUPTED => "interrupted",
            _ => "unknown status",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_layout_is_the_documented_c_layout() {
        assert_eq!(offsets::DATA, 0);
        assert_eq!(offsets::SHAPE, 8);
        assert_eq!(offsets::STRIDES, 8 + 8 * MAX_RANK);
        assert_eq!(offsets::ELEM_TYPE, 8 + 16 * MAX_RANK);
        assert_eq!(offsets::RANK, 12 + 16 * MAX_RANK);
        assert_eq!(std::mem::size_of::<PjBuffer>(), 16 + 16 * MAX_RANK);
    }

    #[test]
    fn elem_codes_round_trip() {
        for t in ElemType::ALL {
            assert_eq!(ElemType::from_code(t as i32), Some(t));
        }
        assert_eq!(ElemType::from_code(12), None);
        assert_eq!(ElemType::from_code(-1), None);
    }
}
