//! codegym-core: a sandboxed engine for CodeGym environments.
//!
//! Each environment is a Python class (the CodeGym format) running inside its own wasmtime store
//! that hosts a CPython WASI guest (`envs_wasm/`). The host grants the guest nothing (no files,
//! network, environment or subprocesses), meters it with deterministic fuel, caps its memory,
//! stack, output and observations, and backs fuel with a wall-clock deadline. An [`EnvPool`]
//! steps many such sandboxes in batches on a thread pool; per-env failures come back as data
//! ([`EnvError`]) and never take down the pool.
//!
//! [`parse_call`] turns a model's text into an env action (CodeGym, Hermes/Qwen and OpenAI
//! tool-call formats).
//!
//! This crate has no Python bindings; `crates/codegym-python` wraps it as `codegym._core`.

mod action;
mod affinity;
mod code;
mod engine;
mod error;
mod fault_around;
mod guest;
mod limits;
mod memory;
mod pagemap;
mod per_process;
mod pool;
mod recycle;
mod sandbox;
mod spec;
mod wasi;

pub use action::{parse_call, CallFormat, ParseError, ToolCall};
pub use engine::{cache_dir, Engine};
pub use error::{ConfigError, EngineError, EnvError, EnvErrorKind};
pub use limits::{Limits, MIN_MEMORY_BYTES};
pub use pool::{release_idle_sandboxes, EnvPool, PoolOptions, SolveOutcome, StepOutcome};
pub use sandbox::{GuestSolve, GuestStep, Sandbox};
pub use spec::{class_name_of, EnvSpec};
