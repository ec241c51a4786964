"""Benchmarks: every codegym figure is measured beside its baselines in the same run, and the
session ends with an envpool-style table (rows: approach, columns: figure) plus the ratios the
targets are stated in. Run with ``codegym bench`` or ``pytest benches --benchmark-enable``.

With timing disabled (``--benchmark-disable``, the CI smoke run) each benchmark body runs once
at its smallest size, nothing is recorded and no table is printed.
"""

from __future__ import annotations

import json
import math
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CODEGYM = "codegym (sandboxed)"
IN_PROCESS = "(a) in-process loop"
PROCESS_PER_ENV = "(b) process per env"
HTTP_SERVER = "(c) HTTP env server"
PROCESS_PER_TASK = "(d) process per task"
APPROACHES = [CODEGYM, IN_PROCESS, PROCESS_PER_ENV, HTTP_SERVER, PROCESS_PER_TASK]

REPORT = Path(".benchmarks") / "codegym-report.json"

# Timed in turn with the LIS step @256 (`test_step`): an env whose step does nothing, stepped
# at 256 envs; loops of the LIS env's step and of that empty env's step inside one guest, on
# one thread; and, from those three, the most codegym's LIS step @256 can make (`step_bound`).
EMPTY_STEP = "empty step @256"
LIS_LOOP = "LIS step, in-guest loop, one thread"
EMPTY_LOOP = "empty step, in-guest loop, one thread"
STEP_BOUND = "step bound @256"


@dataclass(frozen=True)
class Figure:
    name: str
    unit: str
    higher_is_better: bool = True
    shown: bool = True  # a column of the table (every figure is in the report)


FIGURES = {
    f.name: f
    for f in [
        *(Figure(f"step @{n}", "env-steps/s") for n in (1, 64, 256, 1024)),
        *(Figure(f"send/recv @{n}", "env-steps/s") for n in (1, 64, 256, 1024)),
        Figure("creations", "envs/s"),
        Figure("creations: reused", "envs/s"),
        Figure("verify", "tasks/s"),
        Figure("verify cmd", "tasks/s"),
        Figure("RSS @1024", "MB/env", higher_is_better=False),
        Figure("RSS @4096", "MB/env", higher_is_better=False),
        Figure("private @1024", "MB/env", higher_is_better=False),
        Figure("private @4096", "MB/env", higher_is_better=False),
        Figure("start→step", "s", higher_is_better=False),
        Figure("fork", "ms/clone", higher_is_better=False),
        Figure("fork: reused", "ms/clone", higher_is_better=False),
        Figure("in-guest ceiling", "env-steps/s"),
        Figure(EMPTY_STEP, "env-steps/s"),
        Figure(STEP_BOUND, "env-steps/s"),
        Figure(LIS_LOOP, "env-steps/s", shown=False),
        Figure(EMPTY_LOOP, "env-steps/s", shown=False),
        Figure("turn: engine", "ms/episode-turn", higher_is_better=False),
        Figure("turn: policy", "ms/episode-turn", higher_is_better=False),
        Figure("turn: policy, multi-turn", "ms/episode-turn", higher_is_better=False),
    ]
}

# (figure, baseline or None for an absolute bound, bound): codegym must reach `bound`, as a
# ratio to the baseline (higher-is-better figures) or as an absolute value.
TARGETS = [
    ("step @256", IN_PROCESS, 1.0),
    ("step @256", PROCESS_PER_ENV, 5.0),
    ("step @256", HTTP_SERVER, 25.0),
    ("verify", PROCESS_PER_TASK, 10.0),
    ("verify cmd", PROCESS_PER_TASK, 10.0),
    ("creations", None, 2000.0),
    ("creations: reused", None, 2000.0),
    ("fork", None, 1.0),
    ("fork: reused", None, 1.0),
    ("RSS @4096", None, 4.0),
    ("private @4096", None, 4.0),
    ("start→step", None, 1.0),
]

