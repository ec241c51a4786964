"""Verify a task dataset: every instance's env, loaded from its source and configured by its
task string, runs its own ``solve()`` oracle in a sandbox and must reach reward 1 (and, when
the instance records one, in exactly ``solve_fc_round`` steps).

All instances run in one :class:`codegym.EnvPool` per batch, on every core, under explicit
:class:`codegym.Limits`; a hostile or broken env is one failure row, never a crash.
``codegym verify DIR`` is the command; it works on any dataset in the CodeGym layout
(``codegym tasks export``, ``codegym synth``, or made elsewhere).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._core import EnvPool, Limits
from .datasets import Dataset, load

__all__ = ["VerifyFailure", "VerifyReport", "verify"]


@dataclass(frozen=True)
class VerifyFailure:
    """One instance that did not verify. ``reason``: ``load:<kind>`` (the source, class or
    ``from_env_str`` failed, or the load ran out of a budget), ``solve:<kind>`` (``solve()``
    raised or ran out of fuel, memory, time...), ``wrong_answer`` (``solve()`` finished with
    reward below 1) or ``round_mismatch`` (solved, in a different number of steps than the
    instance's ``solve_fc_round``)."""

    index: int
    ability: str
    reason: str
    detail: str


@dataclass
class VerifyReport:
    """Outcome of :func:`verify`: counts, failures, and throughput."""

    total: int
    verified: int
    failures: list[VerifyFailure] = field(default_factory=list)
    seconds: float = 0.0
    threads: int = 0

    @property
    def ok(self) -> bool:
        return self.verified == self.total

    @property
    def tasks_per_s(self) -> float:
        return self.total / self.seconds if self.seconds > 0 else 0.0

    def reasons(self) -> Counter[str]:
        return Counter(f.reason for f in self.failures)

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "verified": self.verified,
            "seconds": round(self.seconds, 3),
            "tasks_per_s": round(self.tasks_per_s, 1),
            "threads": self.threads,
            "reasons": dict(self.reasons().most_common()),
            "failures": [f.__dict__ for f in self.failures],
        }

    def summary(self) -> str:
        pct = 100.0 * self.verified / self.total if self.total else 100.0
        lines = [
            f"{self.verified}/{self.total} task instances verified ({pct:.1f}%) in {self.seconds:.2f} s "
            f"on {self.threads} threads: {self.tasks_per_s:,.0f} tasks/s"
        ]
        for reason, n in self.reasons().most_common():
            lines.append(f"  failed {n:>5}  {reason}")
        for f in self.failures[:10]:
            lines.append(
                f"  #{f.index} {f.ability[:90]}: {f.reason}: {f.detail.strip().splitlines()[-1][:150]}"
            )
        return "\n".join(lines)


def _default_limits() -> Limits:
    return Limits(fuel_per_solve=50_000_000_000, wall_time_ms=30_000)


def verify(
    dataset_or_dir: Dataset | str | os.PathLike[str],
    *,
    limits: Limits | None = None,
    threads: int | None = None,
    check_rounds: bool = True,
    batch_size: int = 1024,
    seed: int = 0,
    on_batch: Callable[[int], None] | None = None,
) -> VerifyReport:
    """Run every instance's ``solve()`` in the sandbox and report what verified.

    ``dataset_or_dir``: a :class:`~codegym.datasets.Dataset`, ``"builtin"``, a dataset
    directory or an instance file. Envs are seeded ``seed + index`` like ``Dataset.specs``.
    ``batch_size`` bounds how many sandboxes live at once; ``on_batch(n)`` is called after each
    batch of ``n`` instances.
    """
    start = time.perf_counter()
    data = dataset_or_dir if isinstance(dataset_or_dir, Dataset) else load(dataset_or_dir)
    limits = limits or _default_limits()
    specs = data.specs(seed)
    report = VerifyReport(total=len(data), verified=0)
    for lo in range(0, len(specs), batch_size):
        hi = min(lo + batch_size, len(specs))
        with EnvPool(specs[lo:hi], num_threads=threads, limits=limits) as pool:
            report.threads = pool.num_threads
            out = pool.solve()
        for row in range(hi - lo):
            index = lo + row
            inst = data.instances[index]
            failure = _failure(out.error_kind[row], out.error[row], float(out.reward[row]))
            expected = inst.solve_fc_round
            steps = int(out.steps[row])
            if failure is None and check_rounds and expected is not None and steps != expected:
                failure = ("round_mismatch", f"solve() took {steps} steps, solve_fc_round is {expected}")
            if failure is None:
                report.verified += 1
            else:
                report.failures.append(VerifyFailure(index, inst.ability, failure[0], failure[1]))
        if on_batch is not None:
            on_batch(hi - lo)
    report.seconds = time.perf_counter() - start
    return report


def _failure(kind: str | None, error: str | None, reward: float) -> tuple[str, str] | None:
    if error is not None:
        # The guest's message names the phase: loading/creating the env, or its solve().
        phase = "solve" if "solve()" in error.split("\n", 1)[0] else "load"
        return f"{phase}:{kind}", error
    if reward != 1.0:
        return "wrong_answer", f"solve() finished with reward {reward}"
    return None
