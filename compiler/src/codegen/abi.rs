//! The runtime ABI's element-type codes (`pj_runtime::ElemType`, the
//! `elem_type` field of a `pj_buffer`) for the IR's scalar types, both
//! ways: every backend writes them into its checks, and every caller that
//! hands buffers to compiled code reads them back.

use pj_lang::types::ScalarType;
use pj_runtime::ElemType;

/// The runtime's code for an element type.
pub fn elem_code(t: ScalarType) -> ElemType {
    match t {
        ScalarType::Bool => ElemType::Bool,
        ScalarType::I8 => ElemType::I8,
        ScalarType::I16 => ElemType::I16,
        ScalarType::I32 => ElemType::I32,
        ScalarType::I64 => ElemType::I64,
        ScalarType::U8 => ElemType::U8,
        ScalarType::U16 => ElemType::U16,
        ScalarType::U32 => ElemType::U32,
        ScalarType::F32 => ElemType::F32,
        ScalarType::F64 => ElemType::F64,
        ScalarType::F16 => ElemType::F16,
        ScalarType::Bf16 => ElemType::Bf16,
    }
}

/// The scalar type of a runtime element code.
pub fn scalar_type(e: ElemType) -> ScalarType {
    match e {
        ElemType::Bool => ScalarType::Bool,
        ElemType::I8 => ScalarType::I8,
        ElemType::I16 => ScalarType::I16,
        ElemType::I32 => ScalarType::I32,
        ElemType::I64 => ScalarType::I64,
        ElemType::U8 => ScalarType::U8,
        ElemType::U16 => ScalarType::U16,
        ElemType::U32 => ScalarType::U32,
        ElemType::F32 => ScalarType::F32,
        ElemType::F64 => ScalarType::F64,
        ElemType::F16 => ScalarType::F16,
        ElemType::Bf16 => ScalarType::Bf16,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_agree_on_sizes() {
        for e in ElemType::ALL {
            let t = scalar_type(e);
            assert_eq!(elem_code(t), e);
            assert_eq!(t.size_bytes(), e.size(), "{t}");
        }
    }
}
