"""Steps/s of ``EnvPool.step`` on 64 sandboxed envs beside a plain in-process CPython loop over
the same env class with the same actions (no isolation at all)."""

from __future__ import annotations

import json
import random
import types
from typing import Any

import codegym
import pytest

from .conftest import record

N_ENVS = 64
ROUNDS = 20  # batches per measured call
FAMILY = "LongestIncreasingSubsequenceEnv"
ACTION = json.dumps({"name": "Observe", "parameters": {}})


@pytest.fixture(scope="module")
def task() -> codegym.builtin.Task:
    return next(t for t in codegym.builtin.tasks() if t.env_name == FAMILY)


def test_codegym_pool_step_64(benchmark: Any, task: codegym.builtin.Task) -> None:
    specs = [codegym.EnvSpec(task.source, task.env_str, seed=i) for i in range(N_ENVS)]
    actions = [ACTION] * N_ENVS
    with codegym.EnvPool(specs) as pool:
        pool.reset().raise_for_error()

        def run() -> None:
            for _ in range(ROUNDS):
                pool.step(actions)

        benchmark(run)
        out = pool.step(actions)
        assert out.error == [None] * N_ENVS
    record(benchmark, f"step, {N_ENVS} envs", "codegym", N_ENVS * ROUNDS)


def test_native_loop_step_64(benchmark: Any, task: codegym.builtin.Task) -> None:
    module = types.ModuleType("native_env")
    exec(compile(task.source, "native_env.py", "exec"), module.__dict__)
    cls = module.__dict__[FAMILY]
    envs = []
    for i in range(N_ENVS):
        random.seed(i)
        envs.append(cls.from_env_str(task.env_str))

    def run() -> None:
        for _ in range(ROUNDS):
            for env in envs:
                env.step(ACTION)

    benchmark(run)
    record(benchmark, f"step, {N_ENVS} envs", "in-process loop (no sandbox)", N_ENVS * ROUNDS)
