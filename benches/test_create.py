"""Env creations/s of an already-loaded class (create + load + reset), beside the in-process
loop and process-per-env baselines."""

from __future__ import annotations

import random
from typing import Any

import codegym

from .baselines import ProcessPerEnv, load_class
from .conftest import CODEGYM, IN_PROCESS, OBSERVE, PROCESS_PER_ENV, record


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
