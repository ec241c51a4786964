//! One env in its own wasmtime store: instantiate, load, and make budgeted calls into the guest.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime::{Store, Trap};

use crate::engine::{Engine, GuestState, MemoryLimiter, EPOCH_TICK};
use crate::error::{EnvError, EnvErrorKind};
use crate::guest::EnvHost;
use crate::limits::Limits;
use crate::spec::EnvSpec;
use crate::wasi::{sealed_ctx, CappedPipe, VirtualClock};

/// What the guest reported after a `step`.
#[derive(Clone, Debug, PartialEq)]
pub struct GuestStep {
    pub obs: String,
    pub reward: f64,
    pub done: bool,
    pub step_count: u64,
}

/// What the guest reported after `solve`.
#[derive(Clone, Debug, PartialEq)]
pub struct GuestSolve {
    pub answer: String,
    pub reward: f64,
    pub done: bool,
    pub step_count: u64,
    /// With `record`: the actions the oracle passed to `step`, in order (`None` past the
    /// guest's trace bounds or when the env's `step` could not be wrapped).
    pub actions: Option<Vec<String>>,
}

/// A live sandbox hosting one env class. Any error returned by a method leaves it unusable
/// (a trap poisons the store; an exception leaves the env in an unknown state): drop it.
pub struct Sandbox {
    store: Store<GuestState>,
    guest: EnvHost,
    stdout: CappedPipe,
    stderr: CappedPipe,
    limits: Arc<Limits>,
}

impl Sandbox {
    /// A sandbox hosting `spec`'s env class: a fresh instance that executes the class source,
    /// compiled once per process (see [`CodeCache`]), so every env of a spec takes the same path.
    pub fn for_spec(
        engine: &Engine,
        limits: Arc<Limits>,
        spec: &EnvSpec,
    ) -> Result<Self, EnvError> {
        let code = engine
            .code
            .get(engine, &limits, &spec.source, spec.class_name())?;
        let mut sandbox = Self::instantiate(engine, limits, spec.seed)?;
        arm(
            &mut sandbox.store,
            sandbox.limits.fuel_per_load,
            sandbox.limits.wall_time_ms,
        )?;
        let loaded = sandbox.guest.call_load(
            &mut sandbox.store,
            &code,
            spec.class_name(),
            sandbox.limits.max_obs_bytes,
        );
        sandbox.finish(loaded, EnvErrorKind::Load, "loading the env")?;
        Ok(sandbox)
    }

    /// Compile `source` in a throwaway instance and return the marshalled module code.
    pub(crate) fn compile(
        engine: &Engine,
        limits: Arc<Limits>,
        source: &str,
        class_name: &str,
    ) -> Result<Vec<u8>, EnvError> {
        let mut sandbox = Self::instantiate(engine, limits, 0)?;
        arm(
            &mut sandbox.store,
            sandbox.limits.fuel_per_load,
            sandbox.limits.wall_time_ms,
        )?;
        let filename = format!("{class_name}.py");
        let out = sandbox
            .guest
            .call_compile(&mut sandbox.store, source, &filename);
        sandbox.finish(out, EnvErrorKind::Load, "compiling the env source")
    }

    /// A fresh instance of the guest in its own store, with nothing loaded (the floor of an
    /// env's creation cost; `examples/probe.rs` measures it).
    pub fn instantiate(engine: &Engine, limits: Arc<Limits>, seed: u64) -> Result<Self, EnvError> {
        let stdout = CappedPipe::new(limits.max_output_bytes);
        let stderr = CappedPipe::new(limits.max_output_bytes);
        let clock = VirtualClock::default();
        let state = GuestState {
            wasi: sealed_ctx(&clock, &stdout, &stderr, seed),
            table: ResourceTable::new(),
            clock,
            limiter: MemoryLimiter {
                max_bytes: usize::try_from(limits.memory_bytes).unwrap_or(usize::MAX),
                hit: false,
            },
        };
        let mut store = Store::new(&engine.engine, state);
        store.limiter(|state| &mut state.limiter);
        store.epoch_deadline_trap();
        arm(&mut store, limits.fuel_per_load, limits.wall_time_ms)?;
        let guest = engine
            .pre
            .instantiate(&mut store)
            .map_err(|e| classify(&store, &limits, e, "instantiating the guest"))?;
        Ok(Self {
            store,
            guest,
            stdout,
            stderr,
            limits,
        })
    }

