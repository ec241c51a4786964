"""``codegym verify`` end to end — load a CodeGym-layout directory from disk, run every task's
``solve()`` in one pool, check rewards and round counts — beside the process-per-task baseline
(measured on the same tasks in benches/test_create.py and reported in the same figure)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from codegym import datasets
from codegym.verify import verify

from .conftest import CODEGYM, record


@pytest.fixture(scope="module")
def exported(enabled: bool, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """The builtin suite (its first 4 tasks in the smoke run) exported like `codegym tasks export`."""
    data = datasets.load("builtin")
    if not enabled:
        data = datasets.Dataset(data.instances[:4], data.sources, data.name)
    return datasets.export(data, tmp_path_factory.mktemp("suite")), len(data)


def test_verify_command(benchmark: Any, exported: tuple[Path, int]) -> None:
    root, n = exported

    def run() -> None:
        report = verify(root)
        assert report.ok, report.summary()

    benchmark.pedantic(run, rounds=3, warmup_rounds=1)
    record(benchmark, "verify cmd", CODEGYM, n)
