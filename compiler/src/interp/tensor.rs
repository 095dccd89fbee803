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
