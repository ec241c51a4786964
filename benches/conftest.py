"""Benchmarks: every codegym figure is measured beside its baseline in the same run and
reported as a ratio. Run with ``pytest benches --benchmark-enable`` (see README)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

# group -> approach -> operations per second, filled in by the benchmark tests.
RESULTS: dict[str, dict[str, float]] = {}
REPORT = Path(".benchmarks") / "codegym-ratios.json"


def record(benchmark: Any, group: str, approach: str, ops_per_call: float) -> None:
    """Record ops/s of one approach from a finished benchmark (``ops_per_call`` per timed call).

    With timing disabled (``--benchmark-disable``, the smoke run) there are no stats: nothing
    is recorded and no table is printed.
    """
    stats = getattr(benchmark, "stats", None)
    if stats is None:
        return
    RESULTS.setdefault(group, {})[approach] = ops_per_call / stats.stats.mean


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not RESULTS:
        return
    write = terminalreporter.write_line
    write("")
    write("codegym vs baselines (same run, same envs and actions)")
    for group, rows in RESULTS.items():
        base = rows.get("codegym")
        write(f"  {group}")
        for approach, value in sorted(rows.items(), key=lambda kv: -kv[1]):
            ratio = f"{base / value:6.2f}x" if base and approach != "codegym" else "      -"
            write(f"    {approach:<28} {value:>14,.0f} /s   codegym is {ratio}")
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps(RESULTS, indent=2))
    write(f"  report: {REPORT}")
