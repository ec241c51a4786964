//! `codegym._core`: the PyO3 binding of codegym-core. Glue only: convert arguments into owned
//! Rust values while holding the GIL, run the core with the GIL released (`py.detach`), and
//! convert the batch back in one go. Exceptions are the classes of `codegym.errors`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use codegym_core as core;
use numpy::PyArray1;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};

pyo3::import_exception!(codegym.errors, ConfigError);
pyo3::import_exception!(codegym.errors, EngineError);

fn config_err(e: core::ConfigError) -> PyErr {
    ConfigError::new_err(e.0)
}

fn engine_err(e: core::EngineError) -> PyErr {
    match e {
        core::EngineError::Config(c) => config_err(c),
        other => EngineError::new_err(other.to_string()),
    }
}

/// Resource limits applied to every env of a pool.
///
/// Fuel budgets count wasm instructions and are deterministic: the same env and actions run
/// out at the same point on any machine. ``wall_time_ms`` is only a backstop for what fuel
/// cannot see.
#[pyclass(frozen, module = "codegym._core")]
#[derive(Clone)]
struct Limits(core::Limits);

#[pymethods]
impl Limits {
    #[new]
    #[pyo3(signature = (*, memory_bytes=None, fuel_per_step=None, fuel_per_load=None,
        fuel_per_solve=None, wall_time_ms=None, stack_bytes=None, max_obs_bytes=None,
        max_action_bytes=None, max_output_bytes=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        memory_bytes: Option<u64>,
        fuel_per_step: Option<u64>,
        fuel_per_load: Option<u64>,
        fuel_per_solve: Option<u64>,
        wall_time_ms: Option<u64>,
        stack_bytes: Option<usize>,
        max_obs_bytes: Option<u32>,
        max_action_bytes: Option<usize>,
        max_output_bytes: Option<usize>,
    ) -> PyResult<Self> {
        let d = core::Limits::default();
        let limits = core::Limits {
            memory_bytes: memory_bytes.unwrap_or(d.memory_bytes),
            fuel_per_step: fuel_per_step.unwrap_or(d.fuel_per_step),
            fuel_per_load: fuel_per_load.unwrap_or(d.fuel_per_load),
            fuel_per_solve: fuel_per_solve.unwrap_or(d.fuel_per_solve),
            wall_time_ms: wall_time_ms.unwrap_or(d.wall_time_ms),
            stack_bytes: stack_bytes.unwrap_or(d.stack_bytes),
            max_obs_bytes: max_obs_bytes.unwrap_or(d.max_obs_bytes),
            max_action_bytes: max_action_bytes.unwrap_or(d.max_action_bytes),
            max_output_bytes: max_output_bytes.unwrap_or(d.max_output_bytes),
        };
        limits.validate().map_err(config_err)?;
        Ok(Self(limits))
    }

    /// Linear-memory bytes one env may use.
    #[getter]
    fn memory_bytes(&self) -> u64 {
        self.0.memory_bytes
    }
    /// Fuel (≈ wasm instructions) for one step.
    #[getter]
    fn fuel_per_step(&self) -> u64 {
        self.0.fuel_per_step
    }
    /// Fuel for loading the source and building the env.
    #[getter]
    fn fuel_per_load(&self) -> u64 {
        self.0.fuel_per_load
    }
    /// Fuel for one ``solve()`` run.
    #[getter]
    fn fuel_per_solve(&self) -> u64 {
        self.0.fuel_per_solve
    }
    /// Wall-clock backstop per guest call, in milliseconds.
    #[getter]
    fn wall_time_ms(&self) -> u64 {
        self.0.wall_time_ms
    }
    /// Maximum wasm stack in bytes.
    #[getter]
    fn stack_bytes(&self) -> usize {
        self.0.stack_bytes
    }
    /// Observations are truncated to this many UTF-8 bytes.
    #[getter]
    fn max_obs_bytes(&self) -> u32 {
        self.0.max_obs_bytes
    }
    /// Longer actions are answered with an error observation and not passed to the env.
    #[getter]
    fn max_action_bytes(&self) -> usize {
        self.0.max_action_bytes
    }
    /// Captured stdout and stderr keep at most this many bytes each.
    #[getter]
    fn max_output_bytes(&self) -> usize {
        self.0.max_output_bytes
    }

    fn __repr__(&self) -> String {
        let l = &self.0;
        format!(
            "Limits(memory_bytes={}, fuel_per_step={}, fuel_per_load={}, fuel_per_solve={}, \
             wall_time_ms={}, stack_bytes={}, max_obs_bytes={}, max_action_bytes={}, \
             max_output_bytes={})",
            l.memory_bytes,
            l.fuel_per_step,
            l.fuel_per_load,
            l.fuel_per_solve,
            l.wall_time_ms,
            l.stack_bytes,
            l.max_obs_bytes,
            l.max_action_bytes,
            l.max_output_bytes
        )
    }

    fn __eq__(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

/// One environment: its class source, task string ``Name@{options}``, and episode settings.
#[pyclass(frozen, module = "codegym._core")]
#[derive(Clone)]
struct EnvSpec(core::EnvSpec);

#[pymethods]
impl EnvSpec {
    #[new]
    #[pyo3(signature = (source, env_str, max_steps=None, seed=0))]
    fn new(source: &str, env_str: &str, max_steps: Option<u64>, seed: u64) -> PyResult<Self> {
        core::EnvSpec::new(Arc::from(source), env_str, max_steps, seed)
            .map(Self)
            .map_err(config_err)
    }

    /// The env's Python source.
    #[getter]
    fn source(&self) -> &str {
        &self.0.source
    }
    /// The task string passed to ``from_env_str``.
    #[getter]
    fn env_str(&self) -> &str {
        &self.0.env_str
    }
    /// The class name: ``env_str`` before ``@``.
    #[getter]
    fn class_name(&self) -> &str {
        self.0.class_name()
    }
    /// Episodes are truncated after this many steps (``None``: no limit).
    #[getter]
    fn max_steps(&self) -> Option<u64> {
        self.0.max_steps
    }
    /// Seed of the guest's ``random`` module and WASI randomness.
    #[getter]
    fn seed(&self) -> u64 {
        self.0.seed
    }

    fn __repr__(&self) -> String {
        let env_str: String = self.0.env_str.chars().take(60).collect();
        format!(
            "EnvSpec(env_str={env_str:?}, max_steps={:?}, seed={})",
            self.0.max_steps, self.0.seed
        )
    }
}

fn error_fields(error: &Option<core::EnvError>) -> (Option<String>, Option<&'static str>) {
    match error {
        Some(e) => (Some(e.to_string()), Some(e.kind.as_str())),
        None => (None, None),
    }
}

/// Raise the first per-env error of a batch as its ``codegym.errors`` class.
fn raise_first(
    py: Python<'_>,
    errors: &[Option<core::EnvError>],
    env_ids: &[usize],
) -> PyResult<()> {
    let Some((error, id)) = errors
        .iter()
        .zip(env_ids)
        .find_map(|(e, id)| e.as_ref().map(|e| (e, *id)))
    else {
        return Ok(());
    };
    let exc = py.import("codegym.errors")?.getattr("error_for")?.call1((
        error.kind.as_str(),
        error.message.as_str(),
        id,
    ))?;
    Err(PyErr::from_value(exc))
}

/// The results of ``reset``, ``step`` or ``recv`` for a batch of envs, in ``env_ids`` order.
#[pyclass(frozen, module = "codegym._core")]
struct BatchResult {
    /// Observation text per env.
    #[pyo3(get)]
    obs: Py<PyList>,
    /// Reward per env (float32).
    #[pyo3(get)]
    reward: Py<PyArray1<f32>>,
    /// Episode over (finished, truncated, or failed).
    #[pyo3(get)]
    done: Py<PyArray1<bool>>,
    /// Episode cut at ``max_steps``.
    #[pyo3(get)]
    truncated: Py<PyArray1<bool>>,
    /// The env's ``step_count`` after the call.
    #[pyo3(get)]
    step_count: Py<PyArray1<i64>>,
    /// ``None``, or ``"kind: reason"`` for an env that failed.
    #[pyo3(get)]
    error: Py<PyList>,
    /// ``None``, or the error kind (``"fuel_exhausted"``, ``"load_error"``, ...).
    #[pyo3(get)]
    error_kind: Py<PyList>,
    /// Which env each row belongs to.
    #[pyo3(get)]
    env_ids: Py<PyArray1<i64>>,
    errors: Vec<Option<core::EnvError>>,
    ids: Vec<usize>,
}

impl BatchResult {
    fn new(py: Python<'_>, outcomes: Vec<core::StepOutcome>) -> PyResult<Self> {
        let n = outcomes.len();
        let (mut obs, mut reward, mut done, mut truncated, mut steps) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let (mut error, mut kind, mut ids, mut errors) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for o in outcomes {
            let (e, k) = error_fields(&o.error);
            obs.push(o.obs);
            reward.push(o.reward as f32);
            done.push(o.done);
            truncated.push(o.truncated);
            steps.push(i64::try_from(o.step_count).unwrap_or(i64::MAX));
            error.push(e);
            kind.push(k);
            ids.push(o.env_id);
            errors.push(o.error);
        }
        Ok(Self {
            obs: PyList::new(py, obs)?.unbind(),
            reward: PyArray1::from_vec(py, reward).unbind(),
            done: PyArray1::from_vec(py, done).unbind(),
            truncated: PyArray1::from_vec(py, truncated).unbind(),
            step_count: PyArray1::from_vec(py, steps).unbind(),
            error: PyList::new(py, error)?.unbind(),
            error_kind: PyList::new(py, kind)?.unbind(),
            env_ids: PyArray1::from_vec(py, ids.iter().map(|&i| i as i64).collect()).unbind(),
            errors,
            ids,
        })
    }
}

#[pymethods]
impl BatchResult {
    fn __len__(&self) -> usize {
        self.ids.len()
    }

    /// Raise the first per-env error as its ``codegym.errors`` class; do nothing if none.
    fn raise_for_error(&self, py: Python<'_>) -> PyResult<()> {
        raise_first(py, &self.errors, &self.ids)
    }

    fn __repr__(&self) -> String {
        let failed = self.errors.iter().filter(|e| e.is_some()).count();
        format!("BatchResult(n={}, errors={failed})", self.ids.len())
    }
}

/// The results of ``solve`` for a batch of envs, in ``env_ids`` order.
#[pyclass(frozen, module = "codegym._core")]
struct SolveResult {
    /// What each ``solve()`` returned, as text.
    #[pyo3(get)]
    answer: Py<PyList>,
    /// Reward after the oracle ran (float32).
    #[pyo3(get)]
    reward: Py<PyArray1<f32>>,
    /// The env reported ``finished`` after the oracle ran.
    #[pyo3(get)]
    done: Py<PyArray1<bool>>,
    /// The env's ``step_count`` after the oracle ran.
    #[pyo3(get)]
    steps: Py<PyArray1<i64>>,
    /// With ``record=True``: per env, the action strings the oracle passed to ``step``, in
    /// order; ``None`` when not recorded, on error, or past the trace bounds (4096 calls,
    /// 4 MiB).
    #[pyo3(get)]
    actions: Py<PyList>,
    /// ``None``, or ``"kind: reason"`` for an env that failed.
    #[pyo3(get)]
    error: Py<PyList>,
    /// ``None``, or the error kind.
    #[pyo3(get)]
    error_kind: Py<PyList>,
    /// Which env each row belongs to.
    #[pyo3(get)]
    env_ids: Py<PyArray1<i64>>,
    errors: Vec<Option<core::EnvError>>,
    ids: Vec<usize>,
}

impl SolveResult {
    fn new(py: Python<'_>, outcomes: Vec<core::SolveOutcome>) -> PyResult<Self> {
        let mut answer = Vec::with_capacity(outcomes.len());
        let (mut reward, mut done, mut steps) = (Vec::new(), Vec::new(), Vec::new());
        let mut actions = Vec::with_capacity(outcomes.len());
        let (mut error, mut kind, mut ids, mut errors) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for o in outcomes {
            let (e, k) = error_fields(&o.error);
            answer.push(o.answer);
            reward.push(o.reward as f32);
            done.push(o.done);
            steps.push(i64::try_from(o.steps).unwrap_or(i64::MAX));
            actions.push(o.actions);
            error.push(e);
            kind.push(k);
            ids.push(o.env_id);
            errors.push(o.error);
        }
        Ok(Self {
            answer: PyList::new(py, answer)?.unbind(),
            reward: PyArray1::from_vec(py, reward).unbind(),
            done: PyArray1::from_vec(py, done).unbind(),
            steps: PyArray1::from_vec(py, steps).unbind(),
            actions: PyList::new(py, actions)?.unbind(),
            error: PyList::new(py, error)?.unbind(),
            error_kind: PyList::new(py, kind)?.unbind(),
            env_ids: PyArray1::from_vec(py, ids.iter().map(|&i| i as i64).collect()).unbind(),
            errors,
            ids,
        })
    }
}

#[pymethods]
impl SolveResult {
    fn __len__(&self) -> usize {
        self.ids.len()
    }

    /// Raise the first per-env error as its ``codegym.errors`` class; do nothing if none.
    fn raise_for_error(&self, py: Python<'_>) -> PyResult<()> {
        raise_first(py, &self.errors, &self.ids)
    }

    fn __repr__(&self) -> String {
        let failed = self.errors.iter().filter(|e| e.is_some()).count();
        format!("SolveResult(n={}, errors={failed})", self.ids.len())
    }
}

/// Action strings from any sequence of ``str``. Text that is not valid Unicode (lone
/// surrogates) is kept with U+FFFD in their place: the env sees it and answers, like any
/// other malformed action.
fn extract_actions(actions: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    if actions.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(
            "expected a sequence of str, not a str",
        ));
    }
    let mut out = Vec::new();
    for item in actions.try_iter()? {
        let item = item?;
        let text = item.cast::<PyString>().map_err(|_| {
            PyTypeError::new_err(format!(
                "every item must be a str, got {}",
                item.get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))
        })?;
        out.push(text.to_string_lossy().into_owned());
    }
    Ok(out)
}

