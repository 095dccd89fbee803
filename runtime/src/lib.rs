//! The thin runtime that compiled picojoule kernels link against.
//!
//! Empty for now: the native backends (Cranelift, LLVM) that need it have not
//! landed yet. See `runtime/README.md` for what it will hold.
#![warn(missing_docs)]