# figure -> approach -> value (None: measured as impossible here, with a note).
RESULTS: dict[str, dict[str, float | None]] = {}
NOTES: list[str] = []
# figure -> approach -> work/s of each timed call, for figures whose approaches were timed in
# turn (`measure_in_turn`): call i of every approach comes from the same round.
PAIRED: dict[str, dict[str, list[float]]] = {}


def timing_enabled(benchmark: Any) -> bool:
    return not getattr(benchmark, "disabled", True)


def record(benchmark: Any, figure: str, approach: str, work_per_call: float) -> None:
    """Record work/s of one approach from a finished pytest-benchmark run.

    From the median time per call, for every approach alike: on a shared VM one preempted
    round would otherwise move a figure by several times (the mean of three rounds did).
    """
    stats = getattr(benchmark, "stats", None)
    if stats is None:
        return
    put(figure, approach, work_per_call / stats.stats.median)


# Env-steps per timed call of the step figures. At 1024 (9 ms for codegym at 256 envs) one
# preempted round on a busy VM moved step @256 between 33k and 111k env-steps/s from run to run;
# 8192 makes a call last 20 ms for the fastest approach, the in-process loop, and about 70 ms
# for codegym.
STEPS_PER_CALL = 8192

# Timed calls per step and send/recv figure, for every approach alike. A call lasts 20 ms to
# 1.3 s, and on this shared VM a burst of contention can slow one or two calls in a row: with
# three calls the median of step @256 moved with it (rounds of one run spread 52–82 ms), with
# seven it takes four.
STEP_ROUNDS = 7


