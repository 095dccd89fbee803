//! Element types and boundary modes, shared by the front end and the IR.

use std::fmt;

/// An element (scalar) type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScalarType {
    /// `bool`
    Bool,
    /// `i8`
    I8,
    /// `i16`
    I16,
    /// `i32`
    I32,
    /// `i64`: also the type of sizes and index variables.
    I64,
    /// `u8`
    U8,
    /// `u16`
    U16,
    /// `u32`
    U32,
    /// `f32`
    F32,
    /// `f64`
    F64,
    /// `f16`: IEEE 754 binary16 (NumPy's `float16`). Arithmetic on it is
    /// the `f32` operation's result rounded to `f16` — which for `+ - * /`
    /// and `sqrt` is the correctly rounded `f16` result (`f32` carries more
    /// than twice its precision, so the double rounding is innocuous).
    F16,
    /// `bf16`: bfloat16, the upper half of an `f32` (`ml_dtypes.bfloat16`).
    /// Arithmetic as for `f16`: in `f32`, rounded.
    Bf16,
}

impl ScalarType {
    /// Every type, in the order the docs list them.
    pub const ALL: [ScalarType; 12] = [
        ScalarType::F32,
        ScalarType::F64,
        ScalarType::F16,
        ScalarType::Bf16,
        ScalarType::I8,
        ScalarType::I16,
        ScalarType::I32,
        ScalarType::I64,
        ScalarType::U8,
        ScalarType::U16,
        ScalarType::U32,
        ScalarType::Bool,
    ];

    /// The name as written in source and IR.
    pub fn name(self) -> &'static str {
        match self {
            ScalarType::Bool => "bool",
            ScalarType::I8 => "i8",
            ScalarType::I16 => "i16",
            ScalarType::I32 => "i32",
            ScalarType::I64 => "i64",
            ScalarType::U8 => "u8",
            ScalarType::U16 => "u16",
            ScalarType::U32 => "u32",
            ScalarType::F32 => "f32",
            ScalarType::F64 => "f64",
            ScalarType::F16 => "f16",
            ScalarType::Bf16 => "bf16",
        }
    }

    /// Looks a type up by name.
    pub fn from_name(s: &str) -> Option<ScalarType> {
        ScalarType::ALL.into_iter().find(|t| t.name() == s)
    }

    /// Signed or unsigned integer.
    pub fn is_int(self) -> bool {
        self.is_signed_int() || self.is_unsigned_int()
    }

    /// `i8`..`i64`.
    pub fn is_signed_int(self) -> bool {
        matches!(
            self,
            ScalarType::I8 | ScalarType::I16 | ScalarType::I32 | ScalarType::I64
        )
    }

    /// `u8`..`u32`.
    pub fn is_unsigned_int(self) -> bool {
        matches!(self, ScalarType::U8 | ScalarType::U16 | ScalarType::U32)
    }

    /// `f32`, `f64`, `f16`, `bf16`.
    pub fn is_float(self) -> bool {
        matches!(
            self,
            ScalarType::F32 | ScalarType::F64 | ScalarType::F16 | ScalarType::Bf16
        )
    }

    /// `f16`, `bf16`: the 16-bit floats, stored as 16 bits and computed
    /// with in `f32` (rounded after every operation).
    pub fn is_half(self) -> bool {
        matches!(self, ScalarType::F16 | ScalarType::Bf16)
    }

    /// Integer or float.
    pub fn is_numeric(self) -> bool {
        self != ScalarType::Bool
    }

    /// Size in bytes of one element.
    pub fn size_bytes(self) -> usize {
        match self {
            ScalarType::Bool | ScalarType::I8 | ScalarType::U8 => 1,
            ScalarType::I16 | ScalarType::U16 | ScalarType::F16 | ScalarType::Bf16 => 2,
            ScalarType::I32 | ScalarType::U32 | ScalarType::F32 => 4,
            ScalarType::I64 | ScalarType::F64 => 8,
        }
    }

    /// Smallest and largest value of an integer type.
    pub fn int_range(self) -> Option<(i64, i64)> {
        Some(match self {
            ScalarType::I8 => (i8::MIN as i64, i8::MAX as i64),
            ScalarType::I16 => (i16::MIN as i64, i16::MAX as i64),
            ScalarType::I32 => (i32::MIN as i64, i32::MAX as i64),
            ScalarType::I64 => (i64::MIN, i64::MAX),
            ScalarType::U8 => (0, u8::MAX as i64),
            ScalarType::U16 => (0, u16::MAX as i64),
            ScalarType::U32 => (0, u32::MAX as i64),
            _ => return None,
        })
    }
}

impl fmt::Display for ScalarType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a read outside an array's extent returns (`@boundary(mode)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Boundary {
    /// The nearest element: index clamped to `[0, n - 1]`.
    Clamp,
    /// Zero of the element type.
    Zero,
    /// Periodic: index taken modulo `n` (always non-negative).
    Wrap,
    /// Mirrored with the edge repeated: `-1 -> 0`, `n -> n - 1` (NumPy's `symmetric`).
    Mirror,
}

impl Boundary {
    /// All modes.
    pub const ALL: [Boundary; 4] = [
        Boundary::Clamp,
        Boundary::Zero,
        Boundary::Wrap,
        Boundary::Mirror,
    ];

    /// The name as written.
    pub fn name(self) -> &'static str {
        match self {
            Boundary::Clamp => "clamp",
            Boundary::Zero => "zero",
            Boundary::Wrap => "wrap",
            Boundary::Mirror => "mirror",
        }
    }

    /// Looks a mode up by name.
    pub fn from_name(s: &str) -> Option<Boundary> {
        Boundary::ALL.into_iter().find(|b| b.name() == s)
    }

    /// Maps an index `i` of an axis of extent `n > 0` into `[0, n)`; `None`
    /// means "outside, read zero" (only for [`Boundary::Zero`]).
    pub fn apply(self, i: i64, n: i64) -> Option<i64> {
        debug_assert!(n > 0);
        if (0..n).contains(&i) {
            return Some(i);
        }
        match self {
            Boundary::Clamp => Some(i.clamp(0, n - 1)),
            Boundary::Zero => None,
            Boundary::Wrap => Some(i.rem_euclid(n)),
            Boundary::Mirror => {
                let period = 2 * n;
                let m = i.rem_euclid(period);
                Some(if m < n { m } else { period - 1 - m })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundary_modes_match_numpy_pad_modes() {
        // numpy.pad(np.arange(3), 2, mode=...) read at -2..5
        let idx: Vec<i64> = (-2..5).collect();
        let got = |b: Boundary| idx.iter().map(|&i| b.apply(i, 3)).collect::<Vec<_>>();
        assert_eq!(got(Boundary::Clamp), [0, 0, 0, 1, 2, 2, 2].map(Some));
        assert_eq!(got(Boundary::Wrap), [1, 2, 0, 1, 2, 0, 1].map(Some));
        assert_eq!(got(Boundary::Mirror), [1, 0, 0, 1, 2, 2, 1].map(Some));
        assert_eq!(
            got(Boundary::Zero),
            [None, None, Some(0), Some(1), Some(2), None, None]
        );
        assert_eq!(Boundary::Mirror.apply(-7, 1), Some(0));
    }
}
