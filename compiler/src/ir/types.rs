//! IR types: scalars and tensors with static, symbolic or unknown extents.
//!
//! Text form: `f32`, `i64`, `f32[H, W]` (extents named by size symbols),
//! `f32[?, 3]` (unknown and static extents), `f32[]` (rank 0), and
//! `buffer f32[?, ?]` for memory.

pub use pj_lang::types::ScalarType;
use std::fmt;

/// One extent of a tensor type.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Dim {
    /// Known at compile time.
    Static(i64),
    /// Equal to the kernel's size symbol of this name.
    Sym(String),
    /// Known only at run time.
    Dynamic,
}

/// The type of an SSA value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    /// A scalar. `i64` doubles as the index type.
    Scalar(ScalarType),
    /// An immutable n-dimensional array (a value; `pj` dialect).
    Tensor {
        /// Element type.
        elem: ScalarType,
        /// Extents.
        dims: Vec<Dim>,
    },
    /// Mutable memory holding an n-dimensional array (`mem` dialect): a data
    /// pointer with a shape and strides in elements, known at run time.
    Buffer {
        /// Element type.
        elem: ScalarType,
        /// Extents.
        dims: Vec<Dim>,
    },
    /// A fixed number of lanes of one numeric type (`vector` dialect), e.g.
    /// `f32x4`. Today's backends encode 128-bit vectors, so `lanes × bits`
    /// is 128 (the verifier checks it).
    Vector {
        /// Lane type.
        elem: ScalarType,
        /// Number of lanes.
        lanes: u32,
    },
}

impl Type {
    /// `i64`, the type of sizes, bounds and index variables.
    pub const INDEX: Type = Type::Scalar(ScalarType::I64);

    /// The scalar type, if this is a scalar.
    pub fn as_scalar(&self) -> Option<ScalarType> {
        match self {
            Type::Scalar(s) => Some(*s),
            Type::Tensor { .. } | Type::Buffer { .. } | Type::Vector { .. } => None,
        }
    }

    /// Element type of a tensor or buffer, or the scalar type itself.
    pub fn elem(&self) -> ScalarType {
        match self {
            Type::Scalar(s) => *s,
            Type::Tensor { elem, .. } | Type::Buffer { elem, .. } | Type::Vector { elem, .. } => {
                *elem
            }
        }
    }

    /// Rank of a tensor or buffer (`None` for scalars).
    pub fn rank(&self) -> Option<usize> {
        self.dims().map(<[Dim]>::len)
    }

    /// Extents of a tensor or buffer.
    pub fn dims(&self) -> Option<&[Dim]> {
        match self {
            Type::Scalar(_) | Type::Vector { .. } => None,
            Type::Tensor { dims, .. } | Type::Buffer { dims, .. } => Some(dims),
        }
    }

    /// The lane count of a vector type.
    pub fn lanes(&self) -> Option<u32> {
        match self {
            Type::Vector { lanes, .. } => Some(*lanes),
            _ => None,
        }
    }

    /// A scalar, or a vector of lanes: what arithmetic applies to.
    pub fn is_value(&self) -> bool {
        matches!(self, Type::Scalar(_) | Type::Vector { .. })
    }

    /// True for `buffer` types.
    pub fn is_buffer(&self) -> bool {
        matches!(self, Type::Buffer { .. })
    }

    /// A buffer of unknown extents.
    pub fn dynamic_buffer(elem: ScalarType, rank: usize) -> Type {
        Type::Buffer {
            elem,
            dims: vec![Dim::Dynamic; rank],
        }
    }

    /// A tensor of unknown extents.
    pub fn dynamic_tensor(elem: ScalarType, rank: usize) -> Type {
        Type::Tensor {
            elem,
            dims: vec![Dim::Dynamic; rank],
        }
    }
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Static(n) => write!(f, "{n}"),
            Dim::Sym(s) => f.write_str(s),
            Dim::Dynamic => f.write_str("?"),
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Scalar(s) => write!(f, "{s}"),
            Type::Vector { elem, lanes } => write!(f, "{elem}x{lanes}"),
            Type::Tensor { elem, dims } | Type::Buffer { elem, dims } => {
                if self.is_buffer() {
                    f.write_str("buffer ")?;
                }
                write!(f, "{elem}[")?;
                for (i, d) in dims.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{d}")?;
                }
                f.write_str("]")
            }
        }
    }
}
