"""Verification tasks/s (create + load + ``solve()`` to the end) of the builtin tasks: codegym's
pool and ``codegym verify`` end to end (load a CodeGym-layout directory from disk, run every
task's ``solve()`` in one pool, check rewards and round counts), beside one fresh process per
task (d) and the in-process loop (a), timed in turn."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import codegym
import pytest
from codegym import datasets
from codegym.verify import verify

from .baselines import CleanProcess, InProcessEnvs
from .conftest import CODEGYM, IN_PROCESS, PAIRED, PROCESS_PER_TASK, RESULTS, measure_in_turn, put

VERIFY_ROUNDS = 3


@pytest.fixture(scope="module")
def suite(enabled: bool, tmp_path_factory: pytest.TempPathFactory) -> tuple[datasets.Dataset, Path]:
    """The builtin suite (its first 4 tasks in the smoke run), and the same exported like
    `codegym tasks export`."""
    data = datasets.load("builtin")
    if not enabled:
        data = datasets.Dataset(data.instances[:4], data.sources, data.name)
    return data, datasets.export(data, tmp_path_factory.mktemp("suite"))


def test_verify(benchmark: Any, enabled: bool, suite: tuple[datasets.Dataset, Path]) -> None:
    data, root = suite
    tasks = codegym.builtin.tasks()
    tasks = tasks if enabled else tasks[:4]
    assert len(tasks) == len(data)
    specs = [codegym.EnvSpec(t.source, t.env_str, seed=i) for i, t in enumerate(tasks)]
    jobs = [(t.source, t.env_name, t.env_str) for t in tasks]

    def codegym_pool() -> None:
        with codegym.EnvPool(specs) as pool:
            out = pool.solve()
        assert (out.reward == 1.0).all(), out.error

    def codegym_command() -> None:
        report = verify(root)
        assert report.ok, report.summary()

    def process_per_task() -> None:
        rewards = clean.call("verify_process_per_task", jobs, 30.0, 2)
        assert rewards == [1.0] * len(jobs)

    def in_process() -> None:
        """No isolation at all: what verification costs when an env can crash the verifier."""
        for i, t in enumerate(tasks):
            env = InProcessEnvs(t.source, t.env_name, [t.env_str]).envs[0]
            random.seed(i)
            env.solve()
            assert env.reward == 1.0

    clean = CleanProcess()  # forks from a plain process, not from this one (see CleanProcess)
    try:
        clean.call("import_what_envs_import", jobs)
        calls = {
            ("verify", CODEGYM): codegym_pool,
            ("verify cmd", CODEGYM): codegym_command,
            ("verify", PROCESS_PER_TASK): process_per_task,
            ("verify", IN_PROCESS): in_process,
        }
        measure_in_turn(benchmark, VERIFY_ROUNDS, len(tasks), calls)
    finally:
        clean.close()
    # `codegym verify` is held to the same baseline, round by round.
    if "verify" in RESULTS:
        put("verify cmd", PROCESS_PER_TASK, RESULTS["verify"][PROCESS_PER_TASK])
        PAIRED["verify cmd"][PROCESS_PER_TASK] = PAIRED["verify"][PROCESS_PER_TASK]
