//! A pool of sandboxed envs stepped in batches on a Rust thread pool.
//!
//! Sync calls (`reset`, `step`, `solve`) run one batch across the threads and return when all of
//! it is done. Async calls (`send`, `recv`) queue work per env and hand back results as they
//! finish, so a slow env never holds back a fast one. Either way each env runs on its home
//! thread unless that thread has fallen behind (`crate::affinity`). An env with work in flight
//! is *busy*: it accepts no other call until its result has been received.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use rayon::prelude::*;

use crate::affinity::{run_batch, HomeQueues};
use crate::engine::Engine;
use crate::error::{ConfigError, EngineError, EnvError, EnvErrorKind};
use crate::limits::Limits;
use crate::memory::Snapshot;
use crate::recycle::{Idle, Recycling};
use crate::sandbox::{Sandbox, Snapshotted};
use crate::spec::EnvSpec;
use crate::wasi::HostSide;

/// The outcome of `reset` or `step` for one env.
#[derive(Clone, Debug, PartialEq)]
pub struct StepOutcome {
    pub env_id: usize,
    pub obs: String,
    pub reward: f64,
    /// The episode is over: the env finished, was truncated, or failed.
    pub done: bool,
    /// The episode hit `max_steps` before the env finished.
    pub truncated: bool,
    pub step_count: u64,
    pub error: Option<EnvError>,
}

impl StepOutcome {
    /// An ended episode with no observation; `error` says why, when it failed.
    fn ended(env_id: usize, error: Option<EnvError>) -> Self {
        StepOutcome {
            env_id,
            obs: String::new(),
            reward: 0.0,
            done: true,
            truncated: false,
            step_count: 0,
            error,
        }
    }
}

/// The outcome of `solve` for one env.
#[derive(Clone, Debug, PartialEq)]
pub struct SolveOutcome {
    pub env_id: usize,
    /// What `solve()` returned, as text.
    pub answer: String,
    pub reward: f64,
    pub done: bool,
    /// The env's `step_count` after the oracle ran.
    pub steps: u64,
    /// The oracle's actions, when asked for (see [`GuestSolve::actions`]).
    ///
    /// [`GuestSolve::actions`]: crate::GuestSolve::actions
    pub actions: Option<Vec<String>>,
    pub error: Option<EnvError>,
}

/// Pool-wide settings.
#[derive(Clone, Debug, Default)]
pub struct PoolOptions {
    /// Worker threads; `None` means one per available core.
    pub num_threads: Option<usize>,
    pub limits: Limits,
    /// Stepping a finished env resets it (and returns the reset) instead of failing.
    pub auto_reset: bool,
}

#[derive(Clone, Debug, PartialEq)]
enum Phase {
    NeverReset,
    Running,
    Finished,
    Failed(EnvError),
}

/// A call that changed a sandbox's state, kept so that `fork` can replay it on a fresh sandbox.
#[derive(Clone, Debug)]
enum Event {
    Reset,
    Step(String),
    Solve,
    /// The `sync` call a fork by copy makes on the original (see [`Sandbox::snapshot`]).
    Sync,
}

impl Event {
    /// What the event adds to the replay log's size bound.
    fn bytes(&self) -> usize {
        match self {
            Self::Step(action) => action.len(),
            Self::Reset | Self::Solve | Self::Sync => 0,
        }
    }
}

/// A sandbox's replay log holds at most this many calls and this many bytes of actions. Past
/// either, the log is dropped (the env cannot be forked) and the next `reset` rebuilds the
/// sandbox from its spec, which starts a new log: fork cost and log memory stay bounded.
const MAX_REPLAY_EVENTS: usize = 4096;
const MAX_REPLAY_BYTES: usize = 4 << 20;

/// What a fork's clones take from their original besides its sandbox.
struct Template {
    spec: EnvSpec,
    events: Vec<Event>,
    phase: Phase,
    replayable: bool,
}

struct Slot {
    spec: EnvSpec,
    sandbox: Option<Sandbox>,
    phase: Phase,
    /// Every call made on `sandbox` since it was loaded, while `replayable`. Because a sandbox
    /// is deterministic (seeded randomness, virtual clocks, fuel), replaying this log on a
    /// freshly loaded sandbox of the same spec reproduces its exact state.
    events: Vec<Event>,
    event_bytes: usize,
    replayable: bool,
    /// The output of the episode whose sandbox went back to the pool after `solve()`.
    output: Option<(String, String)>,
}