fn extract_ids(ids: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<usize>>> {
    let Some(ids) = ids else { return Ok(None) };
    if ids.is_none() {
        return Ok(None);
    }
    let mut out = Vec::new();
    for item in ids.try_iter()? {
        let id: i64 = item?.extract()?;
        out.push(
            usize::try_from(id)
                .map_err(|_| ConfigError::new_err(format!("env id {id} is negative")))?,
        );
    }
    Ok(Some(out))
}

/// A pool of sandboxed environments stepped in batches on Rust threads.
///
/// ``EnvPool(specs, num_threads=None, limits=None, auto_reset=False)``. Every env runs in its
/// own wasmtime store; a failing env becomes an error row in the batch result and the rest of
/// the pool carries on. All stepping releases the GIL.
#[pyclass(frozen, module = "codegym._core")]
struct EnvPool {
    inner: Mutex<Option<core::EnvPool>>,
}

impl EnvPool {
    /// Run `f` on the pool with the GIL released. The lock is taken after the GIL is released,
    /// so a thread waiting for the pool never holds the GIL.
    fn with<R: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut core::EnvPool) -> Result<R, core::ConfigError> + Send,
    ) -> PyResult<R> {
        py.detach(|| {
            let mut guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            match guard.as_mut() {
                Some(pool) => f(pool),
                None => Err(core::ConfigError("the pool is closed".into())),
            }
        })
        .map_err(config_err)
    }
}

