"""How the target lines read the recorded figures (no timing: runs in the smoke run too)."""

from __future__ import annotations

import pytest

from . import conftest
from .conftest import CODEGYM, HTTP_SERVER, IN_PROCESS, _check


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