impl Slot {
    fn new(spec: EnvSpec) -> Self {
        Self {
            spec,
            sandbox: None,
            phase: Phase::NeverReset,
            events: Vec::new(),
            event_bytes: 0,
            replayable: true,
            output: None,
        }
    }

    /// A new slot in the exact state of one whose sandbox went through `template.events`: a
    /// fresh sandbox of the same spec with the same calls replayed.
    fn replay(
        template: &Template,
        engine: &Engine,
        limits: &Arc<Limits>,
    ) -> Result<Self, EnvError> {
        let spec = &template.spec;
        let mut sandbox = Sandbox::for_spec(engine, limits.clone(), spec)?;
        for event in &template.events {
            match event {
                Event::Reset => sandbox.reset(&spec.env_str, spec.seed).map(drop)?,
                Event::Step(action) => sandbox.step(action).map(drop)?,
                Event::Solve => sandbox.solve(false).map(drop)?,
                Event::Sync => sandbox.sync_only()?,
            }
        }
        Ok(Self::cloned(template, sandbox))
    }

    /// A new slot in the exact state of one whose sandbox [`Sandbox::snapshot`] captured:
    /// a sandbox (fresh, or an idle one of its class) with that memory and host state written in.
    fn copy(
        template: &Template,
        shared: &Shared,
        (snapshot, host): &(Snapshot, HostSide),
        class: Option<Arc<Recycling>>,
    ) -> Result<Self, EnvError> {
        let sandbox = Sandbox::copy_of(
            &shared.engine,
            shared.limits.clone(),
            &template.spec,
            (snapshot, host),
            class,
            &shared.idle,
        )?;
        Ok(Self::cloned(template, sandbox))
    }

    /// A fork's clone: `template`'s spec, phase and log, around `sandbox`.
    fn cloned(template: &Template, sandbox: Sandbox) -> Self {
        Self {
            spec: template.spec.clone(),
            sandbox: Some(sandbox),
            phase: template.phase.clone(),
            events: template.events.clone(),
            event_bytes: template.events.iter().map(Event::bytes).sum(),
            replayable: template.replayable,
            output: None,
        }
    }

    fn fail(&mut self, env_id: usize, error: EnvError) -> StepOutcome {
        if error.kind.poisons() {
            self.sandbox = None;
            self.phase = Phase::Failed(error.clone());
        }
        StepOutcome::ended(env_id, Some(error))
    }

    /// Append to the replay log, or drop the log once it is over its bounds.
    fn log(&mut self, event: Event) {
        if !self.replayable {
            return;
        }
        self.event_bytes += event.bytes();
        if self.events.len() >= MAX_REPLAY_EVENTS || self.event_bytes > MAX_REPLAY_BYTES {
            self.events = Vec::new();
            self.replayable = false;
        } else {
            self.events.push(event);
        }
    }

    /// Reset the env, rebuilding its sandbox if it has none; `for_solve` when `solve()` comes
    /// next (a rebuilt sandbox is then made for it, see [`Sandbox::for_solve`]).
    fn reset(&mut self, env_id: usize, shared: &Shared, for_solve: bool) -> StepOutcome {
        let (spec, idle) = (&self.spec, &shared.idle);
        self.output = None;
        if !self.replayable {
            if let Some(sandbox) = self.sandbox.take() {
                idle.offer(sandbox);
            }
        }
        let sandbox = match self.sandbox.take() {
            Some(sandbox) => Ok(sandbox),
            None => {
                self.events.clear();
                self.event_bytes = 0;
                self.replayable = true;
                Sandbox::reuse_or_load(&shared.engine, shared.limits.clone(), spec, for_solve, idle)
            }
        };
        let result = sandbox.and_then(|mut sandbox| {
            let obs = sandbox.reset(&spec.env_str, spec.seed)?;
            Ok((sandbox, obs))
        });
        match result {
            Ok((sandbox, obs)) => {
                self.sandbox = Some(sandbox);
                self.log(Event::Reset);
                self.phase = Phase::Running;
                StepOutcome {
                    obs,
                    done: false,
                    ..StepOutcome::ended(env_id, None)
                }
            }
            Err(error) => self.fail(env_id, error),
        }
    }