#[pymethods]
impl EnvPool {
    #[new]
    #[pyo3(signature = (specs, num_threads=None, limits=None, auto_reset=false))]
    fn new(
        py: Python<'_>,
        specs: Vec<PyRef<'_, EnvSpec>>,
        num_threads: Option<usize>,
        limits: Option<PyRef<'_, Limits>>,
        auto_reset: bool,
    ) -> PyResult<Self> {
        let specs: Vec<core::EnvSpec> = specs.iter().map(|s| s.0.clone()).collect();
        let options = core::PoolOptions {
            num_threads,
            limits: limits.map(|l| l.0.clone()).unwrap_or_default(),
            auto_reset,
        };
        let pool = py
            .detach(|| core::EnvPool::new(specs, options))
            .map_err(engine_err)?;
        Ok(Self {
            inner: Mutex::new(Some(pool)),
        })
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        self.with(py, |p| Ok(p.len()))
    }

    /// Worker threads stepping the envs.
    #[getter]
    fn num_threads(&self, py: Python<'_>) -> PyResult<usize> {
        self.with(py, |p| Ok(p.num_threads()))
    }

    /// The limits every env runs under.
    #[getter]
    fn limits(&self, py: Python<'_>) -> PyResult<Limits> {
        self.with(py, |p| Ok(Limits(p.limits().clone())))
    }

