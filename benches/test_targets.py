"""How the target lines read the recorded figures (no timing: runs in the smoke run too)."""

from __future__ import annotations

import pytest

from . import conftest
from .conftest import (
    CODEGYM,
    EMPTY_STEP,
    HTTP_SERVER,
    IN_PROCESS,
    PROCESS_PER_ENV,
    STEP_BOUND,
    _check,
    _floor_note,
    step_bound,
)


@pytest.fixture
def figures(monkeypatch: pytest.MonkeyPatch) -> tuple[dict, dict]:
    results: dict = {}
    paired: dict = {}
    monkeypatch.setattr(conftest, "RESULTS", results)
    monkeypatch.setattr(conftest, "PAIRED", paired)
    return results, paired


def test_a_step_target_timed_in_turn_is_the_median_of_its_rounds_ratios(figures: tuple[dict, dict]) -> None:
    results, paired = figures
    # Each approach's median rate gives 200/10 = 20x, but round by round codegym made 30x,
    # 30x and 5x of (c): the host slowed codegym in one round and (c) in none.
    paired["step @256"] = {CODEGYM: [300.0, 200.0, 50.0], HTTP_SERVER: [10.0, 20.0 / 3, 10.0]}
    results["step @256"] = {CODEGYM: 200.0, HTTP_SERVER: 10.0}
    text, verdict = _check("step @256", HTTP_SERVER, 25.0)
    assert verdict == "PASS"
    assert text == f"30.00× {HTTP_SERVER} (target ≥ 25×, per round 5.00–30.00×)"
    text, verdict = _check("step @256", HTTP_SERVER, 31.0)
    assert verdict == "MISS"


def test_a_target_without_rounds_is_the_ratio_of_the_figures(figures: tuple[dict, dict]) -> None:
    results, _ = figures
    results["verify"] = {CODEGYM: 2400.0, IN_PROCESS: 600.0}
    assert _check("verify", IN_PROCESS, 5.0) == (f"4.00× {IN_PROCESS} (target ≥ 5×)", "MISS")
    results["fork"] = {CODEGYM: 0.7}
    assert _check("fork", None, 1.0) == ("0.700 ms/clone (target ≤ 1)", "PASS")


def test_the_step_bound_adds_the_lis_envs_own_work_to_the_empty_step() -> None:
    # Empty step 5 µs per step; the LIS env's step costs 5 - 1 = 4 µs more on one thread, 2 µs
    # spread over two.
    assert step_bound(200_000.0, 200_000.0, 1_000_000.0, threads=2) == pytest.approx(1 / 7e-6)
    # A LIS loop faster than the empty one adds nothing (the bound never exceeds the empty step).
    assert step_bound(200_000.0, 2_000_000.0, 1_000_000.0, threads=2) == pytest.approx(200_000.0)


def test_a_step_target_is_ruled_out_only_if_the_bound_falls_short_in_every_round(
    figures: tuple[dict, dict],
) -> None:
    _, paired = figures
    paired[EMPTY_STEP] = {CODEGYM: [200.0, 180.0, 220.0]}
    paired[STEP_BOUND] = {CODEGYM: [100.0, 90.0, 110.0]}
    # (a) beat the bound in every round; (b) in none; (c) fell under 25x of it in one round.
    paired["step @256"] = {IN_PROCESS: [300.0, 200.0, 250.0], PROCESS_PER_ENV: [10.0] * 3}
    paired["step @256"][HTTP_SERVER] = [5.0, 3.0, 5.0]
    a, b, c = _floor_note()
    assert "allow at most 100 env-steps/s, 0.44× (a) in-process loop's LIS step @256" in a
    assert "(per round 0.33–0.45×; the empty step alone 0.88×, 0.67–0.90×)" in a
    assert a.endswith(
        "so step @256 ≥ 1× (a) in-process loop is out of reach while every step crosses into its "
        "own sandboxed interpreter"
    )
    assert "10.00× (b) process per env's LIS step @256 (per round 9.00–11.00×" in b
    assert b.endswith("does not rule out step @256 ≥ 5× (b) process per env")
    assert "(per round 20.00–30.00×" in c
    assert c.endswith("does not rule out step @256 ≥ 25× (c) HTTP env server")
    paired["step @256"][HTTP_SERVER] = [5.0, 4.5, 5.0]
    assert _floor_note()[2].endswith(
        "so step @256 ≥ 25× (c) HTTP env server is out of reach while every step crosses into its "
        "own sandboxed interpreter"
    )
