"""Env creations/s of an already-loaded class (create + load + reset), and verification
tasks/s (create + load + ``solve()`` to the end) against one fresh process per task."""

from __future__ import annotations

import random
from typing import Any

import codegym
import pytest

from .baselines import CleanProcess, InProcessEnvs, ProcessPerEnv, load_class
from .conftest import CODEGYM, IN_PROCESS, OBSERVE, PROCESS_PER_ENV, PROCESS_PER_TASK, record


def _n(enabled: bool, n: int) -> int:
    return n if enabled else 4


def test_creations_codegym(benchmark: Any, enabled: bool, lis: Any) -> None:
    """Create a pool and reset every env in fresh sandboxes; closing the previous pool and
    dropping its sandboxes happen untimed."""
    n = _n(enabled, 256)
    specs = [codegym.EnvSpec(lis.source, lis.env_str, seed=i) for i in range(n)]
    with codegym.EnvPool(specs[:1]) as pool:  # the class is loaded: its code is compiled
        pool.reset().raise_for_error()
    pools: list[codegym.EnvPool] = []

    def close_previous() -> None:
        while pools:
            pools.pop().close()
        codegym.release_idle_sandboxes()

    def run() -> None:
        pool = codegym.EnvPool(specs)
        pools.append(pool)
        pool.reset().raise_for_error()

    benchmark.pedantic(run, setup=close_previous, rounds=3, warmup_rounds=1)
    close_previous()
    record(benchmark, "creations", CODEGYM, n)


def test_creations_codegym_reused(benchmark: Any, enabled: bool, lis: Any) -> None:
    """A training loop's pool per step: close the previous pool (mid-episode; its sandboxes go
    idle), then create a pool and reset every env, both timed; the new envs take the idle
    sandboxes, brought back to a freshly loaded state."""
    n = _n(enabled, 256)
    specs = [codegym.EnvSpec(lis.source, lis.env_str, seed=i) for i in range(n)]
    act = [OBSERVE] * n
    pools = [codegym.EnvPool(specs)]  # no idle sandboxes yet (conftest's _no_idle_sandboxes)
    pools[0].reset().raise_for_error()
    recycled: list[int] = []

    def run() -> None:
        pools.pop().close()
        pool = codegym.EnvPool(specs)
        pools.append(pool)
        pool.reset().raise_for_error()
        recycled.append(pool.recycled)

    def episode() -> None:  # untimed: the episode each env plays before its pool closes
        pools[0].step(act).raise_for_error()

    benchmark.pedantic(run, setup=episode, rounds=3, warmup_rounds=1)
    pools.pop().close()
    assert recycled == [n] * len(recycled), recycled
    record(benchmark, "creations: reused", CODEGYM, n)


def test_creations_in_process(benchmark: Any, enabled: bool, lis: Any) -> None:
    n = _n(enabled, 256)
    cls = load_class(lis.source, lis.env_name)

    def run() -> None:
        for i in range(n):
            random.seed(i)
            cls.from_env_str(lis.env_str)  # type: ignore[attr-defined]

    benchmark.pedantic(run, rounds=3, warmup_rounds=1)
    record(benchmark, "creations", IN_PROCESS, n)


def test_creations_process_per_env(benchmark: Any, enabled: bool, lis: Any) -> None:
    """Start a worker per env and wait until each has built its env; shutting down the
    previous workers happens untimed."""
    n = _n(enabled, 64)
    running: list[ProcessPerEnv] = []

    def close_previous() -> None:
        while running:
            running.pop().close()

    def run() -> None:
        envs = ProcessPerEnv(lis.source, lis.env_name, [lis.env_str] * n)
        running.append(envs)
        envs.step(["{}"] * n)  # every worker has created its env and answered

    benchmark.pedantic(run, setup=close_previous, rounds=3, warmup_rounds=1)
    close_previous()
    record(benchmark, "creations", PROCESS_PER_ENV, n)


@pytest.fixture(scope="module")
def tasks(enabled: bool) -> list[codegym.builtin.Task]:
    tasks = codegym.builtin.tasks()
    return tasks if enabled else tasks[:4]


def test_verify_codegym(benchmark: Any, tasks: list[codegym.builtin.Task]) -> None:
    specs = [codegym.EnvSpec(t.source, t.env_str, seed=i) for i, t in enumerate(tasks)]

    def run() -> None:
        with codegym.EnvPool(specs) as pool:
            out = pool.solve()
        assert (out.reward == 1.0).all(), out.error

    benchmark.pedantic(run, rounds=3, warmup_rounds=1)
    record(benchmark, "verify", CODEGYM, len(tasks))


def test_verify_process_per_task(benchmark: Any, tasks: list[codegym.builtin.Task]) -> None:
    jobs = [(t.source, t.env_name, t.env_str) for t in tasks]
    clean = CleanProcess()  # forks from a plain process, not from this one (see CleanProcess)
    clean.call("import_what_envs_import", jobs)

    def run() -> None:
        rewards = clean.call("verify_process_per_task", jobs, 30.0, 2)
        assert rewards == [1.0] * len(jobs)

    try:
        benchmark.pedantic(run, rounds=3, warmup_rounds=1)
    finally:
        clean.close()
    record(benchmark, "verify", PROCESS_PER_TASK, len(tasks))
    # The same baseline for `codegym verify` end to end (benches/test_verify.py).
    record(benchmark, "verify cmd", PROCESS_PER_TASK, len(tasks))


def test_verify_in_process(benchmark: Any, tasks: list[codegym.builtin.Task]) -> None:
    """No isolation at all: what verification costs when an env can crash the verifier."""

    def run() -> None:
        for i, t in enumerate(tasks):
            env = InProcessEnvs(t.source, t.env_name, [t.env_str]).envs[0]
            random.seed(i)
            env.solve()
            assert env.reward == 1.0

    benchmark.pedantic(run, rounds=3, warmup_rounds=1)
    record(benchmark, "verify", IN_PROCESS, len(tasks))