    /// Whether stepping a finished env resets it.
    #[getter]
    fn auto_reset(&self, py: Python<'_>) -> PyResult<bool> {
        self.with(py, |p| Ok(p.auto_reset()))
    }

    /// Envs sent but not yet received.
    #[getter]
    fn in_flight(&self, py: Python<'_>) -> PyResult<usize> {
        self.with(py, |p| Ok(p.in_flight()))
    }

    /// Envs this pool made, ``fork`` clones included, from a recycled sandbox (an earlier env's,
    /// of this pool or a closed one) rather than a fresh one.
    #[getter]
    fn recycled(&self, py: Python<'_>) -> PyResult<usize> {
        self.with(py, |p| Ok(p.recycled()))
    }

    /// Reset envs (all by default); an env whose sandbox failed is rebuilt from its spec.
    #[pyo3(signature = (env_ids=None))]
    fn reset(&self, py: Python<'_>, env_ids: Option<&Bound<'_, PyAny>>) -> PyResult<BatchResult> {
        let ids = extract_ids(env_ids)?;
        let out = self.with(py, |p| p.reset(ids))?;
        BatchResult::new(py, out)
    }

    /// Step envs (all by default) with one action string each; waits for the whole batch.
    #[pyo3(signature = (actions, env_ids=None))]
    fn step(
        &self,
        py: Python<'_>,
        actions: &Bound<'_, PyAny>,
        env_ids: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<BatchResult> {
        let actions = extract_actions(actions)?;
        let ids = extract_ids(env_ids)?;
        let out = self.with(py, |p| p.step(&actions, ids))?;
        BatchResult::new(py, out)
    }

    /// Run each env's own ``solve()`` oracle inside its sandbox (all envs by default). With
    /// ``record=True`` the result's ``actions`` holds the action strings each oracle took.
    #[pyo3(signature = (env_ids=None, *, record=false))]
    fn solve(
        &self,
        py: Python<'_>,
        env_ids: Option<&Bound<'_, PyAny>>,
        record: bool,
    ) -> PyResult<SolveResult> {
        let ids = extract_ids(env_ids)?;
        let out = self.with(py, |p| p.solve(ids, record))?;
        SolveResult::new(py, out)
    }

    /// Queue one action per env and return at once; collect the results with ``recv``.
    fn send(
        &self,
        py: Python<'_>,
        actions: &Bound<'_, PyAny>,
        env_ids: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let actions = extract_actions(actions)?;
        let ids = extract_ids(Some(env_ids))?.unwrap_or_default();
        self.with(py, |p| p.send(actions, ids))
    }

    /// Wait for ``min_batch`` results (default: all in flight) and return up to ``max_batch``
    /// (default: ``min_batch``), in the order they finished. With ``timeout`` (seconds), return
    /// what finished by then.
    #[pyo3(signature = (min_batch=None, max_batch=None, timeout=None))]
    fn recv(
        &self,
        py: Python<'_>,
        min_batch: Option<usize>,
        max_batch: Option<usize>,
        timeout: Option<f64>,
    ) -> PyResult<BatchResult> {
        let timeout = match timeout {
            Some(t) if !(t >= 0.0 && t.is_finite()) => {
                return Err(ConfigError::new_err("timeout must be a finite number ≥ 0"))
            }
            other => other.map(Duration::from_secs_f64),
        };
        let out = self.with(py, |p| {
            let min = min_batch.unwrap_or(p.in_flight());
            p.recv(min, max_batch.unwrap_or(min.max(1)), timeout)
        })?;
        BatchResult::new(py, out)
    }

    /// Make ``n`` copies of env ``env_id`` in its exact current state (interpreter, ``random``
    /// state, step count) and return their new env ids. Clones then diverge independently.
    /// Raises ``ConfigError`` for an env that failed or was never reset.
    fn fork<'py>(
        &self,
        py: Python<'py>,
        env_id: usize,
        n: usize,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let ids = self.with(py, |p| p.fork(env_id, n))?;
        Ok(PyArray1::from_vec(
            py,
            ids.into_iter().map(|i| i as i64).collect(),
        ))
    }