def batches_per_call(n: int, enabled: bool) -> int:
    """Batches of n env-steps per timed call: STEPS_PER_CALL env-steps, at least one batch;
    one in the smoke run."""
    return max(1, STEPS_PER_CALL // n) if enabled else 1


def measure_in_turn(
    benchmark: Any, rounds: int, work_per_call: float, calls: dict[tuple[str, str], Callable[[], Any]]
) -> None:
    """Time each (figure, approach)'s call side by side and record work/s.

    The calls take turns: a round times one call of each, and the order rotates by one every
    round, so each call follows each other one. On this shared VM a slow period lasts seconds
    to minutes; timed in turn, every approach meets the same periods, and each round gives one
    ratio per pair of approaches measured seconds apart (`PAIRED`, also in the report). One
    untimed round comes first. pytest-benchmark times the whole round; each figure is the
    median of its own calls.
    """
    order = list(calls)
    seconds: dict[tuple[str, str], list[float]] = {key: [] for key in order}

    def one_round() -> None:
        for key in order:
            start = time.perf_counter()
            calls[key]()
            seconds[key].append(time.perf_counter() - start)
        order.append(order.pop(0))

    one_round()  # warm-up, not recorded
    for times in seconds.values():
        times.clear()
    benchmark.pedantic(one_round, rounds=rounds)
    if not timing_enabled(benchmark):
        return
    for (figure, approach), times in seconds.items():
        put_rounds(figure, approach, [work_per_call / t for t in times])


def put_rounds(figure: str, approach: str, rates: list[float]) -> None:
    """Record a figure measured round by round: its median, and every round's rate (`PAIRED`)."""
    put(figure, approach, statistics.median(rates))
    PAIRED.setdefault(figure, {})[approach] = rates


def step_calls(
    enabled: bool, n: int, steppers: dict[tuple[str, str], Callable[[list[str]], Any]]
) -> dict[tuple[str, str], Callable[[], Any]]:
    """One timed call per (figure, approach): `batches_per_call` batched steps of n envs on
    `OBSERVE` actions, n * batches env-steps in all."""
    batches = batches_per_call(n, enabled)
    actions = [OBSERVE] * n

    def call(step: Callable[[list[str]], Any]) -> Callable[[], None]:
        def run() -> None:
            for _ in range(batches):
                step(actions)

        return run

    return {key: call(step) for key, step in steppers.items()}


_GUEST_LOOP = '''

class GuestLoop:
    """Steps an inner env LOOPS times inside one solve() call."""

    step_count = 0
    finished = False
    reward = 0.0

    @staticmethod
    def from_env_str(env_str):
        loop = GuestLoop()
        loop.env = {cls}.from_env_str("{cls}@" + env_str.split("@", 1)[1])
        return loop

    def step(self, action):
        return self.env.step(action)

    def solve(self):
        step, action = self.env.step, {action!r}
        for _ in range({loops}):
            step(action)
        return "ok"
'''


def guest_loop(source: str, env_str: str, loops: int) -> tuple[str, str]:
    """(source, env_str) of an env whose `solve()` steps the env of `env_str` `loops` times on
    `OBSERVE`, inside the guest: the env's own work with no crossing."""
    cls, options = env_str.split("@", 1)
    return source + _GUEST_LOOP.format(cls=cls, action=OBSERVE, loops=loops), "GuestLoop@" + options


def step_bound(empty: float, lis_loop: float, empty_loop: float, threads: int) -> float:
    """The most env-steps/s a sandboxed LIS step can make, from rates measured side by side.

    A LIS step is the empty step's crossing (the pool's batches, the caller's work, the guest's
    wrapper and its calls into the env) with the LIS env's `step` in place of the empty env's.
    So its time is at least the empty step's time, plus what the LIS `step` costs beyond the
    empty one warm and on one thread (the two in-guest loops differ only in the env), spread
    perfectly over `threads`. Every approximation favours codegym; what can still put a LIS step
    above its round's bound is the host's drift between calls seconds apart (docs/architecture.md,
    "The empty step and the step bound").
    """
    extra = max(0.0, 1 / lis_loop - 1 / empty_loop)
    return 1 / (1 / empty + extra / threads)


def put(figure: str, approach: str, value: float | None, note: str | None = None) -> None:
    assert figure in FIGURES, figure
    RESULTS.setdefault(figure, {})[approach] = value
    if note:
        NOTES.append(f"{figure}, {approach}: {note}")


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _check(figure: str, baseline: str | None, bound: float) -> tuple[str, str]:
    row = RESULTS.get(figure, {})
    ours = row.get(CODEGYM)
    spec = FIGURES[figure]
    if ours is None:
        return "not measured", "?"
    if baseline is None:
        ok = ours >= bound if spec.higher_is_better else ours <= bound
        sign = "≥" if spec.higher_is_better else "≤"
        return f"{_fmt(ours)} {spec.unit} (target {sign} {bound:g})", "PASS" if ok else "MISS"
    base = row.get(baseline)
    if not base:
        return f"no {baseline} figure", "?"
    paired = PAIRED.get(figure, {})
    if CODEGYM in paired and baseline in paired:
        # Timed in turn: the median of the per-round ratios, each from calls seconds apart.
        pairs = zip(paired[CODEGYM], paired[baseline], strict=True)
        ratios = sorted(o / b if spec.higher_is_better else b / o for o, b in pairs)
        ratio = statistics.median(ratios)
        spread = f", per round {ratios[0]:.2f}–{ratios[-1]:.2f}×"
    else:
        ratio = ours / base if spec.higher_is_better else base / ours
        spread = ""
    verdict = "PASS" if ratio >= bound else "MISS"
    return f"{ratio:.2f}× {baseline} (target ≥ {bound:g}×{spread})", verdict


# Benchmarks that load torch run last: forking from a process with torch loaded is ~25× slower,
# which would slow the process-per-env and process-per-task baselines measured after them.
TORCH_MODULES = ("test_rollout.py",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.path.name in TORCH_MODULES)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not RESULTS:
        return
    write = terminalreporter.write_line
    figures = [f for f in FIGURES if f in RESULTS]
    columns = [f for f in figures if FIGURES[f].shown]
    width = max(len(a) for a in APPROACHES)
    cols = [max(len(f), 10) for f in columns]
    write("")
    write(f"codegym benchmark ({platform.machine()}, {cores()} cores): same run, same envs and actions")
    write(" " * width + "  " + "  ".join(f.rjust(c) for f, c in zip(columns, cols, strict=True)))
    write(
        " " * width + "  " + "  ".join(FIGURES[f].unit.rjust(c) for f, c in zip(columns, cols, strict=True))
    )
    for approach in APPROACHES:
        cells = []
        for f, c in zip(columns, cols, strict=True):
            row = RESULTS[f]
            cells.append((_fmt(row[approach]) if approach in row else "-").rjust(c))
        if any(cell.strip() != "-" for cell in cells):
            write(approach.ljust(width) + "  " + "  ".join(cells))
    write("")
    write("targets")
    checks = []
    for figure, baseline, bound in TARGETS:
        text, verdict = _check(figure, baseline, bound)
        checks.append(
            {"figure": figure, "against": baseline, "bound": bound, "result": text, "verdict": verdict}
        )
        write(f"  {verdict:<5} {figure:<12} {text}")
    notes = NOTES + _floor_note()
    for note in notes:
        write(f"  note: {note}")
    REPORT.parent.mkdir(exist_ok=True)
    report = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "cpus": cores(),
        "units": {f: FIGURES[f].unit for f in figures},
        "results": {
            f: {a: v for a, v in RESULTS[f].items() if v is None or math.isfinite(v)} for f in figures
        },
        "rounds": PAIRED,
        "targets": checks,
        "notes": notes,
    }
    REPORT.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    write(f"report: {REPORT}")


