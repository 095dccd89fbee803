//! The `picojoule` package: the `pj` command line (`src/main.rs`) and the
//! small amount of I/O it shares with the tests.
#![warn(missing_docs)]

pub mod npy;