    /// Captured ``(stdout, stderr)`` of one env since its last reset.
    fn output(&self, py: Python<'_>, env_id: usize) -> PyResult<(String, String)> {
        self.with(py, |p| p.output(env_id))
    }

    /// Drop every sandbox. Later calls raise ``ConfigError``.
    fn close(&self, py: Python<'_>) {
        let pool = py.detach(|| {
            self.inner
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
        });
        py.detach(move || drop(pool));
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.close(py);
        false
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        self.with(py, |p| {
            Ok(format!(
                "EnvPool(n={}, num_threads={})",
                p.len(),
                p.num_threads()
            ))
        })
        .unwrap_or_else(|_| "EnvPool(closed)".into())
    }
}

/// Tool calls read from model text, one row per text: ``action`` holds the env action JSON
/// (``{"name": ..., "parameters": {...}}``) or ``None``; ``error`` holds ``None`` or the message
/// to show the model as its observation.
#[pyclass(frozen, module = "codegym._core")]
struct ParsedActions {
    /// Env action JSON per text, or ``None`` where no valid call was found.
    #[pyo3(get)]
    action: Py<PyList>,
    /// ``None``, or why no valid call was found (meant as the agent's observation).
    #[pyo3(get)]
    error: Py<PyList>,
    len: usize,
}

