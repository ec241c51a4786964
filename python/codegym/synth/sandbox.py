"""Everything that runs LLM-written code, always inside :class:`codegym.EnvPool` sandboxes with
explicit :class:`codegym.Limits`; nothing here executes that code on the host.

- :func:`run_examples`: load each (source, task string) and run the env's own ``solve()``.
- :func:`run_ref_answers`: load each configuration and run ``get_ref_answer()`` under the solve
  budget, through a small probe class appended to the env source (the guest's ``solve`` export
  calls ``probe.solve()``, which returns ``repr(env.get_ref_answer())``).
- :func:`run_solvers`: play every (solver, configuration) pair with the solver and the env in
  *separate* sandboxes that exchange only strings through the host (see :data:`HARNESS`).
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .._core import EnvPool, EnvSpec, Limits

__all__ = [
    "HARNESS_CLASS",
    "PROBE_CLASS",
    "Outcome",
    "PairResult",
    "harness_source",
    "probe_source",
    "run_examples",
    "run_ref_answers",
    "run_solvers",
    "verified_env_source",
]

PROBE_CLASS = "CodegymRefProbe"
HARNESS_CLASS = "CodegymSolverHarness"

_PROBE = """

# --- appended by codegym synth: runs get_ref_answer() as the sandbox's solve() ---
class {probe}:
    step_count = 0
    finished = False
    reward = 0.0

    def __init__(self, env):
        self._env = env

    @staticmethod
    def from_env_str(env_str):
        env = {env}.from_env_str("{env}@" + env_str.split("@", 1)[1])
        return None if env is None else {probe}(env)

    def step(self, action):
        return True, "Error: the reference probe takes no actions"

    def solve(self):
        return repr(self._env.get_ref_answer())
