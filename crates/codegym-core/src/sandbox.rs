//! One env in its own wasmtime store: instantiate, load, and make budgeted calls into the guest.

use std::sync::{Arc, OnceLock, PoisonError};

use wasmtime::component::ResourceTable;
use wasmtime::{Store, Trap};

use crate::code::{Code, Profiles};
use crate::engine::{Engine, Exports, GuestState, MemoryLimiter, EPOCH_TICK};
use crate::error::{EnvError, EnvErrorKind};
use crate::guest::{step_reply, EnvHost};
use crate::limits::Limits;
use crate::memory::{
    Capture, MemoryHook, MemorySeen, Prefault, Profile, Restore, Snapshot, WithMemory,
};
use crate::recycle::{Idle, Pristine, Recycling};
use crate::spec::EnvSpec;
use crate::wasi::{sealed_ctx, HostSide};

/// The seed of the WASI generators while a class loads: every env of a class then loads into the
/// same state, whatever its seed (which [`Sandbox::reset`] gives the generators), so that a
/// recycled sandbox and a fresh one are the same (see [`crate::recycle`]).
const LOAD_SEED: u64 = 0;

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
    /// The class it loaded, for recycling (`None` for sandboxes not made by a load).
    class: Option<Arc<Recycling>>,
    host: HostSide,
    limits: Arc<Limits>,
}

impl Sandbox {
    /// A sandbox hosting `spec`'s env class: a fresh instance in the state every sandbox of the
    /// class starts in, the class source (compiled once per process, see `CodeCache`) executed
    /// and one `sync` call made, whether it executed the source itself or copied the class's
    /// pristine sandbox (see `Sandbox::create`).
    pub fn for_spec(
        engine: &Engine,
        limits: Arc<Limits>,
        spec: &EnvSpec,
    ) -> Result<Self, EnvError> {
        Self::loaded(engine, limits, spec, false)
    }

