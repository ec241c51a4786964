//! Per-pool resource limits for every sandbox.

use crate::error::ConfigError;

/// The smallest `memory_bytes` a pool accepts: the guest's pre-initialised memory (≈ 33 MB)
/// plus room for a small env to load and step (`tests/all/pool.rs` runs one at exactly this).
pub const MIN_MEMORY_BYTES: u64 = 48 << 20;

/// The limits every env in a pool runs under.
///
/// Fuel budgets are deterministic: wasmtime charges fuel per executed wasm operator, so the same
/// env and actions exhaust a budget at the same point on any machine and under any load. The
/// wall-clock limit is only a backstop for what fuel cannot see (work inside host calls, bulk
/// memory operations); it is not deterministic and should stay well above what the fuel allows.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Linear-memory bytes one env may grow to; growing past it traps the env.
    pub memory_bytes: u64,
    /// Fuel (≈ wasm instructions) for one `step`.
    pub fuel_per_step: u64,
    /// Fuel for loading an env source and building the env (`from_env_str`).
    pub fuel_per_load: u64,
    /// Fuel for one `solve()` oracle run (it steps the env many times).
    pub fuel_per_solve: u64,
    /// Wall-clock backstop for any single call into the guest, in milliseconds.
    pub wall_time_ms: u64,
    /// Maximum wasm stack in bytes (deep recursion traps instead of overflowing the host).
    pub stack_bytes: usize,
    /// Observations longer than this (UTF-8 bytes) are truncated with a marker.
    pub max_obs_bytes: u32,
    /// Actions longer than this (UTF-8 bytes) are refused with an observation, not sent to the env.
    pub max_action_bytes: usize,
    /// Captured stdout and stderr each keep at most this many bytes; the rest is dropped.
    pub max_output_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 256 << 20,
            fuel_per_step: 2_000_000_000,
            fuel_per_load: 10_000_000_000,
            fuel_per_solve: 50_000_000_000,
            wall_time_ms: 30_000,
            stack_bytes: 64 << 20,
            max_obs_bytes: 64 << 10,
            max_action_bytes: 256 << 10,
            max_output_bytes: 64 << 10,
        }
    }
}

impl Limits {
    /// Check that every limit is usable.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("memory_bytes", self.memory_bytes),
            ("fuel_per_step", self.fuel_per_step),
            ("fuel_per_load", self.fuel_per_load),
            ("fuel_per_solve", self.fuel_per_solve),
            ("wall_time_ms", self.wall_time_ms),
            ("max_obs_bytes", u64::from(self.max_obs_bytes)),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(ConfigError(format!("limit {name} must be positive")));
            }
        }
        if self.memory_bytes < MIN_MEMORY_BYTES {
            return Err(ConfigError(format!(
                "memory_bytes = {} is below the {} MiB the Python guest needs to start and run",
                self.memory_bytes,
                MIN_MEMORY_BYTES >> 20
            )));
        }
        if !(64 << 10..=1 << 30).contains(&self.stack_bytes) {
            return Err(ConfigError(format!(
                "stack_bytes = {} must be between 64 KiB and 1 GiB",
                self.stack_bytes
            )));
        }
        if self.max_obs_bytes < 64 {
            return Err(ConfigError("max_obs_bytes must be at least 64".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(Limits::default().validate(), Ok(()));
    }

    #[test]
    fn zero_and_tiny_limits_are_refused() {
        let zero_fuel = Limits {
            fuel_per_step: 0,
            ..Limits::default()
        };
        assert!(zero_fuel.validate().is_err());
        let tiny_memory = Limits {
            memory_bytes: 1 << 20,
            ..Limits::default()
        };
        assert!(tiny_memory.validate().is_err());
        let tiny_stack = Limits {
            stack_bytes: 1024,
            ..Limits::default()
        };
        assert!(tiny_stack.validate().is_err());
    }
}