def _floor_note() -> list[str]:
    """Hold codegym's step bound (`step_bound`) and its empty step to each baseline's step
    target, round by round: both are timed in turn with the LIS step figures (`test_step`)."""
    bounds = PAIRED.get(STEP_BOUND, {}).get(CODEGYM)
    empty = PAIRED.get(EMPTY_STEP, {}).get(CODEGYM)
    if not bounds or not empty:
        return []
    notes = []
    for figure, baseline, target in TARGETS:
        lis = PAIRED.get(figure, {}).get(baseline) if figure == "step @256" and baseline else None
        if not lis:
            continue
        by_bound = sorted(b / r for b, r in zip(bounds, lis, strict=True))
        by_empty = sorted(e / r for e, r in zip(empty, lis, strict=True))
        verdict = (
            f"so step @256 ≥ {target:g}× {baseline} is out of reach while every step crosses into "
            "its own sandboxed interpreter"
            if by_bound[-1] < target
            else f"so the crossing does not rule out step @256 ≥ {target:g}× {baseline}"
        )
        notes.append(
            f"{STEP_BOUND}, {CODEGYM}: the empty step's crossing plus the LIS env's own work "
            f"allow at most {_fmt(statistics.median(bounds))} env-steps/s, "
            f"{statistics.median(by_bound):.2f}× {baseline}'s LIS step @256 (per round "
            f"{by_bound[0]:.2f}–{by_bound[-1]:.2f}×; the empty step alone "
            f"{statistics.median(by_empty):.2f}×, {by_empty[0]:.2f}–{by_empty[-1]:.2f}×); {verdict}"
        )
    return notes


def cores() -> int:
    """The cores this process may run on (a pool's default number of worker threads)."""
    import os

    return len(os.sched_getaffinity(0))


@pytest.fixture(autouse=True)
def _no_idle_sandboxes() -> Any:
    """Every benchmark starts and ends without idle sandboxes (see codegym.release_idle_sandboxes):
    no figure depends on which benchmarks ran before it, and the baselines that fork worker
    processes do not copy the page tables of sandboxes an earlier benchmark left idle."""
    import codegym

    codegym.release_idle_sandboxes()
    yield
    codegym.release_idle_sandboxes()


@pytest.fixture(scope="session")
def enabled(request: pytest.FixtureRequest) -> bool:
    """True when timing is on (``--benchmark-enable``); the smoke run keeps sizes small."""
    config = request.config
    return not config.getoption("benchmark_disable") or bool(config.getoption("benchmark_enable"))


@pytest.fixture(scope="session")
def lis() -> Any:
    """The env every throughput figure steps: the LIS env, ``Observe`` actions."""
    import codegym

    return next(t for t in codegym.builtin.tasks() if t.env_name == "LongestIncreasingSubsequenceEnv")


OBSERVE = json.dumps({"name": "Observe", "parameters": {}})