    fn step(&mut self, env_id: usize, action: &str, shared: &Shared, warm: bool) -> StepOutcome {
        if self.phase != Phase::Running {
            if shared.auto_reset && self.phase != Phase::NeverReset {
                return self.reset(env_id, shared, false);
            }
            let error = match &self.phase {
                Phase::Failed(e) => e.clone(),
                Phase::NeverReset => {
                    EnvError::new(EnvErrorKind::NeedsReset, "step() before the first reset()")
                }
                _ => EnvError::new(
                    EnvErrorKind::NeedsReset,
                    "the episode is over; call reset() (or make the pool with auto_reset=True)",
                ),
            };
            return self.fail(env_id, error);
        }
        let Some(sandbox) = self.sandbox.as_mut() else {
            return self.fail(env_id, EnvError::new(EnvErrorKind::Trap, "sandbox missing"));
        };
        let limits = &shared.limits;
        if action.len() > limits.max_action_bytes {
            // Malformed input costs the agent a turn, not the episode: answer with an observation.
            return StepOutcome {
                obs: format!(
                    "Error: the action is {} bytes long; the limit is {} bytes.",
                    action.len(),
                    limits.max_action_bytes
                ),
                done: false,
                ..StepOutcome::ended(env_id, None)
            };
        }
        if warm {
            // Borrowed, not cloned: every thread steps envs of the class, so a reference count
            // taken per step would move one cache line between the cores at every step.
            let spec = &self.spec;
            let pages = sandbox.class().and_then(|class| {
                class.step_pages(|| {
                    let mut learner =
                        Sandbox::for_spec(&shared.engine, limits.clone(), spec).ok()?;
                    learner.reset(&spec.env_str, spec.seed).ok()?;
                    learner.step_pages(action)
                })
            });
            if let Some(pages) = pages {
                sandbox.warm(pages);
            }
        }
        let result = sandbox.step(action);
        self.log(Event::Step(action.to_owned()));
        match result {
            Ok(step) => {
                let truncated =
                    !step.done && self.spec.max_steps.is_some_and(|m| step.step_count >= m);
                let done = step.done || truncated;
                if done {
                    self.phase = Phase::Finished;
                }
                StepOutcome {
                    env_id,
                    obs: step.obs,
                    reward: step.reward,
                    done,
                    truncated,
                    step_count: step.step_count,
                    error: None,
                }
            }
            Err(error) => self.fail(env_id, error),
        }
    }

    fn solve(&mut self, env_id: usize, shared: &Shared, record: bool) -> SolveOutcome {
        if self.phase != Phase::Running {
            let reset = self.reset(env_id, shared, true);
            if let Some(error) = reset.error {
                return solve_failure(env_id, error);
            }
        }
        let Some(sandbox) = self.sandbox.as_mut() else {
            return solve_failure(env_id, EnvError::new(EnvErrorKind::Trap, "sandbox missing"));
        };
        let result = sandbox.solve(record);
        self.log(Event::Solve);
        match result {
            Ok(s) => {
                self.phase = Phase::Finished;
                // The episode is over: its sandbox goes to the next env of the class this pool
                // creates (a later reset makes or recycles one; a fork replays the log).
                if let Some(sandbox) = self.sandbox.take() {
                    self.output = Some(sandbox.output());
                    shared.idle.offer(sandbox);
                }
                SolveOutcome {
                    env_id,
                    answer: s.answer,
                    reward: s.reward,
                    done: s.done,
                    steps: s.step_count,
                    actions: s.actions,
                    error: None,
                }
            }
            Err(error) => solve_failure(
                env_id,
                self.fail(env_id, error)
                    .error
                    .unwrap_or_else(|| EnvError::new(EnvErrorKind::Trap, "solve failed")),
            ),
        }
    }
}

fn solve_failure(env_id: usize, error: EnvError) -> SolveOutcome {
    SolveOutcome {
        env_id,
        answer: String::new(),
        reward: 0.0,
        done: true,
        steps: 0,
        actions: None,
        error: Some(error),
    }
}

