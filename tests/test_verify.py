"""``codegym.verify`` and ``codegym verify``: every instance's solve() in the sandbox, failures
reported with their reasons."""

from __future__ import annotations

import json
from pathlib import Path

import codegym
import msgspec
import pytest
from codegym import datasets
from codegym.cli import main
from codegym.verify import verify

from .conftest import source

LIMITS = codegym.Limits(fuel_per_load=300_000_000, fuel_per_step=100_000_000, fuel_per_solve=300_000_000)


def test_the_builtin_export_verifies_completely(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tasks", "export", "builtin", "--out", str(tmp_path / "suite")]) == 0
    assert main(["verify", str(tmp_path / "suite"), "-q", "--json", str(tmp_path / "report.json")]) == 0
    out = capsys.readouterr().out
    assert "411/411 task instances verified (100.0%)" in out and "tasks/s" in out
    report = json.loads((tmp_path / "report.json").read_text())
    assert (report["total"], report["verified"], report["failures"]) == (411, 411, [])
    assert report["tasks_per_s"] > 0


def _broken_dataset() -> datasets.Dataset:
    """One good instance and one instance per failure reason."""
    good = datasets.load("builtin", envs=["EditDistanceEnv"])[3]
    max_env = source("max_env")
    envs = {
        "t1__MaxEnv": max_env,
        "t2__MaxEnv": max_env.replace('answer": max(nums)', 'answer": min(nums)'),  # wrong oracle
        "t3__MaxEnv": max_env.replace("class MaxEnv", "class MaxEnv("),  # syntax error
        "t4__MaxEnv": max_env.replace(
            "    def solve(self):\n", "    def solve(self):\n        while True: pass\n"
        ),
    }
    options = '{"nums": [4, 8, 1]}'

    def inst(stem: str, rounds: int | None) -> datasets.TaskInstance:
        return datasets.TaskInstance(
            ability=datasets.make_ability(stem, options),
            prompt=[],
            extra_info=datasets.ExtraInfo(0, rounds, "train"),
        )

    tampered = msgspec.structs.replace(
        good,
        extra_info=msgspec.structs.replace(good.extra_info, solve_fc_round=(good.solve_fc_round or 0) + 1),
    )
    instances = [good, inst("t1__MaxEnv", 2), inst("t2__MaxEnv", 2), inst("t3__MaxEnv", 2)]
    instances += [inst("t4__MaxEnv", None), tampered, inst("t1__MaxEnv", None)]
    return datasets.Dataset(
        instances, {**envs, good.stem: datasets.load("builtin").sources[good.stem]}, "broken"
    )


def test_failures_are_reported_with_reasons() -> None:
    report = verify(_broken_dataset(), limits=LIMITS)
    assert (report.total, report.verified, report.ok) == (7, 3, False)
    assert [(f.index, f.reason) for f in report.failures] == [
        (2, "wrong_answer"),
        (3, "load:load_error"),
        (4, "solve:fuel_exhausted"),
        (5, "round_mismatch"),
    ]
    assert "SyntaxError" in report.failures[1].detail
    unchecked = verify(_broken_dataset(), limits=LIMITS, check_rounds=False, batch_size=2)
    assert unchecked.verified == 4 and "round_mismatch" not in unchecked.reasons()


def test_verify_command_exits_non_zero_on_failure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    datasets.export(_broken_dataset(), tmp_path)
    # Default limits: the looping solve() runs to the default budget; keep it out of this run.
    lines = (tmp_path / "instances.jsonl").read_text().splitlines()
    (tmp_path / "instances.jsonl").write_text("\n".join(lines[:4]) + "\n")
    assert main(["verify", str(tmp_path), "-q"]) == 1
    out = capsys.readouterr().out
    assert "2/4 task instances verified (50.0%)" in out
    assert "wrong_answer" in out and "load:load_error" in out
