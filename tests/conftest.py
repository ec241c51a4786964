"""Shared fixtures: env sources used by the tests, and helpers to build pools."""

from __future__ import annotations

import json
from pathlib import Path

import codegym
import pytest

ENVS = Path(__file__).parent / "envs"


def source(name: str) -> str:
    """Source of a test env in tests/envs/."""
    return (ENVS / f"{name}.py").read_text(encoding="utf-8")


def action(name: str, **params: object) -> str:
    return json.dumps({"name": name, "parameters": params})


@pytest.fixture(scope="session")
def hostile_source() -> str:
    return source("hostile")


@pytest.fixture(scope="session")
def tasks() -> list[codegym.builtin.Task]:
    return codegym.builtin.tasks()


@pytest.fixture(scope="session")
def small_limits() -> codegym.Limits:
    """Budgets small enough that hostile loops end in well under a second."""
    return codegym.Limits(fuel_per_step=300_000_000, memory_bytes=128 << 20, wall_time_ms=20_000)


@pytest.fixture(scope="session")
def tiny_model() -> Path:
    """A tiny random Qwen2-style model with a locally trained tokenizer, built once and cached
    in the codegym cache dir (nothing is downloaded). Skips when the [train] extra is absent."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from codegym.testing.tiny import cached_tiny_model

    return cached_tiny_model()