    /// [`Sandbox::for_spec`] for an env that will be reset and then `solve()`d: if it loads the
    /// class, its load pre-faults what a verification writes rather than what a reset writes.
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
        Self::create(engine, limits, &code, spec.class_name(), for_solve)
    }

    /// A new sandbox of the class of `code`, in the state every sandbox of a class starts in:
    /// the class loaded (at [`LOAD_SEED`]), then one `sync` call. The class's first sandbox
    /// loads it; later ones are copies of the class's pristine sandbox (made by the second),
    /// which skips executing the class (unmarshalling its code, interning its names, building
    /// it) and writes only the pages the load wrote.
    fn create(
        engine: &Engine,
        limits: Arc<Limits>,
        code: &Code,
        class_name: &str,
        for_solve: bool,
    ) -> Result<Self, EnvError> {
        if code.recycling.loaded_before() {
            let pristine = code
                .recycling
                .pristine(|| Self::pristine(engine, limits.clone(), code, class_name));
            if let Some(pristine) = pristine {
                // A copy that fails (its memory differs in size, say) leaves a load to try.
                if let Ok(sandbox) =
                    Self::from_pristine(engine, limits.clone(), code, &pristine, for_solve)
                {
                    return Ok(sandbox);
                }
            }
        }
        Self::load_new(engine, limits, code, class_name, for_solve)
    }

    /// A new sandbox of the class made by loading it, then the `sync` call that ends every
    /// creation.
    fn load_new(
        engine: &Engine,
        limits: Arc<Limits>,
        code: &Code,
        class_name: &str,
        for_solve: bool,
    ) -> Result<Self, EnvError> {
        let mut sandbox = Self::load_code(engine, limits, code, class_name, for_solve)?;
        sandbox.sync_only()?;
        Ok(sandbox)
    }

    /// A fresh instance made a copy of the class's pristine sandbox by the `sync` call that ends
    /// every creation (see [`Template`]): the pages the pristine one's load wrote are copied in.
    /// They are not pre-faulted: none of them is mapped yet in a fresh instance, so its first
    /// write to each needs no TLB flush, and one `madvise` per run of pages made two threads
    /// contend (2,060–2,200 creations/s without it, 1,800–2,070 with it).
    fn from_pristine(
        engine: &Engine,
        limits: Arc<Limits>,
        code: &Code,
        pristine: &Pristine,
        for_solve: bool,
    ) -> Result<Self, EnvError> {
        let host = pristine_host(pristine)
            .ok_or_else(|| generators_lost("copying the class's pristine sandbox"))?;
        let mut sandbox = Self::instantiate_with(engine, limits, host)?.of_class(code, for_solve);
        sandbox.sync(pristine.template(&[]))?;
        Ok(sandbox)
    }

    /// This fresh instance as a sandbox of the class of `code`: it records the class's profiles
    /// if it is the first to get there, and can be recycled.
    fn of_class(mut self, code: &Code, for_solve: bool) -> Self {
        self.profiles = Some(code.profiles.clone());
        self.class = Some(code.recycling.clone());
        self.for_solve = for_solve;
        self
    }

    /// A fresh instance with the class's `code` loaded (at [`LOAD_SEED`]).
    fn load_code(
        engine: &Engine,
        limits: Arc<Limits>,
        code: &Code,
        class_name: &str,
        for_solve: bool,
    ) -> Result<Self, EnvError> {
        code.recycling.count_load();
        let mut sandbox = Self::instantiate(engine, limits, LOAD_SEED)?.of_class(code, for_solve);
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
        let loaded = sandbox.load(&code.bytes, profile, class_name);
        let _ = engine.initial_memory.compare_exchange(
            0,
            sandbox.memory.len(),
            std::sync::atomic::Ordering::Relaxed,
            std::sync::atomic::Ordering::Relaxed,
        );
        sandbox.finish(loaded, EnvErrorKind::Load, "loading the env")?;
        Ok(sandbox)
    }

    /// A sandbox for `spec` like [`Sandbox::for_spec`] (or [`Sandbox::for_solve`]), made from an
    /// idle sandbox of its class in `idle` when there is one (see [`crate::recycle`]).
    pub(crate) fn reuse_or_load(
        engine: &Engine,
        limits: Arc<Limits>,
        spec: &EnvSpec,
        for_solve: bool,
        idle: &Idle,
    ) -> Result<Self, EnvError> {
        let code = engine
            .code
            .get(engine, &limits, &spec.source, spec.class_name())?;
        let make_pristine = || Self::pristine(engine, limits.clone(), &code, spec.class_name());
        if let Some(sandbox) = Self::from_idle(&limits, &code.recycling, idle, make_pristine) {
            idle.count_recycled();
            return Ok(sandbox);
        }
        Self::create(engine, limits, &code, spec.class_name(), for_solve)
    }

    /// An idle sandbox of class `recycling` from `idle`, brought back to the class's start
    /// state (its pristine sandbox's, made by `make_pristine` if the class has none), or `None`
    /// if `idle` holds none or it cannot be brought back (it is then dropped, and the caller
    /// makes a fresh one).
    fn from_idle(
        limits: &Arc<Limits>,
        recycling: &Arc<Recycling>,
        idle: &Idle,
        make_pristine: impl FnOnce() -> Option<Pristine>,
    ) -> Option<Self> {
        let used = idle.take(recycling)?;
        let pristine = recycling.pristine(make_pristine)?;
        used.sandbox
            .restore(&pristine, &used.written, limits.clone())
            .ok()
    }

    /// The class's pristine sandbox, or `None` if its load grew the memory or its pages cannot
    /// be read (the class is then not recycled).
    fn pristine(
        engine: &Engine,
        limits: Arc<Limits>,
        code: &Code,
        class_name: &str,
    ) -> Option<Pristine> {
        let sandbox = Self::load_code(engine, limits, code, class_name, false).ok()?;
        if !sandbox.recyclable() {
            return None;
        }
        let written = sandbox.memory.written_all().ok()?;
        Some(Pristine {
            memory: sandbox.memory.copy(),
            sandbox: std::sync::Mutex::new(sandbox),
            written,
        })
    }

    /// Whether [`crate::recycle::Idle`] may keep this sandbox: made by a load, holding no host
    /// resources, and with memory and tables of the size a fresh instance has.
    pub(crate) fn recyclable(&self) -> bool {
        let state = self.store.data();
        self.class.is_some()
            && state.table.is_empty()
            && !state.limiter.grew
            && !state.limiter.hit
            && self.memory.len() > 0
    }

    /// Every page of its memory this sandbox has written (see [`MemorySeen::written_all`]).
    pub(crate) fn written_all(&self) -> std::io::Result<Profile> {
        self.memory.written_all()
    }

    /// The class this sandbox loaded (or its original loaded, for a copy), for recycling.
    pub(crate) fn class(&self) -> Option<&Arc<Recycling>> {
        self.class.as_ref()
    }

    /// Whether this sandbox loaded the class `recycling` belongs to.
    pub(crate) fn is_of(&self, recycling: &Arc<Recycling>) -> bool {
        self.class
            .as_ref()
            .is_some_and(|c| Arc::ptr_eq(c, recycling))
    }

    /// This (idle, recyclable) sandbox brought back to the state of `pristine`, its class's
    /// pristine sandbox, by the `sync` call that ends every creation: its memory and host side,
    /// under `limits`.
    fn restore(
        mut self,
        pristine: &Pristine,
        written: &[std::ops::Range<usize>],
        limits: Arc<Limits>,
    ) -> Result<Self, EnvError> {
        let what = "recycling the sandbox";
        let host = pristine_host(pristine).ok_or_else(|| generators_lost(what))?;
        self.take_host(&host, what)?;
        self.store.data_mut().limiter = MemoryLimiter {
            armed: true,
            ..MemoryLimiter::new(&limits)
        };
        self.limits = limits;
        self.profiles = None;
        self.for_solve = false;
        self.sync(pristine.template(written))?;
        Ok(self)
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
    /// `class`: the original's (see [`Sandbox::class`]), so that the copy can be recycled too.
    pub(crate) fn from_snapshot(
        engine: &Engine,
        limits: Arc<Limits>,
        snapshot: &Snapshot,
        host: &HostSide,
        class: Option<Arc<Recycling>>,
    ) -> Result<Self, EnvError> {
        let host = host.copy().ok_or_else(|| {
            EnvError::new(
                EnvErrorKind::Trap,
                "copying the sandbox: its random generators cannot be reproduced",
            )
        })?;
        let mut sandbox = Self::instantiate_with(engine, limits, host)?;
        sandbox.class = class;
        sandbox.write_snapshot(snapshot)?;
        Ok(sandbox)
    }

    /// [`Sandbox::from_snapshot`] for a sandbox of `spec`, made from an idle sandbox of `class`
    /// in `idle` when there is one, instead of a fresh instance. The idle sandbox is first
    /// brought back to the class's start state, as for a new env ([`crate::recycle`]), and
    /// the snapshot is then written over it. Where that start state
    /// differs from the guest's image, the original's own load wrote the same bytes (every
    /// sandbox of a class loads it alike), so those pages are in the snapshot too. The pages
    /// outside the snapshot hold the image's bytes in both, and the copy is the original's
    /// memory byte for byte, as from a fresh instance. It skips the instantiation (wasmtime's
    /// function-reference set-up) and the page faults of a first call.
    pub(crate) fn copy_of(
        engine: &Engine,
        limits: Arc<Limits>,
        spec: &EnvSpec,
        (snapshot, host): (&Snapshot, &HostSide),
        class: Option<Arc<Recycling>>,
        idle: &Idle,
    ) -> Result<Self, EnvError> {
        let recycled = class.as_ref().and_then(|class| {
            let mut sandbox = Self::from_idle(&limits, class, idle, || {
                let code = engine
                    .code
                    .get(engine, &limits, &spec.source, spec.class_name())
                    .ok()?;
                Self::pristine(engine, limits.clone(), &code, spec.class_name())
            })?;
            // A sandbox that cannot take the snapshot is dropped; a fresh one takes its place.
            sandbox.take_host(host, "copying the sandbox").ok()?;
            sandbox.write_snapshot(snapshot).ok()?;
            idle.count_recycled();
            Some(sandbox)
        });
        match recycled {
            Some(sandbox) => Ok(sandbox),
            None => Self::from_snapshot(engine, limits, snapshot, host, class),
        }
    }

    /// Give the guest a copy of `host` as its host side: clock, generators, captured output.
    fn take_host(&mut self, host: &HostSide, what: &str) -> Result<(), EnvError> {
        let host = host.copy().ok_or_else(|| generators_lost(what))?;
        let wasi = sealed_ctx(&host).ok_or_else(|| generators_lost(what))?;
        let state = self.store.data_mut();
        state.wasi = wasi;
        state.clock = host.clock.clone();
        self.host = host;
        Ok(())
    }

    /// The `sync` call that writes `snapshot` into this sandbox's memory, then the check that
    /// the copy holds no host resources.
    fn write_snapshot(&mut self, snapshot: &Snapshot) -> Result<(), EnvError> {
        self.sync(Restore(snapshot))?;
        if !self.store.data().table.is_empty() {
            return Err(EnvError::new(
                EnvErrorKind::Trap,
                "copying the sandbox: the copy holds host resources its original did not",
            ));
        }
        Ok(())
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
            limiter: MemoryLimiter::new(&limits),
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
        store.data_mut().limiter.armed = true;
        Ok(Self {
            store,
            guest,
            instance,
            exports: engine.exports,
            memory: MemorySeen::default(),
            profiles: None,
            for_solve: false,
            class: None,
            host,
            limits,
        })
    }

    /// Build a fresh env object with `from_env_str(env_str)` after seeding `random` and the
    /// WASI generators with `seed`.
    pub fn reset(&mut self, env_str: &str, seed: u64) -> Result<String, EnvError> {
        self.host.stdout.clear();
        self.host.stderr.clear();
        self.host.reseed(seed);
        self.store.data_mut().wasi = sealed_ctx(&self.host).ok_or_else(|| {
            EnvError::new(
                EnvErrorKind::Trap,
                "resetting the env: cannot seed its generators",
            )
        })?;
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
        let out = self
            .guest
            .call_step(&mut self.store, action)
            .map(step_reply);
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

    /// The pages of linear memory that a step with `action` touches (page indices, ascending),
    /// for [`Sandbox::warm`]; consumes this sandbox, which the caller made for it. It steps
    /// twice (the first steps after a reset touch more than later ones: for the LIS env, the
    /// second step's list has 151 pages, the third's and later ones' 137), maps
    /// its memory again from a copy so that no page is mapped
    /// (`MemorySeen::remap_from_copy`), steps again, and lists the pages mapped since: the
    /// guest's and the host's accesses alike (lowering the action, lifting the reply). `None`
    /// if a step fails or the kernel cannot tell (no `memfd`, no userfaultfd to turn
    /// fault-around off).
    pub fn step_pages(mut self, action: &str) -> Option<Vec<u32>> {
        self.step(action).ok()?;
        self.step(action).ok()?;
        #[cfg(target_os = "linux")]
        {
            self.memory.remap_from_copy().ok()?;
            self.step(action).ok()?;
            self.memory.mapped().ok()
        }
        #[cfg(not(target_os = "linux"))]
        None
    }

    /// Touch `pages` (from [`Sandbox::step_pages`] of a sandbox of the same class) before a
    /// step: one read per page, all issued together, so the step finds its address translations
    /// and those cache lines fetched. Changes nothing the guest sees.
    pub fn warm(&self, pages: &[u32]) {
        self.memory.warm(pages);
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

/// A copy of the host side of a class's pristine sandbox (`None` if its generators can no
/// longer be reproduced).
fn pristine_host(pristine: &Pristine) -> Option<HostSide> {
    pristine
        .sandbox
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .host
        .copy()
}

fn generators_lost(what: &str) -> EnvError {
    EnvError::new(
        EnvErrorKind::Trap,
        format!("{what}: its generators cannot be copied"),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::recycle::Idle;

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
    /// the class that loads it (rather than copying its pristine sandbox) gets those pages at
    /// load; the verification's result is unchanged.
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

        let mut second =
            Sandbox::load_new(&engine, limits.clone(), &code, spec.class_name(), true).unwrap();
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

    /// Step `reference` and `twin` with each action, every observation starting with one of
    /// `obs_starts` and the twin giving the same result with the same fuel left each time;
    /// then the two memories are identical byte for byte (else fail with `differs`) and so is
    /// the output.
    fn assert_twins(
        reference: &mut Sandbox,
        twin: &mut Sandbox,
        actions: &[&str],
        obs_starts: [&str; 2],
        differs: &str,
    ) {
        for action in actions {
            let expected = reference.step(action).unwrap();
            assert!(obs_starts
                .iter()
                .any(|start| expected.obs.starts_with(start)));
            assert_eq!(twin.step(action).unwrap(), expected);
            assert_eq!(twin.fuel_left(), reference.fuel_left());
        }
        assert!(dump(twin) == dump(reference), "{differs}");
        assert_eq!(twin.output(), reference.output());
    }

    /// How `step_pages` learns what a step touches, and `warm`, change nothing the guest sees:
    /// a sandbox whose memory was mapped again from a copy of itself has nothing mapped, then
    /// steps exactly like an untouched twin (results, fuel), after which the pages it has
    /// mapped are some of those it had before, not all; the twin, warmed with them, steps
    /// the same again, and the two memories are identical byte for byte.
    #[test]
    fn remapping_a_memory_and_warming_its_pages_change_nothing_the_guest_sees() {
        let limits = Arc::new(Limits::default());
        let engine = Engine::shared(limits.stack_bytes).unwrap();
        let spec = EnvSpec::new(Arc::from(SOURCE), "NoiseEnv@{}", None, 3).unwrap();
        let mut remapped = Sandbox::for_spec(&engine, limits.clone(), &spec).unwrap();
        let mut twin = Sandbox::for_spec(&engine, limits.clone(), &spec).unwrap();
        assert_eq!(
            remapped.reset("NoiseEnv@{}", 3).unwrap(),
            twin.reset("NoiseEnv@{}", 3).unwrap()
        );
        assert_eq!(remapped.step("a").unwrap(), twin.step("a").unwrap());
        let mapped_before = remapped.memory.mapped().unwrap().len();
        remapped.memory.remap_from_copy().unwrap();
        assert_eq!(remapped.memory.mapped().unwrap(), Vec::<u32>::new());
        assert_eq!(remapped.step("b").unwrap(), twin.step("b").unwrap());
        assert_eq!(remapped.fuel_left(), twin.fuel_left());
        let touched = remapped.memory.mapped().unwrap();
        assert!(
            !touched.is_empty() && touched.len() < mapped_before,
            "a step touched {} pages of the {mapped_before} mapped",
            touched.len()
        );
        twin.warm(&touched);
        remapped.warm(&touched);
        assert_eq!(remapped.step("c").unwrap(), twin.step("c").unwrap());
        assert_eq!(remapped.fuel_left(), twin.fuel_left());
        assert!(
            dump(&mut remapped) == dump(&mut twin),
            "the remapped sandbox's memory differs from its twin's"
        );
        assert_eq!(remapped.output(), twin.output());

        let mut learner = Sandbox::for_spec(&engine, limits.clone(), &spec).unwrap();
        learner.reset("NoiseEnv@{}", 3).unwrap();
        let pages = learner.step_pages("a").expect("the kernel can tell");
        assert!(
            pages.windows(2).all(|w| w[0] < w[1]),
            "ascending, once each"
        );
        assert!(!pages.is_empty() && pages.len() < mapped_before);
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
        let mut copy =
            Sandbox::from_snapshot(&engine, limits.clone(), &snapshot, &host, None).unwrap();
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

    /// An env whose episodes leave traces in its class and module: a class attribute, a module
    /// global, a set ordered by `id()`, and it prints or grows its memory on request.
    const LEAKY: &str = r#"
import os
import random
import time

TRACE = []


class LeakyEnv:
    calls = 0

    @staticmethod
    def from_env_str(env_str):
        env = LeakyEnv()
        env.step_count = 0
        env.objects = {object() for _ in range(16)}
        return env

    def step(self, action):
        self.step_count += 1
        LeakyEnv.calls += 1
        TRACE.append(action * 50)
        if action == "print":
            print("hello")
        if action == "grow":
            self.big = bytearray(64 << 20)
        ids = sorted(id(o) % 10007 for o in self.objects)
        return True, repr([LeakyEnv.calls, len(TRACE), ids, random.random(),
                           os.urandom(4).hex(), time.time()])
"#;

    /// A copy made in an idle sandbox of the class is the original byte for byte. The idle
    /// sandbox ran another episode first (changing its class attribute, module global and
    /// heap); it is brought back to the class's start state and takes the original's snapshot,
    /// and then returns what the original returns, with the same fuel, memory and output.
    #[test]
    fn a_copy_into_an_idle_sandbox_is_the_original_byte_for_byte() {
        let limits = Arc::new(Limits::default());
        let engine = Engine::shared(limits.stack_bytes).unwrap();
        let source = LEAKY.replace("LeakyEnv", "ForkedEnv");
        let spec = EnvSpec::new(Arc::from(source), "ForkedEnv@{}", None, 7).unwrap();
        let idle = Idle::default();
        let make = || Sandbox::reuse_or_load(&engine, limits.clone(), &spec, false, &idle).unwrap();
        let (mut original, mut used) = (make(), make());
        used.reset("ForkedEnv@{}", 99).unwrap();
        for action in ["v", "w", "x", "y", "z"] {
            used.step(&action.repeat(100)).unwrap();
        }
        idle.offer(used);
        assert_eq!(idle.len(), 1, "the used sandbox should be kept");
        original.reset("ForkedEnv@{}", 7).unwrap();
        for action in ["a", "b", "c"] {
            original.step(action).unwrap();
        }
        let Snapshotted::Synced(Some((snapshot, host))) = original.snapshot().unwrap() else {
            panic!("nothing should block a copy");
        };
        let recycled = idle.recycled();
        let class = original.class().cloned();
        let mut copy = Sandbox::copy_of(
            &engine,
            limits.clone(),
            &spec,
            (&snapshot, &host),
            class,
            &idle,
        )
        .unwrap();
        assert_eq!(idle.len(), 0, "the copy should take the idle sandbox");
        assert_eq!(idle.recycled(), recycled + 1);
        assert_twins(
            &mut original,
            &mut copy,
            &["d", "e"],
            ["[4, 4, ", "[5, 5, "],
            "the copy's memory differs from the original's",
        );
    }

    /// A recycled sandbox is a fresh one, byte for byte: after an episode that changed its
    /// class, its module and a good part of its heap, it goes idle, comes back for a new env of
    /// the class, and then returns what a freshly loaded sandbox returns (the class attribute
    /// and module global back at their start, the same `id()` order and random draws), with the
    /// same fuel and identical memory.
    #[test]
    fn a_recycled_sandbox_is_a_fresh_one_byte_for_byte() {
        let limits = Arc::new(Limits::default());
        let engine = Engine::shared(limits.stack_bytes).unwrap();
        let spec = EnvSpec::new(Arc::from(LEAKY), "LeakyEnv@{}", None, 5).unwrap();
        let idle = Idle::default();
        let mut used =
            Sandbox::reuse_or_load(&engine, limits.clone(), &spec, false, &idle).unwrap();
        used.reset("LeakyEnv@{}", 99).unwrap();
        for action in ["a", "b", "c", "d"] {
            used.step(&action.repeat(100)).unwrap();
        }
        idle.offer(used);
        assert_eq!(idle.len(), 1, "the used sandbox should be kept");

        let mut recycled =
            Sandbox::reuse_or_load(&engine, limits.clone(), &spec, false, &idle).unwrap();
        assert_eq!(idle.len(), 0, "the new env should take the idle sandbox");
        let mut fresh = Sandbox::for_spec(&engine, limits.clone(), &spec).unwrap();
        assert_eq!(
            recycled.reset("LeakyEnv@{}", 5).unwrap(),
            fresh.reset("LeakyEnv@{}", 5).unwrap()
        );
        assert_twins(
            &mut fresh,
            &mut recycled,
            &["a", "b"],
            ["[1, 1, ", "[2, 2, "],
            "the recycled sandbox's memory differs from a fresh one's",
        );
    }

    /// Every sandbox of a class starts in one state, byte for byte, whether it loaded the class
    /// (the first) or copied the class's pristine sandbox (the second makes it; every later
    /// one copies it, also for `solve()`): identical memory right after creation, then the same
    /// results (module state, `id()` order, random draws, the clock), fuel and memory.
    #[test]
    fn sandboxes_copied_from_the_pristine_one_are_loaded_ones_byte_for_byte() {
        let limits = Arc::new(Limits::default());
        let engine = Engine::shared(limits.stack_bytes).unwrap();
        // Draws made while the class loads (from `random`, the WASI generators and the clock)
        // are part of the state a copy must reproduce.
        let source = LEAKY.replace("LeakyEnv", "CopiedEnv").replace(
            "TRACE = []",
            "TRACE = [repr([random.random(), os.urandom(8).hex(), time.time()])]",
        );
        assert!(source.contains("os.urandom(8)"));
        let spec = EnvSpec::new(Arc::from(source), "CopiedEnv@{}", None, 3).unwrap();
        let mut loaded = Sandbox::for_spec(&engine, limits.clone(), &spec).unwrap();
        let class = loaded.class().unwrap().clone();
        assert!(!class.has_pristine(), "the first sandbox loads the class");
        let mut copied = Sandbox::for_spec(&engine, limits.clone(), &spec).unwrap();
        assert!(
            class.has_pristine(),
            "the second sandbox copies a pristine one"
        );
        let mut for_solve = Sandbox::for_solve(&engine, limits.clone(), &spec).unwrap();
        let start = dump(&mut loaded);
        assert!(
            dump(&mut copied) == start,
            "a copy differs from a loaded sandbox"
        );
        assert!(dump(&mut for_solve) == start, "a copy for solve() differs");
        for sandbox in [&mut loaded, &mut copied, &mut for_solve] {
            sandbox.reset("CopiedEnv@{}", 3).unwrap();
        }
        for action in ["a", "b", "c"] {
            let expected = loaded.step(action).unwrap();
            if action == "a" {
                // One call, and the trace holds the load's draws and this action.
                assert!(expected.obs.starts_with("[1, 2, "), "{}", expected.obs);
            }
            for sandbox in [&mut copied, &mut for_solve] {
                assert_eq!(sandbox.step(action).unwrap(), expected);
                assert_eq!(sandbox.fuel_left(), loaded.fuel_left());
            }
        }
        let end = dump(&mut loaded);
        assert!(dump(&mut copied) == end && dump(&mut for_solve) == end);
        assert_eq!(copied.output(), loaded.output());
    }

    /// The process keeps a bounded number of pristine sandboxes (4 in tests): recycling more
    /// classes drops the oldest class's, and that class makes a new one when it is recycled
    /// again, with the same result.
    #[test]
    fn pristine_sandboxes_are_bounded_and_remade() {
        let limits = Arc::new(Limits::default());
        let engine = Engine::shared(limits.stack_bytes).unwrap();
        let idle = Idle::default();
        let specs: Vec<EnvSpec> = (0..6)
            .map(|i| {
                let source = LEAKY.replace("LeakyEnv", &format!("Bounded{i}Env"));
                EnvSpec::new(Arc::from(source), format!("Bounded{i}Env@{{}}"), None, 1).unwrap()
            })
            .collect();
        let recycle = |spec: &EnvSpec| {
            let mut used =
                Sandbox::reuse_or_load(&engine, limits.clone(), spec, false, &idle).unwrap();
            used.reset(&spec.env_str, 1).unwrap();
            let expected = used.step("a").unwrap();
            idle.offer(used);
            let mut recycled =
                Sandbox::reuse_or_load(&engine, limits.clone(), spec, false, &idle).unwrap();
            recycled.reset(&spec.env_str, 1).unwrap();
            assert_eq!(recycled.step("a").unwrap(), expected);
            recycled.class().unwrap().clone()
        };
        let first = recycle(&specs[0]);
        assert!(first.has_pristine());
        for spec in &specs[1..] {
            recycle(spec);
        }
        assert!(
            !first.has_pristine(),
            "the oldest pristine sandbox should be dropped"
        );
        assert!(Recycling::pristines() <= 4);
        assert!(recycle(&specs[0]).has_pristine());
    }

    /// Idle sandboxes are bounded by the bytes of the pages they wrote: past the budget the
    /// oldest are dropped, a sandbox over the budget alone is not kept, `take` gives the newest
    /// of the class asked for, and `release` empties the set.
    #[test]
    fn idle_sandboxes_are_bounded_by_the_pages_they_wrote() {
        let limits = Arc::new(Limits::default());
        let engine = Engine::shared(limits.stack_bytes).unwrap();
        let spec = EnvSpec::new(Arc::from(LEAKY), "LeakyEnv@{}", None, 2).unwrap();
        let make = |idle: &Idle| {
            let mut sandbox =
                Sandbox::reuse_or_load(&engine, limits.clone(), &spec, false, idle).unwrap();
            sandbox.reset("LeakyEnv@{}", 2).unwrap();
            sandbox.step("a").unwrap();
            sandbox
        };
        // The class's first sandbox records its pre-fault profile; later ones all write the same.
        drop(make(&Idle::default()));
        let measure = Idle::default();
        measure.offer(make(&measure));
        let one = measure.bytes();
        assert!(one >= 64 << 10, "{one} bytes written");
        assert_eq!(measure.release(), 1);
        assert_eq!((measure.len(), measure.bytes()), (0, 0));

        // Room for two and a half: the third offer drops the oldest.
        let idle = Idle::with_budget(one * 5 / 2);
        let sandboxes: Vec<Sandbox> = (0..3).map(|_| make(&Idle::default())).collect();
        let bases: Vec<usize> = sandboxes.iter().map(|s| s.memory.base()).collect();
        for sandbox in sandboxes {
            idle.offer(sandbox);
            assert!(idle.bytes() <= one * 5 / 2, "{} bytes kept", idle.bytes());
        }
        assert_eq!(idle.len(), 2);
        let class = engine
            .code
            .get(&engine, &limits, &spec.source, spec.class_name())
            .unwrap()
            .recycling
            .clone();
        let newest = idle.take(&class).unwrap();
        assert_eq!(newest.sandbox.memory.base(), bases[2]);
        let next = idle.take(&class).unwrap();
        assert_eq!(
            next.sandbox.memory.base(),
            bases[1],
            "the oldest was dropped"
        );
        assert!(idle.take(&class).is_none());
        assert_eq!(idle.bytes(), 0);

        let tiny = Idle::with_budget(one / 2);
        tiny.offer(make(&Idle::default()));
        assert_eq!(tiny.len(), 0, "a sandbox over the whole budget is not kept");
    }

    /// A reset seeds the WASI generators too: two episodes with one seed in one sandbox draw
    /// the same `os.urandom` and `SystemRandom` values, and another seed draws others.
    #[test]
    fn a_reset_seeds_every_generator() {
        let source = r#"
import os
import random


class DrawEnv:
    @staticmethod
    def from_env_str(env_str):
        return DrawEnv()

    def step(self, action):
        return True, repr([os.urandom(8).hex(), random.SystemRandom().random(), random.random()])
"#;
        let limits = Arc::new(Limits::default());
        let engine = Engine::shared(limits.stack_bytes).unwrap();
        let spec = EnvSpec::new(Arc::from(source), "DrawEnv@{}", None, 1).unwrap();
        let mut sandbox = Sandbox::for_spec(&engine, limits.clone(), &spec).unwrap();
        let mut draws = |seed| {
            sandbox.reset("DrawEnv@{}", seed).unwrap();
            [
                sandbox.step("a").unwrap().obs,
                sandbox.step("a").unwrap().obs,
            ]
        };
        let first = draws(1);
        assert_ne!(first[0], first[1]);
        assert_eq!(draws(1), first);
        assert_ne!(draws(2), first);
    }

    /// A sandbox that holds a host resource (an open output stream, after a `print`) or whose
    /// memory grew is not the shape of a fresh one: it is not kept for recycling.
    #[test]
    fn sandboxes_that_printed_or_grew_are_not_recycled() {
        let limits = Arc::new(Limits::default());
        let engine = Engine::shared(limits.stack_bytes).unwrap();
        let spec = EnvSpec::new(Arc::from(LEAKY), "LeakyEnv@{}", None, 5).unwrap();
        let idle = Idle::default();
        for action in ["print", "grow"] {
            let mut sandbox =
                Sandbox::reuse_or_load(&engine, limits.clone(), &spec, false, &idle).unwrap();
            sandbox.reset("LeakyEnv@{}", 5).unwrap();
            sandbox.step("a").unwrap();
            assert!(
                sandbox.recyclable(),
                "a plain step keeps the sandbox recyclable"
            );
            sandbox.step(action).unwrap();
            assert!(!sandbox.recyclable(), "{action}");
            idle.offer(sandbox);
            assert_eq!(idle.len(), 0, "{action}");
        }
    }

    /// A sandbox maps the image pages it reads, not their neighbours: with fault-around (16
    /// pages per read fault) this env mapped 1,947 pages after a reset and three steps, without
    /// it 343.
    #[test]
    fn a_sandbox_maps_only_the_pages_it_touches() {
        if !linux_at_least(6, 7) {
            eprintln!("no asynchronous userfaultfd write-protect on this kernel, not tested");
            return;
        }
        assert!(crate::fault_around::available(), "userfaultfd unavailable");
        let sandbox = noise_sandbox(9, &["a", "b", "c"]);
        let mapped = sandbox.memory.mapped_pages();
        assert!(mapped < 1_000, "{mapped} pages mapped");
    }

    /// The kernel's `PAGEMAP_SCAN` (Linux ≥ 6.7) finds exactly the written pages that the
    /// pagemap entries show, for a sandbox mid-episode and for a copy made from its snapshot.
    #[test]
    fn pagemap_scan_finds_the_pages_pagemap_shows() {
        let mut original = noise_sandbox(4, &["a", "bb", "a"]);
        let Snapshotted::Synced(Some((snapshot, host))) = original.snapshot().unwrap() else {
            panic!("nothing should block a copy");
        };
        let limits = Arc::new(Limits::default());
        let engine = Engine::shared(limits.stack_bytes).unwrap();
        let copy = Sandbox::from_snapshot(&engine, limits, &snapshot, &host, None).unwrap();
        for sandbox in [&original, &copy] {
            let (scanned, read) = sandbox.memory.written_both_ways();
            assert!(read.len() > 10, "{} written ranges", read.len());
            match scanned {
                Some(scanned) => assert_eq!(scanned, read),
                None => assert!(!linux_at_least(6, 7), "PAGEMAP_SCAN failed"),
            }
        }
    }

    /// A `NoiseEnv` sandbox reset with `seed` that has taken `actions`.
    fn noise_sandbox(seed: u64, actions: &[&str]) -> Sandbox {
        let limits = Arc::new(Limits::default());
        let engine = Engine::shared(limits.stack_bytes).unwrap();
        let spec = EnvSpec::new(Arc::from(SOURCE), "NoiseEnv@{}", None, seed).unwrap();
        let mut sandbox = Sandbox::for_spec(&engine, limits, &spec).unwrap();
        sandbox.reset("NoiseEnv@{}", seed).unwrap();
        for action in actions {
            sandbox.step(action).unwrap();
        }
        sandbox
    }

    fn linux_at_least(major: u32, minor: u32) -> bool {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
        let mut version = release
            .split(['.', '-'])
            .map(|p| p.parse::<u32>().unwrap_or(0));
        (version.next().unwrap_or(0), version.next().unwrap_or(0)) >= (major, minor)
    }

    /// The first env of a class records the pages it wrote while loading and resetting; a later
    /// sandbox that loads the class (its pristine one, or any when the class cannot be copied)
    /// has all of them private right after its load, before its reset; and
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

        let mut prefaulted =
            Sandbox::load_new(&engine, limits.clone(), &code, spec.class_name(), false).unwrap();
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
        plain.sync_only().unwrap();
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