    /// Build a fresh env object with `from_env_str(env_str)` after seeding `random`.
    pub fn reset(&mut self, env_str: &str, seed: u64) -> Result<String, EnvError> {
        self.stdout.clear();
        self.stderr.clear();
        arm(
            &mut self.store,
            self.limits.fuel_per_load,
            self.limits.wall_time_ms,
        )?;
        let out = self.guest.call_reset(&mut self.store, env_str, seed);
        self.finish(out, EnvErrorKind::Load, "resetting the env")
    }

    /// Pass one action to the env's `step`.
    pub fn step(&mut self, action: &str) -> Result<GuestStep, EnvError> {
        arm(
            &mut self.store,
            self.limits.fuel_per_step,
            self.limits.wall_time_ms,
        )?;
        let out = self.guest.call_step(&mut self.store, action);
        let (obs, reward, done, step_count) =
            self.finish(out, EnvErrorKind::Raised, "stepping the env")?;
        Ok(GuestStep {
            obs,
            reward,
            done,
            step_count,
        })
    }

    /// Run the env's own `solve()` oracle; with `record`, keep the actions it took.
    pub fn solve(&mut self, record: bool) -> Result<GuestSolve, EnvError> {
        arm(
            &mut self.store,
            self.limits.fuel_per_solve,
            self.limits.wall_time_ms,
        )?;
        let out = self.guest.call_solve(&mut self.store, record);
        let ((answer, reward, done, step_count), actions) =
            self.finish(out, EnvErrorKind::Raised, "running solve()")?;
        Ok(GuestSolve {
            answer,
            reward,
            done,
            step_count,
            actions,
        })
    }

    /// Captured (stdout, stderr) since the last reset.
    pub fn output(&self) -> (String, String) {
        (self.stdout.text(), self.stderr.text())
    }

    /// Fuel left from the budget of the last call (for tests of determinism).
    pub fn fuel_left(&self) -> u64 {
        self.store.get_fuel().unwrap_or(0)
    }

    fn finish<T>(
        &self,
        out: wasmtime::Result<Result<T, String>>,
        raised: EnvErrorKind,
        what: &str,
    ) -> Result<T, EnvError> {
        match out {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(traceback)) => Err(EnvError::new(raised, traceback)),
            Err(e) => Err(classify(&self.store, &self.limits, e, what)),
        }
    }
}

/// Give the next call its fuel budget and wall-clock deadline.
fn arm(store: &mut Store<GuestState>, fuel: u64, wall_time_ms: u64) -> Result<(), EnvError> {
    store
        .set_fuel(fuel)
        .map_err(|e| EnvError::new(EnvErrorKind::Trap, format!("cannot set fuel: {e}")))?;
    let tick = EPOCH_TICK.as_millis().max(1) as u64;
    store.set_epoch_deadline(wall_time_ms.div_ceil(tick).max(1));
    Ok(())
}

/// Turn a wasmtime error from a guest call into the per-env reason the user sees.
fn classify(
    store: &Store<GuestState>,
    limits: &Limits,
    e: wasmtime::Error,
    what: &str,
) -> EnvError {
    if store.data().limiter.hit {
        return EnvError::new(
            EnvErrorKind::Memory,
            format!(
                "{what}: memory limit of {} bytes exceeded",
                limits.memory_bytes
            ),
        );
    }
    if let Some(exit) = e.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return EnvError::new(
            EnvErrorKind::Exit,
            format!("{what}: the guest called exit({})", exit.0),
        );
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => EnvError::new(
            EnvErrorKind::Fuel,
            format!("{what}: instruction budget (fuel) exhausted"),
        ),
        Some(Trap::Interrupt) => EnvError::new(
            EnvErrorKind::WallTime,
            format!(
                "{what}: wall-clock limit of {} ms exceeded",
                limits.wall_time_ms
            ),
        ),
        Some(Trap::StackOverflow) => EnvError::new(
            EnvErrorKind::Stack,
            format!(
                "{what}: wasm stack of {} bytes exhausted",
                limits.stack_bytes
            ),
        ),
        Some(trap) => EnvError::new(EnvErrorKind::Trap, format!("{what}: {trap}")),
        None => EnvError::new(EnvErrorKind::Trap, format!("{what}: {e:#}")),
    }
}
