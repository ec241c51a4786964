//! Integration tests of the sandbox engine (one binary, wasmtime's `tests/all` pattern).

// Tests fail by panicking; the no-unwrap rule is for library paths.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod action;
mod common;
mod fuzz;
mod hostile;
mod pool;
