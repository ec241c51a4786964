//! Error types: per-env failures (data inside a batch result) and pool-level errors.

use std::fmt;

/// Why one env failed. Each kind maps to an exception class in `codegym.errors`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EnvErrorKind {
    /// The env source failed to execute, lacks the class, or `from_env_str` failed.
    Load,
    /// The env's own code raised an exception out of `step` or `solve`.
    Raised,
    /// The deterministic instruction budget (fuel) ran out.
    Fuel,
    /// The env tried to grow its memory past the limit.
    Memory,
    /// The wall-clock backstop fired.
    WallTime,
    /// The wasm stack overflowed (runaway recursion).
    Stack,
    /// The guest called `exit` (for instance `os._exit`).
    Exit,
    /// Any other trap inside the sandbox.
    Trap,
    /// The env was stepped before its first reset, or after its episode ended without auto-reset.
    NeedsReset,
}

impl EnvErrorKind {
    /// Stable snake_case name, used as the prefix of error strings.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Load => "load_error",
            Self::Raised => "env_raised",
            Self::Fuel => "fuel_exhausted",
            Self::Memory => "memory_limit",
            Self::WallTime => "wall_time_limit",
            Self::Stack => "stack_overflow",
            Self::Exit => "guest_exit",
            Self::Trap => "sandbox_trap",
            Self::NeedsReset => "needs_reset",
        }
    }

    /// True if the failure left the sandbox unusable until it is rebuilt by `reset`.
    pub fn poisons(self) -> bool {
        !matches!(self, Self::NeedsReset)
    }
}

/// A per-env failure with a human-readable reason (for `Load`/`Raised`, the guest traceback).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvError {
    pub kind: EnvErrorKind,
    pub message: String,
}

impl EnvError {
    pub fn new(kind: EnvErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for EnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.message)
    }
}

impl std::error::Error for EnvError {}

/// A bad argument or configuration: raised to the caller, never stored per env.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Failures of the engine itself (compiling or caching the guest component).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("sandbox engine failure: {0}")]
    Wasmtime(String),
    #[error("I/O error on the compiled-guest cache at {path}: {source}")]
    Cache {
        path: String,
        source: std::io::Error,
    },
}

impl From<wasmtime::Error> for EngineError {
    fn from(e: wasmtime::Error) -> Self {
        Self::Wasmtime(format!("{e:#}"))
    }
}
