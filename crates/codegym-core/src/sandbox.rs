//! One env in its own wasmtime store: instantiate, load, and make budgeted calls into the guest.

use std::sync::{Arc, OnceLock, PoisonError};

use wasmtime::component::ResourceTable;
use wasmtime::{Store, Trap};

use crate::code::Profiles;
use crate::engine::{Engine, Exports, GuestState, MemoryLimiter, EPOCH_TICK};
use crate::error::{EnvError, EnvErrorKind};
use crate::guest::EnvHost;
use crate::limits::Limits;
use crate::memory::{
    Capture, MemoryHook, MemorySeen, Prefault, Profile, Restore, Snapshot, WithMemory,
};
use crate::spec::EnvSpec;
use crate::wasi::{sealed_ctx, HostSide};

/// What [`Sandbox::snapshot`] did.
pub(crate) enum Snapshotted {
    /// Nothing: the sandbox cannot be copied.
    Skipped,
    /// The `sync` call ran; with the copy, unless its memory could not be read.
    Synced(Option<(Snapshot, HostSide)>),
}

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
    instance: wasmtime::component::Instance,
    exports: Exports,
    /// Where the guest's linear memory is (seen while `load`'s argument was lowered).
    memory: MemorySeen,
    /// The class's pre-fault profiles, which this sandbox records if it is the first of its
    /// class to reset (or, made for `solve()`, to solve); `None` for other sandboxes.
    profiles: Option<Arc<Profiles>>,
    /// Made to run `solve()` after its reset (its load pre-faulted the solve profile).
    for_solve: bool,
    host: HostSide,
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
        Self::loaded(engine, limits, spec, false)
    }

    /// [`Sandbox::for_spec`] for an env that will be reset and then `solve()`d: its load
    /// pre-faults what a verification writes rather than what a reset writes.
    pub fn for_solve(
        engine: &Engine,
        limits: Arc<Limits>,
        spec: &EnvSpec,
    ) -> Result<Self, EnvError> {
        Self::loaded(engine, limits, spec, true)
    }

    fn loaded(
        engine: &Engine,
        limits: Arc<Limits>,
        spec: &EnvSpec,
        for_solve: bool,
    ) -> Result<Self, EnvError> {
        let code = engine
            .code
            .get(engine, &limits, &spec.source, spec.class_name())?;
        let mut sandbox = Self::instantiate(engine, limits, spec.seed)?;
        sandbox.profiles = Some(code.profiles.clone());
        sandbox.for_solve = for_solve;
        let profiles = &code.profiles;
        let profile = match for_solve {
            true => profiles.solve.get().or(profiles.reset.get()),
            false => profiles.reset.get(),
        };
        arm(
            &mut sandbox.store,
            sandbox.limits.fuel_per_load,
            sandbox.limits.wall_time_ms,
        )?;
        let loaded = sandbox.load(&code.bytes, profile, spec.class_name());
        let _ = engine.initial_memory.compare_exchange(
            0,
            sandbox.memory.len(),
            std::sync::atomic::Ordering::Relaxed,
            std::sync::atomic::Ordering::Relaxed,
        );
        sandbox.finish(loaded, EnvErrorKind::Load, "loading the env")?;
        Ok(sandbox)
    }

    /// Call the guest's `load` with `code`, pre-faulting `profile` (the class's, once
    /// recorded) while the code is copied in.
    fn load(
        &mut self,
        code: &[u8],
        profile: Option<&Profile>,
        class_name: &str,
    ) -> wasmtime::Result<Result<(), String>> {
        let load = self
            .instance
            .get_typed_func::<(WithMemory<'_, Prefault<'_>>, &str, u32), (Result<(), String>,)>(
                &mut self.store,
                self.exports.load,
            )?;
        let code = WithMemory {
            bytes: code,
            hook: Prefault(profile),
            seen: &self.memory,
        };
        let (loaded,) = load.call(
            &mut self.store,
            (code, class_name, self.limits.max_obs_bytes),
        )?;
        Ok(loaded)
    }

    /// Call the guest's `sync` (which does nothing) with `hook` run on its memory first.
    fn sync<H: MemoryHook>(&mut self, hook: H) -> Result<(), EnvError> {
        arm(
            &mut self.store,
            self.limits.fuel_per_step,
            self.limits.wall_time_ms,
        )?;
        let out = self
            .instance
            .get_typed_func::<(WithMemory<'_, H>,), ()>(&mut self.store, self.exports.sync)
            .and_then(|sync| {
                let data = WithMemory {
                    bytes: &[],
                    hook,
                    seen: &self.memory,
                };
                sync.call(&mut self.store, (data,))
            })
            .map(Ok);
        self.finish(out, EnvErrorKind::Trap, "copying the sandbox")
    }

    /// The `sync` call alone, as a replay of a fork by copy makes it.
    pub(crate) fn sync_only(&mut self) -> Result<(), EnvError> {
        self.sync(Prefault(None))
    }

    /// Copy this sandbox's state for [`Sandbox::from_snapshot`], by a `sync` call, which the
    /// copies then also make (so it belongs in a replay log). Skipped, with no call made, when
    /// the guest holds host resources (an open output stream, say: wasmtime keeps their handles
    /// outside memory, so a copy would not have them) or its generators can no longer be
    /// reproduced.
    pub(crate) fn snapshot(&mut self) -> Result<Snapshotted, EnvError> {
        if !self.store.data().table.is_empty() {
            return Ok(Snapshotted::Skipped);
        }
        let Some(host) = self.host.copy() else {
            return Ok(Snapshotted::Skipped);
        };
        let out = std::sync::Mutex::new(None);
        self.sync(Capture(&out))?;
        let snapshot = out.into_inner().unwrap_or_else(PoisonError::into_inner);
        Ok(Snapshotted::Synced(snapshot.map(|s| (s, host))))
    }

    /// A fresh sandbox in the state [`Sandbox::snapshot`] captured (after its `sync`).
    pub(crate) fn from_snapshot(
        engine: &Engine,
        limits: Arc<Limits>,
        snapshot: &Snapshot,
        host: &HostSide,
    ) -> Result<Self, EnvError> {
        let host = host.copy().ok_or_else(|| {
            EnvError::new(
                EnvErrorKind::Trap,
                "copying the sandbox: its random generators cannot be reproduced",
            )
        })?;
        let mut sandbox = Self::instantiate_with(engine, limits, host)?;
        sandbox.sync(Restore(snapshot))?;
        if !sandbox.store.data().table.is_empty() {
            return Err(EnvError::new(
                EnvErrorKind::Trap,
                "copying the sandbox: the copy holds host resources its original did not",
            ));
        }
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
        let host = HostSide::new(limits.max_output_bytes, seed);
        Self::instantiate_with(engine, limits, host)
    }

    /// A fresh instance whose WASI world continues `host`.
    fn instantiate_with(
        engine: &Engine,
        limits: Arc<Limits>,
        host: HostSide,
    ) -> Result<Self, EnvError> {
        let wasi = sealed_ctx(&host).ok_or_else(|| {
            EnvError::new(
                EnvErrorKind::Trap,
                "instantiating the guest: a random generator cannot be reproduced",
            )
        })?;
        let state = GuestState {
            wasi,
            table: ResourceTable::new(),
            clock: host.clock.clone(),
            limiter: MemoryLimiter {
                max_bytes: usize::try_from(limits.memory_bytes).unwrap_or(usize::MAX),
                hit: false,
            },
        };
        let mut store = Store::new(&engine.engine, state);
        store.limiter(|state| &mut state.limiter);
        store.epoch_deadline_trap();
        arm(&mut store, limits.fuel_per_load, limits.wall_time_ms)?;
        let instance = engine
            .pre
            .instantiate(&mut store)
            .map_err(|e| classify(&store, &limits, e, "instantiating the guest"))?;
        let guest = engine
            .indices
            .load(&mut store, &instance)
            .map_err(|e| classify(&store, &limits, e, "instantiating the guest"))?;
        Ok(Self {
            store,
            guest,
            instance,
            exports: engine.exports,
            memory: MemorySeen::default(),
            profiles: None,
            for_solve: false,
            host,
            limits,
        })
    }

    /// Build a fresh env object with `from_env_str(env_str)` after seeding `random`.
    pub fn reset(&mut self, env_str: &str, seed: u64) -> Result<String, EnvError> {
        self.host.stdout.clear();
        self.host.stderr.clear();
        arm(
            &mut self.store,
            self.limits.fuel_per_load,
            self.limits.wall_time_ms,
        )?;
        let out = self.guest.call_reset(&mut self.store, env_str, seed);
        let reset = self.finish(out, EnvErrorKind::Load, "resetting the env")?;
        if let Some(profiles) = &self.profiles {
            record_profile(&profiles.reset, &self.memory);
        }
        Ok(reset)
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
        if let Some(profiles) = self.profiles.take().filter(|_| self.for_solve) {
            record_profile(&profiles.solve, &self.memory);
        }
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
        (self.host.stdout.text(), self.host.stderr.text())
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

/// Record the pages `memory` has written as `profile`, unless it is recorded already. A
/// failed read leaves the class without a profile: slower creation, same result.
fn record_profile(profile: &OnceLock<Profile>, memory: &MemorySeen) {
    if profile.get().is_none() {
        if let Ok(written) = memory.written() {
            let _ = profile.set(written);
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    const SOURCE: &str = r#"
import json
import os
import random
import time


class NoiseEnv:
    @staticmethod
    def from_env_str(env_str):
        env = NoiseEnv()
        env.seen = {str(i): [i] * i for i in range(50)}
        env.step_count = 0
        return env

    def step(self, action):
        self.step_count += 1
        self.seen[action] = [random.random() for _ in range(20)]
        self.seen[action + "!"] = {object() for _ in range(5)}
        noise = [random.random(), os.urandom(4).hex(), random.SystemRandom().random()]
        return True, json.dumps([len(self.seen), sorted(self.seen)[-1], noise, time.time()])
"#;

    /// A sandbox made for `solve()` records what a verification writes, and the next one of
    /// the class gets those pages at load; the verification's result is unchanged.
    #[test]
    fn sandboxes_made_for_solve_prefault_what_a_verification_writes() {
        let source = r#"
import json


class SumEnv:
    @staticmethod
    def from_env_str(env_str):
        env = SumEnv()
        env.nums = list(range(200))
        env.step_count, env.reward, env.finished = 0, 0.0, False
        return env

    def step(self, action):
        self.step_count += 1
        call = json.loads(action)
        if call["name"] == "Done":
            self.reward = float(call["answer"] == sum(self.nums))
            self.finished = True
        return True, json.dumps({"n": len(self.nums), "seen": [str(i) * 3 for i in range(300)]})

    def solve(self):
        total = 0
        for i in range(0, 200, 50):
            json.loads(self.step(json.dumps({"name": "Observe", "i": i}))[1])
            total += sum(self.nums[i:i + 50])
        return self.step(json.dumps({"name": "Done", "answer": total}))[1]
"#;
        let limits = Arc::new(Limits::default());
        let engine = Engine::shared(limits.stack_bytes).unwrap();
        let spec = EnvSpec::new(Arc::from(source), "SumEnv@{}", None, 1).unwrap();
        let mut first = Sandbox::for_solve(&engine, limits.clone(), &spec).unwrap();
        first.reset("SumEnv@{}", 1).unwrap();
        let expected = first.solve(true).unwrap();
        assert_eq!(expected.reward, 1.0);
        let code = engine
            .code
            .get(&engine, &limits, &spec.source, spec.class_name())
            .unwrap();
        let (reset, solve) = (code.profiles.reset.get(), code.profiles.solve.get());
        let pages = |p: &Profile| p.iter().map(|r| r.len() / 4096).sum::<usize>();
        let (reset, solve) = (pages(reset.unwrap()), solve.expect("solve profile"));
        assert!(
            pages(solve) > reset,
            "{} solve pages, {reset} reset pages",
            pages(solve)
        );

        let mut second = Sandbox::for_solve(&engine, limits.clone(), &spec).unwrap();
        let written = second.memory.written().unwrap();
        for range in solve {
            for page in range.clone().step_by(4096) {
                assert!(
                    written.iter().any(|r| r.contains(&page)),
                    "{page:#x} not private"
                );
            }
        }
        second.reset("SumEnv@{}", 1).unwrap();
        assert_eq!(second.solve(true).unwrap(), expected);
    }

    fn dump(sandbox: &mut Sandbox) -> Vec<u8> {
        let memory = std::sync::Mutex::new(Vec::new());
        sandbox.sync(crate::memory::Dump(&memory)).unwrap();
        memory.into_inner().unwrap()
    }

    /// A copy made from a snapshot is the original, byte for byte: after the same further
    /// calls, the original, a replay of its calls and the copy hold identical memory, return
    /// identical results (random draws from `random`, `os.urandom` and `SystemRandom`, the
    /// clock, `id()`-ordered sets) and use identical fuel.
    #[test]
    fn a_copy_from_a_snapshot_is_the_original_byte_for_byte() {
        let limits = Arc::new(Limits::default());
        let engine = Engine::shared(limits.stack_bytes).unwrap();
        let spec = EnvSpec::new(Arc::from(SOURCE), "NoiseEnv@{}", None, 3).unwrap();
        let mut original = Sandbox::for_spec(&engine, limits.clone(), &spec).unwrap();
        let mut replay = Sandbox::for_spec(&engine, limits.clone(), &spec).unwrap();
        for sandbox in [&mut original, &mut replay] {
            sandbox.reset("NoiseEnv@{}", 3).unwrap();
            for action in ["a", "b", "c"] {
                sandbox.step(action).unwrap();
            }
        }
        let Snapshotted::Synced(Some((snapshot, host))) = original.snapshot().unwrap() else {
            panic!("nothing should block a copy");
        };
        replay.sync_only().unwrap();
        let mut copy = Sandbox::from_snapshot(&engine, limits.clone(), &snapshot, &host).unwrap();
        for action in ["d", "e"] {
            let expected = original.step(action).unwrap();
            let fuel = original.fuel_left();
            for other in [&mut replay, &mut copy] {
                assert_eq!(other.step(action).unwrap(), expected);
                assert_eq!(other.fuel_left(), fuel);
            }
        }
        let memory = dump(&mut original);
        assert_eq!(
            dump(&mut replay),
            memory,
            "replay differs from the original"
        );
        assert_eq!(dump(&mut copy), memory, "copy differs from the original");
        assert_eq!(copy.output(), original.output());
    }

    /// The first env of a class records the pages it wrote while loading and resetting; a later
    /// env of the class has all of them private right after its load, before its reset; and
    /// pre-faulting changes nothing the guest can observe: outputs and fuel are those of a
    /// sandbox loaded without the profile.
    #[test]
    fn later_envs_of_a_class_start_with_its_written_pages_prefaulted() {
        let limits = Arc::new(Limits::default());
        let engine = Engine::shared(limits.stack_bytes).unwrap();
        let spec = EnvSpec::new(Arc::from(SOURCE), "NoiseEnv@{}", None, 7).unwrap();
        let mut first = Sandbox::for_spec(&engine, limits.clone(), &spec).unwrap();
        first.reset("NoiseEnv@{}", 7).unwrap();
        let code = engine
            .code
            .get(&engine, &limits, &spec.source, spec.class_name())
            .unwrap();
        let profile = code
            .profiles
            .reset
            .get()
            .expect("the first reset records the profile");
        let pages = |p: &Profile| p.iter().map(|r| r.len() / 4096).sum::<usize>();
        assert!(pages(profile) >= 8, "{} pages", pages(profile));

        let mut prefaulted = Sandbox::for_spec(&engine, limits.clone(), &spec).unwrap();
        let written = prefaulted.memory.written().unwrap();
        let private = |offset: usize| written.iter().any(|r| r.contains(&offset));
        for range in profile {
            for page in range.clone().step_by(4096) {
                assert!(
                    private(page),
                    "profiled page at {page:#x} is not private after load"
                );
            }
        }

        let mut plain = Sandbox::instantiate(&engine, limits.clone(), 7).unwrap();
        let loaded = plain.load(&code.bytes, None, spec.class_name()).unwrap();
        loaded.unwrap();
        for sandbox in [&mut prefaulted, &mut plain] {
            sandbox.reset("NoiseEnv@{}", 7).unwrap();
        }
        for action in ["a", "b", "a", "zz"] {
            let a = prefaulted.step(action).unwrap();
            let b = plain.step(action).unwrap();
            assert_eq!(a, b);
            assert_eq!(prefaulted.fuel_left(), plain.fuel_left());
        }
    }
}
