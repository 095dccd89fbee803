//! The interpreter's array value.

use crate::dialects::arith::Scalar;
use pj_lang::types::ScalarType;

/// A dense row-major array whose first element sits at coordinates `origin`
/// (zero for arguments and results; a stage's domain may start elsewhere).
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    /// Element type; every element of `data` has it.
    pub elem: ScalarType,
    /// Coordinates of the first element.
    pub origin: Vec<i64>,
    /// Extent per dim.
    pub shape: Vec<usize>,
    /// Elements, row-major.
    pub data: Vec<Scalar>,
}

impl Tensor {
    /// The indices it holds, for messages: `[0..4, -1..7]`.
    pub fn valid_region(&self) -> String {
        let dims: Vec<String> = self
            .origin
            .iter()
            .zip(&self.shape)
            .map(|(o, s)| format!("{o}..{}", o + *s as i64))
            .collect();
        format!("[{}]", dims.join(", "))
    }

    /// A zero-origin array. Panics if `data` does not match `shape`.
    pub fn new(elem: ScalarType, shape: Vec<usize>, data: Vec<Scalar>) -> Tensor {
        assert_eq!(
            shape.iter().product::<usize>(),
            data.len(),
            "shape and data length disagree"
        );
        debug_assert!(
            data.iter().all(|s| s.ty() == elem),
            "element of the wrong type"
        );
        Tensor {
            elem,
            origin: vec![0; shape.len()],
            shape,
            data,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True if there are no elements.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

impl Tensor {
    /// The elements as little-endian bytes (`bool` as one byte, 0 or 1).
    pub fn to_le_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len() * self.elem.size_bytes());
        for s in &self.data {
            match *s {
                Scalar::Bool(b) => out.push(b as u8),
                Scalar::I8(v) => out.extend(v.to_le_bytes()),
                Scalar::I16(v) => out.extend(v.to_le_bytes()),
                Scalar::I32(v) => out.extend(v.to_le_bytes()),
                Scalar::I64(v) => out.extend(v.to_le_bytes()),
                Scalar::U8(v) => out.push(v),
                Scalar::U16(v) => out.extend(v.to_le_bytes()),
                Scalar::U32(v) => out.extend(v.to_le_bytes()),
                Scalar::F32(v) => out.extend(v.to_le_bytes()),
                Scalar::F64(v) => out.extend(v.to_le_bytes()),
                Scalar::F16(q) | Scalar::Bf16(q) => out.extend(q.to_le_bytes()),
            }
        }
        out
    }

    /// An array from little-endian element bytes.
    pub fn from_le_bytes(elem: ScalarType, shape: Vec<usize>, bytes: &[u8]) -> Tensor {
        Tensor::try_from_le_bytes(elem, shape, bytes).expect("memory for the elements")
    }

    /// [`Tensor::from_le_bytes`], or `None` when there is no memory for
    /// the elements (16 bytes each, however narrow their type).
    pub fn try_from_le_bytes(elem: ScalarType, shape: Vec<usize>, bytes: &[u8]) -> Option<Tensor> {
        let size = elem.size_bytes();
        let mut data = Vec::new();
        data.try_reserve_exact(bytes.len() / size).ok()?;
        data.extend(
            bytes
                .chunks_exact(size)
                .map(|c| scalar_from_le_bytes(elem, c)),
        );
        Some(Tensor::new(elem, shape, data))
    }
}

/// The element of type `elem` in its little-endian bytes `c` (`bool`: one
/// byte, non-zero is true). Panics if `c` is shorter than the type.
pub fn scalar_from_le_bytes(elem: ScalarType, c: &[u8]) -> Scalar {
    match elem {
        ScalarType::Bool => Scalar::Bool(c[0] != 0),
        ScalarType::I8 => Scalar::I8(c[0] as i8),
        ScalarType::U8 => Scalar::U8(c[0]),
        ScalarType::I16 => Scalar::I16(i16::from_le_bytes([c[0], c[1]])),
        ScalarType::U16 => Scalar::U16(u16::from_le_bytes([c[0], c[1]])),
        ScalarType::F16 => Scalar::F16(u16::from_le_bytes([c[0], c[1]])),
        ScalarType::Bf16 => Scalar::Bf16(u16::from_le_bytes([c[0], c[1]])),
        ScalarType::I32 => Scalar::I32(i32::from_le_bytes([c[0], c[1], c[2], c[3]])),
        ScalarType::U32 => Scalar::U32(u32::from_le_bytes([c[0], c[1], c[2], c[3]])),
        ScalarType::F32 => Scalar::F32(f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
        ScalarType::I64 => Scalar::I64(i64::from_le_bytes(c[..8].try_into().expect("8 bytes"))),
        ScalarType::F64 => Scalar::F64(f64::from_le_bytes(c[..8].try_into().expect("8 bytes"))),
    }
}