/// One env of the pool: its slot, and whether a `send` for it awaits `recv`. `busy` lives
/// outside the mutex so that it can be checked while a worker holds the slot.
struct Entry {
    slot: Mutex<Slot>,
    busy: AtomicBool,
}

struct Shared {
    engine: Arc<Engine>,
    limits: Arc<Limits>,
    auto_reset: bool,
    /// Grows when envs are forked; entries are never removed, so ids stay valid.
    entries: RwLock<Vec<Arc<Entry>>>,
    /// Sandboxes envs gave back, for the next envs of their classes in this pool or a later
    /// one (see [`crate::recycle`]).
    idle: Idle,
}

impl Shared {
    fn entry(&self, id: usize) -> Arc<Entry> {
        self.entries.read().unwrap_or_else(PoisonError::into_inner)[id].clone()
    }

    fn len(&self) -> usize {
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Run `op` on one slot; a panic inside turns into an error for that env only.
    fn with_slot<R>(
        &self,
        id: usize,
        op: impl FnOnce(&mut Slot) -> R,
        on_panic: impl FnOnce(EnvError) -> R,
    ) -> R {
        let entry = self.entry(id);
        let mut slot = entry.slot.lock().unwrap_or_else(PoisonError::into_inner);
        match catch_unwind(AssertUnwindSafe(|| op(&mut slot))) {
            Ok(r) => r,
            Err(_) => {
                let error =
                    EnvError::new(EnvErrorKind::Trap, "internal error while running this env");
                slot.sandbox = None;
                slot.phase = Phase::Failed(error.clone());
                on_panic(error)
            }
        }
    }

    /// Step one env; with `warm`, touch the pages its step will touch first (see
    /// [`WARM_FROM_ENVS_PER_THREAD`]).
    fn step_one(&self, id: usize, action: &str, warm: bool) -> StepOutcome {
        self.with_slot(
            id,
            |slot| slot.step(id, action, self, warm),
            |error| StepOutcome::ended(id, Some(error)),
        )
    }
}

/// Steps warm their env's pages first ([`Sandbox::warm`]) when the batch gives each worker
/// thread at least this many envs: each thread then cycles through more sandboxes than its
/// translation and cache entries hold, and a step pays a miss for most pages it touches, one
/// after another; touched together ahead of the step, they are fetched in parallel. Below
/// it the pages are still cached and the reads only add their own cost. Measured on one thread
/// (LIS `Observe`, sandboxes stepped in turn, without and with): 4 sandboxes 7.63 → 7.78 µs,
/// 8: 8.03 → 7.86, 16: 8.65 → 8.29, 32: 9.62 → 8.88, 64: 10.31 → 9.18, 128: 10.41 → 9.62.
pub(crate) const WARM_FROM_ENVS_PER_THREAD: usize = 16;

/// Drop the sandboxes kept for recycling (see `crate::recycle`), freeing their memory: those
/// that closed pools and finished episodes left for later envs of their classes, and each
/// class's pristine sandbox. Returns how many there were.
pub fn release_idle_sandboxes() -> usize {
    Idle::process().release() + crate::recycle::release_pristines()
}

/// A batch of sandboxed envs.
pub struct EnvPool {
    shared: Arc<Shared>,
    threads: rayon::ThreadPool,
    /// Actions sent and not yet started, queued by their env's home thread.
    queued: Arc<HomeQueues<(usize, String)>>,
    tx: Sender<StepOutcome>,
    rx: Receiver<StepOutcome>,
    in_flight: usize,
    /// `step` batches run so far; every other one walks each thread's envs backwards (see
    /// `crate::affinity`).
    batches: AtomicUsize,
}

/// Closing a pool gives its envs' sandboxes to the process's idle sandboxes, for the next envs
/// of their classes that any pool creates.
impl Drop for EnvPool {
    fn drop(&mut self) {
        let entries = self
            .shared
            .entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for entry in entries {
            // An env with an action still queued keeps its sandbox: its step runs later.
            if entry.busy.load(Ordering::Acquire) {
                continue;
            }
            let sandbox = entry
                .slot
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .sandbox
                .take();
            if let Some(sandbox) = sandbox {
                self.shared.idle.offer(sandbox);
            }
        }
    }
}

impl EnvPool {
    pub fn new(specs: Vec<EnvSpec>, options: PoolOptions) -> Result<Self, EngineError> {
        options.limits.validate()?;
        if specs.is_empty() {
            return Err(ConfigError("a pool needs at least one EnvSpec".into()).into());
        }
        if options.num_threads == Some(0) {
            return Err(ConfigError("num_threads must be positive".into()).into());
        }
        let engine = Engine::shared(options.limits.stack_bytes)?;
        let threads = rayon::ThreadPoolBuilder::new()
            .num_threads(options.num_threads.unwrap_or(0))
            .thread_name(|i| format!("codegym-env-{i}"))
            // wasm runs on the calling thread's stack: leave room above the wasm stack limit so
            // deep guest recursion traps cleanly instead of overflowing the host thread.
            .stack_size(options.limits.stack_bytes + (16 << 20))
            .build()
            .map_err(|e| EngineError::Wasmtime(format!("cannot start worker threads: {e}")))?;
        let (tx, rx) = crossbeam_channel::unbounded();
        let entries = specs
            .into_iter()
            .map(|spec| Entry::new(Slot::new(spec)))
            .collect();
        Ok(Self {
            shared: Arc::new(Shared {
                engine,
                limits: Arc::new(options.limits),
                auto_reset: options.auto_reset,
                entries: RwLock::new(entries),
                idle: Idle::process(),
            }),
            queued: Arc::new(HomeQueues::new(threads.current_num_threads())),
            threads,
            tx,
            rx,
            in_flight: 0,
            batches: Default::default(),
        })
    }

