//! Integration tests of the sandbox engine (one binary, wasmtime's `tests/all` pattern).

mod common;
mod hostile;
mod pool;
