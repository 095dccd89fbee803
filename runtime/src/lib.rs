//! The thin runtime that native picojoule kernels link against.
//!
//! - [`abi`]: the one calling convention of every kernel, JIT or AOT: a
//!   buffer descriptor ([`abi::PjBuffer`]) per array, scalars by value, an
//!   `int32_t` status return ([`abi::status`]).
//! - [`error`]: the message behind a non-zero status, kept per thread.
//! - [`alloc`]: aligned memory for intermediates.
//! - [`layout`]: row-major copies of strided arguments and results.
//! - [`math`]: elementary functions, the same Rust `std` functions the
//!   reference interpreter uses, so native code agrees with it bit for bit.
//! - [`parallel`]: the parallel-for, its chunks and the thread count.
//! - [`pool`]: the worker threads it runs on.
//! - [`buffer`]: a safe owned `Buffer` for Rust callers.
//!
//! Invariant: no dependency on the compiler, LLVM or Cranelift; everything
//! here can be linked into any C or Rust program.
#![warn(missing_docs)]

pub mod abi;
pub mod alloc;
pub mod buffer;
pub mod error;
pub mod interrupt;
pub mod layout;
pub mod math;
pub mod parallel;
pub mod pool;

pub use abi::{ElemType, PjBuffer};
pub use buffer::Buffer;