#[pymethods]
impl ParsedActions {
    fn __len__(&self) -> usize {
        self.len
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let failed = self.error.bind(py).iter().filter(|e| !e.is_none()).count();
        format!("ParsedActions(n={}, errors={failed})", self.len)
    }
}

/// Read the one tool call in each model text: ``format`` is ``"auto"`` (default),
/// ``"codegym"`` (``<|FunctionCallBegin|>[...]<|FunctionCallEnd|>``), ``"hermes"``
/// (``<tool_call>{...}</tool_call>``) or ``"openai"`` (``tool_calls`` JSON).
#[pyfunction]
#[pyo3(signature = (texts, format="auto"))]
fn parse_actions(
    py: Python<'_>,
    texts: &Bound<'_, PyAny>,
    format: &str,
) -> PyResult<ParsedActions> {
    let format: core::CallFormat = format.parse().map_err(ConfigError::new_err)?;
    let texts = extract_actions(texts)?;
    let parsed: Vec<(Option<String>, Option<String>)> = py.detach(|| {
        texts
            .iter()
            .map(|text| match core::parse_call(text, format) {
                Ok(call) => (Some(call.to_action()), None),
                Err(e) => (None, Some(e.to_string())),
            })
            .collect()
    });
    let len = parsed.len();
    let (action, error): (Vec<_>, Vec<_>) = parsed.into_iter().unzip();
    Ok(ParsedActions {
        action: PyList::new(py, action)?.unbind(),
        error: PyList::new(py, error)?.unbind(),
        len,
    })
}

/// Directory holding the compiled-guest cache (``$CODEGYM_CACHE_DIR`` or the user cache dir).
#[pyfunction]
fn cache_dir() -> String {
    core::cache_dir().display().to_string()
}

/// Drop the sandboxes kept for recycling (their memory is freed): those closed pools and finished
/// episodes left for later envs of their classes, and each class's pristine sandbox (which new
/// sandboxes of the class copy; made again when next needed); returns how many there were.
#[pyfunction]
fn release_idle_sandboxes(py: Python<'_>) -> usize {
    py.detach(core::release_idle_sandboxes)
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Limits>()?;
    m.add_class::<EnvSpec>()?;
    m.add_class::<EnvPool>()?;
    m.add_class::<BatchResult>()?;
    m.add_class::<SolveResult>()?;
    m.add_class::<ParsedActions>()?;
    m.add_function(wrap_pyfunction!(cache_dir, m)?)?;
    m.add_function(wrap_pyfunction!(parse_actions, m)?)?;
    m.add_function(wrap_pyfunction!(release_idle_sandboxes, m)?)?;
    Ok(())
}