"""


def probe_source(source: str, env_name: str) -> str:
    """``source`` plus the reference-answer probe class :data:`PROBE_CLASS`; its task strings
    are ``f"{PROBE_CLASS}@{options}"``."""
    return source + _PROBE.format(probe=PROBE_CLASS, env=env_name)


def _solver_factory(solver: str) -> str:
    """The solver's module body nested in a function that returns its ``solve``: every call
    starts from fresh solver state, and the solver's names never mix with the module's."""
    return "def _codegym_solver_factory():\n" + textwrap.indent(solver, "    ") + "\n    return solve\n"


# The solver's sandbox. The host calls step(observation) with the env's answer to the previous
# action ("" before the first); the harness replays the solver from the start against a handle
# that answers its calls with the observations received so far, and stops it at the first call
# it has no observation for: that action is step's result. The solver never holds anything of
# the env but those strings. Replaying costs O(n^2) solver work for n calls (n <= a few hundred).
_HARNESS = '''
import json as _codegym_json
import random as _codegym_random


class _CodegymStop(BaseException):
    """Stops the solver at its first unanswered call (a BaseException: `except Exception` in a
    solver does not swallow it)."""


class _CodegymHandle:
    __slots__ = ("_observations", "_next", "pending")

    def __init__(self, observations):
        self._observations = observations
        self._next = 0
        self.pending = None

    def step(self, action):
        if self.pending is not None:
            raise _CodegymStop()
        if not isinstance(action, str):
            action = _codegym_json.dumps(action)
        if self._next < len(self._observations):
            self._next += 1
            return self._observations[self._next - 1]
        self.pending = action
        raise _CodegymStop()


class {harness}:
    finished = False
    reward = 0.0

    def __init__(self):
        self.observations = []
        self.step_count = 0

    @staticmethod
    def from_env_str(env_str):
        return {harness}()

    def step(self, observation):
        if self.step_count:
            self.observations.append(observation)
        self.step_count += 1
        _codegym_random.seed(0)
        handle = _CodegymHandle(self.observations)
        raised = None
        try:
            _codegym_solver_factory()(handle)
        except _CodegymStop:
            pass
        except Exception as e:
            raised = f"{{type(e).__name__}}: {{e}}"
        if handle.pending is not None:
            return True, _codegym_json.dumps({{"action": handle.pending}})
        self.finished = True
        if raised is not None:
            return True, _codegym_json.dumps({{"raised": raised[:2000]}})
        return True, _codegym_json.dumps({{"returned": True}})
'''


def harness_source(solver: str) -> str:
    """The solver sandbox's source: the solver (nested, see :func:`_solver_factory`) and the
    harness class :data:`HARNESS_CLASS`."""
    return _solver_factory(solver) + _HARNESS.format(harness=HARNESS_CLASS)


_VERIFIED_SOLVE = '''

# --- appended by codegym synth: the verified tool-only solver is this env's solve() oracle ---
import json as _codegym_json

{factory}

class _CodegymStepHandle:
    def __init__(self, env):
        self._env = env

    def step(self, action):
        if not isinstance(action, str):
            action = _codegym_json.dumps(action)
        out = self._env.step(action)
        return out[1] if isinstance(out, tuple) and len(out) == 2 else out


def _codegym_solve(self):
    """Play the task with the verified solver, through step() only."""
    return _codegym_solver_factory()(_CodegymStepHandle(self))


{env}.solve = _codegym_solve
'''


def verified_env_source(source: str, env_name: str, solver: str) -> str:
    """The exported env: ``source`` whose ``solve()`` is the verified solver (so the oracle
    policy and ``codegym verify`` replay exactly the calls that were verified)."""
    return source + _VERIFIED_SOLVE.format(factory=_solver_factory(solver), env=env_name)


@dataclass(frozen=True)
class Outcome:
    """One sandboxed run: the answer (``solve()``'s return value as text), reward, steps, and
    ``failure`` (``"load:<kind>"``, ``"solve:<kind>"``, or ``None``) with its message."""

    answer: str = ""
    reward: float = 0.0
    steps: int = 0
    failure: str | None = None
    error: str = ""


def _chunks(n: int, size: int) -> list[range]:
    return [range(i, min(i + size, n)) for i in range(0, n, size)]


def _load_then_solve(
    specs: Sequence[EnvSpec], limits: Limits, threads: int | None, chunk: int
) -> list[Outcome]:
    """Reset every spec (load + ``from_env_str``), then ``solve()`` those that loaded."""
    out: list[Outcome] = []
    for part in _chunks(len(specs), chunk):
        with EnvPool([specs[i] for i in part], num_threads=threads, limits=limits) as pool:
            reset = pool.reset()
            loaded = [i for i, e in enumerate(reset.error) if e is None]
            solved = pool.solve(loaded) if loaded else None
            rows: dict[int, Outcome] = {}
            for i, (kind, err) in enumerate(zip(reset.error_kind, reset.error, strict=True)):
                if err is not None:
                    rows[i] = Outcome(failure=f"load:{kind}", error=err)
            if solved is not None:
                for j, i in enumerate(loaded):
                    err = solved.error[j]
                    rows[i] = Outcome(
                        answer=solved.answer[j],
                        reward=float(solved.reward[j]),
                        steps=int(solved.steps[j]),
                        failure=None if err is None else f"solve:{solved.error_kind[j]}",
                        error=err or "",
                    )
            out.extend(rows[i] for i in range(len(part)))
    return out


def run_examples(
    jobs: Sequence[tuple[str, str]], limits: Limits, *, threads: int | None = None, chunk: int = 256
) -> list[Outcome]:
    """Per (env source, task string): load it and run the env's own ``solve()``."""
    specs = [EnvSpec(source, env_str) for source, env_str in jobs]
    return _load_then_solve(specs, limits, threads, chunk)


def run_ref_answers(
    jobs: Sequence[tuple[str, str, str]], limits: Limits, *, threads: int | None = None, chunk: int = 256
) -> list[Outcome]:
    """Per (env source, env class, options JSON): load the configuration and compute
    ``get_ref_answer()`` (``Outcome.answer`` is its ``repr``)."""
    specs = [
        EnvSpec(probe_source(source, name), f"{PROBE_CLASS}@{options}") for source, name, options in jobs
    ]
    return _load_then_solve(specs, limits, threads, chunk)


@dataclass
class PairResult:
    """One solver played on one configuration. ``failure`` is ``None`` when the env ended with
    reward 1; otherwise ``solver:<kind>`` (the solver's sandbox failed: fuel, memory, ...),
    ``solver_raised``, ``env:<kind>``, ``no_done`` (the solver returned before the episode
    ended), ``wrong_answer`` or ``too_many_steps``. ``steps`` is the env's ``step_count``;
    ``tools`` the tool names the solver called."""

    steps: int = 0
    failure: str | None = None
    error: str = ""
    tools: set[str] = field(default_factory=set)


def run_solvers(
    jobs: Sequence[tuple[str, str, str]],
    env_limits: Limits,
    solver_limits: Limits,
    *,
    max_steps: int = 512,
    threads: int | None = None,
    chunk: int = 256,
    on_round: Callable[[int], None] | None = None,
) -> list[PairResult]:
    """Per (env source, task string, solver source): play the task with the solver, the env in
    one sandbox and the solver in another, stepped in lockstep batches: each round every live
    solver sandbox gets its last observation and answers its next action, then every env
    sandbox is stepped with those actions."""
    results: list[PairResult] = []
    for part in _chunks(len(jobs), chunk):
        batch = [jobs[i] for i in part]
        env_specs = [EnvSpec(source, env_str) for source, env_str, _ in batch]
        solver_specs = [EnvSpec(harness_source(solver), f"{HARNESS_CLASS}@{{}}") for _, _, solver in batch]
        with (
            EnvPool(env_specs, num_threads=threads, limits=env_limits) as envs,
            EnvPool(solver_specs, num_threads=threads, limits=solver_limits) as solvers,
        ):
            results.extend(_lockstep(envs, solvers, len(batch), max_steps, on_round))
    return results


def _lockstep(
    envs: EnvPool, solvers: EnvPool, n: int, max_steps: int, on_round: Callable[[int], None] | None
) -> list[PairResult]:
    results = [PairResult() for _ in range(n)]
    live: list[int] = []
    env_reset, solver_reset = envs.reset(), solvers.reset()
    for i in range(n):
        if env_reset.error[i] is not None:
            results[i].failure, results[i].error = f"env:{env_reset.error_kind[i]}", env_reset.error[i] or ""
        elif solver_reset.error[i] is not None:
            kind, err = solver_reset.error_kind[i], solver_reset.error[i] or ""
            results[i].failure, results[i].error = f"solver:{kind}", err
        else:
            live.append(i)
    observations = {i: "" for i in live}
    while live:
        asked = solvers.step([observations[i] for i in live], live)
        acting: list[int] = []
        actions: list[str] = []
        for row, i in enumerate(live):
            failure, error, action = _solver_answer(asked.obs[row], asked.error_kind[row], asked.error[row])
            if action is None:
                results[i].failure, results[i].error = failure, error
                continue
            if results[i].steps >= max_steps:
                results[i].failure = "too_many_steps"
                results[i].error = f"no answer after {max_steps} tool calls"
                continue
            results[i].tools.add(_tool_name(action))
            acting.append(i)
            actions.append(action)
        live = []
        if acting:
            stepped = envs.step(actions, acting)
            for row, i in enumerate(acting):
                results[i].steps = int(stepped.step_count[row])
                if stepped.error[row] is not None:
                    results[i].failure = f"env:{stepped.error_kind[row]}"
                    results[i].error = stepped.error[row] or ""
                elif stepped.done[row]:
                    if stepped.reward[row] != 1.0:
                        results[i].failure = "wrong_answer"
                        results[i].error = stepped.obs[row][:500]
                else:
                    observations[i] = stepped.obs[row]
                    live.append(i)
        if on_round is not None:
            on_round(len(acting))
    return results


def _solver_answer(obs: str, kind: str | None, error: str | None) -> tuple[str | None, str, str | None]:
    """``(failure, error, action)`` from the solver sandbox's answer."""
    if error is not None:
        return f"solver:{kind}", error, None
    try:
        answer = json.loads(obs)
    except ValueError:
        return "solver:bad_action", f"unreadable harness answer {obs[:200]!r}", None
    if isinstance(answer, dict) and isinstance(answer.get("action"), str):
        return None, "", answer["action"]
    if isinstance(answer, dict) and "raised" in answer:
        return "solver_raised", str(answer["raised"]), None
    return "no_done", "the solver returned before the episode ended", None


def _tool_name(action: str) -> str:
    try:
        call = json.loads(action)
    except ValueError:
        return ""
    name = call.get("name") if isinstance(call, dict) else None
    return name if isinstance(name, str) else ""