    pub fn len(&self) -> usize {
        self.shared.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn num_threads(&self) -> usize {
        self.threads.current_num_threads()
    }

    pub fn limits(&self) -> &Limits {
        &self.shared.limits
    }

    pub fn auto_reset(&self) -> bool {
        self.shared.auto_reset
    }

    /// `None` means every env, in order.
    fn resolve_ids(&self, ids: Option<Vec<usize>>) -> Result<Vec<usize>, ConfigError> {
        let entries = self
            .shared
            .entries
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let len = entries.len();
        let ids = ids.unwrap_or_else(|| (0..len).collect());
        let mut seen = vec![false; len];
        for &id in &ids {
            if id >= len {
                return Err(ConfigError(format!(
                    "env id {id} is out of range for a pool of {len}"
                )));
            }
            if std::mem::replace(&mut seen[id], true) {
                return Err(ConfigError(format!(
                    "env id {id} appears twice in one batch"
                )));
            }
            if entries[id].busy.load(Ordering::Acquire) {
                return Err(ConfigError(format!(
                    "env {id} has a pending send(); recv() its result first"
                )));
            }
        }
        Ok(ids)
    }

    /// Reset envs (all if `ids` is `None`), rebuilding any whose sandbox failed.
    pub fn reset(&self, ids: Option<Vec<usize>>) -> Result<Vec<StepOutcome>, ConfigError> {
        let ids = self.resolve_ids(ids)?;
        let shared = &self.shared;
        Ok(run_batch(&self.threads, &ids, false, |j| {
            let id = ids[j];
            shared.with_slot(
                id,
                |slot| slot.reset(id, shared, false),
                |error| StepOutcome::ended(id, Some(error)),
            )
        }))
    }

    /// Step envs with one action each and wait for all of them.
    pub fn step(
        &self,
        actions: &[String],
        ids: Option<Vec<usize>>,
    ) -> Result<Vec<StepOutcome>, ConfigError> {
        let ids = self.resolve_ids(ids)?;
        check_lengths(actions.len(), ids.len())?;
        let shared = &self.shared;
        let warm = self.warms(ids.len());
        let backwards = self.batches.fetch_add(1, Ordering::Relaxed) % 2 == 1;
        Ok(run_batch(&self.threads, &ids, backwards, |j| {
            shared.step_one(ids[j], &actions[j], warm)
        }))
    }

    /// Run each env's `solve()` oracle (resetting it first if its episode is not running);
    /// with `record`, each outcome carries the actions the oracle took.
    pub fn solve(
        &self,
        ids: Option<Vec<usize>>,
        record: bool,
    ) -> Result<Vec<SolveOutcome>, ConfigError> {
        let ids = self.resolve_ids(ids)?;
        let shared = &self.shared;
        Ok(run_batch(&self.threads, &ids, false, |j| {
            let id = ids[j];
            shared.with_slot(
                id,
                |slot| slot.solve(id, shared, record),
                |error| solve_failure(id, error),
            )
        }))
    }

    /// Queue one action per env and return at once; results come back through [`recv`].
    ///
    /// [`recv`]: EnvPool::recv
    pub fn send(&mut self, actions: Vec<String>, ids: Vec<usize>) -> Result<(), ConfigError> {
        let ids = self.resolve_ids(Some(ids))?;
        check_lengths(actions.len(), ids.len())?;
        let jobs = ids.len();
        for (id, action) in ids.into_iter().zip(actions) {
            self.shared.entry(id).busy.store(true, Ordering::Release);
            self.in_flight += 1;
            self.queued.push(id, (id, action));
        }
        // One drain per thread that has work to do (at most one per job): each drains the
        // queues, those of the thread it runs on first; a drain that finds them empty (another
        // drain took the work) returns at once.
        let warm = self.warms(self.in_flight);
        for _ in 0..jobs.min(self.threads.current_num_threads()) {
            let (shared, queued, tx) = (self.shared.clone(), self.queued.clone(), self.tx.clone());
            self.threads.spawn(move || {
                queued.drain(
                    rayon::current_thread_index().unwrap_or(0),
                    |(id, action)| {
                        let outcome = shared.step_one(id, &action, warm);
                        // The receiver lives as long as the pool; a send can fail only while it drops.
                        let _ = tx.send(outcome);
                    },
                )
            });
        }
        Ok(())
    }

    /// Whether steps warm their pages with `envs` envs stepping at once (in one batch, or in
    /// flight): at least [`WARM_FROM_ENVS_PER_THREAD`] per worker thread.
    fn warms(&self, envs: usize) -> bool {
        envs >= WARM_FROM_ENVS_PER_THREAD * self.threads.current_num_threads()
    }

    /// Envs with a result not yet received.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Envs made so far from a recycled sandbox rather than a fresh one (see
    /// `crate::recycle`).
    pub fn recycled(&self) -> usize {
        self.shared.idle.recycled()
    }

    /// Wait until `min_batch` results are ready, and return up to `max_batch` of them.
    ///
    /// With a `timeout`, returns what is ready by then (possibly fewer than `min_batch`).
    pub fn recv(
        &mut self,
        min_batch: usize,
        max_batch: usize,
        timeout: Option<Duration>,
    ) -> Result<Vec<StepOutcome>, ConfigError> {
        if min_batch > self.in_flight {
            return Err(ConfigError(format!(
                "recv(min_batch={min_batch}) but only {} envs are in flight",
                self.in_flight
            )));
        }
        if max_batch < min_batch.max(1) {
            return Err(ConfigError("max_batch must be ≥ min_batch and ≥ 1".into()));
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut out = Vec::with_capacity(max_batch);
        while out.len() < min_batch {
            let next = match deadline {
                None => self.rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                Some(d) => self.rx.recv_deadline(d),
            };
            match next {
                Ok(outcome) => out.push(outcome),
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(ConfigError("the worker pool has shut down".into()))
                }
            }
        }
        while out.len() < max_batch {
            match self.rx.try_recv() {
                Ok(outcome) => out.push(outcome),
                Err(_) => break,
            }
        }
        for outcome in &out {
            self.shared
                .entry(outcome.env_id)
                .busy
                .store(false, Ordering::Release);
        }
        self.in_flight -= out.len();
        Ok(out)
    }

    /// Make `n` copies of env `id` in its exact current state and return their new ids.
    ///
    /// A clone is a new sandbox of the same spec on which every call the original's sandbox
    /// received since it was loaded is replayed; sandboxes are deterministic, so the clone's
    /// interpreter, `random` state, virtual clock and step count equal the original's. Clones
    /// then diverge independently. An env that failed, or was never reset, cannot be forked.
    pub fn fork(&mut self, id: usize, n: usize) -> Result<Vec<usize>, ConfigError> {
        let ids = self.resolve_ids(Some(vec![id]))?;
        let (template, snapshot, class) = {
            let entry = self.shared.entry(ids[0]);
            let mut slot = entry.slot.lock().unwrap_or_else(PoisonError::into_inner);
            match &slot.phase {
                Phase::Failed(e) => {
                    return Err(ConfigError(format!(
                        "env {id} cannot be forked: its sandbox failed ({e}); reset it first"
                    )))
                }
                Phase::NeverReset => {
                    return Err(ConfigError(format!(
                        "env {id} cannot be forked before its first reset()"
                    )))
                }
                Phase::Running | Phase::Finished => {}
            }
            let class = slot.sandbox.as_ref().and_then(Sandbox::class).cloned();
            // Copy the sandbox when it can be copied; otherwise replay its log.
            let snapshot = match slot.sandbox.as_mut().filter(|_| n > 0) {
                Some(sandbox) => match sandbox.snapshot() {
                    Ok(Snapshotted::Synced(snapshot)) => {
                        slot.log(Event::Sync);
                        // A memory that grew would not fit a fresh instance: replay instead.
                        let initial = self.shared.engine.initial_memory.load(Ordering::Relaxed);
                        snapshot.filter(|(s, _)| s.memory_len() == initial)
                    }
                    Ok(Snapshotted::Skipped) => None,
                    Err(e) => {
                        let error =
                            format!("env {id} could not be forked: copying it failed ({e})");
                        slot.fail(id, e);
                        return Err(ConfigError(error));
                    }
                },
                None => None,
            };
            if snapshot.is_none() && !slot.replayable {
                return Err(ConfigError(format!(
                    "env {id} cannot be forked: it received more than {MAX_REPLAY_EVENTS} calls \
                     or {MAX_REPLAY_BYTES} bytes of actions since its sandbox was loaded; it can \
                     be forked again after its next reset()"
                )));
            }
            let template = Template {
                spec: slot.spec.clone(),
                events: slot.events.clone(),
                phase: slot.phase.clone(),
                replayable: slot.replayable,
            };
            (template, snapshot, class)
        };
        let shared = &self.shared;
        let clones: Vec<Result<Slot, EnvError>> = self.threads.install(|| {
            (0..n)
                .into_par_iter()
                .map(|_| {
                    catch_unwind(AssertUnwindSafe(|| {
                        let copied = snapshot
                            .as_ref()
                            .map(|snapshot| Slot::copy(&template, shared, snapshot, class.clone()));
                        match copied {
                            Some(Ok(slot)) => Ok(slot),
                            // A copy that failed (say, the fresh sandbox's memory differs in
                            // size) falls back to the replay, when the log allows one.
                            Some(Err(e)) if !template.replayable => Err(e),
                            _ => Slot::replay(&template, &shared.engine, &shared.limits),
                        }
                    }))
                    .unwrap_or_else(|_| {
                        Err(EnvError::new(
                            EnvErrorKind::Trap,
                            "internal error while forking",
                        ))
                    })
                })
                .collect()
        });
        // Replays are deterministic, so an error here means the host itself failed (for
        // instance, out of memory): report it rather than hand out a different state.
        let slots = clones
            .into_iter()
            .collect::<Result<Vec<Slot>, EnvError>>()
            .map_err(|e| {
                ConfigError(format!("env {id} could not be forked: replay failed ({e})"))
            })?;
        let mut entries = shared
            .entries
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let first = entries.len();
        entries.extend(slots.into_iter().map(Entry::new));
        Ok((first..entries.len()).collect())
    }

    /// Captured (stdout, stderr) of one env since its last reset.
    pub fn output(&self, id: usize) -> Result<(String, String), ConfigError> {
        let ids = self.resolve_ids(Some(vec![id]))?;
        let entry = self.shared.entry(ids[0]);
        let slot = entry.slot.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(slot
            .sandbox
            .as_ref()
            .map(Sandbox::output)
            .or_else(|| slot.output.clone())
            .unwrap_or_default())
    }
}

impl Entry {
    fn new(slot: Slot) -> Arc<Self> {
        Arc::new(Self {
            slot: Mutex::new(slot),
            busy: AtomicBool::new(false),
        })
    }
}

fn check_lengths(actions: usize, ids: usize) -> Result<(), ConfigError> {
    if actions == ids {
        Ok(())
    } else {
        Err(ConfigError(format!("{actions} actions for {ids} envs")))
    }
}
